-- 015_product_fee.sql - a product's platform fee in two columns, one unit
-- each.
--
-- products.fee_value held cents when fee_kind was 'fixed' and basis
-- points when it was 'bps': one column, two units, the reader had to look
-- at another column to know which.  It becomes two columns:
--
--   fee_fixed_cent  the platform fee per order, in minor units
--   fee_bps         the platform fee in basis points of the subtotal
--
-- exactly one of them set (the other NULL; a CHECK), so the kind is the
-- column that holds the value and fee_kind goes too.  Existing rows move
-- as they are: 'fixed' -> fee_fixed_cent, 'bps' -> fee_bps.  The API keeps
-- its fee_kind/fee_value fields (deprecated, docs/api.md) and translates.

ALTER TABLE products
  ADD COLUMN IF NOT EXISTS fee_fixed_cent BIGINT NULL AFTER currency,
  ADD COLUMN IF NOT EXISTS fee_bps INT NULL AFTER fee_fixed_cent;

UPDATE products SET
  fee_fixed_cent = IF(fee_kind = 'fixed', fee_value, NULL),
  fee_bps = IF(fee_kind = 'bps', fee_value, NULL);

ALTER TABLE products DROP CONSTRAINT IF EXISTS products_fee;

ALTER TABLE products
  DROP COLUMN fee_kind,
  DROP COLUMN fee_value,
  ADD CONSTRAINT products_fee CHECK ((fee_fixed_cent IS NULL) <>
    (fee_bps IS NULL) AND IFNULL(fee_fixed_cent, 0) >= 0 AND
    IFNULL(fee_bps, 0) BETWEEN 0 AND 10000);
