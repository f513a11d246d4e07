/*
 * jwt_test.c - core/jwt.c
 *
 * A tly_config built in memory with one HS256 issuer and one RS256
 * issuer (an RSA key pair generated here; RS256 tokens are signed here
 * with EVP_DigestSign, HS256 ones with HMAC or tly_jwt_sign_hs256).
 * Accepted: minted HS256 (up to the longest claims) and RS256 tokens
 * (sub and email filled; the email claim is a name, dots included, never
 * a path), exp within the leeway, exp as a decimal, exp and nbf at the
 * int64 extremes, aud as a string or an array holding the audience, typ
 * absent.  Refused, each as a 401 (TLY_EK_AUTH) with a non-empty 'why'
 * that never reaches err.msg: exp past the leeway or missing, nbf in the
 * future, wrong or missing aud, missing sub, unknown iss, alg none,
 * HS256 signed with the RS256 public key PEM (algorithm confusion),
 * RS256 for the HS256 issuer, a tampered payload or signature, bad
 * base64, the wrong number of parts, "crit", typ "JWS", tokens longer
 * than TLY_JWT_MAX.  Also tly_jwt_looks_like.
 */
#include "tly_test.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "config.h"
#include "jwt.h"
#include "tly_buf.h"
#include "tly_err.h"
#include "tly_pool.h"
#include "tly_str.h"

#define NOW		1800000000	/* "now" for every verification */
#define SHOP_ISS	"https://shop.example/"
#define IDP_ISS		"https://idp.example/"
#define SHOP_SECRET	"0123456789abcdef0123456789abcdef-shop"
#define HDR_HS		"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define HDR_RS		"{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
/* the start of a payload for the HS256 issuer */
#define SHOP_HEAD	"{\"iss\":\"" SHOP_ISS "\",\"aud\":\"tally\","

enum { SIGN_HS, SIGN_RS, SIGN_NONE };

typedef struct fx {
	tly_config	 cfg;
	EVP_PKEY	*rsa;		/* the key pair: signs RS256 here */
	char		 pem[2048];	/* its public half, PEM text */
	tly_pool	*pool;
	char		 tok[16384];
	char		 why[128];
	tly_jwt_claims	 claims;
	tly_err		 err;
} fx;

static int
group_setup(void **state)
{
	tly_jwt_issuer *is;
	EVP_PKEY *pub;
	BIO *bio;
	fx *x;
	int n;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -1;
	x->rsa = EVP_RSA_gen(2048);
	x->pool = tly_pool_new(16384);
	bio = BIO_new(BIO_s_mem());
	if (x->rsa == NULL || x->pool == NULL || bio == NULL ||
	    PEM_write_bio_PUBKEY(bio, x->rsa) != 1)
		return -1;
	n = BIO_read(bio, x->pem, sizeof(x->pem) - 1);
	BIO_free(bio);
	if (n <= 0)
		return -1;
	x->pem[n] = '\0';
	/* the issuer holds only the public key, as config.c loads it */
	bio = BIO_new_mem_buf(x->pem, -1);
	if (bio == NULL)
		return -1;
	pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pub == NULL)
		return -1;

	tly_config_defaults(&x->cfg);
	is = &x->cfg.issuers[0];
	tly_strlcpy(is->name, "shop", sizeof(is->name));
	tly_strlcpy(is->iss, SHOP_ISS, sizeof(is->iss));
	tly_strlcpy(is->aud, "tally", sizeof(is->aud));
	is->alg = TLY_JWT_HS256;
	tly_strlcpy(is->secret, SHOP_SECRET, sizeof(is->secret));
	is->secret_len = strlen(SHOP_SECRET);
	tly_strlcpy(is->email_claim, "email", sizeof(is->email_claim));
	is->leeway_s = 30;
	is = &x->cfg.issuers[1];
	tly_strlcpy(is->name, "idp", sizeof(is->name));
	tly_strlcpy(is->iss, IDP_ISS, sizeof(is->iss));
	tly_strlcpy(is->aud, "tally-api", sizeof(is->aud));
	is->alg = TLY_JWT_RS256;
	is->pubkey = pub;
	tly_strlcpy(is->email_claim, "https://idp.example/email",
	    sizeof(is->email_claim));
	is->leeway_s = 0;
	x->cfg.n_issuers = 2;
	*state = x;
	return 0;
}

static int
group_teardown(void **state)
{
	fx *x = *state;

	tly_config_free(&x->cfg);
	EVP_PKEY_free(x->rsa);
	tly_pool_free(x->pool);
	free(x);
	return 0;
}

/* b64url - append 'n' bytes of 'p' base64url-encoded to 'dst' */
static void
b64url(char *dst, size_t dsz, const void *p, size_t n)
{
	size_t used = strlen(dst);

	assert_true(tly_b64_enclen(n) <= dsz - used);
	tly_b64_encode(dst + used, dsz - used, p, n, 1);
}

