-- 019_report_today.sql - the dashboard's today and its standard periods
-- (core/report_daily.c), kept by the reports job like the closed days
-- (schema/016): written by nothing else, never inside a money
-- transaction.
--
-- report_today: per currency, the sums of today's ledger rows created
-- before 'upto' (the job's run minus [job.reports] horizon), the rows
-- that only ever get added (payments, the platform's and Stripe's fee
-- rows); a request adds the few rows from 'upto' on.  'periods' lists
-- the standard periods (7, 30, 90 days ending today) whose top lists the
-- same run cached, with the same 'upto':
-- report_top_payees/products hold, per such period, every payee's
-- (product's) sums over its closed days and today before 'upto'; a
-- request adds today's rows from 'upto' on and sorts.
--
-- shares_payee: a payee's payments in id order (the admin list's
-- ?payee= filter reads one index range from the cursor).

CREATE TABLE IF NOT EXISTS report_today (
  currency               CHAR(3) CHARACTER SET ascii NOT NULL,
  day                    DATE NOT NULL,
  upto                   DATETIME(3) NOT NULL,
  gross_cent             BIGINT NOT NULL,
  payments               BIGINT NOT NULL,
  platform_revenue_cent  BIGINT NOT NULL,
  stripe_fees_cent       BIGINT NOT NULL,
  periods                VARCHAR(32) CHARACTER SET ascii NOT NULL,
  computed_at            DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                         ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (currency)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS report_top_payees (
  currency     CHAR(3) CHARACTER SET ascii NOT NULL,
  period       SMALLINT NOT NULL,          -- days, ending today
  account_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  earned_cent  BIGINT NOT NULL,
  PRIMARY KEY (currency, period, account_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS report_top_products (
  currency    CHAR(3) CHARACTER SET ascii NOT NULL,
  period      SMALLINT NOT NULL,
  product_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  gross_cent  BIGINT NOT NULL,
  payments    BIGINT NOT NULL,
  PRIMARY KEY (currency, period, product_id)
) ENGINE=InnoDB;

ALTER TABLE shares
  ADD KEY IF NOT EXISTS shares_payee (account_id, payment_id);
