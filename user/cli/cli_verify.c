/* cli_verify.c — `rvf verify-witness`, `keygen`, `sign`, `verify`,
 * `verify-attestation` (docs/SECURITY.md). Unlike the reference, every
 * verifier exits 1 when the check fails. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "rvf_frontend.h"
#include "cli.h"

enum { OPT_JSON = 256, OPT_FORCE, OPT_KEY, OPT_PUBKEY, OPT_ALLOW_APPEND, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_STRICT };

static const char *type_name(uint8_t t) { return t ? rvf_segment_type_name(t) : "(damage)"; }

/* ---- verify-witness ---------------------------------------------------- */

static json_t *issue_json(const rvf_verify_issue *i)
{
	json_t *o = json_object();
	char off[24];
	snprintf(off, sizeof off, "0x%llx", (unsigned long long)i->offset);
	json_object_set_new(o, "segment_id", cli_json_u64(i->seg_id));
	json_object_set_new(o, "offset", cli_json_u64(i->offset));
	json_object_set_new(o, "offset_hex", json_string(off));
	json_object_set_new(o, "seg_type", json_string(type_name(i->seg_type)));
	json_object_set_new(o, "reason", json_string(i->reason));
	return o;
}

int cmd_verify_witness(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path;
	int json = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (opt == OPT_JSON)
			json = 1;
		else
			return cli_bad_option("verify-witness", argv, opt);
	}
	if ((rc = cli_one_path("verify-witness", argc, argv, &path)))
		return rc;
	rvf_witness_report r;
	if ((rc = rvf_verify_witness(path, &r)))
		return cli_store_fail(rc);
	const char *status = !r.valid ? "invalid" : r.entries ? "valid" : "no_witnesses";
	char head[65];
	rvf_hex(r.head, 32, head);
	if (json) {
		json_t *o = json_object(), *iss = json_array(), *links = json_object();
		json_object_set_new(o, "status", json_string(status));
		json_object_set_new(o, "valid", json_boolean(r.valid));
		json_object_set_new(o, "chain_valid", json_boolean(r.chain_valid));
		json_object_set_new(o, "entries", cli_json_u64(r.entries));
		json_object_set_new(o, "restarts", cli_json_u64(r.restarts));
		json_object_set_new(links, "fold32", cli_json_u64(r.links_fold32));
		json_object_set_new(links, "blake2b", cli_json_u64(r.links_blake2b));
		json_object_set_new(o, "links", links);
		json_object_set_new(o, "blake2b_witnesses", cli_json_u64(r.witnesses_blake2b));
		json_t *cov = json_object();
		json_object_set_new(cov, "witnesses", cli_json_u64(r.witnesses_covering));
		json_object_set_new(cov, "segments", cli_json_u64(r.covered));
		json_object_set_new(cov, "changed", cli_json_u64(r.covered_bad));
		json_object_set_new(cov, "compacted", cli_json_u64(r.covered_compacted));
		json_object_set_new(o, "coverage", cov);
		json_object_set_new(o, "segments", cli_json_u64(r.segments));
		json_object_set_new(o, "content_hash_mismatches", cli_json_u64(r.hash_bad));
		json_object_set_new(o, "content_hash_unset", cli_json_u64(r.hash_unset));
		json_object_set_new(o, "listed_segments", cli_json_u64(r.listed));
		json_object_set_new(o, "listed_bad", cli_json_u64(r.listed_bad));
		json_object_set_new(o, "listed_hashes_ok", json_boolean(r.has_manifest && !r.listed_bad));
		json_object_set_new(o, "damaged_bytes", cli_json_u64(r.damaged_bytes));
		json_object_set_new(o, "chain_head", r.entries ? json_string(head) : json_null());
		json_object_set_new(o, "chain_head_alg",
				    json_string(r.head_alg == RVF_WALG_BLAKE2B ? "blake2b" : "fold32"));
		json_object_set_new(o, "first_timestamp_ns", cli_json_u64(r.first_ts));
		json_object_set_new(o, "last_timestamp_ns", cli_json_u64(r.last_ts));
		json_object_set_new(o, "first_bad", r.nissues ? issue_json(&r.issues[0]) : json_null());
		for (size_t i = 0; i < r.nissues; i++)
			json_array_append_new(iss, issue_json(&r.issues[i]));
		json_object_set_new(o, "issues", iss);
		json_object_set_new(o, "issues_total", cli_json_u64(r.issues_total));
		if (cli_json_print(o))
			return CLI_FAIL;
		return r.valid ? CLI_OK : CLI_FAIL;
	}
	printf("Witness chain verification:\n");
	cli_kv("Witnesses", "%llu", (unsigned long long)r.entries);
	cli_kv("Chain restarts", "%llu", (unsigned long long)r.restarts);
	cli_kv("Links fold32", "%llu", (unsigned long long)r.links_fold32);
	cli_kv("Links blake2b", "%llu", (unsigned long long)r.links_blake2b);
	cli_kv("Chain", "%s", r.chain_valid ? "intact" : "BROKEN");
	cli_kv("Covered payloads", "%llu in %llu witnesses (changed: %llu, gone in a compaction: %llu)",
	       (unsigned long long)r.covered, (unsigned long long)r.witnesses_covering,
	       (unsigned long long)r.covered_bad, (unsigned long long)r.covered_compacted);
	if (r.entries)
		cli_kv("Chain head", "%s (%s)", head, r.head_alg == RVF_WALG_BLAKE2B ? "blake2b" : "fold32");
	cli_kv("Segments", "%llu (content hash mismatches: %llu, unset: %llu)",
	       (unsigned long long)r.segments, (unsigned long long)r.hash_bad,
	       (unsigned long long)r.hash_unset);
	if (r.has_manifest)
		cli_kv("Listed segments", "%llu, %s", (unsigned long long)r.listed,
		       r.listed_bad ? "SOME DO NOT MATCH" : "all present with matching content hash");
	if (r.damaged_bytes)
		cli_kv("Damaged bytes", "%llu", (unsigned long long)r.damaged_bytes);
	for (size_t i = 0; i < r.nissues; i++)
		printf("  %s segment id %llu (%s) at offset %llu (0x%llx): %s\n",
		       i ? "    also:" : "FIRST BAD:", (unsigned long long)r.issues[i].seg_id,
		       type_name(r.issues[i].seg_type), (unsigned long long)r.issues[i].offset,
		       (unsigned long long)r.issues[i].offset, r.issues[i].reason);
	if (r.issues_total > r.nissues)
		printf("  ... %llu more issues\n", (unsigned long long)(r.issues_total - r.nissues));
	if (r.valid)
		printf("%s\n", r.entries ? "Witness chain VALID." : "No witness segments; content hashes VALID.");
	else
		printf("Verification FAILED.\n");
	return r.valid ? CLI_OK : CLI_FAIL;
}

