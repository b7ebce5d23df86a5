/* PostgreSQL backend over libpq: text-format parameters sent without blocking and
 * answers awaited with a deadline, session settings and the URL's conninfo options at
 * startup (statement/lock timeouts, UTC, TLS, keepalives), SQLSTATE-based error
 * classification. */
#include "store/store_int.h"
#include "util/clock.h"
#include "util/xalloc.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void set_conn_err(store_conn *c, store_error *err, const char *what)
{
	PGconn *pg = c->h;
	const char *msg = pg ? PQerrorMessage(pg) : "out of memory";
	bool broken = true;
	store_class cls = store_classify_pg(NULL, true, &broken);
	store_error_set(err, cls, "08006", broken, "%s%s", what,
	                msg && msg[0] ? msg : "connection lost");
}

/* Waits until the socket is readable (and writable when want_write), or the deadline
 * (monotonic seconds; 0 = none) passes. 1 ready, 0 deadline, -1 error. */
static int pg_wait(PGconn *pg, bool want_write, double deadline)
{
	struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN | (want_write ? POLLOUT : 0)};
	if (pfd.fd < 0)
		return -1;
	for (;;) {
		int ms = -1;
		if (deadline > 0) {
			double left = deadline - clock_mono();
			if (left <= 0)
				return 0;
			ms = (int)(left * 1000) + 1;
		}
		int r = poll(&pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0)
			continue; /* the loop checks the deadline */
		if (errno != EINTR)
			return -1;
	}
}

/* The statement's one result (the first error if any), waiting at most until the
 * deadline: a silent peer fails the call instead of holding it for ever. NULL with
 * err set when the connection failed or the deadline passed. */
static PGresult *pg_result(store_conn *c, double deadline, store_error *err)
{
	PGconn *pg = c->h;
	PGresult *res = NULL;
	int f;
	while ((f = PQflush(pg)) == 1) {
		int w = pg_wait(pg, true, deadline);
		if (w == 0)
			goto timeout;
		if (w < 0)
			goto lost;
		if (!PQconsumeInput(pg))
			goto lost;
	}
	if (f < 0)
		goto lost;
	for (;;) {
		while (PQisBusy(pg)) {
			int w = pg_wait(pg, false, deadline);
			if (w == 0)
				goto timeout;
			if (w < 0)
				goto lost;
			if (!PQconsumeInput(pg))
				goto lost;
		}
		PGresult *r = PQgetResult(pg);
		if (!r)
			break;
		ExecStatusType st = PQresultStatus(r);
		bool failed =
		    st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY;
		if (res && PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK && !failed) {
			PQclear(r); /* keep the first error */
			continue;
		}
		PQclear(res);
		res = r;
	}
	if (!res)
		goto lost;
	return res;
timeout:
	PQclear(res);
	store_error_set(err, STORE_TRANSIENT, "08006", true,
	                "no answer from the server within %d s (statement_timeout + 2 x "
	                "connect_timeout): connection presumed dead",
	                c->net.reply_timeout);
	return NULL;
lost:
	PQclear(res);
	set_conn_err(c, err, "");
	return NULL;
}

static int pg_exec(store_conn *c, const char *sql, const store_param *params, size_t n,
                   store_row_fn fn, void *ud, store_error *err)
{
	PGconn *pg = c->h;
	PGresult *res = NULL;
	const char **values = NULL;
	char(*bufs)[32] = NULL;
	const char **row = NULL;
	int ret = -1;

	if (n > 0) {
		values = xcalloc(n, sizeof *values);
		bufs = xcalloc(n, sizeof *bufs);
		for (size_t i = 0; i < n; i++)
			values[i] = store_param_text(&params[i], bufs[i], sizeof bufs[i]);
	}
	double deadline = c->net.reply_timeout > 0 ? clock_mono() + c->net.reply_timeout : 0;
	if (!PQsendQueryParams(pg, sql, (int)n, NULL, values, NULL, NULL, 0)) {
		if (PQstatus(pg) == CONNECTION_OK) {
			/* refused on the client side (too many parameters, out of
			 * memory): the statement's fault, the connection is fine */
			const char *msg = PQerrorMessage(pg);
			store_error_set(err, STORE_PERMANENT, "client", false, "%s",
			                msg && msg[0] ? msg : "statement refused by libpq");
		} else {
			set_conn_err(c, err, "");
		}
		goto out;
	}
	res = pg_result(c, deadline, err);
	if (!res)
		goto out;
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		bool bad = PQstatus(pg) == CONNECTION_BAD;
		bool broken = false;
		store_class cls = store_classify_pg(state, bad, &broken);
		const char *msg = PQresultErrorMessage(res);
		if (!msg || !msg[0])
			msg = PQerrorMessage(pg);
		store_error_set(err, cls, state ? state : "08006", broken, "%s",
		                msg && msg[0] ? msg : "connection lost");
		goto out;
	}
	/* COMMIT of a failed transaction "succeeds" as a ROLLBACK: that is a failed write */
	if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0 && strncmp(sql, "COMMIT", 6) == 0) {
		store_error_set(err, STORE_PERMANENT, "25P02", false,
		                "transaction was aborted by an earlier error; COMMIT rolled back");
		goto out;
	}
	if (st == PGRES_TUPLES_OK && fn) {
		int nrows = PQntuples(res), ncols = PQnfields(res);
		row = xcalloc(ncols > 0 ? (size_t)ncols : 1, sizeof *row);
		for (int r = 0; r < nrows; r++) {
			for (int i = 0; i < ncols; i++)
				row[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
			if (fn(ud, (size_t)ncols, row) != 0)
				break;
		}
	}
	const char *tuples = PQcmdTuples(res);
	c->changes = tuples && tuples[0] ? strtoll(tuples, NULL, 10) : 0;
	ret = 0;
out:
	PQclear(res);
	free(values);
	free(bufs);
	free(row);
	return ret;
}

