/* SPDX-License-Identifier: MIT */
/* pmt-gnuplot on an event log (pmt or pymemtrace): RSS over time, the
 * largest jumps annotated by function; for a heap log, the live heap over
 * the same time on the same axes. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/heap.h>

#include "gnuplot.h"

struct bucket {
	double x_min, x_max; /* x of the min and of the max RSS */
	int64_t min, max;
};

struct jump {
	int64_t drss;
	double x;
	int64_t rss;
	uint32_t code;
	uint64_t number;
};

/* A value over time in at most cap buckets, each its min and max: when the
 * buckets are full, neighbours merge and each then covers twice as many
 * points, so memory stays fixed whatever the log's length. */
struct series {
	struct bucket *b;
	unsigned nb, cap;
	uint64_t per, in_cur, points;
	int64_t lo, hi;
};

static int series_init(struct series *s, unsigned cap)
{
	*s = (struct series){.cap = cap, .per = 1, .lo = INT64_MAX, .hi = INT64_MIN};
	s->b = calloc(cap, sizeof(*s->b));
	return s->b ? 0 : -ENOMEM;
}

static void series_add(struct series *s, double x, int64_t v)
{
	struct bucket *b = s->b;
	s->points++;
	if (s->in_cur == 0) {
		if (s->nb == s->cap) {
			/* full: halve the resolution, merging neighbours */
			for (unsigned i = 0; i < s->nb / 2; i++) {
				struct bucket m = b[2 * i];
				const struct bucket *c = &b[2 * i + 1];
				if (c->min < m.min) {
					m.min = c->min;
					m.x_min = c->x_min;
				}
				if (c->max > m.max) {
					m.max = c->max;
					m.x_max = c->x_max;
				}
				b[i] = m;
			}
			if (s->nb % 2)
				b[s->nb / 2] = b[s->nb - 1];
			s->nb = s->nb / 2 + s->nb % 2;
			s->per *= 2;
		}
		b[s->nb].x_min = b[s->nb].x_max = x;
		b[s->nb].min = b[s->nb].max = v;
		s->nb++;
	} else {
		struct bucket *c = &b[s->nb - 1];
		if (v < c->min) {
			c->min = v;
			c->x_min = x;
		}
		if (v > c->max) {
			c->max = v;
			c->x_max = x;
		}
	}
	if (++s->in_cur >= s->per)
		s->in_cur = 0;
}

/* The points in time order, each bucket's min and max; lo/hi updated. */
static void series_write(struct series *s, FILE *dat)
{
	for (unsigned i = 0; i < s->nb; i++) {
		const struct bucket *b = &s->b[i];
		if (b->x_min <= b->x_max) {
			fprintf(dat, "%.9g %" PRId64 "\n", b->x_min, b->min);
			if (b->x_max != b->x_min)
				fprintf(dat, "%.9g %" PRId64 "\n", b->x_max, b->max);
		} else {
			fprintf(dat, "%.9g %" PRId64 "\n", b->x_max, b->max);
			fprintf(dat, "%.9g %" PRId64 "\n", b->x_min, b->min);
		}
		if (b->min < s->lo)
			s->lo = b->min;
		if (b->max > s->hi)
			s->hi = b->max;
	}
}

static uint64_t absd(int64_t v) { return v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v; }

