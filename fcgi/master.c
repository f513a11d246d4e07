/*
 * master.c - tallyd's master: binds the pool sockets, forks and keeps
 * the workers and job processes alive, reloads, drains
 *
 * In the manner of Postfix's master(8):
 * - Signal handlers only set a flag and write a byte to a self-pipe; the
 *   main loop polls the self-pipe and the status pipe and does the work.
 *   The flag is cleared first, then acted on, so a signal that arrives
 *   during the work is not lost.
 * - A child that dies is reaped and replaced at once (well within 1 s);
 *   one that dies within a second of its start makes its pool back off
 *   (0.1 s doubling to 30 s) instead of forking in a loop; exit code 2
 *   means "this configuration cannot work": that pool stays down until
 *   the next reload.  Every death is logged with its cause.
 * - Workers recycle themselves after max_requests (exit 0) and are
 *   replaced; the pool's socket keeps queueing meanwhile.
 * - SIGHUP: load the configuration into a new struct; if it fails, log
 *   why and keep running the old one.  Otherwise roll each pool one
 *   worker at a time: start one new worker, wait until it reports ready,
 *   then SIGTERM one old worker (which finishes its request), so capacity
 *   never drops below the configured count.  A socket whose path changed
 *   is bound anew; old workers drain the old one.
 * - SIGTERM/SIGINT: stop spawning, SIGTERM every child, SIGKILL what is
 *   left after shutdown_timeout, remove the sockets, exit 0.
 * - SIGUSR1: reopen the log file (logrotate moved it) and pass the signal
 *   to every child, which reopens its own descriptor 2; nothing is re-read
 *   and no worker is rolled (as nginx does).
 * - While it starts (until the "started" line), each line of the master
 *   also goes to the standard error tallyd was started with: a failed
 *   start is never silent on a terminal or in the journal.
 *
 * tly_master_check() is tallyd -t: besides the file (loaded by the
 * caller), what the real start would trip on -- the socket and log
 * directories, sockets another process serves, socket groups, unknown
 * jobs -- checked as the user that runs it, and a warning when a file
 * holding secrets may be read by other users.  (tallyd binds no TCP
 * port: its pools are unix sockets.)
 *
 * Child setup order: the child closes the master's pipes and the sockets
 * of other pools, keeps its own socket and the status pipe, and only then
 * runs the worker (which opens its own MariaDB connection).
 *
 * API:	tly_master_check(), tly_master_run().
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "jobs.h"
#include "metrics.h"
#include "proc.h"
#include "ratelimit.h"
#include "tly_log.h"
#include "tly_str.h"

#define MAX_CHILDREN	1100
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	30000
#define FAST_DEATH_MS	1000
#define METRIC_SLOTS	8192	/* series of the shared metrics table */

enum { CHILD_WORKER = 1, CHILD_JOB };

typedef struct child {
	pid_t	 pid;
	int	 score;		/* scoreboard slot */
	int	 killed;	/* SIGKILLed by the watchdog */
	int	 kind;
	int	 slot;		/* pool index or job index */
	int	 gen;		/* configuration generation */
	int	 ready;
	int	 retiring;	/* SIGTERM sent on purpose */
	int64_t	 started_ms;
	int64_t	 term_ms;	/* when SIGTERM was sent */
} child;

typedef struct listener {
	int	 fd;
	char	 path[256];
} listener;

typedef struct slot_state {
	int64_t	 throttle_until;
	int	 backoff_ms;
	int	 fatal;		/* exit 2 seen: down until reload */
} slot_state;

typedef struct master {
	tly_config	*cfg;
	int		 gen;
	tly_log		 log;
	listener	 cur[TLY_NPOOLS];
	listener	 old[TLY_NPOOLS];	/* previous socket, draining */
	slot_state	 pools[TLY_NPOOLS];
	slot_state	 jobs[TLY_MAX_JOBS];
	child		 kids[MAX_CHILDREN];
	int		 nkids;
	int		 status_pipe[2];
	int		 stopping;
	int64_t		 stop_deadline;
	tly_rl		*rl;
	tly_score	*board;		/* MAX_CHILDREN slots, shared */
} master;

