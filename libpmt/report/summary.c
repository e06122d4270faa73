/* SPDX-License-Identifier: MIT */
/* The per-log tables of pmt-summarise and pmt-report (see summary.h). */
#include <errno.h>
#include <stdlib.h>

#include <libpmt/core/log-format.h>
#include <libpmt/report/names.h>
#include <libpmt/report/summary.h>

struct sort_ctx {
	const struct pmt_profile *prof;
	enum pmt_summary_sort by;
};

int pmt_summary_kinds(const struct pmt_profile *prof, const char *title, struct pmt_table **out)
{
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0)
		return r;
	const struct pmt_totals *tot = pmt_profile_totals(prof);
	pmt_table_column(t, "kind", PMT_ALIGN_LEFT);
	pmt_table_column(t, "events", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "percent", PMT_ALIGN_RIGHT);
	for (unsigned k = 0; k < 8; k++) {
		if (!tot->kinds[k])
			continue;
		pmt_table_str(t, pmt_kind_full_name(k));
		pmt_table_int(t, (int64_t)tot->kinds[k]);
		pmt_table_num(t, 100.0 * (double)tot->kinds[k] / (double)tot->written, 2);
	}
	*out = t;
	return 0;
}

static int cmp_codes(const void *a, const void *b, void *ctx)
{
	const struct pmt_profile *prof = ((const struct sort_ctx *)ctx)->prof;
	enum pmt_summary_sort sort_by = ((const struct sort_ctx *)ctx)->by;
	const struct pmt_fstat *x = pmt_profile_fstat(prof, *(const uint32_t *)a);
	const struct pmt_fstat *y = pmt_profile_fstat(prof, *(const uint32_t *)b);
	int64_t kx, ky;
	switch (sort_by) {
	case PMT_SORT_INCLUSIVE:
		kx = x->incl, ky = y->incl;
		break;
	case PMT_SORT_CALLS:
		kx = (int64_t)x->calls, ky = (int64_t)y->calls;
		break;
	default:
		kx = x->self, ky = y->self;
	}
	if (kx != ky)
		return kx > ky ? -1 : 1;
	/* ties: stable, by id */
	uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
	return ia < ib ? -1 : ia > ib;
}

int pmt_summary_functions(const struct pmt_profile *prof, const struct pmt_source *src,
			  const struct pmt_summary_opts *o, const char *title,
			  struct pmt_table **out)
{
	uint32_t n = pmt_profile_codes(prof), m = 0;
	uint32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (uint32_t id = 0; id < n; id++) {
		/* the statistics first: most ids below a high one never ran */
		const struct pmt_fstat *f = pmt_profile_fstat(prof, id);
		if (!f || !(f->calls || f->self || f->incl))
			continue;
		const struct pmt_code *c = id ? pmt_source_code(src, id) : NULL;
		if (o->all_frames || !c || !pmt_names_tracer_file(c->file, c->file_len))
			ids[m++] = id;
	}
	struct sort_ctx sc = {prof, o->sort};
	qsort_r(ids, m, sizeof(*ids), cmp_codes, &sc);
	struct pmt_table *t;
	struct pmt_names *names = NULL;
	int r = pmt_names_new(src, o->full_path, &names);
	if (r < 0 || (r = pmt_table_new(title, &t)) < 0) {
		pmt_names_free(names);
		free(ids);
		return r;
	}
	pmt_table_column(t, "function", PMT_ALIGN_LEFT);
	pmt_table_column(t, "file", PMT_ALIGN_LEFT);
	pmt_table_column(t, "calls", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "self_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "inclusive_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "inclusive_per_call", PMT_ALIGN_RIGHT);
	for (uint32_t i = 0; i < m && (!o->top || i < o->top); i++) {
		const struct pmt_fstat *f = pmt_profile_fstat(prof, ids[i]);
		const struct pmt_code *c = ids[i] ? pmt_source_code(src, ids[i]) : NULL;
		size_t flen = 0;
		const char *file =
		    c ? pmt_names_file(names, c->file, c->file_len, &flen, NULL) : "";
		pmt_table_str(t, c ? c->name : "<unknown>");
		pmt_table_strn(t, file, flen);
		pmt_table_int(t, (int64_t)f->calls);
		pmt_table_bytes(t, f->self);
		pmt_table_bytes(t, f->incl);
		if (f->incl_calls)
			pmt_table_bytes_num(t, (double)f->incl / (double)f->incl_calls, 1);
		else
			pmt_table_null(t);
	}
	pmt_names_free(names);
	free(ids);
	*out = t;
	return 0;
}

int pmt_summary_threads(const struct pmt_profile *prof, const struct pmt_source *src,
			const char *title, struct pmt_table **out)
{
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "thread", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "name", PMT_ALIGN_LEFT);
	pmt_table_column(t, "events", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "calls", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "growth_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "positive_bytes", PMT_ALIGN_RIGHT);
	for (uint32_t i = 0; i < pmt_profile_threads(prof); i++) {
		const struct pmt_tstat *s = pmt_profile_tstat(prof, i);
		if (!s || !s->events) /* NULL: no event of that index */
			continue;
		const struct pmt_thread *th = pmt_source_thread(src, i);
		pmt_table_int(t, i);
		pmt_table_str(t, th ? th->name : "");
		pmt_table_int(t, (int64_t)s->events);
		pmt_table_int(t, (int64_t)s->calls);
		pmt_table_bytes(t, s->growth);
		pmt_table_bytes(t, s->positive);
	}
	*out = t;
	return 0;
}
