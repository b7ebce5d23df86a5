/* Validators for schedules (cron as croniter reads it), dates, Airflow ids, and
 * the capped edit distance behind every "did you mean". */
#include "dagfile/checks.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/utf8.h"

/* ---- helpers ---------------------------------------------------------- */

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* ---- cron ------------------------------------------------------------- */

static const char *const cron_presets[] = {
    "@once",   "@hourly",   "@daily",     "@weekly",     "@monthly",
    "@yearly", "@annually", "@quarterly", "@continuous",
};

bool cron_is_preset(const char *expr)
{
	size_t n;

	if (!expr)
		return false;
	while (is_blank(*expr))
		expr++;
	n = strlen(expr);
	while (n > 0 && is_blank(expr[n - 1]))
		n--;
	for (size_t i = 0; i < sizeof(cron_presets) / sizeof(cron_presets[0]); i++)
		if (strlen(cron_presets[i]) == n && memcmp(cron_presets[i], expr, n) == 0)
			return true;
	return false;
}

typedef struct cron_field_def {
	const char *name;
	int lo, hi;
	const char *const *names; /* 3-letter names for lo.. (NULL if none) */
	int names_base;           /* value of names[0] */
	int nnames;
	bool question; /* '?' allowed */
} cron_field_def;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const cron_field_def cron_fields[5] = {
    {"minute", 0, 59, NULL, 0, 0, false},         {"hour", 0, 23, NULL, 0, 0, false},
    {"day of month", 1, 31, NULL, 0, 0, true},    {"month", 1, 12, month_names, 1, 12, false},
    {"day of week", 0, 7, dow_names, 0, 7, true},
};

typedef struct cron_ctx {
	const cron_field_def *def;
	int index; /* 1-based field number */
	char *why;
	size_t whylen;
} cron_ctx;

#define CRON_TOK_MAX 64

/* Copies [s, s+n) into a bounded, printable token for messages. */
static void cron_tok(char *dst, const char *s, size_t n)
{
	if (n >= CRON_TOK_MAX)
		n = CRON_TOK_MAX - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static bool cron_fail(const cron_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool cron_fail(const cron_ctx *c, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_why(c->why, c->whylen, "field %d (%s): %s", c->index, c->def->name, msg);
	return false;
}

/* Parses a number or a name at s; advances *end. Range checked. */
static bool cron_value(const cron_ctx *c, const char *s, const char *lim, const char **end,
                       int *out)
{
	const char *p = s;
	char tok[CRON_TOK_MAX];

	if (p < lim && is_digit(*p)) {
		long v = 0;
		while (p < lim && is_digit(*p)) {
			if (v < 100000)
				v = v * 10 + (*p - '0');
			p++;
		}
		if (p < lim && is_alpha(*p)) {
			while (p < lim && (is_alpha(*p) || is_digit(*p)))
				p++;
			cron_tok(tok, s, (size_t)(p - s));
			return cron_fail(c, "'%s' is not a number", tok);
		}
		cron_tok(tok, s, (size_t)(p - s));
		if (v < c->def->lo || v > c->def->hi)
			return cron_fail(c, "%s is out of range %d-%d", tok, c->def->lo,
			                 c->def->hi);
		*out = (int)v;
		*end = p;
		return true;
	}
	if (p < lim && is_alpha(*p)) {
		while (p < lim && (is_alpha(*p) || is_digit(*p)))
			p++;
		cron_tok(tok, s, (size_t)(p - s));
		if (!c->def->names)
			return cron_fail(c, "'%s' is not a number", tok);
		for (int i = 0; i < c->def->nnames; i++) {
			if ((size_t)(p - s) == 3 && strncasecmp(c->def->names[i], s, 3) == 0) {
				*out = c->def->names_base + i;
				*end = p;
				return true;
			}
		}
		return cron_fail(c, "unknown name '%s'", tok);
	}
	if (p >= lim)
		return cron_fail(c, "value missing");
	cron_tok(tok, s, 1);
	return cron_fail(c, "unexpected '%s'", tok);
}

/* One comma-separated item of a field: [base][/step]. */
static bool cron_item(const cron_ctx *c, const char *s, const char *lim)
{
	const char *p = s;
	char tok[CRON_TOK_MAX];
	int a = 0, b = 0;

	if (p == lim)
		return cron_fail(c, "empty list item");
	if (*p == '*' || *p == '?') {
		if (*p == '?' && !c->def->question)
			return cron_fail(c, "'?' is only allowed in the day fields");
		p++;
	} else if (c->index == 3 && *p == 'L' && p + 1 == lim) {
		/* croniter: 'L' is the last day of the month */
		return true;
	} else {
		if (!cron_value(c, p, lim, &p, &a))
			return false;
		if (p < lim && *p == '-') {
			p++;
			if (!cron_value(c, p, lim, &p, &b))
				return false;
			if (a > b) {
				cron_tok(tok, s, (size_t)(p - s));
				return cron_fail(c, "range %s is reversed (%d > %d)", tok, a, b);
			}
		} else if (c->index == 5 && p < lim && *p == '#') {
			/* croniter: 'day#n' is the n-th such weekday of the month */
			const char *ns = ++p;
			long n = 0;
			while (p < lim && is_digit(*p) && n < 100)
				n = n * 10 + (*p++ - '0');
			if (p == ns || p != lim || n < 1 || n > 5) {
				cron_tok(tok, s, (size_t)(lim - s));
				return cron_fail(c, "'%s': the number after '#' must be 1-5", tok);
			}
			return true;
		}
	}
	if (p < lim && *p == '/') {
		const char *ns = ++p;
		long n = 0;
		while (p < lim && is_digit(*p)) {
			if (n < 100000)
				n = n * 10 + (*p - '0');
			p++;
		}
		if (p == ns || p != lim) {
			cron_tok(tok, ns, (size_t)(lim - ns));
			return cron_fail(c, "step '%s' is not a number", tok);
		}
		if (n < 1)
			return cron_fail(c, "step must be at least 1");
		return true;
	}
	if (p != lim) {
		cron_tok(tok, s, (size_t)(lim - s));
		return cron_fail(c, "cannot read '%s'", tok);
	}
	return true;
}

static bool cron_field(const cron_ctx *c, const char *s, const char *lim)
{
	const char *p = s;

	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(lim - p));
		const char *iend = comma ? comma : lim;
		if (!cron_item(c, p, iend))
			return false;
		if (!comma)
			return true;
		p = comma + 1;
	}
}

