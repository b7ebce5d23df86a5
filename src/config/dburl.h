/* Database connection URLs in SQLAlchemy's spellings ([database] sql_conn):
 * parsing into parts, and a redacted form that is safe to print. */
#ifndef DAGPROC_DBURL_H
#define DAGPROC_DBURL_H

#include <stdbool.h>
#include <stddef.h>

enum db_dialect { DB_SQLITE, DB_POSTGRESQL, DB_MYSQL };

struct db_url_param {
	char *key;
	char *value;
};

/* All strings are owned by the struct (db_url_free) and percent-decoded.
 * Absent parts are NULL. */
struct db_url {
	enum db_dialect dialect;
	char *scheme;    /* as written, "+driver" included: "postgres", "mysql+pymysql" */
	char *driver;    /* "psycopg2" of postgresql+psycopg2://, else NULL; ignored */
	char *user;      /* NULL when the URL has none */
	char *password;  /* NULL when the URL has none */
	char *host;      /* NULL: local socket (libpq/MariaDB default); IPv6 without [] */
	int port;        /* explicit, else 5432 / 3306; 0 for sqlite */
	bool port_given; /* the URL names the port (printed only then) */
	char *database;  /* postgresql/mysql database name, NULL when absent */
	char *path;      /* sqlite only: "relative.db", "/abs.db" or ":memory:" */
	struct db_url_param *params; /* query string, in order; duplicates kept */
	size_t n_params;
};

/* Accepts sqlite://, postgresql:// (postgres://), mysql:// (mariadb://), each
 * with an optional "+driver" (postgresql+psycopg2, mysql+pymysql, ...).
 * sqlite:///relative.db -> path "relative.db"; sqlite:////abs.db -> "/abs.db";
 * sqlite:// and sqlite:///:memory: -> ":memory:".
 * Returns 0, or -1 with *err set to a one-line message (caller frees) that
 * never contains the password. out is zeroed first; free it with db_url_free
 * on success (on failure nothing is left to free). */
int config_parse_db_url(const char *url, struct db_url *out, char **err)
    __attribute__((warn_unused_result));
void db_url_free(struct db_url *u);

/* The value of the first query parameter named key, or NULL. */
const char *db_url_param(const struct db_url *u, const char *key);

/* Where the password is written in url (as typed, percent-encoded): *off and *len
 * in bytes. False when the URL has no password or no "scheme://". */
bool db_url_password_span(const char *url, size_t *off, size_t *len);

/* "postgresql", "mysql" or "sqlite". */
const char *db_dialect_name(enum db_dialect d);

/* The one way a database URL is printed: rebuilt from its parsed parts, with
 * the password (and any query parameter whose name holds "password") as
 * "***". Caller frees. */
char *db_url_format(const struct db_url *u);

/* db_url_format of url parsed. A URL that does not parse is printed as its
 * scheme, "://" and three asterisks, nothing more (only the asterisks without
 * a scheme), so that no part of a malformed URL, where the password may be
 * anywhere, is ever shown. NULL gives "". Caller frees. */
char *db_url_redacted(const char *url);

/* Checks the query parameters against what the dialect accepts (SPEC §2):
 * PostgreSQL's libpq conninfo keywords dagproc passes on (sslmode, sslrootcert,
 * ..., application_name, options, keepalives*, tcp_user_timeout, host,
 * connect_timeout), MariaDB/MySQL's TLS options in their own and SQLAlchemy's
 * spellings (ssl, ssl_mode, ssl_ca, ..., ssl_verify_server_cert), SQLite's
 * timeout. Returns 0, or -1 with *err (caller frees) naming the parameter: an
 * unknown one (with the nearest known name), a bad value or a repeated one.
 * config_parse_db_url calls it. */
int db_url_check_params(const struct db_url *u, char **err) __attribute__((warn_unused_result));

/* A boolean parameter value as the drivers spell it: true/false, 1/0,
 * yes/no, on/off (any case). Returns 0, or -1 when it is none of those. */
int db_url_bool(const char *v, int *out);

#endif
