/* Unit tests of the settings table, the INI/env/CLI loading chain, error
 * messages, dumps, and database URL parsing and redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/dburl.h"
#include "log/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SPEC §2's defaults block, verbatim but for the settings other issues add. */
static const char spec_example[] =
    "[core]\n"
    "dags_folder = ./dags          ; the default bundle, named \"dags-folder\"\n"
    "bundles =                     ; more bundles: name=path, comma separated\n"
    "operator_catalog =            ; extra operator catalog files (see §5), comma separated\n"
    "unchecked_operator_modules =  ; module prefixes accepted without checks, comma separated\n"
    "pools = default_pool          ; pools that exist; others raise a \"non-existent pool\" "
    "warning\n"
    "dag_env_deny =                ; globs of environment variables DAG files never see (added "
    "to\n"
    "                              ; DAGPROC__* and the secret-looking names denied by default)\n"
    "dag_env_allow =               ; globs let through despite the default deny list\n"
    "\n"
    "[database]\n"
    "sql_conn = sqlite:///dagproc.db\n"
    "pool_size = 5\n"
    "max_overflow = 10\n"
    "pool_timeout = 30             ; seconds to wait for a free connection\n"
    "pool_pre_ping = true\n"
    "pool_recycle = 1800           ; seconds; 0 = never\n"
    "max_db_retries = 3            ; quick attempts per write before backing off\n"
    "retry_backoff_max = 30        ; seconds; cap of the exponential backoff with jitter\n"
    "connect_timeout = 10\n"
    "statement_timeout = 30\n"
    "once_timeout = 60\n"
    "sql_conn_file =               ; read sql_conn from this file (container secrets)\n"
    "sql_conn_cmd =                ; or from this command's output (as Airflow's _CMD settings)\n"
    "\n"
    "[dag_processor]\n"
    "refresh_interval = 300        ; full rescan of every bundle even with file watching\n"
    "min_file_process_interval = 30\n"
    "dag_file_processor_timeout = 50\n"
    "parsing_processes = 2\n"
    "worker_memory_limit = 512     ; MiB per worker process\n"
    "max_file_size = 10            ; MiB; larger files are an import error\n"
    "stale_dag_threshold = 50\n"
    "file_parsing_sort_mode = modified_time\n"
    "watch = true                  ; inotify: a changed file is reparsed at once\n"
    "instance_name =               ; default hostname:pid; used by several processors on one "
    "database\n"
    "lease_seconds = 30            ; file leases between processors; heartbeat every third\n"
    "\n"
    "[api]\n"
    "enabled = true\n"
    "host = 127.0.0.1\n"
    "port = 8780\n"
    "auth_token =                  ; when set, /api/* needs \"Authorization: Bearer <token>\"\n"
    "allow_unauthenticated = false ; needed to serve /api on a non-loopback host without a "
    "token\n"
    "tls_cert =                    ; HTTPS for the API when both are set\n"
    "tls_key =\n"
    "\n"
    "[logging]\n"
    "level = info\n"
    "format = text                 ; text or json\n";

static char tmpdir[64];
static char cfgpath[128];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dagproc-test-config-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(cfgpath, sizeof(cfgpath), "%s/dagproc.cfg", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(cfgpath);
	rmdir(tmpdir);
	return 0;
}

static void write_cfg(const char *text)
{
	FILE *f = fopen(cfgpath, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads text as an INI file over the defaults; returns the error or NULL. */
static char *load_text(struct dagproc_config *cfg, const char *text)
{
	char *err = NULL;
	write_cfg(text);
	if (config_load_file(cfg, cfgpath, &err) == 0)
		return NULL;
	assert_non_null(err);
	return err;
}

/* The error of loading text, with the temporary path replaced by "F". */
static char *load_error(const char *text)
{
	struct dagproc_config *cfg = config_new();
	char *err = load_text(cfg, text);
	config_free(cfg);
	assert_non_null(err);
	size_t n = strlen(cfgpath);
	assert_memory_equal(err, cfgpath, n);
	memmove(err + 1, err + n, strlen(err + n) + 1);
	err[0] = 'F';
	return err;
}

static void assert_load_error(const char *text, const char *expected)
{
	char *err = load_error(text);
	assert_string_equal(err, expected);
	free(err);
}

static char *set_error(const char *section, const char *key, const char *value)
{
	struct dagproc_config *cfg = config_new();
	char *err = NULL;
	int rc = config_set(cfg, section, key, value, &err);
	config_free(cfg);
	if (rc == 0)
		return NULL;
	assert_non_null(err);
	return err;
}

static void assert_set_error(const char *section, const char *key, const char *value,
                             const char *expected)
{
	char *err = set_error(section, key, value);
	if (!err)
		fail_msg("[%s] %s = '%s' was accepted", section, key, value);
	assert_string_equal(err, expected);
	free(err);
}

static void assert_defaults(const struct dagproc_config *c)
{
	assert_string_equal(c->core.dags_folder, "./dags");
	assert_int_equal(c->core.bundles.n, 0);
	assert_int_equal(c->core.operator_catalog.n, 0);
	assert_int_equal(c->core.unchecked_operator_modules.n, 0);
	assert_int_equal(c->core.pools.n, 1);
	assert_string_equal(c->core.pools.v[0], "default_pool");
	assert_false(c->core.strict_catalog);
	assert_string_equal(c->database.sql_conn, "sqlite:///dagproc.db");
	assert_int_equal(c->database.pool_size, 5);
	assert_int_equal(c->database.max_overflow, 10);
	assert_true(c->database.pool_timeout == 30.0);
	assert_true(c->database.pool_pre_ping);
	assert_int_equal(c->database.pool_recycle, 1800);
	assert_int_equal(c->database.max_db_retries, 3);
	assert_int_equal(c->database.retry_backoff_max, 30);
	assert_int_equal(c->database.connect_timeout, 10);
	assert_int_equal(c->database.statement_timeout, 30);
	assert_int_equal(c->database.once_timeout, 60);
	assert_int_equal(c->dag_processor.refresh_interval, 300);
	assert_int_equal(c->dag_processor.min_file_process_interval, 30);
	assert_int_equal(c->dag_processor.dag_file_processor_timeout, 50);
	assert_int_equal(c->dag_processor.parsing_processes, 2);
	assert_int_equal(c->dag_processor.worker_memory_limit, 512);
	assert_int_equal(c->dag_processor.max_file_size, 10);
	assert_int_equal(c->dag_processor.stale_dag_threshold, 50);
	assert_int_equal(c->dag_processor.file_parsing_sort_mode, CONFIG_SORT_MODIFIED_TIME);
	assert_true(c->dag_processor.watch);
	assert_string_equal(c->dag_processor.instance_name, "");
	assert_int_equal(c->dag_processor.lease_seconds, 30);
	assert_string_equal(c->dag_processor.status_file, "");
	assert_string_equal(c->database.schema, "");
	assert_true(c->api.enabled);
	assert_string_equal(c->api.host, "127.0.0.1");
	assert_int_equal(c->api.port, 8780);
	assert_string_equal(c->api.auth_token, "");
	assert_int_equal(c->logging.level, LOG_INFO);
	assert_int_equal(c->logging.format, LOG_FORMAT_TEXT);
}

static void test_defaults(void **state)
{
	(void)state;
	struct dagproc_config *c = config_new();
	assert_defaults(c);
	assert_null(c->path);
	config_free(c);
}

static void test_table(void **state)
{
	(void)state;
	size_t n;
	const struct config_setting *t = config_settings(&n);
	assert_int_equal(n, 45);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i].help);
		assert_true(strlen(t[i].help) > 5);
		assert_ptr_equal(config_find(t[i].section, t[i].key), &t[i]);
		for (size_t j = 0; j < i; j++)
			assert_false(strcmp(t[i].section, t[j].section) == 0 &&
			             strcmp(t[i].key, t[j].key) == 0);
	}
	assert_ptr_equal(config_find("DATABASE", "Pool_Size"),
	                 config_find("database", "pool_size"));
	assert_null(config_find("database", "nope"));
	assert_true(config_find("logging", "level")->flags & CONFIG_RELOADABLE);
	assert_false(config_find("api", "port")->flags & CONFIG_RELOADABLE);
	assert_true(config_find("api", "auth_token")->flags & CONFIG_SECRET);
}