bool cron_valid(const char *expr, char *why, size_t whylen)
{
	const char *starts[6], *ends[6];
	size_t nf = 0;
	const char *p;

	if (why && whylen)
		why[0] = '\0';
	if (!expr) {
		set_why(why, whylen, "empty cron expression");
		return false;
	}
	p = expr;
	while (is_blank(*p))
		p++;
	if (*p == '\0') {
		set_why(why, whylen, "empty cron expression");
		return false;
	}
	if (*p == '@') {
		if (cron_is_preset(p))
			return true;
		size_t n = strlen(p);
		while (n > 0 && is_blank(p[n - 1]))
			n--;
		char tok[CRON_TOK_MAX];
		cron_tok(tok, p, n);
		set_why(why, whylen,
		        "unknown preset '%s'; expected one of @once, @hourly, @daily, @weekly, "
		        "@monthly, @quarterly, @yearly, @annually, @continuous",
		        tok);
		return false;
	}
	while (*p) {
		const char *s = p;
		while (*p && !is_blank(*p))
			p++;
		if (nf < 6) {
			starts[nf] = s;
			ends[nf] = p;
		}
		nf++;
		while (is_blank(*p))
			p++;
	}
	if (nf != 5) {
		set_why(why, whylen,
		        "expected 5 fields (minute hour day-of-month month day-of-week), found %zu",
		        nf);
		return false;
	}
	for (int i = 0; i < 5; i++) {
		cron_ctx c = {&cron_fields[i], i + 1, why, whylen};
		if (!cron_field(&c, starts[i], ends[i]))
			return false;
	}
	return true;
}

/* ---- dates ------------------------------------------------------------ */

/* Reads exactly n digits at *p. */
static bool read_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m == 2 && leap)
		return 29;
	return dim[m - 1];
}