static volatile sig_atomic_t got_chld, got_hup, got_term, got_usr1;
static int self_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
	(void)write(self_pipe[1], "x", 1);
	errno = saved;
}

static int
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return TLY_ERR;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
	return TLY_OK;
}

/* --- sockets ------------------------------------------------------------- */

/* socket_in_use - true when something accepts connections on 'path' */
static int
socket_in_use(const char *path)
{
	struct sockaddr_un sun;
	int fd, in_use;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	tly_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	in_use = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return in_use;
}

/* set_group - give the socket to 'socket_group' (e.g. nginx's group) */
static int
set_group(const tly_pool_conf *pc)
{
	struct group *g;

	if (pc->socket_group[0] == '\0')
		return 0;
	g = getgrnam(pc->socket_group);
	if (g == NULL) {
		errno = ENOENT;
		return -1;
	}
	return chown(pc->socket, (uid_t)-1, g->gr_gid);
}

/*
 * open_listener - bind 'pc''s unix socket: refuse if another process
 * serves it, replace a stale one, set its mode, listen, non-blocking.
 */
static int
open_listener(master *m, const tly_pool_conf *pc, listener *l)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	l->fd = -1;
	tly_strlcpy(l->path, pc->socket, sizeof(l->path));
	if (strlen(pc->socket) >= sizeof(sun.sun_path)) {
		tly_error(&m->log, "master", "%s: socket path too long",
		    pc->socket);
		return TLY_ERR;
	}
	if (lstat(pc->socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || socket_in_use(pc->socket)) {
			tly_error(&m->log, "master", "%s is in use by another "
			    "process (or is not a socket)", pc->socket);
			return TLY_ERR;
		}
		unlink(pc->socket);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return TLY_ERR;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	tly_strlcpy(sun.sun_path, pc->socket, sizeof(sun.sun_path));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(pc->socket, (mode_t)pc->socket_mode) < 0 ||
	    set_group(pc) < 0 || listen(fd, pc->listen_backlog) < 0) {
		tly_error(&m->log, "master", "%s: %s", pc->socket,
		    strerror(errno));
		close(fd);
		return TLY_ERR;
	}
	l->fd = fd;
	return TLY_OK;
}

static void
close_listener(listener *l)
{
	if (l->fd < 0)
		return;
	close(l->fd);
	l->fd = -1;
}

/* --- children ------------------------------------------------------------ */

static child *
find_child(master *m, pid_t pid)
{
	int i;

	for (i = 0; i < m->nkids; i++)
		if (m->kids[i].pid == pid)
			return &m->kids[i];
	return NULL;
}

static void
drop_child(master *m, child *c)
{
	m->board[c->score].pid = 0;
	*c = m->kids[--m->nkids];
}

/*
 * child_setup - in the child: die with the master, keep only what it
 * needs.  PR_SET_PDEATHSIG is asked for here, first thing after fork, and
 * then the parent is checked: a master that died between fork() and the
 * prctl() signals no one, and its orphan would keep serving on the pool's
 * socket, so that a new master refuses to start ("in use").
 */
static void
child_setup(master *m, int kind, int slot, pid_t parent)
{
	int i;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	close(self_pipe[0]);
	close(self_pipe[1]);
	close(m->status_pipe[0]);
	for (i = 0; i < TLY_NPOOLS; i++) {
		if (kind == CHILD_WORKER && i == slot)
			continue;
		close_listener(&m->cur[i]);
		close_listener(&m->old[i]);
	}
	if (kind == CHILD_WORKER)
		close_listener(&m->old[slot]);
}

/* free_score - a scoreboard slot no live child uses */
static int
free_score(master *m)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (m->board[i].pid == 0)
			return i;
	return -1;
}

/* child_metric - counter 'name' of a pool's worker or a job process */
static void
child_metric(master *m, int kind, int slot, const char *name)
{
	char lab[96];

	snprintf(lab, sizeof(lab), "%s=\"%s\"", kind == CHILD_WORKER ?
	    "pool" : "job", kind == CHILD_WORKER ? tly_pool_name(slot) :
	    m->cfg->jobs[slot].name);
	tly_metric_add(name, lab, 1);
}

