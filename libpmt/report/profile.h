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
 *  - the call tree with positive ΔRSS per path, for folded stacks: the
 *    weights add up to the total positive ΔRSS of the log;
 *  - log totals: events, duration, RSS start/end/peak/min, page jumps.
 *
 * Returns whose function is not on the stack (the log started inside it)
 * are counted as unmatched and change nothing; calls still open at the end
 * are counted as open.
 *
 * A log with heap records (ALLOC items) also gets a struct pmt_heap
 * (heap.h), each call charged to the call path on top of its thread's
 * shadow stack, so folded stacks can be weighted by heap bytes too.
 * Ownership: the profile owns all it allocates. */
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
	bool any;
};

struct pmt_profile;

/* page: bytes of a page (for the jump count); tree: keep the call tree for
 * pmt_profile_folded(). 0 or -errno. */
int pmt_profile_new(uint32_t page, bool tree, struct pmt_profile **out);
void pmt_profile_free(struct pmt_profile *p);
/* Feeds one item (events, messages; skips are counted by the source). */
int pmt_profile_item(struct pmt_profile *p, const struct pmt_item *it);
/* After the last item: counts the open frames. */
void pmt_profile_finish(struct pmt_profile *p);

const struct pmt_totals *pmt_profile_totals(const struct pmt_profile *p);
/* Stats of code id (NULL when never seen); ids run 1..pmt_profile_codes(). */
const struct pmt_fstat *pmt_profile_fstat(const struct pmt_profile *p, uint32_t code);
uint32_t pmt_profile_codes(const struct pmt_profile *p);
const struct pmt_tstat *pmt_profile_tstat(const struct pmt_profile *p, uint32_t thread);
uint32_t pmt_profile_threads(const struct pmt_profile *p);

/* Writes "frame;frame;frame weight\n" per call path with positive growth,
 * frames named "function (file)" from s's code table. 0 or -errno. */
int pmt_profile_folded(const struct pmt_profile *p, const struct pmt_source *s, FILE *out);

/* What a folded stack's weight is. */
enum pmt_profile_weight {
	PMT_WEIGHT_RSS,	   /* positive RSS growth (pmt_profile_folded) */
	PMT_WEIGHT_ALLOC,  /* heap bytes allocated */
	PMT_WEIGHT_LIVE,   /* heap bytes live at the heap's peak */
	PMT_WEIGHT_LEAKED, /* heap bytes still live at the end */
};
/* Parses "rss", "alloc", "live", "leaked"; -1 when unknown. */
int pmt_profile_weight_parse(const char *s);
/* pmt_profile_folded() with another weight; the heap weights need heap
 * records (a path with none has weight 0 and is not written). */
int pmt_profile_folded_weight(const struct pmt_profile *p, const struct pmt_source *s,
			      enum pmt_profile_weight w, FILE *out);
/* The heap records' statistics, or NULL when the log had none. */
const struct pmt_heap *pmt_profile_heap(const struct pmt_profile *p);
