/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The flow key and the project's hash, shared by the steering program and userspace so that
 * tests (and users) can predict which slot a 4-tuple lands on. MurmurHash3's 32-bit mix over
 * the key's words: cheap in BPF, good enough spread for a few hundred slots.
 */
#ifndef REUSELB_HASH_H
#define REUSELB_HASH_H

#include <linux/types.h>

/*
 * A flow as read from the packet, all in network byte order. An IPv4 address fills word 0
 * and leaves the others zero, so v4 and v6 keys never need separate code.
 */
struct rlb_flow {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
};

#define RLB_FLOW_WORDS (sizeof(struct rlb_flow) / sizeof(__u32))

static inline __u32 rlb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline __u32 rlb_hash_step(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51;
	k = rlb_rotl32(k, 15);
	k *= 0x1b873593;
	h ^= k;
	h = rlb_rotl32(h, 13);
	return h * 5 + 0xe6546b64;
}

static inline __u32 rlb_hash_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* Hash of the whole 4-tuple. */
static inline __u32 rlb_hash_flow(const struct rlb_flow *f, __u32 seed)
{
	__u32 h = seed;

	for (__u32 i = 0; i < 4; i++)
		h = rlb_hash_step(h, f->saddr[i]);
	for (__u32 i = 0; i < 4; i++)
		h = rlb_hash_step(h, f->daddr[i]);
	h = rlb_hash_step(h, ((__u32)f->sport << 16) | f->dport);
	return rlb_hash_final(h, RLB_FLOW_WORDS);
}

/* Hash of the source address alone: one client, one worker. */
static inline __u32 rlb_hash_saddr(const struct rlb_flow *f, __u32 seed)
{
	__u32 h = seed;

	for (__u32 i = 0; i < 4; i++)
		h = rlb_hash_step(h, f->saddr[i]);
	return rlb_hash_final(h, 4);
}

/* Maps a 32-bit hash onto 0 .. n-1 without a division (Lemire's multiply-shift). */
static inline __u32 rlb_scale(__u32 h, __u32 n)
{
	return (__u32)(((__u64)h * n) >> 32);
}

#endif
