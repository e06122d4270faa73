/* SPDX-License-Identifier: MIT */
/* pmt-flamegraph LOG... -o out.svg: an interactive, self-contained SVG flame
 * graph of where RSS grew (or another weight), the stacks of several logs
 * merged; --diff OLD NEW colours the change between two runs. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/source.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/flame.h>
#include <libpmt/report/names.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/run.h>

#include "flame-svg.h"

struct flamegraph_opts {
	const char *output;
	enum pmt_weight weight;
	bool diff, icicle, all_frames, full_path;
	const char *title;
	double min_width;
	unsigned width;
};

enum {
	OPT_WEIGHT = 256,
	OPT_DIFF,
	OPT_ICICLE,
	OPT_TITLE,
	OPT_MIN_WIDTH,
	OPT_WIDTH,
	OPT_ALL_FRAMES,
	OPT_FULL_PATH
};

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"weight", required_argument, NULL, OPT_WEIGHT},
    {"diff", no_argument, NULL, OPT_DIFF},
    {"icicle", no_argument, NULL, OPT_ICICLE},
    {"title", required_argument, NULL, OPT_TITLE},
    {"min-width", required_argument, NULL, OPT_MIN_WIDTH},
    {"width", required_argument, NULL, OPT_WIDTH},
    {"all-frames", no_argument, NULL, OPT_ALL_FRAMES},
    {"full-path", no_argument, NULL, OPT_FULL_PATH},
    PMT_CLI_THREADS_OPTION,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf("Usage: %s [OPTION]... LOG... [-o OUT.svg]\n"
	       "   or: %s --diff [OPTION]... OLD NEW [-o OUT.svg]\n"
	       "A LOG, OLD or NEW may be a directory: the logs of a run in it (*.log.zst,\n"
	       "*.log, *.zst; e.g. those of pmt_tracer --follow-children), merged.\n"
	       "Draw a flame graph of where RSS grew: each frame is as wide as the positive\n"
	       "RSS growth of its call path (the stacks of pmt-summarise --folded; several\n"
	       "logs are merged). One SVG file with no external parts: hover for details,\n"
	       "click to zoom, search. --diff: widths from NEW, red where a frame grew more\n"
	       "than in OLD, blue where it grew less.\n"
	       "LOG may be zstd-compressed; - is standard input.\n"
	       "\n"
	       "  -o, --output FILE    write the SVG to FILE (default: standard output)\n"
	       "      --weight W       what widths show:\n",
	       pmt_cli_prog(), pmt_cli_prog());
	for (unsigned w = 0; w < PMT_WEIGHT_COUNT; w++)
		printf("                       %-12s %s\n", pmt_weight_defs[w].name,
		       pmt_weight_defs[w].help);
	printf("      --diff           compare two logs: OLD NEW\n"
	       "      --icicle         the root at the top, stacks growing down\n"
	       "      --title TEXT     the title (default: what the widths show)\n"
	       "      --min-width PX   leave out frames narrower than PX pixels (default 0.1)\n"
	       "      --width PX       picture width (default 1200)\n"
	       "      --full-path      file names in full\n"
	       "      --all-frames     keep the tracer's own frames (its launcher, runpy)\n"
	       "      --threads N      threads that decompress a pmt log ahead of reading it\n"
	       "                       (default: one per CPU; 1: the reading thread alone)\n"
	       "  -h, --help           show this help and exit\n"
	       "  -V, --version        show the version and exit\n"
	       "\n"
	       "Exit status: 0 on success (a truncated log is a warning), 2 on error.\n");
}

static void parse_args(int argc, char **argv, struct flamegraph_opts *o)
{
	int c;
	o->min_width = 0.1;
	o->width = 1200;
	while ((c = getopt_long(argc, argv, "o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case OPT_WEIGHT: {
			int w = pmt_weight_parse(optarg);
			if (w < 0)
				pmt_cli_usage_error("invalid --weight '%s'", optarg);
			o->weight = (enum pmt_weight)w;
			break;
		}
		case OPT_DIFF:
			o->diff = true;
			break;
		case OPT_ICICLE:
			o->icicle = true;
			break;
		case OPT_TITLE:
			o->title = optarg;
			break;
		case OPT_MIN_WIDTH: {
			char *end;
			o->min_width = strtod(optarg, &end);
			if (end == optarg || *end || !(o->min_width >= 0 && o->min_width <= 1000))
				pmt_cli_usage_error("invalid --min-width '%s' (0 to 1000 pixels)",
						    optarg);
			break;
		}
		case OPT_WIDTH:
			o->width = (unsigned)pmt_cli_range("width", optarg, 200, 100000);
			break;
		case OPT_ALL_FRAMES:
			o->all_frames = true;
			break;
		case OPT_FULL_PATH:
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
	if (o->diff && argc - optind != 2)
		pmt_cli_usage_error("--diff compares two logs: OLD NEW");
}

static const char *shown(const char *arg) { return strcmp(arg, "-") ? arg : "(stdin)"; }

/* Reads one log into side of f. 0, or 2 after reporting an error (what was
 * read is still added, unless nothing could be). */
