/* programs.c — segments(), embedded kernel / eBPF programs, lineage
 * (fileId, parentId, lineageDepth, derive, branch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvfn.h"

/* The reference binding's segType names (plus our index_log); others as
 * unknown(0xNN). */
static void seg_type_name(uint8_t t, char *buf, size_t len)
{
	static const char *names[] = {"invalid", "vec",	    "index",   "overlay", "journal", "manifest",
				      "quant",	 "meta",    "hot",     "sketch",  "witness", "profile",
				      "crypto",	 "meta_idx", "kernel", "ebpf"};
	if (t < sizeof names / sizeof names[0])
		snprintf(buf, len, "%s", names[t]);
	else if (t == 0x20)
		snprintf(buf, len, "cow_map");
	else if (t == 0x22)
		snprintf(buf, len, "membership");
	else if (t == 0x40) /* ours: the incremental HNSW index log (docs/index.md) */
		snprintf(buf, len, "index_log");
	else
		snprintf(buf, len, "unknown(0x%02x)", t);
}

static bool put_num(napi_env env, napi_value o, const char *key, double d)
{
	napi_value v = rvfn_num(env, d);
	return v && napi_set_named_property(env, o, key, v) == napi_ok;
}

static bool put_str(napi_env env, napi_value o, const char *key, const char *s, size_t len)
{
	napi_value v;
	return napi_create_string_utf8(env, s, len, &v) == napi_ok &&
	       napi_set_named_property(env, o, key, v) == napi_ok;
}

static bool put_buf(napi_env env, napi_value o, const char *key, const void *p, size_t len)
{
	napi_value v;
	return napi_create_buffer_copy(env, len, len ? p : "", NULL, &v) == napi_ok &&
	       napi_set_named_property(env, o, key, v) == napi_ok;
}

napi_value rvfn_segments(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	napi_value arr = NULL;
	size_t n = rvf_segment_count(db->s);
	bool ok = napi_create_array_with_length(env, n, &arr) == napi_ok;
	for (size_t i = 0; ok && i < n; i++) {
		rvf_segment_info si;
		napi_value o;
		char name[32];
		if (rvf_segment_get(db->s, i, &si)) {
			ok = false;
			break;
		}
		seg_type_name(si.seg_type, name, sizeof name);
		ok = napi_create_object(env, &o) == napi_ok && put_num(env, o, "id", (double)si.seg_id) &&
		     put_num(env, o, "offset", (double)si.offset) &&
		     put_num(env, o, "payloadLength", (double)si.payload_length) &&
		     put_str(env, o, "segType", name, NAPI_AUTO_LENGTH) &&
		     napi_set_element(env, arr, (uint32_t)i, o) == napi_ok;
	}
	rvfn_unlock(db);
	return ok ? arr : rvfn_throw_msg(env, RVFN_GENERIC, "cannot list the segments");
}

/* ---- kernel -------------------------------------------------------------- */
/* embedKernel(arch, kernelType, flags, image, apiPort, cmdline?) -> segment id */
napi_value rvfn_embed_kernel(napi_env env, napi_callback_info info)
{
	size_t argc = 6;
	napi_value argv[6] = {NULL};
	uint32_t arch, type, flags, port;
	const uint8_t *img;
	size_t ilen;
	char *cmd = NULL;
	napi_value self;
	if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok)
		return NULL;
	if (!rvfn_get_u32(env, argv[0], NULL, &arch) || !rvfn_get_u32(env, argv[1], NULL, &type) ||
	    !rvfn_get_u32(env, argv[2], NULL, &flags) || !rvfn_get_bytes(env, argv[3], &img, &ilen) ||
	    !rvfn_get_u32(env, argv[4], NULL, &port) ||
	    (!rvfn_is_nullish(env, argv[5]) && !rvfn_get_string(env, argv[5], NULL, &cmd)))
		return NULL;
	rvfn_db *db = rvfn_unwrap(env, self);
	if (!db) {
		free(cmd);
		return NULL;
	}
	/* the reference stores the low byte / 16 bits of out-of-range values */
	rvf_kernel k = {.arch = (uint8_t)arch, .kernel_type = (uint8_t)type, .flags = flags,
			.api_port = (uint16_t)port, .image = img, .image_size = ilen,
			.cmdline = cmd, .cmdline_len = cmd ? strlen(cmd) : 0};
	uint64_t id = 0;
	int rc = 0;
	pthread_mutex_lock(&db->mu);
	bool closed = !db->s;
	if (!closed)
		rc = rvf_embed_kernel(db->s, &k, &id);
	pthread_mutex_unlock(&db->mu);
	free(cmd);
	if (closed)
		return rvfn_throw_msg(env, RVFN_GENERIC, "Store is closed");
	return rc ? rvfn_throw_rvf(env, rc) : rvfn_num(env, (double)id);
}

