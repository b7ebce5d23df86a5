/* The CLI's read commands (`dags list`, `import-errors`, `warnings`, `report`) over the
 * same queries as the HTTP API, as aligned tables or --format json, and `serve`, the
 * HTTP API alone. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_int.h"
#include "cli/cli.h"
#include "config/config.h"
#include "config/dburl.h"
#include "log/log.h"
#include "store/store_url.h"

typedef enum read_cmd {
	READ_DAGS,
	READ_IMPORT_ERRORS,
	READ_WARNINGS,
	READ_REPORT,
	READ_PROCESSORS
} read_cmd;

static const char *const cmd_names[] = {"dags list", "import-errors", "warnings", "report",
                                        "processors"};

static void read_usage(FILE *f, read_cmd cmd)
{
	fprintf(f, "usage: dagproc %s [--format text|json] [--db URL] [--config FILE]%s\n\n",
	        cmd_names[cmd], cmd == READ_DAGS ? " [--all]" : "");
	switch (cmd) {
	case READ_DAGS:
		fputs(
		    "DAGs recorded in the database (non-stale ones; --all includes stale DAGs).\n",
		    f);
		break;
	case READ_IMPORT_ERRORS:
		fputs("Import errors recorded in the database, each diagnostic as\n"
		      "file:line:column: error[CODE]: message.\n",
		      f);
		break;
	case READ_WARNINGS:
		fputs("DAG warnings recorded in the database.\n", f);
		break;
	case READ_REPORT:
		fputs("Per-file parse statistics: duration, DAG and task counts, last parsed\n"
		      "(like `airflow dags report`), slowest first.\n",
		      f);
		break;
	case READ_PROCESSORS:
		fputs("The processors recorded in the database (several may share PostgreSQL or\n"
		      "MySQL): name, host, pid, version, files held, last heartbeat. Rows of\n"
		      "processors silent for a day are removed by the others.\n",
		      f);
		break;
	}
	fputs("\n  --format json  the HTTP API's documents (Airflow REST v2 shapes), unpaged\n"
	      "  --db URL       database URL (default: [database] sql_conn)\n"
	      "\nExit status: 0, 1 when the database cannot be read, 2 on usage errors.\n",
	      f);
}

void cli_dags_usage(FILE *f)
{
	read_usage(f, READ_DAGS);
}
void cli_import_errors_usage(FILE *f)
{
	read_usage(f, READ_IMPORT_ERRORS);
}
void cli_warnings_usage(FILE *f)
{
	read_usage(f, READ_WARNINGS);
}
void cli_report_usage(FILE *f)
{
	read_usage(f, READ_REPORT);
}

/* ------------------------------------------------------------------------ */
/* Aligned tables                                                            */

typedef struct table {
	size_t ncols, nrows;
	const char **head;
	char **cells; /* nrows * ncols, owned */
} table;

static void table_add(table *t, const char *const *vals)
{
	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(vals[i] ? vals[i] : "");
	t->nrows++;
}

/* display width in characters (UTF-8 continuation bytes not counted) */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static void table_print(table *t, bool tty)
{
	size_t *w = xcalloc(t->ncols, sizeof(size_t));
	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = width(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t x = width(t->cells[r * t->ncols + c]);
			if (x > w[c])
				w[c] = x;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		if (tty && r == 0)
			fputs("\033[1m", stdout);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
			bool last = c + 1 == t->ncols;
			fputs(s, stdout);
			if (!last)
				for (size_t k = width(s); k < w[c] + 2; k++)
					fputc(' ', stdout);
		}
		if (tty && r == 0)
			fputs("\033[0m", stdout);
		fputc('\n', stdout);
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

static const char *yesno(json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k)) ? "yes" : "no";
}

/* "2026-01-02T03:04:05.123456Z" -> "2026-01-02 03:04:05" */
static void short_ts(const char *iso, char *buf, size_t len)
{
	snprintf(buf, len, "%.19s", iso ? iso : "");
	if (strlen(buf) > 10 && buf[10] == 'T')
		buf[10] = ' ';
}

