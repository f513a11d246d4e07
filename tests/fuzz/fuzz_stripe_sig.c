/*
 * fuzz_stripe_sig.c - core/stripe_sig.c: Stripe-Signature verification
 *
 * The input is a header line, then the body.  The first byte picks how
 * the header is used: as it is (the parser against anything), or with a
 * correct v1 for the body appended ("t=…,v1=<good>") so that the parser
 * must find the good signature among whatever the input put before it.
 * Invariants: a refusal always says why; a header made of only a good
 * signature with a timestamp inside the tolerance is accepted; the
 * input alone (no signature made here by a configured secret) is never
 * accepted.
 */
#include <string.h>

#include <openssl/hmac.h>

#include "fuzz.h"
#include "stripe.h"
#include "tly_str.h"

#define NOW		1800000000
#define TOLERANCE	300

static const char secrets[2][128] = {
	"whsec_fuzz_old_0123456789abcdef",
	"whsec_fuzz_new_fedcba9876543210"
};

/* good_v1 - the hex v1 of 'body' at time 't' under secrets[k] */
static void
good_v1(char out[65], int64_t t, const uint8_t *body, size_t n, int k)
{
	unsigned char mac[EVP_MAX_MD_SIZE], *msg;
	unsigned int maclen = 0;
	char ts[24];
	size_t tl;

	snprintf(ts, sizeof(ts), "%lld.", (long long)t);
	tl = strlen(ts);
	msg = malloc(tl + n + 1);
	FUZZ_CHECK(msg != NULL);
	memcpy(msg, ts, tl);
	if (n)
		memcpy(msg + tl, body, n);
	FUZZ_CHECK(HMAC(EVP_sha256(), secrets[k], (int)strlen(secrets[k]),
	    msg, tl + n, mac, &maclen) != NULL && maclen == 32);
	free(msg);
	tly_hex(out, mac, 32);
}

/* LLVMFuzzerTestOneInput - verify the input's header over its body */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char hdr[4096], why[256], v1[65];
	const uint8_t *nl, *body;
	size_t hlen, blen;
	int mode, rc;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	nl = memchr(data, '\n', size);
	hlen = nl ? (size_t)(nl - data) : size;
	body = nl ? nl + 1 : data + size;
	blen = nl ? size - hlen - 1 : 0;
	if (hlen >= sizeof(hdr) - 128)
		return 0;
	memcpy(hdr, data, hlen);
	hdr[hlen] = '\0';
	if (memchr(hdr, '\0', hlen))
		return 0;	/* a header cannot hold a NUL */
	if (mode == 1) {
		good_v1(v1, NOW - 10, body, blen, (int)(hlen & 1));
		snprintf(hdr + hlen, sizeof(hdr) - hlen, "%st=%d,v1=%s",
		    hlen ? "," : "", NOW - 10, v1);
	} else if (mode == 2) {
		/* only the good signature, made by either secret */
		good_v1(v1, NOW + (int64_t)(hlen % 600) - 300, body, blen,
		    (int)(hlen & 1));
		snprintf(hdr, sizeof(hdr), "t=%lld,v1=%s",
		    (long long)(NOW + (int64_t)(hlen % 600) - 300), v1);
	}
	why[0] = '\0';
	rc = tly_stripe_verify_signature(hdr, (const char *)body, blen,
	    secrets, 2, NOW, TOLERANCE, why, sizeof(why));
	if (rc != TLY_OK)
		FUZZ_CHECK(why[0] != '\0');
	if (mode == 2)
		FUZZ_CHECK(rc == TLY_OK);
	if (mode == 0)
		FUZZ_CHECK(rc != TLY_OK);	/* no forgery */
	return 0;
}
