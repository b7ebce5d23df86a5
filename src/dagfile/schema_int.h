/* The schema's insides, shared by its files: the per-DAG context, node helpers
 * and the functions one file calls in another.
 *   schema.c        diagnostics, one DAG from merge to result (schema_process)
 *   schema_merge.c  defaults.yml chain, `default` block, list forms
 *   schema_dag.c    DAG-level keys
 *   schema_args.c   operators, task arguments and values, loaded files
 *   schema_sched.c  schedules and dates
 *   schema_graph.c  task groups, task ids, dependencies, cycles
 *   schema_emit.c   pools, the result and its canonical JSON
 * Not for use outside src/dagfile. */
#ifndef DAGPROC_SCHEMA_INT_H
#define DAGPROC_SCHEMA_INT_H

#include "dagfile/schema.h"

#include <stdbool.h>
#include <string.h>

#include "dagfile/checks.h"
#include "util/xalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Per-file and per-DAG context                                              */

typedef struct sgroup {
	const char *name; /* group_name as written */
	char *id;         /* outer.inner */
	ynode *body;      /* merged mapping */
	ynode *key;       /* position of the entry */
	int parent;       /* index or -1 */
	int depth;
	int state;     /* 0 new, 1 resolving, 2 done (parent chain resolution) */
	bool overlong; /* its prefixed id would pass 250 characters (E033 once, at the
	                * outermost such group): id is its name, so that memory stays
	                * linear in the nesting depth */
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
	/* while the graph is built: names to the first task or group they
	 * resolve to (tasks by name, tasks by id, groups by name or id) */
	struct strmap *by_task_name, *by_task_id, *by_group;
	/* group_name -> index, while the groups and tasks are built (schema.c) */
	struct strmap *group_names;
	bool long_group_ids; /* group ids too long for by_group: scanned on a miss */
	size_t suggested;    /* "did you mean" searches made for this DAG */
	size_t nedges;       /* upstream edges of the DAG's tasks so far */
	bool edges_capped;   /* past SCH_MAX_EDGES: E003 given, no more edges */
} dctx;

/* "Did you mean" compares a name with every candidate: past this many
 * searches in one DAG, unknown names are reported without a suggestion, so
 * that a file of 20,000 unknown references stays linear in its size. */
#define SCH_MAX_SUGGESTIONS 100

/* Dependencies on task groups expand to an edge per (upstream leaf,
 * downstream task): 3,000 tasks on a 3,000-task group are 9 million edges
 * from a few hundred kilobytes of YAML. Past this many edges in one DAG the
 * dependency that passes it is E003 (too large) at its position. */
#define SCH_MAX_EDGES 1000000

/* schema_args.c: the __type__ classes dagproc understands (one table) */
typedef enum sch_type {
	ST_NONE,          /* not a __type__ object */
	ST_UNKNOWN,       /* a class not in the table: kept as data, never checked */
	ST_TIMEDELTA,     /* datetime.timedelta: its keyword fields */
	ST_RELATIVEDELTA, /* dateutil's relativedelta */
	ST_DATE,          /* a constructor of dates (datetime.datetime, pendulum.datetime, ...) */
	ST_LIST,          /* builtins.list with `items`: dag-factory makes it a list */
	ST_CRON_TT,       /* CronTriggerTimetable, CronDataIntervalTimetable */
	ST_MULTI_CRON_TT, /* MultipleCronTriggerTimetable */
	ST_DELTA_TT,      /* DeltaTriggerTimetable, DeltaDataIntervalTimetable */
	ST_TIMETABLE,     /* the other timetables */
	ST_ASSET_OR_TIME, /* AssetOrTimeSchedule, DatasetOrTimeSchedule */
	ST_ASSET,         /* Asset, Dataset: a uri or a name */
	ST_ASSET_ALIAS,   /* AssetAlias, DatasetAlias: a name */
	ST_ASSET_COND,    /* AssetAll, AssetAny and their Dataset names */
} sch_type;
/* The kind of n's __type__ (exact class path), ST_NONE when n is no
 * __type__ object. */
sch_type sch_type_of(const ynode *n);
/* A value that is a string once dag-factory has loaded it: a string, or a
 * {__join__: [...]} mapping (sb gets its text). */
bool sch_string_value(const ynode *n, strbuf *sb);

/* ------------------------------------------------------------------------ */
/* Node helpers                                                              */

static inline bool is_map(const ynode *n)
{
	return n && n->kind == YN_MAP;
}

static inline bool is_seq(const ynode *n)
{
	return n && n->kind == YN_SEQ;
}

static inline bool is_str(const ynode *n)
{
	return n && n->kind == YN_STR;
}

static inline bool key_is(const ypair *p, const char *k)
{
	/* the first byte settles most lookups without a call */
	return p->key && p->key->str && p->key->str[0] == k[0] && strcmp(p->key->str, k) == 0;
}

static inline const char *key_text(const ypair *p)
{
	return (p->key && p->key->str) ? p->key->str : "";
}

static inline ynode *map_new(arena *A, size_t cap, const ynode *pos)
{
	ynode *m = arena_zalloc(A, sizeof(*m));
	m->kind = YN_MAP;
	m->pairs = cap ? arena_zalloc(A, cap * sizeof(ypair)) : NULL;
	m->n = 0;
	if (pos) {
		m->line = pos->line;
		m->col = pos->col;
		m->origin = pos->origin;
	}
	return m;
}

