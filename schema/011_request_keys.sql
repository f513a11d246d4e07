-- 011_request_keys.sql - a client's Idempotency-Key kept on the row of
-- the effect it asked for (docs/api.md, "Idempotency-Key";
-- docs/architecture.md, "Idempotency-Key on effects").
--
-- A request that makes an external effect (an admin's refund, an
-- advance) stores request_key = "<principal>:<Idempotency-Key>" (the
-- principal as the router names it, "<kind>:<id>") and request_sha256 =
-- the request's fingerprint (SHA-256 of method, concrete path and body)
-- on the effect's own row, unique per table: a retry -- after a 5xx whose
-- answer was not kept, after the router's key expired, or a takeover of a
-- key whose first request died -- finds that row and answers it, and
-- never makes a second refund or transfer.
--
-- idempotency_keys: the fingerprint now covers the concrete path (the
-- same key and body on /payments/A/refunds and /payments/B/refunds are
-- two requests), so body_sha256 becomes request_sha256, and route holds
-- "<method> <concrete path>" (up to 300 characters).  A key stored
-- before this migration (its hash of the body alone) answers a replay in
-- its remaining hours with 422 idempotency_key_reused: never a second
-- effect, and an advance granted with a key still finds its row.
--
-- advances.request_key was "<admin id>:<key>": it gains the principal's
-- kind (4, an admin) so that both tables name the principal alike.

ALTER TABLE idempotency_keys
  CHANGE COLUMN IF EXISTS body_sha256 request_sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  MODIFY route VARCHAR(300) CHARACTER SET ascii NOT NULL;

ALTER TABLE refunds
  ADD COLUMN IF NOT EXISTS request_key VARCHAR(400) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD COLUMN IF NOT EXISTS request_sha256 CHAR(64) CHARACTER SET ascii NULL,
  ADD UNIQUE KEY IF NOT EXISTS refunds_request (request_key);

ALTER TABLE advances
  ADD COLUMN IF NOT EXISTS request_sha256 CHAR(64) CHARACTER SET ascii NULL;

UPDATE advances SET request_key = CONCAT('4:', request_key)
  WHERE request_key IS NOT NULL AND request_key NOT LIKE '4:%';
