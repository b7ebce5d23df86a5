/* `dagproc schema`: a JSON Schema of dag-factory files built from the tables
 * `check` uses. Draft-07: yaml-language-server (VS Code's YAML extension,
 * coc-yaml, Helix and Neovim through it) implements draft-07 and ignores the
 * later drafts' unevaluatedProperties, so a task's allowed keys are spelled
 * out per operator (propertyNames) rather than composed.
 *
 * The schema is never stricter than `check`: where `check` accepts a value
 * (a Jinja string for a templated argument, a number given as a string, a
 * __type__ object) the schema does too. It is less strict where a schema
 * cannot follow `check` (docs/schema.md lists those rules). */
#include "dagfile/jsonschema.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"
#include "util/xalloc.h"

#define BASE_OPERATOR "airflow.sdk.bases.operator.BaseOperator"

/* What a DAG-level key means, shown on hover. */
static const struct {
	const char *key, *text;
} dag_key_docs[] = {
    {"description", "The DAG's description, shown in the Airflow UI."},
    {"schedule",
     "When the DAG runs: a cron expression, a preset such as '@daily', a timedelta "
     "(__type__: datetime.timedelta), a timetable, assets, or null for manual runs only. "
     "Replaces Airflow 2's schedule_interval."},
    {"start_date",
     "The first logical date the scheduler considers: a date, a datetime, or a relative "
     "time such as '3 days'."},
    {"end_date", "No run is scheduled after this date."},
    {"template_searchpath", "Folders (a string or a list) where Jinja looks for templates."},
    {"user_defined_macros", "A mapping of names made available to every Jinja template."},
    {"default_args",
     "Arguments given to every operator of the DAG that accepts them (owner, retries, "
     "retry_delay, ...)."},
    {"max_active_tasks", "How many task instances of this DAG may run at once."},
    {"max_active_runs", "How many runs of this DAG may be active at once."},
    {"dagrun_timeout", "How long a run may last before it fails (a timedelta)."},
    {"catchup", "Whether the scheduler creates runs for the intervals since start_date."},
    {"on_success_callback", "Import path of a function called when a run succeeds."},
    {"on_failure_callback", "Import path of a function called when a run fails."},
    {"doc_md", "Markdown documentation of the DAG, shown in the Airflow UI."},
    {"params", "Run parameters and their defaults (a mapping)."},
    {"access_control", "Role-based permissions on the DAG."},
    {"is_paused_upon_creation", "Whether the DAG starts paused when it first appears."},
    {"render_template_as_native_obj",
     "Whether Jinja renders templates to native Python objects instead of strings."},
    {"tags", "Tags (a list of strings) to filter DAGs by in the Airflow UI."},
    {"dag_display_name", "The name the Airflow UI shows instead of the DAG id."},
    {"dag_id", "The DAG id, when it is not the key the DAG is defined under."},
    {"tasks", "The DAG's tasks: a list of mappings with task_id (dag-factory 1.x), or a mapping "
              "from task id to its arguments."},
    {"task_groups",
     "Task groups: a list of mappings with group_name, or a mapping from group name to "
     "its arguments."},
    {"timezone", "The timezone of start_date and end_date (an IANA name)."},
    {"doc_md_file_path", "A Markdown file whose text becomes doc_md."},
    {"doc_md_python_callable_name", "A function (in doc_md_python_callable_file) whose "
                                    "return value becomes doc_md."},
    {"doc_md_python_callable_file", "The Python file that defines "
                                    "doc_md_python_callable_name."},
    {"doc_md_python_arguments", "Keyword arguments given to doc_md_python_callable_name."},
    {"on_success_callback_name", "Name of the function (in on_success_callback_file) called "
                                 "when a run succeeds."},
    {"on_success_callback_file", "The Python file that defines on_success_callback_name."},
    {"on_failure_callback_name", "Name of the function (in on_failure_callback_file) called "
                                 "when a run fails."},
    {"on_failure_callback_file", "The Python file that defines on_failure_callback_name."},
};

