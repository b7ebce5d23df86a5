/* Airflow REST v2 JSON shapes built from database rows: DAGResponse, DAGDetailsResponse,
 * ImportErrorResponse, DAGWarningResponse, and the diagnostics of a stack trace. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jts(const char *db)
{
	char buf[64];
	const char *s = api_iso_ts(db, buf, sizeof(buf));
	return s ? json_string(s) : json_null();
}

static json_t *jint_or(const char *s, long long def, bool null_default)
{
	if (!s || !*s)
		return null_default ? json_null() : json_integer(def);
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (end == s)
		return null_default ? json_null() : json_integer(def);
	return json_integer(v);
}

static json_t *jnum_or_null(const char *s)
{
	if (!s || !*s)
		return json_null();
	char *end = NULL;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v))
		return json_null();
	return json_real(v);
}

/* "a, b" -> ["a", "b"] as Airflow splits DagModel.owners */
static json_t *owners_json(const char *s)
{
	json_t *a = json_array();
	if (!s)
		return a;
	const char *p = s;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if (t > p)
			json_array_append_new(a, json_stringn(p, (size_t)(t - p)));
		p = e;
	}
	return a;
}

/* Row columns, as selected in query.c (DAG_COLS). */
enum {
	C_DAG_ID,
	C_BUNDLE,
	C_FILELOC,
	C_REL,
	C_STALE,
	C_PAUSED,
	C_HAS_IE,
	C_PARSED,
	C_DURATION,
	C_DESCRIPTION,
	C_DISPLAY,
	C_TIMETABLE,
	C_MAX_TASKS,
	C_MAX_RUNS,
	C_OWNERS,
};

json_t *api_dag_json(const char *const *row, json_t *tags)
{
	const char *dag_id = row[C_DAG_ID] ? row[C_DAG_ID] : "";
	const char *display = row[C_DISPLAY] && *row[C_DISPLAY] ? row[C_DISPLAY] : dag_id;
	json_t *o = json_object();
	json_object_set_new(o, "dag_id", json_string(dag_id));
	json_object_set_new(o, "dag_display_name", json_string(display));
	json_object_set_new(o, "is_paused", json_boolean(api_db_bool(row[C_PAUSED])));
	json_object_set_new(o, "is_stale", json_boolean(api_db_bool(row[C_STALE])));
	json_object_set_new(o, "last_parsed_time", jts(row[C_PARSED]));
	json_object_set_new(o, "last_parse_duration", jnum_or_null(row[C_DURATION]));
	json_object_set_new(o, "last_expired", json_null());
	json_object_set_new(o, "bundle_name", jstr_or_null(row[C_BUNDLE]));
	json_object_set_new(o, "bundle_version", json_null());
	json_object_set_new(o, "relative_fileloc", jstr_or_null(row[C_REL]));
	json_object_set_new(o, "fileloc", json_string(row[C_FILELOC] ? row[C_FILELOC] : ""));
	json_object_set_new(o, "description", jstr_or_null(row[C_DESCRIPTION]));
	json_object_set_new(o, "timetable_summary", jstr_or_null(row[C_TIMETABLE]));
	json_object_set_new(o, "timetable_description", json_null());
	json_t *ta = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		json_t *to = json_object();
		json_object_set(to, "name", t);
		json_object_set_new(to, "dag_id", json_string(dag_id));
		json_object_set_new(to, "dag_display_name", json_string(display));
		json_array_append_new(ta, to);
	}
	json_decref(tags);
	json_object_set_new(o, "tags", ta);
	json_object_set_new(o, "max_active_tasks", jint_or(row[C_MAX_TASKS], 16, false));
	json_object_set_new(o, "max_active_runs", jint_or(row[C_MAX_RUNS], 0, true));
	json_object_set_new(o, "max_consecutive_failed_dag_runs", json_integer(0));
	json_object_set_new(o, "has_task_concurrency_limits", json_false());
	json_object_set_new(o, "has_import_errors", json_boolean(api_db_bool(row[C_HAS_IE])));
	json_object_set_new(o, "next_dagrun_logical_date", json_null());
	json_object_set_new(o, "next_dagrun_data_interval_start", json_null());
	json_object_set_new(o, "next_dagrun_data_interval_end", json_null());
	json_object_set_new(o, "next_dagrun_run_after", json_null());
	json_object_set_new(o, "owners", owners_json(row[C_OWNERS]));
	char *tok =
	    api_file_token_encode(row[C_BUNDLE] ? row[C_BUNDLE] : "", row[C_REL] ? row[C_REL] : "");
	json_object_set_new(o, "file_token", json_string(tok));
	free(tok);
	return o;
}

