/* SPDX-License-Identifier: MIT */
#pragma once
/* Private to libpmt/read: what a backend (a reader of one log format) fills
 * in behind struct pmt_source. source.c calls the backends; the backends
 * call nothing in source.c, only the symbol table and the helper below.
 * Tools never include this. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/read/source.h>
#include <libpmt/read/symtab.h>

/* The largest RSS a backend accepts, in bytes (4 PiB: the physical address
 * space of 52-bit machines). RSS lies in [0, this] and so ΔRSS in [-this,
 * this]: RSS and ΔRSS, and their sums over thousands of events, stay far
 * inside int64_t. A log outside the range is corrupt (docs/FORMAT.md,
 * "Value ranges"). */
#define PMT_MAX_RSS_BYTES (1ll << 52)

struct pmt_source_ops {
	/* Same contract as pmt_source_next(). */
	int (*next)(struct pmt_source *s, struct pmt_item *it);
	/* Same contract as pmt_source_next_batch(); NULL: next, one by one. */
	int (*next_batch)(struct pmt_source *s, struct pmt_item *items, unsigned n);
	void (*free)(void *state);
};

struct pmt_source {
	struct pmt_input *in;
	enum pmt_input_type type;
	const struct pmt_source_ops *ops;
	void *state; /* the backend's own */

	struct pmt_header hdr;
	struct pmt_trailer trl;
	bool has_trailer;
	bool truncated;
	uint64_t events; /* events seen, skipped ones included */
	bool skip_flat;	 /* pmt_source_skip_flat() */

	struct pmt_symtab syms;

	char *argv_store; /* header strings */
	char detail[256];
};

/* printf into s->detail (what pmt_source_detail() returns). */
__attribute__((format(printf, 2, 3))) static inline void pmt_backend_detail(struct pmt_source *s,
									    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
	va_end(ap);
}

/* Backends: set s->ops and s->state and fill in s->hdr. 0 or -errno. */
int pmt_backend_pmt_init(struct pmt_source *s);
int pmt_backend_pymt_init(struct pmt_source *s);
int pmt_backend_reftrace_init(struct pmt_source *s);
