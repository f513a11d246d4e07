/*
 * split_cli.c - tly_split() over stdin, for the property test
 * (split_property.test.mjs) that checks it against an independent BigInt
 * implementation.  Each input line holds twelve whitespace-separated
 * integers:
 *
 *	price qty fee_kind fee_value agent_bps host_bps amb_bps
 *	stripe_bps stripe_fixed platform_bears min max
 *
 * (fee_kind 1 fixed, 2 bps; fee_value goes to fee_bps for bps, else to
 * fee_fixed_cent), and gives exactly one output line:
 *
 *	ok amount subtotal platform_fee talent agent platform stripe_fee
 *	    ambassador host_partner
 *	err CODE
 *
 * CODE is split.c's code for a 422; a refusal of any other kind prints
 * "err kind_N_CODE", a line that is not twelve integers "err parse", a
 * line longer than the buffer "err line_too_long".  Exits 1 on a write
 * error.  Not installed: a check program only.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tly_err.h"
#include "tly_str.h"
#include "split.h"

#define NFIELD	12
#define LINEMAX	1024
#define WORDMAX	32		/* "-9223372036854775808" is 20 */

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/* parse_line - the twelve integers of 'line' into 'v'; TLY_ERR if not */
static int
parse_line(const char *line, int64_t v[NFIELD])
{
	char word[WORDMAX];
	const char *p = line;
	size_t len;
	int n = 0;

	for (;;) {
		while (is_space(*p))
			p++;
		if (*p == '\0')
			break;
		len = 0;
		while (p[len] != '\0' && !is_space(p[len]))
			len++;
		if (n == NFIELD || len >= sizeof(word))
			return TLY_ERR;
		memcpy(word, p, len);
		word[len] = '\0';
		if (tly_parse_i64(word, &v[n]) != TLY_OK)
			return TLY_ERR;
		n++;
		p += len;
	}
	return n == NFIELD ? TLY_OK : TLY_ERR;
}

static int
to_int(int64_t v, int *out)
{
	if (v < INT_MIN || v > INT_MAX)
		return TLY_ERR;
	*out = (int)v;
	return TLY_OK;
}

/* one_line - split one input line and print its result */
static void
one_line(const char *line)
{
	int64_t v[NFIELD];
	tly_split_in in;
	tly_split_out out;
	tly_err err;
	const int64_t *s = out.share_cent;

	memset(&in, 0, sizeof(in));
	if (parse_line(line, v) != TLY_OK ||
	    to_int(v[2], &in.fee_kind) != TLY_OK ||
	    to_int(v[9], &in.platform_bears_stripe_fee) != TLY_OK) {
		printf("err parse\n");
		return;
	}
	in.price_cent = v[0];
	in.quantity = v[1];
	if (in.fee_kind == TLY_FEE_BPS)	/* the value in its kind's field */
		in.fee_bps = v[3];
	else
		in.fee_fixed_cent = v[3];
	in.agent_bps = v[4];
	in.host_bps = v[5];
	in.ambassador_bps = v[6];
	in.stripe_bps = v[7];
	in.stripe_fixed_cent = v[8];
	in.min_amount_cent = v[10];
	in.max_amount_cent = v[11];
	tly_err_clear(&err);
	if (tly_split(&in, &out, &err) != TLY_OK) {
		if (err.kind == TLY_EK_UNPROCESSABLE)
			printf("err %s\n", err.code);
		else
			printf("err kind_%d_%s\n", (int)err.kind, err.code);
		return;
	}
	printf("ok %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
	    " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n",
	    out.amount_cent, out.subtotal_cent, out.platform_fee_cent,
	    s[TLY_SHARE_TALENT], s[TLY_SHARE_AGENT], s[TLY_SHARE_PLATFORM],
	    s[TLY_SHARE_STRIPE_FEE], s[TLY_SHARE_AMBASSADOR],
	    s[TLY_SHARE_HOST_PARTNER]);
}

int
main(void)
{
	static char obuf[1 << 16];
	char line[LINEMAX];
	size_t len;
	int c;

	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			c = getchar();
			if (c != EOF && c != '\n') {
				/* too long: drop the rest of the line */
				while (c != EOF && c != '\n')
					c = getchar();
				printf("err line_too_long\n");
				continue;
			}
		}
		one_line(line);
	}
	if (fflush(stdout) != 0 || ferror(stdout) || ferror(stdin))
		return 1;
	return 0;
}
