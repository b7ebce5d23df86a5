/* The settings table and everything it drives: defaults, the INI loader
 * (inih), environment and command-line overrides, --help text and dumps. */
#include "config/config.h"

#include "config/dburl.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <poll.h>
#include <signal.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(enum log_level) == sizeof(int), "enum settings are stored as int");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum settings are stored as int");
_Static_assert(sizeof(enum config_sort_mode) == sizeof(int), "enum settings are stored as int");

#define ENV_PREFIX "DAGPROC__"

struct config_origin {
	enum config_source src;
	char *where; /* "dagproc.cfg:7", "DAGPROC__API__PORT", "--db"; NULL for defaults */
};

static const char *const level_choices[] = {"debug", "info", "warning", "error", NULL};
static const char *const format_choices[] = {"text", "json", NULL};
static const char *const sort_choices[] = {"modified_time", "random_seeded_by_host", "alphabetical",
                                           NULL};

static char *validate_nonempty(const char *text)
{
	return *text ? NULL : xstrdup("must not be empty");
}

/* a PostgreSQL schema name dagproc writes unquoted: lower case, as the
 * server folds it */
static char *validate_schema(const char *text)
{
	size_t n = strlen(text);
	if (n == 0)
		return NULL; /* the server's search_path */
	if (n > 63)
		return xstrdup("must be a schema name of at most 63 characters");
	for (size_t i = 0; i < n; i++) {
		char ch = text[i];
		bool ok =
		    (ch >= 'a' && ch <= 'z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9');
		if (!ok)
			return xasprintf(
			    "'%s' is not a plain schema name (lower-case letters, digits "
			    "and '_', not starting with a digit)",
			    text);
	}
	return NULL;
}

static char *validate_db_url(const char *text)
{
	struct db_url u;
	char *err = NULL;
	if (config_parse_db_url(text, &u, &err) < 0)
		return err;
	db_url_free(&u);
	return NULL;
}

#define FIELD(f) offsetof(struct dagproc_config, f)
#define R        CONFIG_RELOADABLE

