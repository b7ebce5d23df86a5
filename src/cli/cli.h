/* The subcommands; main.c dispatches to them. Each returns the exit status. */
#ifndef DAGPROC_CLI_H
#define DAGPROC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct dagproc_config;

int cli_check(int argc, char **argv, const struct dagproc_config *cfg);
void cli_check_usage(FILE *f);
int cli_db(int argc, char **argv, struct dagproc_config *cfg);
void cli_db_usage(FILE *f);
int cli_run(int argc, char **argv, struct dagproc_config *cfg, const char *config_path);
void cli_run_usage(FILE *f);
/* reads.c: the database read commands and the HTTP API alone */
int cli_dags(int argc, char **argv, struct dagproc_config *cfg);
void cli_dags_usage(FILE *f);
int cli_import_errors(int argc, char **argv, struct dagproc_config *cfg);
void cli_import_errors_usage(FILE *f);
int cli_warnings(int argc, char **argv, struct dagproc_config *cfg);
void cli_warnings_usage(FILE *f);
int cli_report(int argc, char **argv, struct dagproc_config *cfg);
void cli_report_usage(FILE *f);
int cli_processors(int argc, char **argv, struct dagproc_config *cfg);
void cli_processors_usage(FILE *f);
int cli_serve(int argc, char **argv, struct dagproc_config *cfg);
void cli_serve_usage(FILE *f);
/* lsp.c: the language server */
int cli_lsp(int argc, char **argv, struct dagproc_config *cfg);
void cli_lsp_usage(FILE *f);
/* fix.c: applies check's certain fixes */
int cli_fix(int argc, char **argv, struct dagproc_config *cfg);
void cli_fix_usage(FILE *f);
/* schema.c: the JSON Schema for editors */
int cli_schema(int argc, char **argv, struct dagproc_config *cfg);
void cli_schema_usage(FILE *f);
/* health.c: the exec probe */
int cli_healthcheck(int argc, char **argv, struct dagproc_config *cfg);
void cli_healthcheck_usage(FILE *f);

/* argv.c: a --db URL's password is overwritten in place once the URL has been copied,
 * so that `ps` and /proc/PID/cmdline no longer show it (it was visible only between
 * exec and this call; [database] sql_conn_file keeps it off the command line
 * entirely). The rest of the argument reads as the URL with "***" for the password. */
void cli_hide_password(char *arg);
/* At the start of a daemon (run, serve): the warnings about secrets the user should
 * know of (a configuration file others can read that holds a password). */
void cli_secret_warnings(const struct dagproc_config *cfg);

#endif
