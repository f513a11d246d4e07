-- 014_effects.sql - the common columns of every effect table (core/effect.c).
--
-- Every Stripe write Tally makes once is a row its finisher may take up
-- (DESIGN §3, docs/architecture.md "One engine for Stripe effects").  The
-- engine needs on each such row, besides the kind's state column and key
-- generation:
--   lease_until      one process at a time works on the effect;
--   attempts         rounds that got no answer from Stripe;
--   next_attempt_at  when the finisher may try again (exponential backoff,
--                    capped), or at once for a new row;
--   last_error       why the last attempt did not finish it;
--   dead_at          set after the last attempt: the finisher stops and an
--                    operator lists (`tallyctl effects list --dead`) and
--                    retries (`tallyctl effects retry ID`) it.
-- accounts carries a payee's Connect account creation: connect_state
-- (NULL until onboarding begins, then to_create, unknown, created),
-- connect_key_gen as before, connect_* for the common columns, and
-- connect_requested_at: the look-up reads the accounts made since then.
-- checkouts carries two effects of its PaymentIntent (creating it while
-- pi_state is to_create/unknown, cancelling it while to_cancel), never at
-- once: they share columns named pi_*.  pi_state 'missing' is new: Stripe
-- answered 404 for the PaymentIntent Tally wanted to cancel.

ALTER TABLE refunds
  ADD COLUMN IF NOT EXISTS lease_until DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS dead_at DATETIME(3) NULL,
  ADD KEY IF NOT EXISTS refunds_due (state, next_attempt_at);

ALTER TABLE checkouts
  ADD COLUMN IF NOT EXISTS pi_lease_until DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS pi_attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS pi_next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS pi_last_error VARCHAR(255) NULL,
  ADD COLUMN IF NOT EXISTS pi_dead_at DATETIME(3) NULL,
  ADD KEY IF NOT EXISTS checkouts_pi_due (pi_state, pi_next_attempt_at);

ALTER TABLE payouts
  ADD COLUMN IF NOT EXISTS attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS dead_at DATETIME(3) NULL;

ALTER TABLE advances
  ADD COLUMN IF NOT EXISTS attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS dead_at DATETIME(3) NULL;

-- (lease_until stays NULL on the rows of reversals made elsewhere: they are
-- 'reversed' at once, never an open effect)
ALTER TABLE transfer_reversals
  ADD COLUMN IF NOT EXISTS attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS dead_at DATETIME(3) NULL;

ALTER TABLE accounts
  ADD COLUMN IF NOT EXISTS connect_state VARCHAR(16) CHARACTER SET ascii NULL,
  ADD COLUMN IF NOT EXISTS connect_requested_at DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS connect_lease_until DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS connect_attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS connect_next_attempt_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ADD COLUMN IF NOT EXISTS connect_last_error VARCHAR(255) NULL,
  ADD COLUMN IF NOT EXISTS connect_dead_at DATETIME(3) NULL;

UPDATE accounts SET connect_state = 'created'
  WHERE connect_account_id IS NOT NULL AND connect_state IS NULL;
