/* trust.c — the signature gate for store-embedded programs. The store file
 * is copied into a sealed private memfd; the `rvf sign` signature is
 * verified on that copy with the trusted public key and the copy is opened
 * as a store, so the programs loaded are exactly the bytes verified (a
 * writer of the file cannot swap them between check and load). */
#include "loader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *sig_status_name(int st)
{
	switch (st) {
	case RVF_SIG_OK: return "valid";
	case RVF_SIG_UNSIGNED: return "unsigned";
	case RVF_SIG_MALFORMED: return "malformed";
	case RVF_SIG_WRONG_KEY: return "wrong_key";
	case RVF_SIG_BAD_SIGNATURE: return "bad_signature";
	case RVF_SIG_PREFIX_CHANGED: return "prefix_changed";
	case RVF_SIG_STATE_CHANGED: return "state_changed";
	}
	return "unknown";
}

/* Sealed copy of path in a memfd; returns the fd or -errno. */
static int sealed_copy(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	int src = open(path, O_RDONLY | O_CLOEXEC), e;
	if (src < 0)
		return e = -errno, ldr_err(err, errlen, "%s: %s", path, strerror(-e)), e;
	if (fstat(src, &sb)) {
		e = -errno;
		close(src);
		return ldr_err(err, errlen, "%s: %s", path, strerror(-e)), e;
	}
	int mfd = memfd_create("rvf-trusted-store", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		e = -errno;
		close(src);
		return ldr_err(err, errlen, "memfd_create: %s", strerror(-e)), e;
	}
	off_t off = 0;
	while (off < sb.st_size) {
		ssize_t n = sendfile(mfd, src, &off, (size_t)(sb.st_size - off));
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO; /* 0: the file shrank under us */
			close(src);
			close(mfd);
			return ldr_err(err, errlen, "copying %s: %s", path, strerror(-e)), e;
		}
	}
	close(src);
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
		e = -errno;
		close(mfd);
		return ldr_err(err, errlen, "sealing the copy of %s: %s", path, strerror(-e)), e;
	}
	return mfd;
}

int ldr_trusted_store(const rvf_loader *l, rvf_store **out, int *memfd, char *err, size_t errlen)
{
	char p[64];
	rvf_sig_report r;
	int e;

	*out = NULL;
	*memfd = -1;
	if (!l->o.store_path || !l->o.trust_key)
		return ldr_err(err, errlen,
			       "loading the store's EBPF_SEGs needs the store file and a trusted public key (--trust-key)"),
		       -EINVAL;
	int mfd = sealed_copy(l->o.store_path, err, errlen);
	if (mfd < 0)
		return mfd;
	snprintf(p, sizeof p, "/proc/self/fd/%d", mfd);
	memset(&r, 0, sizeof r);
	e = rvf_verify_signature(p, l->o.trust_key, 0, &r);
	if (e) {
		close(mfd);
		return ldr_err(err, errlen, "verifying the signature of %s: %s: %s", l->o.store_path,
			       rvf_strerror(e), rvf_last_error()), -EIO;
	}
	if (!r.valid) {
		close(mfd);
		return ldr_err(err, errlen,
			       "%s: signature %s (%s): refusing to load its EBPF_SEGs (sign the current state with 'rvf sign' and pass that key's .pub to --trust-key)",
			       l->o.store_path, sig_status_name(r.status), r.reason), -EPERM;
	}
	e = rvf_open(p, RVF_OPEN_READONLY, out);
	if (e) {
		close(mfd);
		return ldr_err(err, errlen, "opening the verified copy of %s: %s: %s", l->o.store_path,
			       rvf_strerror(e), rvf_last_error()), -EIO;
	}
	*memfd = mfd;
	return 0;
}
