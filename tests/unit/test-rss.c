/* SPDX-License-Identifier: MIT */
/* libpmt/core/rss.c: every source must give exactly the RSS that a fresh read of
 * /proc/self/statm gives, after every step of a program that grows and
 * shrinks memory in every way the kernel accounts differently (page faults,
 * munmap, madvise, glibc heap and mmap chunks, other threads, fork).
 * TAP output; the perf tests SKIP with the reason when perf or tracefs is
 * not usable here. PMT_RSS_TEST_EVENTS sets the length of the long run. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include <libpmt/core/rss.h>

static int failures, count;
static long page_size;
static int ref_fd = -1;

static void check(int ok, const char *what)
{
	count++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
	if (!ok)
		failures++;
	fflush(stdout);
}

static void skip(const char *what, const char *why)
{
	count++;
	printf("ok %d - %s # SKIP %s\n", count, what, why);
	fflush(stdout);
}

/* The reference: an independent parse of statm (sscanf, own fd). */
static long ref_pages(void)
{
	char buf[128];
	ssize_t n = pread(ref_fd, buf, sizeof(buf) - 1, 0);
	long size, res;
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld", &size, &res) != 2)
		return -1;
	return res;
}

static long fscanf_pages(void)
{
	long size, res = -1;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res;
}

/* fopen() itself may change RSS: under ASan every fopen/fclose pair touches
 * fresh memory and its shadow, so no two reads ever agree there. Compare
 * exactly inside a window where two fscanf reads agree; if RSS never holds
 * still, the source must at least lie between the reads around it. */
static bool equals_fscanf(struct pmt_rss *r, bool direct)
{
	bool bracketed = false;
	for (int attempt = 0; attempt < 20; attempt++) {
		long before = fscanf_pages();
		long got = direct ? pmt_rss_read_statm(r) : pmt_rss_pages(r);
		long after = fscanf_pages();
		if (before == after)
			return got == before;
		bracketed = before <= got && got <= after;
	}
	return bracketed;
}

/* ---- a workload that grows and shrinks memory, one step at a time ---- */

#define NSLOTS 16
#define ARENA_PAGES 4096 /* 16 MiB: pages touched and dropped one by one */

struct workload {
	void *slot[NSLOTS];
	size_t len[NSLOTS];
	bool is_mmap[NSLOTS];
	char *arena;
};

static void touch(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += (size_t)page_size)
		((volatile char *)p)[off] = 1;
}

