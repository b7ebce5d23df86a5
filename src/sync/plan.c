/* The rules of SPEC §3 for one batch, as a pure function: who holds each DAG
 * id, then what each table must hold, compared with what it holds. A DAG id's
 * fate is decided once for the whole batch, so a DAG that moves between two
 * files of the batch, or between a batch file and a file outside it, comes out
 * the same in any path order. */
#include "sync/plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/strmap.h"
#include "util/xalloc.h"

#define NONE       ((size_t)-1)
#define WITH_ERROR ((size_t)-2) /* defmap value: the file defines the id with errors */

/* One DAG id the batch touches, and its fate. */
typedef struct idinfo {
	const char *id;
	size_t row;       /* index in cur->dags, or NONE */
	size_t row_file;  /* batch index of the row's file if the batch governs it, else NONE */
	size_t first_def; /* first governed file (path order) defining it correctly, or NONE */
	/* the decision */
	size_t holder;        /* batch index of the file that holds it, or NONE */
	bool holder_ok;       /* holds a correct DAG (else a DAG with errors) */
	const char *external; /* rel of a file outside the batch that holds it */
	bool stale;           /* its row goes stale */
} idinfo;

typedef struct ctx {
	const sync_file *files;
	size_t n;
	const plan_current *cur;
	plan_out *o;
	strmap filemap; /* bundle \x1f rel -> batch index, governed files only */
	strmap defmap;  /* "<file> \x1f <id>" -> dag index, or WITH_ERROR */
	strmap idmap;   /* dag_id -> index in ids */
	idinfo *ids;
	size_t nids, capids;
} ctx;

static bool truthy_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static char *key2(const char *a, const char *b)
{
	return xasprintf("%s\x1f%s", a, b);
}

static bool governed(const sync_file *f)
{
	return !f->foreign && !f->store_failure;
}

/* ---- who defines what ---- */

static idinfo *id_get(ctx *x, const char *id)
{
	size_t i;
	if (strmap_get(&x->idmap, id, &i))
		return &x->ids[i];
	idinfo in = {.id = id, .row = NONE, .row_file = NONE, .first_def = NONE, .holder = NONE};
	strmap_put(&x->idmap, id, x->nids);
	VEC_PUSH(x->ids, x->nids, x->capids, in);
	return &x->ids[x->nids - 1];
}

/* The dag index of id in governed file f, WITH_ERROR, or NONE. */
static size_t def_of(const ctx *x, size_t f, const char *id)
{
	char fk[32];
	snprintf(fk, sizeof(fk), "%zu", f);
	char *k = key2(fk, id);
	size_t v;
	bool hit = strmap_get(&x->defmap, k, &v);
	free(k);
	return hit ? v : NONE;
}

static void index_batch(ctx *x)
{
	for (size_t f = 0; f < x->n; f++) {
		const sync_file *sf = &x->files[f];
		if (!governed(sf))
			continue;
		char *k = key2(sf->bundle, sf->rel);
		strmap_put(&x->filemap, k, f);
		free(k);
		const dagfile_result *r = sf->deleted ? NULL : sf->res;
		if (!r)
			continue;
		char fk[32];
		snprintf(fk, sizeof(fk), "%zu", f);
		for (size_t i = 0; i < r->ndags + r->nerror_dag_ids; i++) {
			bool ok = i < r->ndags;
			const char *id = ok ? r->dags[i].dag_id : r->error_dag_ids[i - r->ndags];
			char *dk = key2(fk, id);
			size_t prev;
			/* a correct definition wins over an error one of the same id */
			if (!strmap_get(&x->defmap, dk, &prev) || prev == WITH_ERROR)
				strmap_put(&x->defmap, dk, ok ? i : WITH_ERROR);
			free(dk);
			idinfo *in = id_get(x, id);
			if (ok && in->first_def == NONE)
				in->first_def = f;
		}
	}
	/* the rows: their files, when the batch governs them */
	for (size_t r = 0; r < x->cur->ndags; r++) {
		const plan_dag_row *row = &x->cur->dags[r];
		idinfo *in = id_get(x, row->dag_id);
		in->row = r;
		char *k = key2(row->bundle, row->rel);
		size_t f;
		if (strmap_get(&x->filemap, k, &f))
			in->row_file = f;
		free(k);
	}
}

/* ---- ownership: one decision per DAG id ---- */

static void hold(idinfo *in, size_t f, bool ok)
{
	in->holder = f;
	in->holder_ok = ok;
}