/* Every setting of SPEC §2, in its order. */
static const struct config_setting settings[] = {
    /* [core] */
    {"core", "dags_folder", CONFIG_STRING, "./dags", 0,
     "folder of the default bundle, named \"dags-folder\"", FIELD(core.dags_folder), 0, 0, NULL,
     validate_nonempty},
    {"core", "bundles", CONFIG_PAIRS, "", 0, "more bundles: name=path, comma separated",
     FIELD(core.bundles), 0, 0, NULL, NULL},
    {"core", "operator_catalog", CONFIG_LIST, "", 0,
     "extra operator catalog files, comma separated", FIELD(core.operator_catalog), 0, 0, NULL,
     NULL},
    {"core", "unchecked_operator_modules", CONFIG_LIST, "", 0,
     "module prefixes accepted without checks, comma separated",
     FIELD(core.unchecked_operator_modules), 0, 0, NULL, NULL},
    {"core", "pools", CONFIG_LIST, "default_pool", 0,
     "pools that exist; others raise a \"non-existent pool\" warning", FIELD(core.pools), 0, 0,
     NULL, NULL},
    {"core", "strict_catalog", CONFIG_BOOL, "false", 0,
     "true: a module the operator catalog does not cover is E011, not W004",
     FIELD(core.strict_catalog), 0, 0, NULL, NULL},
    {"core", "dag_env_deny", CONFIG_LIST, "", 0,
     "globs of environment variables DAG files never see, added to DAGPROC__* and the "
     "secret-looking names denied by default",
     FIELD(core.dag_env_deny), 0, 0, NULL, NULL},
    {"core", "dag_env_allow", CONFIG_LIST, "", 0,
     "globs of environment variables DAG files may see despite the default deny list",
     FIELD(core.dag_env_allow), 0, 0, NULL, NULL},

    /* [database] */
    {"database", "sql_conn", CONFIG_STRING, "sqlite:///dagproc.db", CONFIG_SECRET,
     "metadata database URL (sqlite:///, postgresql://, mysql://)", FIELD(database.sql_conn), 0, 0,
     NULL, validate_db_url},
    {"database", "pool_size", CONFIG_INT, "5", 0, "connections kept open in the pool",
     FIELD(database.pool_size), 1, INT_MAX, NULL, NULL},
    {"database", "max_overflow", CONFIG_INT, "10", 0,
     "connections opened beyond pool_size under load", FIELD(database.max_overflow), 0, INT_MAX,
     NULL, NULL},
    {"database", "pool_timeout", CONFIG_FLOAT, "30", 0, "seconds to wait for a free connection",
     FIELD(database.pool_timeout), 0, INT_MAX, NULL, NULL},
    {"database", "pool_pre_ping", CONFIG_BOOL, "true", 0,
     "check a pooled connection before handing it out", FIELD(database.pool_pre_ping), 0, 0, NULL,
     NULL},
    {"database", "pool_recycle", CONFIG_INT, "1800", 0,
     "seconds after which a connection is reopened; 0 = never", FIELD(database.pool_recycle), 0,
     INT_MAX, NULL, NULL},
    {"database", "max_db_retries", CONFIG_INT, "3", 0,
     "quick attempts per write before backing off", FIELD(database.max_db_retries), 0, INT_MAX,
     NULL, NULL},
    {"database", "retry_backoff_max", CONFIG_INT, "30", 0,
     "seconds; cap of the exponential backoff with jitter", FIELD(database.retry_backoff_max), 1,
     INT_MAX, NULL, NULL},
    {"database", "connect_timeout", CONFIG_INT, "10", 0, "seconds to wait for a connection",
     FIELD(database.connect_timeout), 1, INT_MAX, NULL, NULL},
    {"database", "statement_timeout", CONFIG_INT, "30", 0, "seconds per statement; 0 = none",
     FIELD(database.statement_timeout), 0, INT_MAX, NULL, NULL},
    {"database", "once_timeout", CONFIG_INT, "60", 0,
     "seconds `run --once` waits without progress (the database unreachable or "
     "refusing writes) before exiting 3",
     FIELD(database.once_timeout), 0, INT_MAX, NULL, NULL},
    {"database", "schema", CONFIG_STRING, "", 0,
     "PostgreSQL: the schema of dagproc's tables (the sessions' search_path), created by db "
     "migrate; a schema of its own lets dagproc share an Airflow database; empty = the "
     "server's search_path (normally public)",
     FIELD(database.schema), 0, 0, NULL, validate_schema},
    {"database", "sql_conn_file", CONFIG_STRING, "", 0,
     "read sql_conn from this file (container secrets)", FIELD(database.sql_conn_file), 0, 0, NULL,
     NULL},
    {"database", "sql_conn_cmd", CONFIG_STRING, "", 0,
     "or from this command's output (as Airflow's _cmd settings)", FIELD(database.sql_conn_cmd), 0,
     0, NULL, NULL},

    /* [dag_processor] */
    {"dag_processor", "refresh_interval", CONFIG_INT, "300", R,
     "seconds between full rescans of every bundle, even with file watching",
     FIELD(dag_processor.refresh_interval), 1, INT_MAX, NULL, NULL},
    {"dag_processor", "min_file_process_interval", CONFIG_INT, "30", R,
     "seconds before an unchanged file is parsed again",
     FIELD(dag_processor.min_file_process_interval), 0, INT_MAX, NULL, NULL},
    {"dag_processor", "dag_file_processor_timeout", CONFIG_INT, "50", 0,
     "seconds a worker may spend on one file", FIELD(dag_processor.dag_file_processor_timeout), 1,
     INT_MAX, NULL, NULL},
    {"dag_processor", "parsing_processes", CONFIG_INT, "2", 0, "worker processes",
     FIELD(dag_processor.parsing_processes), 1, 1024, NULL, NULL},
    {"dag_processor", "worker_memory_limit", CONFIG_INT, "512", 0, "MiB per worker process",
     FIELD(dag_processor.worker_memory_limit), 1, INT_MAX, NULL, NULL},
    {"dag_processor", "max_file_size", CONFIG_INT, "10", 0, "MiB; larger files are an import error",
     FIELD(dag_processor.max_file_size), 1, INT_MAX, NULL, NULL},
    {"dag_processor", "stale_dag_threshold", CONFIG_INT, "50", R,
     "seconds between checks that the files the database records still exist (their DAGs "
     "become stale otherwise)",
     FIELD(dag_processor.stale_dag_threshold), 1, INT_MAX, NULL, NULL},
    {"dag_processor", "file_parsing_sort_mode", CONFIG_ENUM, "modified_time", R,
     "order of the parse queue", FIELD(dag_processor.file_parsing_sort_mode), 0, 0, sort_choices,
     NULL},
    {"dag_processor", "watch", CONFIG_BOOL, "true", 0,
     "inotify: a changed file is reparsed at once", FIELD(dag_processor.watch), 0, 0, NULL, NULL},
    {"dag_processor", "instance_name", CONFIG_STRING, "", 0,
     "name of this processor when several share a database; empty = hostname:pid",
     FIELD(dag_processor.instance_name), 0, 0, NULL, NULL},
    {"dag_processor", "lease_seconds", CONFIG_INT, "30", 0,
     "seconds a processor holds its files without renewing (PostgreSQL, MySQL); the "
     "heartbeat runs every third of it",
     FIELD(dag_processor.lease_seconds), 3, 3600, NULL, NULL},
    {"dag_processor", "status_file", CONFIG_STRING, "", 0,
     "file `dagproc run` rewrites every second for `dagproc healthcheck` (exec probes); "
     "empty = $RUNTIME_DIRECTORY/dagproc.status under systemd, else /tmp/dagproc.status",
     FIELD(dag_processor.status_file), 0, 0, NULL, NULL},

    /* [api] */
    {"api", "enabled", CONFIG_BOOL, "true", 0, "serve the HTTP API from `dagproc run`",
     FIELD(api.enabled), 0, 0, NULL, NULL},
    {"api", "host", CONFIG_STRING, "127.0.0.1", 0, "address the HTTP API listens on",
     FIELD(api.host), 0, 0, NULL, validate_nonempty},
    {"api", "port", CONFIG_INT, "8780", 0, "port the HTTP API listens on", FIELD(api.port), 1,
     65535, NULL, NULL},
    {"api", "auth_token", CONFIG_STRING, "", CONFIG_SECRET,
     "when set, /api/* needs \"Authorization: Bearer <token>\"", FIELD(api.auth_token), 0, 0, NULL,
     NULL},
    {"api", "auth_token_file", CONFIG_STRING, "", 0, "read auth_token from this file",
     FIELD(api.auth_token_file), 0, 0, NULL, NULL},
    {"api", "auth_token_cmd", CONFIG_STRING, "", 0, "or from this command's output",
     FIELD(api.auth_token_cmd), 0, 0, NULL, NULL},
    {"api", "allow_unauthenticated", CONFIG_BOOL, "false", 0,
     "serve /api on a non-loopback host without auth_token (logged as a warning)",
     FIELD(api.allow_unauthenticated), 0, 0, NULL, NULL},
    {"api", "tls_cert", CONFIG_STRING, "", 0,
     "PEM certificate (chain) for HTTPS; HTTPS when tls_cert and tls_key are set",
     FIELD(api.tls_cert), 0, 0, NULL, NULL},
    {"api", "tls_key", CONFIG_STRING, "", 0, "PEM private key of tls_cert", FIELD(api.tls_key), 0,
     0, NULL, NULL},

    /* [logging] */
    {"logging", "level", CONFIG_ENUM, "info", R, "debug, info, warning or error",
     FIELD(logging.level), 0, 0, level_choices, NULL},
    {"logging", "format", CONFIG_ENUM, "text", R, "text or json (one object per line)",
     FIELD(logging.format), 0, 0, format_choices, NULL},
};

