/* SPDX-License-Identifier: MIT */
#pragma once
/* Reports on process JSON logs (ProcessLoggingThread-JSON records), used by
 * pmt-summarise and pmt-diff when their input is a process log, and by
 * pmt-gnuplot. Both reports write to out, return 0, or -errno for an input
 * that could not be read at all (after writing whatever was readable):
 * PMT_E_EMPTY (nothing in it), PMT_E_TYPE (no process record in it),
 * PMT_E_CORRUPT (only broken records). Bad JSON lines are skipped and
 * counted; *warnings (may be NULL) receives their number, plus one for a
 * truncated zstd input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/read/input.h>
#include <libpmt/read/process-log.h>
#include <libpmt/read/process-reader.h>
#include <libpmt/report/table.h>

/* pymemtrace process.py's per-PID table, then duration, peak RSS, mean CPU%
 * and effective time per PID. With PMT_FMT_TEXT each PID's table is exactly
 * pymemtrace's text (header and rows, cells joined by one space), followed by
 * a blank line and one summary line; other formats print one records table
 * (all PIDs) and one summary table (json: {"records": [...], "summary": [...]}). */
int pmt_process_summarise(struct pmt_input *in, enum pmt_format f, FILE *out, unsigned *warnings);

/* The records table and the summary table of a log already read, in any
 * format but text (pmt-report's page uses them as html). 0 or -errno. */
int pmt_process_tables(struct pmt_process_log *l, enum pmt_format f, FILE *out);

/* The tech note's Summary table: one row per input, time and ratio against
 * the first (the baseline), peak RSS. The time of a run is the last
 * elapsed_time of its first PID (the process that was monitored). */
int pmt_process_diff(struct pmt_input *const *ins, unsigned n, enum pmt_format f, FILE *out,
		     unsigned *warnings);

/* pymemtrace's cell texts for a row (the header when row is NULL), each
 * padded to its column width as pymemtrace formats it: cells[9] point into
 * buf. Empty cells are blank, or "NaN" (what the .dat needs) with
 * nan_for_empty. Control characters in labels are shown as escapes. */
enum { PMT_PROCESS_NCOLS = 9 };
void pmt_process_row_cells(const struct pmt_process_row *row, bool nan_for_empty, char *buf,
			   size_t bufsz, const char *cells[PMT_PROCESS_NCOLS]);
/* Writes one row (or the header) padded exactly as pymemtrace prints it,
 * with a final newline. */
int pmt_process_row_print(const struct pmt_process_row *row, FILE *out);