static int add_log(struct pmt_flame *f, const char *arg, unsigned side,
		   const struct flamegraph_opts *o, int64_t *total)
{
	const char *name = shown(arg);
	struct pmt_source *src = NULL;
	struct pmt_profile *prof = NULL;
	struct pmt_names *names = NULL;
	struct pmt_input *in;
	int status = 0;
	int r = pmt_input_open(arg, &in);
	if (r < 0) {
		pmt_cli_errno(name, r, NULL);
		return 2;
	}
	pmt_cli_progress(in);
	r = pmt_source_new(in, &src);
	if (r < 0) {
		pmt_cli_error(name, "%s%s", pmt_strerror(r),
			      r == PMT_E_TYPE ? " (not a pmt or pymemtrace event log)" : "");
		pmt_input_free(in);
		return 2;
	}
	r = pmt_profile_new(pmt_source_header(src)->page_size, 1u << o->weight, &prof);
	struct pmt_item it[PMT_SOURCE_BATCH];
	int n;
	while (r >= 0 && (r = n = pmt_source_next_batch(src, it, PMT_SOURCE_BATCH)) > 0)
		r = pmt_profile_items(prof, it, (unsigned)n);
	int read_err = r;
	if (prof) {
		pmt_profile_finish(prof);
		if (!pmt_profile_has_weight(prof, o->weight)) {
			pmt_cli_no_weight(name, o->weight);
			status = 2;
		} else if ((r = pmt_names_new(src, o->full_path, &names)) < 0 ||
			   (r = pmt_flame_add(f, prof, src, names, side, o->all_frames)) < 0) {
			pmt_cli_errno(name, r, NULL);
			status = 2;
		}
		/* a ReferenceTracing log has objects and no events */
		if (pmt_profile_totals(prof)->any || pmt_profile_has_weight(prof, o->weight))
			*total += 1;
		if (pmt_profile_totals(prof)->cut_paths)
			pmt_cli_note(
			    name, "more than %u call paths: the rarest are drawn as their callers",
			    PMT_PROFILE_MAX_PATHS);
	}
	if (read_err < 0) {
		pmt_cli_errno(name, read_err, pmt_source_detail(src));
		status = 2;
	} else if (pmt_source_truncated(src)) {
		pmt_cli_incomplete(name, src, "drew what was readable");
	}
	pmt_names_free(names);
	pmt_profile_free(prof);
	pmt_source_free(src);
	return status;
}

static const char *base(const char *arg)
{
	const char *s = strrchr(arg, '/');
	return !strcmp(arg, "-") ? "stdin" : s && s[1] ? s + 1 : arg;
}