/* sign_raw - "<h>.<p>" already in x->tok; append ".<signature>" */
static void
sign_raw(fx *x, int how, const void *key, size_t keylen)
{
	unsigned char sig[1024];
	size_t siglen = sizeof(sig), len = strlen(x->tok);
	unsigned int maclen = 0;
	EVP_MD_CTX *md;

	if (how == SIGN_HS) {
		assert_non_null(HMAC(EVP_sha256(), key, (int)keylen,
		    (const unsigned char *)x->tok, len, sig, &maclen));
		siglen = maclen;
	} else if (how == SIGN_RS) {
		md = EVP_MD_CTX_new();
		assert_non_null(md);
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(),
		    NULL, x->rsa), 1);
		assert_int_equal(EVP_DigestSign(md, sig, &siglen,
		    (const unsigned char *)x->tok, len), 1);
		EVP_MD_CTX_free(md);
	} else
		siglen = 0;
	tly_strlcpy(x->tok + len, ".", sizeof(x->tok) - len);
	b64url(x->tok, sizeof(x->tok), sig, siglen);
}

/* mk - a token of JSON 'hdr' and 'payload', signed 'how' */
static const char *
mk(fx *x, const char *hdr, const char *payload, int how)
{
	x->tok[0] = '\0';
	b64url(x->tok, sizeof(x->tok), hdr, strlen(hdr));
	tly_strlcpy(x->tok + strlen(x->tok), ".", 2);
	b64url(x->tok, sizeof(x->tok), payload, strlen(payload));
	sign_raw(x, how, SHOP_SECRET, strlen(SHOP_SECRET));
	return x->tok;
}

static int
verify(fx *x, const char *tok)
{
	int rc;

	x->why[0] = '\0';
	tly_err_clear(&x->err);
	rc = tly_jwt_verify(&x->cfg, x->pool, tok, NOW, &x->claims, x->why,
	    sizeof(x->why), &x->err);
	tly_pool_reset(x->pool);
	return rc;
}

/* must_accept - 'tok' verifies; the test fails with the reason if not */
static void
must_accept(fx *x, const char *name, const char *tok)
{
	if (verify(x, tok) != TLY_OK)
		fail_msg("%s: got refused (%s), want accepted", name, x->why);
}

/* must_refuse - 'tok' is refused as a 401 whose reason holds 'part' */
static void
must_refuse(fx *x, const char *name, const char *tok, const char *part)
{
	int rc;

	rc = verify(x, tok);
	if (rc != TLY_ERR)
		fail_msg("%s: got rc %d, want %d", name, rc, TLY_ERR);
	if (x->err.kind != TLY_EK_AUTH || tly_err_status(&x->err) != 401)
		fail_msg("%s: kind got %d, want %d (401)", name,
		    (int)x->err.kind, (int)TLY_EK_AUTH);
	if (x->why[0] == '\0')
		fail_msg("%s: why got \"\", want a reason", name);
	if (part && strstr(x->why, part) == NULL)
		fail_msg("%s: why got \"%s\", want it to contain \"%s\"",
		    name, x->why, part);
	if (strstr(x->err.msg, x->why) != NULL)
		fail_msg("%s: msg \"%s\" reveals the reason", name,
		    x->err.msg);
	want_str(x->err.code, "invalid_token");
	assert_null(x->claims.issuer);
}

static void
test_minted_hs256(void **state)
{
	fx *x = *state;
	tly_buf b;

	tly_buf_init(&b, 8192);
	want_int(tly_jwt_sign_hs256(&x->cfg.issuers[0], "user_1",
	    "u@example.com", NOW, 600, &b), TLY_OK);
	want_int(tly_jwt_looks_like(tly_buf_str(&b)), 1);
	must_accept(x, "minted", tly_buf_str(&b));
	assert_ptr_equal(x->claims.issuer, &x->cfg.issuers[0]);
	want_str(x->claims.sub, "user_1");
	want_str(x->claims.email, "u@example.com");
	want_int(x->claims.exp, NOW + 600);
	tly_buf_free(&b);

	/* without an email; and the ttl is the exp */
	tly_buf_init(&b, 8192);
	want_int(tly_jwt_sign_hs256(&x->cfg.issuers[0], "user_2", NULL,
	    NOW - 100, 60, &b), TLY_OK);
	must_refuse(x, "minted, expired", tly_buf_str(&b), "expired");
	tly_buf_reset(&b);
	want_int(tly_jwt_sign_hs256(&x->cfg.issuers[0], "user_2", NULL,
	    NOW - 60, 61, &b), TLY_OK);
	must_accept(x, "minted, no email", tly_buf_str(&b));
	want_str(x->claims.sub, "user_2");
	want_str(x->claims.email, "");
	tly_buf_free(&b);

	/* an RS256 issuer cannot mint */
	tly_buf_init(&b, 8192);
	want_int(tly_jwt_sign_hs256(&x->cfg.issuers[1], "u", NULL, NOW, 60,
	    &b), TLY_ERR);
	tly_buf_free(&b);
}

