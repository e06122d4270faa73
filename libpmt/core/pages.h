/* SPDX-License-Identifier: MIT */
#pragma once
/* A sparse array indexed by a u32 id: pages of PMT_PAGES_N elements, made
 * (zeroed) at the first write into them. The format's ids go up to 2^24 and
 * need not be dense, so an id far out costs one page and a pointer per page
 * before it, not an element per id before it: a table by id that a log of
 * a few bytes cannot make large. */
#include <stddef.h>
#include <stdint.h>

#define PMT_PAGES_N 256u

struct pmt_pages {
	void **page;	 /* NULL or PMT_PAGES_N elements each */
	uint32_t npages; /* entries of page[] */
	uint32_t elem;	 /* the size of an element in bytes, set before use */
};

/* Element i, or NULL when nothing was written into its page. */
static inline void *pmt_pages_get(const struct pmt_pages *p, uint32_t i)
{
	uint32_t pg = i / PMT_PAGES_N;
	if (pg >= p->npages || !p->page[pg])
		return NULL;
	return (char *)p->page[pg] + (size_t)(i % PMT_PAGES_N) * p->elem;
}

/* Element i, its page made when needed; NULL when out of memory. */
void *pmt_pages_at(struct pmt_pages *p, uint32_t i);
void pmt_pages_free(struct pmt_pages *p);