/* ---- keygen ------------------------------------------------------------ */

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int json = 0, force = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case OPT_FORCE:
			force = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("keygen", argv, opt);
		}
	}
	if (optind < argc)
		return cli_usage("keygen", "unexpected argument '%s'", argv[optind]);
	if (!out)
		return cli_usage("keygen", "the following required arguments were not provided: --output <KEY>");
	uint8_t seed[32], pk[32];
	rvf_keygen(seed, pk);
	rc = rvf_key_write(out, seed, force);
	memset(seed, 0, sizeof seed);
	if (rc)
		return cli_store_fail(rc);
	char hx[65];
	rvf_hex(pk, 32, hx);
	if (json) {
		json_t *o = json_object();
		char pub[4096];
		snprintf(pub, sizeof pub, "%s.pub", out);
		json_object_set_new(o, "algorithm", json_string("ed25519"));
		json_object_set_new(o, "secret_key_file", cli_json_path(out));
		json_object_set_new(o, "public_key_file", cli_json_path(pub));
		json_object_set_new(o, "public_key", json_string(hx));
		return cli_json_print(o);
	}
	printf("Ed25519 key pair written:\n");
	cli_kv("Secret key", "%s (mode 0600)", out);
	cli_kv("Public key", "%s.pub", out);
	cli_kv("Public key hex", "%s", hx);
	return CLI_OK;
}

