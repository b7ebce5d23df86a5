/* The dag-factory 1.x schema: merging (defaults.yml chain, `default` block, DAG),
 * task groups, tasks, operators against the catalog, dependencies and the final
 * task graph, and every diagnostic of SPEC §5 with its position. */
#include "dagfile/schema.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dagfile/checks.h"
#include "util/xalloc.h"

/* ------------------------------------------------------------------------ */
/* Per-file and per-DAG context                                              */

typedef struct sgroup {
	const char *name; /* group_name as written */
	char *id;         /* outer.inner */
	ynode *body;      /* merged mapping */
	ynode *key;       /* position of the entry */
	int parent;       /* index or -1 */
	int depth;
	int state; /* 0 new, 1 resolving, 2 done (parent chain resolution) */
} sgroup;

typedef struct stask {
	const char *name; /* task_id as written */
	char *id;         /* group.task */
	ynode *body;      /* merged mapping */
	ynode *pos;       /* the task entry */
	ynode *id_node;   /* the task_id value (or the mapping key) */
	int group;        /* index or -1 */
	const char *operator;
	bool decorator;
	int *up;
	size_t nup, capup;
} stask;

typedef struct dctx {
	arena *A;
	const char *path;
	const schema_defaults *defs;
	size_t ndefs;
	const dagfile_opts *opts;
	dagfile_result *res;
	const char *dag_id;
	ynode *dag_key;
	bool has_error;
	ynode *dag; /* merged DAG mapping */
	ynode *default_args;
	sgroup *groups;
	size_t ngroups;
	stask *tasks;
	size_t ntasks;
	/* the argument lists of the operators met in this DAG, collected once
	 * per operator rather than once per task */
	struct opcache *opcache;
	size_t nopcache;
} dctx;

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                               */

static void vdiag(dctx *d, bool warning, const char *code, const char *wtype, const ynode *n,
                  const char *fmt, va_list ap)
{
	strbuf b;
	sb_init(&b);
	sb_vprintf(&b, fmt, ap);
	uint32_t line = 0, col = 0;
	if (n && n->origin == 0) {
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
	if (warning) {
		dagfile_push_diag(&d->res->warnings, &d->res->nwarnings, code, line, col, d->dag_id,
		                  wtype, sb_detach(&b));
	} else {
		dagfile_push_diag(&d->res->errors, &d->res->nerrors, code, line, col, d->dag_id,
		                  NULL, sb_detach(&b));
		d->has_error = true;
	}
}

__attribute__((format(printf, 4, 5))) static void derr(dctx *d, const char *code, const ynode *n,
                                                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, false, code, NULL, n, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 5, 6))) static void
dwarn(dctx *d, const char *code, const char *wtype, const ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, true, code, wtype, n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Node helpers                                                              */

static bool is_map(const ynode *n)
{
	return n && n->kind == YN_MAP;
}

static bool is_seq(const ynode *n)
{
	return n && n->kind == YN_SEQ;
}

static bool is_str(const ynode *n)
{
	return n && n->kind == YN_STR;
}

static bool key_is(const ypair *p, const char *k)
{
	/* the first byte settles most lookups without a call */
	return p->key && p->key->str && p->key->str[0] == k[0] && strcmp(p->key->str, k) == 0;
}

static const char *key_text(const ypair *p)
{
	return (p->key && p->key->str) ? p->key->str : "";
}

static ynode *map_new(arena *A, size_t cap, const ynode *pos)
{
	ynode *m = arena_zalloc(A, sizeof(*m));
	m->kind = YN_MAP;
	m->pairs = cap ? arena_alloc(A, cap * sizeof(ypair)) : NULL;
	m->n = 0;
	if (pos) {
		m->line = pos->line;
		m->col = pos->col;
		m->origin = pos->origin;
	}
	return m;
}

static ynode *str_node(arena *A, const char *s, const ynode *pos)
{
	ynode *n = arena_zalloc(A, sizeof(*n));
	n->kind = YN_STR;
	n->str = arena_strdup(A, s);
	n->len = strlen(s);
	n->quoted = true;
	if (pos) {
		n->line = pos->line;
		n->col = pos->col;
		n->origin = pos->origin;
	}
	return n;
}

static ypair *map_find(const ynode *m, const char *key)
{
	if (!is_map(m))
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (key_is(&m->pairs[i], key))
			return &m->pairs[i];
	return NULL;
}

static ynode *map_get(const ynode *m, const char *key)
{
	ypair *p = map_find(m, key);
	return p ? p->val : NULL;
}

static bool tags_union_key(const char *k)
{
	return strcmp(k, "tags") == 0;
}

/* Deep merge: mappings merge recursively with `over` winning; anything else is
 * replaced by `over`. With top_level, lists under "tags" are unioned. */
static ynode *merge(arena *A, ynode *base, ynode *over, bool top_level)
{
	if (!over)
		return base;
	if (!is_map(base) || !is_map(over))
		return over;
	ynode *m = map_new(A, base->n + over->n, over);
	for (size_t i = 0; i < base->n; i++)
		m->pairs[m->n++] = base->pairs[i];
	for (size_t i = 0; i < over->n; i++) {
		ypair *op = &over->pairs[i];
		ypair *hit = NULL;
		for (size_t j = 0; j < m->n; j++) {
			if (strcmp(key_text(&m->pairs[j]), key_text(op)) == 0) {
				hit = &m->pairs[j];
				break;
			}
		}
		if (!hit) {
			m->pairs[m->n++] = *op;
			continue;
		}
		if (top_level && tags_union_key(key_text(op)) && is_seq(hit->val) &&
		    is_seq(op->val)) {
			ynode *u = arena_zalloc(A, sizeof(*u));
			*u = *op->val;
			u->items = arena_alloc(A, (hit->val->n + op->val->n) * sizeof(ynode *));
			u->n = 0;
			ynode *srcs[2] = {hit->val, op->val};
			for (int s = 0; s < 2; s++) {
				for (size_t k = 0; k < srcs[s]->n; k++) {
					ynode *it = srcs[s]->items[k];
					bool dup = false;
					for (size_t q = 0; q < u->n && it->str; q++)
						if (u->items[q]->str &&
						    strcmp(u->items[q]->str, it->str) == 0)
							dup = true;
					if (!dup)
						u->items[u->n++] = it;
				}
			}
			hit->key = op->key;
			hit->val = u;
			continue;
		}
		hit->key = op->key;
		hit->val = merge(A, hit->val, op->val, false);
	}
	return m;
}

/* ------------------------------------------------------------------------ */
/* Tasks and groups in list or mapping form -> mapping keyed by id            */

static ynode *normalize_entries(dctx *d, ypair *p, const char *idkey, const char *what)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return map_new(d->A, 0, p->key);
	if (is_map(v)) {
		ynode *m = map_new(d->A, v->n, v);
		for (size_t i = 0; i < v->n; i++) {
			ypair e = v->pairs[i];
			if (e.val && e.val->kind == YN_NULL) {
				ynode *empty = map_new(d->A, 0, e.key);
				e.val = empty;
			}
			if (!is_map(e.val)) {
				derr(d, "E002", e.val, "%s '%s' must be a mapping, not a %s", what,
				     key_text(&e), ynode_kind_name(e.val->kind));
				continue;
			}
			if (map_find(m, key_text(&e))) {
				derr(d, "E022", e.key, "duplicate %s '%s'", what, key_text(&e));
				continue;
			}
			m->pairs[m->n++] = e;
		}
		return m;
	}
	if (!is_seq(v)) {
		derr(d, "E002", v, "'%s' must be a list or a mapping, not a %s", key_text(p),
		     ynode_kind_name(v->kind));
		return NULL;
	}
	ynode *m = map_new(d->A, v->n, v);
	for (size_t i = 0; i < v->n; i++) {
		ynode *e = v->items[i];
		if (!is_map(e)) {
			derr(d, "E002", e, "each entry of '%s' must be a mapping, not a %s",
			     key_text(p), ynode_kind_name(e->kind));
			continue;
		}
		ypair *idp = map_find(e, idkey);
		if (!idp || !idp->val || !ynode_is_scalar(idp->val) || idp->val->kind == YN_NULL) {
			derr(d, "E023", e, "%s entry without '%s'", what, idkey);
			continue;
		}
		if (map_find(m, idp->val->str)) {
			derr(d, "E022", idp->val, "duplicate %s '%s'", what, idp->val->str);
			continue;
		}
		m->pairs[m->n].key = idp->val;
		m->pairs[m->n].val = e;
		m->n++;
	}
	return m;
}

