/* The SQL half of a sync: reads the rows a batch's plan needs and writes the
 * plan's changes, every statement bounded by the connection's limits
 * (store_max_params, store_max_bytes) whatever the batch holds. Within sync/
 * only; runs inside the caller's write transaction. */
#ifndef DAGPROC_SYNC_APPLY_H
#define DAGPROC_SYNC_APPLY_H

#include "store/store.h"
#include "sync/plan.h"
#include "sync/sync.h"

/* A (bundle, file) or (dag_id, name) pair of a WHERE condition. */
typedef struct sync_pair {
	const char *a, *b;
} sync_pair;

/* Runs `prefix (<ca = ? AND cb IN (?,..)) OR ...>) suffix` over pairs (sorted
 * here) in as many statements as the connection's limits need; the fixed
 * parameters (for placeholders in prefix) go first in each. fn reads the rows
 * of a SELECT (NULL for writes); st counts the statements. */
STORE_WUR int apply_pairs(store_conn *c, sync_stats *st, const char *prefix,
                          const store_param *fixed, size_t nfixed, const char *ca, const char *cb,
                          sync_pair *pairs, size_t n, const char *suffix, store_row_fn fn, void *ud,
                          store_error *err);

/* Fills cur with the rows of the files of the batch (their DAGs, import
 * errors, statistics) and of every DAG id the files define (their dag rows,
 * tags and warnings). Files marked foreign are left out. */
STORE_WUR int apply_read(store_conn *c, const sync_file *files, size_t n, plan_current *cur,
                         sync_stats *st, store_error *err);

/* Writes the changes of o, in an order the foreign keys accept. */
STORE_WUR int apply_write(store_conn *c, const sync_file *files, size_t n, const plan_out *o,
                          sync_stats *st, store_error *err);

/* The files outside the batch whose import error refuses one of o->released
 * with E034: they are due for a new parse. Adds them to rq. */
STORE_WUR int apply_find_refused(store_conn *c, const sync_file *files, size_t n, const plan_out *o,
                                 sync_requeue *rq, sync_stats *st, store_error *err);

#endif
