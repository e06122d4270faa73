/* SPDX-License-Identifier: MIT */
/* pmt-diff OLD NEW: compares two runs. Event logs: overall figures and per
 * function growth, functions matched by (file, name) since code ids differ
 * between logs. Process logs: the tech note's Summary table, the first log
 * being the baseline. */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/source.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/heap.h>
#include <libpmt/report/names.h>
#include <libpmt/report/process-report.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/run-diff.h>
#include <libpmt/report/run.h>
#include <libpmt/report/table.h>

#include "diff.h"

enum {
	OPT_FORMAT = 256,
	OPT_TOP,
	OPT_THRESHOLD,
	OPT_OBJ_THRESHOLD,
	OPT_BYTES,
	OPT_FULL_PATH,
	OPT_ALL_FRAMES
};

static const struct option longopts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"top", required_argument, NULL, OPT_TOP},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"objects-threshold", required_argument, NULL, OPT_OBJ_THRESHOLD},
    {"bytes", no_argument, NULL, OPT_BYTES},
    {"full-path", no_argument, NULL, OPT_FULL_PATH},
    {"all-frames", no_argument, NULL, OPT_ALL_FRAMES},
    PMT_CLI_THREADS_OPTION,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf("Usage: %s [OPTION]... OLD NEW\n"
	       "   or: %s [OPTION]... BASELINE RUN... (process JSON logs)\n"
	       "Compare two runs: events, duration, peak and final RSS, and per function the\n"
	       "calls and the self and inclusive RSS growth, largest increase first. Heap\n"
	       "logs (--heap) also: allocator calls, bytes allocated, the live heap's peak\n"
	       "and bytes leaked, overall and per function. Object logs (--objects,\n"
	       "pymemtrace ReferenceTracing) also: objects created, destroyed and alive at the\n"
	       "end, per type and per creation site (type, function, file, line).\n"
	       "OLD and NEW may each be a directory holding the logs of a run (*.log.zst,\n"
	       "*.log, *.zst; e.g. those of pmt_tracer --follow-children): then the sums over\n"
	       "the processes, the processes matched by command line (exactly, then with\n"
	       "digits ignored) and the functions over all processes.\n"
	       "For process JSON logs, the Summary table: time and ratio against the baseline.\n"
	       "\n"
	       "      --format FMT     text (default), csv, json, markdown or rst\n"
	       "      --top N          functions to list (default 30, 0 for all)\n"
	       "      --threshold N    exit 1 when a function's self or inclusive growth got\n"
	       "                       worse by more than N bytes (suffixes k, M, G); with\n"
	       "                       heap logs, also when a function's bytes live at exit\n"
	       "                       (leaked) grew by more than N\n"
	       "      --objects-threshold N\n"
	       "                       exit 1 when, for any type, the objects created in\n"
	       "                       the log and alive at its end grew by more than N\n"
	       "                       (a count; two object logs)\n"
	       "      --bytes          sizes as exact byte counts (csv and json always are)\n"
	       "      --full-path      file names in full (csv and json always are)\n"
	       "      --all-frames     keep the tracer's own frames (its launcher, runpy)\n"
	       "      --threads N      threads that decompress a pmt log ahead of reading it\n"
	       "                       (default: one per CPU; 1: the reading thread alone)\n"
	       "  -h, --help           show this help and exit\n"
	       "  -V, --version        show the version and exit\n"
	       "\n"
	       "Exit status: 0, or 1 when a --threshold was passed, 2 on error.\n",
	       pmt_cli_prog(), pmt_cli_prog());
}

