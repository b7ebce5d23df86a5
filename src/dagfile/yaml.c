/* YAML loader: libyaml events -> arena ynode tree with positions, as PyYAML's
 * SafeLoader reads it (YAML 1.1 implicit types, merge keys, last duplicate key
 * wins), with limits on alias expansion and nesting. */
#include "dagfile/yaml.h"
#include "dagfile/dagenv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "util/xalloc.h"
#include "util/utf8.h"

#define TAG_PREFIX     "tag:yaml.org,2002:"
#define TAG_PREFIX_LEN (sizeof(TAG_PREFIX) - 1)

/* Markers kept in v.i of plain YN_STR nodes while loading: PyYAML resolves a
 * plain `<<` to tag:yaml.org,2002:merge and `=` to tag:yaml.org,2002:value. Both
 * are only valid as mapping keys (no SafeConstructor constructs them). */
#define YMARK_MERGE 1
#define YMARK_VALUE 2

typedef struct yerr {
	const char *code;
	const char *msg;
	uint32_t line, col;
	const char *ctx;
	uint32_t cline, ccol;
} yerr;

typedef struct yframe {
	ynode *node;
	size_t base; /* index in kids of the container's first child */
} yframe;

typedef struct yanchor {
	const char *name;
	ynode *node;
} yanchor;

struct ysrcmap;

typedef struct yloader {
	ydoc *doc;
	arena *a;
	const struct ysrcmap *map; /* positions back into the file; NULL when nothing expanded */
	yaml_parser_t parser;
	yframe *frames;
	size_t nframes, frames_cap;
	ynode **kids; /* children of all open containers, innermost last */
	size_t nkids, kids_cap;
	yanchor *anchors; /* open addressing, power-of-two capacity */
	size_t anchors_cap, nanchors;
	ypair *scratch; /* mapping assembly (merges + explicit pairs) */
	size_t scratch_cap;
	uint32_t *slots; /* duplicate-key hash table over scratch indices */
	size_t slots_cap;
	uint64_t total;                  /* nodes produced so far, aliases counted expanded */
	uint64_t total_bytes, max_bytes; /* their scalar bytes, and the limit */
	bool has_pending;
	yerr pending; /* first construction error, reported if parsing succeeds */
} yloader;

/* ---- errors ---- */

static void fail_at(ydoc *doc, const char *code, const char *msg, uint32_t line, uint32_t col,
                    const char *ctx, uint32_t cline, uint32_t ccol)
{
	if (doc->failed)
		return;
	doc->failed = true;
	doc->error_code = code;
	doc->error = arena_strdup(&doc->arena, msg);
	doc->error_line = line;
	doc->error_col = col;
	doc->context = ctx ? arena_strdup(&doc->arena, ctx) : NULL;
	doc->context_line = ctx ? cline : 0;
	doc->context_col = ctx ? ccol : 0;
}

/* Errors PyYAML raises while constructing (after the whole document composed):
 * a later syntax error takes precedence, so they wait until the end. */
static void defer_error(yloader *L, const char *msg, uint32_t line, uint32_t col, const char *ctx,
                        uint32_t cline, uint32_t ccol)
{
	if (L->has_pending)
		return;
	L->has_pending = true;
	L->pending.code = "E001";
	L->pending.msg = arena_strdup(L->a, msg);
	L->pending.line = line;
	L->pending.col = col;
	L->pending.ctx = ctx ? arena_strdup(L->a, ctx) : NULL;
	L->pending.cline = cline;
	L->pending.ccol = ccol;
}

