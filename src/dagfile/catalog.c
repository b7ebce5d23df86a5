/* Operator catalog: parses the embedded catalog files and users' files (libyaml
 * document API), links parents and aliases, and answers lookups through hash
 * tables built once at load time. */
#include "dagfile/catalog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/arena.h"
#include "util/xalloc.h"

/* Defined by the file meson generates with tools/embed.c. */
struct embedded_file {
	const char *name;
	const char *data;
	size_t len;
};
extern const struct embedded_file builtin_catalog[];

#define BASE_OPERATOR  "airflow.sdk.bases.operator.BaseOperator"
#define BASE_SENSOR    "airflow.sdk.bases.sensor.BaseSensorOperator"
#define MAX_FILE_SIZE  (16u << 20)
#define MAX_ALIAS_HOPS 8

/* ---- string-keyed hash table (open addressing, linear probing) ---- */

typedef struct smap_slot {
	const char *key; /* not necessarily NUL-terminated at klen */
	size_t klen;
	uint64_t hash;
	void *val;
} smap_slot;

typedef struct smap {
	smap_slot *slots;
	size_t cap, n; /* cap is a power of two or 0 */
} smap;

static uint64_t smap_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static smap_slot *smap_slot_for(const smap *m, const char *key, size_t klen, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		smap_slot *s = &m->slots[i];
		if (!s->key)
			return s;
		if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			return s;
	}
}

static void *smap_getn(const smap *m, const char *key, size_t klen)
{
	if (!m->cap)
		return NULL;
	smap_slot *s = smap_slot_for(m, key, klen, smap_hash(key, klen));
	return s->key ? s->val : NULL;
}

static void *smap_get(const smap *m, const char *key)
{
	return smap_getn(m, key, strlen(key));
}

static void smap_grow(smap *m)
{
	smap old = *m;
	m->cap = old.cap ? old.cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old.cap; i++) {
		if (old.slots[i].key)
			*smap_slot_for(m, old.slots[i].key, old.slots[i].klen, old.slots[i].hash) =
			    old.slots[i];
	}
	free(old.slots);
}

/* Inserts or replaces; key must outlive the map. Returns the previous value. */
static void *smap_putn(smap *m, const char *key, size_t klen, void *val)
{
	if ((m->n + 1) * 2 > m->cap)
		smap_grow(m);
	uint64_t h = smap_hash(key, klen);
	smap_slot *s = smap_slot_for(m, key, klen, h);
	void *old = s->key ? s->val : NULL;
	if (!s->key) {
		s->key = key;
		s->klen = klen;
		s->hash = h;
		m->n++;
	}
	s->val = val;
	return old;
}

static void *smap_put(smap *m, const char *key, void *val)
{
	return smap_putn(m, key, strlen(key), val);
}

static void smap_free(smap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

/* ---- catalog data ---- */

typedef struct op_int {
	cat_operator pub; /* first: a cat_operator pointer is an op_int pointer */
	struct op_int *parent_op;
	const char *parent_name; /* as written; NULL = BaseOperator */
	const char *file;
	unsigned line, parent_line;
	const char **rejects; /* inherited arguments this class refuses */
	size_t nrejects;
	const cat_arg **flat; /* own + inherited, nearest declaration first */
	size_t nflat;
	smap flat_idx; /* name -> const cat_arg *, or &rejected_marker */
	size_t index;  /* position in catalog.ops_list */
} op_int;

typedef struct alias_ent {
	const char *path, *target;
	bool deprecated;
	const char *file;
	unsigned line;
	op_int *op;
	size_t index;
} alias_ent;

/* A module prefix the catalog covers (every module under it is known) or
 * carves out of a covering prefix; the longest matching prefix decides. */
typedef struct cover_ent {
	const char *prefix;
	size_t len;
	bool covered;
} cover_ent;

/* A path that no longer resolves (an Airflow 2 module, a class a provider
 * removed) and what replaces it. The pattern is a path, "module.*" (every
 * class of the module; the replacement is "newmodule.*") or "prefix*.Class"
 * (the class in any module under prefix). */
typedef struct removed_ent {
	const char *pattern;
	const char *use; /* NULL: no replacement */
	const char *why;
} removed_ent;

struct catalog {
	arena ar;
	smap ops;                   /* canonical path -> op_int */
	smap aliases;               /* path -> alias_ent */
	smap modules;               /* module (and its parent packages) -> non-NULL */
	smap removed;               /* exact removed path -> removed_ent */
	removed_ent **removed_wild; /* patterns with '*' */
	size_t nremoved_wild, cap_removed_wild;
	cover_ent *covers;
	size_t ncovers, cap_covers;
	bool strict; /* [core] strict_catalog: an uncovered module is E011 */
	op_int **ops_list;
	size_t nops, cap_ops;
	alias_ent **alias_list;
	size_t naliases, cap_aliases;
	const char **unchecked;
	size_t nunchecked;
};

static const cat_arg rejected_marker;

typedef struct load_ctx {
	catalog *c;
	const char *file;
	yaml_document_t *doc;
	char **err;
} load_ctx;

static bool set_err(char **err, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool set_err(char **err, const char *file, unsigned line, const char *fmt, ...)
{
	if (!err || *err)
		return false;
	strbuf b;
	sb_init(&b);
	if (line)
		sb_printf(&b, "%s:%u: ", file, line);
	else
		sb_printf(&b, "%s: ", file);
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	*err = sb_detach(&b);
	return false;
}

static unsigned node_line(const yaml_node_t *n)
{
	return n ? (unsigned)n->start_mark.line + 1 : 0;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = scalar(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* YAML 1.1 booleans as PyYAML reads them; -1 when not a boolean. */
static int scalar_bool(const yaml_node_t *n)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
	                                  "YES",  "on",   "On",   "ON"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No",
	                                 "NO",    "off",   "Off",   "OFF"};
	const char *v = scalar(n);
	if (!v || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return -1;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i]))
			return 1;
		if (!strcmp(v, no[i]))
			return 0;
	}
	return -1;
}

