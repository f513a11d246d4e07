-- 004_cancel.sql - the generation of a checkout's PaymentIntent cancel key.
--
-- Cancelling a PaymentIntent (an expired or failed checkout) is a Stripe
-- write under the key tally:pi_cancel:<checkout>:g<pi_cancel_gen>.  An
-- attempt with an answer that did not end it (a stored 5xx, a 400 because
-- the payment was still processing) is looked up, and the next attempt
-- takes the next generation: Stripe would replay the stored answer under
-- the same key forever.  An attempt without an answer keeps its key.

ALTER TABLE checkouts
  ADD COLUMN IF NOT EXISTS pi_cancel_gen INT NOT NULL DEFAULT 1;
