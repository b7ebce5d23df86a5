/* Unit tests of the operator catalog: lookups of Airflow 2/3 paths, inherited
 * arguments and types, users' catalog files and their errors, suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dagfile/catalog.h"

#define BASH     "airflow.providers.standard.operators.bash.BashOperator"
#define PYTHON   "airflow.providers.standard.operators.python.PythonOperator"
#define HTTP     "airflow.providers.http.operators.http.HttpOperator"
#define KPO      "airflow.providers.cncf.kubernetes.operators.pod.KubernetesPodOperator"
#define EXT_TASK "airflow.providers.standard.sensors.external_task.ExternalTaskSensor"

static catalog *builtin;

static int setup_builtin(void **state)
{
	(void)state;
	char *err = NULL;
	builtin = catalog_load(NULL, 0, &err);
	if (!builtin) {
		fprintf(stderr, "catalog_load: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	return 0;
}

static int teardown_builtin(void **state)
{
	(void)state;
	catalog_free(builtin);
	builtin = NULL;
	return 0;
}

static const cat_operator *must_find(const catalog *c, const char *path)
{
	const cat_operator *op = NULL;
	const char *target = NULL;
	assert_int_equal(catalog_lookup(c, path, &op, &target), CAT_FOUND);
	assert_non_null(op);
	assert_null(target);
	return op;
}

/* Writes text to a fresh temporary file; returns its malloc'd path. */
static char *write_temp(const char *text)
{
	char tmpl[] = "/tmp/test_catalog_XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	char *path = malloc(sizeof(tmpl));
	assert_non_null(path);
	memcpy(path, tmpl, sizeof(tmpl));
	return path;
}

