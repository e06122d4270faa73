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

#include "summarise.h"

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
	printf("Usage: %s [OPTION]... LOG...\n"
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
	       "                       types rss_growth and calls (and the heap and object\n"
	       "                       weights of heap and object logs), a pid label on each\n"
	       "                       sample\n"
	       "  -o, --output FILE    write to FILE instead of standard output\n"
	       "      --each           several logs: each log's own tables too, as it is read\n"
	       "      --top N          functions to list (default 20, 0 for all)\n"
	       "      --sort KEY       order functions by self (default), inclusive or calls\n"
	       "      --folded         print folded stacks weighted by positive RSS growth\n"
	       "                       (flamegraph.pl, speedscope) instead of tables\n"
	       "      --weight W       folded stacks weighted by rss (default) or calls, or, for\n"
	       "                       a heap log, alloc (bytes allocated), live (bytes live\n"
	       "                       at the heap's peak) or leaked (bytes still live at the\n"
	       "                       end), or, for an object log, objects (objects created)\n"
	       "                       or live-objects (objects created and alive at the end)\n"
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
				pmt_cli_usage_error("invalid --weight '%s' (rss, calls, alloc, "
						    "live, leaked, objects "
						    "or live-objects)",
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

int emit(struct printer *p, const char *key, struct pmt_table *t)
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
	} else if (d->live) {
		pmt_cli_live(name, d->events);
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

/* One log into the run: 0, 1 when it cannot be (said already), or -errno. */
static int run_log(struct run_out *ro, struct printer *p, struct result *x, unsigned idx,
		   unsigned n, const struct summarise_opts *o)
{
	int r = 0;
	ro->logs_read++;
	if (ro->flame || ro->pprof) {
		struct pmt_names *names = NULL;
		/* a heap or object weight of a log without those records: an
		 * error, not an empty output */
		if (ro->flame && pmt_weight_defs[o->weight].source != PMT_ITEM_EVENT &&
		    !pmt_profile_has_weight(x->prof, o->weight)) {
			pmt_cli_no_weight(x->name, o->weight);
			return 1;
		}
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
		if ((r = run_log(&ro, &p, &cur, i, (unsigned)n, &o)) != 0) {
			if (r < 0)
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