#undef R
#undef FIELD

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* Airflow names an Airflow user may paste; only used for suggestions. */
static const struct {
	const char *key, *section, *ours;
} airflow_names[] = {
    {"sql_alchemy_conn", "database", "sql_conn"},
    {"sql_alchemy_pool_size", "database", "pool_size"},
    {"sql_alchemy_max_overflow", "database", "max_overflow"},
    {"sql_alchemy_pool_recycle", "database", "pool_recycle"},
    {"sql_alchemy_pool_pre_ping", "database", "pool_pre_ping"},
    {"dag_dir_list_interval", "dag_processor", "refresh_interval"},
    {"logging_level", "logging", "level"},
    {"log_format", "logging", "format"},
};

const struct config_setting *config_settings(size_t *n)
{
	*n = N_SETTINGS;
	return settings;
}

const struct config_setting *config_find(const char *section, const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (strcasecmp(settings[i].section, section) == 0 &&
		    strcasecmp(settings[i].key, key) == 0)
			return &settings[i];
	}
	return NULL;
}

static size_t setting_index(const struct config_setting *s)
{
	return (size_t)(s - settings);
}

static void *field_ptr(const struct dagproc_config *cfg, const struct config_setting *s)
{
	return (char *)cfg + s->offset;
}

static char tolower_ascii_c(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive edit distance, for "did you mean". Private on purpose: the
 * shared helper in util is not ready yet. */
static size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xmalloc((lb + 1) * sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost =
			    tolower_ascii_c(a[i - 1]) == tolower_ascii_c(b[j - 1]) ? 0 : 1;
			size_t best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

static bool close_enough(const char *given, const char *known, size_t *best)
{
	size_t d = levenshtein(given, known);
	size_t len = strlen(given);
	size_t limit = len / 3 > 2 ? len / 3 : 2;
	if (d <= limit && d < *best) {
		*best = d;
		return true;
	}
	return false;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (strcasecmp(settings[i].section, section) == 0)
			return true;
	}
	return false;
}

/* The nearest known setting for an unknown [section] key, or NULL. */
static const struct config_setting *suggest_setting(const char *section, const char *key)
{
	const struct config_setting *hit = NULL;
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < sizeof(airflow_names) / sizeof(airflow_names[0]); i++) {
		if (strcasecmp(airflow_names[i].key, key) == 0)
			return config_find(airflow_names[i].section, airflow_names[i].ours);
	}
	/* The right key in the wrong section. */
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (strcasecmp(settings[i].key, key) == 0)
			return &settings[i];
	}
	if (section_known(section)) {
		for (size_t i = 0; i < N_SETTINGS; i++) {
			if (strcasecmp(settings[i].section, section) == 0 &&
			    close_enough(key, settings[i].key, &best))
				hit = &settings[i];
		}
		return hit;
	}
	/* Unknown section: a misspelled section with a (nearly) right key. */
	for (size_t i = 0; i < N_SETTINGS; i++) {
		size_t d = SIZE_MAX;
		if (close_enough(section, settings[i].section, &d) &&
		    close_enough(key, settings[i].key, &best))
			hit = &settings[i];
	}
	return hit;
}

