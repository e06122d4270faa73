/* SPDX-License-Identifier: MIT */
/* pmt-report LOG [PROCESS_LOG] -o report.html: one self-contained HTML page
 * about a traced run: its summary, RSS over time with the largest rises and
 * falls (each with the event before it), the flame graph, the top functions
 * (sortable), the threads, the messages, and with a process log its plot
 * and tables. The log is read once, in bounded memory. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/process-log.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/flame.h>
#include <libpmt/report/process-report.h>
#include <libpmt/report/summary.h>
#include <libpmt/report/table.h>

#include "flame-svg.h"
#include "report.h"

struct report_opts {
	const char *output, *title;
	unsigned top, jumps;
	enum pmt_weight weight;
	double min_width;
	bool all_frames, full_path;
};

enum { OPT_TITLE = 256, OPT_TOP, OPT_JUMPS, OPT_WEIGHT, OPT_MIN_WIDTH, OPT_ALL, OPT_FULL };

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"title", required_argument, NULL, OPT_TITLE},
    {"top", required_argument, NULL, OPT_TOP},
    {"jumps", required_argument, NULL, OPT_JUMPS},
    {"weight", required_argument, NULL, OPT_WEIGHT},
    {"min-width", required_argument, NULL, OPT_MIN_WIDTH},
    {"all-frames", no_argument, NULL, OPT_ALL},
    {"full-path", no_argument, NULL, OPT_FULL},
    PMT_CLI_THREADS_OPTION,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf("Usage: %s [OPTION]... LOG [PROCESS_LOG] [-o REPORT.html]\n"
	       "Write one self-contained HTML page about a traced run: the log's summary, RSS\n"
	       "over time with its largest rises and falls (each linked to the event before\n"
	       "it), the flame graph of where RSS grew, the top functions (sortable), the\n"
	       "threads and the messages; with a process log, its plot and tables too.\n"
	       "LOG may be zstd-compressed; - is standard input.\n"
	       "\n"
	       "  -o, --output FILE    write the page to FILE (default: standard output)\n"
	       "      --title TEXT     the page's title (default: the log's name)\n"
	       "      --top N          functions listed (default 50, 0 for all)\n"
	       "      --jumps N        rises and falls marked, N of each (default 5)\n"
	       "      --weight W       what the flame graph shows: rss (default), calls, a heap\n"
	       "                       log's alloc, live or leaked, or an object log's objects\n"
	       "                       or live-objects (pmt-flamegraph --help says what each is)\n"
	       "      --min-width PX   flame graph frames narrower than PX left out (default 0.1)\n"
	       "      --full-path      file names in full\n"
	       "      --all-frames     keep the tracer's own frames (its launcher, runpy)\n"
	       "      --threads N      threads that decompress a pmt log ahead of reading it\n"
	       "                       (default: one per CPU; 1: the reading thread alone)\n"
	       "  -h, --help           show this help and exit\n"
	       "  -V, --version        show the version and exit\n"
	       "\n"
	       "Exit status: 0 on success (a truncated log is a warning), 2 on error.\n",
	       pmt_cli_prog());
}

static void parse_args(int argc, char **argv, struct report_opts *o)
{
	int c;
	o->top = 50;
	o->jumps = 5;
	o->min_width = 0.1;
	while ((c = getopt_long(argc, argv, "o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case OPT_TITLE:
			o->title = optarg;
			break;
		case OPT_TOP:
			o->top = (unsigned)pmt_cli_range("top", optarg, 0, 100000);
			break;
		case OPT_JUMPS:
			o->jumps = (unsigned)pmt_cli_range("jumps", optarg, 0, 100);
			break;
		case OPT_WEIGHT: {
			int w = pmt_weight_parse(optarg);
			if (w < 0)
				pmt_cli_usage_error("invalid --weight '%s'", optarg);
			o->weight = (enum pmt_weight)w;
			break;
		}
		case OPT_MIN_WIDTH: {
			char *end;
			o->min_width = strtod(optarg, &end);
			if (end == optarg || *end || !(o->min_width >= 0 && o->min_width <= 1000))
				pmt_cli_usage_error("invalid --min-width '%s' (0 to 1000 pixels)",
						    optarg);
			break;
		}
		case OPT_ALL:
			o->all_frames = true;
			break;
		case OPT_FULL:
			o->full_path = true;
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
	if (argc - optind > 2)
		pmt_cli_usage_error("too many arguments (LOG [PROCESS_LOG])");
}

void report_put_function(FILE *out, const struct report_names *rn, uint32_t code)
{
	const struct pmt_code *c = code ? pmt_source_code(rn->src, code) : NULL;
	if (!c) {
		fputs("?", out);
		return;
	}
	pmt_xml_write(out, c->name, c->name_len);
	size_t fl;
	const char *f = pmt_names_file(rn->names, c->file, c->file_len, &fl, NULL);
	if (fl) {
		fputs(" (", out);
		pmt_xml_write(out, f, fl);
		if (c->firstline)
			fprintf(out, ":%" PRIu32, c->firstline);
		fputc(')', out);
	}
}

static void xs(FILE *out, const char *s) { pmt_xml_write(out, s, strlen(s)); }

static void card(FILE *out, const char *name, const char *value)
{
	fputs("<div><dt>", out);
	xs(out, name);
	fputs("</dt><dd>", out);
	xs(out, value);
	fputs("</dd></div>\n", out);
}

static void card_bytes(FILE *out, const char *name, int64_t v)
{
	char b[48];
	card(out, name, pmt_format_bytes(b, sizeof(b), (double)v));
}

struct run {
	const char *name;
	struct pmt_source *src;
	struct pmt_profile *prof;
	struct pmt_timeline *tl;
	struct pmt_flame *flame;
	struct report_names rn;
	int err;
	bool truncated;
};

static void summary(FILE *out, const struct run *x)
{
	const struct pmt_header *h = pmt_source_header(x->src);
	const struct pmt_trailer *trl = pmt_source_trailer(x->src);
	const struct pmt_totals *t = pmt_profile_totals(x->prof);
	char b[512];
	fputs("<section id=\"summary\"><h2>Summary</h2>\n", out);
	if (h->argc) {
		fputs("<p class=\"cmd\"><code>", out);
		for (uint32_t i = 0; i < h->argc; i++) {
			if (i)
				fputc(' ', out);
			xs(out, h->argv[i]);
		}
		fputs("</code></p>\n", out);
	}
	fputs("<dl class=\"cards\">\n", out);
	uint64_t dur = t->last_ns - t->first_ns;
	if (trl && h->start_wall_ns && trl->end_wall_ns > h->start_wall_ns)
		dur = trl->end_wall_ns - h->start_wall_ns;
	snprintf(b, sizeof(b), "%.3f s", (double)dur / 1e9);
	card(out, "duration", b);
	snprintf(b, sizeof(b), "%" PRIu64, pmt_source_events(x->src));
	card(out, "events", b);
	if (t->any) {
		card_bytes(out, "RSS at the start", t->rss_start);
		card_bytes(out, "RSS at the end", t->rss_end);
		card_bytes(out, "peak RSS", t->rss_peak);
		card_bytes(out, "growth, start to end", t->rss_end - t->rss_start);
		card_bytes(out, "all rises added up", t->positive);
	}
	snprintf(b, sizeof(b), "%" PRIu64, t->jumps);
	card(out, "changes of a page or more", b);
	if (h->python_version && h->python_version[0])
		card(out, "Python", h->python_version);
	if (h->pid) {
		snprintf(b, sizeof(b), "%" PRIu32, h->pid);
		card(out, "PID", b);
	}
	if (h->start_wall_ns) {
		time_t s = (time_t)(h->start_wall_ns / 1000000000u);
		struct tm tm;
		gmtime_r(&s, &tm);
		strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S UTC", &tm);
		card(out, "started", b);
	}
	card(out, "RSS source", h->rss_source ? h->rss_source : "");
	card(out, "log", x->err ? "read up to an error" : x->truncated ? "truncated" : "complete");
	fputs("</dl>\n", out);
	struct pmt_table *k;
	if (pmt_summary_kinds(x->prof, "Events by kind", &k) == 0) {
		pmt_table_print(k, PMT_FMT_HTML, out);
		pmt_table_free(k);
	}
	fputs("</section>\n", out);
}

static void jump_row(FILE *out, const struct run *x, unsigned k, const struct pmt_tl_jump *j)
{
	const struct pmt_thread *th = pmt_source_thread(x->src, j->ev.thread);
	char v[48], r[48];
	pmt_format_bytes(v, sizeof(v), (double)j->ev.drss);
	pmt_format_bytes(r, sizeof(r), (double)j->ev.rss);
	fprintf(out,
		"<tr id=\"jump-%u\"><td class=\"r\">%u</td><td class=\"r\" data-v=\"%" PRIu64
		"\">%" PRIu64 "</td><td class=\"r\" data-v=\"%.6f\">%.6f</td><td class=\"r %s\" "
		"data-v=\"%" PRId64 "\">%s%s</td><td class=\"r\" data-v=\"%" PRId64
		"\">%s</td><td>%s "
		"",
		k, k, j->ev.number, j->ev.number, j->ev.x, j->ev.x, j->ev.drss > 0 ? "up" : "down",
		j->ev.drss, j->ev.drss > 0 ? "+" : "", v, j->ev.rss, r, pmt_kind_name(j->ev.kind));
	report_put_function(out, &x->rn, j->ev.code);
	fprintf(out, ", line %" PRIu32 "</td><td>", j->ev.line);
	if (th && th->name[0])
		xs(out, th->name);
	else
		fprintf(out, "%" PRIu32, j->ev.thread);
	fputs("</td><td>", out);
	if (j->prev.valid) {
		fprintf(out, "%" PRIu64 " %s ", j->prev.number, pmt_kind_name(j->prev.kind));
		report_put_function(out, &x->rn, j->prev.code);
		fprintf(out, ", line %" PRIu32, j->prev.line);
	} else {
		fputs("<em>not in the log</em>", out);
	}
	fputs("</td></tr>\n", out);
}

static void timeline(FILE *out, const struct run *x)
{
	bool cpu = pmt_source_type(x->src) == PMT_INPUT_PYMEMTRACE;
	const struct pmt_tl_jump *rises, *falls;
	unsigned nr = pmt_timeline_rises(x->tl, &rises), nf = pmt_timeline_falls(x->tl, &falls);
	fputs("<section id=\"timeline\"><h2>RSS over time</h2>\n<p>Numbered marks: the largest "
	      "rises (red) and falls (blue) of RSS between two events; each links to its row "
	      "below, with the event just before it. M: the log's messages.</p>\n",
	      out);
	chart_rss(out, x->tl, &x->rn, cpu);
	fputs("<table class=\"pmt-table jumps\"><caption>Largest rises and falls</caption>"
	      "<thead><tr><th class=\"r\">#</th><th class=\"r\">event</th><th class=\"r\">"
	      "time (s)</th><th class=\"r\">change</th><th class=\"r\">RSS</th><th>event, "
	      "function (file:first line), line</th><th>thread</th><th>the event before "
	      "it</th></tr></thead><tbody>\n",
	      out);
	for (unsigned i = 0; i < nr + nf; i++)
		jump_row(out, x, i + 1, i < nr ? &rises[i] : &falls[i - nr]);
	fputs("</tbody></table>\n", out);
	const struct pmt_tl_message *m;
	unsigned nm = pmt_timeline_messages(x->tl, &m);
	if (nm) {
		fputs("<h3 id=\"messages\">Messages</h3><ol class=\"messages\">\n", out);
		for (unsigned i = 0; i < nm; i++) {
			fprintf(out, "<li value=\"%u\">M%u, event %" PRIu64 ", %.6f s: ", i + 1,
				i + 1, m[i].number, m[i].x);
			xs(out, m[i].text);
			fputs("</li>\n", out);
		}
		fputs("</ol>\n", out);
		uint64_t seen = pmt_timeline_messages_seen(x->tl);
		if (seen > nm)
			fprintf(out, "<p>%" PRIu64 " more messages are in the log.</p>\n",
				seen - nm);
	}
	fputs("</section>\n", out);
}

static int tables(FILE *out, const struct run *x, const struct report_opts *o)
{
	struct pmt_table *t;
	struct pmt_summary_opts so = {.sort = PMT_SORT_SELF,
				      .top = o->top,
				      .all_frames = o->all_frames,
				      .full_path = o->full_path};
	fputs("<section id=\"functions\"><h2>Top functions</h2>\n<p>Self: RSS changes charged to "
	      "the function running before each event; inclusive: RSS at return minus RSS at "
	      "the call. Click a column to sort.</p>\n",
	      out);
	int r = pmt_summary_functions(x->prof, x->src, &so, "Top functions by RSS growth", &t);
	if (r < 0)
		return r;
	pmt_table_print(t, PMT_FMT_HTML, out);
	pmt_table_free(t);
	fputs("</section>\n<section id=\"threads\"><h2>Threads</h2>\n", out);
	if ((r = pmt_summary_threads(x->prof, x->src, "Threads", &t)) < 0)
		return r;
	pmt_table_print(t, PMT_FMT_HTML, out);
	pmt_table_free(t);
	fputs("</section>\n", out);
	return 0;
}

static int flame(FILE *out, struct run *x, const struct report_opts *o)
{
	int r = pmt_flame_new(o->weight, &x->flame);
	if (r >= 0)
		r = pmt_flame_add(x->flame, x->prof, x->src, x->rn.names, 0, o->all_frames);
	if (r >= 0)
		r = pmt_flame_finish(x->flame);
	if (r < 0)
		return r;
	char v[48], sub[256];
	flame_value(v, sizeof(v), o->weight, pmt_flame_node(x->flame, 0)->total[0]);
	int n = snprintf(sub, sizeof(sub), "total %s", v);
	int64_t hid = pmt_flame_hidden(x->flame, 0);
	if (hid > 0) {
		flame_value(v, sizeof(v), o->weight, hid);
		snprintf(sub + n, sizeof(sub) - (size_t)n,
			 "; %s in the tracer's own frames not shown", v);
	}
	struct flame_svg_opts so = {
	    .width = 1100,
	    .min_width = o->min_width,
	    .title = pmt_weight_defs[o->weight].title,
	    .subtitle = sub,
	};
	if (o->weight == PMT_WEIGHT_RSS)
		fputs("<section id=\"flame\"><h2>Where RSS grew</h2>\n<p>Each frame is as wide as "
		      "the growth of its call path; hover for details, click to zoom, search by "
		      "function or file.</p>\n",
		      out);
	else
		fprintf(out,
			"<section id=\"flame\"><h2>%s</h2>\n<p>Each frame is as wide as its call "
			"path's share of the %c%s; hover for details, click to zoom, search by "
			"function or file.</p>\n",
			so.title, tolower((unsigned char)so.title[0]), so.title + 1);
	r = flame_svg_write(out, x->flame, &so);
	fputs("</section>\n", out);
	return r;
}

static void warn_line(void *ctx, uint64_t line, const char *why)
{
	pmt_cli_warn((const char *)ctx, "line %" PRIu64 ": %s (skipped)", line, why);
}

/* The process log's section; 0 or 2 after reporting an error. */
static int process(FILE *out, const char *arg)
{
	struct pmt_input *in;
	struct pmt_process_log *l = NULL;
	int r = pmt_input_open(arg, &in);
	if (r < 0) {
		pmt_cli_errno(arg, r, NULL);
		return 2;
	}
	if (pmt_input_type(in) != PMT_INPUT_PROCESS) {
		pmt_cli_error(arg, "not a process log");
		pmt_input_free(in);
		return 2;
	}
	r = pmt_process_log_read(in, warn_line, (void *)arg, &l);
	int status = r < 0 ? 2 : 0;
	if (r < 0)
		pmt_cli_errno(arg, r, NULL);
	if (l && pmt_process_log_pids(l)) {
		fputs("<section id=\"process\"><h2>Process log</h2>\n<p class=\"cmd\">", out);
		xs(out, arg);
		fputs("</p>\n", out);
		for (unsigned i = 0; i < pmt_process_log_pids(l) && i < 16; i++) {
			fprintf(out, "<h3>PID %" PRId64 "</h3>\n", pmt_process_log_pid(l, i)->pid);
			chart_process(out, l, i);
		}
		fputs("<details><summary>Records and summary</summary>\n", out);
		if ((r = pmt_process_tables(l, PMT_FMT_HTML, out)) < 0) {
			pmt_cli_errno(arg, r, NULL);
			status = 2;
		}
		fputs("</details></section>\n", out);
	} else if (r >= 0) {
		pmt_cli_error(arg, "no process records");
		status = 2;
	}
	pmt_process_log_free(l);
	pmt_input_free(in);
	return status;
}

