/* The worker wire protocol: frame encoders, bounds-checked decoders and the
 * blocking frame I/O of the worker side. The format is described in proto.h. */
#include "worker/proto.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NULL_STR 0xFFFFFFFFu

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */

static void put_u8(strbuf *b, uint8_t v)
{
	sb_add(b, (const char *)&v, 1);
}

static void put_u32(strbuf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 24)};
	sb_add(b, (const char *)x, 4);
}

static void put_u64(strbuf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(strbuf *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof(v));
	put_u64(b, v);
}

/* Strings longer than 4 GiB cannot occur under the frame cap; they are cut. */
static void put_bytes(strbuf *b, const char *s, size_t n)
{
	if (!s) {
		put_u32(b, NULL_STR);
		return;
	}
	if (n >= NULL_STR)
		n = NULL_STR - 1;
	put_u32(b, (uint32_t)n);
	sb_add(b, s, n);
}

static void put_str(strbuf *b, const char *s)
{
	put_bytes(b, s, s ? strlen(s) : 0);
}

static void put_strs(strbuf *b, char *const *v, size_t n)
{
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_str(b, v[i]);
}

/* Starts a frame: reserves the header, writes the type; returns the offset of
 * the header for end_frame. */
static size_t begin_frame(strbuf *b, enum wproto_type type)
{
	size_t at = b->len;
	put_u32(b, 0);
	put_u8(b, (uint8_t)type);
	return at;
}

static void end_frame(strbuf *b, size_t at)
{
	size_t n = b->len - at - WPROTO_HEADER;
	uint32_t v = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	unsigned char *h = (unsigned char *)b->data + at;
	h[0] = (unsigned char)v;
	h[1] = (unsigned char)(v >> 8);
	h[2] = (unsigned char)(v >> 16);
	h[3] = (unsigned char)(v >> 24);
}

void wproto_encode_init(strbuf *b, const wproto_init *in)
{
	size_t at = begin_frame(b, WPROTO_INIT);
	put_u32(b, in->memory_limit_mb);
	put_u64(b, in->max_file_size);
	put_u32(b, (uint32_t)in->log_level);
	put_strs(b, in->catalog_files, in->ncatalog_files);
	put_strs(b, in->unchecked, in->nunchecked);
	put_strs(b, in->pools, in->npools);
	put_u32(b, in->strict_catalog ? 1u : 0u);
	put_strs(b, in->env_deny, in->nenv_deny);
	put_strs(b, in->env_allow, in->nenv_allow);
	put_strs(b, in->env_present, in->nenv_present);
	end_frame(b, at);
}

void wproto_encode_job(strbuf *b, uint64_t job_id, const char *path, const char *bundle_root,
                       uint64_t expect_hash)
{
	size_t at = begin_frame(b, WPROTO_JOB);
	put_u64(b, job_id);
	put_str(b, path);
	put_str(b, bundle_root);
	put_u64(b, expect_hash);
	end_frame(b, at);
}

static void put_diags(strbuf *b, const diag *d, size_t n)
{
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		put_bytes(b, d[i].code, strnlen(d[i].code, sizeof(d[i].code)));
		put_u32(b, d[i].line);
		put_u32(b, d[i].col);
		put_str(b, d[i].dag_id);
		put_str(b, d[i].message);
		put_str(b, d[i].warning_type);
	}
}

static void put_dag(strbuf *b, const dag_result *g)
{
	put_str(b, g->dag_id);
	put_str(b, g->schedule);
	put_bytes(b, g->json, g->json ? g->json_len : 0);
	sb_add(b, (const char *)g->hash, sizeof(g->hash));
	/* the count only: the parent stores the tasks as part of json */
	put_u32(b, (uint32_t)g->ntasks);
	put_strs(b, g->tags, g->ntags);
	put_str(b, g->description);
	put_str(b, g->owners);
	put_u64(b, (uint64_t)g->max_active_tasks);
	put_u64(b, (uint64_t)g->max_active_runs);
	put_u8(b, (uint8_t)((g->is_paused_upon_creation ? 1 : 0) |
	                    (g->has_paused_upon_creation ? 2 : 0)));
	put_u32(b, g->line);
	put_u32(b, g->col);
}

void wproto_encode_result(strbuf *b, uint64_t job_id, const dagfile_result *r)
{
	size_t at = begin_frame(b, WPROTO_RESULT);
	put_u64(b, job_id);
	put_str(b, r->path);
	put_u32(b, (uint32_t)r->ndags);
	for (size_t i = 0; i < r->ndags; i++)
		put_dag(b, &r->dags[i]);
	put_diags(b, r->errors, r->nerrors);
	put_diags(b, r->warnings, r->nwarnings);
	put_strs(b, r->error_dag_ids, r->nerror_dag_ids);
	put_f64(b, r->parse_seconds);
	put_u64(b, r->source_hash);
	put_u32(b, r->unchanged ? 1 : 0);
	end_frame(b, at);
}