/* Z, +HH, +HHMM or +HH:MM, at the end of the string. */
static bool read_offset(const char *p)
{
	int hh, mm = 0;

	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return true;
	if (*p != '+' && *p != '-')
		return false;
	p++;
	if (!read_digits(&p, 2, &hh) || hh > 23)
		return false;
	if (*p == ':')
		p++;
	if (*p != '\0' && (!read_digits(&p, 2, &mm) || mm > 59))
		return false;
	return *p == '\0';
}

bool date_iso_valid(const char *s)
{
	const char *p = s;
	int y, mo, d, hh, mi, ss;

	if (!s)
		return false;
	if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' ||
	    !read_digits(&p, 2, &d))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (*p == '\0')
		return true;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!read_digits(&p, 2, &hh) || hh > 23)
		return false;
	if (*p == ':') {
		p++;
		if (!read_digits(&p, 2, &mi) || mi > 59)
			return false;
		if (*p == ':') {
			p++;
			if (!read_digits(&p, 2, &ss) || ss > 59)
				return false;
			if (*p == '.' || *p == ',') {
				int nd = 0;
				p++;
				while (is_digit(*p)) {
					p++;
					nd++;
				}
				if (nd < 1 || nd > 9)
					return false;
			}
		}
	}
	if (*p == '\0')
		return true;
	return read_offset(p);
}

static const char *const rel_units[] = {"second", "minute", "hour", "day", "week"};

bool date_relative_valid(const char *s)
{
	const char *p = s;
	unsigned seen = 0;
	int parts = 0;

	if (!s)
		return false;
	for (;;) {
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (parts > 0 && strncasecmp(p, "ago", 3) == 0) {
			p += 3;
			while (is_blank(*p))
				p++;
			if (*p != '\0')
				return false;
			break;
		}
		if (!is_digit(*p))
			return false;
		int nd = 0;
		while (is_digit(*p)) {
			p++;
			nd++;
		}
		if (nd > 9 || !is_blank(*p))
			return false;
		while (is_blank(*p))
			p++;
		const char *u = p;
		while (is_alpha(*p))
			p++;
		size_t ul = (size_t)(p - u);
		if (ul > 0 && (u[ul - 1] == 's' || u[ul - 1] == 'S'))
			ul--;
		int unit = -1;
		for (int i = 0; i < 5; i++)
			if (strlen(rel_units[i]) == ul && strncasecmp(rel_units[i], u, ul) == 0)
				unit = i;
		if (unit < 0 || (seen & (1u << unit)))
			return false;
		seen |= 1u << unit;
		parts++;
		if (*p == ',')
			p++;
		else if (*p != '\0' && !is_blank(*p))
			return false;
	}
	return parts > 0;
}

/* ---- Airflow ids -------------------------------------------------------- */

/* Approximates Python's Unicode \w (str.isalnum() or '_') for code points
 * >= 0x80: letters and digits of every script pass; Latin-1 symbols,
 * combining marks, punctuation, symbols, spaces, emoji and private use fail. */
static bool unicode_word(uint32_t c)
{
	if (c < 0x80)
		return false;
	if (c <= 0xBF)
		return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
		       c == 0xBC || c == 0xBD || c == 0xBE;
	if (c == 0xD7 || c == 0xF7)
		return false;
	if (c >= 0x2B9 && c <= 0x36F) /* modifier letters' symbols, combining marks */
		return c <= 0x2C1 || (c >= 0x2C6 && c <= 0x2D1) || (c >= 0x2E0 && c <= 0x2E4) ||
		       c == 0x2EC || c == 0x2EE;
	if (c >= 0x2000 && c <= 0x206F) /* spaces, dashes, quotes, general punctuation */
		return false;
	if (c >= 0x20A0 && c <= 0x20FF) /* currency, combining marks for symbols */
		return false;
	if (c >= 0x2190 && c <= 0x23FF) /* arrows, math operators, technical */
		return false;
	if (c >= 0x2500 && c <= 0x2775) /* boxes, blocks, shapes, dingbats */
		return false;
	if (c >= 0x2794 && c <= 0x2BFF)
		return false;
	if (c >= 0x3000 && c <= 0x3004) /* ideographic space and punctuation */
		return false;
	if (c >= 0x3008 && c <= 0x3020)
		return false;
	if (c >= 0xD800 && c <= 0xF8FF) /* surrogates, private use */
		return false;
	if (c >= 0xFE00 && c <= 0xFE0F) /* variation selectors */
		return false;
	if (c == 0xFEFF || (c >= 0xFFF0 && c <= 0xFFFF))
		return false;
	if (c >= 0x1F000 && c <= 0x1FAFF) /* emoji and pictographs */
		return false;
	if (c >= 0xE0000) /* tags, variation selectors supplement, private use */
		return false;
	return true;
}