static void test_lookup_readings(void **state)
{
	(void)state;
	const catalog *c = builtin;
	const cat_operator *op = NULL;
	const char *target = NULL;

	assert_int_equal(catalog_lookup(c, "airflow.operators.bash.BashOperator", &op, &target),
	                 CAT_DEPRECATED);
	assert_non_null(op);
	assert_string_equal(op->path, BASH);
	assert_string_equal(target, BASH);

	op = must_find(c, BASH);
	assert_string_equal(op->path, BASH);
	assert_string_equal(op->parent, "airflow.sdk.bases.operator.BaseOperator");

	/* Removed paths name their replacement. */
	char use[256];
	assert_int_equal(
	    catalog_lookup(c, "airflow.operators.http_operator.SimpleHttpOperator", &op, &target),
	    CAT_REMOVED);
	assert_null(op);
	assert_null(target);
	assert_string_equal(catalog_removal(c, "airflow.operators.http_operator.SimpleHttpOperator",
	                                    use, sizeof(use)),
	                    "removed in Airflow 3");
	assert_string_equal(use, "airflow.providers.http.operators.http.HttpOperator");
	assert_false(catalog_module_exists(c, "airflow.operators.http_operator", 31));
	assert_int_equal(catalog_lookup(c,
	                                "airflow.providers.http.operators.http.SimpleHttpOperator",
	                                &op, &target),
	                 CAT_REMOVED);
	assert_null(op);
	assert_true(catalog_module_exists(c, "airflow.providers.http.operators.http", 37));
	catalog_removal(c, "airflow.providers.http.operators.http.SimpleHttpOperator", use,
	                sizeof(use));
	assert_string_equal(use, "airflow.providers.http.operators.http.HttpOperator");
	assert_int_equal(
	    catalog_lookup(c,
	                   "airflow.providers.cncf.kubernetes.operators.kubernetes_pod."
	                   "KubernetesPodOperator",
	                   &op, &target),
	    CAT_REMOVED);
	must_find(c, KPO);
	/* A module pattern keeps the class name; a class pattern matches any module
	 * of its provider. */
	assert_int_equal(
	    catalog_lookup(c, "airflow.operators.bash_operator.BashOperator", NULL, NULL),
	    CAT_REMOVED);
	catalog_removal(c, "airflow.operators.python_operator.BranchPythonOperator", use,
	                sizeof(use));
	assert_string_equal(use,
	                    "airflow.providers.standard.operators.python.BranchPythonOperator");
	assert_non_null(
	    catalog_removal(c, "airflow.providers.snowflake.operators.snowflake.SnowflakeOperator",
	                    use, sizeof(use)));
	assert_string_equal(use,
	                    "airflow.providers.common.sql.operators.sql.SQLExecuteQueryOperator");
	catalog_removal(c, "airflow.operators.subdag_operator.SubDagOperator", use, sizeof(use));
	assert_string_equal(use, "");

	assert_int_equal(
	    catalog_lookup(c, "airflow.sensors.external_task.ExternalTaskSensor", &op, &target),
	    CAT_DEPRECATED);
	assert_string_equal(op->path, EXT_TASK);
	assert_string_equal(target, EXT_TASK);
	assert_true(op->is_sensor);

	assert_int_equal(catalog_lookup(c, "airflow.operators.dummy.DummyOperator", &op, &target),
	                 CAT_REMOVED);
	/* A package the catalog does not cover may be installed: not checked. */
	assert_int_equal(
	    catalog_lookup(c, "customized.operators.breakfast_operators.MakeBreadOperator", &op,
	                   &target),
	    CAT_NOT_COVERED);
	assert_int_equal(
	    catalog_lookup(c, "airflow_dbt.operators.dbt_operator.DbtRunOperator", NULL, NULL),
	    CAT_NOT_COVERED);
	assert_int_equal(catalog_lookup(c,
	                                "airflow.providers.apache.hive.operators.hive.HiveOperator",
	                                NULL, NULL),
	                 CAT_NOT_COVERED);
	/* A missing module of a covered package (Airflow itself, a catalogued
	 * provider) is not installed. */
	assert_int_equal(catalog_lookup(c, "airflow.operator.python.PythonOperator", NULL, NULL),
	                 CAT_NO_MODULE);
	assert_int_equal(catalog_lookup(c,
	                                "airflow.providers.amazon.aws.operators.s4.S3ListOperator",
	                                NULL, NULL),
	                 CAT_NO_MODULE);
	assert_int_equal(
	    catalog_lookup(c, "airflow.providers.common.sql.sensors.sql.SqlSensor", &op, NULL),
	    CAT_FOUND);
	assert_true(op->is_sensor);
	assert_int_equal(catalog_lookup(c,
	                                "airflow.providers.amazon.aws.operators.s3.S3ListOperator",
	                                NULL, NULL),
	                 CAT_FOUND);
	assert_int_equal(catalog_lookup(c,
	                                "airflow.providers.standard.decorators.python."
	                                "_PythonDecoratedOperator",
	                                &op, NULL),
	                 CAT_FOUND);
	assert_non_null(catalog_find_arg(c, op, "show_return_value_in_logs"));
	assert_true(catalog_covers(c, "airflow.providers.amazon", 24));
	assert_false(catalog_covers(c, "airflow.providers.hive", 22));
	assert_true(catalog_covers(c, "airflow.operators", 17));
	/* Other Airflow 2 names that Airflow 3.1 no longer resolves. */
	assert_int_equal(
	    catalog_lookup(c, "airflow.operators.bash_operator.BashOperator", NULL, NULL),
	    CAT_REMOVED);
	assert_int_equal(catalog_lookup(c, "airflow.sensors.time.TimeSensor", NULL, NULL),
	                 CAT_REMOVED);
	assert_int_equal(catalog_lookup(c, "airflow.sensors.time_sensor.TimeSensor", NULL, NULL),
	                 CAT_DEPRECATED);
	/* A class missing from a module or package that exists is E012. */
	assert_int_equal(catalog_lookup(c, "airflow.operators.bash.Nope", NULL, NULL),
	                 CAT_NO_CLASS);
	assert_int_equal(catalog_lookup(c, "airflow.providers.standard.operators.Nope", NULL, NULL),
	                 CAT_NO_CLASS);
	assert_int_equal(catalog_lookup(c, "BashOperator", NULL, NULL), CAT_NO_MODULE);
	assert_int_equal(catalog_lookup(c, "", NULL, NULL), CAT_NO_MODULE);
}