static const struct {
	const char *key, *text;
} task_key_docs[] = {
    {"operator", "Import path of the operator class, such as "
                 "airflow.providers.standard.operators.bash.BashOperator."},
    {"decorator", "Import path of a TaskFlow decorator, such as airflow.sdk.task."},
    {"dependencies", "Ids of the tasks and task groups this task runs after."},
    {"task_group_name", "The task group this task belongs to."},
    {"task_id", "The task's id, unique within its DAG."},
    {"parent_group_name", "The enclosing task group (for groups)."},
    {"variables_as_arguments",
     "Airflow Variables passed as arguments: a list of {variable, attribute}."},
    {"expand", "Arguments to map over (dynamic task mapping)."},
    {"partial", "Arguments shared by every mapped task instance."},
};

static const struct {
	const char *key, *text;
} group_key_docs[] = {
    {"group_name", "The group's name (its id within the DAG)."},
    {"tooltip", "Text shown when hovering over the group in the Airflow UI."},
    {"prefix_group_id", "Whether task ids get the group id as a prefix (default true)."},
    {"parent_group_name", "The enclosing task group."},
    {"dependencies", "Ids of the tasks and task groups this group runs after."},
    {"default_args", "Arguments given to every operator of the group that accepts them."},
    {"ui_color", "Background colour of the group in the Airflow UI."},
    {"ui_fgcolor", "Text colour of the group in the Airflow UI."},
    {"add_suffix_on_collision", "Whether a colliding group id gets a numeric suffix."},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *dag_doc(const char *key)
{
	for (size_t i = 0; i < NELEM(dag_key_docs); i++)
		if (strcmp(dag_key_docs[i].key, key) == 0)
			return dag_key_docs[i].text;
	return "A dag-factory DAG key.";
}

static json_t *described(const char *text)
{
	return json_pack("{s:s}", "description", text);
}

static const char *short_class(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot ? dot + 1 : path;
}

/* ---- argument types ---- */

static void types_text(strbuf *b, unsigned t)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{CAT_T_STR, "str"},
	             {CAT_T_INT, "int"},
	             {CAT_T_FLOAT, "float"},
	             {CAT_T_BOOL, "bool"},
	             {CAT_T_LIST, "list"},
	             {CAT_T_DICT, "dict"},
	             {CAT_T_TIMEDELTA, "timedelta"},
	             {CAT_T_DATETIME, "datetime"},
	             {CAT_T_NONE, "None"}};
	if (t == CAT_T_ANY) {
		sb_adds(b, "any value");
		return;
	}
	bool first = true;
	for (size_t i = 0; i < NELEM(names); i++) {
		if (!(t & names[i].bit))
			continue;
		sb_adds(b, first ? "" : " | ");
		sb_adds(b, names[i].name);
		first = false;
	}
}

/* The values `check` accepts for an argument of these types (value_fits in
 * schema_args.c): null always; a string when the argument takes one, is
 * templated, could read it as a number, boolean or date, or holds Jinja; the
 * numbers and booleans Python would pass; __type__, __join__ and asset
 * condition objects. */
