/* SPDX-License-Identifier: MIT */
/* mklog: writes a deterministic pmt log through libpmt's writer, for the
 * analysers' tests, golden outputs and benchmarks.
 *
 *   mklog OUT EVENTS [SEED [THREADS]] [--no-trailer]
 *
 * Profile-mode events: nested Python calls with C calls inside, on THREADS
 * threads each with its own stack; RSS grows by whole pages now and then
 * (and shrinks sometimes), a MESSAGE every 100000 events. Every call is
 * returned before the end, except with --no-trailer, which also leaves the
 * log without its trailer, as a killed process would. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/log-writer.h>

#define NFUNCS 24
#define MAXDEPTH 48
#define MAXTHREADS 8

static uint64_t state;

static uint32_t rnd(void)
{
	/* xorshift64*: same sequence everywhere */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (uint32_t)((state * 0x2545F4914F6CDD1Dull) >> 32);
}

struct thread {
	uint32_t stack[MAXDEPTH];
	unsigned depth;
};

int main(int argc, char **argv)
{
	int no_trailer = 0, cut = 0, nargs = 0;
	const char *args[4] = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-trailer"))
			no_trailer = 1;
		else if (!strcmp(argv[i], "--cut"))
			cut = 1; /* as the tracer's writer leaves a log cut by a full disk */
		else if (nargs < 4)
			args[nargs++] = argv[i];
	}
	if (nargs < 2) {
		fprintf(stderr,
			"usage: mklog OUT EVENTS [SEED [THREADS]] [--no-trailer | --cut]\n");
		return 2;
	}
	uint64_t n = strtoull(args[1], NULL, 10);
	state = nargs > 2 ? strtoull(args[2], NULL, 10) * 2654435761u + 1 : 88172645463325252ull;
	unsigned nthreads = nargs > 3 ? (unsigned)atoi(args[3]) : 1;
	if (nthreads < 1 || nthreads > MAXTHREADS)
		nthreads = 1;
	int fd = strcmp(args[0], "-") ? open(args[0], O_WRONLY | O_CREAT | O_TRUNC, 0644) : dup(1);
	if (fd < 0) {
		perror(args[0]);
		return 2;
	}
	static const char *const argv0[] = {"mklog.py", "--seed"};
	struct pmt_header h = {
	    .version = PMT_FORMAT_VERSION,
	    .pid = 4242,
	    .ppid = 1,
	    .page_size = 4096,
	    .python_version = "3.11.7",
	    .argc = 2,
	    .argv = argv0,
	    .start_wall_ns = 1700000000000000000ull,
	    .mode = PMT_MODE_PROFILE,
	    .rss_source = "statm",
	    .drss_trigger = 0,
	    .rss_start = 2500,
	};
	struct pmt_writer *w;
	int r = pmt_writer_new(fd, &h, NULL, &w);
	if (r < 0) {
		fprintf(stderr, "mklog: writer: %d\n", r);
		return 2;
	}
	/* functions 1..NFUNCS are Python, NFUNCS+1..2*NFUNCS are C */
	char file[64], name[64];
	for (uint32_t id = 1; id <= 2 * NFUNCS; id++) {
		int c = id > NFUNCS;
		snprintf(file, sizeof(file), "/srv/app/mod%u.py", (id - 1) % NFUNCS / 6);
		snprintf(name, sizeof(name), c ? "cfunc_%u" : "func_%u", (id - 1) % NFUNCS);
		pmt_writer_code(w, id, c ? PMT_CODE_C : PMT_CODE_PY, 10 * id, file, strlen(file),
				name, strlen(name));
	}
	for (unsigned t = 0; t < nthreads; t++) {
		char tn[32];
		snprintf(tn, sizeof(tn), t ? "worker-%u" : "MainThread", t);
		pmt_writer_thread(w, t, 1000 + t, tn);
	}
	pmt_writer_thread(w, 0, 1000, NULL);
	struct thread th[MAXTHREADS] = {0};
	unsigned cur = 0;
	int64_t rss = (int64_t)h.rss_start, peak = rss;
	uint64_t t_ns = 0, i = 0;
	while (i < n) {
		if (nthreads > 1 && i % 1000 == 999) {
			cur = (cur + 1) % nthreads;
			pmt_writer_thread(w, cur, 1000 + cur, NULL);
		}
		if (i && i % 100000 == 0) {
			snprintf(name, sizeof(name), "marker %llu", (unsigned long long)i);
			pmt_writer_message(w, name, strlen(name));
		}
		struct thread *T = &th[cur];
		/* close every open call in time for the end */
		uint64_t open = 0;
		for (unsigned k = 0; k < nthreads; k++)
			open += th[k].depth;
		int must_close = !no_trailer && n - i <= open;
		uint32_t x = rnd();
		unsigned kind;
		uint32_t code;
		if (must_close && !T->depth) {
			for (unsigned k = 0; k < nthreads; k++)
				if (th[k].depth) {
					cur = k;
					break;
				}
			pmt_writer_thread(w, cur, 1000 + cur, NULL);
			T = &th[cur];
		}
		if (T->depth && (must_close || T->depth >= MAXDEPTH - 1 || x % 100 < 45)) {
			code = T->stack[--T->depth];
			kind = code > NFUNCS ? PMT_C_RETURN : PMT_RETURN;
		} else {
			int c = T->depth && x % 7 == 0;
			code = 1 + (x >> 8) % NFUNCS + (c ? NFUNCS : 0);
			/* a C function is a leaf */
			if (T->depth && T->stack[T->depth - 1] > NFUNCS) {
				code = T->stack[--T->depth];
				kind = PMT_C_RETURN;
			} else {
				T->stack[T->depth++] = code;
				kind = c ? PMT_C_CALL : PMT_CALL;
			}
		}
		uint32_t y = rnd();
		if (y % 64 == 0)
			rss += 1 + y / 64 % 3;
		else if (y % 509 == 0 && rss > 2600)
			rss -= 2;
		if (rss > peak)
			peak = rss;
		t_ns += 40 + y % 80;
		r = pmt_writer_event(w, kind, code, 10 * code + x % 5, t_ns, rss);
		if (r < 0) {
			fprintf(stderr, "mklog: write: %d\n", r);
			return 2;
		}
		i++;
	}
	if (no_trailer) {
		pmt_writer_end_frame(w, t_ns);
		pmt_writer_free(w);
		return 0;
	}
	struct pmt_trailer trl = {.total_events = cut ? n + 1000 : n,
				  .end_wall_ns = h.start_wall_ns + t_ns,
				  .peak_rss = (uint64_t)peak * 4096,
				  .flags = PMT_TRL_CLEAN | (cut ? PMT_TRL_CUT : 0)};
	r = pmt_writer_close(w, &trl);
	pmt_writer_free(w);
	return r < 0 ? 2 : 0;
}