int main(int argc, char **argv)
{
	struct flamegraph_opts o = {0};
	int status = PMT_EXIT_OK;

	pmt_cli_set_prog(argv[0]);
	argv[0] = (char *)pmt_cli_prog(); /* getopt says "pmt-x: ...", not the path */
	parse_args(argc, argv, &o);

	struct pmt_flame *f;
	int r = pmt_flame_new(o.weight, &f);
	if (r < 0) {
		pmt_cli_errno(NULL, r, NULL);
		return PMT_EXIT_ERROR;
	}
	/* a directory stands for the logs in it (a run): each read in turn */
	unsigned n = (unsigned)(argc - optind);
	int64_t readable = 0;
	for (unsigned i = 0; i < n; i++) {
		struct pmt_run_entry *ent;
		size_t ne;
		unsigned dirs;
		if ((r = pmt_run_expand(argv + optind + i, 1, &ent, &ne, &dirs)) < 0) {
			pmt_cli_errno(NULL, r, NULL);
			pmt_flame_free(f);
			return PMT_EXIT_ERROR;
		}
		int64_t before = readable;
		for (size_t k = 0; k < ne; k++) {
			if (ent[k].err) {
				pmt_cli_errno(ent[k].path, ent[k].err,
					      ent[k].err == PMT_E_EMPTY
						  ? "no logs (*.log.zst, *.log, *.zst)"
						  : NULL);
				status = PMT_EXIT_ERROR;
			} else if (add_log(f, ent[k].path, o.diff ? i : 0, &o, &readable)) {
				status = PMT_EXIT_ERROR;
			}
		}
		/* --diff: a side counts once, however many logs it has */
		if (o.diff && readable > before)
			readable = before + 1;
		pmt_run_entries_free(ent, ne);
	}
	/* a comparison needs both sides */
	if (!readable || (o.diff && readable < 2) || (r = pmt_flame_finish(f)) < 0) {
		if (r < 0)
			pmt_cli_errno(NULL, r, NULL);
		pmt_flame_free(f);
		return PMT_EXIT_ERROR;
	}

	const struct pmt_weight_def *wd = &pmt_weight_defs[o.weight];
	char title[1024], sub[2048], v[48], v2[48];
	unsigned side = o.diff ? 1 : 0;
	flame_value(v, sizeof(v), o.weight, pmt_flame_node(f, 0)->total[side]);
	if (o.diff) {
		flame_value(v2, sizeof(v2), o.weight, pmt_flame_node(f, 0)->total[0]);
		snprintf(title, sizeof(title), "%s: NEW against OLD", wd->title);
		snprintf(sub, sizeof(sub), "NEW %s: %s; OLD %s: %s", base(argv[optind + 1]), v,
			 base(argv[optind]), v2);
	} else {
		snprintf(title, sizeof(title), "%s", wd->title);
		if (n <= 3) {
			size_t k = 0;
			for (unsigned i = 0; i < n && k < sizeof(sub); i++)
				k += (size_t)snprintf(sub + k, sizeof(sub) - k, "%s%s",
						      i ? ", " : "", base(argv[optind + i]));
			if (k < sizeof(sub))
				snprintf(sub + k, sizeof(sub) - k, ": %s", v);
		} else {
			snprintf(sub, sizeof(sub), "%u logs: %s", n, v);
		}
	}
	int64_t hidden = pmt_flame_hidden(f, side);
	if (hidden > 0) {
		size_t k = strlen(sub);
		flame_value(v, sizeof(v), o.weight, hidden);
		snprintf(sub + k, sizeof(sub) - k, "; %s in the tracer's own frames not shown", v);
	}
	struct flame_svg_opts so = {
	    .width = o.width,
	    .min_width = o.min_width,
	    .icicle = o.icicle,
	    .diff = o.diff,
	    .standalone = true,
	    .title = o.title ? o.title : title,
	    .subtitle = sub,
	};
	FILE *out = stdout;
	if (o.output && strcmp(o.output, "-") && !(out = fopen(o.output, "w"))) {
		pmt_cli_errno(o.output, -errno, NULL);
		pmt_flame_free(f);
		return PMT_EXIT_ERROR;
	}
	r = flame_svg_write(out, f, &so);
	if (fflush(out) || ferror(out) || r < 0) {
		pmt_cli_error(o.output ? o.output : NULL, "%s",
			      r < 0 && r != -EIO ? pmt_strerror(r) : "write error");
		status = PMT_EXIT_ERROR;
	}
	if (out != stdout && fclose(out)) {
		pmt_cli_error(o.output, "write error");
		status = PMT_EXIT_ERROR;
	}
	pmt_flame_free(f);
	return status;
}
