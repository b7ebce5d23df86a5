/* MariaDB/MySQL backend over MariaDB Connector/C: statements that write go as prepared
 * statements with binary values (my_exec_prepared), the others with their parameters
 * escaped client-side with the connection's charset (text protocol); no auto-reconnect,
 * strict ANSI_QUOTES sessions spelled for the server's flavour (MariaDB or MySQL 8), TLS
 * from the URL's options. */
#include "store/store_int.h"
#include "config/dburl.h"
#include "util/xalloc.h"

#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	/* not thread-safe: once per process */
	mysql_library_init(0, NULL, NULL);
}

/* The error numbered e, with the server's or the client's message. */
static void set_err_num(store_error *err, unsigned int e, const char *msg)
{
	bool broken = false;
	store_class cls = store_classify_mysql(e, &broken);
	char code[16];
	snprintf(code, sizeof code, "%u", e);
	store_error_set(err, cls, code, broken, "%s", msg);
}

static void set_err(store_conn *c, store_error *err)
{
	MYSQL *m = c->h;
	set_err_num(err, m ? mysql_errno(m) : 2008, m ? mysql_error(m) : "out of memory");
}

/* Builds the statement with each '?' (outside quotes) replaced by a literal. */
static char *interpolate(MYSQL *m, const char *sql, const store_param *params, size_t n,
                         store_error *err)
{
	strbuf b;
	size_t used = 0;
	char quote = 0;
	sb_init(&b);
	for (const char *s = sql; *s; s++) {
		if (quote) {
			if (*s == quote)
				quote = 0;
			sb_addc(&b, *s);
			continue;
		}
		if (*s == '\'' || *s == '"' || *s == '`') {
			quote = *s;
			sb_addc(&b, *s);
			continue;
		}
		if (*s != '?') {
			sb_addc(&b, *s);
			continue;
		}
		if (used >= n) {
			store_error_set(err, STORE_PERMANENT, "params", false,
			                "statement has more placeholders than parameters");
			sb_free(&b);
			return NULL;
		}
		const store_param *p = &params[used++];
		char num[32];
		if (p->type == STORE_P_TEXT) {
			size_t len = strlen(p->s);
			sb_reserve(&b, len * 2 + 3);
			b.data[b.len++] = '\'';
			b.len +=
			    mysql_real_escape_string(m, b.data + b.len, p->s, (unsigned long)len);
			b.data[b.len++] = '\'';
			b.data[b.len] = '\0';
		} else {
			const char *t = store_param_text(p, num, sizeof num);
			sb_adds(&b, t ? t : "NULL");
		}
	}
	if (used != n) {
		store_error_set(err, STORE_PERMANENT, "params", false,
		                "statement has fewer placeholders than parameters");
		sb_free(&b);
		return NULL;
	}
	if (!b.data)
		sb_adds(&b, "");
	return sb_detach(&b);
}

static void set_stmt_err(store_conn *c, MYSQL_STMT *st, store_error *err)
{
	unsigned int e = mysql_stmt_errno(st);
	if (e == 0)
		set_err(c, err);
	else
		set_err_num(err, e, mysql_stmt_error(st));
}

/* A statement with parameters and no rows to read (the writer's upserts, updates and
 * deletes) goes as a server-side prepared statement: its values travel in binary, so
 * the client does not escape them and the server does not lex them as literals. For
 * the serialized DAGs of a full sync that was a third of the server's time. */