static int workload_init(struct workload *w)
{
	memset(w, 0, sizeof(*w));
	w->arena = mmap(NULL, ARENA_PAGES * (size_t)page_size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return w->arena == MAP_FAILED ? -1 : 0;
}

static void slot_free(struct workload *w, unsigned i)
{
	if (!w->slot[i])
		return;
	if (w->is_mmap[i])
		munmap(w->slot[i], w->len[i]);
	else
		free(w->slot[i]);
	w->slot[i] = NULL;
}

static void workload_free(struct workload *w)
{
	for (unsigned i = 0; i < NSLOTS; i++)
		slot_free(w, i);
	munmap(w->arena, ARENA_PAGES * (size_t)page_size);
}

/* One step; most steps change nothing, as most traced calls do. */
static void workload_step(struct workload *w, uint64_t x)
{
	unsigned op = (unsigned)(x % 100), i = (unsigned)((x >> 8) % NSLOTS);
	size_t pg = (size_t)((x >> 16) % ARENA_PAGES) * (size_t)page_size;

	if (op < 3) { /* malloc a big block (mmap or heap) and touch it */
		slot_free(w, i);
		w->len[i] = (size_t)(32 + (x >> 24) % 224) * (size_t)page_size;
		w->slot[i] = malloc(w->len[i]);
		w->is_mmap[i] = false;
		if (w->slot[i])
			touch(w->slot[i], w->len[i]);
	} else if (op < 6) { /* free it: munmap, heap trim or nothing */
		slot_free(w, i);
	} else if (op < 8) { /* mmap / munmap directly */
		slot_free(w, i);
		w->len[i] = (size_t)(1 + (x >> 24) % 128) * (size_t)page_size;
		void *p = mmap(NULL, w->len[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p != MAP_FAILED) {
			w->slot[i] = p;
			w->is_mmap[i] = true;
			touch(p, w->len[i]);
		}
	} else if (op < 20) { /* one page more */
		((volatile char *)w->arena)[pg] = 1;
	} else if (op < 30) { /* one page less */
		madvise(w->arena + pg, (size_t)page_size, MADV_DONTNEED);
	}
}

/* Runs n steps and compares the source with the reference after each one.
 * Returns the number of mismatches; *changes counts RSS changes seen, so a
 * run that never changed RSS cannot pass for a good one. */
static long run_sequence(struct pmt_rss *r, long n, long *changes, char *first_bad, size_t len)
{
	struct workload w;
	long bad = 0, last = -1;

	*changes = 0;
	if (workload_init(&w))
		return -1;
	for (long k = 0; k < n; k++) {
		workload_step(&w, tap_rnd());
		long got = pmt_rss_pages(r), want = ref_pages();
		if (got != want && bad++ == 0)
			snprintf(first_bad, len, "step %ld: source %ld, statm %ld", k, got, want);
		if (want != last)
			(*changes)++;
		last = want;
	}
	workload_free(&w);
	long got = pmt_rss_pages(r), want = ref_pages();
	if (got != want && bad++ == 0)
		snprintf(first_bad, len, "after free: source %ld, statm %ld", got, want);
	return bad;
}

static void check_sequence(struct pmt_rss *r, long n, const char *what)
{
	char first_bad[160] = "", msg[400];
	long changes;
	long bad = run_sequence(r, n, &changes, first_bad, sizeof(first_bad));
	snprintf(msg, sizeof(msg), "%s: %ld steps, %ld RSS changes, %ld mismatches%s%s", what, n,
		 changes, bad, bad ? "; first: " : "", first_bad);
	check(bad == 0 && changes > n / 20, msg);
}

/* ---- other threads change RSS, the main thread reads it ---- */

#define NTHREADS 4

struct worker {
	pthread_t th;
	struct workload w;
	sem_t go, done; /* two CPUs, four threads: no spinning */
	uint64_t cmd;	/* 1 quit, else the step's random value */
};

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	bool ok = workload_init(&wk->w) == 0;
	sem_post(&wk->done); /* ready: nothing changes RSS behind the steps */
	for (;;) {
		sem_wait(&wk->go);
		if (wk->cmd == 1)
			break;
		if (ok)
			workload_step(&wk->w, wk->cmd);
		sem_post(&wk->done);
	}
	if (ok)
		workload_free(&wk->w);
	return NULL;
}

static void worker_step(struct worker *wk)
{
	wk->cmd = tap_rnd() | 2; /* never 1 */
	sem_post(&wk->go);
	sem_wait(&wk->done);
}

static void check_threads(enum pmt_rss_kind kind, long n, const char *what)
{
	struct worker wk[NTHREADS];
	struct pmt_rss r;
	char msg[400], first_bad[160] = "";
	long bad = 0, changes = 0, last = -1;
	int err = 0;

	memset(wk, 0, sizeof(wk));
	for (int t = 0; t < NTHREADS; t++) {
		sem_init(&wk[t].go, 0, 0);
		sem_init(&wk[t].done, 0, 0);
	}
	/* half the threads exist before the source is opened, half after */
	for (int t = 0; t < NTHREADS / 2; t++)
		pthread_create(&wk[t].th, NULL, worker_main, &wk[t]);
	err = pmt_rss_open(&r, kind);
	for (int t = NTHREADS / 2; t < NTHREADS; t++)
		pthread_create(&wk[t].th, NULL, worker_main, &wk[t]);
	/* A source read and a statm read agree only while no other thread is
	 * changing RSS between them: wait for every thread's own start-up
	 * (stack, TLS, workload) before comparing. */
	for (int t = 0; t < NTHREADS; t++)
		sem_wait(&wk[t].done);
	if (!err)
		pmt_rss_pages(&r);
	for (long k = 0; !err && k < n; k++) {
		worker_step(&wk[k % NTHREADS]);
		long got = pmt_rss_pages(&r), want = ref_pages();
		if (got != want && bad++ == 0)
			snprintf(first_bad, sizeof(first_bad), "step %ld (thread %ld): %ld vs %ld",
				 k, k % NTHREADS, got, want);
		if (want != last)
			changes++;
		last = want;
	}
	for (int t = 0; t < NTHREADS; t++) {
		wk[t].cmd = 1;
		sem_post(&wk[t].go);
		pthread_join(wk[t].th, NULL);
		sem_destroy(&wk[t].go);
		sem_destroy(&wk[t].done);
	}
	long got = pmt_rss_pages(&r), want = ref_pages();
	if (!err && got != want && bad++ == 0)
		snprintf(first_bad, sizeof(first_bad), "after the threads freed: %ld vs %ld", got,
			 want);
	if (!err)
		pmt_rss_close(&r);
	snprintf(msg, sizeof(msg), "%s: %ld steps in %d threads, %ld changes, %ld mismatches%s%s",
		 what, n, NTHREADS, changes, bad, bad ? "; first: " : "", first_bad);
	check(!err && bad == 0 && changes > n / 20, msg);
}

/* ---- far more changes between two reads than a ring holds ---- */

static void check_bursts(struct pmt_rss *r)
{
	const size_t pages = 16384; /* 32 rings' worth of records */
	char *p = mmap(NULL, pages * (size_t)page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long bad = 0;
	char msg[200];

	if (p == MAP_FAILED) {
		check(0, "bursts: mmap");
		return;
	}
	for (int round = 0; round < 10; round++) {
		/* a burst, read, then single pages: each must still be seen */
		touch(p, pages * (size_t)page_size);
		bad += pmt_rss_pages(r) != ref_pages();
		for (int k = 0; k < 20; k++) {
			madvise(p + (size_t)k * (size_t)page_size, (size_t)page_size,
				MADV_DONTNEED);
			bad += pmt_rss_pages(r) != ref_pages();
		}
		/* two bursts with no read between them */
		madvise(p, pages * (size_t)page_size, MADV_DONTNEED);
		touch(p, pages * (size_t)page_size);
		bad += pmt_rss_pages(r) != ref_pages();
		((volatile char *)p)[0] = 2;
		bad += pmt_rss_pages(r) != ref_pages();
		madvise(p, pages * (size_t)page_size, MADV_DONTNEED);
		bad += pmt_rss_pages(r) != ref_pages();
		((volatile char *)p)[(pages - 1) * (size_t)page_size] = 3;
		bad += pmt_rss_pages(r) != ref_pages();
	}
	munmap(p, pages * (size_t)page_size);
	bad += pmt_rss_pages(r) != ref_pages();
	snprintf(msg, sizeof(msg), "%s: bursts of %zu page changes between reads, %ld mismatches",
		 pmt_rss_name(r->kind), pages, bad);
	check(bad == 0, msg);
}

/* ---- fork ---- */

/* In the child: before any reopen, the source must already read the
 * child's own RSS (not the parent's, and no dangling ring); after the
 * reopen, it must keep the same kind where it can and stay exact. */
static int child_checks(struct pmt_rss *r, enum pmt_rss_kind kind, long n)
{
	close(ref_fd);
	ref_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	size_t len = 2048 * (size_t)page_size;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 10;
	touch(p, len);
	if (pmt_rss_pages(r) != ref_pages())
		return 11;
	munmap(p, len);
	if (pmt_rss_pages(r) != ref_pages())
		return 12;
	if (pmt_rss_reopen_after_fork(r))
		return 13;
	if (r->kind != kind)
		return 14;
	char first_bad[160];
	long changes;
	if (run_sequence(r, n, &changes, first_bad, sizeof(first_bad)) != 0) {
		fprintf(stderr, "# child: %s\n", first_bad);
		return 15;
	}
	return 0;
}

static void check_fork(enum pmt_rss_kind kind, long n)
{
	struct pmt_rss r;
	char msg[200];

	if (pmt_rss_open(&r, kind)) {
		check(0, "fork: open");
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child_checks(&r, kind, n));
	int status = -1;
	waitpid(pid, &status, 0);
	snprintf(msg, sizeof(msg),
		 "%s after fork: the child reads its own RSS at once and after reopen "
		 "(status %d)",
		 pmt_rss_name(kind), WIFEXITED(status) ? WEXITSTATUS(status) : -status);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, msg);
	char first_bad[160] = "";
	long changes;
	long bad = run_sequence(&r, n / 4, &changes, first_bad, sizeof(first_bad));
	snprintf(msg, sizeof(msg), "%s after fork: the parent stays exact (%ld mismatches) %s",
		 pmt_rss_name(kind), bad, first_bad);
	check(bad == 0, msg);
	pmt_rss_close(&r);
}

/* As an unprivileged user (paranoid >= 2) perf is refused: auto must fall
 * back to statm and still be exact, and perf must say why it cannot. */
static void check_fallback_unprivileged(void)
{
	if (geteuid() != 0) {
		skip("auto falls back to statm without perf permission", "not root");
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(20);
		close(ref_fd);
		ref_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
		struct pmt_rss r;
		int perr = pmt_rss_open(&r, PMT_RSS_PERF);
		if (perr == 0) {
			pmt_rss_close(&r);
			_exit(77); /* this kernel lets anyone trace: nothing to test */
		}
		if (perr > 0)
			_exit(21);
		if (pmt_rss_open(&r, PMT_RSS_AUTO) || r.kind != PMT_RSS_STATM)
			_exit(22);
		/* and it says which check failed, and what would fix it */
		const char *hint = NULL;
		if (r.why == PMT_RSS_WHY_NONE || !pmt_rss_why_text(&r, &hint) || !hint)
			_exit(24);
		char first_bad[160];
		long changes;
		long bad = run_sequence(&r, 20000, &changes, first_bad, sizeof(first_bad));
		pmt_rss_close(&r);
		_exit(bad ? 23 : 0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		skip("auto falls back to statm without perf permission",
		     "perf is open to unprivileged users here");
		return;
	}
	char msg[160];
	snprintf(msg, sizeof(msg),
		 "unprivileged: perf refused with -errno, auto is statm and exact (status %d)",
		 WIFEXITED(status) ? WEXITSTATUS(status) : -status);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, msg);
}

/* ---- a program that closes our fds and opens its own files ---- */

/* What the program put on the source's old fd number must be left exactly
 * as it was: still open, same content, same offset. */
static bool file_intact(int fd, const char *want, off_t off)
{
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0 || lseek(fd, 0, SEEK_CUR) != off)
		return false;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

/* Puts a file of the program's on `num`: a regular file that looks exactly
 * like a statm, a regular file of text, or another process's statm. */
static int put_on(int num, int kind, const char *tmpl, char *path, size_t plen)
{
	int fd = -1;
	if (kind == 2) {
		snprintf(path, plen, "/proc/%d/statm", (int)getppid());
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		snprintf(path, plen, "%s", tmpl);
		fd = mkstemp(path);
		const char *text = kind == 0 ? "200000 100000 50 10 0 900 0\n" : "hello, world\n";
		if (fd >= 0 && (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
				lseek(fd, 3, SEEK_SET) != 3))
			return -1;
	}
	if (fd < 0)
		return -1;
	if (fd != num) {
		if (dup2(fd, num) != num)
			return -1;
		close(fd);
	}
	return num;
}

static void check_hostile_fds(enum pmt_rss_kind kind)
{
	static const char *const what[] = {"a statm-shaped regular file", "a text file",
					   "the parent's statm"};
	char msg[256];
	for (int k = 0; k < 3; k++) {
		struct pmt_rss r;
		if (pmt_rss_open(&r, kind)) {
			snprintf(msg, sizeof(msg), "%s: %s on the statm fd", pmt_rss_name(kind),
				 what[k]);
			check(0, msg);
			continue;
		}
		int num = r.statm_fd;
		/* the program closes everything it did not open... */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != ref_fd)
				close(fd);
		/* ...and opens its own file, which lands on our old number */
		char path[64], before[128] = "";
		bool ok = put_on(num, k, "/tmp/pmt-test-rss-XXXXXX", path, sizeof(path)) == num;
		if (ok && k == 2) {
			ssize_t n = pread(num, before, sizeof(before) - 1, 0);
			before[n > 0 ? n : 0] = '\0';
		}
		/* RSS changes, so the gates move and statm must be read */
		size_t len = 64 * (size_t)page_size;
		char *p =
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		touch(p, len);
		bool same = ok && equals_fscanf(&r, false);
		munmap(p, len);
		same = same && equals_fscanf(&r, false) && equals_fscanf(&r, true);
		bool moved = r.statm_fd != num && r.reopens >= 1 && r.lost == 0;
		pmt_rss_close(&r);
		/* closing the source leaves the program's file alone */
		bool intact = ok && (k == 2 ? fcntl(num, F_GETFD) >= 0
					    : file_intact(num,
							  k == 0 ? "200000 100000 50 10 0 900 0\n"
								 : "hello, world\n",
							  3));
		snprintf(msg, sizeof(msg),
			 "%s: %s on the statm fd: RSS stays exact, reopened elsewhere, the "
			 "program's file untouched (same %d moved %d intact %d)",
			 pmt_rss_name(kind), what[k], same, moved, intact);
		check(same && moved && intact, msg);
		if (ok) {
			close(num);
			if (k != 2)
				unlink(path);
		}
	}
}