static void test_lookup_aliases(void **state)
{
	(void)state;
	const cat_operator *op = NULL;
	const char *target = NULL;
	/* Public re-exports and lazy attributes are not deprecated. */
	op = must_find(builtin, "airflow.sdk.BaseOperator");
	assert_string_equal(op->path, "airflow.sdk.bases.operator.BaseOperator");
	assert_null(op->parent);
	op = must_find(builtin, "airflow.models.BaseOperator");
	assert_string_equal(op->path, "airflow.sdk.bases.operator.BaseOperator");
	/* A deprecated alias whose target is itself a public alias. */
	assert_int_equal(
	    catalog_lookup(builtin, "airflow.models.operator.BaseOperator", &op, &target),
	    CAT_DEPRECATED);
	assert_string_equal(target, "airflow.sdk.bases.operator.BaseOperator");
	assert_int_equal(
	    catalog_lookup(builtin, "airflow.operators.empty.EmptyOperator", &op, &target),
	    CAT_DEPRECATED);
	assert_string_equal(target, "airflow.providers.standard.operators.empty.EmptyOperator");
	/* Redirect targets in the providers' extract are described like the others. */
	assert_int_equal(
	    catalog_lookup(builtin, "airflow.operators.email.EmailOperator", &op, &target),
	    CAT_DEPRECATED);
	assert_string_equal(target, "airflow.providers.smtp.operators.smtp.EmailOperator");
	assert_false(op->var_kwargs);
	assert_non_null(catalog_find_arg(builtin, op, "to"));
	assert_false(must_find(builtin, BASH)->var_kwargs);
}

static void test_unchecked(void **state)
{
	(void)state;
	char *err = NULL;
	catalog *c = catalog_load(NULL, 0, &err);
	assert_non_null(c);
	const char *prefixes[] = {"customized.", "", "mycompany.ops."};
	catalog_set_unchecked(c, prefixes, 3);
	const cat_operator *op = (const cat_operator *)1;
	assert_int_equal(catalog_lookup(c, "customized.operators.breakfast_operators.X", &op, NULL),
	                 CAT_UNCHECKED);
	assert_null(op);
	assert_int_equal(catalog_lookup(c, "mycompany.ops.Foo", NULL, NULL), CAT_UNCHECKED);
	assert_int_equal(catalog_lookup(c, "mycompany.other.Foo", NULL, NULL), CAT_NOT_COVERED);
	/* [core] strict_catalog: what the catalog does not cover is not installed. */
	catalog_set_strict(c, true);
	assert_int_equal(catalog_lookup(c, "mycompany.other.Foo", NULL, NULL), CAT_NO_MODULE);
	assert_int_equal(catalog_lookup(c, "mycompany.ops.Foo", NULL, NULL), CAT_UNCHECKED);
	catalog_set_strict(c, false);
	/* An empty prefix does not disable all checks; catalog paths still win. */
	assert_int_equal(catalog_lookup(c, "airflow.operators.dummy.DummyOperator", NULL, NULL),
	                 CAT_REMOVED);
	assert_int_equal(catalog_lookup(c, BASH, NULL, NULL), CAT_FOUND);
	/* Replacing the list drops the old prefixes. */
	catalog_set_unchecked(c, prefixes + 2, 1);
	assert_int_equal(catalog_lookup(c, "customized.operators.X", NULL, NULL), CAT_NOT_COVERED);
	catalog_free(c);
}

struct collect {
	const char *names[256];
	size_t n;
	const char *required[32];
	size_t nreq;
};

static void collect_fn(const cat_arg *a, void *ud)
{
	struct collect *col = ud;
	assert_true(col->n < 256);
	for (size_t i = 0; i < col->n; i++)
		assert_string_not_equal(col->names[i], a->name); /* each name once */
	col->names[col->n++] = a->name;
	if (a->required) {
		assert_true(col->nreq < 32);
		col->required[col->nreq++] = a->name;
	}
}

static bool has_name(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(names[i], name))
			return true;
	}
	return false;
}

