/* Fixes as data (issue 16): a diagnostic whose replacement is certain
 * (diag.fix_from set) becomes an edit of the file's bytes, found where the
 * diagnostic points. `check --format json` reports it, `dagproc fix` applies
 * it; nothing else in the file changes. */
#ifndef DAGPROC_FIX_H
#define DAGPROC_FIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dagfile/dagfile.h"

typedef struct fix_edit {
	/* 1-based, as diagnostics count them (lines; columns in characters),
	 * the end exclusive */
	uint32_t line, col, end_line, end_col;
	size_t start, end; /* the same span as byte offsets into the text */
	const char *new_text;
} fix_edit;

/* Byte offset of a diagnostic's 1-based (line, col) in text, counting line
 * breaks and characters as libyaml does; (size_t)-1 when there is none. */
size_t dagfile_text_offset(const char *text, size_t len, uint32_t line, uint32_t col);

/* The edit that applies d's fix to text (the file's bytes, len of them).
 * False when d has no fix, or the node's text is not at d's position as it
 * was parsed (a scalar over several lines, with escapes, a block scalar), or
 * the new text cannot be written in the node's quoting style. Quotes, anchors
 * and tags around the text are kept. */
bool dagfile_fix_edit(const char *text, size_t len, const diag *d, fix_edit *e);
/* The same, with the byte offset of d's position already known (many
 * diagnostics of one text: not a scan of it each). */
bool dagfile_fix_edit_at(const char *text, size_t len, const diag *d, size_t off, fix_edit *e);

#endif
