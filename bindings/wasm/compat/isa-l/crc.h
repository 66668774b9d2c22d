/* isa-l/crc.h for wasm32-wasi, where ISA-L (x86 assembly) does not build:
 * the one function the format uses, from crc32.c beside this header. */
#ifndef RVF_WASM_ISAL_CRC_H
#define RVF_WASM_ISAL_CRC_H
#include <stdint.h>
uint32_t crc32_gzip_refl(uint32_t init_crc, const unsigned char *buf, uint64_t len);
#endif
