-- 003_refunds.sql - refunds and the running totals that guard them.
--
-- A refund is requested under the payment's row lock: requested_cent can
-- never exceed the amount, however many partial refunds run at once.  It
-- is created at Stripe with a key derived from its id and generation
-- (three steps, DESIGN §3), and booked -- its reversal rows posted -- once
-- Stripe says it succeeded; refunded_cent counts what is booked.

ALTER TABLE payments
  ADD COLUMN IF NOT EXISTS requested_refund_cent BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS refunded_cent BIGINT NOT NULL DEFAULT 0,
  ADD CONSTRAINT payments_refund_bounds CHECK (refunded_cent >= 0 AND
    refunded_cent <= requested_refund_cent AND
    requested_refund_cent <= amount_cent);

INSERT IGNORE INTO share_roles (role, description) VALUES
  ('STRIPE_FEE_KEPT', 'Stripe keeps its fee on a refund: charged to whoever bears the fee');

CREATE TABLE IF NOT EXISTS refunds (
  id                VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  payment_id        VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  amount_cent       BIGINT NOT NULL,
  currency          CHAR(3) CHARACTER SET ascii NOT NULL,
  origin            VARCHAR(16) CHARACTER SET ascii NOT NULL,  -- tally, stripe, oversold
  reason            VARCHAR(64) NOT NULL,
  requested_by      VARCHAR(64) NULL,
  state             VARCHAR(16) CHARACTER SET ascii NOT NULL,  -- to_create, unknown, pending, succeeded, failed
  booked            TINYINT(1) NOT NULL DEFAULT 0,
  stripe_refund_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  key_gen           INT NOT NULL DEFAULT 1,
  last_error        VARCHAR(255) NULL,
  created_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at        DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                    ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY refunds_stripe (stripe_refund_id),
  KEY refunds_payment (payment_id),
  KEY refunds_state (state, updated_at),
  CONSTRAINT refunds_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id),
  CONSTRAINT refunds_amount CHECK (amount_cent > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