static void test_spec_example_with_inline_comments(void **state)
{
	(void)state;
	struct dagproc_config *c = config_new();
	char *err = load_text(c, spec_example);
	assert_null(err);
	assert_defaults(c);
	assert_string_equal(c->path, cfgpath);
	config_free(c);
}

static void test_file_values(void **state)
{
	(void)state;
	struct dagproc_config *c = config_new();
	char *err = load_text(c, "; leading comment\n"
	                         "# hash comment\n"
	                         "[database]\n"
	                         "pool_size = 7 ; comment\n"
	                         "  pool_timeout = 2.5\n"
	                         "sql_conn = postgresql://u:p;w@db/x ; ';' inside a word stays\n"
	                         "POOL_PRE_PING = off\n"
	                         "[Logging]\n"
	                         "level = WARNING\n"
	                         "format = json\n"
	                         "[dag_processor]\n"
	                         "file_parsing_sort_mode = alphabetical\n"
	                         "watch = no\n"
	                         "[core]\n"
	                         "pools = default_pool, etl ,, gpu ,\n"
	                         "bundles = team-a = /srv/a, team-b=/srv/b\n"
	                         "[api]\n"
	                         "port = 9000\n"
	                         "auth_token = s3cret-token\n");
	assert_null(err);
	assert_int_equal(c->database.pool_size, 7);
	assert_true(c->database.pool_timeout == 2.5);
	assert_string_equal(c->database.sql_conn, "postgresql://u:p;w@db/x");
	assert_false(c->database.pool_pre_ping);
	assert_int_equal(c->logging.level, LOG_WARNING);
	assert_int_equal(c->logging.format, LOG_FORMAT_JSON);
	assert_int_equal(c->dag_processor.file_parsing_sort_mode, CONFIG_SORT_ALPHABETICAL);
	assert_false(c->dag_processor.watch);
	assert_int_equal(c->core.pools.n, 3);
	assert_string_equal(c->core.pools.v[0], "default_pool");
	assert_string_equal(c->core.pools.v[1], "etl");
	assert_string_equal(c->core.pools.v[2], "gpu");
	assert_int_equal(c->core.bundles.n, 2);
	assert_string_equal(c->core.bundles.v[0].name, "team-a");
	assert_string_equal(c->core.bundles.v[0].path, "/srv/a");
	assert_string_equal(c->core.bundles.v[1].name, "team-b");
	assert_string_equal(c->core.bundles.v[1].path, "/srv/b");
	assert_int_equal(c->api.port, 9000);
	assert_string_equal(c->api.auth_token, "s3cret-token");
	/* untouched settings keep their defaults */
	assert_int_equal(c->database.max_overflow, 10);
	config_free(c);
}

static void test_long_line(void **state)
{
	(void)state;
	char path[600], text[700];
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[core]\ndags_folder = %s\n[api]\nport = 1234\n", path);
	struct dagproc_config *c = config_new();
	char *err = load_text(c, text);
	assert_null(err);
	assert_string_equal(c->core.dags_folder, path);
	assert_int_equal(c->api.port, 1234);
	config_free(c);
}

static void test_file_errors(void **state)
{
	(void)state;
	assert_load_error("[core]\npools = a\n\n\n\n[database]\npool_sise = 5\n",
	                  "F:7: unknown key [database] pool_sise (did you mean pool_size?)");
	assert_load_error("[database]\npool_size = many ; comment\n",
	                  "F:2: [database] pool_size: 'many' is not an integer");
	assert_load_error("[databse]\nsql_conn = sqlite://\n",
	                  "F:2: unknown section [databse] (did you mean [database] sql_conn?)");
	assert_load_error("[databse]\nfoo = 1\n",
	                  "F:2: unknown section [databse] (did you mean [database]?)");
	assert_load_error("[core]\npool_size = 3\n",
	                  "F:2: unknown key [core] pool_size (did you mean [database] pool_size?)");
	assert_load_error("[database]\nsql_alchemy_conn = sqlite://\n",
	                  "F:2: unknown key [database] sql_alchemy_conn (did you mean sql_conn?)");
	assert_load_error("[api]\nzzzzzz = 1\n", "F:2: unknown key [api] zzzzzz");
	assert_load_error("port = 1\n", "F:1: key 'port' outside any [section]");
	assert_load_error("[api]\nport = 80\nthis is not ini\nport = 0\n",
	                  "F:3: syntax error: expected '[section]' or 'key = value'");
	assert_load_error("[api]\nport = 0\nthis is not ini\n",
	                  "F:2: [api] port: 0 is out of range (1-65535)");
	assert_load_error("[logging]\nformat = xml\n",
	                  "F:2: [logging] format: 'xml' is not one of text, json");
	assert_load_error("[database]\nsql_conn = oracle://scott:tiger@db/orcl\n",
	                  "F:2: [database] sql_conn: invalid database URL "
	                  "'oracle://***': unsupported database "
	                  "(expected sqlite, postgresql or mysql)");
}