static void parse_args(int argc, char **argv, struct diff_opts *o)
{
	int c;
	o->top = 30;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			o->format = (enum pmt_format)pmt_cli_format(optarg, PMT_CLI_TABLE_FORMATS);
			break;
		case OPT_TOP:
			o->top = (unsigned)pmt_cli_range("top", optarg, 0, UINT32_MAX);
			break;
		case OPT_THRESHOLD:
			if (pmt_cli_parse_bytes(optarg, &o->threshold) < 0 || o->threshold < 0)
				pmt_cli_usage_error("invalid --threshold '%s'", optarg);
			o->has_threshold = true;
			break;
		case OPT_OBJ_THRESHOLD:
			o->obj_threshold =
			    (int64_t)pmt_cli_range("objects-threshold", optarg, 0, INT64_MAX);
			o->has_obj_threshold = true;
			break;
		case OPT_BYTES:
			o->bytes = true;
			break;
		case OPT_FULL_PATH:
			o->full_path = true;
			break;
		case OPT_ALL_FRAMES:
			o->all_frames = true;
			break;
		case PMT_CLI_OPT_THREADS:
			pmt_cli_threads(optarg);
			break;
		default:
			pmt_cli_common_option(c, usage);
		}
	}
	if (argc - optind < 2)
		pmt_cli_usage_error("two logs needed: OLD NEW");
}

/* A function of either run. */
struct func {
	const char *name, *file;
	size_t name_len, file_len;
	const struct pmt_fstat *st[2];
	const struct pmt_heap_fstat *hs[2]; /* heap logs */
};

struct funcs {
	struct func *v;
	size_t n, cap;
	uint32_t *slots; /* index + 1 */
	size_t nslots;
};

static uint64_t fkey(const char *a, size_t an, const char *b, size_t bn)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < an; i++)
		h = (h ^ (uint8_t)a[i]) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (size_t i = 0; i < bn; i++)
		h = (h ^ (uint8_t)b[i]) * 0x100000001b3ull;
	return h;
}

static int funcs_add(struct funcs *fs, const struct pmt_code *c, unsigned side,
		     const struct pmt_fstat *st, const struct pmt_heap_fstat *hs)
{
	if ((fs->n + 1) * 2 > fs->nslots) {
		size_t ns = fs->nslots ? fs->nslots * 2 : 1024;
		uint32_t *slots = calloc(ns, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < fs->n; i++) {
			const struct func *f = &fs->v[i];
			size_t j = fkey(f->file, f->file_len, f->name, f->name_len) & (ns - 1);
			while (slots[j])
				j = (j + 1) & (ns - 1);
			slots[j] = (uint32_t)i + 1;
		}
		free(fs->slots);
		fs->slots = slots;
		fs->nslots = ns;
	}
	size_t j = fkey(c->file, c->file_len, c->name, c->name_len) & (fs->nslots - 1);
	for (; fs->slots[j]; j = (j + 1) & (fs->nslots - 1)) {
		struct func *f = &fs->v[fs->slots[j] - 1];
		if (f->file_len == c->file_len && f->name_len == c->name_len &&
		    !memcmp(f->file, c->file, c->file_len) &&
		    !memcmp(f->name, c->name, c->name_len)) {
			/* the same name as Python and as C code: keep the
			 * first; rare enough not to merge */
			if (st && !f->st[side])
				f->st[side] = st;
			if (hs && !f->hs[side])
				f->hs[side] = hs;
			return 0;
		}
	}
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 256;
		struct func *v = realloc(fs->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		fs->v = v;
		fs->cap = cap;
	}
	struct func *f = &fs->v[fs->n];
	*f = (struct func){c->name, c->file, c->name_len, c->file_len, {NULL, NULL}, {NULL, NULL}};
	f->st[side] = st;
	f->hs[side] = hs;
	fs->slots[j] = (uint32_t)++fs->n;
	return 0;
}

static int64_t g(const struct func *f, unsigned side, bool incl)
{
	const struct pmt_fstat *s = f->st[side];
	return s ? (incl ? s->incl : s->self) : 0;
}

static int64_t worsening(const struct func *f)
{
	int64_t ds = g(f, 1, false) - g(f, 0, false);
	int64_t di = g(f, 1, true) - g(f, 0, true);
	return ds > di ? ds : di;
}

static int cmp_func(const void *a, const void *b)
{
	const struct func *x = a, *y = b;
	int64_t wx = worsening(x), wy = worsening(y);
	if (wx != wy)
		return wx > wy ? -1 : 1;
	int64_t ax = llabs(g(x, 1, true) - g(x, 0, true)),
		ay = llabs(g(y, 1, true) - g(y, 0, true));
	if (ax != ay)
		return ax > ay ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->file, y->file);
}

