/* RSS sources: statm (pread of a kept-open /proc/self/statm) and perf
 * (statm re-read only when the kmem:rss_stat tracepoint fired for us).
 *
 * Why the perf gate is exact: every change of an mm's RSS counters goes
 * through add_mm_counter()/inc_mm_counter()/dec_mm_counter(), which emit
 * kmem:rss_stat right after updating the counter that statm reads. An event
 * with sample_period 1 writes one record per firing into its ring buffer, so
 * the ring's data_head moves whenever statm may have changed. Per-task events
 * that inherit cannot be mmapped with cpu -1, so there is one event (and one
 * ring, one gate) per online CPU; events of other threads are redirected
 * into the same-CPU ring with PERF_EVENT_IOC_SET_OUTPUT. After each statm
 * read data_tail is moved up to the head seen, so the ring is empty again
 * and the next firing always moves data_head, however many records a
 * single call produced (a full ring drops records, it would not move the
 * head). */
#include "rss.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

static const char *const kind_names[PMT_RSS_KIND_COUNT] = {
	[PMT_RSS_AUTO] = "auto",
	[PMT_RSS_STATM] = "statm",
	[PMT_RSS_PERF] = "perf",
};

const char *pmt_rss_name(enum pmt_rss_kind k)
{
	if ((unsigned)k >= PMT_RSS_KIND_COUNT)
		return "unknown";
	return kind_names[k];
}

int pmt_rss_parse(const char *name)
{
	if (!name)
		return -1;
	for (int k = 0; k < PMT_RSS_KIND_COUNT; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

/* ---- perf source ---- */

/* One data page holds 512 sample records (8 bytes each with sample_type 0);
 * more is never needed because the tail is moved up at every statm read and
 * only "did data_head move" matters. */
#define RING_DATA_PAGES 1

struct perf_src {
	unsigned ncpu;
	int cpu[PMT_RSS_MAX_GATES];
	int leader[PMT_RSS_MAX_GATES]; /* the mmapped event per CPU */
	struct perf_event_mmap_page *ring[PMT_RSS_MAX_GATES];
	size_t ring_len;
	int *fds; /* events of other threads, redirected to the leaders */
	size_t nfds, capfds;
	pid_t *tids; /* threads with events (inherit covers their new threads) */
	size_t ntids, captids;
};

static int sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group,
			       unsigned long flags)
{
	long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group, flags);
	return fd < 0 ? -errno : (int)fd;
}

static int read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	return (int)n;
}

/* The library never mounts tracefs; it looks where it is usually mounted. */
static int tracepoint_id(long long *id)
{
	static const char *const paths[] = {
		"/sys/kernel/tracing/events/kmem/rss_stat/id",
		"/sys/kernel/debug/tracing/events/kmem/rss_stat/id",
	};
	char buf[32];
	int err = -ENOENT;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int n = read_small_file(paths[i], buf, sizeof(buf));
		if (n < 0) {
			if (err == -ENOENT)
				err = n;
			continue;
		}
		char *end;
		errno = 0;
		long long v = strtoll(buf, &end, 10);
		if (errno || end == buf || v < 0)
			return -EINVAL;
		*id = v;
		return 0;
	}
	return err;
}

/* Parses /sys/devices/system/cpu/online ("0-3,8,10-11"). */
static int online_cpus(int *cpus, unsigned max, unsigned *n)
{
	char buf[512];
	int len = read_small_file("/sys/devices/system/cpu/online", buf, sizeof(buf));
	if (len < 0)
		return len;
	*n = 0;
	const char *p = buf;
	while (*p && *p != '\n') {
		char *end;
		long a = strtol(p, &end, 10), b;
		if (end == p || a < 0)
			return -EINVAL;
		p = end;
		b = a;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -EINVAL;
			p = end;
		}
		for (long c = a; c <= b; c++) {
			if (*n >= max)
				return -ENOTSUP;
			cpus[(*n)++] = (int)c;
		}
		if (*p == ',')
			p++;
	}
	return *n ? 0 : -EINVAL;
}

