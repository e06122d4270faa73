/* SPDX-License-Identifier: MIT */
#pragma once
/* LEB128 varints and zigzag signed encoding, as used by the pmt log format
 * (docs/FORMAT.md). Header-only: the writer's hot path inlines them. */
#include <stddef.h>
#include <stdint.h>

#define PMT_VARINT_MAX 10 /* bytes for a 64-bit value */

static inline uint64_t pmt_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

static inline int64_t pmt_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Writes v at p (at least PMT_VARINT_MAX bytes free); returns the new end. */
static inline uint8_t *pmt_varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Reads a varint from [*pp, end). Returns 0 and advances *pp, -1 when the
 * input ends inside the varint, -2 when it is longer than 64 bits. */
static inline int pmt_varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (p == end)
			return -1;
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return -2;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*out = v;
			return 0;
		}
	}
	return -2;
}