static int64_t leaked(const struct func *f, unsigned side)
{
	return f->hs[side] ? f->hs[side]->live : 0;
}

static int64_t allocd(const struct func *f, unsigned side)
{
	return f->hs[side] ? (int64_t)f->hs[side]->alloc_bytes : 0;
}

static int cmp_leak(const void *a, const void *b)
{
	const struct func *x = a, *y = b;
	int64_t wx = leaked(x, 1) - leaked(x, 0), wy = leaked(y, 1) - leaked(y, 0);
	if (wx != wy)
		return wx > wy ? -1 : 1;
	int64_t ax = allocd(x, 1) - allocd(x, 0), ay = allocd(y, 1) - allocd(y, 0);
	if (ax != ay)
		return ax > ay ? -1 : 1;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->file, y->file);
}

static int read_run(struct run *x)
{
	const struct pmt_header *h = pmt_source_header(x->src);
	int r = pmt_profile_new(h->page_size, 0, &x->prof);
	if (r < 0)
		return r;
	struct pmt_item it;
	while ((r = pmt_source_next(x->src, &it)) > 0)
		if ((r = pmt_profile_item(x->prof, &it)) < 0)
			return r;
	pmt_profile_finish(x->prof);
	if (r == 0)
		x->truncated = pmt_source_truncated(x->src);
	return r;
}

static uint64_t duration(const struct run *x)
{
	const struct pmt_totals *t = pmt_profile_totals(x->prof);
	const struct pmt_header *h = pmt_source_header(x->src);
	const struct pmt_trailer *trl = pmt_source_trailer(x->src);
	if (trl && h->start_wall_ns && trl->end_wall_ns > h->start_wall_ns)
		return trl->end_wall_ns - h->start_wall_ns;
	return t->last_ns - t->first_ns;
}

static void row_num(struct pmt_table *t, const char *what, double a, double b, int dec)
{
	pmt_table_str(t, what);
	pmt_table_num(t, a, dec);
	pmt_table_num(t, b, dec);
	pmt_table_num(t, b - a, dec);
	if (a != 0)
		pmt_table_num(t, b / a, 3);
	else
		pmt_table_null(t);
}

/* Heap logs on both sides: overall heap figures and functions by change in
 * leaked bytes (live at exit). */
static int compare_heap(struct run *runs, struct funcs *fs, const struct diff_opts *o,
			struct pmt_names *names, bool *worse)
{
	const struct pmt_heap *h0 = pmt_profile_heap(runs[0].prof),
			      *h1 = pmt_profile_heap(runs[1].prof);
	const struct pmt_heap_totals *a = pmt_heap_totals(h0), *b = pmt_heap_totals(h1);
	struct pmt_table *t;
	int r = pmt_table_new("Heap", &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "metric", PMT_ALIGN_LEFT);
	pmt_table_column(t, "old", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "new", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "change", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "ratio", PMT_ALIGN_RIGHT);
	pmt_table_diff_row(t, "allocator_calls", (int64_t)a->records, (int64_t)b->records, false);
	pmt_table_diff_row(t, "allocated_bytes", (int64_t)a->allocated, (int64_t)b->allocated,
			   true);
	pmt_table_diff_row(t, "peak_live_bytes", a->peak, b->peak, true);
	pmt_table_diff_row(t, "live_at_exit_bytes", a->live, b->live, true);
	pmt_table_diff_row(t, "live_blocks_at_exit", (int64_t)a->live_blocks,
			   (int64_t)b->live_blocks, false);
	fputs(o->format == PMT_FMT_JSON ? ",\n\"heap\": " : "\n", stdout);
	r = pmt_table_print(t, o->format | (o->bytes ? PMT_FMT_EXACT : 0), stdout);
	pmt_table_free(t);
	if (r < 0)
		return r;

