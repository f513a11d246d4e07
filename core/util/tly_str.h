/*
 * tly_str.h - small string, encoding, randomness and clock helpers
 *
 * Everything here is pure (no I/O but the kernel's random source and
 * clock) and safe on hostile input: every decoder is bounded by its output
 * size and fails rather than truncates.
 */
#ifndef TLY_STR_H
#define TLY_STR_H

#include <stddef.h>
#include <stdint.h>

size_t	 tly_strlcpy(char *, const char *, size_t);
int	 tly_parse_i64(const char *, int64_t *);
int	 tly_streq_ct(const char *, const char *);
int	 tly_memeq_ct(const void *, const void *, size_t);

/* base64: 'url' selects the URL-safe alphabet without padding */
size_t	 tly_b64_enclen(size_t);
size_t	 tly_b64_encode(char *, size_t, const void *, size_t, int);
int	 tly_b64_decode(unsigned char *, size_t, size_t *, const char *,
	    size_t, int);
void	 tly_hex(char *, const unsigned char *, size_t);

/* randomness (OpenSSL's CSPRNG) and identifiers */
int	 tly_random(void *, size_t);
uint32_t tly_random_u32(void);
int	 tly_random_token(char *, size_t);
int	 tly_id_new(char *, size_t, const char *);

/* clocks */
int64_t	 tly_now_ms(void);
int64_t	 tly_mono_ms(void);
int64_t	 tly_now_s(void);
void	 tly_sleep_ms(int64_t);

/* digests */
void	 tly_sha256_hex(char [65], const void *, size_t);

uint64_t	 tly_hash64(const char *);

#endif
