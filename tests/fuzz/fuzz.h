/* SPDX-License-Identifier: MIT */
#pragma once
/* What every fuzz target shares: the libFuzzer entry points and the readers
 * run over memory (pmt_input_open_mem), with the invariants a reader's
 * output must hold whatever its input; a broken one aborts, which libFuzzer
 * reports as a finding like a sanitizer's. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/input.h>
#include <libpmt/read/process-reader.h>
#include <libpmt/read/source.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A reader's error is a pmt error or an errno, and has a message. */
static inline void fuzz_check_error(int r)
{
	FUZZ_CHECK(r < 0);
	const char *m = pmt_strerror(r);
	FUZZ_CHECK(m && *m);
}

/* Reads every item of an event source; returns the number of items. */
static inline uint64_t fuzz_drain_source(struct pmt_source *s)
{
	struct pmt_item it;
	uint64_t n = 0;
	int r;
	while ((r = pmt_source_next(s, &it)) > 0) {
		n++;
		if (it.type == PMT_ITEM_EVENT) {
			/* the value ranges of docs/FORMAT.md */
			FUZZ_CHECK(it.ev.rss >= 0 && it.ev.rss <= (1ll << 52));
			FUZZ_CHECK(it.ev.drss >= -(1ll << 52) && it.ev.drss <= (1ll << 52));
			const struct pmt_code *c = pmt_source_code(s, it.ev.code);
			if (c)
				FUZZ_CHECK(strlen(c->file) <= c->file_len &&
					   strlen(c->name) <= c->name_len);
		} else if (it.type == PMT_ITEM_MESSAGE) {
			FUZZ_CHECK(it.text || !it.text_len);
		}
		const struct pmt_thread *t = pmt_source_thread(s, it.ev.thread);
		if (t)
			FUZZ_CHECK(t->name != NULL);
	}
	if (r < 0)
		fuzz_check_error(r);
	FUZZ_CHECK(strlen(pmt_source_detail(s)) < 256);
	(void)pmt_source_truncated(s);
	(void)pmt_source_trailer(s);
	return n;
}

/* What a read of a whole source gave: the items as a hash, leaving out the
 * events that leave RSS as it was, and how it ended. */
struct fuzz_digest {
	uint64_t hash, events;
	int r;
	bool truncated;
	char detail[256];
};

static inline void fuzz_mix(uint64_t *h, uint64_t v) { *h = (*h ^ v) * 0x100000001b3ull; }

/* Reads s in batches, with pmt_source_skip_flat(s, flat). */
static inline void fuzz_digest_source(struct pmt_source *s, bool flat, struct fuzz_digest *d)
{
	struct pmt_item it[PMT_SOURCE_BATCH];
	int r, n;
	pmt_source_skip_flat(s, flat);
	d->hash = 0xcbf29ce484222325ull;
	while ((r = n = pmt_source_next_batch(s, it, PMT_SOURCE_BATCH)) > 0)
		for (int i = 0; i < n; i++) {
			const struct pmt_event *ev = &it[i].ev;
			if (it[i].type == PMT_ITEM_EVENT && ev->drss == 0)
				continue;
			fuzz_mix(&d->hash, (uint64_t)it[i].type);
			fuzz_mix(&d->hash, ev->number);
			fuzz_mix(&d->hash, ev->time_ns);
			fuzz_mix(&d->hash, (uint64_t)ev->rss);
			fuzz_mix(&d->hash, (uint64_t)ev->drss);
			fuzz_mix(&d->hash, ev->code | (uint64_t)ev->line << 32);
			fuzz_mix(&d->hash, ev->thread | (uint64_t)ev->kind << 32);
			for (size_t j = 0; j < it[i].text_len; j++)
				fuzz_mix(&d->hash, (uint8_t)it[i].text[j]);
		}
	d->r = r;
	d->events = pmt_source_events(s);
	d->truncated = pmt_source_truncated(s);
	snprintf(d->detail, sizeof(d->detail), "%s", pmt_source_detail(s));
}

/* Reads every record of a process log. */
static inline void fuzz_drain_process(struct pmt_input *in)
{
	struct pmt_process_reader *pr;
	if (pmt_process_reader_new(in, &pr) < 0)
		return;
	struct pmt_process_record rec;
	int r;
	while ((r = pmt_process_reader_next(pr, &rec)) > 0) {
		FUZZ_CHECK(rec.rss >= 0);
		FUZZ_CHECK(rec.label || !rec.label_len);
	}
	if (r < 0)
		fuzz_check_error(r);
	pmt_process_reader_free(pr);
}

/* The reader the input's content calls for, over memory named name. */
static inline void fuzz_read(const uint8_t *data, size_t size, const char *name)
{
	struct pmt_input *in;
	int r = pmt_input_open_mem(data, size, name, &in);
	if (r < 0) {
		fuzz_check_error(r);
		return;
	}
	if (pmt_input_type(in) == PMT_INPUT_PROCESS) {
		fuzz_drain_process(in);
		pmt_input_free(in);
		return;
	}
	struct pmt_source *s;
	r = pmt_source_new(in, &s);
	if (r < 0) {
		fuzz_check_error(r);
		pmt_input_free(in);
		return;
	}
	fuzz_drain_source(s);
	pmt_source_free(s);
	/* Passing over flat events (pmt-filter --drss) changes nothing else:
	 * the same items, numbers, times, RSS, errors and their positions. */
	struct fuzz_digest d[2];
	for (int k = 0; k < 2; k++) {
		if (pmt_input_open_mem(data, size, name, &in) < 0)
			return;
		if (pmt_source_new(in, &s) < 0) {
			pmt_input_free(in);
			return;
		}
		fuzz_digest_source(s, k == 1, &d[k]);
		pmt_source_free(s);
	}
	FUZZ_CHECK(d[0].hash == d[1].hash && d[0].r == d[1].r && d[0].events == d[1].events &&
		   d[0].truncated == d[1].truncated && !strcmp(d[0].detail, d[1].detail));
}
