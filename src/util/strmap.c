/* String-keyed hash map from keys to indexes (open addressing, linear probing). */
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/xalloc.h"

static size_t slot_of(const strmap *m, const char *k)
{
	return (size_t)XXH3_64bits(k, strlen(k)) & (m->cap - 1);
}

static void grow(strmap *m)
{
	strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->keys = xcalloc(m->cap, sizeof(char *));
	m->vals = xcalloc(m->cap, sizeof(size_t));
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.keys[i])
			continue;
		size_t j = slot_of(m, old.keys[i]);
		while (m->keys[j])
			j = (j + 1) & (m->cap - 1);
		m->keys[j] = old.keys[i]; /* moved, not copied */
		m->vals[j] = old.vals[i];
		m->n++;
	}
	free(old.keys);
	free(old.vals);
}

void strmap_put(strmap *m, const char *k, size_t v)
{
	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	size_t i = slot_of(m, k);
	while (m->keys[i]) {
		if (strcmp(m->keys[i], k) == 0) {
			m->vals[i] = v;
			return;
		}
		i = (i + 1) & (m->cap - 1);
	}
	m->keys[i] = xstrdup(k);
	m->vals[i] = v;
	m->n++;
}

bool strmap_get(const strmap *m, const char *k, size_t *v)
{
	if (!m->cap)
		return false;
	size_t i = slot_of(m, k);
	while (m->keys[i]) {
		if (strcmp(m->keys[i], k) == 0) {
			if (v)
				*v = m->vals[i];
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

bool strmap_del(strmap *m, const char *k)
{
	if (!m->cap)
		return false;
	size_t i = slot_of(m, k);
	while (m->keys[i] && strcmp(m->keys[i], k) != 0)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		return false;
	free(m->keys[i]);
	m->keys[i] = NULL;
	m->n--;
	/* backward-shift the cluster that follows so lookups never stop early */
	size_t j = i;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (!m->keys[j])
			break;
		size_t home = slot_of(m, m->keys[j]);
		/* keep j where it is when its home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		m->keys[i] = m->keys[j];
		m->vals[i] = m->vals[j];
		m->keys[j] = NULL;
		i = j;
	}
	return true;
}

void strmap_free(strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}