static void
spawn(master *m, int kind, int slot)
{
	tly_score *sc;
	child *c;
	pid_t pid, parent;
	int code, si;

	si = free_score(m);
	if (m->nkids == MAX_CHILDREN || si < 0) {
		tly_error(&m->log, "master", "too many children");
		return;
	}
	sc = &m->board[si];
	sc->pid = -1;			/* taken */
	sc->busy_since = 0;
	sc->served = 0;
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		tly_error(&m->log, "master", "fork: %s", strerror(errno));
		sc->pid = 0;
		return;
	}
	if (pid == 0) {
		child_setup(m, kind, slot, parent);
		if (kind == CHILD_WORKER)
			code = tly_worker_main(m->cfg, slot, m->cur[slot].fd,
			    m->status_pipe[1], m->rl, sc);
		else
			code = tly_jobproc_main(m->cfg, slot,
			    m->status_pipe[1]);
		_exit(code);
	}
	sc->pid = (int32_t)pid;
	child_metric(m, kind, slot, "tally_worker_starts_total");
	c = &m->kids[m->nkids++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->score = si;
	c->kind = kind;
	c->slot = slot;
	c->gen = m->gen;
	c->started_ms = tly_mono_ms();
}

static void
retire(master *m, child *c)
{
	(void)m;
	if (c == NULL || c->retiring)
		return;
	c->retiring = 1;
	c->term_ms = tly_mono_ms();
	kill(c->pid, SIGTERM);
}

static const char *
kind_name(master *m, const child *c)
{
	return c->kind == CHILD_WORKER ? tly_pool_name(c->slot) :
	    m->cfg->jobs[c->slot].name;
}

/* note_death - log and throttle after child 'c' exited with 'status' */
static void
note_death(master *m, child *c, int status)
{
	slot_state *s = c->kind == CHILD_WORKER ? &m->pools[c->slot] :
	    &m->jobs[c->slot];
	int64_t lived = tly_mono_ms() - c->started_ms;
	char how[64], pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)c->pid);
	child_metric(m, c->kind, c->slot, WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 ? "tally_worker_recycles_total" :
	    "tally_worker_deaths_total");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (!c->retiring && !m->stopping)
			tly_logkv(&m->log, TLY_LOG_INFO, "master",
			    "child exited; replacing", "child",
			    kind_name(m, c), "child_pid", pid, NULL);
		return;
	}
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d%s",
		    WTERMSIG(status), c->killed ? " (request timeout)" : "");
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == TLY_EXIT_FATAL) {
		s->fatal = 1;
		tly_logkv(&m->log, TLY_LOG_ERROR, "master", "child cannot work "
		    "with this configuration; not respawning until reload",
		    "child", kind_name(m, c), "child_pid", pid, "status", how,
		    NULL);
		return;
	}
	if (lived < FAST_DEATH_MS) {
		s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 :
		    BACKOFF_MIN_MS;
		if (s->backoff_ms > BACKOFF_MAX_MS)
			s->backoff_ms = BACKOFF_MAX_MS;
		s->throttle_until = tly_mono_ms() + s->backoff_ms;
	} else
		s->backoff_ms = 0;
	tly_logkv(&m->log, TLY_LOG_WARN, "master", s->backoff_ms ?
	    "child died; respawning with backoff" : "child died; respawning",
	    "child", kind_name(m, c), "child_pid", pid, "status", how, NULL);
}

static void
reap(master *m)
{
	child *c;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		c = find_child(m, pid);
		if (c == NULL)
			continue;
		note_death(m, c, status);
		drop_child(m, c);
	}
}

static void
read_status(master *m)
{
	tly_status_msg msg;
	child *c;

	while (read(m->status_pipe[0], &msg, sizeof(msg)) == sizeof(msg)) {
		c = find_child(m, (pid_t)msg.pid);
		if (c && msg.what == TLY_STATUS_READY)
			c->ready = 1;
	}
}

/* --- keeping the pools and jobs at strength ------------------------------- */

typedef struct counts {
	int	 cur, cur_ready, old;
} counts;

