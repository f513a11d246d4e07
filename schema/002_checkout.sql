-- 002_checkout.sql - the catalog, checkouts, payments and their shares,
-- Stripe webhook events, and client idempotency keys.
--
-- Money is BIGINT minor units (*_cent) with its currency beside it; rates
-- are basis points (*_bps).  Lock order (DESIGN §3): product -> checkout
-- -> payment -> shares -> balances -> payout -> outbox/audit.

ALTER TABLE accounts
  ADD COLUMN IF NOT EXISTS connect_account_id VARCHAR(64) CHARACTER SET ascii NULL,
  ADD COLUMN IF NOT EXISTS payout_threshold_cent BIGINT NULL,
  ADD COLUMN IF NOT EXISTS charges_enabled TINYINT(1) NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS payouts_enabled TINYINT(1) NOT NULL DEFAULT 0;

-- A talent has at most one ambassador, who earns share_bps of the
-- platform fee of the talent's sales between active_from and active_until.
CREATE TABLE IF NOT EXISTS ambassador_links (
  talent_account_id      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  ambassador_account_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  share_bps              INT NOT NULL,
  active_from            DATETIME(3) NOT NULL,
  active_until           DATETIME(3) NULL,
  created_at             DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (talent_account_id),
  CONSTRAINT ambassador_links_talent_fk FOREIGN KEY (talent_account_id)
    REFERENCES accounts (id),
  CONSTRAINT ambassador_links_ambassador_fk FOREIGN KEY (ambassador_account_id)
    REFERENCES accounts (id),
  CONSTRAINT ambassador_links_bps CHECK (share_bps BETWEEN 0 AND 10000)
) ENGINE=InnoDB;

