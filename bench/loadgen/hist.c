// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The log-bucketed latency histogram of hist.h. */
#include "hist.h"

#define SUB_COUNT (1u << HIST_SUB_BITS)

/*
 * Values below 2 * SUB_COUNT have a bucket each. Above, a value keeps its top HIST_SUB_BITS + 1
 * bits: shift s >= 1 drops the rest, and the top bits (SUB_COUNT .. 2 * SUB_COUNT - 1) pick one
 * of SUB_COUNT buckets in that power of two.
 */
static unsigned int bucket_of(uint64_t v)
{
	unsigned int s;

	if (v < 2 * SUB_COUNT)
		return v;
	s = 63 - __builtin_clzll(v) - HIST_SUB_BITS;
	if (s > HIST_MAX_SHIFT)
		return HIST_BUCKETS - 1;
	return 2 * SUB_COUNT + (s - 1) * SUB_COUNT + (unsigned int)(v >> s) - SUB_COUNT;
}

/* The largest value that falls into bucket b. */
static uint64_t bucket_top(unsigned int b)
{
	unsigned int s;

	if (b < 2 * SUB_COUNT)
		return b;
	s = (b - 2 * SUB_COUNT) / SUB_COUNT + 1;
	return ((uint64_t)((b - 2 * SUB_COUNT) % SUB_COUNT + SUB_COUNT + 1) << s) - 1;
}

void hist_record(struct hist *h, uint64_t ns)
{
	h->buckets[bucket_of(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned int b = 0; b < HIST_BUCKETS; b++)
		dst->buckets[b] += src->buckets[b];
	dst->count += src->count;
	dst->sum_ns += src->sum_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)(q * h->count + 0.5);
	if (want < 1)
		want = 1;
	for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= want)
			return bucket_top(b) < h->max_ns ? bucket_top(b) : h->max_ns;
	}
	return h->max_ns;
}

void hist_write_cdf(const struct hist *h, FILE *f)
{
	uint64_t seen = 0;

	for (unsigned int b = 0; b < HIST_BUCKETS && seen < h->count; b++) {
		uint64_t top;

		if (!h->buckets[b])
			continue;
		seen += h->buckets[b];
		top = bucket_top(b) < h->max_ns ? bucket_top(b) : h->max_ns;
		fprintf(f, "%.3f %.6f\n", top / 1000.0, (double)seen / h->count);
	}
}
