/* SPDX-License-Identifier: MIT */
/* pmt-gnuplot on an event log (pmt or pymemtrace): RSS over time, the
 * largest rises and falls numbered on the curve and named in a legend beside
 * the plot, the messages as dashed lines, a colour per thread; for a heap
 * log, the live heap over the same time on a second axis. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/heap.h>
#include <libpmt/report/names.h>
#include <libpmt/report/timeline.h>

#include "gnuplot.h"

struct bucket {
	double x_min, x_max; /* x of the min and of the max RSS */
	int64_t min, max;
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

static const char *fn_name(struct pmt_source *src, uint32_t code, size_t *len)
{
	const struct pmt_code *c = code ? pmt_source_code(src, code) : NULL;
	*len = c && c->name ? (c->name_len > 60 ? 60 : c->name_len) : 1;
	return c && c->name ? c->name : "?";
}

static bool tracer_code(void *ctx, uint32_t code)
{
	const struct pmt_code *c = code ? pmt_source_code(ctx, code) : NULL;
	return c && pmt_names_tracer_file(c->file, c->file_len);
}

struct mark {
	double x, y, f; /* data x, y (MiB), the label's place (graph fraction) */
	unsigned k;
};

static int cmp_mark(const void *a, const void *b)
{
	double x = ((const struct mark *)a)->x, y = ((const struct mark *)b)->x;
	return x < y ? -1 : x > y;
}

/* Numbers along a row at graph height gy, spread apart, each joined to its
 * point: labels that never overlap whatever the data. */
static void number_row(FILE *plt, struct mark *m, unsigned n, double x0, double x1, double gy,
		       const char *prefix, const char *const *colours)
{
	if (n > 1) /* qsort of NULL, 0 is undefined */
		qsort(m, n, sizeof(*m), cmp_mark);
	double *pos = malloc((n ? n : 1) * sizeof(*pos));
	if (!pos)
		return;
	for (unsigned i = 0; i < n; i++)
		pos[i] = x1 > x0 ? (m[i].x - x0) / (x1 - x0) : 0.5;
	pmt_timeline_spread(pos, n, 0.035, 0.01, 0.99);
	for (unsigned i = 0; i < n; i++) {
		char tx[40], ty[40];
		snprintf(tx, sizeof(tx), "%.9g", m[i].x);
		shortest(ty, sizeof(ty), m[i].y);
		const char *c = colours[m[i].k & 1];
		fprintf(
		    plt,
		    "set label \"%s%u\" at graph %.4f, graph %.3f center font \",9\" tc rgb '%s' "
		    "front\n",
		    prefix, m[i].k >> 1, pos[i], gy, c);
		if (gy > 0.5)
			fprintf(
			    plt,
			    "set arrow from graph %.4f, graph %.3f to first %s, first %s nohead lc "
			    "rgb '#aaaaaa' lw 0.6 front\n",
			    pos[i], gy - 0.02, tx, ty);
	}
	free(pos);
}

