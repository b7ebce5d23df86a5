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
	fputs(
	    "usage: dagproc COMMAND [OPTIONS] [ARGS]\n"
	    "\n"
	    "dagproc processes dag-factory YAML DAG files.\n"
	    "\n"
	    "Commands:\n"
	    "  run [--dags DIR]... [--db URL] [--once]\n"
	    "                                      the processor daemon\n"
	    "  check [--format FORMAT] PATH...     validate DAG files without a database\n"
	    "                                      (text, json, sarif or github)\n"
	    "  db migrate|check|reset [--db URL]   create, check or recreate the schema\n"
	    "  dags list [--format text|json]      DAGs recorded in the database\n"
	    "  import-errors [--format text|json]  import errors recorded in the database\n"
	    "  warnings [--format text|json]       DAG warnings recorded in the database\n"
	    "  report [--format text|json]         per-file parse statistics\n"
	    "  processors [--format text|json]     processors sharing the database, what they "
	    "hold\n"
	    "  serve [--db URL]                    the HTTP API alone, reading the database\n"
	    "  healthcheck [--live|--ready]        exec probe of the processor running here\n"
	    "  fix [--diff] [--select CODES] PATH...\n"
	    "                                      apply check's certain fixes (Airflow 3)\n"
	    "  schema [--compact]                  JSON Schema of DAG files, for editors\n"
	    "  help [COMMAND]                      show help for a command\n"
	    "  help config                         every setting: default, environment variable\n"
	    "\n"
	    "Options:\n"
	    "  --config FILE   configuration file (default: $DAGPROC_CONFIG, else ./dagproc.cfg)\n"
	    "  --version       print the version\n"
	    "  --help          show this help\n",
	    f);
}

/* The database read commands and `serve` (reads.c). */
static const struct {
	const char *name;
	int (*fn)(int, char **, struct dagproc_config *);
	void (*usage)(FILE *);
} reads[] = {
    {"dags", cli_dags, cli_dags_usage},
    {"import-errors", cli_import_errors, cli_import_errors_usage},
    {"warnings", cli_warnings, cli_warnings_usage},
    {"report", cli_report, cli_report_usage},
    {"processors", cli_processors, cli_processors_usage},
    {"serve", cli_serve, cli_serve_usage},
    {"healthcheck", cli_healthcheck, cli_healthcheck_usage},
    {"schema", cli_schema, cli_schema_usage},
    {"fix", cli_fix, cli_fix_usage},
};

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
	/* the global option may come before the command too: skip it there
	 * (find_config_flag reads it wherever it is) */
	int first = 1;
	while (first < argc) {
		if (strcmp(argv[first], "--config") == 0 && first + 1 < argc)
			first += 2;
		else if (strncmp(argv[first], "--config=", 9) == 0)
			first++;
		else
			break;
	}
	if (first < argc && strcmp(argv[first], "--config") == 0) {
		fputs("dagproc: --config needs a FILE\n", stderr);
		return 2;
	}
	if (first >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[first];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("dagproc %s\n", DAGPROC_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc - first < 2) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[first + 1], "check") == 0) {
			cli_check_usage(stdout);
			return 0;
		}
		if (strcmp(argv[first + 1], "run") == 0) {
			cli_run_usage(stdout);
			return 0;
		}
		if (strcmp(argv[first + 1], "db") == 0) {
			cli_db_usage(stdout);
			return 0;
		}
		if (strcmp(argv[first + 1], "config") == 0) {
			fputs("Settings of the configuration file (INI), with their defaults. Each "
			      "may\n"
			      "also be set by the environment variable named, which wins over the "
			      "file.\n"
			      "SIGHUP reloads the ones marked reloadable.\n\n",
			      stdout);
			config_describe(stdout);
			return 0;
		}
		for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
			if (strcmp(argv[first + 1], reads[i].name) == 0) {
				reads[i].usage(stdout);
				return 0;
			}
		}
		fprintf(stderr, "dagproc: unknown command '%s'\n", argv[first + 1]);
		return 2;
	}
	int (*read_fn)(int, char **, struct dagproc_config *) = NULL;
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(cmd, reads[i].name) == 0)
			read_fn = reads[i].fn;
	if (strcmp(cmd, "check") != 0 && strcmp(cmd, "db") != 0 && strcmp(cmd, "run") != 0 &&
	    !read_fn) {
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
		rc = cli_db(argc - first, argv + first, cfg);
	else if (strcmp(cmd, "run") == 0)
		rc = cli_run(argc - first, argv + first, cfg, config_path);
	else if (read_fn)
		rc = read_fn(argc - first, argv + first, cfg);
	else
		rc = cli_check(argc - first, argv + first, cfg);
	config_free(cfg);
	return rc;
}
