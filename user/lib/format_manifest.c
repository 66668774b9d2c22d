/* format_manifest.c — §6 MANIFEST_SEG payload codec with the reference
 * reader's lenient decoding rule (§6.2) and the §7 identity trailer. */
#include "format.h"

#include <stdlib.h>
#include <string.h>

#define MF_FIXED 22      /* epoch .. reserved */
#define MF_DIRENT 25     /* packed directory entry */
#define MF_IDENT 68      /* FileIdentity body */
#define MF_IDIF 0x46494449u /* "IDIF" */

static void dirent_decode(const uint8_t *p, rvf_dir_entry *e)
{
	e->seg_id = rd64(p);
	e->offset = rd64(p + 8);
	e->payload_length = rd64(p + 16);
	e->seg_type = p[24];
}

static void ident_decode(const uint8_t *p, rvf_manifest *m)
{
	memcpy(m->file_id, p, 16);
	memcpy(m->parent_id, p + 16, 16);
	memcpy(m->parent_hash, p + 32, 32);
	m->lineage_depth = rd32(p + 64);
	m->has_identity = 1;
}

int rvf_manifest_decode(const uint8_t *p, uint64_t len, rvf_manifest *m)
{
	uint64_t pos, nfit;
	uint32_t ndel = 0;

	memset(m, 0, sizeof(*m));
	if (len < MF_FIXED)
		return -1;
	m->epoch = rd32(p);
	m->dimension = rd16(p + 4);
	m->total_vectors = rd64(p + 6);
	m->seg_count = rd32(p + 14);
	m->profile_id = p[18];
	m->metric = p[19];
	/* The directory must fit; this also bounds the allocation below. */
	if (m->seg_count > (len - MF_FIXED) / MF_DIRENT) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	if (m->seg_count) {
		m->dir = calloc(m->seg_count, sizeof(*m->dir));
		if (!m->dir) {
			memset(m, 0, sizeof(*m));
			return -2;
		}
	}
	pos = MF_FIXED;
	for (uint32_t i = 0; i < m->seg_count; i++, pos += MF_DIRENT)
		dirent_decode(p + pos, &m->dir[i]);

	/* Deletion list: a short list is silently truncated, so clamp the
	 * declared count to what the payload holds before allocating. */
	if (len - pos >= 4) {
		ndel = rd32(p + pos);
		pos += 4;
		nfit = (len - pos) / 8;
		if (ndel > nfit)
			ndel = (uint32_t)nfit;
	}
	if (ndel) {
		m->deleted = malloc((size_t)ndel * sizeof(*m->deleted));
		if (!m->deleted) {
			rvf_manifest_free(m);
			return -2;
		}
		for (uint32_t i = 0; i < ndel; i++, pos += 8)
			m->deleted[i] = rd64(p + pos);
	}
	m->deleted_count = ndel;

	/* Identity only if marker + body fit and the marker matches; any
	 * trailing bytes after it are ignored. */
	if (len - pos >= 4 + MF_IDENT && rd32(p + pos) == MF_IDIF)
		ident_decode(p + pos + 4, m);
	return 0;
}

void rvf_manifest_free(rvf_manifest *m)
{
	if (!m)
		return;
	free(m->dir);
	free(m->deleted);
	m->dir = NULL;
	m->deleted = NULL;
	m->seg_count = 0;
	m->deleted_count = 0;
}

uint64_t rvf_manifest_encoded_size(const rvf_manifest *m)
{
	return MF_FIXED + (uint64_t)MF_DIRENT * m->seg_count + 4 + 8ull * m->deleted_count +
	       (m->has_identity ? 4 + MF_IDENT : 0);
}

void rvf_manifest_encode(const rvf_manifest *m, uint8_t *out)
{
	uint8_t *q = out;

	wr32(q, m->epoch);
	wr16(q + 4, m->dimension);
	wr64(q + 6, m->total_vectors);
	wr32(q + 14, m->seg_count);
	q[18] = m->profile_id;
	q[19] = m->metric;
	q[20] = 0;
	q[21] = 0;
	q += MF_FIXED;
	for (uint32_t i = 0; i < m->seg_count; i++, q += MF_DIRENT) {
		const rvf_dir_entry *e = &m->dir[i];

		wr64(q, e->seg_id);
		wr64(q + 8, e->offset);
		wr64(q + 16, e->payload_length);
		q[24] = e->seg_type;
	}
	wr32(q, m->deleted_count);
	q += 4;
	for (uint32_t i = 0; i < m->deleted_count; i++, q += 8)
		wr64(q, m->deleted[i]);
	if (!m->has_identity)
		return;
	wr32(q, MF_IDIF);
	memcpy(q + 4, m->file_id, 16);
	memcpy(q + 20, m->parent_id, 16);
	memcpy(q + 36, m->parent_hash, 32);
	wr32(q + 68, m->lineage_depth);
}
