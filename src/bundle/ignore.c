/* .dagignore rules: Airflow's .airflowignore "glob" flavour, i.e. pathspec's
 * GitWildMatchPattern (gitignore) compiled to a token list and matched here. */
#include "bundle/ignore.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"
#include "util/xalloc.h"

#define IGNORE_FILE     ".dagignore"
#define IGNORE_FILE_MAX (1024 * 1024)

/* One token of a compiled pattern; each mirrors a piece of pathspec's regex. */
enum ig_tok_kind {
	TOK_LIT,      /* one literal byte (a) */
	TOK_SLASH,    /* '/' between segments */
	TOK_STAR,     /* [^/]*   '*' inside a segment */
	TOK_SEG,      /* [^/]+   a segment that is exactly '*' */
	TOK_QMARK,    /* [^/]    '?' */
	TOK_CLASS,    /* [...]   body at pat[a..b), negated when neg */
	TOK_LEAD_ANY, /* (?:.+/)?   leading double star */
	TOK_MID_ANY,  /* (?:/.+)?   double star between segments */
	TOK_TAIL_ANY, /* /.*        trailing double star or trailing slash */
	TOK_OPT_TAIL, /* (?:/.*)?   after a last ordinary segment */
};

typedef struct ig_tok {
	unsigned char kind;
	unsigned char neg;
	uint32_t a, b;
} ig_tok;

typedef struct ig_rule {
	char *source; /* the line as written (after comment/blank trimming) */
	char *base;   /* folder of the .dagignore, relative to the root ("" = root) */
	char *pat;    /* the pattern text the class tokens point into */
	ig_tok *toks;
	size_t ntoks;
	size_t nbacktrack; /* tokens that may backtrack (stars) */
	bool negate;
	bool anchored; /* relative to base; else matched against the basename */
} ig_rule;

struct ignore_rules {
	ig_rule *rules;
	size_t n, cap;
};

/* ---- compiling ---------------------------------------------------------- */

static void tok_push(ig_tok **toks, size_t *n, size_t *cap, unsigned char kind, uint32_t a,
                     uint32_t b, bool neg)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*toks = xrealloc(*toks, *cap * sizeof(**toks));
	}
	(*toks)[*n].kind = kind;
	(*toks)[*n].neg = neg;
	(*toks)[*n].a = a;
	(*toks)[*n].b = b;
	(*n)++;
}

/* Glob of one segment [s, e) of pat into tokens ('*', '?', classes, escapes). */
static void compile_segment(const char *pat, size_t s, size_t e, ig_tok **toks, size_t *n,
                            size_t *cap)
{
	size_t i = s;

	while (i < e) {
		char c = pat[i];
		if (c == '\\' && i + 1 < e) {
			tok_push(toks, n, cap, TOK_LIT, (unsigned char)pat[i + 1], 0, false);
			i += 2;
		} else if (c == '*') {
			while (i < e && pat[i] == '*')
				i++;
			tok_push(toks, n, cap, TOK_STAR, 0, 0, false);
		} else if (c == '?') {
			tok_push(toks, n, cap, TOK_QMARK, 0, 0, false);
			i++;
		} else if (c == '[') {
			size_t j = i + 1;
			bool neg = false;
			if (j < e && (pat[j] == '!' || pat[j] == '^')) {
				neg = true;
				j++;
			}
			size_t body = j;
			if (j < e && pat[j] == ']')
				j++;
			while (j < e && pat[j] != ']') {
				if (pat[j] == '\\' && j + 1 < e)
					j++;
				j++;
			}
			if (j >= e) {
				/* no closing bracket: a literal '[' */
				tok_push(toks, n, cap, TOK_LIT, '[', 0, false);
				i++;
				continue;
			}
			tok_push(toks, n, cap, TOK_CLASS, (uint32_t)body, (uint32_t)j, neg);
			i = j + 1;
		} else {
			tok_push(toks, n, cap, TOK_LIT, (unsigned char)c, 0, false);
			i++;
		}
	}
}

