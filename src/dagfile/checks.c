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

/* Airflow's cron_presets (airflow.utils.dates), mapped before croniter sees
 * the expression, exact spelling; then croniter's own aliases, any case. */
static const char *const airflow_presets[] = {"@hourly",  "@daily",     "@weekly",
                                              "@monthly", "@quarterly", "@yearly"};
static const char *const croniter_aliases[] = {"@midnight", "@hourly", "@daily",   "@weekly",
                                               "@monthly",  "@yearly", "@annually"};

bool cron_is_preset(const char *expr)
{
	if (!expr)
		return false;
	for (size_t i = 0; i < sizeof(airflow_presets) / sizeof(airflow_presets[0]); i++)
		if (strcmp(expr, airflow_presets[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(croniter_aliases) / sizeof(croniter_aliases[0]); i++)
		if (strcasecmp(expr, croniter_aliases[i]) == 0)
			return true;
	return false;
}

enum { CF_MIN, CF_HOUR, CF_DAY, CF_MONTH, CF_DOW, CF_SEC, CF_YEAR };

static const int cr_lo[7] = {0, 0, 1, 1, 0, 0, 1970};
static const int cr_hi[7] = {59, 23, 31, 12, 6, 59, 2099};
static const char *const cr_name[7] = {"minute",      "hour",   "day of month", "month",
                                       "day of week", "second", "year"};
static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

#define CRON_TOK_MAX 64
#define CRON_L       (-1) /* the value 'l' (last day of the month) */
#define CRON_BAD     (-2)

typedef struct cron_ctx {
	int field, nfields;
	char *why;
	size_t whylen;
	unsigned dow_all, dow_nth; /* day-of-week values seen, and those with an nth */
	bool dow_star;
} cron_ctx;

static bool cron_fail(const cron_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool cron_fail(const cron_ctx *c, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_why(c->why, c->whylen, "field %d (%s): %s", c->field + 1, cr_name[c->field], msg);
	return false;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* int() of a digit string, saturating (croniter compares it with the field's
 * bounds, so any value past them is as good as the real one). */
static long digits_value(const char *s, size_t n)
{
	long v = 0;
	for (size_t i = 0; i < n; i++)
		v = v < 100000000 ? v * 10 + (s[i] - '0') : v;
	return v;
}

/* croniter._alphaconv: names of the month and day-of-week fields, 'l' in the
 * day-of-month field; anything else is an error. */
static long cron_alpha(const cron_ctx *c, const char *s, size_t n)
{
	char tok[CRON_TOK_MAX];
	snprintf(tok, sizeof(tok), "%.*s", (int)(n < CRON_TOK_MAX - 1 ? n : CRON_TOK_MAX - 1), s);
	if (c->field == CF_DAY && n == 1 && s[0] == 'l')
		return CRON_L;
	const char *const *names = c->field == CF_MONTH ? month_names
	                           : c->field == CF_DOW ? dow_names
	                                                : NULL;
	int nn = c->field == CF_MONTH ? 12 : 7, base = c->field == CF_MONTH ? 1 : 0;
	for (int i = 0; names && i < nn; i++)
		if (n == 3 && memcmp(names[i], s, 3) == 0)
			return base + i;
	if (n == 0)
		cron_fail(c, "empty list item");
	else if (names)
		cron_fail(c, "unknown name '%s'", tok);
	else
		cron_fail(c, "'%s' is not a number", tok);
	return CRON_BAD;
}

/* croniter.value_alias: 0 is 1 in the day and month fields and 7 is Sunday,
 * except where croniter turns it off for the field count. */
static long cron_alias(const cron_ctx *c, long v)
{
	int f = c->field, n = c->nfields;
	if ((f == CF_DAY || f == CF_MONTH) && n == 5)
		return v;
	if ((f == CF_MONTH || f == CF_DOW) && n == 6)
		return v;
	if ((f == CF_DAY || f == CF_MONTH || f == CF_DOW) && n == 7)
		return v;
	if ((f == CF_DAY || f == CF_MONTH) && v == 0)
		return 1;
	if (f == CF_DOW && v == 7)
		return 0;
	return v;
}

/* A value the expansion produces: in range after the alias. */
static bool cron_value_ok(cron_ctx *c, long v, long nth)
{
	long raw = v;
	v = cron_alias(c, v);
	if (v < cr_lo[c->field] || v > cr_hi[c->field]) {
		if (raw >= 100000000)
			return cron_fail(c, "the value is out of range %d-%d", cr_lo[c->field],
			                 cr_hi[c->field]);
		return cron_fail(c, "%ld is out of range %d-%d", v, cr_lo[c->field],
		                 cr_hi[c->field]);
	}
	if (c->field == CF_DOW) {
		c->dow_all |= 1u << v;
		if (nth)
			c->dow_nth |= 1u << v;
	}
	return true;
}

/* One band of a range: digits or a name (alphaconv), then digits only. */
static bool cron_band(cron_ctx *c, const char *s, size_t n, long *out)
{
	if (all_digits(s, n)) {
		*out = digits_value(s, n);
		return true;
	}
	long v = cron_alpha(c, s, n);
	if (v == CRON_BAD)
		return false;
	if (v == CRON_L) {
		char tok[CRON_TOK_MAX];
		snprintf(tok, sizeof(tok), "%.*s", (int)(n < 40 ? n : 40), s);
		return cron_fail(c, "'%s' cannot be a bound of a range", tok);
	}
	*out = v;
	return true;
}

/* croniter's special_dow_re: "<day or month name, name range or word>#<n>" and
 * "l<n>"; he and helen get the part before the hash (or the digits after the l). */
static bool cron_special_dow(const char *e, size_t n, const char **he, size_t *helen, long *nth,
                             bool *last)
{
	*last = false;
	if (n >= 2 && e[0] == 'l' && all_digits(e + 1, n - 1)) {
		*he = e + 1;
		*helen = n - 1;
		*last = true;
		return true;
	}
	const char *hash = memchr(e, '#', n);
	if (!hash || hash == e || !all_digits(hash + 1, (size_t)(e + n - hash - 1)))
		return false;
	size_t hl = (size_t)(hash - e);
	bool word = true;
	for (size_t i = 0; i < hl; i++)
		if (!(is_alpha(e[i]) || is_digit(e[i]) || e[i] == '_'))
			word = false;
	if (!word) {
		/* name-name with names of one kind */
		const char *dash = memchr(e, '-', hl);
		if (!dash || dash - e != 3 || hl != 7)
			return false;
		int kind[2] = {0, 0};
		for (int k = 0; k < 2; k++) {
			const char *nm = k ? dash + 1 : e;
			for (int i = 0; i < 7; i++)
				if (memcmp(nm, dow_names[i], 3) == 0)
					kind[k] = 1;
			for (int i = 0; i < 12; i++)
				if (memcmp(nm, month_names[i], 3) == 0)
					kind[k] = 2;
		}
		if (!kind[0] || kind[0] != kind[1])
			return false;
	}
	*he = e;
	*helen = hl;
	*nth = digits_value(hash + 1, (size_t)(e + n - hash - 1));
	return true;
}

/* One comma-separated item of a field, as croniter._expand's loop body. */
static bool cron_item(cron_ctx *c, const char *e, size_t n)
{
	char tok[CRON_TOK_MAX];
	long nth = 0;
	int lo = cr_lo[c->field], hi = cr_hi[c->field];
	snprintf(tok, sizeof(tok), "%.*s", (int)(n < 40 ? n : 40), e);
	if (c->field == CF_DOW) {
		const char *he;
		size_t hl;
		bool last;
		if (cron_special_dow(e, n, &he, &hl, &nth, &last)) {
			if (last) {
				nth = -1; /* 'l': the last such day; e is the digits */
			} else if (nth < 1 || nth > 5) {
				return cron_fail(c, "'%s': the number after '#' must be 1-5", tok);
			}
			e = he;
			n = hl;
		}
	}
	/* "*" with a step is min-max and the step; "start" with a step is start-max */
	const char *slash = NULL;
	for (size_t i = n; i-- > 0;)
		if (e[i] == '/') {
			slash = e + i;
			break;
		}
	const char *low_s = NULL, *high_s = NULL, *step_s = NULL;
	size_t low_n = 0, high_n = 0, step_n = 0;
	bool ranged = false;
	const char *dash = memchr(e, '-', n);
	if (n >= 2 && e[0] == '*' && e[1] == '/') {
		/* min-max/rest: a step that is not digits makes it no range */
		step_s = e + 2;
		step_n = n - 2;
		if (all_digits(step_s, step_n))
			ranged = true; /* low/high are the field's bounds */
	} else if (dash && dash > e) {
		/* step_search_re: ^([^-]+)-([^-/]+)(/(\d+))?$ */
		const char *h = dash + 1, *end = e + n;
		const char *hs = memchr(h, '/', (size_t)(end - h));
		const char *he = hs ? hs : end;
		bool ok = he > h && memchr(h, '-', (size_t)(he - h)) == NULL;
		if (ok && hs)
			ok = all_digits(hs + 1, (size_t)(end - hs - 1));
		if (ok && memchr(e, '-', (size_t)(dash - e)) == NULL) {
			ranged = true;
			low_s = e;
			low_n = (size_t)(dash - e);
			high_s = h;
			high_n = (size_t)(he - h);
			if (hs) {
				step_s = hs + 1;
				step_n = (size_t)(end - hs - 1);
			}
		}
	}
	if (!ranged && slash && slash > e && slash + 1 < e + n && !memchr(e, '-', n)) {
		/* "{start}/{step}" -> "{start}-{max}/{step}" */
		if (all_digits(slash + 1, (size_t)(e + n - slash - 1))) {
			ranged = true;
			low_s = e;
			low_n = (size_t)(slash - e);
			high_s = NULL;
			step_s = slash + 1;
			step_n = (size_t)(e + n - slash - 1);
		}
	}
	if (ranged) {
		long low, high, step = 1;
		if (low_s == NULL) {
			low = lo;
			high = hi;
		} else {
			if (c->field == CF_DAY && high_s && high_n == 1 && high_s[0] == 'l') {
				high_s = "31";
				high_n = 2;
			}
			if (!cron_band(c, low_s, low_n, &low))
				return false;
			if (!high_s)
				high = hi;
			else if (!cron_band(c, high_s, high_n, &high))
				return false;
		}
		if (step_s)
			step = digits_value(step_s, step_n);
		if (step < 1)
			return cron_fail(c, "step must be at least 1");
		low = cron_alias(c, low);
		high = cron_alias(c, high);
		if ((low > high ? low : high) > hi)
			return cron_fail(c, "%s is out of range %d-%d", tok, lo, hi);
		if (low == high)
			low = lo, high = hi; /* "Jan-Jan": the whole cycle */
		/* every value the range yields must be in range: it starts at low */
		if (!cron_value_ok(c, low, nth))
			return false;
		if (c->field == CF_DOW) {
			long a = low, b = low <= high ? high : hi;
			for (long v = a; v <= b; v += step)
				cron_value_ok(c, v, nth);
			if (low > high)
				for (long v = lo; v <= high; v += step)
					cron_value_ok(c, v, nth);
		}
		return true;
	}
	if (n > 0 && e[0] == '-')
		return cron_fail(c, "'%s': negative numbers are not allowed", tok);
	if (n == 1 && e[0] == '*') {
		if (c->field == CF_DOW)
			c->dow_star = true;
		return true;
	}
	long v;
	if (all_digits(e, n)) {
		v = digits_value(e, n);
	} else {
		v = cron_alpha(c, e, n);
		if (v == CRON_BAD)
			return false;
		if (v == CRON_L)
			return true;
	}
	return cron_value_ok(c, v, nth);
}

/* croniter's HashExpander on a whole field: "h..." needs a hash id (Airflow
 * gives none); "r", "r(a-b)", "r/n", "r(a-b)/n" pick a random value. */
static int cron_hash(cron_ctx *c, const char *e, size_t n)
{
	if (n == 0 || (e[0] != 'h' && e[0] != 'r'))
		return 0;
	const char *p = e + 1, *end = e + n;
	long rb = -1, re = -1, div = -1;
	if (p < end && *p == '(') {
		const char *q = ++p;
		while (p < end && is_digit(*p))
			p++;
		if (p == q || p >= end || *p != '-')
			return 0;
		rb = digits_value(q, (size_t)(p - q));
		q = ++p;
		while (p < end && is_digit(*p))
			p++;
		if (p == q || p >= end || *p != ')')
			return 0;
		re = digits_value(q, (size_t)(p - q));
		p++;
	}
	if (p < end && *p == '/') {
		const char *q = ++p;
		while (p < end && is_digit(*p))
			p++;
		if (p == q)
			return 0;
		div = digits_value(q, (size_t)(p - q));
	}
	if (p != end)
		return 0;
	if (e[0] == 'h')
		return cron_fail(c, "'H' (hashed) needs a hash id, which Airflow does not give "
		                    "croniter"),
		       -1;
	if (rb >= 0 && rb >= re)
		return cron_fail(c, "R(%ld-%ld): the end must be greater than the start", rb, re),
		       -1;
	if (div == 0)
		return cron_fail(c, "R/0: the step must be at least 1"), -1;
	if (rb >= 0 && (rb < cr_lo[c->field] || re > cr_hi[c->field]))
		return cron_fail(c, "R(%ld-%ld) reaches out of range %d-%d", rb, re,
		                 cr_lo[c->field], cr_hi[c->field]),
		       -1;
	return 1;
}

bool cron_check(const char *expr, cron_info *info, char *why, size_t whylen)
{
	char buf[512];
	const char *starts[8];
	size_t lens[8], nf = 0;

	if (info)
		memset(info, 0, sizeof(*info));
	if (why && whylen)
		why[0] = '\0';
	if (!expr) {
		set_why(why, whylen, "empty cron expression");
		return false;
	}
	for (size_t i = 0; i < sizeof(airflow_presets) / sizeof(airflow_presets[0]); i++)
		if (strcmp(expr, airflow_presets[i]) == 0)
			return true;
	size_t len = strlen(expr);
	if (len >= sizeof(buf)) {
		set_why(why, whylen, "cron expression longer than %zu characters", sizeof(buf) - 1);
		return false;
	}
	/* croniter works on the lowercased expression */
	for (size_t i = 0; i <= len; i++)
		buf[i] = (char)((expr[i] >= 'A' && expr[i] <= 'Z') ? expr[i] + 32 : expr[i]);
	for (size_t i = 0; i < sizeof(croniter_aliases) / sizeof(croniter_aliases[0]); i++)
		if (strcmp(buf, croniter_aliases[i]) == 0)
			return true;
	/* str.split(): runs of whitespace, none at the ends */
	const char *p = buf;
	for (;;) {
		while (is_blank(*p) || (*p >= 0x1c && *p <= 0x1f))
			p++;
		if (!*p)
			break;
		const char *s = p;
		while (*p && !is_blank(*p) && !(*p >= 0x1c && *p <= 0x1f))
			p++;
		if (nf < 8) {
			starts[nf] = s;
			lens[nf] = (size_t)(p - s);
		}
		nf++;
	}
	if (nf == 0) {
		set_why(why, whylen, "empty cron expression");
		return false;
	}
	if (nf < 5 || nf > 7) {
		if (buf[0] == '@')
			set_why(
			    why, whylen,
			    "unknown preset '%.*s'; expected one of @once, @continuous, @hourly, "
			    "@daily, @weekly, @monthly, @quarterly, @yearly, @annually, @midnight",
			    (int)(len < 40 ? len : 40), expr);
		else
			set_why(why, whylen,
			        "expected 5 fields (minute hour day-of-month month day-of-week), "
			        "or 6 or 7 "
			        "with croniter's seconds and year; found %zu",
			        nf);
		return false;
	}
	cron_ctx c = {0};
	c.nfields = (int)nf;
	c.why = why;
	c.whylen = whylen;
	if (info)
		info->nfields = (int)nf;
	for (size_t f = 0; f < nf; f++) {
		const char *e = starts[f];
		size_t n = lens[f];
		c.field = (int)f;
		int h = cron_hash(&c, e, n);
		if (h < 0)
			return false;
		if (h > 0) {
			if (info)
				info->random = true;
			continue;
		}
		if (memchr(e, '?', n)) {
			if (n != 1)
				return cron_fail(&c, "'?' cannot be used with other characters");
			if (f != CF_DAY && f != CF_DOW)
				return cron_fail(&c, "'?' is only allowed in the day fields");
			if (info)
				info->question = true;
			if (f == CF_DOW)
				c.dow_star = true;
			continue; /* read as '*' */
		}
		for (;;) {
			const char *comma = memchr(e, ',', n);
			size_t in = comma ? (size_t)(comma - e) : n;
			if (!cron_item(&c, e, in))
				return false;
			if (!comma)
				break;
			n -= in + 1;
			e = comma + 1;
		}
	}
	/* croniter: literal days of the week cannot be mixed with "#n" / "l" ones */
	unsigned lit = c.dow_all & ~c.dow_nth;
	if (c.dow_nth && lit && (unsigned)__builtin_popcount(c.dow_all) != 7) {
		c.field = CF_DOW;
		return cron_fail(&c,
		                 "literal days cannot be mixed with the nth day of week syntax");
	}
	if (info && nf >= 6)
		snprintf(
		    info->second, sizeof(info->second), "%.*s",
		    (int)(lens[5] < sizeof(info->second) - 1 ? lens[5] : sizeof(info->second) - 1),
		    starts[5]);
	return true;
}

bool cron_valid(const char *expr, char *why, size_t whylen)
{
	return cron_check(expr, NULL, why, whylen);
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

/* dag-factory's utils.get_time_delta: the regex
 *   ((\d+?)\s+hour)?((\d+?)\s+minute)?((\d+?)\s+second)?((\d+?)\s+day)?
 * matched (not fully) at the start, ignoring case, with at least one group:
 * so the text must start with digits, blanks and one of those unit words.
 * What follows is ignored ("2 days ago"); "1 week" matches nothing. */
bool date_relative_valid(const char *s)
{
	static const char *const units[] = {"hour", "minute", "second", "day"};
	const char *p = s;

	if (!s || !is_digit(*p))
		return false;
	while (is_digit(*p))
		p++;
	/* timedelta() refuses more than 999999999 days */
	if (p - s > 9 || !is_blank(*p))
		return false;
	while (is_blank(*p))
		p++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strncasecmp(p, units[i], strlen(units[i])) == 0)
			return true;
	return false;
}

/* PyYAML's timestamp (the implicit resolver's regex, then the datetime
 * constructor): YYYY-M-D, then optionally [Tt or blanks]H:MM:SS[.f*], then
 * optionally blanks and Z or +H[H][:MM], with a real calendar, hours 0-23,
 * minutes and seconds 0-59 and an offset under 24 hours. */
bool date_yaml_valid(const char *s)
{
	const char *p = s;
	int y = 0, mo = 0, d = 0, n;

	if (!s)
		return false;
	for (n = 0; n < 4; n++, p++) {
		if (!is_digit(*p))
			return false;
		y = y * 10 + (*p - '0');
	}
	if (*p++ != '-')
		return false;
	for (n = 0; n < 2 && is_digit(*p); n++, p++)
		mo = mo * 10 + (*p - '0');
	if (n == 0 || *p++ != '-')
		return false;
	for (n = 0; n < 2 && is_digit(*p); n++, p++)
		d = d * 10 + (*p - '0');
	if (n == 0 || y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (*p == '\0')
		return true;
	if (*p == 'T' || *p == 't')
		p++;
	else if (*p == ' ' || *p == '\t')
		while (*p == ' ' || *p == '\t')
			p++;
	else
		return false;
	int hh = 0, mi, ss;
	for (n = 0; n < 2 && is_digit(*p); n++, p++)
		hh = hh * 10 + (*p - '0');
	if (n == 0 || hh > 23 || *p++ != ':' || !read_digits(&p, 2, &mi) || mi > 59 ||
	    *p++ != ':' || !read_digits(&p, 2, &ss) || ss > 59)
		return false;
	if (*p == '.') {
		p++;
		while (is_digit(*p))
			p++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || ((*p == 'Z') && p[1] == '\0'))
		return true;
	if (*p != '+' && *p != '-')
		return false;
	p++;
	int th = 0, tm = 0;
	for (n = 0; n < 2 && is_digit(*p); n++, p++)
		th = th * 10 + (*p - '0');
	if (n == 0)
		return false;
	if (*p == ':') {
		p++;
		if (!read_digits(&p, 2, &tm))
			return false;
	}
	return *p == '\0' && th * 60 + tm < 24 * 60;
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
