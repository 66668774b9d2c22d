/* format_kernel.c — the one KERNEL_SEG decoder (spec §12), used by the
 * store (rvf_kernel_get), attestation and the CLI.
 *
 * Layouts, told apart by cmdline_offset:
 *   128: header · image · command line (what the reference's embedKernel
 *        writes; the command line sits after the image although the header
 *        says 128)
 *   256: header · KernelBinding (128) · command line · image
 * Anything else is refused. */
#include "format.h"
#include "rvf.h"

#include <string.h>

int rvf_kernel_decode(const uint8_t *p, uint64_t len, rvf_kernel_view *v, const char **why)
{
	static const char *dummy;
	if (!why)
		why = &dummy;
	memset(v, 0, sizeof *v);
	if (len < RVF_KERNEL_HDR || rd32(p) != RVF_KERNEL_MAGIC) {
		*why = "no kernel header (magic missing or payload shorter than 128 bytes)";
		return -1;
	}
	uint64_t isz = rd64(p + 0x18), coff = rd64(p + 0x70), clen = rd32(p + 0x78);
	uint64_t avail = len - RVF_KERNEL_HDR, img_off, cmd_off;
	if (coff == RVF_KERNEL_HDR) {
		if (isz > avail || clen > avail - isz) {
			*why = "image and command line sizes exceed the payload";
			return -1;
		}
		img_off = RVF_KERNEL_HDR;
		cmd_off = RVF_KERNEL_HDR + isz;
	} else if (coff == RVF_KERNEL_HDR + RVF_KERNEL_BINDING_SIZE) {
		if (avail < RVF_KERNEL_BINDING_SIZE || clen > avail - RVF_KERNEL_BINDING_SIZE ||
		    isz > avail - RVF_KERNEL_BINDING_SIZE - clen) {
			*why = "binding, command line and image sizes exceed the payload";
			return -1;
		}
		v->binding = p + RVF_KERNEL_HDR;
		cmd_off = coff;
		img_off = coff + clen;
	} else {
		*why = "unknown kernel layout (cmdline_offset is neither 128 nor 256)";
		return -1;
	}
	v->cmdline_offset = coff;
	v->image_hash = p + 0x30;
	v->k.arch = p[6];
	v->k.kernel_type = p[7];
	v->k.flags = rd32(p + 8);
	v->k.api_port = (uint16_t)(p[0x2A] << 8 | p[0x2B]); /* big-endian, §12 */
	v->k.image = p + img_off;
	v->k.image_size = isz;
	v->k.cmdline = (const char *)p + cmd_off;
	v->k.cmdline_len = clen;
	return 0;
}

int rvf_kernel_is_initramfs(const rvf_kernel *k)
{
	size_t n = sizeof RVF_INITRAMFS_MARKER - 1;
	return k->cmdline_len == n && !memcmp(k->cmdline, RVF_INITRAMFS_MARKER, n);
}