/* Compiles one pattern line (already stripped of comments and blanks) the way
 * pathspec's GitWildMatchPattern.pattern_to_regex does. false: no rule. */
static bool rule_compile(ig_rule *r, const char *line, const char *base)
{
	const char *p = line;
	size_t nseg = 0, segcap = 0;
	size_t *seg_s = NULL, *seg_e = NULL;
	ig_tok *toks = NULL;
	size_t ntoks = 0, tokcap = 0;
	bool ok = false;

	memset(r, 0, sizeof(*r));
	if (*p == '!') {
		r->negate = true;
		p++;
	} else if (p[0] == '\\' && (p[1] == '!' || p[1] == '#')) {
		p++; /* an escaped leading '!' or '#' is literal */
	}
	if (*p == '\0' || strcmp(p, "/") == 0)
		goto out;
	/* Airflow: a separator at the start or in the middle anchors the pattern
	 * to the .dagignore's folder; otherwise only the basename is matched. */
	{
		size_t l = strlen(line);
		while (l > 0 && line[l - 1] == '/')
			l--;
		r->anchored = line[0] == '/' || memchr(line, '/', l) != NULL;
	}
	r->pat = xstrdup(p);

	/* Split into segments on unescaped '/'. */
	{
		size_t i = 0, start = 0, len = strlen(r->pat);
		for (;;) {
			if (i == len || r->pat[i] == '/') {
				if (nseg == segcap) {
					segcap = segcap ? segcap * 2 : 8;
					seg_s = xrealloc(seg_s, segcap * sizeof(*seg_s));
					seg_e = xrealloc(seg_e, segcap * sizeof(*seg_e));
				}
				seg_s[nseg] = start;
				seg_e[nseg] = i;
				nseg++;
				if (i == len)
					break;
				start = i + 1;
			} else if (r->pat[i] == '\\' && i + 1 < len) {
				i++;
			}
			i++;
		}
	}

	/* Segment list as pathspec normalises it; "**" is a marker index. */
	size_t *ss = xmalloc((nseg + 2) * sizeof(*ss));
	size_t *se = xmalloc((nseg + 2) * sizeof(*se));
	size_t m = 0;
	const size_t DSTAR = SIZE_MAX;
	size_t first = 0;
	if (seg_e[0] == seg_s[0]) {
		first = 1; /* leading '/': anchored, drop the empty segment */
	} else if (nseg == 1 || (nseg == 2 && seg_e[1] == seg_s[1])) {
		/* no separator other than a trailing one: match at any depth */
		bool is_dstar = seg_e[0] - seg_s[0] == 2 && r->pat[seg_s[0]] == '*' &&
		                r->pat[seg_s[0] + 1] == '*';
		if (!is_dstar) {
			ss[m] = DSTAR;
			se[m] = DSTAR;
			m++;
		}
	}
	for (size_t i = first; i < nseg; i++) {
		bool empty = seg_e[i] == seg_s[i];
		bool dstar = seg_e[i] - seg_s[i] == 2 && r->pat[seg_s[i]] == '*' &&
		             r->pat[seg_s[i] + 1] == '*';
		if (empty && i + 1 == nseg && m > 0)
			dstar = true; /* trailing '/': everything below the directory */
		else if (empty)
			continue; /* "a//b" is "a/b" */
		if (dstar) {
			if (m > 0 && ss[m - 1] == DSTAR)
				continue; /* collapse runs of "**" */
			ss[m] = se[m] = DSTAR;
		} else {
			ss[m] = seg_s[i];
			se[m] = seg_e[i];
		}
		m++;
	}
	if (m == 0)
		goto out_segs;

	size_t end = m - 1;
	bool need_slash = false;
	for (size_t i = 0; i < m; i++) {
		if (ss[i] == DSTAR) {
			if (i == 0 && i == end) {
				tok_push(&toks, &ntoks, &tokcap, TOK_SEG, 0, 0, false);
				tok_push(&toks, &ntoks, &tokcap, TOK_OPT_TAIL, 0, 0, false);
			} else if (i == 0) {
				tok_push(&toks, &ntoks, &tokcap, TOK_LEAD_ANY, 0, 0, false);
				need_slash = false;
			} else if (i == end) {
				tok_push(&toks, &ntoks, &tokcap, TOK_TAIL_ANY, 0, 0, false);
			} else {
				tok_push(&toks, &ntoks, &tokcap, TOK_MID_ANY, 0, 0, false);
				need_slash = true;
			}
			continue;
		}
		if (need_slash)
			tok_push(&toks, &ntoks, &tokcap, TOK_SLASH, 0, 0, false);
		if (se[i] - ss[i] == 1 && r->pat[ss[i]] == '*')
			tok_push(&toks, &ntoks, &tokcap, TOK_SEG, 0, 0, false);
		else
			compile_segment(r->pat, ss[i], se[i], &toks, &ntoks, &tokcap);
		if (i == end)
			tok_push(&toks, &ntoks, &tokcap, TOK_OPT_TAIL, 0, 0, false);
		need_slash = true;
	}
	r->toks = toks;
	r->ntoks = ntoks;
	for (size_t i = 0; i < ntoks; i++)
		if (toks[i].kind == TOK_STAR || toks[i].kind == TOK_SEG ||
		    toks[i].kind == TOK_LEAD_ANY || toks[i].kind == TOK_MID_ANY)
			r->nbacktrack++;
	toks = NULL;
	r->source = xstrdup(line);
	r->base = xstrdup(base);
	ok = true;
out_segs:
	free(ss);
	free(se);
out:
	free(seg_s);
	free(seg_e);
	free(toks);
	if (!ok) {
		free(r->pat);
		r->pat = NULL;
	}
	return ok;
}