int plot_events(struct pmt_source *src, const struct gnuplot_opts *o, const char *base,
		struct plot *pl, const char *outdir)
{
	struct pmt_timeline *tl = NULL;
	struct mark *m = NULL;
	FILE *dat = NULL, *plt = NULL;
	struct series hs = {0};
	struct pmt_heap *hp = NULL;
	int r = pmt_timeline_new(o->max_points, o->top, 100, &tl);
	if (r < 0)
		goto out;
	unsigned nb_cap = (unsigned)(o->max_points / 2 > 1 ? o->max_points / 2 : 1);
	if ((r = series_init(&hs, nb_cap)) < 0)
		goto out;
	pmt_timeline_skip(tl, tracer_code, src);
	bool cpu_clock = pmt_source_type(src) == PMT_INPUT_PYMEMTRACE;
	struct pmt_item it;
	while ((r = pmt_source_next(src, &it)) > 0) {
		if (it.type == PMT_ITEM_ALLOC) {
			/* the live heap after each allocator call */
			if ((!hp && (r = pmt_heap_new(&hp)) < 0) ||
			    (r = pmt_heap_item(hp, &it, 0)) < 0)
				break;
			series_add(&hs, (double)it.ev.time_ns * 1e-9, pmt_heap_totals(hp)->live);
			continue;
		}
		if ((r = pmt_timeline_item(tl, &it)) < 0)
			break;
	}
	if (r < 0)
		goto out;
	pmt_timeline_finish(tl);
	if (pmt_timeline_events(tl) == 0) {
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
	const struct pmt_tl_point *pts;
	size_t npts = pmt_timeline_points(tl, &pts);
	fprintf(dat, "# %s, RSS (bytes), thread; %" PRIu64 " events\n",
		cpu_clock ? "CPU clock (s)" : "time (s)", pmt_timeline_events(tl));
	for (size_t i = 0; i < npts; i++)
		fprintf(dat, "%.9g %" PRId64 " %" PRIu32 "\n", pts[i].x, pts[i].rss, pts[i].thread);
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
	double x0, x1;
	int64_t lo, hi;
	pmt_timeline_range(tl, &x0, &x1, &lo, &hi);
	if (x1 <= x0)
		x1 = x0 + 1e-6;
	char title[PATH_MAX + 64];
	snprintf(title, sizeof(title), "RSS over time. %s", base);
	fputs("\nset grid\nset title ", plt);
	put_sqz(plt, title);
	fprintf(plt,
		" font \",14\" noenhanced offset 0,1.2\n"
		"set xlabel \"%s\"\n"
		"set ylabel \"RSS (MiB)\"\n"
		"set datafile separator whitespace\n"
		"set key right bottom noenhanced box opaque\n"
		"set format x \"%%g\"\n"
		"set xrange [%.9g:%.9g]\n"
		"set tmargin 5\n"
		"set rmargin at screen 0.68\n",
		cpu_clock ? "CPU clock (s)" : "Time (s)", x0, x1);
	/* the live heap counts from zero at the log's start, RSS from the
	 * process's size: each on its own axis, so their shapes compare */
	if (hp)
		fputs("set y2label \"live heap (MiB)\"\nset y2tics\nset ytics nomirror\n", plt);
	plt_outputs_head(plt, o, pl->name);
	double span = (double)(hi - lo) / 1048576.0;
	fprintf(plt, "set yrange [%.6g:%.6g]\n", (double)lo / 1048576.0 - 0.05 * span - 0.01,
		(double)hi / 1048576.0 + 0.05 * span + 0.01);

	/* rises (odd keys, red) and falls (even, blue), numbered 1.. in the
	 * legend's order: the largest rise first, then the largest fall */
	const struct pmt_tl_jump *rises, *falls;
	unsigned nr = pmt_timeline_rises(tl, &rises), nf = pmt_timeline_falls(tl, &falls);
	const struct pmt_tl_message *msg;
	unsigned nm = pmt_timeline_messages(tl, &msg);
	m = calloc((size_t)nr + nf + nm + 1, sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	static const char *const jc[] = {"#1e56c8", "#c62828"}, *const mc[] = {"#666666",
									       "#666666"};
	fputs("set label \"Largest rises (red) and falls (blue)\" at screen 0.70, screen 0.93 "
	      "font \",10\"\n",
	      plt);
	double ly = 0.89;
	for (unsigned i = 0; i < nr + nf; i++) {
		const struct pmt_tl_jump *j = i < nr ? &rises[i] : &falls[i - nr];
		double y = (double)j->ev.rss / 1048576.0;
		m[i] = (struct mark){j->ev.x, y, 0, (i + 1) << 1 | (i < nr)};
		size_t fl;
		const char *fn = fn_name(src, j->ev.code, &fl);
		char text[256];
		int n = snprintf(text, sizeof(text), "%u  %+.2f MiB  %.*s (event %" PRIu64 ")",
				 i + 1, (double)j->ev.drss / 1048576.0, (int)fl, fn, j->ev.number);
		fputs("set label ", plt);
		put_sq(plt, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
		fprintf(plt, " at screen 0.70, screen %.3f font \",9\" tc rgb '%s' noenhanced\n",
			ly, jc[i < nr]);
		char tx[40], ty[40];
		snprintf(tx, sizeof(tx), "%.9g", j->ev.x);
		shortest(ty, sizeof(ty), y);
		fprintf(
		    plt,
		    "set label \"\" at first %s, first %s point pt %d ps 0.9 lc rgb '%s' front\n",
		    tx, ty, i < nr ? 9 : 11, jc[i < nr]);
		ly -= 0.032;
	}
	number_row(plt, m, nr + nf, x0, x1, 1.04, "", jc);
	/* messages: dashed lines, M1.. along the bottom, their text in the legend */
	if (nm) {
		ly -= 0.02;
		fprintf(plt, "set label \"Messages\" at screen 0.70, screen %.3f font \",10\"\n",
			ly);
		ly -= 0.036;
	}
	for (unsigned i = 0; i < nm; i++) {
		char tx[40];
		snprintf(tx, sizeof(tx), "%.9g", msg[i].x);
		fprintf(plt,
			"set arrow from first %s, graph 0 to first %s, graph 1 nohead dt 3 lc rgb "
			"'#888888' back\n",
			tx, tx);
		m[i] = (struct mark){msg[i].x, 0, 0, (i + 1) << 1};
		if (ly > 0.05) {
			char text[256];
			int n = snprintf(text, sizeof(text), "M%u  %.60s", i + 1, msg[i].text);
			fputs("set label ", plt);
			put_sq(plt, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
			fprintf(plt, " at screen 0.70, screen %.3f font \",9\" noenhanced\n", ly);
			ly -= 0.032;
		}
	}
	number_row(plt, m, nm, x0, x1, 0.03, "M", mc);
	if (pmt_timeline_messages_seen(tl) > nm || (nm && ly <= 0.05))
		fprintf(plt,
			"set label \"(%" PRIu64 " messages in all)\" at screen 0.70, screen 0.03 "
			"font \",9\"\n",
			pmt_timeline_messages_seen(tl));

	char datname[PATH_MAX + 8];
	snprintf(datname, sizeof(datname), "%s.dat", pl->name);
	/* one colour per thread when there are several */
	uint32_t nth = 0, used[9];
	for (uint32_t t = 0; t < pmt_timeline_threads(tl) && nth < 9; t++)
		for (size_t i = 0; i < npts; i++)
			if (pts[i].thread == t) {
				used[nth++] = t;
				break;
			}
	fputs("\nplot ", plt);
	put_sqz(plt, datname);
	fprintf(plt,
		" index 0 using 1:($2 / 1024**2) title \"RSS (MiB)\" with steps lt 1 lw %s lc rgb "
		"'%s'",
		nth > 1 ? "1" : "2", nth > 1 ? "#bbbbbb" : "#1f5fbf");
	for (uint32_t k = 0; nth > 1 && k < nth; k++) {
		const struct pmt_thread *th = pmt_source_thread(src, used[k]);
		char name[128];
		snprintf(name, sizeof(name), "thread %s", th && th->name[0] ? th->name : "?");
		fputs(", \\\n    ", plt);
		put_sqz(plt, datname);
		fprintf(plt, " index 0 using 1:($3 == %" PRIu32 " ? $2 / 1024**2 : NaN) title ",
			used[k]);
		put_sqz(plt, name);
		fprintf(plt, " with points pt 7 ps 0.35 lc %u", k + 2);
	}
	if (hp) {
		fputs(", \\\n    ", plt);
		put_sqz(plt, datname);
		fputs(" index 1 using 1:($2 / 1024**2) axes x1y2 title \"live heap (MiB)\" with "
		      "steps lt 2 lw 2 lc rgb '#2e7d32'",
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
	free(m);
	free(hs.b);
	pmt_heap_free(hp);
	pmt_timeline_free(tl);
	return r;
}