/* ---- sign -------------------------------------------------------------- */

int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, OPT_KEY },
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path, *key = NULL;
	unsigned flags = 0;
	int json = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_KEY:
			key = optarg;
			break;
		case OPT_WAIT:
			flags |= RVF_OPEN_WAIT;
			break;
		case OPT_WAIT_TIMEOUT:
			if ((rc = cli_wait_timeout_option("sign", optarg, &flags)))
				return rc;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("sign", argv, opt);
		}
	}
	if ((rc = cli_one_path("sign", argc, argv, &path)))
		return rc;
	if (!key)
		return cli_usage("sign", "the following required arguments were not provided: --key <KEY>");
	uint8_t seed[32];
	if ((rc = rvf_key_read_secret(key, seed)))
		return cli_store_fail(rc);
	rvf_store *s = NULL;
	rvf_sign_result res;
	if ((rc = cli_open_store(path, flags, &s))) {
		memset(seed, 0, sizeof seed);
		return rc;
	}
	rc = rvf_sign(s, seed, &res);
	memset(seed, 0, sizeof seed);
	rvf_close(s);
	if (rc)
		return cli_store_fail(rc);
	char hx[65];
	rvf_hex(res.pubkey, 32, hx);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "status", json_string("signed"));
		json_object_set_new(o, "crypto_segment_id", cli_json_u64(res.crypto_seg_id));
		json_object_set_new(o, "crypto_offset", cli_json_u64(res.crypto_offset));
		json_object_set_new(o, "manifest_offset", cli_json_u64(res.manifest_offset));
		json_object_set_new(o, "manifest_segment_id", cli_json_u64(res.manifest_seg_id));
		json_object_set_new(o, "covered_bytes", cli_json_u64(res.covered_len));
		json_object_set_new(o, "epoch", json_integer(res.epoch));
		json_object_set_new(o, "public_key", json_string(hx));
		return cli_json_print(o);
	}
	printf("Signed:\n");
	cli_kv("CRYPTO_SEG", "id %llu at offset %llu", (unsigned long long)res.crypto_seg_id,
	       (unsigned long long)res.crypto_offset);
	cli_kv("Signed manifest", "id %llu at offset %llu", (unsigned long long)res.manifest_seg_id,
	       (unsigned long long)res.manifest_offset);
	cli_kv("Covered bytes", "%llu", (unsigned long long)res.covered_len);
	cli_kv("Epoch", "%u", res.epoch);
	cli_kv("Public key", "%s", hx);
	return CLI_OK;
}

/* ---- verify ------------------------------------------------------------ */

static const char *sig_status_name(int s)
{
	static const char *const n[] = {"valid", "unsigned", "malformed", "wrong_key",
					"bad_signature", "prefix_changed", "state_changed",
					"signed_records_changed"};
	return s >= 0 && s <= RVF_SIG_SIGNED_CHANGED ? n[s] : "unknown";
}

static json_t *id_list_json(const rvf_id_list *l)
{
	json_t *o = json_object(), *a = json_array();
	for (uint64_t i = 0; i < l->n && i < RVF_SIG_LIST; i++)
		json_array_append_new(a, cli_json_u64(l->ids[i]));
	json_object_set_new(o, "count", cli_json_u64(l->n));
	json_object_set_new(o, "ids", a);
	return o;
}

