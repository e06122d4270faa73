/* SPDX-License-Identifier: MIT */
#pragma once
/* What the object records of a log say (OBJECT items: pmt --objects logs
 * and pymemtrace ReferenceTracing logs), in one pass: per type, objects
 * created, destroyed, live at the end (created minus destroyed, as
 * live_object_counts() gives) and the peak of that; and the objects still
 * alive at the end by type and creation site (the leak report). An object
 * is known by its address: a NEW at the address of a live object means the
 * old one went without a DEL record (CPython 3.13.0-3.13.2 miss DESTROY
 * events of objects the eval loop frees), so the site report charges it
 * no longer. The same objects per call path, for folded stacks and flame
 * graphs: created, and created and alive at the end, on the path the
 * caller gives for each NEW (the top of its thread's shadow stack in the
 * profile); an object going takes itself off its own path, so the paths'
 * live objects add up to the sites'. Memory: one entry per live object,
 * per type, per site and per call path. */
#include <stdint.h>

#include <libpmt/read/source.h>

struct pmt_obj_type {
	uint32_t type; /* NAME id */
	uint64_t created, destroyed;
	int64_t live, peak_live;
};

struct pmt_obj_site {
	uint32_t type, code, line;
	int64_t live; /* created here and alive at the end */
};

enum pmt_objects_weight {
	PMT_OBJECTS_W_CREATED, /* objects created */
	PMT_OBJECTS_W_LIVE,    /* objects created and alive at the end */
};

struct pmt_objects;

int pmt_objects_new(struct pmt_objects **out);
void pmt_objects_free(struct pmt_objects *o);
/* Feeds one item (all but OBJECT ignored); node: the call path a NEW is
 * charged to (0: none). 0 or -errno. */
int pmt_objects_item(struct pmt_objects *o, const struct pmt_item *it, uint32_t node);
/* After the last item: types by created (descending), sites by live
 * (descending, none with 0). */
int pmt_objects_finish(struct pmt_objects *o);
uint64_t pmt_objects_records(const struct pmt_objects *o);
const struct pmt_obj_type *pmt_objects_types(const struct pmt_objects *o, uint32_t *n);
const struct pmt_obj_site *pmt_objects_sites(const struct pmt_objects *o, uint32_t *n);
/* A call path's weight (0 for a node never charged); after finish, the
 * live objects are those alive at the end. */
int64_t pmt_objects_node_weight(const struct pmt_objects *o, uint32_t node,
				enum pmt_objects_weight w);
