/*
 * tly_form.h - application/x-www-form-urlencoded bodies, as Stripe reads
 *
 * Keys are given in Stripe's bracket notation and written with the
 * brackets literal, the rest percent-encoded (as the official SDKs do):
 *
 *	tly_form_str(&f, "metadata[checkout_id]", "chk_…");
 *	tly_form_str(&f, "transfer_data[destination]", "acct_…");
 *	tly_form_str(&f, "expand[]", "latest_charge");
 *	tly_form_i64(&f, "amount", 1099);
 *
 * Errors are sticky: check tly_form_done() once at the end.
 */
#ifndef TLY_FORM_H
#define TLY_FORM_H

#include <stdint.h>

#include "tly_buf.h"

#define TLY_FORM_MAX	(64 << 10)

typedef struct tly_form {
	tly_buf	 b;
	int	 rc;
} tly_form;

void		 tly_form_init(tly_form *);
void		 tly_form_str(tly_form *, const char *, const char *);
void		 tly_form_i64(tly_form *, const char *, int64_t);
void		 tly_form_bool(tly_form *, const char *, int);
int		 tly_form_done(const tly_form *);
const char	*tly_form_body(const tly_form *);
void		 tly_form_free(tly_form *);

#endif