static json_t *type_schema(unsigned t, bool templated)
{
	if (t == CAT_T_ANY)
		return json_object(); /* not checked */
	json_t *any = json_array();
	json_array_append_new(any, json_pack("{s:s}", "type", "null"));
	if ((t & CAT_T_STR) || templated ||
	    (t & (CAT_T_INT | CAT_T_FLOAT | CAT_T_TIMEDELTA | CAT_T_BOOL | CAT_T_DATETIME)))
		json_array_append_new(any, json_pack("{s:s}", "type", "string"));
	else
		/* Jinja, or a $VAR check expands before it reads the type */
		json_array_append_new(
		    any, json_pack("{s:s,s:s}", "type", "string", "pattern", "\\{\\{|\\$"));
	if (t & (CAT_T_INT | CAT_T_FLOAT | CAT_T_BOOL | CAT_T_TIMEDELTA))
		json_array_append_new(any, json_pack("{s:s}", "type", "integer"));
	if (t & (CAT_T_FLOAT | CAT_T_TIMEDELTA))
		json_array_append_new(any, json_pack("{s:s}", "type", "number"));
	if (t & (CAT_T_BOOL | CAT_T_INT))
		json_array_append_new(any, json_pack("{s:s}", "type", "boolean"));
	if (t & CAT_T_LIST)
		json_array_append_new(any, json_pack("{s:s}", "type", "array"));
	if (t & CAT_T_DICT) {
		json_array_append_new(any, json_pack("{s:s}", "type", "object"));
	} else {
		json_t *special = json_array();
		json_array_append_new(special, json_pack("{s:[s]}", "required", "__type__"));
		json_array_append_new(special, json_pack("{s:[s]}", "required", "__and__"));
		json_array_append_new(special, json_pack("{s:[s]}", "required", "__or__"));
		if ((t & CAT_T_STR) || templated)
			json_array_append_new(special,
			                      json_pack("{s:[s]}", "required", "__join__"));
		json_array_append_new(any,
		                      json_pack("{s:s,s:o}", "type", "object", "anyOf", special));
	}
	return json_pack("{s:o}", "anyOf", any);
}

/* ---- the generator ---- */

typedef struct gen {
	const catalog *cat;
	json_t *defs;     /* definitions */
	json_t *types;    /* definitions/types: one per (types, templated) */
	json_t *args;     /* definitions/args/<class path>/<name> */
	json_t *paths;    /* every operator path, for completion */
	json_t *allof;    /* the task's per-operator branches */
	strmap aliases;   /* canonical path -> index in alias_lists */
	strmap class_ids; /* class path -> its id in definitions/args */
	json_t **alias_lists;
	size_t nalias_lists, capalias;
	const cat_operator *base;
} gen;

static char *type_ref(gen *g, unsigned t, bool templated)
{
	char name[32];
	snprintf(name, sizeof(name), "t%u%s", t, templated ? "j" : "");
	if (!json_object_get(g->types, name))
		json_object_set_new(g->types, name, type_schema(t, templated));
	return xasprintf("#/definitions/types/%s", name);
}

/* The class of the chain that declares a (a points into its args). */
static const cat_operator *declaring(const gen *g, const cat_operator *op, const cat_arg *a)
{
	for (int hop = 0; op && hop < 64; hop++) {
		if (op->nargs && a >= op->args && a < op->args + op->nargs)
			return op;
		const cat_operator *up = NULL;
		if (!op->parent || catalog_lookup(g->cat, op->parent, &up, NULL) == CAT_NO_MODULE)
			return NULL;
		op = up;
	}
	return NULL;
}

/* definitions/args/<class>/<name>, made on first use; returns its $ref. */
static char *arg_ref(gen *g, const cat_operator *cls, const cat_arg *a)
{
	/* classes by a short id: the references stay short */
	size_t id;
	if (!strmap_get(&g->class_ids, cls->path, &id)) {
		id = g->class_ids.n;
		strmap_put(&g->class_ids, cls->path, id);
	}
	char cid[24];
	snprintf(cid, sizeof(cid), "c%zu", id);
	json_t *c = json_object_get(g->args, cid);
	if (!c) {
		c = json_pack("{s:s}", "$comment", cls->path);
		json_object_set_new(g->args, cid, c);
	}
	if (!json_object_get(c, a->name)) {
		strbuf d;
		sb_init(&d);
		sb_printf(&d, "%s argument '%s': ", short_class(cls->path), a->name);
		types_text(&d, a->types);
		if (a->required)
			sb_adds(&d, "; required");
		if (a->templated)
			sb_adds(&d, "; templated (Jinja is rendered)");
		sb_addc(&d, '.');
		char *tr = type_ref(g, a->types, a->templated);
		json_object_set_new(
		    c, a->name,
		    json_pack("{s:s,s:[{s:s}]}", "description", d.data, "allOf", "$ref", tr));
		free(tr);
		sb_free(&d);
	}
	return xasprintf("#/definitions/args/%s/%s", cid, a->name);
}

