/*
 * audit_chain.h - the audit log's hash chain: chaining and verifying
 *
 * Each audit_log row gets a link in audit_chain: SHA-256 over the
 * previous link's hash and the row's canonical content (audit_chain.c
 * says exactly what).  The "audit" job chains rows in id order once they
 * are older than [audit] chain_horizon; tly_audit_verify() walks the
 * chain and names the first row that does not fit.  The head (id, hash)
 * printed by `tallyctl audit head` and kept outside the database proves
 * later that nobody rewrote the chain up to it.
 */
#ifndef TLY_AUDIT_CHAIN_H
#define TLY_AUDIT_CHAIN_H

#include <stdint.h>

#include "ctx.h"

typedef struct tly_audit_verdict {
	int	 ok;			/* 1: the chain holds */
	int64_t	 rows;			/* rows verified */
	int64_t	 head_id;		/* the last chained row, 0: none */
	char	 head_hash[65];
	int64_t	 unchained;		/* newer rows not chained yet */
	int64_t	 broken_id;		/* the first row that does not fit */
	char	 why[192];
} tly_audit_verdict;

int	 tly_job_audit_chain(tly_ctx *, tly_err *);
int	 tly_audit_verify(tly_ctx *, int64_t, const char *,
	    tly_audit_verdict *, tly_err *);
int	 tly_audit_writable(tly_ctx *, int *, tly_err *);

#endif
