/* pymemtrace process.py's analyses of process JSON logs: the per-PID table
 * (extract_json_as_table), the run summary, and the tech note's Summary
 * table across runs. Records are spooled to an unlinked temporary file,
 * linked per PID, so memory is bounded by the number of PIDs, not records. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "process-report.h"

struct spool_rec {
	int64_t pid;
	double elapsed;
	int64_t rss;
	double pfaults;
	double user;
	int64_t next; /* offset of the next record of this PID, -1 at the end */
	uint32_t label_len;
	uint8_t has_pfaults, has_user, has_label, pad;
	char iso[32];
};

struct pid_slot {
	struct pmt_process_pid st;
	int64_t first, last; /* spool offsets */
};

struct pmt_process_log {
	FILE *spool;
	int fd;
	int64_t end;
	struct pid_slot *pids;
	unsigned npids, cappids;
	unsigned *hash; /* index + 1, 0 = free; capacity hashcap (power of two) */
	unsigned hashcap;
	uint64_t bad;
	bool truncated;
	/* iteration */
	int64_t cur;
	double prev_elapsed, prev_pfaults, prev_user;
	struct spool_rec rec;
	char *label;
	size_t labelcap;
};

static unsigned hash_pid(int64_t pid, unsigned cap)
{
	uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 32) & (cap - 1);
}