typedef struct flat_acc {
	const cat_arg **v;
	size_t n, cap;
} flat_acc;

static void collect(const cat_arg *a, void *ud)
{
	flat_acc *f = ud;
	VEC_PUSH(f->v, f->n, f->cap, a);
}

static void on_alias(const char *path, const cat_operator *target, bool deprecated, void *ud)
{
	(void)deprecated;
	gen *g = ud;
	size_t i;
	if (!strmap_get(&g->aliases, target->path, &i)) {
		i = g->nalias_lists;
		VEC_PUSH(g->alias_lists, g->nalias_lists, g->capalias, json_array());
		strmap_put(&g->aliases, target->path, i);
	}
	json_array_append_new(g->alias_lists[i], json_string(path));
	json_array_append_new(g->paths, json_string(path));
}

static void on_operator(const cat_operator *op, void *ud)
{
	gen *g = ud;
	json_array_append_new(g->paths, json_string(op->path));
	flat_acc f = {0};
	catalog_each_arg(g->cat, op, collect, &f);
	/* BaseOperator's arguments are shared through one definition when this
	 * class takes all of them unchanged */
	size_t nbase = 0;
	for (size_t i = 0; i < f.n; i++)
		if (declaring(g, op, f.v[i]) == g->base)
			nbase++;
	bool factor = g->base && op != g->base && nbase == g->base->nargs;
	json_t *props = json_object(), *names = json_array();
	for (size_t i = 0; i < f.n; i++) {
		const cat_operator *cls = declaring(g, op, f.v[i]);
		if (!cls || (factor && cls == g->base))
			continue;
		char *ref = arg_ref(g, cls, f.v[i]);
		json_object_set_new(props, f.v[i]->name, json_pack("{s:s}", "$ref", ref));
		free(ref);
		json_array_append_new(names, json_string(f.v[i]->name));
	}
	free(f.v);
	json_t *then = json_object();
	if (factor)
		json_object_set_new(
		    then, "allOf",
		    json_pack("[{s:s}]", "$ref", "#/definitions/base_operator_args"));
	json_object_set_new(then, "properties", props);
	if (!op->var_kwargs) {
		json_t *any = json_pack("[{s:s}]", "$ref", "#/definitions/task_keys");
		if (factor)
			json_array_append_new(
			    any, json_pack("{s:s}", "$ref", "#/definitions/base_operator_names"));
		json_array_append_new(any, json_pack("{s:o}", "enum", names));
		json_object_set_new(then, "propertyNames", json_pack("{s:o}", "anyOf", any));
	} else {
		json_decref(names);
	}
	json_t *paths = json_pack("[s]", op->path);
	size_t i;
	if (strmap_get(&g->aliases, op->path, &i))
		json_array_extend(paths, g->alias_lists[i]);
	json_t *cond = json_pack("{s:{s:{s:o},s:{s:s}},s:[s]}", "properties", "operator", "enum",
	                         paths, "decorator", "type", "null", "required", "operator");
	json_array_append_new(g->allof, json_pack("{s:o,s:o}", "if", cond, "then", then));
}

static void add_consumed(const char *key, void *ud)
{
	json_array_append_new((json_t *)ud, json_string(key));
}

static json_t *docs_object(const char *const *keys, size_t n, const char *const *docs_keys,
                           const char *const *docs_text, size_t ndocs, const char *fallback)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++) {
		const char *text = fallback;
		for (size_t k = 0; k < ndocs; k++)
			if (strcmp(docs_keys[k], keys[i]) == 0)
				text = docs_text[k];
		json_object_set_new(o, keys[i], described(text));
	}
	return o;
}