	if (fs->n)
		qsort(fs->v, fs->n, sizeof(*fs->v), cmp_leak);
	for (size_t i = 0; i < fs->n; i++)
		if (o->has_threshold && leaked(&fs->v[i], 1) - leaked(&fs->v[i], 0) > o->threshold)
			*worse = true;
	if ((r = pmt_table_new("Functions by change in bytes live at exit (leaked; new minus old)",
			       &t)) < 0)
		return r;
	static const char *const cols[] = {
	    "function",	       "file",	       "allocs_old", "allocs_new", "alloc_bytes_old",
	    "alloc_bytes_new", "alloc_change", "leaked_old", "leaked_new", "leaked_change"};
	for (unsigned i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		pmt_table_column(t, cols[i], i < 2 ? PMT_ALIGN_LEFT : PMT_ALIGN_RIGHT);
	unsigned rows = 0;
	for (size_t i = 0; i < fs->n && (!o->top || rows < o->top); i++) {
		const struct func *f = &fs->v[i];
		if (!f->hs[0] && !f->hs[1])
			continue;
		rows++;
		size_t flen;
		const char *file = pmt_names_file(names, f->file, f->file_len, &flen, NULL);
		pmt_table_str(t, f->name);
		pmt_table_strn(t, file, flen);
		for (unsigned side = 0; side < 2; side++) {
			if (f->hs[side])
				pmt_table_int(t, (int64_t)f->hs[side]->allocs);
			else
				pmt_table_null(t);
		}
		pmt_table_bytes(t, allocd(f, 0));
		pmt_table_bytes(t, allocd(f, 1));
		pmt_table_bytes(t, allocd(f, 1) - allocd(f, 0));
		pmt_table_bytes(t, leaked(f, 0));
		pmt_table_bytes(t, leaked(f, 1));
		pmt_table_bytes(t, leaked(f, 1) - leaked(f, 0));
	}
	fputs(o->format == PMT_FMT_JSON ? ",\n\"heap_functions\": " : "\n", stdout);
	r = pmt_table_print(t, o->format | (o->bytes ? PMT_FMT_EXACT : 0), stdout);
	pmt_table_free(t);
	return r;
}

static int compare(struct run *runs, const struct diff_opts *o, bool *worse, bool *leak_worse,
		   struct obj_gate *gate)
{
	struct pmt_table *t;
	int r = pmt_table_new("Overall", &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "metric", PMT_ALIGN_LEFT);
	pmt_table_column(t, "old", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "new", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "change", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "ratio", PMT_ALIGN_RIGHT);
	const struct pmt_totals *a = pmt_profile_totals(runs[0].prof),
				*b = pmt_profile_totals(runs[1].prof);
	pmt_table_diff_row(t, "events", (int64_t)pmt_source_events(runs[0].src),
			   (int64_t)pmt_source_events(runs[1].src), false);
	row_num(t, "duration_s", (double)duration(&runs[0]) / 1e9, (double)duration(&runs[1]) / 1e9,
		6);
	pmt_table_diff_row(t, "rss_start", a->rss_start, b->rss_start, true);
	pmt_table_diff_row(t, "rss_peak", a->rss_peak, b->rss_peak, true);
	pmt_table_diff_row(t, "rss_end", a->rss_end, b->rss_end, true);
	pmt_table_diff_row(t, "rss_growth", a->rss_end - a->rss_start, b->rss_end - b->rss_start,
			   true);
	pmt_table_diff_row(t, "positive_growth", a->positive, b->positive, true);
	pmt_table_diff_row(t, "page_jumps", (int64_t)a->jumps, (int64_t)b->jumps, false);
	if (o->format == PMT_FMT_JSON)
		fputs("{\n\"overall\": ", stdout);
	enum pmt_format fmt = o->format | (o->bytes ? PMT_FMT_EXACT : 0);
	r = pmt_table_print(t, fmt, stdout);
	pmt_table_free(t);
	if (r < 0)
		return r;

