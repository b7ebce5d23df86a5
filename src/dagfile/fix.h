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

/* A forward walk over a text's lines for diagnostics sorted by position:
 * each offset costs the distance from the previous one, not a scan from the
 * start (40,000 diagnostics in a 2 MB file). */
typedef struct dagfile_text_cursor {
	uint32_t line; /* 0: not started */
	size_t off;    /* the first byte of that line */
	/* the last fix found (one anchored value used by thousands of tasks is
	 * reported at one position thousands of times) */
	uint32_t m_line, m_col;
	const char *m_from, *m_to;
	bool m_ok;
	fix_edit m_edit;
} dagfile_text_cursor;

/* dagfile_text_offset through a cursor (it starts over if line goes back). */
size_t dagfile_text_offset_next(dagfile_text_cursor *c, const char *text, size_t len, uint32_t line,
                                uint32_t col);

/* dagfile_fix_edit for diagnostics sorted by position, through a cursor:
 * linear in the text and the diagnostics together. */
bool dagfile_fix_edit_next(dagfile_text_cursor *c, const char *text, size_t len, const diag *d,
                           fix_edit *e);

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
