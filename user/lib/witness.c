/* witness.c — WITNESS_SEG chain verification over the raw file (spec §11,
 * rules in docs/SECURITY.md §1) and the file helpers of the verifiers. */
#include "witness.h"
#include "errors.h"
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- hashes ------------------------------------------------------------ */

void rvf_blake2b256(const uint8_t *data, size_t len, uint8_t out[32])
{
	/* sodium_init is idempotent and thread-safe; generichash needs none of
	 * its state but initialising keeps libsodium's CPU dispatch right. */
	if (sodium_init() < 0)
		abort();
	crypto_generichash(out, 32, data, len, NULL, 0);
}

int rvf_witness_alg(const rvf_witness *w)
{
	size_t m = sizeof RVF_WITNESS_B2B_MARK - 1;
	if (w->action_len >= m && !memcmp(w->action + w->action_len - m, RVF_WITNESS_B2B_MARK, m))
		return RVF_WALG_BLAKE2B;
	return RVF_WALG_FOLD32;
}

void rvf_witness_link(int alg, const uint8_t *payload, size_t len, uint8_t out[32])
{
	if (alg == RVF_WALG_BLAKE2B)
		rvf_blake2b256(payload, len, out);
	else
		rvf_fold32(payload, len, out);
}

/* ---- hex --------------------------------------------------------------- */

void rvf_hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rvf_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	while (slen && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r'))
		s++, slen--;
	while (slen && (s[slen - 1] == ' ' || s[slen - 1] == '\t' || s[slen - 1] == '\n' ||
			s[slen - 1] == '\r'))
		slen--;
	if (slen != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* ---- file access ------------------------------------------------------- */

int vfile_open(const char *path, vfile *vf)
{
	memset(vf, 0, sizeof *vf);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not hang */
	if (fd < 0)
		return rvf_fail(errno == ENOENT ? RVF_E_NOENT : RVF_E_IO, "%s: cannot open: %s", path,
				strerror(errno));
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return rvf_fail(RVF_E_IO, "%s: stat failed: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return rvf_fail(RVF_E_ARG, "%s: not a regular file", path);
	}
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			int e = errno;
			close(fd);
			return rvf_fail(RVF_E_IO, "%s: mmap failed: %s", path, strerror(e));
		}
		vf->map_base = m;
		vf->map_len = (size_t)st.st_size;
		vf->data = m;
		vf->len = (size_t)st.st_size;
	} else {
		static const uint8_t empty[1];
		vf->data = empty;
	}
	close(fd);
	return RVF_OK;
}

void vfile_close(vfile *vf)
{
	if (vf->map_base)
		munmap(vf->map_base, vf->map_len);
	memset(vf, 0, sizeof *vf);
}

/* Same walk as store_walk (segments skipped by length, damage skipped by
 * searching the next magic), but over a buffer and reporting the damage. */
int vwalk(const uint8_t *f, size_t len, vwalk_fn fn, vgap_fn gap, void *ctx)
{
	static const uint8_t magic[4] = {0x53, 0x46, 0x56, 0x52};
	uint64_t off = 0;
	while (off < len) {
		if (len - off >= RVF_SEG_HDR_SIZE) {
			rvf_seg_hdr h;
			rvf_hdr_decode(f + off, &h);
			if (h.magic == RVF_SEG_MAGIC && h.payload_length <= len - off - RVF_SEG_HDR_SIZE) {
				int r = fn ? fn(ctx, off, &h) : 0;
				if (r)
					return r;
				/* §5.2: a SIGNED payload is followed by a §18.5 footer */
				off += RVF_SEG_HDR_SIZE + h.payload_length +
				       rvf_sig_footer_len(f, len, off, h.flags, h.payload_length);
				continue;
			}
		}
		const uint8_t *next = off + 1 < len ? memmem(f + off + 1, len - off - 1, magic, sizeof magic) : NULL;
		/* a magic too close to the end to hold a header is damage as well */
		uint64_t to = next ? (uint64_t)(next - f) : len;
		if (gap)
			gap(ctx, off, to - off);
		off = to;
	}
	return 0;
}

