/* `dagproc run`: the processor daemon, and `--once` for a single pass. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "config/config.h"
#include "log/log.h"
#include "processor/processor.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

void cli_run_usage(FILE *f)
{
	fputs("usage: dagproc run [--config FILE] [--dags DIR]... [--db URL] [--once]\n"
	      "\n"
	      "Watches the DAG folders, parses every DAG file in worker processes and keeps\n"
	      "the database in sync with them, through database outages.\n"
	      "\n"
	      "  --dags DIR   a folder of DAG files; the first replaces [core] dags_folder\n"
	      "               (bundle \"dags-folder\"), the others are added as bundles named\n"
	      "               after their folder\n"
	      "  --db URL     database URL (default: [database] sql_conn)\n"
	      "  --once       one full parse-and-sync pass, then exit: 0 when everything was\n"
	      "               written, 3 when the database could not be reached within\n"
	      "               [database] once_timeout\n"
	      "\n"
	      "SIGTERM/SIGINT finish the batch in flight and exit 0; a second signal exits at\n"
	      "once. SIGHUP reloads the configuration (a configuration that fails to load\n"
	      "keeps the old one).\n",
	      f);
}

int cli_run(int argc, char **argv, struct dagproc_config *cfg, const char *config_path)
{
	static const struct option longopts[] = {
	    {"dags", required_argument, NULL, 'd'},   {"db", required_argument, NULL, 'b'},
	    {"config", required_argument, NULL, 'c'}, {"once", no_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	proc_opts o = {.config_path = config_path};
	/* what the command line set, for reloads: section, key, value */
	const char *ov[9];
	size_t nov = 0;
	const char *dags_folder = NULL;
	char *sql_conn = NULL; /* a copy: the argument itself is blanked */
	int ndags = 0, status = 2;
	strbuf bundles;
	sb_init(&bundles);
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "d:b:c:oh", longopts, NULL);
		if (c == -1)
			break;
		char *err = NULL;
		int rc = 0;
		switch (c) {
		case 'd':
			if (ndags++ == 0) {
				rc = config_set(cfg, "core", "dags_folder", optarg, &err);
				dags_folder = optarg;
			} else {
				const char *base = fs_basename(optarg);
				sb_printf(&bundles, "%s%s=%s", bundles.len ? "," : "",
				          *base ? base : optarg, optarg);
			}
			break;
		case 'b':
			rc = config_set(cfg, "database", "sql_conn", optarg, &err);
			free(sql_conn);
			sql_conn = xstrdup(optarg);
			cli_hide_password(optarg);
			break;
		case 'c':
			break;
		case 'o':
			o.once = true;
			break;
		case 'h':
			cli_run_usage(stdout);
			status = 0;
			goto out;
		default:
			cli_run_usage(stderr);
			goto out;
		}
		if (rc != 0) {
			fprintf(stderr, "dagproc run: %s\n", err);
			free(err);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dagproc run: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	if (bundles.len) {
		char *err = NULL;
		if (config_set(cfg, "core", "bundles", bundles.data, &err) != 0) {
			fprintf(stderr, "dagproc run: --dags: %s\n", err);
			free(err);
			goto out;
		}
	}
	if (dags_folder)
		ov[nov++] = "core", ov[nov++] = "dags_folder", ov[nov++] = dags_folder;
	if (bundles.len)
		ov[nov++] = "core", ov[nov++] = "bundles", ov[nov++] = bundles.data;
	if (sql_conn)
		ov[nov++] = "database", ov[nov++] = "sql_conn", ov[nov++] = sql_conn;
	o.overrides = ov;
	o.noverrides = nov / 3;
	if (cfg->api.enabled && !o.once) {
		/* refused before anything starts, not after the first scan */
		char *err = NULL;
		if (api_check_config(cfg, &err, NULL) != 0) {
			fprintf(stderr, "dagproc run: %s\n", err);
			free(err);
			goto out;
		}
	}
	log_set_level(cfg->logging.level);
	log_set_format(cfg->logging.format);
	cli_secret_warnings(cfg);
	status = processor_run(cfg, &o);
out:
	sb_free(&bundles);
	free(sql_conn);
	return status;
}
