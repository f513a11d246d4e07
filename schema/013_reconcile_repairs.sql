-- 013_reconcile_repairs.sql - what lets a reconciliation be clean again
-- after its drift is understood (core/reconcile.c, docs/operations.md
-- "A reconciliation mismatch"):
--
-- external_transfers: a transfer made outside Tally (the Dashboard, an
-- other integration), recorded when its transfer.created arrives (the
-- webhook or the catch-up job) without Tally's metadata[tally_id].  It is
-- never a payee's earning or payout: the ledger does not change.
-- Reconciliation matches the transfer's balance transaction against it.
--
-- reconciliation_acks: an operator's judgement on a line nothing can
-- repair (a charge Stripe no longer lists, ...), by the Stripe or Tally
-- id it names, with the reason and who gave it.  Later runs report a line
-- naming an acknowledged id as 'acknowledged', which keeps a report
-- clean.
--
-- This file is numbered before 017_operations.sql, which made the
-- reconciliation tables, and may run before it (a new database) or after
-- it (an upgrade): it creates them as they are now if they are missing,
-- then changes them in a way that holds either way.
CREATE TABLE IF NOT EXISTS external_transfers (
  id                  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  stripe_transfer_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  amount_cent         BIGINT NOT NULL,
  currency            CHAR(3) CHARACTER SET ascii NOT NULL,
  destination         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  event_id            VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  seen_at             DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY external_transfers_stripe (stripe_transfer_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS reconciliation_acks (
  object_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  reason      VARCHAR(500) NOT NULL,
  actor_kind  VARCHAR(16) CHARACTER SET ascii NOT NULL,
  actor_id    VARCHAR(64) NULL,
  report_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  line_no     INT NULL,
  acked_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (object_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS reconciliation_reports (
  id                 VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  since_at           BIGINT NOT NULL,
  until_at           BIGINT NOT NULL,
  status             VARCHAR(16) CHARACTER SET ascii NOT NULL,
  matched            INT NOT NULL DEFAULT 0,
  missing_in_tally   INT NOT NULL DEFAULT 0,
  missing_at_stripe  INT NOT NULL DEFAULT 0,
  amount_differs     INT NOT NULL DEFAULT 0,
  created_at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY reconciliation_reports_created (created_at),
  CONSTRAINT reconciliation_reports_status CHECK (status IN ('clean',
    'mismatch'))
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS reconciliation_lines (
  report_id           VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  line_no             INT NOT NULL,
  day                 DATE NOT NULL,
  currency            CHAR(3) CHARACTER SET ascii NOT NULL,
  kind                VARCHAR(24) CHARACTER SET ascii NOT NULL,
  outcome             VARCHAR(24) CHARACTER SET ascii NOT NULL,
  stripe_txn_id       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  stripe_object_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  tally_id            VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  stripe_amount_cent  BIGINT NULL,
  tally_amount_cent   BIGINT NULL,
  PRIMARY KEY (report_id, line_no),
  CONSTRAINT reconciliation_lines_report_fk FOREIGN KEY (report_id)
    REFERENCES reconciliation_reports (id),
  CONSTRAINT reconciliation_lines_outcome CHECK (outcome IN ('matched',
    'missing_in_tally', 'missing_at_stripe', 'amount_differs'))
) ENGINE=InnoDB;

ALTER TABLE reconciliation_reports
  ADD COLUMN IF NOT EXISTS acknowledged INT NOT NULL DEFAULT 0
    AFTER amount_differs;

ALTER TABLE reconciliation_lines
  DROP CONSTRAINT IF EXISTS reconciliation_lines_outcome;
ALTER TABLE reconciliation_lines
  ADD CONSTRAINT reconciliation_lines_outcome CHECK (outcome IN ('matched',
    'missing_in_tally', 'missing_at_stripe', 'amount_differs',
    'acknowledged'));
