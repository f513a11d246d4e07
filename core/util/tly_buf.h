/*
 * tly_buf.h - bounded growable byte buffers
 *
 * Every buffer has a hard maximum fixed at init (curl's dynbuf idea): an
 * append that would pass it fails with TLY_TOO_LARGE and frees the buffer,
 * so an oversized input can never make Tally allocate without bound.  The
 * content is always NUL-terminated (the terminator is not counted in len).
 */
#ifndef TLY_BUF_H
#define TLY_BUF_H

#include <stddef.h>
#include <stdint.h>

#define TLY_BUF_MAGIC	0x7b75f0d1u

typedef struct tly_buf {
	char		*data;
	size_t		 len;
	size_t		 cap;
	size_t		 max;	/* hard limit on len */
	unsigned	 magic;	/* catches use of an uninitialised buffer */
} tly_buf;

void	 tly_buf_init(tly_buf *, size_t);
void	 tly_buf_free(tly_buf *);
void	 tly_buf_reset(tly_buf *);
int	 tly_buf_add(tly_buf *, const void *, size_t);
int	 tly_buf_adds(tly_buf *, const char *);
int	 tly_buf_addc(tly_buf *, char);
int	 tly_buf_addf(tly_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 tly_buf_add_i64(tly_buf *, int64_t);
int	 tly_buf_add_urlenc(tly_buf *, const char *, size_t);
const char *tly_buf_str(const tly_buf *);
char	*tly_buf_steal(tly_buf *, size_t *);

#endif
