/*
 * tly_str.c - string, encoding, randomness and clock helpers
 *
 * Identifiers: "<prefix>_" + 8 characters of milliseconds since the epoch
 * + 14 random characters, all in a base62 alphabet whose ASCII order is
 * its numeric order, so ids sort by creation time under a binary collation
 * (cursor pagination relies on it) and are unguessable (83 random bits).
 *
 * API:	tly_strlcpy(), tly_parse_i64(), tly_streq_ct(), tly_memeq_ct(),
 *	tly_b64_*(), tly_hex(), tly_random*(), tly_id_new(), tly_now_*(),
 *	tly_mono_ms(), tly_sleep_ms(), tly_sha256_hex(), tly_hash64().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tly_err.h"
#include "tly_str.h"

static const char b62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* tly_strlcpy - BSD strlcpy: returns strlen(src); >= size means cut */
size_t
tly_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n;

	n = strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* tly_parse_i64 - a whole decimal string to int64; TLY_ERR otherwise */
int
tly_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return TLY_ERR;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return TLY_ERR;
	*out = (int64_t)v;
	return TLY_OK;
}

/* tly_memeq_ct - constant-time equality of 'n' bytes */
int
tly_memeq_ct(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/*
 * tly_streq_ct - constant-time string equality; the time depends only on
 * the length of 'b' (the secret side), never on where the strings differ.
 */
int
tly_streq_ct(const char *a, const char *b)
{
	size_t la, lb, i;
	unsigned char d, ca;

	la = strlen(a);
	lb = strlen(b);
	d = (unsigned char)(la != lb);
	for (i = 0; i < lb; i++) {
		ca = i < la ? (unsigned char)a[i] : 0;
		d |= (unsigned char)(ca ^ (unsigned char)b[i]);
	}
	return d == 0;
}

/* tly_b64_enclen - bytes needed to encode 'n' bytes, padded, plus NUL */
size_t
tly_b64_enclen(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

/*
 * tly_b64_encode - base64 of 'n' bytes at 'src' into 'dst' (size 'dsz'),
 * URL-safe without padding when 'url'.  Returns the length written, or 0
 * when 'dst' is too small (and 'dst' is then "").
 */
size_t
tly_b64_encode(char *dst, size_t dsz, const void *src, size_t n, int url)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char urls[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *al = url ? urls : std;
	const unsigned char *s = src;
	size_t i, o = 0;
	uint32_t v;

	if (dsz < tly_b64_enclen(n)) {
		if (dsz)
			dst[0] = '\0';
		return 0;
	}
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		dst[o++] = al[v >> 18 & 63];
		dst[o++] = al[v >> 12 & 63];
		dst[o++] = al[v >> 6 & 63];
		dst[o++] = al[v & 63];
	}
	if (i < n) {
		v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		dst[o++] = al[v >> 18 & 63];
		dst[o++] = al[v >> 12 & 63];
		if (i + 1 < n)
			dst[o++] = al[v >> 6 & 63];
		else if (!url)
			dst[o++] = '=';
		if (!url)
			dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

static int
b64_val(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/*
 * tly_b64_decode - decode 'n' characters of 'src' (URL-safe alphabet
 * without padding when 'url'; standard with optional padding otherwise)
 * into 'dst' of size 'dsz'; '*outlen' gets the byte count.  Any character
 * outside the alphabet, a bad length, non-zero trailing bits or a short
 * 'dst' fails with TLY_ERR.
 */
int
tly_b64_decode(unsigned char *dst, size_t dsz, size_t *outlen,
    const char *src, size_t n, int url)
{
	size_t i, o = 0, k = 0;
	uint32_t acc = 0;
	int v;

	if (!url) {
		while (n > 0 && src[n - 1] == '=' && k < 2) {
			n--;
			k++;
		}
		/*
		 * Padding, when present, must complete the last group:
		 * "Zm9v=", "Zm8==" and "Zg=" are bad lengths, not "foo",
		 * "fo" and "f" (they were accepted before).
		 */
		if (k > 0 && (n + k) % 4 != 0)
			return TLY_ERR;
	}
	if (n % 4 == 1)
		return TLY_ERR;
	for (i = 0; i < n; i++) {
		v = b64_val((unsigned char)src[i], url);
		if (v < 0)
			return TLY_ERR;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			if (o + 3 > dsz)
				return TLY_ERR;
			dst[o++] = (unsigned char)(acc >> 16);
			dst[o++] = (unsigned char)(acc >> 8);
			dst[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	switch (n % 4) {
	case 2:
		if ((acc & 0xf) != 0 || o + 1 > dsz)
			return TLY_ERR;
		dst[o++] = (unsigned char)(acc >> 4);
		break;
	case 3:
		if ((acc & 0x3) != 0 || o + 2 > dsz)
			return TLY_ERR;
		dst[o++] = (unsigned char)(acc >> 10);
		dst[o++] = (unsigned char)(acc >> 2);
		break;
	default:
		break;
	}
	*outlen = o;
	return TLY_OK;
}

/* tly_hex - lowercase hex of 'n' bytes into 'dst' (2n + 1 bytes) */
void
tly_hex(char *dst, const unsigned char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = hex[src[i] >> 4];
		dst[2 * i + 1] = hex[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

/* tly_random - 'n' bytes from the CSPRNG */
int
tly_random(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? TLY_OK : TLY_ERR;
}

/* tly_random_u32 - a random 32-bit value (jitter, not secrets) */
uint32_t
tly_random_u32(void)
{
	uint32_t v = 0;

	if (tly_random(&v, sizeof(v)) != TLY_OK)
		v = (uint32_t)tly_mono_ms() * 2654435761u;
	return v;
}

/* b62_random - 'n' unbiased random base62 characters into 'dst' */
static int
b62_random(char *dst, size_t n)
{
	unsigned char r[64];
	size_t i = 0, j = sizeof(r);

	while (i < n) {
		if (j == sizeof(r)) {
			if (tly_random(r, sizeof(r)) != TLY_OK)
				return TLY_ERR;
			j = 0;
		}
		if (r[j] < 248)		/* 248 = 4 * 62: no modulo bias */
			dst[i++] = b62[r[j] % 62];
		j++;
	}
	return TLY_OK;
}

/*
 * tly_random_token - a secret token of size-1 base62 characters (session
 * ids, API keys, CSRF tokens): 32 characters carry 190 bits.
 */
int
tly_random_token(char *dst, size_t size)
{
	if (size < 2)
		return TLY_ERR;
	if (b62_random(dst, size - 1) != TLY_OK)
		return TLY_ERR;
	dst[size - 1] = '\0';
	return TLY_OK;
}

/* tly_id_new - "<prefix>_<time8><random14>" into 'dst' (>= prefix + 24) */
int
tly_id_new(char *dst, size_t size, const char *prefix)
{
	size_t pl;
	uint64_t t;
	int i;

	pl = strlen(prefix);
	if (size < pl + 1 + 8 + 14 + 1)
		return TLY_ERR;
	memcpy(dst, prefix, pl);
	dst[pl] = '_';
	t = (uint64_t)tly_now_ms();
	for (i = 7; i >= 0; i--) {
		dst[pl + 1 + i] = b62[t % 62];
		t /= 62;
	}
	if (b62_random(dst + pl + 9, 14) != TLY_OK)
		return TLY_ERR;
	dst[pl + 23] = '\0';
	return TLY_OK;
}

/* tly_now_ms - wall clock, milliseconds since the epoch */
int64_t
tly_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tly_now_s - wall clock, seconds since the epoch */
int64_t
tly_now_s(void)
{
	return tly_now_ms() / 1000;
}

/* tly_mono_ms - monotonic clock in milliseconds (intervals, timeouts) */
int64_t
tly_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tly_sleep_ms - sleep 'ms' milliseconds, resuming after signals */
void
tly_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* tly_sha256_hex - SHA-256 of 'n' bytes as 64 hex characters */
void
tly_sha256_hex(char out[65], const void *p, size_t n)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
	tly_hex(out, md, 32);
}

/*
 * tly_hash64 - FNV-1a of 's', never 0 (0 marks an empty slot in the
 * shared tables of ratelimit.c and metrics.c)
 */
uint64_t
tly_hash64(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ? h : 1;
}