/* min-heap on |drss| of the N largest jumps */
static void heap_push(struct jump *h, unsigned *n, unsigned cap, const struct jump *j)
{
	if (*n < cap) {
		unsigned i = (*n)++;
		h[i] = *j;
		while (i && absd(h[(i - 1) / 2].drss) > absd(h[i].drss)) {
			struct jump t = h[i];
			h[i] = h[(i - 1) / 2];
			h[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
		return;
	}
	if (!cap || absd(j->drss) <= absd(h[0].drss))
		return;
	h[0] = *j;
	unsigned i = 0;
	for (;;) {
		unsigned a = 2 * i + 1, b = a + 1, m = i;
		if (a < *n && absd(h[a].drss) < absd(h[m].drss))
			m = a;
		if (b < *n && absd(h[b].drss) < absd(h[m].drss))
			m = b;
		if (m == i)
			break;
		struct jump t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

int plot_events(struct pmt_source *src, const struct gnuplot_opts *o, const char *base,
		struct plot *pl, const char *outdir)
{
	unsigned nb_cap = (unsigned)(o->max_points / 2 > 1 ? o->max_points / 2 : 1);
	struct series rs = {0}, hs = {0};
	struct pmt_heap *hp = NULL;
	struct jump *heap = calloc(o->top ? o->top : 1, sizeof(*heap));
	unsigned nheap = 0;
	uint64_t events = 0;
	int r = 0;
	FILE *dat = NULL, *plt = NULL;
	if (!heap || series_init(&rs, nb_cap) < 0 || series_init(&hs, nb_cap) < 0) {
		r = -ENOMEM;
		goto out;
	}
	bool cpu_clock = pmt_source_type(src) == PMT_INPUT_PYMEMTRACE;
	struct pmt_item it;
	while ((r = pmt_source_next(src, &it)) > 0) {
		if (it.type == PMT_ITEM_ALLOC) {
			if (!hp && (r = pmt_heap_new(&hp)) < 0)
				goto out;
			if ((r = pmt_heap_item(hp, &it, 0)) < 0)
				goto out;
			series_add(&hs, (double)it.ev.time_ns * 1e-9, pmt_heap_totals(hp)->live);
			continue;
		}
		if (it.type != PMT_ITEM_EVENT || (it.ev.flags & PMT_EV_PREV))
			continue;
		double x = (double)it.ev.time_ns * 1e-9;
		int64_t rss = it.ev.rss;
		events++;
		series_add(&rs, x, rss);
		/* pymemtrace's FRST line and its event 1 carry the absolute RSS as
		 * dRSS: not a jump */
		if ((it.ev.flags & PMT_EV_FIRST) || it.ev.drss == it.ev.rss || it.ev.drss == 0)
			continue;
		struct jump j = {it.ev.drss, x, rss, it.ev.code, it.ev.number};
		heap_push(heap, &nheap, o->top, &j);
	}
	if (r < 0)
		goto out;
	if (events == 0) {
		r = -ENODATA;
		goto out;
	}
	const struct pmt_header *h = pmt_source_header(src);
	if (h && h->pid)
		snprintf(pl->name, sizeof(pl->name), "%s_%" PRIu32, base, h->pid);
	else
		snprintf(pl->name, sizeof(pl->name), "%s", base);

	char path[PATH_MAX];
	dat = open_out(outdir, pl->name, ".dat", path, sizeof(path));
	if (!dat) {
		r = -errno;
		pmt_cli_errno(path, r, NULL);
		r = 1;
		goto out;
	}
	fprintf(dat, "# %s (RSS bytes), %" PRIu64 " events, %" PRIu64 " per bucket\n",
		cpu_clock ? "CPU clock (s)" : "time (s)", events, rs.per);
	series_write(&rs, dat);
	int64_t lo = rs.lo, hi = rs.hi;
	if (hp) {
		/* the live heap after the RSS points: a second data set, index 1 */
		fprintf(dat,
			"\n\n# time (s) (live heap bytes), %" PRIu64 " allocator calls, %" PRIu64
			" per bucket\n",
			hs.points, hs.per);
		series_write(&hs, dat);
	}
	r = close_out(dat);
	dat = NULL;
	if (r < 0) {
		pmt_cli_errno(path, r, NULL);
		r = 1;
		goto out;
	}

	plt = open_out(outdir, pl->name, ".plt", path, sizeof(path));
	if (!plt) {
		r = -errno;
		pmt_cli_errno(path, r, NULL);
		r = 1;
		goto out;
	}
	char title[PATH_MAX + 64];
	snprintf(title, sizeof(title), hp ? "RSS and live heap over time. %s" : "RSS over time. %s",
		 base);
	fputs("\nset grid\nset title ", plt);
	put_sqz(plt, title);
	fprintf(plt,
		" font \",14\" noenhanced\n"
		"set xlabel \"%s\"\n"
		"set ylabel \"%s\"\n"
		"set datafile separator whitespace\n"
		"set key left top\n",
		cpu_clock ? "CPU clock (s)" : "Time (s)", "RSS (MiB)");
	/* the live heap counts from zero at the log's start, RSS from the
	 * process's size: each on its own axis, so their shapes compare */
	if (hp)
		fputs("set y2label \"live heap (MiB)\"\nset y2tics\nset ytics nomirror\n", plt);
	plt_outputs_head(plt, o, pl->name);
	double span = (double)(hi - lo) / 1048576.0;
	if (span <= 0)
		span = 1.0;
	fprintf(plt, "set offsets 0, 0, %g, 0\n", 0.3 * span);
	/* largest first, so the biggest jumps are the ones read first */
	for (unsigned k = nheap; k > 0; k--) {
		unsigned best = 0;
		for (unsigned i = 1; i < nheap; i++)
			if (absd(heap[i].drss) > absd(heap[best].drss))
				best = i;
		const struct jump *j = &heap[best];
		const struct pmt_code *c = j->code ? pmt_source_code(src, j->code) : NULL;
		char text[1024];
		const char *fn = c && c->name ? c->name : "?";
		size_t fnl = c && c->name ? c->name_len : 1;
		if (fnl > 200)
			fnl = 200;
		int n = snprintf(text, sizeof(text), "%.*s %+.2f MiB (event %" PRIu64 ")", (int)fnl,
				 fn, (double)j->drss / 1048576.0, j->number);
		if (n < 0)
			n = 0;
		char tx[40], ty[40], tt[40];
		double ymib = (double)j->rss / 1048576.0;
		snprintf(tx, sizeof(tx), "%.9g", j->x);
		shortest(ty, sizeof(ty), ymib);
		shortest(tt, sizeof(tt), ymib + 0.12 * span);
		fprintf(plt, "set arrow from %s,%s to %s,%s lt -1 lw 1\n", tx, tt, tx, ty);
		fputs("set label ", plt);
		put_sq(plt, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
		fprintf(plt, " at %s,%s left font \",9\" rotate by 90 noenhanced front\n", tx, tt);
		heap[best] = heap[--nheap];
	}
	char datname[PATH_MAX + 8];
	snprintf(datname, sizeof(datname), "%s.dat", pl->name);
	fputs("\nplot ", plt);
	put_sqz(plt, datname);
	fputs(" index 0 using 1:($2 / 1024**2) title \"RSS (MiB)\" with steps lt 1 lw 2", plt);
	if (hp) {
		fputs(", \\\n     ", plt);
		put_sqz(plt, datname);
		fputs(" index 1 using 1:($2 / 1024**2) axes x1y2 title \"live heap (MiB)\" with "
		      "steps "
		      "lt 2 lw 2",
		      plt);
	}
	fputc('\n', plt);
	plt_outputs_tail(plt, o, pl->name);
	r = close_out(plt);
	plt = NULL;
	if (r < 0) {
		pmt_cli_errno(path, r, NULL);
		r = 1;
	}
out:
	if (dat)
		fclose(dat);
	if (plt)
		fclose(plt);
	free(rs.b);
	free(hs.b);
	pmt_heap_free(hp);
	free(heap);
	return r;
}
