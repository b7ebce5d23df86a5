/* Canonical JSON of parsed values: sorted keys, one spelling per value, so that
 * the hash of a DAG changes exactly when what it means changes. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagfile/schema.h"
#include "util/xalloc.h"

#define SER_MAX_DEPTH 256

void serialize_string(strbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	sb_reserve(b, len + 2);
	sb_addc(b, '"');
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sb_add(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"':
			sb_add(b, "\\\"", 2);
			break;
		case '\\':
			sb_add(b, "\\\\", 2);
			break;
		case '\n':
			sb_add(b, "\\n", 2);
			break;
		case '\t':
			sb_add(b, "\\t", 2);
			break;
		case '\r':
			sb_add(b, "\\r", 2);
			break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			sb_add(b, u, 6);
		}
		}
	}
	sb_add(b, s + start, len - start);
	sb_addc(b, '"');
}

static const char *pkey(const ypair *p)
{
	return (p->key && p->key->str) ? p->key->str : "";
}

static int cmp_pair(const void *a, const void *b)
{
	return strcmp(pkey(*(const ypair *const *)a), pkey(*(const ypair *const *)b));
}

/* __join__: dag-factory concatenates the items ("".join). */
static void join_text(strbuf *b, const ynode *n, int depth)
{
	if (!n || depth > SER_MAX_DEPTH)
		return;
	if (n->kind == YN_SEQ) {
		for (size_t i = 0; i < n->n; i++)
			join_text(b, n->items[i], depth + 1);
	} else if (n->kind == YN_MAP) {
		const ynode *j = ynode_get(n, "__join__");
		if (j)
			join_text(b, j, depth + 1);
	} else if (n->kind != YN_NULL && n->str) {
		sb_add(b, n->str, n->len);
	}
}

void serialize_join_text(strbuf *b, const ynode *items)
{
	join_text(b, items, 0);
}

static void value(strbuf *b, const ynode *n, int depth)
{
	if (!n || depth > SER_MAX_DEPTH) {
		sb_adds(b, "null");
		return;
	}
	char num[64];
	switch (n->kind) {
	case YN_NULL:
		sb_adds(b, "null");
		return;
	case YN_BOOL:
		sb_adds(b, n->v.b ? "true" : "false");
		return;
	case YN_INT: {
		/* the digits backwards, as %" PRId64 " prints them */
		uint64_t u = n->v.i < 0 ? (uint64_t)0 - (uint64_t)n->v.i : (uint64_t)n->v.i;
		char *e = num + sizeof(num), *q = e;
		do
			*--q = (char)('0' + u % 10);
		while ((u /= 10) != 0);
		if (n->v.i < 0)
			*--q = '-';
		sb_add(b, q, (size_t)(e - q));
		return;
	}
	case YN_FLOAT:
		if (isnan(n->v.f) || isinf(n->v.f)) {
			/* not representable in JSON: keep the spelling */
			serialize_string(b, n->str, n->len);
			return;
		}
		snprintf(num, sizeof(num), "%.17g", n->v.f);
		if (!strpbrk(num, ".eE"))
			strncat(num, ".0", sizeof(num) - strlen(num) - 1);
		sb_adds(b, num);
		return;
	case YN_STR:
	case YN_DATE:
	case YN_DATETIME:
		serialize_string(b, n->str ? n->str : "", n->str ? n->len : 0);
		return;
	case YN_SEQ:
		sb_addc(b, '[');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				sb_addc(b, ',');
			value(b, n->items[i], depth + 1);
		}
		sb_addc(b, ']');
		return;
	case YN_MAP: {
		const ynode *j = n->n == 1 ? ynode_get(n, "__join__") : NULL;
		if (j) {
			strbuf t;
			sb_init(&t);
			join_text(&t, j, depth + 1);
			serialize_string(b, t.data ? t.data : "", t.len);
			sb_free(&t);
			return;
		}
		const ypair *small[16];
		const ypair **ord = n->n <= 16 ? small : xmalloc(n->n * sizeof(*ord));
		if (n->n <= 16) {
			/* a few keys: a stable insertion sort, as qsort's merge sort
			 * orders them, without its call per comparison */
			for (size_t i = 0; i < n->n; i++) {
				const ypair *p = &n->pairs[i];
				size_t at = i;
				while (at > 0 && strcmp(pkey(ord[at - 1]), pkey(p)) > 0) {
					ord[at] = ord[at - 1];
					at--;
				}
				ord[at] = p;
			}
		} else {
			for (size_t i = 0; i < n->n; i++)
				ord[i] = &n->pairs[i];
			qsort(ord, n->n, sizeof(*ord), cmp_pair);
		}
		sb_addc(b, '{');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				sb_addc(b, ',');
			/* up to a NUL, as the key's hash has always taken it */
			const char *k = pkey(ord[i]);
			serialize_string(b, k, strlen(k));
			sb_addc(b, ':');
			value(b, ord[i]->val, depth + 1);
		}
		sb_addc(b, '}');
		if (ord != small)
			free(ord);
		return;
	}
	}
	sb_adds(b, "null");
}

void serialize_value(strbuf *b, const ynode *n)
{
	value(b, n, 0);
}
