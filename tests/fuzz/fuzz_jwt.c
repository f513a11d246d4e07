/*
 * fuzz_jwt.c - core/jwt.c: buyer token verification
 *
 * Three issuers as in tests/unit/jwt_test.c: "shop" (HS256, a secret),
 * "idp" (RS256, a key pair made at the first run, also named by kid
 * "k1") and "strict" (HS256 with the shop's secret, RFC 8725: typ
 * at+jwt required, tokens of at most 600 s).  The first byte of the
 * input picks the mode:
 *   0  the rest is the token, as it is;
 *   1  the rest is a header JSON, a line break, a payload JSON: both are
 *      base64url-encoded and signed with HS256 under the shop's secret,
 *      so that the claims checks (iss, alg, exp, nbf, aud, sub) are
 *      reached with a good signature;
 *   2  as 1, but signed with the idp's public key PEM as an HMAC secret
 *      (the algorithm confusion of RFC 8725 2.1).
 * Invariants: a refusal is a 401 with a reason; an accepted token has an
 * issuer, a non-empty sub of at most 255 bytes and an exp within the
 * leeway; in mode 1 it is the shop's or the strict issuer's, its
 * header's alg is HS256, and the strict issuer's has typ at+jwt; in
 * mode 2 nothing is accepted.
 */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "config.h"
#include "fuzz.h"
#include "jwt.h"
#include "tly_json.h"
#include "tly_str.h"

#define NOW		1800000000
#define SHOP_SECRET	"0123456789abcdef0123456789abcdef-shop"

static tly_config cfg;
static char pem[2048];
static int ready;

/* setup - the two issuers (once) */
static void
setup(void)
{
	tly_jwt_issuer *is;
	EVP_PKEY *pair, *pub;
	BIO *bio;
	int n;

	tly_config_defaults(&cfg);
	pair = EVP_RSA_gen(2048);
	bio = BIO_new(BIO_s_mem());
	FUZZ_CHECK(pair && bio && PEM_write_bio_PUBKEY(bio, pair) == 1);
	n = BIO_read(bio, pem, sizeof(pem) - 1);
	FUZZ_CHECK(n > 0);
	pem[n] = '\0';
	BIO_free(bio);
	EVP_PKEY_free(pair);
	bio = BIO_new_mem_buf(pem, -1);
	pub = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	FUZZ_CHECK(pub != NULL);
	BIO_free(bio);

	is = &cfg.issuers[0];
	tly_strlcpy(is->name, "shop", sizeof(is->name));
	tly_strlcpy(is->iss, "https://shop.example/", sizeof(is->iss));
	tly_strlcpy(is->aud, "tally", sizeof(is->aud));
	is->alg = TLY_JWT_HS256;
	tly_strlcpy(is->secret, SHOP_SECRET, sizeof(is->secret));
	is->secret_len = strlen(SHOP_SECRET);
	tly_strlcpy(is->email_claim, "email", sizeof(is->email_claim));
	is->leeway_s = 30;
	is = &cfg.issuers[1];
	tly_strlcpy(is->name, "idp", sizeof(is->name));
	tly_strlcpy(is->iss, "https://idp.example/", sizeof(is->iss));
	tly_strlcpy(is->aud, "tally-api", sizeof(is->aud));
	is->alg = TLY_JWT_RS256;
	is->pubkey = pub;
	tly_strlcpy(is->keys[0].kid, "k1", sizeof(is->keys[0].kid));
	is->keys[0].pubkey = pub;
	is->nkeys = 1;
	tly_strlcpy(is->email_claim, "https://idp.example/email",
	    sizeof(is->email_claim));
	is = &cfg.issuers[2];
	tly_strlcpy(is->name, "strict", sizeof(is->name));
	tly_strlcpy(is->iss, "https://strict.example/", sizeof(is->iss));
	tly_strlcpy(is->aud, "tally", sizeof(is->aud));
	is->alg = TLY_JWT_HS256;
	tly_strlcpy(is->secret, SHOP_SECRET, sizeof(is->secret));
	is->secret_len = strlen(SHOP_SECRET);
	tly_strlcpy(is->typ, "at+jwt", sizeof(is->typ));
	is->max_lifetime_s = 600;
	cfg.n_issuers = 3;
	ready = 1;
}

