/* The metadata store: one interface over SQLite, PostgreSQL (libpq) and MariaDB/MySQL
 * (Connector/C), with classified errors, explicit transactions and schema migrations. */
#ifndef DAGPROC_STORE_H
#define DAGPROC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_WUR __attribute__((warn_unused_result))

/* A connection option from the URL's query string (SPEC §2), as written and already
 * checked by config/dburl.c: PostgreSQL conninfo keywords, MariaDB/MySQL TLS options in
 * any of the spellings db_url_check_params accepts. */
typedef struct store_opt {
	const char *key;
	const char *value;
} store_opt;

typedef enum store_dialect {
	STORE_SQLITE = 0,
	STORE_PG,
	STORE_MYSQL,
} store_dialect;

/* Everything needed to open connections and size the pool. Strings are borrowed by
 * store_connect; pool_create copies them. Zero/NULL fields take the documented default. */
typedef struct store_params {
	store_dialect dialect;
	const char *host;        /* NULL: default (PG/MySQL: localhost or socket) */
	int port;                /* 0: dialect default */
	const char *user;        /* NULL: client default */
	const char *password;    /* never printed */
	const char *database;    /* PG/MySQL database name */
	const char *sqlite_path; /* SQLite file (":memory:" allowed) */
	const char *unix_socket; /* MySQL socket path (optional) */
	const char *schema;      /* PostgreSQL: the schema of dagproc's tables (search_path);
	                          * NULL or "": the server's search_path */
	int connect_timeout;     /* seconds; 0 = 10 */
	int statement_timeout;   /* seconds per statement, set per session; 0 = none */
	int lock_timeout;        /* seconds to wait for a row/table lock; 0 = server default
	                          * (SQLite: busy timeout, default 5 s) */
	int idle_tx_timeout;     /* seconds a session may sit idle inside a transaction before
	                          * the server ends it (PostgreSQL, MariaDB); 0 = four times
	                          * the statement timeout. Several processors set it below
	                          * their lease, so that a paused one never holds locks. */
	/* pool knobs, SPEC §2 [database] */
	int pool_size;            /* idle connections kept; 0 = 5 */
	int max_overflow;         /* extra connections beyond pool_size; <0 = 10 */
	double pool_timeout;      /* seconds to wait for a free connection; 0 = 30 */
	bool pool_pre_ping;       /* check a connection with a round trip before handing it out */
	int pool_recycle;         /* seconds; connections older than this are replaced; 0 = never */
	int max_db_retries;       /* quick attempts before backing off; 0 = 3 */
	double retry_backoff_max; /* seconds; cap of the slow backoff; 0 = 30 */
	const store_opt *opts;    /* URL options passed to the driver (see store_opt) */
	size_t nopts;
} store_params;

/* How long a silent peer (a network partition: packets dropped, no RST) may hold a
 * connection, derived from connect_timeout (ct) and statement_timeout (st) so that it is
 * noticed within about a minute with the defaults (10 s, 30 s), and sooner when a test
 * lowers them. Pure, for the unit tests. */
typedef struct store_net_timeouts {
	int keepalives_idle;     /* s of silence before TCP keepalive probes: ct */
	int keepalives_interval; /* s between probes: max(1, ct / 3) */
	int keepalives_count;    /* unanswered probes before the kernel drops it: 3 */
	int tcp_user_timeout_ms; /* sent data unacknowledged this long drops it: 2 ct */
	int reply_timeout;       /* s to wait for a statement's answer: st + 2 ct; with no
	                          * statement timeout, 0 (PostgreSQL: none, the keepalives
	                          * still apply) or 3600 (MariaDB's read timeout) */
	int write_timeout;       /* s a write may wait for the socket: 2 ct */
} store_net_timeouts;
void store_net_timeouts_of(const store_params *p, store_net_timeouts *out);

/* MariaDB and MySQL speak one protocol but spell session variables and DDL differently;
 * the server's flavour and version are read at connect (store_conn_flavour). */
typedef enum store_flavour {
	STORE_FLAVOUR_OTHER = 0, /* SQLite, PostgreSQL */
	STORE_FLAVOUR_MARIADB,
	STORE_FLAVOUR_MYSQL,
} store_flavour;
/* "5.5.5-10.11.6-MariaDB" or "10.11.6-MariaDB-log" -> MariaDB, anything else -> MySQL. */
store_flavour store_mysql_flavour_of(const char *server_info);
/* The session set-up statement for a flavour and server version (as
 * mysql_get_server_version: 100611 for 10.6.11, 80035 for 8.0.35): UTC, strict
 * ANSI_QUOTES sql_mode, READ COMMITTED, the statement and lock timeouts (seconds; 0 =
 * none / server default) under the names each flavour accepts, and MariaDB's
 * idle_transaction_timeout (MySQL has none). Caller frees. */