/* Returns a shallow copy of a layer with tasks/task_groups in mapping form. */
static ynode *normalize_layer(dctx *d, ynode *layer)
{
	if (!is_map(layer))
		return NULL;
	ynode *m = map_new(d->A, layer->n, layer);
	for (size_t i = 0; i < layer->n; i++) {
		ypair p = layer->pairs[i];
		if (key_is(&p, "tasks")) {
			p.val = normalize_entries(d, &layer->pairs[i], "task_id", "task");
			if (!p.val)
				continue;
		} else if (key_is(&p, "task_groups")) {
			p.val = normalize_entries(d, &layer->pairs[i], "group_name", "task group");
			if (!p.val)
				continue;
		}
		m->pairs[m->n++] = p;
	}
	return m;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */

static const char *const dag_keys[] = {
    /* Airflow 3 DAG() arguments */
    "description", "schedule", "start_date", "end_date", "template_searchpath",
    "template_undefined", "user_defined_macros", "user_defined_filters", "default_args",
    "max_active_tasks", "max_active_runs", "max_consecutive_failed_dag_runs", "dagrun_timeout",
    "catchup", "on_success_callback", "on_failure_callback", "doc_md", "params", "access_control",
    "is_paused_upon_creation", "jinja_environment_kwargs", "render_template_as_native_obj", "tags",
    "owner_links", "auto_register", "fail_fast", "dag_display_name", "disable_bundle_versioning",
    "deadline", "dag_id",
    /* dag-factory's own */
    "tasks", "task_groups", "timezone", "doc_md_file_path", "doc_md_python_callable",
    "doc_md_python_callable_name", "doc_md_python_callable_file", "doc_md_python_arguments",
    "dagrun_timeout_sec", "on_success_callback_name", "on_success_callback_file",
    "on_failure_callback_name", "on_failure_callback_file", "on_execute_callback",
    "on_execute_callback_name", "on_execute_callback_file", "on_retry_callback",
    "on_retry_callback_name", "on_retry_callback_file", "on_skipped_callback",
    "on_skipped_callback_name", "on_skipped_callback_file", "sla_miss_callback_name",
    "sla_miss_callback_file"};

static const char *const dag_deprecated[] = {"default_view", "orientation", "concurrency",
                                             "sla_miss_callback"};

/* Task keys dag-factory consumes itself (never passed to the operator as such). */
static const char *const task_system_keys[] = {"operator",
                                               "decorator",
                                               "dependencies",
                                               "task_group_name",
                                               "task_id",
                                               "python_callable_name",
                                               "python_callable_file",
                                               "variables_as_arguments",
                                               "expand",
                                               "partial",
                                               "execution_date_fn_name",
                                               "execution_date_fn_file",
                                               "response_check_name",
                                               "response_check_file",
                                               "response_check_lambda",
                                               "success_check_name",
                                               "success_check_file",
                                               "success_check_lambda",
                                               "failure_check_name",
                                               "failure_check_file",
                                               "failure_check_lambda",
                                               "execution_timeout_secs",
                                               "retry_delay_secs",
                                               "sla_secs",
                                               "execution_delta_secs"};

static bool in_list(const char *k, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(k, list[i]) == 0)
			return true;
	return false;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The long key lists, sorted once for binary search: they are consulted for
 * every key of every DAG and task. */
static const char *sorted_dag_keys[NELEM(dag_keys)];
static const char *sorted_system_keys[NELEM(task_system_keys)];
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sort_key_lists(void)
{
	memcpy(sorted_dag_keys, dag_keys, sizeof(dag_keys));
	qsort(sorted_dag_keys, NELEM(dag_keys), sizeof(char *), cmp_cstr);
	memcpy(sorted_system_keys, task_system_keys, sizeof(task_system_keys));
	qsort(sorted_system_keys, NELEM(task_system_keys), sizeof(char *), cmp_cstr);
}

static bool is_dag_key(const char *k)
{
	pthread_once(&sorted_once, sort_key_lists);
	return bsearch(&k, sorted_dag_keys, NELEM(dag_keys), sizeof(char *), cmp_cstr) != NULL;
}

static bool is_system_key(const char *k)
{
	pthread_once(&sorted_once, sort_key_lists);
	return bsearch(&k, sorted_system_keys, NELEM(task_system_keys), sizeof(char *), cmp_cstr) !=
	       NULL;
}

static bool is_callback_key(const char *k, const char *suffix)
{
	/* on_<event>_callback<suffix> and sla_miss_callback<suffix> */
	size_t kl = strlen(k), sl = strlen(suffix);
	static const char cb[] = "_callback";
	if (kl < sl + sizeof(cb) - 1 || strcmp(k + kl - sl, suffix) != 0)
		return false;
	if (strncmp(k + kl - sl - (sizeof(cb) - 1), cb, sizeof(cb) - 1) != 0)
		return false;
	return strncmp(k, "on_", 3) == 0 || strncmp(k, "sla_miss", 8) == 0;
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static const char *type_name_of(const ynode *n)
{
	if (is_map(n)) {
		ynode *t = map_get(n, "__type__");
		if (is_str(t))
			return t->str;
	}
	return n ? ynode_kind_name(n->kind) : "nothing";
}

/* Files dag-factory loads: absolute and existing, else E040. */
static void check_load_path(dctx *d, ynode *owner, ypair *p, const char *name_key)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	if (!ynode_is_scalar(v)) {
		derr(d, "E040", v, "'%s' must be a path, not a %s", key_text(p),
		     ynode_kind_name(v->kind));
		return;
	}
	const char *path = v->str;
	struct stat st;
	if (path[0] != '/')
		derr(d, "E040", v, "'%s' must be an absolute path: '%s'", key_text(p), path);
	else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		derr(d, "E040", v, "'%s': file not found: '%s'", key_text(p), path);
	else if (name_key && !map_get(owner, name_key))
		derr(d, "E040", v, "'%s' is given without '%s'", key_text(p), name_key);
}

/* E040 for the loadable paths among a mapping's keys (DAG, default_args, task). */
static void check_paths_in(dctx *d, ynode *m)
{
	if (!is_map(m))
		return;
	for (size_t i = 0; i < m->n; i++) {
		ypair *p = &m->pairs[i];
		const char *k = key_text(p);
		if (strcmp(k, "python_callable_file") == 0) {
			check_load_path(d, m, p, "python_callable_name");
		} else if (strcmp(k, "doc_md_python_callable_file") == 0) {
			check_load_path(d, m, p, "doc_md_python_callable_name");
		} else if (strcmp(k, "doc_md_file_path") == 0) {
			check_load_path(d, m, p, NULL);
		} else if (is_callback_key(k, "_file")) {
			char name_key[128];
			snprintf(name_key, sizeof(name_key), "%.*s_name", (int)(strlen(k) - 5), k);
			check_load_path(d, m, p, name_key);
		}
	}
}

static void check_date(dctx *d, ypair *p)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	if ((v->kind == YN_DATE || v->kind == YN_DATETIME) && date_iso_valid(v->str))
		return;
	if (is_str(v) && (date_iso_valid(v->str) || date_relative_valid(v->str)))
		return;
	if (is_map(v)) {
		const char *t = type_name_of(v);
		if (strcmp(t, "datetime.datetime") == 0 || strcmp(t, "pendulum.datetime") == 0 ||
		    strcmp(t, "datetime") == 0)
			return;
	}
	if (ynode_is_scalar(v))
		derr(d, "E032", v,
		     "invalid %s '%s': expected an ISO date (2024-01-01), a datetime "
		     "(2024-01-01T10:00:00) or a relative date ('2 days')",
		     key_text(p), v->str);
	else
		derr(d, "E032", v, "invalid %s: expected a date, not a %s", key_text(p),
		     type_name_of(v));
}

static bool is_timedelta_obj(const ynode *v)
{
	return is_map(v) && strcmp(type_name_of(v), "datetime.timedelta") == 0;
}

