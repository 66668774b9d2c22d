/* attest.c — KERNEL_SEG attestation (spec §12) and our KernelBinding rule
 * (docs/SECURITY.md §3). */
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

/* policy_hash = BLAKE2b-256("RVF-policy-v1" ‖ kernel header[0..128) ‖
 * binding[0x40..0x80) ‖ command line). */
static void policy_hash(const uint8_t *hdr, const uint8_t *bind, const uint8_t *cmd, size_t clen,
			uint8_t out[32])
{
	crypto_generichash_state st;
	if (sodium_init() < 0)
		abort();
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)RVF_POLICY_CTX, sizeof RVF_POLICY_CTX - 1);
	crypto_generichash_update(&st, hdr, 128);
	crypto_generichash_update(&st, bind + 0x40, 0x40);
	crypto_generichash_update(&st, cmd, clen);
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
	k->content_hash_ok = rvf_content_hash_ok(h.content_hash, p, pl);
	if (pl < RVF_KERNEL_HDR || rd32(p) != RVF_KERNEL_MAGIC) {
		set_note(k, RVF_ATT_INVALID, "kernel header magic missing");
		return;
	}
	k->magic_ok = 1;
	k->arch = p[6];
	k->kernel_type = p[7];
	k->flags = rd32(p + 0x08);
	k->api_port = (uint16_t)(p[0x2A] << 8 | p[0x2B]);
	k->image_size = rd64(p + 0x18);
	k->cmdline_offset = rd64(p + 0x70);
	k->cmdline_len = rd32(p + 0x78);
	memcpy(k->stored_hash, p + 0x30, 32);
	const uint8_t *img, *cmd, *bind = NULL;
	uint64_t avail = pl - RVF_KERNEL_HDR;
	if (k->cmdline_offset == RVF_KERNEL_HDR) {
		if (k->image_size > avail || k->cmdline_len > avail - k->image_size) {
			set_note(k, RVF_ATT_INVALID, "image/command line sizes exceed the payload");
			return;
		}
		img = p + RVF_KERNEL_HDR;
		cmd = img + k->image_size;
	} else if (k->cmdline_offset == RVF_KERNEL_HDR + RVF_BINDING_SIZE) {
		if (avail < RVF_BINDING_SIZE || k->cmdline_len > avail - RVF_BINDING_SIZE ||
		    k->image_size > avail - RVF_BINDING_SIZE - k->cmdline_len) {
			set_note(k, RVF_ATT_INVALID, "binding/command line/image sizes exceed the payload");
			return;
		}
		bind = p + RVF_KERNEL_HDR;
		cmd = bind + RVF_BINDING_SIZE;
		img = cmd + k->cmdline_len;
	} else {
		set_note(k, RVF_ATT_INVALID, "unknown kernel layout (cmdline_offset is neither 128 nor 256)");
		return;
	}
	k->layout_ok = 1;
	rvf_fold32(img, k->image_size, k->computed_hash);
	k->image_hash_ok = !memcmp(k->computed_hash, k->stored_hash, 32);
	if (!k->image_hash_ok)
		set_note(k, RVF_ATT_INVALID, "image hash MISMATCH (fold32 of the image differs): image tampered");
	else if (!k->content_hash_ok)
		set_note(k, RVF_ATT_INVALID, "KERNEL_SEG content hash mismatch (header, binding or command line changed)");
	if (!bind) {
		k->binding_status = RVF_BIND_NONE;
		if (k->verdict == RVF_ATT_VALID)
			set_note(k, RVF_ATT_VALID,
				 "image hash (fold32, not cryptographic) matches; no KernelBinding (legacy layout)");
		return;
	}
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
	uint8_t d[32];
	rvf_blake2b256(img, k->image_size, d);
	k->image_b2b_ok = !memcmp(d, bind + 0x60, 32);
	policy_hash(p, bind, cmd, k->cmdline_len, d);
	k->policy_ok = !memcmp(d, k->policy_hash, 32);
	k->bound_manifest_offset = rd64(bind + 0x58);
	uint64_t mo = k->bound_manifest_offset;
	int present = mo < off && off - mo >= RVF_SEG_HDR_SIZE && rd32(f + mo) == RVF_SEG_MAGIC &&
		      f[mo + 5] == RVF_SEG_MANIFEST && rd64(f + mo + 0x10) <= off - mo - RVF_SEG_HDR_SIZE;
	if (present) {
		rvf_blake2b256(f + mo + RVF_SEG_HDR_SIZE, rd64(f + mo + 0x10), d);
		k->manifest_ok = !memcmp(d, k->manifest_root_hash, 32);
	}
	if (!k->image_b2b_ok) {
		k->binding_status = RVF_BIND_MISMATCH;
		set_note(k, RVF_ATT_INVALID, "binding: BLAKE2b-256 of the image differs: image tampered");
	} else if (!k->policy_ok) {
		k->binding_status = RVF_BIND_MISMATCH;
		set_note(k, RVF_ATT_INVALID,
			 "binding: policy_hash differs (kernel header, flags, binding fields or command line changed)");
	} else if (present && !k->manifest_ok) {
		k->binding_status = RVF_BIND_MISMATCH;
		set_note(k, RVF_ATT_INVALID, "binding: manifest_root_hash differs from the bound manifest");
	} else if (!present) {
		k->binding_status = RVF_BIND_STALE;
		set_note(k, RVF_ATT_PARTIAL,
			 "binding: the bound manifest is no longer in the file (compacted?); image and policy verified");
	} else if (k->verdict == RVF_ATT_VALID) {
		k->binding_status = RVF_BIND_OK;
		set_note(k, RVF_ATT_VALID,
			 "image hash, BLAKE2b image digest, policy_hash and manifest_root_hash verified");
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

int rvf_embed_kernel_bound(rvf_store *s, const rvf_kernel *k, uint16_t min_runtime_version,
			   uint64_t allowed_segment_mask, uint64_t *seg_id)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (!k || !k->image || !k->image_size || k->cmdline_len > UINT32_MAX ||
	    (k->cmdline_len && !k->cmdline))
		return rvf_fail(RVF_E_ARG, "embed-kernel: empty image or bad command line");
	if ((err = store_mapped(s)))
		return err;
	uint64_t mo = s->manifest_offset;
	if (mo > s->map_len || s->map_len - mo < RVF_SEG_HDR_SIZE ||
	    rd64(s->map + mo + 0x10) > s->map_len - mo - RVF_SEG_HDR_SIZE)
		return rvf_fail(RVF_E_CORRUPT, "%s: current manifest is outside the file", s->path);
	seg_batch b = {0};
	uint64_t plen = RVF_KERNEL_HDR + RVF_BINDING_SIZE + k->cmdline_len + k->image_size;
	uint8_t *p = batch_add_raw(s, &b, RVF_SEG_KERNEL, plen);
	if (!p)
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	memset(p, 0, RVF_KERNEL_HDR + RVF_BINDING_SIZE);
	wr32(p, RVF_KERNEL_MAGIC);
	wr16(p + 4, 1);
	p[6] = k->arch;
	p[7] = k->kernel_type;
	wr32(p + 0x08, k->flags);
	wr64(p + 0x18, k->image_size);
	wr64(p + 0x20, k->image_size);
	p[0x2A] = (uint8_t)(k->api_port >> 8); /* big-endian, §12 */
	p[0x2B] = (uint8_t)k->api_port;
	wr32(p + 0x2C, 1);
	rvf_fold32(k->image, k->image_size, p + 0x30);
	wr64(p + 0x70, RVF_KERNEL_HDR + RVF_BINDING_SIZE);
	wr32(p + 0x78, (uint32_t)k->cmdline_len);
	uint8_t *bind = p + RVF_KERNEL_HDR, *cmd = bind + RVF_BINDING_SIZE;
	if (k->cmdline_len)
		memcpy(cmd, k->cmdline, k->cmdline_len);
	memcpy(cmd + k->cmdline_len, k->image, k->image_size);
	wr16(bind + 0x40, 1);
	wr16(bind + 0x42, min_runtime_version);
	wr64(bind + 0x48, allowed_segment_mask);
	memcpy(bind + 0x50, RVF_BINDING_MARK, 8);
	wr64(bind + 0x58, mo);
	rvf_blake2b256(k->image, k->image_size, bind + 0x60);
	rvf_blake2b256(s->map + mo + RVF_SEG_HDR_SIZE, rd64(s->map + mo + 0x10), bind);
	policy_hash(p, bind, cmd, k->cmdline_len, bind + 0x20);
	uint64_t id = b.ents[0].seg_id;
	err = store_commit(s, &b, NULL, 0);
	batch_free(&b);
	if (!err && seg_id)
		*seg_id = id;
	return err;
}
