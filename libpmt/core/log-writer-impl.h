/* SPDX-License-Identifier: MIT */
/* The log writer's insides, shared by its producer side (log-writer.c) and
 * its consumer, the writer thread (log-writer-thread.c). Not installed, not
 * included by anything else. */
#ifndef PMT_LOG_WRITER_IMPL_H
#define PMT_LOG_WRITER_IMPL_H

#include <errno.h>
#include <libpmt/core/log-sink.h>
#include <libpmt/core/log-writer.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define DEFAULT_FRAME_EVENTS (1u << 20)
#define DEFAULT_FRAME_NS (100ull * 1000 * 1000)
/* The thread looks at pending data this often; data older than two looks
 * gets its frame ended (asked of the producer first). */
#define TICK_NS (50ull * 1000 * 1000)
#define NO_DEADLINE UINT64_MAX

enum { CH_FREE, CH_FILLING, CH_SEALED };
#define CH_END 1u  /* end the frame after this chunk */
#define CH_CONT 2u /* ends inside a record: no frame may end there */
#define CH_LAST 4u /* the trailer follows; then close */

struct chunk {
	uint8_t *data; /* PMT_WRITER_CHUNK bytes */
	size_t len;    /* at seal */
	unsigned flags;
	uint64_t events; /* events + skipped at seal */
	int state;	 /* CH_*, atomic */
};

struct pmt_writer_priv {
	struct pmt_sink sink;
	ZSTD_CCtx *cctx;
	uint8_t *out;
	size_t out_cap, out_len;
	uint32_t frame_events;
	uint64_t frame_ns;
	bool threaded, shared;
	void (*thread_start)(void *ctx);
	void *thread_ctx;

	/* producer side */
	struct chunk ch[PMT_WRITER_CHUNKS];
	unsigned nch, pi;
	bool handed; /* data sealed since the last frame end */
	struct pmt_trailer trailer;

	/* consumer side */
	unsigned ci;	     /* chunk being consumed */
	size_t ci_done;	     /* its bytes fed to zstd */
	uint64_t lin_base;   /* stream offset of chunk ci */
	uint64_t lin_framed; /* stream offset of the last frame end */
	uint64_t tick_pub;   /* stream offset published at the previous look */
	bool mid_record;     /* what was fed ends inside a record */
	bool in_frame;	     /* fed since the last frame end */
	bool frame_asked;    /* the producer was asked to end the frame */
	uint64_t at_events;  /* events + skipped at the fed position */
	uint64_t framed;     /* ... at the last frame written */
	uint64_t taken_at;
	int cerr; /* the consumer's first error (atomic) */
	bool cut_noted;

	/* the thread */
	pthread_t thread;
	bool running, forked, paused;
	sem_t ready, free_sem;
	pthread_mutex_t lock;
	int abandon, sig, done, pause; /* atomic */
	struct pmt_trailer sig_trailer;
};

static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct piece {
	const void *p;
	size_t n;
};

/* A length-prefixed record from pieces, into buf (at least 1 + VARINT_MAX +
 * their total): returns its length. */
static inline size_t record(uint8_t *buf, unsigned tag, const struct piece *pc, unsigned np)
{
	size_t len = 0;
	for (unsigned i = 0; i < np; i++)
		len += pc[i].n;
	buf[0] = (uint8_t)tag;
	uint8_t *q = pmt_varint_put(buf + 1, len);
	for (unsigned i = 0; i < np; i++) {
		memcpy(q, pc[i].p, pc[i].n);
		q += pc[i].n;
	}
	return (size_t)(q - buf);
}

/* The consumer (log-writer-thread.c). */
int pmt_wr_feed(struct pmt_writer_priv *p, const uint8_t *d, size_t n, bool end);
void pmt_wr_fail(struct pmt_writer_priv *p, int err);
bool pmt_wr_consume_sealed(struct pmt_writer *w);
int pmt_wr_spawn(struct pmt_writer *w);

#endif