static void join_array(json_t *a, const char *key, strbuf *b)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		const char *s = key ? jstr(v, key) : json_string_value(v);
		sb_printf(b, "%s%s", i ? "," : "", s ? s : "");
	}
	if (!b->data)
		sb_adds(b, "");
}

static void print_dags(json_t *doc, bool tty, bool all)
{
	const char *head[] = {"dag_id", "file",   "bundle", "owners",     "tags",
	                      "paused", "errors", "stale",  "last_parsed"};
	table t = {.ncols = all ? 9 : 8, .head = head};
	if (!all) { /* no stale column */
		static const char *h2[] = {"dag_id", "file",   "bundle", "owners",
		                           "tags",   "paused", "errors", "last_parsed"};
		t.head = h2;
	}
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(doc, "dags"), i, d)
	{
		strbuf owners, tags;
		sb_init(&owners);
		sb_init(&tags);
		join_array(json_object_get(d, "owners"), NULL, &owners);
		join_array(json_object_get(d, "tags"), "name", &tags);
		char ts[32];
		short_ts(jstr(d, "last_parsed_time"), ts, sizeof(ts));
		const char *v[9] = {jstr(d, "dag_id"),
		                    jstr(d, "relative_fileloc"),
		                    jstr(d, "bundle_name"),
		                    owners.data,
		                    tags.data,
		                    yesno(d, "is_paused"),
		                    yesno(d, "has_import_errors"),
		                    yesno(d, "is_stale"),
		                    ts};
		if (!all)
			v[7] = ts;
		table_add(&t, v);
		sb_free(&owners);
		sb_free(&tags);
	}
	table_print(&t, tty);
}

static void print_import_errors(json_t *doc, bool tty)
{
	json_t *list = json_object_get(doc, "import_errors");
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		char ts[32];
		short_ts(jstr(e, "timestamp"), ts, sizeof(ts));
		printf("%s%s%s (bundle %s, %s)\n", tty ? "\033[1m" : "", jstr(e, "filename"),
		       tty ? "\033[0m" : "", jstr(e, "bundle_name"), ts);
		const char *p = jstr(e, "stack_trace");
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			if (n) {
				const char *err = memmem(p, n, ": error[", 8);
				if (tty && err)
					printf("  %.*s: \033[1;31merror\033[0m%.*s\n",
					       (int)(err - p), p, (int)(n - (size_t)(err - p) - 7),
					       err + 7);
				else
					printf("  %.*s\n", (int)n, p);
			}
			p += n + (nl ? 1 : 0);
		}
	}
	printf("%zu file%s with import errors\n", json_array_size(list),
	       json_array_size(list) == 1 ? "" : "s");
}

static void print_warnings(json_t *doc, bool tty)
{
	const char *head[] = {"dag_id", "warning_type", "timestamp", "message"};
	table t = {.ncols = 4, .head = head};
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(doc, "dag_warnings"), i, w)
	{
		char ts[32];
		short_ts(jstr(w, "timestamp"), ts, sizeof(ts));
		const char *v[] = {jstr(w, "dag_id"), jstr(w, "warning_type"), ts,
		                   jstr(w, "message")};
		table_add(&t, v);
	}
	table_print(&t, tty);
}

static void print_report(json_t *doc, bool tty)
{
	const char *head[] = {"file",  "bundle", "duration", "dags",
	                      "tasks", "errors", "warnings", "last_parsed"};
	table t = {.ncols = 8, .head = head};
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(doc, "files"), i, f)
	{
		char dur[32], nd[24], nt[24], ne[24], nw[24], ts[32];
		snprintf(dur, sizeof(dur), "%.2f ms",
		         1000 * json_number_value(json_object_get(f, "duration")));
		snprintf(nd, sizeof(nd), "%lld",
		         (long long)json_integer_value(json_object_get(f, "dag_count")));
		snprintf(nt, sizeof(nt), "%lld",
		         (long long)json_integer_value(json_object_get(f, "task_count")));
		snprintf(ne, sizeof(ne), "%lld",
		         (long long)json_integer_value(json_object_get(f, "import_error_count")));
		snprintf(nw, sizeof(nw), "%lld",
		         (long long)json_integer_value(json_object_get(f, "warning_count")));
		short_ts(jstr(f, "last_parsed_time"), ts, sizeof(ts));
		const char *v[] = {
		    jstr(f, "file"), jstr(f, "bundle_name"), dur, nd, nt, ne, nw, ts};
		table_add(&t, v);
	}
	table_print(&t, tty);
}

