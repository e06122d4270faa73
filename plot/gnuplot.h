/* SPDX-License-Identifier: MIT */
#pragma once
/* pmt-gnuplot's parts: options, the .plt/.dat helpers (gnuplot-common.c),
 * event-log plots (gnuplot-events.c); process-log plots, running gnuplot and
 * main() are in pmt-gnuplot.c. */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/read/source.h>

struct gnuplot_opts {
	unsigned width, height;
	bool png;
	unsigned top;
	uint64_t max_points;
	const char *log, *outdir;
};

struct plot {
	char name[PATH_MAX]; /* <basename>_<pid>, no directory */
};

void shortest(char *out, size_t cap, double v);
/* A gnuplot single-quoted string (see gnuplot-common.c). */
void put_sq(FILE *f, const char *s, size_t len);
void put_sqz(FILE *f, const char *s);
int mkdir_p(const char *dir);
FILE *open_out(const char *outdir, const char *name, const char *ext, char *path, size_t cap);
int close_out(FILE *f);
const char *log_basename(const char *log);
void plt_outputs_head(FILE *f, const struct gnuplot_opts *o, const char *name);
void plt_outputs_tail(FILE *f, const struct gnuplot_opts *o, const char *name);

/* RSS over time of an event log, the largest jumps annotated: writes
 * OUTDIR/<base>.{dat,plt} and names the plot in *pl. 0, 1 (an error was
 * printed), -ENODATA (no events) or -errno. */
int plot_events(struct pmt_source *src, const struct gnuplot_opts *o, const char *base,
		struct plot *pl, const char *outdir);
