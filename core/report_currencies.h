/*
 * report_currencies.h - the dashboard's currencies (report_currencies.c)
 */
#ifndef TLY_REPORT_CURRENCIES_H
#define TLY_REPORT_CURRENCIES_H

#include <stdint.h>

#include "config.h"
#include "ctx.h"

typedef struct tly_report_currency {
	char	 currency[4];
	int64_t	 volume_cent;	/* gross of the last 30 days */
} tly_report_currency;

int	 tly_report_currencies(tly_ctx *, tly_report_currency *, int *,
	    tly_err *);

#endif
