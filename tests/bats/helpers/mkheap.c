/* SPDX-License-Identifier: MIT */
/* mkheap: writes a small heap log (version 2, ALLOC and SITE records)
 * through libpmt's writer, with figures known in advance, for the
 * analysers' heap tests and golden outputs.
 *
 *   mkheap OUT [LEAKS] [--no-trailer]
 *
 * main (a.py) calls churn, which mallocs 100 blocks of 1000 bytes and frees
 * them (the heap's peak: 100000 bytes while RSS does not move); then leaker
 * (b.py), which leaks LEAKS (default 10) blocks of 5000 bytes at line 21,
 * reallocs one block through 3 sizes and frees it, callocs 10 x 100 and
 * frees it, posix_memaligns 4096 bytes aligned on 64 (leaked, line 25) and
 * calls free(NULL) twice; then mapper (b.py), whose RSS grows by 100 pages
 * with no heap call. A native thread (no THREAD record: a SITE tail names
 * it) leaks one block of 777 bytes. Frees a block the log never saw
 * allocated once. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/log-writer.h>

enum { MAIN = 1, CHURN = 2, LEAKER = 3, MAPPER = 4 };

static struct pmt_writer *w;
static uint64_t t_ns;
static int64_t rss = 2500;

static void ev(unsigned kind, uint32_t code, uint32_t line)
{
	t_ns += 1000;
	pmt_writer_event(w, kind, code, line, t_ns, rss);
}

static void site(uint32_t code, uint32_t line) { pmt_writer_site(w, 0, code, line, 0, NULL); }

static void alloc(unsigned op, uint64_t addr, uint64_t old, uint64_t size, uint64_t align)
{
	pmt_writer_alloc(w, op, 0, addr, old, size, align);
}

int main(int argc, char **argv)
{
	int no_trailer = 0, nargs = 0;
	const char *args[2] = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-trailer"))
			no_trailer = 1;
		else if (nargs < 2)
			args[nargs++] = argv[i];
	}
	if (nargs < 1) {
		fprintf(stderr, "usage: mkheap OUT [LEAKS] [--no-trailer]\n");
		return 2;
	}
	int leaks = nargs > 1 ? atoi(args[1]) : 10;
	int fd = strcmp(args[0], "-") ? open(args[0], O_WRONLY | O_CREAT | O_TRUNC, 0644) : dup(1);
	if (fd < 0) {
		perror(args[0]);
		return 2;
	}
	static const char *const argv0[] = {"app.py"};
	struct pmt_header h = {
	    .version = PMT_FORMAT_VERSION,
	    .pid = 4343,
	    .ppid = 1,
	    .page_size = 4096,
	    .python_version = "3.11.7",
	    .argc = 1,
	    .argv = argv0,
	    .start_wall_ns = 1700000000000000000ull,
	    .mode = PMT_MODE_PROFILE,
	    .rss_source = "statm",
	    .flags = PMT_HDR_HEAP_LIBC,
	    .rss_start = (uint64_t)rss,
	};
	if (pmt_writer_new(fd, &h, NULL, &w) < 0) {
		fprintf(stderr, "mkheap: writer failed\n");
		return 2;
	}
	pmt_writer_code(w, MAIN, PMT_CODE_PY, 1, "/srv/a.py", 9, "main", 4);
	pmt_writer_code(w, CHURN, PMT_CODE_PY, 10, "/srv/a.py", 9, "churn", 5);
	pmt_writer_code(w, LEAKER, PMT_CODE_PY, 20, "/srv/b.py", 9, "leaker", 6);
	pmt_writer_code(w, MAPPER, PMT_CODE_PY, 30, "/srv/b.py", 9, "mapper", 6);
	pmt_writer_thread(w, 0, 4343, "MainThread");

	ev(PMT_CALL, MAIN, 1);
	site(MAIN, 2);
	alloc(PMT_ALLOC_FREE, 0x9000, 0, 0, 0); /* allocated before the log began */
	ev(PMT_CALL, CHURN, 10);
	site(CHURN, 11);
	for (int i = 0; i < 100; i++)
		alloc(PMT_ALLOC_MALLOC, 0x100000 + (uint64_t)i * 1024, 0, 1000, 0);
	site(CHURN, 12);
	for (int i = 0; i < 100; i++)
		alloc(PMT_ALLOC_FREE, 0x100000 + (uint64_t)i * 1024, 0, 0, 0);
	ev(PMT_RETURN, CHURN, 12);

	ev(PMT_CALL, LEAKER, 20);
	site(LEAKER, 21);
	for (int i = 0; i < leaks; i++)
		alloc(PMT_ALLOC_MALLOC, 0x200000 + (uint64_t)i * 8192, 0, 5000, 0);
	site(LEAKER, 22);
	alloc(PMT_ALLOC_REALLOC, 0x300000, 0, 100, 0);
	alloc(PMT_ALLOC_REALLOC, 0x300000, 0x300000, 200, 0);
	alloc(PMT_ALLOC_REALLOC, 0x310000, 0x300000, 300, 0);
	alloc(PMT_ALLOC_FREE, 0x310000, 0, 0, 0);
	site(LEAKER, 23);
	alloc(PMT_ALLOC_CALLOC, 0x320000, 0, 1000, 0);
	alloc(PMT_ALLOC_FREE, 0x320000, 0, 0, 0);
	site(LEAKER, 24);
	alloc(PMT_ALLOC_FREE_NULL, 0, 0, 0, 0);
	alloc(PMT_ALLOC_FREE_NULL, 0, 0, 0, 0);
	site(LEAKER, 25);
	alloc(PMT_ALLOC_POSIX_MEMALIGN, 0x330000, 0, 4096, 64);
	ev(PMT_RETURN, LEAKER, 25);

	/* a native thread, never announced by a THREAD record */
	pmt_writer_site(w, 1, 0, 0, 4400, "worker");
	alloc(PMT_ALLOC_MALLOC, 0x400000, 0, 777, 0);

	ev(PMT_CALL, MAPPER, 30);
	rss += 100;
	ev(PMT_RETURN, MAPPER, 31);
	ev(PMT_RETURN, MAIN, 3);
	if (!no_trailer) {
		struct pmt_trailer tr = {.total_events = 8,
					 .end_wall_ns = h.start_wall_ns + t_ns,
					 .peak_rss = (uint64_t)rss * 4096,
					 .flags = PMT_TRL_CLEAN};
		if (pmt_writer_close(w, &tr) < 0)
			return 2;
	} else {
		pmt_writer_end_frame(w, t_ns);
	}
	pmt_writer_free(w);
	return 0;
}
