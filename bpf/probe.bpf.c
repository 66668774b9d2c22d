// SPDX-License-Identifier: GPL-2.0
/* probe.bpf.c — smallest CO-RE XDP program of the project.
 *
 * It exists to prove, in the unit tests (tests/unit/test_bpf_probe.c), that the
 * whole BPF tool chain works on the machine: vmlinux.h generation, clang
 * -target bpf, CO-RE relocations, libbpf loading from memory, the verifier and
 * BPF_PROG_TEST_RUN. It counts frames per class and always passes them on.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_P_IP 0x0800

/* Counter slots; keep in sync with tests/unit/test_bpf_probe.c. */
enum probe_counter {
	PROBE_IPV4 = 0,    /* Ethernet frames with EtherType IPv4 */
	PROBE_OTHER = 1,   /* every other complete Ethernet frame */
	PROBE_SHORT = 2,   /* frames shorter than an Ethernet header */
	PROBE_CORE_OK = 3, /* incremented when the CO-RE field check held */
	PROBE_NCOUNTERS
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROBE_NCOUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} probe_counters SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&probe_counters, &slot);
	if (v)
		*v += 1;
}

SEC("xdp")
int rvf_probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	/* CO-RE: relocated against the running kernel's BTF at load time.
	 * xdp_md.rx_queue_index exists on every kernel this project targets, so
	 * the slot counts exactly one per packet when relocation worked. */
	if (bpf_core_field_exists(struct xdp_md, rx_queue_index) &&
	    bpf_core_field_size(struct ethhdr, h_proto) == sizeof(__be16))
		bump(PROBE_CORE_OK);

	if ((void *)(eth + 1) > data_end) {
		bump(PROBE_SHORT);
		return XDP_PASS;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		bump(PROBE_IPV4);
	else
		bump(PROBE_OTHER);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
