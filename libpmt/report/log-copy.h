/* SPDX-License-Identifier: MIT */
#pragma once
/* Writing some events of a source into a new pmt log (pmt-filter -o): the
 * CODE and THREAD records the kept events need, SKIP records for the rest,
 * so event numbers and totals stay those of the input, and a trailer.
 * Ownership: the copy owns fd from pmt_log_copy_new() on (also on failure)
 * and its writer; the source stays the caller's and must outlive it. */
#include <stdbool.h>
#include <stdint.h>

#include <libpmt/read/source.h>

struct pmt_log_copy;

/* drss_trigger: the header's trigger (bytes); flags: PMT_HDR_* added to the
 * input's (PMT_HDR_FILTERED always). Nothing is written before the first
 * event or the close. 0 or -errno. */
int pmt_log_copy_new(int fd, struct pmt_source *src, int64_t drss_trigger, uint32_t flags,
		     struct pmt_log_copy **out);
/* One kept event of src (numbers increasing). 0 or -errno. */
int pmt_log_copy_event(struct pmt_log_copy *c, const struct pmt_event *ev);
/* A MESSAGE item of src, placed before event it->ev.number. 0 or -errno. */
int pmt_log_copy_message(struct pmt_log_copy *c, const struct pmt_item *it);
/* An allocator call (heap logs): its SITE when that changes, then the
 * ALLOC, at its event number. */
int pmt_log_copy_alloc(struct pmt_log_copy *c, const struct pmt_item *it);
/* Counts the events after the last kept one up to total and writes the
 * trailer (the input's, not CLEAN when the input was truncated), then
 * closes the fd. 0 or -errno. */
int pmt_log_copy_close(struct pmt_log_copy *c, uint64_t total, bool truncated);
void pmt_log_copy_free(struct pmt_log_copy *c);
