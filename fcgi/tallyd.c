/*
 * tallyd.c - the Tally daemon: configuration, logging, then the master
 *
 *	tallyd [-c tally.conf] [-t] [-V]
 *
 * -c  the configuration file (default $TALLY_CONF, else
 *     SYSCONFDIR/tally/tally.conf);
 * -t  check the configuration and exit (0 when it loads);
 * -V  print the version.
 *
 * tallyd stays in the foreground (systemd, ./dev and the tests supervise
 * it).  With [tally] log_file set, the master opens it for appending and
 * every child inherits it as its standard error; otherwise logs go to
 * standard error.  Exit status: 0 after a clean stop, 1 on a usage or
 * configuration error, 2 when the sockets cannot be set up.
 *
 * API:	main().
 */
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

static void
usage(void)
{
	fprintf(stderr, "usage: tallyd [-c tally.conf] [-t] [-V]\n");
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
	int ch, check = 0;

	path = default_conf();
	while ((ch = getopt(argc, argv, "c:tV")) != -1) {
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
		printf("tallyd: %s: configuration ok\n", path);
		tly_config_free(cfg);
		free(cfg);
		return 0;
	}
	if (tly_log_reopen(cfg) != 0)
		return 1;
	return tly_master_run(path, cfg, RL_SLOTS);
}
