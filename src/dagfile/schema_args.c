/* Task arguments and values: the operator or decorator a task names against the
 * catalog, its arguments (unknown, mistyped, missing), the files dag-factory
 * loads, and the __type__ objects it builds. */
#include "dagfile/schema_int.h"
#include "dagfile/jsonschema.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Task keys dag-factory takes out for every task before the operator sees the
 * rest: its SYSTEM_PARAMS, the injected task_id, and what make_task and
 * adjust_general_task_params consume for any operator. Other keys it consumes
 * only for some classes or in pairs (see consumed()). */
static const char *const task_system_keys[] = {
    "operator", "decorator",         "dependencies",           "task_group_name",
    "task_id",  "parent_group_name", "variables_as_arguments", "expand",
    "partial"};

/* Keys dag-factory 1.0 removed, and what replaces them. */
static const struct {
	const char *key, *use;
} removed_task_keys[] = {
    {"execution_timeout_secs", "execution_timeout"},
    {"sla_secs", "sla"},
    {"execution_delta_secs", "execution_delta"},
    {"retry_delay_secs", "retry_delay"},
    {"retry_delay_sec", "retry_delay"},
};

/* The task key list, sorted once for binary search: it is consulted for
 * every key of every task. */
static const char *sorted_system_keys[NELEM(task_system_keys)];
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void sort_key_lists(void)
{
	memcpy(sorted_system_keys, task_system_keys, sizeof(task_system_keys));
	qsort(sorted_system_keys, NELEM(task_system_keys), sizeof(char *), cmp_cstr);
}

bool sch_is_system_key(const char *k)
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
/* The __type__ classes dagproc understands                                  */

/* By exact class path, as dag-factory's cast_with_type imports them. Anything
 * else is kept as data: it may be a class of the user's environment. */
static const struct {
	const char *path;
	sch_type kind;
} known_types[] = {
    {"datetime.timedelta", ST_TIMEDELTA},
    {"dateutil.relativedelta.relativedelta", ST_RELATIVEDELTA},
    {"datetime.datetime", ST_DATE},
    {"datetime.date", ST_DATE},
    {"pendulum.datetime", ST_DATE},
    {"pendulum.DateTime", ST_DATE},
    {"pendulum.date", ST_DATE},
    {"pendulum.Date", ST_DATE},
    {"pendulum.parse", ST_DATE},
    {"pendulum.from_format", ST_DATE},
    {"pendulum.from_timestamp", ST_DATE},
    {"pendulum.instance", ST_DATE},
    {"airflow.utils.timezone.datetime", ST_DATE},
    {"airflow.utils.timezone.parse", ST_DATE},
    {"airflow.sdk.timezone.datetime", ST_DATE},
    {"airflow.sdk.timezone.parse", ST_DATE},
    {"builtins.list", ST_LIST},
    {"airflow.timetables.trigger.CronTriggerTimetable", ST_CRON_TT},
    {"airflow.timetables.interval.CronDataIntervalTimetable", ST_CRON_TT},
    {"airflow.timetables.trigger.MultipleCronTriggerTimetable", ST_MULTI_CRON_TT},
    {"airflow.timetables.trigger.DeltaTriggerTimetable", ST_DELTA_TT},
    {"airflow.timetables.interval.DeltaDataIntervalTimetable", ST_DELTA_TT},
    {"airflow.timetables.events.EventsTimetable", ST_TIMETABLE},
    {"airflow.timetables.simple.NullTimetable", ST_TIMETABLE},
    {"airflow.timetables.simple.OnceTimetable", ST_TIMETABLE},
    {"airflow.timetables.simple.ContinuousTimetable", ST_TIMETABLE},
    {"airflow.timetables.simple.AssetTriggeredTimetable", ST_TIMETABLE},
    {"airflow.timetables.assets.AssetOrTimeSchedule", ST_ASSET_OR_TIME},
    {"airflow.timetables.datasets.DatasetOrTimeSchedule", ST_ASSET_OR_TIME},
    {"airflow.sdk.Asset", ST_ASSET},
    {"airflow.sdk.definitions.asset.Asset", ST_ASSET},
    {"airflow.datasets.Dataset", ST_ASSET},
    {"airflow.sdk.AssetAlias", ST_ASSET_ALIAS},
    {"airflow.sdk.definitions.asset.AssetAlias", ST_ASSET_ALIAS},
    {"airflow.datasets.DatasetAlias", ST_ASSET_ALIAS},
    {"airflow.sdk.AssetAll", ST_ASSET_COND},
    {"airflow.sdk.AssetAny", ST_ASSET_COND},
    {"airflow.sdk.definitions.asset.AssetAll", ST_ASSET_COND},
    {"airflow.sdk.definitions.asset.AssetAny", ST_ASSET_COND},
    {"airflow.datasets.DatasetAll", ST_ASSET_COND},
    {"airflow.datasets.DatasetAny", ST_ASSET_COND},
};