/* {"__type__": "datetime.timedelta", "minutes": 5} -> "PT5M" (pydantic's spelling) */
static json_t *duration_json(json_t *v)
{
	if (!json_is_object(v))
		return json_null();
	const char *type = json_string_value(json_object_get(v, "__type__"));
	if (!type || strcmp(type, "datetime.timedelta") != 0)
		return json_null();
	static const struct {
		const char *k;
		double s;
	} units[] = {{"weeks", 604800},     {"days", 86400}, {"hours", 3600},
	             {"minutes", 60},       {"seconds", 1},  {"milliseconds", 1e-3},
	             {"microseconds", 1e-6}};
	double total = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		json_t *n = json_object_get(v, units[i].k);
		if (json_is_number(n))
			total += json_number_value(n) * units[i].s;
	}
	/* beyond Python's timedelta.max (999999999 days) Airflow has no value either,
	 * and the casts below would overflow */
	if (total < 0 || !isfinite(total) || total / 86400 >= 1e9)
		return json_null();
	long long days = (long long)(total / 86400);
	double rest = total - (double)days * 86400;
	long long h = (long long)(rest / 3600);
	rest -= (double)h * 3600;
	long long m = (long long)(rest / 60);
	rest -= (double)m * 60;
	char buf[96];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "P");
	if (days)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%lldD", days);
	if (h || m || rest > 0 || !days) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "T");
		if (h)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%lldH", h);
		if (m)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%lldM", m);
		if (rest > 0 || (!h && !m))
			snprintf(buf + n, sizeof(buf) - n, "%gS", rest);
	}
	return json_string(buf);
}

/* An ISO date or datetime string as date-time; relative dates ("2 days") are null. */
static json_t *date_json(json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) < 10 || !isdigit((unsigned char)s[0]) || s[4] != '-' || s[7] != '-')
		return json_null();
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	const char *iso = api_iso_ts(buf, buf, sizeof(buf));
	return iso ? json_string(iso) : json_null();
}

static json_t *object_or_null(json_t *v)
{
	return json_is_object(v) ? json_deep_copy(v) : json_null();
}

json_t *api_dag_details_json(const char *const *row, json_t *tags, const char *data)
{
	json_t *o = api_dag_json(row, tags);
	json_t *d = data ? json_loads(data, 0, NULL) : NULL;
	json_t *da = json_object_get(d, "default_args");
	json_t *v;

	v = json_object_get(d, "catchup");
	json_object_set_new(o, "catchup", json_boolean(json_is_true(v)));
	json_object_set_new(o, "dag_run_timeout",
	                    duration_json(json_object_get(d, "dagrun_timeout")));
	json_object_set_new(o, "asset_expression", json_null());
	json_object_set_new(o, "doc_md",
	                    jstr_or_null(json_string_value(json_object_get(d, "doc_md"))));
	v = json_object_get(d, "start_date");
	json_object_set_new(o, "start_date", date_json(v ? v : json_object_get(da, "start_date")));
	v = json_object_get(d, "end_date");
	json_object_set_new(o, "end_date", date_json(v ? v : json_object_get(da, "end_date")));
	v = json_object_get(d, "is_paused_upon_creation");
	json_object_set_new(o, "is_paused_upon_creation",
	                    json_is_boolean(v) ? json_boolean(json_is_true(v)) : json_null());
	json_object_set_new(o, "params", object_or_null(json_object_get(d, "params")));
	v = json_object_get(d, "render_template_as_native_obj");
	json_object_set_new(o, "render_template_as_native_obj", json_boolean(json_is_true(v)));
	v = json_object_get(d, "template_searchpath");
	if (json_is_string(v)) {
		json_t *a = json_array();
		json_array_append(a, v);
		json_object_set_new(o, "template_search_path", a);
	} else {
		json_object_set_new(o, "template_search_path",
		                    json_is_array(v) ? json_deep_copy(v) : json_null());
	}
	const char *tz = json_string_value(json_object_get(d, "timezone"));
	json_object_set_new(o, "timezone", json_string(tz ? tz : "UTC"));
	json_object_set(o, "last_parsed", json_object_get(o, "last_parsed_time"));
	json_object_set_new(o, "default_args", object_or_null(da));
	json_object_set_new(o, "owner_links", object_or_null(json_object_get(d, "owner_links")));
	json_object_set_new(o, "is_favorite", json_false());
	json_object_set_new(o, "active_runs_count", json_integer(0));
	json_object_set(o, "concurrency", json_object_get(o, "max_active_tasks"));
	json_object_set_new(o, "latest_dag_version", json_null());

	/* dagproc: the tasks as serialized, and the edges upstream -> task */
	json_t *tasks = json_object_get(d, "tasks");
	json_t *edges = json_array();
	size_t i, k;
	json_t *t, *u;
	json_array_foreach(tasks, i, t)
	{
		const char *tid = json_string_value(json_object_get(t, "task_id"));
		json_array_foreach(json_object_get(t, "upstream_task_ids"), k, u)
		{
			if (!tid || !json_is_string(u))
				continue;
			json_t *e = json_object();
			json_object_set(e, "source_id", u);
			json_object_set_new(e, "target_id", json_string(tid));
			json_array_append_new(edges, e);
		}
	}
	json_object_set_new(o, "tasks", json_is_array(tasks) ? json_incref(tasks) : json_array());
	json_object_set_new(o, "edges", edges);
	json_decref(d);
	return o;
}

