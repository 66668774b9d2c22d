/* store_check.c — `rvf check`: the full integrity scan, which tells
 * damage to the current state from damage in bytes the state does not use
 * (superseded segments, old manifests, junk) and from a torn tail; and the
 * commit analysis `rvf recover` (store_recover.c) shares with it.
 */
#include "errors.h"
#include "store.h"
#include "witness.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const uint8_t seg_magic[4] = {0x53, 0x46, 0x56, 0x52};

/* what a problem at an offset is damage to */
enum { P_STATE, P_DEAD, P_TAIL };

__attribute__((format(printf, 4, 5))) static void problem(rvf_check_report *r, int kind, uint64_t off,
							  const char *fmt, ...)
{
	r->problems++;
	r->clean = 0;
	if (kind == P_STATE)
		r->state_intact = 0;
	if (kind == P_DEAD && !r->dead_problems++)
		r->first_dead_offset = off;
	if (r->first_bad_offset != UINT64_MAX && off >= r->first_bad_offset)
		return;
	r->first_bad_offset = off;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->first_problem, sizeof r->first_problem, fmt, ap);
	va_end(ap);
}

static int all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A complete segment header at off (magic, payload inside the file). */
static int seg_at(const uint8_t *f, uint64_t len, uint64_t off, rvf_seg_hdr *h)
{
	if (off > len || len - off < RVF_SEG_HDR_SIZE)
		return 0;
	rvf_hdr_decode(f + off, h);
	return h->magic == RVF_SEG_MAGIC && h->payload_length <= len - off - RVF_SEG_HDR_SIZE;
}

/* A payload only our witness writer produces: decodes as a witness whose
 * action carries the BLAKE2b mark, with a coverage block. A header type
 * byte flipped on it would otherwise hide it from the chain unnoticed. */
static int our_witness(const uint8_t *p, uint64_t len)
{
	rvf_witness w;
	size_t ml = strlen(RVF_WITNESS_B2B_MARK);
	return !rvf_witness_decode(p, len, &w) && w.cov && w.action_len >= ml &&
	       !memcmp(w.action + w.action_len - ml, RVF_WITNESS_B2B_MARK, ml);
}

/* The current commit, to classify what the scan finds. */
typedef struct {
	const rvf_manifest *m; /* NULL: no commit opens */
	uint64_t moff, end;
} cur_state;

static int kind_at(const cur_state *c, uint64_t off)
{
	if (!c->m)
		return P_STATE;
	if (off >= c->end)
		return P_TAIL;
	if (off == c->moff)
		return P_STATE;
	for (uint32_t i = 0; i < c->m->seg_count; i++)
		if (c->m->dir[i].offset == off)
			return P_STATE;
	return P_DEAD;
}

/* Every segment in file order: header, hash, manifests decode and their
 * epochs never go back (the chain of commits); bytes that are no segment
 * (zero padding between segments is allowed: the library writer of §18.2
 * pads). */
static void scan_segments(rvf_check_report *r, const uint8_t *f, uint64_t len, uint64_t ue,
			  const cur_state *c)
{
	uint64_t off = 0;
	uint32_t last_epoch = 0;
	while (off < len) {
		rvf_seg_hdr h;
		if (seg_at(f, len, off, &h)) {
			r->segments++;
			const char *why = rvf_seg_damage(f, ue, off, &h);
			rvf_manifest m;
			if (!why)
				why = rvf_hdr_odd(&h);
			if (!why && h.seg_type != RVF_SEG_WITNESS &&
			    our_witness(f + off + RVF_SEG_HDR_SIZE, h.payload_length))
				why = "its payload is one of our witnesses but the header's type is not WITNESS "
				      "(header byte changed?)";
			if (why)
				problem(r, kind_at(c, off), off, "%s segment %llu at offset %llu: %s",
					rvf_segment_type_name(h.seg_type), (unsigned long long)h.seg_id,
					(unsigned long long)off, why);
			else if (h.seg_type == RVF_SEG_MANIFEST &&
				 rvf_manifest_decode(f + off + RVF_SEG_HDR_SIZE, h.payload_length, &m) == 0) {
				if (r->manifests++ && m.epoch < last_epoch)
					problem(r, kind_at(c, off), off, "manifest at offset %llu: epoch %u after epoch %u (the chain of "
						"commits goes back: an old manifest appended?)",
						(unsigned long long)off, m.epoch, last_epoch);
				last_epoch = m.epoch;
				rvf_manifest_free(&m);
			}
			off += RVF_SEG_HDR_SIZE + h.payload_length;
			continue;
		}
		const uint8_t *next = len - off > 1 ? memmem(f + off + 1, len - off - 1, seg_magic, 4) : NULL;
		uint64_t end = next ? (uint64_t)(next - f) : len;
		if (next && all_zero(f + off, end - off)) {
			off = end;
			continue;
		}
		problem(r, kind_at(c, off), off, "%llu bytes at offset %llu are not a complete segment (%s)",
			(unsigned long long)(end - off), (unsigned long long)off,
			next ? "damaged header or garbage"
			     : all_zero(f + off, end - off) ? "zero-filled tail: torn write"
							    : "torn write or garbage after the last segment");
		off = end;
	}
}