static int my_exec_prepared(store_conn *c, const char *sql, const store_param *params, size_t n,
                            store_error *err)
{
	MYSQL *m = c->h;
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st) {
		set_err(c, err);
		return -1;
	}
	int ret = -1;
	MYSQL_BIND *b = xcalloc(n, sizeof *b);
	unsigned long *len = xcalloc(n, sizeof *len);
	signed char *flags = xcalloc(n, 1);
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
		set_stmt_err(c, st, err);
		goto out;
	}
	if (mysql_stmt_param_count(st) != n) {
		store_error_set(err, STORE_PERMANENT, "params", false,
		                "statement has %lu placeholders for %zu parameters",
		                mysql_stmt_param_count(st), n);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const store_param *p = &params[i];
		switch (p->type) {
		case STORE_P_TEXT:
			len[i] = (unsigned long)strlen(p->s);
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)p->s;
			b[i].buffer_length = len[i];
			b[i].length = &len[i];
			break;
		case STORE_P_INT:
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)&p->i;
			break;
		case STORE_P_DOUBLE:
			b[i].buffer_type = MYSQL_TYPE_DOUBLE;
			b[i].buffer = (void *)&p->d;
			break;
		case STORE_P_BOOL:
			flags[i] = p->i ? 1 : 0;
			b[i].buffer_type = MYSQL_TYPE_TINY;
			b[i].buffer = &flags[i];
			break;
		case STORE_P_NULL:
		default:
			b[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		}
	}
	if (mysql_stmt_bind_param(st, b) != 0 || mysql_stmt_execute(st) != 0) {
		set_stmt_err(c, st, err);
		goto out;
	}
	c->changes = (int64_t)mysql_stmt_affected_rows(st);
	ret = 0;
out:
	/* a connection lost on the way: the close has nobody to tell */
	mysql_stmt_close(st);
	free(b);
	free(len);
	free(flags);
	return ret;
}

/* Failures of the prepared-statement protocol itself, before anything ran: the
 * statement goes again as text. The server's slots for prepared statements are
 * shared by every application (max_prepared_stmt_count): when they run out, a write
 * must not fail, and still less be taken for the data's fault. */
static bool prepare_refused(const store_error *err)
{
	static const char *const codes[] = {
	    "1461", /* ER_MAX_PREPARED_STMT_COUNT_REACHED */
	    "1615", /* ER_NEED_REPREPARE */
	    "1243", /* ER_UNKNOWN_STMT_HANDLER (a proxy lost it) */
	    "1295", /* ER_UNSUPPORTED_PS */
	    "1390", /* ER_PS_MANY_PARAM */
	};
	if (err->conn_broken)
		return false;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (strcmp(err->code, codes[i]) == 0)
			return true;
	return false;
}

static int my_exec(store_conn *c, const char *sql, const store_param *params, size_t n,
                   store_row_fn fn, void *ud, store_error *err)
{
	if (n > 0 && !fn) {
		int rc = my_exec_prepared(c, sql, params, n, err);
		if (rc == 0 || !prepare_refused(err))
			return rc;
		store_error_clear(err);
	}
	MYSQL *m = c->h;
	MYSQL_RES *res = NULL;
	const char **row = NULL;
	int ret = -1;
	char *q = interpolate(m, sql, params, n, err);
	if (!q)
		goto out;
	if (mysql_real_query(m, q, (unsigned long)strlen(q)) != 0) {
		set_err(c, err);
		goto out;
	}
	res = mysql_store_result(m);
	if (!res) {
		if (mysql_field_count(m) != 0) {
			set_err(c, err);
			goto out;
		}
		c->changes = (int64_t)mysql_affected_rows(m);
	} else {
		unsigned int ncols = mysql_num_fields(res);
		MYSQL_ROW r;
		row = xcalloc(ncols ? ncols : 1, sizeof *row);
		while (fn && (r = mysql_fetch_row(res)) != NULL) {
			for (unsigned int i = 0; i < ncols; i++)
				row[i] = r[i];
			if (fn(ud, ncols, row) != 0)
				break;
		}
		c->changes = 0;
	}
	ret = 0;
out:
	if (res)
		mysql_free_result(res);
	free(row);
	free(q);
	return ret;
}

struct int_row {
	int64_t v;
};

static int first_int(void *ud, size_t ncols, const char *const *v)
{
	struct int_row *r = ud;
	if (ncols > 0 && v[0])
		r->v = strtoll(v[0], NULL, 10);
	return 1;
}

store_flavour store_mysql_flavour_of(const char *server_info)
{
	return server_info && strcasestr(server_info, "mariadb") ? STORE_FLAVOUR_MARIADB
	                                                         : STORE_FLAVOUR_MYSQL;
}