static bool is_break_at(const unsigned char *s, size_t len, size_t i, size_t *adv)
{
	if (s[i] == '\n') {
		*adv = 1;
		return true;
	}
	if (s[i] == '\r') {
		*adv = (i + 1 < len && s[i + 1] == '\n') ? 2 : 1;
		return true;
	}
	if (s[i] == 0xC2 && i + 1 < len && s[i + 1] == 0x85) { /* NEL */
		*adv = 2;
		return true;
	}
	if (s[i] == 0xE2 && i + 2 < len && s[i + 1] == 0x80 &&
	    (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) { /* LS, PS */
		*adv = 3;
		return true;
	}
	return false;
}

/* 1-based line and column (in characters, as libyaml counts) of byte offset. */
static void position_of(const char *text, size_t len, size_t off, uint32_t *line, uint32_t *col)
{
	const unsigned char *s = (const unsigned char *)text;
	uint32_t l = 1, c = 1;
	size_t i = 0;
	if (off > len)
		off = len;
	while (i < off) {
		size_t adv;
		if (is_break_at(s, len, i, &adv)) {
			l++;
			c = 1;
			i += adv;
			continue;
		}
		i++;
		while (i < off && (s[i] & 0xC0) == 0x80)
			i++;
		c++;
	}
	*line = l;
	*col = c;
}

/* ---- input checks ---- */

static bool yaml_printable(uint32_t cp)
{
	return cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
	       (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
	       (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Strict UTF-8 (as Python's decoder: no overlongs, surrogates or > U+10FFFF),
 * no NUL byte, and only characters YAML allows (as libyaml's reader and PyYAML's
 * check_printable). Fills doc's error and returns false otherwise. */
static bool check_text(ydoc *doc, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;
		if (c >= 0x20 && c < 0x7F) {
			i++;
			continue;
		}
		n = utf8_decode(s + i, len - i, &cp);
		if (n == 0)
			goto bad_utf8;
		if (!yaml_printable(cp)) {
			uint32_t l, col;
			char msg[96];
			position_of(text, len, i, &l, &col);
			/* PyYAML's reader (check_printable), reported before any syntax
			 * error as it reads the whole stream first; a NUL byte included */
			snprintf(
			    msg, sizeof(msg),
			    "unacceptable character #x%04x: special characters are not allowed",
			    (unsigned)cp);
			fail_at(doc, "E001", msg, l, col, NULL, 0, 0);
			return false;
		}
		i += n;
	}
	return true;
bad_utf8 : {
	uint32_t l, col;
	char msg[96];
	position_of(text, len, i, &l, &col);
	snprintf(msg, sizeof(msg), "file is not valid UTF-8 (byte 0x%02x at offset %zu)",
	         (unsigned)s[i], i);
	fail_at(doc, "E003", msg, l, col, NULL, 0, 0);
	return false;
}
}

/* ---- $VAR expansion ---- */

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* One $VAR that expansion replaced: where it was, and where its value went. */
typedef struct yseg {
	size_t file, file_len; /* the reference in the file */
	size_t text, text_len; /* its value in the expanded text */
} yseg;

/* The expansion, also listing the replacements in text order when segs is not NULL
 * (*segs malloc'd, *nsegs their count). */
static char *expand_env(const char *text, size_t len, size_t *out_len, yaml_env_denied_fn denied,
                        void *ud, yseg **segs, size_t *nsegs)
{
	strbuf b;
	size_t i = 0, copied = 0, cap = 0;
	sb_init(&b);
	sb_reserve(&b, len + 1);
	while (i < len) {
		const char *d = memchr(text + i, '$', len - i);
		size_t k, name, name_len, end;
		const char *val;
		if (!d)
			break;
		k = (size_t)(d - text);
		if (k + 1 < len && is_word_char(text[k + 1])) {
			name = k + 1;
			end = name;
			while (end < len && is_word_char(text[end]))
				end++;
			name_len = end - name;
		} else if (k + 1 < len && text[k + 1] == '{') {
			const char *close = memchr(text + k + 2, '}', len - k - 2);
			if (!close) {
				i = k + 1;
				continue;
			}
			name = k + 2;
			end = (size_t)(close - text) + 1;
			name_len = end - 1 - name;
		} else {
			i = k + 1;
			continue;
		}
		bool warn = false;
		val = dagenv_lookup(text + name, name_len, &warn);
		if (val) {
			sb_add(&b, text + copied, k - copied);
			if (segs) {
				if (*nsegs == cap) {
					cap = cap ? cap * 2 : 8;
					*segs = xrealloc(*segs, cap * sizeof(**segs));
				}
				(*segs)[(*nsegs)++] = (yseg){k, end - k, b.len, strlen(val)};
			}
			sb_adds(&b, val);
			copied = end;
		} else if (warn && denied) {
			denied(ud, text + name, name_len, b.len + (k - copied));
		}
		i = end;
	}
	sb_add(&b, text + copied, len - copied);
	if (out_len)
		*out_len = b.len;
	return sb_detach(&b);
}

char *yaml_expand_env(const char *text, size_t len, size_t *out_len)
{
	return expand_env(text, len, out_len, NULL, NULL, NULL, NULL);
}

char *yaml_expand_env_ex(const char *text, size_t len, size_t *out_len, yaml_env_denied_fn denied,
                         void *ud)
{
	return expand_env(text, len, out_len, denied, ud, NULL, NULL);
}

/* ---- positions in the file ---- */

/* libyaml reads the expanded text, so its marks are positions there; diagnostics
 * point into the file as written (what check prints and the user edits). Text
 * outside the replaced values maps one to one; a position inside a value maps to
 * the $VAR it came from. */
typedef struct ysrcmap {
	const char *file, *text;
	size_t file_len, text_len;
	const yseg *segs;
	size_t nsegs;
	size_t *text_lines, ntext_lines; /* byte offset of each line's start: expanded text */
	size_t *file_lines, nfile_lines; /* and file */
} ysrcmap;

static size_t *line_starts(const char *text, size_t len, size_t *n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t cap = 64, k = 0;
	size_t *v = xmalloc(cap * sizeof(*v));
	v[k++] = 0;
	for (size_t i = 0; i < len;) {
		size_t adv;
		if (!is_break_at(s, len, i, &adv)) {
			i++;
			continue;
		}
		i += adv;
		if (k == cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[k++] = i;
	}
	*n = k;
	return v;
}

/* 1-based (line, column in characters) of the expanded text -> its byte offset. */
static size_t text_offset(const ysrcmap *m, uint32_t line, uint32_t col)
{
	if (line > m->ntext_lines)
		return m->text_len;
	size_t off = m->text_lines[line - 1];
	const unsigned char *s = (const unsigned char *)m->text;
	for (uint32_t c = 1; c < col && off < m->text_len; c++) {
		off++;
		while (off < m->text_len && (s[off] & 0xC0) == 0x80)
			off++;
	}
	return off;
}

/* A byte offset of the expanded text -> the file's. */
static size_t file_offset(const ysrcmap *m, size_t off)
{
	size_t lo = 0, hi = m->nsegs; /* the last replacement starting at or before off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->segs[mid].text <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return off;
	const yseg *g = &m->segs[lo - 1];
	if (off < g->text + g->text_len)
		return g->file; /* inside a value: at its $VAR */
	return g->file + g->file_len + (off - g->text - g->text_len);
}

/* A byte offset of the file -> its 1-based line and column (in characters), as
 * position_of but without reading the file from its start each time. */
static void file_position(const ysrcmap *m, size_t off, uint32_t *line, uint32_t *col)
{
	size_t lo = 0, hi = m->nfile_lines; /* the last line starting at or before off */
	if (off > m->file_len)
		off = m->file_len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->file_lines[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	const unsigned char *s = (const unsigned char *)m->file;
	uint32_t c = 1;
	for (size_t i = m->file_lines[lo - 1]; i < off; c++) {
		i++;
		while (i < off && (s[i] & 0xC0) == 0x80)
			i++;
	}
	*line = (uint32_t)lo;
	*col = c;
}

/* A position (1-based, as the loader reports them) in the expanded text -> the
 * same in the file. Nothing to do without a map or without a position. */
static void map_position(const ysrcmap *m, uint32_t *line, uint32_t *col)
{
	if (!m || *line == 0)
		return;
	file_position(m, file_offset(m, text_offset(m, *line, *col)), line, col);
}

/* ---- YAML 1.1 implicit resolution (PyYAML resolver.py) ---- */

static bool text_is(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len == n && memcmp(s, word, n) == 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool match_bool(const char *s, size_t len, bool *val)
{
	static const char *const yes[] = {"yes",  "Yes", "YES", "true", "True",
	                                  "TRUE", "on",  "On",  "ON"};
	static const char *const no[] = {"no",    "No",  "NO",  "false", "False",
	                                 "FALSE", "off", "Off", "OFF"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (text_is(s, len, yes[i])) {
			*val = true;
			return true;
		}
		if (text_is(s, len, no[i])) {
			*val = false;
			return true;
		}
	}
	return false;
}

/* bool_values of SafeConstructor: any case, for an explicit !!bool. */
static bool match_bool_nocase(const char *s, size_t len, bool *val)
{
	static const char *const words[] = {"yes", "true", "on", "no", "false", "off"};
	for (size_t i = 0; i < 6; i++) {
		if (strlen(words[i]) == len && strncasecmp(s, words[i], len) == 0) {
			*val = i < 3;
			return true;
		}
	}
	return false;
}

static bool match_null(const char *s, size_t len)
{
	return len == 0 || text_is(s, len, "~") || text_is(s, len, "null") ||
	       text_is(s, len, "Null") || text_is(s, len, "NULL");
}

/* (?::[0-5]?[0-9])+ from p, followed by end or (when dot_ok) '.'. Returns the
 * position after the groups, or NULL when they do not match. */
static const char *match_sexa_groups(const char *p, const char *end, bool dot_ok)
{
	bool any = false;
	while (p < end && *p == ':') {
		const char *q = p + 1;
		/* Two digits if the first is 0-5 and a separator follows, else one. */
		if (q + 1 < end && *q >= '0' && *q <= '5' && is_digit(q[1]) &&
		    (q + 2 == end || q[2] == ':' || (dot_ok && q[2] == '.')))
			p = q + 2;
		else if (q < end && is_digit(*q) &&
		         (q + 1 == end || q[1] == ':' || (dot_ok && q[1] == '.')))
			p = q + 1;
		else
			return NULL;
		any = true;
	}
	return any ? p : NULL;
}

enum { NUM_NO, NUM_OK, NUM_RANGE };

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* PyYAML's int regex, then construct_yaml_int. NUM_RANGE: matches but does not
 * fit int64_t (or has no digit, e.g. "0x_", where PyYAML raises ValueError). */
static int parse_int(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len, *digits, *q;
	bool neg = false, sexa = false, any = false;
	unsigned base = 10;
	uint64_t limit, acc = 0;
	if (p < end && (*p == '-' || *p == '+')) {
		neg = *p == '-';
		p++;
	}
	if (p == end)
		return NUM_NO;
	digits = p;
	if (end - p >= 2 && p[0] == '0' && p[1] == 'b') {
		base = 2;
		digits = p + 2;
		if (digits == end)
			return NUM_NO;
		for (q = digits; q < end; q++)
			if (*q != '0' && *q != '1' && *q != '_')
				return NUM_NO;
	} else if (end - p >= 2 && p[0] == '0' && p[1] == 'x') {
		base = 16;
		digits = p + 2;
		if (digits == end)
			return NUM_NO;
		for (q = digits; q < end; q++)
			if (*q != '_' && digit_value(*q) < 0)
				return NUM_NO;
	} else if (p[0] == '0') {
		if (end - p == 1) {
			*out = 0;
			return NUM_OK;
		}
		base = 8;
		any = true; /* "0_" is 0 */
		for (q = p + 1; q < end; q++)
			if (*q != '_' && (*q < '0' || *q > '7'))
				return NUM_NO;
	} else if (p[0] >= '1' && p[0] <= '9') {
		q = p + 1;
		while (q < end && (is_digit(*q) || *q == '_'))
			q++;
		if (q != end) {
			if (match_sexa_groups(q, end, false) != end)
				return NUM_NO;
			sexa = true;
		}
	} else {
		return NUM_NO;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (!sexa) {
		for (q = digits; q < end; q++) {
			unsigned d;
			if (*q == '_')
				continue;
			d = (unsigned)digit_value(*q);
			if (acc > (limit - d) / base)
				return NUM_RANGE;
			acc = acc * base + d;
			any = true;
		}
		if (!any)
			return NUM_RANGE;
	} else {
		uint64_t part = 0;
		for (q = digits;; q++) {
			if (q == end || *q == ':') {
				if (acc > (limit - part) / 60)
					return NUM_RANGE;
				acc = acc * 60 + part;
				part = 0;
				if (q == end)
					break;
				continue;
			}
			if (*q == '_')
				continue;
			if (part > (limit - (uint64_t)(*q - '0')) / 10)
				return NUM_RANGE;
			part = part * 10 + (uint64_t)(*q - '0');
		}
	}
	if (neg)
		*out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*out = (int64_t)acc;
	return NUM_OK;
}

/* [0-9_]* then optional [eE][-+][0-9]+, up to end. */
static bool match_frac_exp(const char *p, const char *end)
{
	while (p < end && (is_digit(*p) || *p == '_'))
		p++;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p == end || (*p != '-' && *p != '+'))
			return false;
		p++;
		if (p == end)
			return false;
		while (p < end && is_digit(*p))
			p++;
	}
	return p == end;
}

/* strtod over the text without underscores. */
static double strtod_clean(const char *s, size_t len, bool *full)
{
	char small[128];
	char *buf = len < sizeof(small) ? small : xmalloc(len + 1);
	size_t n = 0;
	char *endp;
	double d;
	for (size_t i = 0; i < len; i++)
		if (s[i] != '_')
			buf[n++] = s[i];
	buf[n] = '\0';
	d = strtod(buf, &endp);
	if (full)
		*full = n > 0 && endp == buf + n;
	if (buf != small)
		free(buf);
	return d;
}

/* PyYAML's float regex, then construct_yaml_float. */
static bool parse_float(const char *s, size_t len, double *out)
{
	const char *p = s, *end = s + len, *q;
	bool sign = false, neg = false;
	if (p < end && (*p == '-' || *p == '+')) {
		sign = true;
		neg = *p == '-';
		p++;
	}
	if (p == end)
		return false;
	if (*p == '.') {
		size_t rest = (size_t)(end - p - 1);
		if (text_is(p + 1, rest, "inf") || text_is(p + 1, rest, "Inf") ||
		    text_is(p + 1, rest, "INF")) {
			*out = neg ? -INFINITY : INFINITY;
			return true;
		}
		if (sign)
			return false;
		if (text_is(p + 1, rest, "nan") || text_is(p + 1, rest, "NaN") ||
		    text_is(p + 1, rest, "NAN")) {
			*out = NAN;
			return true;
		}
		if (rest == 0 || !is_digit(p[1]) || !match_frac_exp(p + 2, end))
			return false;
		*out = strtod_clean(s, len, NULL);
		return true;
	}
	if (!is_digit(*p))
		return false;
	q = p + 1;
	while (q < end && (is_digit(*q) || *q == '_'))
		q++;
	if (q < end && *q == '.') {
		if (!match_frac_exp(q + 1, end))
			return false;
		*out = strtod_clean(s, len, NULL);
		return true;
	}
	if (q < end && *q == ':') {
		const char *r = match_sexa_groups(q, end, true), *part;
		double acc = 0;
		if (!r || r == end || *r != '.')
			return false;
		for (r++; r < end; r++)
			if (!is_digit(*r) && *r != '_')
				return false;
		/* Horner over the ':'-separated parts; the last part has the dot. */
		part = p;
		for (q = p;; q++) {
			if (q == end || *q == ':') {
				acc = acc * 60 + strtod_clean(part, (size_t)(q - part), NULL);
				if (q == end)
					break;
				part = q + 1;
			}
		}
		*out = neg ? -acc : acc;
		return true;
	}
	return false;
}

static bool match_digits(const char **pp, const char *end, int min, int max)
{
	const char *p = *pp;
	int n = 0;
	while (p < end && n < max && is_digit(*p)) {
		p++;
		n++;
	}
	if (n < min)
		return false;
	*pp = p;
	return true;
}

/* PyYAML's timestamp regex: YN_DATE, YN_DATETIME, or YN_STR for no match. */
static ynode_kind match_timestamp(const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	if (!match_digits(&p, end, 4, 4) || p == end || *p != '-')
		return YN_STR;
	if (len == 10 && is_digit(s[5]) && is_digit(s[6]) && s[7] == '-' && is_digit(s[8]) &&
	    is_digit(s[9]))
		return YN_DATE;
	p++;
	if (!match_digits(&p, end, 1, 2) || p == end || *p != '-')
		return YN_STR;
	p++;
	if (!match_digits(&p, end, 1, 2) || p == end)
		return YN_STR;
	if (*p == 'T' || *p == 't') {
		p++;
	} else if (*p == ' ' || *p == '\t') {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	} else {
		return YN_STR;
	}
	if (!match_digits(&p, end, 1, 2) || p == end || *p++ != ':')
		return YN_STR;
	if (!match_digits(&p, end, 2, 2) || p == end || *p++ != ':')
		return YN_STR;
	if (!match_digits(&p, end, 2, 2))
		return YN_STR;
	if (p < end && *p == '.') {
		p++;
		while (p < end && is_digit(*p))
			p++;
	}
	if (p == end)
		return YN_DATETIME;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == 'Z') {
		p++;
	} else if (p < end && (*p == '-' || *p == '+')) {
		p++;
		if (!match_digits(&p, end, 1, 2))
			return YN_STR;
		if (p < end && *p == ':') {
			p++;
			if (!match_digits(&p, end, 2, 2))
				return YN_STR;
		}
	} else {
		return YN_STR;
	}
	return p == end ? YN_DATETIME : YN_STR;
}

/* Ints beyond int64_t (Python's big ints) are kept as YN_STR with their text:
 * nothing in a DAG file needs them, and a string is never silently wrong. */
static void set_int_or_str(ynode *n, int r, int64_t v)
{
	if (r == NUM_OK) {
		n->kind = YN_INT;
		n->v.i = v;
	} else {
		n->kind = YN_STR;
	}
}

static void resolve_plain(ynode *n)
{
	const char *s = n->str;
	size_t len = n->len;
	int64_t iv;
	double fv;
	bool bv;
	int r;
	n->kind = YN_STR;
	if (len == 0) {
		n->kind = YN_NULL;
		return;
	}
	switch (s[0]) {
	case 'y':
	case 'Y':
	case 'n':
	case 'N':
	case 't':
	case 'T':
	case 'f':
	case 'F':
	case 'o':
	case 'O':
	case '~':
		if (match_bool(s, len, &bv)) {
			n->kind = YN_BOOL;
			n->v.b = bv;
		} else if (match_null(s, len)) {
			n->kind = YN_NULL;
		}
		return;
	case '<':
		if (len == 2 && s[1] == '<')
			n->v.i = YMARK_MERGE;
		return;
	case '=':
		if (len == 1)
			n->v.i = YMARK_VALUE;
		return;
	case '-':
	case '+':
	case '.':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		if (parse_float(s, len, &fv)) {
			n->kind = YN_FLOAT;
			n->v.f = fv;
			return;
		}
		r = parse_int(s, len, &iv);
		if (r != NUM_NO) {
			set_int_or_str(n, r, iv);
			return;
		}
		n->kind = match_timestamp(s, len);
		return;
	default:
		return;
	}
}

/* Applies an explicit tag to a scalar, as SafeConstructor's constructors do. */
static void resolve_tagged(yloader *L, ynode *n, const char *tag)
{
	const char *t = tag + TAG_PREFIX_LEN;
	int64_t iv;
	double fv;
	bool bv, full;
	int r;
	char *msg;
	n->kind = YN_STR;
	if (strncmp(tag, TAG_PREFIX, TAG_PREFIX_LEN) != 0)
		goto unknown;
	if (!strcmp(t, "str") || !strcmp(t, "binary"))
		return;
	if (!strcmp(t, "null")) {
		n->kind = YN_NULL;
		return;
	}
	/* PyYAML's FullLoader (dag-factory's loader) adds the python/ scalars: */
	if (!strncmp(t, "python/", 7)) {
		const char *py = t + 7;
		if (!strcmp(py, "none")) {
			n->kind = YN_NULL; /* construct_yaml_null ignores the value */
			return;
		}
		if (!strcmp(py, "str") || !strcmp(py, "unicode") || !strcmp(py, "bytes") ||
		    !strcmp(py, "complex"))
			return; /* kept as their text: nothing here reads them as numbers */
		if (!strcmp(py, "bool")) {
			t = "bool";
		} else if (!strcmp(py, "int") || !strcmp(py, "long")) {
			t = "int";
		} else if (!strcmp(py, "float")) {
			t = "float";
		} else if (!strncmp(py, "name:", 5)) {
			/* a Python object by name: FullLoader finds it only in a module
			 * already imported, which a file cannot know; kept as the name */
			if (n->len) {
				msg = arena_printf(
				    L->a,
				    "expected the empty value, but found '%.*s' (while "
				    "constructing a Python name)",
				    (int)(n->len > 200 ? 200 : n->len), n->str);
				defer_error(L, msg, n->line, n->col, NULL, 0, 0);
				return;
			}
			if (!py[5]) {
				defer_error(L, "expected non-empty name appended to the tag",
				            n->line, n->col, NULL, 0, 0);
				return;
			}
			n->str = arena_strdup(L->a, py + 5);
			n->len = strlen(n->str);
			n->quoted = true;
			return;
		} else {
			goto unknown;
		}
	}
	if (!strcmp(t, "merge")) {
		n->v.i = YMARK_MERGE;
		return;
	}
	if (!strcmp(t, "value")) {
		n->v.i = YMARK_VALUE;
		return;
	}
	if (!strcmp(t, "bool")) {
		if (match_bool_nocase(n->str, n->len, &bv)) {
			n->kind = YN_BOOL;
			n->v.b = bv;
			return;
		}
		goto invalid;
	}
	if (!strcmp(t, "int")) {
		r = parse_int(n->str, n->len, &iv);
		if (r != NUM_NO) {
			set_int_or_str(n, r, iv);
			return;
		}
		goto invalid;
	}
	if (!strcmp(t, "float")) {
		if (parse_float(n->str, n->len, &fv)) {
			n->kind = YN_FLOAT;
			n->v.f = fv;
			return;
		}
		fv = strtod_clean(n->str, n->len, &full);
		if (full) {
			n->kind = YN_FLOAT;
			n->v.f = fv;
			return;
		}
		goto invalid;
	}
	if (!strcmp(t, "timestamp")) {
		n->kind = match_timestamp(n->str, n->len);
		if (n->kind != YN_STR)
			return;
		goto invalid;
	}
unknown:
	msg = arena_printf(L->a, "could not determine a constructor for the tag '%s'", tag);
	defer_error(L, msg, n->line, n->col, NULL, 0, 0);
	return;
invalid:
	msg = arena_printf(L->a, "invalid value for the tag '%s': '%.*s'", tag,
	                   (int)(n->len > 200 ? 200 : n->len), n->str);
	defer_error(L, msg, n->line, n->col, NULL, 0, 0);
}

/* ---- anchors ---- */

static uint64_t hash_bytes(const char *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define HASH_SEED 0xcbf29ce484222325ULL

static yanchor *anchor_slot(yloader *L, const char *name)
{
	size_t mask = L->anchors_cap - 1;
	size_t i = (size_t)hash_bytes(name, strlen(name), HASH_SEED) & mask;
	while (L->anchors[i].name && strcmp(L->anchors[i].name, name) != 0)
		i = (i + 1) & mask;
	return &L->anchors[i];
}

static ynode *anchor_find(yloader *L, const char *name)
{
	if (!L->nanchors)
		return NULL;
	return anchor_slot(L, name)->node;
}

static void anchor_grow(yloader *L)
{
	yanchor *old = L->anchors;
	size_t old_cap = L->anchors_cap;
	L->anchors_cap = old_cap ? old_cap * 2 : 16;
	L->anchors = xcalloc(L->anchors_cap, sizeof(*L->anchors));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].name)
			*anchor_slot(L, old[i].name) = old[i];
	free(old);
}

/* PyYAML's composer refuses a second anchor of the same name. */
static int anchor_add(yloader *L, const char *name, ynode *n)
{
	yanchor *slot;
	if ((L->nanchors + 1) * 2 > L->anchors_cap)
		anchor_grow(L);
	slot = anchor_slot(L, name);
	if (slot->name) {
		char *ctx =
		    arena_printf(L->a, "found duplicate anchor '%s'; first occurrence", name);
		fail_at(L->doc, "E001", "second occurrence", n->line, n->col, ctx, slot->node->line,
		        slot->node->col);
		return -1;
	}
	slot->name = arena_strdup(L->a, name);
	slot->node = n;
	L->nanchors++;
	return 0;
}

/* ---- tree building ---- */

static void kids_push(yloader *L, ynode *n)
{
	if (L->nkids == L->kids_cap) {
		L->kids_cap = L->kids_cap ? L->kids_cap * 2 : 256;
		L->kids = xrealloc(L->kids, L->kids_cap * sizeof(*L->kids));
	}
	L->kids[L->nkids++] = n;
}

static yframe *top_frame(yloader *L)
{
	return L->nframes ? &L->frames[L->nframes - 1] : NULL;
}

/* True when the next child of the innermost container is a mapping key. */
static bool at_key(yloader *L)
{
	yframe *f = top_frame(L);
	return f && f->node->kind == YN_MAP && (L->nkids - f->base) % 2 == 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Attaches n (new or aliased) to the innermost container or as the root;
 * `weight` is what it adds to the expanded document. */
static int attach(yloader *L, ynode *n, uint64_t weight, uint64_t bytes, uint32_t line,
                  uint32_t col)
{
	bool key = at_key(L);
	L->total = sat_add(L->total, weight);
	L->total_bytes = sat_add(L->total_bytes, bytes);
	if (L->total > YAML_MAX_EXPANDED_NODES) {
		char msg[128];
		snprintf(msg, sizeof(msg),
		         "alias expansion too large (more than %u nodes; a \"billion laughs\" "
		         "document?)",
		         YAML_MAX_EXPANDED_NODES);
		fail_at(L->doc, "E003", msg, line, col, NULL, 0, 0);
		return -1;
	}
	if (L->total_bytes > L->max_bytes) {
		char msg[160];
		snprintf(
		    msg, sizeof(msg),
		    "alias expansion too large (more than %llu bytes from a %zu-byte document; "
		    "an alias of a large node used many times?)",
		    (unsigned long long)L->max_bytes, L->doc->text_len);
		fail_at(L->doc, "E003", msg, line, col, NULL, 0, 0);
		return -1;
	}
	if (n->kind == YN_STR && n->v.i) {
		if (key) {
			if (n->v.i == YMARK_VALUE)
				n->v.i = 0; /* flatten_mapping makes a `=` key a string */
		} else {
			char *msg = arena_printf(
			    L->a, "could not determine a constructor for the tag '%s'",
			    n->v.i == YMARK_MERGE ? TAG_PREFIX "merge" : TAG_PREFIX "value");
			defer_error(L, msg, line, col, NULL, 0, 0);
		}
	}
	if (key && (n->kind == YN_SEQ || n->kind == YN_MAP)) {
		ynode *m = top_frame(L)->node;
		defer_error(L, "found unhashable key", line, col, "while constructing a mapping",
		            m->line, m->col);
	}
	if (!L->nframes)
		L->doc->root = n;
	else
		kids_push(L, n);
	return 0;
}

static ynode *new_node(yloader *L, ynode_kind kind, yaml_mark_t mark)
{
	ynode *n = arena_zalloc(L->a, sizeof(*n));
	n->kind = kind;
	n->line = (uint32_t)mark.line + 1;
	n->col = (uint32_t)mark.column + 1;
	map_position(L->map, &n->line, &n->col);
	return n;
}

static int on_scalar(yloader *L, yaml_event_t *ev)
{
	ynode *n = new_node(L, YN_STR, ev->start_mark);
	const char *tag = (const char *)ev->data.scalar.tag;
	n->str = arena_strndup(L->a, (const char *)ev->data.scalar.value, ev->data.scalar.length);
	n->len = ev->data.scalar.length;
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	n->weight = 1;
	n->bytes = n->len + 1;
	if (!tag || !strcmp(tag, "!")) {
		if (ev->data.scalar.plain_implicit)
			resolve_plain(n);
	} else {
		resolve_tagged(L, n, tag);
	}
	if (ev->data.scalar.anchor && anchor_add(L, (const char *)ev->data.scalar.anchor, n))
		return -1;
	return attach(L, n, 1, n->bytes, n->line, n->col);
}

static bool container_tag_ok(const char *tag, bool map)
{
	if (!tag || !strcmp(tag, "!"))
		return true;
	if (strncmp(tag, TAG_PREFIX, TAG_PREFIX_LEN) != 0)
		return false;
	tag += TAG_PREFIX_LEN;
	/* SafeConstructor's, and FullLoader's python/dict, list and tuple */
	if (map)
		return !strcmp(tag, "map") || !strcmp(tag, "set") || !strcmp(tag, "python/dict");
	return !strcmp(tag, "seq") || !strcmp(tag, "omap") || !strcmp(tag, "pairs") ||
	       !strcmp(tag, "python/list") || !strcmp(tag, "python/tuple");
}

static int on_start(yloader *L, yaml_event_t *ev, bool map)
{
	ynode *n = new_node(L, map ? YN_MAP : YN_SEQ, ev->start_mark);
	const char *tag =
	    (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	const char *anchor =
	    (const char *)(map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
	if (!container_tag_ok(tag, map)) {
		char *msg =
		    arena_printf(L->a, "could not determine a constructor for the tag '%s'", tag);
		defer_error(L, msg, n->line, n->col, NULL, 0, 0);
	}
	/* weight stays 0 until the end event: aliases to it meanwhile are cycles. */
	if (anchor && anchor_add(L, anchor, n))
		return -1;
	if (attach(L, n, 1, 1, n->line, n->col))
		return -1;
	if (L->nframes >= YAML_MAX_DEPTH) {
		char msg[96];
		snprintf(msg, sizeof(msg), "document nested too deeply (more than %u levels)",
		         (unsigned)YAML_MAX_DEPTH);
		fail_at(L->doc, "E003", msg, n->line, n->col, NULL, 0, 0);
		return -1;
	}
	if (L->nframes == L->frames_cap) {
		L->frames_cap = L->frames_cap ? L->frames_cap * 2 : 32;
		L->frames = xrealloc(L->frames, L->frames_cap * sizeof(*L->frames));
	}
	L->frames[L->nframes].node = n;
	L->frames[L->nframes].base = L->nkids;
	L->nframes++;
	return 0;
}

static int on_alias(yloader *L, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	uint32_t line = (uint32_t)ev->start_mark.line + 1,
	         col = (uint32_t)ev->start_mark.column + 1;
	map_position(L->map, &line, &col);
	ynode *n = anchor_find(L, name);
	if (!n) {
		char *msg = arena_printf(L->a, "found undefined alias '%s'", name);
		fail_at(L->doc, "E001", msg, line, col, NULL, 0, 0);
		return -1;
	}
	if (n->weight == 0) {
		char *msg = arena_printf(
		    L->a, "recursive alias '%s' (alias expansion would never end)", name);
		fail_at(L->doc, "E003", msg, line, col, NULL, 0, 0);
		return -1;
	}
	return attach(L, n, n->weight, n->bytes, line, col);
}

/* ---- mappings: merge keys and duplicate keys ---- */

static void scratch_reserve(yloader *L, size_t n)
{
	if (n <= L->scratch_cap)
		return;
	size_t cap = L->scratch_cap ? L->scratch_cap : 64;
	while (cap < n)
		cap *= 2;
	L->scratch = xrealloc(L->scratch, cap * sizeof(*L->scratch));
	L->scratch_cap = cap;
}

/* Python dict key identity: 1 == 1.0 == true, strings by text, NaN and
 * containers only by identity. */
typedef struct ykey {
	int cls;
	int64_t i;
	double f;
} ykey;

enum { YK_NULL, YK_NUM, YK_FLOAT, YK_STR, YK_DATE, YK_DATETIME, YK_IDENTITY };

static ykey key_of(const ynode *n)
{
	ykey k = {YK_IDENTITY, 0, 0};
	switch (n->kind) {
	case YN_NULL:
		k.cls = YK_NULL;
		break;
	case YN_BOOL:
		k.cls = YK_NUM;
		k.i = n->v.b;
		break;
	case YN_INT:
		k.cls = YK_NUM;
		k.i = n->v.i;
		break;
	case YN_FLOAT:
		if (isnan(n->v.f))
			break;
		if (n->v.f == trunc(n->v.f) && fabs(n->v.f) < 9.2e18) {
			k.cls = YK_NUM;
			k.i = (int64_t)n->v.f;
		} else {
			k.cls = YK_FLOAT;
			k.f = n->v.f;
		}
		break;
	case YN_STR:
		k.cls = YK_STR;
		break;
	case YN_DATE:
		k.cls = YK_DATE;
		break;
	case YN_DATETIME:
		k.cls = YK_DATETIME;
		break;
	default:
		break;
	}
	return k;
}

static bool keys_equal(const ynode *a, const ynode *b)
{
	ykey ka, kb;
	if (a == b)
		return true;
	ka = key_of(a);
	kb = key_of(b);
	if (ka.cls != kb.cls)
		return false;
	switch (ka.cls) {
	case YK_NULL:
		return true;
	case YK_NUM:
		return ka.i == kb.i;
	case YK_FLOAT:
		return ka.f == kb.f;
	case YK_STR:
	case YK_DATE:
	case YK_DATETIME:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	default:
		return false;
	}
}

static uint64_t key_hash(const ynode *n)
{
	ykey k = key_of(n);
	uint64_t h = HASH_SEED ^ (uint64_t)k.cls;
	switch (k.cls) {
	case YK_NUM:
		h ^= (uint64_t)k.i;
		break;
	case YK_FLOAT: {
		uint64_t bits;
		memcpy(&bits, &k.f, sizeof(bits));
		h ^= bits;
		break;
	}
	case YK_STR:
	case YK_DATE:
	case YK_DATETIME:
		return hash_bytes(n->str, n->len, h);
	case YK_IDENTITY:
		h ^= (uint64_t)(uintptr_t)n;
		break;
	default:
		break;
	}
	h *= 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 29);
}

/* As a Python dict built from the pairs in order: the first occurrence's key
 * keeps its place and takes the last occurrence's value (so `1:` then
 * `true:` is one key 1). Compacts p in place. */
static size_t dedup_pairs(yloader *L, ypair *p, size_t n)
{
	size_t out = 0, mask, cap;
	if (n <= 16) {
		for (size_t i = 0; i < n; i++) {
			size_t j;
			for (j = 0; j < out; j++)
				if (keys_equal(p[j].key, p[i].key))
					break;
			if (j < out) {
				p[j].val = p[i].val; /* a Python dict keeps the first key */
				p[j].replaced = true;
			} else
				p[out++] = p[i];
		}
		return out;
	}
	cap = 64;
	while (cap < n * 2)
		cap *= 2;
	if (cap > L->slots_cap) {
		free(L->slots);
		L->slots = xmalloc(cap * sizeof(*L->slots));
		L->slots_cap = cap;
	}
	memset(L->slots, 0xFF, cap * sizeof(*L->slots));
	mask = cap - 1;
	for (size_t i = 0; i < n; i++) {
		size_t h = (size_t)key_hash(p[i].key) & mask;
		ypair cur = p[i];
		for (;;) {
			uint32_t s = L->slots[h];
			if (s == UINT32_MAX) {
				L->slots[h] = (uint32_t)out;
				p[out++] = cur;
				break;
			}
			if (keys_equal(p[s].key, cur.key)) {
				p[s].val = cur.val; /* a Python dict keeps the first key */
				p[s].replaced = true;
				break;
			}
			h = (h + 1) & mask;
		}
	}
	return out;
}

static bool is_merge_key(const ynode *k)
{
	return k->kind == YN_STR && k->v.i == YMARK_MERGE;
}

static const char *node_id(const ynode *n)
{
	return n->kind == YN_SEQ ? "sequence" : n->kind == YN_MAP ? "mapping" : "scalar";
}

static void merge_error(yloader *L, ynode *m, const ynode *v, const char *expected)
{
	char *msg =
	    arena_printf(L->a, "expected %s for merging, but found %s", expected, node_id(v));
	defer_error(L, msg, v->line, v->col, "while constructing a mapping", m->line, m->col);
}

static void append_pairs(yloader *L, size_t *cnt, const ynode *src)
{
	scratch_reserve(L, *cnt + src->n);
	if (src->n)
		memcpy(L->scratch + *cnt, src->pairs, src->n * sizeof(ypair));
	*cnt += src->n;
}

/* SafeConstructor.flatten_mapping + construct_mapping: the pairs of `<<` values
 * (a mapping, or a list of mappings where earlier ones win) come first, then the
 * explicit pairs, and later keys override earlier ones. */
static void finish_map(yloader *L, yframe *f)
{
	ynode *m = f->node;
	ynode **kv = L->kids + f->base;
	size_t np = (L->nkids - f->base) / 2, cnt = 0;
	bool has_merge = false;
	uint64_t w = 1;

	for (size_t i = 0; i < np; i++)
		if (is_merge_key(kv[2 * i]))
			has_merge = true;
	if (has_merge) {
		for (size_t i = 0; i < np; i++) {
			ynode *v = kv[2 * i + 1];
			if (!is_merge_key(kv[2 * i]))
				continue;
			if (v->kind == YN_MAP) {
				append_pairs(L, &cnt, v);
			} else if (v->kind == YN_SEQ) {
				for (size_t j = 0; j < v->n; j++)
					if (v->items[j]->kind != YN_MAP)
						merge_error(L, m, v->items[j], "a mapping");
				for (size_t j = v->n; j-- > 0;)
					if (v->items[j]->kind == YN_MAP)
						append_pairs(L, &cnt, v->items[j]);
			} else {
				merge_error(L, m, v, "a mapping or list of mappings");
			}
		}
	}
	scratch_reserve(L, cnt + np);
	for (size_t i = 0; i < np; i++) {
		if (has_merge && is_merge_key(kv[2 * i]))
			continue;
		L->scratch[cnt].key = kv[2 * i];
		L->scratch[cnt].val = kv[2 * i + 1];
		L->scratch[cnt].replaced = false;
		cnt++;
	}
	cnt = dedup_pairs(L, L->scratch, cnt);
	m->n = cnt;
	if (cnt) {
		m->pairs = arena_alloc(L->a, cnt * sizeof(ypair));
		memcpy(m->pairs, L->scratch, cnt * sizeof(ypair));
	}
	uint64_t b = 1;
	for (size_t i = 0; i < cnt; i++) {
		w = sat_add(w, sat_add(m->pairs[i].key->weight, m->pairs[i].val->weight));
		b = sat_add(b, sat_add(m->pairs[i].key->bytes, m->pairs[i].val->bytes));
	}
	m->weight = w;
	m->bytes = b;
}

static void finish_seq(yloader *L, yframe *f)
{
	ynode *s = f->node;
	size_t n = L->nkids - f->base;
	uint64_t w = 1;
	s->n = n;
	if (n) {
		s->items = arena_alloc(L->a, n * sizeof(ynode *));
		memcpy(s->items, L->kids + f->base, n * sizeof(ynode *));
	}
	uint64_t b = 1;
	for (size_t i = 0; i < n; i++) {
		w = sat_add(w, s->items[i]->weight);
		b = sat_add(b, s->items[i]->bytes);
	}
	s->weight = w;
	s->bytes = b;
}

static void on_end(yloader *L)
{
	yframe *f = top_frame(L);
	if (!f)
		return;
	if (f->node->kind == YN_MAP)
		finish_map(L, f);
	else
		finish_seq(L, f);
	L->nkids = f->base;
	L->nframes--;
}

/* ---- driver ---- */

static void set_libyaml_error(yloader *L)
{
	yaml_parser_t *p = &L->parser;
	ydoc *doc = L->doc;
	uint32_t line, col, cline, ccol;
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		fail_at(doc, "E004", "out of memory while parsing YAML", 0, 0, NULL, 0, 0);
		break;
	case YAML_READER_ERROR: /* problem_offset: a byte offset of the expanded text */
		if (L->map)
			file_position(L->map, file_offset(L->map, p->problem_offset), &line, &col);
		else
			position_of(doc->text, doc->text_len, p->problem_offset, &line, &col);
		fail_at(doc, "E001", p->problem ? p->problem : "cannot read input", line, col, NULL,
		        0, 0);
		break;
	default:
		line = (uint32_t)p->problem_mark.line + 1;
		col = (uint32_t)p->problem_mark.column + 1;
		cline = (uint32_t)p->context_mark.line + 1;
		ccol = (uint32_t)p->context_mark.column + 1;
		map_position(L->map, &line, &col);
		map_position(L->map, &cline, &ccol);
		if (!L->map) {
			/* at the end of a text without a final line break, libyaml's mark
			 * is on the line after the last, which no editor has: the end of
			 * the text instead (as map_position gives) */
			uint32_t eline, ecol;
			position_of(doc->text, doc->text_len, doc->text_len, &eline, &ecol);
			if (line > eline || (line == eline && col > ecol)) {
				line = eline;
				col = ecol;
			}
		}
		fail_at(doc, "E001", p->problem ? p->problem : "invalid YAML", line, col,
		        p->context, cline, ccol);
		break;
	}
}

static int run_parser(yloader *L)
{
	int docs = 0;
	for (;;) {
		yaml_event_t ev;
		int rc = 0;
		bool done = false;
		if (!yaml_parser_parse(&L->parser, &ev)) {
			set_libyaml_error(L);
			return -1;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ > 0) {
				/* PyYAML: "expected a single document in the stream" (at the
				 * first document), "but found another document" (here). */
				uint32_t line = (uint32_t)ev.start_mark.line + 1,
				         col = (uint32_t)ev.start_mark.column + 1;
				map_position(L->map, &line, &col);
				fail_at(L->doc, "E001", "expected a single document in the stream",
				        line, col, NULL, 0, 0);
				rc = -1;
			}
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(L, &ev);
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(L, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_start(L, &ev, false);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_start(L, &ev, true);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			on_end(L);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc)
			return -1;
		if (done)
			break;
	}
	/* A document without content ("---" alone) has an empty null scalar as its
	 * root: report it as an empty document, like an empty stream. */
	if (L->doc->root && L->doc->root->kind == YN_NULL && L->doc->root->len == 0 &&
	    !L->doc->root->quoted)
		L->doc->root = NULL;
	if (L->has_pending) {
		fail_at(L->doc, L->pending.code, L->pending.msg, L->pending.line, L->pending.col,
		        L->pending.ctx, L->pending.cline, L->pending.ccol);
		return -1;
	}
	return 0;
}

/* Records a denied variable once, with the position of its '$' (computed once the
 * expansion is done: its offset in the expanded text is stashed in line until then). */
static void note_denied(void *ud, const char *name, size_t len, size_t offset)
{
	ydoc *doc = ud;
	for (size_t i = 0; i < doc->n_env_denied; i++)
		if (strlen(doc->env_denied[i].name) == len &&
		    memcmp(doc->env_denied[i].name, name, len) == 0)
			return;
	yenv_denied *v = arena_alloc(&doc->arena, (doc->n_env_denied + 1) * sizeof *v);
	if (doc->n_env_denied)
		memcpy(v, doc->env_denied, doc->n_env_denied * sizeof *v);
	v[doc->n_env_denied].name = arena_strndup(&doc->arena, name, len);
	v[doc->n_env_denied].line = (uint32_t)offset;
	v[doc->n_env_denied].col = 0;
	doc->env_denied = v;
	doc->n_env_denied++;
}

int yaml_load(ydoc *doc, const char *text, size_t len)
{
	yloader L;
	ysrcmap map = {0};
	yseg *segs = NULL;
	int rc = -1;
	memset(doc, 0, sizeof(*doc));
	arena_init(&doc->arena);
	if (!text) {
		text = "";
		len = 0;
	}
	if (!check_text(doc, text, len))
		return -1;
	if (memchr(text, '$', len)) {
		size_t n;
		char *e = expand_env(text, len, &n, note_denied, doc, &segs, &map.nsegs);
		doc->text = arena_strndup(&doc->arena, e, n);
		doc->text_len = n;
		free(e);
	} else {
		doc->text = arena_strndup(&doc->arena, text, len);
		doc->text_len = len;
	}
	map.file = text;
	map.file_len = len;
	map.text = doc->text;
	map.text_len = doc->text_len;
	map.segs = segs;
	if (map.nsegs) {
		map.text_lines = line_starts(doc->text, doc->text_len, &map.ntext_lines);
		map.file_lines = line_starts(text, len, &map.nfile_lines);
	}
	/* a denied variable is left as written: outside every value, so its '$' is
	 * exactly where the file has it */
	for (size_t i = 0; i < doc->n_env_denied; i++) {
		uint32_t l, c;
		position_of(text, len, file_offset(&map, doc->env_denied[i].line), &l, &c);
		doc->env_denied[i].line = l;
		doc->env_denied[i].col = c;
	}

	memset(&L, 0, sizeof(L));
	L.doc = doc;
	L.a = &doc->arena;
	L.map = map.nsegs ? &map : NULL;
	L.max_bytes =
	    sat_add(YAML_EXPANDED_BYTES_BASE, (uint64_t)doc->text_len * YAML_EXPANDED_BYTES_FACTOR);
	if (!yaml_parser_initialize(&L.parser)) {
		fail_at(doc, "E004", "out of memory while parsing YAML", 0, 0, NULL, 0, 0);
		goto out;
	}
	yaml_parser_set_input_string(&L.parser, (const unsigned char *)doc->text, doc->text_len);
	rc = run_parser(&L);
	if (rc)
		doc->root = NULL;
	yaml_parser_delete(&L.parser);
out:
	free(L.frames);
	free(L.kids);
	free(L.anchors);
	free(L.scratch);
	free(L.slots);
	free(segs);
	free(map.text_lines);
	free(map.file_lines);
	return rc;
}

void yaml_doc_free(ydoc *doc)
{
	if (!doc)
		return;
	arena_free(&doc->arena);
	memset(doc, 0, sizeof(*doc));
}

/* ---- accessors ---- */

ypair *ynode_get_pair(const ynode *map, const char *key)
{
	ypair *other = NULL;
	size_t klen;
	if (!map || map->kind != YN_MAP || !key)
		return NULL;
	klen = strlen(key);
	for (size_t i = 0; i < map->n; i++) {
		ypair *p = &map->pairs[i];
		if (!ynode_is_scalar(p->key) || p->key->len != klen ||
		    memcmp(p->key->str, key, klen) != 0)
			continue;
		if (p->key->kind == YN_STR)
			return p;
		if (!other)
			other = p;
	}
	return other;
}

ynode *ynode_get(const ynode *map, const char *key)
{
	ypair *p = ynode_get_pair(map, key);
	return p ? p->val : NULL;
}

bool ynode_is_scalar(const ynode *n)
{
	return n && n->kind != YN_SEQ && n->kind != YN_MAP;
}

const char *ynode_kind_name(ynode_kind k)
{
	switch (k) {
	case YN_NULL:
		return "null";
	case YN_BOOL:
		return "boolean";
	case YN_INT:
		return "integer";
	case YN_FLOAT:
		return "float";
	case YN_STR:
		return "string";
	case YN_DATE:
		return "date";
	case YN_DATETIME:
		return "datetime";
	case YN_SEQ:
		return "list";
	case YN_MAP:
		return "mapping";
	}
	return "unknown";
}
