/* SPDX-License-Identifier: MIT */
#pragma once
/* The pmt log writer: turns records into a stream of zstd frames on a file
 * descriptor (docs/FORMAT.md). Used by the tracer (one writer per traced
 * process) and by pmt-filter -o.
 *
 * Threading: a writer is not locked; the caller serialises (the tracer holds
 * the GIL; with heap tracing, a lock shared with the allocator hooks).
 * Ownership: the writer owns the fd it was given and every buffer it
 * allocates; pmt_writer_free() releases them.
 *
 * The fd: before every write the writer checks that its fd is still the file
 * it was given (device and inode). A program that closed it and got the
 * number back for a file of its own, or dup2()ed onto it, never sees a byte
 * of ours: the writer forgets that fd (never writes, reads or closes it) and
 * reopens the log by its path in append mode, if it is still the same file
 * with exactly the bytes written so far, and says so in a MESSAGE; else
 * writing stops with an error (pmt_writer_status() says which). The fd is
 * kept at a high number (close-on-exec) so that this is rare. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpmt/core/log-format.h>
#include <libpmt/core/varint.h>

struct pmt_writer_opts {
	uint32_t frame_events; /* end a frame after this many events (0: 1<<20) */
	uint64_t frame_ns;     /* ... or this much event time (0: 100 ms) */
	int level;	       /* zstd level (0: 1) */
	const char *path;      /* the fd's file, to reopen it (copied); NULL: cannot */
};

/* The public part is what the inline fast path below touches. */
struct pmt_writer {
	uint8_t *pos, *end;	 /* free space of the raw record buffer */
	uint64_t last_t;	 /* time of the previous EVENT (ns since start) */
	int64_t last_rss;	 /* RSS of the previous EVENT (pages) */
	uint64_t frame_deadline; /* end the frame at the first event at or after this */
	uint32_t frame_left;	 /* events before the frame must end */
	uint64_t events;	 /* EVENT records written */
	uint64_t skipped;	 /* events announced through SKIP records */
	uint64_t allocs;	 /* ALLOC records written */
	uint64_t last_addr;	 /* address of the previous ALLOC: the base of its delta */
	int error;		 /* first error (-errno); sticky */
	struct pmt_writer_priv *priv;
};

/* Room reserved per record by the fast path: tag + four varints. */
#define PMT_EVENT_MAX (1 + 4 * PMT_VARINT_MAX)

/* Creates a writer on fd (taken over) and writes the magic and the header.
 * Returns 0 or -errno; on failure fd is left open for the caller. */
int pmt_writer_new(int fd, const struct pmt_header *h, const struct pmt_writer_opts *o,
		   struct pmt_writer **out);

/* Compresses what is buffered (ZSTD_e_continue), making room. */
int pmt_writer_drain(struct pmt_writer *w);
/* Ends the current zstd frame and writes it all to the fd: everything
 * written so far survives a SIGKILL from here on. */
int pmt_writer_end_frame(struct pmt_writer *w, uint64_t t_ns);

/* One event. t_ns is time since start, rss in pages (absolute: the writer
 * keeps the deltas). code 0 means unknown. Hot path: no allocation. */
static inline int pmt_writer_event(struct pmt_writer *w, unsigned kind, uint32_t code,
				   uint32_t line, uint64_t t_ns, int64_t rss_pages)
{
	if (__builtin_expect(w->end - w->pos < PMT_EVENT_MAX, 0)) {
		int r = pmt_writer_drain(w);
		if (r < 0)
			return r;
	}
	uint8_t *p = w->pos;
	*p++ = (uint8_t)(PMT_TAG_EVENT | (kind & 7));
	p = pmt_varint_put(p, code);
	p = pmt_varint_put(p, line);
	p = pmt_varint_put(p, t_ns - w->last_t);
	p = pmt_varint_put(p, pmt_zigzag(rss_pages - w->last_rss));
	w->pos = p;
	w->last_t = t_ns;
	w->last_rss = rss_pages;
	w->events++;
	if (__builtin_expect(t_ns >= w->frame_deadline || --w->frame_left == 0, 0))
		return pmt_writer_end_frame(w, t_ns);
	return 0;
}

/* Room reserved by pmt_writer_alloc(): tag + four varints. */
#define PMT_ALLOC_MAX (1 + 4 * PMT_VARINT_MAX)

