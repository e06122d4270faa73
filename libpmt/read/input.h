/* SPDX-License-Identifier: MIT */
#pragma once
/* Input: a file or stdin as a stream of bytes, transparently decompressing
 * zstd (a pmt log, or any text log compressed with zstd), and sniffing what
 * the content is. Readers of every format sit on top of this.
 * Ownership: the input owns its fd and buffers; pmt_input_free() closes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pmt_input_type {
	PMT_INPUT_UNKNOWN = 0,
	PMT_INPUT_PMT,	      /* pmt binary event log */
	PMT_INPUT_PYMEMTRACE, /* cPyMemTrace Profile/Trace text log */
	PMT_INPUT_PROCESS,    /* lines with ProcessLoggingThread-JSON records */
	PMT_INPUT_EMPTY,      /* nothing at all (after decompression) */
	PMT_INPUT_REFTRACE,   /* cPyMemTrace ReferenceTracing text log (NEW:/DEL: lines) */
};
const char *pmt_input_type_name(enum pmt_input_type t);

struct pmt_input;

/* Threads that decompress a pmt log's frames ahead of its reader, for the
 * inputs opened from now on: 0 (the default) is the number of online CPUs;
 * 1 decodes in the reading thread alone. The bytes read are the same,
 * errors included, whatever the number. */
void pmt_input_set_threads(unsigned n);
unsigned pmt_input_threads(void); /* what 0 means here, or n */

/* Opens path ("-" is stdin), decompresses if it starts with the zstd magic
 * and sniffs the first 64 KiB. Returns 0 or -errno (a zstd stream that fails
 * at its first bytes is PMT_E_ZSTD). */
int pmt_input_open(const char *path, struct pmt_input **out);
/* The same over len bytes of memory at data (borrowed: they must outlive
 * the input), shown as name: for the fuzz targets and tests, where a file per
 * input would be the bottleneck. */
int pmt_input_open_mem(const void *data, size_t len, const char *name, struct pmt_input **out);
void pmt_input_free(struct pmt_input *in);

enum pmt_input_type pmt_input_type(const struct pmt_input *in);
const char *pmt_input_path(const struct pmt_input *in); /* "-" shown as "(stdin)" */
bool pmt_input_compressed(const struct pmt_input *in);

/* Reads up to n decompressed bytes. Returns bytes read, 0 at the end, or
 * -errno (PMT_E_ZSTD on corrupt compressed data). At the end, check
 * pmt_input_truncated(). */
long pmt_input_read(struct pmt_input *in, void *buf, size_t n);

/* Next line, without its '\n' (a '\r' before it is kept); *line points into
 * the input's buffer and stays valid until the next call. A NUL byte inside
 * a line is kept (len counts it). Returns 1, 0 at the end, or -errno. Lines
 * longer than 1 MiB are cut into 1 MiB pieces. */
int pmt_input_getline(struct pmt_input *in, const char **line, size_t *len);

/* True when the input ended inside a zstd frame (killed writer, cut copy). */
bool pmt_input_truncated(const struct pmt_input *in);
/* True when the input is a file that is still being written: it has grown
 * past what was read, or process pid (the log's writer, 0: unknown) holds it
 * open for writing. Linux: the writer's fds are seen in /proc, when the
 * reader may look. */
bool pmt_input_growing(const struct pmt_input *in, uint64_t pid);
/* Bytes of the file consumed so far (compressed size for zstd input). */
uint64_t pmt_input_raw_bytes(const struct pmt_input *in);
/* Size of the file when it is a regular file, else 0. */
uint64_t pmt_input_file_size(const struct pmt_input *in);

/* Calls cb after each read from the file (every 64-128 KiB: nothing per
 * record or event), with the bytes consumed so far, the file size and, once
 * at the end, end = true. For progress display; cb must not touch in. */
void pmt_input_set_progress(struct pmt_input *in,
			    void (*cb)(void *ctx, uint64_t done, uint64_t total, bool end),
			    void *ctx);