static void test_bash_args(void **state)
{
	(void)state;
	const cat_operator *op = must_find(builtin, BASH);
	assert_false(op->is_sensor);
	const cat_arg *a = catalog_find_arg(builtin, op, "bash_command");
	assert_non_null(a);
	assert_true(a->required);
	assert_true(a->templated);
	assert_int_equal(a->types, CAT_T_STR);
	a = catalog_find_arg(builtin, op, "retries"); /* from BaseOperator */
	assert_non_null(a);
	assert_false(a->required);
	assert_false(a->templated);
	assert_int_equal(a->types, CAT_T_INT | CAT_T_NONE);
	a = catalog_find_arg(builtin, op, "env");
	assert_int_equal(a->types, CAT_T_DICT | CAT_T_NONE);
	assert_true(a->templated);
	a = catalog_find_arg(builtin, op, "retry_delay");
	assert_int_equal(a->types, CAT_T_TIMEDELTA | CAT_T_FLOAT | CAT_T_INT);
	a = catalog_find_arg(builtin, op, "execution_timeout");
	assert_int_equal(a->types, CAT_T_TIMEDELTA | CAT_T_NONE);
	a = catalog_find_arg(builtin, op, "skip_on_exit_code"); /* int | Container[int] */
	assert_int_equal(a->types, CAT_T_ANY);
	a = catalog_find_arg(builtin, op, "on_failure_callback");
	assert_int_equal(a->types, CAT_T_ANY);
	a = catalog_find_arg(builtin, op, "retry_exponential_backoff"); /* bool in 3.1 */
	assert_int_equal(a->types, CAT_T_BOOL);
	assert_null(catalog_find_arg(builtin, op, "poke_interval"));
	assert_null(catalog_find_arg(builtin, op, "python_callable"));
	/* Only on Airflow main (3.2), not a 3.1 argument. */
	assert_null(catalog_find_arg(builtin, op, "render_template_as_native_obj"));
	assert_null(catalog_find_arg(builtin, NULL, "retries"));

	struct collect col = {0};
	catalog_each_arg(builtin, op, collect_fn, &col);
	assert_int_equal(col.nreq, 2);
	assert_true(has_name(col.required, col.nreq, "task_id"));
	assert_true(has_name(col.required, col.nreq, "bash_command"));
	assert_true(has_name(col.names, col.n, "owner"));
	assert_true(has_name(col.names, col.n, "cwd"));
	assert_int_equal(col.n, 7 + 53); /* BashOperator's own + BaseOperator's */
	/* Nearest declarations first. */
	assert_string_equal(col.names[0], "bash_command");
}

static void test_python_http_kpo_args(void **state)
{
	(void)state;
	const cat_operator *op = must_find(builtin, PYTHON);
	const cat_arg *a = catalog_find_arg(builtin, op, "python_callable");
	assert_non_null(a);
	assert_true(a->required);
	assert_int_equal(a->types, CAT_T_ANY);
	a = catalog_find_arg(builtin, op, "op_kwargs");
	assert_true(a->templated);
	assert_int_equal(a->types, CAT_T_DICT | CAT_T_NONE);

	op = must_find(builtin, HTTP);
	struct collect col = {0};
	catalog_each_arg(builtin, op, collect_fn, &col);
	assert_int_equal(col.nreq, 1); /* task_id only */
	a = catalog_find_arg(builtin, op, "endpoint");
	assert_true(a->templated);
	assert_false(a->required);
	assert_int_equal(a->types, CAT_T_STR | CAT_T_NONE);
	a = catalog_find_arg(builtin, op, "data");
	assert_int_equal(a->types, CAT_T_STR | CAT_T_DICT | CAT_T_NONE);
	a = catalog_find_arg(builtin, op, "http_conn_id");
	assert_int_equal(a->types, CAT_T_STR);
	a = catalog_find_arg(builtin, op, "tcp_keep_alive_idle");
	assert_int_equal(a->types, CAT_T_INT);
	assert_non_null(catalog_find_arg(builtin, op, "log_response"));
	assert_non_null(catalog_find_arg(builtin, op, "owner"));
	assert_null(catalog_find_arg(builtin, op, "response_check_name")); /* dag-factory's key */

	op = must_find(builtin, KPO);
	a = catalog_find_arg(builtin, op, "config_file");
	assert_non_null(a);
	assert_true(a->templated);
	assert_int_equal(a->types, CAT_T_STR | CAT_T_NONE);
	a = catalog_find_arg(builtin, op, "full_pod_spec"); /* k8s.V1Pod: not checkable */
	assert_int_equal(a->types, CAT_T_ANY);
	a = catalog_find_arg(builtin, op, "container_resources");
	assert_int_equal(a->types, CAT_T_ANY);
	a = catalog_find_arg(builtin, op, "volumes");
	assert_int_equal(a->types, CAT_T_LIST | CAT_T_NONE);
	a = catalog_find_arg(builtin, op, "do_xcom_push"); /* redeclared: nearest wins */
	assert_int_equal(a->types, CAT_T_BOOL);
	assert_null(catalog_find_arg(builtin, op, "poke_interval"));
}