char *store_mysql_session_sql(store_flavour f, unsigned long version, int statement_timeout,
                              int lock_timeout, int idle_tx_timeout)
{
	strbuf b;
	sb_init(&b);
	sb_adds(&b, "SET time_zone = '+00:00', "
	            "sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
	            "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,ANSI_QUOTES', ");
	int st = statement_timeout > 0 ? statement_timeout : 0;
	if (f == STORE_FLAVOUR_MARIADB) {
		/* transaction_isolation is MariaDB's name from 11.1; tx_isolation before */
		sb_printf(&b, "%s = 'READ-COMMITTED', max_statement_time = %d",
		          version >= 110100 ? "transaction_isolation" : "tx_isolation", st);
	} else {
		/* MySQL removed tx_isolation in 8.0; max_execution_time (ms) bounds SELECTs */
		sb_printf(&b, "transaction_isolation = 'READ-COMMITTED', max_execution_time = %lld",
		          (long long)st * 1000);
	}
	if (lock_timeout > 0)
		sb_printf(&b, ", innodb_lock_wait_timeout = %d", lock_timeout);
	if (idle_tx_timeout > 0 && f == STORE_FLAVOUR_MARIADB)
		sb_printf(&b, ", idle_transaction_timeout = %d", idle_tx_timeout);
	return sb_detach(&b);
}

store_flavour store_conn_flavour(const store_conn *c)
{
	return c->dialect == STORE_MYSQL ? c->flavour : STORE_FLAVOUR_OTHER;
}

/* TLS from the URL's options, in any spelling db_url_check_params accepts: off when
 * disabled, else on when any TLS option is given; required (the connection fails
 * rather than going on in clear text) unless ssl_mode=preferred; the server's
 * certificate and name verified when asked. Returns whether TLS is required: Connector/C
 * 3.3 refuses a server without TLS only when verifying, so my_connect checks the others
 * itself. */
static bool set_tls(MYSQL *m, const store_params *p)
{
	int use = 0, enforce = 0, verify = 0, off = 0, preferred = 0, b;
	for (size_t i = 0; i < p->nopts; i++) {
		const char *k = p->opts[i].key, *v = p->opts[i].value;
		if (strcmp(k, "ssl") == 0 && db_url_bool(v, &b) == 0) {
			use |= b;
			enforce |= b;
			off |= !b;
		} else if (strcmp(k, "ssl_disabled") == 0 && db_url_bool(v, &b) == 0) {
			off |= b;
		} else if (strcmp(k, "ssl_mode") == 0) {
			if (strcasecmp(v, "disabled") == 0) {
				off = 1;
			} else if (strcasecmp(v, "preferred") == 0) {
				use = preferred = 1;
			} else {
				use = enforce = 1;
				verify |= strncasecmp(v, "verify_", 7) == 0;
			}
		} else if ((strcmp(k, "ssl_verify_server_cert") == 0 ||
		            strcmp(k, "ssl_check_hostname") == 0 ||
		            strcmp(k, "ssl_verify_cert") == 0 ||
		            strcmp(k, "ssl_verify_identity") == 0) &&
		           db_url_bool(v, &b) == 0) {
			verify |= b;
			use |= b;
		} else if (strncmp(k, "ssl_", 4) == 0) {
			use = 1;
		}
	}
	if (off || !use)
		return false;
	static const struct {
		const char *key;
		enum mysql_option opt;
	} files[] = {{"ssl_ca", MYSQL_OPT_SSL_CA},          {"ssl_capath", MYSQL_OPT_SSL_CAPATH},
	             {"ssl_cert", MYSQL_OPT_SSL_CERT},      {"ssl_key", MYSQL_OPT_SSL_KEY},
	             {"ssl_cipher", MYSQL_OPT_SSL_CIPHER},  {"ssl_crl", MYSQL_OPT_SSL_CRL},
	             {"ssl_crlpath", MYSQL_OPT_SSL_CRLPATH}};
	for (size_t i = 0; i < p->nopts; i++)
		for (size_t j = 0; j < sizeof files / sizeof files[0]; j++)
			if (strcmp(p->opts[i].key, files[j].key) == 0)
				mysql_optionsv(m, files[j].opt, p->opts[i].value);
	my_bool yes = 1;
	if (!preferred || enforce || verify)
		mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes);
	if (verify)
		mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
	return !preferred || enforce || verify;
}

