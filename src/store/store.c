/* Backend-independent half of the store: dispatch, transaction state, error
 * classification, placeholder rewriting and SQL builders. */
#include "store/store_int.h"
#include "util/xalloc.h"
#include "util/clock.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void store_params_defaults(store_params *p, store_dialect d)
{
	memset(p, 0, sizeof *p);
	p->dialect = d;
	p->connect_timeout = 10;
	p->statement_timeout = 30;
	p->pool_size = 5;
	p->max_overflow = 10;
	p->pool_timeout = 30;
	p->pool_pre_ping = true;
	p->pool_recycle = 1800;
	p->max_db_retries = 3;
	p->retry_backoff_max = 30;
}

const char *store_format_ts(double epoch, char *buf, size_t len)
{
	time_t secs = (time_t)epoch;
	long usec = (long)((epoch - (double)secs) * 1e6);
	struct tm tm;
	if (usec < 0)
		usec = 0;
	if (usec > 999999)
		usec = 999999;
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	return buf;
}

void store_error_clear(store_error *err)
{
	if (!err)
		return;
	err->cls = STORE_OK;
	err->code[0] = '\0';
	err->message[0] = '\0';
	err->conn_broken = false;
}

void store_error_set(store_error *err, store_class cls, const char *code, bool broken,
                     const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	err->cls = cls;
	err->conn_broken = broken;
	snprintf(err->code, sizeof err->code, "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	/* one line: drop trailing newlines the client libraries add */
	size_t n = strlen(err->message);
	while (n > 0 && (err->message[n - 1] == '\n' || err->message[n - 1] == ' '))
		err->message[--n] = '\0';
	/* one line: every run of newlines and tabs becomes one space */
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = err->message[i];
		if (ch == '\n' || ch == '\t' || ch == '\r') {
			if (w > 0 && err->message[w - 1] != ' ')
				err->message[w++] = ' ';
			continue;
		}
		if (ch == ' ' && w > 0 && err->message[w - 1] == ' ')
			continue;
		err->message[w++] = ch;
	}
	err->message[w] = '\0';
}

/* ---- classification (issue #3 item 4) ---- */

store_class store_classify_pg(const char *sqlstate, bool conn_bad, bool *broken)
{
	bool br = conn_bad;
	store_class cls = STORE_PERMANENT;
	if (conn_bad || !sqlstate || !sqlstate[0]) {
		/* no result or no SQLSTATE: a connection-level failure in libpq */
		cls = STORE_TRANSIENT;
		br = true;
	} else if (strncmp(sqlstate, "08", 2) == 0) {
		cls = STORE_TRANSIENT; /* connection exception */
		br = true;
	} else if (!strcmp(sqlstate, "57P01") || !strcmp(sqlstate, "57P02") ||
	           !strcmp(sqlstate, "57P03")) {
		/* admin shutdown / terminated, crash shutdown, cannot connect now */
		cls = STORE_TRANSIENT;
		br = true;
	} else if (!strcmp(sqlstate, "25006") || !strcmp(sqlstate, "53100") ||
	           !strcmp(sqlstate, "42501") || !strcmp(sqlstate, "42P01") ||
	           !strcmp(sqlstate, "42703") || !strcmp(sqlstate, "3F000") ||
	           !strcmp(sqlstate, "58030") || !strcmp(sqlstate, "57P04")) {
		/* read-only transaction (a standby after failover,
		 * default_transaction_read_only), disk full, permission denied, a
		 * table, column or schema missing (schema too old or dropped), I/O
		 * error, database dropped: no data of ours causes these */
		cls = STORE_REFUSED;
		/* read-only may be the session's (its default was read-only when
		 * it started, or it reached a standby): retry on a new one */
		br = !strcmp(sqlstate, "25006");
	} else if (!strcmp(sqlstate, "40001") || !strcmp(sqlstate, "40P01") ||
	           !strcmp(sqlstate, "53300") || !strcmp(sqlstate, "55P03") ||
	           !strcmp(sqlstate, "57014")) {
		/* serialization failure, deadlock, too many connections, lock not available,
		 * query canceled (statement timeout) */
		cls = STORE_TRANSIENT;
		if (!strcmp(sqlstate, "53300"))
			br = true;
	}
	if (broken)
		*broken = br;
	return cls;
}