static bool ident_valid(const char *s, size_t n)
{
	if (!n || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

/* Dotted Python name with at least min_parts identifiers. */
static bool dotted_valid(const char *s, size_t min_parts)
{
	size_t parts = 0;
	for (;;) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);
		if (!ident_valid(s, n))
			return false;
		parts++;
		if (!dot)
			break;
		s = dot + 1;
	}
	return parts >= min_parts;
}

/* Registers a module and every package above it. */
static void add_module(catalog *c, const char *mod, size_t len)
{
	if (smap_getn(&c->modules, mod, len))
		return; /* and so are its packages */
	const char *key = arena_strndup(&c->ar, mod, len);
	for (size_t n = len; n > 0; n--) {
		if (n == len || key[n] == '.') {
			if (smap_getn(&c->modules, key, n))
				break; /* its parents are there too */
			smap_putn(&c->modules, key, n, (void *)key);
		}
	}
}

static void add_module_of(catalog *c, const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot)
		add_module(c, path, (size_t)(dot - path));
}

/* ---- parsing ---- */

static bool ctx_fail(load_ctx *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool ctx_fail(load_ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	if (!x->err || *x->err)
		return false;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return set_err(x->err, x->file, node_line(n), "%s", buf);
}

static yaml_node_t *node(load_ctx *x, int id)
{
	return yaml_document_get_node(x->doc, id);
}

static bool parse_types(load_ctx *x, yaml_node_t *n, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
	    {"str", CAT_T_STR},           {"int", CAT_T_INT},
	    {"float", CAT_T_FLOAT},       {"bool", CAT_T_BOOL},
	    {"list", CAT_T_LIST},         {"dict", CAT_T_DICT},
	    {"none", CAT_T_NONE},         {"timedelta", CAT_T_TIMEDELTA},
	    {"datetime", CAT_T_DATETIME},
	};
	yaml_node_t *items[64];
	size_t nitems = 0;
	if (n->type == YAML_SCALAR_NODE) {
		items[nitems++] = n;
	} else if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			if (nitems == sizeof(items) / sizeof(items[0]))
				return ctx_fail(x, n, "too many types");
			items[nitems++] = node(x, *it);
		}
	} else {
		return ctx_fail(x, n, "type must be a type name or a list of type names");
	}
	unsigned mask = 0;
	bool any = nitems == 0;
	for (size_t i = 0; i < nitems; i++) {
		const char *v = scalar(items[i]);
		if (!v)
			return ctx_fail(x, items[i], "a type name must be a string");
		if (is_null(items[i])) {
			mask |= CAT_T_NONE;
			continue;
		}
		if (!strcmp(v, "any")) {
			any = true;
			continue;
		}
		size_t k;
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (!strcmp(v, names[k].name))
				break;
		}
		if (k == sizeof(names) / sizeof(names[0]))
			return ctx_fail(x, items[i],
			                "unknown type '%s' (expected str, int, float, bool, list, "
			                "dict, none, timedelta, datetime or any)",
			                v);
		mask |= names[k].bit;
	}
	if (mask & CAT_T_FLOAT)
		mask |= CAT_T_INT; /* an int is fine where a float is */
	*out = any ? CAT_T_ANY : mask;
	return true;
}