/* Known __type__ objects are checked: timedelta's keyword fields and assets. */
static void check_typed_objects(dctx *d, ynode *v, int depth)
{
	if (!v || depth > 64)
		return;
	if (is_seq(v)) {
		for (size_t i = 0; i < v->n; i++)
			check_typed_objects(d, v->items[i], depth + 1);
		return;
	}
	if (!is_map(v))
		return;
	ynode *t = map_get(v, "__type__");
	if (is_str(t)) {
		if (strcmp(t->str, "datetime.timedelta") == 0) {
			static const char *const fields[] = {
			    "days",  "seconds", "microseconds", "milliseconds", "minutes",
			    "hours", "weeks",   "__type__",     "__args__"};
			for (size_t i = 0; i < v->n; i++) {
				ypair *p = &v->pairs[i];
				if (!in_list(key_text(p), fields, NELEM(fields))) {
					const char *s = suggest_name(key_text(p), fields, 7);
					derr(d, "E015", p->key,
					     "datetime.timedelta has no field '%s'%s%s%s",
					     key_text(p), s ? " (did you mean '" : "", s ? s : "",
					     s ? "'?)" : "");
				} else if (strcmp(key_text(p), "__type__") != 0 &&
				           strcmp(key_text(p), "__args__") != 0 && p->val &&
				           p->val->kind != YN_INT && p->val->kind != YN_FLOAT) {
					derr(d, "E015", p->val,
					     "datetime.timedelta field '%s' must be a number, not "
					     "a %s",
					     key_text(p), ynode_kind_name(p->val->kind));
				}
			}
		} else if (strstr(t->str, "Asset") || strstr(t->str, "Dataset")) {
			bool alias = strstr(t->str, "Alias") != NULL;
			ynode *args = map_get(v, "__args__");
			if (!map_get(v, "uri") && !map_get(v, "name") && !(is_seq(args) && args->n))
				derr(d, "E015", v, "%s needs a %s", t->str,
				     alias ? "'name'" : "'uri' or a 'name'");
		}
	}
	for (size_t i = 0; i < v->n; i++)
		check_typed_objects(d, v->pairs[i].val, depth + 1);
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */

static bool is_asset_like(const ynode *v)
{
	if (is_str(v))
		return true;
	if (is_map(v)) {
		const char *t = type_name_of(v);
		if (strstr(t, "Asset") || strstr(t, "Dataset"))
			return true;
		if (map_get(v, "__and__") || map_get(v, "__or__"))
			return true;
	}
	return false;
}

/* Cron-based timetables (CronTriggerTimetable, CronDataIntervalTimetable,
 * MultipleCronTriggerTimetable) carry cron expressions: check them like a cron
 * schedule. */
static void check_timetable(dctx *d, ynode *v)
{
	const char *t = type_name_of(v);
	if (!strstr(t, "Cron"))
		return;
	ynode *args = map_get(v, "__args__");
	ynode *crons[16];
	size_t n = 0;
	ynode *c = map_get(v, "cron");
	if (c)
		crons[n++] = c;
	ynode *cs = map_get(v, "crons");
	if (is_seq(cs))
		for (size_t i = 0; i < cs->n && n < 16; i++)
			crons[n++] = cs->items[i];
	if (!n && is_seq(args))
		for (size_t i = 0; i < args->n && n < 16; i++)
			if (is_str(args->items[i]))
				crons[n++] = args->items[i];
	if (!n) {
		derr(d, "E030", v, "%s needs a cron expression ('cron' or __args__)", t);
		return;
	}
	char why[160];
	for (size_t i = 0; i < n; i++) {
		if (!is_str(crons[i]))
			derr(d, "E030", crons[i], "the cron of %s must be a string", t);
		else if (!cron_valid(crons[i]->str, why, sizeof(why)) ||
		         cron_is_preset(crons[i]->str))
			derr(d, "E030", crons[i], "invalid cron '%s' in %s: %s", crons[i]->str, t,
			     cron_is_preset(crons[i]->str) ? "a preset is not a cron expression"
			                                   : why);
	}
}

static void check_schedule(dctx *d, ypair *p)
{
	ynode *v = p->val;
	char why[160];
	if (!v || v->kind == YN_NULL)
		return;
	if (is_str(v)) {
		/* "none" in any case with spaces trimmed */
		const char *s = v->str;
		while (*s == ' ' || *s == '\t')
			s++;
		size_t n = strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 4 && strncasecmp(s, "none", 4) == 0)
			return;
		if (cron_valid(v->str, why, sizeof(why)))
			return;
		derr(d, "E030", v, "invalid schedule '%s': %s", v->str, why);
		return;
	}
	if (is_seq(v)) {
		for (size_t i = 0; i < v->n; i++)
			if (!is_asset_like(v->items[i]))
				derr(d, "E030", v->items[i],
				     "a schedule list holds asset URIs or Asset objects, not a %s",
				     type_name_of(v->items[i]));
		return;
	}
	if (is_map(v)) {
		const char *t = type_name_of(v);
		if (map_get(v, "__type__")) {
			if (strstr(t, "Timetable")) {
				check_timetable(d, v);
				return;
			}
			if (strcmp(t, "datetime.timedelta") == 0 || strstr(t, "relativedelta") ||
			    strstr(t, "Asset") || strstr(t, "Dataset"))
				return;
			derr(d, "E030", v, "invalid schedule: %s is not a timetable or timedelta",
			     t);
			return;
		}
		if (map_get(v, "__and__") || map_get(v, "__or__"))
			return;
		if (map_get(v, "datasets") || map_get(v, "assets") || map_get(v, "timetable") ||
		    map_get(v, "file")) {
			ynode *tt = map_get(v, "timetable");
			if (is_map(tt) && strstr(type_name_of(tt), "Timetable"))
				check_timetable(d, tt);
			for (size_t i = 0; i < v->n; i++) {
				const char *k = key_text(&v->pairs[i]);
				if (strcmp(k, "datasets") && strcmp(k, "assets") &&
				    strcmp(k, "timetable") && strcmp(k, "file"))
					derr(d, "E030", v->pairs[i].key,
					     "unknown key '%s' in a schedule mapping (expected "
					     "datasets, file, timetable)",
					     k);
			}
			return;
		}
	}
	derr(d, "E030", v,
	     "invalid schedule: expected a cron expression, a preset such as @daily, none, a "
	     "timedelta or timetable object, or assets; got a %s",
	     type_name_of(v));
}

/* ------------------------------------------------------------------------ */
/* DAG-level keys                                                            */

static void check_dag_type(dctx *d, ypair *p, unsigned want)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	bool ok = false;
	if ((want & CAT_T_INT) && v->kind == YN_INT)
		ok = true;
	if ((want & CAT_T_BOOL) && v->kind == YN_BOOL)
		ok = true;
	if ((want & CAT_T_STR) && v->kind == YN_STR)
		ok = true;
	if ((want & CAT_T_LIST) && v->kind == YN_SEQ)
		ok = true;
	if ((want & CAT_T_DICT) && v->kind == YN_MAP)
		ok = true;
	if ((want & CAT_T_TIMEDELTA) &&
	    (v->kind == YN_INT || v->kind == YN_FLOAT || is_timedelta_obj(v)))
		ok = true;
	if (!ok) {
		const char *expect = (want & CAT_T_INT)         ? "an integer"
		                     : (want & CAT_T_BOOL)      ? "true or false"
		                     : (want & CAT_T_LIST)      ? "a list"
		                     : (want & CAT_T_DICT)      ? "a mapping"
		                     : (want & CAT_T_TIMEDELTA) ? "a timedelta"
		                                                : "a string";
		if (ynode_is_scalar(v))
			derr(d, "E015", v, "'%s' must be %s, not '%s'", key_text(p), expect,
			     v->str);
		else
			derr(d, "E015", v, "'%s' must be %s, not a %s", key_text(p), expect,
			     type_name_of(v));
	}
}