char *store_mysql_session_sql(store_flavour f, unsigned long version, int statement_timeout,
                              int lock_timeout, int idle_tx_timeout);

/* Fills p with SPEC §2 defaults for the given dialect (strings NULL). */
void store_params_defaults(store_params *p, store_dialect d);

typedef enum store_class {
	STORE_OK = 0,
	STORE_TRANSIENT, /* retry later: lost connection, deadlock, lock timeout, pool timeout... */
	STORE_PERMANENT, /* the statement or its data is wrong: retrying won't help */
	/* The database refuses writes whatever they hold: read-only (failover, a
	 * read-only replica), disk full, permission denied, schema missing or too
	 * old. Not about the data: retried with backoff like a transient error,
	 * never isolated to a file. */
	STORE_REFUSED,
} store_class;

typedef struct store_error {
	store_class cls;
	/* SQLSTATE (PostgreSQL), error number (MySQL), result code (SQLite), or
	 * "pool_timeout" / "broken" for conditions detected by the store itself. */
	char code[16];
	char message[384]; /* the driver's own words, one line (drivers never echo passwords) */
	bool conn_broken;  /* the connection is unusable and must be closed */
} store_error;

/* store_error.code of a database that holds another application's tables
 * (Airflow's metadata): nothing to retry, the configuration must change */
#define STORE_CODE_FOREIGN "foreign"

void store_error_clear(store_error *err);
/* The error says the tables are not dagproc's schema: a missing table or column
 * (PostgreSQL 42P01/42703, MySQL 1146/1054, SQLite "no such table/column"). */
bool store_error_is_schema(const store_error *e);
/* The error is another transaction's lock in the way (a deadlock, a lock
 * wait timeout, a serialization failure) on a connection still usable: the
 * database is up, the work is tried again. */
