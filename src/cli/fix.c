/* `dagproc fix`: applies the fixes `check` reports (a replacement that is
 * certain: an Airflow 2 operator path, schedule_interval), byte for byte:
 * outside the edited spans nothing changes. Repeats until nothing is left to
 * fix (a corrected path lets the task's arguments be checked), writes each
 * file atomically, and never touches a file with a YAML syntax error or one
 * that changed on disk since it was read. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/check_int.h"
#include "cli/cli.h"
#include "config/config.h"
#include "dagfile/codes.h"
#include "dagfile/fix.h"
#include "util/fsutil.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#define FIX_ROUNDS 10

void cli_fix_usage(FILE *f)
{
	fputs("usage: dagproc fix [--diff] [--select CODES] [--config FILE] PATH...\n"
	      "\n"
	      "Applies the fixes `dagproc check --format json` reports: replacements that\n"
	      "are certain, such as an Airflow 2 operator path that Airflow 3.1 redirects\n"
	      "or that moved to a provider (E011, E012, W002: from the operator catalog),\n"
	      "schedule_interval or timetable -> schedule (E031), concurrency ->\n"
	      "max_active_tasks (W002). Only the edited text changes: comments, blank\n"
	      "lines, key order, quoting, anchors and aliases, line endings stay as\n"
	      "they are. Fixing repeats until nothing is left to fix. A file with a YAML\n"
	      "syntax error is not touched; one that changed on disk since it was read\n"
	      "is not overwritten. Files are written atomically, keeping their mode.\n"
	      "\n"
	      "  --diff          print a unified diff of the fixes; write nothing\n"
	      "  --select CODES  only these codes (comma-separated; a prefix such as\n"
	      "                  E01 selects E010 to E019)\n"
	      "  --config FILE   configuration file (operator catalogs, pools)\n"
	      "\n"
	      "Exit status: 0 nothing left to fix and no error, 1 errors remain that no\n"
	      "fix resolves, 2 usage or I/O error.\n",
	      f);
}

typedef struct sel {
	char **v;
	size_t n;
} sel;

static bool selected(const sel *s, const char *code)
{
	if (!s->n)
		return true;
	for (size_t i = 0; i < s->n; i++)
		if (strncmp(code, s->v[i], strlen(s->v[i])) == 0)
			return true;
	return false;
}

typedef struct edit {
	size_t start, end;
	char *text;
	uint32_t line, col;
	char code[5];
} edit;

static int cmp_edit(const void *a, const void *b)
{
	const edit *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

typedef struct tally {
	char code[5];
	size_t n;
} tally;

typedef struct file_fix {
	char *text; /* current text */
	size_t len;
	tally *t;
	size_t nt;
	size_t applied;
	bool yaml_error;
	char *refused; /* why a fix was not applied (conflicting edits), or NULL */
	size_t errors_left, fixable_left;
} file_fix;

static void count(file_fix *ff, const char *code)
{
	for (size_t i = 0; i < ff->nt; i++)
		if (strcmp(ff->t[i].code, code) == 0) {
			ff->t[i].n++;
			return;
		}
	ff->t = xrealloc(ff->t, (ff->nt + 1) * sizeof(*ff->t));
	snprintf(ff->t[ff->nt].code, sizeof(ff->t[0].code), "%s", code);
	ff->t[ff->nt++].n = 1;
}

static void push_edits(file_fix *ff, const diag *ds, size_t nd, const sel *s, edit **ev, size_t *ne,
                       size_t *cap)
{
	dagfile_text_cursor cur = {0};
	for (size_t i = 0; i < nd; i++) {
		fix_edit e;
		if (!selected(s, ds[i].code) || !ds[i].fix_from)
			continue;
		if (!dagfile_fix_edit_next(&cur, ff->text, ff->len, &ds[i], &e)) {
			/* certain, but not where it can be edited alone */
			if (ds[i].fix_from && !ff->refused)
				ff->refused =
				    xasprintf("%u:%u: %s not fixed: '%s' cannot be replaced in "
				              "place (an anchor "
				              "also used for another key, or a value over several "
				              "lines or with "
				              "escapes); replace it by hand",
				              ds[i].line, ds[i].col, ds[i].code, ds[i].fix_from);
			continue;
		}
		VEC_GROW(*ev, *ne, *cap);
		edit *x = &(*ev)[(*ne)++];
		x->start = e.start;
		x->end = e.end;
		x->text = xstrdup(e.new_text);
		x->line = e.line;
		x->col = e.col;
		snprintf(x->code, sizeof(x->code), "%s", ds[i].code);
	}
}