static void check_dag_keys(dctx *d)
{
	ynode *m = d->dag;
	for (size_t i = 0; i < m->n; i++) {
		ypair *p = &m->pairs[i];
		const char *k = key_text(p);
		if (strcmp(k, "schedule_interval") == 0 || strcmp(k, "timetable") == 0) {
			derr(d, "E031", p->key, "'%s' was removed in Airflow 3; use 'schedule'", k);
			continue;
		}
		if (in_list(k, dag_deprecated, NELEM(dag_deprecated))) {
			dwarn(d, "W002", "deprecated", p->key,
			      "'%s' is deprecated and ignored by Airflow 3", k);
			continue;
		}
		if (is_dag_key(k))
			continue;
		const char *s = suggest_name(k, dag_keys, NELEM(dag_keys));
		if (s)
			dwarn(d, "W003", "unknown key", p->key,
			      "unknown DAG key '%s' (did you mean '%s'?); it is ignored", k, s);
		else
			dwarn(d, "W003", "unknown key", p->key,
			      "unknown DAG key '%s'; it is ignored", k);
	}
	for (size_t i = 0; i < m->n; i++) {
		ypair *p = &m->pairs[i];
		const char *k = key_text(p);
		if (strcmp(k, "schedule") == 0)
			check_schedule(d, p);
		else if (strcmp(k, "start_date") == 0 || strcmp(k, "end_date") == 0)
			check_date(d, p);
		else if (strcmp(k, "max_active_tasks") == 0 || strcmp(k, "max_active_runs") == 0 ||
		         strcmp(k, "max_consecutive_failed_dag_runs") == 0 ||
		         strcmp(k, "dagrun_timeout_sec") == 0)
			check_dag_type(d, p, CAT_T_INT);
		else if (strcmp(k, "catchup") == 0 || strcmp(k, "is_paused_upon_creation") == 0 ||
		         strcmp(k, "render_template_as_native_obj") == 0 ||
		         strcmp(k, "fail_fast") == 0 || strcmp(k, "auto_register") == 0)
			check_dag_type(d, p, CAT_T_BOOL);
		else if (strcmp(k, "description") == 0 || strcmp(k, "doc_md") == 0 ||
		         strcmp(k, "dag_display_name") == 0 || strcmp(k, "timezone") == 0)
			check_dag_type(d, p, CAT_T_STR);
		else if (strcmp(k, "tags") == 0) {
			check_dag_type(d, p, CAT_T_LIST);
			if (is_seq(p->val))
				for (size_t j = 0; j < p->val->n; j++)
					if (!ynode_is_scalar(p->val->items[j]) ||
					    p->val->items[j]->kind == YN_NULL)
						derr(d, "E015", p->val->items[j],
						     "a tag must be a string, not a %s",
						     type_name_of(p->val->items[j]));
		} else if (strcmp(k, "params") == 0 || strcmp(k, "default_args") == 0 ||
		           strcmp(k, "user_defined_macros") == 0 ||
		           strcmp(k, "user_defined_filters") == 0)
			check_dag_type(d, p, CAT_T_DICT);
		else if (strcmp(k, "dagrun_timeout") == 0)
			check_dag_type(d, p, CAT_T_TIMEDELTA);
		if (strcmp(k, "tasks") && strcmp(k, "task_groups") && strcmp(k, "default_args"))
			check_typed_objects(d, p->val, 0);
	}
	check_paths_in(d, m);
}

/* ------------------------------------------------------------------------ */
/* Operator arguments                                                        */

static bool looks_number(const char *s)
{
	if (!*s)
		return false;
	char *end;
	strtod(s, &end);
	while (*end == ' ')
		end++;
	return *end == '\0';
}

/* E015 only for clear mismatches; a Jinja string is accepted anywhere. */
static bool value_fits(const cat_arg *a, const ynode *v)
{
	unsigned t = a->types;
	if (t == CAT_T_ANY || !v || v->kind == YN_NULL)
		return true;
	switch (v->kind) {
	case YN_STR:
		if (t & CAT_T_STR)
			return true;
		if (a->templated || strstr(v->str, "{{"))
			return true;
		if ((t & (CAT_T_INT | CAT_T_FLOAT | CAT_T_TIMEDELTA)) && looks_number(v->str))
			return true;
		if ((t & CAT_T_BOOL) &&
		    (strcasecmp(v->str, "true") == 0 || strcasecmp(v->str, "false") == 0))
			return true;
		if (t & CAT_T_DATETIME)
			return date_iso_valid(v->str) || date_relative_valid(v->str);
		return false;
	case YN_INT:
		return (t & (CAT_T_INT | CAT_T_FLOAT | CAT_T_BOOL | CAT_T_TIMEDELTA)) != 0;
	case YN_FLOAT:
		return (t & (CAT_T_FLOAT | CAT_T_TIMEDELTA)) != 0;
	case YN_BOOL:
		return (t & (CAT_T_BOOL | CAT_T_INT)) != 0;
	case YN_DATE:
	case YN_DATETIME:
		return (t & (CAT_T_DATETIME | CAT_T_STR)) != 0;
	case YN_SEQ:
		return (t & CAT_T_LIST) != 0;
	case YN_MAP:
		if (map_get(v, "__join__")) /* evaluated to a string */
			return (t & CAT_T_STR) != 0 || a->templated;
		if (map_get(v, "__and__") || map_get(v, "__or__"))
			return true; /* asset conditions */
		if (map_get(v, "__type__")) {
			if (is_timedelta_obj(v))
				return (t & CAT_T_TIMEDELTA) != 0 || (t & CAT_T_DICT) != 0;
			return true; /* objects we do not model */
		}
		return (t & CAT_T_DICT) != 0;
	default:
		return true;
	}
}

static const char *types_text(unsigned t, char *buf, size_t n)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{CAT_T_STR, "string"},          {CAT_T_INT, "integer"},
	             {CAT_T_FLOAT, "number"},        {CAT_T_BOOL, "boolean"},
	             {CAT_T_LIST, "list"},           {CAT_T_DICT, "mapping"},
	             {CAT_T_TIMEDELTA, "timedelta"}, {CAT_T_DATETIME, "datetime"}};
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < NELEM(names); i++) {
		if (!(t & names[i].bit))
			continue;
		int w = snprintf(buf + off, n - off, "%s%s", off ? " or " : "", names[i].name);
		if (w < 0 || (size_t)w >= n - off)
			break;
		off += (size_t)w;
	}
	return buf;
}

typedef struct arg_names {
	const char **names;
	size_t n, cap;
	const cat_arg **required;
	size_t nreq, capreq;
} arg_names;

static void collect_arg(const cat_arg *a, void *ud)
{
	arg_names *an = ud;
	if (an->n == an->cap) {
		an->cap = an->cap ? an->cap * 2 : 64;
		an->names = xrealloc(an->names, an->cap * sizeof(*an->names));
	}
	an->names[an->n++] = a->name;
	if (a->required) {
		if (an->nreq == an->capreq) {
			an->capreq = an->capreq ? an->capreq * 2 : 8;
			an->required = xrealloc(an->required, an->capreq * sizeof(*an->required));
		}
		an->required[an->nreq++] = a;
	}
}

static const char *class_name(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot ? dot + 1 : path;
}

static bool provided(dctx *d, stask *t, const char *name)
{
	if (map_get(t->body, name))
		return true;
	if (map_get(d->default_args, name))
		return true;
	if (t->group >= 0) {
		for (int g = t->group; g >= 0; g = d->groups[g].parent)
			if (map_get(map_get(d->groups[g].body, "default_args"), name))
				return true;
	}
	ynode *partial = map_get(t->body, "partial");
	ynode *expand = map_get(t->body, "expand");
	return map_get(partial, name) || map_get(expand, name);
}

struct opcache {
	const cat_operator *op;
	arg_names an;
};

static const arg_names *op_args(dctx *d, const cat_operator *op)
{
	for (size_t i = 0; i < d->nopcache; i++)
		if (d->opcache[i].op == op)
			return &d->opcache[i].an;
	d->opcache = xrealloc(d->opcache, (d->nopcache + 1) * sizeof(*d->opcache));
	struct opcache *oc = &d->opcache[d->nopcache++];
	memset(oc, 0, sizeof(*oc));
	oc->op = op;
	catalog_each_arg(d->opts->cat, op, collect_arg, &oc->an);
	return &oc->an;
}

static void opcache_free(dctx *d)
{
	for (size_t i = 0; i < d->nopcache; i++) {
		free(d->opcache[i].an.names);
		free(d->opcache[i].an.required);
	}
	free(d->opcache);
	d->opcache = NULL;
	d->nopcache = 0;
}