static void print_processors(json_t *doc, bool tty)
{
	const char *head[] = {"instance_name", "hostname", "pid",       "version",
	                      "files_held",    "started",  "heartbeat", "stopped"};
	table t = {.ncols = 8, .head = head};
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(doc, "dag_processors"), i, r)
	{
		char pid[24], held[24], st[32], hb[32], sp[32];
		snprintf(pid, sizeof(pid), "%lld",
		         (long long)json_integer_value(json_object_get(r, "pid")));
		snprintf(held, sizeof(held), "%lld",
		         (long long)json_integer_value(json_object_get(r, "files_held")));
		short_ts(jstr(r, "started_at"), st, sizeof(st));
		short_ts(jstr(r, "latest_heartbeat"), hb, sizeof(hb));
		short_ts(jstr(r, "stopped_at"), sp, sizeof(sp));
		const char *v[] = {jstr(r, "instance_name"),
		                   jstr(r, "hostname"),
		                   pid,
		                   jstr(r, "version"),
		                   held,
		                   st,
		                   hb,
		                   sp[0] ? sp : "running"};
		table_add(&t, v);
	}
	table_print(&t, tty);
}

/* ------------------------------------------------------------------------ */

static int run_read(read_cmd cmd, int argc, char **argv, struct dagproc_config *cfg)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},     {"config", required_argument, NULL, 'c'},
	    {"format", required_argument, NULL, 'f'}, {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	bool json = false, all = false;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "d:c:f:ah", longopts, NULL);
		if (c == -1)
			break;
		char *err = NULL;
		switch (c) {
		case 'd':
			if (config_set(cfg, "database", "sql_conn", optarg, &err) != 0) {
				cli_hide_password(optarg);
				fprintf(stderr, "dagproc %s: --db: %s\n", cmd_names[cmd], err);
				free(err);
				return 2;
			}
			cli_hide_password(optarg);
			break;
		case 'c':
			break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(stderr, "dagproc %s: --format: '%s' is not text or json\n",
				        cmd_names[cmd], optarg);
				return 2;
			}
			json = strcmp(optarg, "json") == 0;
			break;
		case 'a':
			if (cmd != READ_DAGS) {
				read_usage(stderr, cmd);
				return 2;
			}
			all = true;
			break;
		case 'h':
			read_usage(stdout, cmd);
			return 0;
		default:
			read_usage(stderr, cmd);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dagproc %s: unexpected argument '%s'\n", cmd_names[cmd],
		        argv[optind]);
		return 2;
	}

	struct db_url url;
	store_params p;
	char *err = NULL;
	if (store_params_from_url(cfg->database.sql_conn, cfg, &url, &p, &err) != 0) {
		fprintf(stderr, "dagproc %s: [database] sql_conn: %s\n", cmd_names[cmd], err);
		free(err);
		return 2;
	}
	char *shown = db_url_redacted(cfg->database.sql_conn);
	store_conn *c = NULL;
	store_error e;
	json_t *doc = NULL;
	api_status st = {0};
	api_query q;
	api_query_init(&q);
	q.limit = -1;
	q.exclude_stale = !all;
	int rc = 1;
	if (store_connect(&p, &c, &e) != 0) {
		for (char *m = e.message; *m; m++) /* one line */
			if (*m == '\n' || *m == '\t' || *m == '\r')
				*m = ' ';
		fprintf(stderr, "dagproc %s: cannot connect to %s: %s\n", cmd_names[cmd], shown,
		        e.message);
		goto out;
	}
	int r;
	switch (cmd) {
	case READ_DAGS:
		r = api_read_dags(c, &q, &doc, &st);
		break;
	case READ_IMPORT_ERRORS:
		r = api_read_import_errors(c, &q, &doc, &st);
		break;
	case READ_WARNINGS:
		r = api_read_warnings(c, &q, &doc, &st);
		break;
	case READ_PROCESSORS:
		r = api_read_processors(c, &q, &doc, &st);
		break;
	default:
		r = api_read_report(c, &q, &doc, &st);
		break;
	}
	if (r != 0) {
		fprintf(stderr, "dagproc %s: %s: %s\n", cmd_names[cmd], shown, st.detail);
		goto out;
	}
	if (json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		bool tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
		if (cmd == READ_DAGS)
			print_dags(doc, tty, all);
		else if (cmd == READ_IMPORT_ERRORS)
			print_import_errors(doc, tty);
		else if (cmd == READ_WARNINGS)
			print_warnings(doc, tty);
		else if (cmd == READ_PROCESSORS)
			print_processors(doc, tty);
		else
			print_report(doc, tty);
	}
	rc = 0;