/* A list (entries with an id key) or a mapping (id -> entry). */
static json_t *list_or_map(const char *ref, const char *text)
{
	return json_pack("{s:s,s:[{s:s,s:{s:s}},{s:s,s:{s:s}},{s:s}]}", "description", text,
	                 "anyOf", "type", "array", "items", "$ref", ref, "type", "object",
	                 "additionalProperties", "$ref", ref, "type", "null");
}

char *dagfile_json_schema(const catalog *c, int pretty)
{
	gen g = {.cat = c,
	         .defs = json_object(),
	         .types = json_object(),
	         .args = json_object(),
	         .paths = json_array(),
	         .allof = json_array()};
	const cat_operator *base = NULL;
	if (catalog_lookup(c, BASE_OPERATOR, &base, NULL) == CAT_FOUND)
		g.base = base;
	catalog_each_alias(c, on_alias, &g);
	catalog_each_operator(c, on_operator, &g);

	/* BaseOperator's arguments: once, for the operators that take them all */
	json_t *base_props = json_object(), *base_names = json_array();
	for (size_t i = 0; g.base && i < g.base->nargs; i++) {
		char *ref = arg_ref(&g, g.base, &g.base->args[i]);
		json_object_set_new(base_props, g.base->args[i].name,
		                    json_pack("{s:s}", "$ref", ref));
		free(ref);
		json_array_append_new(base_names, json_string(g.base->args[i].name));
	}

	/* the keys dag-factory takes out of every task, and those it consumes
	 * for some operators or in pairs */
	size_t ntk;
	const char *const *tk = sch_task_keys(&ntk);
	json_t *task_keys = json_array();
	for (size_t i = 0; i < ntk; i++)
		json_array_append_new(task_keys, json_string(tk[i]));
	sch_each_consumed_key(add_consumed, task_keys);

	const char *tdk[NELEM(task_key_docs)], *tdt[NELEM(task_key_docs)];
	for (size_t i = 0; i < NELEM(task_key_docs); i++)
		tdk[i] = task_key_docs[i].key, tdt[i] = task_key_docs[i].text;
	json_t *task_props = docs_object(tk, ntk, tdk, tdt, NELEM(tdk), "A dag-factory task key.");
	json_object_set_new(task_props, "operator",
	                    json_pack("{s:s,s:[s,s],s:[{s:o},{}]}", "description",
	                              task_key_docs[0].text, "type", "string", "null", "anyOf",
	                              "enum", g.paths));
	json_t *task = json_pack("{s:s,s:o,s:o}", "type", "object", "properties", task_props,
	                         "allOf", g.allof);

	size_t ndk;
	const char *const *dk = sch_dag_keys(&ndk);
	const char *ddk[NELEM(dag_key_docs)], *ddt[NELEM(dag_key_docs)];
	for (size_t i = 0; i < NELEM(dag_key_docs); i++)
		ddk[i] = dag_key_docs[i].key, ddt[i] = dag_key_docs[i].text;
	json_t *dag_props = docs_object(dk, ndk, ddk, ddt, NELEM(ddk), "A dag-factory DAG key.");
	json_object_set_new(dag_props, "tasks",
	                    list_or_map("#/definitions/task", dag_doc("tasks")));
	json_object_set_new(dag_props, "task_groups",
	                    list_or_map("#/definitions/task_group", dag_doc("task_groups")));
	json_object_set_new(dag_props, "default_args",
	                    json_pack("{s:s,s:[{s:s}]}", "description", dag_doc("default_args"),
	                              "allOf", "$ref", "#/definitions/default_args"));

	/* default_args: any key (Airflow gives each operator those it takes);
	 * BaseOperator's described */
	json_t *da_props = json_object();
	for (size_t i = 0; g.base && i < g.base->nargs; i++) {
		strbuf d;
		sb_init(&d);
		sb_printf(&d, "Default for every operator's '%s': ", g.base->args[i].name);
		types_text(&d, g.base->args[i].types);
		sb_addc(&d, '.');
		json_object_set_new(da_props, g.base->args[i].name, described(d.data));
		sb_free(&d);
	}
	json_t *group_props = json_object();
	for (size_t i = 0; i < NELEM(group_key_docs); i++)
		json_object_set_new(group_props, group_key_docs[i].key,
		                    described(group_key_docs[i].text));
	json_object_set_new(group_props, "default_args",
	                    json_pack("{s:s,s:[{s:s}]}", "description", group_key_docs[5].text,
	                              "allOf", "$ref", "#/definitions/default_args"));

	json_object_set_new(g.defs, "dag",
	                    json_pack("{s:s,s:s,s:o}", "description",
	                              "A DAG: its arguments, default_args, tasks and task groups.",
	                              "type", "object", "properties", dag_props));
	json_object_set_new(
	    g.defs, "default_args",
	    json_pack("{s:[s,s],s:o}", "type", "object", "null", "properties", da_props));
	json_object_set_new(g.defs, "task", task);
	json_object_set_new(
	    g.defs, "task_group",
	    json_pack("{s:[s,s],s:o}", "type", "object", "null", "properties", group_props));
	/* a top-level value: a DAG when it is a mapping; anything else is
	 * check's to report (E002), not the schema's */
	json_object_set_new(g.defs, "entry",
	                    json_pack("{s:[{s:s},{s:{s:s}}]}", "anyOf", "$ref", "#/definitions/dag",
	                              "not", "type", "object"));
	json_object_set_new(g.defs, "task_keys", json_pack("{s:o}", "enum", task_keys));
	json_object_set_new(g.defs, "base_operator_args",
	                    json_pack("{s:o}", "properties", base_props));
	json_object_set_new(g.defs, "base_operator_names", json_pack("{s:o}", "enum", base_names));
	json_object_set_new(g.defs, "types", g.types);
	json_object_set_new(g.defs, "args", g.args);

	json_t *root = json_pack(
	    "{s:s,s:s,s:s,s:s,s:{s:{s:s,s:[{s:s}]}},s:{s:s},s:o}", "$schema",
	    "http://json-schema.org/draft-07/schema#", "title", "dag-factory DAG file",
	    "description",
	    "A dag-factory YAML file: DAG ids mapped to their definitions, and an optional "
	    "'default' block shared by every DAG of the file. Generated by `dagproc schema` from "
	    "the operator catalog `dagproc check` uses.",
	    "type", "object", "properties", "default", "description",
	    "Arguments shared by every DAG of the file (dag-factory's default block).", "allOf",
	    "$ref", "#/definitions/entry", "additionalProperties", "$ref", "#/definitions/entry",
	    "definitions", g.defs);
	char *out = json_dumps(root, (pretty ? JSON_INDENT(1) : JSON_COMPACT) | JSON_ENSURE_ASCII);
	json_decref(root);
	for (size_t i = 0; i < g.nalias_lists; i++)
		json_decref(g.alias_lists[i]);
	free(g.alias_lists);
	strmap_free(&g.aliases);
	strmap_free(&g.class_ids);
	if (!out)
		return NULL;
	char *copy = xstrdup(out);
	free(out);
	return copy;
}

const char *dagfile_key_doc(const char *key)
{
	for (size_t i = 0; i < NELEM(dag_key_docs); i++)
		if (strcmp(dag_key_docs[i].key, key) == 0)
			return dag_key_docs[i].text;
	for (size_t i = 0; i < NELEM(task_key_docs); i++)
		if (strcmp(task_key_docs[i].key, key) == 0)
			return task_key_docs[i].text;
	for (size_t i = 0; i < NELEM(group_key_docs); i++)
		if (strcmp(group_key_docs[i].key, key) == 0)
			return group_key_docs[i].text;
	return NULL;
}