/* extractKernel() -> {header (128 bytes), image, cmdline} of the first
 * kernel segment, or null. */
napi_value rvfn_extract_kernel(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	napi_value o = NULL;
	const uint8_t *p;
	uint64_t len;
	int rc = rvf_kernel_count(db->s) ? rvf_kernel_payload(db->s, 0, &p, &len, NULL) : RVF_E_NOT_FOUND;
	rvf_kernel_view v;
	const char *why = NULL;
	if (!rc && rvf_kernel_decode(p, len, &v, &why))
		rc = RVF_E_CORRUPT;
	if (rc == RVF_E_NOT_FOUND) {
		rvfn_unlock(db);
		napi_get_null(env, &o);
		return o;
	}
	if (rc) {
		rvfn_unlock(db);
		if (why) {
			rvfn_err e;
			rvfn_err_set(&e, RVFN_GENERIC, "RVF error 0x0104: TruncatedSegment (kernel segment: %s)", why);
			return rvfn_throw(env, &e);
		}
		return rvfn_throw_rvf(env, rc);
	}
	bool ok = napi_create_object(env, &o) == napi_ok && put_buf(env, o, "header", p, 128) &&
		  put_buf(env, o, "image", v.k.image, v.k.image_size) &&
		  put_str(env, o, "cmdline", v.k.cmdline ? v.k.cmdline : "", v.k.cmdline_len);
	rvfn_unlock(db);
	return ok ? o : NULL;
}

/* ---- eBPF ------------------------------------------------------------------ */
/* embedEbpf(programType, attachType, maxDimension, bytecode, btf?) -> segment id */
napi_value rvfn_embed_ebpf(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value argv[5] = {NULL}, self;
	uint32_t ptype, atype, maxdim;
	const uint8_t *prog, *btf = NULL;
	size_t plen, blen = 0;
	if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok)
		return NULL;
	if (!rvfn_get_u32(env, argv[0], NULL, &ptype) || !rvfn_get_u32(env, argv[1], NULL, &atype) ||
	    !rvfn_get_u32(env, argv[2], NULL, &maxdim) || !rvfn_get_bytes(env, argv[3], &prog, &plen) ||
	    (!rvfn_is_nullish(env, argv[4]) && !rvfn_get_bytes(env, argv[4], &btf, &blen)))
		return NULL;
	rvfn_db *db = rvfn_unwrap(env, self);
	if (!db)
		return NULL;
	rvf_ebpf e = {.program_type = (uint8_t)ptype, .attach_type = (uint8_t)atype,
		      .max_dimension = (uint16_t)maxdim, .program = prog, .program_size = plen,
		      .btf = blen ? btf : NULL, .btf_size = blen};
	uint64_t id = 0;
	int rc = 0;
	pthread_mutex_lock(&db->mu);
	bool closed = !db->s;
	if (!closed)
		rc = rvf_embed_ebpf(db->s, &e, &id);
	pthread_mutex_unlock(&db->mu);
	if (closed)
		return rvfn_throw_msg(env, RVFN_GENERIC, "Store is closed");
	return rc ? rvfn_throw_rvf(env, rc) : rvfn_num(env, (double)id);
}

/* extractEbpf() -> {header (64 bytes), payload (program + BTF)} of the
 * first eBPF segment, or null. */
