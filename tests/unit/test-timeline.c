/* SPDX-License-Identifier: MIT */
/* libpmt/report/timeline.c: the largest rises and falls with their previous
 * events, messages placed at their event's time, bounded points, and label
 * positions that never overlap. TAP output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include <libpmt/report/profile.h>
#include <libpmt/report/timeline.h>

static struct pmt_item event(uint64_t n, int64_t rss, int64_t drss)
{
	struct pmt_item it = {.type = PMT_ITEM_EVENT};
	it.ev = (struct pmt_event){.number = n,
				   .time_ns = n * 1000,
				   .rss = rss,
				   .drss = drss,
				   .code = (uint32_t)n % 7 + 1};
	return it;
}

static bool odd_code(void *ctx, uint32_t code)
{
	(void)ctx;
	return code == 3;
}

/* The jumps (rises or falls) of the two timelines are the same: n of them,
 * or with n 0 any number but none. */
static bool same_jumps(struct pmt_timeline *t[2],
		       unsigned (*get)(const struct pmt_timeline *, const struct pmt_tl_jump **),
		       unsigned n)
{
	const struct pmt_tl_jump *j[2];
	unsigned nj[2] = {get(t[0], &j[0]), get(t[1], &j[1])};
	bool same = nj[0] == nj[1] && (n ? nj[0] == n : nj[0] > 0);
	for (unsigned i = 0; same && i < nj[0]; i++)
		same = j[0][i].ev.number == j[1][i].ev.number &&
		       j[0][i].prev.valid == j[1][i].prev.valid &&
		       j[0][i].prev.number == j[1][i].prev.number;
	return same;
}

/* The same pseudo-random items (threads, jumps, messages, PREV events) in
 * batches of pseudo-random sizes, into a timeline alone, and into a profile
 * and a timeline as pmt-report does (pmt_timeline_flat_items() for the
 * batches the profile calls flat): the same curve, jumps and messages. */
static void flat_batches(void)
{
	enum { N = 400000, B = 64 };
	struct pmt_timeline *t[2];
	struct pmt_profile *prof;
	if (pmt_timeline_new(200, 8, 4, &t[0]) < 0 || pmt_timeline_new(200, 8, 4, &t[1]) < 0 ||
	    pmt_profile_new(4096, 1u << PMT_WEIGHT_RSS, &prof) < 0)
		exit(99);
	static struct pmt_item items[N];
	int64_t rss = 1 << 24;
	for (uint64_t n = 0, i = 0; i < N; i++, n++) {
		uint64_t x = tap_rnd();
		if (x % 5000 == 0) {
			items[i] =
			    (struct pmt_item){.type = PMT_ITEM_MESSAGE, .text = "m", .text_len = 1};
			items[i].ev.number = n--;
			continue;
		}
		int64_t d = x % 997 == 0 ? (int64_t)(x % 7) * 4096 - 3 * 4096 : 0;
		if (rss + d < 0)
			d = 0;
		rss += d;
		items[i] = event(n, rss, d);
		items[i].ev.kind = (uint8_t)(x >> 8) % 2; /* CALL, RETURN */
		items[i].ev.thread = (uint32_t)(n / 30000 % 3 + (x % 100000 == 1 ? 3 : 0));
		items[i].ev.flags = x % 20011 == 0 ? PMT_EV_PREV : 0;
	}
	unsigned flat = 0, batches = 0;
	for (unsigned i = 0; i < N;) {
		unsigned k = (unsigned)(tap_rnd() % B) + 1;
		if (k > N - i)
			k = N - i;
		/* a batch ends at its first item that is not an event */
		for (unsigned j = 0; j < k; j++)
			if (items[i + j].type != PMT_ITEM_EVENT) {
				k = j + 1;
				break;
			}
		pmt_timeline_items(t[0], items + i, k);
		if (pmt_profile_items(prof, items + i, k) < 0)
			exit(99);
		bool f = pmt_profile_batch_flat(prof);
		flat += f;
		batches++;
		(f ? pmt_timeline_flat_items : pmt_timeline_items)(t[1], items + i, k);
		i += k;
	}
	pmt_timeline_finish(t[0]);
	pmt_timeline_finish(t[1]);
	bool same = pmt_timeline_events(t[0]) == pmt_timeline_events(t[1]);
	const struct pmt_tl_point *p[2];
	size_t np[2];
	for (int k = 0; k < 2; k++)
		np[k] = pmt_timeline_points(t[k], &p[k]);
	same &= np[0] == np[1] && np[0] > 100;
	for (size_t i = 0; same && i < np[0]; i++) /* field by field: a point has padding */
		same &= p[0][i].x == p[1][i].x && p[0][i].rss == p[1][i].rss &&
			p[0][i].thread == p[1][i].thread;
	same &= same_jumps(t, pmt_timeline_rises, 8) && same_jumps(t, pmt_timeline_falls, 0);
	const struct pmt_tl_message *m[2];
	unsigned nm[2];
	for (int k = 0; k < 2; k++)
		nm[k] = pmt_timeline_messages(t[k], &m[k]);
	same &= nm[0] == nm[1] && nm[0] == 4;
	for (unsigned i = 0; same && i < nm[0]; i++)
		same &= m[0][i].x == m[1][i].x && m[0][i].number == m[1][i].number;
	ok(same, "a timeline fed flat batches in one step draws what it draws item by item");
	ok(flat > batches / 2 && flat < batches,
	   "most batches were flat, not all (pmt_profile_batch_flat)");
	pmt_timeline_free(t[0]);
	pmt_timeline_free(t[1]);
	pmt_profile_free(prof);
}

