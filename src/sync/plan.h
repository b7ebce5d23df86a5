/* The pure half of a sync: a batch of parse results and the rows the database
 * holds for them in, the row changes that make the tables say what the files
 * say out (SPEC §3 and §5 "DAG ids", "DAGs with errors"). No SQL: the rules are
 * unit-tested without a database, and apply.c reads the rows and writes the
 * changes. Within sync/ only. */
#ifndef DAGPROC_SYNC_PLAN_H
#define DAGPROC_SYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/sync.h"
#include "util/arena.h"

/* ---- what the database holds ---- */

/* A dag row with its serialized_dag hash. Text as the database returned it. */
typedef struct plan_dag_row {
	const char *dag_id, *bundle, *rel, *fileloc;
	bool stale, has_errors;
	const char *hash; /* serialized_dag.dag_hash; NULL: no serialized row */
	const char *description, *display_name, *timetable, *owners;
	const char *max_active_tasks, *max_active_runs;
} plan_dag_row;

/* What the tables hold of one batch file (same index as the batch). */
typedef struct plan_file_row {
	const char *stacktrace; /* import_error; NULL: none */
	bool has_stat;          /* a parse_stat row */
	const char *result_hash, *source_hash;
} plan_file_row;

typedef struct plan_tag_row {
	const char *dag_id, *name;
} plan_tag_row;

typedef struct plan_warn_row {
	const char *dag_id, *type, *message;
} plan_warn_row;

/* The rows of every file of the batch and of every DAG id those files define
 * now or defined before (apply.c reads them inside the write transaction). */
typedef struct plan_current {
	plan_dag_row *dags;
	size_t ndags, capdags;
	plan_file_row *files; /* one per batch file */
	plan_tag_row *tags;
	size_t ntags, captags;
	plan_warn_row *warns;
	size_t nwarns, capwarns;
	arena mem; /* the strings above */
} plan_current;

void plan_current_free(plan_current *c);

/* ---- the changes ---- */

/* A correct DAG to write (dag row, serialized_dag row). */
typedef struct plan_dag_write {
	size_t file;         /* batch index */
	const dag_result *g; /* in that file's result */
	bool has_errors;     /* the file has import errors */
	bool is_new;         /* no dag row before: is_paused_upon_creation applies */
} plan_dag_write;

/* A dag row whose flags alone change (a DAG with errors, a stale DAG). */
typedef struct plan_flags {
	const char *dag_id;
	bool stale, has_errors;
} plan_flags;

typedef struct plan_ie {
	size_t file;
	const char *text; /* NULL: delete the row */
} plan_ie;

typedef struct plan_tag {
	const char *dag_id, *name;
} plan_tag;

typedef struct plan_warn {
	const char *dag_id, *type;
	const char *message; /* NULL: delete the row */
} plan_warn;

/* Per batch file: what the batch makes of it. */
typedef struct plan_file {
	char *stacktrace; /* import_error as it must be; NULL: none */
	bool *claimed;    /* per res->dags[i]: the file holds that DAG id */
	size_t nclaimed;  /* DAGs it holds */
	size_t tasks;     /* their tasks */
	char digest[17];  /* parse_stat.result_hash: every part of the result */
	char source[17];  /* parse_stat.file_hash */
	bool governed;    /* its rows are the batch's (not foreign, not failed) */
	bool writes;      /* some row changes because of it */
} plan_file;

typedef struct plan_out {
	plan_file *files; /* one per batch file */
	plan_dag_write *dags;
	size_t ndags, capdags;
	plan_dag_write *ser; /* serialized_dag rows whose hash changes */
	size_t nser, capser;
	plan_flags *flags;
	size_t nflags, capflags;
	const char **paused; /* new DAGs with is_paused_upon_creation */
	size_t npaused, cappaused;
	plan_tag *tag_ins, *tag_del;
	size_t ntag_ins, captag_ins, ntag_del, captag_del;
	plan_ie *ies;
	size_t nies, capies;
	plan_warn *warns;
	size_t nwarns, capwarns;
	size_t *stat_put, *stat_del; /* batch indexes */
	size_t nstat_put, capstat_put, nstat_del, capstat_del;
	/* DAG ids that left the file holding them (deleted, removed, renamed,
	 * moved to another file): files refused with E034 for them are due for a
	 * new parse */
	const char **released;
	size_t nreleased, capreleased;
	arena mem;
} plan_out;

/* Computes the changes for files[0..n) (sorted by bundle and path; files
 * marked foreign are left out as if absent; a file with store_failure set is
 * recorded by its import error alone) against cur. Pure: reads only its
 * arguments. */
void plan_make(const sync_file *files, size_t n, const plan_current *cur, plan_out *out);
void plan_out_free(plan_out *out, size_t n);

/* True when the plan changes no row. */
bool plan_out_empty(const plan_out *o);

#endif
