/* The worker wire protocol: length-prefixed binary frames between the daemon and
 * its parsing workers (options once, then one job request -> one parse result). */
#ifndef DAGPROC_WORKER_PROTO_H
#define DAGPROC_WORKER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dagfile/dagfile.h"
#include "util/xalloc.h"

/*
 * A frame is a 4-byte little-endian payload length followed by the payload; the
 * payload starts with one type byte. Integers are little-endian; a string is a
 * u32 length and its bytes (no NUL), the length 0xFFFFFFFF meaning NULL; a
 * double is its IEEE-754 bits as a u64. Both ends are the same binary, so there
 * is no version negotiation; decoders still check every length against the
 * bytes left, so a corrupt frame is an error, never an overread or a huge
 * allocation.
 */
#define WPROTO_HEADER    4u
#define WPROTO_MAX_FRAME (256u << 20) /* sanity cap on a payload: 256 MiB */

enum wproto_type {
	WPROTO_INIT = 1,   /* parent -> worker, once, first: the parse options */
	WPROTO_JOB = 2,    /* parent -> worker: job id, file path, bundle root */
	WPROTO_RESULT = 3, /* worker -> parent: job id, the whole dagfile_result */
};

/* The options a worker needs; sent once after spawn. */
typedef struct wproto_init {
	uint32_t memory_limit_mb; /* RLIMIT_AS set by the worker; 0 = none */
	uint64_t max_file_size;
	int32_t log_level;
	char **catalog_files;
	size_t ncatalog_files;
	char **unchecked;
	size_t nunchecked;
	char **pools;
	size_t npools;
	bool strict_catalog; /* [core] strict_catalog */
	/* the environment policy (dagfile/dagenv.h): [core] dag_env_deny and
	 * dag_env_allow, and the names of the denied variables the daemon's environment
	 * holds (the worker's own has none of them) */
	char **env_deny;
	size_t nenv_deny;
	char **env_allow;
	size_t nenv_allow;
	char **env_present;
	size_t nenv_present;
} wproto_init;

typedef struct wproto_job {
	uint64_t job_id;
	char *path;
	char *bundle_root;    /* NULL when none */
	uint64_t expect_hash; /* dagfile_opts.expect_source_hash; 0 = parse */
} wproto_job;

/* Encoders append one whole frame (header included) to b. */
void wproto_encode_init(strbuf *b, const wproto_init *in);
void wproto_encode_job(strbuf *b, uint64_t job_id, const char *path, const char *bundle_root,
                       uint64_t expect_hash);
void wproto_encode_result(strbuf *b, uint64_t job_id, const dagfile_result *r);

/* Payload length from a frame header (4 bytes). */
uint32_t wproto_frame_len(const unsigned char *hdr);
/* Type byte of a payload, or 0 when empty. */
int wproto_payload_type(const char *payload, size_t n);

/* Decoders take a payload (without the header). They return 0, or -1 on a
 * malformed payload, in which case *out holds nothing that needs freeing. */
int wproto_decode_init(const char *payload, size_t n, wproto_init *out);
int wproto_decode_job(const char *payload, size_t n, wproto_job *out);
int wproto_decode_result(const char *payload, size_t n, uint64_t *job_id, dagfile_result *out);
void wproto_init_free(wproto_init *in);
void wproto_job_free(wproto_job *j);

/* Blocking I/O for the worker side, robust to short reads/writes and EINTR.
 * wproto_read_frame reads one frame's payload into b (replacing its content):
 * 1 on a frame, 0 on a clean EOF before a header, -1 on error, short frame or
 * a length above WPROTO_MAX_FRAME (errno EMSGSIZE). */
int wproto_read_frame(int fd, strbuf *b);
/* Writes all of p (send with MSG_NOSIGNAL on a socket). 0, or -1 with errno. */
int wproto_write_all(int fd, const void *p, size_t n);

#endif
