/* SPDX-License-Identifier: MIT */
#pragma once
/* An open-addressing map (u64 a, u32 b) -> u32 val, val 0 meaning "absent":
 * C functions by (method, caller) and threads by OS tid in the tracer, call
 * tree nodes by (parent, code) in profiles. Lookups are inline (the tracer's
 * hot path); the table owns its slots; pmt_hash_clear() frees them. */
#include <stddef.h>
#include <stdint.h>

struct pmt_hash_slot {
	uint64_t a;
	uint32_t b;
	uint32_t val;
};

struct pmt_hash {
	struct pmt_hash_slot *s;
	size_t cap, n; /* cap: 0 or a power of two */
};

static inline size_t pmt_hash_index(uint64_t a, uint32_t b)
{
	uint64_t h = (a ^ ((uint64_t)b << 32 | b)) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h ^ (h >> 29));
}

/* The value of (a, b), or 0. */
static inline uint32_t pmt_hash_get(const struct pmt_hash *t, uint64_t a, uint32_t b)
{
	if (!t->cap)
		return 0;
	for (size_t i = pmt_hash_index(a, b) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		const struct pmt_hash_slot *s = &t->s[i];
		if (!s->val)
			return 0;
		if (s->a == a && s->b == b)
			return s->val;
	}
}

/* Adds (a, b) -> val (val != 0; the key must not be present yet), growing
 * the table at half full. 0 or -ENOMEM (the table is unchanged). */
int pmt_hash_put(struct pmt_hash *t, uint64_t a, uint32_t b, uint32_t val);
void pmt_hash_clear(struct pmt_hash *t);