static void rss_attr(struct perf_event_attr *attr, long long id, bool new_flags)
{
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = PERF_TYPE_TRACEPOINT;
	attr->config = (unsigned long long)id;
	attr->sample_period = 1;
	attr->sample_type = 0; /* the record header alone moves data_head */
	attr->inherit = 1;     /* threads created later */
	/* Nobody polls the ring: wake up as rarely as the kernel allows. */
	attr->watermark = 1;
	attr->wakeup_watermark = RING_DATA_PAGES * 4096u;
	if (new_flags) {
		/* Linux >= 5.13: fork children and exec'd images are not ours. */
		attr->inherit_thread = 1;
		attr->remove_on_exec = 1;
	}
}

static int push_fd(struct perf_src *ps, int fd)
{
	if (ps->nfds == ps->capfds) {
		size_t cap = ps->capfds ? ps->capfds * 2 : 16;
		int *p = realloc(ps->fds, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ps->fds = p;
		ps->capfds = cap;
	}
	ps->fds[ps->nfds++] = fd;
	return 0;
}

static bool have_tid(const struct perf_src *ps, pid_t tid)
{
	for (size_t i = 0; i < ps->ntids; i++)
		if (ps->tids[i] == tid)
			return true;
	return false;
}

static int push_tid(struct perf_src *ps, pid_t tid)
{
	if (ps->ntids == ps->captids) {
		size_t cap = ps->captids ? ps->captids * 2 : 16;
		pid_t *p = realloc(ps->tids, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ps->tids = p;
		ps->captids = cap;
	}
	ps->tids[ps->ntids++] = tid;
	return 0;
}

/* Threads that existed before the events were opened are not covered by
 * inherit: give each its own events, writing into the leaders' rings. A
 * thread may create another while we scan, so scan until nothing is new. */
static int attach_other_threads(struct perf_src *ps, const struct perf_event_attr *attr)
{
	int err = 0;
	bool found_new = true;

	for (int round = 0; found_new && round < 100; round++) {
		found_new = false;
		DIR *d = opendir("/proc/self/task");
		if (!d)
			return -errno;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
			if (have_tid(ps, tid))
				continue;
			found_new = true;
			err = push_tid(ps, tid);
			if (err)
				goto out_dir;
			for (unsigned i = 0; i < ps->ncpu; i++) {
				struct perf_event_attr a = *attr;
				int fd = sys_perf_event_open(&a, tid, ps->cpu[i], -1,
							     PERF_FLAG_FD_CLOEXEC);
				if (fd == -ESRCH)
					break; /* the thread has exited: nothing to watch */
				if (fd < 0) {
					err = fd;
					goto out_dir;
				}
				err = push_fd(ps, fd);
				if (err) {
					close(fd);
					goto out_dir;
				}
				if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ps->leader[i]) < 0) {
					err = -errno;
					goto out_dir;
				}
			}
		}
	out_dir:
		closedir(d);
		if (err)
			return err;
	}
	return found_new ? -EAGAIN : 0;
}

static void perf_free(struct pmt_rss *r)
{
	struct perf_src *ps = r->priv;

	r->ngates = 0;
	if (!ps)
		return;
	/* In a fork child the rings were not copied (VM_DONTCOPY) and their
	 * addresses may hold something else by now: never unmap them there. */
	bool mapped_here = r->owner_pid == getpid();
	for (size_t i = 0; i < ps->nfds; i++)
		close(ps->fds[i]);
	for (unsigned i = 0; i < ps->ncpu; i++) {
		if (ps->ring[i] && mapped_here)
			munmap(ps->ring[i], ps->ring_len);
		if (ps->leader[i] >= 0)
			close(ps->leader[i]);
	}
	free(ps->fds);
	free(ps->tids);
	free(ps);
	r->priv = NULL;
}

static bool gates_moved(const struct pmt_rss *r, const uint64_t *before)
{
	for (unsigned i = 0; i < r->ngates; i++)
		if (*r->gate[i] != before[i])
			return true;
	return false;
}

