/*
 * tly_json.h - bounded JSON parsing (yajl) into a pool, and a JSON writer
 *
 * Parsing builds a small tree in a tly_pool under explicit limits (bytes,
 * depth, nodes, string length, members per object).  Numbers are never
 * floating point: an integer that fits int64_t becomes TLY_JINT, anything
 * else keeps its text as TLY_JNUM.  Duplicate keys and strings holding
 * NUL are refused: both are classic ways to make two parsers disagree.
 *
 * Writing appends to a tly_buf with a sticky error, so a handler writes a
 * whole object and checks once at the end.
 */
#ifndef TLY_JSON_H
#define TLY_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "tly_buf.h"
#include "tly_err.h"
#include "tly_pool.h"

typedef enum tly_jtype {
	TLY_JNULL = 0,
	TLY_JBOOL,
	TLY_JINT,
	TLY_JNUM,		/* a number that is not an int64: text kept */
	TLY_JSTR,
	TLY_JARR,
	TLY_JOBJ
} tly_jtype;

typedef struct tly_jv tly_jv;
struct tly_jv {
	tly_jtype	 type;
	int		 b;		/* TLY_JBOOL */
	int64_t		 i;		/* TLY_JINT */
	const char	*s;		/* TLY_JSTR, TLY_JNUM: NUL-terminated */
	size_t		 slen;
	const char	*key;		/* member name inside an object */
	tly_jv		*next;		/* next sibling */
	tly_jv		*child;		/* first member / element */
	tly_jv		*last;
	size_t		 n;		/* members / elements */
};

typedef struct tly_json_limits {
	size_t	max_bytes;
	size_t	max_depth;
	size_t	max_nodes;
	size_t	max_string;
	size_t	max_members;	/* per object */
} tly_json_limits;

extern const tly_json_limits tly_json_request_limits;	/* client input */
extern const tly_json_limits tly_json_api_limits;	/* Stripe replies */

int		 tly_json_parse(tly_pool *, const char *, size_t,
		    const tly_json_limits *, tly_jv **, tly_err *);
const tly_jv	*tly_json_get(const tly_jv *, const char *);
const tly_jv	*tly_json_path(const tly_jv *, const char *);
const char	*tly_json_str(const tly_jv *, const char *);
int		 tly_json_i64(const tly_jv *, const char *, int64_t *);
int		 tly_json_bool(const tly_jv *, const char *, int *);

/* declarative validation of a request object */
enum {
	TLY_JF_STR = 1 << 0,
	TLY_JF_INT = 1 << 1,
	TLY_JF_BOOL = 1 << 2,
	TLY_JF_OBJ = 1 << 3,
	TLY_JF_ARR = 1 << 4,
	TLY_JF_NULL = 1 << 5,		/* null is accepted */
	TLY_JF_REQUIRED = 1 << 8
};

typedef struct tly_jfield {
	const char	*name;
	int		 flags;
	size_t		 max_len;	/* strings: 0 = no limit beyond parse */
} tly_jfield;

int		 tly_json_check(const tly_jv *, const tly_jfield *, tly_err *);

/* writer */
#define TLY_JW_DEPTH	32

typedef struct tly_jw {
	tly_buf		*b;
	int		 rc;		/* sticky: first failure */
	int		 depth;
	unsigned char	 first[TLY_JW_DEPTH];
	char		 closer[TLY_JW_DEPTH];
} tly_jw;

void	 tly_jw_init(tly_jw *, tly_buf *);
void	 tly_jw_obj(tly_jw *, const char *);
void	 tly_jw_arr(tly_jw *, const char *);
void	 tly_jw_end(tly_jw *);
void	 tly_jw_str(tly_jw *, const char *, const char *);
void	 tly_jw_strn(tly_jw *, const char *, const char *, size_t);
void	 tly_jw_int(tly_jw *, const char *, int64_t);
void	 tly_jw_bool(tly_jw *, const char *, int);
void	 tly_jw_null(tly_jw *, const char *);
void	 tly_jw_raw(tly_jw *, const char *, const char *);
int	 tly_jw_done(tly_jw *);
int	 tly_json_escape(tly_buf *, const char *, size_t);

#endif
