/*
 * tly_kdf.h - password hashing for admin users (scrypt, OpenSSL)
 *
 * Stored form: "scrypt$<log2 N>$<r>$<p>$<salt b64>$<key b64>".  The
 * parameters travel with the hash, so raising the cost later leaves old
 * hashes verifiable.  Verification compares in constant time.
 */
#ifndef TLY_KDF_H
#define TLY_KDF_H

#include <stddef.h>

#define TLY_KDF_HASH_MAX	160

int	 tly_kdf_hash(const char *, int, char *, size_t);
int	 tly_kdf_verify(const char *, const char *);

#endif