sch_type sch_type_of(const ynode *n)
{
	if (!is_map(n))
		return ST_NONE;
	ynode *t = map_get(n, "__type__");
	if (!t)
		return ST_NONE;
	if (!is_str(t))
		return ST_UNKNOWN;
	for (size_t i = 0; i < NELEM(known_types); i++)
		if (strcmp(t->str, known_types[i].path) == 0)
			return known_types[i].kind == ST_LIST && !map_get(n, "items")
			           ? ST_UNKNOWN
			           : known_types[i].kind;
	return ST_UNKNOWN;
}

bool sch_string_value(const ynode *n, strbuf *sb)
{
	if (is_str(n)) {
		sb_add(sb, n->str, n->len);
		return true;
	}
	ynode *j = is_map(n) ? map_get(n, "__join__") : NULL;
	if (!j)
		return false;
	serialize_join_text(sb, j);
	return true;
}

/* Files dag-factory loads: absolute and existing, else E040. */
static void check_load_path(dctx *d, ypair *p)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return;
	if (!ynode_is_scalar(v)) {
		sch_err(d, "E040", v, "'%s' must be a path, not a %s", key_text(p),
		        ynode_kind_name(v->kind));
		return;
	}
	const char *path = v->str;
	struct stat st;
	if (path[0] != '/')
		sch_err(d, "E040", v, "'%s' must be an absolute path: '%s'", key_text(p), path);
	else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		sch_err(d, "E040", v, "'%s': file not found: '%s'", key_text(p), path);
}

static const char *const callbacks_all[] = {"on_execute_callback", "on_success_callback",
                                            "on_failure_callback", "on_retry_callback",
                                            "on_skipped_callback"};

/* The callbacks dag-factory loads from <callback>_name + <callback>_file in a
 * mapping of this kind. */
static bool loads_callback(sch_paths where, const char *cb)
{
	if (where == SCH_PATHS_DAG)
		return strcmp(cb, "on_success_callback") == 0 ||
		       strcmp(cb, "on_failure_callback") == 0 ||
		       strcmp(cb, "on_execute_callback") == 0;
	return in_list(cb, callbacks_all, NELEM(callbacks_all));
}

/* A <name>_name / <name>_file pair: dag-factory loads the file only when both
 * are there (check_dict_key on each). Else a DAG or default_args ignores the
 * lone half (a warning at DAG level; default_args drop unknown keys), and a
 * task passes it to the operator (checked with the operator's arguments). */
static void check_pair(dctx *d, ynode *m, ypair *p, const char *base, sch_paths where)
{
	char other[160];
	bool is_file =
	    strlen(key_text(p)) > 5 && strcmp(key_text(p) + strlen(key_text(p)) - 5, "_file") == 0;
	snprintf(other, sizeof(other), "%s%s", base, is_file ? "_name" : "_file");
	ynode *o = map_get(m, other);
	bool both = p->val && p->val->kind != YN_NULL && o && o->kind != YN_NULL;
	if (both) {
		if (is_file)
			check_load_path(d, p);
		return;
	}
	if (where == SCH_PATHS_DAG && p->val && p->val->kind != YN_NULL)
		sch_warn(d, "W003", "unknown key", p->key,
		         "'%s' is ignored without '%s' (dag-factory loads the callable from both)",
		         key_text(p), other);
}