bool store_error_is_contention(const store_error *e);
/* Sets err (printf-style message); used by pool/retry and the backends. */
void store_error_set(store_error *err, store_class cls, const char *code, bool broken,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Classification rules, pure functions so unit tests can check them (issue #3 item 4).
 * *broken is set when the error means the connection is gone. */
store_class store_classify_pg(const char *sqlstate, bool conn_bad, bool *broken);
store_class store_classify_mysql(unsigned int errnum, bool *broken);
store_class store_classify_sqlite(int extended_rc, bool *broken);

typedef enum store_ptype {
	STORE_P_NULL = 0,
	STORE_P_INT,
	STORE_P_DOUBLE,
	STORE_P_TEXT,
	STORE_P_BOOL,
} store_ptype;

/* A bound parameter; text is borrowed for the duration of the call. */
typedef struct store_param {
	store_ptype type;
	int64_t i;
	double d;
	const char *s;
} store_param;

static inline store_param store_p_null(void)
{
	return (store_param){.type = STORE_P_NULL};
}
static inline store_param store_p_int(int64_t v)
{
	return (store_param){.type = STORE_P_INT, .i = v};
}
static inline store_param store_p_double(double v)
{
	return (store_param){.type = STORE_P_DOUBLE, .d = v};
}
/* NULL text binds SQL NULL. */
static inline store_param store_p_text(const char *s)
{
	return (store_param){.type = s ? STORE_P_TEXT : STORE_P_NULL, .s = s};
}
static inline store_param store_p_bool(bool v)
{
	return (store_param){.type = STORE_P_BOOL, .i = v ? 1 : 0};
}

/* One result row: every value as text (NULL for SQL NULL), valid only during the call.
 * Return nonzero to stop reading further rows (not an error). */
typedef int (*store_row_fn)(void *ud, size_t ncols, const char *const *vals);

typedef struct store_conn store_conn;

/* Opens one connection and configures the session (time zone UTC, statement and lock
 * timeouts, SQLite WAL + busy timeout, MySQL strict ANSI_QUOTES mode). */
STORE_WUR int store_connect(const store_params *p, store_conn **out, store_error *err);
/* Closes and frees; a transaction still open is discarded by the server. NULL is fine. */
void store_close(store_conn *c);

store_dialect store_conn_dialect(const store_conn *c);
/* True once any error said the connection is gone: it must be closed, never reused. */
bool store_conn_broken(const store_conn *c);
/* True while a transaction is open (as the client library reports it). */
bool store_in_txn(store_conn *c);
/* Server-side session id (PG backend pid, MySQL connection id; 0 for SQLite). */
unsigned long store_session_id(store_conn *c);
/* Seconds since the connection was opened (monotonic). */
double store_conn_age(const store_conn *c);
/* Server version string, e.g. "15.5" or "10.11.6-MariaDB"; "" if unknown. */
const char *store_server_version(store_conn *c);
/* MariaDB or MySQL for a MySQL-protocol connection, else STORE_FLAVOUR_OTHER. */
store_flavour store_conn_flavour(const store_conn *c);

/* SQL uses '?' placeholders in every dialect (rewritten to $n for PostgreSQL) and
 * double-quoted identifiers where quoting is needed (MySQL sessions run with ANSI_QUOTES).
 * On failure the error is classified and, inside a transaction, the caller must
 * store_rollback (pool_release does it too). */
STORE_WUR int store_exec(store_conn *c, const char *sql, const store_param *params, size_t n,
                         store_error *err);
STORE_WUR int store_query(store_conn *c, const char *sql, const store_param *params, size_t n,
                          store_row_fn fn, void *ud, store_error *err);
/* First column of the first row as an integer; *found false when there is no row or it
 * is NULL (found may be NULL). */
STORE_WUR int store_query_int(store_conn *c, const char *sql, const store_param *params, size_t n,
                              int64_t *out, bool *found, store_error *err);
/* What one statement may carry on this connection: bound parameters
 * (PostgreSQL's protocol allows 65,535; SQLite its SQLITE_LIMIT_VARIABLE_NUMBER)
 * and bytes of parameter text (MySQL/MariaDB: under max_allowed_packet, read at
 * connect; elsewhere a fixed bound on the memory a statement takes). Callers
 * that build multi-row statements split them to stay under both. */
size_t store_max_params(const store_conn *c);
size_t store_max_bytes(const store_conn *c);

/* Number of rows changed by the last store_exec (MySQL: rows matched). */
int64_t store_changes(store_conn *c);

/* Transactions. store_begin_write takes SQLite's write lock at once (BEGIN IMMEDIATE) so a
 * writer never fails half-way on a lock upgrade; elsewhere it equals store_begin. */
STORE_WUR int store_begin(store_conn *c, store_error *err);
STORE_WUR int store_begin_write(store_conn *c, store_error *err);
/* Inside a transaction, around a run of large multi-row upserts: settings that make
 * them cheaper for the server and would make key lookups slower (PostgreSQL: generic
 * plans); a no-op elsewhere. */
STORE_WUR int store_bulk_writes(store_conn *c, bool on, store_error *err);
/* On failure the transaction has been rolled back (or the connection marked broken). */
STORE_WUR int store_commit(store_conn *c, store_error *err);
/* Never fails from the caller's point of view: afterwards the connection is either
 * outside any transaction or marked broken. */
void store_rollback(store_conn *c);
/* A cheap round trip (SELECT 1); marks the connection broken when it fails. */
STORE_WUR int store_ping(store_conn *c, store_error *err);

/* Dialect-specific SQL builders, so statements per batch don't grow per row. */

/* INSERT INTO table (cols) VALUES (?,..),(?,..)... with nrows rows, then an upsert clause
 * updating every column not in the first nkey columns (the conflict target):
 * ON CONFLICT (keys) DO UPDATE SET c = excluded.c (SQLite, PG) or
 * ON DUPLICATE KEY UPDATE c = VALUES(c) (MySQL). nkey == ncols: insert-or-ignore. */
char *store_sql_upsert(store_dialect d, const char *table, const char *const *cols, size_t ncols,
                       size_t nkey, size_t nrows);
/* "(?,?),(?,?)..." style list for IN clauses and tuple lists: nrows groups of width. */
char *store_sql_placeholders(size_t nrows, size_t width);
/* epoch (clock_epoch()) as UTC "YYYY-MM-DD HH:MM:SS.ffffff", accepted by every dialect's timestamp
 * column. buf must hold 32 bytes. */
const char *store_format_ts(double epoch, char *buf, size_t len);

/* Schema (schema.c). */
#define STORE_SCHEMA_VERSION 2
/* One DDL statement of a migration as a dialect and flavour spell it. index and table
 * are set when the flavour cannot create that index idempotently (MySQL has no CREATE
 * INDEX IF NOT EXISTS): the statement runs only when the table has no such index. */
typedef struct store_ddl {
	char *sql;
	char *index; /* NULL unless guarded */
	char *table;
} store_ddl;
/* The statements of schema version v (1..STORE_SCHEMA_VERSION), *n of them; NULL for an
 * unknown version. Free with store_ddl_free. */
store_ddl *store_schema_ddl(store_dialect d, store_flavour f, int v, size_t *n);
void store_ddl_free(store_ddl *ddl, size_t n);
/* Creates or upgrades the schema, in a transaction (PostgreSQL, SQLite) or under a named
 * lock with idempotent DDL (MySQL, where DDL commits implicitly). */
STORE_WUR int store_migrate(store_conn *c, store_error *err);
/* Current schema version; 0 when the database holds no dagproc schema. */
STORE_WUR int store_schema_version(store_conn *c, int *version, store_error *err);
/* Drops every dagproc table (the caller then migrates again). */
STORE_WUR int store_drop_schema(store_conn *c, store_error *err);

#endif
