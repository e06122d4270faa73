/* SPDX-License-Identifier: MIT */
#pragma once
/* The tables a log's summary is made of, shared by pmt-summarise and
 * pmt-report: events by kind, the top functions by RSS growth (without the
 * tracer's own unless all_frames; files named by names.h) and the threads.
 * Each returns a new table (the caller frees it) or -errno. */
#include <stdbool.h>

#include <libpmt/read/source.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/table.h>

enum pmt_summary_sort { PMT_SORT_SELF = 0, PMT_SORT_INCLUSIVE, PMT_SORT_CALLS };

struct pmt_summary_opts {
	enum pmt_summary_sort sort;
	unsigned top; /* 0: all */
	bool all_frames, full_path;
};

int pmt_summary_kinds(const struct pmt_profile *prof, const char *title, struct pmt_table **out);
int pmt_summary_functions(const struct pmt_profile *prof, const struct pmt_source *src,
			  const struct pmt_summary_opts *o, const char *title,
			  struct pmt_table **out);
int pmt_summary_threads(const struct pmt_profile *prof, const struct pmt_source *src,
			const char *title, struct pmt_table **out);
