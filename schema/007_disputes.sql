-- 007_disputes.sql - disputes, refunds that fail after they were booked,
-- and the dispute fee role.
--
-- A payment's cumulative reversed amount is refunded_cent + disputed_cent
-- (docs/ledger.md, "Reversals"): refunded_cent counts refunds booked and
-- not failed since, disputed_cent the amount Stripe withdrew for disputes
-- and did not reinstate.  While a dispute is open the payment's status is
-- 'disputed' and its positive rows are not eligible for payout.
--
-- A dispute row is keyed by Stripe's dispute id.  withdrawn_cent and
-- fee_cent are what Tally has booked of it (the dispute's balance
-- transactions: -amount summed, fee summed); every event re-reads the
-- dispute and books only the difference, so a repeated or reordered event
-- books nothing twice.

ALTER TABLE payments
  ADD COLUMN IF NOT EXISTS disputed_cent BIGINT NOT NULL DEFAULT 0,
  ADD CONSTRAINT payments_reversal_bounds CHECK (disputed_cent >= 0 AND
    refunded_cent + disputed_cent <= amount_cent);

-- A booked refund that Stripe later reports failed: its inverse rows
-- (kind refund_failed) are posted and it no longer counts in
-- refunded_cent.
ALTER TABLE refunds
  ADD COLUMN IF NOT EXISTS reversed TINYINT(1) NOT NULL DEFAULT 0;

INSERT IGNORE INTO share_roles (role, description) VALUES
  ('DISPUTE_FEE', 'Stripe''s dispute fee: charged to whoever bears it, credited to the Stripe-fee account');

CREATE TABLE IF NOT EXISTS disputes (
  id               VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  payment_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  charge_id        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  amount_cent      BIGINT NOT NULL,
  currency         CHAR(3) CHARACTER SET ascii NOT NULL,
  status           VARCHAR(32) CHARACTER SET ascii NOT NULL,
  reason           VARCHAR(64) CHARACTER SET ascii NULL,
  withdrawn_cent   BIGINT NOT NULL DEFAULT 0,
  fee_cent         BIGINT NOT NULL DEFAULT 0,
  fee_account_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  created_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at       DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                   ON UPDATE CURRENT_TIMESTAMP(3),
  closed_at        DATETIME(3) NULL,
  PRIMARY KEY (id),
  KEY disputes_payment (payment_id),
  CONSTRAINT disputes_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id),
  CONSTRAINT disputes_withdrawn CHECK (withdrawn_cent >= 0)
) ENGINE=InnoDB;