out:
	json_decref(doc);
	store_close(c);
	free(shown);
	db_url_free(&url);
	return rc;
}

int cli_dags(int argc, char **argv, struct dagproc_config *cfg)
{
	if (argc < 2 || strcmp(argv[1], "list") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			cli_dags_usage(stdout);
			return 0;
		}
		cli_dags_usage(stderr);
		return 2;
	}
	return run_read(READ_DAGS, argc - 1, argv + 1, cfg);
}

int cli_import_errors(int argc, char **argv, struct dagproc_config *cfg)
{
	return run_read(READ_IMPORT_ERRORS, argc, argv, cfg);
}

int cli_warnings(int argc, char **argv, struct dagproc_config *cfg)
{
	return run_read(READ_WARNINGS, argc, argv, cfg);
}

int cli_report(int argc, char **argv, struct dagproc_config *cfg)
{
	return run_read(READ_REPORT, argc, argv, cfg);
}

void cli_processors_usage(FILE *f)
{
	read_usage(f, READ_PROCESSORS);
}

int cli_processors(int argc, char **argv, struct dagproc_config *cfg)
{
	return run_read(READ_PROCESSORS, argc, argv, cfg);
}

/* ------------------------------------------------------------------------ */

void cli_serve_usage(FILE *f)
{
	fputs("usage: dagproc serve [--db URL] [--config FILE] [--host ADDR] [--port N]\n"
	      "\n"
	      "The HTTP API alone (no processor), reading the database: SPEC §4's endpoints,\n"
	      "/livez, /readyz, /metrics and the web page. Stops on SIGTERM/SIGINT (exit 0);\n"
	      "exit 2 when the address cannot be bound.\n",
	      f);
}

int cli_serve(int argc, char **argv, struct dagproc_config *cfg)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},   {"config", required_argument, NULL, 'c'},
	    {"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "d:c:H:p:h", longopts, NULL);
		if (c == -1)
			break;
		char *err = NULL;
		int rc = 0;
		switch (c) {
		case 'd':
			rc = config_set(cfg, "database", "sql_conn", optarg, &err);
			cli_hide_password(optarg);
			break;
		case 'H':
			rc = config_set(cfg, "api", "host", optarg, &err);
			break;
		case 'p':
			rc = config_set(cfg, "api", "port", optarg, &err);
			break;
		case 'c':
			break;
		case 'h':
			cli_serve_usage(stdout);
			return 0;
		default:
			cli_serve_usage(stderr);
			return 2;
		}
		if (rc != 0) {
			fprintf(stderr, "dagproc serve: %s\n", err);
			free(err);
			return 2;
		}
	}
	if (optind < argc) {
		cli_serve_usage(stderr);
		return 2;
	}
	char *cerr = NULL;
	if (api_check_config(cfg, &cerr, NULL) != 0) {
		fprintf(stderr, "dagproc serve: %s\n", cerr);
		free(cerr);
		return 2;
	}
	log_set_level(cfg->logging.level);
	log_set_format(cfg->logging.format);
	cli_secret_warnings(cfg);

	/* signals are taken with sigwait; the server's threads inherit the mask */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	char *err = NULL;
	if (api_start(cfg, NULL, &err) != 0) {
		log_error("%s", err);
		free(err);
		return 2;
	}
	int sig = 0;
	sigwait(&set, &sig);
	log_info("stopping on signal %d", sig);
	api_stop();
	return 0;
}
