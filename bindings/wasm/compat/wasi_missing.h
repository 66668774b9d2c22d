/* Force-included in the wasm32-wasi build: POSIX calls WASI does not have
 * (wasi_missing.c). getrandom runs over WASI's random_get; mremap (declared
 * by wasi-libc's sys/mman.h, defined nowhere) is copy-and-free over the
 * emulated anonymous mappings; the rest fail with ENOSYS, which every caller
 * already handles as an I/O error; the module only reads and queries, so
 * none of those is on its paths. */
#ifndef RVF_WASI_MISSING_H
#define RVF_WASI_MISSING_H
#include <sys/types.h>
char *realpath(const char *path, char *resolved);
int fchown(int fd, uid_t uid, gid_t gid);
int fchmod(int fd, mode_t mode);
int flock(int fd, int op);
ssize_t getrandom(void *buf, size_t len, unsigned flags);
uid_t geteuid(void);
int mkostemps(char *tmpl, int suffixlen, int flags);
#endif