napi_value rvfn_extract_ebpf(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	napi_value o = NULL;
	const uint8_t *p;
	uint64_t len;
	rvf_ebpf e;
	int rc = rvf_ebpf_count(db->s) ? rvf_ebpf_payload(db->s, 0, &p, &len, NULL) : RVF_E_NOT_FOUND;
	if (!rc)
		rc = rvf_ebpf_get(db->s, 0, &e); /* validates the header's sizes */
	if (rc == RVF_E_NOT_FOUND) {
		rvfn_unlock(db);
		napi_get_null(env, &o);
		return o;
	}
	if (rc) {
		rvfn_unlock(db);
		return rvfn_throw_rvf(env, rc);
	}
	bool ok = napi_create_object(env, &o) == napi_ok && put_buf(env, o, "header", p, 64) &&
		  put_buf(env, o, "payload", p + 64, e.program_size + e.btf_size);
	rvfn_unlock(db);
	return ok ? o : NULL;
}

/* ---- lineage ------------------------------------------------------------- */
static napi_value hex_id(napi_env env, napi_callback_info info, bool parent)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	rvf_identity id;
	int rc = rvf_get_identity(db->s, &id);
	rvfn_unlock(db);
	if (rc)
		return rvfn_throw_rvf(env, rc);
	char hex[33];
	const uint8_t *b = parent ? id.parent_id : id.file_id;
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	napi_value v = NULL;
	napi_create_string_utf8(env, hex, 32, &v);
	return v;
}

napi_value rvfn_file_id(napi_env env, napi_callback_info info)
{
	return hex_id(env, info, false);
}

napi_value rvfn_parent_id(napi_env env, napi_callback_info info)
{
	return hex_id(env, info, true);
}

napi_value rvfn_lineage_depth(napi_env env, napi_callback_info info)
{
	rvfn_db *db = rvfn_lock(env, info, NULL, NULL, NULL);
	if (!db)
		return NULL;
	rvf_identity id;
	int rc = rvf_get_identity(db->s, &id);
	rvfn_unlock(db);
	return rc ? rvfn_throw_rvf(env, rc) : rvfn_num(env, id.lineage_depth);
}

/* derive(childPath, options?) / branch(childPath): the child has the
 * parent's dimension, metric and profile; options that contradict them are
 * refused (the reference creates a child of any dimension). */
static napi_value derive_as(napi_env env, napi_callback_info info, int branch)
{
	size_t argc = 2;
	napi_value argv[2] = {NULL, NULL}, self;
	char *path = NULL;
	if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok ||
	    !rvfn_get_string(env, argv[0], NULL, &path))
		return NULL;
	rvfn_db *db = rvfn_unwrap(env, self);
	rvf_create_opts o;
	uint32_t m = db ? db->m : 16, efc = db ? db->ef_construction : 200;
	bool has_opts = !branch && !rvfn_is_nullish(env, argv[1]);
	if (!db || (has_opts && !rvfn_parse_options(env, argv[1], &o, &m, &efc))) {
		free(path);
		return NULL;
	}
	rvf_store *child = NULL;
	rvfn_err e = {0};
	pthread_mutex_lock(&db->mu);
	if (!db->s) {
		rvfn_err_set(&e, RVFN_GENERIC, "Store is closed");
	} else if (has_opts && (o.dimension != rvf_dimension(db->s) || o.metric != rvf_get_metric(db->s))) {
		rvfn_err_set(&e, RVFN_GENERIC,
			     "RVF error 0x0602: LineageBroken (a derived store keeps its parent's dimension "
			     "%u and metric %s)",
			     rvf_dimension(db->s), rvf_metric_name(rvf_get_metric(db->s)));
	} else {
		int rc = rvf_derive(db->s, path, branch, &child);
		if (rc)
			rvfn_err_rvf(&e, rc);
	}
	pthread_mutex_unlock(&db->mu);
	free(path);
	if (e.code)
		return rvfn_throw(env, &e);
	return rvfn_wrap_store(env, child, m, efc);
}

napi_value rvfn_derive(napi_env env, napi_callback_info info)
{
	return derive_as(env, info, 0);
}

napi_value rvfn_branch(napi_env env, napi_callback_info info)
{
	return derive_as(env, info, 1);
}
