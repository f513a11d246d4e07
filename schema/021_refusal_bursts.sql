-- 021_refusal_bursts.sql - a burst of refused webhook signatures from one
-- address alerts once (core/webhook.c).
--
-- Workers count refusals in memory and add them to webhook_refusals in
-- aggregate; the same upsert also keeps the address's current window:
-- window_start (when it began) and window_refusals (the refusals added
-- since).  The worker whose add takes window_refusals to [alerts]
-- webhook_refusals claims the window's alert (alerted_at set at or
-- after window_start, one UPDATE whose affected-row count decides) and
-- logs the one ALERT line, whatever worker or host counted the rest.

ALTER TABLE webhook_refusals
  ADD COLUMN IF NOT EXISTS window_start DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS window_refusals BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS alerted_at DATETIME(3) NULL;