void sch_check_paths_in(dctx *d, ynode *m, sch_paths where)
{
	if (!is_map(m))
		return;
	for (size_t i = 0; i < m->n; i++) {
		ypair *p = &m->pairs[i];
		const char *k = key_text(p);
		size_t kl = strlen(k);
		char base[160];
		if (kl > 5 && kl < sizeof(base) &&
		    (strcmp(k + kl - 5, "_file") == 0 || strcmp(k + kl - 5, "_name") == 0)) {
			snprintf(base, sizeof(base), "%.*s", (int)(kl - 5), k);
			if (is_callback_key(k, "_file") || is_callback_key(k, "_name")) {
				if (loads_callback(where, base))
					check_pair(d, m, p, base, where);
			} else if (where == SCH_PATHS_DAG &&
			           strcmp(base, "doc_md_python_callable") == 0) {
				check_pair(d, m, p, base, where);
			} else if (where == SCH_PATHS_TASK &&
			           (strcmp(base, "execution_date_fn") == 0)) {
				check_pair(d, m, p, base, where);
			}
		} else if (where == SCH_PATHS_DAG && strcmp(k, "doc_md_file_path") == 0) {
			check_load_path(d, p);
		}
	}
}

/* dag-factory imports these strings with Airflow's import_string, which
 * refuses a name without a dot. A dotted one may name anything installed. */
void sch_check_import_path(dctx *d, const ynode *v, const char *what)
{
	if (!is_str(v) || strchr(v->str, '.'))
		return;
	sch_err(d, "E011", v, "ImportError: %s doesn't look like a module path ('%s' is imported)",
	        v->str, what);
}

/* Known __type__ objects are checked (the table above): timedelta's keyword
 * fields, an asset's uri or name, an alias's name. */
void sch_check_typed_objects(dctx *d, ynode *v, int depth)
{
	if (!v || depth > 64)
		return;
	if (is_seq(v)) {
		for (size_t i = 0; i < v->n; i++)
			sch_check_typed_objects(d, v->items[i], depth + 1);
		return;
	}
	if (!is_map(v))
		return;
	sch_type kind = sch_type_of(v);
	const char *tname = type_name_of(v);
	ynode *args = map_get(v, "__args__");
	if (kind == ST_TIMEDELTA) {
		static const char *const fields[] = {"days",         "seconds",  "microseconds",
		                                     "milliseconds", "minutes",  "hours",
		                                     "weeks",        "__type__", "__args__"};
		for (size_t i = 0; i < v->n; i++) {
			ypair *p = &v->pairs[i];
			if (!in_list(key_text(p), fields, NELEM(fields))) {
				const char *s = suggest_name(key_text(p), fields, 7);
				sch_err_near(d, "E015", p->key, s,
				             "datetime.timedelta has no field '%s'", key_text(p));
			} else if (strcmp(key_text(p), "__type__") != 0 &&
			           strcmp(key_text(p), "__args__") != 0 && p->val &&
			           p->val->kind != YN_INT && p->val->kind != YN_FLOAT) {
				sch_err(d, "E015", p->val,
				        "datetime.timedelta field '%s' must be a number, not a %s",
				        key_text(p), ynode_kind_name(p->val->kind));
			}
		}
	} else if (kind == ST_ASSET) {
		if (!map_get(v, "uri") && !map_get(v, "name") && !(is_seq(args) && args->n))
			sch_err(d, "E015", v, "%s needs a 'uri' or a 'name'", tname);
	} else if (kind == ST_ASSET_ALIAS) {
		if (!map_get(v, "name") && !(is_seq(args) && args->n))
			sch_err(d, "E015", v, "%s needs a 'name'", tname);
	}
	for (size_t i = 0; i < v->n; i++)
		sch_check_typed_objects(d, v->pairs[i].val, depth + 1);
}

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

