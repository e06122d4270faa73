/* SPDX-License-Identifier: MIT */
/* libpmt/report/timeline.c: the largest rises and falls with their previous
 * events, messages placed at their event's time, bounded points, and label
 * positions that never overlap. TAP output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/report/timeline.h>

static int failures, count;

static void check(int ok, const char *what)
{
	count++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
	if (!ok)
		failures++;
}

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

int main(void)
{
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
	check(n == 3 && j[0].ev.number == 9000 && j[1].ev.number == 7000 && j[2].ev.number == 500,
	      "the three largest rises, largest first");
	check(j[0].prev.valid && j[0].prev.number == 8999, "each with the event before it");
	n = pmt_timeline_falls(t, &j);
	check(n == 2 && j[0].ev.number == 8000 && j[0].ev.drss == -80 * 4096 &&
		  j[1].ev.number == 300,
	      "the falls, largest first");
	const struct pmt_tl_message *m;
	n = pmt_timeline_messages(t, &m);
	check(n == 2 && !strcmp(m[0].text, "phase 2") && fabs(m[0].x - 10e-6) < 1e-12,
	      "a message sits at the time of its event");
	check(pmt_timeline_messages_seen(t) == 4, "messages past the cap are counted");
	const struct pmt_tl_point *p;
	size_t np = pmt_timeline_points(t, &p);
	check(np <= 100 && np >= 50, "points stay near max_points");
	int64_t peak = 0;
	for (size_t i = 0; i < np; i++) {
		if (p[i].rss > peak)
			peak = p[i].rss;
		if (i && p[i].x < p[i - 1].x)
			peak = -1;
	}
	check(peak == rss, "the peak survives the decimation, points in time order");
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
	check(n == 5 && none, "jumps in skipped code are left out");
	pmt_timeline_free(t);

	/* spreading: apart by the gap, inside the range, order kept */
	double pos[] = {0.5, 0.5, 0.5, 0.51, 0.99, 1.0};
	pmt_timeline_spread(pos, 6, 0.05, 0, 1);
	bool ok = true;
	for (int i = 0; i < 6; i++)
		ok &= pos[i] >= 0 && pos[i] <= 1 && (!i || pos[i] - pos[i - 1] >= 0.05 - 1e-12);
	check(ok, "labels spread apart within the range");
	double crowd[30];
	for (int i = 0; i < 30; i++)
		crowd[i] = 0.2;
	pmt_timeline_spread(crowd, 30, 0.05, 0, 1);
	ok = crowd[0] >= 0 && crowd[29] <= 1 + 1e-12;
	for (int i = 1; i < 30; i++)
		ok &= crowd[i] - crowd[i - 1] >= 1.0 / 29 - 1e-9;
	check(ok, "too many labels share the range evenly");
	printf("1..%d\n", count);
	return failures ? 1 : 0;
}