	struct funcs fs = {0};
	struct pmt_names *names = NULL;
	for (unsigned side = 0; side < 2 && r >= 0; side++) {
		struct run *x = &runs[side];
		/* the defined codes only: ids need not be dense, and a walk of
		 * every id up to one near 2^24 took seconds */
		const struct pmt_heap *hp = pmt_profile_heap(x->prof);
		for (const struct pmt_code *c = pmt_source_next_code(x->src, 0); c && r >= 0;
		     c = pmt_source_next_code(x->src, c->id)) {
			if (!o->all_frames && pmt_names_tracer_file(c->file, c->file_len))
				continue;
			const struct pmt_fstat *st = c->id < pmt_profile_codes(x->prof)
							 ? pmt_profile_fstat(x->prof, c->id)
							 : NULL;
			if (st && (st->calls || st->self || st->incl))
				r = funcs_add(&fs, c, side, st, NULL);
		}
		for (const struct pmt_code *c = pmt_source_next_code(x->src, 0); hp && c && r >= 0;
		     c = pmt_source_next_code(x->src, c->id)) {
			const struct pmt_heap_fstat *hs =
			    c->id < pmt_heap_codes(hp) ? pmt_heap_fstat(hp, c->id) : NULL;
			if (hs && (hs->allocs || hs->live))
				r = funcs_add(&fs, c, side, NULL, hs);
		}
	}
	if (r < 0)
		goto out;
	if (fs.n) /* qsort(NULL, 0, ...) is undefined */
		qsort(fs.v, fs.n, sizeof(*fs.v), cmp_func);
	*worse = false;
	for (size_t i = 0; i < fs.n; i++)
		if (o->has_threshold && worsening(&fs.v[i]) > o->threshold)
			*worse = true;