void sch_opcache_free(dctx *d)
{
	for (size_t i = 0; i < d->nopcache; i++) {
		free(d->opcache[i].an.names);
		free(d->opcache[i].an.required);
	}
	free(d->opcache);
	d->opcache = NULL;
	d->nopcache = 0;
}

/* The classes dag-factory treats specially (issubclass checks). */
enum {
	OPC_PYTHON = 1,      /* PythonOperator, BranchPythonOperator, PythonSensor */
	OPC_HTTP_SENSOR = 2, /* HttpSensor */
	OPC_SQL_SENSOR = 4,  /* common.sql SqlSensor */
};

static unsigned op_class(const catalog *c, const cat_operator *op)
{
	static const struct {
		const char *path;
		unsigned bit;
	} special[] = {
	    {"airflow.providers.standard.operators.python.PythonOperator", OPC_PYTHON},
	    {"airflow.providers.standard.operators.python.BranchPythonOperator", OPC_PYTHON},
	    {"airflow.providers.standard.sensors.python.PythonSensor", OPC_PYTHON},
	    {"airflow.providers.http.sensors.http.HttpSensor", OPC_HTTP_SENSOR},
	    {"airflow.providers.common.sql.sensors.sql.SqlSensor", OPC_SQL_SENSOR},
	};
	unsigned out = 0;
	for (int hop = 0; op && hop < 32; hop++) {
		for (size_t i = 0; i < NELEM(special); i++)
			if (strcmp(op->path, special[i].path) == 0)
				out |= special[i].bit;
		if (!op->parent)
			break;
		const cat_operator *up = NULL;
		catalog_lookup(c, op->parent, &up, NULL);
		op = up;
	}
	return out;
}

/* Keys dag-factory consumes for this class of operator, or as a pair. */
static bool consumed(const ynode *b, const char *k, unsigned cls)
{
	if ((cls & OPC_PYTHON) &&
	    (strcmp(k, "python_callable_name") == 0 || strcmp(k, "python_callable_file") == 0))
		return true;
	if ((cls & OPC_HTTP_SENSOR) && strncmp(k, "response_check_", 15) == 0 &&
	    (!strcmp(k + 15, "name") || !strcmp(k + 15, "file") || !strcmp(k + 15, "lambda")))
		return true;
	if ((cls & OPC_SQL_SENSOR) &&
	    (strncmp(k, "success_check_", 14) == 0 || strncmp(k, "failure_check_", 14) == 0) &&
	    (!strcmp(k + 14, "name") || !strcmp(k + 14, "file") || !strcmp(k + 14, "lambda")))
		return true;
	size_t kl = strlen(k);
	if (kl > 5 && (strcmp(k + kl - 5, "_name") == 0 || strcmp(k + kl - 5, "_file") == 0)) {
		char base[160], other[168];
		if (kl >= sizeof(base))
			return false;
		snprintf(base, sizeof(base), "%.*s", (int)(kl - 5), k);
		if (!in_list(base, callbacks_all, NELEM(callbacks_all)) &&
		    strcmp(base, "execution_date_fn") != 0)
			return false;
		snprintf(other, sizeof(other), "%s%s", base, k[kl - 4] == 'f' ? "_name" : "_file");
		ynode *a = map_get(b, k), *o = map_get(b, other);
		return a && a->kind != YN_NULL && o && o->kind != YN_NULL;
	}
	return false;
}

static void arg_type_error(dctx *d, const cat_operator *op, const char *k, const ynode *v,
                           const cat_arg *a, const char *where)
{
	char tb[96];
	if (ynode_is_scalar(v))
		sch_err(d, "E015", v, "argument '%s' of %s%s must be %s, not '%s'", k,
		        class_name(op->path), where, types_text(a->types, tb, sizeof(tb)), v->str);
	else
		sch_err(d, "E015", v, "argument '%s' of %s%s must be %s, not a %s", k,
		        class_name(op->path), where, types_text(a->types, tb, sizeof(tb)),
		        type_name_of(v));
}

