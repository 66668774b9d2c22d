/* sq8.c — int8 / binary code kernels (see sq8.h): scalar, AVX2 and
 * AVX-512 VNNI, picked once at run time like distance.c. */
#include "sq8.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define SQ8_X86 1
#include <immintrin.h>
#endif

/* ---- scalar ------------------------------------------------------------ */

static void dot_scalar(const uint8_t *codes, size_t n, size_t cstride, const int8_t *s, int32_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *u = codes + i * cstride;
		int32_t acc = 0;
		for (size_t d = 0; d < cstride; d++)
			acc += (int32_t)u[d] * s[d];
		out[i] = acc;
	}
}

#ifdef SQ8_X86
/* ---- AVX2: u8 / s8 widened to 16 bits, vpmaddwd pairs into int32 ------- */
__attribute__((target("avx2"))) static void dot_avx2(const uint8_t *codes, size_t n, size_t cstride,
						      const int8_t *s, int32_t *out)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *u = codes + i * cstride;
		__m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
		for (size_t d = 0; d < cstride; d += 32) {
			__m256i u0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(u + d)));
			__m256i u1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(u + d + 16)));
			__m256i s0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(s + d)));
			__m256i s1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(s + d + 16)));
			acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(u0, s0));
			acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(u1, s1));
		}
		__m256i a = _mm256_add_epi32(acc0, acc1);
		__m128i h = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
		h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
		h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
		out[i] = _mm_cvtsi128_si32(h);
	}
}

/* ---- AVX-512 VNNI: vpdpbusd (u8 x s8, 4 products per int32 lane) -------- */
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
VNNI_TARGET static void dot_vnni(const uint8_t *codes, size_t n, size_t cstride, const int8_t *s,
				 int32_t *out)
{
	size_t i = 0;
	if (cstride == 128) { /* the common case: two registers of query, 4 rows at a time */
		__m512i q0 = _mm512_loadu_si512(s), q1 = _mm512_loadu_si512(s + 64);
		for (; i + 4 <= n; i += 4) {
			const uint8_t *u = codes + i * 128;
			__m512i a0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(u), q0);
			__m512i a1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(u + 128), q0);
			__m512i a2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(u + 256), q0);
			__m512i a3 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(u + 384), q0);
			a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(u + 64), q1);
			a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(u + 192), q1);
			a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512(u + 320), q1);
			a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512(u + 448), q1);
			out[i] = _mm512_reduce_add_epi32(a0);
			out[i + 1] = _mm512_reduce_add_epi32(a1);
			out[i + 2] = _mm512_reduce_add_epi32(a2);
			out[i + 3] = _mm512_reduce_add_epi32(a3);
		}
	}
	for (; i < n; i++) {
		const uint8_t *u = codes + i * cstride;
		__m512i acc = _mm512_setzero_si512();
		for (size_t d = 0; d < cstride; d += 64)
			acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(u + d), _mm512_loadu_si512(s + d));
		out[i] = _mm512_reduce_add_epi32(acc);
	}
}

__attribute__((target("popcnt"))) static void ham_popcnt(const uint64_t *bins, size_t n, uint32_t words,
							 const uint64_t *qb, uint32_t *out)
{
	if (words == 2) {
		uint64_t a = qb[0], b = qb[1];
		for (size_t i = 0; i < n; i++)
			out[i] = (uint32_t)(__builtin_popcountll(bins[2 * i] ^ a) +
					    __builtin_popcountll(bins[2 * i + 1] ^ b));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t h = 0;
		for (uint32_t w = 0; w < words; w++)
			h += (uint32_t)__builtin_popcountll(bins[i * words + w] ^ qb[w]);
		out[i] = h;
	}
}
#endif

static void ham_generic(const uint64_t *bins, size_t n, uint32_t words, const uint64_t *qb, uint32_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t h = 0;
		for (uint32_t w = 0; w < words; w++)
			h += (uint32_t)__builtin_popcountll(bins[i * words + w] ^ qb[w]);
		out[i] = h;
	}
}

/* ---- dispatch ------------------------------------------------------------ */

typedef void (*dot_fn)(const uint8_t *, size_t, size_t, const int8_t *, int32_t *);
static const dot_fn dots[] = {
	[SQ8_SCALAR] = dot_scalar,
#ifdef SQ8_X86
	[SQ8_AVX2] = dot_avx2,
	[SQ8_VNNI] = dot_vnni,
#endif
};

static atomic_int sq8_level = SQ8_AUTO;

int sq8_supported(int level)
{
	switch (level) {
	case SQ8_SCALAR:
		return 1;
#ifdef SQ8_X86
	case SQ8_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2");
	case SQ8_VNNI:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vnni");
#endif
	}
	return 0;
}

