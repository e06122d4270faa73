/* SPDX-License-Identifier: MIT */
/* Parallel decode of zstd frames (frames.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/frames.h>

#define READ_CHUNK (1u << 20)
#define OUT_MIN (256u << 10)

enum job_state { JOB_QUEUED, JOB_TAKEN, JOB_DONE };

struct job {
	uint8_t *in; /* one whole frame, as split */
	size_t in_len, in_cap;
	uint8_t *out; /* its decompressed bytes (not when redo) */
	size_t out_len, out_cap;
	enum job_state state;
	bool redo; /* not decoded in memory: the reading thread streams it */
};

struct pmt_frames {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job is done */
	pthread_t *th;
	unsigned nthreads, started;
	bool stop;

	/* jobs[s % njobs] holds sequence number s, for consumed <= s < queued;
	 * workers take them in order (taken) */
	struct job *jobs;
	unsigned njobs;
	uint64_t queued, taken, consumed;

	/* reading thread only */
	pmt_frames_read_fn rd;
	void *rd_ctx;
	uint8_t *raw; /* raw[rpos, rlen): read, not yet split */
	size_t rpos, rlen, rcap;
	bool raw_eof;
	bool split_stop;  /* what follows is not for the pool */
	int read_err;	  /* a read failed: given once the jobs before are out */
	bool cur;	  /* jobs[consumed % njobs] is being handed out */
	size_t opos;	  /* ... from out[opos], or from in[opos] when redo */
	ZSTD_DCtx *sdctx; /* redo: the streaming decoder's twin */
	ZSTD_DCtx *own;	  /* decodes jobs the workers have not taken yet */
	int pending;	  /* an error to give at the next call */
	bool failed;
};

/* Decompresses a whole frame into job->out, in one call straight into it
 * (streaming would decode into zstd's window first, then copy); redo when
 * that fails for any reason but room (an error, more than
 * PMT_FRAMES_MAX_OUT, memory). */
static void decode(ZSTD_DCtx *d, struct job *j)
{
	j->out_len = 0;
	j->redo = false;
	unsigned long long size = ZSTD_getFrameContentSize(j->in, j->in_len);
	size_t want = size <= PMT_FRAMES_MAX_OUT ? (size_t)size : j->in_len * 8;
	if (want < OUT_MIN)
		want = OUT_MIN;
	for (;;) {
		if (want > PMT_FRAMES_MAX_OUT)
			want = PMT_FRAMES_MAX_OUT;
		if (j->out_cap < want) {
			uint8_t *b = realloc(j->out, want);
			if (!b) {
				j->redo = true;
				return;
			}
			j->out = b;
			j->out_cap = want;
		}
		size_t r = ZSTD_decompressDCtx(d, j->out, j->out_cap, j->in, j->in_len);
		if (!ZSTD_isError(r)) {
			j->out_len = r;
			return;
		}
		if (ZSTD_getErrorCode(r) != ZSTD_error_dstSize_tooSmall ||
		    j->out_cap >= PMT_FRAMES_MAX_OUT) {
			j->redo = true;
			return;
		}
		want = j->out_cap * 2;
	}
}

static void *worker(void *arg)
{
	struct pmt_frames *f = arg;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->stop && f->taken == f->queued)
			pthread_cond_wait(&f->work, &f->mu);
		if (f->stop)
			break;
		struct job *j = &f->jobs[f->taken++ % f->njobs];
		j->state = JOB_TAKEN;
		pthread_mutex_unlock(&f->mu);
		if (d)
			decode(d, j);
		else
			j->redo = true;
		pthread_mutex_lock(&f->mu);
		j->state = JOB_DONE;
		pthread_cond_broadcast(&f->done);
	}
	pthread_mutex_unlock(&f->mu);
	ZSTD_freeDCtx(d);
	return NULL;
}