static void id_list_print(const char *what, const rvf_id_list *l)
{
	if (!l->n)
		return;
	char buf[400];
	size_t o = 0;
	for (uint64_t i = 0; i < l->n && i < RVF_SIG_LIST && o < sizeof buf - 24; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%llu", i ? " " : "",
				      (unsigned long long)l->ids[i]);
	cli_kv(what, "%llu: %s%s", (unsigned long long)l->n, buf, l->n > RVF_SIG_LIST ? " ..." : "");
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, OPT_PUBKEY },
		{ "allow-append", no_argument, NULL, OPT_ALLOW_APPEND },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path, *pub = NULL;
	int json = 0, allow = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_PUBKEY:
			pub = optarg;
			break;
		case OPT_ALLOW_APPEND:
			allow = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("verify", argv, opt);
		}
	}
	if ((rc = cli_one_path("verify", argc, argv, &path)))
		return rc;
	if (!pub)
		return cli_usage("verify", "the following required arguments were not provided: --pubkey <KEY>");
	uint8_t pk[32];
	if ((rc = rvf_key_read_public(pub, pk)))
		return cli_store_fail(rc);
	rvf_sig_report r;
	if ((rc = rvf_verify_signature(path, pk, allow, &r)))
		return cli_store_fail(rc);
	char hx[65];
	rvf_hex(r.pubkey, 32, hx);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "status", json_string(sig_status_name(r.status)));
		json_object_set_new(o, "valid", json_boolean(r.valid));
		json_object_set_new(o, "reason", json_string(r.reason));
		json_object_set_new(o, "crypto_segments", cli_json_u64(r.crypto_segments));
		json_object_set_new(o, "footer_signed_segments", cli_json_u64(r.footer_signed_segments));
		if (r.status != RVF_SIG_UNSIGNED) {
			json_object_set_new(o, "crypto_segment_id", cli_json_u64(r.crypto_seg_id));
			json_object_set_new(o, "crypto_offset", cli_json_u64(r.crypto_offset));
			json_object_set_new(o, "manifest_offset", cli_json_u64(r.manifest_offset));
			json_object_set_new(o, "manifest_segment_id", cli_json_u64(r.manifest_seg_id));
			json_object_set_new(o, "covered_bytes", cli_json_u64(r.covered_len));
			json_object_set_new(o, "signed_at_ns", cli_json_u64(r.signed_at_ns));
			json_object_set_new(o, "public_key", json_string(hx));
			json_object_set_new(o, "signature_ok", json_boolean(r.signature_ok));
			json_object_set_new(o, "prefix_ok", json_boolean(r.prefix_ok));
			json_object_set_new(o, "state_current", json_boolean(r.state_current));
			json_object_set_new(o, "bytes_after_signature", cli_json_u64(r.bytes_after));
			json_t *ch = json_object();
			json_object_set_new(ch, "header_changed", json_boolean(r.header_changed));
			json_object_set_new(ch, "segments_appended", id_list_json(&r.seg_appended));
			json_object_set_new(ch, "segments_removed", id_list_json(&r.seg_removed));
			json_object_set_new(ch, "segments_superseded", id_list_json(&r.seg_superseded));
			json_object_set_new(ch, "vectors_appended", id_list_json(&r.vec_appended));
			json_object_set_new(ch, "vectors_deleted", id_list_json(&r.vec_deleted));
			json_object_set_new(ch, "vectors_modified", id_list_json(&r.vec_modified));
			json_object_set_new(o, "changes", ch);
		}
		if (cli_json_print(o))
			return CLI_FAIL;
		return r.valid ? CLI_OK : CLI_FAIL;
	}
	printf("Signature verification:\n");
	cli_kv("Status", "%s", sig_status_name(r.status));
	if (r.status != RVF_SIG_UNSIGNED) {
		cli_kv("CRYPTO_SEG", "id %llu at offset %llu", (unsigned long long)r.crypto_seg_id,
		       (unsigned long long)r.crypto_offset);
		cli_kv("Signed manifest", "id %llu at offset %llu", (unsigned long long)r.manifest_seg_id,
		       (unsigned long long)r.manifest_offset);
		cli_kv("Covered bytes", "%llu", (unsigned long long)r.covered_len);
		cli_kv("Signer key", "%s", hx);
		id_list_print("Deleted (signed)", &r.vec_deleted);
		id_list_print("Modified (signed)", &r.vec_modified);
		id_list_print("Removed segments", &r.seg_removed);
		id_list_print("Appended vectors", &r.vec_appended);
		id_list_print("Appended segments", &r.seg_appended);
		id_list_print("Merged segments", &r.seg_superseded);
	}
	if (r.footer_signed_segments)
		cli_kv("Footer signatures", "%llu segment(s) carry a §18.5 footer (not verified: SHAKE-256)",
		       (unsigned long long)r.footer_signed_segments);
	cli_kv("Detail", "%s", r.reason);
	printf("%s\n", r.valid ? "Signature verification PASSED." : "Signature verification FAILED.");
	return r.valid ? CLI_OK : CLI_FAIL;
}