static int rehash(struct pmt_process_log *l, unsigned cap)
{
	unsigned *h = calloc(cap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (unsigned i = 0; i < l->npids; i++) {
		unsigned k = hash_pid(l->pids[i].st.pid, cap);
		while (h[k])
			k = (k + 1) & (cap - 1);
		h[k] = i + 1;
	}
	free(l->hash);
	l->hash = h;
	l->hashcap = cap;
	return 0;
}

static int find_pid(struct pmt_process_log *l, int64_t pid, struct pid_slot **out)
{
	unsigned k = hash_pid(pid, l->hashcap);
	while (l->hash[k]) {
		struct pid_slot *s = &l->pids[l->hash[k] - 1];
		if (s->st.pid == pid) {
			*out = s;
			return 0;
		}
		k = (k + 1) & (l->hashcap - 1);
	}
	if (l->npids == l->cappids) {
		unsigned cap = l->cappids ? 2 * l->cappids : 8;
		struct pid_slot *p = realloc(l->pids, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->pids = p;
		l->cappids = cap;
	}
	struct pid_slot *s = &l->pids[l->npids];
	memset(s, 0, sizeof(*s));
	s->st.pid = pid;
	s->st.t_min = INFINITY;
	s->st.t_max = -INFINITY;
	s->st.rss_min = INT64_MAX;
	s->st.rss_max = INT64_MIN;
	s->st.last_user = NAN;
	s->first = s->last = -1;
	l->hash[k] = ++l->npids;
	if (2 * l->npids > l->hashcap) {
		int r = rehash(l, 2 * l->hashcap);
		if (r < 0)
			return r;
	}
	*out = &l->pids[l->npids - 1];
	return 0;
}

static int write_all(int fd, const void *buf, size_t n, int64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n, int64_t off)
{
	char *p = buf;
	while (n) {
		ssize_t k = pread(fd, p, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static int add_record(struct pmt_process_log *l, const struct pmt_process_record *rec)
{
	struct pid_slot *s;
	int r = find_pid(l, rec->pid, &s);
	if (r < 0)
		return r;
	struct spool_rec sr;
	memset(&sr, 0, sizeof(sr));
	sr.pid = rec->pid;
	sr.elapsed = rec->elapsed;
	sr.rss = rec->rss;
	sr.pfaults = rec->pfaults;
	sr.user = rec->user;
	sr.next = -1;
	sr.has_pfaults = rec->has_pfaults;
	sr.has_user = rec->has_user;
	sr.has_label = rec->label != NULL;
	sr.label_len = rec->label ? (uint32_t)(rec->label_len > UINT32_MAX / 2 ? UINT32_MAX / 2
									    : rec->label_len)
				  : 0;
	memcpy(sr.iso, rec->iso, sizeof(sr.iso));
	int64_t off = l->end;
	r = write_all(l->fd, &sr, sizeof(sr), off);
	if (r == 0 && sr.label_len)
		r = write_all(l->fd, rec->label, sr.label_len, off + (int64_t)sizeof(sr));
	if (r == 0 && s->last >= 0)
		r = write_all(l->fd, &off, sizeof(off), s->last + (int64_t)offsetof(struct spool_rec, next));
	if (r < 0)
		return r;
	l->end = off + (int64_t)sizeof(sr) + sr.label_len;
	if (s->first < 0)
		s->first = off;
	s->last = off;

	struct pmt_process_pid *st = &s->st;
	st->records++;
	if (rec->label)
		st->labels++;
	if (rec->elapsed < st->t_min)
		st->t_min = rec->elapsed;
	if (rec->elapsed > st->t_max)
		st->t_max = rec->elapsed;
	if (rec->rss < st->rss_min)
		st->rss_min = rec->rss;
	if (rec->rss > st->rss_max)
		st->rss_max = rec->rss;
	st->last_elapsed = rec->elapsed;
	if (rec->has_user)
		st->last_user = rec->user;
	if (!rec->has_pfaults)
		st->pfaults_missing = true;
	return 0;
}

int pmt_process_log_read(struct pmt_input *in, pmt_process_warn_fn warn, void *ctx,
			 struct pmt_process_log **out)
{
	struct pmt_process_reader *rd = NULL;
	struct pmt_process_log *l = calloc(1, sizeof(*l));
	int r = -ENOMEM;
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	l->spool = tmpfile();
	if (!l->spool) {
		r = -errno;
		goto fail;
	}
	l->fd = fileno(l->spool);
	r = rehash(l, 16);
	if (r < 0)
		goto fail;
	r = pmt_process_reader_new(in, &rd);
	if (r < 0)
		goto fail;
	pmt_process_reader_set_warn(rd, warn, ctx);
	struct pmt_process_record rec;
	while ((r = pmt_process_reader_next(rd, &rec)) > 0) {
		r = add_record(l, &rec);
		if (r < 0)
			goto fail;
	}
	l->bad = pmt_process_reader_bad(rd);
	l->truncated = pmt_input_truncated(in);
	pmt_process_reader_free(rd);
	*out = l;
	/* r < 0: an input error after the records so far; the caller shows
	 * them, then fails */
	return r;
fail:
	pmt_process_reader_free(rd);
	pmt_process_log_free(l);
	return r;
}

void pmt_process_log_free(struct pmt_process_log *l)
{
	if (!l)
		return;
	if (l->spool)
		fclose(l->spool);
	free(l->pids);
	free(l->hash);
	free(l->label);
	free(l);
}

unsigned pmt_process_log_pids(const struct pmt_process_log *l)
{
	return l->npids;
}

const struct pmt_process_pid *pmt_process_log_pid(const struct pmt_process_log *l, unsigned i)
{
	return i < l->npids ? &l->pids[i].st : NULL;
}

uint64_t pmt_process_log_bad(const struct pmt_process_log *l)
{
	return l->bad;
}

bool pmt_process_log_truncated(const struct pmt_process_log *l)
{
	return l->truncated;
}

int pmt_process_log_begin(struct pmt_process_log *l, unsigned i)
{
	if (i >= l->npids)
		return -EINVAL;
	l->cur = l->pids[i].first;
	l->prev_elapsed = 0.0;
	l->prev_pfaults = 0.0;
	l->prev_user = 0.0;
	return 0;
}

/* a / b, or NaN (an empty cell) where pymemtrace would divide by zero */
static double ratio(double a, double b)
{
	return b != 0.0 ? a / b : NAN;
}

int pmt_process_log_next(struct pmt_process_log *l, struct pmt_process_row *row)
{
	if (l->cur < 0)
		return 0;
	int r = read_all(l->fd, &l->rec, sizeof(l->rec), l->cur);
	if (r < 0)
		return r;
	const struct spool_rec *sr = &l->rec;
	if (sr->label_len + 1 > l->labelcap) {
		char *p = realloc(l->label, sr->label_len + 1);
		if (!p)
			return -ENOMEM;
		l->label = p;
		l->labelcap = sr->label_len + 1;
	}
	if (sr->label_len) {
		r = read_all(l->fd, l->label, sr->label_len, l->cur + (int64_t)sizeof(*sr));
		if (r < 0)
			return r;
	}
	l->label[sr->label_len] = '\0';
	l->cur = sr->next;

	double dt = sr->elapsed - l->prev_elapsed;
	row->t = sr->elapsed;
	row->rss = sr->rss;
	row->faults_per_s = sr->has_pfaults ? ratio(sr->pfaults - l->prev_pfaults, dt) : NAN;
	row->user = sr->has_user ? sr->user : NAN;
	row->mean_cpu = sr->has_user ? ratio(sr->user, sr->elapsed) : NAN;
	row->inst_cpu = sr->has_user ? ratio(sr->user - l->prev_user, dt) : NAN;
	row->iso = sr->iso;
	row->pid = sr->pid;
	row->label = sr->has_label ? l->label : NULL;
	row->label_len = sr->label_len;
	/* pymemtrace keeps the previous values of every record */
	l->prev_elapsed = sr->elapsed;
	if (sr->has_pfaults)
		l->prev_pfaults = sr->pfaults;
	if (sr->has_user)
		l->prev_user = sr->user;
	return 1;
}

/* ---- cells ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static const char *bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
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

static double mib(int64_t b)
{
	return (double)b / (1024.0 * 1024.0);
}

/* What is left of a log without a single record. */
static int no_records_error(struct pmt_input *in, const struct pmt_process_log *l)
{
	if (l->bad)
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
	static const char *const names[] = {"PID",	    "Records",	     "Labels",
					    "Duration (s)", "Peak RSS",	     "Peak RSS (MiB)",
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
	for (unsigned i = 0; i < l->npids; i++) {
		const struct pmt_process_pid *p = &l->pids[i].st;
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
		fprintf(out, "\nPID %" PRId64 ": %" PRIu64 " records, %" PRIu64
			     " labels, duration %.1f s, peak RSS %" PRId64 " bytes (%.1f MiB)",
			p->pid, p->records, p->labels, p->last_elapsed, p->rss_max, mib(p->rss_max));
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
	for (unsigned i = 0; r == 0 && i < l->npids; i++) {
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

static int print_tables(struct pmt_process_log *l, enum pmt_format f, FILE *out)
{
	struct pmt_table *rec = NULL, *sum = NULL;
	int r = records_table(l, &rec);
	if (!r)
		r = pmt_table_new("Summary", &sum);
	if (!r)
		r = summary_columns(sum);
	for (unsigned i = 0; r == 0 && i < l->npids; i++)
		r = summary_row(sum, &l->pids[i].st);
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
		*warnings = (unsigned)l->bad + (l->truncated ? 1u : 0u);
	int r = 0;
	if (l->npids == 0) {
		r = rerr < 0 ? rerr : no_records_error(in, l);
		goto out;
	}
	r = f == PMT_FMT_TEXT ? print_text(l, out) : print_tables(l, f, out);
	if (rerr < 0)
		r = rerr;
out:
	pmt_process_log_free(l);
	return r;
}

int pmt_process_diff(struct pmt_input *const *ins, unsigned n, enum pmt_format f, FILE *out,
		     unsigned *warnings)
{
	static const char *const names[] = {"Run",	  "PIDs",     "Records",   "Time (s)", "Ratio",
					    "Peak RSS",	  "Peak RSS (MiB)", "Mean CPU%",
					    "Effective (s)"};
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
		warn += (unsigned)l->bad + (l->truncated ? 1u : 0u);
		if (rerr < 0 && !err)
			err = rerr;
		if (l->npids == 0) {
			if (!err)
				err = no_records_error(ins[k], l);
			pmt_process_log_free(l);
			continue;
		}
		/* the first PID is the monitored process; children come later */
		const struct pmt_process_pid *main_pid = &l->pids[0].st;
		uint64_t records = 0;
		int64_t peak = INT64_MIN;
		for (unsigned i = 0; i < l->npids; i++) {
			records += l->pids[i].st.records;
			if (l->pids[i].st.rss_max > peak)
				peak = l->pids[i].st.rss_max;
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
			r = pmt_table_int(t, l->npids);
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
