/* SPDX-License-Identifier: MIT */
/* The log writer's modes: a writer thread (events round-trip, frames end
 * when the producer goes quiet, memory stays bounded when the file does not
 * keep up), shared producers from several threads, fork, closing from a
 * signal handler, and a log cut by a failed write (it ends with a MESSAGE
 * and a CUT trailer after its last complete frame). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include <libpmt/core/log-writer.h>
#include <libpmt/read/source.h>

static char tmpdir[] = "/tmp/pmt-test-writer-XXXXXX";

static const char *path_of(const char *name)
{
	static char buf[8][256];
	static int i;
	char *p = buf[i++ & 7];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

static struct pmt_header header(void)
{
	static const char *argv[] = {"prog.py"};
	return (struct pmt_header){.version = PMT_FORMAT_VERSION,
				   .pid = 42,
				   .page_size = 4096,
				   .python_version = "3.11.7",
				   .argc = 1,
				   .argv = argv,
				   .rss_source = "statm",
				   .rss_start = 100};
}

/* The codes put() names (a reader takes an event of an undefined code
 * for a corrupt log). */
static int define_codes(struct pmt_writer *w)
{
	for (uint32_t k = 1; k <= 8; k++) {
		int r = pmt_writer_code(w, k, PMT_CODE_PY, 1, "prog.py", 7, "f", 1);
		if (r < 0)
			return r;
	}
	return 0;
}

static struct pmt_writer *open_writer(const char *path, struct pmt_writer_opts o)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct pmt_header h = header();
	struct pmt_writer *w = NULL;
	o.path = path;
	if (fd < 0 || pmt_writer_new(fd, &h, &o, &w) < 0 || define_codes(w) < 0) {
		if (fd >= 0 && !w)
			close(fd);
		pmt_writer_free(w);
		return NULL;
	}
	return w;
}

/* Event i of producer k: code k + 1, line i, time and RSS from i. */
static int put(struct pmt_writer *w, uint32_t k, uint64_t i)
{
	return pmt_writer_event(w, (unsigned)(i % 7), k + 1, (uint32_t)i, i * 100 + k,
				100 + (int64_t)(i % 1000));
}

/* The same with RSS that compresses badly. */
static int put_noisy(struct pmt_writer *w, uint64_t i)
{
	return pmt_writer_event(w, (unsigned)(i % 7), 1, (uint32_t)i, i * 100,
				100 + (int64_t)((i * 7919) % 100003));
}

struct decoded {
	long events, messages, bad;
	uint64_t next[8]; /* per producer: the next line expected */
	bool truncated, trailer, cut, cut_message;
	struct pmt_trailer trl;
	int err;
};

/* Reads path; every producer's events must come in order 0, 1, 2... */
static struct decoded decode(const char *path)
{
	struct decoded d = {0};
	struct pmt_source *s;
	d.err = pmt_source_open(path, &s);
	if (d.err < 0)
		return d;
	struct pmt_item it;
	int r;
	while ((r = pmt_source_next(s, &it)) > 0) {
		if (it.type == PMT_ITEM_MESSAGE) {
			d.messages++;
			d.cut_message |= it.text_len > 13 && !memcmp(it.text, "pmt: log cut: ", 13);
		}
		if (it.type != PMT_ITEM_EVENT)
			continue;
		uint32_t k = it.ev.code - 1;
		if (k >= 8 || it.ev.line != d.next[k])
			d.bad++;
		else
			d.next[k]++;
		d.events++;
	}
	d.err = r < 0 ? r : 0;
	d.truncated = pmt_source_truncated(s);
	const struct pmt_trailer *t = pmt_source_trailer(s);
	if (t) {
		d.trailer = true;
		d.trl = *t;
		d.cut = t->flags & PMT_TRL_CUT;
	}
	pmt_source_free(s);
	return d;
}

static int close_writer(struct pmt_writer *w, uint64_t total)
{
	struct pmt_trailer t = {.total_events = total, .flags = PMT_TRL_CLEAN};
	int r = pmt_writer_close(w, &t);
	pmt_writer_free(w);
	return r;
}

static void test_thread_roundtrip(void)
{
	enum { N = 3000000 };
	const char *p = path_of("thread.log.zst");
	struct pmt_writer *w = open_writer(p, (struct pmt_writer_opts){.mode = PMT_WRITER_THREAD});
	int r = w ? 0 : -1;
	for (uint64_t i = 0; i < N && r == 0; i++) {
		if (i % 100000 == 0)
			r = pmt_writer_message(w, "marker", 6);
		if (r == 0)
			r = put(w, 0, i);
	}
	ok(r == 0 && close_writer(w, N) == 0, "a writer thread takes %d events", N);
	struct decoded d = decode(p);
	ok(d.err == 0 && d.events == N && d.bad == 0 && !d.truncated && d.trailer,
	   "all read back in order (%ld, %ld out of order, err %d)", d.events, d.bad, d.err);
	ok(d.messages == N / 100000, "messages in place (%ld)", d.messages);
}

/* ---- shared producers ---------------------------------------------------- */