static counts
count(master *m, int kind, int slot)
{
	counts n = { 0, 0, 0 };
	int i;

	for (i = 0; i < m->nkids; i++) {
		child *c = &m->kids[i];

		if (c->kind != kind || c->slot != slot || c->retiring)
			continue;
		if (c->gen == m->gen) {
			n.cur++;
			n.cur_ready += c->ready;
		} else
			n.old++;
	}
	return n;
}

static child *
pick(master *m, int kind, int slot, int old_gen)
{
	int i;

	for (i = 0; i < m->nkids; i++) {
		child *c = &m->kids[i];

		if (c->kind == kind && c->slot == slot && !c->retiring &&
		    (c->gen != m->gen) == old_gen)
			return c;
	}
	return NULL;
}

/*
 * keep - bring one pool or job to 'want' processes; during a reload roll
 * one at a time (see the top of the file).
 */
static void
keep(master *m, int kind, int slot, int want, slot_state *s)
{
	counts n = count(m, kind, slot);
	int may_spawn;

	may_spawn = !s->fatal && tly_mono_ms() >= s->throttle_until;
	if (n.old > 0) {
		if (n.cur != n.cur_ready)
			return;			/* wait for the new one */
		if (n.cur + n.old > want)
			retire(m, pick(m, kind, slot, 1));
		else if (n.cur < want && may_spawn)
			spawn(m, kind, slot);
		else if (s->fatal)
			return;			/* keep the old ones serving */
		return;
	}
	while (n.cur < want && may_spawn) {
		spawn(m, kind, slot);
		n.cur++;
	}
	while (n.cur > want) {
		retire(m, pick(m, kind, slot, 0));
		n.cur--;
	}
}

/* old_gen_left - a worker of pool 'i' from an earlier generation lives */
static int
old_gen_left(master *m, int i)
{
	int k;

	for (k = 0; k < m->nkids; k++)
		if (m->kids[k].kind == CHILD_WORKER && m->kids[k].slot == i &&
		    m->kids[k].gen != m->gen)
			return 1;
	return 0;
}

static void
maintain(master *m)
{
	int i;

	if (m->stopping)
		return;
	for (i = 0; i < TLY_NPOOLS; i++)
		keep(m, CHILD_WORKER, i, m->cfg->pools[i].workers,
		    &m->pools[i]);
	for (i = 0; i < m->cfg->n_jobs; i++)
		keep(m, CHILD_JOB, i, 1, &m->jobs[i]);
	for (i = 0; i < TLY_NPOOLS; i++)
		if (m->old[i].fd >= 0 && !old_gen_left(m, i)) {
			close_listener(&m->old[i]);
			unlink(m->old[i].path);
		}
}

/* watchdog - SIGKILL a worker whose request outlived request_timeout */
static void
watchdog(master *m)
{
	int64_t now = tly_mono_ms(), since;
	int64_t limit = (int64_t)m->cfg->request_timeout_s * 1000;
	char pid[16];
	int i;

	for (i = 0; i < m->nkids; i++) {
		child *c = &m->kids[i];

		if (c->kind != CHILD_WORKER || c->killed)
			continue;
		since = __atomic_load_n(&m->board[c->score].busy_since,
		    __ATOMIC_RELAXED);
		if (since == 0 || now - since <= limit)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int)c->pid);
		tly_logkv(&m->log, TLY_LOG_ERROR, "master",
		    "request timed out; killing the worker",
		    "child", kind_name(m, c), "child_pid", pid, NULL);
		c->killed = 1;
		kill(c->pid, SIGKILL);
	}
}

/* escalate - SIGKILL children that ignored SIGTERM past the timeout */
static void
escalate(master *m)
{
	int64_t limit = (int64_t)m->cfg->shutdown_timeout_s * 1000;
	char pid[16];
	int i;

	for (i = 0; i < m->nkids; i++) {
		child *c = &m->kids[i];

		if (!c->retiring || tly_mono_ms() - c->term_ms < limit)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int)c->pid);
		tly_logkv(&m->log, TLY_LOG_WARN, "master", "child did not stop "
		    "in time; killing it", "child", kind_name(m, c),
		    "child_pid", pid, NULL);
		kill(c->pid, SIGKILL);
		c->term_ms = tly_mono_ms();	/* once per timeout */
	}
}