static bool tracer_code(void *ctx, uint32_t code)
{
	const struct pmt_code *c = code ? pmt_source_code(ctx, code) : NULL;
	return c && pmt_names_tracer_file(c->file, c->file_len);
}

static int read_log(struct run *x, const char *arg, const struct report_opts *o)
{
	struct pmt_input *in;
	x->name = strcmp(arg, "-") ? arg : "(stdin)";
	int r = pmt_input_open(arg, &in);
	if (r < 0) {
		pmt_cli_errno(x->name, r, NULL);
		return r;
	}
	pmt_cli_progress(in);
	if ((r = pmt_source_new(in, &x->src)) < 0) {
		pmt_cli_error(x->name, "%s%s", pmt_strerror(r),
			      r == PMT_E_TYPE ? " (not a pmt or pymemtrace event log)" : "");
		pmt_input_free(in);
		return r;
	}
	r = pmt_profile_new(pmt_source_header(x->src)->page_size, 1u << o->weight, &x->prof);
	if (r >= 0)
		r = pmt_timeline_new(4000, o->jumps, 200, &x->tl);
	if (r < 0)
		return r;
	if (!o->all_frames)
		pmt_timeline_skip(x->tl, tracer_code, x->src);
	struct pmt_item it[PMT_SOURCE_BATCH];
	int n;
	while ((r = n = pmt_source_next_batch(x->src, it, PMT_SOURCE_BATCH)) > 0) {
		if ((r = pmt_profile_items(x->prof, it, (unsigned)n)) < 0)
			break;
		/* the profile has seen whether the timeline has anything to do */
		r = pmt_profile_batch_flat(x->prof)
			? pmt_timeline_flat_items(x->tl, it, (unsigned)n)
			: pmt_timeline_items(x->tl, it, (unsigned)n);
		if (r < 0)
			break;
	}
	pmt_profile_finish(x->prof);
	pmt_timeline_finish(x->tl);
	if (r < 0)
		x->err = r;
	else
		x->truncated = pmt_source_truncated(x->src);
	if (pmt_profile_totals(x->prof)->cut_paths)
		pmt_cli_note(x->name,
			     "more than %u call paths: the rarest are drawn as their callers",
			     PMT_PROFILE_MAX_PATHS);
	if (!pmt_profile_totals(x->prof)->any) {
		pmt_cli_error(x->name, "%s", x->err ? pmt_strerror(x->err) : "no events");
		return x->err ? x->err : -ENODATA;
	}
	if (!pmt_profile_has_weight(x->prof, o->weight)) {
		pmt_cli_no_weight(x->name, o->weight);
		return -ENODATA;
	}
	return pmt_names_new(x->src, o->full_path, &x->rn.names);
}