/* statm reopened with no fd to spare: the source says it is lost, keeps its
 * last value and recovers once a number is free again. */
static void check_fd_exhaustion(void)
{
	struct pmt_rss r;
	struct rlimit old;
	if (pmt_rss_open(&r, PMT_RSS_STATM) || getrlimit(RLIMIT_NOFILE, &old)) {
		check(0, "statm with no fd left");
		return;
	}
	long before = pmt_rss_read_statm(&r);
	close(r.statm_fd);
	struct rlimit low = old;
	low.rlim_cur = 64;
	int fill[64], nfill = 0;
	bool ok = setrlimit(RLIMIT_NOFILE, &low) == 0;
	while (ok && nfill < 64 && (fill[nfill] = open("/dev/null", O_RDONLY)) >= 0)
		nfill++;
	long lost = pmt_rss_read_statm(&r);
	long kept = pmt_rss_pages(&r);
	bool says = lost == -EMFILE && r.lost == -EMFILE && kept == before;
	while (nfill > 0)
		close(fill[--nfill]);
	setrlimit(RLIMIT_NOFILE, &old);
	bool back = equals_fscanf(&r, true) && r.lost == 0 && r.reopens == 1;
	pmt_rss_close(&r);
	char msg[160];
	snprintf(msg, sizeof(msg),
		 "statm with no fd left: -EMFILE, last value kept, recovered after (%ld %d %d)",
		 lost, says, back);
	check(says && back, msg);
}