/* A value Airflow's expand() maps over: a list, a mapping, or an XComArg,
 * which dag-factory makes only of "task.output" and "XcomArg(task)". */
static bool mappable(const ynode *v)
{
	if (!v || v->kind == YN_SEQ)
		return true;
	if (v->kind == YN_MAP) {
		sch_type k = sch_type_of(v);
		return k == ST_NONE || k == ST_LIST || k == ST_UNKNOWN;
	}
	if (v->kind != YN_STR)
		return false;
	size_t len = v->len;
	return (len > 7 && strcmp(v->str + len - 7, ".output") == 0) ||
	       (strncmp(v->str, "XcomArg(", 8) == 0 && len > 9 && v->str[len - 1] == ')');
}

static const char *py_type(const ynode *v)
{
	switch (v ? v->kind : YN_NULL) {
	case YN_STR:
		return "str";
	case YN_INT:
		return "int";
	case YN_FLOAT:
		return "float";
	case YN_BOOL:
		return "bool";
	case YN_NULL:
		return "NoneType";
	case YN_DATE:
		return "date";
	case YN_DATETIME:
		return "datetime";
	default:
		return type_name_of(v);
	}
}

/* expand / partial of an operator task: dag-factory calls
 * operator_class.partial(**task_params + partial).expand(**expand), and Airflow
 * checks both against the class's arguments. */
static void check_mapping(dctx *d, stask *t, const cat_operator *op, const arg_names *an)
{
	const catalog *c = d->opts->cat;
	ynode *b = t->body;
	ypair *ep = map_find(b, "expand"), *pp = map_find(b, "partial");
	ynode *e = ep ? ep->val : NULL, *pa = pp ? pp->val : NULL;
	bool has_e = e && e->kind != YN_NULL, has_p = pa && pa->kind != YN_NULL;
	if (!has_e && !has_p)
		return;
	if (!has_e) {
		sch_err(d, "E002", pp->key,
		        "'partial' without 'expand': dag-factory reads task['expand'] first "
		        "(KeyError)");
		return;
	}
	if (!is_map(e)) {
		sch_err(d, "E002", e, "'expand' must be a mapping of argument names, not a %s",
		        type_name_of(e));
		return;
	}
	if (has_p && !is_map(pa)) {
		sch_err(d, "E002", pa, "'partial' must be a mapping of argument names, not a %s",
		        type_name_of(pa));
		return;
	}
	for (size_t i = 0; has_p && i < pa->n; i++) {
		ypair *p = &pa->pairs[i];
		const char *k = key_text(p);
		const cat_arg *a = catalog_find_arg(c, op, k);
		if (!a) {
			if (!op->var_kwargs)
				sch_err_near(d, "E013", p->key, suggest_name(k, an->names, an->n),
				             "%s.partial() got an unexpected keyword argument '%s' "
				             "(task_id: %s)",
				             class_name(op->path), k, t->id);
		} else if (!value_fits(a, p->val)) {
			arg_type_error(d, op, k, p->val, a, ".partial()");
		}
	}
	/* dag-factory's is_partial_duplicated looks at the last partial key only */
	if (has_p && pa->n) {
		ypair *last = &pa->pairs[pa->n - 1];
		ynode *dup = map_get(b, key_text(last));
		if (dup && dup->kind != YN_NULL)
			sch_err(d, "E013", dup,
			        "'%s' is both a task argument and in 'partial' (dag-factory: "
			        "Duplicated partial kwarg! It's already in task_params.)",
			        key_text(last));
	}
	for (size_t i = 0; i < e->n; i++) {
		ypair *p = &e->pairs[i];
		const char *k = key_text(p);
		const cat_arg *a = catalog_find_arg(c, op, k);
		if (!a) {
			sch_err_near(
			    d, "E013", p->key, suggest_name(k, an->names, an->n),
			    "%s.expand() got an unexpected keyword argument '%s' (task_id: %s)",
			    class_name(op->path), k, t->id);
			continue;
		}
		if (!mappable(p->val))
			sch_err(d, "E015", p->val,
			        "%s.expand() got an unexpected type '%s' for keyword argument %s "
			        "(task_id: %s; dag-factory resolves only 'task.output' and "
			        "'XcomArg(task)' in operator tasks)",
			        class_name(op->path), py_type(p->val), k, t->id);
	}
}

