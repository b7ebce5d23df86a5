/* Bump allocator: every allocation of one parse lives until arena_free(). */
#ifndef DAGPROC_ARENA_H
#define DAGPROC_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;

typedef struct arena {
	arena_chunk *head;
	size_t used_total; /* bytes handed out, for limits and stats */
} arena;

void arena_init(arena *a);
void arena_free(arena *a);
/* Never returns NULL: aborts on out-of-memory (workers run under RLIMIT_AS and
 * a dead worker becomes E004, so aborting is the designed failure path). */
void *arena_alloc(arena *a, size_t n);
void *arena_zalloc(arena *a, size_t n);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