static const char *suggest_section(const char *section)
{
	const char *hit = NULL;
	size_t best = SIZE_MAX;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (close_enough(section, settings[i].section, &best))
			hit = settings[i].section;
	}
	return hit;
}

static char *env_name(const struct config_setting *s)
{
	char *name = xasprintf(ENV_PREFIX "%s__%s", s->section, s->key);
	for (char *p = name; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	return name;
}

/* "unknown key [database] pool_sise (did you mean pool_size?)"; for the
 * environment the suggestion is the variable to set. */
static char *unknown_message(const char *section, const char *key, bool env)
{
	strbuf b;
	sb_init(&b);
	const struct config_setting *s = suggest_setting(section, key);
	bool sec_ok = section_known(section);

	if (sec_ok)
		sb_printf(&b, "unknown key [%s] %s", section, key);
	else
		sb_printf(&b, "unknown section [%s]", section);

	if (s && env) {
		char *var = env_name(s);
		sb_printf(&b, " (did you mean %s?)", var);
		free(var);
	} else if (s && sec_ok && strcasecmp(s->section, section) == 0) {
		sb_printf(&b, " (did you mean %s?)", s->key);
	} else if (s) {
		sb_printf(&b, " (did you mean [%s] %s?)", s->section, s->key);
	} else if (!sec_ok) {
		const char *sec = suggest_section(section);
		if (sec)
			sb_printf(&b, " (did you mean [%s]?)", sec);
	}
	return sb_detach(&b);
}

static char *trimmed(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return xstrndup(s, n);
}

static void list_free(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void bundles_free(struct config_bundles *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].name);
		free(b->v[i].path);
	}
	free(b->v);
	b->v = NULL;
	b->n = 0;
}

static void list_parse(const char *text, struct config_list *out)
{
	const char *p = text;
	memset(out, 0, sizeof(*out));
	for (;;) {
		size_t n = strcspn(p, ",");
		char *item = trimmed(p, n);
		if (*item) {
			out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
			out->v[out->n++] = item;
		} else {
			free(item);
		}
		if (!p[n])
			break;
		p += n + 1;
	}
}

static char *pairs_parse(const char *text, struct config_bundles *out)
{
	struct config_list items;
	char *why = NULL;

	memset(out, 0, sizeof(*out));
	list_parse(text, &items);
	for (size_t i = 0; i < items.n; i++) {
		const char *eq = strchr(items.v[i], '=');
		if (!eq) {
			why = xasprintf("'%s' is not name=path", items.v[i]);
			goto out;
		}
		char *name = trimmed(items.v[i], (size_t)(eq - items.v[i]));
		char *path = trimmed(eq + 1, strlen(eq + 1));
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n].name = name;
		out->v[out->n].path = path;
		out->n++;
		if (!*name || !*path) {
			why = xasprintf("'%s' is not name=path", items.v[i]);
			goto out;
		}
		if (strcmp(name, "dags-folder") == 0) {
			why = xstrdup("the bundle name 'dags-folder' is reserved for [core] "
			              "dags_folder");
			goto out;
		}
		for (size_t j = 0; j + 1 < out->n; j++) {
			if (strcmp(out->v[j].name, name) == 0) {
				why = xasprintf("bundle '%s' is defined twice", name);
				goto out;
			}
		}
	}
out:
	list_free(&items);
	if (why)
		bundles_free(out);
	return why;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static char *range_message(const struct config_setting *s, const char *text, bool too_big)
{
	if (s->max == INT_MAX)
		return too_big ? xasprintf("%s is too large", text)
		               : xasprintf("%s must be at least %lld", text, s->min);
	return xasprintf("%s is out of range (%lld-%lld)", text, s->min, s->max);
}

static void free_value(struct dagproc_config *cfg, const struct config_setting *s)
{
	void *f = field_ptr(cfg, s);
	switch (s->type) {
	case CONFIG_STRING:
		free(*(char **)f);
		*(char **)f = NULL;
		break;
	case CONFIG_LIST:
		list_free(f);
		break;
	case CONFIG_PAIRS:
		bundles_free(f);
		break;
	default:
		break;
	}
}

/* Parses text into the setting's field. Returns NULL, or the reason it is
 * invalid (caller frees) with the field untouched. */