int main(void)
{
	flat_batches();
	struct pmt_timeline *t;
	if (pmt_timeline_new(100, 3, 2, &t) < 0)
		return 99;
	/* RSS steps of +-k pages at chosen events, a message before event 10 */
	int64_t rss = 1 << 20;
	for (uint64_t n = 0; n < 100000; n++) {
		int64_t d = 0;
		if (n == 10 || n == 500 || n == 7000 || n == 9000)
			d = (int64_t)(n / 10 + 1) * 4096; /* rises: 2, 51, 701, 901 pages */
		if (n == 300 || n == 8000)
			d = -(int64_t)(n / 100) * 4096; /* falls: 3 and 80 pages */
		rss += d;
		if (n == 10) {
			struct pmt_item m = {
			    .type = PMT_ITEM_MESSAGE, .text = "phase 2", .text_len = 7};
			m.ev.number = 10;
			pmt_timeline_item(t, &m);
		}
		struct pmt_item it = event(n, rss, d);
		if (pmt_timeline_item(t, &it) < 0)
			return 99;
	}
	for (int i = 0; i < 3; i++) {
		struct pmt_item m = {.type = PMT_ITEM_MESSAGE, .text = "late", .text_len = 4};
		pmt_timeline_item(t, &m);
	}
	pmt_timeline_finish(t);
	const struct pmt_tl_jump *j;
	unsigned n = pmt_timeline_rises(t, &j);
	ok(n == 3 && j[0].ev.number == 9000 && j[1].ev.number == 7000 && j[2].ev.number == 500,
	   "the three largest rises, largest first");
	ok(j[0].prev.valid && j[0].prev.number == 8999, "each with the event before it");
	n = pmt_timeline_falls(t, &j);
	ok(n == 2 && j[0].ev.number == 8000 && j[0].ev.drss == -80 * 4096 && j[1].ev.number == 300,
	   "the falls, largest first");
	const struct pmt_tl_message *m;
	n = pmt_timeline_messages(t, &m);
	ok(n == 2 && !strcmp(m[0].text, "phase 2") && fabs(m[0].x - 10e-6) < 1e-12,
	   "a message sits at the time of its event");
	ok(pmt_timeline_messages_seen(t) == 4, "messages past the cap are counted");
	const struct pmt_tl_point *p;
	size_t np = pmt_timeline_points(t, &p);
	ok(np <= 100 && np >= 50, "points stay near max_points");
	int64_t peak = 0;
	for (size_t i = 0; i < np; i++) {
		if (p[i].rss > peak)
			peak = p[i].rss;
		if (i && p[i].x < p[i - 1].x)
			peak = -1;
	}
	ok(peak == rss, "the peak survives the decimation, points in time order");
	pmt_timeline_free(t);

	/* a skipped code's jumps are not kept */
	if (pmt_timeline_new(100, 5, 0, &t) < 0)
		return 99;
	pmt_timeline_skip(t, odd_code, NULL);
	for (uint64_t i = 0; i < 20; i++) {
		struct pmt_item it = event(i, 4096 * (int64_t)(i + 1), 4096);
		pmt_timeline_item(t, &it);
	}
	pmt_timeline_finish(t);
	n = pmt_timeline_rises(t, &j);
	bool none = true;
	for (unsigned i = 0; i < n; i++)
		none &= j[i].ev.code != 3;
	ok(n == 5 && none, "jumps in skipped code are left out");
	pmt_timeline_free(t);

	/* spreading: apart by the gap, inside the range, order kept */
	double pos[] = {0.5, 0.5, 0.5, 0.51, 0.99, 1.0};
	pmt_timeline_spread(pos, 6, 0.05, 0, 1);
	bool fine = true;
	for (int i = 0; i < 6; i++)
		fine &= pos[i] >= 0 && pos[i] <= 1 && (!i || pos[i] - pos[i - 1] >= 0.05 - 1e-12);
	ok(fine, "labels spread apart within the range");
	double crowd[30];
	for (int i = 0; i < 30; i++)
		crowd[i] = 0.2;
	pmt_timeline_spread(crowd, 30, 0.05, 0, 1);
	fine = crowd[0] >= 0 && crowd[29] <= 1 + 1e-12;
	for (int i = 1; i < 30; i++)
		fine &= crowd[i] - crowd[i - 1] >= 1.0 / 29 - 1e-9;
	ok(fine, "too many labels share the range evenly");
	return done_testing();
}
