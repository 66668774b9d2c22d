/* kernel_embed.c — writing KERNEL_SEGs in the KernelBinding layout
 * (docs/SECURITY.md §3.1) and reading them back from a store. Every embed
 * binds the image, the header fields, the command line, the store's current
 * manifest and, when given, an initramfs written in the same commit as the
 * next KERNEL_SEG. */
#include "attest.h"
#include "errors.h"
#include "store.h"
#include "witness.h"

#include <stdio.h>
#include <string.h>

#define KTYPE_CUSTOM 0x04

/* Kernel header (§12) for k; cmdline_offset as given. */
static void write_header(uint8_t *p, const rvf_kernel *k, uint64_t cmdline_offset)
{
	memset(p, 0, RVF_KERNEL_HDR);
	wr32(p, RVF_KERNEL_MAGIC);
	wr16(p + 4, 1);
	p[6] = k->arch;
	p[7] = k->kernel_type;
	wr32(p + 0x08, k->flags);
	wr64(p + 0x18, k->image_size);
	wr64(p + 0x20, k->image_size);
	p[0x2A] = (uint8_t)(k->api_port >> 8); /* the format's one big-endian field */
	p[0x2B] = (uint8_t)k->api_port;
	wr32(p + 0x2C, 1);
	rvf_fold32(k->image, k->image_size, p + 0x30); /* what the reference reads */
	wr64(p + 0x70, cmdline_offset);
	wr32(p + 0x78, (uint32_t)k->cmdline_len);
}

static int bad_kernel(const rvf_kernel *k)
{
	return !k || !k->image || !k->image_size || k->cmdline_len > UINT32_MAX ||
	       (k->cmdline_len && !k->cmdline);
}

int rvf_embed_kernel_bound(rvf_store *s, const rvf_kernel *k, const rvf_kernel *initrd,
			   uint16_t min_runtime_version, uint64_t allowed_segment_mask, uint64_t *seg_id,
			   uint64_t *initrd_seg_id)
{
	rvf_clear_error();
	int err = store_writable(s);
	if (err)
		return err;
	if (bad_kernel(k))
		return rvf_fail(RVF_E_ARG, "embed-kernel: empty image or bad command line");
	if (rvf_kernel_is_initramfs(k))
		return rvf_fail(RVF_E_ARG, "embed-kernel: the command line '%s' is reserved for the initramfs",
				RVF_INITRAMFS_MARKER);
	if (initrd && (!initrd->image || !initrd->image_size))
		return rvf_fail(RVF_E_ARG, "embed-kernel: empty initramfs");
	if ((err = store_mapped(s)))
		return err;
	uint64_t mo = s->manifest_offset;
	if (mo > s->map_len || s->map_len - mo < RVF_SEG_HDR_SIZE ||
	    rd64(s->map + mo + 0x10) > s->map_len - mo - RVF_SEG_HDR_SIZE)
		return rvf_fail(RVF_E_CORRUPT, "%s: current manifest is outside the file", s->path);
	seg_batch b = {0};
	uint64_t plen = RVF_KERNEL_HDR + RVF_BINDING_SIZE + k->cmdline_len + k->image_size;
	if (!batch_add_raw(s, &b, RVF_SEG_KERNEL, plen))
		goto oom;
	uint64_t ilen = 0;
	uint8_t ird_digest[32];
	if (initrd) {
		/* the initramfs: legacy layout, the marker as its command line */
		rvf_kernel r = {.arch = k->arch, .kernel_type = KTYPE_CUSTOM, .image = initrd->image,
				.image_size = initrd->image_size, .cmdline = RVF_INITRAMFS_MARKER,
				.cmdline_len = sizeof RVF_INITRAMFS_MARKER - 1};
		ilen = RVF_KERNEL_HDR + r.image_size + r.cmdline_len;
		uint8_t *q = batch_add_raw(s, &b, RVF_SEG_KERNEL, ilen);
		if (!q)
			goto oom;
		write_header(q, &r, RVF_KERNEL_HDR);
		memcpy(q + RVF_KERNEL_HDR, r.image, r.image_size);
		memcpy(q + RVF_KERNEL_HDR + r.image_size, r.cmdline, r.cmdline_len);
		rvf_blake2b256(q, ilen, ird_digest);
	}
	/* batch_add_raw may move the buffer: address the kernel payload now */
	uint8_t *p = b.buf + b.ents[0].offset + RVF_SEG_HDR_SIZE;
	write_header(p, k, RVF_KERNEL_HDR + RVF_BINDING_SIZE);
	uint8_t *bind = p + RVF_KERNEL_HDR, *cmd = bind + RVF_BINDING_SIZE;
	memset(bind, 0, RVF_BINDING_SIZE);
	if (k->cmdline_len)
		memcpy(cmd, k->cmdline, k->cmdline_len);
	memcpy(cmd + k->cmdline_len, k->image, k->image_size);
	wr16(bind + 0x40, initrd ? RVF_BINDING_V_INITRD : RVF_BINDING_V_KERNEL);
	wr16(bind + 0x42, min_runtime_version);
	wr64(bind + 0x48, allowed_segment_mask);
	memcpy(bind + 0x50, RVF_BINDING_MARK, 8);
	wr64(bind + 0x58, mo);
	rvf_blake2b256(k->image, k->image_size, bind + 0x60);
	rvf_blake2b256(s->map + mo + RVF_SEG_HDR_SIZE, rd64(s->map + mo + 0x10), bind);
	attest_policy_hash(p, bind, cmd, k->cmdline_len, initrd ? ird_digest : NULL, bind + 0x20);
	uint64_t id = b.ents[0].seg_id, iid = initrd ? b.ents[1].seg_id : 0;
	char act[96];
	snprintf(act, sizeof act, "embed-kernel:image=%zu,initramfs=%zu", k->image_size,
		 initrd ? initrd->image_size : (size_t)0);
	err = store_commit(s, &b, act, 1);
	batch_free(&b);
	if (!err && seg_id)
		*seg_id = id;
	if (!err && initrd_seg_id)
		*initrd_seg_id = iid;
	return err;
oom:
	batch_free(&b);
	return rvf_fail(RVF_E_NOMEM, "out of memory");
}

int rvf_embed_kernel(rvf_store *s, const rvf_kernel *k, uint64_t *seg_id)
{
	return rvf_embed_kernel_bound(s, k, NULL, 1, 0, seg_id, NULL);
}