static void test_value_errors(void **state)
{
	(void)state;
	assert_set_error("api", "port", "65536", "[api] port: 65536 is out of range (1-65535)");
	assert_set_error("api", "port", "80x", "[api] port: '80x' is not an integer");
	assert_set_error("api", "port", "", "[api] port: '' is not an integer");
	assert_set_error("database", "pool_size", "0",
	                 "[database] pool_size: 0 must be at least 1");
	assert_set_error("database", "pool_size", "-3",
	                 "[database] pool_size: -3 must be at least 1");
	assert_set_error("database", "pool_size", "99999999999999999999",
	                 "[database] pool_size: 99999999999999999999 is too large");
	assert_set_error("database", "pool_timeout", "soon",
	                 "[database] pool_timeout: 'soon' is not a number");
	assert_set_error("database", "pool_timeout", "-1",
	                 "[database] pool_timeout: -1 must be at least 0");
	assert_set_error("dag_processor", "parsing_processes", "0",
	                 "[dag_processor] parsing_processes: 0 is out of range (1-1024)");
	assert_set_error("dag_processor", "max_file_size", "0",
	                 "[dag_processor] max_file_size: 0 must be at least 1");
	assert_set_error("dag_processor", "watch", "maybe",
	                 "[dag_processor] watch: 'maybe' is not a boolean (true or false)");
	assert_set_error("dag_processor", "file_parsing_sort_mode", "newest",
	                 "[dag_processor] file_parsing_sort_mode: 'newest' is not one of "
	                 "modified_time, random_seeded_by_host, alphabetical");
	assert_set_error("logging", "level", "loud",
	                 "[logging] level: 'loud' is not one of debug, info, warning, error");
	assert_set_error("core", "dags_folder", "  ", "[core] dags_folder: must not be empty");
	assert_set_error("core", "bundles", "a=/x, b", "[core] bundles: 'b' is not name=path");
	assert_set_error("core", "bundles", "a=/x, =/y", "[core] bundles: '=/y' is not name=path");
	assert_set_error("core", "bundles", "a=/x, a=/y",
	                 "[core] bundles: bundle 'a' is defined twice");
	assert_set_error("core", "bundles", "dags-folder=/x",
	                 "[core] bundles: the bundle name 'dags-folder' is reserved for [core] "
	                 "dags_folder");
	assert_set_error("core", "nope", "1", "unknown key [core] nope");
	/* a password never appears in an error */
	char *err = set_error("database", "sql_conn", "postgresql://u:topsecret@h:99999/db");
	assert_non_null(err);
	assert_null(strstr(err, "topsecret"));
	assert_string_equal(err, "[database] sql_conn: invalid database URL "
	                         "'postgresql://***': the port is not a number between 1 and "
	                         "65535 (an unencoded '@' or '/' in the password? write them as "
	                         "%40 and %2F)");
	free(err);
}

