/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A latency histogram in the manner of HdrHistogram: exact below 128 ns, then 64 linear
 * sub-buckets per power of two, so that any recorded value is known to within 1/64 (1.6 %).
 * Fixed size, no allocation: one per thread, merged at the end.
 */
#ifndef LOADGEN_HIST_H
#define LOADGEN_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_SUB_BITS 6
/* values up to 2^40 ns (18 minutes); longer ones are counted in the last bucket */
#define HIST_MAX_SHIFT 34
#define HIST_BUCKETS ((2u << HIST_SUB_BITS) + HIST_MAX_SHIFT * (1u << HIST_SUB_BITS))

struct hist {
	uint64_t count;
	uint64_t max_ns;
	uint64_t sum_ns;
	uint64_t buckets[HIST_BUCKETS];
};

void hist_record(struct hist *h, uint64_t ns);
void hist_merge(struct hist *dst, const struct hist *src);
/* The smallest value that at least q (0..1) of the recorded values do not exceed; 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* "value_us fraction" lines, one per non-empty bucket: the CDF, for gnuplot. */
void hist_write_cdf(const struct hist *h, FILE *f);

#endif
