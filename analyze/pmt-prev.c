/* SPDX-License-Identifier: MIT */
/* pmt-prev: the "RSS changes >= N bytes and previous event" view of the
 * pymemtrace tech note, computed offline: for every event whose RSS differs
 * from the event before it by at least N bytes, the event(s) before it
 * (PREV:) and the event itself (NEXT:).
 *
 * A PREV line is printed only when the log holds the event just before
 * (consecutive event numbers). pymemtrace's own PREV: lines are never used:
 * in its 0.2+ logs they repeat the last logged line (pymemtrace-facts §1.7). */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/source.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/event-format.h>
#include <libpmt/report/names.h>
#include <libpmt/report/table.h>

struct prev_opts {
	int64_t drss;
	unsigned context;
	enum pmt_format format;
	bool full_path;
};

enum { OPT_DRSS = 256, OPT_CONTEXT, OPT_FORMAT, OPT_FULL_PATH };

static const struct option longopts[] = {
    {"drss", required_argument, NULL, OPT_DRSS},
    {"context", required_argument, NULL, OPT_CONTEXT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"full-path", no_argument, NULL, OPT_FULL_PATH},
    PMT_CLI_THREADS_OPTION,
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf("Usage: %s [OPTION]... [LOG]\n"
	       "For every event whose RSS differs from the event before it by at least N bytes,\n"
	       "print the event before it (PREV:) and the event (NEXT:), in pymemtrace's layout.\n"
	       "PREV lines come only from events the log really holds: a log written with a\n"
	       "--drss trigger (or by pymemtrace with a trigger) shows NEXT lines only.\n"
	       "LOG may be zstd-compressed; without LOG, or when LOG is -, read standard input.\n"
	       "\n"
	       "      --drss N         RSS change that selects an event, in bytes (default -1:\n"
	       "                       one page; suffixes k, M, G)\n"
	       "      --context K      print up to K events before each (default 1)\n"
	       "      --format FMT     text (default), csv or json (one object per line)\n"
	       "      --full-path      text: file names in full (csv and json always are)\n"
	       "      --threads N      threads that decompress a pmt log ahead of reading it\n"
	       "                       (default: one per CPU; 1: the reading thread alone)\n"
	       "  -h, --help           show this help and exit\n"
	       "  -V, --version        show the version and exit\n"
	       "\n"
	       "Exit status: 0 when an RSS change was found, 1 when none was, 2 on error.\n",
	       pmt_cli_prog());
}

static void parse_args(int argc, char **argv, struct prev_opts *o, const char **path)
{
	int c;
	o->drss = -1;
	o->context = 1;
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRSS:
			if (pmt_cli_parse_bytes(optarg, &o->drss) < 0)
				pmt_cli_usage_error("invalid --drss '%s'", optarg);
			break;
		case OPT_CONTEXT:
			o->context = (unsigned)pmt_cli_range("context", optarg, 0, 100000);
			break;
		case OPT_FULL_PATH:
			o->full_path = true;
			break;
		case OPT_FORMAT:
			o->format = (enum pmt_format)pmt_cli_format(optarg, PMT_CLI_EVENT_FORMATS);
			break;
		case PMT_CLI_OPT_THREADS:
			pmt_cli_threads(optarg);
			break;
		default:
			pmt_cli_common_option(c, usage);
		}
	}
	if (optind + 1 < argc)
		pmt_cli_usage_error("too many arguments");
	*path = optind < argc ? argv[optind] : "-";
}

struct prev {
	const struct prev_opts *o;
	struct pmt_source *src;
	struct pmt_names *names; /* text: short file names */
	int64_t drss;
	struct pmt_event *ring; /* the last K+1 events seen, any thread */
	unsigned ring_n, ring_head, ring_cap;
	uint64_t last_next; /* number of the last NEXT line */
	uint64_t printed_next;
	uint64_t jumps, without_prev;
};

static int print(struct prev *p, const struct pmt_event *ev, const char *tag)
{
	struct pmt_evline l = {
	    .tag = tag,
	    .number = ev->number,
	    .devent = (int64_t)(ev->number - p->last_next),
	    .time_ns = ev->time_ns,
	    .kind = ev->kind,
	    .line = ev->line,
	    .rss = ev->rss,
	    .drss = ev->drss,
	    .thread = ev->thread,
	};
	pmt_evline_code(&l, p->src, ev->code);
	pmt_evline_short(&l, p->names);
	switch (p->o->format) {
	case PMT_FMT_CSV:
		return pmt_evfmt_csv(stdout, &l);
	case PMT_FMT_JSON:
		return pmt_evfmt_json(stdout, &l);
	default:
		return pmt_evfmt_text(stdout, &l);
	}
}