static void test_set_keeps_old_value_on_error(void **state)
{
	(void)state;
	struct dagproc_config *c = config_new();
	char *err = NULL;
	assert_int_equal(config_set(c, "core", "pools", "a,b", &err), 0);
	assert_int_equal(config_set(c, "api", "port", "nope", &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(config_set(c, "core", "bundles", "x=/x", &err), 0);
	assert_int_equal(config_set(c, "core", "bundles", "x=/x,x=/y", &err), -1);
	free(err);
	assert_int_equal(c->api.port, 8780);
	assert_int_equal(c->core.bundles.n, 1);
	assert_string_equal(c->core.bundles.v[0].path, "/x");
	assert_int_equal(c->core.pools.n, 2);
	/* empty list */
	assert_int_equal(config_set(c, "core", "pools", " , ", &err), 0);
	assert_int_equal(c->core.pools.n, 0);
	/* booleans in their usual spellings */
	const char *yes[] = {"true", "TRUE", "yes", "On", "1"};
	const char *no[] = {"false", "No", "off", "0"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(config_set(c, "api", "enabled", yes[i], &err), 0);
		assert_true(c->api.enabled);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(config_set(c, "api", "enabled", no[i], &err), 0);
		assert_false(c->api.enabled);
	}
	config_free(c);
}

static void test_env(void **state)
{
	(void)state;
	struct dagproc_config *c = config_new();
	char *err = NULL;
	char *env[] = {"HOME=/root",
	               "DAGPROC_CONFIG=/nonexistent", /* not a setting */
	               "DAGPROC__DATABASE__POOL_SIZE=9",
	               "DAGPROC__CORE__POOLS=a, b",
	               "DAGPROC__LOGGING__FORMAT=json",
	               NULL};
	assert_int_equal(config_apply_env(c, env, &err), 0);
	assert_int_equal(c->database.pool_size, 9);
	assert_int_equal(c->core.pools.n, 2);
	assert_int_equal(c->logging.format, LOG_FORMAT_JSON);

	char *bad1[] = {"DAGPROC__DATABASE__POOL_SISE=9", NULL};
	assert_int_equal(config_apply_env(c, bad1, &err), -1);
	assert_string_equal(err,
	                    "environment variable DAGPROC__DATABASE__POOL_SISE: unknown key "
	                    "[database] pool_sise (did you mean DAGPROC__DATABASE__POOL_SIZE?)");
	free(err);
	char *bad2[] = {"DAGPROC__API__PORT=70000", NULL};
	assert_int_equal(config_apply_env(c, bad2, &err), -1);
	assert_string_equal(err, "environment variable DAGPROC__API__PORT: [api] port: 70000 is "
	                         "out of range (1-65535)");
	free(err);
	char *bad3[] = {"DAGPROC__PORT=1", NULL};
	assert_int_equal(config_apply_env(c, bad3, &err), -1);
	assert_string_equal(err, "environment variable DAGPROC__PORT: expected "
	                         "DAGPROC__<SECTION>__<KEY>");
	free(err);
	config_free(c);
}

static void test_load_chain(void **state)
{
	(void)state;
	char *err = NULL;
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));

	/* explicit file, then environment over it, then the command line */
	write_cfg("[database]\npool_size = 7\nmax_overflow = 1\n[api]\nport = 9000\n");
	setenv("DAGPROC__DATABASE__POOL_SIZE", "8", 1);
	struct dagproc_config *c = config_load(cfgpath, &err);
	assert_non_null(c);
	assert_int_equal(c->database.pool_size, 8);
	assert_int_equal(c->database.max_overflow, 1);
	assert_int_equal(c->api.port, 9000);
	assert_int_equal(config_set(c, "database", "sql_conn", "mysql://u:pw@h/db", &err), 0);
	assert_int_equal(config_set(c, "database", "pool_size", "2", &err), 0);
	assert_int_equal(c->database.pool_size, 2);
	assert_string_equal(c->database.sql_conn, "mysql://u:pw@h/db");

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_dump(c, f);
	fclose(f);
	assert_null(strstr(buf, ":pw@"));
	assert_non_null(strstr(buf, "sql_conn = mysql://u:***@h/db  ; from command line\n"));
	assert_non_null(strstr(buf, "pool_size = 2  ; from command line\n"));
	assert_non_null(strstr(buf, "once_timeout = 60\n"));
	assert_non_null(strstr(buf, "\nbundles =\n"));
	char *line = NULL;
	assert_true(asprintf(&line, "max_overflow = 1  ; from %s:3\n", cfgpath) > 0);
	assert_non_null(strstr(buf, line));
	free(line);
	free(buf);
	config_free(c);
	unsetenv("DAGPROC__DATABASE__POOL_SIZE");

	/* $DAGPROC_CONFIG names the file */
	setenv("DAGPROC_CONFIG", cfgpath, 1);
	c = config_load(NULL, &err);
	assert_non_null(c);
	assert_int_equal(c->database.pool_size, 7);
	config_free(c);

	/* a named file that is missing is an error, from the flag or the variable */
	setenv("DAGPROC_CONFIG", "/nonexistent/x.cfg", 1);
	assert_null(config_load(NULL, &err));
	assert_string_equal(
	    err, "cannot read config file /nonexistent/x.cfg: No such file or directory");
	free(err);
	assert_null(config_load("/nonexistent/y.cfg", &err));
	assert_string_equal(
	    err, "cannot read config file /nonexistent/y.cfg: No such file or directory");
	free(err);
	unsetenv("DAGPROC_CONFIG");

	/* ./dagproc.cfg is read when present, and optional */
	assert_int_equal(chdir(tmpdir), 0);
	c = config_load(NULL, &err);
	assert_non_null(c);
	assert_int_equal(c->api.port, 9000);
	assert_string_equal(c->path, "dagproc.cfg");
	config_free(c);
	unlink(cfgpath);
	c = config_load(NULL, &err);
	assert_non_null(c);
	assert_defaults(c);
	assert_null(c->path);
	config_free(c);
	assert_int_equal(chdir(cwd), 0);

	/* environment errors fail the load */
	setenv("DAGPROC__API__PORTT", "1", 1);
	assert_null(config_load(NULL, &err));
	assert_string_equal(err, "environment variable DAGPROC__API__PORTT: unknown key [api] "
	                         "portt (did you mean DAGPROC__API__PORT?)");
	free(err);
	unsetenv("DAGPROC__API__PORTT");
}

static void test_describe(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0, n;
	FILE *f = open_memstream(&buf, &len);
	config_describe(f);
	fclose(f);
	const struct config_setting *t = config_settings(&n);
	for (size_t i = 0; i < n; i++) {
		char *want = NULL;
		assert_true(asprintf(&want, "  %s =%s%s\n      %s\n", t[i].key,
		                     *t[i].def ? " " : "", t[i].def, t[i].help) > 0);
		assert_non_null(strstr(buf, want));
		free(want);
	}
	assert_non_null(strstr(buf, "[dag_processor]\n"));
	assert_non_null(strstr(buf, "env DAGPROC__DATABASE__POOL_SIZE; restart to change\n"));
	assert_non_null(strstr(buf, "choice: text|json; env DAGPROC__LOGGING__FORMAT; reloadable"));
	assert_non_null(strstr(buf, "integer 1-65535; env DAGPROC__API__PORT"));
	free(buf);
}

