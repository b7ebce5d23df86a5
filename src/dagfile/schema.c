/* The dag-factory 1.x schema: merging (defaults.yml chain, `default` block, DAG),
 * task groups, tasks, operators against the catalog, dependencies and the final
 * task graph, and every diagnostic of SPEC §5 with its position. This file:
 * diagnostics and one DAG from merge to result; schema_int.h lists the others. */
#include "dagfile/schema_int.h"
#include "util/strmap.h"

#include <stdarg.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                               */

/* near: a suggested replacement for the node's text; with why, it is the
 * certain one ("removed in Airflow 3; use 'x'"), else a "did you mean". */
static void vdiag(dctx *d, bool warning, bool certain, const char *code, const char *wtype,
                  const ynode *n, const char *near, const char *why, const char *fmt, va_list ap)
{
	strbuf b;
	sb_init(&b);
	sb_vprintf(&b, fmt, ap);
	if (why && near)
		sb_printf(&b, " (%s; use '%s')", why, near);
	else if (why)
		sb_printf(&b, " (%s)", why);
	else if (near)
		sb_printf(&b, " (did you mean '%s'?)", near);
	uint32_t line = 0, col = 0;
	bool in_file = n && n->origin == 0;
	if (in_file) {
		line = n->line;
		col = n->col;
	} else {
		if (n && n->origin > 0 && n->origin <= d->ndefs)
			sb_printf(&b, " (from %s:%u:%u)", d->defs[n->origin - 1].path, n->line,
			          n->col);
		if (d->dag_key) {
			line = d->dag_key->line;
			col = d->dag_key->col;
		}
	}
	diag **arr = warning ? &d->res->warnings : &d->res->errors;
	size_t *cnt = warning ? &d->res->nwarnings : &d->res->nerrors;
	dagfile_push_diag(arr, cnt, code, line, col, d->dag_id, warning ? wtype : NULL,
	                  sb_detach(&b));
	/* the suggestion replaces the node's text only where the node is */
	if (near && in_file)
		(*arr)[*cnt - 1].suggestion = xstrdup(near);
	/* a replacement that is certain: a fix, if the text is found as parsed */
	if (near && in_file && certain && n->str && n->kind != YN_MAP && n->kind != YN_SEQ)
		(*arr)[*cnt - 1].fix_from = xstrdup(n->str);
	if (!warning)
		d->has_error = true;
}

void sch_err(dctx *d, const char *code, const ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, false, false, code, NULL, n, NULL, NULL, fmt, ap);
	va_end(ap);
}

void sch_warn(dctx *d, const char *code, const char *wtype, const ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, true, false, code, wtype, n, NULL, NULL, fmt, ap);
	va_end(ap);
}

void sch_err_near(dctx *d, const char *code, const ynode *n, const char *near, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, false, false, code, NULL, n, near, NULL, fmt, ap);
	va_end(ap);
}

void sch_warn_near(dctx *d, const char *code, const char *wtype, const ynode *n, const char *near,
                   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, true, false, code, wtype, n, near, NULL, fmt, ap);
	va_end(ap);
}

void sch_err_use(dctx *d, const char *code, const ynode *n, const char *use, const char *why,
                 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, false, false, code, NULL, n, use, why, fmt, ap);
	va_end(ap);
}

