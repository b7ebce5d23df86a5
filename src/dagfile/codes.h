/* The diagnostic codes of SPEC §5, as data: `check --format sarif` writes one
 * rule per code from this table, `dagproc help codes` prints it. */
#ifndef DAGPROC_CODES_H
#define DAGPROC_CODES_H

#include <stddef.h>

typedef struct diag_code {
	const char *code;    /* "E020" */
	const char *name;    /* "unknown-dependency": a rule name (SARIF's rule.name) */
	const char *summary; /* one line: what the code means */
	const char *help;    /* what to do about it */
} diag_code;

/* every code, errors then warnings, in code order */
extern const diag_code diag_codes[];
extern const size_t diag_ncodes;

/* the entry of `code`, or NULL */
const diag_code *diag_code_find(const char *code);

#endif
