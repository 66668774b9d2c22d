/* attest.c — KERNEL_SEG attestation (spec §12) and our KernelBinding rule
 * (docs/SECURITY.md §3). The embedding side is kernel_embed.c. */
#include "attest.h"
#include "errors.h"
#include "store.h"
#include "witness.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rvf_att_verdict_name(int v)
{
	switch (v) {
	case RVF_ATT_VALID: return "valid";
	case RVF_ATT_PARTIAL: return "partial";
	case RVF_ATT_INVALID: return "invalid";
	default: return "no_kernel";
	}
}

const char *rvf_bind_status_name(int b)
{
	switch (b) {
	case RVF_BIND_OK: return "verified";
	case RVF_BIND_MISMATCH: return "mismatch";
	case RVF_BIND_UNVERIFIABLE: return "unverifiable";
	case RVF_BIND_STALE: return "stale";
	default: return "none";
	}
}

void attest_policy_hash(const uint8_t *hdr, const uint8_t *bind, const uint8_t *cmd, size_t clen,
			const uint8_t *initrd_digest, uint8_t out[32])
{
	crypto_generichash_state st;
	if (sodium_init() < 0)
		abort();
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)RVF_POLICY_CTX, sizeof RVF_POLICY_CTX - 1);
	crypto_generichash_update(&st, hdr, 128);
	crypto_generichash_update(&st, bind + 0x40, 0x40);
	crypto_generichash_update(&st, cmd, clen);
	if (initrd_digest) {
		crypto_generichash_update(&st, (const uint8_t *)RVF_INITRD_CTX, sizeof RVF_INITRD_CTX - 1);
		crypto_generichash_update(&st, initrd_digest, 32);
	}
	crypto_generichash_final(&st, out, 32);
}

/* Keeps the worst verdict and the note that explains it. */
static void set_note(rvf_kernel_attest *k, int verdict, const char *msg)
{
	if (verdict < k->verdict)
		return;
	k->verdict = verdict;
	snprintf(k->note, sizeof k->note, "%s", msg);
}

/* The segment right after the kernel's: its bound initramfs. NULL payload
 * if there is no complete KERNEL_SEG there. */
static const uint8_t *next_kernel_seg(const uint8_t *f, size_t len, uint64_t at, uint64_t *plen)
{
	if (at > len || len - at < RVF_SEG_HDR_SIZE)
		return NULL;
	rvf_seg_hdr h;
	rvf_hdr_decode(f + at, &h);
	if (h.magic != RVF_SEG_MAGIC || h.seg_type != RVF_SEG_KERNEL ||
	    h.payload_length > len - at - RVF_SEG_HDR_SIZE)
		return NULL;
	*plen = h.payload_length;
	return f + at + RVF_SEG_HDR_SIZE;
}

/* Our binding (mark RVFC-B2B): image digest, policy hash (with the bound
 * initramfs for version 2), manifest root hash. */
