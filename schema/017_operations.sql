-- 017: operations (issue 13): the missed-event catch-up's cursors.
--
-- stripe_event_cursors: one row per scope whose events Stripe lists
-- (GET /v1/events): 'platform', and each connected account (its acct_
-- id, listed with Stripe-Account).  last_event_id is the newest event
-- the "events" job has walked to (it walks forward with ending_before);
-- NULL until the first run, which starts from the newest event Tally
-- stored for the scope.  A run claims rows with FOR UPDATE SKIP LOCKED
-- and leases them (leased_until) while it calls Stripe outside any
-- transaction, so several hosts can run the job at once.
CREATE TABLE IF NOT EXISTS stripe_event_cursors (
  scope          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  last_event_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  leased_until   DATETIME(3) NULL,
  run_at         DATETIME(3) NULL,
  caught_up      BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (scope),
  KEY stripe_event_cursors_run (run_at)
) ENGINE=InnoDB;

-- audit_chain: the audit log's hash chain, one link per audit_log row,
-- in id order.  hash = SHA-256 over prev_hash and the row's canonical
-- content (core/audit_chain.c); prev_hash of the first link is 64 '0'.
-- Written by the "audit" job once a row is older than [audit]
-- chain_horizon (chaining in the change's transaction would serialise
-- every payment on the chain's head).  Like audit_log it is append-only
-- for the application: tallyctl migrate, as the migration user, grants
-- the application user SELECT and INSERT only on both.
CREATE TABLE IF NOT EXISTS audit_chain (
  audit_id   BIGINT NOT NULL,
  prev_hash  CHAR(64) CHARACTER SET ascii NOT NULL,
  hash       CHAR(64) CHARACTER SET ascii NOT NULL,
  chained_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (audit_id)
) ENGINE=InnoDB;

-- Reconciliation with Stripe (core/reconcile.c): one report per run,
-- its lines each comparing one balance transaction (or one Tally record
-- Stripe does not have) by currency and day.
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