/* ---- verify-attestation ------------------------------------------------ */

static json_t *kernel_json(const rvf_kernel_attest *k)
{
	json_t *o = json_object();
	char h[65];
	json_object_set_new(o, "segment_id", cli_json_u64(k->seg_id));
	json_object_set_new(o, "offset", cli_json_u64(k->offset));
	json_object_set_new(o, "status", json_string(rvf_att_verdict_name(k->verdict)));
	json_object_set_new(o, "note", json_string(k->note));
	json_object_set_new(o, "magic_valid", json_boolean(k->magic_ok));
	json_object_set_new(o, "content_hash_valid", json_boolean(k->content_hash_ok));
	json_object_set_new(o, "layout_valid", json_boolean(k->layout_ok));
	json_object_set_new(o, "arch", json_integer(k->arch));
	json_object_set_new(o, "kernel_type", json_integer(k->kernel_type));
	json_object_set_new(o, "kernel_flags", json_integer(k->flags));
	json_object_set_new(o, "api_port", json_integer(k->api_port));
	json_object_set_new(o, "image_size", cli_json_u64(k->image_size));
	json_object_set_new(o, "cmdline_offset", cli_json_u64(k->cmdline_offset));
	json_object_set_new(o, "cmdline_length", json_integer(k->cmdline_len));
	rvf_hex(k->stored_hash, 32, h);
	json_object_set_new(o, "stored_image_hash", json_string(h));
	rvf_hex(k->computed_hash, 32, h);
	json_object_set_new(o, "computed_image_hash", json_string(h));
	json_object_set_new(o, "image_hash_valid", json_boolean(k->image_hash_ok));
	json_object_set_new(o, "has_kernel_binding", json_boolean(k->has_binding));
	json_object_set_new(o, "binding_status", json_string(rvf_bind_status_name(k->binding_status)));
	if (k->has_binding) {
		json_object_set_new(o, "binding_version", json_integer(k->binding_version));
		json_object_set_new(o, "min_runtime_version", json_integer(k->min_runtime_version));
		json_object_set_new(o, "allowed_segment_mask", cli_json_u64(k->allowed_segment_mask));
		json_object_set_new(o, "binding_rule", json_string(k->binding_ours ? "rvf-c blake2b" : "unknown (reference)"));
		rvf_hex(k->manifest_root_hash, 32, h);
		json_object_set_new(o, "manifest_root_hash", json_string(h));
		rvf_hex(k->policy_hash, 32, h);
		json_object_set_new(o, "policy_hash", json_string(h));
		if (k->binding_ours)
			json_object_set_new(o, "bound_manifest_offset", cli_json_u64(k->bound_manifest_offset));
	}
	json_object_set_new(o, "is_initramfs", json_boolean(k->is_initramfs));
	json_object_set_new(o, "initramfs_offset", k->initrd_offset ? cli_json_u64(k->initrd_offset) : json_null());
	rvf_hex(k->payload_digest, 32, h);
	json_object_set_new(o, "payload_blake2b", json_string(h));
	return o;
}

static const char *yes_no(int v) { return v < 0 ? "not checked" : v ? "MATCH" : "MISMATCH"; }

