/*
 * migrate.h - numbered schema migrations (schema/NNN_name.sql)
 *
 * tly_migrate() applies, in order, every file of the schema directory not
 * yet recorded in schema_migrations, records each with the SHA-256 of its
 * text, and refuses to run when an applied file has changed since.  Runs
 * are serialised across hosts with GET_LOCK.  Re-running is a no-op.
 */
#ifndef TLY_MIGRATE_H
#define TLY_MIGRATE_H

#include "config.h"
#include "tly_log.h"

typedef struct tly_migrate_result {
	int	 applied;	/* files applied by this run */
	int	 current;	/* files already applied and unchanged */
	char	 why[512];	/* the failure, if any */
} tly_migrate_result;

int	 tly_migrate(const tly_config *, const char *, tly_log *,
	    tly_migrate_result *);

#endif
