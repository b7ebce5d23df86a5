/* YAML loading with libyaml into a node tree that keeps every node's position,
 * with YAML 1.1 scalar resolution as PyYAML's SafeLoader applies it. */
#ifndef DAGPROC_YAML_H
#define DAGPROC_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef enum ynode_kind {
	YN_NULL,
	YN_BOOL,
	YN_INT,
	YN_FLOAT,
	YN_STR,
	YN_DATE,     /* 2024-01-01 (PyYAML: datetime.date) */
	YN_DATETIME, /* 2024-01-01T10:00:00 / 2024-01-01 10:00:00+01:00 */
	YN_SEQ,
	YN_MAP,
} ynode_kind;

typedef struct ynode ynode;
typedef struct ypair {
	ynode *key;
	ynode *val;
	/* a later key of the mapping (a duplicate, or an explicit key over a
	 * merged one) gave the value: key is the first one's node, not the one
	 * written where the value is (a fix must not edit it) */
	bool replaced;
} ypair;

struct ynode {
	ynode_kind kind;
	uint32_t line, col; /* 1-based position of the node's first character */
	/* Scalars: the scalar's text after YAML unescaping (NUL-terminated; len
	 * excludes the NUL; may contain NUL bytes only if the YAML escaped them). */
	const char *str;
	size_t len;
	bool quoted; /* scalar written quoted or as a block: never resolved */
	union {
		bool b;
		int64_t i;
		double f;
	} v;
	size_t n;        /* items (YN_SEQ) or pairs (YN_MAP) */
	ynode **items;   /* YN_SEQ */
	ypair *pairs;    /* YN_MAP; in document order, merge keys (<<) applied, */
	                 /* duplicate keys resolved as PyYAML does (last wins) */
	uint64_t weight; /* nodes in this subtree, aliases counted as expanded */
	uint64_t bytes;  /* scalar bytes in this subtree (+1 a node), aliases expanded */
	uint16_t origin; /* 0: the file being parsed; k: the k-th defaults.yml of
	                  * the chain (set by the schema; the loader zeroes it) */
};

/* A $VAR the policy denied (dagfile/dagenv.h), left as written: W005. */
typedef struct yenv_denied {
	const char *name;   /* arena-owned */
	uint32_t line, col; /* of its '$' in the text that was parsed */
} yenv_denied;

typedef struct ydoc {
	arena arena; /* owns every node and string */
	ynode *root; /* NULL for an empty document */
	char *text;  /* the text that was parsed (after $VAR expansion), arena-owned */
	size_t text_len;
	yenv_denied *env_denied; /* arena-owned; each name once, in text order */
	size_t n_env_denied;
	/* Set when loading failed: */
	bool failed;
	const char *error_code; /* "E001" (syntax) or "E003" (alias bomb, bad UTF-8) */
	char *error;            /* libyaml's problem, e.g. "could not find expected ':'" */
	uint32_t error_line, error_col;
	char *context; /* e.g. "while scanning a simple key" or NULL */
	uint32_t context_line, context_col;
} ydoc;

/* Total node visits that alias expansion may produce before the document is
 * refused with E003 ("billion laughs"). */
#define YAML_MAX_EXPANDED_NODES 1000000u

/* Bytes of scalars (one more per node) that alias expansion may produce before
 * the document is refused with E003: a few aliases of one large string are
 * as much a bomb as many aliases of small nodes. The limit grows with the
 * document: YAML_EXPANDED_BYTES_BASE plus YAML_EXPANDED_BYTES_FACTOR times its
 * length, so a document without aliases never reaches it. */
#define YAML_EXPANDED_BYTES_BASE   ((uint64_t)16 << 20)
#define YAML_EXPANDED_BYTES_FACTOR 4u

/* Deepest nesting of sequences and mappings accepted (E003 beyond it), so that
 * code walking the tree recursively cannot exhaust the stack. */
#define YAML_MAX_DEPTH 1000u

/* Expands $VAR and ${VAR} from the environment (unset and denied variables are
 * left as written; denied ones that are set are listed in env_denied), then parses. Returns 0 on
 * success; on failure doc->failed is set and the error fields are filled; returns -1. Always call
 * yaml_doc_free(). Only the first document of a stream is used, as PyYAML's safe_load does (a
 * second document is an error there: "expected a single document in the stream"). */
int yaml_load(ydoc *doc, const char *text, size_t len);
void yaml_doc_free(ydoc *doc);

/* $VAR / ${VAR} expansion as os.path.expandvars does, through the policy of
 * dagfile/dagenv.h (a denied variable is left as written); result malloc'd. */
char *yaml_expand_env(const char *text, size_t len, size_t *out_len);
/* The same, calling denied (when not NULL) for each denied variable that is set,
 * with its name and the offset of its '$' in the result. */
typedef void (*yaml_env_denied_fn)(void *ud, const char *name, size_t len, size_t offset);
char *yaml_expand_env_ex(const char *text, size_t len, size_t *out_len, yaml_env_denied_fn denied,
                         void *ud);

/* Map lookup by key text (string keys only); NULL when absent. */
ynode *ynode_get(const ynode *map, const char *key);
ypair *ynode_get_pair(const ynode *map, const char *key);
bool ynode_is_scalar(const ynode *n);
const char *ynode_kind_name(ynode_kind k); /* "string", "mapping", ... */

#endif