static void check_binding(const uint8_t *f, size_t len, uint64_t off, const uint8_t *p,
			  const rvf_kernel_view *v, rvf_kernel_attest *k)
{
	const uint8_t *bind = v->binding;
	uint8_t d[32], ird[32];
	rvf_blake2b256(v->k.image, v->k.image_size, d);
	k->image_b2b_ok = !memcmp(d, bind + 0x60, 32);
	const uint8_t *irp = NULL;
	int initrd_missing = 0;
	if (k->binding_version == RVF_BINDING_V_INITRD) {
		uint64_t at = off + RVF_SEG_HDR_SIZE + k->payload_length, ilen = 0;
		const uint8_t *ip = next_kernel_seg(f, len, at, &ilen);
		if (ip) {
			rvf_blake2b256(ip, ilen, ird);
			irp = ird;
			k->initrd_offset = at;
		} else {
			initrd_missing = 1;
		}
	}
	attest_policy_hash(p, bind, (const uint8_t *)v->k.cmdline, v->k.cmdline_len, irp, d);
	k->policy_ok = !initrd_missing && !memcmp(d, k->policy_hash, 32);
	k->bound_manifest_offset = rd64(bind + 0x58);
	uint64_t mo = k->bound_manifest_offset;
	int present = mo < off && off - mo >= RVF_SEG_HDR_SIZE && rd32(f + mo) == RVF_SEG_MAGIC &&
		      f[mo + 5] == RVF_SEG_MANIFEST && rd64(f + mo + 0x10) <= off - mo - RVF_SEG_HDR_SIZE;
	if (present) {
		rvf_blake2b256(f + mo + RVF_SEG_HDR_SIZE, rd64(f + mo + 0x10), d);
		k->manifest_ok = !memcmp(d, k->manifest_root_hash, 32);
	}
	k->binding_status = RVF_BIND_MISMATCH;
	if (!k->image_b2b_ok) {
		set_note(k, RVF_ATT_INVALID, "binding: BLAKE2b-256 of the image differs: image tampered");
	} else if (initrd_missing) {
		set_note(k, RVF_ATT_INVALID,
			 "binding: the bound initramfs segment is not right after the kernel segment");
	} else if (!k->policy_ok) {
		set_note(k, RVF_ATT_INVALID,
			 irp ? "binding: policy_hash differs (kernel header, flags, binding fields, command "
			       "line or the bound initramfs changed)"
			     : "binding: policy_hash differs (kernel header, flags, binding fields or command "
			       "line changed)");
	} else if (present && !k->manifest_ok) {
		set_note(k, RVF_ATT_INVALID, "binding: manifest_root_hash differs from the bound manifest");
	} else if (!present) {
		k->binding_status = RVF_BIND_STALE;
		set_note(k, RVF_ATT_PARTIAL,
			 "binding: the bound manifest is no longer in the file (compacted?); image and policy "
			 "verified");
	} else if (k->verdict == RVF_ATT_VALID) {
		k->binding_status = RVF_BIND_OK;
		set_note(k, RVF_ATT_VALID,
			 irp ? "BLAKE2b-256 of the image and the bound initramfs, policy_hash and "
			       "manifest_root_hash verified"
			     : "BLAKE2b-256 of the image, policy_hash and manifest_root_hash verified");
	}
}

static void check_kernel(const uint8_t *f, size_t len, uint64_t off, rvf_kernel_attest *k)
{
	memset(k, 0, sizeof *k);
	k->offset = off;
	k->image_b2b_ok = k->policy_ok = k->manifest_ok = -1;
	if (off > len || len - off < RVF_SEG_HDR_SIZE) {
		set_note(k, RVF_ATT_INVALID, "KERNEL_SEG offset is beyond the end of the file");
		return;
	}
	rvf_seg_hdr h;
	rvf_hdr_decode(f + off, &h);
	k->seg_id = h.seg_id;
	if (h.magic != RVF_SEG_MAGIC || h.seg_type != RVF_SEG_KERNEL ||
	    h.payload_length > len - off - RVF_SEG_HDR_SIZE) {
		set_note(k, RVF_ATT_INVALID, "no complete KERNEL_SEG at the listed offset");
		return;
	}
	const uint8_t *p = f + off + RVF_SEG_HDR_SIZE;
	uint64_t pl = k->payload_length = h.payload_length;
	rvf_blake2b256(p, pl, k->payload_digest);
	k->content_hash_ok = rvf_content_hash_ok(h.content_hash, p, pl);
	k->magic_ok = pl >= RVF_KERNEL_HDR && rd32(p) == RVF_KERNEL_MAGIC;
	if (pl >= RVF_KERNEL_HDR) {
		k->arch = p[6];
		k->kernel_type = p[7];
		k->flags = rd32(p + 0x08);
		k->api_port = (uint16_t)(p[0x2A] << 8 | p[0x2B]);
		k->image_size = rd64(p + 0x18);
		k->cmdline_offset = rd64(p + 0x70);
		k->cmdline_len = rd32(p + 0x78);
		memcpy(k->stored_hash, p + 0x30, 32);
	}
	rvf_kernel_view v;
	const char *why;
	if (rvf_kernel_decode(p, pl, &v, &why)) {
		set_note(k, RVF_ATT_INVALID, why);
		return;
	}
	k->layout_ok = 1;
	k->is_initramfs = rvf_kernel_is_initramfs(&v.k);
	rvf_fold32(v.k.image, v.k.image_size, k->computed_hash);
	k->image_hash_ok = !memcmp(k->computed_hash, k->stored_hash, 32);
	if (!k->image_hash_ok)
		set_note(k, RVF_ATT_INVALID, "image hash MISMATCH (fold32 of the image differs): image tampered");
	else if (!k->content_hash_ok)
		set_note(k, RVF_ATT_INVALID, "KERNEL_SEG content hash mismatch (header, binding or command line changed)");
	if (!v.binding) {
		k->binding_status = RVF_BIND_NONE;
		set_note(k, RVF_ATT_PARTIAL,
			 k->is_initramfs ? "initramfs not bound by any verified kernel binding: fold32 image hash only"
					 : "legacy layout (no KernelBinding): only the fold32 image hash, which is "
					   "not cryptographic (collisions are trivial); re-embed with rvf embed-kernel");
		return;
	}
	const uint8_t *bind = v.binding;
	k->has_binding = 1;
	memcpy(k->manifest_root_hash, bind, 32);
	memcpy(k->policy_hash, bind + 0x20, 32);
	k->binding_version = rd16(bind + 0x40);
	k->min_runtime_version = rd16(bind + 0x42);
	k->allowed_segment_mask = rd64(bind + 0x48);
	k->binding_ours = !memcmp(bind + 0x50, RVF_BINDING_MARK, 8);
	if (k->binding_version == 0) {
		k->binding_status = RVF_BIND_MISMATCH;
		set_note(k, RVF_ATT_INVALID, "KernelBinding present but binding_version is 0");
		return;
	}
	if (!k->binding_ours) {
		k->binding_status = RVF_BIND_UNVERIFIABLE;
		set_note(k, RVF_ATT_PARTIAL,
			 "binding hashes not verifiable (reference algorithm unknown); image hash checked only");
		return;
	}
	if (k->binding_version > RVF_BINDING_V_INITRD) {
		k->binding_status = RVF_BIND_MISMATCH;
		set_note(k, RVF_ATT_INVALID, "our KernelBinding with an unknown binding_version");
		return;
	}
	check_binding(f, len, off, p, &v, k);
}

