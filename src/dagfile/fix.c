/* Fixes as data: the byte span of a diagnostic's node in the file's text. */
#include "dagfile/fix.h"

#include <string.h>

/* The length of the line break at t[i] as libyaml counts them (CR LF, CR,
 * LF, NEL, LS, PS), 0 when there is none: a line count that disagrees with
 * the parser's would put an edit on another node. */
static size_t break_at(const char *t, size_t len, size_t i)
{
	unsigned char c = (unsigned char)t[i];
	if (c == '\n')
		return 1;
	if (c == '\r')
		return i + 1 < len && t[i + 1] == '\n' ? 2 : 1;
	if (c == 0xC2 && i + 1 < len && (unsigned char)t[i + 1] == 0x85)
		return 2;
	if (c == 0xE2 && i + 2 < len && (unsigned char)t[i + 1] == 0x80 &&
	    ((unsigned char)t[i + 2] == 0xA8 || (unsigned char)t[i + 2] == 0xA9))
		return 3;
	return 0;
}

size_t dagfile_text_offset(const char *t, size_t len, uint32_t line, uint32_t col)
{
	dagfile_text_cursor c = {0};
	return dagfile_text_offset_next(&c, t, len, line, col);
}

size_t dagfile_text_offset_next(dagfile_text_cursor *c, const char *t, size_t len, uint32_t line,
                                uint32_t col)
{
	if (c->line == 0 || line < c->line) {
		c->line = 1;
		c->off = len >= 3 && (unsigned char)t[0] == 0xEF && (unsigned char)t[1] == 0xBB &&
		                 (unsigned char)t[2] == 0xBF
		             ? 3
		             : 0;
	}
	size_t i = c->off;
	while (c->line < line) {
		if (i >= len)
			return (size_t)-1;
		size_t b = break_at(t, len, i);
		if (b) {
			i += b;
			c->line++;
			c->off = i;
		} else {
			i++;
		}
	}
	i = c->off;
	for (uint32_t k = 1; k < col; k++) {
		if (i >= len || break_at(t, len, i))
			return (size_t)-1;
		i++;
		while (i < len && ((unsigned char)t[i] & 0xC0) == 0x80)
			i++;
	}
	return i;
}

/* The start of the line holding offset off, as libyaml counts lines: back
 * from off to the previous line break (not a scan from the start). */
static size_t line_start(const char *t, size_t len, size_t off)
{
	(void)len;
	size_t i = off;
	while (i > 0) {
		unsigned char c = (unsigned char)t[i - 1];
		if (c == '\n' || c == '\r')
			break;
		if (c == 0x85 && i >= 2 && (unsigned char)t[i - 2] == 0xC2)
			break;
		if ((c == 0xA8 || c == 0xA9) && i >= 3 && (unsigned char)t[i - 2] == 0x80 &&
		    (unsigned char)t[i - 3] == 0xE2)
			break;
		i--;
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

static bool anchor_char(char c)
{
	return c && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != '[' &&
	       c != ']' && c != '{' && c != '}';
}

/* The key a value at v is given to on its line ("key: v", "{k: v, key: v"),
 * or false when v follows no key there. */
static bool key_before(const char *t, size_t len, size_t v, size_t *ks, size_t *ke)
{
	size_t ls = line_start(t, len, v), j = v;
	while (j > ls && (t[j - 1] == ' ' || t[j - 1] == '\t'))
		j--;
	if (j == ls || t[j - 1] != ':')
		return false;
	size_t e = --j;
	while (j > ls && t[j - 1] != ' ' && t[j - 1] != '\t' && t[j - 1] != '{' && t[j - 1] != ',')
		j--;
	if (j == e)
		return false;
	*ks = j;
	*ke = e;
	return true;
}

/* An anchored value (&name at a) is edited for every alias of it: only when
 * each alias is the value of a key of the same name as the anchored one's
 * (an operator path used as the operator of other tasks), not a key, not
 * another kind of value. */
static bool aliases_agree(const char *t, size_t len, size_t a, const char *name, size_t nl)
{
	size_t ks, ke;
	if (!key_before(t, len, a, &ks, &ke))
		return false; /* an anchored key, or a value outside a mapping */
	for (const char *p = t; (p = memchr(p, '*', len - (size_t)(p - t))) != NULL; p++) {
		size_t i = (size_t)(p - t);
		if (i + 1 + nl > len || memcmp(p + 1, name, nl) != 0 ||
		    (i + 1 + nl < len && anchor_char(t[i + 1 + nl])))
			continue;
		size_t ks2, ke2;
		if (!key_before(t, len, i, &ks2, &ke2) || ke2 - ks2 != ke - ks ||
		    memcmp(t + ks2, t + ks, ke - ks) != 0)
			return false;
	}
	return true;
}

bool dagfile_fix_edit(const char *text, size_t len, const diag *d, fix_edit *e)
{
	if (!d->fix_from || !d->suggestion || !d->line || !d->col)
		return false;
	size_t i = dagfile_text_offset(text, len, d->line, d->col);
	return i != (size_t)-1 && dagfile_fix_edit_at(text, len, d, i, e);
}

bool dagfile_fix_edit_at(const char *text, size_t len, const diag *d, size_t i, fix_edit *e)
{
	if (!d->fix_from || !d->suggestion || !d->line || !d->col || i > len)
		return false;
	/* node properties before the text: an anchor, a tag */
	while (i < len && (text[i] == '&' || text[i] == '!')) {
		size_t p0 = i;
		while (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n')
			i++;
		if (text[p0] == '&' && !aliases_agree(text, len, p0, text + p0 + 1, i - p0 - 1))
			return false;
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
	size_t ls = line_start(text, len, start);
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

bool dagfile_fix_edit_next(dagfile_text_cursor *c, const char *text, size_t len, const diag *d,
                           fix_edit *e)
{
	if (!d->fix_from || !d->suggestion || !d->line || !d->col)
		return false;
	if (c->m_from && c->m_line == d->line && c->m_col == d->col &&
	    strcmp(c->m_from, d->fix_from) == 0 && strcmp(c->m_to, d->suggestion) == 0) {
		*e = c->m_edit;
		e->new_text = d->suggestion;
		return c->m_ok;
	}
	size_t off = dagfile_text_offset_next(c, text, len, d->line, d->col);
	bool ok = off != (size_t)-1 && dagfile_fix_edit_at(text, len, d, off, e);
	c->m_line = d->line;
	c->m_col = d->col;
	c->m_from = d->fix_from;
	c->m_to = d->suggestion;
	c->m_ok = ok;
	if (ok)
		c->m_edit = *e;
	return ok;
}