/* sign - "<b64(h)>.<b64(p)>.<HS256 under key>" into 'tok' */
static int
sign(char *tok, size_t tsz, const char *h, size_t hl, const char *p,
    size_t pl, const char *key, size_t kl)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t n;

	if (tly_b64_enclen(hl) + tly_b64_enclen(pl) + 64 > tsz)
		return -1;
	n = tly_b64_encode(tok, tsz, h, hl, 1);
	tok[n++] = '.';
	n += tly_b64_encode(tok + n, tsz - n, p, pl, 1);
	FUZZ_CHECK(HMAC(EVP_sha256(), key, (int)kl, (unsigned char *)tok, n,
	    mac, &maclen) != NULL);
	tok[n++] = '.';
	tly_b64_encode(tok + n, tsz - n, mac, maclen, 1);
	return 0;
}

/* header_is - the header JSON's member 'k' is the string 'want' */
static int
header_is(tly_pool *p, const char *h, size_t hl, const char *k,
    const char *want)
{
	tly_jv *v = NULL;
	const char *got;
	tly_err e;

	if (tly_json_parse(p, h, hl, &tly_json_request_limits, &v, &e) !=
	    TLY_OK)
		return 0;
	got = tly_json_str(v, k);
	return got && strcasecmp(got, want) == 0;
}

/* LLVMFuzzerTestOneInput - verify one token */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char tok[4 * TLY_JWT_MAX];
	char why[128];
	const char *in, *nl = NULL;
	tly_jwt_claims cl;
	tly_pool *p;
	tly_err e;
	size_t n;
	int mode, rc;

	if (!ready)
		setup();
	if (size < 1 || size > 3 * TLY_JWT_MAX)
		return 0;
	mode = data[0] % 3;
	in = (const char *)data + 1;
	n = size - 1;
	if (mode == 0) {
		memcpy(tok, in, n);
		tok[n] = '\0';
	} else {
		nl = memchr(in, '\n', n);
		if (nl == NULL)
			return 0;
		if (sign(tok, sizeof(tok), in, (size_t)(nl - in), nl + 1,
		    n - (size_t)(nl - in) - 1,
		    mode == 1 ? SHOP_SECRET : pem,
		    strlen(mode == 1 ? SHOP_SECRET : pem)) != 0)
			return 0;
	}
	p = tly_pool_new(16 << 10);
	FUZZ_CHECK(p != NULL);
	memset(&cl, 0, sizeof(cl));
	tly_err_clear(&e);
	why[0] = '\0';
	(void)tly_jwt_looks_like(tok);
	rc = tly_jwt_verify(&cfg, p, tok, NOW, &cl, why, sizeof(why), &e);
	if (rc != TLY_OK) {
		FUZZ_CHECK(e.kind == TLY_EK_AUTH && why[0] != '\0');
	} else {
		FUZZ_CHECK(cl.issuer != NULL);
		FUZZ_CHECK(cl.sub[0] != '\0' && strlen(cl.sub) <= 255);
		FUZZ_CHECK(cl.exp >= NOW - cl.issuer->leeway_s);
		FUZZ_CHECK(mode != 2);
		if (mode == 1) {
			FUZZ_CHECK(cl.issuer == &cfg.issuers[0] ||
			    cl.issuer == &cfg.issuers[2]);
			FUZZ_CHECK(header_is(p, in, (size_t)(nl - in), "alg",
			    "HS256"));
			if (cl.issuer == &cfg.issuers[2])
				FUZZ_CHECK(header_is(p, in, (size_t)(nl - in),
				    "typ", "at+jwt") || header_is(p, in,
				    (size_t)(nl - in), "typ",
				    "application/at+jwt"));
		}
	}
	tly_pool_free(p);
	return 0;
}