#define AIRFLOW_ID_MAX 250

bool airflow_id_valid(const char *id, char *why, size_t whylen)
{
	const unsigned char *p = (const unsigned char *)id;
	size_t pos = 0;

	if (why && whylen)
		why[0] = '\0';
	if (!id || *id == '\0') {
		set_why(why, whylen, "is empty");
		return false;
	}
	size_t left = strlen(id);
	while (*p) {
		uint32_t cp;
		size_t n = utf8_decode(p, left, &cp);
		pos++;
		if (n == 0) {
			set_why(why, whylen, "is not valid UTF-8 at position %zu", pos);
			return false;
		}
		bool ok = cp < 0x80 ? (is_alpha((char)cp) || is_digit((char)cp) || cp == '_' ||
		                       cp == '.' || cp == '-')
		                    : unicode_word(cp);
		if (!ok) {
			if (cp >= 0x21 && cp < 0x7F)
				set_why(why, whylen,
				        "contains '%c' at position %zu; only letters, digits, '_', "
				        "'.' and '-' are allowed",
				        (char)cp, pos);
			else if (cp < 0x80)
				set_why(why, whylen,
				        "contains %s at position %zu; only letters, digits, '_', "
				        "'.' and '-' are allowed",
				        cp == ' '    ? "a space"
				        : cp == '\t' ? "a tab"
				                     : "a control character",
				        pos);
			else
				set_why(why, whylen,
				        "contains '%.*s' (U+%04X) at position %zu; only letters, "
				        "digits, '_', '.' and '-' are allowed",
				        (int)n, (const char *)p, (unsigned)cp, pos);
			return false;
		}
		p += n;
		left -= n;
	}
	if (pos > AIRFLOW_ID_MAX) {
		set_why(why, whylen, "is %zu characters long; at most %d", pos, AIRFLOW_ID_MAX);
		return false;
	}
	return true;
}

/* ---- edit distance ---------------------------------------------------- */

size_t edit_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t over = cap == SIZE_MAX ? cap : cap + 1;
	size_t stack[64], *row, result;

	if ((la > lb ? la - lb : lb - la) > cap)
		return over;
	if (la == 0 || lb == 0) {
		result = la + lb;
		return result > cap ? over : result;
	}
	/* One row over b: row[j] = distance(a[0..i), b[0..j)). */
	row = lb + 1 <= sizeof(stack) / sizeof(stack[0]) ? stack : malloc((lb + 1) * sizeof(*row));
	if (!row)
		abort();
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	result = over;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], rowmin;
		row[0] = i;
		rowmin = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
			if (best < rowmin)
				rowmin = best;
		}
		if (rowmin > cap)
			goto out;
	}
	result = row[lb] > cap ? over : row[lb];
out:
	if (row != stack)
		free(row);
	return result;
}

const char *suggest_name(const char *name, const char *const *candidates, size_t n)
{
	size_t len, limit, best_score = SIZE_MAX;
	const char *best = NULL;

	if (!name || !candidates)
		return NULL;
	len = strlen(name);
	limit = len / 3 > 2 ? len / 3 : 2;
	for (size_t i = 0; i < n; i++) {
		const char *c = candidates[i];
		size_t score;
		if (!c)
			continue;
		/* Scores are doubled distances so that a case-only difference ranks
		 * between an exact match and one real edit. */
		if (strcmp(name, c) == 0) {
			score = 0;
		} else if (strcasecmp(name, c) == 0) {
			score = 1;
		} else {
			size_t d = edit_distance(name, c, limit);
			if (d > limit)
				continue;
			score = 2 * d;
		}
		if (score < best_score) {
			best_score = score;
			best = c;
		}
	}
	return best;
}
