/* Fixes as data: the byte span of a diagnostic's node in the file's text. */
#include "dagfile/fix.h"

#include <string.h>

/* Byte offset of 1-based (line, col), col counting characters as libyaml
 * does (a UTF-8 sequence is one; a byte order mark at the start is skipped);
 * (size_t)-1 when the text has no such place. */
static size_t offset_of(const char *t, size_t len, uint32_t line, uint32_t col)
{
	size_t i = 0;
	if (len >= 3 && (unsigned char)t[0] == 0xEF && (unsigned char)t[1] == 0xBB &&
	    (unsigned char)t[2] == 0xBF)
		i = 3;
	for (uint32_t l = 1; l < line; l++) {
		const char *nl = memchr(t + i, '\n', len - i);
		if (!nl)
			return (size_t)-1;
		i = (size_t)(nl - t) + 1;
	}
	for (uint32_t c = 1; c < col; c++) {
		if (i >= len || t[i] == '\n')
			return (size_t)-1;
		i++;
		while (i < len && ((unsigned char)t[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

static uint32_t chars(const char *s, size_t n)
{
	uint32_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

/* Whether a plain scalar may end before t[i] (flow or block context). */
static bool plain_ends(const char *t, size_t len, size_t i)
{
	if (i >= len)
		return true;
	switch (t[i]) {
	case '\n':
	case '\r':
	case ' ':
	case '\t':
	case ',':
	case ']':
	case '}':
		return true;
	case ':':
		return i + 1 >= len || t[i + 1] == ' ' || t[i + 1] == '\t' || t[i + 1] == '\n' ||
		       t[i + 1] == '\r' || t[i + 1] == ',' || t[i + 1] == ']' || t[i + 1] == '}';
	default:
		return false;
	}
}

/* Text that reads back as itself as a plain scalar, a key or a value, in
 * block or flow context: the replacements are import paths and key names. */
static bool plain_safe(const char *s)
{
	if (!*s || strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == ',' || c == '[' || c == ']' || c == '{' || c == '}' ||
		    c == '#' || c == ':' || c == ' ')
			return false;
	}
	return true;
}

bool dagfile_fix_edit(const char *text, size_t len, const diag *d, fix_edit *e)
{
	if (!d->fix_from || !d->suggestion || !d->line || !d->col)
		return false;
	size_t i = offset_of(text, len, d->line, d->col);
	if (i == (size_t)-1)
		return false;
	/* node properties before the text: an anchor, a tag */
	while (i < len && (text[i] == '&' || text[i] == '!')) {
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n')
			i++;
		while (i < len && (text[i] == ' ' || text[i] == '\t'))
			i++;
	}
	size_t from_len = strlen(d->fix_from);
	const char *nt = d->suggestion;
	size_t start, end;
	if (i < len && (text[i] == '\'' || text[i] == '"')) {
		char q = text[i];
		start = i + 1;
		/* the quoted text must be the parsed text itself: no escape, no
		 * doubled quote, on one line */
		if (start + from_len >= len || memcmp(text + start, d->fix_from, from_len) != 0 ||
		    text[start + from_len] != q || memchr(d->fix_from, '\n', from_len) ||
		    (q == '"' && memchr(d->fix_from, '\\', from_len)) ||
		    (q == '\'' && start + from_len + 1 < len && text[start + from_len + 1] == '\''))
			return false;
		if (strchr(nt, q) || strchr(nt, '\n') || (q == '"' && strchr(nt, '\\')))
			return false;
		end = start + from_len;
	} else {
		if (i >= len || text[i] == '|' || text[i] == '>')
			return false; /* a block scalar */
		start = i;
		if (start + from_len > len || memcmp(text + start, d->fix_from, from_len) != 0 ||
		    !plain_ends(text, len, start + from_len) || !plain_safe(nt))
			return false;
		end = start + from_len;
	}
	/* back to positions: the line is d's; columns from the start of it */
	size_t ls = start;
	while (ls > 0 && text[ls - 1] != '\n')
		ls--;
	size_t bom = (ls == 0 && len >= 3 && (unsigned char)text[0] == 0xEF &&
	              (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
	                 ? 3
	                 : 0;
	e->line = e->end_line = d->line;
	e->col = 1 + chars(text + ls + bom, start - ls - bom);
	e->end_col = e->col + chars(text + start, end - start);
	e->start = start;
	e->end = end;
	e->new_text = nt;
	return true;
}
