/* The API's database reads: one read transaction per call, rolled back before the
 * connection goes back, results as Airflow REST v2 JSON. Used by the HTTP routes and
 * by the CLI's read commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

#define MAX_PARAMS (2 * API_MAX_LIST + 16)

/* Every database failure is a 503 (never a 500 with a stale connection); only a
 * transient one (lost or refused connection, timeout) says the database is down. */
static int db_fail(api_status *st, const store_error *e)
{
	st->db_down = e->cls == STORE_TRANSIENT || e->conn_broken;
	if (st->db_down)
		return api_fail(st, 503, "database unavailable: %s", e->message);
	return api_fail(st, 503, "database error: %s", e->message);
}

static int begin(store_conn *c, api_status *st)
{
	store_error e;
	if (store_begin(c, &e) != 0)
		return db_fail(st, &e);
	return 0;
}

/* Every read ends here: the transaction is closed whatever happened. */
static int end(store_conn *c, int rc)
{
	store_rollback(c);
	return rc;
}

static int read_tags(store_conn *c, json_t *rows, json_t *tags, store_error *e);

/* Rows as JSON arrays of strings or nulls, kept until the next query is done. */
static int collect_row(void *ud, size_t ncols, const char *const *vals)
{
	json_t *row = json_array();
	for (size_t i = 0; i < ncols; i++)
		json_array_append_new(row, vals[i] ? api_json_text(vals[i]) : json_null());
	json_array_append_new((json_t *)ud, row);
	return 0;
}

/* A collected row back as C strings (borrowed from the JSON), at most n columns. */
static void row_strings(json_t *row, const char **out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = json_string_value(json_array_get(row, i));
}

static void append_page(strbuf *sql, const api_query *q)
{
	if (q->limit >= 0)
		sb_printf(sql, " LIMIT %ld OFFSET %ld", q->limit, q->offset);
}

/* A list's WHERE clause and its parameters, built condition by condition. */
typedef struct filter {
	strbuf where;
	store_param ps[MAX_PARAMS];
	size_t np;
	char *pats[4]; /* LIKE patterns the parameters point to */
	size_t npats;
} filter;

static void filter_init(filter *f)
{
	f->np = f->npats = 0;
	sb_init(&f->where);
	sb_adds(&f->where, " WHERE 1 = 1");
}

/* " AND cond", cond with one '?' for p. */
static void filter_add(filter *f, const char *cond, store_param p)
{
	sb_printf(&f->where, " AND %s", cond);
	f->ps[f->np++] = p;
}

/* expr contains text, case-insensitively; text keeps its own % and _
 * wildcards, as Airflow's *_pattern parameters do. */
static void filter_like(filter *f, const char *expr, const char *text)
{
	char *pat = xasprintf("%%%s%%", text);
	f->pats[f->npats++] = pat;
	sb_printf(&f->where, " AND LOWER(%s) LIKE LOWER(?)", expr);
	f->ps[f->np++] = store_p_text(pat);
}

static void filter_free(filter *f)
{
	for (size_t i = 0; i < f->npats; i++)
		free(f->pats[i]);
	sb_free(&f->where);
}

/* One list endpoint: what it selects and counts, and how a row becomes JSON. */
typedef struct list_spec {
	api_endpoint ep;
	const char *select; /* "SELECT ... FROM t"; the WHERE clause follows */
	const char *count;  /* "SELECT COUNT(*) FROM t" */
	const char *key;    /* the list's name in the response */
	size_t ncols;
	bool tags; /* the page's DAGs' tags too (column 0 is the dag_id) */
	json_t *(*shape)(const char *const *v, json_t *tags);
} list_spec;

#define LIST_MAX_COLS 16

/* The count before paging and one page of rows, in one read transaction that
 * is closed before returning: {"<key>": [...], "total_entries": n}. */
static int read_list(store_conn *c, const list_spec *ls, const api_query *q, filter *f,
                     json_t **out, api_status *st)
{
	const char *where = f->where.data;
	const store_param *ps = f->ps;
	size_t np = f->np;
	strbuf sql;
	sb_init(&sql);
	sb_printf(&sql, "%s%s", ls->select, where);
	json_t *rows = json_array(), *tags = ls->tags ? json_object() : NULL;
	int64_t total = 0;
	store_error e;
	int rc = api_order_by(ls->ep, q->order_by, q->norder, &sql, st);
	if (rc != 0)
		goto out;
	append_page(&sql, q);
	char *csql = xasprintf("%s%s", ls->count, where);
	if ((rc = begin(c, st)) == 0) {
		if (store_query_int(c, csql, ps, np, &total, NULL, &e) != 0 ||
		    store_query(c, sql.data, ps, np, collect_row, rows, &e) != 0 ||
		    (tags && read_tags(c, rows, tags, &e) != 0))
			rc = end(c, db_fail(st, &e));
		else
			rc = end(c, 0);
	}
	free(csql);
	if (rc != 0)
		goto out;
	json_t *list = json_array();
	size_t i;
	json_t *r;
	const char *v[LIST_MAX_COLS];
	json_array_foreach(rows, i, r)
	{
		row_strings(r, v, ls->ncols);
		json_array_append_new(list, ls->shape(v, tags));
	}
	*out = json_pack("{s:o, s:I}", ls->key, list, "total_entries", (json_int_t)total);
out:
	json_decref(rows);
	json_decref(tags);
	sb_free(&sql);
	return rc;
}

