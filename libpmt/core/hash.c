/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include <libpmt/core/hash.h>

static void put_nogrow(struct pmt_hash *t, uint64_t a, uint32_t b, uint32_t val)
{
	size_t i = pmt_hash_index(a, b) & (t->cap - 1);
	while (t->s[i].val)
		i = (i + 1) & (t->cap - 1);
	t->s[i] = (struct pmt_hash_slot){a, b, val};
	t->n++;
}

int pmt_hash_put(struct pmt_hash *t, uint64_t a, uint32_t b, uint32_t val)
{
	if ((t->n + 1) * 2 > t->cap) {
		struct pmt_hash nt = {NULL, t->cap ? t->cap * 2 : 256, 0};
		nt.s = calloc(nt.cap, sizeof(*nt.s));
		if (!nt.s)
			return -ENOMEM;
		for (size_t i = 0; i < t->cap; i++)
			if (t->s[i].val)
				put_nogrow(&nt, t->s[i].a, t->s[i].b, t->s[i].val);
		free(t->s);
		*t = nt;
	}
	put_nogrow(t, a, b, val);
	return 0;
}

void pmt_hash_clear(struct pmt_hash *t)
{
	free(t->s);
	*t = (struct pmt_hash){0};
}
