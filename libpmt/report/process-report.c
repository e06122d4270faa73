/* SPDX-License-Identifier: MIT */
/* pymemtrace process.py's analyses of process JSON logs: the per-PID table
 * (extract_json_as_table), the run summary, and the tech note's Summary
 * table across runs, over the grouped records of process-log.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/process-log.h>
#include <libpmt/report/process-report.h>

/* a / b, or NaN (an empty cell) where pymemtrace would divide by zero */
static double ratio(double a, double b) { return b != 0.0 ? a / b : NAN; }

/* ---- cells ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static const char *bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *bprintf(struct buf *b, const char *fmt, ...)
{
	char *start = b->p + b->n;
	size_t room = b->cap - b->n;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(start, room, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	if ((size_t)k >= room)
		k = room ? (int)room - 1 : 0;
	b->n += (size_t)k + (room ? 1 : 0);
	return room ? start : "";
}

/* "# " + label, control characters shown as escapes so one record stays one
 * line (pymemtrace prints them raw) */
static const char *label_cell(struct buf *b, const char *s, size_t len)
{
	char *start = b->p + b->n;
	size_t room = b->cap - b->n;
	size_t o = 0;
	if (room < 8)
		return "";
	start[o++] = '#';
	start[o++] = ' ';
	for (size_t i = 0; s && i < len && o + 5 < room; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			start[o++] = '\\';
			start[o++] = 'n';
		} else if (c == '\t') {
			start[o++] = '\\';
			start[o++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(start + o, room - o, "\\x%02x", c);
		} else {
			start[o++] = (char)c;
		}
	}
	start[o++] = '\0';
	b->n += o;
	return start;
}

static const char *pct(struct buf *b, double v, const char *empty)
{
	if (isnan(v) || isinf(v))
		return bprintf(b, "%12s", empty);
	char tmp[64];
	/* Python's '{:12.1%}': the value times 100 as a double, then 'f' */
	snprintf(tmp, sizeof(tmp), "%.1f%%", v * 100.0);
	return bprintf(b, "%12s", tmp);
}

static const char *num1(struct buf *b, double v, const char *empty)
{
	if (isnan(v) || isinf(v))
		return bprintf(b, "%12s", empty);
	return bprintf(b, "%12.1f", v);
}

void pmt_process_row_cells(const struct pmt_process_row *row, bool nan_for_empty, char *bufp,
			   size_t bufsz, const char *cells[PMT_PROCESS_NCOLS])
{
	struct buf b = {bufp, 0, bufsz};
	if (!row) {
		cells[0] = bprintf(&b, "%-12s", "#t(s)");
		cells[1] = bprintf(&b, "%12s", "RSS");
		cells[2] = bprintf(&b, "%12s", "PageFaults/s");
		cells[3] = bprintf(&b, "%12s", "User");
		cells[4] = bprintf(&b, "%12s", "Mean_CPU%");
		cells[5] = bprintf(&b, "%12s", "Inst_CPU%");
		cells[6] = bprintf(&b, "%-26s", "Timestamp");
		cells[7] = bprintf(&b, "%6s", "PID");
		cells[8] = bprintf(&b, "%s", "Label");
		return;
	}
	const char *e = nan_for_empty ? "NaN" : "";
	cells[0] = bprintf(&b, "%-12.1f", row->t);
	cells[1] = bprintf(&b, "%12" PRId64, row->rss);
	cells[2] = num1(&b, row->faults_per_s, e);
	cells[3] = num1(&b, row->user, e);
	cells[4] = pct(&b, row->mean_cpu, e);
	cells[5] = pct(&b, row->inst_cpu, e);
	cells[6] = bprintf(&b, "%-26s", row->iso[0] ? row->iso : e);
	cells[7] = bprintf(&b, "%6" PRId64, row->pid);
	cells[8] = label_cell(&b, row->label, row->label ? row->label_len : 0);
}

int pmt_process_row_print(const struct pmt_process_row *row, FILE *out)
{
	char buf[8192];
	const char *cells[PMT_PROCESS_NCOLS];
	pmt_process_row_cells(row, false, buf, sizeof(buf), cells);
	for (unsigned i = 0; i < PMT_PROCESS_NCOLS; i++) {
		if (i)
			fputc(' ', out);
		fputs(cells[i], out);
	}
	fputc('\n', out);
	return ferror(out) ? -EIO : 0;
}

/* ---- reports ---- */

static double mib(int64_t b) { return (double)b / (1024.0 * 1024.0); }

/* What is left of a log without a single record. */
static int no_records_error(struct pmt_input *in, const struct pmt_process_log *l)
{
	if (pmt_process_log_bad(l))
		return PMT_E_CORRUPT;
	if (pmt_input_type(in) == PMT_INPUT_EMPTY)
		return PMT_E_EMPTY;
	return PMT_E_TYPE;
}

