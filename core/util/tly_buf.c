/*
 * tly_buf.c - bounded growable byte buffers
 *
 * Owns: the growth policy (doubling, never past 'max') and the failure
 * contract (over the limit or out of memory -> TLY_TOO_LARGE / TLY_ERR and
 * the buffer is freed and left empty but usable).  A buffer never holds a
 * pointer it does not own.
 *
 * API:	tly_buf_init(), tly_buf_add*(), tly_buf_str(), tly_buf_reset(),
 *	tly_buf_steal(), tly_buf_free().
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tly_buf.h"
#include "tly_err.h"
#include "tly_pool.h"

/* tly_buf_init - an empty buffer that may hold at most 'max' bytes */
void
tly_buf_init(tly_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->magic = TLY_BUF_MAGIC;
}

/* tly_buf_free - release the storage; the buffer stays initialised */
void
tly_buf_free(tly_buf *b)
{
	assert(b->magic == TLY_BUF_MAGIC);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* tly_buf_reset - make the buffer empty, keeping its storage */
void
tly_buf_reset(tly_buf *b)
{
	assert(b->magic == TLY_BUF_MAGIC);
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* buf_reserve - room for 'n' more bytes plus the terminator */
static int
buf_reserve(tly_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	assert(b->magic == TLY_BUF_MAGIC);
	if (n > b->max || b->len > b->max - n) {
		tly_buf_free(b);
		return TLY_TOO_LARGE;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return TLY_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = TLY_ALLOC_FAILS() ? NULL : realloc(b->data, cap);
	if (p == NULL) {
		tly_buf_free(b);
		return TLY_ERR;
	}
	b->data = p;
	b->cap = cap;
	return TLY_OK;
}

/* tly_buf_add - append 'len' bytes at 'p' */
int
tly_buf_add(tly_buf *b, const void *p, size_t len)
{
	int rc;

	rc = buf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return TLY_OK;
}

/* tly_buf_adds - append a NUL-terminated string */
int
tly_buf_adds(tly_buf *b, const char *s)
{
	return tly_buf_add(b, s, strlen(s));
}

/* tly_buf_addc - append one byte */
int
tly_buf_addc(tly_buf *b, char c)
{
	return tly_buf_add(b, &c, 1);
}

/* tly_buf_addf - append printf-formatted text */
int
tly_buf_addf(tly_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return TLY_ERR;
	if ((size_t)n < sizeof(small))
		return tly_buf_add(b, small, (size_t)n);
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return TLY_OK;
}

/* tly_buf_add_i64 - append a signed decimal integer */
int
tly_buf_add_i64(tly_buf *b, int64_t v)
{
	char tmp[24];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	return tly_buf_add(b, tmp, (size_t)n);
}

/*
 * tly_buf_add_urlenc - append 'len' bytes of 's' percent-encoded as in
 * application/x-www-form-urlencoded: unreserved characters (RFC 3986) stay,
 * everything else becomes %XX.  Spaces become %20, which every form decoder
 * (Stripe's included) accepts.
 */
int
tly_buf_add_urlenc(tly_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	char enc[3];
	size_t i;
	int rc;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			rc = tly_buf_addc(b, (char)c);
		} else {
			enc[0] = '%';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			rc = tly_buf_add(b, enc, 3);
		}
		if (rc)
			return rc;
	}
	return TLY_OK;
}

/* tly_buf_str - the content as a C string ("" when empty) */
const char *
tly_buf_str(const tly_buf *b)
{
	return b->data ? b->data : "";
}

/*
 * tly_buf_steal - hand the storage to the caller (who frees it), store the
 * length in '*lenp' when not NULL; the buffer is left empty.  Never NULL.
 */
char *
tly_buf_steal(tly_buf *b, size_t *lenp)
{
	char *p;

	if (b->data == NULL && tly_buf_add(b, "", 0) != TLY_OK)
		return NULL;
	p = b->data;
	if (lenp)
		*lenp = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
