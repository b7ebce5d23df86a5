/* Parses SQLAlchemy-style database URLs the way SQLAlchemy's make_url does, so
 * that a URL pasted from airflow.cfg means the same here, and redacts them. */
#include "config/dburl.h"

#include "util/xalloc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where the pieces of "scheme://user:password@rest" are; lengths in bytes. */
struct url_split {
	const char *scheme;
	size_t scheme_len;
	const char *user; /* NULL when there is no userinfo */
	size_t user_len;
	const char *password; /* NULL when there is no ':' in the userinfo */
	size_t password_len;
	const char *after; /* first byte after the userinfo ('@' consumed) */
};

/* Mirrors SQLAlchemy's pattern: username is [^:/]*, password [^@]*, so a
 * password may hold '/', '?' or ':' but an '@' must be written %40. */
static int split_url(const char *url, struct url_split *s)
{
	const char *mark = strstr(url, "://");
	if (!mark)
		return -1;
	memset(s, 0, sizeof(*s));
	s->scheme = url;
	s->scheme_len = (size_t)(mark - url);
	const char *rest = mark + 3;
	const char *span_end = rest + strcspn(rest, ":/");
	s->after = rest;
	if (*span_end == ':') {
		const char *pw = span_end + 1;
		const char *at = pw + strcspn(pw, "@");
		if (*at == '@') {
			s->user = rest;
			s->user_len = (size_t)(span_end - rest);
			s->password = pw;
			s->password_len = (size_t)(at - pw);
			s->after = at + 1;
			return 0;
		}
	}
	for (const char *p = span_end; p > rest; p--) {
		if (p[-1] == '@') {
			s->user = rest;
			s->user_len = (size_t)(p - 1 - rest);
			s->after = p;
			break;
		}
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n); malformed escapes are kept literally. Returns NULL
 * if the result would contain a NUL byte. plus_is_space for query strings. */
static char *pct_decode(const char *s, size_t n, bool plus_is_space)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			char c = (char)(hi * 16 + lo);
			if (c == '\0') {
				free(out);
				return NULL;
			}
			out[o++] = c;
			i += 2;
		} else if (plus_is_space && s[i] == '+') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

bool db_url_password_span(const char *url, size_t *off, size_t *len)
{
	struct url_split s;
	if (!url || split_url(url, &s) < 0 || !s.password || s.password_len == 0)
		return false;
	*off = (size_t)(s.password - url);
	*len = s.password_len;
	return true;
}

const char *db_dialect_name(enum db_dialect d)
{
	switch (d) {
	case DB_SQLITE:
		return "sqlite";
	case DB_POSTGRESQL:
		return "postgresql";
	case DB_MYSQL:
		return "mysql";
	}
	return "unknown";
}

void db_url_free(struct db_url *u)
{
	if (!u)
		return;
	free(u->scheme);
	free(u->driver);
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->database);
	free(u->path);
	for (size_t i = 0; i < u->n_params; i++) {
		free(u->params[i].key);
		free(u->params[i].value);
	}
	free(u->params);
	memset(u, 0, sizeof(*u));
}

const char *db_url_param(const struct db_url *u, const char *key)
{
	for (size_t i = 0; i < u->n_params; i++) {
		if (strcmp(u->params[i].key, key) == 0)
			return u->params[i].value;
	}
	return NULL;
}

static int parse_dialect(const char *scheme, size_t len, struct db_url *out)
{
	const char *plus = memchr(scheme, '+', len);
	size_t base = plus ? (size_t)(plus - scheme) : len;
	static const struct {
		const char *name;
		enum db_dialect d;
	} names[] = {{"sqlite", DB_SQLITE},
	             {"postgresql", DB_POSTGRESQL},
	             {"postgres", DB_POSTGRESQL},
	             {"mysql", DB_MYSQL},
	             {"mariadb", DB_MYSQL}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == base &&
		    strncasecmp(scheme, names[i].name, base) == 0) {
			out->dialect = names[i].d;
			if (plus && plus + 1 < scheme + len)
				out->driver = xstrndup(plus + 1, len - base - 1);
			return 0;
		}
	}
	return -1;
}

