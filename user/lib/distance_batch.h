/* distance_batch.h — the batch driver shared by distance_avx2.c and
 * distance_avx512.c, included once at the end of each (a template, not a
 * stand-alone header). The includer defines T (its target attribute) and
 * RVF_BATCH_FN (the function to define), and provides the static kernels
 * l2_rows4, dot_rows4 and dotvv_rows4 for its instruction set; textual
 * inclusion keeps every kernel call direct and inlinable, exactly as when
 * the driver was written out in each file. */
#if !defined(T) || !defined(RVF_BATCH_FN)
#error "distance_batch.h: define T and RVF_BATCH_FN before including it"
#endif

T void RVF_BATCH_FN(int metric, const float *q, const float *base, size_t n, uint32_t dim,
		    size_t stride, const float *row_sqnorm, float *out)
{
	float qq = metric == RVF_METRIC_COSINE ? rvf_sqnorm_exact(q, dim) : 0.0f;

	for (size_t i = 0; i < n; i += 4) {
		const float *r[4];
		float o[4], vv[4];
		size_t m = n - i < 4 ? n - i : 4;

		/* A short last block repeats its last row rather than branching. */
		for (size_t k = 0; k < 4; k++)
			r[k] = base + (i + (k < m ? k : m - 1)) * stride;
		switch (metric) {
		case RVF_METRIC_L2:
			l2_rows4(q, r, dim, o);
			break;
		case RVF_METRIC_IP:
			dot_rows4(q, r, dim, o);
			for (size_t k = 0; k < 4; k++)
				o[k] = -o[k];
			break;
		case RVF_METRIC_COSINE:
			if (row_sqnorm) {
				dot_rows4(q, r, dim, o);
				for (size_t k = 0; k < m; k++)
					vv[k] = row_sqnorm[i + k];
			} else {
				dotvv_rows4(q, r, dim, o, vv);
			}
			for (size_t k = 0; k < m; k++)
				o[k] = rvf_cos_finish(o[k], qq, vv[k]);
			break;
		default:
			for (size_t k = 0; k < 4; k++)
				o[k] = NAN;
		}
		for (size_t k = 0; k < m; k++)
			out[i + k] = o[k];
	}
}