int vfind_manifest(const uint8_t *f, size_t len, uint64_t *off, rvf_manifest *m)
{
	if (len < RVF_SEG_HDR_SIZE + 22)
		return -1;
	for (uint64_t i = len - RVF_SEG_HDR_SIZE + 1; i-- > 0;) {
		if (f[i] != 0x53 || f[i + 5] != RVF_SEG_MANIFEST || rd32(f + i) != RVF_SEG_MAGIC)
			continue;
		uint64_t pl = rd64(f + i + 0x10);
		if (pl > RVF_MANIFEST_MAX_PAYLOAD || pl > len - i - RVF_SEG_HDR_SIZE)
			continue;
		int r = rvf_manifest_decode(f + i + RVF_SEG_HDR_SIZE, pl, m);
		if (r == -2)
			return -2;
		if (r == 0) {
			*off = i;
			return 0;
		}
	}
	return -1;
}

/* ---- chain verification ----------------------------------------------- */

typedef struct {
	rvf_witness_report *r;
	const uint8_t *f;
	size_t len;
	const uint8_t *prev; /* previous witness payload, NULL if none yet */
	uint64_t prev_len, prev_id, prev_off;
	uint64_t unhashed_end; /* rvf_unhashed_end: zero hashes are "unset" only before */
} wctx;

__attribute__((format(printf, 5, 6))) static void add_issue(rvf_witness_report *r, uint64_t off,
							    uint64_t id, uint8_t type,
							    const char *fmt, ...)
{
	r->issues_total++;
	if (r->nissues == RVF_VERIFY_MAX_ISSUES)
		return;
	rvf_verify_issue *i = &r->issues[r->nissues++];
	i->offset = off;
	i->seg_id = id;
	i->seg_type = type;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(i->reason, sizeof i->reason, fmt, ap);
	va_end(ap);
}

static int is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void on_gap(void *vc, uint64_t off, uint64_t n)
{
	wctx *c = vc;
	c->r->damaged_bytes += n;
	add_issue(c->r, off, 0, 0,
		  "%llu bytes at offset %llu are not a complete segment (damaged header or truncated)",
		  (unsigned long long)n, (unsigned long long)off);
}

static const char *alg_name(int alg) { return alg == RVF_WALG_BLAKE2B ? "blake2b" : "fold32"; }

static int on_seg(void *vc, uint64_t off, const rvf_seg_hdr *h)
{
	wctx *c = vc;
	rvf_witness_report *r = c->r;
	const uint8_t *p = c->f + off + RVF_SEG_HDR_SIZE;
	r->segments++;
	if (rvf_hash_unset(h->content_hash, h->payload_length) &&
	    off + RVF_SEG_HDR_SIZE + h->payload_length <= c->unhashed_end) {
		r->hash_unset++;
	} else if (rvf_hash_unset(h->content_hash, h->payload_length)) {
		r->hash_bad++;
		add_issue(r, off, h->seg_id, h->seg_type,
			  "content hash is zero (unset) in a file whose writer sets hashes (damaged header?)");
	} else if (!rvf_content_hash_ok(h->content_hash, p, h->payload_length)) {
		r->hash_bad++;
		add_issue(r, off, h->seg_id, h->seg_type, "content hash mismatch (payload changed)");
	}
	if (h->seg_type != RVF_SEG_WITNESS)
		return 0;
	r->entries++;
	rvf_witness w;
	if (rvf_witness_decode(p, h->payload_length, &w)) {
		r->chain_valid = 0;
		add_issue(r, off, h->seg_id, h->seg_type, "witness payload cannot be decoded (%llu bytes)",
			  (unsigned long long)h->payload_length);
	} else {
		int alg = rvf_witness_alg(&w);
		if (alg == RVF_WALG_BLAKE2B)
			r->witnesses_blake2b++;
		if (!r->first_ts || w.timestamp_ns < r->first_ts)
			r->first_ts = w.timestamp_ns;
		if (w.timestamp_ns > r->last_ts)
			r->last_ts = w.timestamp_ns;
		if (is_zero(w.prev_hash, 32)) {
			if (c->prev) /* the first witness starts the chain */
				r->restarts++;
		} else if (!c->prev) {
			r->chain_valid = 0;
			add_issue(r, off, h->seg_id, h->seg_type,
				  "prev_hash is set but no earlier witness exists (%s)", alg_name(alg));
		} else {
			uint8_t want[32];
			rvf_witness_link(alg, c->prev, c->prev_len, want);
			if (memcmp(want, w.prev_hash, 32)) {
				r->chain_valid = 0;
				add_issue(r, off, h->seg_id, h->seg_type,
					  "prev_hash is not %s of the previous witness (id %llu at offset %llu)",
					  alg_name(alg), (unsigned long long)c->prev_id,
					  (unsigned long long)c->prev_off);
			} else if (alg == RVF_WALG_BLAKE2B) {
				r->links_blake2b++;
			} else {
				r->links_fold32++;
			}
		}
		r->head_alg = alg;
	}
	c->prev = p;
	c->prev_len = h->payload_length;
	c->prev_id = h->seg_id;
	c->prev_off = off;
	return 0;
}