store_class store_classify_mysql(unsigned int e, bool *broken)
{
	bool br = false;
	store_class cls = STORE_PERMANENT;
	switch (e) {
	case 2002: /* CR_CONNECTION_ERROR (socket) */
	case 2003: /* CR_CONN_HOST_ERROR */
	case 2006: /* CR_SERVER_GONE_ERROR */
	case 2013: /* CR_SERVER_LOST */
	case 2055: /* CR_SERVER_LOST_EXTENDED */
	case 1927: /* ER_CONNECTION_KILLED */
	case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
	case 1053: /* ER_SERVER_SHUTDOWN */
	case 1040: /* ER_CON_COUNT_ERROR: too many connections (at connect) */
		cls = STORE_TRANSIENT;
		br = true;
		break;
	case 1205: /* ER_LOCK_WAIT_TIMEOUT */
	case 1213: /* ER_LOCK_DEADLOCK */
	case 1969: /* ER_STATEMENT_TIMEOUT (max_statement_time), as PG's 57014 */
	case 3024: /* MySQL's ER_QUERY_TIMEOUT (max_execution_time), likewise */
	case 1317: /* ER_QUERY_INTERRUPTED (KILL QUERY) */
		cls = STORE_TRANSIENT;
		break;
	case 1290: /* ER_OPTION_PREVENTS_STATEMENT: --read-only, super_read_only */
	case 1836: /* ER_READ_ONLY_MODE */
	case 1792: /* ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION */
		cls = STORE_REFUSED;
		br = true; /* as PostgreSQL's 25006: a new session may reach a writable primary */
		break;
	case 1036: /* ER_OPEN_AS_READONLY: table is read only */
	case 1223: /* ER_CANT_UPDATE_WITH_READLOCK: FLUSH TABLES WITH READ LOCK */
	case 1021: /* ER_DISK_FULL */
	case 1114: /* ER_RECORD_FILE_FULL: table is full */
	case 1030: /* ER_GET_ERRNO: the storage engine failed (ENOSPC, EROFS...) */
	case 1142: /* ER_TABLEACCESS_DENIED_ERROR */
	case 1143: /* ER_COLUMNACCESS_DENIED_ERROR */
	case 1044: /* ER_DBACCESS_DENIED_ERROR */
	case 1146: /* ER_NO_SUCH_TABLE: schema missing */
	case 1054: /* ER_BAD_FIELD_ERROR: schema too old */
		cls = STORE_REFUSED;
		break;
	default:
		/* other client-side (2xxx) errors leave the handle in an unknown state */
		if (e >= 2000 && e < 3000)
			br = true;
		break;
	}
	if (broken)
		*broken = br;
	return cls;
}

store_class store_classify_sqlite(int rc, bool *broken)
{
	int primary = rc & 0xff;
	bool br = false;
	store_class cls = STORE_PERMANENT;
	switch (primary) {
	case 5:  /* SQLITE_BUSY */
	case 6:  /* SQLITE_LOCKED */
	case 9:  /* SQLITE_INTERRUPT: our statement timeout */
	case 10: /* SQLITE_IOERR */
		cls = STORE_TRANSIENT;
		br = primary == 10;
		break;
	case 3:  /* SQLITE_PERM */
	case 8:  /* SQLITE_READONLY: the file or its folder is not writable */
	case 13: /* SQLITE_FULL: disk full */
		cls = STORE_REFUSED;
		/* a read-only handle stays read-only until reopened */
		br = primary == 8;
		break;
	case 11: /* SQLITE_CORRUPT */
	case 14: /* SQLITE_CANTOPEN */
	case 26: /* SQLITE_NOTADB */
		cls = STORE_REFUSED;
		br = true;
		break;
	default:
		break;
	}
	if (broken)
		*broken = br;
	return cls;
}

/* ---- parameters and placeholders ---- */

const char *store_param_text(const store_param *p, char *buf, size_t len)
{
	switch (p->type) {
	case STORE_P_NULL:
		return NULL;
	case STORE_P_INT:
	case STORE_P_BOOL:
		snprintf(buf, len, "%" PRId64, p->i);
		return buf;
	case STORE_P_DOUBLE:
		snprintf(buf, len, "%.17g", p->d);
		return buf;
	case STORE_P_TEXT:
		return p->s;
	}
	return NULL;
}

char *store_sql_pg_placeholders(const char *sql)
{
	strbuf b;
	unsigned n = 0;
	char quote = 0;
	sb_init(&b);
	for (const char *s = sql; *s; s++) {
		if (quote) {
			if (*s == quote)
				quote = 0; /* a doubled quote re-enters at once: same result */
			sb_addc(&b, *s);
		} else if (*s == '\'' || *s == '"') {
			quote = *s;
			sb_addc(&b, *s);
		} else if (*s == '?') {
			sb_printf(&b, "$%u", ++n);
		} else {
			sb_addc(&b, *s);
		}
	}
	return sb_detach(&b);
}

