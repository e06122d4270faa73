#pragma once
/* Private to libpmt: what a format reader (log-reader.c, pymt-reader.c)
 * needs to plug into struct pmt_source. Tools never include this. */
#include <stdbool.h>
#include <stdint.h>

#include "source.h"

struct pmt_source_ops {
	/* Same contract as pmt_source_next(). */
	int (*next)(struct pmt_source *s, struct pmt_item *it);
	void (*free)(void *state);
};

struct pmt_source {
	struct pmt_input *in;
	enum pmt_input_type type;
	const struct pmt_source_ops *ops;
	void *state; /* the format reader's own */

	struct pmt_header hdr;
	struct pmt_trailer trl;
	bool has_trailer;
	bool truncated;
	uint64_t events; /* events seen, skipped ones included */

	/* code table: codes[id - 1]; strings in an arena that only grows */
	struct pmt_code *codes;
	uint32_t ncodes, capcodes;
	struct code_hash *intern; /* (kind, file, name) -> id, for text formats */

	struct pmt_thread *threads;
	uint32_t nthreads, capthreads;

	char *argv_store; /* header strings */
	char detail[256];
};

/* Defines code id (ids need not be dense; gaps are left undefined). Copies
 * the strings. Redefining an id replaces it. 0 or -errno. */
int pmt_source_set_code(struct pmt_source *s, uint32_t id, unsigned kind, uint32_t firstline,
			const char *file, size_t file_len, const char *name, size_t name_len);
/* Finds or makes the id of (kind, file, name) — for formats that carry names
 * instead of ids. firstline is recorded on first sight. 0 or -errno. */
int pmt_source_intern_code(struct pmt_source *s, unsigned kind, uint32_t firstline,
			   const char *file, size_t file_len, const char *name, size_t name_len,
			   uint32_t *id);
/* Defines or renames thread idx. 0 or -errno. */
int pmt_source_set_thread(struct pmt_source *s, uint32_t idx, uint64_t tid, const char *name,
			  size_t name_len);
/* printf into s->detail. */
void pmt_source_set_detail(struct pmt_source *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Format readers: set s->ops/state and fill s->hdr. 0 or -errno. */
int pmt_log_reader_init(struct pmt_source *s);
int pmt_pymt_reader_init(struct pmt_source *s);
