/*
 * tallyd.c - the Tally daemon: configuration, logging, then the master
 *
 *	tallyd [-c tally.conf] [-t] [-V] [-h]
 *
 * -c, --config   the configuration file (default $TALLY_CONF, else
 *                SYSCONFDIR/tally/tally.conf);
 * -t, --test     check the configuration and what the start needs
 *                (tly_master_check) and exit: 0 when all holds;
 * -V, --version  print the version;
 * -h, --help     print the usage.
 *
 * tallyd stays in the foreground (systemd, ./dev and the tests supervise
 * it).  With [tally] log_file set, the master opens it for appending and
 * every child inherits it as its standard error; otherwise logs go to
 * standard error.  Until the start is done the master's lines go to the
 * original standard error too.  Exit status: 0 after a clean stop, 1 on
 * a usage or configuration error, 2 when the sockets cannot be set up.
 *
 * API:	main().
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "proc.h"
#include "tly_err.h"
#include "tly_str.h"

#ifndef TALLY_SYSCONF_DIR
#define TALLY_SYSCONF_DIR "/etc"
#endif

#define RL_SLOTS	8192

static const char usage_text[] =
    "usage: tallyd [-t] [-c tally.conf]\n"
    "       tallyd -V | -h\n"
    "  -c, --config FILE  the configuration (default $TALLY_CONF, else\n"
    "                     " TALLY_SYSCONF_DIR "/tally/tally.conf)\n"
    "  -t, --test         check the configuration, the socket and log\n"
    "                     directories and the sockets, then exit\n"
    "  -V, --version      print the version\n"
    "  -h, --help         print this\n"
    "signals: HUP reload, USR1 reopen the logs, TERM drain and stop\n"
    "see tallyd(8)\n";

static const struct option long_opts[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "test",	no_argument,		NULL, 't' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL,		0,			NULL, 0 }
};

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(1);
}

static const char *
default_conf(void)
{
	const char *e = getenv("TALLY_CONF");

	return e && *e ? e : TALLY_SYSCONF_DIR "/tally/tally.conf";
}

int
main(int argc, char **argv)
{
	const char *path;
	tly_config *cfg;
	char why[512];
	int ch, check = 0, start_fd = -1;

	path = default_conf();
	while ((ch = getopt_long(argc, argv, "c:thV", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'V':
			printf("tallyd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	cfg = malloc(sizeof(*cfg));
	if (cfg == NULL)
		return 1;
	if (tly_config_load(cfg, path, why, sizeof(why)) != TLY_OK) {
		fprintf(stderr, "tallyd: %s\n", why);
		free(cfg);
		return 1;
	}
	if (check) {
		ch = tly_master_check(path, cfg);
		if (ch == 0)
			printf("tallyd: %s: configuration ok\n", path);
		tly_config_free(cfg);
		free(cfg);
		return ch;
	}
	if (cfg->log_file[0]) {
		start_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
		if (tly_log_reopen(cfg->log_file, why, sizeof(why)) != 0) {
			fprintf(stderr, "tallyd: cannot open the log file: "
			    "%s\n", why);
			return 1;
		}
	}
	return tly_master_run(path, cfg, RL_SLOTS, start_fd);
}