char *store_sql_placeholders(size_t nrows, size_t width)
{
	strbuf b;
	sb_init(&b);
	for (size_t r = 0; r < nrows; r++) {
		sb_adds(&b, r ? ",(" : "(");
		for (size_t i = 0; i < width; i++)
			sb_adds(&b, i ? ",?" : "?");
		sb_addc(&b, ')');
	}
	return sb_detach(&b);
}

char *store_sql_upsert(store_dialect d, const char *table, const char *const *cols, size_t ncols,
                       size_t nkey, size_t nrows)
{
	strbuf b;
	char *vals = store_sql_placeholders(nrows, ncols);
	sb_init(&b);
	if (d == STORE_MYSQL && nkey == ncols)
		sb_printf(&b, "INSERT IGNORE INTO %s (", table);
	else
		sb_printf(&b, "INSERT INTO %s (", table);
	for (size_t i = 0; i < ncols; i++)
		sb_printf(&b, "%s%s", i ? ", " : "", cols[i]);
	sb_printf(&b, ") VALUES %s", vals);
	free(vals);
	if (d == STORE_MYSQL) {
		if (nkey < ncols) {
			sb_adds(&b, " ON DUPLICATE KEY UPDATE ");
			for (size_t i = nkey; i < ncols; i++)
				sb_printf(&b, "%s%s = VALUES(%s)", i > nkey ? ", " : "", cols[i],
				          cols[i]);
		}
	} else {
		sb_adds(&b, " ON CONFLICT (");
		for (size_t i = 0; i < nkey; i++)
			sb_printf(&b, "%s%s", i ? ", " : "", cols[i]);
		if (nkey == ncols) {
			sb_adds(&b, ") DO NOTHING");
		} else {
			sb_adds(&b, ") DO UPDATE SET ");
			for (size_t i = nkey; i < ncols; i++)
				sb_printf(&b, "%s%s = excluded.%s", i > nkey ? ", " : "", cols[i],
				          cols[i]);
		}
	}
	return sb_detach(&b);
}

/* ---- connections ---- */

static const struct store_backend *backend_for(store_dialect d)
{
	switch (d) {
	case STORE_SQLITE:
		return &store_sqlite_backend;
	case STORE_PG:
		return &store_pg_backend;
	case STORE_MYSQL:
		return &store_mysql_backend;
	}
	return NULL;
}