static int by_offset(const void *a, const void *b)
{
	const rvf_verify_issue *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return 0;
}

static void check_listed(rvf_witness_report *r, const uint8_t *f, size_t len)
{
	rvf_manifest m;
	uint64_t moff;
	int rc = vfind_manifest(f, len, &moff, &m);
	if (rc) {
		add_issue(r, len, 0, 0, rc == -2 ? "out of memory decoding the manifest"
						 : "no decodable manifest in the file");
		return;
	}
	r->has_manifest = 1;
	r->manifest_offset = moff;
	size_t before = r->nissues;
	uint64_t unhashed_end = rvf_unhashed_end(f, len);
	for (uint32_t i = 0; i < m.seg_count; i++) {
		const rvf_dir_entry *e = &m.dir[i];
		r->listed++;
		rvf_seg_hdr h;
		if (e->offset > len || len - e->offset < RVF_SEG_HDR_SIZE) {
			r->listed_bad++;
			add_issue(r, e->offset, e->seg_id, e->seg_type,
				  "listed in the manifest but the offset is beyond the end of the file");
			continue;
		}
		rvf_hdr_decode(f + e->offset, &h);
		if (h.magic != RVF_SEG_MAGIC || h.seg_type != e->seg_type ||
		    h.payload_length > len - e->offset - RVF_SEG_HDR_SIZE) {
			r->listed_bad++;
			add_issue(r, e->offset, e->seg_id, e->seg_type,
				  "listed in the manifest but no complete segment of type 0x%02x is there",
				  e->seg_type);
			continue;
		}
		if (rvf_hash_unset(h.content_hash, h.payload_length)
			    ? e->offset + RVF_SEG_HDR_SIZE + h.payload_length > unhashed_end
			    : !rvf_content_hash_ok(h.content_hash, f + e->offset + RVF_SEG_HDR_SIZE, h.payload_length))
			r->listed_bad++; /* already reported by the walk */
	}
	rvf_manifest_free(&m);
	if (r->nissues > before)
		qsort(r->issues, r->nissues, sizeof r->issues[0], by_offset);
}

int rvf_verify_witness_buf(const uint8_t *f, size_t len, rvf_witness_report *r)
{
	memset(r, 0, sizeof *r);
	r->chain_valid = 1;
	wctx c = {.r = r, .f = f, .len = len, .unhashed_end = rvf_unhashed_end(f, len)};
	vwalk(f, len, on_seg, on_gap, &c);
	if (c.prev)
		rvf_witness_link(r->head_alg, c.prev, c.prev_len, r->head);
	check_listed(r, f, len);
	r->valid = r->issues_total == 0;
	return 0;
}

int rvf_verify_witness(const char *path, rvf_witness_report *r)
{
	vfile vf;
	rvf_clear_error();
	int err = vfile_open(path, &vf);
	if (err)
		return err;
	rvf_verify_witness_buf(vf.data, vf.len, r);
	vfile_close(&vf);
	return 0;
}
