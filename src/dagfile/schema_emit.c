/* Emitting a correct DAG: the warnings that need the whole DAG (pools), the
 * result's fields and the canonical JSON that is stored and hashed. */
#include "dagfile/schema_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Warnings that need the whole DAG                                          */

static ynode *effective(dctx *d, const stask *t, const char *name)
{
	ynode *v = map_get(t->body, name);
	if (v)
		return v;
	for (int g = t->group; g >= 0; g = d->groups[g].parent) {
		v = map_get(map_get(d->groups[g].body, "default_args"), name);
		if (v)
			return v;
	}
	return map_get(d->default_args, name);
}

void sch_check_pools(dctx *d)
{
	const dagfile_opts *o = d->opts;
	strbuf bad;
	sb_init(&bad);
	const ynode *first = NULL;
	for (size_t i = 0; i < d->ntasks; i++) {
		ynode *p = effective(d, &d->tasks[i], "pool");
		if (!p || !is_str(p) || strstr(p->str, "{{"))
			continue;
		bool known = false;
		for (size_t k = 0; k < o->npools && !known; k++)
			known = strcmp(o->pools[k], p->str) == 0;
		if (o->npools == 0)
			known = strcmp(p->str, "default_pool") == 0;
		if (known)
			continue;
		if (!first)
			first = p;
		sb_printf(&bad, "%s'%s' (task %s)", bad.len ? ", " : "", p->str, d->tasks[i].id);
	}
	if (first)
		sch_warn(d, "W001", "non-existent pool", first,
		         "Dag '%s' references non-existent pools: %s", d->dag_id, bad.data);
	sb_free(&bad);
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *scalar_dup(const ynode *n)
{
	return (n && ynode_is_scalar(n) && n->kind != YN_NULL) ? xstrdup(n->str) : NULL;
}

/* A scalar's text, or what a __join__ evaluates to (dag-factory's loader joins
 * before anything reads the value); NULL otherwise. */
static char *text_dup(const ynode *n)
{
	if (is_map(n) && map_get(n, "__join__")) {
		strbuf sb;
		sb_init(&sb);
		sch_string_value(n, &sb);
		return sb_detach(&sb);
	}
	return scalar_dup(n);
}

/* Orders ord[0..n) by ids[ord[i]], ties by position: what a stable sort gives,
 * in n log n (a 20,000-task DAG written in reverse took seconds). */
static int cmp_id_at(const void *a, const void *b, void *ctx)
{
	const char *const *ids = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(ids[x], ids[y]);
	return c ? c : (x > y) - (x < y);
}

static size_t *order_by_id(const char **ids, size_t n)
{
	size_t *ord = xmalloc((n ? n : 1) * sizeof(size_t));
	for (size_t q = 0; q < n; q++)
		ord[q] = q;
	qsort_r(ord, n, sizeof(size_t), cmp_id_at, ids);
	return ord;
}

void sch_emit_dag(dctx *d)
{
	dagfile_result *r = d->res;
	r->dags = xrealloc(r->dags, (r->ndags + 1) * sizeof(*r->dags));
	dag_result *g = &r->dags[r->ndags++];
	memset(g, 0, sizeof(*g));
	g->dag_id = xstrdup(d->dag_id);
	g->line = d->dag_key->line;
	g->col = d->dag_key->col;
	g->max_active_runs = g->max_active_tasks = -1;
	ynode *m = d->dag;

	ynode *sch = map_get(m, "schedule");
	if (sch && is_str(sch))
		g->schedule = xstrdup(sch->str);
	g->description = text_dup(map_get(m, "description"));
	ynode *v = map_get(m, "max_active_runs");
	if (v && v->kind == YN_INT)
		g->max_active_runs = v->v.i;
	/* dag-factory gives DAG() concurrency as max_active_tasks, over it */
	v = map_get(m, "concurrency");
	if (!v)
		v = map_get(m, "max_active_tasks");
	if (v && v->kind == YN_INT)
		g->max_active_tasks = v->v.i;
	v = map_get(m, "is_paused_upon_creation");
	if (v && v->kind == YN_BOOL) {
		g->has_paused_upon_creation = true;
		g->is_paused_upon_creation = v->v.b;
	}
	ynode *tags = map_get(m, "tags");
	if (is_seq(tags)) {
		g->tags = xcalloc(tags->n ? tags->n : 1, sizeof(char *));
		for (size_t i = 0; i < tags->n; i++) {
			char *t = text_dup(tags->items[i]);
			if (t)
				g->tags[g->ntags++] = t;
		}
	}

	/* owners: the tasks' owners, unique, in task order (Airflow's DAG.owner) */
	strbuf ow;
	sb_init(&ow);
	/* each task's owner looked up once; the distinct ones are few */
	const char **uniq = xcalloc(d->ntasks ? d->ntasks : 1, sizeof(*uniq));
	size_t nuniq = 0;
	for (size_t i = 0; i < d->ntasks; i++) {
		ynode *o = effective(d, &d->tasks[i], "owner");
		const char *name =
		    (o && ynode_is_scalar(o) && o->kind != YN_NULL) ? o->str : "airflow";
		bool seen = false;
		for (size_t j = 0; j < nuniq && !seen; j++)
			seen = strcmp(uniq[j], name) == 0;
		if (!seen) {
			uniq[nuniq++] = name;
			sb_printf(&ow, "%s%s", ow.len ? ", " : "", name);
		}
	}
	free(uniq);
	if (!ow.len) {
		ynode *o = map_get(d->default_args, "owner");
		sb_adds(&ow, (o && ynode_is_scalar(o) && o->kind != YN_NULL) ? o->str : "airflow");
	}
	g->owners = sb_detach(&ow);

	/* tasks sorted by id */
	g->ntasks = d->ntasks;
	g->tasks = xcalloc(d->ntasks ? d->ntasks : 1, sizeof(dag_task));
	for (size_t i = 0; i < d->ntasks; i++) {
		stask *t = &d->tasks[i];
		dag_task *o = &g->tasks[i];
		o->task_id = xstrdup(t->id);
		o->operator = xstrdup(t->operator ? t->operator : "");
		o->decorator = t->decorator;
		o->nupstream = t->nup;
		o->upstream = xcalloc(t->nup ? t->nup : 1, sizeof(char *));
		for (size_t k = 0; k < t->nup; k++)
			o->upstream[k] = xstrdup(d->tasks[t->up[k]].id);
		qsort(o->upstream, o->nupstream, sizeof(char *), cmp_str);
	}

	/* canonical JSON */
	strbuf b;
	sb_init(&b);
	sb_adds(&b, "{\"dag_id\":");
	serialize_string(&b, d->dag_id, strlen(d->dag_id));
	/* the DAG's own keys, sorted, without tasks/task_groups/dag_id */
	size_t nk = 0;
	const ypair **keys = xmalloc((m->n + 1) * sizeof(*keys));
	/* keys dag-factory does not use are not serialized as if they were set;
	 * concurrency is serialized as the max_active_tasks it becomes */
	ypair conc = {0};
	for (size_t i = 0; i < m->n; i++) {
		const ypair *p = &m->pairs[i];
		if (key_is(p, "tasks") || key_is(p, "task_groups") || key_is(p, "dag_id"))
			continue;
		if (key_is(p, "concurrency")) {
			conc.key = str_node(d->A, "max_active_tasks", p->key);
			conc.val = p->val;
			continue;
		}
		if (key_is(p, "max_active_tasks") && map_get(m, "concurrency"))
			continue;
		if (sch_dag_key_ignored(key_text(p)))
			continue;
		keys[nk++] = p;
	}
	if (conc.key)
		keys[nk++] = &conc;
	if (nk > 1) {
		const char **kt = xmalloc(nk * sizeof(char *));
		const ypair **was = xmalloc(nk * sizeof(*was));
		for (size_t i = 0; i < nk; i++) {
			kt[i] = key_text(keys[i]);
			was[i] = keys[i];
		}
		size_t *ord = order_by_id(kt, nk);
		for (size_t i = 0; i < nk; i++)
			keys[i] = was[ord[i]];
		free(ord);
		free(was);
		free(kt);
	}
	/* "dag_id" < "tasks"/"task_groups" in sort order: emit keys around them */
	bool groups_done = false, tasks_done = false;
	for (size_t i = 0; i <= nk; i++) {
		const char *k = i < nk ? key_text(keys[i]) : NULL;
		if (!groups_done && (!k || strcmp(k, "task_groups") > 0)) {
			groups_done = true;
			sb_adds(&b, ",\"task_groups\":[");
			/* groups sorted by id */
			size_t ng = d->ngroups;
			const char **gids = xmalloc((ng ? ng : 1) * sizeof(char *));
			for (size_t q = 0; q < ng; q++)
				gids[q] = d->groups[q].id;
			size_t *ord = order_by_id(gids, ng);
			free(gids);
			for (size_t q = 0; q < ng; q++) {
				sgroup *gr = &d->groups[ord[q]];
				ynode *body = map_new(d->A, gr->body->n + 1, gr->body);
				for (size_t z = 0; z < gr->body->n; z++)
					if (!key_is(&gr->body->pairs[z], "group_name"))
						body->pairs[body->n++] = gr->body->pairs[z];
				body->pairs[body->n].key = str_node(d->A, "group_id", NULL);
				body->pairs[body->n].val = str_node(d->A, gr->id, NULL);
				body->n++;
				if (q)
					sb_addc(&b, ',');
				serialize_value(&b, body);
			}
			free(ord);
			sb_addc(&b, ']');
		}
		if (!tasks_done && (!k || strcmp(k, "tasks") > 0)) {
			tasks_done = true;
			sb_adds(&b, ",\"tasks\":[");
			const char **tids = xmalloc((d->ntasks ? d->ntasks : 1) * sizeof(char *));
			for (size_t q = 0; q < d->ntasks; q++)
				tids[q] = d->tasks[q].id;
			size_t *ord = order_by_id(tids, d->ntasks);
			free(tids);
			for (size_t q = 0; q < d->ntasks; q++) {
				stask *t = &d->tasks[ord[q]];
				dag_task *o = &g->tasks[ord[q]];
				ynode *body = map_new(d->A, t->body->n + 2, t->body);
				for (size_t z = 0; z < t->body->n; z++)
					if (!key_is(&t->body->pairs[z], "task_id") &&
					    !key_is(&t->body->pairs[z], "dependencies"))
						body->pairs[body->n++] = t->body->pairs[z];
				body->pairs[body->n].key = str_node(d->A, "task_id", NULL);
				body->pairs[body->n].val = str_node(d->A, t->id, NULL);
				body->n++;
				ynode *ups = arena_zalloc(d->A, sizeof(*ups));
				ups->kind = YN_SEQ;
				ups->n = o->nupstream;
				ups->items =
				    arena_alloc(d->A, (ups->n ? ups->n : 1) * sizeof(ynode *));
				for (size_t z = 0; z < ups->n; z++)
					ups->items[z] = str_node(d->A, o->upstream[z], NULL);
				body->pairs[body->n].key =
				    str_node(d->A, "upstream_task_ids", NULL);
				body->pairs[body->n].val = ups;
				body->n++;
				if (q)
					sb_addc(&b, ',');
				serialize_value(&b, body);
			}
			free(ord);
			sb_addc(&b, ']');
		}
		if (k) {
			sb_addc(&b, ',');
			serialize_string(&b, k, strlen(k));
			sb_addc(&b, ':');
			serialize_value(&b, keys[i]->val);
		}
	}
	free(keys);
	sb_addc(&b, '}');
	g->json_len = b.len;
	g->json = sb_detach(&b);

	/* sort the result's tasks by id as documented */
	if (g->ntasks > 1) {
		const char **ids = xmalloc(g->ntasks * sizeof(char *));
		for (size_t q = 0; q < g->ntasks; q++)
			ids[q] = g->tasks[q].task_id;
		size_t *ord = order_by_id(ids, g->ntasks);
		dag_task *sorted = xmalloc(g->ntasks * sizeof(*sorted));
		for (size_t q = 0; q < g->ntasks; q++)
			sorted[q] = g->tasks[ord[q]];
		memcpy(g->tasks, sorted, g->ntasks * sizeof(*sorted));
		free(sorted);
		free(ord);
		free(ids);
	}
}