json_t *api_import_error_json(const char *const *row)
{
	json_t *o = json_object();
	json_object_set_new(o, "import_error_id", jint_or(row[0], 0, false));
	json_t *ts = jts(row[1]);
	json_object_set_new(o, "timestamp", json_is_null(ts) ? json_string("") : ts);
	json_object_set_new(o, "filename", json_string(row[2] ? row[2] : ""));
	json_object_set_new(o, "bundle_name", jstr_or_null(row[3]));
	json_object_set_new(o, "stack_trace", json_string(row[4] ? row[4] : ""));
	return o;
}

json_t *api_warning_json(const char *const *row)
{
	json_t *o = json_object();
	const char *dag_id = row[0] ? row[0] : "";
	json_object_set_new(o, "dag_id", json_string(dag_id));
	json_object_set_new(o, "warning_type", json_string(row[1] ? row[1] : ""));
	json_object_set_new(o, "message", json_string(row[2] ? row[2] : ""));
	json_t *ts = jts(row[3]);
	json_object_set_new(o, "timestamp", json_is_null(ts) ? json_string("") : ts);
	json_object_set_new(o, "dag_display_name",
	                    json_string(row[4] && *row[4] ? row[4] : dag_id));
	return o;
}

/* The text of line `line` (1-based) of text, or NULL. */
static json_t *source_line(const char *text, size_t len, long line)
{
	if (!text || line < 1)
		return json_null();
	long cur = 1;
	size_t i = 0;
	while (i < len && cur < line) {
		if (text[i] == '\n')
			cur++;
		i++;
	}
	if (cur != line || i > len)
		return json_null();
	size_t e = i;
	while (e < len && text[e] != '\n' && text[e] != '\r')
		e++;
	return api_json_textn(text + i, e - i);
}

/* One stack trace line: "path:L:C: error[CODE]: message" (path may hold ':'),
 * "path: error[CODE]: message", or free text. */
static json_t *diag_json(const char *s, size_t n, const char *text, size_t len)
{
	json_t *o = json_object();
	char *line = xstrndup(s, n);
	const char *kinds[] = {": error[", ": warning["};
	char *mark = NULL;
	for (size_t k = 0; k < 2 && !mark; k++)
		mark = strstr(line, kinds[k]);
	long ln = 0, col = 0;
	if (mark) {
		char *code = strchr(mark, '[') + 1;
		char *close = strchr(code, ']');
		bool warn = strncmp(mark, ": warning[", 10) == 0;
		*mark = '\0';
		/* trailing ":L:C" of the location */
		char *c2 = strrchr(line, ':');
		if (c2 && c2 > line) {
			char *c1 = c2 - 1;
			while (c1 > line && *c1 != ':')
				c1--;
			if (*c1 == ':' && api_parse_count(c2 + 1, 100000000L, &col) == 0) {
				*c2 = '\0';
				if (api_parse_count(c1 + 1, 100000000L, &ln) == 0)
					*c1 = '\0';
				else
					*c2 = ':', col = 0;
			}
		}
		json_object_set_new(o, "path", json_string(line));
		if (close) {
			json_object_set_new(o, "code", json_stringn(code, (size_t)(close - code)));
			const char *msg = close + 1;
			if (*msg == ':')
				msg++;
			while (*msg == ' ')
				msg++;
			json_object_set_new(o, "message", json_string(msg));
		} else {
			json_object_set_new(o, "code", json_null());
			json_object_set_new(o, "message", json_string(code));
		}
		json_object_set_new(o, "severity", json_string(warn ? "warning" : "error"));
	} else {
		json_object_set_new(o, "path", json_null());
		json_object_set_new(o, "code", json_null());
		json_object_set_new(o, "message", json_string(line));
		json_object_set_new(o, "severity", json_string("error"));
	}
	json_object_set_new(o, "line", ln ? json_integer(ln) : json_null());
	json_object_set_new(o, "column", col ? json_integer(col) : json_null());
	json_object_set_new(o, "source_line", ln ? source_line(text, len, ln) : json_null());
	free(line);
	return o;
}

json_t *api_diagnostics_json(const char *stacktrace, const char *text, size_t len)
{
	json_t *a = json_array();
	const char *p = stacktrace ? stacktrace : "";
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0)
			json_array_append_new(a, diag_json(p, n, text, len));
		p += n + (e ? 1 : 0);
	}
	return a;
}