static void test_sensor_args(void **state)
{
	(void)state;
	const cat_operator *op = must_find(builtin, EXT_TASK);
	assert_true(op->is_sensor);
	const cat_arg *a = catalog_find_arg(builtin, op, "poke_interval");
	assert_non_null(a);
	assert_int_equal(a->types, CAT_T_TIMEDELTA | CAT_T_FLOAT | CAT_T_INT);
	a = catalog_find_arg(builtin, op, "mode");
	assert_int_equal(a->types, CAT_T_STR);
	a = catalog_find_arg(builtin, op, "external_dag_id");
	assert_true(a->required);
	assert_true(a->templated);
	/* dag-factory converts "1 days" strings for execution_delta. */
	a = catalog_find_arg(builtin, op, "execution_delta");
	assert_int_equal(a->types, CAT_T_TIMEDELTA | CAT_T_NONE | CAT_T_STR);
	assert_non_null(catalog_find_arg(builtin, op, "retries"));

	op = must_find(builtin, "airflow.providers.http.sensors.http.HttpSensor");
	assert_true(op->is_sensor);
	assert_true(catalog_find_arg(builtin, op, "endpoint")->required);
	assert_non_null(catalog_find_arg(builtin, op, "timeout"));

	/* TimeSensorAsync passes deferrable itself: passing it is an error. */
	op = must_find(builtin, "airflow.providers.standard.sensors.time.TimeSensor");
	assert_non_null(catalog_find_arg(builtin, op, "deferrable"));
	op = must_find(builtin, "airflow.providers.standard.sensors.time.TimeSensorAsync");
	assert_null(catalog_find_arg(builtin, op, "deferrable"));
	assert_non_null(catalog_find_arg(builtin, op, "target_time"));
	struct collect col = {0};
	catalog_each_arg(builtin, op, collect_fn, &col);
	assert_false(has_name(col.names, col.n, "deferrable"));
}

static void test_subclass_overrides(void **state)
{
	(void)state;
	/* HITLEntryOperator supplies options itself; ApprovalOperator refuses it. */
	const cat_operator *op =
	    must_find(builtin, "airflow.providers.standard.operators.hitl.HITLOperator");
	assert_true(catalog_find_arg(builtin, op, "options")->required);
	op = must_find(builtin, "airflow.providers.standard.operators.hitl.HITLEntryOperator");
	assert_false(catalog_find_arg(builtin, op, "options")->required);
	assert_true(catalog_find_arg(builtin, op, "subject")->required);
	op = must_find(builtin, "airflow.providers.standard.operators.hitl.ApprovalOperator");
	assert_null(catalog_find_arg(builtin, op, "options"));
	assert_null(catalog_find_arg(builtin, op, "multiple"));
	assert_non_null(catalog_find_arg(builtin, op, "fail_on_reject"));
	/* ExternalPythonOperator requires python too; BranchPythonOperator inherits. */
	op = must_find(builtin,
	               "airflow.providers.standard.operators.python.ExternalPythonOperator");
	assert_true(catalog_find_arg(builtin, op, "python")->required);
	op = must_find(builtin, "airflow.providers.standard.operators.python.BranchPythonOperator");
	assert_true(catalog_find_arg(builtin, op, "python_callable")->required);
	assert_false(op->is_sensor);
	/* Added in standard 1.10 (current provider). */
	op = must_find(builtin,
	               "airflow.providers.standard.operators.trigger_dagrun.TriggerDagRunOperator");
	assert_non_null(catalog_find_arg(builtin, op, "openlineage_inject_parent_info"));
	assert_true(catalog_find_arg(builtin, op, "trigger_dag_id")->required);
}

