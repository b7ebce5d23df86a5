/* SQLite backend: WAL mode, busy timeout, statement timeout through the progress
 * handler, native '?' parameters. */
#include "store/store_int.h"
#include "util/xalloc.h"
#include "util/clock.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_err(store_conn *c, int rc, store_error *err)
{
	sqlite3 *db = c->h;
	bool broken = false;
	int ext = db ? sqlite3_extended_errcode(db) : rc;
	if ((ext & 0xff) != (rc & 0xff))
		ext = rc;
	store_class cls = store_classify_sqlite(ext, &broken);
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	/* SQLITE_ERROR covers the schema too: tables or columns missing (the
	 * schema dropped, or older than this binary) is a refusal, not data */
	if ((ext & 0xff) == 1 && msg &&
	    (strncmp(msg, "no such table", 13) == 0 || strncmp(msg, "no such column", 14) == 0 ||
	     strstr(msg, "has no column named")))
		cls = STORE_REFUSED;
	char code[16];
	snprintf(code, sizeof code, "%d", ext);
	store_error_set(err, cls, code, broken, "%s", msg);
}

static int progress(void *ud)
{
	store_conn *c = ud;
	return c->deadline > 0 && clock_mono() > c->deadline;
}

static int sq_exec(store_conn *c, const char *sql, const store_param *params, size_t n,
                   store_row_fn fn, void *ud, store_error *err)
{
	sqlite3 *db = c->h;
	sqlite3_stmt *st = NULL;
	const char **vals = NULL;
	int rc, ret = -1;

	c->deadline = c->stmt_timeout > 0 ? clock_mono() + c->stmt_timeout : 0;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		set_err(c, rc, err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int idx = (int)i + 1;
		switch (params[i].type) {
		case STORE_P_NULL:
			rc = sqlite3_bind_null(st, idx);
			break;
		case STORE_P_INT:
		case STORE_P_BOOL:
			rc = sqlite3_bind_int64(st, idx, params[i].i);
			break;
		case STORE_P_DOUBLE:
			rc = sqlite3_bind_double(st, idx, params[i].d);
			break;
		case STORE_P_TEXT:
			rc = sqlite3_bind_text(st, idx, params[i].s, -1, SQLITE_STATIC);
			break;
		}
		if (rc != SQLITE_OK) {
			set_err(c, rc, err);
			goto out;
		}
	}
	int ncols = sqlite3_column_count(st);
	bool stop = false;
	if (ncols > 0)
		vals = xcalloc((size_t)ncols, sizeof *vals);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!fn || stop)
			continue;
		for (int i = 0; i < ncols; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		if (fn(ud, (size_t)ncols, vals) != 0)
			stop = true;
	}
	if (rc != SQLITE_DONE) {
		set_err(c, rc, err);
		if (rc == SQLITE_INTERRUPT)
			store_error_set(err, STORE_TRANSIENT, "9", false,
			                "statement timeout after %.0f s", c->stmt_timeout);
		goto out;
	}
	c->changes = sqlite3_changes(db);
	ret = 0;
out:
	c->deadline = 0;
	sqlite3_finalize(st);
	free(vals);
	return ret;
}

/* A new database file is created 0600 whatever the umask (it holds what every DAG file
 * says, and is nobody else's business); SQLite gives its -wal and -shm the mode of the
 * database file. An existing file keeps its mode. Failures are left to sqlite3_open_v2,
 * which reports them in its own words. */
static void create_private(const char *path)
{
	if (strcmp(path, ":memory:") == 0 || !*path)
		return;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (fchmod(fd, 0600) != 0)
		log_warn("cannot make %s private (mode 0600): %s", path, strerror(errno));
	close(fd);
}

static int sq_connect(store_conn *c, const store_params *p, store_error *err)
{
	sqlite3 *db = NULL;
	const char *path = p->sqlite_path ? p->sqlite_path : "dagproc.db";
	create_private(path);
	int rc = sqlite3_open_v2(
	    path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	c->h = db;
	if (rc != SQLITE_OK) {
		set_err(c, rc, err);
		err->conn_broken = true;
		return -1;
	}
	sqlite3_extended_result_codes(db, 1);
	c->max_params = (size_t)sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
	sqlite3_busy_timeout(db, (p->lock_timeout > 0 ? p->lock_timeout : 5) * 1000);
	sqlite3_progress_handler(db, 10000, progress, c);
	static const char *const pragmas[] = {
	    "PRAGMA journal_mode = WAL",
	    "PRAGMA synchronous = NORMAL",
	    "PRAGMA foreign_keys = ON",
	};
	for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
		if (sq_exec(c, pragmas[i], NULL, 0, NULL, NULL, err) != 0)
			return -1;
	}
	return 0;
}

static void sq_close(store_conn *c)
{
	sqlite3_close_v2(c->h);
	c->h = NULL;
}

static int sq_txn_state(store_conn *c)
{
	return sqlite3_get_autocommit(c->h) ? 0 : 1;
}

static unsigned long sq_session_id(store_conn *c)
{
	(void)c;
	return 0;
}

static void sq_server_version(store_conn *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "%s", sqlite3_libversion());
}

const struct store_backend store_sqlite_backend = {
    .name = "sqlite",
    .connect = sq_connect,
    .close = sq_close,
    .exec = sq_exec,
    .txn_state = sq_txn_state,
    .session_id = sq_session_id,
    .server_version = sq_server_version,
};