static void decide(ctx *x, idinfo *in)
{
	const plan_dag_row *row = in->row != NONE ? &x->cur->dags[in->row] : NULL;
	size_t rf = in->row_file;
	size_t rdef = rf != NONE ? def_of(x, rf, in->id) : NONE;
	if (row && !row->stale && rf == NONE) {
		/* a live DAG of a file outside the batch keeps its id (even with
		 * errors: it is live) */
		in->external = row->rel;
		return;
	}
	if (row && !row->stale) {
		if (rdef != NONE) {
			hold(in, rf, rdef != WITH_ERROR); /* the recorded file keeps it */
			return;
		}
		/* it left the file that held it */
		if (in->first_def != NONE)
			hold(in, in->first_def, true);
		else
			in->stale = true;
		return;
	}
	/* no row, or a stale one: the recorded file first, then path order */
	if (rf != NONE && rdef != NONE && rdef != WITH_ERROR)
		hold(in, rf, true);
	else if (in->first_def != NONE)
		hold(in, in->first_def, true);
	else if (rf != NONE && rdef == WITH_ERROR)
		hold(in, rf, false); /* recorded before, broken now: kept, with errors */
}

static bool released(const ctx *x, const idinfo *in)
{
	if (in->row == NONE || in->row_file == NONE || x->cur->dags[in->row].stale)
		return false;
	return in->stale || in->holder != in->row_file;
}

/* ---- per file: claims, import error, digest ---- */

static void digest_add(XXH3_state_t *h, const char *s)
{
	if (!s)
		s = "\x01null";
	XXH3_64bits_update(h, s, strlen(s) + 1);
}

static const char *holder_rel(const ctx *x, const idinfo *in)
{
	return in->external ? in->external : x->files[in->holder].rel;
}

/* Stable order of a file's errors by position (the parse's own E034s do not
 * occur: check adds those, not the parser). */
static int cmp_pos(const void *a, const void *b)
{
	const diag *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	int c = strcmp(x->code, y->code);
	if (c)
		return c;
	return x->message < y->message ? -1 : x->message > y->message;
}

/* Whether msg is one of r's own messages (not one this file allocated). */
static bool is_original(const dagfile_result *r, const char *msg)
{
	for (size_t i = 0; i < r->nerrors; i++)
		if (r->errors[i].message == msg)
			return true;
	return false;
}

static void plan_file_claims(ctx *x, size_t f, XXH3_state_t *h)
{
	const sync_file *sf = &x->files[f];
	plan_file *pf = &x->o->files[f];
	pf->governed = governed(sf);
	snprintf(pf->source, sizeof(pf->source), "%016" PRIx64, sf->source_hash);
	if (sf->store_failure) {
		pf->stacktrace = sync_stacktrace(sf->rel, NULL, sf->store_failure);
		return;
	}
	const dagfile_result *r = sf->deleted ? NULL : sf->res;
	if (!pf->governed || !r)
		return;
	pf->claimed = xcalloc(r->ndags ? r->ndags : 1, sizeof(bool));
	/* the file's errors and its E034s, in position order as check prints them */
	diag *all = xmalloc((r->nerrors + r->ndags + 1) * sizeof(*all));
	size_t nall = r->nerrors;
	if (r->nerrors)
		memcpy(all, r->errors, r->nerrors * sizeof(*all));
	for (size_t i = 0; i < r->ndags; i++) {
		const dag_result *g = &r->dags[i];
		size_t ii;
		strmap_get(&x->idmap, g->dag_id, &ii);
		const idinfo *in = &x->ids[ii];
		if (!in->external && in->holder == f && in->holder_ok &&
		    def_of(x, f, g->dag_id) == i) {
			pf->claimed[i] = true;
			pf->nclaimed++;
			pf->tasks += g->ntasks;
			continue;
		}
		const char *other = in->external || in->holder != NONE ? holder_rel(x, in) : "?";
		diag *e = &all[nall++];
		memset(e, 0, sizeof(*e));
		memcpy(e->code, "E034", 5);
		e->line = g->line ? g->line : 1;
		e->col = g->col ? g->col : 1;
		e->message = xasprintf("DAG id '%s' is already defined by %s", g->dag_id, other);
	}
	qsort(all, nall, sizeof(*all), cmp_pos);
	dagfile_result view = *r;
	view.errors = all;
	view.nerrors = nall;
	char *st = sync_stacktrace(sf->rel, &view, NULL);
	for (size_t i = 0; i < nall; i++)
		if (!is_original(r, all[i].message))
			free(all[i].message); /* the E034 messages made here */
	free(all);
	pf->stacktrace = st;

	XXH3_64bits_reset(h);
	digest_add(h, sf->fileloc);
	digest_add(h, st);
	for (size_t i = 0; i < r->ndags; i++) {
		const dag_result *g = &r->dags[i];
		char hex[33];
		dagfile_hash_hex(g->hash, hex);
		digest_add(h, pf->claimed[i] ? "claimed" : "refused");
		digest_add(h, g->dag_id);
		digest_add(h, hex);
		digest_add(h, g->description);
		digest_add(h, g->owners);
		digest_add(h, g->schedule);
	}
	for (size_t i = 0; i < r->nerror_dag_ids; i++)
		digest_add(h, r->error_dag_ids[i]);
	for (size_t i = 0; i < r->nwarnings; i++) {
		digest_add(h, r->warnings[i].dag_id);
		digest_add(h, r->warnings[i].code);
		digest_add(h, r->warnings[i].message);
	}
	snprintf(pf->digest, sizeof(pf->digest), "%016" PRIx64, XXH3_64bits_digest(h));
}

