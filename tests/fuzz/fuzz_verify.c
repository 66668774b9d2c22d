/* fuzz_verify.c — libFuzzer harness for the three file verifiers, which
 * read raw files rather than an opened store: the witness chain
 * (rvf_verify_witness_buf), the Ed25519 signature (rvf_verify_signature_buf,
 * with and without an expected key) and the kernel attestation
 * (rvf_verify_attestation_buf).
 * fuzz-seeds: rvf (plus tests/fuzz/seeds/fuzz_verify: signed and attested files)
 *
 * Each must return a report for any bytes, never reading past them; a
 * report must be self-consistent: counts within their arrays, a verdict
 * in range, "valid" only without issues, NUL-terminated reasons. */
#include "attest.h"
#include "fuzz_util.h"
#include "rvf.h"
#include "sign.h"
#include "witness.h"

static void witness(const uint8_t *f, size_t len)
{
	static rvf_witness_report r;
	if (rvf_verify_witness_buf(f, len, &r) != 0)
		return; /* allocation failure only */
	if (r.nissues > RVF_VERIFY_MAX_ISSUES || r.nissues > r.issues_total ||
	    (r.valid && (r.issues_total || !r.chain_valid)) || r.damaged_bytes > len ||
	    (r.has_manifest && r.manifest_offset >= len))
		abort();
	for (size_t i = 0; i < r.nissues; i++)
		if (!memchr(r.issues[i].reason, 0, sizeof r.issues[i].reason))
			abort();
}

static void signature(const uint8_t *f, size_t len)
{
	static const uint8_t key[32] = {1, 2, 3};
	rvf_sig_report r;
	for (int k = 0; k < 2; k++) {
		if (rvf_verify_signature_buf(f, len, k ? key : NULL, k, &r) != 0)
			abort();
		if (r.status < RVF_SIG_OK || r.status > RVF_SIG_SIGNED_CHANGED ||
		    !memchr(r.reason, 0, sizeof r.reason) ||
		    (r.valid && r.status != RVF_SIG_OK && !(k && r.status == RVF_SIG_STATE_CHANGED)) ||
		    (r.status == RVF_SIG_OK && !(r.signature_ok && r.prefix_ok && r.state_current)))
			abort();
		if (k && r.status == RVF_SIG_OK)
			abort(); /* nobody holds the secret of that key */
	}
}

static void attestation(const uint8_t *f, size_t len)
{
	static rvf_attest_report r;
	if (rvf_verify_attestation_buf(f, len, &r) != 0)
		return;
	if (r.nkernels > RVF_ATTEST_MAX || r.nkernels > r.kernels_total ||
	    r.verdict < RVF_ATT_VALID || r.verdict > RVF_ATT_NO_KERNEL ||
	    (r.verdict == RVF_ATT_NO_KERNEL) != (r.kernels_total == 0))
		abort();
	for (size_t i = 0; i < r.nkernels; i++) {
		const rvf_kernel_attest *k = &r.k[i];
		if (!memchr(k->note, 0, sizeof k->note) || k->verdict < RVF_ATT_VALID ||
		    k->verdict > RVF_ATT_INVALID)
			abort();
		if (k->verdict > r.verdict)
			abort(); /* the report's verdict is the worst kernel's */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (4u << 20))
		return 0;
	/* exact-size copy: ASan sees a read past the end */
	uint8_t *f = malloc(size ? size : 1);
	if (!f)
		abort();
	memcpy(f, data, size);
	witness(f, size);
	signature(f, size);
	attestation(f, size);
	free(f);
	return 0;
}
