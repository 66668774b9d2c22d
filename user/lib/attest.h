/* attest.h — KERNEL_SEG attestation checks (spec §12) and our KernelBinding
 * rule (docs/SECURITY.md §3).
 *
 * Checked for every KERNEL_SEG the current manifest lists: kernel magic, the
 * segment's content hash, the layout (rvf_kernel_decode), and image_hash =
 * fold32(image) as the reference writes it. A KernelBinding written by us
 * (marker "RVFC-B2B" at binding offset 0x50) is verified completely with
 * BLAKE2b-256; the legacy layout (fold32 only) and the reference's binding
 * (algorithm unknown, spec §23) can only be PARTIAL, never VALID.
 */
#ifndef RVF_ATTEST_H
#define RVF_ATTEST_H

#include "rvf.h"
#include <stddef.h>
#include <stdint.h>

#define RVF_BINDING_SIZE RVF_KERNEL_BINDING_SIZE
#define RVF_BINDING_MARK "RVFC-B2B" /* 8 bytes at binding offset 0x50 */
#define RVF_POLICY_CTX "RVF-policy-v1"
#define RVF_INITRD_CTX "RVF-initrd-v1"
/* binding_version: 1 = kernel only, 2 = an initramfs segment bound as well */
#define RVF_BINDING_V_KERNEL 1
#define RVF_BINDING_V_INITRD 2

int rvf_verify_attestation_buf(const uint8_t *f, size_t len, rvf_attest_report *r);

/* policy_hash = BLAKE2b-256("RVF-policy-v1" ‖ kernel header[0..128) ‖
 * binding[0x40..0x80) ‖ command line [‖ "RVF-initrd-v1" ‖ BLAKE2b-256 of
 * the initramfs segment payload, when initrd_digest is not NULL]). */
void attest_policy_hash(const uint8_t *hdr, const uint8_t *bind, const uint8_t *cmd, size_t clen,
			const uint8_t *initrd_digest, uint8_t out[32]);

#endif