static inline ynode *str_node(arena *A, const char *s, const ynode *pos)
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

static inline ypair *map_find(const ynode *m, const char *key)
{
	if (!is_map(m))
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		if (key_is(&m->pairs[i], key))
			return &m->pairs[i];
	return NULL;
}

static inline ynode *map_get(const ynode *m, const char *key)
{
	ypair *p = map_find(m, key);
	return p ? p->val : NULL;
}

static inline bool in_list(const char *k, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(k, list[i]) == 0)
			return true;
	return false;
}

static inline const char *type_name_of(const ynode *n)
{
	if (is_map(n)) {
		ynode *t = map_get(n, "__type__");
		if (is_str(t))
			return t->str;
	}
	return n ? ynode_kind_name(n->kind) : "nothing";
}

static inline bool is_timedelta_obj(const ynode *v)
{
	return sch_type_of(v) == ST_TIMEDELTA;
}

/* ------------------------------------------------------------------------ */
/* Between the files                                                         */

/* schema.c: an error (E...) or a warning (W..., wtype its warning_type) at n's
 * position, or at the DAG's key for a value from a defaults.yml. */
__attribute__((format(printf, 4, 5))) void sch_err(dctx *d, const char *code, const ynode *n,
                                                   const char *fmt, ...);
__attribute__((format(printf, 5, 6))) void sch_warn(dctx *d, const char *code, const char *wtype,
                                                    const ynode *n, const char *fmt, ...);
/* The one "did you mean" formatter: the same, with near (NULL: none) appended
 * as " (did you mean 'near'?)" and kept in the diagnostic as its suggestion. */
__attribute__((format(printf, 5, 6))) void sch_err_near(dctx *d, const char *code, const ynode *n,
                                                        const char *near, const char *fmt, ...);
__attribute__((format(printf, 6, 7))) void sch_warn_near(dctx *d, const char *code,
                                                         const char *wtype, const ynode *n,
                                                         const char *near, const char *fmt, ...);
/* The same with a certain replacement: " (why; use 'use')", or " (why)" when
 * use is NULL; use is kept as the suggestion. */
__attribute__((format(printf, 6, 7))) void sch_err_use(dctx *d, const char *code, const ynode *n,
                                                       const char *use, const char *why,
                                                       const char *fmt, ...);
__attribute__((format(printf, 7, 8))) void sch_warn_use(dctx *d, const char *code,
                                                        const char *wtype, const ynode *n,
                                                        const char *use, const char *why,
                                                        const char *fmt, ...);

/* The same, and the replacement is a fix (dagproc fix, code actions): one
 * replacement, the same type of value, nothing else to change. */
__attribute__((format(printf, 6, 7))) void sch_err_fix(dctx *d, const char *code, const ynode *n,
                                                       const char *use, const char *why,
                                                       const char *fmt, ...);
__attribute__((format(printf, 7, 8))) void sch_warn_fix(dctx *d, const char *code,
                                                        const char *wtype, const ynode *n,
                                                        const char *use, const char *why,
                                                        const char *fmt, ...);

/* schema.c: E033 for a DAG id, task id or group name Airflow refuses: not a
 * string, a NUL in it, characters outside [A-Za-z0-9_.-] and letters, over 250 */
void sch_check_id(dctx *d, const ynode *key, const char *what);
void sch_check_default_args(dctx *d, ynode *da);

/* schema_merge.c */
ynode *sch_merge(arena *A, ynode *base, ynode *over, bool top_level);
ynode *sch_normalize_layer(dctx *d, ynode *layer);

/* schema_dag.c */
void sch_check_dag_keys(dctx *d);

/* schema_args.c */
bool sch_is_system_key(const char *k);
/* Where a mapping of loadable paths sits: the files dag-factory loads differ. */
typedef enum sch_paths {
	SCH_PATHS_DAG,          /* the DAG: doc_md_*, its own callbacks */
	SCH_PATHS_DEFAULT_ARGS, /* default_args of the DAG or of a task group */
	SCH_PATHS_TASK,         /* a task */
} sch_paths;
void sch_check_paths_in(dctx *d, ynode *m, sch_paths where);
void sch_check_import_path(dctx *d, const ynode *v, const char *what);
void sch_check_callbacks_in(dctx *d, ynode *m);
/* schema_dag.c: a callback value (import path or {callback: ...}) */
void sch_check_callback(dctx *d, ypair *p);
/* schema_dag.c: DAG keys dag-factory does not use (unknown, not passed to
 * DAG(), deprecated): not serialized as if they were set. */
bool sch_dag_key_ignored(const char *k);
void sch_check_typed_objects(dctx *d, ynode *v, int depth);
void sch_check_task(dctx *d, int ti);
void sch_opcache_free(dctx *d);

/* schema_sched.c */
void sch_check_date(dctx *d, ypair *p);
void sch_check_schedule(dctx *d, ypair *p);

/* schema_graph.c */
bool sch_group_prefixes(const sgroup *g);
void sch_build_groups(dctx *d, ynode *gm);
void sch_build_tasks(dctx *d, ynode *tm);
void sch_build_graph(dctx *d);

/* schema_emit.c */
void sch_check_pools(dctx *d);
void sch_emit_dag(dctx *d);

#endif
