/* A string-keyed hash map (open addressing) from keys to indexes. Keys are
 * copied. */
#ifndef DAGPROC_STRMAP_H
#define DAGPROC_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strmap {
	char **keys;
	size_t *vals;
	size_t cap, n;
} strmap;

/* Inserts or replaces. */
void strmap_put(strmap *m, const char *k, size_t v);
/* True when present; *v set when v is not NULL. */
bool strmap_get(const strmap *m, const char *k, size_t *v);
/* Removes k; true when it was present. */
bool strmap_del(strmap *m, const char *k);
void strmap_free(strmap *m);

#endif