/* Checks the directory of the manifest at moff: 0 if every listed segment is
 * complete, of its type and intact; else the offset of the first bad one
 * (reported when r is not NULL). */
static uint64_t check_dir(rvf_check_report *r, const uint8_t *f, uint64_t len, uint64_t ue,
			  const rvf_manifest *m)
{
	uint64_t first = 0;
	for (uint32_t i = 0; i < m->seg_count; i++) {
		const rvf_dir_entry *e = &m->dir[i];
		rvf_seg_hdr h;
		const char *why = NULL;
		if (!seg_at(f, len, e->offset, &h) || h.seg_type != e->seg_type)
			why = "no complete segment of that type there";
		else if (h.seg_id != e->seg_id)
			why = "its header's segment id differs from the manifest's";
		else if (!(why = rvf_seg_damage(f, ue, e->offset, &h)))
			why = rvf_hdr_odd(&h);
		if (!why)
			continue;
		if (r)
			problem(r, P_STATE, e->offset, "%s segment %llu listed at offset %llu: %s",
				rvf_segment_type_name(e->seg_type), (unsigned long long)e->seg_id,
				(unsigned long long)e->offset, why);
		if (!first || e->offset < first)
			first = e->offset ? e->offset : 1;
	}
	return first;
}

/* End of the commit whose manifest ends at end: the witness segments the
 * reference writes after a compaction manifest belong to it. */
static uint64_t commit_end(const uint8_t *f, uint64_t len, uint64_t ue, uint64_t end)
{
	rvf_seg_hdr h;
	while (seg_at(f, len, end, &h) && h.seg_type == RVF_SEG_WITNESS && !rvf_seg_damage(f, ue, end, &h))
		end += RVF_SEG_HDR_SIZE + h.payload_length;
	return end;
}

/* The newest intact manifest below `below` (open's choice when below is
 * the file size); with intact_dir, also every segment it lists must be
 * intact (the last good commit). 0 and *moff, or -1 if none, -2 no memory. */
static int find_commit(const uint8_t *f, uint64_t len, uint64_t ue, int intact_dir, uint64_t *moff,
		       rvf_manifest *m)
{
	if (len < RVF_SEG_HDR_SIZE + 22)
		return -1;
	for (uint64_t i = len - RVF_SEG_HDR_SIZE + 1; i-- > 0;) {
		if (f[i] != 0x53 || f[i + 5] != RVF_SEG_MANIFEST || rd32(f + i) != RVF_SEG_MAGIC)
			continue;
		rvf_seg_hdr h;
		rvf_hdr_decode(f + i, &h);
		if (h.payload_length > RVF_MANIFEST_MAX_PAYLOAD || h.payload_length > len - i - RVF_SEG_HDR_SIZE)
			continue;
		int rc = rvf_manifest_decode(f + i + RVF_SEG_HDR_SIZE, h.payload_length, m);
		if (rc == -2)
			return -2;
		if (rc)
			continue;
		if (!rvf_seg_damage(f, ue, i, &h) && (!intact_dir || !check_dir(NULL, f, len, ue, m))) {
			*moff = i;
			return 0;
		}
		rvf_manifest_free(m);
	}
	return -1;
}

/* The current manifest's SEALED flag (outside its content hash) against
 * its commit's witness, which records whether the commit was a freeze. */
static void check_sealed(rvf_check_report *r, const uint8_t *f, uint64_t len, uint64_t ue, uint64_t moff)
{
	int sealed = !!(rd16(f + moff + 6) & RVF_SEG_FLAG_SEALED);
	int froze = store_commit_froze(f, len, ue, moff);
	if (froze >= 0 && froze != sealed)
		problem(r, P_STATE, moff,
			"manifest at offset %llu is %s, but its commit's witness records %s (header flags "
			"changed?)",
			(unsigned long long)moff, sealed ? "SEALED (frozen)" : "not SEALED",
			froze ? "a freeze" : "another change");
}