/* The URL's options that dagproc maps itself (store_url.c) rather than passing on. */
static bool mapped_here(const char *key)
{
	return strcmp(key, "host") == 0 || strcmp(key, "connect_timeout") == 0;
}

/* What makes the writer's batches cheap for the server, set for the upserts of each
 * write transaction only (store_bulk_writes; transaction-local, so also right behind a
 * transaction-pooling PgBouncer):
 * - the multi-row upserts are planned generically (PostgreSQL 12+): a custom plan
 *   folds every parameter into the plan as a constant, copying each serialized DAG
 *   once more and spending more time planning than inserting. Not the reads by lists
 *   of keys, which plan badly without their values (a full sync took twice as long
 *   with every statement generic);
 * - values too large to stay in their row are compressed with LZ4 (PostgreSQL 14+,
 *   when the server was built with it): a fraction of pglz's time for about the same
 *   size (29 MB against 24 MB for 100 MB of serialized DAGs).
 * Together they took the server's time for the serialized DAGs of a full sync of
 * 10,000 files from 2.3 s to 0.9 s, and the sync from 5.0 s to 3.8 s.
 * The server decides in each transaction, from pg_settings: a setting made anywhere
 * (postgresql.conf, ALTER DATABASE or ROLE, the URL's options in any spelling) is not
 * at its default and is left alone, and a server older than 12 or without LZ4 (a
 * failover behind a pooler) gets only what it has; neither statement can fail for
 * lack of a setting. */
static const char bulk_on[] =
    "SELECT set_config(name, CASE name WHEN 'plan_cache_mode' THEN 'force_generic_plan' "
    "ELSE 'lz4' END, true) FROM pg_settings WHERE source = 'default' AND "
    "(name = 'plan_cache_mode' OR (name = 'default_toast_compression' AND "
    "'lz4' = ANY (enumvals)))";
static const char bulk_off[] = "SELECT set_config(name, reset_val, true) FROM pg_settings "
                               "WHERE name = 'plan_cache_mode'";

/* conninfo: the address and dagproc's defaults, then the URL's options, which win
 * (options is appended to dagproc's session settings, so its -c settings win too). */
