/*
 * jwt.c - buyer tokens (RFC 7519 compact JWS, HS256 and RS256 only)
 *
 * Verification order, each step failing closed with one opaque 401:
 *   1. three base64url parts, bounded length, valid JSON objects;
 *   2. header: "alg" a string, no "crit"; "typ" absent or "JWT", or
 *      when the issuer names one (typ = at+jwt), exactly that (RFC 8725
 *      3.11: a token of another kind is not taken for a buyer's);
 *   3. payload "iss" selects a configured issuer (else refused);
 *   4. header "alg" must equal that issuer's configured algorithm;
 *   5. signature over "<header>.<payload>" with the issuer's key
 *      (HMAC compared in constant time; RSA PKCS#1 v1.5 with SHA-256;
 *      RS256: the key named by the header's "kid" when the issuer names
 *      its keys, so keys rotate without a flag day; an unknown kid is
 *      refused);
 *   6. claims: exp required and in the future, nbf (if any) in the past,
 *      each with the issuer's leeway; aud (string or array) contains the
 *      configured audience; sub a non-empty string of at most 255 bytes;
 *      with the issuer's max_lifetime, iat required and exp - iat within
 *      it (RFC 8725 3.10).
 * The reason for a refusal goes to 'why' for the log, never to a client.
 *
 * API:	tly_jwt_verify(), tly_jwt_sign_hs256(), tly_jwt_looks_like().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"
#include "tly_json.h"
#include "tly_str.h"

static int
refuse(tly_err *err, char *why, size_t whysz, const char *reason)
{
	snprintf(why, whysz, "%s", reason);
	return tly_err_set(err, TLY_EK_AUTH, "invalid_token",
	    "Authentication failed.");
}

/* tly_jwt_looks_like - three non-empty dot-separated parts */
int
tly_jwt_looks_like(const char *t)
{
	const char *d1, *d2;

	d1 = strchr(t, '.');
	if (d1 == NULL || d1 == t)
		return 0;
	d2 = strchr(d1 + 1, '.');
	if (d2 == NULL || d2 == d1 + 1 || d2[1] == '\0')
		return 0;
	return strchr(d2 + 1, '.') == NULL;
}

/* decode_part - base64url part into a pool string, then JSON */
static int
decode_json(tly_pool *pool, const char *s, size_t n, tly_jv **out)
{
	unsigned char *raw;
	size_t len;
	tly_err ignored;

	raw = tly_palloc(pool, n);
	if (raw == NULL)
		return TLY_ERR;
	if (tly_b64_decode(raw, n, &len, s, n, 1) != TLY_OK)
		return TLY_ERR;
	if (tly_json_parse(pool, (const char *)raw, len,
	    &tly_json_request_limits, out, &ignored) != TLY_OK)
		return TLY_ERR;
	return (*out)->type == TLY_JOBJ ? TLY_OK : TLY_ERR;
}

/* numeric_claim - an integer (or a decimal with a fraction) claim */
static int
numeric_claim(const tly_jv *o, const char *k, int64_t *out)
{
	const tly_jv *v;
	char *end;

	v = tly_json_get(o, k);
	if (v == NULL)
		return TLY_NOTFOUND;
	if (v->type == TLY_JINT) {
		*out = v->i;
		return TLY_OK;
	}
	if (v->type == TLY_JNUM && strpbrk(v->s, "eE") == NULL) {
		*out = strtoll(v->s, &end, 10);
		if (*end == '.')
			return TLY_OK;
	}
	return TLY_ERR;
}

static int
audience_ok(const tly_jv *payload, const char *want)
{
	const tly_jv *aud, *e;

	aud = tly_json_get(payload, "aud");
	if (aud == NULL)
		return 0;
	if (aud->type == TLY_JSTR)
		return strcmp(aud->s, want) == 0;
	if (aud->type != TLY_JARR)
		return 0;
	for (e = aud->child; e; e = e->next)
		if (e->type == TLY_JSTR && strcmp(e->s, want) == 0)
			return 1;
	return 0;
}

/*
 * rs_key - the RS256 key of issuer 'is' for header 'h': the key named by
 * its "kid" when the issuer names keys (an unknown kid: none, never a
 * guess), else the issuer's one key
 */
static const void *
rs_key(const tly_jwt_issuer *is, const tly_jv *h)
{
	const char *kid;
	int i;

	if (is->nkeys == 0)
		return is->pubkey;
	kid = tly_json_str(h, "kid");
	if (kid == NULL)
		return is->pubkey;
	for (i = 0; i < is->nkeys; i++)
		if (strcmp(is->keys[i].kid, kid) == 0)
			return is->keys[i].pubkey;
	return NULL;
}

