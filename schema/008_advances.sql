-- 008_advances.sql - advances: money transferred to a payee before it is
-- earned, recovered from its later earnings (docs/ledger.md, "Advances").
--
-- An advance (adv_...) is granted by an admin (finance or admin) and
-- transferred to the payee's connected account in three steps like a
-- payout: the row is committed 'to_transfer' (key generation 1), the
-- Stripe transfer is created under tally:advance:<adv>:g<gen>
-- (transfer_group and metadata[tally_id] = the advance id), and the
-- result is committed: 'transferred' with the transfer's id, 'failed'
-- when Stripe refused it, 'unknown' when no answer came (the payouts run
-- finishes it; lease_until keeps two finishers apart).
--
-- offset_cent is what later earnings recovered: every change is a pair of
-- ADVANCE_OFFSET share rows (-x on the payee, +x on the platform, cause_id
-- = the advance id), so offset_cent = - the payee's ADVANCE_OFFSET rows of
-- the advance, and the balance is granted_cent - offset_cent >= 0.
-- request_key is the admin's optional Idempotency-Key (with who sent it):
-- a retried grant returns the first advance instead of granting twice.

INSERT IGNORE INTO share_roles (role, description) VALUES
  ('ADVANCE_OFFSET', 'an advance recovered from an earning: -x on the payee, +x on the platform');

CREATE TABLE IF NOT EXISTS advances (
  id                  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account_id          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  connect_account_id  VARCHAR(64) CHARACTER SET ascii NOT NULL,
  currency            CHAR(3) CHARACTER SET ascii NOT NULL,
  granted_cent        BIGINT NOT NULL,
  offset_cent         BIGINT NOT NULL DEFAULT 0,
  note                VARCHAR(500) NOT NULL DEFAULT '',
  granted_by          VARCHAR(128) NOT NULL,
  request_key         VARCHAR(400) CHARACTER SET ascii COLLATE ascii_bin NULL,
  state               VARCHAR(16) CHARACTER SET ascii NOT NULL,
  key_gen             INT NOT NULL DEFAULT 1,
  lease_until         DATETIME(3) NOT NULL,
  stripe_transfer_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  last_error          VARCHAR(255) NULL,
  created_at          DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at          DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                      ON UPDATE CURRENT_TIMESTAMP(3),
  transferred_at      DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY advances_transfer (stripe_transfer_id),
  UNIQUE KEY advances_request (request_key),
  KEY advances_open (account_id, currency, state),
  KEY advances_state (state, lease_until),
  CONSTRAINT advances_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id),
  CONSTRAINT advances_granted CHECK (granted_cent > 0),
  CONSTRAINT advances_offset CHECK (offset_cent >= 0 AND offset_cent <= granted_cent),
  CONSTRAINT advances_state_ok CHECK (state IN ('to_transfer', 'unknown',
    'transferred', 'failed'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