int store_connect(const store_params *p, store_conn **out, store_error *err)
{
	store_conn *c = xcalloc(1, sizeof *c);
	int rc = -1;
	store_error_clear(err);
	*out = NULL;
	c->be = backend_for(p->dialect);
	if (!c->be) {
		store_error_set(err, STORE_PERMANENT, "dialect", false, "unknown database dialect");
		goto out;
	}
	c->dialect = p->dialect;
	c->opened_at = clock_mono();
	c->stmt_timeout = p->statement_timeout > 0 ? p->statement_timeout : 0;
	/* driver messages are passed on as they are: they never hold the password,
	 * and searching them for it would garble them and tell its letters */
	if (c->be->connect(c, p, err) != 0) {
		err->conn_broken = true;
		goto out;
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	if (c) {
		if (c->h && c->be)
			c->be->close(c);
		free(c);
	}
	return rc;
}

void store_close(store_conn *c)
{
	if (!c)
		return;
	if (c->h)
		c->be->close(c);
	c->h = NULL;
	free(c);
}

store_dialect store_conn_dialect(const store_conn *c)
{
	return c->dialect;
}

bool store_conn_broken(const store_conn *c)
{
	return c->broken;
}

bool store_in_txn(store_conn *c)
{
	if (c->broken || !c->h)
		return false;
	return c->be->txn_state(c) != 0;
}

unsigned long store_session_id(store_conn *c)
{
	if (!c->h)
		return 0;
	return c->be->session_id(c);
}

double store_conn_age(const store_conn *c)
{
	return clock_mono() - c->opened_at;
}

const char *store_server_version(store_conn *c)
{
	if (!c->version[0] && c->h && !c->broken)
		c->be->server_version(c, c->version, sizeof c->version);
	return c->version;
}

static int run(store_conn *c, const char *sql, const store_param *params, size_t n, store_row_fn fn,
               void *ud, store_error *err)
{
	store_error local;
	int rc;
	if (!err)
		err = &local;
	store_error_clear(err);
	c->changes = 0;
	if (c->broken || !c->h) {
		store_error_set(err, STORE_TRANSIENT, "broken", true,
		                "connection is broken and must be closed");
		return -1;
	}
	if (c->dialect == STORE_PG) {
		char *q = store_sql_pg_placeholders(sql);
		rc = c->be->exec(c, q, params, n, fn, ud, err);
		free(q);
	} else {
		rc = c->be->exec(c, sql, params, n, fn, ud, err);
	}
	if (rc != 0) {
		if (err->conn_broken)
			c->broken = true;
	}
	return rc;
}

int store_exec(store_conn *c, const char *sql, const store_param *params, size_t n,
               store_error *err)
{
	return run(c, sql, params, n, NULL, NULL, err);
}

int store_query(store_conn *c, const char *sql, const store_param *params, size_t n,
                store_row_fn fn, void *ud, store_error *err)
{
	return run(c, sql, params, n, fn, ud, err);
}

struct int_result {
	int64_t v;
	bool found;
};

static int int_row(void *ud, size_t ncols, const char *const *vals)
{
	struct int_result *r = ud;
	if (ncols > 0 && vals[0]) {
		r->v = strtoll(vals[0], NULL, 10);
		r->found = true;
	}
	return 1;
}

int store_query_int(store_conn *c, const char *sql, const store_param *params, size_t n,
                    int64_t *out, bool *found, store_error *err)
{
	struct int_result r = {0, false};
	if (run(c, sql, params, n, int_row, &r, err) != 0)
		return -1;
	*out = r.v;
	if (found)
		*found = r.found;
	return 0;
}

size_t store_max_params(const store_conn *c)
{
	return c->max_params ? c->max_params : STORE_DEFAULT_MAX_PARAMS;
}

size_t store_max_bytes(const store_conn *c)
{
	return c->max_bytes ? c->max_bytes : STORE_DEFAULT_MAX_BYTES;
}

int64_t store_changes(store_conn *c)
{
	return c->changes;
}

int store_begin(store_conn *c, store_error *err)
{
	return run(c, c->dialect == STORE_MYSQL ? "START TRANSACTION" : "BEGIN", NULL, 0, NULL,
	           NULL, err);
}

int store_begin_write(store_conn *c, store_error *err)
{
	if (c->dialect == STORE_SQLITE)
		return run(c, "BEGIN IMMEDIATE", NULL, 0, NULL, NULL, err);
	return store_begin(c, err);
}

int store_bulk_writes(store_conn *c, bool on, store_error *err)
{
	const char *sql = on ? c->bulk_on_sql : c->bulk_off_sql;
	return sql ? run(c, sql, NULL, 0, NULL, NULL, err) : 0;
}

int store_commit(store_conn *c, store_error *err)
{
	if (run(c, "COMMIT", NULL, 0, NULL, NULL, err) != 0) {
		store_rollback(c);
		return -1;
	}
	/* the transaction must be over; anything else means the session can't be trusted */
	if (c->be->txn_state(c) != 0) {
		store_rollback(c);
		store_error_set(err, STORE_PERMANENT, "commit", false,
		                "commit left a transaction open");
		return -1;
	}
	return 0;
}

void store_rollback(store_conn *c)
{
	store_error e;
	if (c->broken || !c->h)
		return;
	int st = c->be->txn_state(c);
	if (st == 0)
		return;
	if (st < 0 || run(c, "ROLLBACK", NULL, 0, NULL, NULL, &e) != 0 || c->be->txn_state(c) != 0)
		c->broken = true; /* can't prove the session is clean: never reuse it */
}

int store_ping(store_conn *c, store_error *err)
{
	int64_t v;
	if (store_query_int(c, "SELECT 1", NULL, 0, &v, NULL, err) != 0) {
		c->broken = true;
		if (err)
			err->conn_broken = true;
		return -1;
	}
	return 0;
}

bool store_error_is_contention(const store_error *e)
{
	/* serialization failure, deadlock, lock not available (PostgreSQL);
	 * lock wait timeout, deadlock (MySQL) */
	static const char *const codes[] = {"40001", "40P01", "55P03", "1205", "1213"};
	if (e->conn_broken)
		return false;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(e->code, codes[i]) == 0)
			return true;
	return false;
}

bool store_error_is_schema(const store_error *e)
{
	static const char *const codes[] = {"42703", "42P01", "1054", "1146"};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(e->code, codes[i]) == 0)
			return true;
	/* SQLite says it in words */
	return strstr(e->message, "no such table") || strstr(e->message, "no such column") ||
	       strstr(e->message, "has no column named");
}