/* variables_as_arguments: [{variable, attribute}]; each attribute becomes an
 * argument when the Airflow Variable exists at parse time. */
static bool check_variables(dctx *d, stask *t)
{
	ynode *v = map_get(t->body, "variables_as_arguments");
	if (!v || v->kind == YN_NULL)
		return true;
	if (!is_seq(v)) {
		sch_err(d, "E002", v,
		        "'variables_as_arguments' must be a list of {variable, "
		        "attribute}, not a %s",
		        type_name_of(v));
		return false;
	}
	bool ok = true;
	for (size_t i = 0; i < v->n; i++) {
		ynode *it = v->items[i];
		if (!is_map(it) || !map_get(it, "variable") || !map_get(it, "attribute")) {
			sch_err(d, "E002", it,
			        "each entry of 'variables_as_arguments' needs 'variable' and "
			        "'attribute'");
			ok = false;
		}
	}
	return ok;
}

static bool by_variable(const stask *t, const char *name)
{
	ynode *v = map_get(t->body, "variables_as_arguments");
	for (size_t i = 0; is_seq(v) && i < v->n; i++) {
		ynode *a = map_get(v->items[i], "attribute");
		if (is_str(a) && strcmp(a->str, name) == 0)
			return true;
	}
	return false;
}

/* execution_date_fn is imported; execution_delta goes through get_time_delta
 * (a relative-time string; a number or a timedelta object fails there). */
static void check_general(dctx *d, stask *t)
{
	ynode *b = t->body;
	ynode *fn = map_get(b, "execution_date_fn");
	if (fn && fn->kind != YN_NULL) {
		sch_check_import_path(d, fn, "execution_date_fn");
		return;
	}
	ynode *delta = map_get(b, "execution_delta");
	if (!delta || delta->kind == YN_NULL)
		return;
	if (is_str(delta) && date_relative_valid(delta->str))
		return;
	if (is_str(delta))
		sch_err(d, "E015", delta,
		        "'execution_delta' '%s' is not a relative time dag-factory reads (digits "
		        "then hours, minutes, seconds or days, such as '1 days')",
		        delta->str);
	else
		sch_err(d, "E015", delta,
		        "'execution_delta' must be a relative time string such as '1 days' "
		        "(dag-factory passes it to get_time_delta), not a %s",
		        type_name_of(delta));
}

/* The callbacks of a task, and those of default_args (DAG or group). */
void sch_check_callbacks_in(dctx *d, ynode *m)
{
	for (size_t i = 0; is_map(m) && i < m->n; i++)
		if (in_list(key_text(&m->pairs[i]), callbacks_all, NELEM(callbacks_all)))
			sch_check_callback(d, &m->pairs[i]);
}

/* python_callable of the PythonOperator family and of decorator tasks:
 * python_callable (imported) or python_callable_name + _file (loaded). */
static void check_python_callable(dctx *d, stask *t, bool decorator)
{
	ynode *b = t->body;
	ypair *name = map_find(b, "python_callable_name"),
	      *file = map_find(b, "python_callable_file");
	ynode *pc = map_get(b, "python_callable");
	bool has_pc = pc && pc->kind != YN_NULL && !(is_str(pc) && !pc->len);
	bool has_name = name && name->val && name->val->kind != YN_NULL;
	bool has_file = file && file->val && file->val->kind != YN_NULL;
	if (has_name && has_file) {
		check_load_path(d, file);
		return;
	}
	if (has_pc) {
		if (is_str(pc))
			sch_check_import_path(d, pc, "python_callable");
		return;
	}
	if (has_name)
		sch_err(d, "E040", name->key,
		        "'python_callable_name' is given without "
		        "'python_callable_file'");
	else if (has_file)
		sch_err(d, "E040", file->key,
		        "'python_callable_file' is given without "
		        "'python_callable_name'");
	else if (decorator)
		sch_err(d, "E014", t->pos,
		        "decorator task '%s' needs python_callable or python_callable_name with "
		        "python_callable_file",
		        t->id);
}