/* ---- RSS changed by another task, not by any of our threads ---- */

/* A child writes into our untouched pages through /proc/PPID/mem: the pages
 * are faulted into our mm in the child's context (as kswapd, DAMON or
 * khugepaged change RSS in theirs). The source must see it at once. */
static void check_other_task(struct pmt_rss *r)
{
	const size_t pages = 64;
	char *p = mmap(NULL, pages * (size_t)page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char msg[200];
	int go[2], done[2];
	char c = 0;
	if (pipe(go) || pipe(done))
		abort();
	/* The child is made first and waits: the fork's own copy-on-write
	 * faults in this process are over before the measured part starts. */
	pid_t child = fork();
	if (child == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)getppid());
		int fd = open(path, O_WRONLY);
		char st = fd < 0 ? 2 : 0;
		if (read(go[0], &c, 1) != 1)
			_exit(4);
		for (size_t i = 0; !st && i < pages; i++)
			if (pwrite(fd, "x", 1, (off_t)(uintptr_t)(p + i * (size_t)page_size)) != 1)
				st = 3;
		if (write(done[1], &st, 1) != 1)
			_exit(4);
		_exit(0);
	}
	for (int k = 0; k < 3; k++) /* settle: let our own faults land first */
		pmt_rss_pages(r);
	long before = pmt_rss_pages(r);
	/* From here until the read below this process changes no memory of its
	 * own: two syscalls on pipes, with a stack already touched. */
	if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
		c = 5;
	long got = pmt_rss_pages(r), want = ref_pages();
	waitpid(child, NULL, 0);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	if (c) {
		snprintf(msg, sizeof(msg),
			 "perf another process # SKIP cannot write /proc/PPID/mem (%d)", c);
		check(1, msg);
	} else {
		snprintf(
		    msg, sizeof(msg),
		    "perf sees RSS another process faulted into our memory: %ld -> %ld, want %ld",
		    before, got, want);
		check(got == want && want >= before + (long)pages, msg);
	}
	munmap(p, pages * (size_t)page_size);
}

