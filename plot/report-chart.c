/* SPDX-License-Identifier: MIT */
/* pmt-report's charts, drawn as inline SVG: RSS over time of an event log
 * with its largest rises and falls marked (each mark a link to its row in
 * the jumps table) and its messages, and a process log's RSS and CPU. Labels
 * sit in rows of their own, spread apart, with a leader line to their point,
 * so they never overlap. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/report/table.h>

#include "report.h"

#define W 1100.0
#define L 74.0
#define R 64.0

struct frame {
	FILE *out;
	double x0, x1, y0, y1; /* data ranges */
	double top, h;	       /* plot area, pixels */
};

static double px(const struct frame *f, double x)
{
	return L + (f->x1 > f->x0 ? (x - f->x0) / (f->x1 - f->x0) : 0.5) * (W - L - R);
}

static double py(const struct frame *f, double y)
{
	return f->top + f->h - (f->y1 > f->y0 ? (y - f->y0) / (f->y1 - f->y0) : 0.5) * f->h;
}

/* About five round steps over [a, b]. */
static double step_of(double a, double b)
{
	double span = b - a > 0 ? b - a : 1, raw = span / 5, p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static void axes(const struct frame *f, const char *xlabel, const char *ylabel, double yscale)
{
	FILE *o = f->out;
	double s = step_of(f->y0 / yscale, f->y1 / yscale);
	fprintf(o, "<g class=\"axes\">");
	for (double v = ceil(f->y0 / yscale / s) * s; v <= f->y1 / yscale + s * 1e-9; v += s) {
		double y = py(f, v * yscale);
		fprintf(o,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>",
			L, y, W - R, y, L - 6, y + 4, v);
	}
	s = step_of(f->x0, f->x1);
	for (double v = ceil(f->x0 / s) * s; v <= f->x1 + s * 1e-9; v += s) {
		double x = px(f, v);
		fprintf(o,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>",
			x, f->top, x, f->top + f->h, x, f->top + f->h + 16, v);
	}
	fprintf(
	    o,
	    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"box\"/>"
	    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>"
	    "<text transform=\"translate(16,%.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>"
	    "</g>\n",
	    L, f->top, W - L - R, f->h, (L + W - R) / 2, f->top + f->h + 34, xlabel,
	    f->top + f->h / 2, ylabel);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct mark {
	double x, y; /* the point, pixels */
	double lx;   /* the label, pixels */
	unsigned k;  /* its number */
};

static int cmp_mark(const void *a, const void *b)
{
	return cmp_dbl(&((const struct mark *)a)->x, &((const struct mark *)b)->x);
}

/* Spreads the labels of marks (sorted by x) along the row. */
static void place(struct mark *m, unsigned n, double gap)
{
	double *pos = malloc((n ? n : 1) * sizeof(*pos));
	if (!pos)
		return;
	for (unsigned i = 0; i < n; i++)
		pos[i] = m[i].x;
	pmt_timeline_spread(pos, n, gap, L + 10, W - R - 10);
	for (unsigned i = 0; i < n; i++)
		m[i].lx = pos[i];
	free(pos);
}

void chart_rss(FILE *out, const struct pmt_timeline *tl, const struct report_names *rn,
	       bool cpu_clock)
{
	const struct pmt_tl_point *pts;
	size_t n = pmt_timeline_points(tl, &pts);
	const struct pmt_tl_jump *rises, *falls;
	unsigned nr = pmt_timeline_rises(tl, &rises), nf = pmt_timeline_falls(tl, &falls);
	const struct pmt_tl_message *msg;
	unsigned nm = pmt_timeline_messages(tl, &msg);
	struct frame f = {.out = out, .top = 44, .h = 300};
	int64_t lo, hi;
	pmt_timeline_range(tl, &f.x0, &f.x1, &lo, &hi);
	double pad = (double)(hi - lo) * 0.05 + 4096;
	f.y0 = (double)lo - pad;
	f.y1 = (double)hi + pad;
	double height = f.top + f.h + (nm ? 70 : 44);
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
		W, height, W, height);
	axes(&f, cpu_clock ? "CPU clock (s)" : "time (s)", "RSS (MiB)", 1048576.0);
	fputs("<polyline class=\"rss\" points=\"", out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%.1f,%.1f ", px(&f, pts[i].x), py(&f, (double)pts[i].rss));
	fputs("\"/>\n", out);

	/* messages: dashed lines, numbered M1.. in a row under the axis */
	struct mark *m = calloc((size_t)(nr + nf + nm) + 1, sizeof(*m));
	if (!m)
		goto end;
	for (unsigned i = 0; i < nm; i++)
		m[i] = (struct mark){px(&f, msg[i].x), f.top + f.h, 0, i + 1};
	if (nm > 1) /* qsort of NULL, 0 is undefined */
		qsort(m, nm, sizeof(*m), cmp_mark);
	place(m, nm, 30);
	double row = f.top + f.h + 52;
	for (unsigned i = 0; i < nm; i++) {
		const struct pmt_tl_message *g = &msg[m[i].k - 1];
		fprintf(out, "<g class=\"message\"><title>M%u: event %" PRIu64 ": ", m[i].k,
			g->number);
		pmt_xml_write(out, g->text, strlen(g->text));
		fprintf(out,
			"</title><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<line class=\"leader\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">M%u</text></g>\n",
			m[i].x, f.top, m[i].x, f.top + f.h, m[i].x, f.top + f.h, m[i].lx, row - 10,
			m[i].lx, row, m[i].k);
	}
	/* jumps: triangles on the curve, numbered badges in the row above */
	for (unsigned i = 0; i < nr + nf; i++) {
		const struct pmt_tl_jump *j = i < nr ? &rises[i] : &falls[i - nr];
		m[i] = (struct mark){px(&f, j->ev.x), py(&f, (double)j->ev.rss), 0, i + 1};
	}
	if ((nr + nf) > 1) /* qsort of NULL, 0 is undefined */
		qsort(m, nr + nf, sizeof(*m), cmp_mark);
	place(m, nr + nf, 22);
	for (unsigned i = 0; i < nr + nf; i++) {
		unsigned k = m[i].k;
		const struct pmt_tl_jump *j = k <= nr ? &rises[k - 1] : &falls[k - 1 - nr];
		bool up = k <= nr;
		char v[48];
		pmt_format_bytes(v, sizeof(v), (double)j->ev.drss);
		fprintf(out, "<a href=\"#jump-%u\" class=\"jump %s\"><title>%u: %s%s ", k,
			up ? "rise" : "fall", k, up ? "+" : "", v);
		report_put_function(out, rn, j->ev.code);
		fprintf(out, " (event %" PRIu64 ")</title>", j->ev.number);
		double y = m[i].y, t = up ? -1 : 1;
		fprintf(out,
			"<line class=\"leader\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<path d=\"M%.1f,%.1f l-5,%.1f h10 z\"/>"
			"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"9\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%u</text></a>\n",
			m[i].lx, f.top - 12, m[i].x, y, m[i].x, y, -9 * t, m[i].lx, f.top - 22,
			m[i].lx, f.top - 18, k);
	}
	free(m);
end:
	fputs("</svg>\n", out);
}

void chart_process(FILE *out, struct pmt_process_log *l, unsigned i)
{
	const struct pmt_process_pid *p = pmt_process_log_pid(l, i);
	struct frame f = {.out = out, .top = 20, .h = 260};
	f.x0 = p->t_min;
	f.x1 = p->t_max;
	double pad = (double)(p->rss_max - p->rss_min) * 0.05 + 4096;
	f.y0 = (double)p->rss_min - pad;
	f.y1 = (double)p->rss_max + pad;
	double height = f.top + f.h + 64;
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%.0f\" "
		"height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
		W, height, W, height);
	axes(&f, "elapsed time (s)", "RSS (MiB)", 1048576.0);
	/* CPU% on the right axis, 0 to at least 100 */
	double cmax = 100;
	struct pmt_process_row row;
	int r = pmt_process_log_begin(l, i);
	while (r >= 0 && (r = pmt_process_log_next(l, &row)) > 0)
		if (isfinite(row.inst_cpu) && row.inst_cpu * 100 > cmax)
			cmax = row.inst_cpu * 100;
	for (double v = 0; v <= cmax + 1e-9; v += step_of(0, cmax))
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"cpu\">%g%%</text>", W - R + 6,
			f.top + f.h - v / cmax * f.h + 4, v);
	static const char *const series[] = {"rss", "cpu", "cpu inst"};
	for (unsigned s = 0; s < 3; s++) {
		fprintf(out, "<polyline class=\"%s\" points=\"", series[s]);
		r = pmt_process_log_begin(l, i);
		while (r >= 0 && (r = pmt_process_log_next(l, &row)) > 0) {
			double v = s == 0 ? (double)row.rss : s == 1 ? row.mean_cpu : row.inst_cpu;
			if (!isfinite(v))
				continue;
			double y = s == 0 ? py(&f, v) : f.top + f.h - v * 100 / cmax * f.h;
			fprintf(out, "%.1f,%.1f ", px(&f, row.t), y);
		}
		fputs("\"/>\n", out);
	}
	r = pmt_process_log_begin(l, i);
	while (r >= 0 && (r = pmt_process_log_next(l, &row)) > 0) {
		if (!row.label)
			continue;
		fputs("<g class=\"message\"><title>", out);
		pmt_xml_write(out, row.label, row.label_len);
		fprintf(out,
			"</title><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
			px(&f, row.t), f.top, px(&f, row.t), f.top + f.h);
	}
	fprintf(
	    out,
	    "<g class=\"key\"><text x=\"%.0f\" y=\"%.0f\"><tspan class=\"k-rss\">&#9644; RSS "
	    "(left)</tspan> <tspan class=\"k-cpu\">&#9644; mean CPU%%</tspan> <tspan "
	    "class=\"k-inst\">&#9644; instantaneous CPU%% (right)</tspan>; dashed: labels</text>"
	    "</g>\n</svg>\n",
	    L, height - 6);
}