/* the longest claims that verify accepts can be minted too */
static void
test_minted_longest(void **state)
{
	fx *x = *state;
	tly_jwt_issuer *big = &x->cfg.issuers[2];
	char sub[256], email[256];
	tly_buf b;

	*big = x->cfg.issuers[0];
	memset(big->iss, 'i', sizeof(big->iss) - 1);
	big->iss[sizeof(big->iss) - 1] = '\0';
	memset(big->aud, 'a', sizeof(big->aud) - 1);
	big->aud[sizeof(big->aud) - 1] = '\0';
	memset(sub, 's', sizeof(sub) - 1);
	sub[sizeof(sub) - 1] = '\0';
	memset(email, 'e', sizeof(email) - 1);
	email[sizeof(email) - 1] = '\0';
	tly_buf_init(&b, 8192);
	want_int(tly_jwt_sign_hs256(big, sub, email, NOW, 60, &b), TLY_OK);
	x->cfg.n_issuers = 3;
	must_accept(x, "longest claims", tly_buf_str(&b));
	x->cfg.n_issuers = 2;
	assert_ptr_equal(x->claims.issuer, big);
	want_str(x->claims.sub, sub);
	want_str(x->claims.email, email);
	tly_buf_free(&b);
}

static void
test_rs256(void **state)
{
	fx *x = *state;

	must_accept(x, "rs256", mk(x, HDR_RS, "{\"iss\":\"" IDP_ISS "\","
	    "\"aud\":\"tally-api\",\"sub\":\"auth0|42\",\"exp\":1800000001,"
	    "\"https://idp.example/email\":\"b@example.com\","
	    "\"email\":\"not-this@example.com\"}", SIGN_RS));
	assert_ptr_equal(x->claims.issuer, &x->cfg.issuers[1]);
	want_str(x->claims.sub, "auth0|42");
	want_str(x->claims.email, "b@example.com");
	want_int(x->claims.exp, NOW + 1);

	/* leeway 0 for this issuer: exp == now is expired */
	must_refuse(x, "rs256 exp now", mk(x, HDR_RS, "{\"iss\":\"" IDP_ISS
	    "\",\"aud\":\"tally-api\",\"sub\":\"s\",\"exp\":1800000000}",
	    SIGN_RS), "expired");
	/* signed by another key */
	must_refuse(x, "rs256 as HMAC", mk(x, HDR_RS, "{\"iss\":\"" IDP_ISS
	    "\",\"aud\":\"tally-api\",\"sub\":\"s\",\"exp\":1800000100}",
	    SIGN_HS), "bad signature");
}