static bool parse_arg(load_ctx *x, yaml_node_t *k, yaml_node_t *v, cat_arg *a)
{
	const char *name = scalar(k);
	if (!name || !ident_valid(name, strlen(name)))
		return ctx_fail(x, k, "invalid argument name '%s'", name ? name : "?");
	memset(a, 0, sizeof(*a));
	a->name = arena_strdup(&x->c->ar, name);
	if (is_null(v))
		return true;
	if (v->type != YAML_MAPPING_NODE)
		return ctx_fail(x, v, "argument '%s' must be a mapping such as {type: [str]}",
		                name);
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *pk = node(x, p->key), *pv = node(x, p->value);
		const char *key = scalar(pk);
		if (!key)
			return ctx_fail(x, pk, "argument keys must be strings");
		if (!strcmp(key, "type")) {
			if (!parse_types(x, pv, &a->types))
				return false;
		} else if (!strcmp(key, "required") || !strcmp(key, "templated")) {
			int b = scalar_bool(pv);
			if (b < 0)
				return ctx_fail(x, pv, "'%s' must be true or false", key);
			if (key[0] == 'r')
				a->required = b;
			else
				a->templated = b;
		} else {
			return ctx_fail(x, pk,
			                "unknown key '%s' in argument '%s' (expected type, "
			                "required or templated)",
			                key, name);
		}
	}
	return true;
}

static void register_op(catalog *c, op_int *op)
{
	op_int *old = smap_put(&c->ops, op->pub.path, op);
	if (old) { /* a later file redefines the operator: it replaces it */
		op->index = old->index;
		c->ops_list[op->index] = op;
		smap_free(&old->flat_idx);
		return;
	}
	if (c->nops == c->cap_ops) {
		c->cap_ops = c->cap_ops ? c->cap_ops * 2 : 64;
		c->ops_list = xrealloc(c->ops_list, c->cap_ops * sizeof(*c->ops_list));
	}
	op->index = c->nops;
	c->ops_list[c->nops++] = op;
	add_module_of(c, op->pub.path);
}

static bool parse_operator(load_ctx *x, yaml_node_t *k, yaml_node_t *v)
{
	catalog *c = x->c;
	const char *path = scalar(k);
	if (!path || !dotted_valid(path, 2))
		return ctx_fail(x, k, "invalid operator path '%s' (expected module.Class)",
		                path ? path : "?");
	op_int *op = arena_zalloc(&c->ar, sizeof(*op));
	op->pub.path = arena_strdup(&c->ar, path);
	op->file = x->file;
	op->line = node_line(k);
	if (!is_null(v)) {
		if (v->type != YAML_MAPPING_NODE)
			return ctx_fail(x, v, "operator '%s' must be a mapping", path);
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *pk = node(x, p->key), *pv = node(x, p->value);
			const char *key = scalar(pk);
			if (!key)
				return ctx_fail(x, pk, "operator keys must be strings");
			if (!strcmp(key, "parent")) {
				if (is_null(pv))
					continue;
				const char *par = scalar(pv);
				if (!par || !dotted_valid(par, 2))
					return ctx_fail(x, pv, "invalid parent '%s'",
					                par ? par : "?");
				op->parent_name = arena_strdup(&c->ar, par);
				op->parent_line = node_line(pv);
			} else if (!strcmp(key, "var_kwargs")) {
				int b = scalar_bool(pv);
				if (b < 0)
					return ctx_fail(x, pv,
					                "'var_kwargs' must be true or false");
				op->pub.var_kwargs = b;
			} else if (!strcmp(key, "rejects")) {
				if (is_null(pv))
					continue;
				if (pv->type != YAML_SEQUENCE_NODE)
					return ctx_fail(x, pv, "'rejects' must be a list of names");
				size_t n = (size_t)(pv->data.sequence.items.top -
				                    pv->data.sequence.items.start);
				op->rejects = arena_alloc(&c->ar, (n ? n : 1) * sizeof(char *));
				for (size_t i = 0; i < n; i++) {
					yaml_node_t *it = node(x, pv->data.sequence.items.start[i]);
					const char *name = scalar(it);
					if (!name || !ident_valid(name, strlen(name)))
						return ctx_fail(
						    x, it, "invalid argument name in 'rejects'");
					op->rejects[op->nrejects++] = arena_strdup(&c->ar, name);
				}
			} else if (!strcmp(key, "args")) {
				if (is_null(pv))
					continue;
				if (pv->type != YAML_MAPPING_NODE)
					return ctx_fail(
					    x, pv, "'args' must be a mapping of argument names");
				size_t n = (size_t)(pv->data.mapping.pairs.top -
				                    pv->data.mapping.pairs.start);
				op->pub.args = arena_alloc(&c->ar, (n ? n : 1) * sizeof(cat_arg));
				for (size_t i = 0; i < n; i++) {
					yaml_node_pair_t *ap = &pv->data.mapping.pairs.start[i];
					if (!parse_arg(x, node(x, ap->key), node(x, ap->value),
					               &op->pub.args[op->pub.nargs]))
						return false;
					op->pub.nargs++;
				}
			} else {
				return ctx_fail(
				    x, pk,
				    "unknown key '%s' in operator '%s' (expected parent, "
				    "args, rejects or var_kwargs)",
				    key, path);
			}
		}
	}
	register_op(c, op);
	return true;
}

