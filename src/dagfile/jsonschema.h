/* `dagproc schema`: a JSON Schema (draft-07) of dag-factory files, built from
 * the tables `check` validates with (the operator catalog, the DAG and task key
 * lists), for editors (yaml-language-server) and other validators. */
#ifndef DAGPROC_JSONSCHEMA_H
#define DAGPROC_JSONSCHEMA_H

#include <stddef.h>

#include "dagfile/catalog.h"

/* The schema as JSON text (malloc'd), indented when pretty. */
char *dagfile_json_schema(const catalog *c, int pretty);

/* What a DAG, task or task group key means (hover text), or NULL. */
const char *dagfile_key_doc(const char *key);

/* The tables the schema is built from (schema_dag.c, schema_args.c). */
const char *const *sch_dag_keys(size_t *n);
const char *const *sch_task_keys(size_t *n);
/* Keys dag-factory consumes itself for some operators or in pairs
 * (python_callable_name, on_failure_callback_file, ...). */
void sch_each_consumed_key(void (*fn)(const char *key, void *ud), void *ud);

#endif
