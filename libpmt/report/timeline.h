/* SPDX-License-Identifier: MIT */
#pragma once
/* RSS over time for plots, in bounded memory whatever the log's length:
 * the RSS curve as min/max points per bucket (the resolution halves when
 * the buckets are full), the N largest rises and the N largest falls with
 * the event just before each, and the log's messages (the first ones, up to
 * a cap; all are counted). pmt-gnuplot's event plots and pmt-report draw
 * from it. Ownership: the timeline copies message texts. */
#include <stdbool.h>
#include <stdint.h>

#include <libpmt/read/source.h>

struct pmt_tl_point {
	double x; /* seconds since the start (a pymemtrace log: its CPU clock) */
	int64_t rss;
	uint32_t thread;
};

struct pmt_tl_event {
	uint64_t number;
	double x;
	int64_t rss, drss;
	uint32_t code, line, thread;
	uint8_t kind;
	bool valid;
};

/* A jump and the event just before it (prev.valid is false when that event
 * is not in the log: a filtered log that did not keep it). */
struct pmt_tl_jump {
	struct pmt_tl_event ev, prev;
};

struct pmt_tl_message {
	double x;
	uint64_t number;
	uint32_t thread;
	char *text;
};

struct pmt_timeline;

/* max_points: points kept (about); top: rises and falls kept each;
 * max_messages: message texts kept. 0 or -ENOMEM. */
int pmt_timeline_new(uint64_t max_points, unsigned top, unsigned max_messages,
		     struct pmt_timeline **out);
void pmt_timeline_free(struct pmt_timeline *t);
/* Jumps in code that skip(ctx, code) says to leave out are not kept (the
 * tracer's own frames); set before the first item. */
void pmt_timeline_skip(struct pmt_timeline *t, bool (*skip)(void *ctx, uint32_t code), void *ctx);
int pmt_timeline_item(struct pmt_timeline *t, const struct pmt_item *it);
/* The same for n items in a row (a batch of pmt_source_next_batch()). */
int pmt_timeline_items(struct pmt_timeline *t, const struct pmt_item *items, unsigned n);
/* The same for a batch whose every item is an event that left RSS as it
 * was, has no flag, and is of a thread index below the highest one of an
 * event before it (pmt_profile_batch_flat() of a profile given the same
 * items): nothing but counting, so in one step when the batch ends inside
 * the current stretch of the curve. */
int pmt_timeline_flat_items(struct pmt_timeline *t, const struct pmt_item *items, unsigned n);
/* After the last item: orders the jumps, largest first. */
void pmt_timeline_finish(struct pmt_timeline *t);

uint64_t pmt_timeline_events(const struct pmt_timeline *t);
size_t pmt_timeline_points(const struct pmt_timeline *t, const struct pmt_tl_point **pts);
unsigned pmt_timeline_rises(const struct pmt_timeline *t, const struct pmt_tl_jump **j);
unsigned pmt_timeline_falls(const struct pmt_timeline *t, const struct pmt_tl_jump **j);
unsigned pmt_timeline_messages(const struct pmt_timeline *t, const struct pmt_tl_message **m);
uint64_t pmt_timeline_messages_seen(const struct pmt_timeline *t);
/* The x and RSS ranges of the points. */
void pmt_timeline_range(const struct pmt_timeline *t, double *x0, double *x1, int64_t *lo,
			int64_t *hi);
/* Threads that have points: one more than the largest index seen. */
uint32_t pmt_timeline_threads(const struct pmt_timeline *t);

/* Label positions that never overlap: pos[0..n) sorted ascending, moved
 * apart by at least gap (less when n labels cannot fit) within [lo, hi],
 * each as near its wish as that allows. */
void pmt_timeline_spread(double *pos, unsigned n, double gap, double lo, double hi);