static bool parse_alias(load_ctx *x, yaml_node_t *k, yaml_node_t *v, bool deprecated)
{
	catalog *c = x->c;
	const char *path = scalar(k), *target = scalar(v);
	if (!path || !dotted_valid(path, 2))
		return ctx_fail(x, k, "invalid alias path '%s' (expected module.Class)",
		                path ? path : "?");
	if (!target || is_null(v) || !dotted_valid(target, 2))
		return ctx_fail(x, v, "alias '%s' needs a target path", path);
	alias_ent *a = arena_zalloc(&c->ar, sizeof(*a));
	a->path = arena_strdup(&c->ar, path);
	a->target = arena_strdup(&c->ar, target);
	a->deprecated = deprecated;
	a->file = x->file;
	a->line = node_line(v);
	alias_ent *old = smap_put(&c->aliases, a->path, a);
	if (old) {
		a->index = old->index;
		c->alias_list[a->index] = a;
		return true;
	}
	if (c->naliases == c->cap_aliases) {
		c->cap_aliases = c->cap_aliases ? c->cap_aliases * 2 : 64;
		c->alias_list = xrealloc(c->alias_list, c->cap_aliases * sizeof(*c->alias_list));
	}
	a->index = c->naliases;
	c->alias_list[c->naliases++] = a;
	add_module_of(c, a->path);
	return true;
}

/* covers / not_covered: lists of module prefixes such as "airflow.providers.amazon." */
static bool parse_covers(load_ctx *x, yaml_node_t *v, bool covered)
{
	catalog *c = x->c;
	if (v->type != YAML_SEQUENCE_NODE)
		return ctx_fail(x, v, "'%s' must be a list of module prefixes",
		                covered ? "covers" : "not_covered");
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *m = node(x, *it);
		const char *pre = scalar(m);
		size_t n = pre ? strlen(pre) : 0;
		/* "a.b." or "a.b": a dotted name, optionally ending in '.' */
		char buf[256];
		if (!n || n >= sizeof(buf))
			return ctx_fail(x, m, "invalid module prefix '%s'", pre ? pre : "?");
		memcpy(buf, pre, n + 1);
		if (buf[n - 1] == '.')
			buf[n - 1] = '\0';
		if (!dotted_valid(buf, 1))
			return ctx_fail(x, m, "invalid module prefix '%s'", pre);
		if (c->ncovers == c->cap_covers) {
			c->cap_covers = c->cap_covers ? c->cap_covers * 2 : 16;
			c->covers = xrealloc(c->covers, c->cap_covers * sizeof(*c->covers));
		}
		/* stored with the trailing dot: it matches the module + "." */
		const char *stored = arena_printf(&c->ar, "%s.", buf);
		c->covers[c->ncovers++] = (cover_ent){stored, strlen(stored), covered};
	}
	return true;
}