static int add_cell_num(struct pmt_table *t, double v, int decimals)
{
	return isnan(v) || isinf(v) ? pmt_table_null(t) : pmt_table_num(t, v, decimals);
}

static int summary_row(struct pmt_table *t, const struct pmt_process_pid *p)
{
	double mean = ratio(p->last_user, p->last_elapsed);
	int r = pmt_table_int(t, p->pid);
	if (!r)
		r = pmt_table_int(t, (int64_t)p->records);
	if (!r)
		r = pmt_table_int(t, (int64_t)p->labels);
	if (!r)
		r = pmt_table_num(t, p->last_elapsed, 1);
	if (!r)
		r = pmt_table_int(t, p->rss_max);
	if (!r)
		r = pmt_table_num(t, mib(p->rss_max), 1);
	if (!r)
		r = add_cell_num(t, mean * 100.0, 1);
	if (!r)
		r = add_cell_num(t, p->last_user, 1);
	return r;
}

static int summary_columns(struct pmt_table *t)
{
	static const char *const names[] = {"PID",	    "Records",	    "Labels",
					    "Duration (s)", "Peak RSS",	    "Peak RSS (MiB)",
					    "Mean CPU%",    "Effective (s)"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int r = pmt_table_column(t, names[i], PMT_ALIGN_RIGHT);
		if (r < 0)
			return r;
	}
	return 0;
}

static int print_text(struct pmt_process_log *l, FILE *out)
{
	for (unsigned i = 0; i < pmt_process_log_pids(l); i++) {
		const struct pmt_process_pid *p = pmt_process_log_pid(l, i);
		if (i)
			fputc('\n', out);
		pmt_process_row_print(NULL, out);
		int r = pmt_process_log_begin(l, i);
		struct pmt_process_row row;
		while (r >= 0 && (r = pmt_process_log_next(l, &row)) > 0)
			pmt_process_row_print(&row, out);
		if (r < 0)
			return r;
		/* The DTrace note: "Execution time is 34.4 seconds and average CPU%
		 * is 85.8 so effective time is 29.5 (s)." */
		fprintf(out,
			"\nPID %" PRId64 ": %" PRIu64 " records, %" PRIu64
			" labels, duration %.1f s, peak RSS %" PRId64 " bytes (%.1f MiB)",
			p->pid, p->records, p->labels, p->last_elapsed, p->rss_max,
			mib(p->rss_max));
		double mean = ratio(p->last_user, p->last_elapsed);
		if (!isnan(mean))
			fprintf(out, ", mean CPU %.1f%%, effective time %.1f s", mean * 100.0,
				p->last_user);
		if (p->pfaults_missing)
			fputs(", no page faults recorded", out);
		fputc('\n', out);
	}
	return ferror(out) ? -EIO : 0;
}

