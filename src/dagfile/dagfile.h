/* The DAG file front end: one dag-factory YAML file in, one parse result out
 * (correct DAGs as canonical JSON with their hashes, diagnostics, warnings).
 * Knows nothing of databases. */
#ifndef DAGPROC_DAGFILE_H
#define DAGPROC_DAGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dagfile/catalog.h"

typedef struct diag {
	char code[5];       /* "E020", "W001" */
	uint32_t line, col; /* 1-based; 0 when the diagnostic has no position */
	char *dag_id;       /* NULL when it belongs to no DAG */
	char *message;
	const char *warning_type; /* warnings: "non-existent pool", "deprecated", "unknown key" */
	/* "did you mean": the text proposed in place of the node at line:col (a
	 * key, a name, an import path), NULL when there is none. Kept as data so
	 * that a fix can be built from it; not carried by the worker protocol. */
	char *suggestion;
	/* when the suggestion is a fix: the node's text as parsed, which the
	 * file must hold at line:col for the fix to apply (NULL otherwise) */
	char *fix_from;
} diag;

typedef struct dag_task {
	char *task_id;  /* group.task inside groups */
	char *operator; /* import path, or the decorator path */
	bool decorator;
	char **upstream; /* sorted, unique */
	size_t nupstream;
} dag_task;

typedef struct dag_result {
	char *dag_id;
	char *schedule; /* cron or preset string, "none"; NULL if unset or not a string */
	char *json;     /* canonical JSON of the DAG (sorted keys, tasks by id) */
	size_t json_len;
	uint8_t hash[16]; /* XXH3-128 of json */
	/* sorted by task_id; NULL in a result received from a worker, which
	 * carries ntasks only (the tasks are in json) */
	dag_task *tasks;
	size_t ntasks;
	char **tags;
	size_t ntags;
	char *description;
	char *owners;                              /* comma-separated as Airflow's dag.owner */
	int64_t max_active_tasks, max_active_runs; /* -1 when unset */
	bool is_paused_upon_creation, has_paused_upon_creation;
	uint32_t line, col; /* position of the DAG's key in the file */
} dag_result;

typedef struct dagfile_result {
	char *path;       /* as given */
	dag_result *dags; /* correct DAGs only, in file order */
	size_t ndags;
	diag *errors; /* sorted by line, column */
	size_t nerrors;
	diag *warnings; /* warnings of correct DAGs and of DAGs with errors */
	size_t nwarnings;
	char **error_dag_ids; /* DAG ids defined by the file that have an error */
	size_t nerror_dag_ids;
	double parse_seconds;
	/* XXH3-64 of every input of the parse: options_hash, the file's text and
	 * its defaults.yml chain, each as the parser sees it ($VAR expanded). */
	uint64_t source_hash;
	bool unchanged; /* source_hash == opts->expect_source_hash: not parsed */
} dagfile_result;

typedef struct dagfile_opts {
	const catalog *cat;
	const char *bundle_root;  /* defaults.yml chain and .dagignore stop here */
	const char *const *pools; /* pools that exist (W001 for others) */
	size_t npools;
	size_t max_file_size; /* bytes; larger files are E003 */
	/* Fingerprint of everything above that changes results (catalogs, pools,
	 * unchecked modules, limits, dagproc's version); part of source_hash. */
	uint64_t options_hash;
	/* When not 0 and equal to the source_hash the parse would have, nothing
	 * is parsed: the result only says unchanged (a restart over unchanged
	 * files does no parsing and no writing). */
	uint64_t expect_source_hash;
} dagfile_opts;

/* Reads, parses and validates path. Never fails: every problem is a diagnostic
 * in the result. Free with dagfile_result_free(). */
void dagfile_parse(const char *path, const dagfile_opts *opts, dagfile_result *out);
/* Same, from text already in memory (tests, fuzzing). path is used for the
 * defaults.yml chain (its folder) and in messages. */
void dagfile_parse_text(const char *path, const char *text, size_t len, const dagfile_opts *opts,
                        dagfile_result *out);
void dagfile_result_free(dagfile_result *r);

/* Adds a diagnostic (copied). Used by checks that span files, such as E034. */
void dagfile_add_error(dagfile_result *r, const char *code, uint32_t line, uint32_t col,
                       const char *dag_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Sorts errors and warnings by position (after dagfile_add_error). */
void dagfile_sort_diags(dagfile_result *r);

/* One input of a file's source hash: its bytes' XXH3-64, and whether it has a
 * '$' (then also the hash of its text with $VAR expanded). */
typedef struct dagfile_fp_input {
	uint64_t raw_hash;
	bool dollar;
	uint64_t expanded_hash;
} dagfile_fp_input;

/* The source hash of a parse: options_hash, the path as given, the file and
 * its defaults.yml chain (nearest first). dagfile_parse computes it from the
 * texts; the processor from the scanner's raw hashes, for files whose inputs
 * have no '$'. */
uint64_t dagfile_fingerprint(uint64_t options_hash, const char *path, const dagfile_fp_input *file,
                             const dagfile_fp_input *defaults, size_t ndefaults);

/* Bump when the same inputs give different results (validation or
 * serialization changed): stored source hashes then no longer match, and a
 * restart reparses every file once. */
#define DAGFILE_RESULTS_REVISION "dagproc-results-2"

/* options_hash for dagfile_opts: the built-in and extra catalogs' contents,
 * the unchecked module prefixes, strict_catalog, the pools, the size limit and the results
 * revision. */
uint64_t dagfile_options_hash(const char *const *catalog_files, size_t ncatalog,
                              const char *const *unchecked, size_t nunchecked, bool strict_catalog,
                              const char *const *pools, size_t npools, size_t max_file_size);

/* Hex of the 128-bit hash (33 bytes with NUL). */
void dagfile_hash_hex(const uint8_t hash[16], char out[33]);

#endif