int store_find_commits(const uint8_t *f, uint64_t len, uint64_t ue, store_commits *c)
{
	memset(c, 0, sizeof *c);
	rvf_manifest m;
	int rc = find_commit(f, len, ue, 0, &c->cur_off, &m);
	if (rc == -2)
		return RVF_E_NOMEM;
	if (rc)
		return 0;
	c->has_cur = 1;
	c->cur_epoch = m.epoch;
	c->cur_end = commit_end(f, len, ue, c->cur_off + RVF_SEG_HDR_SIZE + rd64(f + c->cur_off + 0x10));
	c->cur_bad = check_dir(NULL, f, len, ue, &m);
	rvf_manifest_free(&m);
	if (!c->cur_bad) {
		c->has_good = 1;
		c->good_off = c->cur_off;
		c->good_end = c->cur_end;
		c->good_epoch = c->cur_epoch;
		return 0;
	}
	rc = find_commit(f, len, ue, 1, &c->good_off, &m);
	if (rc == -2)
		return RVF_E_NOMEM;
	if (rc)
		return 0;
	c->has_good = 1;
	c->good_epoch = m.epoch;
	c->good_end = commit_end(f, len, ue, c->good_off + RVF_SEG_HDR_SIZE + rd64(f + c->good_off + 0x10));
	rvf_manifest_free(&m);
	return 0;
}

uint64_t store_segments_in(const uint8_t *f, uint64_t len, uint64_t from)
{
	uint64_t n = 0;
	for (uint64_t off = from; off < len;) {
		rvf_seg_hdr h;
		if (seg_at(f, len, off, &h)) {
			n++;
			off += RVF_SEG_HDR_SIZE + h.payload_length;
			continue;
		}
		const uint8_t *next = len - off > 1 ? memmem(f + off + 1, len - off - 1, seg_magic, 4) : NULL;
		off = next ? (uint64_t)(next - f) : len;
	}
	return n;
}

int rvf_check(const char *path, rvf_check_report *r)
{
	rvf_clear_error();
	memset(r, 0, sizeof *r);
	r->clean = 1;
	r->first_bad_offset = UINT64_MAX;
	r->first_dead_offset = UINT64_MAX;
	vfile vf;
	int err = vfile_open(path, &vf);
	if (err)
		return err;
	const uint8_t *f = vf.data;
	uint64_t len = vf.len, ue = rvf_unhashed_end(f, len);
	r->file_size = len;

	/* the current commit first: what the scan finds is damage to it, to
	 * bytes it does not use, or to the tail after it */
	rvf_manifest m;
	cur_state c = {0};
	int rc = find_commit(f, len, ue, 0, &c.moff, &m);
	if (rc == -2) {
		vfile_close(&vf);
		return rvf_fail(RVF_E_NOMEM, "out of memory");
	}
	if (!rc) {
		c.m = &m;
		c.end = commit_end(f, len, ue, c.moff + RVF_SEG_HDR_SIZE + rd64(f + c.moff + 0x10));
		r->has_commit = 1;
		r->state_intact = 1;
		r->epoch = m.epoch;
		r->manifest_offset = c.moff;
		r->good_end = c.end;
		r->tail_bytes = len - c.end;
	}
	scan_segments(r, f, len, ue, &c);
	if (rc) {
		problem(r, P_STATE, len, "no intact manifest in the file (not an RVF store, or no commit survived)");
	} else {
		check_dir(r, f, len, ue, &m);
		check_sealed(r, f, len, ue, c.moff);
		if (r->good_end < len)
			problem(r, P_TAIL, r->good_end,
				"%llu bytes at offset %llu after the last commit (manifest at offset %llu, "
				"epoch %u) are not part of it (torn write, unfinished commit or damaged "
				"newer manifest)",
				(unsigned long long)(len - r->good_end), (unsigned long long)r->good_end,
				(unsigned long long)c.moff, m.epoch);
		rvf_manifest_free(&m);
	}
	vfile_close(&vf);
	/* what the scan cannot see: the state must load (COW parent, metadata) */
	if (r->has_commit) {
		rvf_store *s;
		if ((err = rvf_open(path, RVF_OPEN_READONLY, &s)))
			problem(r, P_STATE, r->manifest_offset, "the state does not load: %s", rvf_last_error());
		rvf_close(s);
		rvf_clear_error();
	}
	return 0;
}