static void rule_free(ig_rule *r)
{
	free(r->source);
	free(r->base);
	free(r->pat);
	free(r->toks);
}

static void rule_copy(ig_rule *dst, const ig_rule *src)
{
	*dst = *src;
	dst->source = xstrdup(src->source);
	dst->base = xstrdup(src->base);
	dst->pat = xstrdup(src->pat);
	dst->toks = xmalloc((src->ntoks ? src->ntoks : 1) * sizeof(*src->toks));
	memcpy(dst->toks, src->toks, src->ntoks * sizeof(*src->toks));
}

/* ---- matching ----------------------------------------------------------- */

static bool class_match(const char *body, size_t n, bool neg, char c)
{
	bool hit = false;

	if (c == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char lo = (unsigned char)body[i];
		if (lo == '\\' && i + 1 < n)
			lo = (unsigned char)body[++i];
		if (i + 2 < n && body[i + 1] == '-') {
			unsigned char hi = (unsigned char)body[i + 2];
			i += 2;
			if (hi == '\\' && i + 1 < n)
				hi = (unsigned char)body[++i];
			if ((unsigned char)c >= lo && (unsigned char)c <= hi)
				hit = true;
		} else if ((unsigned char)c == lo) {
			hit = true;
		}
	}
	return hit != neg;
}

/* One match attempt. memo (ntoks x (slen+1) bits) remembers (ti, si) pairs
 * known to fail, so patterns like "*a*a*a*b" stay polynomial. */
typedef struct ig_match {
	const ig_rule *r;
	const char *s;
	size_t slen;
	unsigned char *memo;
} ig_match;

static bool toks_match_at(ig_match *m, size_t ti, size_t si);

static bool toks_try(ig_match *m, size_t ti, size_t si)
{
	size_t bit;

	if (!m->memo)
		return toks_match_at(m, ti, si);
	bit = ti * (m->slen + 1) + si;
	if (m->memo[bit / 8] & (1u << (bit % 8)))
		return false;
	if (toks_match_at(m, ti, si))
		return true;
	m->memo[bit / 8] |= (unsigned char)(1u << (bit % 8));
	return false;
}

