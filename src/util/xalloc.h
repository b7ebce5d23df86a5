/* Allocation wrappers that abort on out-of-memory, and a growable buffer. */
#ifndef DAGPROC_XALLOC_H
#define DAGPROC_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

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
void sb_reserve(strbuf *b, size_t extra);
void sb_add(strbuf *b, const char *s, size_t n);
void sb_adds(strbuf *b, const char *s);
void sb_addc(strbuf *b, char c);
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