const char *sq8_name(int level)
{
	switch (level) {
	case SQ8_SCALAR: return "scalar";
	case SQ8_AVX2: return "avx2";
	case SQ8_VNNI: return "vnni";
	}
	return "auto";
}

int sq8_active(void)
{
	int level = atomic_load_explicit(&sq8_level, memory_order_relaxed);
	if (level == SQ8_AUTO) {
		const char *e = getenv("RVF_SQ8");
		level = SQ8_VNNI;
		if (e && !strcmp(e, "scalar"))
			level = SQ8_SCALAR;
		else if (e && !strcmp(e, "avx2"))
			level = SQ8_AVX2;
		while (level > SQ8_SCALAR && !sq8_supported(level))
			level--;
		atomic_store_explicit(&sq8_level, level, memory_order_relaxed);
	}
	return level;
}

int sq8_force(int level)
{
	if (level != SQ8_AUTO && !sq8_supported(level))
		return -1;
	atomic_store_explicit(&sq8_level, level, memory_order_relaxed);
	return 0;
}

void sq8_dot_batch_level(int level, const uint8_t *codes, size_t n, size_t cstride, const int8_t *s,
			 int32_t *out)
{
	if (level < SQ8_SCALAR || level > SQ8_VNNI || !sq8_supported(level))
		level = SQ8_SCALAR;
	dots[level](codes, n, cstride, s, out);
}

void sq8_dot_batch(const uint8_t *codes, size_t n, size_t cstride, const int8_t *s, int32_t *out)
{
	dots[sq8_active()](codes, n, cstride, s, out);
}

void sq8_hamming_batch(const uint64_t *bins, size_t n, uint32_t words, const uint64_t *qb, uint32_t *out)
{
#ifdef SQ8_X86
	static atomic_int have = -1;
	int h = atomic_load_explicit(&have, memory_order_relaxed);
	if (h < 0) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("popcnt") ? 1 : 0;
		atomic_store_explicit(&have, h, memory_order_relaxed);
	}
	if (h) {
		ham_popcnt(bins, n, words, qb, out);
		return;
	}
#endif
	ham_generic(bins, n, words, qb, out);
}

int32_t sq8_row_const(const uint8_t *u, uint32_t dim)
{
	int32_t c = 0;
	for (uint32_t d = 0; d < dim; d++)
		c += (int32_t)u[d] * ((int32_t)u[d] - 256);
	return c;
}

/* ---- encoder: quant8_quantize_raw with the division in double ---------- */

int sq8_encode(const quant8_params *p, const float *x, uint8_t *u)
{
	/* Branch-free (random signs would mispredict): every select below is a
	 * conditional move. Same operations as quant8_fx + quant8_round. */
	const uint64_t S = p->S, lim = 128 * S, den = 2 * S;
	const double inv = 1.0 / (double)den;
	const int32_t E = p->scale_exp;
	for (uint32_t d = 0; d < p->dim; d++) {
		uint32_t b;
		memcpy(&b, &x[d], 4);
		uint32_t e = (b >> 23) & 0xff, m = b & 0x7fffff;
		if (e == 255)
			return -EDOM;
		m |= e ? 0x800000u : 0;
		e = e ? e : 1;
		int32_t shift = (int32_t)e - E + 1;
		uint32_t ls = shift < 0 ? 0 : (shift > 30 ? 30 : (uint32_t)shift);
		uint32_t rs = shift >= 0 ? 0 : (shift < -63 ? 63 : (uint32_t)-shift);
		uint64_t mag = shift >= 0 ? (uint64_t)m << ls : (uint64_t)m >> rs;
		mag = shift >= 31 ? 1ull << 62 : mag;
		mag = shift <= -64 || m == 0 ? 0 : mag;
		int64_t sg = -(int64_t)(b >> 31);
		int64_t X = ((int64_t)mag ^ sg) - sg;
		int64_t dd = X - p->off_fx[d];
		int64_t ms = dd >> 63;
		uint64_t a = (uint64_t)((dd ^ ms) - ms);
		a = a < lim ? a : lim; /* a >= 128 S rounds to 127 anyway */
		/* num < 2^34, den < 2^26: the product is within 1 of the quotient;
		 * one integer correction step makes it exact */
		uint64_t num = 2 * a + S;
		uint32_t r = (uint32_t)((double)(int64_t)num * inv);
		r += (uint64_t)(r + 1) * den <= num;
		r -= (uint64_t)r * den > num;
		r = r > 127 ? 127 : r;
		int32_t m32 = (int32_t)ms;
		u[d] = (uint8_t)(128 + (((int32_t)r ^ m32) - m32));
	}
	return 0;
}