/* removed: path: {use: path or null, why: text} */
static bool parse_removed(load_ctx *x, yaml_node_t *k, yaml_node_t *v)
{
	catalog *c = x->c;
	const char *pat = scalar(k);
	if (!pat || !*pat)
		return ctx_fail(x, k, "invalid removed path");
	char buf[512];
	size_t n = strlen(pat);
	if (n >= sizeof(buf))
		return ctx_fail(x, k, "invalid removed path '%s'", pat);
	const char *star = strchr(pat, '*');
	if (star) {
		/* "module.*" or "prefix*.Class" */
		bool mod_form = star[1] == '\0' && star > pat && star[-1] == '.';
		bool cls_form = star[1] == '.' && strchr(star + 1, '*') == NULL &&
		                strchr(star + 2, '.') == NULL &&
		                ident_valid(star + 2, strlen(star + 2));
		if (!mod_form && !cls_form)
			return ctx_fail(x, k,
			                "invalid removed pattern '%s' (expected module.* or "
			                "prefix*.Class)",
			                pat);
	} else if (!dotted_valid(pat, 2)) {
		return ctx_fail(x, k, "invalid removed path '%s' (expected module.Class)", pat);
	}
	removed_ent *r = arena_zalloc(&c->ar, sizeof(*r));
	r->pattern = arena_strdup(&c->ar, pat);
	r->why = "removed";
	if (!is_null(v)) {
		if (v->type != YAML_MAPPING_NODE)
			return ctx_fail(x, v, "removed path '%s' needs {use: ..., why: ...}", pat);
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *pk = node(x, p->key), *pv = node(x, p->value);
			const char *key = scalar(pk), *val = scalar(pv);
			if (!key || (strcmp(key, "use") && strcmp(key, "why")))
				return ctx_fail(
				    x, pk,
				    "unknown key '%s' in removed path '%s' (expected use "
				    "or why)",
				    key ? key : "?", pat);
			if (!val)
				return ctx_fail(x, pv, "'%s' must be a string", key);
			if (key[0] == 'w') {
				r->why = arena_strdup(&c->ar, val);
			} else if (!is_null(pv)) {
				bool mod_pat = star && star[1] == '\0';
				size_t vl = strlen(val);
				bool mod_use = vl > 2 && val[vl - 1] == '*' && val[vl - 2] == '.' &&
				               strchr(val, '*') == val + vl - 1;
				if (mod_pat != mod_use || (!mod_use && strchr(val, '*')))
					return ctx_fail(x, pv,
					                "'use' of '%s' must be a path (a module.* "
					                "for a module.* pattern)",
					                pat);
				r->use = arena_strdup(&c->ar, val);
			}
		}
	}
	if (!star) {
		smap_put(&c->removed, r->pattern, r);
		return true;
	}
	if (c->nremoved_wild == c->cap_removed_wild) {
		c->cap_removed_wild = c->cap_removed_wild ? c->cap_removed_wild * 2 : 16;
		c->removed_wild =
		    xrealloc(c->removed_wild, c->cap_removed_wild * sizeof(*c->removed_wild));
	}
	c->removed_wild[c->nremoved_wild++] = r;
	return true;
}

static bool parse_root(load_ctx *x, yaml_node_t *root)
{
	if (is_null(root))
		return true;
	if (root->type != YAML_MAPPING_NODE)
		return ctx_fail(
		    x, root,
		    "a catalog file is a mapping with operators, aliases, same and modules");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
		const char *key = scalar(k);
		if (!key)
			return ctx_fail(x, k, "top-level keys must be strings");
		bool is_ops = !strcmp(key, "operators"), is_dep = !strcmp(key, "aliases");
		bool is_same = !strcmp(key, "same"), is_mod = !strcmp(key, "modules");
		bool is_cov = !strcmp(key, "covers"), is_ncov = !strcmp(key, "not_covered");
		bool is_rm = !strcmp(key, "removed");
		if (!is_ops && !is_dep && !is_same && !is_mod && !is_cov && !is_ncov && !is_rm)
			return ctx_fail(x, k,
			                "unknown key '%s' (expected operators, aliases, same, "
			                "modules, covers, not_covered or removed)",
			                key);
		if (is_null(v))
			continue;
		if (is_cov || is_ncov) {
			if (!parse_covers(x, v, is_cov))
				return false;
			continue;
		}
		if (is_rm) {
			if (v->type != YAML_MAPPING_NODE)
				return ctx_fail(x, v, "'removed' must be a mapping of paths");
			for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
			     q < v->data.mapping.pairs.top; q++)
				if (!parse_removed(x, node(x, q->key), node(x, q->value)))
					return false;
			continue;
		}
		if (is_mod) {
			if (v->type != YAML_SEQUENCE_NODE)
				return ctx_fail(x, v, "'modules' must be a list of module names");
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				yaml_node_t *m = node(x, *it);
				const char *mod = scalar(m);
				if (!mod || !dotted_valid(mod, 1))
					return ctx_fail(x, m, "invalid module name '%s'",
					                mod ? mod : "?");
				add_module(x->c, mod, strlen(mod));
			}
			continue;
		}
		if (v->type != YAML_MAPPING_NODE)
			return ctx_fail(x, v, "'%s' must be a mapping", key);
		for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
		     q < v->data.mapping.pairs.top; q++) {
			yaml_node_t *qk = node(x, q->key), *qv = node(x, q->value);
			bool ok =
			    is_ops ? parse_operator(x, qk, qv) : parse_alias(x, qk, qv, is_dep);
			if (!ok)
				return false;
		}
	}
	return true;
}