/* What this log can show, said once before the lines. */
static const char *capability(const struct pmt_source *s)
{
	const struct pmt_header *h = pmt_source_header(s);
	if (pmt_source_type(s) == PMT_INPUT_PYMEMTRACE)
		return "pymemtrace log: its own PREV: lines repeat the last logged line, not the "
		       "event before, and are ignored; PREV lines here come only from consecutive "
		       "events (a log written with d_rss_trigger=0 has them all)";
	if (h->drss_trigger == 0 && !(h->flags & PMT_HDR_FILTERED))
		return "every event is in the log: PREV lines are the true previous events";
	if (h->flags & PMT_HDR_PREV)
		return "log written with a --drss trigger and --prev: the event before each kept "
		       "one is in the log";
	return "log written with a --drss trigger or filtered: events before the jumps are "
	       "not in the log, PREV lines appear only where they are";
}

static int run(struct prev *p)
{
	struct pmt_item it;
	int r;
	while ((r = pmt_source_next(p->src, &it)) > 0) {
		if (it.type != PMT_ITEM_EVENT || (it.ev.flags & PMT_EV_LAST))
			continue;
		const struct pmt_event *ev = &it.ev;
		int64_t d = ev->drss < 0 ? -ev->drss : ev->drss;
		/* the first event has no event before it in the log */
		if (d >= p->drss && d > 0 && ev->number > 0) {
			p->jumps++;
			/* consecutive run of ring events ending at ev->number - 1 */
			unsigned have = 0;
			while (have < p->ring_n && have < p->o->context) {
				unsigned j = (p->ring_head + p->ring_cap - 1 - have) % p->ring_cap;
				if (p->ring[j].number != ev->number - 1 - have)
					break;
				have++;
			}
			if (!have)
				p->without_prev++;
			for (unsigned k = have; k-- > 0;) {
				unsigned j = (p->ring_head + p->ring_cap - 1 - k) % p->ring_cap;
				if (p->ring[j].number < p->printed_next)
					continue;
				if ((r = print(p, &p->ring[j], "PREV: ")) < 0)
					return r;
			}
			if ((r = print(p, ev, "NEXT: ")) < 0)
				return r;
			p->last_next = ev->number;
			p->printed_next = ev->number + 1;
		}
		p->ring[p->ring_head] = *ev;
		p->ring_head = (p->ring_head + 1) % p->ring_cap;
		if (p->ring_n < p->ring_cap)
			p->ring_n++;
	}
	return r;
}

int main(int argc, char **argv)
{
	struct prev_opts o = {0};
	struct prev p = {.o = &o};
	const char *path;
	int status = PMT_EXIT_ERROR;
	static char obuf[1 << 16];

	pmt_cli_set_prog(argv[0]);
	argv[0] = (char *)pmt_cli_prog(); /* getopt says "pmt-x: ...", not the path */
	parse_args(argc, argv, &o, &path);
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	p.ring_cap = o.context ? o.context : 1;
	p.ring = calloc(p.ring_cap, sizeof(*p.ring));
	if (!p.ring) {
		pmt_cli_errno(NULL, -ENOMEM, NULL);
		return PMT_EXIT_ERROR;
	}
	int r = pmt_source_open(path, &p.src);
	if (r < 0) {
		pmt_cli_errno(strcmp(path, "-") ? path : "(stdin)", r, NULL);
		goto out;
	}
	pmt_cli_progress(pmt_source_input(p.src));
	const char *name = pmt_input_path(pmt_source_input(p.src));
	const struct pmt_header *h = pmt_source_header(p.src);
	p.drss = o.drss == -1 ? (int64_t)(h->page_size ? h->page_size : 4096) : o.drss;
	if (o.format == PMT_FMT_TEXT && !o.full_path &&
	    (r = pmt_names_new(p.src, false, &p.names)) < 0) {
		pmt_cli_errno(NULL, r, NULL);
		goto out;
	}
	const char *cap = capability(p.src);
	pmt_cli_note(name, "%s", cap);
	if (o.format == PMT_FMT_TEXT) {
		/* before HDR:, as pymemtrace's opening message would be */
		printf("RSS changes >= %lld bytes and the event before each, from %s\n",
		       (long long)p.drss, name);
		printf("%s\n", cap);
		pmt_evfmt_header(stdout);
	} else if (o.format == PMT_FMT_CSV) {
		pmt_evfmt_csv_header(stdout);
	}
	r = run(&p);
	if (fflush(stdout) || ferror(stdout)) {
		pmt_cli_error(NULL, "write error");
		goto out;
	}
	if (p.without_prev)
		pmt_cli_note(name, "%llu of %llu RSS changes have no previous event in the log",
			     (unsigned long long)p.without_prev, (unsigned long long)p.jumps);
	const char *d = pmt_source_detail(p.src);
	if (r < 0) {
		pmt_cli_errno(name, r, d);
		goto out;
	}
	if (pmt_source_truncated(p.src))
		pmt_cli_incomplete(name, p.src, "printed everything before the cut");
	status = p.jumps ? PMT_EXIT_OK : PMT_EXIT_NO;
out:
	pmt_names_free(p.names);
	pmt_source_free(p.src);
	free(p.ring);
	return status;
}
