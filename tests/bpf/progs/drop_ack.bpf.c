// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test fixture of tests/bpf/halfopen.c, attached by XDP (generic mode) to the loopback of the
 * test's own network namespace. While `holding` is set it drops every TCP segment but a SYN
 * that goes from a port of `held` to `server_port`: the final ACK of the handshake, and what
 * the client sends after it. The client sees its connection established; the server keeps a
 * request socket (TCP_NEW_SYN_RECV) until a segment gets through.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Client ports whose segments are held: key the port (host order), value the segments dropped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u32);
} held SEC(".maps");

/* Written by the test: the group's port (host order), and whether to drop (1) or let pass (0). */
__u16 server_port;
__u32 holding;

/* The TCP header of an IPv4 or IPv6 packet on the loopback, or NULL. */
static __always_inline struct tcphdr *tcp_header(void *data, void *end)
{
	struct ethhdr *eth = data;
	void *l4;

	if ((void *)(eth + 1) > end)
		return NULL;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl < 5)
			return NULL;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		/* our sockets send no extension headers: TCP follows the fixed header */
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return NULL;
		l4 = ip6 + 1;
	} else {
		return NULL;
	}
	if (l4 + sizeof(struct tcphdr) > end)
		return NULL;
	return l4;
}

SEC("xdp")
int drop_ack(struct xdp_md *ctx)
{
	struct tcphdr *tcp = tcp_header((void *)(long)ctx->data, (void *)(long)ctx->data_end);
	__u16 sport;
	__u32 *drops;

	if (!tcp || !holding || tcp->syn || bpf_ntohs(tcp->dest) != server_port)
		return XDP_PASS;
	sport = bpf_ntohs(tcp->source);
	drops = bpf_map_lookup_elem(&held, &sport);
	if (!drops)
		return XDP_PASS;
	__sync_fetch_and_add(drops, 1);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
