/* SPDX-License-Identifier: MIT */
/* pmt-diff's parts (pmt-diff.c: options, event, run and process logs;
 * diff-objects.c: the tables of two object logs). */
#ifndef PMT_DIFF_H
#define PMT_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include <libpmt/read/source.h>
#include <libpmt/report/names.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/table.h>

struct diff_opts {
	enum pmt_format format;
	unsigned top;
	bool has_threshold;
	int64_t threshold;
	bool has_obj_threshold;
	int64_t obj_threshold; /* objects, per type */
	bool bytes, full_path, all_frames;
};

struct run {
	const char *name;
	struct pmt_source *src;
	struct pmt_profile *prof;
	int err;
	bool truncated;
};

/* What the object gate found: the types whose objects alive at the end
 * grew by more than the threshold, and the largest of them. */
struct obj_gate {
	unsigned types;
	char worst[128];
	int64_t growth;
};

/* Whether run x is an object log (--objects, ReferenceTracing). */
bool diff_object_log(const struct run *x);
/* The object tables of two object logs (Objects, by type, by creation
 * site), file names shortened by names; fills *gate when o asks for one.
 * 0 or -errno. */
int diff_objects(const struct run *runs, const struct diff_opts *o, struct pmt_names *names,
		 struct obj_gate *gate);

#endif
