/*
 * stripe_sig.c - verifying Stripe's webhook signatures
 *
 * Owns no table.
 *
 * Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]
 * The signed text is "<t>.<raw body>", HMAC-SHA256 keyed with the whole
 * endpoint secret ("whsec_…").  Every v1 is tried against every
 * configured secret (two during a rotation) with a constant-time compare;
 * other schemes are ignored.  A matching signature is then refused when
 * its timestamp is further than 'tolerance' seconds from now (replays).
 * The reason for a refusal goes to 'why' for the log and the operator's
 * failure counter; the caller answers 400 whatever it is.
 *
 * API:	tly_stripe_verify_signature().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/params.h>

#include "stripe.h"
#include "tly_str.h"

#define SIG_MAX_V1	8
#define SIG_HEADER_MAX	2048

typedef struct sig_header {
	int64_t		 t;
	int		 have_t;
	int		 nv1;
	char		 v1[SIG_MAX_V1][65];
} sig_header;

static int
is_hex64(const char *s, size_t n)
{
	size_t i;

	if (n != 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* parse - "k=v" pairs separated by commas; TLY_OK with t and >= 1 v1 */
static int
parse(const char *h, sig_header *sh)
{
	const char *p = h, *comma, *eq;
	char num[24];
	size_t n, vn;

	memset(sh, 0, sizeof(*sh));
	if (strlen(h) > SIG_HEADER_MAX)
		return TLY_ERR;
	while (*p) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		eq = memchr(p, '=', n);
		if (eq) {
			vn = n - (size_t)(eq + 1 - p);
			if (eq - p == 1 && p[0] == 't' && vn > 0 &&
			    vn < sizeof(num) && !sh->have_t) {
				memcpy(num, eq + 1, vn);
				num[vn] = '\0';
				if (tly_parse_i64(num, &sh->t) != TLY_OK)
					return TLY_ERR;
				sh->have_t = 1;
			} else if (eq - p == 2 && p[0] == 'v' && p[1] == '1' &&
			    is_hex64(eq + 1, vn) && sh->nv1 < SIG_MAX_V1) {
				memcpy(sh->v1[sh->nv1], eq + 1, 64);
				sh->v1[sh->nv1++][64] = '\0';
			}
		}
		p += n + (comma ? 1 : 0);
	}
	return sh->have_t && sh->nv1 > 0 ? TLY_OK : TLY_ERR;
}

/* expected - hex HMAC-SHA256 of "t.payload" under 'secret' */
static int
expected(const char *secret, int64_t t, const char *payload, size_t len,
    char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char ts[24];
	EVP_MAC *m;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int ok;

	snprintf(ts, sizeof(ts), "%lld.", (long long)t);
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	params[0] = OSSL_PARAM_construct_utf8_string("digest",
	    (char *)(uintptr_t)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = ctx && EVP_MAC_init(ctx, (const unsigned char *)secret,
	    strlen(secret), params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)payload, len) == 1 &&
	    EVP_MAC_final(ctx, mac, &outl, sizeof(mac)) == 1 && outl == 32;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	if (!ok)
		return TLY_ERR;
	tly_hex(out, mac, 32);
	return TLY_OK;
}

/*
 * tly_stripe_verify_signature - TLY_OK when 'header' carries a v1
 * signature of 'payload' ('len' bytes) by one of the 'n' 'secrets' with a
 * timestamp within 'tolerance' seconds of 'now'; else TLY_ERR with 'why'.
 */
int
tly_stripe_verify_signature(const char *header, const char *payload,
    size_t len, const char (*secrets)[128], int n, int64_t now,
    int tolerance, char *why, size_t whysz)
{
	sig_header sh;
	char want[65];
	int i, k, match = 0;

	if (header == NULL || *header == '\0') {
		snprintf(why, whysz, "no Stripe-Signature header");
		return TLY_ERR;
	}
	if (parse(header, &sh) != TLY_OK) {
		snprintf(why, whysz, "malformed Stripe-Signature header");
		return TLY_ERR;
	}
	for (i = 0; i < n; i++) {
		if (secrets[i][0] == '\0')
			continue;
		if (expected(secrets[i], sh.t, payload, len, want) != TLY_OK) {
			snprintf(why, whysz, "cannot compute HMAC");
			return TLY_ERR;
		}
		for (k = 0; k < sh.nv1; k++)
			match |= tly_memeq_ct(want, sh.v1[k], 64);
	}
	if (!match) {
		snprintf(why, whysz, "no signature matches");
		return TLY_ERR;
	}
	if (sh.t < now - tolerance || sh.t > now + tolerance) {
		snprintf(why, whysz, "timestamp outside the tolerance");
		return TLY_ERR;
	}
	return TLY_OK;
}
