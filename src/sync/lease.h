/* File leases between processors sharing a PostgreSQL or MySQL database.
 * Within sync/ (the heartbeat functions are declared in sync.h). */
#ifndef DAGPROC_SYNC_LEASE_H
#define DAGPROC_SYNC_LEASE_H

#include "sync/sync.h"

/* Takes the lease of every file flagged in want (the files the batch
 * writes), inside the caller's transaction: new leases are inserted, this
 * processor's own and expired ones are (re)taken; a file whose lease another
 * live processor holds is marked foreign (with its owner) and counted in
 * *marked. files are sorted by bundle. */
STORE_WUR int sync_claim_leases(store_conn *c, sync_file *files, size_t n, const bool *want,
                                size_t *marked, sync_stats *st, store_error *err);

#endif