static char *set_value(struct dagproc_config *cfg, const struct config_setting *s, const char *raw)
{
	char *text = trimmed(raw, strlen(raw));
	const char *shown = (s->flags & CONFIG_SECRET) ? "***" : text;
	void *f = field_ptr(cfg, s);
	char *why = NULL;

	if (s->validate && (why = s->validate(text)) != NULL)
		goto out;

	switch (s->type) {
	case CONFIG_STRING:
		free_value(cfg, s);
		*(char **)f = text;
		text = NULL;
		break;
	case CONFIG_INT: {
		char *end;
		errno = 0;
		long long v = strtoll(text, &end, 10);
		if (!*text || *end) {
			why = xasprintf("'%s' is not an integer", shown);
			goto out;
		}
		if (errno == ERANGE || v < s->min || v > s->max) {
			why = range_message(s, shown, v > 0);
			goto out;
		}
		*(int *)f = (int)v;
		break;
	}
	case CONFIG_FLOAT: {
		char *end;
		errno = 0;
		double v = strtod(text, &end);
		if (!*text || *end || !isfinite(v)) {
			why = xasprintf("'%s' is not a number", shown);
			goto out;
		}
		if (v < (double)s->min || v > (double)s->max) {
			why = range_message(s, shown, v > 0);
			goto out;
		}
		*(double *)f = v;
		break;
	}
	case CONFIG_BOOL:
		if (!parse_bool(text, (bool *)f))
			why = xasprintf("'%s' is not a boolean (true or false)", shown);
		break;
	case CONFIG_ENUM: {
		strbuf b;
		for (int i = 0; s->choices[i]; i++) {
			if (strcasecmp(text, s->choices[i]) == 0) {
				memcpy(f, &i, sizeof(i));
				goto out;
			}
		}
		sb_init(&b);
		sb_printf(&b, "'%s' is not one of ", shown);
		for (int i = 0; s->choices[i]; i++)
			sb_printf(&b, "%s%s", i ? ", " : "", s->choices[i]);
		why = sb_detach(&b);
		break;
	}
	case CONFIG_LIST: {
		struct config_list l;
		list_parse(text, &l);
		free_value(cfg, s);
		*(struct config_list *)f = l;
		break;
	}
	case CONFIG_PAIRS: {
		struct config_bundles bl;
		why = pairs_parse(text, &bl);
		if (why)
			goto out;
		free_value(cfg, s);
		*(struct config_bundles *)f = bl;
		break;
	}
	}
out:
	free(text);
	return why;
}

struct dagproc_config *config_new(void)
{
	struct dagproc_config *cfg = xcalloc(1, sizeof(*cfg));
	cfg->origin = xcalloc(N_SETTINGS, sizeof(*cfg->origin));
	for (size_t i = 0; i < N_SETTINGS; i++) {
		char *why = set_value(cfg, &settings[i], settings[i].def);
		if (why) {
			/* A bad default is a bug in the table, caught by the tests. */
			fprintf(stderr, "dagproc: bad default for [%s] %s: %s\n",
			        settings[i].section, settings[i].key, why);
			abort();
		}
	}
	return cfg;
}

void config_free(struct dagproc_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		free_value(cfg, &settings[i]);
		free(cfg->origin[i].where);
	}
	free(cfg->origin);
	free(cfg->path);
	free(cfg);
}

int config_set_from(struct dagproc_config *cfg, const char *section, const char *key,
                    const char *value, enum config_source src, const char *where, char **err)
{
	const struct config_setting *s = config_find(section, key);
	if (!s) {
		if (err)
			*err = unknown_message(section, key, false);
		return -1;
	}
	char *why = set_value(cfg, s, value ? value : "");
	if (why) {
		if (err)
			*err = xasprintf("[%s] %s: %s", s->section, s->key, why);
		free(why);
		return -1;
	}
	struct config_origin *o = &cfg->origin[setting_index(s)];
	free(o->where);
	o->src = src;
	o->where = where ? xstrdup(where) : NULL;
	return 0;
}

int config_set(struct dagproc_config *cfg, const char *section, const char *key, const char *value,
               char **err)
{
	return config_set_from(cfg, section, key, value, CONFIG_SRC_CLI, NULL, err);
}

/* inih gives the handler no line number (Debian builds it without
 * INI_HANDLER_LINENO), so the reader counts lines as it hands them over. */
struct ini_state {
	struct dagproc_config *cfg;
	const char *path;
	FILE *f;
	int line;      /* line the parser is on */
	int done;      /* complete lines read */
	bool mid_line; /* the last chunk did not end with '\n' */
	char *err;     /* first error */
	int err_line;
};

static char *cfg_ini_read(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	if (!st->mid_line)
		st->line = st->done + 1;
	char *r = fgets(str, num, st->f);
	if (!r)
		return NULL;
	size_t n = strlen(r);
	st->mid_line = !(n > 0 && r[n - 1] == '\n');
	if (!st->mid_line)
		st->done++;
	return r;
}

static int cfg_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	char *e = NULL;

	if (st->err)
		return 1;
	if (!*section) {
		e = xasprintf("key '%s' outside any [section]", name);
	} else if (!config_find(section, name)) {
		e = unknown_message(section, name, false);
	} else {
		char *where = xasprintf("%s:%d", st->path, st->line);
		int rc = config_set_from(st->cfg, section, name, value, CONFIG_SRC_FILE, where, &e);
		free(where);
		if (rc == 0)
			return 1;
	}
	st->err = xasprintf("%s:%d: %s", st->path, st->line, e);
	st->err_line = st->line;
	free(e);
	return 0;
}