static void check_operator_args(dctx *d, stask *t, const cat_operator *op)
{
	const catalog *c = d->opts->cat;
	const arg_names an = *op_args(d, op);
	ynode *b = t->body;
	for (size_t i = 0; i < b->n; i++) {
		ypair *p = &b->pairs[i];
		const char *k = key_text(p);
		if (is_system_key(k) || is_callback_key(k, "_name") || is_callback_key(k, "_file"))
			continue;
		const cat_arg *a = catalog_find_arg(c, op, k);
		if (!a) {
			if (op->var_kwargs)
				continue;
			const char *s = suggest_name(k, an.names, an.n);
			derr(d, "E013", p->key,
			     "Invalid arguments were passed to %s (task_id: %s): '%s'%s%s%s",
			     class_name(op->path), t->id, k, s ? " (did you mean '" : "",
			     s ? s : "", s ? "'?)" : "");
			continue;
		}
		if (!value_fits(a, p->val)) {
			char tb[96];
			if (ynode_is_scalar(p->val))
				derr(d, "E015", p->val, "argument '%s' of %s must be %s, not '%s'",
				     k, class_name(op->path), types_text(a->types, tb, sizeof(tb)),
				     p->val->str);
			else
				derr(d, "E015", p->val, "argument '%s' of %s must be %s, not a %s",
				     k, class_name(op->path), types_text(a->types, tb, sizeof(tb)),
				     type_name_of(p->val));
		}
	}
	for (size_t i = 0; i < an.nreq; i++) {
		const char *name = an.required[i]->name;
		if (strcmp(name, "task_id") == 0 || provided(d, t, name))
			continue;
		/* dag-factory builds these from *_name/_file/_lambda */
		if (strcmp(name, "python_callable") == 0 &&
		    (map_get(b, "python_callable_name") || map_get(b, "python_callable_file")))
			continue;
		if (strcmp(name, "response_check") == 0 &&
		    (map_get(b, "response_check_name") || map_get(b, "response_check_lambda")))
			continue;
		derr(d, "E014", t->pos,
		     "%s.__init__() missing required argument '%s' (task_id: %s)",
		     class_name(op->path), name, t->id);
	}
}

/* ------------------------------------------------------------------------ */
/* Graph                                                                     */

static void add_up(stask *t, int u)
{
	for (size_t i = 0; i < t->nup; i++)
		if (t->up[i] == u)
			return;
	if (t->nup == t->capup) {
		t->capup = t->capup ? t->capup * 2 : 4;
		t->up = xrealloc(t->up, t->capup * sizeof(int));
	}
	t->up[t->nup++] = u;
}

static bool in_group(const dctx *d, int task_group, int g)
{
	for (int x = task_group; x >= 0; x = d->groups[x].parent)
		if (x == g)
			return true;
	return false;
}

static bool has_up_in_group(const dctx *d, const stask *t, int g)
{
	for (size_t i = 0; i < t->nup; i++)
		if (in_group(d, d->tasks[t->up[i]].group, g))
			return true;
	return false;
}

static bool has_down_in_group(const dctx *d, int ti, int g)
{
	for (size_t j = 0; j < d->ntasks; j++) {
		const stask *o = &d->tasks[j];
		if (!in_group(d, o->group, g))
			continue;
		for (size_t i = 0; i < o->nup; i++)
			if (o->up[i] == ti)
				return true;
	}
	return false;
}

/* A reference from a task: -1 not found, else index; *group set when it names
 * a group. */
static int resolve_name(const dctx *d, const char *name, bool *is_group)
{
	*is_group = false;
	for (size_t i = 0; i < d->ntasks; i++)
		if (strcmp(d->tasks[i].name, name) == 0)
			return (int)i;
	for (size_t i = 0; i < d->ntasks; i++)
		if (strcmp(d->tasks[i].id, name) == 0)
			return (int)i;
	for (size_t i = 0; i < d->ngroups; i++) {
		if (strcmp(d->groups[i].name, name) == 0 || strcmp(d->groups[i].id, name) == 0) {
			*is_group = true;
			return (int)i;
		}
	}
	return -1;
}

static void unknown_ref(dctx *d, const ynode *at, const char *who, const char *name)
{
	size_t n = d->ntasks + d->ngroups;
	const char **cands = xmalloc((n ? n : 1) * sizeof(*cands));
	size_t k = 0;
	for (size_t i = 0; i < d->ntasks; i++)
		cands[k++] = d->tasks[i].name;
	for (size_t i = 0; i < d->ngroups; i++)
		cands[k++] = d->groups[i].name;
	const char *s = suggest_name(name, cands, k);
	derr(d, "E020", at, "%s depends on unknown task or group '%s'%s%s%s", who, name,
	     s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
	free(cands);
}

typedef struct pending_dep {
	int down_task;  /* >= 0: a task that depends on ...; -1: a group */
	int down_group; /* the group whose roots depend on ... */
	int up;
	bool up_is_group;
} pending_dep;

/* References to other tasks in argument values: `+task` (decorators) and
 * `task.output` / `XcomArg(task)` (operators, inside expand/partial). */
static void scan_refs(dctx *d, int ti, ynode *v, bool plus_refs, int depth)
{
	if (!v || depth > 64)
		return;
	if (is_seq(v)) {
		for (size_t i = 0; i < v->n; i++)
			scan_refs(d, ti, v->items[i], plus_refs, depth + 1);
		return;
	}
	if (is_map(v)) {
		for (size_t i = 0; i < v->n; i++)
			scan_refs(d, ti, v->pairs[i].val, plus_refs, depth + 1);
		return;
	}
	if (!is_str(v))
		return;
	char name[256];
	const char *s = v->str;
	size_t n = 0;
	if (plus_refs) {
		if (s[0] != '+')
			return;
		s++;
		while (s[n] && s[n] != '[' && n < sizeof(name) - 1)
			n++;
		if (s[n] != '\0' && s[n] != '[')
			return;
	} else {
		size_t len = strlen(s);
		if (len > 7 && strcmp(s + len - 7, ".output") == 0) {
			n = len - 7;
		} else if (strncmp(s, "XcomArg(", 8) == 0 && len > 9 && s[len - 1] == ')') {
			s += 8;
			n = len - 9;
		} else {
			return;
		}
	}
	if (n == 0 || n >= sizeof(name))
		return;
	memcpy(name, s, n);
	name[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '.' ||
		      name[i] == '-'))
			return;
	bool g;
	int u = resolve_name(d, name, &g);
	if (u < 0 || g) {
		char who[300];
		snprintf(who, sizeof(who), "task '%s'", d->tasks[ti].id);
		if (u < 0)
			unknown_ref(d, v, who, name);
		return;
	}
	if (u != ti)
		add_up(&d->tasks[ti], u);
}

static void collect_deps(dctx *d, ynode *deps, int down_task, int down_group, pending_dep **out,
                         size_t *nout)
{
	if (!deps || deps->kind == YN_NULL)
		return;
	char who[300];
	if (down_task >= 0)
		snprintf(who, sizeof(who), "task '%s'", d->tasks[down_task].id);
	else
		snprintf(who, sizeof(who), "task group '%s'", d->groups[down_group].id);
	ynode *single = NULL;
	ynode **items;
	size_t n;
	if (is_str(deps)) {
		single = deps;
		items = &single;
		n = 1;
	} else if (is_seq(deps)) {
		items = deps->items;
		n = deps->n;
	} else {
		derr(d, "E002", deps, "'dependencies' of %s must be a list of names, not a %s", who,
		     ynode_kind_name(deps->kind));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ynode *it = items[i];
		if (!ynode_is_scalar(it) || it->kind == YN_NULL) {
			derr(d, "E002", it, "a dependency of %s must be a name, not a %s", who,
			     ynode_kind_name(it->kind));
			continue;
		}
		bool g;
		int u = resolve_name(d, it->str, &g);
		if (u < 0) {
			unknown_ref(d, it, who, it->str);
			continue;
		}
		*out = xrealloc(*out, (*nout + 1) * sizeof(**out));
		(*out)[(*nout)++] = (pending_dep){down_task, down_group, u, g};
	}
}

static void apply_dep(dctx *d, const pending_dep *p)
{
	/* upstream side: a task, or the leaves of a group */
	int *ups = NULL;
	size_t nups = 0;
	if (!p->up_is_group) {
		ups = xmalloc(sizeof(int));
		ups[nups++] = p->up;
	} else {
		ups = xmalloc((d->ntasks ? d->ntasks : 1) * sizeof(int));
		for (size_t i = 0; i < d->ntasks; i++)
			if (in_group(d, d->tasks[i].group, p->up) &&
			    !has_down_in_group(d, (int)i, p->up))
				ups[nups++] = (int)i;
	}
	if (p->down_task >= 0) {
		for (size_t i = 0; i < nups; i++)
			if (ups[i] != p->down_task)
				add_up(&d->tasks[p->down_task], ups[i]);
	} else {
		/* the roots of the group, computed before adding any of these edges */
		int *roots = xmalloc((d->ntasks ? d->ntasks : 1) * sizeof(int));
		size_t nroots = 0;
		for (size_t i = 0; i < d->ntasks; i++)
			if (in_group(d, d->tasks[i].group, p->down_group) &&
			    !has_up_in_group(d, &d->tasks[i], p->down_group))
				roots[nroots++] = (int)i;
		for (size_t r = 0; r < nroots; r++)
			for (size_t i = 0; i < nups; i++)
				if (ups[i] != roots[r])
					add_up(&d->tasks[roots[r]], ups[i]);
		free(roots);
	}
	free(ups);
}