/* One round: parses the text, applies the fixes found. Returns how many. */
static size_t fix_round(file_fix *ff, const check_item *it, const dagfile_opts *base, const sel *s)
{
	dagfile_opts o = *base;
	o.bundle_root = it->root;
	dagfile_result r;
	dagfile_parse_text(it->abs, ff->text, ff->len, &o, &r);
	ff->errors_left = r.nerrors;
	ff->fixable_left = 0;
	for (size_t i = 0; i < r.nerrors; i++)
		if (strcmp(r.errors[i].code, "E001") == 0)
			ff->yaml_error = true;
	edit *ev = NULL;
	size_t ne = 0, cap = 0;
	if (!ff->yaml_error) {
		push_edits(ff, r.errors, r.nerrors, s, &ev, &ne, &cap);
		push_edits(ff, r.warnings, r.nwarnings, s, &ev, &ne, &cap);
	}
	dagfile_result_free(&r);
	if (!ne)
		return 0;
	qsort(ev, ne, sizeof(*ev), cmp_edit);
	/* one node reported twice (an alias, a default block) gives one edit;
	 * overlapping edits that disagree (an anchored value whose uses need
	 * different replacements) are refused */
	size_t w = 0;
	for (size_t i = 0; i < ne; i++) {
		if (w && ev[i].start == ev[w - 1].start && ev[i].end == ev[w - 1].end &&
		    strcmp(ev[i].text, ev[w - 1].text) == 0) {
			free(ev[i].text);
			continue;
		}
		if (w && ev[i].start < ev[w - 1].end) {
			if (!ff->refused)
				ff->refused = xasprintf(
				    "%u:%u: fixes that disagree on one value ('%s' and '%s'), "
				    "perhaps an anchor used where each needs another; not fixed",
				    ev[w - 1].line, ev[w - 1].col, ev[w - 1].text, ev[i].text);
			free(ev[i].text);
			free(ev[w - 1].text);
			w--;
			continue;
		}
		ev[w++] = ev[i];
	}
	/* applied from the end, so earlier offsets hold */
	strbuf b;
	sb_init(&b);
	size_t at = 0;
	for (size_t i = 0; i < w; i++) {
		sb_add(&b, ff->text + at, ev[i].start - at);
		sb_adds(&b, ev[i].text);
		at = ev[i].end;
		count(ff, ev[i].code);
		free(ev[i].text);
	}
	sb_add(&b, ff->text + at, ff->len - at);
	free(ev);
	free(ff->text);
	ff->len = b.len;
	ff->text = sb_detach(&b);
	ff->applied += w;
	return w;
}

/* ---- the unified diff: fixes never add or remove a line, so the lines of
 * the two texts correspond one to one ---- */

typedef struct lines {
	const char **s;
	size_t *n; /* bytes, the newline included */
	size_t count;
} lines;

static lines split(const char *t, size_t len)
{
	lines l = {0};
	size_t cap = 0;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - t) + 1 : len;
		if (l.count == cap) {
			cap = cap ? cap * 2 : 64;
			l.s = xrealloc(l.s, cap * sizeof(*l.s));
			l.n = xrealloc(l.n, cap * sizeof(*l.n));
		}
		l.s[l.count] = t + i;
		l.n[l.count++] = e - i;
		i = e;
	}
	return l;
}

static void put_line(FILE *out, char mark, const char *s, size_t n)
{
	fputc(mark, out);
	fwrite(s, 1, n, out);
	if (!n || s[n - 1] != '\n')
		fputs("\n\\ No newline at end of file\n", out);
}