/* One allocator call (docs/FORMAT.md, ALLOC): op is enum pmt_alloc_op,
 * domain the Python domain of ops 10..14 (else ignored), addr the block
 * returned or freed (0: the call failed), old the block given to realloc,
 * size the bytes asked for, align for the aligned variants. The call
 * belongs to the current event count and to the last SITE. Hot path: no
 * allocation unless the buffer must be compressed. */
static inline int pmt_writer_alloc(struct pmt_writer *w, unsigned op, unsigned domain,
				   uint64_t addr, uint64_t old, uint64_t size, uint64_t align)
{
	if (__builtin_expect(w->end - w->pos < PMT_ALLOC_MAX, 0)) {
		int r = pmt_writer_drain(w);
		if (r < 0)
			return r;
	}
	uint8_t *p = w->pos;
	*p++ = (uint8_t)(PMT_TAG_ALLOC | (op & 15));
	if (op >= PMT_ALLOC_PY_MALLOC)
		p = pmt_varint_put(p, domain);
	if (op != PMT_ALLOC_FREE_NULL && op != PMT_ALLOC_PY_FREE_NULL) {
		p = pmt_varint_put(p, pmt_zigzag((int64_t)(addr - w->last_addr)));
		w->last_addr = addr;
		if (op == PMT_ALLOC_REALLOC || op == PMT_ALLOC_PY_REALLOC)
			p = pmt_varint_put(p, pmt_zigzag((int64_t)(old - addr)));
		if (op != PMT_ALLOC_FREE && op != PMT_ALLOC_PY_FREE)
			p = pmt_varint_put(p, size);
		if (op >= PMT_ALLOC_POSIX_MEMALIGN && op <= PMT_ALLOC_MEMALIGN)
			p = pmt_varint_put(p, align);
	}
	w->pos = p;
	w->allocs++;
	if (__builtin_expect(--w->frame_left == 0, 0))
		return pmt_writer_end_frame(w, w->last_t);
	return 0;
}

/* The following ALLOC (and OBJECT) records happened on thread idx while
 * code/line ran there. name != NULL adds the tail (tid, name) that
 * announces a thread no THREAD record has named (a native thread). */
int pmt_writer_site(struct pmt_writer *w, uint32_t idx, uint32_t code, uint32_t line, uint64_t tid,
		    const char *name);

/* A code definition; must precede the first event that uses id (ids from 1).
 * file and name are bytes (not necessarily NUL-terminated). */
int pmt_writer_code(struct pmt_writer *w, uint32_t id, unsigned kind, uint32_t firstline,
		    const char *file, size_t file_len, const char *name, size_t name_len);
/* Following events belong to thread idx. name (may be NULL) is written the
 * first time a thread is announced; tid is the OS thread id. */
int pmt_writer_thread(struct pmt_writer *w, uint32_t idx, uint64_t tid, const char *name);
/* A user marker at the current event number (the next event). */
int pmt_writer_message(struct pmt_writer *w, const char *text, size_t len);
/* n events were seen and not written. */
int pmt_writer_skip(struct pmt_writer *w, uint64_t n);

/* Writes the trailer, ends the frame and closes the fd. The writer must
 * still be freed. */
int pmt_writer_close(struct pmt_writer *w, const struct pmt_trailer *t);
/* Frees the writer; an fd not yet closed is closed without writing anything
 * more (what a fork child does with its parent's log). */
void pmt_writer_free(struct pmt_writer *w);
/* Compressed bytes written to the fd so far. */
uint64_t pmt_writer_bytes(const struct pmt_writer *w);

/* What happened to the log's file. */
struct pmt_writer_status {
	int error;	   /* the first error (-errno), 0 if none */
	bool fd_lost;	   /* the fd was taken and the log could not be reopened:
			    * error says why (-ESTALE: the path names another
			    * file now, or its size is not what was written) */
	unsigned reopened; /* times the fd was taken and the log reopened */
	uint64_t taken_at; /* events written when the fd was last found taken */
	uint64_t framed;   /* events in the frames written: all a reader gets */
	uint64_t bytes;	   /* compressed bytes written */
};
void pmt_writer_status(const struct pmt_writer *w, struct pmt_writer_status *st);
