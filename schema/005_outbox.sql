-- 005_outbox.sql - the email outbox.
--
-- An email is queued in the same transaction as the event that causes it
-- (a payment's receipt, a payout sent or failed, a refund made), so it is
-- queued exactly when that event commits.  'dedupe_key' names the cause
-- ("receipt:pay_…"): a transaction that runs again queues nothing new.
-- The sender job claims due rows with FOR UPDATE SKIP LOCKED, sends them
-- over SMTP, and marks them sent; a failed send is retried with backoff
-- and parked as 'dead' after the configured number of attempts.

CREATE TABLE IF NOT EXISTS outbox (
  id               VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  dedupe_key       VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind             VARCHAR(32) CHARACTER SET ascii NOT NULL,
  account_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  to_addr          VARCHAR(254) NOT NULL,
  subject          VARCHAR(200) NOT NULL,
  body             TEXT NOT NULL,
  state            VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'queued',
  attempts         INT NOT NULL DEFAULT 0,
  next_attempt_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_error       VARCHAR(255) NULL,
  created_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  sent_at          DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY outbox_dedupe (dedupe_key),
  KEY outbox_due (state, next_attempt_at),
  CONSTRAINT outbox_state_ok CHECK (state IN ('queued', 'sending', 'sent',
    'dead'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
