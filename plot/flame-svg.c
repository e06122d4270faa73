/* SPDX-License-Identifier: MIT */
/* Flame graphs as SVG (see flame-svg.h). The layout is computed here, so
 * the picture reads without its script too (an image viewer, rsvg); the
 * script (plot/flamegraph.js) adds hover, zoom and search. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/log-format.h>
#include <libpmt/report/table.h>

#include "flame-svg.h"

#define FH 16	  /* frame height */
#define PAD 10	  /* left and right margins */
#define CW 7.22	  /* width of a character of 12px DejaVu Sans Mono */
#define TOP 74	  /* title, subtitle, legend */
#define BOTTOM 28 /* the details line */

void flame_value(char *buf, size_t cap, enum pmt_weight w, int64_t v)
{
	if (pmt_weight_defs[w].unit == PMT_UNIT_BYTES) {
		pmt_format_bytes(buf, cap, (double)v);
		size_t n = strlen(buf);
		while (n && buf[n - 1] == ' ')
			buf[--n] = '\0';
	} else {
		snprintf(buf, cap, "%" PRId64 " %s", v, pmt_weight_defs[w].name);
	}
}

static uint32_t hash32(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* Colour families by where the code lives: the program warm, the standard
 * library blue, installed packages green, the rest purple. The file picks
 * the shade, so one file's frames look alike; the function nudges it. */
static void colour(char *buf, size_t cap, const struct pmt_flame_frame *fr)
{
	static const struct {
		int r, g, b, dr, dg, db;
	} fam[] = {
	    [PMT_FILE_PROGRAM] = {215, 95, 30, 40, 110, 40},
	    [PMT_FILE_STDLIB] = {90, 150, 215, 50, 60, 40},
	    [PMT_FILE_SITE] = {90, 185, 80, 60, 45, 50},
	    [PMT_FILE_OTHER] = {170, 140, 200, 40, 40, 40},
	};
	unsigned c = fr->cls < 4 ? fr->cls : PMT_FILE_OTHER;
	uint32_t hf = hash32(fr->file, fr->file_len), hn = hash32(fr->name, fr->name_len);
	double v1 = (hf & 0xff) / 255.0, v2 = ((hf >> 8) & 0xff) / 255.0;
	double nudge = ((hn & 0xff) / 255.0 - 0.5) * 0.6;
	double k = v1 + nudge < 0 ? 0 : v1 + nudge > 1 ? 1 : v1 + nudge;
	double v3 = ((hn >> 8) & 0xff) / 255.0; /* the function: neighbours differ */
	int r = fam[c].r + (int)(fam[c].dr * k),
	    g = fam[c].g + (int)(fam[c].dg * (0.4 * v2 + 0.6 * v3)),
	    b = fam[c].b + (int)(fam[c].db * (1 - k));
	snprintf(buf, cap, "rgb(%d,%d,%d)", r > 255 ? 255 : r, g > 255 ? 255 : g,
		 b > 255 ? 255 : b);
}

/* Red where NEW grew more than OLD, blue where less, white for no change;
 * the square root keeps small changes visible. */
static void diff_colour(char *buf, size_t cap, int64_t delta, int64_t maxabs)
{
	double t = maxabs ? sqrt(fabs((double)delta) / (double)maxabs) : 0;
	int fade = 255 - (int)(200 * t);
	if (delta > 0)
		snprintf(buf, cap, "rgb(255,%d,%d)", fade, fade);
	else if (delta < 0)
		snprintf(buf, cap, "rgb(%d,%d,255)", fade, fade);
	else
		snprintf(buf, cap, "rgb(235,235,235)");
}

static void xmls(FILE *out, const char *s) { pmt_xml_write(out, s, strlen(s)); }

/* The label that fits in w pixels, cut on a character boundary. */
static void put_label(FILE *out, const char *name, size_t len, double w)
{
	long room = (long)((w - 6) / CW);
	if (room < 3)
		return;
	size_t chars = 0, i = 0;
	for (; i < len; i++)
		if (((unsigned char)name[i] & 0xc0) != 0x80)
			chars++;
	if ((long)chars <= room) {
		pmt_xml_write(out, name, len);
		return;
	}
	size_t keep = 0;
	chars = 0;
	for (i = 0; i < len; i++) {
		if (((unsigned char)name[i] & 0xc0) != 0x80 && (long)++chars > room - 2)
			break;
		keep = i + 1;
	}
	pmt_xml_write(out, name, keep);
	fputs("..", out);
}

struct todo {
	uint32_t node;
	double x;
};

/* Depth-first over the frames that are wide enough: calls visit for each
 * (pass 1 measures, pass 2 draws). */
static int walk(const struct pmt_flame *f, unsigned side, double scale, double min_width,
		void (*visit)(void *ctx, uint32_t n, double x, double w), void *ctx)
{
	uint32_t cap = pmt_flame_nodes(f);
	struct todo *st = malloc((size_t)cap * sizeof(*st));
	if (!st)
		return -ENOMEM;
	uint32_t top = 0;
	st[top++] = (struct todo){0, PAD};
	while (top) {
		struct todo t = st[--top];
		const struct pmt_flame_node *n = pmt_flame_node(f, t.node);
		double w = (double)n->total[side] * scale;
		if (t.node && (w <= 0 || w < min_width))
			continue;
		visit(ctx, t.node, t.x, w);
		double cx = t.x;
		for (uint32_t c = n->first_child; c; c = pmt_flame_node(f, c)->next_sibling) {
			st[top++] = (struct todo){c, cx};
			cx += (double)pmt_flame_node(f, c)->total[side] * scale;
		}
	}
	free(st);
	return 0;
}

struct measure {
	const struct pmt_flame *f;
	uint32_t depth;
	int64_t maxabs; /* largest change of a drawn frame's own weight */
	unsigned classes;
};

static void measure_one(void *ctx, uint32_t n, double x, double w)
{
	struct measure *m = ctx;
	const struct pmt_flame_node *x_ = pmt_flame_node(m->f, n);
	struct pmt_flame_frame fr;
	(void)x;
	(void)w;
	if (x_->depth > m->depth)
		m->depth = x_->depth;
	int64_t d = llabs(x_->self[1] - x_->self[0]);
	if (n && d > m->maxabs)
		m->maxabs = d;
	pmt_flame_frame(m->f, x_->frame, &fr);
	if (n)
		m->classes |= 1u << fr.cls;
}

struct draw {
	FILE *out;
	const struct pmt_flame *f;
	const struct flame_svg_opts *o;
	unsigned side;
	int64_t total, maxabs;
	double base; /* y of the root */
};

static void draw_one(void *ctx, uint32_t n, double x, double w)
{
	struct draw *d = ctx;
	FILE *out = d->out;
	const struct pmt_flame_node *node = pmt_flame_node(d->f, n);
	enum pmt_weight wt = pmt_flame_weight(d->f);
	struct pmt_flame_frame fr;
	pmt_flame_frame(d->f, node->frame, &fr);
	double y = d->o->icicle ? d->base + node->depth * FH : d->base - node->depth * FH;
	char fill[64], v[48], v0[48], s0[48], s1[48], ds[48];
	if (!n)
		snprintf(fill, sizeof(fill), "rgb(200,200,200)");
	else if (d->o->diff)
		diff_colour(fill, sizeof(fill), node->self[1] - node->self[0], d->maxabs);
	else
		colour(fill, sizeof(fill), &fr);
	/* data-v: the exact weight, for scripts and tests */
	fprintf(out, "<g class=\"f\" data-v=\"%" PRId64 "\"%s><title>", node->total[d->side],
		n ? "" : " data-root=\"1\"");
	pmt_xml_write(out, fr.name, fr.name_len);
	fputc('\n', out);
	if (fr.file_len) {
		if (fr.kind == PMT_CODE_C)
			fputs("C function, called from ", out);
		pmt_xml_write(out, fr.file, fr.file_len);
		if (fr.line)
			fprintf(out, ":%" PRIu32, fr.line);
	}
	fputc('\n', out);
	flame_value(v, sizeof(v), wt, node->total[d->side]);
	double share = d->total ? 100.0 * (double)node->total[d->side] / (double)d->total : 0;
	if (d->o->diff) {
		flame_value(v0, sizeof(v0), wt, node->total[0]);
		flame_value(s0, sizeof(s0), wt, node->self[0]);
		flame_value(s1, sizeof(s1), wt, node->self[1]);
		int64_t dl = node->self[1] - node->self[0];
		flame_value(ds, sizeof(ds), wt, dl);
		fprintf(out, "new %s (%.2f%%), old %s\nself: new %s, old %s, change %s%s", v, share,
			v0, s1, s0, dl > 0 ? "+" : "", ds);
	} else {
		fprintf(out, "%s (%.2f%%)", v, share);
	}
	fprintf(out,
		"</title><rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>", x,
		y, w, FH - 1, fill);
	fprintf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + FH - 4.5);
	put_label(out, fr.name, fr.name_len, w);
	fputs("</text></g>\n", out);
}

