/* The dag-factory merge: the defaults.yml chain, the `default` block and the
 * DAG itself layered into one mapping, tasks and task groups in list form turned
 * into mappings keyed by id. */
#include "dagfile/schema_int.h"
#include "util/strmap.h"

#include <string.h>

static bool tags_union_key(const char *k)
{
	return strcmp(k, "tags") == 0;
}

/* Deep merge: mappings merge recursively with `over` winning; anything else is
 * replaced by `over`. With top_level, lists under "tags" are unioned. */
ynode *sch_merge(arena *A, ynode *base, ynode *over, bool top_level)
{
	if (!over)
		return base;
	if (!is_map(base) || !is_map(over))
		return over;
	ynode *m = map_new(A, base->n + over->n, over);
	for (size_t i = 0; i < base->n; i++)
		m->pairs[m->n++] = base->pairs[i];
	for (size_t i = 0; i < over->n; i++) {
		ypair *op = &over->pairs[i];
		ypair *hit = NULL;
		for (size_t j = 0; j < m->n; j++) {
			if (strcmp(key_text(&m->pairs[j]), key_text(op)) == 0) {
				hit = &m->pairs[j];
				break;
			}
		}
		if (!hit) {
			m->pairs[m->n++] = *op;
			continue;
		}
		if (top_level && tags_union_key(key_text(op)) && is_seq(hit->val) &&
		    is_seq(op->val)) {
			ynode *u = arena_zalloc(A, sizeof(*u));
			*u = *op->val;
			u->items = arena_alloc(A, (hit->val->n + op->val->n) * sizeof(ynode *));
			u->n = 0;
			ynode *srcs[2] = {hit->val, op->val};
			for (int s = 0; s < 2; s++) {
				for (size_t k = 0; k < srcs[s]->n; k++) {
					ynode *it = srcs[s]->items[k];
					bool dup = false;
					for (size_t q = 0; q < u->n && it->str; q++)
						if (u->items[q]->str &&
						    strcmp(u->items[q]->str, it->str) == 0)
							dup = true;
					if (!dup)
						u->items[u->n++] = it;
				}
			}
			hit->key = op->key;
			hit->replaced = op->replaced;
			hit->val = u;
			continue;
		}
		hit->key = op->key;
		hit->replaced = op->replaced;
		hit->val = sch_merge(A, hit->val, op->val, false);
	}
	return m;
}

/* ------------------------------------------------------------------------ */
/* Tasks and groups in list or mapping form -> mapping keyed by id            */

static ynode *normalize_entries(dctx *d, ypair *p, const char *idkey, const char *what)
{
	ynode *v = p->val;
	if (!v || v->kind == YN_NULL)
		return map_new(d->A, 0, p->key);
	if (is_map(v)) {
		ynode *m = map_new(d->A, v->n, v);
		strmap seen = {0}; /* ids taken: one lookup each, not a scan */
		for (size_t i = 0; i < v->n; i++) {
			ypair e = v->pairs[i];
			if (e.val && e.val->kind == YN_NULL) {
				ynode *empty = map_new(d->A, 0, e.key);
				e.val = empty;
			}
			if (!is_map(e.val)) {
				sch_err(d, "E002", e.val, "%s '%s' must be a mapping, not a %s",
				        what, key_text(&e), ynode_kind_name(e.val->kind));
				continue;
			}
			if (strmap_get(&seen, key_text(&e), NULL)) {
				sch_err(d, "E022", e.key, "duplicate %s '%s'", what, key_text(&e));
				continue;
			}
			strmap_put(&seen, key_text(&e), m->n);
			m->pairs[m->n++] = e;
		}
		strmap_free(&seen);
		return m;
	}
	if (!is_seq(v)) {
		sch_err(d, "E002", v, "'%s' must be a list or a mapping, not a %s", key_text(p),
		        ynode_kind_name(v->kind));
		return NULL;
	}
	ynode *m = map_new(d->A, v->n, v);
	strmap seen = {0};
	for (size_t i = 0; i < v->n; i++) {
		ynode *e = v->items[i];
		if (!is_map(e)) {
			sch_err(d, "E002", e, "each entry of '%s' must be a mapping, not a %s",
			        key_text(p), ynode_kind_name(e->kind));
			continue;
		}
		ypair *idp = map_find(e, idkey);
		if (!idp || !idp->val || !ynode_is_scalar(idp->val) || idp->val->kind == YN_NULL) {
			sch_err(d, "E023", e, "%s entry without '%s'", what, idkey);
			continue;
		}
		if (strmap_get(&seen, idp->val->str, NULL)) {
			sch_err(d, "E022", idp->val, "duplicate %s '%s'", what, idp->val->str);
			continue;
		}
		strmap_put(&seen, idp->val->str, m->n);
		m->pairs[m->n].key = idp->val;
		m->pairs[m->n].val = e;
		m->n++;
	}
	strmap_free(&seen);
	return m;
}

/* Returns a shallow copy of a layer with tasks/task_groups in mapping form. */
ynode *sch_normalize_layer(dctx *d, ynode *layer)
{
	if (!is_map(layer))
		return NULL;
	ynode *m = map_new(d->A, layer->n, layer);
	for (size_t i = 0; i < layer->n; i++) {
		ypair p = layer->pairs[i];
		if (key_is(&p, "tasks")) {
			p.val = normalize_entries(d, &layer->pairs[i], "task_id", "task");
			if (!p.val)
				continue;
		} else if (key_is(&p, "task_groups")) {
			p.val = normalize_entries(d, &layer->pairs[i], "group_name", "task group");
			if (!p.val)
				continue;
		}
		m->pairs[m->n++] = p;
	}
	return m;
}