static int parse_query(const char *q, struct db_url *out)
{
	while (*q) {
		size_t n = strcspn(q, "&");
		if (n > 0) {
			const char *eq = memchr(q, '=', n);
			size_t klen = eq ? (size_t)(eq - q) : n;
			char *k = pct_decode(q, klen, true);
			char *v = eq ? pct_decode(eq + 1, n - klen - 1, true) : xstrdup("");
			if (!k || !v || !*k) {
				free(k);
				free(v);
				return -1;
			}
			out->params =
			    xrealloc(out->params, (out->n_params + 1) * sizeof(*out->params));
			out->params[out->n_params].key = k;
			out->params[out->n_params].value = v;
			out->n_params++;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

static int parse_port(const char *s, size_t n, int *port)
{
	long v = 0;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* Parses without checking the query parameters. Returns 0, or -1 with *why
 * and *parsed set: whether everything but the parameters was understood. */
static int parse_url(const char *url, struct db_url *out, char **why_out)
{
	struct url_split s;
	char *why = NULL;
	const char *p, *host = NULL;
	size_t host_len = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!url || !*url) {
		why = xstrdup("empty URL");
		goto out;
	}
	if (split_url(url, &s) < 0) {
		why = xstrdup("expected dialect://..., e.g. postgresql://user:pass@host:5432/db "
		              "or sqlite:///dagproc.db");
		goto out;
	}
	if (parse_dialect(s.scheme, s.scheme_len, out) < 0) {
		why = xstrdup("unsupported database (expected sqlite, postgresql or mysql)");
		goto out;
	}
	out->scheme = xstrndup(s.scheme, s.scheme_len);

	/* The messages below never quote the text they reject: with an '@' of the
	 * password left unencoded, any part of the URL may be part of the password. */
	p = s.after;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (!close) {
			why = xstrdup("unterminated '[' in IPv6 host");
			goto out;
		}
		host = p + 1;
		host_len = (size_t)(close - host);
		p = close + 1;
	} else {
		host = p;
		host_len = strcspn(p, "/:?");
		p += host_len;
	}
	if (memchr(host, '@', host_len)) {
		why = xstrdup("'@' in the host name: write an '@' of the user name or password "
		              "as %40");
		goto out;
	}
	if (*p == ':') {
		size_t n = strcspn(p + 1, "/?");
		out->port_given = true;
		if (parse_port(p + 1, n, &out->port) < 0) {
			why = xstrdup("the port is not a number between 1 and 65535 (an unencoded "
			              "'@' or '/' in the password? write them as %40 and %2F)");
			goto out;
		}
		p += 1 + n;
	}
	const char *db = NULL;
	size_t db_len = 0;
	if (*p == '/') {
		db = p + 1;
		db_len = strcspn(db, "?");
		p = db + db_len;
	}
	if (*p == '?') {
		if (parse_query(p + 1, out) < 0) {
			why = xstrdup("malformed query string");
			goto out;
		}
	} else if (*p) {
		why = xstrdup("unexpected text after the host");
		goto out;
	}

	if (s.user) {
		out->user = pct_decode(s.user, s.user_len, false);
		if (!out->user) {
			why = xstrdup("user name contains %00");
			goto out;
		}
	}
	if (s.password) {
		out->password = pct_decode(s.password, s.password_len, false);
		if (!out->password) {
			why = xstrdup("password contains %00");
			goto out;
		}
	}

	if (out->dialect == DB_SQLITE) {
		if (host_len > 0 || s.user || out->port) {
			why = xstrdup("sqlite URLs take no host, user or port: use "
			              "sqlite:///relative.db or sqlite:////absolute/path.db");
			goto out;
		}
		out->path = db && db_len ? pct_decode(db, db_len, false) : xstrdup(":memory:");
		if (!out->path) {
			why = xstrdup("path contains %00");
			goto out;
		}
	} else {
		if (host_len > 0) {
			out->host = pct_decode(host, host_len, false);
			if (!out->host) {
				why = xstrdup("host contains %00");
				goto out;
			}
		}
		if (!out->port)
			out->port = out->dialect == DB_POSTGRESQL ? 5432 : 3306;
		if (db && db_len) {
			out->database = pct_decode(db, db_len, false);
			if (!out->database) {
				why = xstrdup("database name contains %00");
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (rc < 0)
		db_url_free(out);
	*why_out = why;
	return rc;
}

int config_parse_db_url(const char *url, struct db_url *out, char **err)
{
	char *why = NULL;
	char *shown = NULL;
	if (parse_url(url, out, &why) < 0) {
		shown = db_url_redacted(url);
	} else if (db_url_check_params(out, &why) < 0) {
		/* understood but for a parameter: printed as everywhere else */
		shown = db_url_format(out);
		db_url_free(out);
	} else {
		return 0;
	}
	if (err)
		*err = xasprintf("invalid database URL '%s': %s", shown, why);
	free(shown);
	free(why);
	return -1;
}

/* ---- printing ---- */

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s percent-encoded; chars in keep are written as they are. */
static void add_encoded(strbuf *b, const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep && *p != '\0' && strchr(keep, *p))) {
			sb_addc(b, (char)*p);
		} else {
			sb_addc(b, '%');
			sb_addc(b, hex[*p >> 4]);
			sb_addc(b, hex[*p & 15]);
		}
	}
}

static bool is_password_key(const char *k)
{
	return strcasestr(k, "password") != NULL;
}

char *db_url_format(const struct db_url *u)
{
	strbuf b;
	sb_init(&b);
	if (u->scheme)
		sb_adds(&b, u->scheme);
	else
		sb_adds(&b, db_dialect_name(u->dialect));
	sb_adds(&b, "://");
	if (u->dialect == DB_SQLITE) {
		if (u->path && strcmp(u->path, ":memory:") != 0) {
			sb_addc(&b, '/');
			add_encoded(&b, u->path, "/:+@,=!$&'()*;");
		}
	} else {
		if (u->user) {
			add_encoded(&b, u->user, NULL);
			if (u->password)
				sb_adds(&b, *u->password ? ":***" : ":");
			sb_addc(&b, '@');
		} else if (u->password) {
			sb_adds(&b, *u->password ? ":***@" : ":@");
		}
		if (u->host) {
			if (strchr(u->host, ':')) {
				sb_addc(&b, '[');
				sb_adds(&b, u->host);
				sb_addc(&b, ']');
			} else {
				add_encoded(&b, u->host, NULL);
			}
		}
		if (u->port_given)
			sb_printf(&b, ":%d", u->port);
		if (u->database) {
			sb_addc(&b, '/');
			add_encoded(&b, u->database, NULL);
		}
	}
	for (size_t i = 0; i < u->n_params; i++) {
		sb_addc(&b, i ? '&' : '?');
		add_encoded(&b, u->params[i].key, NULL);
		sb_addc(&b, '=');
		if (is_password_key(u->params[i].key) && *u->params[i].value)
			sb_adds(&b, "***");
		else
			add_encoded(&b, u->params[i].value, "/:,");
	}
	return sb_detach(&b);
}

char *db_url_redacted(const char *url)
{
	struct db_url u;
	char *why = NULL;
	if (!url || !*url)
		return xstrdup("");
	int rc = parse_url(url, &u, &why);
	free(why);
	if (rc == 0) {
		char *r = db_url_format(&u);
		db_url_free(&u);
		return r;
	}
	/* The scheme alone, when it looks like one. */
	const char *mark = strstr(url, "://");
	size_t n = mark ? (size_t)(mark - url) : 0;
	bool ok = n > 0 && n <= 32;
	for (size_t i = 0; ok && i < n; i++) {
		char c = url[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '+' || c == '.' || c == '-' || c == '_';
	}
	return ok ? xasprintf("%.*s://***", (int)n, url) : xstrdup("***");
}

/* ---- query parameters ---- */

enum pkind {
	P_ANY,  /* any non-empty text */
	P_TEXT, /* any text, empty included */
	P_BOOL, /* db_url_bool */
	P_UINT, /* a non-negative integer */
	P_NUM,  /* a non-negative number */
	P_ENUM, /* one of choices (PostgreSQL: exact; MySQL: any case) */
	P_BIT,  /* 0 or 1 */
};

struct pdef {
	const char *name;
	enum pkind kind;
	const char *choices; /* P_ENUM: comma separated */
};

/* libpq conninfo keywords dagproc passes on (the others are dagproc's settings
 * or would defeat them: user, password, dbname, port come from the URL). */
static const struct pdef pg_params[] = {
    {"sslmode", P_ENUM, "disable,allow,prefer,require,verify-ca,verify-full"},
    {"sslrootcert", P_ANY, NULL},
    {"sslcert", P_ANY, NULL},
    {"sslkey", P_ANY, NULL},
    {"sslcrl", P_ANY, NULL},
    {"sslcrldir", P_ANY, NULL},
    {"sslsni", P_BIT, NULL},
    {"ssl_min_protocol_version", P_ENUM, "TLSv1,TLSv1.1,TLSv1.2,TLSv1.3"},
    {"ssl_max_protocol_version", P_ENUM, "TLSv1,TLSv1.1,TLSv1.2,TLSv1.3"},
    {"channel_binding", P_ENUM, "disable,prefer,require"},
    {"target_session_attrs", P_ENUM, "any,read-write,read-only,primary,standby,prefer-standby"},
    {"application_name", P_TEXT, NULL},
    {"options", P_TEXT, NULL},
    {"keepalives", P_BIT, NULL},
    {"keepalives_idle", P_UINT, NULL},
    {"keepalives_interval", P_UINT, NULL},
    {"keepalives_count", P_UINT, NULL},
    {"tcp_user_timeout", P_UINT, NULL},
    {"connect_timeout", P_UINT, NULL},
    {"host", P_ANY, NULL},
};

/* MariaDB Connector/C's TLS options, with the spellings of SQLAlchemy's
 * drivers (mysqlclient, PyMySQL, mysql-connector) that mean the same. */
static const struct pdef my_params[] = {
    {"ssl", P_BOOL, NULL},
    {"ssl_mode", P_ENUM, "disabled,preferred,required,verify_ca,verify_identity"},
    {"ssl_disabled", P_BOOL, NULL},
    {"ssl_ca", P_ANY, NULL},
    {"ssl_capath", P_ANY, NULL},
    {"ssl_cert", P_ANY, NULL},
    {"ssl_key", P_ANY, NULL},
    {"ssl_cipher", P_ANY, NULL},
    {"ssl_crl", P_ANY, NULL},
    {"ssl_crlpath", P_ANY, NULL},
    {"ssl_verify_server_cert", P_BOOL, NULL},
    {"ssl_check_hostname", P_BOOL, NULL},
    {"ssl_verify_cert", P_BOOL, NULL},
    {"ssl_verify_identity", P_BOOL, NULL},
    {"unix_socket", P_ANY, NULL},
    {"charset", P_ENUM, "utf8mb4,utf8,utf8mb3"},
    {"connect_timeout", P_UINT, NULL},
};

static const struct pdef sqlite_params[] = {
    {"timeout", P_NUM, NULL},
};

int db_url_bool(const char *v, int *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static bool in_choices(const char *v, const char *choices, bool nocase)
{
	size_t n = strlen(v);
	for (const char *c = choices; *c;) {
		size_t len = strcspn(c, ",");
		if (len == n && (nocase ? strncasecmp(c, v, n) : strncmp(c, v, n)) == 0)
			return true;
		c += len + (c[len] == ',');
	}
	return false;
}

static bool all_digits(const char *v, bool dot)
{
	bool seen = false, dotted = false;
	for (const char *p = v; *p; p++) {
		if (*p >= '0' && *p <= '9')
			seen = true;
		else if (dot && *p == '.' && !dotted)
			dotted = true;
		else
			return false;
	}
	return seen && strlen(v) <= 9;
}

/* Edit distance for "did you mean" over short names. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (lb >= 64 || la >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static char *check_value(const struct pdef *d, const char *v, bool nocase_enum)
{
	switch (d->kind) {
	case P_TEXT:
		return NULL;
	case P_ANY:
		return *v ? NULL : xasprintf("connection parameter %s is empty", d->name);
	case P_BOOL: {
		int b;
		if (db_url_bool(v, &b) == 0)
			return NULL;
		return xasprintf("connection parameter %s: '%s' is not a boolean (true or false)",
		                 d->name, v);
	}
	case P_BIT:
		if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0)
			return NULL;
		return xasprintf("connection parameter %s: '%s' is not 0 or 1", d->name, v);
	case P_UINT:
	case P_NUM:
		if (all_digits(v, d->kind == P_NUM))
			return NULL;
		return xasprintf("connection parameter %s: '%s' is not a %s", d->name, v,
		                 d->kind == P_NUM ? "number" : "whole number");
	case P_ENUM:
		if (in_choices(v, d->choices, nocase_enum))
			return NULL;
		strbuf b;
		sb_init(&b);
		sb_printf(&b, "connection parameter %s: '%s' is not one of ", d->name, v);
		for (const char *c = d->choices; *c;) {
			size_t len = strcspn(c, ",");
			sb_add(&b, c, len);
			c += len;
			if (*c == ',') {
				sb_adds(&b, ", ");
				c++;
			}
		}
		return sb_detach(&b);
	}
	return NULL;
}

int db_url_check_params(const struct db_url *u, char **err)
{
	const struct pdef *defs;
	size_t ndefs;
	switch (u->dialect) {
	case DB_POSTGRESQL:
		defs = pg_params;
		ndefs = sizeof(pg_params) / sizeof(pg_params[0]);
		break;
	case DB_MYSQL:
		defs = my_params;
		ndefs = sizeof(my_params) / sizeof(my_params[0]);
		break;
	default:
		defs = sqlite_params;
		ndefs = sizeof(sqlite_params) / sizeof(sqlite_params[0]);
		break;
	}
	for (size_t i = 0; i < u->n_params; i++) {
		const char *k = u->params[i].key;
		const struct pdef *d = NULL;
		for (size_t j = 0; j < ndefs && !d; j++)
			if (strcmp(defs[j].name, k) == 0)
				d = &defs[j];
		if (!d) {
			const char *best = NULL;
			size_t bd = strlen(k) / 3 > 2 ? strlen(k) / 3 : 2;
			for (size_t j = 0; j < ndefs; j++) {
				size_t dist = distance(k, defs[j].name);
				if (dist <= bd) {
					bd = dist;
					best = defs[j].name;
				}
			}
			if (is_password_key(k))
				*err = xasprintf("connection parameter %s is not accepted: put the "
				                 "password in the URL's user:password@ part",
				                 k);
			else if (best)
				*err =
				    xasprintf("unknown connection parameter '%s' for %s (did you "
				              "mean %s?)",
				              k, db_dialect_name(u->dialect), best);
			else
				*err = xasprintf("unknown connection parameter '%s' for %s", k,
				                 db_dialect_name(u->dialect));
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(u->params[j].key, k) == 0) {
				*err = xasprintf("connection parameter %s is given twice", k);
				return -1;
			}
		}
		char *why = check_value(d, u->params[i].value, u->dialect == DB_MYSQL);
		if (why) {
			*err = why;
			return -1;
		}
	}
	if (u->dialect == DB_POSTGRESQL && u->host && db_url_param(u, "host")) {
		*err = xstrdup("connection parameter host is given, but the URL has a host "
		               "already");
		return -1;
	}
	if (u->dialect == DB_MYSQL) {
		/* TLS switched off and configured at once: which one is meant is unclear */
		const char *off = NULL;
		int b;
		const char *v;
		if ((v = db_url_param(u, "ssl")) && db_url_bool(v, &b) == 0 && !b)
			off = "ssl";
		else if ((v = db_url_param(u, "ssl_disabled")) && db_url_bool(v, &b) == 0 && b)
			off = "ssl_disabled";
		else if ((v = db_url_param(u, "ssl_mode")) && strcasecmp(v, "disabled") == 0)
			off = "ssl_mode";
		for (size_t i = 0; off && i < u->n_params; i++) {
			const char *k = u->params[i].key;
			if (strncmp(k, "ssl", 3) != 0 || strcmp(k, "ssl") == 0 ||
			    strcmp(k, "ssl_disabled") == 0 || strcmp(k, "ssl_mode") == 0)
				continue;
			if (db_url_bool(u->params[i].value, &b) == 0 && !b)
				continue; /* ssl_verify_server_cert=false and the like agree */
			*err = xasprintf("connection parameter %s is given, but %s turns TLS off",
			                 k, off);
			return -1;
		}
	}
	if (u->dialect == DB_MYSQL && u->host && strcmp(u->host, "localhost") != 0 &&
	    db_url_param(u, "unix_socket")) {
		*err = xstrdup("connection parameter unix_socket is used only with the host "
		               "localhost or no host");
		return -1;
	}
	return 0;
}
