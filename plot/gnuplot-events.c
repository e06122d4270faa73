/* SPDX-License-Identifier: MIT */
/* pmt-gnuplot on an event log (pmt or pymemtrace): RSS over time, the
 * largest jumps annotated by function. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/report/cli.h>

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

static void put_point(FILE *f, double x, int64_t rss) { fprintf(f, "%.9g %" PRId64 "\n", x, rss); }

int plot_events(struct pmt_source *src, const struct gnuplot_opts *o, const char *base,
		struct plot *pl, const char *outdir)
{
	unsigned nb_cap = (unsigned)(o->max_points / 2 > 1 ? o->max_points / 2 : 1);
	struct bucket *b = calloc(nb_cap, sizeof(*b));
	struct jump *heap = calloc(o->top ? o->top : 1, sizeof(*heap));
	unsigned nb = 0, nheap = 0;
	uint64_t per = 1, in_cur = 0, events = 0;
	int r = 0;
	FILE *dat = NULL, *plt = NULL;
	if (!b || !heap) {
		r = -ENOMEM;
		goto out;
	}
	bool cpu_clock = pmt_source_type(src) == PMT_INPUT_PYMEMTRACE;
	struct pmt_item it;
	while ((r = pmt_source_next(src, &it)) > 0) {
		if (it.type != PMT_ITEM_EVENT || (it.ev.flags & PMT_EV_PREV))
			continue;
		double x = (double)it.ev.time_ns * 1e-9;
		int64_t rss = it.ev.rss;
		events++;
		if (in_cur == 0) {
			if (nb == nb_cap) {
				/* full: halve the resolution, merging neighbours */
				for (unsigned i = 0; i < nb / 2; i++) {
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
				if (nb % 2)
					b[nb / 2] = b[nb - 1];
				nb = nb / 2 + nb % 2;
				per *= 2;
			}
			b[nb].x_min = b[nb].x_max = x;
			b[nb].min = b[nb].max = rss;
			nb++;
		} else {
			struct bucket *c = &b[nb - 1];
			if (rss < c->min) {
				c->min = rss;
				c->x_min = x;
			}
			if (rss > c->max) {
				c->max = rss;
				c->x_max = x;
			}
		}
		if (++in_cur >= per)
			in_cur = 0;
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
		cpu_clock ? "CPU clock (s)" : "time (s)", events, per);
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	for (unsigned i = 0; i < nb; i++) {
		if (b[i].x_min <= b[i].x_max) {
			put_point(dat, b[i].x_min, b[i].min);
			if (b[i].x_max != b[i].x_min)
				put_point(dat, b[i].x_max, b[i].max);
		} else {
			put_point(dat, b[i].x_max, b[i].max);
			put_point(dat, b[i].x_min, b[i].min);
		}
		if (b[i].min < lo)
			lo = b[i].min;
		if (b[i].max > hi)
			hi = b[i].max;
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
	snprintf(title, sizeof(title), "RSS over time. %s", base);
	fputs("\nset grid\nset title ", plt);
	put_sqz(plt, title);
	fprintf(plt,
		" font \",14\" noenhanced\n"
		"set xlabel \"%s\"\n"
		"set ylabel \"RSS (MiB)\"\n"
		"set datafile separator whitespace\n"
		"set key left top\n",
		cpu_clock ? "CPU clock (s)" : "Time (s)");
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
	fputs(" using 1:($2 / 1024**2) title \"RSS (MiB)\" with steps lt 1 lw 2\n", plt);
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
	free(b);
	free(heap);
	return r;
}