int config_load_file(struct dagproc_config *cfg, const char *path, char **err)
{
	struct ini_state st = {.cfg = cfg, .path = path};
	int rc = -1;

	st.f = fopen(path, "r");
	if (!st.f) {
		*err = xasprintf("cannot read config file %s: %s", path, strerror(errno));
		goto out;
	}
	/* Debian's libinih exposes its build options as variables. Lines may be
	 * long (URLs, bundle lists); an indented line is a key of its own, not a
	 * continuation; "key = value ; comment" is a comment (SPEC's example). */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 1 << 20;
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = ";";

	int r = ini_parse_stream(cfg_ini_read, &st, cfg_ini_entry, &st);
	if (r > 0 && (!st.err || r < st.err_line)) {
		free(st.err);
		st.err = xasprintf("%s:%d: syntax error: expected '[section]' or 'key = value'",
		                   path, r);
	} else if (r == -2 && !st.err) {
		st.err = xasprintf("%s: out of memory", path);
	}
	if (!st.err && ferror(st.f))
		st.err = xasprintf("cannot read config file %s: %s", path, strerror(errno));
	if (st.err) {
		*err = st.err;
		st.err = NULL;
		goto out;
	}
	free(cfg->path);
	cfg->path = xstrdup(path);
	rc = 0;
out:
	if (st.f)
		fclose(st.f);
	return rc;
}

int config_apply_env(struct dagproc_config *cfg, char *const *envp, char **err)
{
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *e = envp[i];
		if (strncmp(e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
			continue;
		const char *eq = strchr(e, '=');
		if (!eq)
			continue;
		char *var = xstrndup(e, (size_t)(eq - e));
		const char *body = var + strlen(ENV_PREFIX);
		const char *sep = strstr(body, "__");
		int rc = -1;
		char *why = NULL, *section = NULL, *key = NULL;

		if (!sep || sep == body || !sep[2]) {
			why = xstrdup("expected " ENV_PREFIX "<SECTION>__<KEY>");
			goto next;
		}
		section = xstrndup(body, (size_t)(sep - body));
		key = xstrdup(sep + 2);
		for (char *p = section; *p; p++)
			*p = tolower_ascii_c(*p);
		for (char *p = key; *p; p++)
			*p = tolower_ascii_c(*p);
		if (!config_find(section, key)) {
			why = unknown_message(section, key, true);
			goto next;
		}
		rc = config_set_from(cfg, section, key, eq + 1, CONFIG_SRC_ENV, var, &why);
	next:
		if (rc < 0)
			*err = xasprintf("environment variable %s: %s", var, why);
		free(why);
		free(section);
		free(key);
		free(var);
		if (rc < 0)
			return -1;
	}
	return 0;
}

extern char **environ;

struct dagproc_config *config_load(const char *path, char **err)
{
	struct dagproc_config *cfg = config_new();
	const char *file = path;

	if (!file) {
		const char *env = getenv("DAGPROC_CONFIG");
		if (env && *env)
			file = env;
		else if (access("dagproc.cfg", F_OK) == 0)
			file = "dagproc.cfg";
	}
	if (file && config_load_file(cfg, file, err) < 0)
		goto fail;
	if (config_apply_env(cfg, environ, err) < 0)
		goto fail;
	if (config_resolve_secrets(cfg, err) < 0)
		goto fail;
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

char *config_value_text(const struct dagproc_config *cfg, const struct config_setting *s, bool mask)
{
	const void *f = field_ptr(cfg, s);
	strbuf b;

	switch (s->type) {
	case CONFIG_STRING: {
		const char *v = *(char *const *)f ? *(char *const *)f : "";
		if (mask && (s->flags & CONFIG_SECRET)) {
			if (s->validate == validate_db_url)
				return db_url_redacted(v);
			return xstrdup(*v ? "***" : "");
		}
		return xstrdup(v);
	}
	case CONFIG_INT:
		return xasprintf("%d", *(const int *)f);
	case CONFIG_FLOAT:
		return xasprintf("%g", *(const double *)f);
	case CONFIG_BOOL:
		return xstrdup(*(const bool *)f ? "true" : "false");
	case CONFIG_ENUM: {
		int v;
		memcpy(&v, f, sizeof(v));
		return xstrdup(s->choices[v]);
	}
	case CONFIG_LIST: {
		const struct config_list *l = f;
		sb_init(&b);
		for (size_t i = 0; i < l->n; i++)
			sb_printf(&b, "%s%s", i ? ", " : "", l->v[i]);
		return sb_detach(&b);
	}
	case CONFIG_PAIRS: {
		const struct config_bundles *bl = f;
		sb_init(&b);
		for (size_t i = 0; i < bl->n; i++)
			sb_printf(&b, "%s%s=%s", i ? ", " : "", bl->v[i].name, bl->v[i].path);
		return sb_detach(&b);
	}
	}
	return xstrdup("");
}

static const char *type_name(const struct config_setting *s)
{
	switch (s->type) {
	case CONFIG_STRING:
		return "string";
	case CONFIG_INT:
		return "integer";
	case CONFIG_BOOL:
		return "boolean";
	case CONFIG_FLOAT:
		return "number";
	case CONFIG_LIST:
		return "list";
	case CONFIG_PAIRS:
		return "name=path list";
	case CONFIG_ENUM:
		return "choice";
	}
	return "?";
}

void config_describe(FILE *out)
{
	const char *section = NULL;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct config_setting *s = &settings[i];
		if (!section || strcmp(section, s->section) != 0) {
			fprintf(out, "%s[%s]\n", section ? "\n" : "", s->section);
			section = s->section;
		}
		char *var = env_name(s);
		fprintf(out, "  %s =%s%s\n", s->key, *s->def ? " " : "", s->def);
		fprintf(out, "      %s\n", s->help);
		fprintf(out, "      %s", type_name(s));
		if (s->type == CONFIG_ENUM) {
			fputs(":", out);
			for (size_t c = 0; s->choices[c]; c++)
				fprintf(out, "%s%s", c ? "|" : " ", s->choices[c]);
		} else if (s->type == CONFIG_INT || s->type == CONFIG_FLOAT) {
			if (s->max == INT_MAX)
				fprintf(out, " >= %lld", s->min);
			else
				fprintf(out, " %lld-%lld", s->min, s->max);
		}
		fprintf(out, "; env %s; %s\n", var,
		        (s->flags & CONFIG_RELOADABLE) ? "reloadable" : "restart to change");
		free(var);
	}
}

void config_dump(const struct dagproc_config *cfg, FILE *out)
{
	const char *section = NULL;
	static const char *const src_names[] = {"default", "file", "env", "command line"};

	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct config_setting *s = &settings[i];
		const struct config_origin *o = &cfg->origin[i];
		if (!section || strcmp(section, s->section) != 0) {
			fprintf(out, "%s[%s]\n", section ? "\n" : "", s->section);
			section = s->section;
		}
		char *v = config_value_text(cfg, s, true);
		fprintf(out, "%s =%s%s", s->key, *v ? " " : "", v);
		if (o->src != CONFIG_SRC_DEFAULT)
			fprintf(out, "%s; from %s", *v ? "  " : " ",
			        o->where ? o->where : src_names[o->src]);
		fputc('\n', out);
		free(v);
	}
}