static void test_suggest(void **state)
{
	(void)state;
	const char *s =
	    catalog_suggest(builtin, "airflow.providers.standard.operators.bash.BashOperater");
	assert_non_null(s);
	assert_string_equal(s, BASH);
	/* Near a deprecated alias: suggest where it leads. */
	s = catalog_suggest(builtin, "airflow.operators.bash.BashOpertor");
	assert_non_null(s);
	assert_string_equal(s, BASH);
	s = catalog_suggest(builtin, "airflow.providers.http.operators.http.SimpleHttpOperator");
	assert_non_null(s);
	assert_string_equal(s, HTTP);
	s = catalog_suggest(builtin, "airflow.providers.cncf.kubernetes.operators.kubernetes_pod."
	                             "KubernetesPodOperator");
	assert_non_null(s);
	assert_string_equal(s, KPO);
	s = catalog_suggest(builtin, "airflow.operators.dummy.DummyOperator");
	assert_non_null(s);
	assert_string_equal(s, "airflow.providers.standard.operators.empty.EmptyOperator");
	assert_null(catalog_suggest(builtin, "customized.operators.breakfast_operators.X"));
	/* near as a path only through the shared prefix: no suggestion */
	assert_null(catalog_suggest(builtin, "airflow.operators.AuditOperator"));
	assert_null(catalog_suggest(builtin, "airflow.operators.ListTable"));
	/* a typo in the module still finds the class */
	s = catalog_suggest(builtin, "airflow.operator.python.PythonOperator");
	assert_non_null(s);
	assert_string_equal(s, "airflow.providers.standard.operators.python.PythonOperator");
	assert_null(catalog_suggest(builtin, "x"));
	assert_null(catalog_suggest(builtin, ""));
}

static const char user_catalog[] =
    "# a user's catalog\n"
    "operators:\n"
    "  customized.operators.breakfast_operators.MakeBreadOperator:\n"
    "    args:\n"
    "      bread_type: {type: [str], required: true, templated: true}\n"
    "      loaves: {type: int}\n"
    "      crust:\n"
    "  customized.operators.breakfast_operators.WaitForToastSensor:\n"
    "    parent: airflow.sensors.base.BaseSensorOperator\n"
    "    args:\n"
    "      ratio: {type: [float, null]}\n"
    "  customized.operators.breakfast_operators.FancyBash:\n"
    "    parent: airflow.operators.bash.BashOperator\n"
    "    rejects: [env]\n"
    "    var_kwargs: yes\n"
    "aliases:\n"
    "  customized.old.Bread: customized.operators.breakfast_operators.MakeBreadOperator\n"
    "same:\n"
    "  customized.Bread: customized.operators.breakfast_operators.MakeBreadOperator\n"
    "modules:\n"
    "  - customized.operators.lunch_operators\n"
    "covers: [customized.operators.]\n"
    "removed:\n"
    "  customized.old.Toast: {use: customized.operators.breakfast_operators.MakeBreadOperator,\n"
    "                         why: removed in breakfast 2}\n";

