/* cli_kernel.h — helpers shared by the kernel commands: cli_kernel.c
 * (embed-kernel, extract-kernel) and cli_launch.c (launch). */
#ifndef RVF_CLI_KERNEL_H
#define RVF_CLI_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* The kernel a file boots: the first KERNEL_SEG of the directory, and its
 * initramfs: the first later KERNEL_SEG whose command line is
 * RVF_INITRAMFS_MARKER (payloads point into the store's mapping). */
struct kpick {
	const uint8_t *kp, *ip;
	uint64_t klen, ilen;
	rvf_segment_info ksi, isi;
	int has_initrd;
};
/* Prints the error and returns CLI_FAIL if the file has no usable kernel. */
int kernel_pick(rvf_store *s, struct kpick *out);
/* Decodes a payload picked above (prints the error). */
int kernel_view(const rvf_store *s, const rvf_segment_info *si, const uint8_t *p, uint64_t len,
		rvf_kernel_view *v);

const char *kernel_arch_name(uint8_t a);
/* Decimal or 0x-hex in 0..max; a usage error (exit 2) otherwise. */
int kernel_parse_num(const char *cmd, const char *flag, const char *arg, uint64_t max,
		     uint64_t *out);
/* 0 or -errno. Creates or truncates path (0644). */
int kernel_write_file(const char *path, const void *data, size_t len);

#endif
