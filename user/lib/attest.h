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

int rvf_verify_attestation_buf(const uint8_t *f, size_t len, rvf_attest_report *r);

#endif
