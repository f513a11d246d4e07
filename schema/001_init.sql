-- 001_init.sql - the foundation: transaction markers, principals, sessions,
-- login throttling, the audit log, and the two system accounts.
--
-- Conventions (docs/schema.md): ids are "<prefix>_<22 base62>" strings in
-- ascii_bin (time-ordered, so ORDER BY id is creation order); money is
-- BIGINT minor units named *_cent; times are DATETIME(3) in UTC (every
-- connection runs with time_zone = '+00:00').

-- One row per money transaction, inserted first inside it: after a
-- connection lost during COMMIT, its presence says the COMMIT happened.
CREATE TABLE IF NOT EXISTS tx_ops (
  id          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  op          VARCHAR(64) CHARACTER SET ascii NOT NULL,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY tx_ops_created (created_at)
) ENGINE=InnoDB;

-- Every party that money can belong to.  Buyers are created on first use
-- from their JWT (buyer_identities); the platform and Stripe-fee accounts
-- exist from the start.
CREATE TABLE IF NOT EXISTS accounts (
  id            VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind          VARCHAR(16) CHARACTER SET ascii NOT NULL,
  email         VARCHAR(254) NULL,
  display_name  VARCHAR(200) NULL,
  created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY accounts_kind (kind, id),
  CONSTRAINT accounts_kind_ok CHECK (kind IN ('talent', 'agent',
    'ambassador', 'host_partner', 'buyer', 'platform', 'stripe_fee'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO accounts (id, kind, display_name) VALUES
  ('acc_platform', 'platform', 'Platform'),
  ('acc_stripe_fee', 'stripe_fee', 'Stripe fees');

-- One buyer account per (issuer, subject) of the marketplace's JWTs.
CREATE TABLE IF NOT EXISTS buyer_identities (
  issuer      VARBINARY(255) NOT NULL,
  sub         VARBINARY(255) NOT NULL,
  account_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (issuer, sub),
  UNIQUE KEY buyer_identities_account (account_id),
  CONSTRAINT buyer_identities_account_fk FOREIGN KEY (account_id)
    REFERENCES accounts (id)
) ENGINE=InnoDB;

-- Server API keys: only the SHA-256 of the key is stored (keys carry 190
-- random bits, so a fast hash is enough); 'prefix' identifies it to humans.
CREATE TABLE IF NOT EXISTS api_keys (
  id          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name        VARCHAR(100) NOT NULL,
  prefix      VARCHAR(16) CHARACTER SET ascii NOT NULL,
  key_hash    CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  created_by  VARCHAR(64) NULL,
  revoked_at  DATETIME(3) NULL,
  PRIMARY KEY (id),
  UNIQUE KEY api_keys_hash (key_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Admin panel users; password_hash is "scrypt$N$r$p$salt$hash".
CREATE TABLE IF NOT EXISTS admin_users (
  id             VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  username       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  password_hash  VARCHAR(255) CHARACTER SET ascii NOT NULL,
  role           VARCHAR(16) CHARACTER SET ascii NOT NULL,
  disabled       TINYINT(1) NOT NULL DEFAULT 0,
  created_at     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                 ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY admin_users_username (username),
  CONSTRAINT admin_users_role_ok CHECK (role IN ('viewer', 'support',
    'finance', 'admin'))
) ENGINE=InnoDB;

-- Admin sessions: the cookie holds a random token, the table its SHA-256.
CREATE TABLE IF NOT EXISTS admin_sessions (
  token_hash    CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  csrf_token    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at    DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_seen_at  DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at    DATETIME(3) NOT NULL,
  remote_addr   VARCHAR(64) CHARACTER SET ascii NULL,
  PRIMARY KEY (token_hash),
  KEY admin_sessions_user (user_id),
  KEY admin_sessions_expires (expires_at),
  CONSTRAINT admin_sessions_user_fk FOREIGN KEY (user_id)
    REFERENCES admin_users (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Failed admin logins per key ("user:<name>", "ip:<addr>") in a window.
CREATE TABLE IF NOT EXISTS login_throttle (
  k             VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  window_start  DATETIME(3) NOT NULL,
  failures      INT NOT NULL,
  PRIMARY KEY (k),
  KEY login_throttle_window (window_start)
) ENGINE=InnoDB;

-- Append-only record of admin actions and, from the checkout issue on,
-- of every money movement.
CREATE TABLE IF NOT EXISTS audit_log (
  id          BIGINT NOT NULL AUTO_INCREMENT,
  at          DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  actor_kind  VARCHAR(16) CHARACTER SET ascii NOT NULL,
  actor_id    VARCHAR(64) CHARACTER SET ascii NULL,
  action      VARCHAR(64) CHARACTER SET ascii NOT NULL,
  object_id   VARCHAR(64) CHARACTER SET ascii NULL,
  detail      VARCHAR(1000) NULL,
  request_id  VARCHAR(72) CHARACTER SET ascii NULL,
  PRIMARY KEY (id),
  KEY audit_object (object_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