/* claims for the HS256 issuer, signed correctly: only claims decide */
static void
test_claims(void **state)
{
	static const struct {
		const char	*name;
		const char	*payload;
		const char	*why;	/* NULL: accepted */
	} rows[] = {
		{ "valid", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600}", NULL },
		{ "exp 31 s ago", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1799999969}", "expired" },
		{ "exp 30 s ago", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1799999970}", "expired" },
		{ "exp 29 s ago", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1799999971}", NULL },
		{ "exp long ago", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1}", "expired" },
		{ "exp missing", SHOP_HEAD
		    "\"sub\":\"u\"}", "exp missing" },
		{ "exp a string", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":\"1800000600\"}", "exp" },
		{ "exp null", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":null}", "exp" },
		{ "exp a decimal", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600.75}", NULL },
		{ "exp a past decimal", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1799999969.9}",
		    "expired" },
		{ "exp an exponent", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1.8e9}", "exp" },
		{ "exp INT64_MAX", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":9223372036854775807}", NULL },
		{ "exp INT64_MIN", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":-9223372036854775808}", "expired" },
		{ "nbf past", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600,\"nbf\":1799999000}",
		    NULL },
		{ "nbf within leeway", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600,"
		    "\"nbf\":1800000030}", NULL },
		{ "nbf future", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600,\"nbf\":1800000031}",
		    "not yet valid" },
		{ "nbf a string", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600,\"nbf\":\"0\"}",
		    "not yet valid" },
		{ "nbf INT64_MIN", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600,"
		    "\"nbf\":-9223372036854775808}", NULL },
		{ "nbf INT64_MAX", SHOP_HEAD
		    "\"sub\":\"u\",\"exp\":1800000600,"
		    "\"nbf\":9223372036854775807}", "not yet valid" },
		{ "aud in an array", "{\"iss\":\"" SHOP_ISS "\","
		    "\"aud\":[\"other\",1,\"tally\"],\"sub\":\"u\","
		    "\"exp\":1800000600}", NULL },
		{ "aud array without", "{\"iss\":\"" SHOP_ISS "\","
		    "\"aud\":[\"other\",\"tally2\"],\"sub\":\"u\","
		    "\"exp\":1800000600}", "wrong audience" },
		{ "aud empty array", "{\"iss\":\"" SHOP_ISS "\",\"aud\":[],"
		    "\"sub\":\"u\",\"exp\":1800000600}", "wrong audience" },
		{ "aud other string", "{\"iss\":\"" SHOP_ISS "\","
		    "\"aud\":\"tallyx\",\"sub\":\"u\",\"exp\":1800000600}",
		    "wrong audience" },
		{ "aud prefix", "{\"iss\":\"" SHOP_ISS "\",\"aud\":\"tall\","
		    "\"sub\":\"u\",\"exp\":1800000600}", "wrong audience" },
		{ "aud missing", "{\"iss\":\"" SHOP_ISS "\",\"sub\":\"u\","
		    "\"exp\":1800000600}", "wrong audience" },
		{ "aud an object", "{\"iss\":\"" SHOP_ISS "\","
		    "\"aud\":{\"tally\":1},\"sub\":\"u\",\"exp\":1800000600}",
		    "wrong audience" },
		{ "sub missing", SHOP_HEAD
		    "\"exp\":1800000600}", "sub" },
		{ "sub empty", SHOP_HEAD
		    "\"sub\":\"\",\"exp\":1800000600}", "sub" },
		{ "sub a number", SHOP_HEAD
		    "\"sub\":42,\"exp\":1800000600}", "sub" },
		{ "iss unknown", "{\"iss\":\"https://evil.example/\","
		    "\"aud\":\"tally\",\"sub\":\"u\",\"exp\":1800000600}",
		    "unknown issuer" },
		{ "iss missing", "{\"aud\":\"tally\",\"sub\":\"u\","
		    "\"exp\":1800000600}", "unknown issuer" },
		{ "iss a number", "{\"iss\":1,\"aud\":\"tally\",\"sub\":\"u\","
		    "\"exp\":1800000600}", "unknown issuer" },
		{ "iss with a slash less", "{\"iss\":\"https://shop.example\","
		    "\"aud\":\"tally\",\"sub\":\"u\",\"exp\":1800000600}",
		    "unknown issuer" },
		{ "duplicate claim", SHOP_HEAD
		    "\"sub\":\"u\",\"sub\":\"admin\","
		    "\"exp\":1800000600}", "undecodable" },
		{ "payload an array", "[\"" SHOP_ISS "\"]", "undecodable" },
		{ "payload not JSON", "iss=shop", "undecodable" },
	};
	fx *x = *state;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].why == NULL) {
			must_accept(x, rows[i].name, mk(x, HDR_HS,
			    rows[i].payload, SIGN_HS));
			want_str(x->claims.sub, "u");
			continue;
		}
		rc = verify(x, mk(x, HDR_HS, rows[i].payload, SIGN_HS));
		if (rc == TLY_OK)
			fail_msg("%s: got accepted, want refused (%s)",
			    rows[i].name, rows[i].why);
		must_refuse(x, rows[i].name, x->tok, rows[i].why);
	}
}

static void
test_sub_length(void **state)
{
	fx *x = *state;
	char sub[300], payload[600];

	memset(sub, 's', 255);
	sub[255] = '\0';
	snprintf(payload, sizeof(payload), "{\"iss\":\"" SHOP_ISS "\","
	    "\"aud\":\"tally\",\"sub\":\"%s\",\"exp\":1800000600}", sub);
	must_accept(x, "255-byte sub", mk(x, HDR_HS, payload, SIGN_HS));
	want_str(x->claims.sub, sub);
	sub[255] = 's';
	sub[256] = '\0';
	snprintf(payload, sizeof(payload), "{\"iss\":\"" SHOP_ISS "\","
	    "\"aud\":\"tally\",\"sub\":\"%s\",\"exp\":1800000600}", sub);
	must_refuse(x, "256-byte sub", mk(x, HDR_HS, payload, SIGN_HS),
	    "sub");

	/* an email too long for the claims is dropped, not cut */
	snprintf(payload, sizeof(payload), "{\"iss\":\"" SHOP_ISS "\","
	    "\"aud\":\"tally\",\"sub\":\"u\",\"email\":\"%s\","
	    "\"exp\":1800000600}", sub);
	must_accept(x, "long email", mk(x, HDR_HS, payload, SIGN_HS));
	want_str(x->claims.email, "");
}

