/* `dagproc healthcheck [--live|--ready]`: the exec probe. Reads the status
 * file the running processor rewrites every second ([dag_processor]
 * status_file), so it needs neither the HTTP API nor, for liveness, the
 * database: a database outage must not get the processor restarted. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "config/dburl.h"
#include "status/health.h"
#include "store/store.h"
#include "store/store_url.h"
#include "util/clock.h"
#include "util/xalloc.h"

void cli_healthcheck_usage(FILE *f)
{
	fputs("usage: dagproc healthcheck [--live|--ready] [--max-age SECONDS] [--db URL]\n"
	      "\n"
	      "The exec probe of a processor running on this machine (Kubernetes, Docker\n"
	      "HEALTHCHECK): exit 0 or 1, with one line saying why. It reads the status\n"
	      "file `dagproc run` rewrites every second ([dag_processor] status_file), so\n"
	      "the HTTP API need not be enabled.\n"
	      "\n"
	      "  --live             (the default) the processor's main loop turns: its\n"
	      "                     heartbeat is younger than --max-age; never asks the\n"
	      "                     database, so an outage does not restart the processor\n"
	      "  --ready            live, and ready as /readyz says: the database answers\n"
	      "                     (asked now, within [database] connect_timeout and 5 s\n"
	      "                     at most), the first pass is written, no result pending\n"
	      "  --max-age SECONDS  heartbeat age beyond which it is not live (default 10)\n"
	      "  --db URL           the database to ask for --ready (default: the\n"
	      "                     configuration's, as `dagproc run` reads it)\n"
	      "\n"
	      "Exit status: 0 live (ready), 1 not, 2 usage error.\n",
	      f);
}

/* The database answers a connection and a ping now: NULL, or why not. */
static char *db_answers(const struct dagproc_config *cfg)
{
	struct db_url url;
	store_params p;
	char *err = NULL;
	if (store_params_from_url(cfg->database.sql_conn, cfg, &url, &p, &err) != 0) {
		char *why = xasprintf("[database] sql_conn: %s", err);
		free(err);
		return why;
	}
	if (p.connect_timeout <= 0 || p.connect_timeout > 5)
		p.connect_timeout = 5;
	store_conn *c = NULL;
	store_error e;
	char *why = NULL;
	if (store_connect(&p, &c, &e) != 0 || store_ping(c, &e) != 0)
		why = xstrdup(e.message);
	if (c)
		store_close(c);
	db_url_free(&url);
	return why;
}

int cli_healthcheck(int argc, char **argv, struct dagproc_config *cfg)
{
	static const struct option longopts[] = {{"live", no_argument, NULL, 'l'},
	                                         {"ready", no_argument, NULL, 'r'},
	                                         {"max-age", required_argument, NULL, 'm'},
	                                         {"db", required_argument, NULL, 'd'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	bool ready = false;
	double max_age = HEALTH_LIVE_MAX_AGE;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "lrm:d:c:h", longopts, NULL);
		if (c == -1)
			break;
		char *err = NULL, *end = NULL;
		switch (c) {
		case 'l':
			ready = false;
			break;
		case 'r':
			ready = true;
			break;
		case 'm':
			max_age = strtod(optarg, &end);
			if (!end || *end || !(max_age > 0)) {
				fprintf(
				    stderr,
				    "dagproc healthcheck: --max-age must be a positive number of "
				    "seconds, not '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'd':
			if (config_set(cfg, "database", "sql_conn", optarg, &err) != 0) {
				fprintf(stderr, "dagproc healthcheck: --db: %s\n", err);
				free(err);
				return 2;
			}
			cli_hide_password(optarg);
			break;
		case 'c':
			break;
		case 'h':
			cli_healthcheck_usage(stdout);
			return 0;
		default:
			cli_healthcheck_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dagproc healthcheck: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	const char *what = ready ? "not ready" : "not live";
	char *path = health_file_path(cfg->dag_processor.status_file);
	/* from a shell beside the systemd unit (no $RUNTIME_DIRECTORY here): the
	 * unit's runtime folder */
	if ((!cfg->dag_processor.status_file || !cfg->dag_processor.status_file[0]) &&
	    !getenv("RUNTIME_DIRECTORY") && access(path, F_OK) != 0 &&
	    access(HEALTH_SYSTEMD_FILE, F_OK) == 0) {
		free(path);
		path = xstrdup(HEALTH_SYSTEMD_FILE);
	}
	proc_stats s;
	long pid = 0;
	char *instance = NULL, *err = NULL;
	int rc = 1;
	if (health_file_read(path, &s, &pid, &instance, &err) != 0) {
		printf("%s: %s\n", what, err);
		goto out;
	}
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
		printf("%s: processor pid %ld is gone (its status file %s is left over)\n", what,
		       pid, path);
		goto out;
	}
	double now = clock_epoch(), age = now - s.heartbeat;
	if (age > max_age) {
		printf("%s: main loop heartbeat is %.0f s old (pid %ld, %s; more than %g s)\n",
		       what, age, pid, instance, max_age);
		goto out;
	}
	if (!ready) {
		printf("live: main loop heartbeat %.1f s old (pid %ld, %s)\n", age < 0 ? 0 : age,
		       pid, instance);
		rc = 0;
		goto out;
	}
	char *down = db_answers(cfg);
	strbuf why;
	sb_init(&why);
	health_ready_why(&s, down == NULL, down, 0, now, &why);
	char words[512];
	health_words(&s, now, words, sizeof(words));
	if (why.len) {
		printf("not ready: %s (pid %ld, %s)\n", why.data, pid, instance);
	} else {
		printf("ready: %s (pid %ld, %s)\n", words, pid, instance);
		rc = 0;
	}
	sb_free(&why);
	free(down);
out:
	free(err);
	free(instance);
	free(path);
	return rc;
}