/* The kernel may accept the events and still never fire them for us (an
 * unexpected kernel, an exclude flag, a tracepoint that moved): prove that
 * both growth and shrinking of RSS move a gate before trusting it. */
static int perf_self_check(struct pmt_rss *r)
{
	const size_t len = 1 << 20;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t before[PMT_RSS_MAX_GATES];
	int err = 0;

	for (unsigned i = 0; i < r->ngates; i++)
		before[i] = *r->gate[i];
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	for (size_t off = 0; off < len; off += (size_t)page)
		((volatile char *)p)[off] = 1;
	if (!gates_moved(r, before))
		err = -ENOTSUP;
	for (unsigned i = 0; i < r->ngates; i++)
		before[i] = *r->gate[i];
	munmap(p, len);
	if (!err && !gates_moved(r, before))
		err = -ENOTSUP;
	return err;
}

static int perf_open(struct pmt_rss *r)
{
	struct perf_event_attr attr;
	long long id;
	long page = sysconf(_SC_PAGESIZE);
	int err = tracepoint_id(&id);
	if (err)
		return err;

	struct perf_src *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	for (unsigned i = 0; i < PMT_RSS_MAX_GATES; i++)
		ps->leader[i] = -1;
	r->priv = ps;
	err = online_cpus(ps->cpu, PMT_RSS_MAX_GATES, &ps->ncpu);
	if (err) {
		ps->ncpu = 0;
		goto out;
	}
	ps->ring_len = (size_t)page * (1 + RING_DATA_PAGES);

	bool new_flags = true;
	for (unsigned i = 0; i < ps->ncpu; i++) {
		rss_attr(&attr, id, new_flags);
		int fd = sys_perf_event_open(&attr, 0, ps->cpu[i], -1, PERF_FLAG_FD_CLOEXEC);
		if (fd == -EINVAL && new_flags && i == 0) {
			new_flags = false; /* kernel older than 5.13 */
			rss_attr(&attr, id, new_flags);
			fd = sys_perf_event_open(&attr, 0, ps->cpu[i], -1, PERF_FLAG_FD_CLOEXEC);
		}
		if (fd < 0) {
			err = fd;
			goto out;
		}
		ps->leader[i] = fd;
		void *m = mmap(NULL, ps->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			err = -errno;
			goto out;
		}
		ps->ring[i] = m;
		/* __u64 and uint64_t are distinct types of the same width */
		r->gate[i] = (volatile uint64_t *)&ps->ring[i]->data_head;
		r->ngates = i + 1;
	}
	err = push_tid(ps, (pid_t)syscall(SYS_gettid));
	if (err)
		goto out;
	err = attach_other_threads(ps, &attr);
	if (err)
		goto out;
	err = perf_self_check(r);
out:
	if (err)
		perf_free(r);
	return err;
}

/* Empties every ring up to the head already seen (see the top comment). */
static void perf_release(struct pmt_rss *r)
{
	struct perf_src *ps = r->priv;
	for (unsigned i = 0; i < r->ngates; i++)
		__atomic_store_n(&ps->ring[i]->data_tail, (__u64)r->gate_seen[i], __ATOMIC_RELEASE);
}

/* ---- statm ---- */