/* An initramfs companion is VALID only when a verified kernel binding in
 * the report covers it. */
static void settle_initrds(rvf_attest_report *r)
{
	for (size_t i = 0; i < r->nkernels; i++) {
		rvf_kernel_attest *ird = &r->k[i];
		if (!ird->is_initramfs || ird->has_binding || ird->verdict != RVF_ATT_PARTIAL)
			continue;
		for (size_t j = 0; j < r->nkernels; j++) {
			const rvf_kernel_attest *k = &r->k[j];
			if (k->initrd_offset != ird->offset || !ird->offset)
				continue;
			if (k->binding_status == RVF_BIND_OK || k->binding_status == RVF_BIND_STALE) {
				ird->verdict = RVF_ATT_VALID;
				snprintf(ird->note, sizeof ird->note,
					 "initramfs bound by kernel segment %llu (BLAKE2b-256 in its policy_hash)",
					 (unsigned long long)k->seg_id);
			}
		}
	}
}

typedef struct {
	rvf_attest_report *r;
	const uint8_t *f;
	size_t len;
} kctx;

static int on_kernel(void *vc, uint64_t off, const rvf_seg_hdr *h)
{
	kctx *c = vc;
	if (h->seg_type != RVF_SEG_KERNEL)
		return 0;
	c->r->kernels_total++;
	if (c->r->nkernels < RVF_ATTEST_MAX)
		check_kernel(c->f, c->len, off, &c->r->k[c->r->nkernels++]);
	return 0;
}

int rvf_verify_attestation_buf(const uint8_t *f, size_t len, rvf_attest_report *r)
{
	memset(r, 0, sizeof *r);
	rvf_manifest m;
	uint64_t moff;
	int rc = vfind_manifest(f, len, &moff, &m);
	if (rc == -2)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	if (rc == 0) {
		for (uint32_t i = 0; i < m.seg_count; i++) {
			if (m.dir[i].seg_type != RVF_SEG_KERNEL)
				continue;
			r->kernels_total++;
			if (r->nkernels < RVF_ATTEST_MAX)
				check_kernel(f, len, m.dir[i].offset, &r->k[r->nkernels++]);
		}
		rvf_manifest_free(&m);
	} else {
		/* no manifest: every complete KERNEL_SEG in file order */
		kctx c = {r, f, len};
		vwalk(f, len, on_kernel, NULL, &c);
	}
	settle_initrds(r);
	r->verdict = r->nkernels ? RVF_ATT_VALID : RVF_ATT_NO_KERNEL;
	for (size_t i = 0; i < r->nkernels; i++)
		if (r->k[i].verdict > r->verdict)
			r->verdict = r->k[i].verdict;
	return 0;
}

int rvf_verify_attestation(const char *path, rvf_attest_report *r)
{
	vfile vf;
	rvf_clear_error();
	int err = vfile_open(path, &vf);
	if (err)
		return err;
	err = rvf_verify_attestation_buf(vf.data, vf.len, r);
	vfile_close(&vf);
	return err;
}