static const char style[] =
    "<style>\n"
    "text { font-family: 'DejaVu Sans', Verdana, sans-serif; font-size: 12px; fill: #222 }\n"
    ".f text { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; pointer-events: none "
    "}\n"
    ".f { cursor: pointer }\n"
    ".f:hover rect { stroke: #222; stroke-width: 0.8 }\n"
    ".f.parent rect { opacity: 0.55 }\n"
    ".title { font-size: 17px; font-weight: bold }\n"
    ".subtitle { fill: #555 }\n"
    ".reset { fill: #0645ad; cursor: pointer; text-decoration: underline }\n"
    "input.search { font: 12px sans-serif; width: 100%; box-sizing: border-box; padding: 3px }\n"
    "</style>\n";

static void legend(FILE *out, const struct flame_svg_opts *o, unsigned classes, double y)
{
	static const struct {
		unsigned cls;
		const char *text, *fill;
	} items[] = {
	    {PMT_FILE_PROGRAM, "the program", "rgb(235,150,50)"},
	    {PMT_FILE_STDLIB, "standard library", "rgb(115,180,235)"},
	    {PMT_FILE_SITE, "site-packages", "rgb(120,210,105)"},
	    {PMT_FILE_OTHER, "other", "rgb(190,160,220)"},
	};
	double x = PAD;
	if (o->diff) {
		fprintf(out,
			"<g class=\"legend\"><rect x=\"%d\" y=\"%.1f\" width=\"10\" height=\"10\" "
			"fill=\"rgb(255,90,90)\"/><text x=\"%d\" y=\"%.1f\">more growth than in "
			"OLD</text>",
			PAD, y - 9, PAD + 14, y);
		fprintf(
		    out,
		    "<rect x=\"%d\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"rgb(90,90,255)\"/>"
		    "<text x=\"%d\" y=\"%.1f\">less</text><text x=\"%d\" y=\"%.1f\">width: NEW; "
		    "colour: the change of a frame's own weight</text></g>\n",
		    PAD + 190, y - 9, PAD + 204, y, PAD + 260, y);
		return;
	}
	fputs("<g class=\"legend\">", out);
	for (unsigned i = 0; i < 4; i++) {
		if (!(classes & (1u << items[i].cls)))
			continue;
		fprintf(out,
			"<rect x=\"%.0f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/><text "
			"x=\"%.0f\" y=\"%.1f\">%s</text>",
			x, y - 9, items[i].fill, x + 14, y, items[i].text);
		x += 24 + 7.0 * (double)strlen(items[i].text);
	}
	fputs("</g>\n", out);
}