static void
test_email_claim(void **state)
{
	fx *x = *state;
	tly_jwt_issuer *is = &x->cfg.issuers[0];
	tly_buf b;

	/* a namespaced claim name holds dots: it is a name, not a path */
	tly_strlcpy(is->email_claim, "https://shop.example/email",
	    sizeof(is->email_claim));
	tly_buf_init(&b, 8192);
	want_int(tly_jwt_sign_hs256(is, "u", "ns@example.com", NOW, 60, &b),
	    TLY_OK);
	must_accept(x, "namespaced email", tly_buf_str(&b));
	want_str(x->claims.email, "ns@example.com");
	tly_buf_free(&b);

	/* and a dotted name never reaches into a nested object */
	tly_strlcpy(is->email_claim, "a.b", sizeof(is->email_claim));
	must_accept(x, "nested", mk(x, HDR_HS, "{\"iss\":\"" SHOP_ISS "\","
	    "\"aud\":\"tally\",\"sub\":\"u\",\"exp\":1800000600,"
	    "\"a\":{\"b\":\"nested@example.com\"}}", SIGN_HS));
	want_str(x->claims.email, "");
	must_accept(x, "not a string", mk(x, HDR_HS, "{\"iss\":\"" SHOP_ISS
	    "\",\"aud\":\"tally\",\"sub\":\"u\",\"exp\":1800000600,"
	    "\"a.b\":[\"x@example.com\"]}", SIGN_HS));
	want_str(x->claims.email, "");
	tly_strlcpy(is->email_claim, "email", sizeof(is->email_claim));
}

#define SHOP_OK	"{\"iss\":\"" SHOP_ISS "\",\"aud\":\"tally\",\"sub\":\"u\"," \
		"\"exp\":1800000600}"
#define IDP_OK	"{\"iss\":\"" IDP_ISS "\",\"aud\":\"tally-api\"," \
		"\"sub\":\"u\",\"exp\":1800000600}"

static void
test_headers(void **state)
{
	static const struct {
		const char	*name;
		const char	*hdr;
		const char	*why;	/* NULL: accepted */
	} rows[] = {
		{ "typ JWT", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", NULL },
		{ "typ absent", "{\"alg\":\"HS256\"}", NULL },
		{ "kid ignored", "{\"alg\":\"HS256\",\"kid\":\"k1\"}", NULL },
		{ "typ JWS", "{\"alg\":\"HS256\",\"typ\":\"JWS\"}",
		    "typ" },
		{ "typ lowercase", "{\"alg\":\"HS256\",\"typ\":\"jwt\"}",
		    "typ" },
		{ "typ a number", "{\"alg\":\"HS256\",\"typ\":1}",
		    "typ" },
		{ "typ null", "{\"alg\":\"HS256\",\"typ\":null}", "typ" },
		{ "crit", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
		    "algorithm" },
		{ "crit empty", "{\"alg\":\"HS256\",\"crit\":[]}",
		    "algorithm" },
		{ "alg missing", "{\"typ\":\"JWT\"}", "algorithm" },
		{ "alg a number", "{\"alg\":256}", "algorithm" },
		{ "alg none", "{\"alg\":\"none\"}", "algorithm" },
		{ "alg lowercase", "{\"alg\":\"hs256\"}", "algorithm" },
		{ "alg HS512", "{\"alg\":\"HS512\"}", "algorithm" },
		{ "alg RS256", "{\"alg\":\"RS256\"}", "algorithm" },
		{ "duplicate alg", "{\"alg\":\"HS256\",\"alg\":\"none\"}",
		    "undecodable" },
		{ "header an array", "[\"HS256\"]", "undecodable" },
		{ "header a string", "\"HS256\"", "undecodable" },
	};
	fx *x = *state;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		mk(x, rows[i].hdr, SHOP_OK, SIGN_HS);
		if (rows[i].why == NULL)
			must_accept(x, rows[i].name, x->tok);
		else
			must_refuse(x, rows[i].name, x->tok, rows[i].why);
	}
}

static void
test_algorithms(void **state)
{
	fx *x = *state;
	char tok[16384];

	/* alg none, empty signature: not even three parts */
	must_refuse(x, "none, empty sig", mk(x, "{\"alg\":\"none\"}", SHOP_OK,
	    SIGN_NONE), "malformed");
	must_refuse(x, "none for idp", mk(x, "{\"alg\":\"none\"}", IDP_OK,
	    SIGN_NONE), "malformed");

	/* HS256 with the RS256 issuer's public key PEM as the secret */
	x->tok[0] = '\0';
	b64url(x->tok, sizeof(x->tok), HDR_HS, strlen(HDR_HS));
	tly_strlcpy(x->tok + strlen(x->tok), ".", 2);
	b64url(x->tok, sizeof(x->tok), IDP_OK, strlen(IDP_OK));
	sign_raw(x, SIGN_HS, x->pem, strlen(x->pem));
	must_refuse(x, "key confusion", x->tok, "algorithm not the issuer's");

	/* the same without "typ", the PEM without its final newline */
	mk(x, "{\"alg\":\"HS256\"}", IDP_OK, SIGN_NONE);
	*strrchr(x->tok, '.') = '\0';
	sign_raw(x, SIGN_HS, x->pem, strlen(x->pem) - 1);
	must_refuse(x, "key confusion, no typ", x->tok, "algorithm");

	/* RS256 for the HS256 issuer, properly RSA-signed */
	must_refuse(x, "rs256 for shop", mk(x, HDR_RS, SHOP_OK, SIGN_RS),
	    "algorithm not the issuer's");

	/* the right alg but the other issuer's key */
	must_refuse(x, "hs256, wrong secret", mk(x, HDR_HS, IDP_OK, SIGN_HS),
	    "algorithm");
	x->tok[0] = '\0';
	b64url(x->tok, sizeof(x->tok), HDR_HS, strlen(HDR_HS));
	tly_strlcpy(x->tok + strlen(x->tok), ".", 2);
	b64url(x->tok, sizeof(x->tok), SHOP_OK, strlen(SHOP_OK));
	sign_raw(x, SIGN_HS, "0123456789abcdef0123456789abcdef-shoq",
	    strlen(SHOP_SECRET));
	must_refuse(x, "hs256, other secret", x->tok, "bad signature");

	/* a valid token with its signature cut to a prefix */
	tly_strlcpy(tok, mk(x, HDR_HS, SHOP_OK, SIGN_HS), sizeof(tok));
	must_accept(x, "control", tok);
	tok[strlen(tok) - 4] = '\0';
	must_refuse(x, "short signature", tok, "signature");
}