static void check_operator_args(dctx *d, stask *t, const cat_operator *op)
{
	const catalog *c = d->opts->cat;
	const arg_names an = *op_args(d, op);
	unsigned cls = op_class(c, op);
	ynode *b = t->body;
	if (cls & OPC_PYTHON)
		check_python_callable(d, t, false);
	for (size_t i = 0; i < b->n; i++) {
		ypair *p = &b->pairs[i];
		const char *k = key_text(p);
		if (sch_is_system_key(k) || consumed(b, k, cls))
			continue;
		const cat_arg *a = catalog_find_arg(c, op, k);
		if (!a) {
			if (op->var_kwargs)
				continue;
			const char *use = NULL;
			for (size_t r = 0; r < NELEM(removed_task_keys); r++)
				if (strcmp(k, removed_task_keys[r].key) == 0)
					use = removed_task_keys[r].use;
			if (use)
				sch_err_use(
				    d, "E013", p->key, use, "removed in dag-factory 1.0",
				    "Invalid arguments were passed to %s (task_id: %s): '%s'",
				    class_name(op->path), t->id, k);
			else
				sch_err_near(
				    d, "E013", p->key, suggest_name(k, an.names, an.n),
				    "Invalid arguments were passed to %s (task_id: %s): '%s'",
				    class_name(op->path), t->id, k);
			continue;
		}
		if (!value_fits(a, p->val))
			arg_type_error(d, op, k, p->val, a, "");
	}
	check_mapping(d, t, op, &an);
	bool vars_ok = check_variables(d, t);
	for (size_t i = 0; i < an.nreq; i++) {
		const char *name = an.required[i]->name;
		if (strcmp(name, "task_id") == 0 || provided(d, t, name) ||
		    (vars_ok && by_variable(t, name)))
			continue;
		/* dag-factory builds these from *_name/_file/_lambda */
		if (strcmp(name, "python_callable") == 0 &&
		    (map_get(b, "python_callable_name") || map_get(b, "python_callable_file")))
			continue;
		if (strcmp(name, "response_check") == 0 &&
		    (map_get(b, "response_check_name") || map_get(b, "response_check_lambda")))
			continue;
		sch_err(d, "E014", t->pos,
		        "%s.__init__() missing required argument '%s' (task_id: %s)",
		        class_name(op->path), name, t->id);
	}
}