int main(int argc, char **argv)
{
	struct report_opts o = {0};
	struct run x = {0};
	int status = PMT_EXIT_OK;

	pmt_cli_set_prog(argv[0]);
	argv[0] = (char *)pmt_cli_prog(); /* getopt says "pmt-x: ...", not the path */
	parse_args(argc, argv, &o);
	int r = read_log(&x, argv[optind], &o);
	x.rn.src = x.src;
	if (r < 0) {
		status = PMT_EXIT_ERROR;
		goto out;
	}
	FILE *out = stdout;
	if (o.output && strcmp(o.output, "-") && !(out = fopen(o.output, "w"))) {
		pmt_cli_errno(o.output, -errno, NULL);
		status = PMT_EXIT_ERROR;
		goto out;
	}
	const char *title = o.title ? o.title : x.name;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>",
	      out);
	xs(out, title);
	fprintf(out, " - pmt report</title>\n<style>\n%s</style>\n</head><body>\n<header><h1>",
		pmt_report_css);
	xs(out, title);
	fputs("</h1><nav><a href=\"#summary\">summary</a> <a href=\"#timeline\">RSS over time</a> "
	      "<a href=\"#flame\">flame graph</a> <a href=\"#functions\">functions</a> <a "
	      "href=\"#threads\">threads</a>",
	      out);
	if (argc - optind > 1)
		fputs(" <a href=\"#process\">process log</a>", out);
	fputs("</nav></header>\n<main>\n", out);
	summary(out, &x);
	timeline(out, &x);
	if ((r = flame(out, &x, &o)) < 0 || (r = tables(out, &x, &o)) < 0) {
		pmt_cli_errno(NULL, r, NULL);
		status = PMT_EXIT_ERROR;
	}
	if (argc - optind > 1 && process(out, argv[optind + 1]))
		status = PMT_EXIT_ERROR;
	fprintf(out,
		"</main>\n<footer>Written by pmt-report (pmt) %s.</footer>\n<script>\n%s%s"
		"</script>\n</body></html>\n",
		PACKAGE_VERSION, pmt_flamegraph_js, pmt_report_js);
	if (fflush(out) || ferror(out)) {
		pmt_cli_error(o.output, "write error");
		status = PMT_EXIT_ERROR;
	}
	if (out != stdout && fclose(out)) {
		pmt_cli_error(o.output, "write error");
		status = PMT_EXIT_ERROR;
	}
	if (x.err) {
		pmt_cli_errno(x.name, x.err, pmt_source_detail(x.src));
		status = PMT_EXIT_ERROR;
	} else if (x.truncated) {
		pmt_cli_incomplete(x.name, x.src, "reported what was readable");
	}
out:
	pmt_flame_free(x.flame);
	pmt_names_free(x.rn.names);
	pmt_timeline_free(x.tl);
	pmt_profile_free(x.prof);
	pmt_source_free(x.src);
	return status;
}