/* b64_part - the 'i'th part of x->tok decoded into 'out' */
static size_t
b64_part(fx *x, int i, char *out, size_t outsz)
{
	const char *s = x->tok, *e;
	size_t n;

	for (; i > 0; i--)
		s = strchr(s, '.') + 1;
	e = strchr(s, '.');
	if (e == NULL)
		e = s + strlen(s);
	assert_int_equal(tly_b64_decode((unsigned char *)out, outsz - 1, &n,
	    s, (size_t)(e - s), 1), TLY_OK);
	out[n] = '\0';
	return n;
}

static void
test_tampered(void **state)
{
	fx *x = *state;
	char tok[16384], payload[512], sig[64], *p, *dot2;
	size_t n;

	/* change one character of the payload, re-encode, keep the sig */
	tly_strlcpy(tok, mk(x, HDR_HS, SHOP_OK, SIGN_HS), sizeof(tok));
	must_accept(x, "control", tok);
	b64_part(x, 1, payload, sizeof(payload));
	p = strstr(payload, "\"sub\":\"u\"");
	assert_non_null(p);
	p[7] = 'v';
	dot2 = strrchr(tok, '.');
	tly_strlcpy(sig, dot2, sizeof(sig));
	x->tok[0] = '\0';
	b64url(x->tok, sizeof(x->tok), HDR_HS, strlen(HDR_HS));
	tly_strlcpy(x->tok + strlen(x->tok), ".", 2);
	b64url(x->tok, sizeof(x->tok), payload, strlen(payload));
	tly_strlcpy(x->tok + strlen(x->tok), sig,
	    sizeof(x->tok) - strlen(x->tok));
	must_refuse(x, "tampered payload", x->tok, "bad signature");

	/* one character of the signature */
	tly_strlcpy(x->tok, tok, sizeof(x->tok));
	p = strrchr(x->tok, '.') + 1;
	*p = *p == 'A' ? 'B' : 'A';
	must_refuse(x, "tampered signature", x->tok, "bad signature");

	/* the same on an RS256 token */
	tly_strlcpy(tok, mk(x, HDR_RS, IDP_OK, SIGN_RS), sizeof(tok));
	must_accept(x, "control rs256", tok);
	n = b64_part(x, 1, payload, sizeof(payload));
	assert_true(n > 10);
	p = strstr(payload, "tally-api");
	assert_non_null(p);
	p[0] = 'T';
	dot2 = strrchr(tok, '.');
	x->tok[0] = '\0';
	b64url(x->tok, sizeof(x->tok), HDR_RS, strlen(HDR_RS));
	tly_strlcpy(x->tok + strlen(x->tok), ".", 2);
	b64url(x->tok, sizeof(x->tok), payload, strlen(payload));
	tly_strlcpy(x->tok + strlen(x->tok), dot2,
	    sizeof(x->tok) - strlen(x->tok));
	must_refuse(x, "tampered rs256 payload", x->tok, "bad signature");
}

