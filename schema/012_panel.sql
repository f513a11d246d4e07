-- 012_panel.sql - the admin panel's deferred payouts, and the indexes of
-- the audit log's filters.
--
-- payout_deferrals: per payee and currency, why the latest payout run
-- did not pay its pending money (core/payout_defer.c, the only writer):
-- no_connect_account, payouts_disabled, retry_backoff, refund_or_dispute,
-- hold_period, below_threshold, balance_short.  amount_cent is what is
-- pending and not claimed by a payout, payable_cent the part the run
-- could have paid (past the hold, not held by a refund or dispute),
-- threshold_cent the threshold it was compared with.  'since' is when
-- the run first gave this reason (kept while the reason stays),
-- last_run_at the run that last gave it.  The run writes it after its
-- payouts, outside every money transaction, and deletes the rows it no
-- longer finds deferred (the payee paid, or nothing pending).  Listed
-- newest first by id, filtered by reason or currency (indexes).
--
-- audit_log: its list filters by actor, action and object (each index
-- ends in the primary key, so a page is a backward index range) and by
-- time.

CREATE TABLE IF NOT EXISTS payout_deferrals (
  id              BIGINT NOT NULL AUTO_INCREMENT,
  account_id      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  currency        CHAR(3) CHARACTER SET ascii NOT NULL,
  reason          VARCHAR(32) CHARACTER SET ascii NOT NULL,
  amount_cent     BIGINT NOT NULL,
  payable_cent    BIGINT NOT NULL,
  threshold_cent  BIGINT NOT NULL,
  since           DATETIME(3) NOT NULL,
  last_run_at     DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY payout_deferrals_payee (account_id, currency),
  KEY payout_deferrals_reason (reason, id),
  KEY payout_deferrals_currency (currency, id),
  KEY payout_deferrals_run (last_run_at),
  CONSTRAINT payout_deferrals_account_fk FOREIGN KEY (account_id)
    REFERENCES accounts (id)
) ENGINE=InnoDB;

ALTER TABLE audit_log
  ADD KEY IF NOT EXISTS audit_actor (actor_id),
  ADD KEY IF NOT EXISTS audit_action (action),
  ADD KEY IF NOT EXISTS audit_at (at);