/* --- reload and stop ------------------------------------------------------ */

static int
jobs_known(master *m, const tly_config *c)
{
	int i;

	for (i = 0; i < c->n_jobs; i++) {
		if (tly_job_find(c->jobs[i].name) == NULL) {
			tly_error(&m->log, "master", "unknown job [job.%s]",
			    c->jobs[i].name);
			return 0;
		}
	}
	return 1;
}

static void
reload(master *m, const char *path)
{
	tly_config *nc;
	listener fresh[TLY_NPOOLS];
	char why[512];
	int i, ok = 1;

	nc = malloc(sizeof(*nc));
	if (nc == NULL)
		return;
	/* rotate, whatever comes next */
	if (tly_log_reopen(m->cfg->log_file, why, sizeof(why)) != 0)
		tly_error(&m->log, "master", "cannot reopen the log: %s", why);
	if (tly_config_load(nc, path, why, sizeof(why)) != TLY_OK ||
	    !jobs_known(m, nc)) {
		tly_logkv(&m->log, TLY_LOG_ERROR, "master", "reload refused; "
		    "keeping the running configuration", "error", why, NULL);
		free(nc);
		return;
	}
	for (i = 0; i < TLY_NPOOLS; i++) {
		fresh[i].fd = -1;
		if (strcmp(nc->pools[i].socket, m->cur[i].path) != 0 &&
		    open_listener(m, &nc->pools[i], &fresh[i]) != TLY_OK)
			ok = 0;
	}
	if (!ok) {
		for (i = 0; i < TLY_NPOOLS; i++)
			close_listener(&fresh[i]);
		tly_config_free(nc);
		free(nc);
		tly_error(&m->log, "master", "reload refused: cannot bind a "
		    "new socket; keeping the running configuration");
		return;
	}
	for (i = 0; i < TLY_NPOOLS; i++) {
		if (fresh[i].fd < 0)
			continue;
		close_listener(&m->old[i]);
		m->old[i] = m->cur[i];
		m->cur[i] = fresh[i];
	}
	if (strcmp(nc->log_file, m->cfg->log_file) != 0 &&
	    tly_log_reopen(nc->log_file, why, sizeof(why)) != 0)
		tly_error(&m->log, "master", "cannot open the log: %s", why);
	tly_config_free(m->cfg);
	free(m->cfg);
	m->cfg = nc;
	m->gen++;
	memset(m->pools, 0, sizeof(m->pools));
	memset(m->jobs, 0, sizeof(m->jobs));
	m->log.level = nc->log_level;
	for (i = 0; i < m->nkids; i++)
		if (m->kids[i].kind == CHILD_JOB &&
		    m->kids[i].slot >= nc->n_jobs)
			retire(m, &m->kids[i]);
	tly_info(&m->log, "master", "configuration reloaded (generation %d); "
	    "rolling the workers", m->gen);
}

/*
 * reopen_logs - SIGUSR1: the master's descriptor 2 on the log file anew,
 * then every child's (they reopen on the same signal)
 */
static void
reopen_logs(master *m)
{
	char why[512];
	int i;

	if (tly_log_reopen(m->cfg->log_file, why, sizeof(why)) != 0) {
		tly_error(&m->log, "master", "cannot reopen the log: %s", why);
		return;
	}
	for (i = 0; i < m->nkids; i++)
		kill(m->kids[i].pid, SIGUSR1);
	tly_info(&m->log, "master", "log file reopened (SIGUSR1); %d "
	    "children told", m->nkids);
}

static void
begin_stop(master *m)
{
	int i;

	if (m->stopping)
		return;
	m->stopping = 1;
	m->stop_deadline = tly_mono_ms() +
	    (int64_t)m->cfg->shutdown_timeout_s * 1000;
	tly_info(&m->log, "master", "stopping: draining %d children",
	    m->nkids);
	for (i = 0; i < m->nkids; i++)
		retire(m, &m->kids[i]);
}

