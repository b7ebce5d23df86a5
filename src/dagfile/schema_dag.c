/* DAG-level keys: the keys Airflow's DAG() and dag-factory take, the removed
 * and deprecated ones, and the type of each value. */
#include "dagfile/schema_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
			sch_err(d, "E015", v, "'%s' must be %s, not '%s'", key_text(p), expect,
			        v->str);
		else
			sch_err(d, "E015", v, "'%s' must be %s, not a %s", key_text(p), expect,
			        type_name_of(v));
	}
}

void sch_check_dag_keys(dctx *d)
{
	ynode *m = d->dag;
	for (size_t i = 0; i < m->n; i++) {
		ypair *p = &m->pairs[i];
		const char *k = key_text(p);
		if (strcmp(k, "schedule_interval") == 0 || strcmp(k, "timetable") == 0) {
			sch_err(d, "E031", p->key, "'%s' was removed in Airflow 3; use 'schedule'",
			        k);
			continue;
		}
		if (in_list(k, dag_deprecated, NELEM(dag_deprecated))) {
			sch_warn(d, "W002", "deprecated", p->key,
			         "'%s' is deprecated and ignored by Airflow 3", k);
			continue;
		}
		if (is_dag_key(k))
			continue;
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
						sch_err(d, "E015", p->val->items[j],
						        "a tag must be a string, not a %s",
						        type_name_of(p->val->items[j]));
		} else if (strcmp(k, "params") == 0 || strcmp(k, "default_args") == 0 ||
		           strcmp(k, "user_defined_macros") == 0 ||
		           strcmp(k, "user_defined_filters") == 0)
			check_dag_type(d, p, CAT_T_DICT);
		else if (strcmp(k, "dagrun_timeout") == 0)
			check_dag_type(d, p, CAT_T_TIMEDELTA);
		if (strcmp(k, "tasks") && strcmp(k, "task_groups") && strcmp(k, "default_args"))
			sch_check_typed_objects(d, p->val, 0);
	}
	sch_check_paths_in(d, m);
}
