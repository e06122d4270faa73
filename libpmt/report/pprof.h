/* SPDX-License-Identifier: MIT */
#pragma once
/* pprof export: the call paths of one or more logs as a gzipped pprof
 * Profile (profile.proto, the published pprof schema, encoded by the code
 * protoc-c generates from it), which go tool pprof, speedscope and
 * Pyroscope read.
 *
 * One sample per call path and process, the same paths and weights as the
 * folded stacks (flame.h: the tracer's own frames left out unless
 * all_frames), so each sample type's total is the total of pmt-summarise
 * --folded --weight W. Sample types: rss_growth (bytes, positive RSS
 * growth), calls (count), heap_alloc, heap_live_at_peak, heap_leaked
 * (bytes) when a log has heap records, and objects_created,
 * objects_live_at_end (count) when a log has object records. A location is a function (name, file
 * as names.h shows it, first line); each sample has a "pid" label.
 *
 * Memory: bounded by the call paths of the processes, never by the events;
 * nothing of a profile or source is kept after pmt_pprof_add(). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/read/source.h>
#include <libpmt/report/names.h>
#include <libpmt/report/profile.h>

/* The weights a profile must be made with for pmt_pprof_add(). */
#define PMT_PPROF_WEIGHTS ((1u << PMT_WEIGHT_COUNT) - 1)

struct pmt_pprof;

int pmt_pprof_new(struct pmt_pprof **out);
void pmt_pprof_free(struct pmt_pprof *pp);

/* Adds the call paths of prof (made with PMT_PPROF_WEIGHTS from the log of
 * src, whose files names shows) as the samples of its process (the header's
 * pid). 0 or -errno. */
int pmt_pprof_add(struct pmt_pprof *pp, const struct pmt_profile *prof,
		  const struct pmt_source *src, struct pmt_names *names, bool all_frames);

/* The total of weight w over every sample so far (0 when no log had it). */
int64_t pmt_pprof_total(const struct pmt_pprof *pp, enum pmt_weight w);

/* Writes the gzip-compressed Profile to out. 0, -EIO on a write error,
 * -ENOMEM. */
int pmt_pprof_write(struct pmt_pprof *pp, FILE *out);