char *config_reload_conflicts(const struct dagproc_config *old_cfg,
                              const struct dagproc_config *new_cfg)
{
	strbuf b;
	sb_init(&b);
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct config_setting *s = &settings[i];
		if (s->flags & CONFIG_RELOADABLE)
			continue;
		char *a = config_value_text(old_cfg, s, false);
		char *c = config_value_text(new_cfg, s, false);
		if (strcmp(a, c) != 0)
			sb_printf(&b, "%s[%s] %s", b.len ? ", " : "", s->section, s->key);
		free(a);
		free(c);
	}
	if (b.len == 0) {
		sb_free(&b);
		return NULL;
	}
	return sb_detach(&b);
}

/* ---- secrets kept outside the configuration ---- */

#define SECRET_MAX      (64u << 10)
#define SECRET_CMD_WAIT 30.0 /* seconds */

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Drops trailing blanks and newlines (what `echo` and editors add). */
static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static char *read_secret_file(const char *path, char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = xasprintf("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	strbuf b;
	sb_init(&b);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > SECRET_MAX) {
			*why = n < 0
			           ? xasprintf("cannot read %s: %s", path, strerror(errno))
			           : xasprintf("%s is larger than %u KiB", path, SECRET_MAX >> 10);
			close(fd);
			sb_free(&b);
			return NULL;
		}
		sb_add(&b, buf, (size_t)n);
	}
	close(fd);
	char *v = sb_detach(&b);
	chomp(v);
	return v;
}

/* The standard output of /bin/sh -c cmd; stderr passes through (it is the user's
 * command speaking). Fails on a status other than 0, a signal, more than
 * SECRET_MAX bytes or SECRET_CMD_WAIT seconds. */
