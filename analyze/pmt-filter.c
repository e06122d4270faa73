/* SPDX-License-Identifier: MIT */
/* pmt-filter: select events of a pmt or pymemtrace log and print them in
 * pymemtrace's layout, as csv or json lines, or write them as a pmt log.
 *
 * --drss follows the tracer's trigger (pymemtrace-facts §1.7): an event is
 * kept when its RSS differs by at least N bytes from the RSS at the last
 * KEPT event (at the start, the log's starting RSS). The other criteria are
 * tested first, so with --match the reference is the last kept match. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/errors.h>
#include <libpmt/core/pages.h>
#include <libpmt/read/regex.h>
#include <libpmt/read/source.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/event-format.h>
#include <libpmt/report/log-copy.h>
#include <libpmt/report/table.h>

struct filter_opts {
	int64_t drss; /* -1 one page; 0 off */
	bool has_drss;
	unsigned prev;
	const char *match, *file;
	unsigned kinds; /* bit per kind; 0 = all */
	const char *thread;
	uint64_t from, to;
	const char *output;
	bool force;
	enum pmt_format format;
	int64_t size_min; /* allocator calls of at least this many bytes; -1 off */
	bool objects;	  /* print object records (--objects, --type) */
	const char *type; /* --type REGEX */
};

enum {
	OPT_DRSS = 256,
	OPT_PREV,
	OPT_MATCH,
	OPT_FILE,
	OPT_EVENT,
	OPT_THREAD,
	OPT_FROM,
	OPT_TO,
	OPT_FORMAT,
	OPT_FORCE,
	OPT_SIZE_MIN,
	OPT_OBJECTS,
	OPT_TYPE,
};

static const struct option longopts[] = {
    {"drss", required_argument, NULL, OPT_DRSS},
    {"prev", optional_argument, NULL, OPT_PREV},
    {"match", required_argument, NULL, OPT_MATCH},
    {"file", required_argument, NULL, OPT_FILE},
    {"event", required_argument, NULL, OPT_EVENT},
    {"thread", required_argument, NULL, OPT_THREAD},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, 'o'},
    {"force", no_argument, NULL, OPT_FORCE},
    {"size-min", required_argument, NULL, OPT_SIZE_MIN},
    PMT_CLI_THREADS_OPTION,
    {"objects", no_argument, NULL, OPT_OBJECTS},
    {"type", required_argument, NULL, OPT_TYPE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void usage(void)
{
	printf(
	    "Usage: %s [OPTION]... [LOG]\n"
	    "Print the events of a pmt log or a pymemtrace Profile/Trace log that match all\n"
	    "the criteria given (every event when none is), in pymemtrace's column layout.\n"
	    "LOG may be zstd-compressed; without LOG, or when LOG is -, read standard input.\n"
	    "\n"
	    "Criteria:\n"
	    "      --drss N         keep events whose RSS differs by at least N bytes from the\n"
	    "                       RSS at the last kept event (-1: one page; suffixes k, M, G)\n"
	    "      --prev[=K]       also print the K events (default 1) before each kept one\n"
	    "      --match REGEX    function name matches REGEX (PCRE2)\n"
	    "      --file REGEX     file name matches REGEX (PCRE2)\n"
	    "      --event KINDS    comma list of CALL,RETURN,C_CALL,C_RETURN,C_EXCEPTION,\n"
	    "                       LINE,EXCEPTION,OPCODE\n"
	    "      --thread T       thread index (0 is the first thread) or thread name\n"
	    "      --from EVENT     first event number to consider\n"
	    "      --to EVENT       last event number to consider\n"
	    "      --size-min N     heap logs: print the allocator calls that asked for at\n"
	    "                       least N bytes instead of events (0: every call, frees\n"
	    "                       included); --match, --file, --thread, --from and --to\n"
	    "                       then apply to the call's site\n"
	    "      --objects        object logs (--objects, ReferenceTracing): print the\n"
	    "                       objects created and destroyed, in pymemtrace's NEW:/DEL:\n"
	    "                       layout; --match, --file, --thread, --from, --to apply to\n"
	    "                       the site\n"
	    "      --type REGEX     with --objects (implied): only types matching REGEX\n"
	    "\n"
	    "Output:\n"
	    "      --format FMT     text (default), csv or json (one object per line)\n"
	    "  -o, --output FILE    write a pmt log (zstd) instead; dropped events become\n"
	    "                       SKIP records, so event numbers stay exact\n"
	    "      --force          overwrite FILE if it exists\n"
	    "      --threads N      threads that decompress a pmt log ahead of reading it\n"
	    "                       (default: one per CPU; 1: the reading thread alone)\n"
	    "  -h, --help           show this help and exit\n"
	    "  -V, --version        show the version and exit\n"
	    "\n"
	    "Exit status: 0 when an event was kept, 1 when none was, 2 on error. A cut log, or\n"
	    "one still being written, is read up to its last complete frame, with a warning.\n",
	    pmt_cli_prog());
}

static unsigned parse_kinds(const char *arg)
{
	unsigned mask = 0;
	const char *p = arg;
	while (*p) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		int k = pmt_kind_parse(p, (unsigned)n);
		if (k < 0)
			pmt_cli_usage_error("unknown event kind '%.*s'", (int)n, p);
		mask |= 1u << k;
		p += n;
		if (*p)
			p++;
	}
	if (!mask)
		pmt_cli_usage_error("--event needs at least one kind");
	return mask;
}