struct pmt_frames *pmt_frames_new(unsigned threads, pmt_frames_read_fn rd, void *ctx)
{
	if (threads < 1)
		threads = 1;
	struct pmt_frames *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->nthreads = threads;
	f->njobs = threads + 1;
	f->rd = rd;
	f->rd_ctx = ctx;
	f->jobs = calloc(f->njobs, sizeof(*f->jobs));
	f->th = calloc(threads, sizeof(*f->th));
	f->sdctx = ZSTD_createDCtx();
	f->own = ZSTD_createDCtx();
	if (!f->jobs || !f->th || !f->sdctx || !f->own) {
		ZSTD_freeDCtx(f->sdctx);
		ZSTD_freeDCtx(f->own);
		free(f->jobs);
		free(f->th);
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->work, NULL);
	pthread_cond_init(&f->done, NULL);
	return f;
}

void pmt_frames_free(struct pmt_frames *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->work);
	pthread_mutex_unlock(&f->mu);
	for (unsigned i = 0; i < f->started; i++)
		pthread_join(f->th[i], NULL);
	pthread_cond_destroy(&f->work);
	pthread_cond_destroy(&f->done);
	pthread_mutex_destroy(&f->mu);
	for (unsigned i = 0; i < f->njobs; i++) {
		free(f->jobs[i].in);
		free(f->jobs[i].out);
	}
	ZSTD_freeDCtx(f->sdctx);
	ZSTD_freeDCtx(f->own);
	free(f->jobs);
	free(f->th);
	free(f->raw);
	free(f);
}

/* Room for n more raw bytes after rlen (moving the unsplit bytes to the
 * start first). 0 or -ENOMEM. */
static int raw_room(struct pmt_frames *f, size_t n)
{
	if (f->rpos) {
		memmove(f->raw, f->raw + f->rpos, f->rlen - f->rpos);
		f->rlen -= f->rpos;
		f->rpos = 0;
	}
	if (f->rcap - f->rlen >= n)
		return 0;
	size_t cap = f->rcap ? f->rcap : READ_CHUNK;
	while (cap - f->rlen < n)
		cap *= 2;
	uint8_t *b = realloc(f->raw, cap);
	if (!b)
		return -ENOMEM;
	f->raw = b;
	f->rcap = cap;
	return 0;
}

int pmt_frames_feed(struct pmt_frames *f, const void *p, size_t n)
{
	f->split_stop = false;
	if (!n)
		return 0;
	int r = raw_room(f, n);
	if (r < 0)
		return r;
	memcpy(f->raw + f->rlen, p, n);
	f->rlen += n;
	return 0;
}

/* The next whole frame of raw as a job: 1, or 0 when the pool takes no
 * more (split_stop set: the end, a read error, or bytes for the streaming
 * decoder). */
static int split(struct pmt_frames *f, struct job *j)
{
	for (;;) {
		size_t avail = f->rlen - f->rpos;
		if (avail) {
			size_t s = ZSTD_findFrameCompressedSize(f->raw + f->rpos, avail);
			if (!ZSTD_isError(s) && s <= avail) {
				if (j->in_cap < s) {
					uint8_t *b = realloc(j->in, s);
					if (!b)
						break;
					j->in = b;
					j->in_cap = s;
				}
				memcpy(j->in, f->raw + f->rpos, s);
				j->in_len = s;
				f->rpos += s;
				return 1;
			}
			if (!ZSTD_isError(s) || ZSTD_getErrorCode(s) != ZSTD_error_srcSize_wrong)
				break; /* not a frame: the streaming decoder says what */
			if (avail >= PMT_FRAMES_MAX_IN)
				break; /* too large to hold: streamed */
		}
		if (f->raw_eof)
			break; /* the end, or a cut frame (streamed: truncated) */
		if (raw_room(f, READ_CHUNK) < 0)
			break;
		long k = f->rd(f->rd_ctx, f->raw + f->rlen, READ_CHUNK);
		if (k < 0) {
			f->read_err = (int)k;
			break;
		}
		if (k == 0)
			f->raw_eof = true;
		f->rlen += (size_t)k;
	}
	f->split_stop = true;
	return 0;
}