/* Backtracking match of tokens t[ti..] against s[si..]; s must be consumed. */
static bool toks_match_at(ig_match *m, size_t ti, size_t si)
{
	const ig_rule *r = m->r;
	const char *s = m->s;
	size_t slen = m->slen;

	while (ti < r->ntoks) {
		const ig_tok *t = &r->toks[ti];
		switch (t->kind) {
		case TOK_LIT:
			if (si >= slen || (unsigned char)s[si] != t->a)
				return false;
			si++;
			ti++;
			break;
		case TOK_SLASH:
			if (si >= slen || s[si] != '/')
				return false;
			si++;
			ti++;
			break;
		case TOK_QMARK:
			if (si >= slen || s[si] == '/')
				return false;
			si++;
			ti++;
			break;
		case TOK_CLASS:
			if (si >= slen ||
			    !class_match(r->pat + t->a, t->b - t->a, t->neg != 0, s[si]))
				return false;
			si++;
			ti++;
			break;
		case TOK_STAR:
		case TOK_SEG: {
			size_t j = si;
			while (j < slen && s[j] != '/')
				j++;
			/* try the longest run first, down to 0 (1 for TOK_SEG) */
			size_t min = t->kind == TOK_SEG ? si + 1 : si;
			for (size_t k = j + 1; k-- > min;)
				if (toks_try(m, ti + 1, k))
					return true;
			return false;
		}
		case TOK_LEAD_ANY:
			/* empty, or any run of at least one byte that ends in '/' */
			if (toks_try(m, ti + 1, si))
				return true;
			for (size_t k = si + 1; k < slen; k++)
				if (s[k] == '/' && toks_try(m, ti + 1, k + 1))
					return true;
			return false;
		case TOK_MID_ANY:
			/* empty, or '/' followed by at least one byte */
			if (toks_try(m, ti + 1, si))
				return true;
			if (si < slen && s[si] == '/')
				for (size_t k = si + 2; k <= slen; k++)
					if (toks_try(m, ti + 1, k))
						return true;
			return false;
		case TOK_TAIL_ANY:
			return si < slen && s[si] == '/' && ti + 1 == r->ntoks;
		case TOK_OPT_TAIL:
			return si == slen || s[si] == '/';
		default:
			return false;
		}
	}
	return si == slen;
}

/* Does rule r match the path rel (relative to the root)? Rules only apply
 * below their own folder. */
static bool rule_match(const ig_rule *r, const char *rel, bool is_dir, strbuf *tmp)
{
	const char *sub;
	size_t bl = strlen(r->base);

	if (bl > 0) {
		if (strncmp(rel, r->base, bl) != 0 || rel[bl] != '/')
			return false;
		sub = rel + bl + 1;
	} else {
		sub = rel;
	}
	if (*sub == '\0')
		return false;
	if (!r->anchored)
		sub = fs_basename(sub);
	tmp->len = 0;
	sb_adds(tmp, sub);
	if (is_dir)
		sb_addc(tmp, '/');
	ig_match m = {r, tmp->data, tmp->len, NULL};
	if (r->nbacktrack > 1)
		m.memo = xcalloc(1, (r->ntoks * (tmp->len + 1) + 7) / 8);
	bool hit = toks_match_at(&m, 0, 0);
	free(m.memo);
	return hit;
}

/* The verdict of the rules for rel itself (later rules win). */
static bool rules_verdict(const ignore_rules *r, const char *rel, bool is_dir, strbuf *tmp)
{
	bool ignored = false;

	for (size_t i = 0; i < r->n; i++)
		if (rule_match(&r->rules[i], rel, is_dir, tmp))
			ignored = !r->rules[i].negate;
	return ignored;
}

