/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * reuselb's QUIC connection ID layout, shared by the steering program (which reads the worker
 * from a datagram's destination CID) and the library (which mints CIDs for a worker).
 *
 *   byte 0     bits 7-6: 01, the layout's version; bits 5-0: free for an L4 balancer in front
 *   byte 1     free for an L4 balancer in front (with byte 0: 14 bits of host id, e.g. Katran)
 *   byte 2     the worker's slot
 *   byte 3     check byte: a seeded hash of the slot and the nonce, so that a random
 *              client-chosen CID is rarely taken for one of ours
 *   bytes 4-7  nonce, random per CID
 */
#ifndef REUSELB_CID_H
#define REUSELB_CID_H

#include <linux/types.h>
#include <reuselb/abi.h>
#include <reuselb/hash.h>

#define RLB_CID_LEN 8
#define RLB_CID_VERSION 0x40
#define RLB_CID_VERSION_MASK 0xc0
#define RLB_CID_HOST_MASK 0x3fff

static inline __u8 rlb_cid_check(const __u8 *cid, __u32 seed)
{
	__u32 nonce = cid[4] | (cid[5] << 8) | (cid[6] << 16) | ((__u32)cid[7] << 24);

	return rlb_hash_final(rlb_hash_step(rlb_hash_step(seed, cid[2]), nonce), 2) & 0xff;
}

/* The slot a CID names, or RLB_NONE when it is not one of ours. */
static inline __u32 rlb_cid_slot(const __u8 *cid, __u32 seed)
{
	if ((cid[0] & RLB_CID_VERSION_MASK) != RLB_CID_VERSION)
		return RLB_NONE;
	if (cid[3] != rlb_cid_check(cid, seed))
		return RLB_NONE;
	return cid[2];
}

#endif