static int
signature_ok(const tly_jwt_issuer *is, const tly_jv *h,
    const char *signed_part, size_t slen, const unsigned char *sig,
    size_t siglen)
{
	const void *key;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	EVP_MD_CTX *mdctx;
	int ok;

	if (is->alg == TLY_JWT_HS256) {
		if (HMAC(EVP_sha256(), is->secret, (int)is->secret_len,
		    (const unsigned char *)signed_part, slen, mac,
		    &maclen) == NULL)
			return 0;
		return siglen == maclen && tly_memeq_ct(mac, sig, maclen);
	}
	key = rs_key(is, h);
	if (is->alg != TLY_JWT_RS256 || key == NULL)
		return 0;
	mdctx = EVP_MD_CTX_new();
	if (mdctx == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(mdctx, NULL, EVP_sha256(), NULL,
	    (EVP_PKEY *)key) == 1 && EVP_DigestVerify(mdctx, sig, siglen,
	    (const unsigned char *)signed_part, slen) == 1;
	EVP_MD_CTX_free(mdctx);
	return ok;
}

/* typ_ok - header "typ" 'typ' (NULL: absent) as issuer 'is' wants it */
static int
typ_ok(const char *typ, const tly_jwt_issuer *is)
{
	if (is->typ[0] == '\0')
		return typ == NULL || strcmp(typ, "JWT") == 0;
	if (typ == NULL)
		return 0;
	/* RFC 7515 4.1.9: "application/" may be left out */
	if (strncasecmp(typ, "application/", 12) == 0)
		typ += 12;
	return strcasecmp(typ, is->typ) == 0;
}

/* header_ok - NULL when header 'h' suits issuer 'is', else the reason */
static const char *
header_ok(const tly_jv *h, const tly_jwt_issuer *is)
{
	const char *alg;

	alg = tly_json_str(h, "alg");
	if (alg == NULL || tly_json_get(h, "crit") != NULL)
		return "algorithm not the issuer's";
	if (tly_json_get(h, "typ") != NULL && tly_json_str(h, "typ") == NULL)
		return "typ not a string";
	if (!typ_ok(tly_json_str(h, "typ"), is))
		return "typ not the issuer's";
	if (strcmp(alg, is->alg == TLY_JWT_HS256 ? "HS256" : "RS256") != 0)
		return "algorithm not the issuer's";
	return NULL;
}

/*
 * lifetime_ok - with a maximum lifetime, iat is required, not in the
 * future, and exp - iat within it (RFC 8725 3.10: a stolen token
 * expires); NULL or the reason
 */
static const char *
lifetime_ok(const tly_jv *p, const tly_jwt_issuer *is, int64_t now,
    int64_t exp)
{
	int64_t iat;

	if (is->max_lifetime_s == 0)
		return NULL;
	if (numeric_claim(p, "iat", &iat) != TLY_OK)
		return "iat missing where the lifetime is bounded";
	if (iat > now + is->leeway_s)
		return "iat in the future";
	/* exp - iat > max, written so that no extreme iat overflows (exp
	 * > now - leeway here, so exp - max cannot) */
	if (iat < exp - is->max_lifetime_s)
		return "lifetime above the issuer's max_lifetime";
	return NULL;
}

/* check_claims - time window, audience, subject; fills 'c' */
static int
check_claims(const tly_jv *p, const tly_jwt_issuer *is, int64_t now,
    tly_jwt_claims *c, const char **reason)
{
	const char *sub, *email;
	const tly_jv *e;
	int rc;

	if (numeric_claim(p, "exp", &c->exp) != TLY_OK) {
		*reason = "exp missing or not a number";
		return TLY_ERR;
	}
	/*
	 * Compared as exp <= now - leeway (and nbf > now + leeway), not
	 * exp + leeway <= now: a signed exp or nbf near INT64_MAX/MIN
	 * overflowed that sum (undefined behaviour; exp = INT64_MAX came
	 * out "expired").
	 */
	if (c->exp <= now - is->leeway_s) {
		*reason = "expired";
		return TLY_ERR;
	}
	rc = numeric_claim(p, "nbf", &c->nbf);
	if (rc == TLY_ERR || (rc == TLY_OK && c->nbf > now + is->leeway_s)) {
		*reason = "not yet valid";
		return TLY_ERR;
	}
	if (!audience_ok(p, is->aud)) {
		*reason = "wrong audience";
		return TLY_ERR;
	}
	sub = tly_json_str(p, "sub");
	if (sub == NULL || *sub == '\0' ||
	    tly_strlcpy(c->sub, sub, sizeof(c->sub)) >= sizeof(c->sub)) {
		*reason = "sub missing or too long";
		return TLY_ERR;
	}
	/*
	 * The claim is a member name, not a dotted path: namespaced claims
	 * such as "https://idp.example/email" were never found (and a name
	 * like "a.b" reached into nested objects).
	 */
	e = tly_json_get(p, is->email_claim);
	email = e && e->type == TLY_JSTR ? e->s : NULL;
	if (email && tly_strlcpy(c->email, email, sizeof(c->email)) >=
	    sizeof(c->email))
		c->email[0] = '\0';
	return TLY_OK;
}

/*
 * tly_jwt_verify - verify 'token' at time 'now' against the issuers of
 * 'cfg'; on success '*c' holds the issuer and claims.  Scratch memory
 * comes from 'pool'.  Any failure is a 401 with the reason in 'why'.
 */
int
tly_jwt_verify(const tly_config *cfg, tly_pool *pool, const char *token,
    int64_t now, tly_jwt_claims *c, char *why, size_t whysz, tly_err *err)
{
	const char *d1, *d2, *iss, *reason = NULL;
	const tly_jwt_issuer *is;
	tly_jv *h, *p;
	unsigned char *sig;
	size_t tlen, siglen, n;

	memset(c, 0, sizeof(*c));
	tlen = strlen(token);
	if (tlen > TLY_JWT_MAX || !tly_jwt_looks_like(token))
		return refuse(err, why, whysz, "malformed token");
	d1 = strchr(token, '.');
	d2 = strchr(d1 + 1, '.');
	if (decode_json(pool, token, (size_t)(d1 - token), &h) != TLY_OK ||
	    decode_json(pool, d1 + 1, (size_t)(d2 - d1 - 1), &p) != TLY_OK)
		return refuse(err, why, whysz, "undecodable header or payload");
	iss = tly_json_str(p, "iss");
	is = iss ? tly_config_issuer(cfg, iss) : NULL;
	if (is == NULL)
		return refuse(err, why, whysz, "unknown issuer");
	reason = header_ok(h, is);
	if (reason)
		return refuse(err, why, whysz, reason);
	n = strlen(d2 + 1);
	sig = tly_palloc(pool, n + 1);
	if (sig == NULL ||
	    tly_b64_decode(sig, n + 1, &siglen, d2 + 1, n, 1) != TLY_OK)
		return refuse(err, why, whysz, "undecodable signature");
	if (!signature_ok(is, h, token, (size_t)(d2 - token), sig, siglen))
		return refuse(err, why, whysz, "bad signature");
	if (check_claims(p, is, now, c, &reason) != TLY_OK)
		return refuse(err, why, whysz, reason);
	reason = lifetime_ok(p, is, now, c->exp);
	if (reason) {
		memset(c, 0, sizeof(*c));
		return refuse(err, why, whysz, reason);
	}
	c->issuer = is;
	return TLY_OK;
}

#define PAYLOAD_MAX	4096		/* minted payload, before base64 */

static int
add_b64url(tly_buf *b, const void *p, size_t n)
{
	/*
	 * Room for a whole PAYLOAD_MAX payload: 1024 bytes refused the
	 * longest claims that tly_jwt_verify accepts (iss, aud, sub and
	 * email of 255 bytes each make a payload of about 1 100 bytes).
	 */
	char tmp[(PAYLOAD_MAX + 2) / 3 * 4 + 1];
	size_t len;

	len = tly_b64_encode(tmp, sizeof(tmp), p, n, 1);
	if (len == 0 && n != 0)
		return TLY_ERR;
	return tly_buf_add(b, tmp, len);
}

/*
 * tly_jwt_sign_hs256 - a token for 'sub' (and 'email' when not NULL) from
 * issuer 'is' (HS256 only), issued at 'now', valid 'ttl' seconds, appended
 * to 'out'.  For tallyctl and tests: production tokens come from the
 * marketplace's own auth service.
 */
int
tly_jwt_sign_hs256(const tly_jwt_issuer *is, const char *sub,
    const char *email, int64_t now, int64_t ttl, tly_buf *out)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	tly_buf payload;
	tly_jw w;
	size_t start;
	int rc;

	if (is->alg != TLY_JWT_HS256)
		return TLY_ERR;
	tly_buf_init(&payload, PAYLOAD_MAX);
	tly_jw_init(&w, &payload);
	tly_jw_obj(&w, NULL);
	tly_jw_str(&w, "iss", is->iss);
	tly_jw_str(&w, "aud", is->aud);
	tly_jw_str(&w, "sub", sub);
	if (email)
		tly_jw_str(&w, is->email_claim, email);
	tly_jw_int(&w, "iat", now);
	tly_jw_int(&w, "exp", now + ttl);
	tly_jw_end(&w);
	rc = tly_jw_done(&w);
	start = out->len;
	if (rc == TLY_OK)
		rc = add_b64url(out, header, sizeof(header) - 1);
	if (rc == TLY_OK)
		rc = tly_buf_addc(out, '.');
	if (rc == TLY_OK)
		rc = add_b64url(out, payload.data, payload.len);
	tly_buf_free(&payload);
	if (rc == TLY_OK && HMAC(EVP_sha256(), is->secret, (int)is->secret_len,
	    (const unsigned char *)out->data + start, out->len - start, mac,
	    &maclen) == NULL)
		rc = TLY_ERR;
	if (rc == TLY_OK)
		rc = tly_buf_addc(out, '.');
	if (rc == TLY_OK)
		rc = add_b64url(out, mac, maclen);
	return rc;
}