static void print_diff(FILE *out, const char *shown, const char *a, size_t alen, const char *b,
                       size_t blen)
{
	lines x = split(a, alen), y = split(b, blen);
	size_t n = x.count < y.count ? x.count : y.count;
	while (shown[0] == '.' && shown[1] == '/')
		shown += 2; /* git apply reads a/x.yml, not a/./x.yml */
	fprintf(out, "--- a/%s\n+++ b/%s\n", shown, shown);
	size_t i = 0;
	while (i < n) {
		if (x.n[i] == y.n[i] && memcmp(x.s[i], y.s[i], x.n[i]) == 0) {
			i++;
			continue;
		}
		/* a hunk: 3 lines of context, merged while changes are within 6 */
		size_t lo = i >= 3 ? i - 3 : 0, hi = i, k = i;
		while (k < n) {
			if (!(x.n[k] == y.n[k] && memcmp(x.s[k], y.s[k], x.n[k]) == 0))
				hi = k;
			else if (k - hi > 6)
				break;
			k++;
		}
		size_t end = hi + 4 < n ? hi + 4 : n;
		fprintf(out, "@@ -%zu,%zu +%zu,%zu @@\n", lo + 1, end - lo, lo + 1, end - lo);
		for (size_t j = lo; j < end;) {
			if (x.n[j] == y.n[j] && memcmp(x.s[j], y.s[j], x.n[j]) == 0) {
				put_line(out, ' ', x.s[j], x.n[j]);
				j++;
				continue;
			}
			/* a run of changed lines: the old ones, then the new ones */
			size_t r = j;
			while (r < end &&
			       !(x.n[r] == y.n[r] && memcmp(x.s[r], y.s[r], x.n[r]) == 0))
				r++;
			for (size_t q = j; q < r; q++)
				put_line(out, '-', x.s[q], x.n[q]);
			for (size_t q = j; q < r; q++)
				put_line(out, '+', y.s[q], y.n[q]);
			j = r;
		}
		i = end;
	}
	free(x.s);
	free(x.n);
	free(y.s);
	free(y.n);
}

/* ---- writing ---- */

/* Whether path still holds orig (nobody changed it since it was read). */
static int still_orig(const char *path, const char *orig, size_t olen, char **why)
{
	char *now = NULL;
	size_t nlen = 0;
	if (fs_read_file(path, (size_t)1 << 30, &now, &nlen) != 0) {
		*why = xasprintf("cannot read it again: %s", strerror(errno));
		return -1;
	}
	bool same = nlen == olen && memcmp(now, orig, olen) == 0;
	free(now);
	if (!same) {
		*why = xstrdup("it changed on disk since it was read; not written");
		return -1;
	}
	return 0;
}

/* Writes text into a temporary file beside path, with path's mode and (when
 * allowed) owner; not yet synced nor renamed. The temporary path, or NULL
 * with why (malloc'd). */
static char *stage_write(const char *path, const char *orig, size_t olen, const char *text,
                         size_t len, char **why)
{
	(void)orig;
	(void)olen;
	struct stat st;
	if (stat(path, &st) != 0) {
		*why = xasprintf("cannot stat it: %s", strerror(errno));
		return NULL;
	}
	char *tmp = xasprintf("%s.dagproc-fix.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*why = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return NULL;
	}
	int rc = 0;
	size_t off = 0;
	while (rc == 0 && off < len) {
		ssize_t k = write(fd, text + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			rc = -1;
		else
			off += (size_t)k;
	}
	/* the owner first: a change of owner clears the setuid and setgid bits */
	if (rc == 0 && fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
		rc = -1;
	if (rc == 0 && fchmod(fd, st.st_mode & 07777) != 0)
		rc = -1;
	int saved = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc != 0) {
		*why = xasprintf("cannot write it: %s", strerror(saved));
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

/* The staged files: synced once per filesystem (syncfs), then each renamed
 * over its file if that still holds what was read, then their folders
 * synced: the same guarantee as an fsync per file, without its cost when
 * thousands of files change. */
typedef struct staged {
	size_t item;
	char *tmp;
} staged;

static void sync_filesystems(const check_item *items, const staged *st, size_t n)
{
	dev_t devs[16];
	size_t nd = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat s;
		if (stat(st[i].tmp, &s) != 0)
			continue;
		bool seen = false;
		for (size_t k = 0; k < nd && !seen; k++)
			seen = devs[k] == s.st_dev;
		if (seen)
			continue;
		int fd = open(st[i].tmp, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (syncfs(fd) != 0)
				(void)fsync(fd);
			close(fd);
		}
		if (nd < 16)
			devs[nd++] = s.st_dev;
	}
	(void)items;
}

static void sync_dirs(const check_item *items, const staged *st, size_t n)
{
	strmap done = {0};
	for (size_t i = 0; i < n; i++) {
		char *dir = fs_dirname(items[st[i].item].abs);
		if (!strmap_get(&done, dir, NULL)) {
			strmap_put(&done, dir, 0);
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				(void)fsync(dfd);
				close(dfd);
			}
		}
		free(dir);
	}
	strmap_free(&done);
}

static void summary(FILE *out, const file_fix *ff)
{
	for (size_t i = 0; i < ff->nt; i++)
		fprintf(out, "%s%s x%zu", i ? ", " : " (", ff->t[i].code, ff->t[i].n);
	if (ff->nt)
		fputc(')', out);
}

/* One file's outcome, found by a worker thread. */
typedef struct fix_out {
	bool dup;   /* named before: not fixed again */
	int err;    /* errno of reading it, or 0 */
	char *orig; /* its bytes as read (NULL when nothing is to be done) */
	size_t olen;
	file_fix ff;
	char *tmp; /* staged new text (not --diff), or NULL with why */
	char *why;
} fix_out;

typedef struct fix_job {
	check_item *items;
	size_t n;
	atomic_size_t next;
	const dagfile_opts *opts;
	const sel *s;
	fix_out *outs;
	bool diff;
} fix_job;

static void *fix_worker(void *arg)
{
	fix_job *j = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		if (i >= j->n)
			break;
		fix_out *fo = &j->outs[i];
		if (fo->dup)
			continue;
		if (fs_read_file(j->items[i].abs, (size_t)1 << 30, &fo->orig, &fo->olen) != 0) {
			fo->err = errno ? errno : EIO;
			continue;
		}
		file_fix *ff = &fo->ff;
		ff->text = xmalloc(fo->olen + 1);
		ff->len = fo->olen;
		memcpy(ff->text, fo->orig, fo->olen);
		ff->text[fo->olen] = '\0';
		for (int round = 0; round < FIX_ROUNDS; round++)
			if (!fix_round(ff, &j->items[i], j->opts, j->s))
				break;
		if (!ff->applied) {
			/* nothing to write: the texts are not kept */
			free(ff->text);
			ff->text = NULL;
			free(fo->orig);
			fo->orig = NULL;
		} else if (!j->diff) {
			/* staged here, on every core; renamed in order by the caller */
			fo->tmp = stage_write(j->items[i].abs, fo->orig, fo->olen, ff->text,
			                      ff->len, &fo->why);
		}
	}
	return NULL;
}

