/* PostgreSQL backend over libpq: text-format PQexecParams, session settings at startup
 * (statement/lock timeouts, UTC), SQLSTATE-based error classification. */
#include "store/store_int.h"
#include "util/xalloc.h"

#include <libpq-fe.h>
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
	res = PQexecParams(pg, sql, (int)n, NULL, values, NULL, NULL, 0);
	if (!res) {
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

static int pg_connect(store_conn *c, const store_params *p, store_error *err)
{
	char port[16], ctimeout[16];
	char *options;
	int ret = -1;
	snprintf(port, sizeof port, "%d", p->port > 0 ? p->port : 5432);
	snprintf(ctimeout, sizeof ctimeout, "%d", p->connect_timeout > 0 ? p->connect_timeout : 10);
	/* Session settings travel in the startup packet: no extra round trip, and a pooled
	 * connection can't lose them. */
	options = xasprintf("-c statement_timeout=%d -c lock_timeout=%d -c TimeZone=UTC "
	                    "-c idle_in_transaction_session_timeout=%d",
	                    p->statement_timeout > 0 ? p->statement_timeout * 1000 : 0,
	                    p->lock_timeout > 0 ? p->lock_timeout * 1000 : 0,
	                    p->statement_timeout > 0 ? p->statement_timeout * 4000 : 0);
	const char *keys[] = {"host",
	                      "port",
	                      "user",
	                      "password",
	                      "dbname",
	                      "connect_timeout",
	                      "options",
	                      "application_name",
	                      "keepalives",
	                      "keepalives_idle",
	                      "keepalives_interval",
	                      "keepalives_count",
	                      NULL};
	const char *vals[] = {p->host ? p->host : "localhost",
	                      port,
	                      p->user,
	                      p->password,
	                      p->database,
	                      ctimeout,
	                      options,
	                      "dagproc",
	                      "1",
	                      "30",
	                      "10",
	                      "3",
	                      NULL};
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
	ret = 0;
out:
	free(options);
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