static void parse_args(int argc, char **argv, struct filter_opts *o, const char **path)
{
	int c;
	o->to = UINT64_MAX;
	o->size_min = -1;
	while ((c = getopt_long(argc, argv, "o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DRSS:
			if (pmt_cli_parse_bytes(optarg, &o->drss) < 0)
				pmt_cli_usage_error("invalid --drss '%s'", optarg);
			o->has_drss = true;
			break;
		case OPT_PREV:
			o->prev = 1;
			if (optarg)
				o->prev = (unsigned)pmt_cli_range("prev", optarg, 0, 100000);
			break;
		case OPT_MATCH:
			o->match = optarg;
			break;
		case OPT_FILE:
			o->file = optarg;
			break;
		case OPT_EVENT:
			o->kinds = parse_kinds(optarg);
			break;
		case OPT_THREAD:
			o->thread = optarg;
			break;
		case OPT_FROM:
			if (pmt_cli_parse_u64(optarg, &o->from) < 0)
				pmt_cli_usage_error("invalid --from '%s'", optarg);
			break;
		case OPT_TO:
			if (pmt_cli_parse_u64(optarg, &o->to) < 0)
				pmt_cli_usage_error("invalid --to '%s'", optarg);
			break;
		case OPT_FORMAT:
			o->format = (enum pmt_format)pmt_cli_format(optarg, PMT_CLI_EVENT_FORMATS);
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_OBJECTS:
			o->objects = true;
			break;
		case OPT_TYPE:
			o->objects = true;
			o->type = optarg;
			break;
		case OPT_SIZE_MIN:
			if (pmt_cli_parse_bytes(optarg, &o->size_min) < 0 || o->size_min < 0)
				pmt_cli_usage_error("invalid --size-min '%s'", optarg);
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
	if (o->from > o->to)
		pmt_cli_usage_error("--from is after --to");
	if (o->objects && (o->has_drss || o->kinds || o->prev || o->size_min >= 0 || o->output ||
			   o->format != PMT_FMT_TEXT))
		pmt_cli_usage_error("--objects and --type print object records as text: not with "
				    "--drss, --event, --prev, --size-min, --output or --format");
	if (o->size_min >= 0 && (o->has_drss || o->kinds || o->prev))
		pmt_cli_usage_error("--size-min selects allocator calls: not with --drss, --event "
				    "or --prev");
}

/* Per-code cache of the regex verdicts: each name is matched once. */
struct code_verdict {
	uint8_t *v; /* 0 unknown, 1 keep, 2 drop */
	uint32_t cap;
};

struct filter {
	struct filter_opts *o;
	struct pmt_source *src;
	struct pmt_regex *match, *file;
	struct code_verdict cv;
	int64_t drss; /* resolved */
	/* thread verdict cache */
	uint32_t thread_idx;
	int thread_ok; /* -1 unknown */
	int64_t thread_num;

	/* the reference for dEvent/dRSS: the last kept event */
	bool started;
	uint64_t ref_number;
	int64_t ref_rss;
	uint64_t printed_next; /* events below this number were printed already */
	uint64_t kept;

	/* --prev ring */
	struct pmt_event *ring;
	unsigned ring_n, ring_head;

	struct pmt_log_copy *copy; /* -o */
	FILE *out;
};

static bool code_ok(struct filter *f, uint32_t code)
{
	if (!f->match && !f->file)
		return true;
	if (code >= f->cv.cap) {
		uint32_t cap = f->cv.cap ? f->cv.cap : 1024;
		while (cap <= code)
			cap *= 2;
		uint8_t *v = realloc(f->cv.v, cap);
		if (!v)
			return false;
		memset(v + f->cv.cap, 0, cap - f->cv.cap);
		f->cv.v = v;
		f->cv.cap = cap;
	}
	uint8_t *v = &f->cv.v[code];
	if (*v)
		return *v == 1;
	const struct pmt_code *c = pmt_source_code(f->src, code);
	bool ok = true;
	if (f->match)
		ok = c && pmt_regex_match(f->match, c->name, c->name_len);
	if (ok && f->file)
		ok = c && pmt_regex_match(f->file, c->file, c->file_len);
	*v = ok ? 1 : 2;
	return ok;
}

static bool thread_ok(struct filter *f, uint32_t idx)
{
	if (!f->o->thread)
		return true;
	if (f->thread_ok >= 0 && idx == f->thread_idx)
		return f->thread_ok;
	bool ok;
	if (f->thread_num >= 0) {
		ok = idx == (uint64_t)f->thread_num;
	} else {
		const struct pmt_thread *t = pmt_source_thread(f->src, idx);
		ok = t && !strcmp(t->name, f->o->thread);
	}
	/* a thread may be named after its first events: re-check on change only */
	f->thread_idx = idx;
	f->thread_ok = ok;
	return ok;
}

static int print_event(struct filter *f, const struct pmt_event *ev, const char *tag)
{
	if (f->copy)
		return pmt_log_copy_event(f->copy, ev);
	struct pmt_evline l = {
	    .tag = tag,
	    .number = ev->number,
	    .devent = (int64_t)(ev->number - f->ref_number),
	    .time_ns = ev->time_ns,
	    .kind = ev->kind,
	    .line = ev->line,
	    .rss = ev->rss,
	    .drss = ev->rss - f->ref_rss,
	    .thread = ev->thread,
	};
	pmt_evline_code(&l, f->src, ev->code);
	switch (f->o->format) {
	case PMT_FMT_CSV:
		return pmt_evfmt_csv(f->out, &l);
	case PMT_FMT_JSON:
		return pmt_evfmt_json(f->out, &l);
	default:
		return pmt_evfmt_text(f->out, &l);
	}
}

static int print_message(struct filter *f, const struct pmt_item *it)
{
	if (f->copy)
		return pmt_log_copy_message(f->copy, it);
	switch (f->o->format) {
	case PMT_FMT_CSV:
		return pmt_evfmt_csv_message(f->out, it->ev.number, it->ev.time_ns, it->text,
					     it->text_len);
	case PMT_FMT_JSON:
		return pmt_evfmt_json_message(f->out, it->ev.number, it->ev.time_ns, it->text,
					      it->text_len);
	default:
		return pmt_evfmt_message(f->out, it->ev.number,
					 (int64_t)(it->ev.number - f->ref_number), it->ev.time_ns,
					 it->text, it->text_len);
	}
}

/* Prints the ring's events that come after what was printed already. */
static int flush_ring(struct filter *f)
{
	unsigned n = f->ring_n < f->o->prev ? f->ring_n : f->o->prev;
	for (unsigned i = 0; i < n; i++) {
		unsigned j = (f->ring_head + f->o->prev - n + i) % f->o->prev;
		const struct pmt_event *p = &f->ring[j];
		if (p->number < f->printed_next)
			continue;
		int r = print_event(f, p, "PREV: ");
		if (r < 0)
			return r;
	}
	f->ring_n = 0;
	return 0;
}

/* --size-min: allocator calls that asked for at least that many bytes
 * (--size-min 0: every call, frees included), whose site passes --match,
 * --file, --thread, --from and --to. */
static int run_allocs(struct filter *f)
{
	struct pmt_item it;
	const struct filter_opts *o = f->o;
	int r;
	while ((r = pmt_source_next(f->src, &it)) > 0) {
		if (it.type != PMT_ITEM_ALLOC)
			continue;
		const struct pmt_alloc *a = &it.alloc;
		if (it.ev.number < o->from)
			continue;
		if (it.ev.number > o->to)
			break;
		if (o->size_min > 0 &&
		    (!pmt_alloc_has_size(a->op) || a->size < (uint64_t)o->size_min))
			continue;
		if (o->thread && !thread_ok(f, a->site.thread))
			continue;
		if ((o->match || o->file) && !code_ok(f, a->site.code))
			continue;
		if (f->copy)
			r = pmt_log_copy_alloc(f->copy, &it);
		else if (o->format == PMT_FMT_CSV)
			r = pmt_evfmt_alloc_csv(f->out, &it, f->src);
		else if (o->format == PMT_FMT_JSON)
			r = pmt_evfmt_alloc_json(f->out, &it, f->src);
		else
			r = pmt_evfmt_alloc_text(f->out, &it, f->src);
		if (r < 0)
			return r;
		f->kept++;
	}
	return r;
}

/* --objects: pymemtrace's ReferenceTracing lines, LiveCnt per type name
 * and dRSS against the previous line printed. */
static int run_objects(struct filter *f, struct pmt_regex *type)
{
	struct pmt_item it;
	const struct filter_opts *o = f->o;
	struct pmt_pages live = {.elem = sizeof(int64_t)}; /* LiveCnt by type id */
	int64_t last_rss = 0;
	bool any = false;
	int r;
	while ((r = pmt_source_next(f->src, &it)) > 0) {
		if (it.type != PMT_ITEM_OBJECT)
			continue;
		const struct pmt_object *ob = &it.obj;
		int64_t *n = pmt_pages_at(&live, ob->type);
		if (!n) {
			r = -ENOMEM;
			break;
		}
		*n += ob->op == PMT_OBJECT_NEW ? 1 : -1;
		if (it.ev.number < o->from)
			continue;
		if (it.ev.number > o->to)
			break;
		const char *name = pmt_source_name(f->src, ob->type);
		if (type && !pmt_regex_match(type, name, strlen(name)))
			continue;
		if (o->thread && !thread_ok(f, ob->site.thread))
			continue;
		if ((o->match || o->file) && !code_ok(f, ob->site.code))
			continue;
		const struct pmt_code *c =
		    ob->site.code ? pmt_source_code(f->src, ob->site.code) : NULL;
		char addr[32];
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)ob->addr);
		printf("%s %12.6f %16s %16lld %-32s %-80s %4u %-40s %16lld %16lld\n",
		       ob->op == PMT_OBJECT_NEW ? "NEW:" : "DEL:", (double)ob->time_ns / 1e9, addr,
		       (long long)*n, name, c ? c->file : "", ob->site.line, c ? c->name : "",
		       (long long)ob->rss, (long long)(any ? ob->rss - last_rss : 0));
		last_rss = ob->rss;
		any = true;
		f->kept++;
	}
	pmt_pages_free(&live);
	return r;
}

/* One item of run(): 0 to go on, 1 when past --to, -errno. */
static int filter_item(struct filter *f, const struct pmt_item *it, bool has_code, bool any_select)
{
	const struct filter_opts *o = f->o;
	int r;
	if (__builtin_expect(it->type != PMT_ITEM_EVENT, 0)) {
		if (it->type == PMT_ITEM_MESSAGE && !any_select && it->ev.number >= o->from &&
		    it->ev.number <= o->to) {
			if ((r = print_message(f, it)) < 0)
				return r;
		}
		return 0;
	}
	const struct pmt_event *ev = &it->ev;
	if (__builtin_expect(!f->started, 0)) {
		/* the reference before any kept event: the log's start */
		f->started = true;
		f->ref_rss = ev->rss - ev->drss;
		f->ref_number = 0;
	}
	if (__builtin_expect(ev->flags & PMT_EV_LAST, 0)) {
		/* pymemtrace's exit snapshot: not an event, its number is the
		 * count of events; shown only in a plain dump */
		if (!any_select && !o->output && ev->number >= o->from && ev->number <= o->to &&
		    (r = print_event(f, ev, "LAST: ")) < 0)
			return r;
		return 0;
	}
	if (ev->number < o->from)
		return 0;
	if (ev->number > o->to)
		return 1;
	if (o->thread && !thread_ok(f, ev->thread))
		return 0;
	bool keep = true;
	if (o->kinds && !(o->kinds & (1u << ev->kind)))
		keep = false;
	else if (has_code && !code_ok(f, ev->code))
		keep = false;
	else if (o->has_drss) {
		int64_t d = ev->rss - f->ref_rss;
		if (d < 0)
			d = -d;
		keep = d >= f->drss;
	}
	if (!keep) {
		if (o->prev) {
			f->ring[f->ring_head] = *ev;
			f->ring_head = (f->ring_head + 1) % o->prev;
			if (f->ring_n < o->prev)
				f->ring_n++;
		}
		return 0;
	}
	if (o->prev && (r = flush_ring(f)) < 0)
		return r;
	if ((r = print_event(f, ev, ev->flags & PMT_EV_FIRST ? "FRST: " : "NEXT: ")) < 0)
		return r;
	f->kept++;
	f->ref_number = ev->number;
	f->ref_rss = ev->rss;
	f->printed_next = ev->number + 1;
	return 0;
}

static int run(struct filter *f)
{
	struct pmt_item it[PMT_SOURCE_BATCH];
	const struct filter_opts *o = f->o;
	const bool has_code = o->match || o->file;
	const bool any_select = o->has_drss || has_code || o->kinds || o->thread;
	int r, n;
	if (o->size_min >= 0)
		return run_allocs(f);
	while ((r = n = pmt_source_next_batch(f->src, it, PMT_SOURCE_BATCH)) > 0)
		for (int i = 0; i < n; i++)
			if ((r = filter_item(f, &it[i], has_code, any_select)) != 0)
				return r;
	return r;
}

static int open_output(const char *path, bool force)
{
	if (!strcmp(path, "-"))
		return dup(1);
	int fl = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
	int fd = open(path, fl, 0644);
	return fd < 0 ? -errno : fd;
}

int main(int argc, char **argv)
{
	struct filter_opts o = {0};
	struct filter f = {.o = &o, .thread_ok = -1, .thread_num = -1, .out = stdout};
	const char *path;
	int status = PMT_EXIT_ERROR, r;
	char err[256];
	static char obuf[1 << 16];

	pmt_cli_set_prog(argv[0]);
	argv[0] = (char *)pmt_cli_prog(); /* getopt says "pmt-x: ...", not the path */
	parse_args(argc, argv, &o, &path);
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	if (o.match && pmt_regex_new(o.match, &f.match, err, sizeof(err)) < 0)
		pmt_cli_usage_error("--match: %s", err);
	if (o.file && pmt_regex_new(o.file, &f.file, err, sizeof(err)) < 0)
		pmt_cli_usage_error("--file: %s", err);
	if (o.thread) {
		uint64_t u;
		if (pmt_cli_parse_u64(o.thread, &u) == 0 && u < UINT32_MAX)
			f.thread_num = (int64_t)u;
	}
	if (o.prev && !(f.ring = calloc(o.prev, sizeof(*f.ring)))) {
		pmt_cli_errno(NULL, -ENOMEM, NULL);
		goto out;
	}

	r = pmt_source_open(path, &f.src);
	if (r < 0) {
		pmt_cli_errno(strcmp(path, "-") ? path : "(stdin)", r, NULL);
		goto out;
	}
	pmt_cli_progress(pmt_source_input(f.src));
	const char *name = pmt_input_path(pmt_source_input(f.src));
	const struct pmt_header *h = pmt_source_header(f.src);
	f.drss = o.drss == -1 ? (int64_t)(h->page_size ? h->page_size : 4096) : o.drss;
	/* An event that leaves RSS as it was is never kept by --drss alone (RSS
	 * stays as far from the reference as at the event before), so the
	 * reader may leave those out. Not with --prev (they are previous
	 * events), another selection, or --from (the first event at --from is
	 * kept when RSS moved before it). */
	if (o.has_drss && f.drss > 0 && !o.prev && !o.match && !o.file && !o.kinds && !o.thread &&
	    o.from == 0 && o.size_min < 0 && !o.objects)
		pmt_source_skip_flat(f.src, true);

	if (o.output) {
		int fd = open_output(o.output, o.force);
		if (fd < 0) {
			pmt_cli_errno(o.output, fd, NULL);
			goto out;
		}
		int64_t trig = o.has_drss ? f.drss : h->drss_trigger < 0 ? 0 : h->drss_trigger;
		r = pmt_log_copy_new(fd, f.src, trig, o.prev ? PMT_HDR_PREV : 0, &f.copy);
		if (r < 0) {
			pmt_cli_errno(o.output, r, NULL);
			goto out;
		}
	} else if (o.format == PMT_FMT_CSV) {
		if (o.size_min >= 0)
			pmt_evfmt_alloc_csv_header(stdout);
		else
			pmt_evfmt_csv_header(stdout);
	} else if (o.format == PMT_FMT_TEXT) {
		if (o.objects)
			printf("HDR: %12s %16s %16s %-32s %-80s %4s %-40s %16s %16s\n", "Clock",
			       "Address", "LiveCnt", "Type", "File", "Line", "Function", "RSS",
			       "dRSS");
		else if (o.size_min >= 0)
			pmt_evfmt_alloc_header(stdout);
		else
			pmt_evfmt_header(stdout);
	}

	struct pmt_regex *type = NULL;
	if (o.type && pmt_regex_new(o.type, &type, err, sizeof(err)) < 0)
		pmt_cli_usage_error("--type: %s", err);
	r = o.objects ? run_objects(&f, type) : run(&f);
	pmt_regex_free(type);
	bool truncated = r >= 0 && pmt_source_truncated(f.src);
	if (o.output && r >= 0) {
		/* the whole log, so SKIP brings the count to the input's */
		uint64_t total = pmt_source_events(f.src);
		if (o.to != UINT64_MAX && o.to + 1 < total)
			total = o.to + 1;
		int w = pmt_log_copy_close(f.copy, total, truncated);
		if (w < 0) {
			pmt_cli_errno(o.output, w, NULL);
			goto out;
		}
	} else if (o.format == PMT_FMT_TEXT && r >= 0 && !truncated && !o.output) {
		/* what pymemtrace ends a complete log with */
		fputs("EOF\n", stdout);
	}
	if (fflush(stdout) || ferror(stdout)) {
		pmt_cli_error(NULL, "write error");
		goto out;
	}
	if (r < 0) {
		const char *d = pmt_source_detail(f.src);
		pmt_cli_errno(name, r, d);
		goto out;
	}
	if (truncated)
		pmt_cli_incomplete(name, f.src, "printed everything before the cut");
	status = f.kept ? PMT_EXIT_OK : PMT_EXIT_NO;
out:
	pmt_log_copy_free(f.copy);
	pmt_source_free(f.src);
	pmt_regex_free(f.match);
	pmt_regex_free(f.file);
	free(f.cv.v);
	free(f.ring);
	return status;
}