struct prod {
	struct pmt_writer *w;
	uint32_t k;
	uint64_t n;
	int r;
};

static void *producer(void *arg)
{
	struct prod *pr = arg;
	for (uint64_t i = 0; i < pr->n && pr->r == 0; i++) {
		pmt_writer_lock(pr->w);
		pr->r = put(pr->w, pr->k, i);
		if (pr->r == 0 && i % 5000 == 0)
			pr->r = pmt_writer_message(pr->w, "from a thread", 13);
		pmt_writer_unlock(pr->w);
	}
	return NULL;
}

static void test_shared(void)
{
	enum { K = 4, N = 300000 };
	const char *p = path_of("shared.log.zst");
	struct pmt_writer *w =
	    open_writer(p, (struct pmt_writer_opts){.mode = PMT_WRITER_THREAD, .shared = true});
	struct prod pr[K];
	pthread_t th[K];
	for (uint32_t k = 0; k < K; k++) {
		pr[k] = (struct prod){w, k, N, w ? 0 : -1};
		pthread_create(&th[k], NULL, producer, &pr[k]);
	}
	int bad = 0;
	for (uint32_t k = 0; k < K; k++) {
		pthread_join(th[k], NULL);
		bad += pr[k].r != 0;
	}
	ok(bad == 0 && close_writer(w, K * N) == 0, "%d threads append under the lock", K);
	struct decoded d = decode(p);
	ok(d.err == 0 && d.events == K * N && d.bad == 0 && !d.truncated,
	   "every thread's events, each in order (%ld, %ld out of order)", d.events, d.bad);
	ok(d.messages == K * (N / 5000), "and every message (%ld)", d.messages);
}

/* ---- bounded memory ------------------------------------------------------ */

struct slow {
	struct pmt_writer *w;
	uint64_t done; /* atomic */
	int r;
};

