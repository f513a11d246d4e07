-- 020_refusals_retention.sql - webhook_refusals is pruned by age.
--
-- The gc job deletes the rows of source addresses not refused for
-- [stripe] webhook_refusals_days (30 by default), 1000 at a time
-- (core/webhook.c tly_webhook_refusals_prune): without an index on
-- last_at each batch would scan the whole table, which a flood from
-- many addresses makes large.  The admin list (newest first, ?since=)
-- reads it in that order too.

ALTER TABLE webhook_refusals
  ADD KEY IF NOT EXISTS webhook_refusals_last_at (last_at);
