/* `dagproc lsp`: a language server (LSP 3.17, JSON-RPC 2.0 over stdio with
 * Content-Length framing) giving dag-factory files `check`'s diagnostics as
 * they are typed, its fixes as code actions, hover and completion from the
 * operator catalog. It writes no file. */
#ifndef DAGPROC_LSP_H
#define DAGPROC_LSP_H

#include <stddef.h>

#include "dagfile/dagfile.h"

/* A message's body is at most this long; a longer one is answered with a
 * parse error and skipped. */
#define LSP_MAX_MESSAGE ((size_t)16 << 20)

/* Serves on in_fd/out_fd until `exit`: 0 after a `shutdown`, 1 without one
 * or at the end of the input. opts: the parse options of check (catalog,
 * pools); codes_url: the documentation of the diagnostic codes, "#<code>"
 * appended for each. */
int lsp_serve(int in_fd, int out_fd, const dagfile_opts *opts, const char *codes_url);

/* Positions: the byte offset of an LSP position (line, UTF-16 code units)
 * in text, clamped to the end of the line or of the text. */
size_t lsp_offset(const char *text, size_t len, unsigned line, unsigned character);
/* The LSP character (UTF-16 code units) of byte offset off within its line. */
unsigned lsp_character(const char *text, size_t len, size_t off, unsigned *line);

#endif