	if ((r = pmt_table_new("Functions by change in RSS growth (new minus old)", &t)) < 0)
		goto out;
	static const char *const cols[] = {"function", "file",	     "calls_old",   "calls_new",
					   "self_old", "self_new",   "self_change", "incl_old",
					   "incl_new", "incl_change"};
	for (unsigned i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		pmt_table_column(t, cols[i], i < 2 ? PMT_ALIGN_LEFT : PMT_ALIGN_RIGHT);
	bool full = o->full_path || o->format == PMT_FMT_CSV || o->format == PMT_FMT_JSON;
	if ((r = pmt_names_new(runs[1].src, full, &names)) < 0)
		goto out;
	unsigned rows = 0;
	for (size_t i = 0; i < fs.n && (!o->top || rows < o->top); i++) {
		const struct func *f = &fs.v[i];
		if (!f->st[0] && !f->st[1])
			continue;
		rows++;
		size_t flen;
		const char *file = pmt_names_file(names, f->file, f->file_len, &flen, NULL);
		pmt_table_str(t, f->name);
		pmt_table_strn(t, file, flen);
		for (unsigned side = 0; side < 2; side++) {
			if (f->st[side])
				pmt_table_int(t, (int64_t)f->st[side]->calls);
			else
				pmt_table_null(t);
		}
		pmt_table_bytes(t, g(f, 0, false));
		pmt_table_bytes(t, g(f, 1, false));
		pmt_table_bytes(t, g(f, 1, false) - g(f, 0, false));
		pmt_table_bytes(t, g(f, 0, true));
		pmt_table_bytes(t, g(f, 1, true));
		pmt_table_bytes(t, g(f, 1, true) - g(f, 0, true));
	}
	fputs(o->format == PMT_FMT_JSON ? ",\n\"functions\": " : "\n", stdout);
	r = pmt_table_print(t, fmt, stdout);
	pmt_table_free(t);
	if (r >= 0 && pmt_profile_heap(runs[0].prof) && pmt_profile_heap(runs[1].prof))
		r = compare_heap(runs, &fs, o, names, leak_worse);
	if (r >= 0 && diff_object_log(&runs[0]) && diff_object_log(&runs[1]))
		r = diff_objects(runs, o, names, gate);
	if (o->format == PMT_FMT_JSON)
		fputs("}\n", stdout);
out:
	pmt_names_free(names);
	free(fs.v);
	free(fs.slots);
	return r;
}

static int process_diff(char **args, unsigned n, const struct diff_opts *o)
{
	struct pmt_input **ins = calloc(n, sizeof(*ins));
	int status = PMT_EXIT_OK;
	if (!ins)
		return PMT_EXIT_ERROR;
	for (unsigned i = 0; i < n; i++) {
		int r = pmt_input_open(args[i], &ins[i]);
		if (r < 0 || pmt_input_type(ins[i]) != PMT_INPUT_PROCESS) {
			pmt_cli_error(args[i], "%s",
				      r < 0 ? pmt_strerror(r)
					    : "not a process log, as the first is");
			status = PMT_EXIT_ERROR;
			goto out;
		}
	}
	unsigned warnings = 0;
	int r = pmt_process_diff(ins, n, o->format, stdout, &warnings);
	fflush(stdout);
	if (warnings)
		pmt_cli_warn(NULL, "%u lines that are not process records skipped", warnings);
	if (r < 0) {
		pmt_cli_errno(NULL, r, NULL);
		status = PMT_EXIT_ERROR;
	}
out:
	for (unsigned i = 0; i < n; i++)
		pmt_input_free(ins[i]);
	free(ins);
	return status;
}

/* One side of a run comparison: every log of the directory or file, read
 * one at a time. Returns the exit status so far. */
static int read_side(const char *arg, struct pmt_run *run, const struct diff_opts *o)
{
	struct pmt_run_entry *ent;
	size_t n;
	unsigned dirs;
	int status = PMT_EXIT_OK, r = pmt_run_expand((char *const *)&arg, 1, &ent, &n, &dirs);
	if (r < 0) {
		pmt_cli_errno(NULL, r, NULL);
		return PMT_EXIT_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		struct pmt_source *src = NULL;
		struct pmt_profile *prof = NULL;
		if (ent[i].err || (r = pmt_source_open(ent[i].path, &src)) < 0) {
			r = ent[i].err ? ent[i].err : r;
			pmt_cli_errno(ent[i].path, r,
				      r == PMT_E_EMPTY && ent[i].err
					  ? "no logs (*.log.zst, *.log, *.zst)"
					  : NULL);
			status = PMT_EXIT_ERROR;
			continue;
		}
		int err = pmt_run_read(run, src, 0, &prof);
		if (prof && (r = pmt_run_add(run, ent[i].path, src, prof, err)) < 0)
			err = r;
		if (err) {
			pmt_cli_errno(ent[i].path, err, pmt_source_detail(src));
			status = PMT_EXIT_ERROR;
		} else if (pmt_source_truncated(src)) {
			pmt_cli_incomplete(ent[i].path, src, "compared what was readable");
		}
		pmt_profile_free(prof);
		pmt_source_free(src);
	}
	pmt_run_entries_free(ent, n);
	pmt_run_finish(run);
	return status;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return strcmp(p, "-") && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int run_diff(char **args, const struct diff_opts *o)
{
	struct pmt_run_opts ro = {
	    .full_path = o->full_path || o->format == PMT_FMT_CSV || o->format == PMT_FMT_JSON,
	    .all_frames = o->all_frames,
	};
	struct pmt_run *runs[2] = {NULL, NULL};
	int status = PMT_EXIT_OK;
	bool worse = false;
	for (int i = 0; i < 2; i++) {
		if (pmt_run_new(&ro, &runs[i]) < 0) {
			pmt_cli_errno(NULL, -ENOMEM, NULL);
			status = PMT_EXIT_ERROR;
			goto out;
		}
		if (read_side(args[i], runs[i], o) != PMT_EXIT_OK)
			status = PMT_EXIT_ERROR;
	}
	if (!pmt_run_procs(runs[0]) || !pmt_run_procs(runs[1])) {
		pmt_cli_error(NULL, "nothing to compare: a side has no readable log");
		status = PMT_EXIT_ERROR;
		goto out;
	}
	struct pmt_run_diff_opts d = {
	    .format = o->format | (o->bytes ? PMT_FMT_EXACT : 0),
	    .top = o->top,
	    .has_threshold = o->has_threshold,
	    .threshold = o->threshold,
	};
	int r = pmt_run_diff(runs[0], runs[1], &d, stdout, &worse);
	if (fflush(stdout) || ferror(stdout) || r < 0) {
		pmt_cli_error(NULL, "%s", r < 0 ? pmt_strerror(r) : "write error");
		status = PMT_EXIT_ERROR;
	} else if (worse) {
		pmt_cli_note(NULL, "RSS growth got worse by more than %lld bytes",
			     (long long)o->threshold);
		if (status == PMT_EXIT_OK)
			status = PMT_EXIT_NO;
	}
out:
	pmt_run_free(runs[0]);
	pmt_run_free(runs[1]);
	return status;
}

int main(int argc, char **argv)
{
	struct diff_opts o = {0};
	struct run runs[2] = {0};
	int status = PMT_EXIT_ERROR;
	static char obuf[1 << 16];

	pmt_cli_set_prog(argv[0]);
	argv[0] = (char *)pmt_cli_prog(); /* getopt says "pmt-x: ...", not the path */
	parse_args(argc, argv, &o);
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	unsigned n = (unsigned)(argc - optind);
	if (n == 2 && (is_dir(argv[optind]) || is_dir(argv[optind + 1]))) {
		if (o.has_obj_threshold)
			pmt_cli_usage_error(
			    "--objects-threshold compares two logs, not directories");
		return run_diff(argv + optind, &o);
	}

	struct pmt_input *in0;
	int r = pmt_input_open(argv[optind], &in0);
	if (r < 0) {
		pmt_cli_errno(argv[optind], r, NULL);
		return PMT_EXIT_ERROR;
	}
	if (pmt_input_type(in0) == PMT_INPUT_PROCESS) {
		pmt_input_free(in0);
		return process_diff(argv + optind, n, &o);
	}
	if (n != 2) {
		pmt_input_free(in0);
		pmt_cli_usage_error("event logs are compared two at a time: OLD NEW");
	}
	for (unsigned i = 0; i < 2; i++) {
		const char *arg = argv[optind + i];
		struct pmt_input *in = in0;
		runs[i].name = strcmp(arg, "-") ? arg : "(stdin)";
		if (i && (r = pmt_input_open(arg, &in)) < 0) {
			pmt_cli_errno(runs[i].name, r, NULL);
			goto out;
		}
		pmt_cli_progress(in);
		r = pmt_source_new(in, &runs[i].src);
		if (r < 0) {
			pmt_cli_errno(runs[i].name, r, NULL);
			pmt_input_free(in);
			goto out;
		}
		r = read_run(&runs[i]);
		if (r < 0)
			runs[i].err = r;
	}
	bool worse = false, leak_worse = false;
	struct obj_gate gate = {0};
	r = compare(runs, &o, &worse, &leak_worse, &gate);
	if (fflush(stdout) || ferror(stdout) || r < 0) {
		pmt_cli_error(NULL, "%s", r < 0 ? pmt_strerror(r) : "write error");
		goto out;
	}
	status = worse || leak_worse || gate.types ? PMT_EXIT_NO : PMT_EXIT_OK;
	for (unsigned i = 0; i < 2; i++) {
		const char *d = pmt_source_detail(runs[i].src);
		if (runs[i].err) {
			pmt_cli_errno(runs[i].name, runs[i].err, d);
			status = PMT_EXIT_ERROR;
		} else if (runs[i].truncated) {
			pmt_cli_incomplete(runs[i].name, runs[i].src, "compared what was readable");
		}
		if (!diff_object_log(&runs[i]) && diff_object_log(&runs[!i]) &&
		    !o.has_obj_threshold)
			pmt_cli_warn(runs[i].name, "not an object log (no --objects); objects "
						   "not compared");
		if (!diff_object_log(&runs[i]) && o.has_obj_threshold) {
			pmt_cli_error(runs[i].name,
				      "no object records (traced without --objects?): "
				      "--objects-threshold compares two object logs");
			status = PMT_EXIT_ERROR;
		}
	}
	if (worse && status != PMT_EXIT_ERROR)
		pmt_cli_note(NULL, "RSS growth got worse by more than %lld bytes",
			     (long long)o.threshold);
	if (leak_worse && status != PMT_EXIT_ERROR)
		pmt_cli_note(NULL, "bytes live at exit (leaked) grew by more than %lld bytes",
			     (long long)o.threshold);
	if (gate.types && status != PMT_EXIT_ERROR)
		pmt_cli_note(
		    NULL,
		    "objects alive at the end grew by more than %lld for %u type%s (%s: %+lld)",
		    (long long)o.obj_threshold, gate.types, gate.types > 1 ? "s" : "", gate.worst,
		    (long long)gate.growth);
out:
	for (unsigned i = 0; i < 2; i++) {
		pmt_profile_free(runs[i].prof);
		pmt_source_free(runs[i].src);
	}
	return status;
}
