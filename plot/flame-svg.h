/* SPDX-License-Identifier: MIT */
#pragma once
/* A flame graph as SVG, for pmt-flamegraph (a file of its own) and
 * pmt-report (inside its page). Frames narrower than min_width pixels are
 * left out with everything above them, so the picture's size depends on
 * its width and min_width, not on the log. */
#include <stdbool.h>
#include <stdio.h>

#include <libpmt/report/flame.h>

struct flame_svg_opts {
	unsigned width;	  /* pixels */
	double min_width; /* pixels */
	bool icicle;	  /* the root at the top */
	bool diff;	  /* widths from side 1, colours by the change from side 0 */
	bool standalone;  /* an SVG file: XML prolog and its own script */
	const char *title;
	const char *subtitle; /* may be NULL */
};

/* The scripts and styles embedded at build time (plot/embed.sh). */
extern const char pmt_flamegraph_js[];
extern const char pmt_report_js[];
extern const char pmt_report_css[];

/* Writes the graph of f (finished). 0 or -EIO. */
int flame_svg_write(FILE *out, const struct pmt_flame *f, const struct flame_svg_opts *o);
/* A weight for people: "12.3 MiB" or "1234 calls". */
void flame_value(char *buf, size_t cap, enum pmt_weight w, int64_t v);
