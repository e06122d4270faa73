/* SPDX-License-Identifier: MIT */
#pragma once
/* pmt-report's parts: the page (pmt-report.c) and its charts
 * (report-chart.c). */
#include <stdbool.h>
#include <stdio.h>

#include <libpmt/read/process-log.h>
#include <libpmt/read/source.h>
#include <libpmt/report/names.h>
#include <libpmt/report/timeline.h>

struct report_names {
	const struct pmt_source *src;
	struct pmt_names *names;
};

/* "function (file:line)" of code id, escaped for HTML. */
void report_put_function(FILE *out, const struct report_names *rn, uint32_t code);

void chart_rss(FILE *out, const struct pmt_timeline *tl, const struct report_names *rn,
	       bool cpu_clock);
void chart_process(FILE *out, struct pmt_process_log *l, unsigned i);
