/* SPDX-License-Identifier: MIT */
#pragma once
/* What pmt-summarise and pmt-diff compute from an event stream, in one pass
 * and bounded memory (per code id, per thread, per distinct call path):
 *
 *  - per function: calls, self growth (the ΔRSS of every event is charged
 *    to the function running before it: the top of that thread's shadow
 *    stack, or the event's own function when the stack is empty at the
 *    log's edges) and inclusive growth (RSS at return minus RSS at call,
 *    outermost frame only, so recursion is not counted twice);
 *  - per thread: events, growth, calls;
 *  - the call tree with, per distinct call path, one number per weight
 *    (pmt_weight_defs: positive ΔRSS, calls, ...), for flame graphs and
 *    folded stacks: the RSS weights add up to the total positive ΔRSS;
 *  - log totals: events, duration, RSS start/end/peak/min, page jumps.
 *
 * Returns whose function is not on the stack (the log started inside it)
 * are counted as unmatched and change nothing; calls still open at the end
 * are counted as open.
 *
 * A log with heap records (ALLOC items) also gets a struct pmt_heap
 * (heap.h), each call charged to the call path on top of its thread's
 * shadow stack, so flame graphs and folded stacks can be weighted by heap
 * bytes too (known at pmt_profile_finish()). A log with object records
 * (OBJECT items) gets a struct pmt_objects (objects.h) the same way, each
 * NEW charged to the path on top of its thread's stack (the creation
 * site's function at the root when the stack is empty, as in a
 * ReferenceTracing log), for the object weights. Ownership: the profile
 * owns all it allocates. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/read/source.h>
#include <libpmt/report/heap.h>

struct pmt_fstat {
	uint64_t calls;
	int64_t self; /* bytes */
	int64_t incl; /* bytes, completed outermost calls */
	uint64_t incl_calls;
};

struct pmt_tstat {
	uint64_t events;
	uint64_t calls;
	int64_t growth; /* sum of ΔRSS of the thread's events */
	int64_t positive;
};

struct pmt_totals {
	uint64_t written; /* EVENT items */
	uint64_t kinds[8];
	uint64_t first_ns, last_ns;
	int64_t rss_start, rss_end, rss_peak, rss_min;
	int64_t positive; /* sum of positive ΔRSS */
	int64_t negative;
	uint64_t jumps; /* events with |ΔRSS| >= page */
	uint64_t messages;
	uint64_t unmatched_returns;
	uint64_t open_calls; /* frames still open at the end */
	uint64_t cut_paths;  /* charges past the call tree's limit, to a caller */
	bool any;
};

/* Flame graph weights: what each call path accumulates. A new weight is a
 * new enum value and a row of pmt_weight_defs (profile.c), with the item
 * type that carries it and the function that reads its amount. */
enum pmt_weight {
	PMT_WEIGHT_RSS = 0,	 /* positive RSS growth */
	PMT_WEIGHT_CALLS,	 /* calls made */
	PMT_WEIGHT_ALLOC,	 /* heap bytes allocated */
	PMT_WEIGHT_LIVE,	 /* heap bytes live at the heap's peak */
	PMT_WEIGHT_LEAKED,	 /* heap bytes still live at the end */
	PMT_WEIGHT_OBJECTS,	 /* objects created */
	PMT_WEIGHT_LIVE_OBJECTS, /* objects created and alive at the end */
	PMT_WEIGHT_COUNT
};

enum pmt_unit { PMT_UNIT_BYTES = 0, PMT_UNIT_COUNT };

/* Which path an item's amount is added to: the frame running when it
 * happened (the top of its thread's stack), or the frame a call enters. */
enum pmt_charge { PMT_CHARGE_RUNNING = 0, PMT_CHARGE_CALLEE };

struct pmt_weight_def {
	const char *name;  /* --weight NAME */
	const char *title; /* "RSS growth" */
	const char *help;  /* one line for --help */
	enum pmt_unit unit;
	enum pmt_charge charge;
	enum pmt_item_type source; /* the items that carry it */
	/* what one item adds (0: nothing) */
	int64_t (*amount)(const struct pmt_item *it);
};
extern const struct pmt_weight_def pmt_weight_defs[PMT_WEIGHT_COUNT];
/* The weight named s, or -1. */
int pmt_weight_parse(const char *s);

struct pmt_profile;

/* page: bytes of a page (for the jump count); weights: the weights to keep
 * per call path (1u << enum pmt_weight each; 0: no call tree; true: RSS).
 * The tree holds at most PMT_PROFILE_MAX_PATHS paths, so memory stays
 * bounded whatever the log: past it, a new path's weight goes to the
 * deepest of its callers' paths that exists (totals stay exact; counted in
 * cut_paths). 0 or -errno. */
#define PMT_PROFILE_MAX_PATHS (1u << 17)
int pmt_profile_new(uint32_t page, unsigned weights, struct pmt_profile **out);
void pmt_profile_free(struct pmt_profile *p);
/* Feeds one item (events, messages; skips are counted by the source). */
int pmt_profile_item(struct pmt_profile *p, const struct pmt_item *it);
/* The same for n items in a row (a batch of pmt_source_next_batch()). */
int pmt_profile_items(struct pmt_profile *p, const struct pmt_item *items, unsigned n);
/* After pmt_profile_items(): true when every item of that batch was an
 * event that left RSS as it was, had no flag, and was of a thread index
 * below the highest one of an event before it: what the common case of
 * pmt_timeline_flat_items() needs, found at no cost on the profile's way. */
bool pmt_profile_batch_flat(const struct pmt_profile *p);
/* After the last item: counts the open frames. */
void pmt_profile_finish(struct pmt_profile *p);

const struct pmt_totals *pmt_profile_totals(const struct pmt_profile *p);
/* Stats of code id (NULL when never seen); ids run 1..pmt_profile_codes(). */
const struct pmt_fstat *pmt_profile_fstat(const struct pmt_profile *p, uint32_t code);
uint32_t pmt_profile_codes(const struct pmt_profile *p);
const struct pmt_tstat *pmt_profile_tstat(const struct pmt_profile *p, uint32_t thread);
uint32_t pmt_profile_threads(const struct pmt_profile *p);

/* The call tree (built when tree was asked): nodes 0..pmt_profile_nodes()-1,
 * node 0 the root (no code); a node's parent has a smaller index. *w points
 * at PMT_WEIGHT_COUNT weights. */
uint32_t pmt_profile_nodes(const struct pmt_profile *p);
void pmt_profile_node(const struct pmt_profile *p, uint32_t n, uint32_t *parent, uint32_t *code,
		      const int64_t **w);
/* Whether the log had the items that weight w is made of (a heap weight
 * needs heap records, an object weight object records). */
bool pmt_profile_has_weight(const struct pmt_profile *p, enum pmt_weight w);
/* The heap records' statistics, or NULL when the log had none. */
const struct pmt_heap *pmt_profile_heap(const struct pmt_profile *p);
/* The object statistics (objects.h) of a log with OBJECT items, else NULL. */
struct pmt_objects;
const struct pmt_objects *pmt_profile_objects(const struct pmt_profile *p);
