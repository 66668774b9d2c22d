/* rvf_elf.h — header-only checks of EBPF_SEG payloads: is it a little-endian
 * ELF64 object for EM_BPF, and where is a section (".BTF"). Used by the
 * loader and by `rvf embed-ebpf` / `rvf extract-ebpf` (which must build
 * without the loader). Bounds-checked against hostile input. */
#ifndef RVF_ELF_H
#define RVF_ELF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RVF_EM_BPF 247

enum rvf_elf_kind {
	RVF_ELF_BPF = 0,          /* ELF64 LE relocatable/any object, e_machine EM_BPF */
	RVF_ELF_EMPTY = -1,       /* no bytes */
	RVF_ELF_NOT_ELF = -2,     /* no ELF magic: placeholder / raw bytes */
	RVF_ELF_WRONG_CLASS = -3, /* ELF32 or big-endian */
	RVF_ELF_WRONG_MACHINE = -4,
	RVF_ELF_TRUNCATED = -5,   /* header or section table outside the bytes */
};

static inline uint16_t rvf_elf_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rvf_elf_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rvf_elf_u64(const uint8_t *p)
{
	return (uint64_t)rvf_elf_u32(p) | (uint64_t)rvf_elf_u32(p + 4) << 32;
}

static inline int rvf_elf_check(const uint8_t *b, size_t n)
{
	if (!b || n == 0)
		return RVF_ELF_EMPTY;
	if (n < 4 || memcmp(b, "\x7f" "ELF", 4) != 0)
		return RVF_ELF_NOT_ELF;
	if (n < 64)
		return RVF_ELF_TRUNCATED;
	if (b[4] != 2 /* ELFCLASS64 */ || b[5] != 1 /* ELFDATA2LSB */)
		return RVF_ELF_WRONG_CLASS;
	if (rvf_elf_u16(b + 18) != RVF_EM_BPF)
		return RVF_ELF_WRONG_MACHINE;
	uint64_t shoff = rvf_elf_u64(b + 40);
	uint16_t shentsize = rvf_elf_u16(b + 58), shnum = rvf_elf_u16(b + 60);
	if (shnum && (shentsize < 64 || shoff > n || (uint64_t)shnum * shentsize > n - shoff))
		return RVF_ELF_TRUNCATED;
	return RVF_ELF_BPF;
}

static inline const char *rvf_elf_kind_str(int k)
{
	switch (k) {
	case RVF_ELF_BPF: return "ELF64 little-endian BPF object";
	case RVF_ELF_EMPTY: return "empty payload";
	case RVF_ELF_NOT_ELF: return "placeholder payload, not a BPF object";
	case RVF_ELF_WRONG_CLASS: return "ELF object that is not 64-bit little-endian";
	case RVF_ELF_WRONG_MACHINE: return "ELF object for another machine (e_machine != EM_BPF)";
	case RVF_ELF_TRUNCATED: return "truncated ELF object";
	}
	return "unknown payload";
}

/* Finds a section by name in a checked object; 0 and (*off, *len) or -1. */
static inline int rvf_elf_section(const uint8_t *b, size_t n, const char *name, size_t *off,
				  size_t *len)
{
	if (rvf_elf_check(b, n) != RVF_ELF_BPF)
		return -1;
	uint64_t shoff = rvf_elf_u64(b + 40);
	uint16_t shentsize = rvf_elf_u16(b + 58), shnum = rvf_elf_u16(b + 60);
	uint16_t shstrndx = rvf_elf_u16(b + 62);
	if (shstrndx >= shnum)
		return -1;
	const uint8_t *ss = b + shoff + (uint64_t)shstrndx * shentsize;
	uint64_t str_off = rvf_elf_u64(ss + 24), str_len = rvf_elf_u64(ss + 32);
	if (str_off > n || str_len > n - str_off)
		return -1;
	size_t nl = strlen(name);
	for (uint16_t i = 0; i < shnum; i++) {
		const uint8_t *sh = b + shoff + (uint64_t)i * shentsize;
		uint32_t nm = rvf_elf_u32(sh);
		uint32_t type = rvf_elf_u32(sh + 4);
		uint64_t so = rvf_elf_u64(sh + 24), sl = rvf_elf_u64(sh + 32);
		if (nm >= str_len || str_len - nm < nl + 1)
			continue;
		if (memcmp(b + str_off + nm, name, nl + 1) != 0)
			continue;
		if (type == 8 /* SHT_NOBITS */ || so > n || sl > n - so)
			return -1;
		*off = (size_t)so;
		*len = (size_t)sl;
		return 0;
	}
	return -1;
}
/* The hook an object's code sections are for, from their names as libbpf
 * reads them (SEC("xdp"), SEC("xdp.frags"), SEC("tc"), SEC("tcx/ingress"),
 * SEC("classifier")): RVF_ELF_HOOK_XDP or _TC, RVF_ELF_HOOK_NONE when no
 * executable section names a hook, RVF_ELF_HOOK_MIXED when both appear. */
enum { RVF_ELF_HOOK_NONE = 0, RVF_ELF_HOOK_XDP = 1, RVF_ELF_HOOK_TC = 2, RVF_ELF_HOOK_MIXED = 3 };

static inline int rvf_elf_hook_of(const char *nm, size_t max)
{
	static const char *const xdp[] = {"xdp"}, *const tc[] = {"tc", "tcx", "classifier"};
	for (int t = 0; t < 2; t++) {
		const char *const *pre = t ? tc : xdp;
		size_t np = t ? 3 : 1;
		for (size_t i = 0; i < np; i++) {
			size_t l = strlen(pre[i]);
			if (l < max && !memcmp(nm, pre[i], l) && (nm[l] == 0 || nm[l] == '/' || nm[l] == '.'))
				return t ? RVF_ELF_HOOK_TC : RVF_ELF_HOOK_XDP;
		}
	}
	return RVF_ELF_HOOK_NONE;
}

static inline int rvf_elf_hook(const uint8_t *b, size_t n)
{
	if (rvf_elf_check(b, n) != RVF_ELF_BPF)
		return RVF_ELF_HOOK_NONE;
	uint64_t shoff = rvf_elf_u64(b + 40);
	uint16_t shentsize = rvf_elf_u16(b + 58), shnum = rvf_elf_u16(b + 60);
	uint16_t shstrndx = rvf_elf_u16(b + 62);
	if (shstrndx >= shnum)
		return RVF_ELF_HOOK_NONE;
	const uint8_t *ss = b + shoff + (uint64_t)shstrndx * shentsize;
	uint64_t str_off = rvf_elf_u64(ss + 24), str_len = rvf_elf_u64(ss + 32);
	if (str_off > n || str_len > n - str_off)
		return RVF_ELF_HOOK_NONE;
	int hooks = RVF_ELF_HOOK_NONE;
	for (uint16_t i = 0; i < shnum; i++) {
		const uint8_t *sh = b + shoff + (uint64_t)i * shentsize;
		uint32_t nm = rvf_elf_u32(sh), type = rvf_elf_u32(sh + 4);
		uint64_t flags = rvf_elf_u64(sh + 8);
		if (type != 1 /* SHT_PROGBITS */ || !(flags & 4 /* SHF_EXECINSTR */) || nm >= str_len)
			continue;
		hooks |= rvf_elf_hook_of((const char *)b + str_off + nm, (size_t)(str_len - nm));
	}
	return hooks;
}
#endif
