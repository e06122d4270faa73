/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/pages.h>

void *pmt_pages_at(struct pmt_pages *p, uint32_t i)
{
	uint32_t pg = i / PMT_PAGES_N;
	if (pg >= p->npages) {
		uint32_t n = p->npages ? p->npages : 4;
		while (n <= pg)
			n *= 2;
		void **v = realloc(p->page, (size_t)n * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + p->npages, 0, (size_t)(n - p->npages) * sizeof(*v));
		p->page = v;
		p->npages = n;
	}
	if (!p->page[pg] && !(p->page[pg] = calloc(PMT_PAGES_N, p->elem)))
		return NULL;
	return (char *)p->page[pg] + (size_t)(i % PMT_PAGES_N) * p->elem;
}

void pmt_pages_free(struct pmt_pages *p)
{
	for (uint32_t i = 0; i < p->npages; i++)
		free(p->page[i]);
	free(p->page);
	p->page = NULL;
	p->npages = 0;
}
