/* Task groups and the task graph: group ids (parent chains, prefix_group_id),
 * task ids, dependencies between tasks and groups, references in arguments
 * (+task, .output, XcomArg) and cycles. */
#include "dagfile/schema_int.h"
#include "util/strmap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Graph                                                                     */

static void add_up(stask *t, int u)
{
	for (size_t i = 0; i < t->nup; i++)
		if (t->up[i] == u)
			return;
	if (t->nup == t->capup) {
		t->capup = t->capup ? t->capup * 2 : 4;
		t->up = xrealloc(t->up, t->capup * sizeof(int));
	}
	t->up[t->nup++] = u;
}

/* add_up for many: `seen` (one flag per task, all false) marks what t has */
static void add_ups(stask *t, int self, const int *ups, size_t nups, bool *seen)
{
	for (size_t i = 0; i < t->nup; i++)
		seen[t->up[i]] = true;
	for (size_t i = 0; i < nups; i++) {
		if (ups[i] == self || seen[ups[i]])
			continue;
		seen[ups[i]] = true;
		if (t->nup == t->capup) {
			t->capup = t->capup ? t->capup * 2 : 4;
			t->up = xrealloc(t->up, t->capup * sizeof(int));
		}
		t->up[t->nup++] = ups[i];
	}
	for (size_t i = 0; i < t->nup; i++)
		seen[t->up[i]] = false;
}

static bool in_group(const dctx *d, int task_group, int g)
{
	for (int x = task_group; x >= 0; x = d->groups[x].parent)
		if (x == g)
			return true;
	return false;
}

static bool has_up_in_group(const dctx *d, const stask *t, int g)
{
	for (size_t i = 0; i < t->nup; i++)
		if (in_group(d, d->tasks[t->up[i]].group, g))
			return true;
	return false;
}

/* A reference from a task: -1 not found, else index; *group set when it names
 * a group. */
/* Airflow's longest id: a group id beyond it is an error for its tasks anyway */
#define GROUP_ID_INDEXED 250

static int resolve_name(const dctx *d, const char *name, bool *is_group)
{
	*is_group = false;
	if (d->by_task_name) {
		size_t v;
		if (strmap_get(d->by_task_name, name, &v) || strmap_get(d->by_task_id, name, &v))
			return (int)v;
		if (strmap_get(d->by_group, name, &v)) {
			*is_group = true;
			return (int)v;
		}
		for (size_t i = 0; d->long_group_ids && i < d->ngroups; i++)
			if (strlen(d->groups[i].id) > GROUP_ID_INDEXED &&
			    strcmp(d->groups[i].id, name) == 0) {
				*is_group = true;
				return (int)i;
			}
		return -1;
	}
	for (size_t i = 0; i < d->ntasks; i++)
		if (strcmp(d->tasks[i].name, name) == 0)
			return (int)i;
	for (size_t i = 0; i < d->ntasks; i++)
		if (strcmp(d->tasks[i].id, name) == 0)
			return (int)i;
	for (size_t i = 0; i < d->ngroups; i++) {
		if (strcmp(d->groups[i].name, name) == 0 || strcmp(d->groups[i].id, name) == 0) {
			*is_group = true;
			return (int)i;
		}
	}
	return -1;
}

static void unknown_ref(dctx *d, const ynode *at, const char *who, const char *name)
{
	if (d->suggested >= SCH_MAX_SUGGESTIONS) {
		sch_err(d, "E020", at, "%s depends on unknown task or group '%s'", who, name);
		return;
	}
	d->suggested++;
	size_t n = d->ntasks + d->ngroups;
	const char **cands = xmalloc((n ? n : 1) * sizeof(*cands));
	size_t k = 0;
	for (size_t i = 0; i < d->ntasks; i++)
		cands[k++] = d->tasks[i].name;
	for (size_t i = 0; i < d->ngroups; i++)
		cands[k++] = d->groups[i].name;
	const char *s = suggest_name(name, cands, k);
	sch_err_near(d, "E020", at, s, "%s depends on unknown task or group '%s'", who, name);
	free(cands);
}

typedef struct pending_dep {
	int down_task;  /* >= 0: a task that depends on ...; -1: a group */
	int down_group; /* the group whose roots depend on ... */
	int up;
	bool up_is_group;
	ynode *at; /* the name in `dependencies` */
} pending_dep;

