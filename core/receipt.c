/*
 * receipt.c - the buyer's receipt (see receipt.h)
 *
 * Owns no table: the receipt is queued through outbox.c.
 *
 * The text names the product, the quantity, the amount in the currency's
 * major unit ("25.20 USD", "2520 JPY", "2.520 KWD": the exponent comes
 * from [currency.CODE]), the payment id and the date.  The product's name
 * is read without a lock (a consistent read: a lock on the product after
 * the checkout's would break the lock order product -> checkout), and
 * only when the caller does not have it already.
 *
 * API:	tly_money_format(), tly_receipt_queue().
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outbox.h"
#include "receipt.h"
#include "tly_str.h"

/*
 * tly_money_format - 'amount_cent' minor units of 'currency' with 'exponent'
 * decimals, e.g. "-1234.05 USD", into 'dst'.
 */
int
tly_money_format(char *dst, size_t sz, int64_t amount_cent, int exponent,
    const char *currency)
{
	char code[4];
	uint64_t mag, div = 1;
	int i, n;

	if (exponent < 0 || exponent > 6)
		return TLY_ERR;
	for (i = 0; i < exponent; i++)
		div *= 10;
	/* the magnitude without negating INT64_MIN */
	mag = amount_cent < 0 ? (uint64_t)(-(amount_cent + 1)) + 1 :
	    (uint64_t)amount_cent;
	for (i = 0; i < 3 && currency[i]; i++)
		code[i] = (char)(currency[i] >= 'a' && currency[i] <= 'z' ?
		    currency[i] - 'a' + 'A' : currency[i]);
	code[i] = '\0';
	if (exponent == 0)
		n = snprintf(dst, sz, "%s%llu %s", amount_cent < 0 ? "-" : "",
		    (unsigned long long)mag, code);
	else
		n = snprintf(dst, sz, "%s%llu.%0*llu %s",
		    amount_cent < 0 ? "-" : "",
		    (unsigned long long)(mag / div), exponent,
		    (unsigned long long)(mag % div), code);
	return n < 0 || (size_t)n >= sz ? TLY_TOO_LARGE : TLY_OK;
}

/* utf8_cut - the length of 's' cut to at most 'max' bytes, whole chars */
static size_t
utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * tly_receipt_queue - in the completion transaction: queue the receipt
 * of payment 'pay' for checkout 'c' ('product', the product's name, or
 * NULL to read it).  Nothing without a receipt_email.
 */
int
tly_receipt_queue(tly_ctx *ctx, const tly_checkout *c, const char *pay,
    const char *product, tly_err *err)
{
	char name[208], subject[200], body[1024], amount[64], date[32];
	char dedupe[64];
	const tly_currency *cur;
	struct tm tm;
	time_t now;
	tly_mail m;
	int rc;

	if (c->receipt_email[0] == '\0')
		return TLY_OK;
	if (product == NULL) {
		rc = tly_db_row(ctx->db, err, "SELECT name FROM products "
		    "WHERE id = ?", "s>s", c->product_id, name, sizeof(name));
		if (rc)
			return rc;
		product = name;
	}
	cur = tly_config_currency(ctx->cfg, c->currency);
	if (tly_money_format(amount, sizeof(amount), c->amount_cent,
	    cur ? cur->exponent : 2, c->currency) != TLY_OK)
		return tly_err_internal(err);
	now = (time_t)tly_now_s();
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm) == 0)
		return tly_err_internal(err);
	snprintf(subject, sizeof(subject), "Your receipt: %.*s",
	    (int)utf8_cut(product, sizeof(subject) - 15), product);
	snprintf(body, sizeof(body), "Thank you for your purchase.\n\n"
	    "Product:  %s\nQuantity: %lld\nAmount:   %s\nPayment:  %s\n"
	    "Date:     %s\n\nKeep this email as your receipt.\n", product,
	    (long long)c->quantity, amount, pay, date);
	snprintf(dedupe, sizeof(dedupe), "receipt:%s", pay);
	memset(&m, 0, sizeof(m));
	m.dedupe = dedupe;
	m.kind = "receipt";
	m.account_id = c->buyer_id;
	m.to = c->receipt_email;
	m.subject = subject;
	m.body = body;
	return tly_outbox_add(ctx, &m, err);
}
