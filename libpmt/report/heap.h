/* SPDX-License-Identifier: MIT */
#pragma once
/* What the heap records of a log say (ALLOC items, docs/FORMAT.md), in one
 * pass: calls and bytes per allocator call; the live heap (bytes returned
 * and not yet freed since the log began), its peak and the event where it
 * was reached; per function, bytes allocated, allocated minus freed while
 * it ran, and live bytes at the peak and at the end by allocating
 * function; the blocks still live at the end by allocation site (leaks);
 * and the same weights per call path for folded stacks.
 *
 * Memory: one entry per live block (as heaptrack and memray keep), plus
 * per function, site and call path; not per record, so it does not grow
 * with the length of the log, only with the heap it describes.
 *
 * Attribution: tables use the record's SITE (the function running on the
 * allocating thread); call paths use the node the caller gives (the top of
 * that thread's shadow stack in the profile). A free is charged to the
 * block's allocating function for live bytes, and to the running function
 * for "allocated minus freed while it ran". A free of a block the log never
 * saw allocated (allocated before tracing began, or by the tracer) changes
 * no live count and is counted as unknown. Ownership: the heap owns all it
 * allocates. */
#include <stdbool.h>
#include <stdint.h>

#include <libpmt/read/source.h>

struct pmt_heap_call {
	uint64_t count;
	uint64_t bytes; /* asked for; for frees, the size of the known blocks freed */
};

struct pmt_heap_totals {
	/* [domain][op]: domain 0 for libc ops 0..9, 1 MEM and 2 OBJ for 10..14 */
	struct pmt_heap_call calls[3][PMT_ALLOC_OP_COUNT];
	uint64_t records;
	uint64_t failed;	/* calls that returned no block */
	uint64_t unknown_frees; /* frees (and reallocs) of blocks the log never saw */
	int64_t live;		/* bytes, now (after finish: at the end) */
	uint64_t live_blocks;
	int64_t peak; /* bytes */
	uint64_t peak_event;
	uint64_t peak_time_ns;
	uint64_t allocated; /* bytes asked for by every successful call */
	bool any;
};

struct pmt_heap_fstat {
	uint64_t allocs;      /* successful allocating calls made while it ran */
	uint64_t alloc_bytes; /* bytes those asked for */
	int64_t net;	      /* bytes allocated minus bytes freed while it ran */
	int64_t live_at_peak; /* bytes it allocated that were live at the peak */
	int64_t live;	      /* bytes it allocated that are live now / at the end */
	uint64_t live_blocks; /* blocks it allocated live now / at the end */
};

struct pmt_heap_site {
	uint32_t code, line;
	uint64_t blocks;
	uint64_t bytes;
};

enum pmt_heap_weight {
	PMT_HEAP_W_ALLOC,  /* bytes allocated */
	PMT_HEAP_W_LIVE,   /* bytes live at the peak */
	PMT_HEAP_W_LEAKED, /* bytes live at the end */
};

struct pmt_heap;

int pmt_heap_new(struct pmt_heap **out);
void pmt_heap_free(struct pmt_heap *h);
/* Feeds one ALLOC item (others are ignored); node: its call path (0: none).
 * 0 or -errno. */
int pmt_heap_item(struct pmt_heap *h, const struct pmt_item *it, uint32_t node);
/* After the last item: the leaks by site. 0 or -errno. */
int pmt_heap_finish(struct pmt_heap *h);

const struct pmt_heap_totals *pmt_heap_totals(const struct pmt_heap *h);
/* Per code id, NULL when the function has no heap record; ids 0..codes-1. */
const struct pmt_heap_fstat *pmt_heap_fstat(const struct pmt_heap *h, uint32_t code);
uint32_t pmt_heap_codes(const struct pmt_heap *h);
/* After finish: the sites of the blocks live at the end, most bytes first. */
const struct pmt_heap_site *pmt_heap_leaks(const struct pmt_heap *h, uint32_t *n);
/* A call path's weight (0 for a node never charged). */
int64_t pmt_heap_node_weight(const struct pmt_heap *h, uint32_t node, enum pmt_heap_weight w);
