/* dagproc's entry point: global options, configuration, and the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "worker/worker.h"

#ifndef DAGPROC_VERSION
#define DAGPROC_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fputs("usage: dagproc COMMAND [OPTIONS] [ARGS]\n"
	      "\n"
	      "dagproc processes dag-factory YAML DAG files.\n"
	      "\n"
	      "Commands:\n"
	      "  run [--dags DIR]... [--db URL] [--once]\n"
	      "                                      the processor daemon\n"
	      "  check [--format text|json] PATH...  validate DAG files without a database\n"
	      "  db migrate|check|reset [--db URL]   create, check or recreate the schema\n"
	      "  help [COMMAND]                      show help for a command\n"
	      "\n"
	      "Options:\n"
	      "  --config FILE   configuration file (default: $DAGPROC_CONFIG, else ./dagproc.cfg)\n"
	      "  --version       print the version\n"
	      "  --help          show this help\n",
	      f);
}

/* --config may appear anywhere on the command line; the command parses the rest. */
static const char *find_config_flag(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
		if (strcmp(argv[i], "--") == 0)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	/* hidden: the daemon re-executes itself as its parsing workers */
	if (argc > 1 && strcmp(argv[1], "__worker") == 0)
		return worker_child_main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("dagproc %s\n", DAGPROC_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[2], "check") == 0) {
			cli_check_usage(stdout);
			return 0;
		}
		if (strcmp(argv[2], "run") == 0) {
			cli_run_usage(stdout);
			return 0;
		}
		if (strcmp(argv[2], "db") == 0) {
			cli_db_usage(stdout);
			return 0;
		}
		fprintf(stderr, "dagproc: unknown command '%s'\n", argv[2]);
		return 2;
	}
	if (strcmp(cmd, "check") != 0 && strcmp(cmd, "db") != 0 && strcmp(cmd, "run") != 0) {
		fprintf(stderr, "dagproc: unknown command '%s' (try 'dagproc --help')\n", cmd);
		return 2;
	}

	char *err = NULL;
	const char *config_path = find_config_flag(argc, argv);
	struct dagproc_config *cfg = config_load(config_path, &err);
	if (!cfg) {
		fprintf(stderr, "dagproc: %s\n", err ? err : "cannot load the configuration");
		free(err);
		return 2;
	}
	int rc;
	if (strcmp(cmd, "db") == 0)
		rc = cli_db(argc - 1, argv + 1, cfg);
	else if (strcmp(cmd, "run") == 0)
		rc = cli_run(argc - 1, argv + 1, cfg, config_path);
	else
		rc = cli_check(argc - 1, argv + 1, cfg);
	config_free(cfg);
	return rc;
}
