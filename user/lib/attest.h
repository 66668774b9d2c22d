/* attest.h — KERNEL_SEG attestation checks (spec §12) and our KernelBinding
 * rule (docs/SECURITY.md §3).
 *
 * Checked for every KERNEL_SEG the current manifest lists: kernel magic, the
 * segment's content hash, the layout (cmdline_offset 128: header · image ·
 * cmdline; 256: header · KernelBinding · cmdline · image), and image_hash =
 * fold32(image) as the reference writes it. A KernelBinding written by us
 * (marker "RVFC-B2B" at binding offset 0x50) is verified completely; the
 * reference's binding hashes cannot be (algorithm unknown, spec §23) and are
 * reported as such (verdict PARTIAL), never as a pass or a fail.
 */
#ifndef RVF_ATTEST_H
#define RVF_ATTEST_H

#include "rvf.h"
#include <stddef.h>
#include <stdint.h>

#define RVF_BINDING_SIZE 128
#define RVF_BINDING_MARK "RVFC-B2B" /* 8 bytes at binding offset 0x50 */
#define RVF_POLICY_CTX "RVF-policy-v1"

enum { RVF_ATT_VALID = 0, RVF_ATT_PARTIAL = 1, RVF_ATT_INVALID = 2, RVF_ATT_NO_KERNEL = 3 };
enum {
	RVF_BIND_NONE = 0,         /* legacy layout (cmdline_offset 128) */
	RVF_BIND_OK,               /* ours, every hash matches */
	RVF_BIND_MISMATCH,         /* ours, a hash differs / reference binding_version 0 */
	RVF_BIND_UNVERIFIABLE,     /* reference binding: algorithm unknown */
	RVF_BIND_STALE,            /* ours, the bound manifest is no longer in the file */
};

typedef struct {
	uint64_t seg_id, offset;
	uint64_t payload_length;
	int magic_ok, content_hash_ok, layout_ok;
	uint8_t arch, kernel_type;
	uint32_t flags;
	uint16_t api_port;
	uint64_t image_size;
	uint64_t cmdline_offset;
	uint32_t cmdline_len;
	uint8_t stored_hash[32], computed_hash[32];
	int image_hash_ok;
	int has_binding, binding_ours;
	uint16_t binding_version, min_runtime_version;
	uint64_t allowed_segment_mask;
	uint8_t manifest_root_hash[32], policy_hash[32];
	uint64_t bound_manifest_offset; /* ours */
	int image_b2b_ok, policy_ok, manifest_ok; /* ours; -1 = not checked */
	int binding_status; /* RVF_BIND_* */
	int verdict;        /* RVF_ATT_VALID / PARTIAL / INVALID */
	char note[240];     /* why not VALID, or what was verified */
} rvf_kernel_attest;

#define RVF_ATTEST_MAX 8
typedef struct {
	int verdict; /* worst of the kernels; RVF_ATT_NO_KERNEL if none */
	size_t nkernels;   /* kernels checked (listed ones, at most RVF_ATTEST_MAX) */
	uint64_t kernels_total;
	rvf_kernel_attest k[RVF_ATTEST_MAX];
} rvf_attest_report;

int rvf_verify_attestation(const char *path, rvf_attest_report *r);
int rvf_verify_attestation_buf(const uint8_t *f, size_t len, rvf_attest_report *r);

/* Like rvf_embed_kernel, but writes the KernelBinding layout bound to the
 * store's current manifest (docs/SECURITY.md §3). Proposed for rvf.h. */
int rvf_embed_kernel_bound(rvf_store *s, const rvf_kernel *k, uint16_t min_runtime_version,
			   uint64_t allowed_segment_mask, uint64_t *seg_id);

const char *rvf_att_verdict_name(int v); /* "valid", "partial", "invalid", "no_kernel" */
const char *rvf_bind_status_name(int b);

#endif