static void *fast_producer(void *arg)
{
	struct slow *s = arg;
	for (uint64_t i = 0; i < 5000000 && s->r == 0; i++) {
		s->r = put_noisy(s->w, i);
		__atomic_store_n(&s->done, i + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_back_pressure(void)
{
	int pfd[2];
	if (pipe(pfd) < 0) {
		ok(0, "pipe");
		return;
	}
	struct pmt_header h = header();
	struct pmt_writer *w;
	struct pmt_writer_opts o = {.mode = PMT_WRITER_THREAD};
	int r = pmt_writer_new(pfd[1], &h, &o, &w);
	struct slow s = {w, 0, r};
	pthread_t th;
	pthread_create(&th, NULL, fast_producer, &s);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	uint64_t stuck = __atomic_load_n(&s.done, __ATOMIC_RELAXED);
	/* Nobody reads the pipe: the producer waits once the chunks, zstd's
	 * buffers and the pipe are full, far below 5 M events of ~8 bytes. */
	ok(r == 0 && stuck < 1000000, "a writer that cannot write holds the producer back (%llu)",
	   (unsigned long long)stuck);
	/* A reader comes: a child that drops its copy of the writer (and so of
	 * the pipe's write end) and reads to the end. */
	pid_t pid = fork();
	if (pid == 0) {
		pmt_writer_after_fork_child(w);
		pmt_writer_free(w);
		char buf[65536];
		uint64_t bytes = 0;
		ssize_t k;
		while ((k = read(pfd[0], buf, sizeof(buf))) > 0)
			bytes += (uint64_t)k;
		_exit(bytes > 0 ? 0 : 1);
	}
	close(pfd[0]);
	pthread_join(th, NULL);
	int rc = close_writer(w, 5000000);
	int st = -1;
	waitpid(pid, &st, 0);
	bool bytes = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	ok(s.r == 0 && rc == 0 && bytes > 0, "then it goes on to the end (%d %d)", s.r, rc);
}

/* ---- fork ---------------------------------------------------------------- */

static void test_fork(void)
{
	enum { N = 400000 };
	const char *p = path_of("fork.log.zst");
	struct pmt_writer *w = open_writer(p, (struct pmt_writer_opts){.mode = PMT_WRITER_THREAD});
	int r = w ? 0 : -1, st = -1;
	for (uint64_t i = 0; i < N && r == 0; i++) {
		if (i == N / 2) {
			pid_t pid = fork();
			if (pid == 0) {
				alarm(20); /* a deadlock kills the child: the test fails */
				pmt_writer_after_fork_child(w);
				for (uint64_t j = 0; j < 200000; j++)
					put(w, 1, j); /* dropped, never blocks */
				pmt_writer_free(w);
				_exit(0);
			}
			waitpid(pid, &st, 0);
		}
		r = put(w, 0, i);
	}
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a fork child drops its copy without waiting");
	ok(r == 0 && close_writer(w, N) == 0, "the parent goes on");
	struct decoded d = decode(p);
	ok(d.events == N && d.bad == 0 && !d.truncated && d.next[1] == 0,
	   "its log is whole, with nothing of the child (%ld)", d.events);
}

/* ---- a signal handler closes the log -------------------------------------- */

static struct pmt_writer *sig_w;
static volatile sig_atomic_t sig_ok;

static void on_usr1(int sig)
{
	struct pmt_trailer t = {.total_events = 12345, .flags = PMT_TRL_SIGNAL, .signal = sig};
	if (pmt_writer_close_async(sig_w, &t) < 0)
		return;
	for (int i = 0; i < 5000 && !pmt_writer_done(sig_w); i++) {
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	sig_ok = pmt_writer_done(sig_w);
}

static void test_close_async(void)
{
	enum { N = 500000 };
	const char *p = path_of("signal.log.zst");
	sig_w = open_writer(p, (struct pmt_writer_opts){.mode = PMT_WRITER_THREAD});
	signal(SIGUSR1, on_usr1);
	int r = sig_w ? 0 : -1, before = 0;
	for (uint64_t i = 0; i < N && (r == 0 || i > N / 2); i++) {
		r = put(sig_w, 0, i);
		if (i == N / 2) {
			before = r;
			raise(SIGUSR1);
		}
	}
	signal(SIGUSR1, SIG_DFL);
	ok(before == 0 && sig_ok, "close_async from a handler: the thread finishes the log");
	ok(r == -ECANCELED, "appends after it are dropped, without waiting (%d)", r);
	/* what the process would do next: die; here, free without writing */
	pmt_writer_free(sig_w);
	struct decoded d = decode(p);
	ok(d.err == 0 && !d.truncated && d.trailer && (d.trl.flags & PMT_TRL_SIGNAL) &&
	       d.trl.signal == SIGUSR1 && d.trl.total_events == 12345,
	   "the log ends with the signal's trailer (flags %u, signal %u)", d.trl.flags,
	   d.trl.signal);
	ok(d.events == N / 2 + 1 && d.bad == 0, "every event before the signal (%ld)", d.events);
}

/* ---- a producer that goes quiet --------------------------------------------- */

static void test_idle_frame(void)
{
	const char *p = path_of("idle.log.zst"), *q = path_of("idle-copy.log.zst");
	struct pmt_writer *w = open_writer(p, (struct pmt_writer_opts){.mode = PMT_WRITER_THREAD});
	int r = w ? 0 : -1;
	for (uint64_t i = 0; i < 1000 && r == 0; i++)
		r = put(w, 0, i);
	/* no event for a while: the thread ends the frame itself */
	struct decoded d = {0};
	for (int tries = 0; tries < 100 && d.events < 1000; tries++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "cp %s %s", p, q);
		if (system(cmd) != 0)
			break;
		d = decode(q); /* what a SIGKILL would leave */
	}
	ok(r == 0 && d.events == 1000 && d.bad == 0 && d.truncated,
	   "a quiet producer's events get into a complete frame (%ld)", d.events);
	close_writer(w, 1000);
}

/* ---- a cut log ------------------------------------------------------------ */

static void test_cut(enum pmt_writer_mode mode)
{
	enum { N = 2000000 };
	const char *p = path_of(mode == PMT_WRITER_THREAD ? "cut-t.log.zst" : "cut-s.log.zst");
	struct rlimit old, rl = {.rlim_cur = 200000, .rlim_max = RLIM_INFINITY};
	getrlimit(RLIMIT_FSIZE, &old);
	rl.rlim_max = old.rlim_max;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl); /* a disk that fills at 200 kB */
	struct pmt_writer *w =
	    open_writer(p, (struct pmt_writer_opts){.mode = mode, .frame_events = 5000});
	int r = w ? 0 : -1;
	uint64_t i;
	for (i = 0; i < N && r == 0; i++)
		r = put_noisy(w, i);
	struct pmt_trailer t = {.total_events = i, .flags = PMT_TRL_CLEAN};
	int rc = w ? pmt_writer_close(w, &t) : -1;
	struct pmt_writer_status st = {0};
	if (w)
		pmt_writer_status(w, &st);
	pmt_writer_free(w);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	const char *m = mode == PMT_WRITER_THREAD ? "thread" : "sync";
	ok(r == -EFBIG && rc == -EFBIG && st.error == -EFBIG && st.cut_noted,
	   "%s: the write error reaches the producer and close (%d %d)", m, r, rc);
	struct decoded d = decode(p);
	struct stat sb;
	stat(p, &sb);
	ok(d.err == 0 && !d.truncated && d.cut && d.cut_message && d.bad == 0,
	   "%s: the log decodes to its end, and says it was cut (%ld events, %lld bytes; "
	   "%d %d %d %d %ld)",
	   m, d.events, (long long)sb.st_size, d.err, d.truncated, d.cut, d.cut_message, d.bad);
	ok(d.events > 0 && (uint64_t)d.events == st.framed && d.trl.total_events == i,
	   "%s: the events of the complete frames, counted exactly (%ld, %llu)", m, d.events,
	   (unsigned long long)st.framed);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 99;
	test_thread_roundtrip();
	test_shared();
	test_back_pressure();
	test_fork();
	test_close_async();
	test_idle_frame();
	test_cut(PMT_WRITER_SYNC);
	test_cut(PMT_WRITER_THREAD);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 99;
	return done_testing();
}