static int records_table(struct pmt_process_log *l, struct pmt_table **out)
{
	static const char *const names[] = {"t (s)",	 "RSS",	      "PageFaults/s",
					    "User (s)",	 "Mean CPU%", "Inst CPU%",
					    "Timestamp", "PID",	      "Label"};
	struct pmt_table *t = NULL;
	int r = pmt_table_new("Process records", &t);
	for (unsigned i = 0; r == 0 && i < sizeof(names) / sizeof(names[0]); i++)
		r = pmt_table_column(t, names[i],
				     i == 6 || i == 8 ? PMT_ALIGN_LEFT : PMT_ALIGN_RIGHT);
	for (unsigned i = 0; r == 0 && i < pmt_process_log_pids(l); i++) {
		r = pmt_process_log_begin(l, i);
		struct pmt_process_row row;
		while (r >= 0 && (r = pmt_process_log_next(l, &row)) > 0) {
			char lab[4096];
			size_t n = row.label ? row.label_len : 0;
			if (n >= sizeof(lab))
				n = sizeof(lab) - 1;
			if (n)
				memcpy(lab, row.label, n);
			lab[n] = '\0';
			r = pmt_table_num(t, row.t, 3);
			if (!r)
				r = pmt_table_int(t, row.rss);
			if (!r)
				r = add_cell_num(t, row.faults_per_s, 1);
			if (!r)
				r = add_cell_num(t, row.user, 2);
			if (!r)
				r = add_cell_num(t, row.mean_cpu * 100.0, 1);
			if (!r)
				r = add_cell_num(t, row.inst_cpu * 100.0, 1);
			if (!r)
				r = row.iso[0] ? pmt_table_str(t, row.iso) : pmt_table_null(t);
			if (!r)
				r = pmt_table_int(t, row.pid);
			if (!r)
				r = row.label ? pmt_table_str(t, lab) : pmt_table_null(t);
		}
	}
	if (r < 0) {
		pmt_table_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int pmt_process_tables(struct pmt_process_log *l, enum pmt_format f, FILE *out)
{
	struct pmt_table *rec = NULL, *sum = NULL;
	int r = records_table(l, &rec);
	if (!r)
		r = pmt_table_new("Summary", &sum);
	if (!r)
		r = summary_columns(sum);
	for (unsigned i = 0; r == 0 && i < pmt_process_log_pids(l); i++)
		r = summary_row(sum, pmt_process_log_pid(l, i));
	if (r < 0)
		goto out;
	if (f == PMT_FMT_JSON) {
		/* two tables, one JSON document */
		fputs("{\"records\": ", out);
		r = pmt_table_print(rec, f, out);
		if (!r) {
			fputs(", \"summary\": ", out);
			r = pmt_table_print(sum, f, out);
		}
		fputs("}\n", out);
	} else {
		r = pmt_table_print(rec, f, out);
		if (!r) {
			fputc('\n', out);
			r = pmt_table_print(sum, f, out);
		}
	}
out:
	pmt_table_free(rec);
	pmt_table_free(sum);
	return r;
}

int pmt_process_summarise(struct pmt_input *in, enum pmt_format f, FILE *out, unsigned *warnings)
{
	struct pmt_process_log *l = NULL;
	int rerr = pmt_process_log_read(in, NULL, NULL, &l);
	if (!l)
		return rerr;
	if (warnings)
		*warnings =
		    (unsigned)pmt_process_log_bad(l) + (pmt_process_log_truncated(l) ? 1u : 0u);
	int r = 0;
	if (pmt_process_log_pids(l) == 0) {
		r = rerr < 0 ? rerr : no_records_error(in, l);
		goto out;
	}
	r = f == PMT_FMT_TEXT ? print_text(l, out) : pmt_process_tables(l, f, out);
	if (rerr < 0)
		r = rerr;
out:
	pmt_process_log_free(l);
	return r;
}

int pmt_process_diff(struct pmt_input *const *ins, unsigned n, enum pmt_format f, FILE *out,
		     unsigned *warnings)
{
	static const char *const names[] = {
	    "Run",	"PIDs",		  "Records",   "Time (s)",     "Ratio",
	    "Peak RSS", "Peak RSS (MiB)", "Mean CPU%", "Effective (s)"};
	struct pmt_table *t = NULL;
	unsigned warn = 0;
	double base = NAN;
	int err = 0;
	int r = pmt_table_new("Summary", &t);
	for (unsigned i = 0; r == 0 && i < sizeof(names) / sizeof(names[0]); i++)
		r = pmt_table_column(t, names[i], i == 0 ? PMT_ALIGN_LEFT : PMT_ALIGN_RIGHT);
	for (unsigned k = 0; r == 0 && k < n; k++) {
		struct pmt_process_log *l = NULL;
		int rerr = pmt_process_log_read(ins[k], NULL, NULL, &l);
		if (!l) {
			if (!err)
				err = rerr;
			continue;
		}
		warn += (unsigned)pmt_process_log_bad(l) + (pmt_process_log_truncated(l) ? 1u : 0u);
		if (rerr < 0 && !err)
			err = rerr;
		if (pmt_process_log_pids(l) == 0) {
			if (!err)
				err = no_records_error(ins[k], l);
			pmt_process_log_free(l);
			continue;
		}
		/* the first PID is the monitored process; children come later */
		const struct pmt_process_pid *main_pid = pmt_process_log_pid(l, 0);
		uint64_t records = 0;
		int64_t peak = INT64_MIN;
		for (unsigned i = 0; i < pmt_process_log_pids(l); i++) {
			records += pmt_process_log_pid(l, i)->records;
			if (pmt_process_log_pid(l, i)->rss_max > peak)
				peak = pmt_process_log_pid(l, i)->rss_max;
		}
		double time = main_pid->last_elapsed;
		if (k == 0)
			base = time;
		char ratio_s[32];
		double q = ratio(time, base);
		if (isnan(q) || isinf(q))
			ratio_s[0] = '\0';
		else
			snprintf(ratio_s, sizeof(ratio_s), "x%.2f", q);
		double mean = ratio(main_pid->last_user, main_pid->last_elapsed);
		r = pmt_table_str(t, pmt_input_path(ins[k]));
		if (!r)
			r = pmt_table_int(t, pmt_process_log_pids(l));
		if (!r)
			r = pmt_table_int(t, (int64_t)records);
		if (!r)
			r = pmt_table_num(t, time, 1);
		if (!r)
			r = ratio_s[0] ? pmt_table_str(t, ratio_s) : pmt_table_null(t);
		if (!r)
			r = pmt_table_int(t, peak);
		if (!r)
			r = pmt_table_num(t, mib(peak), 1);
		if (!r)
			r = add_cell_num(t, mean * 100.0, 1);
		if (!r)
			r = add_cell_num(t, main_pid->last_user, 1);
		pmt_process_log_free(l);
	}
	if (r == 0)
		r = pmt_table_print(t, f, out);
	pmt_table_free(t);
	if (warnings)
		*warnings = warn;
	return r < 0 ? r : err;
}
