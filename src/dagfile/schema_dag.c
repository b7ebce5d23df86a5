/* DAG-level keys: the keys Airflow's DAG() and dag-factory take, the removed
 * and deprecated ones, and the type of each value. */
#include "dagfile/schema_int.h"
#include "dagfile/jsonschema.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The keys dag-factory's DagBuilder.build() reads: what it passes to DAG(),
 * what it uses itself (dates' timezone, doc_md sources, callbacks loaded
 * from files). */
static const char *const dag_keys[] = {"description",
                                       "schedule",
                                       "start_date",
                                       "end_date",
                                       "template_searchpath",
                                       "user_defined_macros",
                                       "default_args",
                                       "max_active_tasks",
                                       "max_active_runs",
                                       "dagrun_timeout",
                                       "catchup",
                                       "on_success_callback",
                                       "on_failure_callback",
                                       "doc_md",
                                       "params",
                                       "access_control",
                                       "is_paused_upon_creation",
                                       "render_template_as_native_obj",
                                       "tags",
                                       "dag_display_name",
                                       "dag_id",
                                       "tasks",
                                       "task_groups",
                                       "timezone",
                                       "doc_md_file_path",
                                       "doc_md_python_callable_name",
                                       "doc_md_python_callable_file",
                                       "doc_md_python_arguments",
                                       "on_success_callback_name",
                                       "on_success_callback_file",
                                       "on_failure_callback_name",
                                       "on_failure_callback_file"};

/* Arguments of Airflow 3.1's DAG() that dag-factory 1.1 never passes: set in
 * YAML, they change nothing. */
static const char *const dag_not_passed[] = {"template_undefined",
                                             "user_defined_filters",
                                             "max_consecutive_failed_dag_runs",
                                             "jinja_environment_kwargs",
                                             "owner_links",
                                             "auto_register",
                                             "fail_fast",
                                             "disable_bundle_versioning",
                                             "deadline"};

/* Task callbacks dag-factory reads at DAG level but never gives the DAG
 * (on_execute_callback is even imported or loaded from its file first). */
static const char *const dag_task_callbacks[] = {
    "on_execute_callback",    "on_execute_callback_name", "on_execute_callback_file",
    "on_retry_callback",      "on_retry_callback_name",   "on_retry_callback_file",
    "on_skipped_callback",    "on_skipped_callback_name", "on_skipped_callback_file",
    "sla_miss_callback_name", "sla_miss_callback_file"};

static const char *const dag_deprecated[] = {"default_view", "orientation", "concurrency",
                                             "sla_miss_callback"};

/* The DAG key list, sorted once for binary search: it is consulted for
 * every key of every DAG. */
static const char *sorted_dag_keys[NELEM(dag_keys)];
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sort_key_lists(void)
{
	memcpy(sorted_dag_keys, dag_keys, sizeof(dag_keys));
	qsort(sorted_dag_keys, NELEM(dag_keys), sizeof(char *), cmp_cstr);
}

static bool is_dag_key(const char *k)
{
	pthread_once(&sorted_once, sort_key_lists);
	return bsearch(&k, sorted_dag_keys, NELEM(dag_keys), sizeof(char *), cmp_cstr) != NULL;
}

bool sch_dag_key_ignored(const char *k)
{
	/* concurrency is not ignored: dag-factory passes it as max_active_tasks */
	return !is_dag_key(k) && strcmp(k, "concurrency") != 0;
}

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
	/* dag-factory's loader evaluates __join__ to a string before anything reads it */
	if ((want & CAT_T_STR) && (v->kind == YN_STR || (is_map(v) && map_get(v, "__join__"))))
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
			sch_err(d, "E015", v, "'%s' must be %s, not '%s'", key_text(p), expect,
			        v->str);
		else
			sch_err(d, "E015", v, "'%s' must be %s, not a %s", key_text(p), expect,
			        type_name_of(v));
	}
}

/* A callback as dag-factory's set_callback takes it: an import path (a string
 * with a dot: import_string refuses others), or {callback: path, ...params}. */