static void test_dump_roundtrip_and_masking(void **state)
{
	(void)state;
	struct dagproc_config *c = config_new(), *d = config_new();
	char *err = NULL;
	assert_int_equal(config_set(c, "api", "auth_token", "tok-abcdef", &err), 0);
	assert_int_equal(config_set(c, "core", "bundles", "a=/x, b=/y", &err), 0);
	assert_int_equal(config_set(c, "core", "pools", "p1,p2", &err), 0);
	assert_int_equal(config_set(c, "database", "pool_timeout", "2.5", &err), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_dump(c, f);
	fclose(f);
	assert_null(strstr(buf, "tok-abcdef"));
	assert_non_null(strstr(buf, "auth_token = ***  ; from command line\n"));
	assert_non_null(strstr(buf, "bundles = a=/x, b=/y  ; from command line\n"));
	/* the dump is a valid config file meaning the same (secrets aside) */
	char *loaded = load_text(d, buf);
	assert_null(loaded);
	assert_int_equal(d->core.bundles.n, 2);
	assert_string_equal(d->core.bundles.v[1].path, "/y");
	assert_int_equal(d->core.pools.n, 2);
	assert_true(d->database.pool_timeout == 2.5);
	free(buf);
	config_free(c);
	config_free(d);
}

static void test_reload_conflicts(void **state)
{
	(void)state;
	struct dagproc_config *a = config_new(), *b = config_new();
	char *err = NULL;
	assert_null(config_reload_conflicts(a, b));
	assert_int_equal(config_set(b, "logging", "level", "debug", &err), 0);
	assert_int_equal(config_set(b, "dag_processor", "stale_dag_threshold", "7", &err), 0);
	assert_null(config_reload_conflicts(a, b));
	assert_int_equal(config_set(b, "api", "port", "1", &err), 0);
	assert_int_equal(config_set(b, "database", "sql_conn", "sqlite:///other.db", &err), 0);
	/* the workers' settings are fixed when they start */
	assert_int_equal(config_set(b, "core", "pools", "x", &err), 0);
	char *s = config_reload_conflicts(a, b);
	assert_string_equal(s, "[core] pools, [database] sql_conn, [api] port");
	free(s);
	config_free(a);
	config_free(b);
}

/* ---- secrets kept elsewhere (issue 10) ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_secret_sources(void **state)
{
	(void)state;
	char sec[256], line[600], *err = NULL;
	snprintf(sec, sizeof sec, "%s/db-secret", tmpdir);
	write_file(sec, "postgresql://u:s3cr3t@db/x\n\n", 0600);

	/* sql_conn_file in the file: the URL comes from the secret file */
	struct dagproc_config *c = config_new();
	snprintf(line, sizeof line, "[database]\nsql_conn_file = %s\n", sec);
	assert_null(load_text(c, line));
	assert_int_equal(config_resolve_secrets(c, &err), 0);
	assert_string_equal(c->database.sql_conn, "postgresql://u:s3cr3t@db/x");
	FILE *f = tmpfile();
	config_dump(c, f);
	char buf[4096] = {0};
	rewind(f);
	assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
	fclose(f);
	assert_null(strstr(buf, "s3cr3t"));
	assert_non_null(strstr(buf, "sql_conn = postgresql://u:***@db/x  ; from sql_conn_file "));
	config_free(c);

	/* sql_conn_cmd from the environment, auth_token_cmd likewise */
	c = config_new();
	char *env[] = {"DAGPROC__DATABASE__SQL_CONN_CMD=printf 'mysql://a:%s@h/d\\n' p",
	               "DAGPROC__API__AUTH_TOKEN_CMD=echo tok-1234", NULL};
	assert_int_equal(config_apply_env(c, env, &err), 0);
	assert_int_equal(config_resolve_secrets(c, &err), 0);
	assert_string_equal(c->database.sql_conn, "mysql://a:p@h/d");
	assert_string_equal(c->api.auth_token, "tok-1234");
	config_free(c);

	/* the more specific place wins: environment over the file */
	c = config_new();
	assert_null(load_text(c, "[database]\nsql_conn = sqlite:///from-file.db\n"));
	char *env2[] = {(char[300]){0}, NULL};
	snprintf(env2[0], 300, "DAGPROC__DATABASE__SQL_CONN_FILE=%s", sec);
	assert_int_equal(config_apply_env(c, env2, &err), 0);
	assert_int_equal(config_resolve_secrets(c, &err), 0);
	assert_string_equal(c->database.sql_conn, "postgresql://u:s3cr3t@db/x");
	/* and the command line over both */
	assert_int_equal(config_set(c, "database", "sql_conn", "sqlite:///cli.db", &err), 0);
	assert_string_equal(c->database.sql_conn, "sqlite:///cli.db");
	config_free(c);

	/* errors: two in one place, unreadable, empty, failing or bad output */
	static const struct {
		const char *ini;
		const char *want;
	} bad[] = {
	    {"[database]\nsql_conn = sqlite:///x.db\nsql_conn_cmd = echo sqlite://\n",
	     "[database] sql_conn and [database] sql_conn_cmd are both set; set only one"},
	    {"[database]\nsql_conn_file = /nonexistent/secret\n",
	     "[database] sql_conn_file: cannot read /nonexistent/secret: No such file or "
	     "directory"},
	    {"[database]\nsql_conn_cmd = true\n",
	     "[database] sql_conn_cmd: the command printed nothing"},
	    {"[database]\nsql_conn_cmd = echo postgresql://u:hunter2@h/d; exit 3\n",
	     "[database] sql_conn_cmd: the command exited with status 3"},
	    {"[database]\nsql_conn_cmd = echo postgresql://u:hunter2@h:port/d\n",
	     "[database] sql_conn_cmd: invalid database URL 'postgresql://***': the port is not "
	     "a number between 1 and 65535 (an unencoded '@' or '/' in the password? write them "
	     "as %40 and %2F)"},
	    {"[api]\nauth_token = a\nauth_token_file = /x\n",
	     "[api] auth_token and [api] auth_token_file are both set; set only one"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = config_new();
		assert_null(load_text(c, bad[i].ini));
		err = NULL;
		assert_int_equal(config_resolve_secrets(c, &err), -1);
		assert_string_equal(err, bad[i].want);
		assert_null(strstr(err, "hunter2"));
		free(err);
		config_free(c);
	}
	unlink(sec);
}

/* A configuration file that holds a password and that others can read gets a warning. */
static void test_exposure_warning(void **state)
{
	(void)state;
	struct dagproc_config *c = config_new();
	assert_null(load_text(c, "[database]\nsql_conn = postgresql://u:pw@h/db\n"));
	assert_int_equal(chmod(cfgpath, 0644), 0);
	char *w = config_exposure_warning(c);
	assert_non_null(w);
	char want[512];
	snprintf(want, sizeof want,
	         "%s holds a database password ([database] sql_conn) and other users can read "
	         "it (mode 0644): chmod 600 %s, or keep the secret in [database] sql_conn_file / "
	         "[api] auth_token_file",
	         cfgpath, cfgpath);
	assert_string_equal(w, want);
	assert_null(strstr(w, "pw@"));
	free(w);
	assert_int_equal(chmod(cfgpath, 0600), 0);
	assert_null(config_exposure_warning(c));
	config_free(c);
	/* no password: nothing to say, whatever the mode */
	c = config_new();
	assert_null(load_text(c, "[database]\nsql_conn = postgresql://u@h/db\n"));
	assert_int_equal(chmod(cfgpath, 0644), 0);
	assert_null(config_exposure_warning(c));
	config_free(c);
	c = config_new();
	assert_null(load_text(c, "[api]\nauth_token = t0ken\n"));
	assert_int_equal(chmod(cfgpath, 0640), 0);
	w = config_exposure_warning(c);
	assert_non_null(w);
	assert_non_null(strstr(w, "holds the API token ([api] auth_token) and other users can read "
	                          "it (mode 0640)"));
	free(w);
	config_free(c);
}

/* ---- database URLs ---- */

static void test_url_sqlite(void **state)
{
	(void)state;
	struct db_url u;
	char *err = NULL;
	assert_int_equal(config_parse_db_url("sqlite:///relative.db", &u, &err), 0);
	assert_int_equal(u.dialect, DB_SQLITE);
	assert_string_equal(u.path, "relative.db");
	assert_null(u.host);
	assert_int_equal(u.port, 0);
	db_url_free(&u);
	assert_int_equal(
	    config_parse_db_url("sqlite:////var/lib/dagproc/abs.db?timeout=5", &u, &err), 0);
	assert_string_equal(u.path, "/var/lib/dagproc/abs.db");
	assert_string_equal(db_url_param(&u, "timeout"), "5");
	db_url_free(&u);
	assert_int_equal(config_parse_db_url("sqlite://", &u, &err), 0);
	assert_string_equal(u.path, ":memory:");
	db_url_free(&u);
	assert_int_equal(config_parse_db_url("sqlite+pysqlite:///:memory:", &u, &err), 0);
	assert_string_equal(u.path, ":memory:");
	assert_string_equal(u.driver, "pysqlite");
	db_url_free(&u);
	assert_int_equal(config_parse_db_url("sqlite://host/x.db", &u, &err), -1);
	assert_string_equal(err, "invalid database URL 'sqlite://***': sqlite URLs take no "
	                         "host, user or port: use sqlite:///relative.db or "
	                         "sqlite:////absolute/path.db");
	free(err);
}

static void test_url_postgresql(void **state)
{
	(void)state;
	struct db_url u;
	char *err = NULL;
	assert_int_equal(config_parse_db_url("postgresql://air%40flow:p%3Ass%2Fw@db.example:6543/"
	                                     "airflow?sslmode=require&application_name=dag+proc",
	                                     &u, &err),
	                 0);
	assert_int_equal(u.dialect, DB_POSTGRESQL);
	assert_null(u.driver);
	assert_string_equal(u.user, "air@flow");
	assert_string_equal(u.password, "p:ss/w");
	assert_string_equal(u.host, "db.example");
	assert_int_equal(u.port, 6543);
	assert_string_equal(u.database, "airflow");
	assert_int_equal(u.n_params, 2);
	assert_string_equal(db_url_param(&u, "sslmode"), "require");
	assert_string_equal(db_url_param(&u, "application_name"), "dag proc");
	assert_null(db_url_param(&u, "nope"));
	db_url_free(&u);

	const char *aliases[] = {"postgres://u@h/d", "postgresql+psycopg2://u@h/d",
	                         "POSTGRESQL://u@h/d"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(config_parse_db_url(aliases[i], &u, &err), 0);
		assert_int_equal(u.dialect, DB_POSTGRESQL);
		assert_int_equal(u.port, 5432);
		assert_string_equal(u.user, "u");
		assert_null(u.password);
		assert_string_equal(u.host, "h");
		assert_string_equal(u.database, "d");
		db_url_free(&u);
	}
	/* a password may hold '/', '?' and ':' unencoded, as in SQLAlchemy */
	assert_int_equal(config_parse_db_url("postgresql://u:a/b?c:d@h/db", &u, &err), 0);
	assert_string_equal(u.password, "a/b?c:d");
	assert_string_equal(u.host, "h");
	assert_string_equal(u.database, "db");
	db_url_free(&u);
	/* local socket, no host; IPv6 */
	assert_int_equal(
	    config_parse_db_url("postgresql:///airflow?host=/run/postgresql", &u, &err), 0);
	assert_null(u.host);
	assert_null(u.user);
	assert_string_equal(u.database, "airflow");
	assert_string_equal(db_url_param(&u, "host"), "/run/postgresql");
	db_url_free(&u);
	assert_int_equal(config_parse_db_url("postgresql://u:p@[::1]:5433/db", &u, &err), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 5433);
	db_url_free(&u);
	/* user only, host with an '@' in the user name */
	assert_int_equal(config_parse_db_url("postgresql://me@corp@h:1/db", &u, &err), 0);
	assert_string_equal(u.user, "me@corp");
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 1);
	db_url_free(&u);
}

