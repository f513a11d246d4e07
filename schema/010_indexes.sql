-- 010_indexes.sql - one index fewer on shares, the hottest insert.
--
-- shares_account (account_id, currency, status) is a prefix of
-- shares_payable (account_id, currency, status, payout_id): every query
-- that could use the first uses the second as well, and the foreign key
-- shares_account_fk is served by it too.  Each completion inserts three
-- to six share rows, so each one costs one B-tree insert fewer
-- (docs/benchmarks.md).

ALTER TABLE shares DROP INDEX IF EXISTS shares_account;