long pmt_rss_read_statm(struct pmt_rss *r)
{
	char buf[64];
	ssize_t n;

	do
		n = pread(r->statm_fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* "size resident shared ...": the second field, digits by hand because
	 * this runs for every traced event with the statm source. */
	const char *p = buf, *end = buf + n;
	while (p < end && *p != ' ')
		p++;
	if (++p >= end)
		return -EIO;
	const char *digits = p;
	long v = 0;
	while (p < end && (unsigned)(*p - '0') < 10) {
		v = v * 10 + (*p - '0');
		p++;
	}
	if (p == digits || p == end)
		return -EIO;
	if (r->ngates)
		perf_release(r);
	r->pages = v;
	return v;
}

static int statm_open(struct pmt_rss *r)
{
	r->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (r->statm_fd < 0)
		return -errno;
	long p = pmt_rss_read_statm(r);
	return p < 0 ? (int)p : 0;
}

static void statm_close(struct pmt_rss *r)
{
	if (r->statm_fd >= 0)
		close(r->statm_fd);
	r->statm_fd = -1;
}

/* ---- fork safety ---- */

/* The tracer may run its hook in a fork child before it gets round to
 * pmt_rss_reopen_after_fork(): the child's statm fd would still read the
 * parent's statm and its gates would point at unmapped memory. The fork
 * handler makes every live pmt_rss a plain statm source for the child at
 * once (one open; cheap enough for fork+exec); perf comes back in the
 * explicit reopen. */
#define MAX_LIVE 16
static struct pmt_rss *live[MAX_LIVE];
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_make_safe(struct pmt_rss *r)
{
	if (r->owner_pid == getpid())
		return;
	r->ngates = 0; /* the rings are not mapped in the child */
	if (r->statm_fd >= 0)
		close(r->statm_fd);
	r->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (r->statm_fd >= 0)
		pmt_rss_read_statm(r);
}

static void atfork_child(void)
{
	/* Single-threaded here; the lock may have been held by a thread that
	 * does not exist in the child, so it is reinitialised, not taken. */
	pthread_mutex_init(&live_lock, NULL);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (live[i])
			child_make_safe(live[i]);
}

static void atfork_register(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

static void live_add(struct pmt_rss *r)
{
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&live_lock);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = r;
			break;
		}
	pthread_mutex_unlock(&live_lock);
}

static void live_remove(struct pmt_rss *r)
{
	pthread_mutex_lock(&live_lock);
	for (unsigned i = 0; i < MAX_LIVE; i++)
		if (live[i] == r)
			live[i] = NULL;
	pthread_mutex_unlock(&live_lock);
}

/* ---- public ---- */

static int open_kind(struct pmt_rss *r, enum pmt_rss_kind want)
{
	int err = statm_open(r);
	if (err)
		return err;
	if (want == PMT_RSS_STATM) {
		r->kind = PMT_RSS_STATM;
		return 0;
	}
	err = perf_open(r);
	if (!err) {
		r->kind = PMT_RSS_PERF;
		for (unsigned i = 0; i < r->ngates; i++)
			r->gate_seen[i] = *r->gate[i];
		long p = pmt_rss_read_statm(r);
		return p < 0 ? (int)p : 0;
	}
	if (want == PMT_RSS_PERF)
		return err;
	r->kind = PMT_RSS_STATM; /* auto: never a wrong number, only a slower one */
	return 0;
}

int pmt_rss_open(struct pmt_rss *r, enum pmt_rss_kind want)
{
	memset(r, 0, sizeof(*r));
	r->statm_fd = -1;
	r->owner_pid = getpid();
	if ((unsigned)want >= PMT_RSS_KIND_COUNT)
		return -EINVAL;
	int err = open_kind(r, want);
	if (err) {
		perf_free(r);
		statm_close(r);
		return err;
	}
	live_add(r);
	return 0;
}

void pmt_rss_close(struct pmt_rss *r)
{
	live_remove(r);
	perf_free(r);
	statm_close(r);
}

int pmt_rss_reopen_after_fork(struct pmt_rss *r)
{
	/* The fork handler may already have run child_make_safe(); the perf
	 * state (fds, bookkeeping) is the parent's either way. */
	child_make_safe(r);
	bool want_perf = r->kind == PMT_RSS_PERF;
	perf_free(r);
	r->owner_pid = getpid();
	statm_close(r);
	int err = statm_open(r);
	if (err)
		return err;
	r->kind = PMT_RSS_STATM;
	if (want_perf && perf_open(r) == 0) {
		r->kind = PMT_RSS_PERF;
		for (unsigned i = 0; i < r->ngates; i++)
			r->gate_seen[i] = *r->gate[i];
		long p = pmt_rss_read_statm(r);
		if (p < 0)
			return (int)p;
	}
	return 0;
}