/* ---- the tables ---- */

static int64_t num_or(const char *s, int64_t dflt)
{
	return s ? strtoll(s, NULL, 10) : dflt;
}

/* Whether the dag row already says what g in file sf says. */
static bool dag_row_matches(const plan_dag_row *row, const sync_file *sf, const dag_result *g,
                            bool has_errors)
{
	int64_t mat = g->max_active_tasks >= 0 ? g->max_active_tasks : 16;
	int64_t mar = g->max_active_runs >= 0 ? g->max_active_runs : 16;
	return !row->stale && row->has_errors == has_errors && truthy_eq(row->bundle, sf->bundle) &&
	       truthy_eq(row->rel, sf->rel) && truthy_eq(row->fileloc, sf->fileloc) &&
	       truthy_eq(row->description, g->description) &&
	       truthy_eq(row->display_name, g->dag_id) &&
	       truthy_eq(row->timetable, g->schedule ? g->schedule : "None") &&
	       truthy_eq(row->owners, g->owners) && num_or(row->max_active_tasks, -1) == mat &&
	       num_or(row->max_active_runs, -1) == mar;
}

static void mark_writes(ctx *x, const idinfo *in)
{
	if (in->holder != NONE)
		x->o->files[in->holder].writes = true;
	if (in->row_file != NONE)
		x->o->files[in->row_file].writes = true;
}

/* dag, serialized_dag: a correct DAG's row and serialization follow its file;
 * a DAG with errors keeps its last good serialization and is flagged; a DAG no
 * governed file defines any more goes stale. */
static void plan_dags(ctx *x, const idinfo *in)
{
	plan_out *o = x->o;
	const plan_dag_row *row = in->row != NONE ? &x->cur->dags[in->row] : NULL;
	if (in->stale) {
		if (row && !row->stale) {
			plan_flags fl = {in->id, true, row->has_errors};
			VEC_PUSH(o->flags, o->nflags, o->capflags, fl);
			mark_writes(x, in);
		}
		return;
	}
	if (in->external || in->holder == NONE)
		return;
	const sync_file *sf = &x->files[in->holder];
	bool has_errors = o->files[in->holder].stacktrace != NULL;
	if (!in->holder_ok) {
		if (row && (row->stale || !row->has_errors)) {
			plan_flags fl = {in->id, false, true};
			VEC_PUSH(o->flags, o->nflags, o->capflags, fl);
			mark_writes(x, in);
		}
		return;
	}
	const dag_result *g = &sf->res->dags[def_of(x, in->holder, in->id)];
	plan_dag_write w = {.file = in->holder, .g = g, .has_errors = has_errors, .is_new = !row};
	if (!row || !dag_row_matches(row, sf, g, has_errors)) {
		VEC_PUSH(o->dags, o->ndags, o->capdags, w);
		if (!row && g->has_paused_upon_creation && g->is_paused_upon_creation)
			VEC_PUSH(o->paused, o->npaused, o->cappaused, g->dag_id);
		mark_writes(x, in);
	}
	char hex[33];
	dagfile_hash_hex(g->hash, hex);
	if (!row || !truthy_eq(row->hash, hex)) {
		VEC_PUSH(o->ser, o->nser, o->capser, w);
		mark_writes(x, in);
	}
}