void sch_warn_use(dctx *d, const char *code, const char *wtype, const ynode *n, const char *use,
                  const char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, true, false, code, wtype, n, use, why, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------ */

/* Python's type() of a non-string YAML key, for Airflow's validate_key
 * message ("The key has to be a string and is <class 'int'>:1"). */
static const char *py_class(const ynode *n)
{
	switch (n->kind) {
	case YN_INT:
		return "<class 'int'>";
	case YN_FLOAT:
		return "<class 'float'>";
	case YN_BOOL:
		return "<class 'bool'>";
	case YN_DATE:
		return "<class 'datetime.date'>";
	case YN_DATETIME:
		return "<class 'datetime.datetime'>";
	default:
		return "<class 'str'>";
	}
}

void sch_check_id(dctx *d, const ynode *key, const char *what)
{
	char why[160];
	if (key->kind != YN_STR)
		sch_err(d, "E033", key, "invalid %s %s: The key has to be a string and is %s:%s",
		        what, key->str, py_class(key), key->str);
	else if (strlen(key->str) != key->len)
		sch_err(d, "E033", key, "invalid %s '%s\\x00...': it contains a NUL character",
		        what, key->str);
	else if (!airflow_id_valid(key->str, why, sizeof(why)))
		sch_err(d, "E033", key, "invalid %s '%s': %s", what, key->str, why);
}

/* default_args keys dag-factory 1.0 removed: default_args drop them unused. */
void sch_check_default_args(dctx *d, ynode *da)
{
	static const struct {
		const char *key, *use;
	} removed[] = {{"retry_delay_sec", "retry_delay"}, {"sla_secs", "sla"}};
	for (size_t i = 0; is_map(da) && i < da->n; i++) {
		ypair *p = &da->pairs[i];
		for (size_t k = 0; k < NELEM(removed); k++)
			if (key_is(p, removed[k].key))
				sch_warn_use(d, "W003", "unknown key", p->key, removed[k].use,
				             "removed in dag-factory 1.0, with a timedelta",
				             "'%s' in default_args is ignored", removed[k].key);
	}
	sch_check_callbacks_in(d, da);
	sch_check_paths_in(d, da, SCH_PATHS_DEFAULT_ARGS);
}

static void process_dag(dctx *d, ypair *dp, ynode *default_block)
{
	d->dag_id = dp->key->str;
	d->dag_key = dp->key;
	sch_check_id(d, dp->key, "DAG id");
	ynode *body = dp->val;
	if (body && body->kind == YN_NULL)
		body = map_new(d->A, 0, dp->key);
	if (!is_map(body)) {
		sch_err(d, "E002", body ? body : dp->key, "DAG '%s' must be a mapping, not a %s",
		        d->dag_id, ynode_kind_name(body->kind));
		goto record;
	}
	/* layers: farthest defaults.yml first, then nearer ones, then `default`, then
	 * the DAG itself */
	ynode *acc = NULL;
	for (size_t i = d->ndefs; i-- > 0;)
		acc = sch_merge(d->A, acc, sch_normalize_layer(d, d->defs[i].root), true);
	if (is_map(default_block))
		acc = sch_merge(d->A, acc, sch_normalize_layer(d, default_block), true);
	acc = sch_merge(d->A, acc, sch_normalize_layer(d, body), true);
	d->dag = acc ? acc : map_new(d->A, 0, body);
	/* the merged mapping takes the DAG's own position */
	d->dag->line = body->line;
	d->dag->col = body->col;
	d->dag->origin = 0;

	/* dag-factory merges the default block's default_args first: a null or
	 * other non-mapping there stops it before any DAG */
	ypair *bda = map_find(default_block, "default_args");
	if (bda && !is_map(bda->val))
		sch_err(d, "E002", bda->key,
		        "'default_args' of the default block must be a "
		        "mapping, not a %s",
		        type_name_of(bda->val));
	ypair *da = map_find(d->dag, "default_args");
	if (da && is_map(da->val)) {
		d->default_args = da->val;
		for (size_t i = 0; i < da->val->n; i++) {
			ypair *p = &da->val->pairs[i];
			if (key_is(p, "start_date") || key_is(p, "end_date"))
				sch_check_date(d, p);
			else
				sch_check_typed_objects(d, p->val, 0);
		}
		sch_check_default_args(d, da->val);
	}
	sch_check_dag_keys(d);
	strmap group_names = {0};
	d->group_names = &group_names;
	sch_build_groups(d, map_get(d->dag, "task_groups"));
	sch_build_tasks(d, map_get(d->dag, "tasks"));
	d->group_names = NULL;
	strmap_free(&group_names);
	sch_build_graph(d);
	sch_check_pools(d);
	if (!d->has_error)
		sch_emit_dag(d);
record:
	if (d->has_error) {
		dagfile_result *r = d->res;
		r->error_dag_ids =
		    xrealloc(r->error_dag_ids, (r->nerror_dag_ids + 1) * sizeof(char *));
		r->error_dag_ids[r->nerror_dag_ids++] = xstrdup(d->dag_id);
	}
	for (size_t i = 0; i < d->ntasks; i++)
		free(d->tasks[i].up);
	sch_opcache_free(d);
}

void schema_process(ydoc *doc, const char *path, const schema_defaults *defs, size_t ndefs,
                    const dagfile_opts *opts, dagfile_result *res)
{
	ynode *root = doc->root;
	dctx file = {
	    .A = &doc->arena, .path = path, .defs = defs, .ndefs = ndefs, .opts = opts, .res = res};
	if (!root || root->kind == YN_NULL)
		return;
	if (!is_map(root)) {
		sch_err(&file, "E002", root,
		        "the top level of a DAG file must be a mapping of DAG ids, not a %s",
		        ynode_kind_name(root->kind));
		return;
	}
	ynode *default_block = NULL;
	ypair *dp = map_find(root, "default");
	if (dp) {
		if (is_map(dp->val))
			default_block = dp->val;
		else if (dp->val && dp->val->kind != YN_NULL)
			sch_err(&file, "E002", dp->val, "'default' must be a mapping, not a %s",
			        ynode_kind_name(dp->val->kind));
	}
	for (size_t i = 0; i < root->n; i++) {
		ypair *p = &root->pairs[i];
		if (key_is(p, "default") || key_is(p, "task_groups"))
			continue;
		if (!p->key || !ynode_is_scalar(p->key) || p->key->kind == YN_NULL) {
			sch_err(&file, "E002", p->key, "a DAG id must be a string, not a %s",
			        p->key ? type_name_of(p->key) : "nothing");
			continue;
		}
		dctx d = file;
		d.has_error = false;
		process_dag(&d, p, default_block);
	}
}

void sch_err_fix(dctx *d, const char *code, const ynode *n, const char *use, const char *why,
                 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, false, use != NULL, code, NULL, n, use, why, fmt, ap);
	va_end(ap);
}

void sch_warn_fix(dctx *d, const char *code, const char *wtype, const ynode *n, const char *use,
                  const char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, true, use != NULL, code, wtype, n, use, why, fmt, ap);
	va_end(ap);
}