uint32_t wproto_frame_len(const unsigned char *h)
{
	return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

int wproto_payload_type(const char *payload, size_t n)
{
	return n ? (unsigned char)payload[0] : 0;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */

typedef struct rd {
	const unsigned char *p;
	size_t left;
	bool bad; /* sticky: once set, every get returns zero/NULL */
} rd;

static const unsigned char *take(rd *r, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint8_t get_u8(rd *r)
{
	const unsigned char *p = take(r, 1);
	return p ? p[0] : 0;
}

static uint32_t get_u32(rd *r)
{
	const unsigned char *p = take(r, 4);
	return p ? wproto_frame_len(p) : 0;
}

static uint64_t get_u64(rd *r)
{
	uint64_t lo = get_u32(r);
	uint64_t hi = get_u32(r);
	return lo | hi << 32;
}

static double get_f64(rd *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

/* A malloc'd NUL-terminated copy (NULL for the NULL string); *len gets its
 * length. On a bad frame returns NULL and sets r->bad. */
static char *get_str_len(rd *r, size_t *len)
{
	uint32_t n = get_u32(r);
	if (len)
		*len = 0;
	if (r->bad || n == NULL_STR)
		return NULL;
	const unsigned char *p = take(r, n);
	if (!p)
		return NULL;
	if (len)
		*len = n;
	return xstrndup((const char *)p, n);
}

static char *get_str(rd *r)
{
	return get_str_len(r, NULL);
}

/* A count of elements that each take at least min_size bytes: larger counts
 * than the bytes left are a bad frame (so a corrupt count cannot make us
 * allocate gigabytes). */
static size_t get_count(rd *r, size_t min_size)
{
	uint32_t n = get_u32(r);
	if (r->bad)
		return 0;
	if ((uint64_t)n * min_size > r->left) {
		r->bad = true;
		return 0;
	}
	return n;
}

static char **get_strs(rd *r, size_t *n)
{
	*n = get_count(r, 4);
	if (*n == 0)
		return NULL;
	char **v = xcalloc(*n, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = get_str(r);
	return v;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* diag.warning_type is a borrowed constant: known types map to literals and
 * any other one is interned for the life of the process (there are a handful). */
static const char *intern_wtype(const char *s)
{
	static const char *const known[] = {"non-existent pool", "deprecated", "unknown key"};
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char **interned;
	static size_t ninterned;
	if (!s)
		return NULL;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(s, known[i]) == 0)
			return known[i];
	const char *out = NULL;
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < ninterned && !out; i++)
		if (strcmp(s, interned[i]) == 0)
			out = interned[i];
	if (!out && ninterned < 64) {
		interned = xrealloc(interned, (ninterned + 1) * sizeof(*interned));
		interned[ninterned] = xstrdup(s);
		out = interned[ninterned++];
	}
	pthread_mutex_unlock(&mu);
	return out ? out : "other";
}

static diag *get_diags(rd *r, size_t *n)
{
	*n = get_count(r, 4 + 4 + 4 + 4 + 4 + 4);
	if (*n == 0)
		return NULL;
	diag *d = xcalloc(*n, sizeof(*d));
	for (size_t i = 0; i < *n && !r->bad; i++) {
		size_t clen;
		char *code = get_str_len(r, &clen);
		if (code) {
			memcpy(d[i].code, code,
			       clen < sizeof(d[i].code) ? clen : sizeof(d[i].code) - 1);
			free(code);
		}
		d[i].line = get_u32(r);
		d[i].col = get_u32(r);
		d[i].dag_id = get_str(r);
		d[i].message = get_str(r);
		char *wt = get_str(r);
		d[i].warning_type = intern_wtype(wt);
		free(wt);
		if (!d[i].message && !r->bad)
			d[i].message = xstrdup("");
	}
	return d;
}

static void get_dag(rd *r, dag_result *g)
{
	g->dag_id = get_str(r);
	g->schedule = get_str(r);
	g->json = get_str_len(r, &g->json_len);
	const unsigned char *h = take(r, sizeof(g->hash));
	if (h)
		memcpy(g->hash, h, sizeof(g->hash));
	g->ntasks = get_u32(r);
	g->tasks = NULL;
	g->tags = get_strs(r, &g->ntags);
	g->description = get_str(r);
	g->owners = get_str(r);
	g->max_active_tasks = (int64_t)get_u64(r);
	g->max_active_runs = (int64_t)get_u64(r);
	uint8_t fl = get_u8(r);
	g->is_paused_upon_creation = (fl & 1) != 0;
	g->has_paused_upon_creation = (fl & 2) != 0;
	g->line = get_u32(r);
	g->col = get_u32(r);
}

static int expect_type(rd *r, enum wproto_type type)
{
	return get_u8(r) == type && !r->bad ? 0 : -1;
}

int wproto_decode_init(const char *payload, size_t n, wproto_init *out)
{
	rd r = {.p = (const unsigned char *)payload, .left = n};
	memset(out, 0, sizeof(*out));
	if (expect_type(&r, WPROTO_INIT) != 0)
		return -1;
	out->memory_limit_mb = get_u32(&r);
	out->max_file_size = get_u64(&r);
	out->log_level = (int32_t)get_u32(&r);
	out->catalog_files = get_strs(&r, &out->ncatalog_files);
	out->unchecked = get_strs(&r, &out->nunchecked);
	out->pools = get_strs(&r, &out->npools);
	out->strict_catalog = get_u32(&r) != 0;
	out->env_deny = get_strs(&r, &out->nenv_deny);
	out->env_allow = get_strs(&r, &out->nenv_allow);
	out->env_present = get_strs(&r, &out->nenv_present);
	if (r.bad || r.left) {
		wproto_init_free(out);
		return -1;
	}
	return 0;
}

void wproto_init_free(wproto_init *in)
{
	free_strs(in->catalog_files, in->ncatalog_files);
	free_strs(in->unchecked, in->nunchecked);
	free_strs(in->pools, in->npools);
	free_strs(in->env_deny, in->nenv_deny);
	free_strs(in->env_allow, in->nenv_allow);
	free_strs(in->env_present, in->nenv_present);
	memset(in, 0, sizeof(*in));
}

int wproto_decode_job(const char *payload, size_t n, wproto_job *out)
{
	rd r = {.p = (const unsigned char *)payload, .left = n};
	memset(out, 0, sizeof(*out));
	if (expect_type(&r, WPROTO_JOB) != 0)
		return -1;
	out->job_id = get_u64(&r);
	out->path = get_str(&r);
	out->bundle_root = get_str(&r);
	out->expect_hash = get_u64(&r);
	if (r.bad || r.left || !out->path) {
		wproto_job_free(out);
		return -1;
	}
	return 0;
}

void wproto_job_free(wproto_job *j)
{
	free(j->path);
	free(j->bundle_root);
	memset(j, 0, sizeof(*j));
}

int wproto_decode_result(const char *payload, size_t n, uint64_t *job_id, dagfile_result *out)
{
	rd r = {.p = (const unsigned char *)payload, .left = n};
	memset(out, 0, sizeof(*out));
	if (expect_type(&r, WPROTO_RESULT) != 0)
		return -1;
	*job_id = get_u64(&r);
	out->path = get_str(&r);
	/* a DAG takes at least its strings' lengths, the hash and the fixed fields */
	out->ndags = get_count(&r, 6 * 4 + 16 + 3 * 4 + 8 + 8 + 1 + 4 + 4);
	if (out->ndags)
		out->dags = xcalloc(out->ndags, sizeof(*out->dags));
	for (size_t i = 0; i < out->ndags && !r.bad; i++)
		get_dag(&r, &out->dags[i]);
	out->errors = get_diags(&r, &out->nerrors);
	out->warnings = get_diags(&r, &out->nwarnings);
	out->error_dag_ids = get_strs(&r, &out->nerror_dag_ids);
	out->parse_seconds = get_f64(&r);
	out->source_hash = get_u64(&r);
	out->unchanged = get_u32(&r) != 0;
	if (r.bad || r.left) {
		dagfile_result_free(out);
		return -1;
	}
	/* NULL strings where the model has none are a malformed frame, not a crash
	 * later in sync; so is a duration that is not a number */
	bool ok = isfinite(out->parse_seconds) && out->parse_seconds >= 0;
	for (size_t i = 0; ok && i < out->nerror_dag_ids; i++)
		ok = out->error_dag_ids[i] != NULL;
	for (size_t i = 0; ok && i < out->ndags; i++) {
		dag_result *g = &out->dags[i];
		ok = g->dag_id && g->json;
		for (size_t k = 0; ok && k < g->ntags; k++)
			ok = g->tags[k] != NULL;
	}
	if (!ok) {
		dagfile_result_free(out);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Blocking frame I/O (worker side)                                          */

/* Reads exactly n bytes: n, 0 at EOF before any byte, -1 on error or EOF
 * part-way (errno EPROTO). */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, (char *)buf + got, n - got);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0) {
			if (got == 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int wproto_read_frame(int fd, strbuf *b)
{
	unsigned char hdr[WPROTO_HEADER];
	ssize_t k = read_full(fd, hdr, sizeof(hdr));
	if (k <= 0)
		return (int)k;
	uint32_t n = wproto_frame_len(hdr);
	if (n == 0 || n > WPROTO_MAX_FRAME) {
		errno = EMSGSIZE;
		return -1;
	}
	b->len = 0;
	sb_reserve(b, n);
	k = read_full(fd, b->data, n);
	if (k <= 0) {
		if (k == 0)
			errno = EPROTO;
		return -1;
	}
	b->len = n;
	b->data[n] = '\0';
	return 1;
}

int wproto_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	bool sock = true;
	while (n) {
		ssize_t k = sock ? send(fd, c, n, MSG_NOSIGNAL) : write(fd, c, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (sock && errno == ENOTSOCK) {
				sock = false;
				continue;
			}
			return -1;
		}
		c += k;
		n -= (size_t)k;
	}
	return 0;
}