/* References to other tasks in argument values: `+task` (decorators) and
 * `task.output` / `XcomArg(task)` (operators, inside expand/partial). */
static void scan_refs(dctx *d, int ti, ynode *v, bool plus_refs, int depth)
{
	if (!v || depth > 64)
		return;
	if (is_seq(v)) {
		for (size_t i = 0; i < v->n; i++)
			scan_refs(d, ti, v->items[i], plus_refs, depth + 1);
		return;
	}
	if (is_map(v)) {
		for (size_t i = 0; i < v->n; i++)
			scan_refs(d, ti, v->pairs[i].val, plus_refs, depth + 1);
		return;
	}
	if (!is_str(v))
		return;
	char name[256];
	const char *s = v->str;
	size_t n = 0;
	if (plus_refs) {
		if (s[0] != '+')
			return;
		s++;
		while (s[n] && s[n] != '[' && n < sizeof(name) - 1)
			n++;
		if (s[n] != '\0' && s[n] != '[')
			return;
	} else {
		size_t len = strlen(s);
		if (len > 7 && strcmp(s + len - 7, ".output") == 0) {
			n = len - 7;
		} else if (strncmp(s, "XcomArg(", 8) == 0 && len > 9 && s[len - 1] == ')') {
			s += 8;
			n = len - 9;
		} else {
			return;
		}
	}
	if (n == 0 || n >= sizeof(name))
		return;
	memcpy(name, s, n);
	name[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '.' ||
		      name[i] == '-'))
			return;
	bool g;
	int u = resolve_name(d, name, &g);
	if (u < 0 || g) {
		char who[300];
		snprintf(who, sizeof(who), "task '%s'", d->tasks[ti].id);
		if (u < 0)
			unknown_ref(d, v, who, name);
		return;
	}
	if (u != ti)
		add_up(&d->tasks[ti], u);
}

static void collect_deps(dctx *d, ynode *deps, int down_task, int down_group, pending_dep **out,
                         size_t *nout)
{
	if (!deps || deps->kind == YN_NULL)
		return;
	char who[300];
	if (down_task >= 0)
		snprintf(who, sizeof(who), "task '%s'", d->tasks[down_task].id);
	else
		snprintf(who, sizeof(who), "task group '%s'", d->groups[down_group].id);
	ynode *single = NULL;
	ynode **items;
	size_t n;
	if (is_str(deps)) {
		single = deps;
		items = &single;
		n = 1;
	} else if (is_seq(deps)) {
		items = deps->items;
		n = deps->n;
	} else {
		sch_err(d, "E002", deps, "'dependencies' of %s must be a list of names, not a %s",
		        who, ynode_kind_name(deps->kind));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ynode *it = items[i];
		if (!ynode_is_scalar(it) || it->kind == YN_NULL) {
			sch_err(d, "E002", it, "a dependency of %s must be a name, not a %s", who,
			        ynode_kind_name(it->kind));
			continue;
		}
		bool g;
		int u = resolve_name(d, it->str, &g);
		if (u < 0) {
			unknown_ref(d, it, who, it->str);
			continue;
		}
		*out = xrealloc(*out, (*nout + 1) * sizeof(**out));
		(*out)[(*nout)++] = (pending_dep){down_task, down_group, u, g, it};
	}
}

/* Adds ups to t, counting the DAG's edges: false once past SCH_MAX_EDGES
 * (E003 at the dependency, once per DAG). */
static bool add_counted(dctx *d, const pending_dep *p, stask *t, int self, const int *ups,
                        size_t nups, bool *seen)
{
	if (d->edges_capped)
		return false;
	size_t before = t->nup;
	if (d->nedges + nups > SCH_MAX_EDGES) {
		/* exactly: only the edges t does not have yet count */
		size_t fresh = 0;
		for (size_t i = 0; i < t->nup; i++)
			seen[t->up[i]] = true;
		for (size_t i = 0; i < nups; i++)
			if (ups[i] != self && !seen[ups[i]])
				fresh++;
		for (size_t i = 0; i < t->nup; i++)
			seen[t->up[i]] = false;
		if (d->nedges + fresh > SCH_MAX_EDGES) {
			d->edges_capped = true;
			sch_err(
			    d, "E003", p->at,
			    "the DAG is too large: its dependencies on task groups expand to more "
			    "than %zu,000,000 edges between tasks (dagproc's limit), passed at the "
			    "dependency on '%s'",
			    (size_t)SCH_MAX_EDGES / 1000000, p->at->str);
			return false;
		}
	}
	add_ups(t, self, ups, nups, seen);
	d->nedges += t->nup - before;
	return true;
}