bool ignore_match(const ignore_rules *r, const char *rel, bool is_dir)
{
	strbuf tmp, dir;
	bool ignored = false;

	if (!r || r->n == 0 || !rel)
		return false;
	while (rel[0] == '/' || (rel[0] == '.' && rel[1] == '/'))
		rel += rel[0] == '/' ? 1 : 2;
	sb_init(&tmp);
	sb_init(&dir);
	/* A path inside an ignored directory is ignored: the walker never
	 * descends there, and a '!' rule cannot bring it back (as in git). */
	for (const char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
		if (p[1] == '\0')
			break;
		dir.len = 0;
		sb_add(&dir, rel, (size_t)(p - rel));
		if (rules_verdict(r, dir.data, true, &tmp)) {
			ignored = true;
			goto out;
		}
	}
	if (rel[0] != '\0') {
		size_t l = strlen(rel);
		if (rel[l - 1] == '/') {
			dir.len = 0;
			sb_add(&dir, rel, l - 1);
			ignored = rules_verdict(r, dir.data, true, &tmp);
		} else {
			ignored = rules_verdict(r, rel, is_dir, &tmp);
		}
	}
out:
	sb_free(&tmp);
	sb_free(&dir);
	return ignored;
}

/* ---- building ----------------------------------------------------------- */

static ignore_rules *rules_new(const ignore_rules *parent)
{
	ignore_rules *r = xcalloc(1, sizeof(*r));

	if (parent && parent->n) {
		r->cap = parent->n + 8;
		r->rules = xmalloc(r->cap * sizeof(*r->rules));
		for (size_t i = 0; i < parent->n; i++)
			rule_copy(&r->rules[i], &parent->rules[i]);
		r->n = parent->n;
	}
	return r;
}

static void rules_add_text(ignore_rules *r, const char *text, const char *base_rel)
{
	strbuf base, line;
	const char *p = text;

	sb_init(&base);
	sb_init(&line);
	/* normalise base_rel: no leading "./" or '/', no trailing '/', "." = root */
	while (base_rel && (base_rel[0] == '/' || (base_rel[0] == '.' && base_rel[1] == '/')))
		base_rel += base_rel[0] == '/' ? 1 : 2;
	sb_adds(&base, base_rel && strcmp(base_rel, ".") != 0 ? base_rel : "");
	while (base.len > 0 && base.data[base.len - 1] == '/')
		base.data[--base.len] = '\0';
	if (!base.data)
		sb_adds(&base, "");

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		/* Airflow strips r"\s*#.*" from every line, then pathspec strips
		 * the blanks around the pattern. */
		const char *hash = memchr(p, '#', n);
		size_t l = hash ? (size_t)(hash - p) : n;
		size_t s = 0;
		while (s < l && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r' || p[s] == '\f' ||
		                 p[s] == '\v'))
			s++;
		while (l > s && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r' ||
		                 p[l - 1] == '\f' || p[l - 1] == '\v'))
			l--;
		if (l > s) {
			ig_rule rule;
			line.len = 0;
			sb_add(&line, p + s, l - s);
			if (rule_compile(&rule, line.data, base.data)) {
				if (r->n == r->cap) {
					r->cap = r->cap ? r->cap * 2 : 8;
					r->rules = xrealloc(r->rules, r->cap * sizeof(*r->rules));
				}
				r->rules[r->n++] = rule;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	sb_free(&base);
	sb_free(&line);
}

ignore_rules *ignore_from_text(const ignore_rules *parent, const char *text, const char *base_rel)
{
	ignore_rules *r = rules_new(parent);

	if (text)
		rules_add_text(r, text, base_rel ? base_rel : "");
	return r;
}

ignore_rules *ignore_push(const ignore_rules *parent, const char *folder_abs, const char *base_rel)
{
	ignore_rules *r = rules_new(parent);
	char *path = fs_path_join(folder_abs, IGNORE_FILE);
	char *text = NULL;
	size_t len = 0;

	/* A missing or unreadable .dagignore adds no rules. */
	if (fs_read_file(path, IGNORE_FILE_MAX, &text, &len) == 0)
		rules_add_text(r, text, base_rel ? base_rel : "");
	free(text);
	free(path);
	return r;
}

void ignore_free(ignore_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_free(&r->rules[i]);
	free(r->rules);
	free(r);
}