-- A host partner is named by a slug at checkout and earns share_bps of the
-- platform fee of the orders it brought.
CREATE TABLE IF NOT EXISTS host_partners (
  slug        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  share_bps   INT NOT NULL,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (slug),
  CONSTRAINT host_partners_account_fk FOREIGN KEY (account_id)
    REFERENCES accounts (id),
  CONSTRAINT host_partners_bps CHECK (share_bps BETWEEN 0 AND 10000)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS products (
  id                 VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name               VARCHAR(200) NOT NULL,
  seller_account_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  agent_account_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  agent_bps          INT NOT NULL DEFAULT 0,
  price_cent         BIGINT NOT NULL,
  currency           CHAR(3) CHARACTER SET ascii NOT NULL,
  fee_kind           VARCHAR(8) CHARACTER SET ascii NOT NULL,
  fee_value          BIGINT NOT NULL,
  stock              BIGINT NULL,             -- NULL: unlimited
  active             TINYINT(1) NOT NULL DEFAULT 1,
  created_at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                     ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY products_seller (seller_account_id),
  CONSTRAINT products_seller_fk FOREIGN KEY (seller_account_id)
    REFERENCES accounts (id),
  CONSTRAINT products_agent_fk FOREIGN KEY (agent_account_id)
    REFERENCES accounts (id),
  CONSTRAINT products_price CHECK (price_cent >= 0),
  CONSTRAINT products_stock CHECK (stock IS NULL OR stock >= 0),
  CONSTRAINT products_fee CHECK (fee_kind IN ('fixed', 'bps') AND fee_value >= 0),
  CONSTRAINT products_agent_bps CHECK (agent_bps BETWEEN 0 AND 10000)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A checkout snapshots everything its split needs when the buyer starts
-- paying, so that the completion reads only this row.  open_key is 1 while
-- the checkout is open (NULL otherwise): the unique key makes a double
-- click return the open checkout instead of making a second PaymentIntent.
CREATE TABLE IF NOT EXISTS checkouts (
  id                     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  buyer_account_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  product_id             VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  quantity               BIGINT NOT NULL,
  currency               CHAR(3) CHARACTER SET ascii NOT NULL,
  price_cent             BIGINT NOT NULL,
  subtotal_cent          BIGINT NOT NULL,
  platform_fee_cent      BIGINT NOT NULL,
  amount_cent            BIGINT NOT NULL,
  seller_account_id      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  agent_account_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  agent_bps              INT NOT NULL,
  host_partner_slug      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  host_account_id        VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  host_bps               INT NOT NULL,
  ambassador_account_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ambassador_bps         INT NOT NULL,
  stripe_fee_bps         INT NOT NULL,
  stripe_fee_fixed_cent  BIGINT NOT NULL,
  platform_bears_fee     TINYINT(1) NOT NULL,
  receipt_email          VARCHAR(254) NULL,
  status                 VARCHAR(24) CHARACTER SET ascii NOT NULL,
  status_event_created   BIGINT NOT NULL DEFAULT 0,
  open_key               TINYINT NULL,
  stock_held             TINYINT(1) NOT NULL DEFAULT 0,
  pi_id                  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  pi_client_secret       VARCHAR(128) CHARACTER SET ascii NULL,
  pi_key_gen             INT NOT NULL DEFAULT 1,
  pi_state               VARCHAR(24) CHARACTER SET ascii NOT NULL DEFAULT 'to_create',
  last_error             VARCHAR(255) NULL,
  expires_at             DATETIME(3) NOT NULL,
  created_at             DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at             DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                         ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY checkouts_open (buyer_account_id, product_id, quantity, open_key),
  UNIQUE KEY checkouts_pi (pi_id),
  KEY checkouts_status (status, expires_at),
  KEY checkouts_pi_state (pi_state),
  CONSTRAINT checkouts_buyer_fk FOREIGN KEY (buyer_account_id) REFERENCES accounts (id),
  CONSTRAINT checkouts_product_fk FOREIGN KEY (product_id) REFERENCES products (id),
  CONSTRAINT checkouts_amount CHECK (amount_cent = subtotal_cent + platform_fee_cent)
) ENGINE=InnoDB;

-- One payment per completed checkout (or, later, escrow or group member):
-- the PaymentIntent and its charge are each recorded once.
CREATE TABLE IF NOT EXISTS payments (
  id                       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  purpose                  VARCHAR(16) CHARACTER SET ascii NOT NULL,
  checkout_id              VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  pi_id                    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  charge_id                VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  amount_cent              BIGINT NOT NULL,
  currency                 CHAR(3) CHARACTER SET ascii NOT NULL,
  stripe_fee_estimate_cent BIGINT NOT NULL,
  stripe_fee_actual_cent   BIGINT NULL,
  balance_txn_id           VARCHAR(64) CHARACTER SET ascii NULL,
  fee_bearer_account_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  status                   VARCHAR(24) CHARACTER SET ascii NOT NULL,
  completed_via            VARCHAR(16) CHARACTER SET ascii NOT NULL,
  created_at               DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at               DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                           ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY payments_checkout (checkout_id),
  UNIQUE KEY payments_pi (pi_id),
  UNIQUE KEY payments_charge (charge_id),
  CONSTRAINT payments_checkout_fk FOREIGN KEY (checkout_id) REFERENCES checkouts (id)
) ENGINE=InnoDB;

-- Share roles are data: later issues add roles (COUPON, TAX, SHIPPING…)
-- with a migration, not a new enum in C.
CREATE TABLE IF NOT EXISTS share_roles (
  role         VARCHAR(24) CHARACTER SET ascii NOT NULL,
  description  VARCHAR(200) NOT NULL,
  PRIMARY KEY (role)
) ENGINE=InnoDB;

INSERT IGNORE INTO share_roles (role, description) VALUES
  ('TALENT', 'the seller: what is left after every other share'),
  ('AGENT', 'the seller''s agent: agent_bps of price x quantity'),
  ('PLATFORM', 'the platform fee less host partner and ambassador shares'),
  ('STRIPE_FEE', 'Stripe''s processing fee (estimate, then adjusted)'),
  ('AMBASSADOR', 'the seller''s ambassador: share_bps of the platform fee'),
  ('HOST_PARTNER', 'the host partner named at checkout: share_bps of the platform fee');

-- The ledger: each payment's shares sum exactly to its amount; later rows
-- (fee adjustments, refunds, disputes) are signed and sum to their cause.
CREATE TABLE IF NOT EXISTS shares (
  id           BIGINT NOT NULL AUTO_INCREMENT,
  payment_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  role         VARCHAR(24) CHARACTER SET ascii NOT NULL,
  kind         VARCHAR(24) CHARACTER SET ascii NOT NULL,
  amount_cent  BIGINT NOT NULL,
  currency     CHAR(3) CHARACTER SET ascii NOT NULL,
  status       VARCHAR(16) CHARACTER SET ascii NOT NULL,
  cause_id     VARCHAR(64) CHARACTER SET ascii NULL,
  created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY shares_payment (payment_id),
  KEY shares_account (account_id, currency, status),
  CONSTRAINT shares_payment_fk FOREIGN KEY (payment_id) REFERENCES payments (id),
  CONSTRAINT shares_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id),
  CONSTRAINT shares_role_fk FOREIGN KEY (role) REFERENCES share_roles (role)
) ENGINE=InnoDB;

-- Every verified Stripe event, stored by id before it is acted on.
CREATE TABLE IF NOT EXISTS webhook_events (
  id               VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  endpoint         VARCHAR(16) CHARACTER SET ascii NOT NULL,
  type             VARCHAR(96) CHARACTER SET ascii NOT NULL,
  account          VARCHAR(64) CHARACTER SET ascii NULL,
  object_id        VARCHAR(64) CHARACTER SET ascii NULL,
  created          BIGINT NOT NULL,
  livemode         TINYINT(1) NOT NULL,
  api_version      VARCHAR(32) CHARACTER SET ascii NULL,
  payload          MEDIUMTEXT NOT NULL,
  status           VARCHAR(16) CHARACTER SET ascii NOT NULL,
  attempts         INT NOT NULL DEFAULT 0,
  next_attempt_at  DATETIME(3) NULL,
  last_error       VARCHAR(255) NULL,
  received_at      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  processed_at     DATETIME(3) NULL,
  PRIMARY KEY (id),
  KEY webhook_events_status (status, next_attempt_at),
  KEY webhook_events_object (object_id)
) ENGINE=InnoDB;

-- Refused webhook calls (bad signature) counted by source address.
CREATE TABLE IF NOT EXISTS webhook_refusals (
  source_addr  VARCHAR(64) CHARACTER SET ascii NOT NULL,
  refusals     BIGINT NOT NULL,
  last_reason  VARCHAR(128) NOT NULL,
  first_at     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_at      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (source_addr)
) ENGINE=InnoDB;

-- Client Idempotency-Key: (principal, key) -> the first response.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  principal       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  idem_key        VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  route           VARCHAR(128) CHARACTER SET ascii NOT NULL,
  body_sha256     CHAR(64) CHARACTER SET ascii NOT NULL,
  state           VARCHAR(16) CHARACTER SET ascii NOT NULL,
  response_status INT NULL,
  response_body   MEDIUMTEXT NULL,
  created_at      DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (principal, idem_key),
  KEY idempotency_keys_created (created_at)
) ENGINE=InnoDB;
