/* Parses SQLAlchemy-style database URLs the way SQLAlchemy's make_url does, so
 * that a URL pasted from airflow.cfg means the same here, and redacts them. */
#include "config/dburl.h"

#include "util/xalloc.h"

#include <stdbool.h>
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

int config_parse_db_url(const char *url, struct db_url *out, char **err)
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
		why =
		    xasprintf("unsupported database '%.*s' (expected sqlite, postgresql or mysql)",
		              (int)s.scheme_len, s.scheme);
		goto out;
	}

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
	if (*p == ':') {
		size_t n = strcspn(p + 1, "/?");
		if (parse_port(p + 1, n, &out->port) < 0) {
			why = xasprintf("port '%.*s' is not a number between 1 and 65535", (int)n,
			                p + 1);
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
		why = xasprintf("unexpected '%c' after the host", *p);
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
		rc = 0;
		goto out;
	}

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
	rc = 0;
out:
	if (rc < 0) {
		if (err) {
			char *red = url ? db_url_redacted(url) : xstrdup("");
			*err = xasprintf("invalid database URL '%s': %s", red, why);
			free(red);
		}
		db_url_free(out);
	}
	free(why);
	return rc;
}

char *db_url_redacted(const char *url)
{
	struct url_split s;
	strbuf b;
	const char *p;

	if (!url)
		return xstrdup("");
	if (split_url(url, &s) < 0)
		return xstrdup(url);
	sb_init(&b);
	if (s.password && s.password_len > 0) {
		sb_add(&b, url, (size_t)(s.password - url));
		sb_adds(&b, "***");
		p = s.password + s.password_len;
	} else {
		p = url;
	}
	/* libpq and MySQL also take password=... in the query string. */
	const char *q = strchr(s.after, '?');
	if (q && q >= p) {
		sb_add(&b, p, (size_t)(q + 1 - p));
		p = q + 1;
		while (*p) {
			size_t n = strcspn(p, "&");
			const char *eq = memchr(p, '=', n);
			if (eq && (size_t)(eq - p) == 8 && strncasecmp(p, "password", 8) == 0 &&
			    eq + 1 < p + n) {
				sb_add(&b, p, 9);
				sb_adds(&b, "***");
			} else {
				sb_add(&b, p, n);
			}
			p += n;
			if (*p == '&') {
				sb_addc(&b, '&');
				p++;
			}
		}
	}
	sb_adds(&b, p);
	return sb_detach(&b);
}
