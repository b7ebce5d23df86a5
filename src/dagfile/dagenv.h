/* The environment DAG files see (SPEC §5 "Environment", W005): which variables
 * $VAR expansion may read, and the environment the parsing workers get. Denied are
 * the processor's own settings (DAGPROC__*), always; by default the names that say
 * they are secrets (*PASSWORD*, *SECRET*, *TOKEN*, *_KEY, AIRFLOW__DATABASE__*, ...)
 * and those whose value is a URL with a password (scheme://user:pw@...); and
 * [core] dag_env_deny. [core] dag_env_allow lets names through the defaults.
 * Globs are fnmatch(3) patterns, matched without regard to case.
 *
 * The policy is process-wide: set it once, before any parse or thread starts. */
#ifndef DAGPROC_DAGENV_H
#define DAGPROC_DAGENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sets the policy (the lists are copied) and notes which denied variables this
 * process's environment holds. Without a call, the default policy applies. */
void dagenv_configure(const char *const *deny, size_t ndeny, const char *const *allow,
                      size_t nallow);
/* For a worker, whose environment has no denied variable: the names of those the
 * daemon's environment held, so that a reference to one still gets its W005. */
void dagenv_add_present(const char *const *names, size_t n);
/* Clears everything (tests). */
void dagenv_reset(void);

/* Whether name (len bytes, not NUL-terminated) is denied by the policy (given its
 * value in this process's environment, and the names dagenv_add_present gave). */
bool dagenv_denied(const char *name, size_t len);

/* The value $name expands to: the environment's, or NULL when unset or denied.
 * *warn is set when the variable is denied and was set (it would have been read):
 * such a reference gets a W005. */
const char *dagenv_lookup(const char *name, size_t len, bool *warn);

/* The denied variables set in this process's environment, plus those added with
 * dagenv_add_present: sorted names (NULL-terminated array; free with dagenv_free_list). */
char **dagenv_present_denied(size_t *n);
/* environ without the denied variables, for the workers (NULL-terminated; the strings
 * are the environment's own: free only the array). */
char **dagenv_worker_environ(void);
void dagenv_free_list(char **list);

/* A hash of the policy and of dagenv_present_denied, part of the fingerprint of
 * every input with a '$' (dagfile_fingerprint): a change of either changes what
 * such a file gives (W005). Computed once per policy: the environment is read then. */
uint64_t dagenv_hash(void);

#endif
