/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The destination connection ID of a QUIC datagram, from the version-independent header
 * (RFC 8999). Long header: flags, version (4 bytes), DCID length, DCID. Short header: flags,
 * then the DCID, whose length only the server knows: ours, RLB_CID_LEN.
 */
#ifndef REUSELB_QUIC_BPF_H
#define REUSELB_QUIC_BPF_H

#include <linux/in.h>
#include <reuselb/policy.bpf.h>
#include <reuselb/cid.h>

#define QUIC_LONG_HEADER 0x80
#define QUIC_V1 0x00000001
#define QUIC_V2 0x6b3343cf
#define UDP_HEADER_LEN 8

/*
 * Initial and 0-RTT packets carry a DCID the client chose, not one we minted: the packet
 * type bits (5-4) name them differently in QUIC v1 (RFC 9000) and v2 (RFC 9369).
 */
static __always_inline int quic_client_chosen(__u8 flags, __u32 version)
{
	__u8 type = (flags >> 4) & 3;

	if (version == QUIC_V1)
		return type == 0 || type == 1;
	if (version == QUIC_V2)
		return type == 1 || type == 2;
	return 0;
}

/* Copies the DCID into cid; -1 when the datagram has none of ours to offer. */
static __always_inline int rlb_quic_dcid(struct sk_reuseport_md *md, __u8 *cid)
{
	__u8 hdr[6];
	__u32 version;

	if (md->ip_protocol != IPPROTO_UDP)
		return -1;
	if (bpf_skb_load_bytes(md, UDP_HEADER_LEN, hdr, 1))
		return -1;
	if (!(hdr[0] & QUIC_LONG_HEADER))
		return bpf_skb_load_bytes(md, UDP_HEADER_LEN + 1, cid, RLB_CID_LEN) ? -1 : 0;
	if (bpf_skb_load_bytes(md, UDP_HEADER_LEN, hdr, sizeof(hdr)))
		return -1;
	version = ((__u32)hdr[1] << 24) | (hdr[2] << 16) | (hdr[3] << 8) | hdr[4];
	if (version == 0 || quic_client_chosen(hdr[0], version) || hdr[5] != RLB_CID_LEN)
		return -1;
	return bpf_skb_load_bytes(md, UDP_HEADER_LEN + sizeof(hdr), cid, RLB_CID_LEN) ? -1 : 0;
}

#endif
