-- 010_ids.sql - ids compare byte for byte; one index fewer on shares.
--
-- Tally's ids (pay_..., adv_..., base62: upper and lower case) and
-- Stripe's (acct_..., txn_..., pi_...) are case-sensitive.  These
-- columns were declared with the default case-insensitive ascii
-- collation, so GROUP BY / ORDER BY / = on them could merge or reorder
-- two ids that differ only in case (shares.cause_id groups and orders a
-- payment's advance offsets, and the lock order of advances follows
-- it).  They become ascii_bin like every other id column.
--
-- shares_account (account_id, currency, status) is a prefix of
-- shares_payable (account_id, currency, status, payout_id): every query
-- that could use the first uses the second as well, and the foreign key
-- shares_account_fk is served by it too.  Each completion inserts three
-- to six share rows, each one B-tree insert cheaper
-- (docs/benchmarks.md).

ALTER TABLE shares
  MODIFY cause_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  DROP INDEX IF EXISTS shares_account;

ALTER TABLE accounts
  MODIFY connect_account_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL;

ALTER TABLE payouts
  MODIFY connect_account_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;

ALTER TABLE advances
  MODIFY connect_account_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;

ALTER TABLE payments
  MODIFY balance_txn_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL;

ALTER TABLE webhook_events
  MODIFY account VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  MODIFY object_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL;

ALTER TABLE audit_log
  MODIFY actor_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  MODIFY object_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL;