static void
test_encoding(void **state)
{
	fx *x = *state;
	char tok[16384], *d1, *d2;

	tly_strlcpy(tok, mk(x, HDR_HS, SHOP_OK, SIGN_HS), sizeof(tok));
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');

	/* standard-alphabet or padded base64 is not base64url */
	tly_strlcpy(x->tok, tok, sizeof(x->tok));
	x->tok[d1 - tok - 1] = '+';
	must_refuse(x, "'+' in header", x->tok, "undecodable");
	tly_strlcpy(x->tok, tok, sizeof(x->tok));
	x->tok[d2 - tok - 1] = '/';
	must_refuse(x, "'/' in payload", x->tok, "undecodable");
	tly_strlcpy(x->tok, tok, sizeof(x->tok));
	x->tok[strlen(tok) - 1] = '=';
	must_refuse(x, "'=' in signature", x->tok, "undecodable signature");
	tly_strlcpy(x->tok, tok, sizeof(x->tok));
	x->tok[d1 - tok + 1] = '!';
	must_refuse(x, "'!' in payload", x->tok, "undecodable");
	tly_strlcpy(x->tok, tok, sizeof(x->tok));
	x->tok[strlen(tok)] = 'A';			/* bad length */
	x->tok[strlen(tok) + 1] = '\0';
	must_refuse(x, "signature length", x->tok, "signature");
	must_refuse(x, "header of one char", "e.eyJ9.abc", "undecodable");

	/* parts */
	snprintf(x->tok, sizeof(x->tok), "%s.%s", tok, "AAAA");
	must_refuse(x, "4 parts", x->tok, "malformed");
	tly_strlcpy(x->tok, tok, sizeof(x->tok));
	*strrchr(x->tok, '.') = '\0';
	must_refuse(x, "2 parts", x->tok, "malformed");
	must_refuse(x, "empty", "", "malformed");
	must_refuse(x, "dots", "..", "malformed");
	must_refuse(x, "empty payload", "eyJhbGciOiJIUzI1NiJ9..c2ln",
	    "malformed");
	must_refuse(x, "not a token", "Bearer", "malformed");
}

static void
test_too_long(void **state)
{
	fx *x = *state;
	char pad[8192], payload[8400];
	size_t len = 0, want, accepted = 0, refused = SIZE_MAX;

	/* grow a valid token to TLY_JWT_MAX and one byte past it */
	memset(pad, 'x', sizeof(pad));
	for (want = TLY_JWT_MAX - 4; want <= TLY_JWT_MAX + 4; want++) {
		/* 4 payload characters make 3 bytes: adjust the pad */
		size_t lo = 0, hi = 6200, mid;

		while (lo < hi) {
			mid = (lo + hi + 1) / 2;
			snprintf(payload, sizeof(payload), "{\"iss\":\""
			    SHOP_ISS "\",\"aud\":\"tally\",\"sub\":\"u\","
			    "\"exp\":1800000600,\"pad\":\"%.*s\"}", (int)mid,
			    pad);
			len = strlen(mk(x, HDR_HS, payload, SIGN_HS));
			if (len <= want)
				lo = mid;
			else
				hi = mid - 1;
		}
		snprintf(payload, sizeof(payload), "{\"iss\":\"" SHOP_ISS
		    "\",\"aud\":\"tally\",\"sub\":\"u\",\"exp\":1800000600,"
		    "\"pad\":\"%.*s\"}", (int)lo, pad);
		len = strlen(mk(x, HDR_HS, payload, SIGN_HS));
		if (len <= TLY_JWT_MAX) {
			must_accept(x, "at the limit", x->tok);
			accepted = len > accepted ? len : accepted;
		} else {
			must_refuse(x, "past the limit", x->tok,
			    "malformed token");
			refused = len < refused ? len : refused;
		}
	}
	/* both sides of the limit were tried, up close */
	if (accepted < TLY_JWT_MAX - 1 || refused > TLY_JWT_MAX + 2)
		fail_msg("lengths tried: got %zu accepted, %zu refused, want "
		    "%d..%d and %d..%d", accepted, refused, TLY_JWT_MAX - 1,
		    TLY_JWT_MAX, TLY_JWT_MAX + 1, TLY_JWT_MAX + 2);
}