static char *run_secret_cmd(const char *cmd, char **why)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		*why = xasprintf("cannot run the command: %s", strerror(errno));
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*why = xasprintf("cannot run the command: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return NULL;
	}
	if (pid == 0) {
		/* a reload runs this from the daemon, whose signals are blocked */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pfd[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	strbuf b;
	sb_init(&b);
	double deadline = now_mono() + SECRET_CMD_WAIT;
	bool over = false, late = false;
	for (;;) {
		double left = deadline - now_mono();
		if (left <= 0) {
			late = true;
			break;
		}
		struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&pf, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(pfd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (b.len + (size_t)n > SECRET_MAX) {
			over = true;
			break;
		}
		sb_add(&b, buf, (size_t)n);
	}
	close(pfd[0]);
	if (late || over)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char *v = sb_detach(&b);
	if (late)
		*why = xasprintf("the command did not finish within %.0f s", SECRET_CMD_WAIT);
	else if (over)
		*why = xasprintf("the command printed more than %u KiB", SECRET_MAX >> 10);
	else if (WIFSIGNALED(status))
		*why = xasprintf("the command was killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		*why = xasprintf("the command exited with status %d", WEXITSTATUS(status));
	if (*why) {
		explicit_bzero(v, strlen(v));
		free(v);
		return NULL;
	}
	chomp(v);
	return v;
}

/* One secret and its two outside sources. */
static int resolve_one(struct dagproc_config *cfg, const char *section, const char *key, char **err)
{
	char file_key[64], cmd_key[64];
	snprintf(file_key, sizeof file_key, "%s_file", key);
	snprintf(cmd_key, sizeof cmd_key, "%s_cmd", key);
	const struct config_setting *sv = config_find(section, key);
	const struct config_setting *sf = config_find(section, file_key);
	const struct config_setting *sc = config_find(section, cmd_key);
	const char *file = *(char **)field_ptr(cfg, sf);
	const char *cmd = *(char **)field_ptr(cfg, sc);
	const struct config_setting *cand[3] = {sv, sf, sc};
	bool set[3] = {cfg->origin[setting_index(sv)].src != CONFIG_SRC_DEFAULT, file && *file,
	               cmd && *cmd};
	/* the most specific place wins: command line, environment, file */
	int best = -1, tie = -1;
	for (int i = 0; i < 3; i++) {
		if (!set[i])
			continue;
		enum config_source src = cfg->origin[setting_index(cand[i])].src;
		if (best < 0 || src > cfg->origin[setting_index(cand[best])].src) {
			best = i;
			tie = -1;
		} else if (src == cfg->origin[setting_index(cand[best])].src) {
			tie = i;
		}
	}
	if (best <= 0 && tie < 0)
		return 0; /* the value itself, or nothing */
	if (tie >= 0) {
		*err = xasprintf("[%s] %s and [%s] %s are both set; set only one", section,
		                 cand[best]->key, section, cand[tie]->key);
		return -1;
	}
	char *why = NULL;
	char *v = best == 1 ? read_secret_file(file, &why) : run_secret_cmd(cmd, &why);
	if (!v) {
		*err = xasprintf("[%s] %s: %s", section, cand[best]->key, why);
		free(why);
		return -1;
	}
	if (!*v) {
		free(v);
		*err = xasprintf("[%s] %s: %s", section, cand[best]->key,
		                 best == 1 ? "the file is empty" : "the command printed nothing");
		return -1;
	}
	why = set_value(cfg, sv, v);
	explicit_bzero(v, strlen(v));
	free(v);
	if (why) {
		*err = xasprintf("[%s] %s: %s", section, cand[best]->key, why);
		free(why);
		return -1;
	}
	const struct config_origin *from = &cfg->origin[setting_index(cand[best])];
	struct config_origin *o = &cfg->origin[setting_index(sv)];
	char *where = best == 1 ? xasprintf("%s %s", cand[best]->key, file)
	                        : xasprintf("%s (%s)", cand[best]->key,
	                                    from->where ? from->where : "command line");
	free(o->where);
	o->src = from->src;
	o->where = where;
	return 0;
}

int config_resolve_secrets(struct dagproc_config *cfg, char **err)
{
	if (resolve_one(cfg, "database", "sql_conn", err) != 0)
		return -1;
	return resolve_one(cfg, "api", "auth_token", err);
}

/* Whether an origin says the value came from key_file or key_cmd (resolve_one). */
static bool from_elsewhere(const char *where, const char *key)
{
	size_t n = strlen(key);
	return strncmp(where, key, n) == 0 &&
	       (strncmp(where + n, "_file ", 6) == 0 || strncmp(where + n, "_cmd (", 6) == 0);
}

char *config_exposure_warning(const struct dagproc_config *cfg)
{
	struct stat st;
	if (!cfg->path || stat(cfg->path, &st) != 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
		return NULL;
	const char *what = NULL;
	const struct config_origin *oc =
	    &cfg->origin[setting_index(config_find("database", "sql_conn"))];
	const struct config_origin *ot =
	    &cfg->origin[setting_index(config_find("api", "auth_token"))];
	if (oc->src == CONFIG_SRC_FILE && oc->where && !from_elsewhere(oc->where, "sql_conn")) {
		struct db_url u;
		if (config_parse_db_url(cfg->database.sql_conn, &u, NULL) == 0) {
			if (u.password && *u.password)
				what = "a database password ([database] sql_conn)";
			db_url_free(&u);
		}
	}
	if (!what && ot->src == CONFIG_SRC_FILE && ot->where &&
	    !from_elsewhere(ot->where, "auth_token") && cfg->api.auth_token && *cfg->api.auth_token)
		what = "the API token ([api] auth_token)";
	if (!what)
		return NULL;
	return xasprintf("%s holds %s and other users can read it (mode %04o): chmod 600 %s, "
	                 "or keep the secret in [database] sql_conn_file / [api] "
	                 "auth_token_file",
	                 cfg->path, what, (unsigned)(st.st_mode & 07777), cfg->path);
}
