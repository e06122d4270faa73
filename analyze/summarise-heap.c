/* SPDX-License-Identifier: MIT */
/* pmt-summarise: the tables of a heap log (--heap): allocator calls, the
 * heap beside RSS, live blocks at exit by site, functions by heap use. */
#include <getopt.h>
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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "summarise.h"

/* ---- heap logs ------------------------------------------------------------ */

/* What RSS and heap growth side by side mean, in a word for function rows
 * and a sentence for the whole log; nothing to compare in a log of the heap
 * alone (NO_EVENTS: no RSS was read). */
static const char *reading(const struct result *x, int64_t rss, int64_t heap, int64_t page,
			   bool sentence)
{
	if (pmt_source_header(x->src)->flags & PMT_HDR_NO_EVENTS)
		return sentence ? "no RSS in this log (the heap alone, no events)" : "";
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
	pmt_table_str(t, reading(x, rss, ht->live, h->page_size ? h->page_size : 4096, true));
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
void file_cell(struct pmt_table *t, struct pmt_names *names, const struct pmt_code *c)
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
	if (m > 1) /* qsort of NULL, 0 is undefined */
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
		pmt_table_str(t, reading(x, rss, f->net, page ? page : 4096, false));
	}
	free(ids);
	*out = t;
	return 0;
}

/* Tables one after the other; json: one object of named arrays. */

int print_heap(struct printer *p, struct result *x, unsigned idx, unsigned n,
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