/* dag_tag: the tags of each correct DAG its file writes (a stale DAG keeps its
 * tags, as Airflow keeps them). */
static void plan_tags(ctx *x, const strmap *cur_tags)
{
	plan_out *o = x->o;
	strmap want = {0};
	for (size_t i = 0; i < x->nids; i++) {
		const idinfo *in = &x->ids[i];
		if (in->external || in->holder == NONE || !in->holder_ok)
			continue;
		const dag_result *g =
		    &x->files[in->holder].res->dags[def_of(x, in->holder, in->id)];
		for (size_t t = 0; t < g->ntags; t++) {
			char *k = key2(g->dag_id, g->tags[t]);
			if (!strmap_get(&want, k, NULL)) {
				strmap_put(&want, k, 1);
				if (!strmap_get(cur_tags, k, NULL)) {
					plan_tag tg = {g->dag_id, g->tags[t]};
					VEC_PUSH(o->tag_ins, o->ntag_ins, o->captag_ins, tg);
					mark_writes(x, in);
				}
			}
			free(k);
		}
	}
	for (size_t i = 0; i < x->cur->ntags; i++) {
		const plan_tag_row *t = &x->cur->tags[i];
		size_t ii;
		if (!strmap_get(&x->idmap, t->dag_id, &ii))
			continue;
		const idinfo *in = &x->ids[ii];
		if (in->external || in->holder == NONE || !in->holder_ok)
			continue;
		char *k = key2(t->dag_id, t->name);
		if (!strmap_get(&want, k, NULL)) {
			plan_tag tg = {t->dag_id, t->name};
			VEC_PUSH(o->tag_del, o->ntag_del, o->captag_del, tg);
			mark_writes(x, in);
		}
		free(k);
	}
	strmap_free(&want);
}

/* The warnings of dag_id in result r, merged per warning_type, in arena mem. */
static const char *warning_text(arena *mem, const dagfile_result *r, const char *dag_id,
                                const char *wtype)
{
	strbuf s;
	sb_init(&s);
	for (size_t i = 0; i < r->nwarnings; i++) {
		const diag *d = &r->warnings[i];
		if (!d->dag_id || strcmp(d->dag_id, dag_id) || !d->warning_type ||
		    strcmp(d->warning_type, wtype))
			continue;
		if (s.len)
			sb_addc(&s, '\n');
		sb_adds(&s, d->message);
	}
	const char *t = s.len ? arena_strdup(mem, s.data) : NULL;
	sb_free(&s);
	return t;
}

/* dag_warning: exactly the warnings of the latest parse of each live DAG the
 * batch governs; none for a stale one. */
static void plan_warnings(ctx *x, const strmap *cur_warns)
{
	plan_out *o = x->o;
	strmap want = {0};
	for (size_t i = 0; i < x->nids; i++) {
		const idinfo *in = &x->ids[i];
		if (in->external || in->holder == NONE)
			continue;
		const dagfile_result *r = x->files[in->holder].res;
		for (size_t w = 0; w < r->nwarnings; w++) {
			const diag *d = &r->warnings[w];
			if (!d->dag_id || !d->warning_type || strcmp(d->dag_id, in->id) != 0)
				continue;
			char *k = key2(d->dag_id, d->warning_type);
			if (strmap_get(&want, k, NULL)) {
				free(k);
				continue;
			}
			strmap_put(&want, k, 1);
			const char *msg = warning_text(&o->mem, r, d->dag_id, d->warning_type);
			size_t ci;
			if (!strmap_get(cur_warns, k, &ci) ||
			    !truthy_eq(x->cur->warns[ci].message, msg)) {
				plan_warn pw = {d->dag_id, d->warning_type, msg};
				VEC_PUSH(o->warns, o->nwarns, o->capwarns, pw);
				mark_writes(x, in);
			}
			free(k);
		}
	}
	for (size_t i = 0; i < x->cur->nwarns; i++) {
		const plan_warn_row *w = &x->cur->warns[i];
		size_t ii;
		if (!strmap_get(&x->idmap, w->dag_id, &ii))
			continue;
		const idinfo *in = &x->ids[ii];
		bool ours = in->stale || (!in->external && in->holder != NONE);
		if (!ours)
			continue;
		char *k = key2(w->dag_id, w->type);
		if (!strmap_get(&want, k, NULL)) {
			plan_warn pw = {w->dag_id, w->type, NULL};
			VEC_PUSH(o->warns, o->nwarns, o->capwarns, pw);
			mark_writes(x, in);
		}
		free(k);
	}
	strmap_free(&want);
}