static void
finish_stop(master *m)
{
	int i;

	for (i = 0; i < TLY_NPOOLS; i++) {
		close_listener(&m->cur[i]);
		close_listener(&m->old[i]);
		unlink(m->cur[i].path);
	}
	if (m->cfg->pid_file[0])
		unlink(m->cfg->pid_file);
	tly_info(&m->log, "master", "stopped");
}

static void
write_pid_file(master *m)
{
	FILE *f;

	if (m->cfg->pid_file[0] == '\0')
		return;
	f = fopen(m->cfg->pid_file, "w");
	if (f == NULL) {
		tly_warn(&m->log, "master", "%s: %s", m->cfg->pid_file,
		    strerror(errno));
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

static void
drain_pipe(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* --- tallyd -t ---------------------------------------------------------- */

typedef struct checker {
	const char	*path;		/* the configuration file */
	int		 errors;
} checker;

static void
check_fail(checker *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* check_fail - one problem, "tallyd: FILE: what" on standard error */
static void
check_fail(checker *k, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tallyd: %s: ", k->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	k->errors++;
}

/*
 * check_dir_of - the directory holding 'file' exists and this user may
 * create files in it ('what' names the key for the message)
 */
static void
check_dir_of(checker *k, const char *what, const char *file)
{
	char dir[256], *slash;
	struct stat st;

	tly_strlcpy(dir, file, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		tly_strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0)
		check_fail(k, "%s: directory %s: %s", what, dir,
		    strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		check_fail(k, "%s: %s is not a directory", what, dir);
	else if (access(dir, W_OK | X_OK) != 0)
		check_fail(k, "%s: directory %s is not writable by uid %d: %s",
		    what, dir, (int)geteuid(), strerror(errno));
}

/* in_group - this process may give a file to group 'gid' */
static int
in_group(gid_t gid)
{
	gid_t groups[256];
	int i, n;

	if (geteuid() == 0 || getegid() == gid)
		return 1;
	n = getgroups(256, groups);
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

/* check_pool - what open_listener() would trip on for pool 'pc' */
static void
check_pool(checker *k, const tly_pool_conf *pc)
{
	struct sockaddr_un sun;
	struct stat st;
	struct group *g;
	char what[64];

	snprintf(what, sizeof(what), "[%s] socket %s", pc->name, pc->socket);
	if (strlen(pc->socket) >= sizeof(sun.sun_path)) {
		check_fail(k, "%s: path too long", what);
		return;
	}
	check_dir_of(k, what, pc->socket);
	if (lstat(pc->socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			check_fail(k, "%s: exists and is not a socket", what);
		else if (socket_in_use(pc->socket))
			check_fail(k, "%s: in use by another process (is "
			    "tallyd running already?)", what);
	}
	if (pc->socket_group[0] == '\0')
		return;
	g = getgrnam(pc->socket_group);
	if (g == NULL)
		check_fail(k, "[%s] socket_group: no group '%s'", pc->name,
		    pc->socket_group);
	else if (!in_group(g->gr_gid))
		check_fail(k, "[%s] socket_group: uid %d is not in group '%s', "
		    "so cannot give it the socket", pc->name, (int)geteuid(),
		    pc->socket_group);
}

/* check_log_file - the log file (or its directory) is writable */
static void
check_log_file(checker *k, const char *key, const char *file)
{
	char what[300];

	if (file[0] == '\0')
		return;
	snprintf(what, sizeof(what), "[tally] %s %s", key, file);
	if (access(file, F_OK) == 0) {
		if (access(file, W_OK) != 0)
			check_fail(k, "%s: not writable by uid %d: %s", what,
			    (int)geteuid(), strerror(errno));
		return;
	}
	check_dir_of(k, what, file);
}

/* warn_readable - 'file' holds secrets: say so when others may read it */
static void
warn_readable(const char *file, const char *holds)
{
	struct stat st;

	if (stat(file, &st) != 0 || (st.st_mode & S_IROTH) == 0)
		return;
	fprintf(stderr, "tallyd: warning: %s holds %s and is readable by "
	    "every user (mode %04o): chmod o-r %s\n", file, holds,
	    (unsigned)(st.st_mode & 07777), file);
}

/*
 * tly_master_check - tallyd -t for configuration 'cfg' loaded from
 * 'path': print each problem the start would meet on standard error;
 * 0 when there is none, else 1.
 */
int
tly_master_check(const char *path, const tly_config *cfg)
{
	checker k = { path, 0 };
	int i;

	for (i = 0; i < TLY_NPOOLS; i++)
		check_pool(&k, &cfg->pools[i]);
	check_log_file(&k, "log_file", cfg->log_file);
	if (cfg->pid_file[0])
		check_log_file(&k, "pid_file", cfg->pid_file);
	for (i = 0; i < cfg->n_jobs; i++)
		if (tly_job_find(cfg->jobs[i].name) == NULL)
			check_fail(&k, "unknown job [job.%s]",
			    cfg->jobs[i].name);
	if (cfg->literal_secrets)
		warn_readable(path, "secrets");
	if (cfg->env_file[0])
		warn_readable(cfg->env_file, "the env:NAME secrets");
	return k.errors ? 1 : 0;
}

/*
 * tly_master_run - run the master with configuration 'cfg' (loaded from
 * 'path', owned by the master from now on) until SIGTERM; 'rl_slots'
 * sizes the shared rate-limit table; 'start_fd' (> 2, or -1) is the
 * standard error tallyd was started with, which gets the master's lines
 * too until the start is done (then it is closed).  Returns the exit
 * code.
 */
int
tly_master_run(const char *path, tly_config *cfg, int rl_slots, int start_fd)
{
	master *m;
	struct pollfd pfd[2];
	int i, rc = 0;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return 1;
	m->cfg = cfg;
	tly_log_init(&m->log, 2, cfg->log_level, "master");
	m->log.also_fd = start_fd > 2 ? start_fd : 0;
	for (i = 0; i < TLY_NPOOLS; i++)
		m->old[i].fd = -1;
	if (!jobs_known(m, cfg) || setup_signals() != TLY_OK ||
	    pipe2(m->status_pipe, O_CLOEXEC) != 0 ||
	    fcntl(m->status_pipe[0], F_SETFL, O_NONBLOCK) < 0)
		return TLY_EXIT_FATAL;
	m->rl = tly_rl_new((size_t)rl_slots);
	if (tly_metrics_init(METRIC_SLOTS) != TLY_OK)
		tly_warn(&m->log, "master", "no shared metrics table");
	m->board = mmap(NULL, MAX_CHILDREN * sizeof(tly_score),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m->board == MAP_FAILED)
		return TLY_EXIT_FATAL;
	for (i = 0; i < TLY_NPOOLS; i++)
		if (open_listener(m, &cfg->pools[i], &m->cur[i]) != TLY_OK)
			return TLY_EXIT_FATAL;
	write_pid_file(m);
	tly_info(&m->log, "master", "tallyd %s started: api %d, webhook %d, "
	    "admin %d workers, %d jobs", PACKAGE_VERSION,
	    cfg->pools[TLY_POOL_API].workers,
	    cfg->pools[TLY_POOL_WEBHOOK].workers,
	    cfg->pools[TLY_POOL_ADMIN].workers, cfg->n_jobs);
	if (m->log.also_fd > 2) {
		close(m->log.also_fd);		/* started: the file only */
		m->log.also_fd = 0;
	}
	for (;;) {
		if (got_term) {
			got_term = 0;
			begin_stop(m);
		}
		if (got_chld) {
			got_chld = 0;		/* this first */
			reap(m);		/* then this */
		}
		if (got_hup) {
			got_hup = 0;
			if (!m->stopping)
				reload(m, path);
		}
		if (got_usr1) {
			got_usr1 = 0;		/* this first */
			reopen_logs(m);		/* then this */
		}
		read_status(m);
		maintain(m);
		escalate(m);
		watchdog(m);
		if (m->stopping && m->nkids == 0)
			break;
		pfd[0].fd = self_pipe[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = m->status_pipe[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, 100) > 0 && (pfd[0].revents & POLLIN))
			drain_pipe(self_pipe[0]);
	}
	finish_stop(m);
	munmap(m->board, MAX_CHILDREN * sizeof(tly_score));
	tly_rl_free(m->rl);
	tly_config_free(m->cfg);
	free(m->cfg);
	free(m);
	return rc;
}
