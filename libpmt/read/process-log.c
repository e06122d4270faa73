/* SPDX-License-Identifier: MIT */
/* The records of a process JSON log grouped by PID (see process-log.h).
 * Records are spooled to an unlinked temporary file, linked per PID, so
 * memory is bounded by the number of PIDs, not records. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/process-log.h>

struct spool_rec {
	int64_t pid;
	double elapsed;
	int64_t rss;
	double pfaults;
	double user;
	int64_t next; /* offset of the next record of this PID, -1 at the end */
	uint32_t label_len;
	uint8_t has_pfaults, has_user, has_label, pad;
	char iso[32];
};

struct pid_slot {
	struct pmt_process_pid st;
	int64_t first, last; /* spool offsets */
};

struct pmt_process_log {
	FILE *spool;
	int fd;
	int64_t end;
	struct pid_slot *pids;
	unsigned npids, cappids;
	unsigned *hash; /* index + 1, 0 = free; capacity hashcap (power of two) */
	unsigned hashcap;
	uint64_t bad;
	bool truncated;
	/* iteration */
	int64_t cur;
	double prev_elapsed, prev_pfaults, prev_user;
	struct spool_rec rec;
	char *label;
	size_t labelcap;
};

static unsigned hash_pid(int64_t pid, unsigned cap)
{
	uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 32) & (cap - 1);
}

