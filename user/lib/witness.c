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
	uint64_t wit_index; /* which witness (file order) recorded it */
	uint64_t wit_id, wit_off;
	rvf_wcov e;
} absent_cov;

typedef struct {
	rvf_witness_report *r;
	const uint8_t *f;
	size_t len;
	const uint8_t *prev; /* previous witness payload, NULL if none yet */
	uint64_t prev_len, prev_id, prev_off;
	uint64_t unhashed_end; /* rvf_unhashed_end: zero hashes are "unset" only before */
	uint64_t last_compact; /* 1 + index of the last "compact:" witness, 0 if none */
	uint64_t last_damaged; /* same for the last witness failing its content hash */
	absent_cov *absent;    /* covered segments not found where recorded */
	size_t nabsent, absent_cap;
	int oom;
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

static const char *type_hex(uint8_t t, char buf[8])
{
	snprintf(buf, 8, "0x%02x", t);
	return buf;
}

/* Coverage (ours, docs/SECURITY.md §1.2): each covered segment must still
 * be at its recorded offset with its id, type, length and BLAKE2b-256.
 * A segment that is not there at all is decided after the walk (a later
 * compaction may have moved it). */
static void check_coverage(wctx *c, const rvf_witness *w, uint64_t off, const rvf_seg_hdr *h)
{
	rvf_witness_report *r = c->r;
	char tb[8];
	for (uint32_t i = 0; i < w->ncov; i++) {
		rvf_wcov e;
		rvf_wcov_get(w, i, &e);
		r->covered++;
		rvf_seg_hdr sh;
		int there = e.offset < off && off - e.offset >= RVF_SEG_HDR_SIZE;
		if (there) {
			rvf_hdr_decode(c->f + e.offset, &sh);
			there = sh.magic == RVF_SEG_MAGIC && sh.seg_id == e.seg_id &&
				sh.payload_length <= off - e.offset - RVF_SEG_HDR_SIZE;
		}
		if (!there) {
			if (c->nabsent == c->absent_cap) {
				size_t nc = c->absent_cap ? c->absent_cap * 2 : 16;
				absent_cov *t = realloc(c->absent, nc * sizeof *t);
				if (!t) {
					c->oom = 1;
					continue;
				}
				c->absent = t;
				c->absent_cap = nc;
			}
			c->absent[c->nabsent++] = (absent_cov){r->entries, h->seg_id, off, e};
			continue;
		}
		uint8_t d[32];
		if (sh.seg_type == e.seg_type && sh.payload_length == e.payload_length)
			rvf_blake2b256(c->f + e.offset + RVF_SEG_HDR_SIZE, sh.payload_length, d);
		if (sh.seg_type != e.seg_type || sh.payload_length != e.payload_length ||
		    memcmp(d, e.hash, 32)) {
			r->covered_bad++;
			add_issue(r, e.offset, e.seg_id, sh.seg_type,
				  "payload changed after witness id %llu (offset %llu) recorded it: %s "
				  "(type %s, %llu bytes recorded)",
				  (unsigned long long)h->seg_id, (unsigned long long)off,
				  sh.seg_type != e.seg_type || sh.payload_length != e.payload_length
					  ? "type or length differs"
					  : "BLAKE2b-256 differs",
				  type_hex(e.seg_type, tb), (unsigned long long)e.payload_length);
		}
	}
}

/* Covered segments that are gone: fine if a compaction came later (it
 * rewrites the file and its own witness covers the result), else a change. */
static void settle_absent(wctx *c)
{
	char tb[8];
	for (size_t i = 0; i < c->nabsent; i++) {
		const absent_cov *a = &c->absent[i];
		if (a->wit_index < c->last_compact) {
			c->r->covered_compacted++;
			continue;
		}
		/* a later damaged witness (already an issue) may have been the
		 * compaction's: undecidable, so not reported twice */
		if (a->wit_index < c->last_damaged)
			continue;
		c->r->covered_bad++;
		add_issue(c->r, a->e.offset, a->e.seg_id, a->e.seg_type,
			  "segment id %llu (type %s) recorded by witness id %llu (offset %llu) is no longer "
			  "at offset %llu",
			  (unsigned long long)a->e.seg_id, type_hex(a->e.seg_type, tb),
			  (unsigned long long)a->wit_id, (unsigned long long)a->wit_off,
			  (unsigned long long)a->e.offset);
	}
	if (c->oom)
		add_issue(c->r, c->len, 0, 0, "out of memory checking the witness coverage");
}

static const char *alg_name(int alg) { return alg == RVF_WALG_BLAKE2B ? "blake2b" : "fold32"; }

static int on_seg(void *vc, uint64_t off, const rvf_seg_hdr *h)
{
	wctx *c = vc;
	rvf_witness_report *r = c->r;
	const uint8_t *p = c->f + off + RVF_SEG_HDR_SIZE;
	r->segments++;
	int damaged = 0;
	if (rvf_hash_unset(h->content_hash, h->payload_length) &&
	    off + RVF_SEG_HDR_SIZE + h->payload_length <= c->unhashed_end) {
		r->hash_unset++;
	} else if (rvf_hash_unset(h->content_hash, h->payload_length)) {
		damaged = 1;
		r->hash_bad++;
		add_issue(r, off, h->seg_id, h->seg_type,
			  "content hash is zero (unset) in a file whose writer sets hashes (damaged header?)");
	} else if (!rvf_content_hash_ok(h->content_hash, p, h->payload_length)) {
		damaged = 1;
		r->hash_bad++;
		add_issue(r, off, h->seg_id, h->seg_type, "content hash mismatch (payload changed)");
	}
	if (h->seg_type != RVF_SEG_WITNESS)
		return 0;
	r->entries++;
	if (damaged)
		c->last_damaged = r->entries;
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
		if (w.cov || w.cov_malformed)
			r->witnesses_covering++;
		if (w.cov_malformed) {
			r->chain_valid = 0;
			add_issue(r, off, h->seg_id, h->seg_type,
				  "coverage block does not fit the witness payload");
		}
		if (w.cov && !damaged) /* a damaged witness's claims are not evaluated */
			check_coverage(c, &w, off, h);
		if (w.action_len >= 8 && !memcmp(w.action, "compact:", 8))
			c->last_compact = r->entries; /* witnesses before this one: index < entries */
		if (is_zero(w.prev_hash, 32)) {
			if (c->prev && (w.cov || w.cov_malformed)) {
				/* our writer always links to the previous witness */
				r->chain_valid = 0;
				add_issue(r, off, h->seg_id, h->seg_type,
					  "chain restarts here (zero prev_hash) although witness id %llu "
					  "(offset %llu) precedes it: our writer never restarts",
					  (unsigned long long)c->prev_id, (unsigned long long)c->prev_off);
			} else if (c->prev) { /* the reference restarts every session */
				r->restarts++;
			}
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

/* Stable (insertion) sort of the issues by offset: at most
 * RVF_VERIFY_MAX_ISSUES of them. */
static void sort_issues(rvf_witness_report *r)
{
	for (size_t i = 1; i < r->nissues; i++) {
		rvf_verify_issue t = r->issues[i];
		size_t j = i;
		for (; j > 0 && r->issues[j - 1].offset > t.offset; j--)
			r->issues[j] = r->issues[j - 1];
		r->issues[j] = t;
	}
}

int rvf_verify_witness_buf(const uint8_t *f, size_t len, rvf_witness_report *r)
{
	memset(r, 0, sizeof *r);
	r->chain_valid = 1;
	wctx c = {.r = r, .f = f, .len = len, .unhashed_end = rvf_unhashed_end(f, len)};
	vwalk(f, len, on_seg, on_gap, &c);
	settle_absent(&c);
	free(c.absent);
	if (c.prev)
		rvf_witness_link(r->head_alg, c.prev, c.prev_len, r->head);
	check_listed(r, f, len);
	sort_issues(r);
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
