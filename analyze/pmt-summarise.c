/* SPDX-License-Identifier: MIT */
/* pmt-summarise: log statistics, top functions by RSS growth, threads and
 * folded stacks of a pmt or pymemtrace log; pymemtrace process.py's table
 * for a process JSON log. */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/errors.h>
#include <libpmt/core/log-format.h>
#include <libpmt/read/source.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/flame.h>
#include <libpmt/report/logs.h>
#include <libpmt/report/names.h>
#include <libpmt/report/objects.h>
#include <libpmt/report/pprof.h>
#include <libpmt/report/process-report.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/run.h>
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

enum {
	OPT_FORMAT = 256,
	OPT_TOP,
	OPT_FOLDED,
	OPT_SORT,
	OPT_BYTES,
	OPT_FULL_PATH,
	OPT_ALL_FRAMES,
	OPT_WEIGHT,
	OPT_EACH
};

static const struct option longopts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"top", required_argument, NULL, OPT_TOP},
    {"sort", required_argument, NULL, OPT_SORT},
    {"folded", no_argument, NULL, OPT_FOLDED},
    {"weight", required_argument, NULL, OPT_WEIGHT},
    {"bytes", no_argument, NULL, OPT_BYTES},
    {"full-path", no_argument, NULL, OPT_FULL_PATH},
    {"all-frames", no_argument, NULL, OPT_ALL_FRAMES},
    {"each", no_argument, NULL, OPT_EACH},
    {"output", required_argument, NULL, 'o'},
    PMT_CLI_THREADS_OPTION,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf(
	    "Usage: %s [OPTION]... LOG...\n"
	    "Summarise pmt logs and pymemtrace Profile/Trace logs: duration, events by kind,\n"
	    "RSS at start, end, peak and minimum, page-sized RSS jumps, log size, and the\n"
	    "functions and threads the RSS grew in. A heap log (--heap) adds allocator\n"
	    "calls, the live heap's peak, leaks by site and the functions that allocated,\n"
	    "beside their RSS growth. For a process JSON log, pymemtrace's\n"
	    "per-PID table.\n"
	    "Several logs, or a directory (its *.log.zst, *.log and *.zst files): a run,\n"
	    "such as the logs of pmt_tracer --follow-children: one row per log, one per\n"
	    "process (under its parent, where the parent's log names it), and the events\n"
	    "and functions over all of them; the logs are read one at a time.\n"
	    "LOG may be zstd-compressed; - is standard input.\n"
	    "\n"
	    "      --format FMT     text (default), csv, json, markdown or rst; or pprof:\n"
	    "                       a gzipped pprof profile (go tool pprof, speedscope,\n"
	    "                       Pyroscope) of the folded stacks of every log, sample\n"
	    "                       types rss_growth and calls (and the heap weights of\n"
	    "                       heap logs), a pid label on each sample\n"
	    "  -o, --output FILE    write to FILE instead of standard output\n"
	    "      --each           several logs: each log's own tables too, as it is read\n"
	    "      --top N          functions to list (default 20, 0 for all)\n"
	    "      --sort KEY       order functions by self (default), inclusive or calls\n"
	    "      --folded         print folded stacks weighted by positive RSS growth\n"
	    "                       (flamegraph.pl, speedscope) instead of tables\n"
	    "      --weight W       folded stacks weighted by rss (default) or calls, or, for\n"
	    "                       a heap log, alloc (bytes allocated), live (bytes live\n"
	    "                       at the heap's peak) or leaked (bytes still live at the end)\n"
	    "      --bytes          sizes as exact byte counts (csv and json always are)\n"
	    "      --full-path      file names in full (csv and json always are)\n"
	    "      --all-frames     keep the tracer's own frames (its launcher, runpy)\n"
	    "      --threads N      threads that decompress a pmt log ahead of reading it\n"
	    "                       (default: one per CPU; 1: the reading thread alone)\n"
	    "  -h, --help           show this help and exit\n"
	    "  -V, --version        show the version and exit\n"
	    "\n"
	    "Exit status: 0 on success (a truncated log is a warning), 2 on error.\n",
	    pmt_cli_prog());
}

