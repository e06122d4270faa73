/* SPDX-License-Identifier: MIT */
#pragma once
/* The Logs table of pmt-summarise (one row per log: events, duration, RSS,
 * page jumps, log size, whether it is complete) and what is said of a log
 * on standard error after the results, kept as a struct pmt_log_status so
 * the log itself can be closed first. */
#include <stdbool.h>
#include <stdint.h>

#include <libpmt/read/source.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/table.h>

/* A new, empty Logs table (the caller frees it), or -ENOMEM. */
int pmt_logs_table_new(struct pmt_table **out);
/* The row of the log of src, read to its end into prof (err: the error
 * reading stopped on, 0; truncated: it ended early). */
void pmt_logs_table_row(struct pmt_table *t, const char *name, struct pmt_source *src,
			const struct pmt_profile *prof, int err, bool truncated);

/* The tracer stopped writing before the program ended (a write failed, or
 * its hook did), and said so in the trailer. */
bool pmt_log_cut(const struct pmt_source *src);

struct pmt_log_status {
	char *name, *detail; /* owned; NULL when out of memory */
	int err;
	bool truncated, live, cut; /* live: pmt_source_live() */
	uint64_t events, total;	   /* events read; the trailer's count */
	uint32_t flags;		   /* the trailer's PMT_TRL_* */
};
/* Copies what is to be said of the log of src. */
void pmt_log_status_take(struct pmt_log_status *st, const char *name, const struct pmt_source *src,
			 int err, bool truncated);
void pmt_log_status_clear(struct pmt_log_status *st);
