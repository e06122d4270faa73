/* SPDX-License-Identifier: MIT */
#pragma once
/* Flame graph stacks: the call trees of one or more profiles merged by what
 * a person sees of each frame (function and short file name), since code
 * ids differ between logs. Two sides (0 and 1) hold the OLD and NEW of a
 * differential flame graph; a plain one uses side 0 only. Folded stacks and
 * every flame graph are written from this one tree, so their totals agree.
 *
 * The tracer's own frames at the root of a stack (its launcher, runpy) are
 * left out unless all_frames: the program's <module> is the root, and what
 * grew in those frames alone is counted apart (pmt_flame_hidden()).
 *
 * Memory: bounded by the number of distinct call paths, never by the log.
 * Ownership: the tree copies every name it keeps. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/read/source.h>
#include <libpmt/report/names.h>
#include <libpmt/report/profile.h>

struct pmt_flame;

struct pmt_flame_frame {
	const char *name; /* function; NUL-terminated */
	size_t name_len;
	const char *file; /* as names shows it (short, unless full) */
	size_t file_len;
	uint32_t line; /* first line, 0 for C functions */
	uint8_t kind;  /* enum pmt_code_kind */
	uint8_t cls;   /* enum pmt_file_class */
};

struct pmt_flame_node {
	uint32_t parent, frame; /* node 0: the root, frame 0 */
	uint32_t depth;
	uint32_t first_child, next_sibling; /* 0: none; siblings by name */
	int64_t self[2];		    /* weight charged to this path itself */
	int64_t total[2];		    /* self and every path below it */
};

int pmt_flame_new(enum pmt_weight w, struct pmt_flame **out);
void pmt_flame_free(struct pmt_flame *f);

/* Adds profile p's call tree (with the code table of s, named by names) to
 * side 0 or 1. The profile must have been made with its tree. 0 or -errno. */
int pmt_flame_add(struct pmt_flame *f, const struct pmt_profile *p, const struct pmt_source *s,
		  struct pmt_names *names, unsigned side, bool all_frames);
/* After the last pmt_flame_add(): totals and sibling order. 0 or -errno. */
int pmt_flame_finish(struct pmt_flame *f);

enum pmt_weight pmt_flame_weight(const struct pmt_flame *f);
uint32_t pmt_flame_nodes(const struct pmt_flame *f);
const struct pmt_flame_node *pmt_flame_node(const struct pmt_flame *f, uint32_t n);
void pmt_flame_frame(const struct pmt_flame *f, uint32_t id, struct pmt_flame_frame *out);
/* Weight of side that only the tracer's own frames ran. */
int64_t pmt_flame_hidden(const struct pmt_flame *f, unsigned side);
/* The deepest node's depth (the root is 0). */
uint32_t pmt_flame_depth(const struct pmt_flame *f);

/* "frame;frame;frame weight\n" for every path with a positive weight on
 * side, root first, frames as "function (file)" (';' and newlines in names
 * replaced). 0 or -EIO. */
int pmt_flame_folded(const struct pmt_flame *f, unsigned side, FILE *out);