/* Queues every job there is room for. */
static void refill(struct pmt_frames *f)
{
	while (!f->split_stop && f->queued - f->consumed < f->njobs) {
		struct job *j = &f->jobs[f->queued % f->njobs];
		if (!split(f, j))
			break;
		pthread_mutex_lock(&f->mu);
		j->state = JOB_QUEUED;
		f->queued++;
		pthread_cond_signal(&f->work);
		pthread_mutex_unlock(&f->mu);
	}
	while (f->started < f->nthreads && f->queued > f->consumed + f->started) {
		if (pthread_create(&f->th[f->started], NULL, worker, f) != 0)
			break; /* fewer threads; the reading thread decodes the rest */
		f->started++;
	}
}

/* Waits for the oldest job, decoding it here if no worker has taken it. */
static struct job *oldest(struct pmt_frames *f)
{
	struct job *j = &f->jobs[f->consumed % f->njobs];
	pthread_mutex_lock(&f->mu);
	if (f->taken == f->consumed) {
		f->taken++;
		j->state = JOB_TAKEN;
		pthread_mutex_unlock(&f->mu);
		decode(f->own, j);
		pthread_mutex_lock(&f->mu);
		j->state = JOB_DONE;
	}
	while (j->state != JOB_DONE)
		pthread_cond_wait(&f->done, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return j;
}

/* A redo job, streamed as input.c's decoder does: the bytes it gives, and
 * an error only once those are out. Returns bytes, 0 at the frame's end,
 * or PMT_E_ZSTD. */
static long stream(struct pmt_frames *f, struct job *j, void *dst, size_t n)
{
	if (f->opos == 0)
		ZSTD_DCtx_reset(f->sdctx, ZSTD_reset_session_only);
	ZSTD_outBuffer o = {dst, n, 0};
	while (o.pos == 0 && f->opos < j->in_len) {
		ZSTD_inBuffer zi = {j->in, j->in_len, f->opos};
		size_t r = ZSTD_decompressStream(f->sdctx, &o, &zi);
		f->opos = zi.pos;
		if (ZSTD_isError(r)) {
			if (o.pos) {
				f->pending = PMT_E_ZSTD;
				return (long)o.pos;
			}
			return PMT_E_ZSTD;
		}
		if (r == 0) {
			f->opos = j->in_len;
			break;
		}
	}
	return (long)o.pos;
}

long pmt_frames_produce(struct pmt_frames *f, void *dst, size_t n)
{
	if (f->failed)
		return 0;
	if (f->pending) {
		f->failed = true;
		return f->pending;
	}
	for (;;) {
		if (f->cur) {
			struct job *j = &f->jobs[f->consumed % f->njobs];
			long k;
			if (j->redo) {
				k = stream(f, j, dst, n);
				if (k < 0) {
					f->failed = true;
					return k;
				}
			} else {
				size_t m = j->out_len - f->opos;
				if (m > n)
					m = n;
				memcpy(dst, j->out + f->opos, m);
				f->opos += m;
				k = (long)m;
			}
			if (k > 0)
				return k;
			f->cur = false;
			f->consumed++;
		}
		refill(f);
		if (f->queued == f->consumed) {
			if (f->read_err) {
				f->failed = true;
				return f->read_err;
			}
			return 0; /* the rest is the streaming decoder's */
		}
		oldest(f);
		f->cur = true;
		f->opos = 0;
	}
}

size_t pmt_frames_take_rest(struct pmt_frames *f, void *dst, size_t n)
{
	size_t m = f->rlen - f->rpos;
	if (m > n)
		m = n;
	memcpy(dst, f->raw + f->rpos, m);
	f->rpos += m;
	return m;
}

bool pmt_frames_has_rest(const struct pmt_frames *f) { return f->rpos < f->rlen; }
