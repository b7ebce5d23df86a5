/* Query parameters, ORDER BY whitelists, bearer-token and file_token handling, and the
 * small conversions of database text to Airflow's JSON types. No I/O. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_int.h"
#include "util/utf8.h"

int api_fail(api_status *st, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->detail, sizeof(st->detail), fmt, ap);
	va_end(ap);
	st->code = code;
	return code;
}

void api_query_init(api_query *q)
{
	memset(q, 0, sizeof(*q));
	q->limit = API_DEFAULT_LIM;
	q->exclude_stale = true;
	q->paused = -1;
	q->has_import_errors = -1;
}

int api_parse_count(const char *s, long max, long *out)
{
	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int api_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	if (!s)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------------ */
/* ORDER BY                                                                  */

typedef struct sort_col {
	const char *name;
	const char *sql; /* NULL: accepted (Airflow knows it) but dagproc has no value */
} sort_col;

static const sort_col ie_cols[] = {
    {"id", "id"},
    {"import_error_id", "id"},
    {"timestamp", "timestamp"},
    {"filename", "filename"},
    {"bundle_name", "bundle_name"},
    {"stacktrace", "stacktrace"},
    {NULL, NULL},
};

static const sort_col dag_cols[] = {
    {"dag_id", "d.dag_id"},
    {"dag_display_name", "COALESCE(d.dag_display_name, d.dag_id)"},
    {"bundle_name", "d.bundle_name"},
    {"relative_fileloc", "d.relative_fileloc"},
    {"fileloc", "d.fileloc"},
    {"last_parsed_time", "d.last_parsed_time"},
    {"last_parse_duration", "d.last_parse_duration"},
    {"is_paused", "d.is_paused"},
    {"is_stale", "d.is_stale"},
    {"has_import_errors", "d.has_import_errors"},
    {"max_active_tasks", "d.max_active_tasks"},
    /* Airflow's run-related orderings: no runs here, so they do not reorder */
    {"next_dagrun", NULL},
    {"state", NULL},
    {"start_date", NULL},
    {"last_run_state", NULL},
    {"last_run_start_date", NULL},
    {NULL, NULL},
};

static const sort_col warn_cols[] = {
    {"dag_id", "w.dag_id"},
    {"warning_type", "w.warning_type"},
    {"message", "w.message"},
    {"timestamp", "w.timestamp"},
    {NULL, NULL},
};

static const sort_col report_cols[] = {
    {"bundle_name", "bundle_name"},
    {"file", "relative_fileloc"},
    {"relative_fileloc", "relative_fileloc"},
    {"duration", "last_duration"},
    {"last_duration", "last_duration"},
    {"dag_count", "dag_count"},
    {"task_count", "task_count"},
    {"import_error_count", "import_error_count"},
    {"warning_count", "warning_count"},
    {"last_parsed_time", "last_parsed_time"},
    {NULL, NULL},
};

static const sort_col proc_cols[] = {
    {"instance_name", "instance_name"},
    {"latest_heartbeat", "latest_heartbeat"},
    {"files_held", "files_held"},
    {NULL, NULL},
};

static const struct {
	const sort_col *cols;
	const char *def;
	const char *tiebreak;
} sorts[] = {
    [API_EP_IMPORT_ERRORS] = {ie_cols, "id", "id"},
    [API_EP_DAGS] = {dag_cols, "dag_id", "d.dag_id"},
    [API_EP_WARNINGS] = {warn_cols, "dag_id", "w.dag_id, w.warning_type"},
    [API_EP_REPORT] = {report_cols, "-last_duration", "bundle_name, relative_fileloc"},
    [API_EP_PROCESSORS] = {proc_cols, "-latest_heartbeat", "instance_name"},
};