/* import_error and parse_stat, per file. */
static void plan_file_rows(ctx *x, size_t f)
{
	plan_out *o = x->o;
	const sync_file *sf = &x->files[f];
	plan_file *pf = &o->files[f];
	const plan_file_row *cr = &x->cur->files[f];
	if (sf->foreign)
		return;
	const char *want = sf->deleted ? NULL : pf->stacktrace;
	if (!truthy_eq(cr->stacktrace, want)) {
		plan_ie ie = {f, want};
		VEC_PUSH(o->ies, o->nies, o->capies, ie);
		pf->writes = true;
	}
	if (!pf->governed)
		return; /* a file that could not be stored keeps its statistics */
	if (sf->deleted || !sf->res) {
		if (cr->has_stat) {
			VEC_PUSH(o->stat_del, o->nstat_del, o->capstat_del, f);
			pf->writes = true;
		}
		return;
	}
	/* also for a result unchanged by a change of its sources (a comment), so
	 * that a restart knows it */
	bool same = cr->has_stat && truthy_eq(cr->result_hash, pf->digest) &&
	            (!sf->source_hash || truthy_eq(cr->source_hash, pf->source));
	if (!same) {
		VEC_PUSH(o->stat_put, o->nstat_put, o->capstat_put, f);
		if (!cr->has_stat || !truthy_eq(cr->result_hash, pf->digest))
			pf->writes = true;
	}
}

void plan_make(const sync_file *files, size_t n, const plan_current *cur, plan_out *out)
{
	memset(out, 0, sizeof(*out));
	arena_init(&out->mem);
	out->files = xcalloc(n ? n : 1, sizeof(plan_file));
	ctx x = {.files = files, .n = n, .cur = cur, .o = out};
	index_batch(&x);
	for (size_t i = 0; i < x.nids; i++)
		decide(&x, &x.ids[i]);
	XXH3_state_t *h = XXH3_createState();
	for (size_t f = 0; f < n; f++)
		plan_file_claims(&x, f, h);
	XXH3_freeState(h);
	for (size_t i = 0; i < x.nids; i++) {
		plan_dags(&x, &x.ids[i]);
		if (released(&x, &x.ids[i]))
			VEC_PUSH(out->released, out->nreleased, out->capreleased, x.ids[i].id);
	}
	strmap cur_tags = {0}, cur_warns = {0};
	for (size_t i = 0; i < cur->ntags; i++) {
		char *k = key2(cur->tags[i].dag_id, cur->tags[i].name);
		strmap_put(&cur_tags, k, i);
		free(k);
	}
	for (size_t i = 0; i < cur->nwarns; i++) {
		char *k = key2(cur->warns[i].dag_id, cur->warns[i].type);
		strmap_put(&cur_warns, k, i);
		free(k);
	}
	plan_tags(&x, &cur_tags);
	plan_warnings(&x, &cur_warns);
	strmap_free(&cur_tags);
	strmap_free(&cur_warns);
	for (size_t f = 0; f < n; f++)
		plan_file_rows(&x, f);
	strmap_free(&x.filemap);
	strmap_free(&x.defmap);
	strmap_free(&x.idmap);
	free(x.ids);
}

bool plan_out_empty(const plan_out *o)
{
	return !o->ndags && !o->nser && !o->nflags && !o->npaused && !o->ntag_ins && !o->ntag_del &&
	       !o->nies && !o->nwarns && !o->nstat_put && !o->nstat_del;
}

void plan_out_free(plan_out *o, size_t n)
{
	for (size_t f = 0; o->files && f < n; f++) {
		free(o->files[f].stacktrace);
		free(o->files[f].claimed);
	}
	free(o->files);
	free(o->dags);
	free(o->ser);
	free(o->flags);
	free(o->paused);
	free(o->tag_ins);
	free(o->tag_del);
	free(o->ies);
	free(o->warns);
	free(o->stat_put);
	free(o->stat_del);
	free(o->released);
	arena_free(&o->mem);
	memset(o, 0, sizeof(*o));
}

void plan_current_free(plan_current *c)
{
	free(c->dags);
	free(c->files);
	free(c->tags);
	free(c->warns);
	arena_free(&c->mem);
	memset(c, 0, sizeof(*c));
}