static bool load_text(catalog *c, const char *file, const char *data, size_t len, char **err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	bool ok = false;
	if (!yaml_parser_initialize(&parser))
		return set_err(err, file, 0, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	for (;;) {
		if (!yaml_parser_load(&parser, &doc)) {
			unsigned line = (unsigned)(parser.problem_mark.line + 1);
			set_err(err, file, line, "invalid YAML: %s",
			        parser.problem ? parser.problem : "parse error");
			goto out;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		load_ctx x = {c, file, &doc, err};
		bool doc_ok = parse_root(&x, root);
		yaml_document_delete(&doc);
		if (!doc_ok)
			goto out;
	}
	ok = true;
out:
	yaml_parser_delete(&parser);
	return ok;
}

static bool load_file(catalog *c, const char *path, char **err)
{
	bool ok = false;
	char *buf = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return set_err(err, path, 0, "cannot read catalog file: %s", strerror(errno));
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap + 1);
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (len > MAX_FILE_SIZE) {
			set_err(err, path, 0, "catalog file larger than %u bytes", MAX_FILE_SIZE);
			goto out;
		}
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		set_err(err, path, 0, "cannot read catalog file: %s", strerror(errno));
		goto out;
	}
	ok = load_text(c, arena_strdup(&c->ar, path), buf, len, err);
out:
	free(buf);
	fclose(f);
	return ok;
}

/* ---- linking ---- */

static op_int *resolve_name(const catalog *c, const char *name)
{
	for (int hop = 0; hop < MAX_ALIAS_HOPS; hop++) {
		op_int *op = smap_get(&c->ops, name);
		if (op)
			return op;
		alias_ent *a = smap_get(&c->aliases, name);
		if (!a)
			return NULL;
		name = a->target;
	}
	return NULL;
}

static void flatten(catalog *c, op_int *op)
{
	size_t total = 0;
	for (op_int *o = op; o; o = o->parent_op)
		total += o->pub.nargs;
	op->flat = arena_alloc(&c->ar, (total ? total : 1) * sizeof(*op->flat));
	for (op_int *o = op; o; o = o->parent_op) {
		for (size_t i = 0; i < o->nrejects; i++) {
			if (!smap_get(&op->flat_idx, o->rejects[i]))
				smap_put(&op->flat_idx, o->rejects[i], (void *)&rejected_marker);
		}
		for (size_t i = 0; i < o->pub.nargs; i++) {
			const cat_arg *a = &o->pub.args[i];
			if (smap_get(&op->flat_idx, a->name))
				continue;
			smap_put(&op->flat_idx, a->name, (void *)a);
			op->flat[op->nflat++] = a;
		}
	}
}

static bool link_catalog(catalog *c, char **err)
{
	for (size_t i = 0; i < c->nops; i++) {
		op_int *op = c->ops_list[i];
		const char *pname = op->parent_name;
		if (!pname && !strcmp(op->pub.path, BASE_OPERATOR))
			continue; /* the root */
		if (!pname)
			pname = BASE_OPERATOR;
		op->parent_op = resolve_name(c, pname);
		if (!op->parent_op)
			return set_err(err, op->file, op->parent_line ? op->parent_line : op->line,
			               "unknown parent '%s' of '%s'", pname, op->pub.path);
		op->pub.parent = op->parent_op->pub.path;
	}
	for (size_t i = 0; i < c->nops; i++) {
		op_int *op = c->ops_list[i];
		size_t depth = 0;
		for (op_int *o = op; o; o = o->parent_op) {
			if (depth++ > c->nops)
				return set_err(err, op->file, op->line,
				               "inheritance cycle through '%s'", op->pub.path);
			if (!strcmp(o->pub.path, BASE_SENSOR))
				op->pub.is_sensor = true;
		}
	}
	for (size_t i = 0; i < c->naliases; i++) {
		alias_ent *a = c->alias_list[i];
		a->op = resolve_name(c, a->target);
		if (!a->op)
			return set_err(err, a->file, a->line,
			               "alias target '%s' is not a catalog operator", a->target);
	}
	for (size_t i = 0; i < c->nops; i++)
		flatten(c, c->ops_list[i]);
	return true;
}

/* ---- public API ---- */

