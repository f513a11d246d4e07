/*
 * proc.h - the processes of tallyd: master, pool workers, job processes
 *
 * The master (master.c) forks workers and job processes and keeps them
 * alive; a child reports on the status pipe (fixed descriptor given at
 * fork) that it is ready, then serves until told to stop.
 *
 * Exit codes of a child: 0 = done as asked (SIGTERM, max_requests);
 * TLY_EXIT_FATAL (2) = cannot work with this configuration, do not
 * respawn until the configuration is reloaded; anything else or a
 * signal = crashed, respawn (with backoff when it keeps crashing).
 */
#ifndef TLY_PROC_H
#define TLY_PROC_H

#include <sys/types.h>

#include "config.h"
#include "ratelimit.h"
#include "tly_log.h"

#define TLY_EXIT_FATAL	2

typedef struct tly_status_msg {
	int32_t	 pid;
	char	 what;		/* TLY_STATUS_* */
	char	 pad[3];
} tly_status_msg;

#define TLY_STATUS_READY	'R'

/*
 * The scoreboard: one slot per child in memory shared with the master.
 * A worker stamps busy_since (monotonic ms) when it starts a request and
 * clears it when done -- stores, no system calls -- and the master kills
 * a worker whose request outlives request_timeout.
 */
typedef struct tly_score {
	int32_t	 pid;
	int64_t	 busy_since;	/* 0 = idle */
	int64_t	 served;
} tly_score;

int	 tly_worker_main(const tly_config *, int, int, int, tly_rl *,
	    tly_score *);
int	 tly_jobproc_main(const tly_config *, int, int);
int	 tly_master_run(const char *, tly_config *, int, int);
int	 tly_master_check(const char *, const tly_config *);
void	 tly_status_send(int, char);
int	 tly_signals_read(int, tly_log *, const char *);

#endif
