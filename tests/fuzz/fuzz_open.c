/* fuzz_open.c — libFuzzer harness: rvf_open on arbitrary file bytes.
 * fuzz-seeds: rvf
 *
 * The input is written to a memfd and opened read-only through
 * /proc/self/fd/N. On success every read accessor is exercised: status,
 * identity, the segment directory, rvf_live_get on every live vector (all
 * components read, so a dangling vector pointer is caught by ASan), a query
 * with a fixed vector at several k, rvf_ebpf_get/rvf_kernel_get (every byte
 * of the returned spans read). A failed open must leave a message. The
 * integrity scan (rvf_check) runs on every input; a file it finds clean
 * must open. */
#include "rvf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint8_t sink;

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t x = 0;
	for (size_t i = 0; i < n; i++)
		x ^= b[i];
	sink ^= x;
}

static void exercise(rvf_store *s)
{
	rvf_status st;
	if (rvf_get_status(s, &st) != RVF_OK)
		abort();
	rvf_identity id;
	rvf_get_identity(s, &id);
	touch(&id, sizeof id);
	(void)rvf_open_warning(s);
	(void)rvf_metric_name(rvf_get_metric(s));

	size_t nseg = rvf_segment_count(s);
	for (size_t i = 0; i < nseg; i++) {
		rvf_segment_info si;
		if (rvf_segment_get(s, i, &si) != RVF_OK)
			abort();
		(void)rvf_segment_type_name(si.seg_type);
	}
	rvf_segment_info si;
	if (rvf_segment_get(s, nseg, &si) == RVF_OK)
		abort();

	uint32_t dim = rvf_dimension(s);
	uint64_t live = rvf_live_count(s);
	for (uint64_t i = 0; i < live; i++) {
		uint64_t vid;
		const float *v;
		if (rvf_live_get(s, i, &vid, &v) != RVF_OK)
			abort(); /* every index below the count must resolve */
		touch(v, (size_t)dim * sizeof(float));
	}
	uint64_t vid;
	const float *v;
	if (rvf_live_get(s, live, &vid, &v) == RVF_OK)
		abort();

	if (dim >= 1 && dim <= 65535) {
		float *q = malloc((size_t)dim * sizeof *q);
		if (q) {
			for (uint32_t i = 0; i < dim; i++)
				q[i] = (float)((int)(i % 7) - 3) * 0.5f;
			size_t ks[3] = {0, 1, 10};
			rvf_hit hits[10];
			for (int t = 0; t < 3; t++) {
				size_t n = 99;
				int rc = rvf_query(s, q, dim, ks[t], hits, &n);
				if (rc == RVF_OK && (n > ks[t] || n > live))
					abort();
				for (size_t i = 1; rc == RVF_OK && i < n; i++)
					if (hits[i].distance < hits[i - 1].distance)
						abort(); /* must be sorted */
			}
			size_t n;
			if (rvf_query(s, q, dim + 1, 1, hits, &n) != RVF_E_DIMENSION)
				abort();
			free(q);
		}
	}

	size_t ne = rvf_ebpf_count(s);
	for (size_t i = 0; i <= ne; i++) {
		rvf_ebpf e;
		if (rvf_ebpf_get(s, i, &e) == RVF_OK) {
			if (i == ne)
				abort();
			touch(e.program, e.program_size);
			if (e.btf)
				touch(e.btf, e.btf_size);
		}
	}
	rvf_kernel k;
	if (rvf_kernel_get(s, &k) == RVF_OK) {
		touch(k.image, k.image_size);
		touch(k.cmdline, k.cmdline_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz_open.rvf", 0);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0)
		abort();
	size_t off = 0;
	while (off < size) {
		ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}

	rvf_check_report cr;
	if (rvf_check(path, &cr) != RVF_OK || cr.clean != (cr.first_bad_offset == UINT64_MAX) ||
	    (!cr.clean && (cr.first_bad_offset > size || !cr.first_problem[0])))
		abort();
	rvf_store *s = NULL;
	int rc = rvf_open(path, RVF_OPEN_READONLY, &s);
	if (cr.clean && rc != RVF_OK)
		abort(); /* check said clean, open disagrees */
	if (rc != RVF_OK) {
		if (rc > 0 || s || !*rvf_last_error() || !*rvf_strerror(rc))
			abort(); /* failures need a code and a message */
		return 0;
	}
	exercise(s);
	rvf_close(s);
	return 0;
}