catalog *catalog_load(const char *const *extra_files, size_t nextra, char **err)
{
	if (err)
		*err = NULL;
	catalog *c = xcalloc(1, sizeof(*c));
	arena_init(&c->ar);
	for (const struct embedded_file *e = builtin_catalog; e->name; e++) {
		const char *name = arena_printf(&c->ar, "catalog/%s (built-in)", e->name);
		if (!load_text(c, name, e->data, e->len, err))
			goto fail;
	}
	for (size_t i = 0; extra_files && i < nextra; i++) {
		if (!extra_files[i] || !*extra_files[i])
			continue;
		if (!load_file(c, extra_files[i], err))
			goto fail;
	}
	if (!link_catalog(c, err))
		goto fail;
	return c;
fail:
	catalog_free(c);
	return NULL;
}

void catalog_free(catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nops; i++)
		smap_free(&c->ops_list[i]->flat_idx);
	smap_free(&c->ops);
	smap_free(&c->aliases);
	smap_free(&c->modules);
	smap_free(&c->removed);
	free(c->removed_wild);
	free(c->covers);
	free(c->ops_list);
	free(c->alias_list);
	arena_free(&c->ar);
	free(c);
}

void catalog_set_unchecked(catalog *c, const char *const *prefixes, size_t n)
{
	if (!c)
		return;
	c->unchecked = arena_alloc(&c->ar, (n ? n : 1) * sizeof(char *));
	c->nunchecked = 0;
	for (size_t i = 0; i < n; i++) {
		if (prefixes[i] && *prefixes[i])
			c->unchecked[c->nunchecked++] = arena_strdup(&c->ar, prefixes[i]);
	}
}

void catalog_set_strict(catalog *c, bool strict)
{
	if (c)
		c->strict = strict;
}

/* The removal entry that matches path, or NULL. */
static const removed_ent *find_removed(const catalog *c, const char *path, size_t len)
{
	const removed_ent *r = smap_getn(&c->removed, path, len);
	if (r)
		return r;
	const char *dot = memrchr(path, '.', len);
	for (size_t i = 0; dot && i < c->nremoved_wild; i++) {
		const removed_ent *w = c->removed_wild[i];
		const char *star = strchr(w->pattern, '*');
		size_t pre = (size_t)(star - w->pattern);
		if (star[1] == '\0') { /* "module.*": the module is everything before it */
			if ((size_t)(dot - path) + 1 == pre && !strncmp(path, w->pattern, pre))
				return w;
		} else if (len > pre && !strncmp(path, w->pattern, pre) &&
		           !strcmp(dot, star + 1)) { /* "prefix*.Class" */
			return w;
		}
	}
	return NULL;
}

bool catalog_covers(const catalog *c, const char *module, size_t len)
{
	if (!c)
		return false;
	size_t best = 0;
	bool covered = false;
	for (size_t i = 0; i < c->ncovers; i++) {
		const cover_ent *e = &c->covers[i];
		/* the prefix "a.b." matches the module "a.b" and "a.b.c" */
		if (e->len > len + 1 || e->len <= best || strncmp(module, e->prefix, e->len - 1) ||
		    (e->len - 1 < len && module[e->len - 1] != '.'))
			continue;
		best = e->len;
		covered = e->covered;
	}
	return covered;
}

bool catalog_module_exists(const catalog *c, const char *module, size_t len)
{
	return c && smap_getn(&c->modules, module, len) != NULL;
}

cat_lookup catalog_lookup(const catalog *c, const char *path, const cat_operator **op,
                          const char **target_path)
{
	if (op)
		*op = NULL;
	if (target_path)
		*target_path = NULL;
	if (!c || !path)
		return CAT_NO_MODULE;
	size_t len = strlen(path);
	op_int *o = smap_getn(&c->ops, path, len);
	if (o) {
		if (op)
			*op = &o->pub;
		return CAT_FOUND;
	}
	alias_ent *a = smap_getn(&c->aliases, path, len);
	if (a) {
		if (op)
			*op = &a->op->pub;
		if (!a->deprecated)
			return CAT_FOUND;
		if (target_path)
			*target_path = a->op->pub.path;
		return CAT_DEPRECATED;
	}
	for (size_t i = 0; i < c->nunchecked; i++) {
		if (!strncmp(path, c->unchecked[i], strlen(c->unchecked[i])))
			return CAT_UNCHECKED;
	}
	if (find_removed(c, path, len))
		return CAT_REMOVED;
	const char *dot = strrchr(path, '.');
	if (!dot)
		return CAT_NO_MODULE; /* "doesn't look like a module path" */
	size_t modlen = (size_t)(dot - path);
	if (smap_getn(&c->modules, path, modlen))
		return CAT_NO_CLASS;
	if (catalog_covers(c, path, modlen) || c->strict)
		return CAT_NO_MODULE;
	return CAT_NOT_COVERED;
}

