/* SPDX-License-Identifier: MIT */
#pragma once
/* The log's file as the writer uses it: a descriptor checked to still be the
 * log before every write, reopened by its path when a program took it, and
 * cut back to the end of the last complete frame when a write fails.
 *
 * A program may close descriptors it does not know (closerange, as daemons
 * and subprocess children do) and open a file that gets the log's number, or
 * dup2() onto it. Before every write the fd must still be the file the sink
 * was given (same device and inode); if it is not, the fd is the program's
 * now: it is never written, read or closed again. The log is reopened by its
 * path in append mode and used only if it is still the same file with
 * exactly the bytes written so far, so the stream stays a valid sequence of
 * zstd frames with nothing lost or doubled. The fd is kept at a high number
 * (close-on-exec) so that a collision is rare; the check makes it harmless.
 *
 * Threading: one thread writes at a time. `bytes` may be read from another
 * thread (relaxed atomic). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pmt_sink {
	int fd;	    /* -1: none (closed, or not ours any more) */
	char *path; /* absolute; NULL: the log cannot be reopened */
	dev_t dev;  /* the file's identity when the sink took it */
	ino_t ino;
	bool regular;	   /* a regular file: its size can be checked and cut */
	bool broken;	   /* a cut failed: nothing more may be written */
	bool reopened_now; /* reopened since pmt_sink_reopened() last said so */
	off_t base;	   /* the file's offset when the sink took it */
	uint64_t bytes;	   /* written through the sink (atomic) */
	uint64_t good;	   /* bytes up to the end of the last complete frame */
	unsigned reopened; /* times reopened by path */
	int lost;	   /* the fd was taken and the log not reopened: why (-errno,
			    * -ESTALE: the path names another file now, or its size
			    * is not what was written) */
};

/* Starts writing to fd, or to a copy of it at a higher number: then k->fd !=
 * fd and the caller closes fd once it is sure to use the sink (or closes
 * k->fd to give up). path (may be relative, or NULL) is where to reopen it.
 * 0 or -errno. */
int pmt_sink_open(struct pmt_sink *k, int fd, const char *path);
/* Writes all of p, reopening the log if its fd was taken. 0 or -errno. */
int pmt_sink_write(struct pmt_sink *k, const void *p, size_t n);
/* What was written so far is a sequence of complete frames. */
static inline void pmt_sink_frame_end(struct pmt_sink *k) { k->good = k->bytes; }
/* After a failed write: drops the bytes written since the last complete
 * frame, so that the file decodes to the end and more frames may follow.
 * 0 or -errno (then nothing more may be written). */
int pmt_sink_cut(struct pmt_sink *k);
/* The log was reopened since the last call. */
bool pmt_sink_reopened(struct pmt_sink *k);
/* Closes the fd if it is still the log's; frees the path. 0 or -errno. */
int pmt_sink_close(struct pmt_sink *k);
static inline uint64_t pmt_sink_bytes(const struct pmt_sink *k)
{
	return __atomic_load_n(&k->bytes, __ATOMIC_RELAXED);
}