static void fix_parallel(fix_job *j)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = cpus > 0 ? (size_t)cpus : 1;
	if (nt > 16)
		nt = 16;
	if (nt > j->n)
		nt = j->n ? j->n : 1;
	atomic_init(&j->next, 0);
	pthread_t *th = xcalloc(nt, sizeof(*th));
	size_t started = 0;
	for (size_t i = 1; i < nt; i++)
		if (pthread_create(&th[started], NULL, fix_worker, j) == 0)
			started++;
	fix_worker(j);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
}

int cli_fix(int argc, char **argv, struct dagproc_config *cfg)
{
	static const struct option longopts[] = {{"diff", no_argument, NULL, 'd'},
	                                         {"select", required_argument, NULL, 's'},
	                                         {"config", required_argument, NULL, 'c'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	bool diff = false;
	sel s = {0};
	int rc = 0;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "ds:c:h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'd':
			diff = true;
			break;
		case 's': {
			char *copy = xstrdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ", ", &save); t;
			     t = strtok_r(NULL, ", ", &save)) {
				for (char *up = t; *up; up++)
					*up = (char)toupper((unsigned char)*up);
				bool known = false;
				for (size_t k = 0; k < diag_ncodes && !known; k++)
					known = strncmp(diag_codes[k].code, t, strlen(t)) == 0;
				if (!known) {
					fprintf(
					    stderr,
					    "dagproc fix: --select: '%s' is not a diagnostic code "
					    "or a prefix of one (dagproc help codes)\n",
					    t);
					free(copy);
					return 2;
				}
				s.v = xrealloc(s.v, (s.n + 1) * sizeof(*s.v));
				s.v[s.n++] = xstrdup(t);
			}
			free(copy);
			if (!s.n) {
				fputs("dagproc fix: --select needs codes such as E011,W002\n",
				      stderr);
				return 2;
			}
			break;
		}
		case 'c':
			break; /* read by main.c */
		case 'h':
			cli_fix_usage(stdout);
			return 0;
		default:
			fputs("dagproc fix: try 'dagproc help fix'\n", stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs("dagproc fix: no PATH given (try 'dagproc help fix')\n", stderr);
		return 2;
	}
	catalog *cat = NULL;
	dagfile_opts opts;
	if (check_setup(cfg, "fix", &cat, &opts) != 0)
		return 2;
	check_item *items = NULL;
	size_t n = 0;
	rc = check_collect(argc, argv, optind, cfg, "fix", &items, &n);
	size_t files_fixed = 0, fixes = 0, errors_left = 0;
	FILE *msg = diff ? stderr : stdout;
	/* the fixes are found on every core; the files are written (or diffed)
	 * in order here */
	fix_job job = {.diff = diff,
	               .items = items,
	               .n = n,
	               .opts = &opts,
	               .s = &s,
	               .outs = xcalloc(n ? n : 1, sizeof(fix_out))};
	strmap seen = {0};
	for (size_t i = 0; i < n; i++) {
		/* a file named twice (itself and in its folder) is fixed once */
		if (strmap_get(&seen, items[i].abs, NULL))
			job.outs[i].dup = true;
		else
			strmap_put(&seen, items[i].abs, i);
	}
	strmap_free(&seen);
	fix_parallel(&job);
	staged *stg = NULL;
	size_t nstg = 0, capstg = 0;
	for (size_t i = 0; i < n; i++) {
		check_item *it = &items[i];
		fix_out *fo = &job.outs[i];
		if (fo->dup)
			continue;
		if (fo->err) {
			fprintf(stderr, "dagproc fix: %s: %s\n", it->shown, strerror(fo->err));
			rc = 2;
			continue;
		}
		file_fix ff = fo->ff;
		const char *orig = fo->orig;
		size_t olen = fo->olen;
		if (ff.yaml_error && !ff.applied)
			fprintf(msg, "%s: not touched: it is not valid YAML (see dagproc check)\n",
			        it->shown);
		if (ff.refused) {
			fprintf(msg, "%s:%s\n", it->shown, ff.refused);
			free(ff.refused);
		}
		errors_left += ff.errors_left;
		if (ff.applied) {
			if (diff) {
				print_diff(stdout, it->shown, orig, olen, ff.text, ff.len);
				fprintf(msg, "%s: %zu fix%s", it->shown, ff.applied,
				        ff.applied == 1 ? "" : "es");
				summary(msg, &ff);
				fputs(" (not written: --diff)\n", msg);
				files_fixed++;
				fixes += ff.applied;
			} else {
				if (!fo->tmp) {
					fprintf(stderr, "dagproc fix: %s: %s\n", it->shown,
					        fo->why);
					free(fo->why);
					rc = 2;
				} else {
					VEC_PUSH(stg, nstg, capstg, ((staged){i, fo->tmp}));
					continue; /* reported once renamed */
				}
			}
		}
		free(ff.t);
		free(ff.text);
		free(fo->orig);
		fo->orig = NULL;
	}
	if (nstg) {
		sync_filesystems(items, stg, nstg);
		for (size_t k = 0; k < nstg; k++) {
			size_t i = stg[k].item;
			fix_out *fo = &job.outs[i];
			char *why = NULL;
			if (still_orig(items[i].abs, fo->orig, fo->olen, &why) != 0 ||
			    (rename(stg[k].tmp, items[i].abs) != 0 &&
			     (why = xasprintf("cannot rename over it: %s", strerror(errno))))) {
				fprintf(stderr, "dagproc fix: %s: %s\n", items[i].shown, why);
				free(why);
				unlink(stg[k].tmp);
				rc = 2;
			} else {
				fprintf(msg, "%s: %zu fix%s applied", items[i].shown,
				        fo->ff.applied, fo->ff.applied == 1 ? "" : "es");
				summary(msg, &fo->ff);
				fputc('\n', msg);
				files_fixed++;
				fixes += fo->ff.applied;
			}
		}
		sync_dirs(items, stg, nstg);
		for (size_t k = 0; k < nstg; k++) {
			fix_out *fo = &job.outs[stg[k].item];
			free(fo->ff.t);
			free(fo->ff.text);
			free(fo->orig);
			free(stg[k].tmp);
		}
	}
	free(stg);
	free(job.outs);
	fprintf(msg, "%zu fix%s in %zu file%s%s; %zu error%s left that no fix resolves\n", fixes,
	        fixes == 1 ? "" : "es", files_fixed, files_fixed == 1 ? "" : "s",
	        diff ? " (not written)" : "", errors_left, errors_left == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		free(items[i].shown);
		free(items[i].abs);
		free(items[i].root);
	}
	free(items);
	for (size_t i = 0; i < s.n; i++)
		free(s.v[i]);
	free(s.v);
	catalog_free(cat);
	if (fflush(stdout) != 0)
		rc = 2;
	if (rc == 0 && errors_left)
		rc = 1;
	return rc;
}
