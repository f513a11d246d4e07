-- 016_admin_reports.sql - indexes for the admin panel's lists and its
-- dashboard (core/report.c): every list and every daily aggregate reads
-- an index range, never the whole table.
--
-- payments: the dashboard's days by currency and time (covering the
-- amount), a status filter in id order; the search by a buyer's email
-- (accounts.email, checkouts.receipt_email); shares: the platform's
-- revenue, Stripe's fees and the top payees per currency and time
-- (covering); refunds, disputes and paid payouts per currency and time;
-- webhook events in the order they were received.
--
-- report_days and report_block_payees/products: the dashboard's closed
-- days, rolled up from the ledger by the reports job (core/report.c,
-- tly_job_reports), written by nothing else and never inside a money
-- transaction; the report computes the days they do not hold (today)
-- from the ledger.  The top lists' rows are kept per day (level 0) and
-- per aligned block of 2^level days (levels 1 to 6), each block the sum
-- of its two halves, so a period's top payees read a dozen blocks, not
-- every day.

ALTER TABLE payments
  ADD KEY IF NOT EXISTS payments_report (currency, created_at, amount_cent),
  ADD KEY IF NOT EXISTS payments_status (status, id);

ALTER TABLE accounts
  ADD KEY IF NOT EXISTS accounts_email (email);

ALTER TABLE checkouts
  ADD KEY IF NOT EXISTS checkouts_receipt_email (receipt_email);

ALTER TABLE shares
  ADD KEY IF NOT EXISTS shares_report (currency, created_at, account_id,
    role, amount_cent);

ALTER TABLE refunds
  ADD KEY IF NOT EXISTS refunds_report (currency, created_at);

ALTER TABLE disputes
  ADD KEY IF NOT EXISTS disputes_report (currency, created_at);

ALTER TABLE payouts
  ADD KEY IF NOT EXISTS payouts_report (state, currency, paid_at);

ALTER TABLE webhook_events
  ADD KEY IF NOT EXISTS webhook_events_received (received_at, id);

CREATE TABLE IF NOT EXISTS report_days (
  currency               CHAR(3) CHARACTER SET ascii NOT NULL,
  day                    DATE NOT NULL,
  gross_cent             BIGINT NOT NULL,
  payments               BIGINT NOT NULL,
  platform_revenue_cent  BIGINT NOT NULL,
  stripe_fees_cent       BIGINT NOT NULL,
  refunds_cent           BIGINT NOT NULL,
  refunds                BIGINT NOT NULL,
  disputes_cent          BIGINT NOT NULL,
  disputes               BIGINT NOT NULL,
  payouts_cent           BIGINT NOT NULL,
  payouts                BIGINT NOT NULL,
  computed_at            DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                         ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (currency, day)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS report_block_payees (
  currency     CHAR(3) CHARACTER SET ascii NOT NULL,
  level        TINYINT NOT NULL,          -- the block is 2^level days
  start_day    DATE NOT NULL,             -- aligned: day number % 2^level = 0
  account_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  earned_cent  BIGINT NOT NULL,
  PRIMARY KEY (currency, level, start_day, account_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS report_block_products (
  currency    CHAR(3) CHARACTER SET ascii NOT NULL,
  level       TINYINT NOT NULL,
  start_day   DATE NOT NULL,
  product_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  gross_cent  BIGINT NOT NULL,
  payments    BIGINT NOT NULL,
  PRIMARY KEY (currency, level, start_day, product_id)
) ENGINE=InnoDB;
