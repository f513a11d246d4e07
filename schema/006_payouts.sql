-- 006_payouts.sql - Connect onboarding state, payouts and the rows they pay.
--
-- A payee (talent, agent, ambassador, host partner) gets an Express
-- connected account once (connect_key_gen is the generation of the key
-- of its creation); account.updated events keep charges_enabled,
-- payouts_enabled and the requirements currently due, applied only when
-- newer than connect_event_created (the 'created' of the last applied
-- event).  A payout (po_...) claims every eligible share row of one
-- (payee, currency) and is transferred to the payee's connected account
-- in three steps (docs/ledger.md): rows 'pending' -> 'claimed' (payout_id
-- set) -> 'paid', or back to 'pending' with no payout_id when Stripe
-- refused the transfer.  lease_until keeps two runs from finishing the
-- same payout at once.  A refused transfer backs the payee off
-- (payout_failures, payout_retry_at) and flags email_outstanding_payout.

ALTER TABLE accounts
  ADD COLUMN IF NOT EXISTS connect_key_gen INT NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS requirements_due VARCHAR(4000) CHARACTER SET ascii NULL,
  ADD COLUMN IF NOT EXISTS connect_event_created BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS email_outstanding_payout TINYINT(1) NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS payout_failures INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS payout_retry_at DATETIME(3) NULL,
  ADD UNIQUE KEY IF NOT EXISTS accounts_connect (connect_account_id);

CREATE TABLE IF NOT EXISTS payouts (
  id                  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account_id          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  connect_account_id  VARCHAR(64) CHARACTER SET ascii NOT NULL,
  currency            CHAR(3) CHARACTER SET ascii NOT NULL,
  amount_cent         BIGINT NOT NULL,
  reversed_cent       BIGINT NOT NULL DEFAULT 0,
  state               VARCHAR(16) CHARACTER SET ascii NOT NULL,
  key_gen             INT NOT NULL DEFAULT 1,
  lease_until         DATETIME(3) NOT NULL,
  stripe_transfer_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  last_error          VARCHAR(255) NULL,
  created_at          DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at          DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                      ON UPDATE CURRENT_TIMESTAMP(3),
  paid_at             DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY payouts_transfer (stripe_transfer_id),
  KEY payouts_account (account_id, id),
  KEY payouts_state (state, lease_until),
  CONSTRAINT payouts_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id),
  CONSTRAINT payouts_amount CHECK (amount_cent > 0),
  CONSTRAINT payouts_state_ok CHECK (state IN ('to_transfer', 'unknown',
    'paid', 'failed'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE shares
  ADD COLUMN IF NOT EXISTS payout_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD KEY IF NOT EXISTS shares_payout (payout_id),
  ADD KEY IF NOT EXISTS shares_payable (account_id, currency, status, payout_id);

-- Transfer reversals seen in transfer.reversed events, once each: origin
-- 'tally' for reversals Tally made (none yet), 'stripe' for one made
-- elsewhere (the Dashboard), booked as transfer_reversal rows.
CREATE TABLE IF NOT EXISTS transfer_reversals (
  id           VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  transfer_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  payout_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  amount_cent  BIGINT NOT NULL,
  currency     CHAR(3) CHARACTER SET ascii NOT NULL,
  origin       VARCHAR(16) CHARACTER SET ascii NOT NULL,
  created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY transfer_reversals_payout (payout_id),
  CONSTRAINT transfer_reversals_payout_fk FOREIGN KEY (payout_id) REFERENCES payouts (id)
) ENGINE=InnoDB;