void sch_check_callback(dctx *d, ypair *p)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	if (is_str(v)) {
		sch_check_import_path(d, v, key_text(p));
		return;
	}
	ynode *cb = map_get(v, "callback");
	if (is_map(v) && is_str(cb)) {
		sch_check_import_path(d, cb, key_text(p));
		return;
	}
	if (is_map(v) && cb && cb->kind != YN_NULL)
		sch_err(d, "E015", cb, "the 'callback' of '%s' must be an import path, not a %s",
		        key_text(p), type_name_of(cb));
	else
		sch_err(d, "E015", v,
		        "'%s' must be an import path or a mapping with 'callback' "
		        "(dag-factory: Invalid type passed to %s)",
		        key_text(p), key_text(p));
}

/* dag-factory checks template_searchpath itself: absolute existing folders. */
static void check_searchpath(dctx *d, ypair *p)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	ynode *single = v;
	ynode **items = &single;
	size_t n = 1;
	if (is_seq(v)) {
		items = v->items;
		n = v->n;
	} else if (!is_str(v)) {
		sch_err(d, "E015", v,
		        "'template_searchpath' must be a path or a list of paths, not a %s",
		        type_name_of(v));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (!is_str(items[i]))
			sch_err(d, "E015", items[i],
			        "a template_searchpath entry must be a path, not a %s",
			        type_name_of(items[i]));
		else if (items[i]->str[0] != '/')
			sch_err(d, "E040", items[i],
			        "template_searchpath must be absolute paths: '%s'", items[i]->str);
		else if (stat(items[i]->str, &st) != 0 || !S_ISDIR(st.st_mode))
			sch_err(d, "E040", items[i],
			        "template_searchpath must be existing folders: '%s' is not one",
			        items[i]->str);
	}
}

/* user_defined_macros: dag-factory imports every string value (nested
 * mappings included) as a dotted path. */
static void check_macros(dctx *d, ynode *m, int depth)
{
	if (!is_map(m) || depth > 32)
		return;
	for (size_t i = 0; i < m->n; i++) {
		ynode *v = m->pairs[i].val;
		if (is_str(v))
			sch_check_import_path(d, v, key_text(&m->pairs[i]));
		else if (is_map(v))
			check_macros(d, v, depth + 1);
	}
}