int cmd_verify_attestation(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	const char *path;
	int json = 0, strict = 0, opt, rc;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_STRICT:
			strict = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("verify-attestation", argv, opt);
		}
	}
	if ((rc = cli_one_path("verify-attestation", argc, argv, &path)))
		return rc;
	rvf_attest_report r;
	if ((rc = rvf_verify_attestation(path, &r)))
		return cli_store_fail(rc);
	int ok = r.verdict == RVF_ATT_VALID || (r.verdict == RVF_ATT_PARTIAL && !strict);
	if (json) {
		json_t *o = json_object(), *ks = json_array();
		json_object_set_new(o, "status", json_string(rvf_att_verdict_name(r.verdict)));
		json_object_set_new(o, "valid", json_boolean(ok));
		json_object_set_new(o, "kernels", cli_json_u64(r.kernels_total));
		for (size_t i = 0; i < r.nkernels; i++)
			json_array_append_new(ks, kernel_json(&r.k[i]));
		json_object_set_new(o, "kernel_segments", ks);
		if (r.verdict == RVF_ATT_NO_KERNEL)
			json_object_set_new(o, "message", json_string("No KERNEL_SEG found in file"));
		if (cli_json_print(o))
			return CLI_FAIL;
		return ok ? CLI_OK : CLI_FAIL;
	}
	if (r.verdict == RVF_ATT_NO_KERNEL) {
		printf("No KERNEL_SEG found in file.\n");
		return CLI_FAIL;
	}
	printf("Attestation verification:\n");
	for (size_t i = 0; i < r.nkernels; i++) {
		const rvf_kernel_attest *k = &r.k[i];
		char h[65];
		printf("KERNEL_SEG id %llu at offset %llu:\n", (unsigned long long)k->seg_id,
		       (unsigned long long)k->offset);
		cli_kv("Magic valid", "%s", k->magic_ok ? "yes" : "NO");
		cli_kv("Content hash", "%s", yes_no(k->content_hash_ok));
		if (k->layout_ok) {
			cli_kv("Image size", "%llu bytes", (unsigned long long)k->image_size);
			cli_kv("Layout", "cmdline_offset %llu (%s)", (unsigned long long)k->cmdline_offset,
			       k->has_binding ? "with KernelBinding" : "legacy");
			rvf_hex(k->stored_hash, 32, h);
			cli_kv("Stored image hash", "%s", h);
			rvf_hex(k->computed_hash, 32, h);
			cli_kv("Computed (fold32)", "%s", h);
			cli_kv("Image hash", "%s", yes_no(k->image_hash_ok));
		}
		if (k->has_binding) {
			cli_kv("Binding version", "%u (min runtime %u)", k->binding_version, k->min_runtime_version);
			rvf_hex(k->manifest_root_hash, 32, h);
			cli_kv("Manifest hash", "%s", h);
			rvf_hex(k->policy_hash, 32, h);
			cli_kv("Policy hash", "%s", h);
			if (k->binding_ours) {
				cli_kv("Image BLAKE2b", "%s", yes_no(k->image_b2b_ok));
				cli_kv("Policy hash check", "%s", yes_no(k->policy_ok));
				cli_kv("Manifest check", "%s", k->binding_status == RVF_BIND_STALE ? "bound manifest gone"
											  : yes_no(k->manifest_ok));
			} else {
				cli_kv("Binding hashes", "not verifiable (reference algorithm unknown)");
			}
		}
		cli_kv("Result", "%s: %s", rvf_att_verdict_name(k->verdict), k->note);
	}
	if (r.kernels_total > r.nkernels)
		printf("  (%llu more KERNEL_SEGs not checked)\n", (unsigned long long)(r.kernels_total - r.nkernels));
	if (r.verdict == RVF_ATT_VALID)
		printf("Attestation verification PASSED.\n");
	else if (r.verdict == RVF_ATT_PARTIAL)
		printf("Attestation verification PARTIAL: image verified, binding not verifiable%s.\n",
		       strict ? " (--strict: FAILED)" : "");
	else
		printf("Attestation verification FAILED.\n");
	return ok ? CLI_OK : CLI_FAIL;
}