static void apply_dep(dctx *d, const pending_dep *p)
{
	if (d->edges_capped)
		return;
	/* upstream side: a task, or the leaves of a group */
	int *ups = NULL;
	size_t nups = 0;
	if (!p->up_is_group) {
		ups = xmalloc(sizeof(int));
		ups[nups++] = p->up;
	} else {
		/* the leaves: tasks of the group no task of the group depends on,
		 * in one pass over the edges (a scan of every task per task was
		 * quadratic: 3,000 tasks on a 3,000-task group took minutes) */
		size_t nt = d->ntasks ? d->ntasks : 1;
		ups = xmalloc(nt * sizeof(int));
		bool *inside = xcalloc(nt, sizeof(bool)), *has_down = xcalloc(nt, sizeof(bool));
		for (size_t i = 0; i < d->ntasks; i++)
			inside[i] = in_group(d, d->tasks[i].group, p->up);
		for (size_t j = 0; j < d->ntasks; j++)
			if (inside[j])
				for (size_t i = 0; i < d->tasks[j].nup; i++)
					has_down[d->tasks[j].up[i]] = true;
		for (size_t i = 0; i < d->ntasks; i++)
			if (inside[i] && !has_down[i])
				ups[nups++] = (int)i;
		free(inside);
		free(has_down);
	}
	bool *seen = xcalloc(d->ntasks ? d->ntasks : 1, sizeof(bool));
	if (p->down_task >= 0) {
		add_counted(d, p, &d->tasks[p->down_task], p->down_task, ups, nups, seen);
	} else {
		/* the roots of the group, computed before adding any of these edges */
		int *roots = xmalloc((d->ntasks ? d->ntasks : 1) * sizeof(int));
		size_t nroots = 0;
		for (size_t i = 0; i < d->ntasks; i++)
			if (in_group(d, d->tasks[i].group, p->down_group) &&
			    !has_up_in_group(d, &d->tasks[i], p->down_group))
				roots[nroots++] = (int)i;
		for (size_t r = 0; r < nroots; r++)
			if (!add_counted(d, p, &d->tasks[roots[r]], roots[r], ups, nups, seen))
				break;
		free(roots);
	}
	free(seen);
	free(ups);
}

static int cmp_dep_depth(const void *a, const void *b, void *ud)
{
	const dctx *d = ud;
	const pending_dep *x = a, *y = b;
	/* group-to-group wiring innermost first, then tasks depending on groups */
	int dx = x->down_task >= 0 ? -1 : d->groups[x->down_group].depth;
	int dy = y->down_task >= 0 ? -1 : d->groups[y->down_group].depth;
	return dy - dx;
}

static void find_cycle(dctx *d)
{
	size_t n = d->ntasks;
	int *color = xcalloc(n ? n : 1, sizeof(int)); /* 0 white 1 grey 2 black */
	int *stack = xmalloc((n ? n : 1) * sizeof(int));
	size_t *iter = xcalloc(n ? n : 1, sizeof(size_t));
	for (size_t s = 0; s < n; s++) {
		if (color[s])
			continue;
		size_t sp = 0;
		stack[sp++] = (int)s;
		color[s] = 1;
		while (sp) {
			int v = stack[sp - 1];
			stask *t = &d->tasks[v];
			if (iter[v] < t->nup) {
				int u = t->up[iter[v]++];
				if (color[u] == 0) {
					color[u] = 1;
					stack[sp++] = u;
				} else if (color[u] == 1) {
					/* cycle: u ... v (each upstream of the previous); print
					 * it in the downstream direction */
					size_t k = sp;
					while (k > 0 && stack[k - 1] != u)
						k--;
					strbuf b;
					sb_init(&b);
					for (size_t j = sp; j-- > k - 1;)
						sb_printf(&b, "%s -> ", d->tasks[stack[j]].id);
					sb_adds(&b, d->tasks[v].id);
					sch_err(d, "E021", d->tasks[u].pos, "dependency cycle: %s",
					        b.data);
					sb_free(&b);
					goto out;
				}
			} else {
				color[v] = 2;
				sp--;
			}
		}
	}
out:
	free(color);
	free(stack);
	free(iter);
}

/* ------------------------------------------------------------------------ */
/* Groups and tasks                                                          */

