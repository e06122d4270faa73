/* SPDX-License-Identifier: MIT */
/* The Logs table and a log's status (see logs.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/log-format.h>
#include <libpmt/report/logs.h>

static double seconds(uint64_t ns) { return (double)ns / 1e9; }

bool pmt_log_cut(const struct pmt_source *src)
{
	const struct pmt_trailer *t = pmt_source_trailer(src);
	return t && (t->flags & (PMT_TRL_CUT | PMT_TRL_HOOK_ERROR));
}

int pmt_logs_table_new(struct pmt_table **out)
{
	struct pmt_table *t;
	int r = pmt_table_new("Logs", &t);
	if (r < 0)
		return r;
	static const struct {
		const char *name;
		enum pmt_align a;
	} cols[] = {
	    {"log", PMT_ALIGN_LEFT},	     {"type", PMT_ALIGN_LEFT},
	    {"events", PMT_ALIGN_RIGHT},     {"written", PMT_ALIGN_RIGHT},
	    {"duration_s", PMT_ALIGN_RIGHT}, {"events_per_s", PMT_ALIGN_RIGHT},
	    {"rss_start", PMT_ALIGN_RIGHT},  {"rss_end", PMT_ALIGN_RIGHT},
	    {"rss_peak", PMT_ALIGN_RIGHT},   {"rss_min", PMT_ALIGN_RIGHT},
	    {"page_jumps", PMT_ALIGN_RIGHT}, {"one_in", PMT_ALIGN_RIGHT},
	    {"log_bytes", PMT_ALIGN_RIGHT},  {"bytes_per_event", PMT_ALIGN_RIGHT},
	    {"rss_source", PMT_ALIGN_LEFT},  {"complete", PMT_ALIGN_LEFT},
	};
	for (unsigned i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		pmt_table_column(t, cols[i].name, cols[i].a);
	*out = t;
	return 0;
}

void pmt_logs_table_row(struct pmt_table *t, const char *name, struct pmt_source *src,
			const struct pmt_profile *prof, int err, bool truncated)
{
	const struct pmt_totals *tot = pmt_profile_totals(prof);
	const struct pmt_header *h = pmt_source_header(src);
	const struct pmt_trailer *trl = pmt_source_trailer(src);
	struct pmt_input *in = pmt_source_input(src);
	uint64_t events = pmt_source_events(src);
	uint64_t dur = tot->last_ns - tot->first_ns;
	/* the trailer knows when the program stopped, not just the last event */
	if (trl && trl->end_wall_ns > h->start_wall_ns && h->start_wall_ns)
		dur = trl->end_wall_ns - h->start_wall_ns;
	uint64_t bytes = pmt_input_file_size(in);
	if (!bytes)
		bytes = pmt_input_raw_bytes(in);
	pmt_table_str(t, name);
	pmt_table_str(t, pmt_input_type_name(pmt_source_type(src)));
	pmt_table_int(t, (int64_t)events);
	pmt_table_int(t, (int64_t)tot->written);
	pmt_table_num(t, seconds(dur), 6);
	if (dur)
		pmt_table_num(t, (double)events / seconds(dur), 0);
	else
		pmt_table_null(t);
	if (tot->any) {
		pmt_table_bytes(t, tot->rss_start);
		pmt_table_bytes(t, tot->rss_end);
		pmt_table_bytes(t, tot->rss_peak);
		pmt_table_bytes(t, tot->rss_min);
	} else {
		for (int k = 0; k < 4; k++)
			pmt_table_null(t);
	}
	pmt_table_int(t, (int64_t)tot->jumps);
	if (tot->jumps)
		pmt_table_num(t, (double)events / (double)tot->jumps, 0);
	else
		pmt_table_null(t);
	pmt_table_bytes(t, (int64_t)bytes);
	if (events)
		pmt_table_num(t, (double)bytes / (double)events, 2);
	else
		pmt_table_null(t);
	pmt_table_str(t, h->rss_source ? h->rss_source : "");
	pmt_table_str(t, err		    ? "error"
			 : truncated	    ? (pmt_source_live(src) ? "live" : "truncated")
			 : pmt_log_cut(src) ? "cut"
					    : "yes");
}

void pmt_log_status_take(struct pmt_log_status *st, const char *name, const struct pmt_source *src,
			 int err, bool truncated)
{
	const struct pmt_trailer *t = pmt_source_trailer(src);
	*st = (struct pmt_log_status){
	    .name = strdup(name),
	    .detail = strdup(pmt_source_detail(src)),
	    .err = err,
	    .truncated = truncated,
	    .live = truncated && pmt_source_live(src),
	    .cut = pmt_log_cut(src),
	    .events = pmt_source_events(src),
	    .total = t ? t->total_events : 0,
	    .flags = t ? t->flags : 0,
	};
}

void pmt_log_status_clear(struct pmt_log_status *st)
{
	free(st->name);
	free(st->detail);
	*st = (struct pmt_log_status){0};
}