static int cmp_dep_depth(const void *a, const void *b, void *ud)
{
	const dctx *d = ud;
	const pending_dep *x = a, *y = b;
	/* group-to-group wiring innermost first, then tasks depending on groups */
	int dx = x->down_task >= 0 ? -1 : d->groups[x->down_group].depth;
	int dy = y->down_task >= 0 ? -1 : d->groups[y->down_group].depth;
	return dy - dx;
}

static void find_cycle(dctx *d)
{
	size_t n = d->ntasks;
	int *color = xcalloc(n ? n : 1, sizeof(int)); /* 0 white 1 grey 2 black */
	int *stack = xmalloc((n ? n : 1) * sizeof(int));
	size_t *iter = xcalloc(n ? n : 1, sizeof(size_t));
	for (size_t s = 0; s < n; s++) {
		if (color[s])
			continue;
		size_t sp = 0;
		stack[sp++] = (int)s;
		color[s] = 1;
		while (sp) {
			int v = stack[sp - 1];
			stask *t = &d->tasks[v];
			if (iter[v] < t->nup) {
				int u = t->up[iter[v]++];
				if (color[u] == 0) {
					color[u] = 1;
					stack[sp++] = u;
				} else if (color[u] == 1) {
					/* cycle: u ... v (each upstream of the previous); print
					 * it in the downstream direction */
					size_t k = sp;
					while (k > 0 && stack[k - 1] != u)
						k--;
					strbuf b;
					sb_init(&b);
					for (size_t j = sp; j-- > k - 1;)
						sb_printf(&b, "%s -> ", d->tasks[stack[j]].id);
					sb_adds(&b, d->tasks[v].id);
					derr(d, "E021", d->tasks[u].pos, "dependency cycle: %s",
					     b.data);
					sb_free(&b);
					goto out;
				}
			} else {
				color[v] = 2;
				sp--;
			}
		}
	}
out:
	free(color);
	free(stack);
	free(iter);
}

/* ------------------------------------------------------------------------ */
/* Groups and tasks                                                          */

