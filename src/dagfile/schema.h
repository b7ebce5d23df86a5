/* The dag-factory 1.x schema: turns a loaded YAML document (plus its defaults.yml
 * chain) into validated DAGs and diagnostics. Internal to the dagfile module. */
#ifndef DAGPROC_SCHEMA_H
#define DAGPROC_SCHEMA_H

#include "dagfile/dagfile.h"
#include "dagfile/yaml.h"
#include "util/xalloc.h"

/* One defaults.yml of the chain, nearest first. */
typedef struct schema_defaults {
	const char *path;
	ynode *root; /* a mapping (others were reported as E050) */
} schema_defaults;

/* Validates doc->root (a mapping) and appends DAGs and diagnostics to res.
 * defs: the defaults chain, nearest first. Allocates from doc->arena for
 * intermediate data; everything put in res is heap memory owned by res. */
void schema_process(ydoc *doc, const char *path, const schema_defaults *defs, size_t ndefs,
                    const dagfile_opts *opts, dagfile_result *res);

/* Appends a diagnostic to arr (msg is taken over, dag_id copied). */
void dagfile_push_diag(diag **arr, size_t *n, const char *code, uint32_t line, uint32_t col,
                       const char *dag_id, const char *wtype, char *msg);

/* Canonical JSON of a value tree: sorted keys, __join__ evaluated. */
void serialize_value(strbuf *b, const ynode *n);
void serialize_string(strbuf *b, const char *s, size_t len);
/* The text of a __join__ (its items concatenated, as dag-factory's "".join). */
void serialize_join_text(strbuf *b, const ynode *items);

#endif
