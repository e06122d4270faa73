/* SPDX-License-Identifier: MIT */
#pragma once
/* An event source: the events of a pmt binary log or of a pymemtrace
 * Profile/Trace text log, in one decoded form, streamed in bounded memory.
 * Every analyser reads events through this. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpmt/core/log-format.h>
#include <libpmt/read/input.h>

struct pmt_event {
	uint64_t number;  /* event number (events counted from the start) */
	uint64_t delta;	  /* events since the previous event of this source (dEvent) */
	uint64_t time_ns; /* since the start of the log; pymemtrace: its Clock (CPU s) */
	int64_t rss;	  /* bytes */
	int64_t drss;	  /* bytes, against the previous event of this source */
	uint32_t code;	  /* code id (pmt_source_code), 0 = unknown */
	uint32_t line;
	uint32_t thread; /* thread index (pmt_source_thread), 0 = first thread */
	uint8_t kind;	 /* enum pmt_kind */
	uint8_t flags;	 /* PMT_EV_* */
};
#define PMT_EV_PREV 0x1	 /* written only as the true previous event of a kept one */
#define PMT_EV_FIRST 0x2 /* pymemtrace FRST: line */
#define PMT_EV_LAST 0x4	 /* pymemtrace LAST: line */

enum pmt_item_type {
	PMT_ITEM_EVENT = 1,
	PMT_ITEM_MESSAGE, /* text at event number ev.number (the next event) */
	PMT_ITEM_SKIP,	  /* ev.delta events seen and not written, before ev.number */
	PMT_ITEM_ALLOC,	  /* an allocator call (it->alloc) before event ev.number */
	PMT_ITEM_OBJECT,  /* an object created or destroyed (it->obj) before ev.number */
};

/* Where an ALLOC or OBJECT record happened (the SITE record before it). */
struct pmt_site {
	uint32_t thread; /* thread index, as pmt_source_thread() */
	uint32_t code;	 /* code id running on that thread, 0 = none */
	uint32_t line;
};

struct pmt_alloc {
	uint8_t op;	/* enum pmt_alloc_op */
	uint8_t domain; /* ops 10..14: enum pmt_alloc_domain; else 0 */
	struct pmt_site site;
	uint64_t addr;	   /* the block allocated (0: the call failed) or freed */
	uint64_t old_addr; /* realloc: the block given */
	uint64_t size;	   /* bytes asked for (calloc: nmemb * size) */
	uint64_t align;	   /* the aligned variants */
};

struct pmt_object {
	uint8_t op; /* enum pmt_object_op */
	struct pmt_site site;
	uint64_t addr;
	uint32_t type; /* NAME id of the type (pmt_source_name()) */
	uint64_t time_ns;
	int64_t rss; /* bytes */
};

struct pmt_item {
	enum pmt_item_type type;
	struct pmt_event ev;
	const char *text; /* MESSAGE: bytes, valid until the next call */
	size_t text_len;
	union {
		struct pmt_alloc alloc; /* PMT_ITEM_ALLOC */
		struct pmt_object obj;	/* PMT_ITEM_OBJECT */
	};
};

struct pmt_code {
	uint32_t id;
	uint8_t kind; /* enum pmt_code_kind */
	uint32_t firstline;
	const char *file; /* bytes, NUL-terminated for convenience */
	size_t file_len;
	const char *name; /* function (qualname for Python code where known) */
	size_t name_len;
};

struct pmt_thread {
	uint32_t idx;
	uint64_t tid;
	const char *name; /* "" when never named */
};

struct pmt_source;

/* Takes over in (freed with the source). Fails with PMT_E_TYPE for a
 * process JSON log or anything else that is not an event log, PMT_E_EMPTY
 * for empty input, PMT_E_VERSION, PMT_E_CORRUPT. */
int pmt_source_new(struct pmt_input *in, struct pmt_source **out);
/* Convenience: pmt_input_open + pmt_source_new. */
int pmt_source_open(const char *path, struct pmt_source **out);
void pmt_source_free(struct pmt_source *s);

/* Next item: 1, 0 at the end, or -errno. After 0, pmt_source_truncated()
 * says whether the log ended early (killed writer, no trailer / no EOF). */
int pmt_source_next(struct pmt_source *s, struct pmt_item *it);
/* Up to n next items at items[]: how many (> 0), 0 at the end, or -errno;
 * the same items, in the same order, as that many pmt_source_next() calls
 * (an error comes at the call after the items before it). A batch ends at
 * its first item that is not an event, so a MESSAGE's text stays valid
 * until the next call. The readers' fast path: no call per event. */
#define PMT_SOURCE_BATCH 256
int pmt_source_next_batch(struct pmt_source *s, struct pmt_item *items, unsigned n);
/* From now on, events that leave RSS as it was (drss == 0) may be left out
 * of the items: each one left out is counted into the next event's
 * ev.delta, as the events of a SKIP record are, and event numbers stay the
 * log's. For a query that only RSS changes can answer (pmt-filter --drss):
 * the reader then checks and counts those events without making items of
 * them. A backend may still deliver some, or all. */
void pmt_source_skip_flat(struct pmt_source *s, bool on);

enum pmt_input_type pmt_source_type(const struct pmt_source *s);
struct pmt_input *pmt_source_input(struct pmt_source *s);
/* Header of a pmt log; for a pymemtrace log, the fields it can fill in
 * (mode from the event kinds seen, page size 4096, rss_source "pymemtrace"). */
const struct pmt_header *pmt_source_header(const struct pmt_source *s);
/* Trailer when the log has one (after the end), else NULL. */
const struct pmt_trailer *pmt_source_trailer(const struct pmt_source *s);
const struct pmt_code *pmt_source_code(const struct pmt_source *s, uint32_t id);
uint32_t pmt_source_code_count(const struct pmt_source *s); /* ids are 1..count */
/* The defined code after id (0: the first one), or NULL: ids need not be
 * dense, and a walk this way skips the undefined ones cheaply. */
const struct pmt_code *pmt_source_next_code(const struct pmt_source *s, uint32_t id);
const struct pmt_thread *pmt_source_thread(const struct pmt_source *s, uint32_t idx);
uint32_t pmt_source_thread_count(const struct pmt_source *s);
bool pmt_source_truncated(const struct pmt_source *s);
/* After the end: the log is truncated because its writer has not finished
 * it yet (a pmt log without a trailer that is still being written, see
 * pmt_input_growing()), not because it was cut. Everything up to its last
 * complete frame was read. */
bool pmt_source_live(const struct pmt_source *s);
/* An interned name (the type of an OBJECT item), or NULL for an unknown id. */
const char *pmt_source_name(const struct pmt_source *s, uint32_t id);
/* Events seen so far (including skipped ones). */
uint64_t pmt_source_events(const struct pmt_source *s);
/* Human detail of the last error or truncation ("at byte 1234: ..."), or "". */
const char *pmt_source_detail(const struct pmt_source *s);