int main(void)
{
	long n = 1000000;
	const char *env = getenv("PMT_RSS_TEST_EVENTS");
	if (env && atol(env) > 0)
		n = atol(env);
	page_size = sysconf(_SC_PAGESIZE);
	ref_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (ref_fd < 0) {
		printf("1..0 # SKIP no /proc/self/statm\n");
		return 0;
	}
	printf("1..28\n");

	/* names */
	check(!strcmp(pmt_rss_name(PMT_RSS_AUTO), "auto") &&
		  !strcmp(pmt_rss_name(PMT_RSS_STATM), "statm") &&
		  !strcmp(pmt_rss_name(PMT_RSS_PERF), "perf") &&
		  !strcmp(pmt_rss_name((enum pmt_rss_kind)99), "unknown"),
	      "names");
	check(pmt_rss_parse("auto") == PMT_RSS_AUTO && pmt_rss_parse("statm") == PMT_RSS_STATM &&
		  pmt_rss_parse("perf") == PMT_RSS_PERF && pmt_rss_parse("Perf") == -1 &&
		  pmt_rss_parse("") == -1 && pmt_rss_parse(NULL) == -1,
	      "parse");

	/* statm against a fresh fopen/fscanf, through growth and shrinking */
	struct pmt_rss r;
	int err = pmt_rss_open(&r, PMT_RSS_STATM);
	check(err == 0 && r.kind == PMT_RSS_STATM && r.ngates == 0 && r.statm_fd >= 0,
	      "statm opens");
	bool same = true;
	for (int k = 0; k < 50 && !err; k++) {
		size_t len = (size_t)(1 + k * 40) * (size_t)page_size;
		char *p =
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		touch(p, len);
		same = same && equals_fscanf(&r, false) && equals_fscanf(&r, true);
		munmap(p, len);
		same = same && equals_fscanf(&r, false);
	}
	check(same, "statm equals a fresh fscanf of /proc/self/statm");
	if (!err) {
		check_sequence(&r, n / 4, "statm sequence");
		pmt_rss_close(&r);
	} else {
		check(0, "statm sequence");
	}
	check(pmt_rss_open(&r, (enum pmt_rss_kind)42) == -EINVAL && r.statm_fd == -1,
	      "unknown kind refused, left closed");

	/* perf: available or not, auto must agree with what perf can do */
	int perr = pmt_rss_open(&r, PMT_RSS_PERF);
	char why[200];
	snprintf(why, sizeof(why), "perf source unavailable: %s", strerror(-perr));
	if (perr == 0)
		pmt_rss_close(&r);
	struct pmt_rss a;
	err = pmt_rss_open(&a, PMT_RSS_AUTO);
	check(err == 0 && a.kind == (perr == 0 ? PMT_RSS_PERF : PMT_RSS_STATM) &&
		  pmt_rss_pages(&a) == ref_pages(),
	      perr == 0 ? "auto picks perf, which works here" : "auto falls back to statm");
	if (!err)
		pmt_rss_close(&a);
	check_fallback_unprivileged();
	check_threads(PMT_RSS_STATM, n / 20, "statm threads");
	check_fork(PMT_RSS_STATM, n / 20);
	check_hostile_fds(PMT_RSS_STATM);
	check_fd_exhaustion();
	{
		struct pmt_rss w;
		const char *hint = "x";
		check(pmt_rss_open(&w, PMT_RSS_STATM) == 0 && w.why == PMT_RSS_WHY_NONE &&
			  pmt_rss_why_text(&w, &hint) == NULL && hint == NULL,
		      "statm asked for: no fallback reason");
		pmt_rss_close(&w);
	}

	if (perr) {
		printf("# %s\n", why);
		const char *names[] = {"perf opens with one gate per CPU",
				       "perf sequence",
				       "perf bursts",
				       "perf threads",
				       "perf fork child",
				       "perf fork parent",
				       "perf another process",
				       "perf close/reopen",
				       "perf: a statm-shaped regular file on the statm fd",
				       "perf: a text file on the statm fd",
				       "perf: the parent's statm on the statm fd",
				       "perf keeps no fd"};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			skip(names[i], why);
		return failures ? 1 : 0;
	}

	err = pmt_rss_open(&r, PMT_RSS_PERF);
	check(err == 0 && r.kind == PMT_RSS_PERF &&
		  r.ngates == (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
	      "perf opens with one gate per CPU");
	if (err)
		return 1;
	check_sequence(&r, n, "perf sequence, compared with statm after every step");
	check_bursts(&r);
	check_other_task(&r);
	pmt_rss_close(&r);
	check_threads(PMT_RSS_PERF, n / 10, "perf threads");
	check_fork(PMT_RSS_PERF, n / 10);
	/* closing and opening again leaves nothing behind that breaks it */
	bool again = true;
	for (int k = 0; k < 20 && again; k++) {
		again = pmt_rss_open(&r, PMT_RSS_PERF) == 0 && pmt_rss_pages(&r) == ref_pages();
		pmt_rss_close(&r);
	}
	check(again, "perf close/reopen 20 times");
	check_hostile_fds(PMT_RSS_PERF);
	/* the rings alone keep the events: every fd but statm's closed */
	err = pmt_rss_open(&r, PMT_RSS_PERF);
	int open_fds = 0;
	for (int fd = 3; fd < 1024; fd++)
		if (fd != ref_fd && fd != r.statm_fd && fcntl(fd, F_GETFD) >= 0)
			open_fds++;
	char first_bad[160] = "", msg[240];
	long changes = 0,
	     bad = err ? -1 : run_sequence(&r, n / 10, &changes, first_bad, sizeof(first_bad));
	snprintf(msg, sizeof(msg),
		 "perf keeps no fd but statm's, and stays exact: %d other fds, %ld changes, %ld "
		 "mismatches %s",
		 open_fds, changes, bad, first_bad);
	check(!err && open_fds == 0 && bad == 0 && changes > 0, msg);
	pmt_rss_close(&r);
	return failures ? 1 : 0;
}
