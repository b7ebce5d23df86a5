/* Allocation wrappers that abort on out-of-memory, and a growable buffer. */
#ifndef DAGPROC_XALLOC_H
#define DAGPROC_XALLOC_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct strbuf {
	char *data;
	size_t len, cap;
} strbuf;

void sb_init(strbuf *b);
void sb_free(strbuf *b);
/* Grows the buffer: the slow path of sb_reserve. */
void sb_grow(strbuf *b, size_t extra);

/* The appends are inline: canonical JSON, the API's and check's output are
 * built through them a few bytes at a time (issue 13, item 2). */
static inline void sb_reserve(strbuf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap)
		sb_grow(b, extra);
}

static inline void sb_add(strbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void sb_adds(strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static inline void sb_addc(strbuf *b, char c)
{
	sb_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(strbuf *b, const char *fmt, va_list ap);
/* Hands the buffer to the caller (never NULL) and resets b. */
char *sb_detach(strbuf *b);

/* Growable arrays: VEC_GROW(v, n, cap) makes room for one more item;
 * VEC_PUSH(v, n, cap, item) appends it. */
#define VEC_GROW(v, n, cap)                                                                        \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 16;                                              \
			(v) = xrealloc((v), (cap) * sizeof(*(v)));                                 \
		}                                                                                  \
	} while (0)

#define VEC_PUSH(v, n, cap, item)                                                                  \
	do {                                                                                       \
		VEC_GROW(v, n, cap);                                                               \
		(v)[(n)++] = (item);                                                               \
	} while (0)

#endif