void sch_check_dag_keys(dctx *d)
{
	ynode *m = d->dag;
	for (size_t i = 0; i < m->n; i++) {
		ypair *p = &m->pairs[i];
		const char *k = key_text(p);
		if (strcmp(k, "schedule_interval") == 0 || strcmp(k, "timetable") == 0) {
			/* renamed, same values: a fix unless the DAG already has a
			 * schedule or both old keys */
			/* (the key written where its value is: not one a later key of
			 * the mapping overrode) */
			bool alone = !map_get(m, "schedule") && !p->replaced &&
			             !(map_get(m, "schedule_interval") && map_get(m, "timetable"));
			(alone ? sch_err_fix : sch_err_use)(d, "E031", p->key, "schedule",
			                                    "removed in Airflow 3",
			                                    "'%s' is not a DAG argument", k);
			continue;
		}
		if (strcmp(k, "concurrency") == 0) {
			(map_get(m, "max_active_tasks") || p->replaced ? sch_warn_use
			                                               : sch_warn_fix)(
			    d, "W002", "deprecated", p->key, "max_active_tasks",
			    "deprecated; dag-factory passes it as max_active_tasks",
			    "'concurrency' sets max_active_tasks");
			continue;
		}
		if (strcmp(k, "sla_miss_callback") == 0) {
			sch_warn(d, "W002", "deprecated", p->key,
			         "'sla_miss_callback' was removed in Airflow 3.1; dag-factory "
			         "ignores it");
			continue;
		}
		if (in_list(k, dag_deprecated, NELEM(dag_deprecated))) {
			sch_warn(d, "W002", "deprecated", p->key,
			         "'%s' is deprecated and ignored by Airflow 3", k);
			continue;
		}
		if (is_dag_key(k))
			continue;
		if (strcmp(k, "dagrun_timeout_sec") == 0) {
			sch_warn_use(d, "W003", "unknown key", p->key, "dagrun_timeout",
			             "removed in dag-factory 1.0, with a timedelta",
			             "'dagrun_timeout_sec' is ignored");
			continue;
		}
		if (in_list(k, dag_not_passed, NELEM(dag_not_passed))) {
			sch_warn(d, "W003", "unknown key", p->key,
			         "dag-factory does not pass '%s' to DAG(); it is ignored", k);
			continue;
		}
		if (in_list(k, dag_task_callbacks, NELEM(dag_task_callbacks))) {
			sch_warn(
			    d, "W003", "unknown key", p->key,
			    "'%s' is ignored at DAG level (dag-factory gives the DAG only "
			    "on_success_callback and on_failure_callback; task callbacks go in "
			    "default_args)",
			    k);
			continue;
		}
		const char *s = suggest_name(k, dag_keys, NELEM(dag_keys));
		sch_warn_near(d, "W003", "unknown key", p->key, s,
		              "unknown DAG key '%s'; it is ignored", k);
	}
	for (size_t i = 0; i < m->n; i++) {
		ypair *p = &m->pairs[i];
		const char *k = key_text(p);
		if (strcmp(k, "schedule") == 0)
			sch_check_schedule(d, p);
		else if (strcmp(k, "start_date") == 0 || strcmp(k, "end_date") == 0)
			sch_check_date(d, p);
		else if (strcmp(k, "max_active_tasks") == 0 || strcmp(k, "max_active_runs") == 0 ||
		         strcmp(k, "concurrency") == 0)
			check_dag_type(d, p, CAT_T_INT);
		else if (strcmp(k, "catchup") == 0 || strcmp(k, "is_paused_upon_creation") == 0 ||
		         strcmp(k, "render_template_as_native_obj") == 0)
			check_dag_type(d, p, CAT_T_BOOL);
		else if (strcmp(k, "description") == 0 || strcmp(k, "doc_md") == 0 ||
		         strcmp(k, "dag_display_name") == 0 || strcmp(k, "timezone") == 0)
			check_dag_type(d, p, CAT_T_STR);
		else if (strcmp(k, "tags") == 0) {
			check_dag_type(d, p, CAT_T_LIST);
			if (is_seq(p->val))
				for (size_t j = 0; j < p->val->n; j++)
					if ((!ynode_is_scalar(p->val->items[j]) &&
					     !map_get(p->val->items[j], "__join__")) ||
					    p->val->items[j]->kind == YN_NULL)
						sch_err(d, "E015", p->val->items[j],
						        "a tag must be a string, not a %s",
						        type_name_of(p->val->items[j]));
		} else if (strcmp(k, "params") == 0 || strcmp(k, "user_defined_macros") == 0) {
			check_dag_type(d, p, CAT_T_DICT);
			if (strcmp(k, "user_defined_macros") == 0)
				check_macros(d, p->val, 0);
		} else if (strcmp(k, "default_args") == 0) {
			if (p->val && p->val->kind != YN_MAP)
				sch_err(d, "E002", p->val,
				        "'default_args' must be a mapping, not a %s",
				        type_name_of(p->val));
		} else if (strcmp(k, "dagrun_timeout") == 0) {
			check_dag_type(d, p, CAT_T_TIMEDELTA);
		} else if (strcmp(k, "template_searchpath") == 0) {
			check_searchpath(d, p);
		} else if (strcmp(k, "on_success_callback") == 0 ||
		           strcmp(k, "on_failure_callback") == 0 ||
		           strcmp(k, "on_execute_callback") == 0) {
			sch_check_callback(d, p);
		}
		if (strcmp(k, "tasks") && strcmp(k, "task_groups") && strcmp(k, "default_args"))
			sch_check_typed_objects(d, p->val, 0);
	}
	sch_check_paths_in(d, m, SCH_PATHS_DAG);
}

const char *const *sch_dag_keys(size_t *n)
{
	*n = NELEM(dag_keys);
	return dag_keys;
}