static int pg_connect(store_conn *c, const store_params *p, store_error *err)
{
	enum { BASE = 13 };
	char port[16], ctimeout[16], kidle[16], kintvl[16], kcount[16], utimeout[16];
	char *options = NULL;
	int ret = -1;
	store_net_timeouts_of(p, &c->net);
	snprintf(port, sizeof port, "%d", p->port > 0 ? p->port : 5432);
	snprintf(ctimeout, sizeof ctimeout, "%d", p->connect_timeout > 0 ? p->connect_timeout : 10);
	snprintf(kidle, sizeof kidle, "%d", c->net.keepalives_idle);
	snprintf(kintvl, sizeof kintvl, "%d", c->net.keepalives_interval);
	snprintf(kcount, sizeof kcount, "%d", c->net.keepalives_count);
	snprintf(utimeout, sizeof utimeout, "%d", c->net.tcp_user_timeout_ms);
	const char **keys = xcalloc(BASE + p->nopts + 1, sizeof *keys);
	const char **vals = xcalloc(BASE + p->nopts + 1, sizeof *vals);
	size_t n = 0;
#define KV(k, v) (keys[n] = (k), vals[n] = (v), n++)
	KV("host", p->host ? p->host : "localhost");
	KV("port", port);
	KV("user", p->user);
	KV("password", p->password);
	KV("dbname", p->database);
	KV("connect_timeout", ctimeout);
	KV("options", NULL); /* below */
	KV("application_name", "dagproc");
	KV("keepalives", "1");
	KV("keepalives_idle", kidle);
	KV("keepalives_interval", kintvl);
	KV("keepalives_count", kcount);
	KV("tcp_user_timeout", utimeout);
#undef KV
	/* Session settings travel in the startup packet: no extra round trip, and a pooled
	 * connection can't lose them. */
	const char *user_options = NULL;
	for (size_t i = 0; i < p->nopts; i++) {
		const char *k = p->opts[i].key;
		if (mapped_here(k))
			continue;
		if (strcmp(k, "options") == 0) {
			user_options = p->opts[i].value;
			continue;
		}
		size_t j = 0;
		while (j < n && strcmp(keys[j], k) != 0)
			j++;
		keys[j] = k;
		vals[j] = p->opts[i].value;
		if (j == n)
			n++;
	}
	/* the schema: checked by the configuration (a plain lower-case name) */
	char path_opt[96] = "";
	if (p->schema && p->schema[0]) {
		snprintf(path_opt, sizeof path_opt, " -c search_path=%s", p->schema);
		snprintf(c->schema, sizeof c->schema, "%s", p->schema);
	}
	options = xasprintf("-c statement_timeout=%d -c lock_timeout=%d -c TimeZone=UTC "
	                    "-c idle_in_transaction_session_timeout=%d%s%s%s",
	                    p->statement_timeout > 0 ? p->statement_timeout * 1000 : 0,
	                    p->lock_timeout > 0 ? p->lock_timeout * 1000 : 0,
	                    p->idle_tx_timeout > 0     ? p->idle_tx_timeout * 1000
	                    : p->statement_timeout > 0 ? p->statement_timeout * 4000
	                                               : 0,
	                    path_opt, user_options && *user_options ? " " : "",
	                    user_options ? user_options : "");
	vals[6] = options;
	PGconn *pg = PQconnectdbParams(keys, vals, 0);
	c->h = pg;
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		const char *msg = pg ? PQerrorMessage(pg) : "out of memory";
		/* refused / unreachable / starting up are transient; bad password or unknown
		 * database are permanent (the message says which) */
		store_class cls = STORE_TRANSIENT;
		const char *code = "08001";
		if (msg && (strstr(msg, "password authentication failed") ||
		            strstr(msg, "does not exist") || strstr(msg, "no pg_hba.conf entry"))) {
			cls = STORE_PERMANENT;
			code = strstr(msg, "does not exist") ? "3D000" : "28P01";
		} else if (msg && (strstr(msg, "too many clients") ||
		                   strstr(msg, "remaining connection slots"))) {
			code = "53300";
		} else if (msg && strstr(msg, "starting up")) {
			code = "57P03";
		}
		store_error_set(err, cls, code, true, "%s", msg ? msg : "connection failed");
		goto out;
	}
	PQsetNoticeProcessor(pg, quiet_notices, NULL);
	/* every statement waits in poll() with a deadline: never block in a send */
	if (PQsetnonblocking(pg, 1) != 0) {
		set_conn_err(c, err, "");
		goto out;
	}
	c->bulk_on_sql = bulk_on;
	c->bulk_off_sql = bulk_off;
	ret = 0;
out:
	free(options);
	free(keys);
	free(vals);
	return ret;
}

static void pg_close(store_conn *c)
{
	PQfinish(c->h);
	c->h = NULL;
}

static int pg_txn_state(store_conn *c)
{
	if (PQstatus(c->h) != CONNECTION_OK)
		return -1;
	switch (PQtransactionStatus(c->h)) {
	case PQTRANS_IDLE:
		return 0;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR:
	case PQTRANS_ACTIVE:
		return 1;
	case PQTRANS_UNKNOWN:
	default:
		return -1;
	}
}

static unsigned long pg_session_id(store_conn *c)
{
	return (unsigned long)PQbackendPID(c->h);
}

static void pg_server_version(store_conn *c, char *buf, size_t len)
{
	const char *v = PQparameterStatus(c->h, "server_version");
	snprintf(buf, len, "%s", v ? v : "");
}

const struct store_backend store_pg_backend = {
    .name = "postgresql",
    .connect = pg_connect,
    .close = pg_close,
    .exec = pg_exec,
    .txn_state = pg_txn_state,
    .session_id = pg_session_id,
    .server_version = pg_server_version,
};