void sch_check_task(dctx *d, int ti)
{
	stask *t = &d->tasks[ti];
	ynode *b = t->body;
	ynode *opn = map_get(b, "operator");
	ynode *dec = map_get(b, "decorator");
	if ((!opn || opn->kind == YN_NULL) && (!dec || dec->kind == YN_NULL)) {
		sch_err(d, "E010", t->pos, "task '%s' has neither 'operator' nor 'decorator'",
		        t->id);
		return;
	}
	if (dec && dec->kind != YN_NULL) {
		if (!is_str(dec)) {
			sch_err(d, "E002", dec, "'decorator' must be an import path");
			return;
		}
		t->decorator = true;
		t->operator= dec->str;
		sch_check_import_path(d, dec, "decorator");
		check_python_callable(d, t, true);
		check_general(d, t);
		sch_check_callbacks_in(d, b);
		return;
	}
	if (!is_str(opn)) {
		sch_err(d, "E002", opn, "'operator' must be an import path, not a %s",
		        ynode_kind_name(opn->kind));
		return;
	}
	t->operator= opn->str;
	check_general(d, t);
	sch_check_callbacks_in(d, b);
	const cat_operator *op = NULL;
	const char *target = NULL;
	const catalog *cat = d->opts->cat;
	cat_lookup r = catalog_lookup(cat, opn->str, &op, &target);
	const char *dot = strrchr(opn->str, '.');
	int modlen = dot ? (int)(dot - opn->str) : (int)strlen(opn->str);
	switch (r) {
	case CAT_UNCHECKED:
		return;
	case CAT_NOT_COVERED:
		sch_warn(d, "W004", "not checked", opn,
		         "module '%.*s' is not in the operator catalog; arguments of %s not "
		         "checked",
		         modlen, opn->str, t->id);
		return;
	case CAT_REMOVED: {
		char use[512];
		const char *why = catalog_removal(cat, opn->str, use, sizeof(use));
		/* a fix when the replacement is an operator the catalog has */
		const cat_operator *rop = NULL;
		cat_lookup rr = use[0] ? catalog_lookup(cat, use, &rop, NULL) : CAT_NO_MODULE;
		/* and the class is the same, in another module: a renamed class
		 * (an Async sensor merged into its plain one, a renamed hook
		 * operator) may take other arguments */
		const char *udot = strrchr(use, '.');
		bool certain = (rr == CAT_FOUND || rr == CAT_DEPRECATED) && dot && udot &&
		               strcmp(dot, udot) == 0;
		void (*report)(dctx *, const char *, const ynode *, const char *, const char *,
		               const char *, ...) = certain ? sch_err_fix : sch_err_use;
		if (catalog_module_exists(cat, opn->str, (size_t)modlen))
			report(d, "E012", opn, use[0] ? use : NULL, why,
			       "ImportError: cannot import name '%s' from '%.*s'", dot + 1, modlen,
			       opn->str);
		else
			report(d, "E011", opn, use[0] ? use : NULL, why,
			       "ModuleNotFoundError: No module named '%.*s'", modlen, opn->str);
		return;
	}
	case CAT_NO_MODULE: {
		const char *s = catalog_suggest(cat, opn->str);
		if (!dot)
			sch_err_near(d, "E011", opn, s,
			             "ImportError: %s doesn't look like a module path", opn->str);
		else
			sch_err_near(d, "E011", opn, s,
			             "ModuleNotFoundError: No module named '%.*s'", modlen,
			             opn->str);
		return;
	}
	case CAT_NO_CLASS: {
		const char *s = catalog_suggest(cat, opn->str);
		sch_err_near(d, "E012", opn, s, "ImportError: cannot import name '%s' from '%.*s'",
		             dot ? dot + 1 : opn->str, modlen, opn->str);
		return;
	}
	case CAT_DEPRECATED:
		sch_warn_fix(d, "W002", "deprecated", opn, target, "deprecated in Airflow 3",
		             "operator path '%s' is an Airflow 2 name", opn->str);
		break;
	case CAT_FOUND:
		break;
	}
	if (op)
		check_operator_args(d, t, op);
}

const char *const *sch_task_keys(size_t *n)
{
	*n = NELEM(task_system_keys);
	return task_system_keys;
}

void sch_each_consumed_key(void (*fn)(const char *key, void *ud), void *ud)
{
	static const char *const fixed[] = {
	    "python_callable_name", "python_callable_file",  "response_check_name",
	    "response_check_file",  "response_check_lambda", "success_check_name",
	    "success_check_file",   "success_check_lambda",  "failure_check_name",
	    "failure_check_file",   "failure_check_lambda"};
	for (size_t i = 0; i < NELEM(fixed); i++)
		fn(fixed[i], ud);
	char k[64];
	for (size_t i = 0; i <= NELEM(callbacks_all); i++) {
		const char *base =
		    i < NELEM(callbacks_all) ? callbacks_all[i] : "execution_date_fn";
		snprintf(k, sizeof(k), "%s_name", base);
		fn(k, ud);
		snprintf(k, sizeof(k), "%s_file", base);
		fn(k, ud);
	}
}