static int find_group(const dctx *d, const char *name)
{
	for (size_t i = 0; i < d->ngroups; i++)
		if (strcmp(d->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void suggest_group(dctx *d, const ynode *at, const char *what, const char *name)
{
	const char **c = xmalloc((d->ngroups ? d->ngroups : 1) * sizeof(*c));
	for (size_t i = 0; i < d->ngroups; i++)
		c[i] = d->groups[i].name;
	const char *s = suggest_name(name, c, d->ngroups);
	derr(d, "E024", at, "%s: unknown task group '%s'%s%s%s", what, name,
	     s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
	free(c);
}

/* The group a task_group_name / parent_group_name names: its index, or -1
 * after an E024 with a "did you mean". */
static int group_ref(dctx *d, ynode *name, const char *what)
{
	if (!ynode_is_scalar(name)) {
		derr(d, "E024", name, "%s must be a name", what);
		return -1;
	}
	int g = find_group(d, name->str);
	if (g < 0)
		suggest_group(d, name, what, name->str);
	return g;
}

static void resolve_group(dctx *d, int gi)
{
	sgroup *g = &d->groups[gi];
	if (g->state == 2)
		return;
	if (g->state == 1) {
		derr(d, "E024", g->key,
		     "task group '%s' is its own ancestor (parent_group_name cycle)", g->name);
		g->parent = -1;
		g->state = 2;
		return;
	}
	g->state = 1;
	ynode *pn = map_get(g->body, "parent_group_name");
	if (pn && pn->kind != YN_NULL) {
		int p = group_ref(d, pn, "parent_group_name");
		if (p >= 0) {
			resolve_group(d, p);
			if (d->groups[gi].state == 2) /* cycle reported on the way */
				return;
			d->groups[gi].parent = p;
		}
	}
	g = &d->groups[gi];
	g->state = 2;
	if (g->parent >= 0) {
		sgroup *p = &d->groups[g->parent];
		g->depth = p->depth + 1;
		ynode *pf = map_get(g->body, "prefix_group_id");
		bool prefix = !(pf && pf->kind == YN_BOOL && !pf->v.b);
		g->id = prefix ? arena_printf(d->A, "%s.%s", p->id, g->name)
		               : arena_strdup(d->A, g->name);
	} else {
		g->id = arena_strdup(d->A, g->name);
	}
}

static void build_groups(dctx *d, ynode *gm)
{
	if (!is_map(gm) || gm->n == 0)
		return;
	d->groups = arena_zalloc(d->A, gm->n * sizeof(sgroup));
	char why[160];
	for (size_t i = 0; i < gm->n; i++) {
		sgroup *g = &d->groups[d->ngroups];
		g->name = gm->pairs[i].key->str;
		g->key = gm->pairs[i].key;
		g->body = gm->pairs[i].val;
		g->parent = -1;
		if (!airflow_id_valid(g->name, why, sizeof(why))) {
			derr(d, "E033", g->key, "invalid task group name '%s': %s", g->name, why);
			continue;
		}
		ypair *da = map_find(g->body, "default_args");
		if (da) {
			if (!is_map(da->val) && da->val->kind != YN_NULL)
				derr(d, "E002", da->val, "'default_args' must be a mapping");
			check_paths_in(d, da->val);
		}
		d->ngroups++;
	}
	for (size_t i = 0; i < d->ngroups; i++)
		resolve_group(d, (int)i);
	/* a group caught in a parent cycle (E024) still needs an id */
	for (size_t i = 0; i < d->ngroups; i++)
		if (!d->groups[i].id)
			d->groups[i].id = arena_strdup(d->A, d->groups[i].name);
}

static void check_task(dctx *d, int ti)
{
	stask *t = &d->tasks[ti];
	ynode *b = t->body;
	ynode *opn = map_get(b, "operator");
	ynode *dec = map_get(b, "decorator");
	if ((!opn || opn->kind == YN_NULL) && (!dec || dec->kind == YN_NULL)) {
		derr(d, "E010", t->pos, "task '%s' has neither 'operator' nor 'decorator'", t->id);
		return;
	}
	if (dec && dec->kind != YN_NULL) {
		if (!is_str(dec)) {
			derr(d, "E002", dec, "'decorator' must be an import path");
			return;
		}
		t->decorator = true;
		t->operator= dec->str;
		return;
	}
	if (!is_str(opn)) {
		derr(d, "E002", opn, "'operator' must be an import path, not a %s",
		     ynode_kind_name(opn->kind));
		return;
	}
	t->operator= opn->str;
	const cat_operator *op = NULL;
	const char *target = NULL;
	cat_lookup r = catalog_lookup(d->opts->cat, opn->str, &op, &target);
	const char *dot = strrchr(opn->str, '.');
	int modlen = dot ? (int)(dot - opn->str) : (int)strlen(opn->str);
	switch (r) {
	case CAT_UNCHECKED:
		return;
	case CAT_NO_MODULE: {
		const char *s = catalog_suggest(d->opts->cat, opn->str);
		derr(d, "E011", opn, "ModuleNotFoundError: No module named '%.*s'%s%s%s", modlen,
		     opn->str, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
		return;
	}
	case CAT_NO_CLASS: {
		const char *s = catalog_suggest(d->opts->cat, opn->str);
		derr(d, "E012", opn, "ImportError: cannot import name '%s' from '%.*s'%s%s%s",
		     dot ? dot + 1 : opn->str, modlen, opn->str, s ? " (did you mean '" : "",
		     s ? s : "", s ? "'?)" : "");
		return;
	}
	case CAT_DEPRECATED:
		dwarn(d, "W002", "deprecated", opn,
		      "operator path '%s' is deprecated in Airflow 3; use '%s'", opn->str,
		      target ? target : "the provider's path");
		break;
	case CAT_FOUND:
		break;
	}
	if (op)
		check_operator_args(d, t, op);
}

static void build_tasks(dctx *d, ynode *tm)
{
	if (!is_map(tm) || tm->n == 0)
		return;
	d->tasks = arena_zalloc(d->A, tm->n * sizeof(stask));
	char why[160];
	for (size_t i = 0; i < tm->n; i++) {
		ypair *p = &tm->pairs[i];
		stask *t = &d->tasks[d->ntasks];
		t->name = p->key->str;
		t->id_node = p->key;
		t->body = p->val;
		t->pos = p->val;
		t->group = -1;
		if (!airflow_id_valid(t->name, why, sizeof(why))) {
			derr(d, "E033", t->id_node, "invalid task id '%s': %s", t->name, why);
			continue;
		}
		ynode *gn = map_get(t->body, "task_group_name");
		if (gn && gn->kind != YN_NULL) {
			t->group = group_ref(d, gn, "task_group_name");
		}
		t->id = t->group >= 0 ? arena_printf(d->A, "%s.%s", d->groups[t->group].id, t->name)
		                      : arena_strdup(d->A, t->name);
		if (strlen(t->id) > 250)
			derr(d, "E033", t->id_node, "task id '%s' is longer than 250 characters",
			     t->id);
		d->ntasks++;
	}
	/* full ids must be unique too (a task named like a group's task) */
	for (size_t i = 0; i < d->ntasks; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(d->tasks[i].id, d->tasks[j].id) == 0)
				derr(d, "E022", d->tasks[i].id_node, "duplicate task id '%s'",
				     d->tasks[i].id);
	for (size_t i = 0; i < d->ntasks; i++) {
		check_task(d, (int)i);
		check_paths_in(d, d->tasks[i].body);
		for (size_t k = 0; k < d->tasks[i].body->n; k++)
			check_typed_objects(d, d->tasks[i].body->pairs[k].val, 0);
	}
}

static void build_graph(dctx *d)
{
	pending_dep *deps = NULL;
	size_t ndeps = 0;
	for (size_t i = 0; i < d->ntasks; i++) {
		stask *t = &d->tasks[i];
		collect_deps(d, map_get(t->body, "dependencies"), (int)i, -1, &deps, &ndeps);
		if (t->decorator) {
			for (size_t k = 0; k < t->body->n; k++) {
				ypair *p = &t->body->pairs[k];
				if (!is_system_key(key_text(p)) || key_is(p, "expand") ||
				    key_is(p, "partial"))
					scan_refs(d, (int)i, p->val, true, 0);
			}
		} else {
			scan_refs(d, (int)i, map_get(t->body, "expand"), false, 0);
			scan_refs(d, (int)i, map_get(t->body, "partial"), false, 0);
		}
	}
	for (size_t g = 0; g < d->ngroups; g++)
		collect_deps(d, map_get(d->groups[g].body, "dependencies"), -1, (int)g, &deps,
		             &ndeps);
	/* task -> task first, then group wiring (innermost groups first), then tasks
	 * that depend on groups */
	for (size_t i = 0; i < ndeps; i++)
		if (deps[i].down_task >= 0 && !deps[i].up_is_group)
			apply_dep(d, &deps[i]);
	pending_dep *rest = xmalloc((ndeps ? ndeps : 1) * sizeof(*rest));
	size_t nrest = 0;
	for (size_t i = 0; i < ndeps; i++)
		if (deps[i].down_task < 0 || deps[i].up_is_group)
			rest[nrest++] = deps[i];
	qsort_r(rest, nrest, sizeof(*rest), cmp_dep_depth, d);
	for (size_t i = 0; i < nrest; i++)
		apply_dep(d, &rest[i]);
	free(rest);
	free(deps);
	find_cycle(d);
}

/* ------------------------------------------------------------------------ */
/* Warnings that need the whole DAG                                          */

static ynode *effective(dctx *d, const stask *t, const char *name)
{
	ynode *v = map_get(t->body, name);
	if (v)
		return v;
	for (int g = t->group; g >= 0; g = d->groups[g].parent) {
		v = map_get(map_get(d->groups[g].body, "default_args"), name);
		if (v)
			return v;
	}
	return map_get(d->default_args, name);
}

static void check_pools(dctx *d)
{
	const dagfile_opts *o = d->opts;
	strbuf bad;
	sb_init(&bad);
	const ynode *first = NULL;
	for (size_t i = 0; i < d->ntasks; i++) {
		ynode *p = effective(d, &d->tasks[i], "pool");
		if (!p || !is_str(p) || strstr(p->str, "{{"))
			continue;
		bool known = false;
		for (size_t k = 0; k < o->npools && !known; k++)
			known = strcmp(o->pools[k], p->str) == 0;
		if (o->npools == 0)
			known = strcmp(p->str, "default_pool") == 0;
		if (known)
			continue;
		if (!first)
			first = p;
		sb_printf(&bad, "%s'%s' (task %s)", bad.len ? ", " : "", p->str, d->tasks[i].id);
	}
	if (first)
		dwarn(d, "W001", "non-existent pool", first,
		      "Dag '%s' references non-existent pools: %s", d->dag_id, bad.data);
	sb_free(&bad);
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *scalar_dup(const ynode *n)
{
	return (n && ynode_is_scalar(n) && n->kind != YN_NULL) ? xstrdup(n->str) : NULL;
}

static void emit_dag(dctx *d)
{
	dagfile_result *r = d->res;
	r->dags = xrealloc(r->dags, (r->ndags + 1) * sizeof(*r->dags));
	dag_result *g = &r->dags[r->ndags++];
	memset(g, 0, sizeof(*g));
	g->dag_id = xstrdup(d->dag_id);
	g->line = d->dag_key->line;
	g->max_active_runs = g->max_active_tasks = -1;
	ynode *m = d->dag;

	ynode *sch = map_get(m, "schedule");
	if (sch && is_str(sch))
		g->schedule = xstrdup(sch->str);
	g->description = scalar_dup(map_get(m, "description"));
	ynode *v = map_get(m, "max_active_runs");
	if (v && v->kind == YN_INT)
		g->max_active_runs = v->v.i;
	v = map_get(m, "max_active_tasks");
	if (v && v->kind == YN_INT)
		g->max_active_tasks = v->v.i;
	v = map_get(m, "is_paused_upon_creation");
	if (v && v->kind == YN_BOOL) {
		g->has_paused_upon_creation = true;
		g->is_paused_upon_creation = v->v.b;
	}
	ynode *tags = map_get(m, "tags");
	if (is_seq(tags)) {
		g->tags = xcalloc(tags->n ? tags->n : 1, sizeof(char *));
		for (size_t i = 0; i < tags->n; i++)
			if (ynode_is_scalar(tags->items[i]) && tags->items[i]->kind != YN_NULL)
				g->tags[g->ntags++] = xstrdup(tags->items[i]->str);
	}

	/* owners: the tasks' owners, unique, in task order (Airflow's DAG.owner) */
	strbuf ow;
	sb_init(&ow);
	/* each task's owner looked up once; the distinct ones are few */
	const char **uniq = xcalloc(d->ntasks ? d->ntasks : 1, sizeof(*uniq));
	size_t nuniq = 0;
	for (size_t i = 0; i < d->ntasks; i++) {
		ynode *o = effective(d, &d->tasks[i], "owner");
		const char *name =
		    (o && ynode_is_scalar(o) && o->kind != YN_NULL) ? o->str : "airflow";
		bool seen = false;
		for (size_t j = 0; j < nuniq && !seen; j++)
			seen = strcmp(uniq[j], name) == 0;
		if (!seen) {
			uniq[nuniq++] = name;
			sb_printf(&ow, "%s%s", ow.len ? ", " : "", name);
		}
	}
	free(uniq);
	if (!ow.len) {
		ynode *o = map_get(d->default_args, "owner");
		sb_adds(&ow, (o && ynode_is_scalar(o) && o->kind != YN_NULL) ? o->str : "airflow");
	}
	g->owners = sb_detach(&ow);

	/* tasks sorted by id */
	g->ntasks = d->ntasks;
	g->tasks = xcalloc(d->ntasks ? d->ntasks : 1, sizeof(dag_task));
	for (size_t i = 0; i < d->ntasks; i++) {
		stask *t = &d->tasks[i];
		dag_task *o = &g->tasks[i];
		o->task_id = xstrdup(t->id);
		o->operator = xstrdup(t->operator ? t->operator : "");
		o->decorator = t->decorator;
		o->nupstream = t->nup;
		o->upstream = xcalloc(t->nup ? t->nup : 1, sizeof(char *));
		for (size_t k = 0; k < t->nup; k++)
			o->upstream[k] = xstrdup(d->tasks[t->up[k]].id);
		qsort(o->upstream, o->nupstream, sizeof(char *), cmp_str);
	}

	/* canonical JSON */
	strbuf b;
	sb_init(&b);
	sb_adds(&b, "{\"dag_id\":");
	serialize_string(&b, d->dag_id, strlen(d->dag_id));
	/* the DAG's own keys, sorted, without tasks/task_groups/dag_id */
	size_t nk = 0;
	const ypair **keys = xmalloc((m->n ? m->n : 1) * sizeof(*keys));
	for (size_t i = 0; i < m->n; i++)
		if (!key_is(&m->pairs[i], "tasks") && !key_is(&m->pairs[i], "task_groups") &&
		    !key_is(&m->pairs[i], "dag_id"))
			keys[nk++] = &m->pairs[i];
	/* insertion sort by key text: DAG mappings are small */
	for (size_t i = 1; i < nk; i++) {
		const ypair *x = keys[i];
		size_t j = i;
		while (j > 0 && strcmp(key_text(keys[j - 1]), key_text(x)) > 0) {
			keys[j] = keys[j - 1];
			j--;
		}
		keys[j] = x;
	}
	/* "dag_id" < "tasks"/"task_groups" in sort order: emit keys around them */
	bool groups_done = false, tasks_done = false;
	for (size_t i = 0; i <= nk; i++) {
		const char *k = i < nk ? key_text(keys[i]) : NULL;
		if (!groups_done && (!k || strcmp(k, "task_groups") > 0)) {
			groups_done = true;
			sb_adds(&b, ",\"task_groups\":[");
			/* groups sorted by id */
			size_t ng = d->ngroups;
			size_t *ord = xmalloc((ng ? ng : 1) * sizeof(size_t));
			for (size_t q = 0; q < ng; q++)
				ord[q] = q;
			for (size_t q = 1; q < ng; q++) {
				size_t x = ord[q], j = q;
				while (j > 0 &&
				       strcmp(d->groups[ord[j - 1]].id, d->groups[x].id) > 0) {
					ord[j] = ord[j - 1];
					j--;
				}
				ord[j] = x;
			}
			for (size_t q = 0; q < ng; q++) {
				sgroup *gr = &d->groups[ord[q]];
				ynode *body = map_new(d->A, gr->body->n + 1, gr->body);
				for (size_t z = 0; z < gr->body->n; z++)
					if (!key_is(&gr->body->pairs[z], "group_name"))
						body->pairs[body->n++] = gr->body->pairs[z];
				body->pairs[body->n].key = str_node(d->A, "group_id", NULL);
				body->pairs[body->n].val = str_node(d->A, gr->id, NULL);
				body->n++;
				if (q)
					sb_addc(&b, ',');
				serialize_value(&b, body);
			}
			free(ord);
			sb_addc(&b, ']');
		}
		if (!tasks_done && (!k || strcmp(k, "tasks") > 0)) {
			tasks_done = true;
			sb_adds(&b, ",\"tasks\":[");
			size_t *ord = xmalloc((d->ntasks ? d->ntasks : 1) * sizeof(size_t));
			for (size_t q = 0; q < d->ntasks; q++)
				ord[q] = q;
			for (size_t q = 1; q < d->ntasks; q++) {
				size_t x = ord[q], j = q;
				while (j > 0 &&
				       strcmp(d->tasks[ord[j - 1]].id, d->tasks[x].id) > 0) {
					ord[j] = ord[j - 1];
					j--;
				}
				ord[j] = x;
			}
			for (size_t q = 0; q < d->ntasks; q++) {
				stask *t = &d->tasks[ord[q]];
				dag_task *o = &g->tasks[ord[q]];
				ynode *body = map_new(d->A, t->body->n + 2, t->body);
				for (size_t z = 0; z < t->body->n; z++)
					if (!key_is(&t->body->pairs[z], "task_id") &&
					    !key_is(&t->body->pairs[z], "dependencies"))
						body->pairs[body->n++] = t->body->pairs[z];
				body->pairs[body->n].key = str_node(d->A, "task_id", NULL);
				body->pairs[body->n].val = str_node(d->A, t->id, NULL);
				body->n++;
				ynode *ups = arena_zalloc(d->A, sizeof(*ups));
				ups->kind = YN_SEQ;
				ups->n = o->nupstream;
				ups->items =
				    arena_alloc(d->A, (ups->n ? ups->n : 1) * sizeof(ynode *));
				for (size_t z = 0; z < ups->n; z++)
					ups->items[z] = str_node(d->A, o->upstream[z], NULL);
				body->pairs[body->n].key =
				    str_node(d->A, "upstream_task_ids", NULL);
				body->pairs[body->n].val = ups;
				body->n++;
				if (q)
					sb_addc(&b, ',');
				serialize_value(&b, body);
			}
			free(ord);
			sb_addc(&b, ']');
		}
		if (k) {
			sb_addc(&b, ',');
			serialize_string(&b, k, strlen(k));
			sb_addc(&b, ':');
			serialize_value(&b, keys[i]->val);
		}
	}
	free(keys);
	sb_addc(&b, '}');
	g->json_len = b.len;
	g->json = sb_detach(&b);

	/* sort the result's tasks by id as documented */
	for (size_t q = 1; q < g->ntasks; q++) {
		dag_task x = g->tasks[q];
		size_t j = q;
		while (j > 0 && strcmp(g->tasks[j - 1].task_id, x.task_id) > 0) {
			g->tasks[j] = g->tasks[j - 1];
			j--;
		}
		g->tasks[j] = x;
	}
}

/* ------------------------------------------------------------------------ */

static void process_dag(dctx *d, ypair *dp, ynode *default_block)
{
	char why[160];
	d->dag_id = dp->key->str;
	d->dag_key = dp->key;
	if (!airflow_id_valid(d->dag_id, why, sizeof(why)))
		derr(d, "E033", dp->key, "invalid DAG id '%s': %s", d->dag_id, why);
	ynode *body = dp->val;
	if (body && body->kind == YN_NULL)
		body = map_new(d->A, 0, dp->key);
	if (!is_map(body)) {
		derr(d, "E002", body ? body : dp->key, "DAG '%s' must be a mapping, not a %s",
		     d->dag_id, ynode_kind_name(body->kind));
		goto record;
	}
	/* layers: farthest defaults.yml first, then nearer ones, then `default`, then
	 * the DAG itself */
	ynode *acc = NULL;
	for (size_t i = d->ndefs; i-- > 0;)
		acc = merge(d->A, acc, normalize_layer(d, d->defs[i].root), true);
	if (is_map(default_block))
		acc = merge(d->A, acc, normalize_layer(d, default_block), true);
	acc = merge(d->A, acc, normalize_layer(d, body), true);
	d->dag = acc ? acc : map_new(d->A, 0, body);
	/* the merged mapping takes the DAG's own position */
	d->dag->line = body->line;
	d->dag->col = body->col;
	d->dag->origin = 0;

	ypair *da = map_find(d->dag, "default_args");
	if (da && is_map(da->val)) {
		d->default_args = da->val;
		for (size_t i = 0; i < da->val->n; i++) {
			ypair *p = &da->val->pairs[i];
			if (key_is(p, "start_date") || key_is(p, "end_date"))
				check_date(d, p);
			else
				check_typed_objects(d, p->val, 0);
		}
		check_paths_in(d, da->val);
	}
	check_dag_keys(d);
	build_groups(d, map_get(d->dag, "task_groups"));
	build_tasks(d, map_get(d->dag, "tasks"));
	build_graph(d);
	check_pools(d);
	if (!d->has_error)
		emit_dag(d);
record:
	if (d->has_error) {
		dagfile_result *r = d->res;
		r->error_dag_ids =
		    xrealloc(r->error_dag_ids, (r->nerror_dag_ids + 1) * sizeof(char *));
		r->error_dag_ids[r->nerror_dag_ids++] = xstrdup(d->dag_id);
	}
	for (size_t i = 0; i < d->ntasks; i++)
		free(d->tasks[i].up);
	opcache_free(d);
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
		derr(&file, "E002", root,
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
			derr(&file, "E002", dp->val, "'default' must be a mapping, not a %s",
			     ynode_kind_name(dp->val->kind));
	}
	for (size_t i = 0; i < root->n; i++) {
		ypair *p = &root->pairs[i];
		if (key_is(p, "default") || key_is(p, "task_groups"))
			continue;
		if (!p->key || !ynode_is_scalar(p->key) || p->key->kind == YN_NULL) {
			derr(&file, "E002", p->key, "a DAG id must be a string");
			continue;
		}
		dctx d = file;
		d.has_error = false;
		process_dag(&d, p, default_block);
	}
}