const char *catalog_removal(const catalog *c, const char *path, char *use, size_t uselen)
{
	if (use && uselen)
		use[0] = '\0';
	if (!c || !path)
		return NULL;
	size_t len = strlen(path);
	const removed_ent *r = find_removed(c, path, len);
	if (!r)
		return NULL;
	if (r->use && use && uselen) {
		const char *star = strchr(r->use, '*');
		if (!star) {
			snprintf(use, uselen, "%s", r->use);
		} else {
			/* "newmodule.*" + the class of path */
			const char *dot = strrchr(path, '.');
			snprintf(use, uselen, "%.*s%s", (int)(star - r->use), r->use, dot + 1);
		}
	}
	return r->why;
}

const cat_arg *catalog_find_arg(const catalog *c, const cat_operator *op, const char *name)
{
	(void)c;
	if (!op || !name)
		return NULL;
	const op_int *o = (const op_int *)op;
	const cat_arg *a = smap_get(&o->flat_idx, name);
	return a == &rejected_marker ? NULL : a;
}

void catalog_each_arg(const catalog *c, const cat_operator *op,
                      void (*fn)(const cat_arg *a, void *ud), void *ud)
{
	(void)c;
	if (!op || !fn)
		return;
	const op_int *o = (const op_int *)op;
	for (size_t i = 0; i < o->nflat; i++)
		fn(o->flat[i], ud);
}

#define LEV_MAX 256

/* Levenshtein distance between a and b; cap + 1 once it exceeds cap. */
static size_t levenshtein(const char *a, size_t la, const char *b, size_t lb, size_t cap)
{
	size_t row[LEV_MAX + 1];
	if (la > LEV_MAX || lb > LEV_MAX)
		return cap + 1;
	if ((la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best = i;
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t v = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		if (best > cap)
			return cap + 1;
	}
	return row[lb] > cap ? cap + 1 : row[lb];
}

static const char *class_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot ? dot + 1 : path;
}

const char *catalog_suggest(const catalog *c, const char *path)
{
	if (!c || !path || !*path)
		return NULL;
	/* The right class under another module (a renamed or moved module). */
	const char *cls = class_of(path);
	for (size_t i = 0; i < c->nops; i++) {
		if (cls[0] != '_' && !strcmp(class_of(c->ops_list[i]->pub.path), cls))
			return c->ops_list[i]->pub.path;
	}
	for (size_t i = 0; i < c->naliases; i++) {
		if (!strcmp(class_of(c->alias_list[i]->path), cls))
			return c->alias_list[i]->op->pub.path;
	}
	/* Else the nearest path; a deprecated alias suggests its target. */
	size_t len = strlen(path);
	size_t cap = len / 3 > 2 ? len / 3 : 2;
	const char *best = NULL;
	size_t best_d = cap + 1;
	for (size_t i = 0; i < c->nops; i++) {
		const char *p = c->ops_list[i]->pub.path;
		size_t d =
		    levenshtein(path, len, p, strlen(p), best_d - 1 < cap ? best_d - 1 : cap);
		if (d < best_d) {
			best_d = d;
			best = p;
			if (d == 0)
				return best;
		}
	}
	const char *best_written = best;
	for (size_t i = 0; i < c->naliases; i++) {
		const char *p = c->alias_list[i]->path;
		size_t d =
		    levenshtein(path, len, p, strlen(p), best_d - 1 < cap ? best_d - 1 : cap);
		if (d < best_d) {
			best_d = d;
			best = c->alias_list[i]->op->pub.path;
			best_written = p;
		}
	}
	/* A long shared module prefix makes unrelated classes near as paths
	 * (airflow.operators.AuditOperator and airflow.operators.bash.BashOperator):
	 * the class names must be near too. */
	if (best) {
		const char *bc = class_of(best_written);
		size_t lc = strlen(cls), ccap = lc / 3 > 2 ? lc / 3 : 2;
		if (levenshtein(cls, lc, bc, strlen(bc), ccap) > ccap)
			return NULL;
	}
	return best;
}

void catalog_each_operator(const catalog *c, void (*fn)(const cat_operator *op, void *ud), void *ud)
{
	for (size_t i = 0; c && i < c->nops; i++)
		fn(&c->ops_list[i]->pub, ud);
}

void catalog_each_alias(const catalog *c,
                        void (*fn)(const char *path, const cat_operator *target, bool deprecated,
                                   void *ud),
                        void *ud)
{
	for (size_t i = 0; c && i < c->naliases; i++) {
		const alias_ent *a = c->alias_list[i];
		if (a->op)
			fn(a->path, &a->op->pub, a->deprecated, ud);
	}
}