/* ------------------------------------------------------------------------ */

#define IE_COLS "id, timestamp, filename, bundle_name, stacktrace"

static json_t *ie_shape(const char *const *v, json_t *tags)
{
	(void)tags;
	return api_import_error_json(v);
}

int api_read_import_errors(store_conn *c, const api_query *q, json_t **out, api_status *st)
{
	static const list_spec ls = {API_EP_IMPORT_ERRORS,
	                             "SELECT " IE_COLS " FROM import_error",
	                             "SELECT COUNT(*) FROM import_error",
	                             "import_errors",
	                             API_IE_NCOLS,
	                             false,
	                             ie_shape};
	filter f;
	filter_init(&f);
	if (q->filename_pattern)
		filter_like(&f, "filename", q->filename_pattern);
	int rc = read_list(c, &ls, q, &f, out, st);
	filter_free(&f);
	return rc;
}

int api_read_import_error(store_conn *c, long id, json_t **out, api_status *st)
{
	json_t *rows = json_array();
	store_param p = store_p_int(id);
	store_error e;
	int rc = begin(c, st);
	if (rc)
		goto out;
	if (store_query(c, "SELECT " IE_COLS " FROM import_error WHERE id = ?", &p, 1, collect_row,
	                rows, &e) != 0) {
		rc = end(c, db_fail(st, &e));
		goto out;
	}
	end(c, 0);
	if (json_array_size(rows) == 0) {
		rc = api_fail(st, 404, "The ImportError with import_error_id: `%ld` was not found",
		              id);
		goto out;
	}
	const char *v[API_IE_NCOLS];
	row_strings(json_array_get(rows, 0), v, API_IE_NCOLS);
	*out = api_import_error_json(v);
out:
	json_decref(rows);
	return rc;
}

/* ------------------------------------------------------------------------ */

#define DAG_COLS                                                                                   \
	"d.dag_id, d.bundle_name, d.fileloc, d.relative_fileloc, d.is_stale, d.is_paused, "        \
	"d.has_import_errors, d.last_parsed_time, d.last_parse_duration, d.description, "          \
	"d.dag_display_name, d.timetable_summary, d.max_active_tasks, d.max_active_runs, d.owners"

/* tags of the collected DAG rows: {dag_id: ["tag", ...]} */
static int read_tags(store_conn *c, json_t *rows, json_t *tags, store_error *e)
{
	size_t n = json_array_size(rows);
	if (n == 0)
		return 0;
	store_param *ps = xcalloc(n, sizeof(*ps));
	for (size_t i = 0; i < n; i++)
		ps[i] = store_p_text(json_string_value(json_array_get(json_array_get(rows, i), 0)));
	char *ph = store_sql_placeholders(1, n);
	char *sql = xasprintf("SELECT dag_id, name FROM dag_tag WHERE dag_id IN %s "
	                      "ORDER BY dag_id, name",
	                      ph);
	json_t *trows = json_array();
	int rc = store_query(c, sql, ps, n, collect_row, trows, e);
	size_t i;
	json_t *r;
	json_array_foreach(trows, i, r)
	{
		const char *dag_id = json_string_value(json_array_get(r, 0));
		json_t *name = json_array_get(r, 1);
		if (!dag_id || !json_is_string(name))
			continue;
		json_t *a = json_object_get(tags, dag_id);
		if (!a) {
			a = json_array();
			json_object_set_new(tags, dag_id, a);
		}
		json_array_append(a, name);
	}
	json_decref(trows);
	free(sql);
	free(ph);
	free(ps);
	return rc;
}

static json_t *take_tags(json_t *tags, const char *dag_id)
{
	json_t *a = json_object_get(tags, dag_id);
	return a ? json_incref(a) : json_array();
}

static json_t *dag_shape(const char *const *v, json_t *tags)
{
	return api_dag_json(v, take_tags(tags, v[0]));
}

