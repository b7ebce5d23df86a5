/* SQLite is for one processor: the lock that makes a second `dagproc run` on
 * the same SQLite database stop at start, naming the one that runs. */
#ifndef DAGPROC_PROCESSOR_SINGLE_H
#define DAGPROC_PROCESSOR_SINGLE_H

/* Takes an exclusive flock(2) on the database file itself (created 0600 if
 * missing; the descriptor is close-on-exec, so workers never hold it) and
 * returns its descriptor, kept open while the processor runs. When another
 * process holds it, returns -1 with *why (malloc'd) naming the processor
 * recorded in the database's dag_processor table with the latest heartbeat. */
int proc_single_lock(const char *sqlite_path, char **why);

#endif