static void test_user_catalog(void **state)
{
	(void)state;
	char *path = write_temp(user_catalog);
	const char *files[] = {path};
	char *err = NULL;
	catalog *c = catalog_load(files, 1, &err);
	if (!c)
		fail_msg("load failed: %s", err);
	assert_null(err);

	const cat_operator *op =
	    must_find(c, "customized.operators.breakfast_operators.MakeBreadOperator");
	assert_string_equal(op->parent, "airflow.sdk.bases.operator.BaseOperator");
	assert_false(op->is_sensor);
	const cat_arg *a = catalog_find_arg(c, op, "bread_type");
	assert_true(a->required && a->templated);
	assert_int_equal(a->types, CAT_T_STR);
	assert_int_equal(catalog_find_arg(c, op, "loaves")->types, CAT_T_INT);
	a = catalog_find_arg(c, op, "crust");
	assert_non_null(a);
	assert_int_equal(a->types, CAT_T_ANY);
	assert_false(a->required);
	assert_non_null(catalog_find_arg(c, op, "retries"));
	assert_null(catalog_find_arg(
	    builtin, must_find(builtin, "airflow.sdk.bases.operator.BaseOperator"), "loaves"));

	op = must_find(c, "customized.operators.breakfast_operators.WaitForToastSensor");
	assert_string_equal(op->parent, "airflow.sdk.bases.sensor.BaseSensorOperator");
	assert_true(op->is_sensor);
	assert_non_null(catalog_find_arg(c, op, "poke_interval"));
	/* float implies int; null is none. */
	assert_int_equal(catalog_find_arg(c, op, "ratio")->types,
	                 CAT_T_FLOAT | CAT_T_INT | CAT_T_NONE);

	op = must_find(c, "customized.operators.breakfast_operators.FancyBash");
	assert_string_equal(op->parent, BASH);
	assert_true(op->var_kwargs);
	assert_null(catalog_find_arg(c, op, "env"));
	assert_true(catalog_find_arg(c, op, "bash_command")->required);

	const char *target = NULL;
	assert_int_equal(catalog_lookup(c, "customized.old.Bread", &op, &target), CAT_DEPRECATED);
	assert_string_equal(target, "customized.operators.breakfast_operators.MakeBreadOperator");
	op = must_find(c, "customized.Bread");
	assert_string_equal(op->path, "customized.operators.breakfast_operators.MakeBreadOperator");
	assert_int_equal(
	    catalog_lookup(c, "customized.operators.breakfast_operators.Eggs", NULL, NULL),
	    CAT_NO_CLASS);
	assert_int_equal(catalog_lookup(c, "customized.operators.lunch_operators.Soup", NULL, NULL),
	                 CAT_NO_CLASS);
	assert_int_equal(catalog_lookup(c, "customized.operators.Soup", NULL, NULL),
	                 CAT_NO_CLASS); /* customized.operators is a package */
	/* covered by the user's catalog: a missing module is not installed */
	assert_int_equal(catalog_lookup(c, "customized.operators.dinner.Soup", NULL, NULL),
	                 CAT_NO_MODULE);
	/* outside what it covers: not checked */
	assert_int_equal(catalog_lookup(c, "customized.dinner.Soup", NULL, NULL), CAT_NOT_COVERED);
	assert_int_equal(catalog_lookup(c, "breakfast.Soup", NULL, NULL), CAT_NOT_COVERED);
	char use[128];
	assert_int_equal(catalog_lookup(c, "customized.old.Toast", NULL, NULL), CAT_REMOVED);
	assert_string_equal(catalog_removal(c, "customized.old.Toast", use, sizeof(use)),
	                    "removed in breakfast 2");
	assert_string_equal(use, "customized.operators.breakfast_operators.MakeBreadOperator");
	/* Built-in entries are still there. */
	assert_int_equal(catalog_lookup(c, "airflow.operators.bash.BashOperator", NULL, NULL),
	                 CAT_DEPRECATED);
	catalog_free(c);
	unlink(path);
	free(path);
}

static void test_user_catalog_overrides_builtin(void **state)
{
	(void)state;
	char *path = write_temp("operators:\n"
	                        "  airflow.providers.http.operators.http.HttpOperator:\n"
	                        "    parent: airflow.sdk.BaseOperator\n"
	                        "    args:\n"
	                        "      endpoint: {type: str, required: true}\n");
	const char *files[] = {path};
	char *err = NULL;
	catalog *c = catalog_load(files, 1, &err);
	assert_non_null(c);
	const cat_operator *op = must_find(c, HTTP);
	assert_true(catalog_find_arg(c, op, "endpoint")->required);
	assert_null(catalog_find_arg(c, op, "http_conn_id"));
	catalog_free(c);
	unlink(path);
	free(path);
}

/* Loads text as a user catalog and expects an error "PATH:LINE: ...what...". */
static void expect_error(const char *text, unsigned line, const char *what)
{
	char *path = write_temp(text);
	const char *files[] = {path};
	char *err = NULL;
	catalog *c = catalog_load(files, 1, &err);
	assert_null(c);
	assert_non_null(err);
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what) || strchr(err, '\n'))
		fail_msg("got \"%s\", want prefix \"%s\" and \"%s\"", err, prefix, what);
	free(err);
	unlink(path);
	free(path);
}