int flame_svg_write(FILE *out, const struct pmt_flame *f, const struct flame_svg_opts *o)
{
	unsigned side = o->diff ? 1 : 0;
	int64_t total = pmt_flame_node(f, 0)->total[side];
	double width = o->width, plot = width - 2 * PAD;
	double scale = total > 0 ? plot / (double)total : 0;
	struct measure m = {.f = f};
	int r = walk(f, side, scale, o->min_width, measure_one, &m);
	if (r < 0)
		return r;
	double height = TOP + (m.depth + 1) * FH + BOTTOM;
	if (o->standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
	fprintf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" class=\"pmt-flame\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" data-width=\"%.0f\" "
		"data-pad=\"%d\" data-cw=\"%.2f\" data-icicle=\"%d\">\n",
		width, height, width, height, width, PAD, CW, o->icicle ? 1 : 0);
	fputs(style, out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fbfbf8\"/>\n",
		width, height);
	fprintf(out, "<text class=\"title\" x=\"%.0f\" y=\"24\" text-anchor=\"middle\">",
		width / 2);
	xmls(out, o->title);
	fputs("</text>\n", out);
	if (o->subtitle) {
		fprintf(out, "<text class=\"subtitle\" x=\"%.0f\" y=\"44\" text-anchor=\"middle\">",
			width / 2);
		xmls(out, o->subtitle);
		fputs("</text>\n", out);
	}
	legend(out, o, m.classes, 64);
	fprintf(out, "<text class=\"reset\" x=\"%d\" y=\"24\">Reset zoom</text>\n", PAD);
	fprintf(out,
		"<foreignObject x=\"%.0f\" y=\"50\" width=\"260\" height=\"24\"><input "
		"xmlns=\"http://www.w3.org/1999/xhtml\" class=\"search\" type=\"search\" "
		"placeholder=\"Search function or file (regex)\"/></foreignObject>\n",
		width - PAD - 260);
	fprintf(out, "<text class=\"details\" x=\"%d\" y=\"%.0f\"> </text>\n", PAD, height - 10);
	fprintf(out, "<text class=\"matched\" x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\"></text>\n",
		width - PAD, height - 10);
	if (total <= 0) {
		char v[48];
		flame_value(v, sizeof(v), pmt_flame_weight(f), 0);
		fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">nothing to draw: ",
			width / 2, TOP + FH * 1.0);
		xmls(out, pmt_weight_defs[pmt_flame_weight(f)].title);
		fprintf(out, " is %s</text>\n", v);
	}
	fputs("<g class=\"frames\">\n", out);
	struct draw d = {
	    .out = out,
	    .f = f,
	    .o = o,
	    .side = side,
	    .total = total,
	    .maxabs = m.maxabs,
	    .base = o->icicle ? TOP : height - BOTTOM - FH,
	};
	if (total > 0 && (r = walk(f, side, scale, o->min_width, draw_one, &d)) < 0)
		return r;
	fputs("</g>\n", out);
	if (o->standalone) {
		fputs("<script type=\"text/ecmascript\"><![CDATA[\n", out);
		fputs(pmt_flamegraph_js, out);
		fputs("pmtFlame(document.documentElement);\n]]></script>\n", out);
	}
	fputs("</svg>\n", out);
	return ferror(out) ? -EIO : 0;
}