static void parse_args(int argc, char **argv, struct summarise_opts *o)
{
	int c;
	o->top = 20;
	while ((c = getopt_long(argc, argv, "o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			o->pprof = !strcmp(optarg, "pprof");
			if (!o->pprof)
				o->format =
				    (enum pmt_format)pmt_cli_format(optarg, PMT_CLI_TABLE_FORMATS);
			break;
		case OPT_EACH:
			o->each = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_TOP:
			o->top = (unsigned)pmt_cli_range("top", optarg, 0, UINT32_MAX);
			break;
		case OPT_SORT:
			if (!strcmp(optarg, "self"))
				o->sort = PMT_SORT_SELF;
			else if (!strcmp(optarg, "inclusive"))
				o->sort = PMT_SORT_INCLUSIVE;
			else if (!strcmp(optarg, "calls"))
				o->sort = PMT_SORT_CALLS;
			else
				pmt_cli_usage_error("invalid --sort '%s'", optarg);
			break;
		case OPT_FOLDED:
			o->folded = true;
			break;
		case OPT_WEIGHT: {
			int w = pmt_weight_parse(optarg);
			if (w < 0)
				pmt_cli_usage_error(
				    "invalid --weight '%s' (rss, calls, alloc, live or leaked)",
				    optarg);
			o->weight = (enum pmt_weight)w;
			break;
		}
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
	if (optind >= argc)
		pmt_cli_usage_error("no log given");
	if (o->pprof && o->folded)
		pmt_cli_usage_error("--folded and --format pprof are two outputs: choose one");
	if (o->pprof && !o->output && isatty(STDOUT_FILENO))
		pmt_cli_usage_error("--format pprof writes a binary file: give -o FILE");
}

/* One log read to its end (or to its first error). */
struct result {
	const char *arg;
	const char *name;
	struct pmt_source *src;
	struct pmt_profile *prof;
	int err; /* reading stopped on this error, 0 */
	bool truncated;
};

static double seconds(uint64_t ns) { return (double)ns / 1e9; }

/* ---- heap logs ------------------------------------------------------------ */

/* What RSS and heap growth side by side mean, in a word for function rows
 * and a sentence for the whole log. */
static const char *reading(int64_t rss, int64_t heap, int64_t page, bool sentence)
{
	if (rss >= page && heap < rss / 2)
		return sentence ? "RSS grew more than the heap: memory outside the heap (mmap, "
				  "arenas, native libraries) or freed memory the allocator kept"
				: "rss>heap";
	if (heap >= page && rss < heap / 2)
		return sentence ? "the heap grew more than RSS: allocated and not yet touched, "
				  "or reusing memory freed earlier"
				: "heap>rss";
	if (rss >= page || heap >= page)
		return sentence ? "RSS and the heap grew alike" : "both";
	return "";
}

static int heap_summary_table(struct result *x, const char *title, struct pmt_table **out)
{
	const struct pmt_heap *hp = pmt_profile_heap(x->prof);
	const struct pmt_heap_totals *ht = pmt_heap_totals(hp);
	const struct pmt_totals *tot = pmt_profile_totals(x->prof);
	const struct pmt_header *h = pmt_source_header(x->src);
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0)
		return r;
	static const char *const cols[] = {
	    "records",	    "allocated_bytes",	  "peak_live_bytes",	 "peak_event",
	    "peak_time_s",  "live_at_exit_bytes", "live_blocks_at_exit", "unknown_frees",
	    "failed_calls", "rss_growth_bytes",
	};
	for (unsigned i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		pmt_table_column(t, cols[i], PMT_ALIGN_RIGHT);
	pmt_table_column(t, "reading", PMT_ALIGN_LEFT);
	int64_t rss = tot->any ? tot->rss_end - tot->rss_start : 0;
	pmt_table_int(t, (int64_t)ht->records);
	pmt_table_bytes(t, (int64_t)ht->allocated);
	pmt_table_bytes(t, ht->peak);
	pmt_table_int(t, (int64_t)ht->peak_event);
	pmt_table_num(t, seconds(ht->peak_time_ns), 6);
	pmt_table_bytes(t, ht->live);
	pmt_table_int(t, (int64_t)ht->live_blocks);
	pmt_table_int(t, (int64_t)ht->unknown_frees);
	pmt_table_int(t, (int64_t)ht->failed);
	pmt_table_bytes(t, rss);
	pmt_table_str(t, reading(rss, ht->live, h->page_size ? h->page_size : 4096, true));
	*out = t;
	return 0;
}

static int calls_table(struct result *x, const char *title, struct pmt_table **out)
{
	const struct pmt_heap_totals *ht = pmt_heap_totals(pmt_profile_heap(x->prof));
	uint32_t flags = pmt_source_header(x->src)->flags;
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "call", PMT_ALIGN_LEFT);
	pmt_table_column(t, "count", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "bytes", PMT_ALIGN_RIGHT);
	bool libc = flags & PMT_HDR_HEAP_LIBC, py = flags & PMT_HDR_HEAP_PYTHON;
	for (unsigned op = 0; op <= PMT_ALLOC_PVALLOC; op++) {
		const struct pmt_heap_call *c = &ht->calls[0][op];
		/* the five the DTrace note counts always, with --heap */
		if (!c->count && !(libc && op <= PMT_ALLOC_FREE_NULL))
			continue;
		pmt_table_str(t, pmt_alloc_op_name(op, 0));
		pmt_table_int(t, (int64_t)c->count);
		pmt_table_bytes(t, (int64_t)c->bytes);
	}
	for (unsigned d = PMT_DOMAIN_MEM; d <= PMT_DOMAIN_OBJ; d++)
		for (unsigned op = PMT_ALLOC_PY_MALLOC; op <= PMT_ALLOC_PY_FREE_NULL; op++) {
			const struct pmt_heap_call *c = &ht->calls[d][op];
			if (!c->count && !py)
				continue;
			pmt_table_str(t, pmt_alloc_op_name(op, d));
			pmt_table_int(t, (int64_t)c->count);
			pmt_table_bytes(t, (int64_t)c->bytes);
		}
	*out = t;
	return 0;
}

/* A file column: short unless --full-path (csv and json: always full). */
static void file_cell(struct pmt_table *t, struct pmt_names *names, const struct pmt_code *c)
{
	size_t n = 0;
	const char *f = c ? pmt_names_file(names, c->file, c->file_len, &n, NULL) : "";
	pmt_table_strn(t, f, n);
}

static int leaks_table(struct result *x, const char *title, const struct summarise_opts *o,
		       struct pmt_names *names, struct pmt_table **out)
{
	uint32_t n;
	const struct pmt_heap_site *sites = pmt_heap_leaks(pmt_profile_heap(x->prof), &n);
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "function", PMT_ALIGN_LEFT);
	pmt_table_column(t, "file", PMT_ALIGN_LEFT);
	pmt_table_column(t, "line", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "blocks", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "bytes", PMT_ALIGN_RIGHT);
	for (uint32_t i = 0; i < n && (!o->top || i < o->top); i++) {
		const struct pmt_code *c =
		    sites[i].code ? pmt_source_code(x->src, sites[i].code) : NULL;
		pmt_table_str(t, c ? c->name : "<no Python code>");
		file_cell(t, names, c);
		pmt_table_int(t, sites[i].line);
		pmt_table_int(t, (int64_t)sites[i].blocks);
		pmt_table_bytes(t, (int64_t)sites[i].bytes);
	}
	*out = t;
	return 0;
}

enum heap_order { BY_ALLOC, BY_PEAK, BY_EXIT, BY_RSS };
static const struct pmt_profile *sort_prof;
static const struct pmt_heap *sort_heap;
static enum heap_order sort_heap_by;

static int64_t heap_key(uint32_t code)
{
	if (sort_heap_by == BY_RSS) {
		const struct pmt_fstat *p = pmt_profile_fstat(sort_prof, code);
		return p ? p->self : 0;
	}
	const struct pmt_heap_fstat *f = pmt_heap_fstat(sort_heap, code);
	if (!f)
		return 0;
	return sort_heap_by == BY_ALLOC	 ? (int64_t)f->alloc_bytes
	       : sort_heap_by == BY_PEAK ? f->live_at_peak
					 : f->live;
}

static int cmp_heap(const void *a, const void *b)
{
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	int64_t ka = heap_key(ia), kb = heap_key(ib);
	if (ka != kb)
		return ka > kb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static int heap_functions_table(struct result *x, const char *title, enum heap_order by,
				const struct summarise_opts *o, struct pmt_names *names,
				struct pmt_table **out)
{
	const struct pmt_heap *hp = pmt_profile_heap(x->prof);
	uint32_t n = pmt_heap_codes(hp), m = 0;
	if (by == BY_RSS && pmt_profile_codes(x->prof) > n)
		n = pmt_profile_codes(x->prof);
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	sort_heap = hp;
	sort_heap_by = by;
	sort_prof = x->prof;
	for (uint32_t id = 0; id < n; id++)
		if (heap_key(id) > 0)
			ids[m++] = id;
	qsort(ids, m, sizeof(*ids), cmp_heap);
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0) {
		free(ids);
		return r;
	}
	int64_t page = pmt_source_header(x->src)->page_size;
	pmt_table_column(t, "function", PMT_ALIGN_LEFT);
	pmt_table_column(t, "file", PMT_ALIGN_LEFT);
	pmt_table_column(t, "allocs", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "alloc_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "heap_net_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "live_at_peak_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "live_at_exit_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "rss_self_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "reading", PMT_ALIGN_LEFT);
	static const struct pmt_heap_fstat none;
	for (uint32_t i = 0; i < m && (!o->top || i < o->top); i++) {
		const struct pmt_heap_fstat *f = pmt_heap_fstat(hp, ids[i]);
		const struct pmt_fstat *pf = pmt_profile_fstat(x->prof, ids[i]);
		if (!f)
			f = &none;
		const struct pmt_code *c = ids[i] ? pmt_source_code(x->src, ids[i]) : NULL;
		int64_t rss = pf ? pf->self : 0;
		pmt_table_str(t, c ? c->name : "<no Python code>");
		file_cell(t, names, c);
		pmt_table_int(t, (int64_t)f->allocs);
		pmt_table_bytes(t, (int64_t)f->alloc_bytes);
		pmt_table_bytes(t, f->net);
		pmt_table_bytes(t, f->live_at_peak);
		pmt_table_bytes(t, f->live);
		pmt_table_bytes(t, rss);
		pmt_table_str(t, reading(rss, f->net, page ? page : 4096, false));
	}
	free(ids);
	*out = t;
	return 0;
}

/* Tables one after the other; json: one object of named arrays. */
struct printer {
	enum pmt_format f;
	bool exact;
	unsigned count;
};

static int emit(struct printer *p, const char *key, struct pmt_table *t)
{
	int r;
	if (p->f == PMT_FMT_JSON) {
		printf(p->count ? ",\n\"%s\": " : "{\n\"%s\": ", key);
	} else if (p->count) {
		putchar('\n');
	}
	r = pmt_table_print(t, p->f | (p->exact ? PMT_FMT_EXACT : 0), stdout);
	pmt_table_free(t);
	p->count++;
	return r;
}

static int print_heap(struct printer *p, struct result *x, unsigned idx, unsigned n,
		      const struct summarise_opts *o)
{
	char title[1024], key[64];
	struct pmt_table *t;
	int r;
	const char *pre = n > 1 ? x->name : NULL;
	const char *pp = pre ? pre : "", *sep = pre ? ": " : "";
	struct pmt_names *names = NULL;
	bool full = o->full_path || o->format == PMT_FMT_CSV || o->format == PMT_FMT_JSON;
	if ((r = pmt_names_new(x->src, full, &names)) < 0)
		return r;
#define KEY(k) snprintf(key, sizeof(key), n > 1 ? k "_%u" : k, idx + 1)
	snprintf(title, sizeof(title),
		 "%s%sHeap (live: bytes allocated and not freed since the log "
		 "began)",
		 pp, sep);
	KEY("heap");
	if ((r = heap_summary_table(x, title, &t)) < 0 || (r = emit(p, key, t)) < 0)
		goto out;
	snprintf(title, sizeof(title), "%s%sAllocator calls", pp, sep);
	KEY("allocator_calls");
	if ((r = calls_table(x, title, &t)) < 0 || (r = emit(p, key, t)) < 0)
		goto out;
	snprintf(title, sizeof(title), "%s%sLive at exit (leaks) by allocation site", pp, sep);
	KEY("leaks");
	if ((r = leaks_table(x, title, o, names, &t)) < 0 || (r = emit(p, key, t)) < 0)
		goto out;
	snprintf(
	    title, sizeof(title),
	    "%s%sTop functions by heap bytes allocated, beside RSS growth (reading: rss>heap = "
	    "RSS grew but the heap did not: memory outside the heap (mmap, arenas, native "
	    "libraries) or freed memory the allocator kept; heap>rss = the heap grew but RSS "
	    "did not: not yet touched, or reusing freed memory)",
	    pp, sep);
	KEY("heap_functions_alloc");
	if ((r = heap_functions_table(x, title, BY_ALLOC, o, names, &t)) < 0 ||
	    (r = emit(p, key, t)) < 0)
		goto out;
	snprintf(title, sizeof(title), "%s%sTop functions by live bytes at the heap's peak", pp,
		 sep);
	KEY("heap_functions_peak");
	if ((r = heap_functions_table(x, title, BY_PEAK, o, names, &t)) < 0 ||
	    (r = emit(p, key, t)) < 0)
		goto out;
	snprintf(title, sizeof(title), "%s%sTop functions by live bytes at exit", pp, sep);
	KEY("heap_functions_exit");
	if ((r = heap_functions_table(x, title, BY_EXIT, o, names, &t)) < 0 ||
	    (r = emit(p, key, t)) < 0)
		goto out;
	snprintf(title, sizeof(title), "%s%sTop functions by RSS growth (self), beside their heap",
		 pp, sep);
	KEY("heap_functions_rss");
	if ((r = heap_functions_table(x, title, BY_RSS, o, names, &t)) < 0 ||
	    (r = emit(p, key, t)) < 0)
		goto out;
#undef KEY
out:
	pmt_names_free(names);
	return r;
}

/* An object log (--objects, ReferenceTracing): objects by type, and those
 * alive at the end by type and creation site, largest first. */
static int print_objects(struct printer *p, struct result *x, unsigned idx, unsigned n,
			 const struct summarise_opts *o)
{
	char title[512], key[64];
	struct pmt_table *t;
	const struct pmt_objects *ob = pmt_profile_objects(x->prof);
	const char *pp = n > 1 ? x->name : "", *sep = n > 1 ? ": " : "";
	struct pmt_names *names = NULL;
	bool full = o->full_path || o->format == PMT_FMT_CSV || o->format == PMT_FMT_JSON;
	int r = pmt_names_new(x->src, full, &names);
	if (r < 0)
		return r;
	uint32_t nt, ns;
	const struct pmt_obj_type *types = pmt_objects_types(ob, &nt);
	const struct pmt_obj_site *sites = pmt_objects_sites(ob, &ns);
	snprintf(title, sizeof(title), "%s%sObjects by type", pp, sep);
	snprintf(key, sizeof(key), n > 1 ? "objects_%u" : "objects", idx + 1);
	if ((r = pmt_table_new(title, &t)) < 0)
		goto out;
	pmt_table_column(t, "type", PMT_ALIGN_LEFT);
	static const char *const cols[] = {"created", "destroyed", "live_end", "peak_live"};
	for (unsigned i = 0; i < 4; i++)
		pmt_table_column(t, cols[i], PMT_ALIGN_RIGHT);
	for (uint32_t i = 0; i < nt && (!o->top || i < o->top); i++) {
		const char *name = pmt_source_name(x->src, types[i].type);
		pmt_table_str(t, name ? name : "?");
		pmt_table_int(t, (int64_t)types[i].created);
		pmt_table_int(t, (int64_t)types[i].destroyed);
		pmt_table_int(t, types[i].live);
		pmt_table_int(t, types[i].peak_live);
	}
	if ((r = emit(p, key, t)) < 0)
		goto out;
	snprintf(title, sizeof(title),
		 "%s%sObjects alive at the end (leaks) by type and creation site", pp, sep);
	snprintf(key, sizeof(key), n > 1 ? "object_leaks_%u" : "object_leaks", idx + 1);
	if ((r = pmt_table_new(title, &t)) < 0)
		goto out;
	pmt_table_column(t, "type", PMT_ALIGN_LEFT);
	pmt_table_column(t, "function", PMT_ALIGN_LEFT);
	pmt_table_column(t, "file", PMT_ALIGN_LEFT);
	pmt_table_column(t, "line", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "live", PMT_ALIGN_RIGHT);
	for (uint32_t i = 0; i < ns && (!o->top || i < o->top); i++) {
		const char *name = pmt_source_name(x->src, sites[i].type);
		const struct pmt_code *c =
		    sites[i].code ? pmt_source_code(x->src, sites[i].code) : NULL;
		pmt_table_str(t, name ? name : "?");
		pmt_table_str(t, c ? c->name : "<no Python code>");
		file_cell(t, names, c);
		pmt_table_int(t, sites[i].line);
		pmt_table_int(t, sites[i].live);
	}
	r = emit(p, key, t);
out:
	pmt_names_free(names);
	return r;
}

static int print_details(struct printer *p, struct result *x, unsigned idx, unsigned n,
			 const struct summarise_opts *o)
{
	char title[512], key[64];
	struct pmt_table *t;
	int r;
	const struct pmt_totals *tot = pmt_profile_totals(x->prof);
	const char *pre = n > 1 ? x->name : NULL;

	snprintf(title, sizeof(title), "%s%sEvents by kind", pre ? pre : "", pre ? ": " : "");
	snprintf(key, sizeof(key), n > 1 ? "kinds_%u" : "kinds", idx + 1);
	if ((r = pmt_summary_kinds(x->prof, title, &t)) < 0 || (r = emit(p, key, t)) < 0)
		return r;
	snprintf(title, sizeof(title),
		 "%s%sTop functions by RSS growth (%s; %llu unmatched returns, %llu calls open "
		 "at the end)",
		 pre ? pre : "", pre ? ": " : "",
		 o->sort == PMT_SORT_INCLUSIVE ? "by inclusive"
		 : o->sort == PMT_SORT_CALLS   ? "by calls"
					       : "by self",
		 (unsigned long long)tot->unmatched_returns, (unsigned long long)tot->open_calls);
	snprintf(key, sizeof(key), n > 1 ? "functions_%u" : "functions", idx + 1);
	struct pmt_summary_opts so = {
	    .sort = o->sort,
	    .top = o->top,
	    .all_frames = o->all_frames,
	    .full_path = o->full_path || o->format == PMT_FMT_CSV || o->format == PMT_FMT_JSON,
	};
	if ((r = pmt_summary_functions(x->prof, x->src, &so, title, &t)) < 0 ||
	    (r = emit(p, key, t)) < 0)
		return r;
	snprintf(title, sizeof(title), "%s%sThreads", pre ? pre : "", pre ? ": " : "");
	snprintf(key, sizeof(key), n > 1 ? "threads_%u" : "threads", idx + 1);
	if ((r = pmt_summary_threads(x->prof, x->src, title, &t)) < 0 || (r = emit(p, key, t)) < 0)
		return r;
	if (pmt_profile_objects(x->prof) && (r = print_objects(p, x, idx, n, o)) < 0)
		return r;
	if (pmt_profile_heap(x->prof))
		return print_heap(p, x, idx, n, o);
	return 0;
}

/* What is said of a log, after the results. */
static int diag_print(struct pmt_log_status *d)
{
	int status = PMT_EXIT_OK;
	const char *name = d->name ? d->name : "(log)", *detail = d->detail ? d->detail : "";
	if (d->err) {
		pmt_cli_errno(name, d->err, detail);
		status = PMT_EXIT_ERROR;
	} else if (d->truncated) {
		pmt_cli_truncated(name, detail, "summary of what was readable");
	} else if (d->cut) {
		pmt_cli_warn(name,
			     "log is cut: the tracer stopped writing after event %llu of "
			     "%llu (%s); summary of what was written",
			     (unsigned long long)d->events, (unsigned long long)d->total,
			     d->flags & PMT_TRL_CUT ? "a write failed" : "its hook failed");
	}
	pmt_log_status_clear(d);
	return status;
}

/* A run (several logs, a directory, --folded or --format pprof): each log
 * is read, added and closed before the next. */
struct run_out {
	struct pmt_table *logs;
	struct pmt_run *run;
	struct pmt_flame *flame;
	struct pmt_pprof *pprof;
	unsigned logs_read;
};

static int run_log(struct run_out *ro, struct printer *p, struct result *x, unsigned idx,
		   unsigned n, const struct summarise_opts *o)
{
	int r = 0;
	ro->logs_read++;
	if (ro->flame || ro->pprof) {
		struct pmt_names *names = NULL;
		if (pmt_profile_totals(x->prof)->cut_paths)
			pmt_cli_note(
			    x->name,
			    "more than %u call paths: the rarest are charged to their callers",
			    PMT_PROFILE_MAX_PATHS);
		r = pmt_names_new(x->src, o->full_path, &names);
		if (r >= 0 && ro->flame)
			r = pmt_flame_add(ro->flame, x->prof, x->src, names, 0, o->all_frames);
		if (r >= 0 && ro->pprof)
			r = pmt_pprof_add(ro->pprof, x->prof, x->src, names, o->all_frames);
		pmt_names_free(names);
		return r;
	}
	pmt_logs_table_row(ro->logs, x->name, x->src, x->prof, x->err, x->truncated);
	if (o->each && (r = print_details(p, x, idx, n, o)) < 0)
		return r;
	return pmt_run_add(ro->run, x->name, x->src, x->prof, x->err);
}

static int run_print(struct run_out *ro, struct printer *p, const struct summarise_opts *o)
{
	int r;
	if (ro->flame) {
		if ((r = pmt_flame_finish(ro->flame)) < 0)
			return r;
		return pmt_flame_folded(ro->flame, 0, stdout);
	}
	if (ro->pprof)
		return pmt_pprof_write(ro->pprof, stdout);
	unsigned missing = pmt_run_finish(ro->run);
	size_t np = pmt_run_procs(ro->run);
	char title[256];
	struct pmt_table *t;
	r = emit(p, "logs", ro->logs);
	ro->logs = NULL;
	snprintf(title, sizeof(title),
		 "Processes (%zu; each under its parent, where a parent's log names it)", np);
	if (r >= 0 && (r = pmt_run_processes_table(ro->run, title, &t)) >= 0)
		r = emit(p, "processes", t);
	snprintf(title, sizeof(title), "Events by kind, all %zu processes", np);
	if (r >= 0 && (r = pmt_run_kinds_table(ro->run, title, &t)) >= 0)
		r = emit(p, "kinds", t);
	snprintf(title, sizeof(title), "Top functions by RSS growth over all %zu processes (%s)",
		 np,
		 o->sort == PMT_SORT_INCLUSIVE ? "by inclusive"
		 : o->sort == PMT_SORT_CALLS   ? "by calls"
					       : "by self");
	if (r >= 0 && (r = pmt_run_functions_table(ro->run, (int)o->sort, o->top, title, &t)) >= 0)
		r = emit(p, "functions", t);
	if (p->f == PMT_FMT_JSON && p->count)
		fputs("}\n", stdout);
	if (missing)
		pmt_cli_note(NULL,
			     "%u child log%s named in the logs' messages not among those given",
			     missing, missing == 1 ? "" : "s");
	return r;
}

static int run_new(struct run_out *ro, const struct summarise_opts *o)
{
	struct pmt_run_opts ropts = {
	    .full_path = o->full_path || o->format == PMT_FMT_CSV || o->format == PMT_FMT_JSON,
	    .all_frames = o->all_frames,
	};
	if (o->folded)
		return pmt_flame_new(o->weight, &ro->flame);
	if (o->pprof)
		return pmt_pprof_new(&ro->pprof);
	int r = pmt_logs_table_new(&ro->logs);
	return r < 0 ? r : pmt_run_new(&ropts, &ro->run);
}

static void run_free(struct run_out *ro)
{
	pmt_table_free(ro->logs);
	pmt_run_free(ro->run);
	pmt_flame_free(ro->flame);
	pmt_pprof_free(ro->pprof);
}

static void free_result(struct result *x)
{
	pmt_profile_free(x->prof);
	pmt_source_free(x->src);
	*x = (struct result){0};
}

int main(int argc, char **argv)
{
	struct summarise_opts o = {0};
	int status = PMT_EXIT_OK, r;
	static char obuf[1 << 16];

	pmt_cli_set_prog(argv[0]);
	argv[0] = (char *)pmt_cli_prog(); /* getopt says "pmt-x: ...", not the path */
	parse_args(argc, argv, &o);
	if (o.output && strcmp(o.output, "-") && !freopen(o.output, "w", stdout)) {
		pmt_cli_errno(o.output, -errno, NULL);
		return PMT_EXIT_ERROR;
	}
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	struct pmt_run_entry *ent;
	size_t n;
	unsigned dirs;
	if ((r = pmt_run_expand(argv + optind, (unsigned)(argc - optind), &ent, &n, &dirs)) < 0) {
		pmt_cli_errno(NULL, r, NULL);
		return PMT_EXIT_ERROR;
	}
	/* one log's tables keep it open to the end; anything else streams */
	bool as_run = n > 1 || dirs || o.folded || o.pprof;
	struct run_out ro = {0};
	struct result one = {0}, cur;
	struct printer p = {.f = o.format, .exact = o.bytes};
	struct pmt_log_status *diags = calloc(n ? n : 1, sizeof(*diags));
	unsigned nd = 0, weights = o.folded ? 1u << o.weight : o.pprof ? PMT_PPROF_WEIGHTS : 0;
	if (!diags || (as_run && (r = run_new(&ro, &o)) < 0)) {
		pmt_cli_errno(NULL, diags ? r : -ENOMEM, NULL);
		return PMT_EXIT_ERROR;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *arg = ent[i].path;
		const char *shown = strcmp(arg, "-") ? arg : "(stdin)";
		struct pmt_input *in;
		if (ent[i].err) {
			pmt_cli_errno(
			    shown, ent[i].err,
			    ent[i].err == PMT_E_EMPTY ? "no logs (*.log.zst, *.log, *.zst)" : NULL);
			status = PMT_EXIT_ERROR;
			continue;
		}
		if ((r = pmt_input_open(arg, &in)) < 0) {
			pmt_cli_errno(shown, r, NULL);
			status = PMT_EXIT_ERROR;
			continue;
		}
		pmt_cli_progress(in);
		if (pmt_input_type(in) == PMT_INPUT_PROCESS) {
			unsigned warnings = 0;
			fflush(stdout);
			r = pmt_process_summarise(in, o.format, stdout, &warnings);
			if (warnings)
				pmt_cli_warn(shown, "%u lines that are not process records skipped",
					     warnings);
			if (r < 0) {
				pmt_cli_errno(shown, r, NULL);
				status = PMT_EXIT_ERROR;
			}
			pmt_input_free(in);
			continue;
		}
		cur = (struct result){.arg = arg, .name = shown};
		if ((r = pmt_source_new(in, &cur.src)) < 0) {
			pmt_cli_error(shown, "%s%s", pmt_strerror(r),
				      r == PMT_E_TYPE ? " (not a pmt, pymemtrace or process log)"
						      : "");
			pmt_input_free(in);
			status = PMT_EXIT_ERROR;
			continue;
		}
		if ((r = pmt_run_read(ro.run, cur.src, weights, &cur.prof)) < 0)
			cur.err = r;
		else
			cur.truncated = pmt_source_truncated(cur.src);
		if (!cur.prof) { /* no memory for even a profile */
			pmt_cli_errno(shown, r, NULL);
			pmt_source_free(cur.src);
			status = PMT_EXIT_ERROR;
			continue;
		}
		if (!as_run) {
			one = cur;
			continue;
		}
		if ((r = run_log(&ro, &p, &cur, i, (unsigned)n, &o)) < 0) {
			pmt_cli_errno(shown, r, NULL);
			status = PMT_EXIT_ERROR;
		}
		pmt_log_status_take(&diags[nd++], cur.name, cur.src, cur.err, cur.truncated);
		free_result(&cur);
	}

	r = 0;
	if (as_run && ro.logs_read) {
		r = run_print(&ro, &p, &o);
	} else if (one.src) {
		struct pmt_table *t;
		if ((r = pmt_logs_table_new(&t)) >= 0) {
			pmt_logs_table_row(t, one.name, one.src, one.prof, one.err, one.truncated);
			r = emit(&p, "logs", t);
		}
		if (r >= 0)
			r = print_details(&p, &one, 0, 1, &o);
		if (p.f == PMT_FMT_JSON && p.count)
			fputs("}\n", stdout);
		pmt_log_status_take(&diags[nd++], one.name, one.src, one.err, one.truncated);
	}
	if (r < 0) {
		pmt_cli_errno(NULL, r, NULL);
		status = PMT_EXIT_ERROR;
	}
	if (fflush(stdout) || ferror(stdout)) {
		pmt_cli_error(o.output, "write error");
		status = PMT_EXIT_ERROR;
	}
	/* messages after the results, so what was readable is already out */
	for (unsigned i = 0; i < nd; i++)
		if (diag_print(&diags[i]) != PMT_EXIT_OK)
			status = PMT_EXIT_ERROR;
	free_result(&one);
	run_free(&ro);
	free(diags);
	pmt_run_entries_free(ent, n);
	return status;
}
