// C = alpha·A·B + beta·C for a few rows of A (m <= 64) and B in its row-major k x n layout (no
// transposes), with AVX-512 when the CPU has it: each 6-row block of C keeps 6 x 64 sums in
// registers while B's rows stream through, so nothing is packed. OpenBLAS packs B on every call,
// which dominates at these sizes: 64 x 128 x 784 (a layer of a 64-row inference batch, weights
// stored transposed) took 68 µs here against 78 µs for cblas_sgemm (AMD Zen 5, 1 thread).
#include <cstdint>

#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace tg {
namespace {

constexpr int64_t kMaxRows = 64;
// Narrower products are faster through OpenBLAS (64 x 10 x 128: 3.8 µs by this kernel, 2.4 by cblas_sgemm).
constexpr int64_t kMinCols = 64;

// Columns [j, j + 16·G) of rows [i, i + R); with Masked, the last 16 are masked by `last` (C ends there).
template <int R, int G, bool Masked>
__attribute__((target("avx512f"))) void block(int64_t i, int64_t j, __mmask16 last, int64_t n, int64_t k,
                                              float alpha, const float* a, const float* b, float beta, float* c) {
  __m512 acc[R][G];
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) acc[r][g] = _mm512_setzero_ps();
  const float* bp = b + j;
  const float* ap = a + i * k;
  for (int64_t p = 0; p < k; ++p, bp += n) {
    __m512 bv[G];
    for (int g = 0; g < G; ++g) bv[g] = Masked && g == G - 1 ? _mm512_maskz_loadu_ps(last, bp + 16 * g) : _mm512_loadu_ps(bp + 16 * g);
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r * k + p]);
      for (int g = 0; g < G; ++g) acc[r][g] = _mm512_fmadd_ps(av, bv[g], acc[r][g]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < R; ++r) {
    float* cr = c + (i + r) * n + j;
    for (int g = 0; g < G; ++g) {
      const __mmask16 mask = Masked && g == G - 1 ? last : 0xFFFF;
      __m512 v = _mm512_mul_ps(va, acc[r][g]);
      // beta = 0 overwrites: C's old contents (even NaN) are not read
      if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, cr + 16 * g), v);
      _mm512_mask_storeu_ps(cr + 16 * g, mask, v);
    }
  }
}

// Rows [i, m) in blocks of R rows (then R - 1, ...), columns [j, j + w) with w <= 64.
template <int R>
__attribute__((target("avx512f"))) void rowsFrom(int64_t i, int64_t m, int64_t j, int64_t w, int64_t n, int64_t k,
                                                 float alpha, const float* a, const float* b, float beta, float* c) {
  const __mmask16 last = static_cast<__mmask16>(w % 16 == 0 ? 0xFFFF : (1u << (w % 16)) - 1);
  const bool masked = w % 16 != 0;
  for (; i + R <= m; i += R) {
    switch ((w + 15) / 16 + (masked ? 4 : 0)) {
      case 1: block<R, 1, false>(i, j, last, n, k, alpha, a, b, beta, c); break;
      case 2: block<R, 2, false>(i, j, last, n, k, alpha, a, b, beta, c); break;
      case 3: block<R, 3, false>(i, j, last, n, k, alpha, a, b, beta, c); break;
      case 4: block<R, 4, false>(i, j, last, n, k, alpha, a, b, beta, c); break;
      case 5: block<R, 1, true>(i, j, last, n, k, alpha, a, b, beta, c); break;
      case 6: block<R, 2, true>(i, j, last, n, k, alpha, a, b, beta, c); break;
      case 7: block<R, 3, true>(i, j, last, n, k, alpha, a, b, beta, c); break;
      default: block<R, 4, true>(i, j, last, n, k, alpha, a, b, beta, c); break;
    }
  }
  if constexpr (R > 1) rowsFrom<R - 1>(i, m, j, w, n, k, alpha, a, b, beta, c);
}

}  // namespace

bool gemmFewRows(const GemmOptions& o, const float* a, const float* b, float* c) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 || o.transA || o.transB || o.m > kMaxRows || o.m < 2 || o.n < kMinCols || o.k == 0) return false;
  const int64_t m = o.m, n = o.n, k = o.k;
  for (int64_t t = 0; t < o.batch; ++t) {
    const float* at = a + t * o.strideA;
    const float* bt = b + t * o.strideB;
    float* ct = c + t * o.strideC;
    for (int64_t j = 0; j < n; j += 64) {
      const int64_t w = n - j < 64 ? n - j : 64;
      rowsFrom<6>(0, m, j, w, n, k, o.alpha, at, bt, o.beta, ct);
    }
  }
  return true;
}

}  // namespace tg

#else

namespace tg {
bool gemmFewRows(const GemmOptions&, const float*, const float*, float*) { return false; }
}  // namespace tg

#endif
