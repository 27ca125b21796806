// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Which steering program a reuseport group has, asked of the kernel: no socket option or
 * query tells it, so reuselb attach walks the sockets with a BPF iterator (iter/tcp,
 * iter/udp) and, for each one bound to the port, writes its inode and its group's program
 * (sk->sk_reuseport_cb->prog). A classic BPF program (SO_ATTACH_REUSEPORT_CBPF) has no id.
 *
 * The kernel's types are declared here with only the fields read, and relocated by CO-RE
 * against the running kernel's BTF: no vmlinux.h of the build host.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TCP_LISTEN 10

struct bpf_prog_aux {
	__u32 id;
} __attribute__((preserve_access_index));

struct bpf_prog {
	struct bpf_prog_aux *aux;
} __attribute__((preserve_access_index));

struct sock_reuseport {
	struct bpf_prog *prog;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct socket {
	struct file *file;
} __attribute__((preserve_access_index));

struct sock_common {
	unsigned short skc_num; /* the local port, host byte order */
	volatile unsigned char skc_state;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	struct sock_reuseport *sk_reuseport_cb;
	struct socket *sk_socket;
} __attribute__((preserve_access_index));

struct udp_sock;
struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} __attribute__((preserve_access_index));

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
} __attribute__((preserve_access_index));

/* One socket at the port, as the iterator writes it (read by user/lib/group_prog.c). */
struct rlb_group_prog {
	__u64 ino;
	__u32 has_prog; /* its group has a program (eBPF or classic) */
	__u32 prog_id;	/* the eBPF program's id, 0 for a classic one */
};

/* Set before load: the port to report. */
const volatile __u16 port;

static __always_inline int report(struct seq_file *seq, struct sock *sk)
{
	struct rlb_group_prog rec = {};
	struct sock_reuseport *reuse;
	struct bpf_prog *prog;

	if (BPF_CORE_READ(sk, __sk_common.skc_num) != port)
		return 0;
	rec.ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	reuse = BPF_CORE_READ(sk, sk_reuseport_cb);
	prog = reuse ? BPF_CORE_READ(reuse, prog) : NULL;
	if (prog) {
		rec.has_prog = 1;
		rec.prog_id = BPF_CORE_READ(prog, aux, id);
	}
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

SEC("iter/tcp")
int rlb_group_prog_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;

	/* listeners only: connections and time-wait entries are no group's members */
	if (!skc || BPF_CORE_READ(skc, skc_state) != TCP_LISTEN)
		return 0;
	return report(ctx->meta->seq, (struct sock *)skc);
}

SEC("iter/udp")
int rlb_group_prog_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (!udp)
		return 0;
	return report(ctx->meta->seq, (struct sock *)udp);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
