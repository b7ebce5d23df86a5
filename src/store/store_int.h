/* Internal contract between store.c and the three backends (store_sqlite.c, store_pg.c,
 * store_mysql.c). Not for use outside src/store. */
#ifndef DAGPROC_STORE_INT_H
#define DAGPROC_STORE_INT_H

#include "store/store.h"

struct store_backend {
	const char *name;
	/* Opens c->h and configures the session. */
	int (*connect)(store_conn *c, const store_params *p, store_error *err);
	void (*close)(store_conn *c);
	/* Runs one statement (SQL already in the backend's placeholder style); fn may be NULL. */
	int (*exec)(store_conn *c, const char *sql, const store_param *params, size_t n,
	            store_row_fn fn, void *ud, store_error *err);
	/* 0 idle, 1 inside a transaction, -1 unknown (connection gone). */
	int (*txn_state)(store_conn *c);
	unsigned long (*session_id)(store_conn *c);
	void (*server_version)(store_conn *c, char *buf, size_t len);
};

struct store_conn {
	const struct store_backend *be;
	store_dialect dialect;
	void *h;                /* PGconn *, MYSQL *, sqlite3 * */
	bool broken;            /* set once an error says the connection is gone */
	int64_t changes;        /* rows changed by the last exec */
	double opened_at;       /* monotonic seconds */
	double stmt_timeout;    /* seconds, SQLite progress-handler deadline */
	double deadline;        /* SQLite: monotonic deadline of the running statement */
	store_net_timeouts net; /* PostgreSQL: reply_timeout bounds every statement */
	store_flavour flavour;  /* MySQL protocol: MariaDB or MySQL, read at connect */
	char version[64];
	char schema[64];   /* PostgreSQL: [database] schema ("" = the server's search_path) */
	size_t max_params; /* set by the backend's connect; 0: STORE_DEFAULT_MAX_PARAMS */
	size_t max_bytes;  /* likewise; 0: STORE_DEFAULT_MAX_BYTES */
	/* run by store_bulk_writes(c, true / false) (static strings; NULL: none) */
	const char *bulk_on_sql, *bulk_off_sql;
};

#define STORE_DEFAULT_MAX_PARAMS 65535
#define STORE_DEFAULT_MAX_BYTES  ((size_t)32 << 20)

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend;
extern const struct store_backend store_mysql_backend;

/* Converts a non-text parameter to text in buf (returns buf, or p->s for text, NULL for
 * NULL). Booleans render as "1"/"0", which every dialect accepts. */
const char *store_param_text(const store_param *p, char *buf, size_t len);
/* Rewrites '?' placeholders outside quotes to $1, $2... (PostgreSQL). */
char *store_sql_pg_placeholders(const char *sql);

#endif
