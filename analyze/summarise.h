/* SPDX-License-Identifier: MIT */
/* pmt-summarise's parts (pmt-summarise.c: options, logs, runs, output;
 * summarise-heap.c: the tables of a heap log). */
#ifndef PMT_SUMMARISE_H
#define PMT_SUMMARISE_H

#include <stdbool.h>
#include <stdint.h>

#include <libpmt/read/source.h>
#include <libpmt/report/names.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/summary.h>
#include <libpmt/report/table.h>

struct summarise_opts {
	enum pmt_format format;
	unsigned top;
	bool folded;
	enum pmt_summary_sort sort;
	bool bytes, full_path, all_frames;
	enum pmt_weight weight;
	bool each, pprof;
	const char *output;
};

struct result {
	const char *arg;
	const char *name;
	struct pmt_source *src;
	struct pmt_profile *prof;
	int err; /* reading stopped on this error, 0 */
	bool truncated;
};

struct printer {
	enum pmt_format f;
	bool exact;
	unsigned count;
};

static inline double seconds(uint64_t ns) { return (double)ns / 1e9; }

/* Prints t (and frees it) as the next table of p, under key in json. */
int emit(struct printer *p, const char *key, struct pmt_table *t);
/* The file column of code c, short or full as names says. */
void file_cell(struct pmt_table *t, struct pmt_names *names, const struct pmt_code *c);
/* The heap tables of log idx of n. */
int print_heap(struct printer *p, struct result *x, unsigned idx, unsigned n,
	       const struct summarise_opts *o);

#endif
