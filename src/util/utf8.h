/* The one UTF-8 decoder: strict as Python's and jansson's (no overlong forms,
 * no surrogates, nothing past U+10FFFF), used wherever text is checked, counted
 * or cleaned for JSON. */
#ifndef DAGPROC_UTF8_H
#define DAGPROC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s, which has n bytes left (n >= 1). Returns its
 * length (1-4) and sets *cp (when cp is not NULL), or returns 0 when the bytes
 * are not valid UTF-8 (malformed, truncated by n, overlong, a surrogate, past
 * U+10FFFF). A NUL byte is U+0000 of length 1. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
