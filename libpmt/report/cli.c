/* SPDX-License-Identifier: MIT */
/* Shared command-line behaviour of the pmt-* tools. The one place outside
 * main() that writes to stderr/stdout or exits. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/input.h>
#include <libpmt/read/source.h>
#include <libpmt/report/cli.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/table.h>

static const char *prog = "pmt";

void pmt_cli_set_prog(const char *argv0)
{
	if (!argv0 || !*argv0)
		return;
	const char *slash = strrchr(argv0, '/');
	prog = slash ? slash + 1 : argv0;
	/* libtool wrappers run the real binary as lt-NAME */
	if (!strncmp(prog, "lt-", 3))
		prog += 3;
}

const char *pmt_cli_prog(void) { return prog; }

static void vmessage(const char *file, const char *kind, const char *fmt, va_list ap)
{
	/* stdout first, so partial results and the message keep their order
	 * when both go to one terminal or file */
	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	if (file)
		fprintf(stderr, "%s: ", file);
	if (kind)
		fprintf(stderr, "%s: ", kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void pmt_cli_error(const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(file, NULL, fmt, ap);
	va_end(ap);
}

void pmt_cli_no_weight(const char *file, unsigned w)
{
	if (w >= PMT_WEIGHT_COUNT)
		return;
	const struct pmt_weight_def *d = &pmt_weight_defs[w];
	if (d->source == PMT_ITEM_ALLOC)
		pmt_cli_error(file,
			      "the log has no heap records: --weight %s needs a log of "
			      "pmt_tracer --heap",
			      d->name);
	else if (d->source == PMT_ITEM_OBJECT)
		pmt_cli_error(file,
			      "the log has no object records: --weight %s needs a log of "
			      "pmt_tracer --objects or of pymemtrace's ReferenceTracing",
			      d->name);
	else
		pmt_cli_error(file, "the log has no events: --weight %s needs call events",
			      d->name);
}

void pmt_cli_warn(const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(file, "warning", fmt, ap);
	va_end(ap);
}

void pmt_cli_errno(const char *file, int err, const char *detail)
{
	bool d = detail && *detail;
	pmt_cli_error(file, "%s%s%s", pmt_strerror(err), d ? ": " : "", d ? detail : "");
}

void pmt_cli_truncated(const char *file, const char *detail, const char *then)
{
	bool d = detail && *detail;
	pmt_cli_warn(file, "log is truncated%s%s; %s", d ? ": " : "", d ? detail : "", then);
}

void pmt_cli_live(const char *file, uint64_t events)
{
	pmt_cli_warn(file,
		     "log is still being written (no trailer yet): read %llu event%s up to its "
		     "last complete frame",
		     (unsigned long long)events, events == 1 ? "" : "s");
}

void pmt_cli_incomplete(const char *file, const struct pmt_source *src, const char *then)
{
	if (pmt_source_live(src))
		pmt_cli_live(file, pmt_source_events(src));
	else
		pmt_cli_truncated(file, pmt_source_detail(src), then);
}

void pmt_cli_note(const char *file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(file, "note", fmt, ap);
	va_end(ap);
}

void pmt_cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(NULL, NULL, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(PMT_EXIT_ERROR);
}

void pmt_cli_version(void) { printf("%s (pmt) %s\n", prog, PACKAGE_VERSION); }

/* Binary multiples: memory is counted in pages of 2^k bytes, and "4k" meaning
 * 4000 would never be what someone asking about page-sized jumps wants. */
static int suffix_shift(const char *s, unsigned *shift)
{
	unsigned sh;
	switch (*s) {
	case '\0':
		*shift = 0;
		return 0;
	case 'k':
	case 'K':
		sh = 10;
		break;
	case 'm':
	case 'M':
		sh = 20;
		break;
	case 'g':
	case 'G':
		sh = 30;
		break;
	case 't':
	case 'T':
		sh = 40;
		break;
	case 'b':
	case 'B':
		if (s[1])
			return -EINVAL;
		*shift = 0;
		return 0;
	default:
		return -EINVAL;
	}
	s++;
	/* accept k, kB, KiB */
	if (*s == 'i')
		s++;
	if (*s == 'B' || *s == 'b')
		s++;
	if (*s)
		return -EINVAL;
	*shift = sh;
	return 0;
}

int pmt_cli_parse_bytes(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "-1")) {
		*out = -1;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift;
	if (suffix_shift(end, &shift) < 0)
		return -EINVAL;
	if (v > ((unsigned long long)INT64_MAX >> shift))
		return -EINVAL;
	*out = (int64_t)(v << shift);
	return 0;
}

int pmt_cli_parse_u64(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

void pmt_cli_common_option(int c, void (*usage)(void))
{
	switch (c) {
	case 'h':
		usage();
		exit(PMT_EXIT_OK);
	case 'V':
		pmt_cli_version();
		exit(PMT_EXIT_OK);
	default:
		/* getopt printed the reason */
		fprintf(stderr, "Try '%s --help' for more information.\n", pmt_cli_prog());
		exit(PMT_EXIT_ERROR);
	}
}

struct progress {
	char path[256];
	unsigned last; /* percent shown, 101 = nothing yet */
};

static void show_progress(void *ctx, uint64_t done, uint64_t total, bool end)
{
	struct progress *p = ctx;
	if (end) {
		if (p->last <= 100)
			fputs("\r\033[K", stderr);
		p->last = 101;
		return;
	}
	unsigned pct = total ? (unsigned)(done * 100 / total) : 0;
	if (pct > 100)
		pct = 100;
	if (pct == p->last)
		return;
	p->last = pct;
	fprintf(stderr, "\r%s: %s: %u%%", pmt_cli_prog(), p->path, pct);
	fflush(stderr);
}

void pmt_cli_progress(struct pmt_input *in)
{
	uint64_t min = 64ull << 20;
	const char *env = getenv("PMT_PROGRESS_MIN");
	if (env)
		pmt_cli_parse_u64(env, &min);
	if (!isatty(STDERR_FILENO) || pmt_input_file_size(in) < min ||
	    pmt_input_raw_bytes(in) >= pmt_input_file_size(in))
		return;
	/* One input is read at a time, so one state serves them all. */
	static struct progress state;
	struct progress *p = &state;
	snprintf(p->path, sizeof(p->path), "%s", pmt_input_path(in));
	p->last = 101;
	pmt_input_set_progress(in, show_progress, p);
}

void pmt_cli_threads(const char *arg)
{
	pmt_input_set_threads((unsigned)pmt_cli_range("threads", arg, 1, 256));
}

int pmt_cli_format(const char *arg, int which)
{
	int f = pmt_format_parse(arg);
	if (which == PMT_CLI_TABLE_FORMATS) {
		if (f < 0)
			pmt_cli_usage_error("invalid --format '%s'", arg);
	} else if (f != PMT_FMT_TEXT && f != PMT_FMT_CSV && f != PMT_FMT_JSON) {
		pmt_cli_usage_error("invalid --format '%s' (text, csv or json)", arg);
	}
	return f;
}

uint64_t pmt_cli_range(const char *opt, const char *arg, uint64_t min, uint64_t max)
{
	uint64_t v;
	if (pmt_cli_parse_u64(arg, &v) < 0 || v < min || v > max)
		pmt_cli_usage_error("invalid --%s '%s' (%" PRIu64 " to %" PRIu64 ")", opt, arg, min,
				    max);
	return v;
}