int api_read_dags(store_conn *c, const api_query *q, json_t **out, api_status *st)
{
	static const list_spec ls = {API_EP_DAGS,
	                             "SELECT " DAG_COLS " FROM dag d",
	                             "SELECT COUNT(*) FROM dag d",
	                             "dags",
	                             API_DAG_NCOLS,
	                             true,
	                             dag_shape};
	filter f;
	filter_init(&f);
	if (q->exclude_stale)
		filter_add(&f, "d.is_stale = ?", store_p_bool(false));
	if (q->paused >= 0)
		filter_add(&f, "d.is_paused = ?", store_p_bool(q->paused == 1));
	if (q->has_import_errors >= 0)
		filter_add(&f, "d.has_import_errors = ?", store_p_bool(q->has_import_errors == 1));
	if (q->dag_id_pattern)
		filter_like(&f, "d.dag_id", q->dag_id_pattern);
	if (q->dag_display_name_pattern)
		filter_like(&f, "COALESCE(d.dag_display_name, d.dag_id)",
		            q->dag_display_name_pattern);
	if (q->bundle_name)
		filter_add(&f, "d.bundle_name = ?", store_p_text(q->bundle_name));
	if (q->ntags) {
		char *ph = store_sql_placeholders(1, q->ntags);
		if (q->tags_all)
			sb_printf(&f.where,
			          " AND (SELECT COUNT(DISTINCT t.name) FROM dag_tag t WHERE "
			          "t.dag_id = d.dag_id AND t.name IN %s) = %zu",
			          ph, q->ntags);
		else
			sb_printf(&f.where,
			          " AND d.dag_id IN (SELECT t.dag_id FROM dag_tag t WHERE t.name "
			          "IN %s)",
			          ph);
		free(ph);
		for (size_t i = 0; i < q->ntags; i++)
			f.ps[f.np++] = store_p_text(q->tags[i]);
	}
	int rc = read_list(c, &ls, q, &f, out, st);
	filter_free(&f);
	return rc;
}

int api_read_dag(store_conn *c, const char *dag_id, bool details, json_t **out, api_status *st)
{
	json_t *rows = json_array(), *tags = json_object(), *data = json_array();
	store_param p = store_p_text(dag_id);
	store_error e;
	int rc = begin(c, st);
	if (rc)
		goto out;
	if (store_query(c, "SELECT " DAG_COLS " FROM dag d WHERE d.dag_id = ?", &p, 1, collect_row,
	                rows, &e) != 0 ||
	    read_tags(c, rows, tags, &e) != 0 ||
	    (details && json_array_size(rows) &&
	     store_query(c, "SELECT data FROM serialized_dag WHERE dag_id = ?", &p, 1, collect_row,
	                 data, &e) != 0)) {
		rc = end(c, db_fail(st, &e));
		goto out;
	}
	end(c, 0);
	if (json_array_size(rows) == 0) {
		rc = api_fail(st, 404, "Dag with id %s was not found", dag_id);
		goto out;
	}
	const char *v[API_DAG_NCOLS];
	row_strings(json_array_get(rows, 0), v, API_DAG_NCOLS);
	if (details)
		*out = api_dag_details_json(
		    v, take_tags(tags, v[0]),
		    json_string_value(json_array_get(json_array_get(data, 0), 0)));
	else
		*out = api_dag_json(v, take_tags(tags, v[0]));
out:
	json_decref(rows);
	json_decref(tags);
	json_decref(data);
	return rc;
}

/* ------------------------------------------------------------------------ */

static json_t *warning_shape(const char *const *v, json_t *tags)
{
	(void)tags;
	return api_warning_json(v);
}

int api_read_warnings(store_conn *c, const api_query *q, json_t **out, api_status *st)
{
	static const list_spec ls = {
	    API_EP_WARNINGS,
	    "SELECT w.dag_id, w.warning_type, w.message, w.timestamp, d.dag_display_name "
	    "FROM dag_warning w LEFT JOIN dag d ON d.dag_id = w.dag_id",
	    "SELECT COUNT(*) FROM dag_warning w",
	    "dag_warnings",
	    API_WARN_NCOLS,
	    false,
	    warning_shape};
	filter f;
	filter_init(&f);
	if (q->dag_id)
		filter_add(&f, "w.dag_id = ?", store_p_text(q->dag_id));
	if (q->warning_type)
		filter_add(&f, "w.warning_type = ?", store_p_text(q->warning_type));
	int rc = read_list(c, &ls, q, &f, out, st);
	filter_free(&f);
	return rc;
}