static void test_user_catalog_errors(void **state)
{
	(void)state;
	expect_error("operators:\n  a.B:\n    args: [x\n", 4, "invalid YAML");
	expect_error("operators:\n  a.B:\n    args:\n      x: {type: [str, number]}\n", 4,
	             "unknown type 'number'");
	expect_error("operators:\n  a.B:\n    parent: a.Missing\n", 3,
	             "unknown parent 'a.Missing'");
	expect_error("operators:\n  a.B:\n    parnet: a.C\n", 3, "unknown key 'parnet'");
	expect_error("operators:\n  NoModule:\n", 2, "invalid operator path");
	expect_error("aliases:\n  a.Old: a.Gone\n", 2, "alias target 'a.Gone'");
	expect_error("operatorz: {}\n", 1, "unknown key 'operatorz'");
	expect_error("- a\n- b\n", 1, "a catalog file is a mapping");
	expect_error("operators:\n  a.B:\n    args:\n      x: {required: maybe}\n", 4,
	             "'required' must be true or false");
	expect_error("operators:\n  a.B:\n    parent: a.C\n  a.C:\n    parent: a.B\n", 2,
	             "inheritance cycle");
	expect_error("covers: a.b.\n", 1, "'covers' must be a list");
	expect_error("not_covered: ['a..b']\n", 1, "invalid module prefix 'a..b'");
	expect_error("removed:\n  a.*.b.C: {use: x.Y}\n", 2, "invalid removed pattern");
	expect_error("removed:\n  a.b.*: {use: x.Y}\n", 2, "'use' of 'a.b.*' must be");
	expect_error("removed:\n  a.B: {use: x.*}\n", 2, "'use' of 'a.B' must be");
	expect_error("removed:\n  a.B: {instead: x.Y}\n", 2, "unknown key 'instead'");

	char *err = NULL;
	const char *files[] = {"/nonexistent/dir/catalog.yml"};
	assert_null(catalog_load(files, 1, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent/dir/catalog.yml: "));
	free(err);
	/* err may be NULL. */
	assert_null(catalog_load(files, 1, NULL));
}

static void test_empty_user_catalog(void **state)
{
	(void)state;
	char *path = write_temp("# nothing yet\n");
	const char *files[] = {path};
	char *err = NULL;
	catalog *c = catalog_load(files, 1, &err);
	assert_non_null(c);
	assert_null(err);
	catalog_free(c);
	unlink(path);
	free(path);
}

static void test_load_is_fast(void **state)
{
	(void)state;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	catalog *c = catalog_load(NULL, 0, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(c);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* measured, not asserted: speed belongs in `make bench` */
	printf("built-in catalog loaded in %.2f ms\n", ms);
	/* Lookups are hash lookups. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t found = 0;
	for (int i = 0; i < 100000; i++) {
		const cat_operator *op = NULL;
		if (catalog_lookup(c, "airflow.operators.bash.BashOperator", &op, NULL) ==
		        CAT_DEPRECATED &&
		    catalog_find_arg(c, op, "retries"))
			found++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(found, 100000);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("100000 lookups in %.2f ms\n", ms);
	catalog_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup_readings),
	    cmocka_unit_test(test_lookup_aliases),
	    cmocka_unit_test(test_unchecked),
	    cmocka_unit_test(test_bash_args),
	    cmocka_unit_test(test_python_http_kpo_args),
	    cmocka_unit_test(test_sensor_args),
	    cmocka_unit_test(test_subclass_overrides),
	    cmocka_unit_test(test_suggest),
	    cmocka_unit_test(test_user_catalog),
	    cmocka_unit_test(test_user_catalog_overrides_builtin),
	    cmocka_unit_test(test_user_catalog_errors),
	    cmocka_unit_test(test_empty_user_catalog),
	    cmocka_unit_test(test_load_is_fast),
	};
	return cmocka_run_group_tests(tests, setup_builtin, teardown_builtin);
}