static int find_group(const dctx *d, const char *name)
{
	size_t v;
	if (d->group_names)
		return strmap_get(d->group_names, name, &v) ? (int)v : -1;
	for (size_t i = 0; i < d->ngroups; i++)
		if (strcmp(d->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void suggest_group(dctx *d, const ynode *at, const char *what, const char *name)
{
	if (d->suggested >= SCH_MAX_SUGGESTIONS) {
		sch_err(d, "E024", at, "%s: unknown task group '%s'", what, name);
		return;
	}
	d->suggested++;
	const char **c = xmalloc((d->ngroups ? d->ngroups : 1) * sizeof(*c));
	for (size_t i = 0; i < d->ngroups; i++)
		c[i] = d->groups[i].name;
	const char *s = suggest_name(name, c, d->ngroups);
	sch_err_near(d, "E024", at, s, "%s: unknown task group '%s'", what, name);
	free(c);
}

/* The group a task_group_name / parent_group_name names: its index, or -1
 * after an E024 with a "did you mean". */
static int group_ref(dctx *d, ynode *name, const char *what)
{
	if (!ynode_is_scalar(name)) {
		sch_err(d, "E024", name, "%s must be a name", what);
		return -1;
	}
	int g = find_group(d, name->str);
	if (g < 0)
		suggest_group(d, name, what, name->str);
	return g;
}

/* Airflow's TaskGroup.group_id: the parent's prefix_group_id decides whether
 * the parent's id comes first (child_id). An id past Airflow's 250 characters
 * is E033 at the outermost group that passes it; the groups below take their
 * names as ids (their tasks could not have valid ids either). */
static void set_group_id(dctx *d, sgroup *g)
{
	if (g->parent < 0) {
		g->id = arena_strdup(d->A, g->name);
		return;
	}
	sgroup *p = &d->groups[g->parent];
	g->depth = p->depth + 1;
	if (!sch_group_prefixes(p)) {
		g->id = arena_strdup(d->A, g->name);
		return;
	}
	size_t len = strlen(p->id) + 1 + strlen(g->name);
	if (p->overlong || len > 250) {
		if (!p->overlong)
			sch_err(d, "E033", g->key,
			        "task group '%s' nested %d levels deep: its id '%.60s...' would be "
			        "longer than 250 characters",
			        g->name, g->depth, p->id);
		g->overlong = true;
		g->id = arena_strdup(d->A, g->name);
		return;
	}
	g->id = arena_printf(d->A, "%s.%s", p->id, g->name);
}

/* Resolves gi's parent chain without recursion (its depth comes from the
 * file): the unresolved ancestors go on a stack, then get their ids from the
 * outermost down. A chain that comes back to itself is E024 at the group
 * found to be its own ancestor, which then has no parent. */
static void resolve_group(dctx *d, int gi)
{
	int *stack = NULL;
	size_t n = 0, cap = 0;
	int cur = gi;
	while (cur >= 0 && d->groups[cur].state == 0) {
		sgroup *g = &d->groups[cur];
		g->state = 1;
		VEC_PUSH(stack, n, cap, cur);
		ynode *pn = map_get(g->body, "parent_group_name");
		g->parent = pn && pn->kind != YN_NULL ? group_ref(d, pn, "parent_group_name") : -1;
		cur = g->parent;
	}
	if (cur >= 0 && d->groups[cur].state == 1) {
		sgroup *g = &d->groups[cur];
		sch_err(d, "E024", g->key,
		        "task group '%s' is its own ancestor (parent_group_name cycle)", g->name);
		g->parent = -1;
		g->state = 2;
		g->id = arena_strdup(d->A, g->name);
	}
	while (n > 0) {
		sgroup *g = &d->groups[stack[--n]];
		if (g->state == 2)
			continue; /* the group of the cycle, done above */
		g->state = 2;
		set_group_id(d, g);
	}
	free(stack);
}

/* prefix_group_id as Python's truth test reads it (default True). */
bool sch_group_prefixes(const sgroup *g)
{
	ynode *pf = map_get(g->body, "prefix_group_id");
	if (!pf)
		return true;
	switch (pf->kind) {
	case YN_NULL:
		return false;
	case YN_BOOL:
		return pf->v.b;
	case YN_INT:
		return pf->v.i != 0;
	case YN_FLOAT:
		return pf->v.f != 0;
	case YN_STR:
		return pf->len != 0;
	case YN_SEQ:
	case YN_MAP:
		return pf->n != 0;
	default:
		return true;
	}
}

/* TaskGroup's keyword arguments (dag-factory passes every key of the group
 * but its own) and their attrs validators. */
static void check_group_keys(dctx *d, sgroup *g)
{
	static const char *const own[] = {"dependencies", "parent_group_name", "task_group_name",
	                                  "operator",     "group_name",        "group_id",
	                                  "dag"};
	static const char *const args[] = {
	    "tooltip",    "prefix_group_id",         "default_args",      "ui_color",
	    "ui_fgcolor", "add_suffix_on_collision", "group_display_name"};
	static const char *const strs[] = {"tooltip", "ui_color", "ui_fgcolor",
	                                   "group_display_name"};
	for (size_t i = 0; is_map(g->body) && i < g->body->n; i++) {
		ypair *p = &g->body->pairs[i];
		const char *k = key_text(p);
		if (in_list(k, own, NELEM(own)))
			continue;
		if (!in_list(k, args, NELEM(args))) {
			sch_err_near(
			    d, "E013", p->key, suggest_name(k, args, NELEM(args)),
			    "TaskGroup.__init__() got an unexpected keyword argument '%s' (task "
			    "group %s)",
			    k, g->name);
			continue;
		}
		if (in_list(k, strs, NELEM(strs)) && p->val && !is_str(p->val))
			sch_err(d, "E015", p->val,
			        "'%s' of task group %s must be a string, not a %s", k, g->name,
			        type_name_of(p->val));
	}
}

void sch_build_groups(dctx *d, ynode *gm)
{
	if (!is_map(gm) || gm->n == 0)
		return;
	d->groups = arena_zalloc(d->A, gm->n * sizeof(sgroup));
	char why[160];
	for (size_t i = 0; i < gm->n; i++) {
		sgroup *g = &d->groups[d->ngroups];
		g->name = gm->pairs[i].key->str;
		g->key = gm->pairs[i].key;
		g->body = gm->pairs[i].val;
		g->parent = -1;
		if (g->key->kind != YN_STR || strlen(g->name) != g->key->len ||
		    !airflow_id_valid(g->name, why, sizeof(why))) {
			sch_check_id(d, g->key, "task group name");
			continue;
		}
		check_group_keys(d, g);
		ypair *da = map_find(g->body, "default_args");
		if (da) {
			if (!is_map(da->val) && da->val->kind != YN_NULL)
				sch_err(d, "E002", da->val, "'default_args' must be a mapping");
			sch_check_default_args(d, da->val);
		}
		if (d->group_names && !strmap_get(d->group_names, g->name, NULL))
			strmap_put(d->group_names, g->name, d->ngroups);
		d->ngroups++;
	}
	for (size_t i = 0; i < d->ngroups; i++)
		resolve_group(d, (int)i);
	/* a group caught in a parent cycle (E024) still needs an id */
	for (size_t i = 0; i < d->ngroups; i++)
		if (!d->groups[i].id)
			d->groups[i].id = arena_strdup(d->A, d->groups[i].name);
}
void sch_build_tasks(dctx *d, ynode *tm)
{
	if (!is_map(tm) || tm->n == 0)
		return;
	d->tasks = arena_zalloc(d->A, tm->n * sizeof(stask));
	char why[160];
	for (size_t i = 0; i < tm->n; i++) {
		ypair *p = &tm->pairs[i];
		stask *t = &d->tasks[d->ntasks];
		t->name = p->key->str;
		t->id_node = p->key;
		t->body = p->val;
		t->pos = p->val;
		t->group = -1;
		if (t->id_node->kind != YN_STR || strlen(t->name) != t->id_node->len ||
		    !airflow_id_valid(t->name, why, sizeof(why))) {
			sch_check_id(d, t->id_node, "task id");
			continue;
		}
		ypair *gp = map_find(t->body, "task_group_name");
		ynode *gn = gp ? gp->val : NULL;
		if (gn && gn->kind != YN_NULL) {
			/* dag-factory looks a task's group up only when the DAG has groups */
			ynode *defined = map_get(d->dag, "task_groups");
			if (is_map(defined) && defined->n)
				t->group = group_ref(d, gn, "task_group_name");
			else
				sch_warn(
				    d, "W003", "unknown key", gp->key,
				    "'task_group_name' is ignored: the DAG defines no task_groups, "
				    "so dag-factory builds task '%s' outside any group",
				    t->name);
		}
		/* Airflow's child_id: the group's own prefix_group_id decides */
		t->id = t->group >= 0 && sch_group_prefixes(&d->groups[t->group])
		            ? arena_printf(d->A, "%s.%s", d->groups[t->group].id, t->name)
		            : arena_strdup(d->A, t->name);
		if (strlen(t->id) > 250)
			sch_err(d, "E033", t->id_node, "task id '%s' is longer than 250 characters",
			        t->id);
		d->ntasks++;
	}
	/* full ids must be unique too (a task named like a group's task) */
	strmap ids = {0};
	for (size_t i = 0; i < d->ntasks; i++) {
		if (strmap_get(&ids, d->tasks[i].id, NULL))
			sch_err(d, "E022", d->tasks[i].id_node, "duplicate task id '%s'",
			        d->tasks[i].id);
		else
			strmap_put(&ids, d->tasks[i].id, i);
	}
	strmap_free(&ids);
	for (size_t i = 0; i < d->ntasks; i++) {
		sch_check_task(d, (int)i);
		sch_check_paths_in(d, d->tasks[i].body, SCH_PATHS_TASK);
		for (size_t k = 0; k < d->tasks[i].body->n; k++)
			sch_check_typed_objects(d, d->tasks[i].body->pairs[k].val, 0);
	}
}

static void put_first(strmap *m, const char *k, size_t v)
{
	if (!strmap_get(m, k, NULL))
		strmap_put(m, k, v);
}

void sch_build_graph(dctx *d)
{
	pending_dep *deps = NULL;
	size_t ndeps = 0;
	/* one lookup per reference instead of a scan of every task (a 20,000-task
	 * chain took seconds) */
	strmap by_name = {0}, by_id = {0}, by_group = {0};
	for (size_t i = 0; i < d->ntasks; i++) {
		put_first(&by_name, d->tasks[i].name, i);
		put_first(&by_id, d->tasks[i].id, i);
	}
	d->long_group_ids = false;
	for (size_t i = 0; i < d->ngroups; i++) {
		put_first(&by_group, d->groups[i].name, i);
		/* deeply nested ids grow with their depth: not copied into the map */
		if (strlen(d->groups[i].id) <= GROUP_ID_INDEXED)
			put_first(&by_group, d->groups[i].id, i);
		else
			d->long_group_ids = true;
	}
	d->by_task_name = &by_name;
	d->by_task_id = &by_id;
	d->by_group = &by_group;
	for (size_t i = 0; i < d->ntasks; i++) {
		stask *t = &d->tasks[i];
		collect_deps(d, map_get(t->body, "dependencies"), (int)i, -1, &deps, &ndeps);
		if (t->decorator) {
			for (size_t k = 0; k < t->body->n; k++) {
				ypair *p = &t->body->pairs[k];
				if (!sch_is_system_key(key_text(p)) || key_is(p, "expand") ||
				    key_is(p, "partial"))
					scan_refs(d, (int)i, p->val, true, 0);
			}
		} else {
			scan_refs(d, (int)i, map_get(t->body, "expand"), false, 0);
			scan_refs(d, (int)i, map_get(t->body, "partial"), false, 0);
		}
	}
	for (size_t g = 0; g < d->ngroups; g++)
		collect_deps(d, map_get(d->groups[g].body, "dependencies"), -1, (int)g, &deps,
		             &ndeps);
	/* task -> task first, then group wiring (innermost groups first), then tasks
	 * that depend on groups */
	for (size_t i = 0; i < ndeps; i++)
		if (deps[i].down_task >= 0 && !deps[i].up_is_group)
			apply_dep(d, &deps[i]);
	pending_dep *rest = xmalloc((ndeps ? ndeps : 1) * sizeof(*rest));
	size_t nrest = 0;
	for (size_t i = 0; i < ndeps; i++)
		if (deps[i].down_task < 0 || deps[i].up_is_group)
			rest[nrest++] = deps[i];
	qsort_r(rest, nrest, sizeof(*rest), cmp_dep_depth, d);
	for (size_t i = 0; i < nrest; i++)
		apply_dep(d, &rest[i]);
	free(rest);
	free(deps);
	d->by_task_name = d->by_task_id = d->by_group = NULL;
	strmap_free(&by_name);
	strmap_free(&by_id);
	strmap_free(&by_group);
	find_cycle(d);
}