static void
test_looks_like(void **state)
{
	static const struct {
		const char	*in;
		int		 want;
	} rows[] = {
		{ "a.b.c", 1 },
		{ "eyJ.eyJ.sig-_", 1 },
		{ "a.b.", 0 },
		{ ".b.c", 0 },
		{ "a..c", 0 },
		{ "a.b.c.d", 0 },
		{ "a.b", 0 },
		{ "abc", 0 },
		{ "", 0 },
		{ "..", 0 },
		{ "...", 0 },
		{ "sk_test_123", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (tly_jwt_looks_like(rows[i].in) != rows[i].want)
			fail_msg("\"%s\": got %d, want %d", rows[i].in,
			    tly_jwt_looks_like(rows[i].in), rows[i].want);
}

/*
 * test_rfc8725 - per issuer (RFC 8725 3.11, 2.2): a required "typ" and
 * a maximum lifetime (exp - iat, iat required then); set on the HS256
 * issuer for this test only
 */
static void
test_rfc8725(void **state)
{
	fx *x = *state;
	tly_jwt_issuer *is = &x->cfg.issuers[0];
	char p[512];

	snprintf(p, sizeof(p), SHOP_HEAD "\"sub\":\"u\",\"iat\":%d,"
	    "\"exp\":%d}", NOW - 10, NOW + 300);
	must_accept(x, "no typ required, typ JWT", mk(x, HDR_HS, p, SIGN_HS));
	tly_strlcpy(is->typ, "at+jwt", sizeof(is->typ));
	must_refuse(x, "typ JWT where at+jwt is required",
	    mk(x, HDR_HS, p, SIGN_HS), "typ");
	must_refuse(x, "no typ where at+jwt is required",
	    mk(x, "{\"alg\":\"HS256\"}", p, SIGN_HS), "typ");
	must_accept(x, "typ at+jwt",
	    mk(x, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", p, SIGN_HS));
	must_accept(x, "typ application/at+jwt (RFC 9068)",
	    mk(x, "{\"alg\":\"HS256\",\"typ\":\"application/at+jwt\"}", p,
	    SIGN_HS));
	is->typ[0] = '\0';

	is->max_lifetime_s = 600;
	must_accept(x, "a lifetime of 310 s under 600",
	    mk(x, HDR_HS, p, SIGN_HS));
	snprintf(p, sizeof(p), SHOP_HEAD "\"sub\":\"u\",\"iat\":%d,"
	    "\"exp\":%d}", NOW - 10, NOW + 86400 * 365);
	must_refuse(x, "a token valid for a year",
	    mk(x, HDR_HS, p, SIGN_HS), "lifetime");
	snprintf(p, sizeof(p), SHOP_HEAD "\"sub\":\"u\",\"exp\":%d}",
	    NOW + 300);
	must_refuse(x, "no iat where a lifetime is bounded",
	    mk(x, HDR_HS, p, SIGN_HS), "iat");
	snprintf(p, sizeof(p), SHOP_HEAD "\"sub\":\"u\",\"iat\":%d,"
	    "\"exp\":%d}", NOW + 3600, NOW + 3900);
	must_refuse(x, "iat in the future", mk(x, HDR_HS, p, SIGN_HS),
	    "iat");
	is->max_lifetime_s = 0;
}

/* sign_with - "<h>.<p>" in x->tok, RS256-signed with 'key' */
static const char *
sign_with(fx *x, const char *hdr, const char *payload, EVP_PKEY *key)
{
	unsigned char sig[1024];
	size_t siglen = sizeof(sig), len;
	EVP_MD_CTX *md;

	x->tok[0] = '\0';
	b64url(x->tok, sizeof(x->tok), hdr, strlen(hdr));
	tly_strlcpy(x->tok + strlen(x->tok), ".", 2);
	b64url(x->tok, sizeof(x->tok), payload, strlen(payload));
	len = strlen(x->tok);
	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
	    key), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen,
	    (const unsigned char *)x->tok, len), 1);
	EVP_MD_CTX_free(md);
	tly_strlcpy(x->tok + len, ".", sizeof(x->tok) - len);
	b64url(x->tok, sizeof(x->tok), sig, siglen);
	return x->tok;
}

/*
 * test_kid - an RS256 issuer with keys by kid (a rotation: the old key
 * and the new at once): a token verifies with the key its kid names,
 * never another; a token without kid with the unnamed key
 */
static void
test_kid(void **state)
{
	fx *x = *state;
	tly_jwt_issuer *is = &x->cfg.issuers[1];
	EVP_PKEY *next;
	char p[512];

	next = EVP_RSA_gen(2048);
	assert_non_null(next);
	tly_strlcpy(is->keys[0].kid, "2026-old", sizeof(is->keys[0].kid));
	is->keys[0].pubkey = x->rsa;
	tly_strlcpy(is->keys[1].kid, "2026-new", sizeof(is->keys[1].kid));
	is->keys[1].pubkey = next;
	is->nkeys = 2;
	snprintf(p, sizeof(p), "{\"iss\":\"" IDP_ISS "\",\"aud\":"
	    "\"tally-api\",\"sub\":\"u\",\"exp\":%d}", NOW + 300);
	must_accept(x, "the new key by its kid", sign_with(x,
	    "{\"alg\":\"RS256\",\"kid\":\"2026-new\"}", p, next));
	must_accept(x, "the old key by its kid", sign_with(x,
	    "{\"alg\":\"RS256\",\"kid\":\"2026-old\"}", p, x->rsa));
	must_refuse(x, "the new key under the old kid", sign_with(x,
	    "{\"alg\":\"RS256\",\"kid\":\"2026-old\"}", p, next), "signature");
	must_refuse(x, "an unknown kid", sign_with(x,
	    "{\"alg\":\"RS256\",\"kid\":\"2025\"}", p, x->rsa), "signature");
	must_accept(x, "no kid: the unnamed key", sign_with(x,
	    "{\"alg\":\"RS256\"}", p, x->rsa));
	must_refuse(x, "no kid, signed by a named key only", sign_with(x,
	    "{\"alg\":\"RS256\"}", p, next), "signature");
	is->nkeys = 0;
	is->keys[0].pubkey = is->keys[1].pubkey = NULL;
	EVP_PKEY_free(next);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minted_hs256),
		cmocka_unit_test(test_minted_longest),
		cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_sub_length),
		cmocka_unit_test(test_email_claim),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_rfc8725),
		cmocka_unit_test(test_kid),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
