/* SPDX-License-Identifier: MIT */
#pragma once
/* Parallel decode of a zstd stream made of many frames (a pmt log): the
 * reading thread splits the compressed bytes into whole frames and worker
 * threads decompress them ahead, while the bytes are still handed out in
 * order. Used by input.c only, between two frames of its own streaming
 * decoder, which stays the reference: everything the pool does not take
 * (a frame cut by the end of the file, bytes that are not a frame, a frame
 * larger than PMT_FRAMES_MAX_IN) goes back to it, and a frame that fails to
 * decompress is decoded again by the reading thread as the streaming decoder
 * would (the bytes before the error, then the error), so the output is the
 * same byte for byte, errors included, whatever the number of threads.
 *
 * Memory is bounded whatever the log's size: a fixed number of frames in
 * flight (threads + 1), each at most PMT_FRAMES_MAX_IN compressed and
 * PMT_FRAMES_MAX_OUT decompressed (a larger frame is streamed instead).
 * Not thread-safe itself: one reading thread calls these. */
#include <stdbool.h>
#include <stddef.h>

#define PMT_FRAMES_MAX_IN (8u << 20)
#define PMT_FRAMES_MAX_OUT (32u << 20)

struct pmt_frames;

/* Reads up to n raw (compressed) bytes: bytes read, 0 at the end, -errno. */
typedef long (*pmt_frames_read_fn)(void *ctx, void *dst, size_t n);

/* A pool of `threads` decoding threads (started at the first produce)
 * reading raw bytes through rd. NULL when out of memory. */
struct pmt_frames *pmt_frames_new(unsigned threads, pmt_frames_read_fn rd, void *ctx);
void pmt_frames_free(struct pmt_frames *f);

/* Raw bytes already read, starting at a frame's start: they come first.
 * Returns 0 or -ENOMEM. Only when the pool is stopped (not started, or its
 * produce returned 0 and its rest was taken). */
int pmt_frames_feed(struct pmt_frames *f, const void *p, size_t n);

/* Up to n decompressed bytes at dst, in order: bytes (> 0), 0 when the pool
 * stops here (the rest, pmt_frames_take_rest(), and the raw input after it
 * are for the streaming decoder, from a frame's start), or -errno /
 * PMT_E_ZSTD, after which it gives nothing more. */
long pmt_frames_produce(struct pmt_frames *f, void *dst, size_t n);

/* After produce returned 0: moves up to n bytes of the rest to dst; returns
 * how many (0: none left). */
size_t pmt_frames_take_rest(struct pmt_frames *f, void *dst, size_t n);
bool pmt_frames_has_rest(const struct pmt_frames *f);