static int rehash(struct pmt_process_log *l, unsigned cap)
{
	unsigned *h = calloc(cap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (unsigned i = 0; i < l->npids; i++) {
		unsigned k = hash_pid(l->pids[i].st.pid, cap);
		while (h[k])
			k = (k + 1) & (cap - 1);
		h[k] = i + 1;
	}
	free(l->hash);
	l->hash = h;
	l->hashcap = cap;
	return 0;
}

static int find_pid(struct pmt_process_log *l, int64_t pid, struct pid_slot **out)
{
	unsigned k = hash_pid(pid, l->hashcap);
	while (l->hash[k]) {
		struct pid_slot *s = &l->pids[l->hash[k] - 1];
		if (s->st.pid == pid) {
			*out = s;
			return 0;
		}
		k = (k + 1) & (l->hashcap - 1);
	}
	if (l->npids == l->cappids) {
		unsigned cap = l->cappids ? 2 * l->cappids : 8;
		struct pid_slot *p = realloc(l->pids, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->pids = p;
		l->cappids = cap;
	}
	struct pid_slot *s = &l->pids[l->npids];
	memset(s, 0, sizeof(*s));
	s->st.pid = pid;
	s->st.t_min = INFINITY;
	s->st.t_max = -INFINITY;
	s->st.rss_min = INT64_MAX;
	s->st.rss_max = INT64_MIN;
	s->st.last_user = NAN;
	s->first = s->last = -1;
	l->hash[k] = ++l->npids;
	if (2 * l->npids > l->hashcap) {
		int r = rehash(l, 2 * l->hashcap);
		if (r < 0)
			return r;
	}
	*out = &l->pids[l->npids - 1];
	return 0;
}

static int write_all(int fd, const void *buf, size_t n, int64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n, int64_t off)
{
	char *p = buf;
	while (n) {
		ssize_t k = pread(fd, p, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static int add_record(struct pmt_process_log *l, const struct pmt_process_record *rec)
{
	struct pid_slot *s;
	int r = find_pid(l, rec->pid, &s);
	if (r < 0)
		return r;
	struct spool_rec sr;
	memset(&sr, 0, sizeof(sr));
	sr.pid = rec->pid;
	sr.elapsed = rec->elapsed;
	sr.rss = rec->rss;
	sr.pfaults = rec->pfaults;
	sr.user = rec->user;
	sr.next = -1;
	sr.has_pfaults = rec->has_pfaults;
	sr.has_user = rec->has_user;
	sr.has_label = rec->label != NULL;
	sr.label_len = rec->label ? (uint32_t)(rec->label_len > UINT32_MAX / 2 ? UINT32_MAX / 2
									       : rec->label_len)
				  : 0;
	memcpy(sr.iso, rec->iso, sizeof(sr.iso));
	int64_t off = l->end;
	r = write_all(l->fd, &sr, sizeof(sr), off);
	if (r == 0 && sr.label_len)
		r = write_all(l->fd, rec->label, sr.label_len, off + (int64_t)sizeof(sr));
	if (r == 0 && s->last >= 0)
		r = write_all(l->fd, &off, sizeof(off),
			      s->last + (int64_t)offsetof(struct spool_rec, next));
	if (r < 0)
		return r;
	l->end = off + (int64_t)sizeof(sr) + sr.label_len;
	if (s->first < 0)
		s->first = off;
	s->last = off;

	struct pmt_process_pid *st = &s->st;
	st->records++;
	if (rec->label)
		st->labels++;
	if (rec->elapsed < st->t_min)
		st->t_min = rec->elapsed;
	if (rec->elapsed > st->t_max)
		st->t_max = rec->elapsed;
	if (rec->rss < st->rss_min)
		st->rss_min = rec->rss;
	if (rec->rss > st->rss_max)
		st->rss_max = rec->rss;
	st->last_elapsed = rec->elapsed;
	if (rec->has_user)
		st->last_user = rec->user;
	if (!rec->has_pfaults)
		st->pfaults_missing = true;
	return 0;
}

int pmt_process_log_read(struct pmt_input *in, pmt_process_warn_fn warn, void *ctx,
			 struct pmt_process_log **out)
{
	struct pmt_process_reader *rd = NULL;
	struct pmt_process_log *l = calloc(1, sizeof(*l));
	int r = -ENOMEM;
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	l->spool = tmpfile();
	if (!l->spool) {
		r = -errno;
		goto fail;
	}
	l->fd = fileno(l->spool);
	r = rehash(l, 16);
	if (r < 0)
		goto fail;
	r = pmt_process_reader_new(in, &rd);
	if (r < 0)
		goto fail;
	pmt_process_reader_set_warn(rd, warn, ctx);
	struct pmt_process_record rec;
	while ((r = pmt_process_reader_next(rd, &rec)) > 0) {
		r = add_record(l, &rec);
		if (r < 0)
			goto fail;
	}
	l->bad = pmt_process_reader_bad(rd);
	l->truncated = pmt_input_truncated(in);
	pmt_process_reader_free(rd);
	*out = l;
	/* r < 0: an input error after the records so far; the caller shows
	 * them, then fails */
	return r;
fail:
	pmt_process_reader_free(rd);
	pmt_process_log_free(l);
	return r;
}

void pmt_process_log_free(struct pmt_process_log *l)
{
	if (!l)
		return;
	if (l->spool)
		fclose(l->spool);
	free(l->pids);
	free(l->hash);
	free(l->label);
	free(l);
}

unsigned pmt_process_log_pids(const struct pmt_process_log *l) { return l->npids; }

const struct pmt_process_pid *pmt_process_log_pid(const struct pmt_process_log *l, unsigned i)
{
	return i < l->npids ? &l->pids[i].st : NULL;
}

uint64_t pmt_process_log_bad(const struct pmt_process_log *l) { return l->bad; }

bool pmt_process_log_truncated(const struct pmt_process_log *l) { return l->truncated; }

int pmt_process_log_begin(struct pmt_process_log *l, unsigned i)
{
	if (i >= l->npids)
		return -EINVAL;
	l->cur = l->pids[i].first;
	l->prev_elapsed = 0.0;
	l->prev_pfaults = 0.0;
	l->prev_user = 0.0;
	return 0;
}

/* a / b, or NaN (an empty cell) where pymemtrace would divide by zero */
static double ratio(double a, double b) { return b != 0.0 ? a / b : NAN; }

int pmt_process_log_next(struct pmt_process_log *l, struct pmt_process_row *row)
{
	if (l->cur < 0)
		return 0;
	int r = read_all(l->fd, &l->rec, sizeof(l->rec), l->cur);
	if (r < 0)
		return r;
	const struct spool_rec *sr = &l->rec;
	if (sr->label_len + 1 > l->labelcap) {
		char *p = realloc(l->label, sr->label_len + 1);
		if (!p)
			return -ENOMEM;
		l->label = p;
		l->labelcap = sr->label_len + 1;
	}
	if (sr->label_len) {
		r = read_all(l->fd, l->label, sr->label_len, l->cur + (int64_t)sizeof(*sr));
		if (r < 0)
			return r;
	}
	l->label[sr->label_len] = '\0';
	l->cur = sr->next;

	double dt = sr->elapsed - l->prev_elapsed;
	row->t = sr->elapsed;
	row->rss = sr->rss;
	row->faults_per_s = sr->has_pfaults ? ratio(sr->pfaults - l->prev_pfaults, dt) : NAN;
	row->user = sr->has_user ? sr->user : NAN;
	row->mean_cpu = sr->has_user ? ratio(sr->user, sr->elapsed) : NAN;
	row->inst_cpu = sr->has_user ? ratio(sr->user - l->prev_user, dt) : NAN;
	row->iso = sr->iso;
	row->pid = sr->pid;
	row->label = sr->has_label ? l->label : NULL;
	row->label_len = sr->label_len;
	/* pymemtrace keeps the previous values of every record */
	l->prev_elapsed = sr->elapsed;
	if (sr->has_pfaults)
		l->prev_pfaults = sr->pfaults;
	if (sr->has_user)
		l->prev_user = sr->user;
	return 1;
}