static void test_url_mysql(void **state)
{
	(void)state;
	struct db_url u;
	char *err = NULL;
	const char *aliases[] = {"mysql://root:pw@127.0.0.1/dagproc",
	                         "mariadb://root:pw@127.0.0.1/dagproc",
	                         "mysql+pymysql://root:pw@127.0.0.1/dagproc",
	                         "mysql+mysqldb://root:pw@127.0.0.1/dagproc?charset=utf8mb4"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(config_parse_db_url(aliases[i], &u, &err), 0);
		assert_int_equal(u.dialect, DB_MYSQL);
		assert_int_equal(u.port, 3306);
		assert_string_equal(u.user, "root");
		assert_string_equal(u.password, "pw");
		assert_string_equal(u.host, "127.0.0.1");
		assert_string_equal(u.database, "dagproc");
		db_url_free(&u);
	}
	assert_int_equal(config_parse_db_url("mysql://u:@h:3307/d", &u, &err), 0);
	assert_string_equal(u.password, "");
	assert_int_equal(u.port, 3307);
	db_url_free(&u);
	assert_string_equal(db_dialect_name(DB_MYSQL), "mysql");
	assert_string_equal(db_dialect_name(DB_POSTGRESQL), "postgresql");
	assert_string_equal(db_dialect_name(DB_SQLITE), "sqlite");
}

static void assert_url_error(const char *url, const char *expected)
{
	struct db_url u;
	char *err = NULL;
	assert_int_equal(config_parse_db_url(url, &u, &err), -1);
	assert_string_equal(err, expected);
	free(err);
	assert_null(u.user);
	assert_null(u.password);
}