static int my_connect(store_conn *c, const store_params *p, store_error *err)
{
	MYSQL *m;
	pthread_once(&lib_once, lib_init);
	m = mysql_init(NULL);
	c->h = m;
	if (!m) {
		store_error_set(err, STORE_TRANSIENT, "2008", true, "out of memory");
		return -1;
	}
	store_net_timeouts net;
	store_net_timeouts_of(p, &net);
	unsigned int ct = (unsigned int)(p->connect_timeout > 0 ? p->connect_timeout : 10);
	/* A server that vanishes without a RST (or a proxy that stops forwarding) must not
	 * hold a read for ever: the answer to a statement may take statement_timeout. */
	unsigned int rt = net.reply_timeout > 0 ? (unsigned int)net.reply_timeout : 3600;
	unsigned int wt = (unsigned int)net.write_timeout;
	my_bool off = 0;
	mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &wt);
	mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off); /* a silent reconnect loses the txn */
	mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	bool tls_required = set_tls(m, p);
	if (!mysql_real_connect(m, p->host ? p->host : "127.0.0.1", p->user, p->password,
	                        p->database, (unsigned int)(p->port > 0 ? p->port : 3306),
	                        p->unix_socket, 0)) {
		set_err(c, err);
		err->conn_broken = true;
		/* 1045 access denied, 1049 unknown database: permanent; others transient */
		unsigned int e = mysql_errno(m);
		err->cls = e == 1045 || e == 1049 || e == 1044 ? STORE_PERMANENT : STORE_TRANSIENT;
		return -1;
	}
	const char *cipher = NULL;
	if (tls_required &&
	    (mariadb_get_infov(m, MARIADB_CONNECTION_SSL_CIPHER, &cipher) != 0 || !cipher)) {
		/* Connector/C's own words for the case it catches (error 2026) */
		store_error_set(
		    err, STORE_TRANSIENT, "2026", true,
		    "TLS/SSL error: SSL is required, but the server does not support it");
		return -1;
	}
	c->flavour = store_mysql_flavour_of(mysql_get_server_info(m));
	char *init =
	    store_mysql_session_sql(c->flavour, mysql_get_server_version(m), p->statement_timeout,
	                            p->lock_timeout, p->idle_tx_timeout);
	int rc = my_exec(c, init, NULL, 0, NULL, NULL, err);
	free(init);
	/* a statement's text (parameters escaped, up to twice their size, when it
	 * goes as text) must fit in the server's max_allowed_packet */
	int64_t packet = 0;
	if (rc == 0) {
		struct int_row r = {0};
		rc = my_exec(c, "SELECT @@max_allowed_packet", NULL, 0, first_int, &r, err);
		packet = r.v;
	}
	if (rc != 0) {
		err->conn_broken = true;
		return -1;
	}
	if (packet > 0) {
		int64_t budget = packet / 2 - (64 << 10);
		c->max_bytes = (size_t)(budget < (32 << 10) ? (32 << 10) : budget);
	}
	return 0;
}

static void my_close(store_conn *c)
{
	mysql_close(c->h);
	c->h = NULL;
}

static int my_txn_state(store_conn *c)
{
	unsigned int status = 0;
	if (mariadb_get_infov(c->h, MARIADB_CONNECTION_SERVER_STATUS, &status) != 0)
		return -1;
	return (status & SERVER_STATUS_IN_TRANS) ? 1 : 0;
}

static unsigned long my_session_id(store_conn *c)
{
	return mysql_thread_id(c->h);
}

static void my_server_version(store_conn *c, char *buf, size_t len)
{
	const char *v = mysql_get_server_info(c->h);
	snprintf(buf, len, "%s", v ? v : "");
}

const struct store_backend store_mysql_backend = {
    .name = "mysql",
    .connect = my_connect,
    .close = my_close,
    .exec = my_exec,
    .txn_state = my_txn_state,
    .session_id = my_session_id,
    .server_version = my_server_version,
};