static void allowed_list(const sort_col *cols, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; cols[i].name && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", cols[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

int api_order_by(api_endpoint ep, const char *const *terms, size_t n, strbuf *out, api_status *st)
{
	const sort_col *cols = sorts[ep].cols;
	const char *def = sorts[ep].def;
	if (n == 0) {
		terms = &def;
		n = 1;
	}
	strbuf b;
	sb_init(&b);
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const char *t = terms[i];
		bool desc = false;
		if (*t == '-') {
			desc = true;
			t++;
		} else if (*t == '+') {
			t++;
		}
		const sort_col *c = NULL;
		for (size_t k = 0; cols[k].name; k++)
			if (strcmp(cols[k].name, t) == 0)
				c = &cols[k];
		if (!c) {
			char allowed[400];
			allowed_list(cols, allowed, sizeof(allowed));
			sb_free(&b);
			return api_fail(
			    st, 400,
			    "Ordering with '%s' is disallowed or the attribute does not "
			    "exist on the model (allowed: %s)",
			    terms[i], allowed);
		}
		if (!c->sql)
			continue;
		sb_printf(&b, "%s%s%s", used++ ? ", " : "", c->sql, desc ? " DESC" : "");
	}
	sb_printf(&b, "%s%s", used ? ", " : "", sorts[ep].tiebreak);
	sb_printf(out, " ORDER BY %s", b.data);
	sb_free(&b);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Query parameters                                                          */

static int bool_arg(const api_arg *a, bool *out, api_status *st)
{
	if (api_parse_bool(a->value, out) != 0)
		return api_fail(st, 400, "query parameter '%s': '%s' is not a boolean", a->key,
		                a->value);
	return 0;
}

int api_query_parse(api_query *q, api_endpoint ep, const api_arg *args, size_t nargs,
                    api_status *st)
{
	for (size_t i = 0; i < nargs; i++) {
		const api_arg *a = &args[i];
		const char *k = a->key, *v = a->value ? a->value : "";
		bool b;
		if (strcmp(k, "limit") == 0) {
			if (api_parse_count(v, API_MAX_LIMIT, &q->limit) != 0)
				return api_fail(st, 400,
				                "query parameter 'limit': '%s' is not an integer "
				                "between 0 and %d",
				                v, API_MAX_LIMIT);
		} else if (strcmp(k, "offset") == 0) {
			if (api_parse_count(v, 1000000000L, &q->offset) != 0)
				return api_fail(st, 400,
				                "query parameter 'offset': '%s' is not a "
				                "non-negative integer",
				                v);
		} else if (strcmp(k, "order_by") == 0) {
			if (q->norder >= API_MAX_LIST)
				return api_fail(st, 400, "too many 'order_by' parameters");
			if (!*v)
				return api_fail(st, 400, "query parameter 'order_by' is empty");
			q->order_by[q->norder++] = v;
		} else if (ep == API_EP_DAGS && strcmp(k, "tags") == 0) {
			bool again = false; /* a repeated tag counts once (tags_match_mode=all) */
			for (size_t t = 0; t < q->ntags && !again; t++)
				again = strcmp(q->tags[t], v) == 0;
			if (again)
				continue;
			if (q->ntags >= API_MAX_LIST)
				return api_fail(st, 400, "too many 'tags' parameters");
			q->tags[q->ntags++] = v;
		} else if (ep == API_EP_DAGS && strcmp(k, "tags_match_mode") == 0) {
			if (strcmp(v, "any") && strcmp(v, "all"))
				return api_fail(st, 400,
				                "query parameter 'tags_match_mode': '%s' is not "
				                "'any' or 'all'",
				                v);
			q->tags_all = strcmp(v, "all") == 0;
		} else if (ep == API_EP_DAGS && strcmp(k, "dag_id_pattern") == 0) {
			q->dag_id_pattern = v;
		} else if (ep == API_EP_DAGS && strcmp(k, "dag_display_name_pattern") == 0) {
			q->dag_display_name_pattern = v;
		} else if (ep == API_EP_IMPORT_ERRORS && strcmp(k, "filename_pattern") == 0) {
			q->filename_pattern = v;
		} else if ((ep == API_EP_DAGS || ep == API_EP_REPORT) &&
		           strcmp(k, "bundle_name") == 0) {
			q->bundle_name = v;
		} else if (ep == API_EP_DAGS && strcmp(k, "exclude_stale") == 0) {
			if (bool_arg(a, &b, st))
				return st->code;
			q->exclude_stale = b;
		} else if (ep == API_EP_DAGS && strcmp(k, "paused") == 0) {
			if (bool_arg(a, &b, st))
				return st->code;
			q->paused = b;
		} else if (ep == API_EP_DAGS && strcmp(k, "has_import_errors") == 0) {
			if (bool_arg(a, &b, st))
				return st->code;
			q->has_import_errors = b;
		} else if (ep == API_EP_WARNINGS && strcmp(k, "dag_id") == 0) {
			q->dag_id = v;
		} else if (ep == API_EP_WARNINGS && strcmp(k, "warning_type") == 0) {
			q->warning_type = v;
		}
	}
	/* validate the ordering now, so a bad term is a 400 before any database work */
	strbuf tmp;
	sb_init(&tmp);
	int rc = api_order_by(ep, q->order_by, q->norder, &tmp, st);
	sb_free(&tmp);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                    */

bool api_bearer_ok(const char *header, const char *token)
{
	if (!header || !token)
		return false;
	if (strncasecmp(header, "Bearer ", 7) != 0)
		return false;
	const char *given = header + 7;
	while (*given == ' ')
		given++;
	size_t gl = strlen(given), tl = strlen(token);
	/* compare every byte of the longer string whatever matches, so the time taken
	 * says nothing about how much of the token was right */
	size_t n = gl > tl ? gl : tl;
	unsigned char diff = (unsigned char)(gl != tl);
	for (size_t i = 0; i < n; i++) {
		unsigned char a = i < gl ? (unsigned char)given[i] : 0;
		unsigned char b = i < tl ? (unsigned char)token[i] : 0;
		diff |= (unsigned char)(a ^ b);
	}
	return diff == 0 && tl > 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *api_file_token_encode(const char *bundle, const char *rel)
{
	strbuf in, out;
	sb_init(&in);
	sb_init(&out);
	sb_printf(&in, "%s\x1f%s", bundle, rel);
	const unsigned char *s = (const unsigned char *)in.data;
	size_t n = in.len;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		sb_addc(&out, b64url[(v >> 18) & 63]);
		sb_addc(&out, b64url[(v >> 12) & 63]);
		if (i + 1 < n)
			sb_addc(&out, b64url[(v >> 6) & 63]);
		if (i + 2 < n)
			sb_addc(&out, b64url[v & 63]);
	}
	sb_free(&in);
	return sb_detach(&out);
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

static bool rel_path_ok(const char *rel)
{
	if (!*rel || rel[0] == '/')
		return false;
	const char *p = rel;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0 || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!e)
			break;
		p = e + 1;
	}
	return true;
}

int api_file_token_decode(const char *token, char **bundle, char **rel)
{
	*bundle = *rel = NULL;
	size_t n = token ? strlen(token) : 0;
	if (n == 0 || n % 4 == 1 || n > 8192)
		return -1;
	strbuf out;
	sb_init(&out);
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(token[i]);
		if (v < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char c = (char)((acc >> bits) & 0xff);
			if (c == '\0')
				goto bad;
			sb_addc(&out, c);
		}
	}
	char *sep = out.data ? strchr(out.data, '\x1f') : NULL;
	if (!sep || sep == out.data || strchr(sep + 1, '\x1f') || !rel_path_ok(sep + 1))
		goto bad;
	*bundle = xstrndup(out.data, (size_t)(sep - out.data));
	*rel = xstrdup(sep + 1);
	sb_free(&out);
	return 0;
bad:
	sb_free(&out);
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Database text to JSON types                                               */

const char *api_iso_ts(const char *db, char *buf, size_t len)
{
	if (!db || !*db)
		return NULL;
	size_t n = strlen(db);
	/* drop a UTC offset (+00, +00:00, Z) that PostgreSQL or a dialect may add */
	if (n > 19 && (db[n - 3] == '+' || db[n - 3] == '-') && isdigit((unsigned char)db[n - 1]))
		n -= 3;
	else if (n > 19 && (db[n - 6] == '+' || db[n - 6] == '-') && db[n - 3] == ':')
		n -= 6;
	else if (n >= 1 && (db[n - 1] == 'Z' || db[n - 1] == 'z'))
		n -= 1;
	if (n + 2 > len)
		n = len - 2;
	memcpy(buf, db, n);
	buf[n] = '\0';
	if (n > 10 && buf[10] == ' ')
		buf[10] = 'T';
	if (n == 10) { /* a bare date */
		snprintf(buf + n, len - n, "T00:00:00Z");
		return buf;
	}
	buf[n] = 'Z';
	buf[n + 1] = '\0';
	return buf;
}

bool api_db_bool(const char *v)
{
	return v && (strcmp(v, "1") == 0 || strcasecmp(v, "t") == 0 || strcasecmp(v, "true") == 0);
}

json_t *api_json_textn(const char *s, size_t n)
{
	if (!s)
		return json_string("");
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	strbuf b;
	sb_init(&b);
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_decode(u + i, n - i, NULL);
		if (k == 0) {
			sb_adds(&b, "\xEF\xBF\xBD"); /* U+FFFD */
			i++;
		} else {
			sb_add(&b, s + i, k);
			i += k;
		}
	}
	j = json_stringn(b.data ? b.data : "", b.len);
	sb_free(&b);
	return j ? j : json_string("");
}

json_t *api_json_text(const char *s)
{
	return api_json_textn(s, s ? strlen(s) : 0);
}
