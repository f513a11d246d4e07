-- 009_reversals.sql - transfer reversals Tally makes itself, and Dashboard
-- reversals of an advance's transfer (docs/ledger.md, "Transfer
-- reversals" and "Advances").
--
-- transfer_reversals gets one row per reversal, whoever made it:
--   origin 'stripe'  one made elsewhere (the Dashboard), seen in a
--                    transfer.reversed event: id = Stripe's trr_ id, state
--                    'reversed' at once;
--   origin 'tally'   one Tally makes to recover what a payee owes back
--                    ([payouts] reverse_transfers): id = Tally's rev_ id,
--                    three steps like a payout: 'to_reverse' (key
--                    generation key_gen, a lease), then 'reversed' with
--                    stripe_reversal_id, or 'failed' when Stripe refused it,
--                    or 'unknown' when no answer came (the payouts run
--                    finishes it; lease_until keeps two finishers apart).
-- stripe_reversal_id is Stripe's trr_ id (unique): a transfer.reversed
-- event naming it books nothing more.  A reversal is of a payout's
-- transfer (payout_id) or of an advance's (advance_id): exactly one.
--
-- advances.reversed_cent is what the payee gave back of an advance by a
-- reversal of its transfer: the advance's balance is granted - reversed -
-- offset >= 0.

ALTER TABLE transfer_reversals
  ADD COLUMN IF NOT EXISTS stripe_reversal_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER id,
  ADD COLUMN IF NOT EXISTS advance_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER payout_id,
  ADD COLUMN IF NOT EXISTS state VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'reversed',
  ADD COLUMN IF NOT EXISTS key_gen INT NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS lease_until DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS last_error VARCHAR(255) NULL,
  ADD COLUMN IF NOT EXISTS updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
    ON UPDATE CURRENT_TIMESTAMP(3),
  MODIFY COLUMN payout_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL;

UPDATE transfer_reversals SET stripe_reversal_id = id WHERE stripe_reversal_id IS NULL;

ALTER TABLE transfer_reversals
  ADD UNIQUE KEY IF NOT EXISTS transfer_reversals_stripe (stripe_reversal_id),
  ADD KEY IF NOT EXISTS transfer_reversals_state (state, lease_until),
  ADD KEY IF NOT EXISTS transfer_reversals_advance (advance_id),
  ADD CONSTRAINT transfer_reversals_advance_fk FOREIGN KEY (advance_id) REFERENCES advances (id),
  ADD CONSTRAINT transfer_reversals_state_ok CHECK (state IN ('to_reverse',
    'unknown', 'reversed', 'failed')),
  ADD CONSTRAINT transfer_reversals_amount CHECK (amount_cent > 0),
  ADD CONSTRAINT transfer_reversals_of CHECK ((payout_id IS NULL) <>
    (advance_id IS NULL)),
  ADD CONSTRAINT transfer_reversals_origin CHECK (origin IN ('tally',
    'stripe') AND (origin = 'tally' OR state = 'reversed'));

ALTER TABLE advances
  ADD COLUMN IF NOT EXISTS reversed_cent BIGINT NOT NULL DEFAULT 0 AFTER offset_cent,
  ADD CONSTRAINT advances_reversed CHECK (reversed_cent >= 0 AND
    offset_cent + reversed_cent <= granted_cent);
