/*
 * outbox.c - the email outbox: queuing (see outbox.h)
 */
#include <string.h>

#include "db.h"
#include "outbox.h"
#include "tly_str.h"

/*
 * tly_outbox_add - queue 'm' in the current transaction (deferred: one
 * round trip with the COMMIT).  An address that is empty queues nothing;
 * a cause already queued is ignored (INSERT IGNORE on dedupe_key).
 */
int
tly_outbox_add(tly_ctx *ctx, const tly_mail *m, tly_err *err)
{
	char id[40];

	if (m->to == NULL || m->to[0] == '\0')
		return TLY_OK;
	if (m->dedupe == NULL || strlen(m->dedupe) > 128 || m->kind == NULL ||
	    m->subject == NULL || m->body == NULL)
		return tly_err_internal(err);
	if (tly_id_new(id, sizeof(id), "msg") != TLY_OK)
		return tly_err_internal(err);
	return tly_db_later(ctx->db, err, "INSERT IGNORE INTO outbox (id, "
	    "dedupe_key, kind, account_id, to_addr, subject, body) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)", "sssssss", id, m->dedupe, m->kind,
	    m->account_id, m->to, m->subject, m->body);
}