static void test_url_errors(void **state)
{
	(void)state;
	static const char port_why[] = "the port is not a number between 1 and 65535 (an "
	                               "unencoded '@' or '/' in the password? write them as %40 "
	                               "and %2F)";
	char want[512];
	assert_url_error("", "invalid database URL '': empty URL");
	assert_url_error("dagproc.db", "invalid database URL '***': expected dialect://..., "
	                               "e.g. postgresql://user:pass@host:5432/db or "
	                               "sqlite:///dagproc.db");
	assert_url_error("mssql://sa:pw@h/db", "invalid database URL 'mssql://***': "
	                                       "unsupported database (expected sqlite, "
	                                       "postgresql or mysql)");
	snprintf(want, sizeof want, "invalid database URL 'postgresql://***': %s", port_why);
	assert_url_error("postgresql://u:secret@h:abc/db", want);
	assert_url_error("postgresql://u:secret@h:0/db", want);
	/* issue 10: a URL that does not parse is printed as its scheme only */
	assert_url_error("postgresql://u:Secret@host:notaport/db", want);
	/* an unencoded '@' in the password: the rest of it would be the host or port */
	assert_url_error("postgresql://u:p@ss:word@host/db", want);
	assert_url_error("postgresql://u:p@ss@host/db",
	                 "invalid database URL 'postgresql://***': '@' in the host name: write "
	                 "an '@' of the user name or password as %40");
	assert_url_error("postgresql://u:p@[::1/db", "invalid database URL "
	                                             "'postgresql://***': unterminated "
	                                             "'[' in IPv6 host");
	assert_url_error("postgresql://u:p%00x@h/db",
	                 "invalid database URL 'postgresql://***': password contains %00");
	assert_url_error("mysql://h/db?=x", "invalid database URL 'mysql://***': malformed "
	                                    "query string");
	assert_url_error("mysql://u:secret@[::1]x/db",
	                 "invalid database URL 'mysql://***': unexpected text after the host");
	assert_url_error("p%sql://u:secret@h/db", "invalid database URL '***': unsupported "
	                                          "database (expected sqlite, postgresql or "
	                                          "mysql)");
}

/* SPEC §2: query parameters are connection options; an unknown one, a bad
 * value or a repeated one is an error naming it, with the URL as printed
 * everywhere (password masked). */
static void test_url_params(void **state)
{
	(void)state;
	struct db_url u;
	char *err = NULL;
	static const char *const good[] = {
	    ("postgresql://u:pw@h/db?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem"
	     "&sslkey=/k.pem&sslcrl=/crl.pem&target_session_attrs=read-write"
	     "&application_name=x&options=-c%20search_path%3Dx&keepalives=1&keepalives_idle=5"
	     "&keepalives_interval=2&keepalives_count=3&tcp_user_timeout=9000"),
	    "postgresql:///db?host=/run/postgresql&connect_timeout=3",
	    ("mysql://u:pw@h/db?ssl=true&ssl_ca=/ca.pem&ssl_cert=/c.pem&ssl_key=/k.pem"
	     "&ssl_verify_server_cert=1"),
	    "mysql+mysqldb://u:pw@h/db?ssl_ca=/ca.pem&ssl_check_hostname=false",
	    "mysql+pymysql://u:pw@h/db?ssl_verify_cert=true&ssl_verify_identity=yes",
	    "mysql://u:pw@h/db?ssl_mode=VERIFY_IDENTITY&ssl_ca=/ca.pem&charset=utf8mb4",
	    "mysql://u:pw@localhost/db?unix_socket=/run/mysqld/mysqld.sock",
	    "mysql://u:pw@h/db?ssl=false&ssl_verify_server_cert=false",
	    "sqlite:////x.db?timeout=2.5",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		err = NULL;
		if (config_parse_db_url(good[i], &u, &err) != 0)
			fail_msg("%s: %s", good[i], err);
		db_url_free(&u);
	}
	assert_url_error("postgresql://u:pw@h/db?sslmod=require",
	                 "invalid database URL 'postgresql://u:***@h/db?sslmod=require': "
	                 "unknown connection parameter 'sslmod' for postgresql (did you mean "
	                 "sslmode?)");
	assert_url_error("postgresql://u:pw@h/db?sslmode=verify_full",
	                 "invalid database URL 'postgresql://u:***@h/db?sslmode=verify_full'"
	                 ": connection parameter sslmode: 'verify_full' is not one of disable, "
	                 "allow, prefer, require, verify-ca, verify-full");
	assert_url_error("postgresql://u:pw@h/db?sslmode=require&sslmode=disable",
	                 "invalid database URL 'postgresql://u:***@h/db?sslmode=require&"
	                 "sslmode=disable': connection parameter sslmode is given twice");
	assert_url_error("postgresql://u:pw@h/db?password=pw2",
	                 "invalid database URL 'postgresql://u:***@h/db?password=***': "
	                 "connection parameter password is not accepted: put the password in "
	                 "the URL's user:password@ part");
	assert_url_error("postgresql://u:pw@h/db?keepalives_idle=soon",
	                 "invalid database URL 'postgresql://u:***@h/db?keepalives_idle="
	                 "soon': connection parameter keepalives_idle: 'soon' is not a whole "
	                 "number");
	assert_url_error("mysql://u:pw@h/db?ssl=maybe",
	                 "invalid database URL 'mysql://u:***@h/db?ssl=maybe': connection "
	                 "parameter ssl: 'maybe' is not a boolean (true or false)");
	assert_url_error("mysql://u:pw@h/db?sslmode=require",
	                 "invalid database URL 'mysql://u:***@h/db?sslmode=require': "
	                 "unknown connection parameter 'sslmode' for mysql (did you mean "
	                 "ssl_mode?)");
	assert_url_error("mysql://u:pw@h/db?charset=latin1",
	                 "invalid database URL 'mysql://u:***@h/db?charset=latin1': "
	                 "connection parameter charset: 'latin1' is not one of utf8mb4, utf8, "
	                 "utf8mb3");
	assert_url_error("mysql://u:pw@db.example/db?unix_socket=/s",
	                 "invalid database URL 'mysql://u:***@db.example/db?unix_socket=/s'"
	                 ": connection parameter unix_socket is used only with the host "
	                 "localhost or no host");
	assert_url_error("mysql://u:pw@h/db?ssl=false&ssl_ca=/ca.pem",
	                 "invalid database URL 'mysql://u:***@h/db?ssl=false&ssl_ca=/ca.pem': "
	                 "connection parameter ssl_ca is given, but ssl turns TLS off");
	assert_url_error("mysql://u:pw@h/db?ssl_mode=DISABLED&ssl_verify_server_cert=1",
	                 "invalid database URL 'mysql://u:***@h/db?ssl_mode=DISABLED&"
	                 "ssl_verify_server_cert=1': connection parameter ssl_verify_server_cert "
	                 "is given, but ssl_mode turns TLS off");
	assert_url_error("sqlite:///x.db?mode=ro", "invalid database URL 'sqlite:///x.db?mode=ro'"
	                                           ": unknown connection parameter 'mode' for "
	                                           "sqlite");
	assert_url_error("postgresql://u:pw@h/db?zzzzzzzz=1",
	                 "invalid database URL 'postgresql://u:***@h/db?zzzzzzzz=1': "
	                 "unknown connection parameter 'zzzzzzzz' for postgresql");
}