static json_t *report_shape(const char *const *v, json_t *tags)
{
	(void)tags;
	char buf[64];
	const char *ts = api_iso_ts(v[7], buf, sizeof(buf));
	return json_pack("{s:s?, s:s?, s:f, s:I, s:I, s:I, s:I, s:s?}", "bundle_name", v[0], "file",
	                 v[1], "duration", v[2] ? strtod(v[2], NULL) : 0.0, "dag_count",
	                 (json_int_t)(v[3] ? strtoll(v[3], NULL, 10) : 0), "task_count",
	                 (json_int_t)(v[4] ? strtoll(v[4], NULL, 10) : 0), "import_error_count",
	                 (json_int_t)(v[5] ? strtoll(v[5], NULL, 10) : 0), "warning_count",
	                 (json_int_t)(v[6] ? strtoll(v[6], NULL, 10) : 0), "last_parsed_time", ts);
}

int api_read_report(store_conn *c, const api_query *q, json_t **out, api_status *st)
{
	static const list_spec ls = {
	    API_EP_REPORT,
	    "SELECT bundle_name, relative_fileloc, last_duration, dag_count, task_count, "
	    "import_error_count, warning_count, last_parsed_time FROM parse_stat",
	    "SELECT COUNT(*) FROM parse_stat",
	    "files",
	    8,
	    false,
	    report_shape};
	filter f;
	filter_init(&f);
	if (q->bundle_name)
		filter_add(&f, "bundle_name = ?", store_p_text(q->bundle_name));
	int rc = read_list(c, &ls, q, &f, out, st);
	filter_free(&f);
	return rc;
}

static json_t *processor_shape(const char *const *v, json_t *tags)
{
	(void)tags;
	char b1[64], b2[64];
	char b3[64];
	return json_pack(
	    "{s:s?, s:s?, s:I, s:s?, s:I, s:s?, s:s?, s:s?}", "instance_name", v[0], "hostname",
	    v[1], "pid", (json_int_t)(v[2] ? strtoll(v[2], NULL, 10) : 0), "version", v[3],
	    "files_held", (json_int_t)(v[4] ? strtoll(v[4], NULL, 10) : 0), "started_at",
	    api_iso_ts(v[5], b1, sizeof(b1)), "latest_heartbeat", api_iso_ts(v[6], b2, sizeof(b2)),
	    "stopped_at", api_iso_ts(v[7], b3, sizeof(b3)));
}

int api_read_processors(store_conn *c, const api_query *q, json_t **out, api_status *st)
{
	static const list_spec ls = {
	    API_EP_PROCESSORS,
	    "SELECT instance_name, hostname, pid, version, files_held, started_at, "
	    "latest_heartbeat, stopped_at FROM dag_processor",
	    "SELECT COUNT(*) FROM dag_processor",
	    "dag_processors",
	    8,
	    false,
	    processor_shape};
	filter f;
	filter_init(&f);
	int rc = read_list(c, &ls, q, &f, out, st);
	filter_free(&f);
	return rc;
}

/* ------------------------------------------------------------------------ */

int api_read_counts(store_conn *c, api_counts *out, api_status *st)
{
	static const char *const sql[] = {
	    "SELECT COUNT(*) FROM dag WHERE is_stale = ?",
	    "SELECT COALESCE(SUM(task_count), 0) FROM parse_stat",
	    "SELECT COUNT(*) FROM import_error",
	    "SELECT COUNT(*) FROM dag_warning",
	    "SELECT COUNT(*) FROM parse_stat",
	};
	long *dst[] = {&out->dags, &out->tasks, &out->import_errors, &out->warnings, &out->files};
	store_param p = store_p_bool(false);
	store_error e;
	int rc = begin(c, st);
	if (rc)
		return rc;
	for (size_t i = 0; i < 5; i++) {
		int64_t v = 0;
		if (store_query_int(c, sql[i], &p, i == 0 ? 1 : 0, &v, NULL, &e) != 0)
			return end(c, db_fail(st, &e));
		*dst[i] = (long)v;
	}
	return end(c, 0);
}

int api_read_processor_heartbeat(store_conn *c, char **out, api_status *st)
{
	json_t *rows = json_array();
	store_error e;
	*out = NULL;
	int rc = begin(c, st);
	if (rc)
		goto out;
	if (store_query(c, "SELECT MAX(latest_heartbeat) FROM dag_processor", NULL, 0, collect_row,
	                rows, &e) != 0) {
		rc = end(c, db_fail(st, &e));
		goto out;
	}
	end(c, 0);
	const char *v = json_string_value(json_array_get(json_array_get(rows, 0), 0));
	char buf[64];
	const char *iso = api_iso_ts(v, buf, sizeof(buf));
	if (iso)
		*out = xstrdup(iso);
out:
	json_decref(rows);
	return rc;
}
