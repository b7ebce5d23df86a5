/* libFuzzer target over the worker protocol decoders: one input is one frame
 * payload (type byte first) as the daemon or a worker would receive it. A
 * decoded frame is re-encoded, and that encoding must decode to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "worker/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* b holds one whole frame; its payload is checked against the header. */
static const char *payload_of(const strbuf *b, size_t *n)
{
	if (b->len < WPROTO_HEADER ||
	    wproto_frame_len((const unsigned char *)b->data) != b->len - WPROTO_HEADER)
		abort();
	*n = b->len - WPROTO_HEADER;
	return b->data + WPROTO_HEADER;
}

/* The frame a decoded value re-encodes to must decode again and re-encode to
 * the same bytes (the first pass may normalise, e.g. cut strings at a NUL). */
static void same_or_abort(const strbuf *a, const strbuf *b)
{
	if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
		abort();
}

static void check_init(const char *p, size_t n)
{
	wproto_init in;
	if (wproto_decode_init(p, n, &in) != 0)
		return;
	strbuf a, b;
	sb_init(&a);
	sb_init(&b);
	wproto_encode_init(&a, &in);
	wproto_init_free(&in);
	size_t an;
	const char *ap = payload_of(&a, &an);
	if (wproto_decode_init(ap, an, &in) != 0)
		abort();
	wproto_encode_init(&b, &in);
	wproto_init_free(&in);
	same_or_abort(&a, &b);
	sb_free(&a);
	sb_free(&b);
}

static void check_job(const char *p, size_t n)
{
	wproto_job j;
	if (wproto_decode_job(p, n, &j) != 0)
		return;
	strbuf a, b;
	sb_init(&a);
	sb_init(&b);
	wproto_encode_job(&a, j.job_id, j.path, j.bundle_root, j.expect_hash);
	wproto_job_free(&j);
	size_t an;
	const char *ap = payload_of(&a, &an);
	if (wproto_decode_job(ap, an, &j) != 0)
		abort();
	wproto_encode_job(&b, j.job_id, j.path, j.bundle_root, j.expect_hash);
	wproto_job_free(&j);
	same_or_abort(&a, &b);
	sb_free(&a);
	sb_free(&b);
}

static void check_result(const char *p, size_t n)
{
	dagfile_result r;
	uint64_t id;
	if (wproto_decode_result(p, n, &id, &r) != 0)
		return;
	strbuf a, b;
	sb_init(&a);
	sb_init(&b);
	wproto_encode_result(&a, id, &r);
	dagfile_result_free(&r);
	size_t an;
	const char *ap = payload_of(&a, &an);
	uint64_t id2;
	if (wproto_decode_result(ap, an, &id2, &r) != 0 || id2 != id)
		abort();
	wproto_encode_result(&b, id2, &r);
	dagfile_result_free(&r);
	same_or_abort(&a, &b);
	sb_free(&a);
	sb_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer hands over an exact-size heap copy: ASan sees any overread. */
	const char *p = (const char *)data;
	(void)wproto_payload_type(p, size);
	check_init(p, size);
	check_job(p, size);
	check_result(p, size);
	return 0;
}
