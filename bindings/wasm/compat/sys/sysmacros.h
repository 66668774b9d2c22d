/* sys/sysmacros.h for wasm32-wasi: device numbers (only compared, never
 * meaningful without a kernel). */
#ifndef RVF_WASM_SYSMACROS_H
#define RVF_WASM_SYSMACROS_H
#define major(d) ((unsigned)((d) >> 8))
#define minor(d) ((unsigned)((d) & 0xff))
#define makedev(a, b) ((((unsigned long long)(a)) << 8) | (b))
#endif
