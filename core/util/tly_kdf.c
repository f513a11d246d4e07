/*
 * tly_kdf.c - scrypt password hashing
 *
 * scrypt (RFC 7914) through EVP_PBE_scrypt: memory-hard, so a stolen
 * table of hashes costs an attacker memory as well as time.  The default
 * cost (N = 2^15, r = 8, p = 1: 32 MiB, ~0.1 s here) is configurable per
 * deployment (admin_auth.kdf_log2_n); the salt is 16 random bytes and the
 * derived key 32 bytes.
 *
 * API:	tly_kdf_hash(), tly_kdf_verify().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tly_err.h"
#include "tly_kdf.h"
#include "tly_str.h"

#define KDF_R		8
#define KDF_P		1
#define KDF_SALT	16
#define KDF_KEY		32

static int
derive(const char *pw, const unsigned char *salt, size_t saltlen,
    int log2n, int r, int p, unsigned char *key, size_t keylen)
{
	uint64_t n, maxmem;

	/*
	 * Range first: the parameters come from a stored hash, and a
	 * shift by a negative or >= 64 'log2n' is undefined (it was
	 * computed before this check).
	 */
	if (log2n < 1 || log2n > 22 || r < 1 || r > 32 || p < 1 || p > 16)
		return TLY_ERR;
	n = (uint64_t)1 << log2n;
	maxmem = 128 * (uint64_t)r * n * (uint64_t)p + (1 << 20);
	return EVP_PBE_scrypt(pw, strlen(pw), salt, saltlen, n, (uint64_t)r,
	    (uint64_t)p, maxmem, key, keylen) == 1 ? TLY_OK : TLY_ERR;
}

/* tly_kdf_hash - hash 'pw' with cost 2^'log2n' into 'out' */
int
tly_kdf_hash(const char *pw, int log2n, char *out, size_t outsz)
{
	unsigned char salt[KDF_SALT], key[KDF_KEY];
	char s64[32], k64[64];

	if (tly_random(salt, sizeof(salt)) != TLY_OK ||
	    derive(pw, salt, sizeof(salt), log2n, KDF_R, KDF_P, key,
	    sizeof(key)) != TLY_OK)
		return TLY_ERR;
	tly_b64_encode(s64, sizeof(s64), salt, sizeof(salt), 0);
	tly_b64_encode(k64, sizeof(k64), key, sizeof(key), 0);
	if ((size_t)snprintf(out, outsz, "scrypt$%d$%d$%d$%s$%s", log2n,
	    KDF_R, KDF_P, s64, k64) >= outsz)
		return TLY_ERR;
	return TLY_OK;
}

/* tly_kdf_verify - 1 when 'pw' matches stored 'hash', else 0 */
int
tly_kdf_verify(const char *pw, const char *hash)
{
	unsigned char salt[64], want[64], got[64];
	size_t saltlen, wantlen;
	int log2n, r, p, ok;
	char s64[96], k64[96];

	if (sscanf(hash, "scrypt$%d$%d$%d$%95[^$]$%95s", &log2n, &r, &p,
	    s64, k64) != 5)
		return 0;
	if (tly_b64_decode(salt, sizeof(salt), &saltlen, s64, strlen(s64),
	    0) != TLY_OK || tly_b64_decode(want, sizeof(want), &wantlen, k64,
	    strlen(k64), 0) != TLY_OK || wantlen < 16)
		return 0;
	if (derive(pw, salt, saltlen, log2n, r, p, got, wantlen) != TLY_OK)
		return 0;
	ok = tly_memeq_ct(got, want, wantlen);
	return ok;
}