static void test_url_redacted(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
	    {"postgresql://u:secret@h/db?sslmode=require",
	     "postgresql://u:***@h/db?sslmode=require"},
	    {"mysql://root:a/b?c@h/db", "mysql://root:***@h/db"},
	    {"postgresql://u@h/db", "postgresql://u@h/db"},
	    {"postgresql://u:@h/db", "postgresql://u:@h/db"},
	    {"postgres://a%40b:x@[::1]:6000/d%2Fb", "postgres://a%40b:***@[::1]:6000/d%2Fb"},
	    {"postgresql+psycopg2:///db?host=/run/pg", "postgresql+psycopg2:///db?host=/run/pg"},
	    {"sqlite:////abs/x.db", "sqlite:////abs/x.db"},
	    {"sqlite:///rel.db", "sqlite:///rel.db"},
	    {"sqlite://", "sqlite://"},
	    /* parses (parameters are checked elsewhere): values of password keys masked */
	    {"postgresql://h/db?user=u&password=secret&sslmode=x",
	     "postgresql://h/db?user=u&password=***&sslmode=x"},
	    {"postgresql://u:pw@h/db?PASSWORD=pw2", "postgresql://u:***@h/db?PASSWORD=***"},
	    /* does not parse: the scheme and nothing else */
	    {"postgresql://u:Secret@host:notaport/db", "postgresql://***"},
	    {"postgresql://u:p@ss@host/db", "postgresql://***"},
	    {"not a url", "***"},
	    {"u:secret@host/db", "***"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = db_url_redacted(cases[i][0]);
		assert_string_equal(r, cases[i][1]);
		free(r);
	}
	char *r = db_url_redacted(NULL);
	assert_string_equal(r, "");
	free(r);
}

/* Issue 10: passwords of 1 to 3 characters, in URLs that parse and in URLs that do
 * not: the printed URL never holds the password, and nothing around it is changed. */
static void test_url_short_passwords(void **state)
{
	(void)state;
	static const char *const pw[] = {"p",  "o",   "s",   "t",    "1", "%", "ab", "ql",
	                                 "::", "gre", "abc", "5432", "h", "/", "db"};
	for (size_t i = 0; i < sizeof pw / sizeof pw[0]; i++) {
		char url[128], want[128];
		struct db_url u;
		char *err = NULL;
		/* percent-encode the password the way a user must */
		char enc[32] = "";
		for (const char *c = pw[i]; *c; c++)
			snprintf(enc + strlen(enc), sizeof enc - strlen(enc),
			         strchr("%/:@", *c) ? "%%%02X" : "%c", (unsigned char)*c);
		snprintf(url, sizeof url, "postgresql://dagproc:%s@127.0.0.1:5432/postgres", enc);
		char *r = db_url_redacted(url);
		assert_string_equal(r, "postgresql://dagproc:***@127.0.0.1:5432/postgres");
		free(r);
		assert_int_equal(config_parse_db_url(url, &u, &err), 0);
		assert_string_equal(u.password, pw[i]);
		r = db_url_format(&u);
		assert_string_equal(r, "postgresql://dagproc:***@127.0.0.1:5432/postgres");
		free(r);
		db_url_free(&u);
		/* an error about a URL that does not parse */
		snprintf(url, sizeof url, "mysql://dagproc:%s@127.0.0.1:port/%s", enc, enc);
		assert_int_equal(config_parse_db_url(url, &u, &err), -1);
		snprintf(want, sizeof want, "invalid database URL 'mysql://***': ");
		assert_true(strncmp(err, want, strlen(want)) == 0);
		free(err);
		/* an error about a parameter of a URL that parses */
		snprintf(url, sizeof url, "mysql://dagproc:%s@127.0.0.1/x?ssl=maybe", enc);
		assert_int_equal(config_parse_db_url(url, &u, &err), -1);
		static const char pfx[] = "invalid database URL "
		                          "'mysql://dagproc:***@127.0.0.1/x?ssl=maybe': ";
		assert_true(strncmp(err, pfx, sizeof pfx - 1) == 0);
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test_setup_teardown(test_spec_example_with_inline_comments, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_file_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
	    cmocka_unit_test(test_value_errors),
	    cmocka_unit_test(test_set_keeps_old_value_on_error),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test_setup_teardown(test_load_chain, setup, teardown),
	    cmocka_unit_test(test_describe),
	    cmocka_unit_test_setup_teardown(test_dump_roundtrip_and_masking, setup, teardown),
	    cmocka_unit_test(test_reload_conflicts),
	    cmocka_unit_test_setup_teardown(test_secret_sources, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exposure_warning, setup, teardown),
	    cmocka_unit_test(test_url_sqlite),
	    cmocka_unit_test(test_url_postgresql),
	    cmocka_unit_test(test_url_mysql),
	    cmocka_unit_test(test_url_errors),
	    cmocka_unit_test(test_url_redacted),
	    cmocka_unit_test(test_url_params),
	    cmocka_unit_test(test_url_short_passwords),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
