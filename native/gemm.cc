// sgemm through OpenBLAS: row-major, transposes passed as flags (never a transposed copy).
#include <cblas.h>

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "kernels.h"
#include "blaslock.h"

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

namespace tg {

std::shared_mutex& blasLock() {
  static std::shared_mutex* m = new std::shared_mutex();  // never destroyed: a detached thread may hold it at exit
  return *m;
}

int blasThreads() {
  std::shared_lock<std::shared_mutex> l(blasLock());
  return openblas_get_num_threads();
}

void setBlasThreads(int n) {
  std::unique_lock<std::shared_mutex> l(blasLock());
  openblas_set_num_threads(n);
}

// C = beta * C for the degenerate k = 0 product; beta = 0 overwrites (NaN in C is ignored), like BLAS.
static void scaleC(float* c, int64_t count, float beta) {
  if (beta == 0.0f) {
    std::fill(c, c + count, 0.0f);
  } else if (beta != 1.0f) {
    for (int64_t i = 0; i < count; ++i) c[i] *= beta;
  }
}

void gemm(const GemmOptions& o, const float* a, const float* b, float* c) {
  std::shared_lock<std::shared_mutex> l(blasLock());
  gemmUnlocked(o, a, b, c);
}

void gemmUnlocked(const GemmOptions& o, const float* a, const float* b, float* c) {
  const bool transA = o.transA, transB = o.transB;
  const int64_t m = o.m, n = o.n, k = o.k;
  const float alpha = o.alpha, beta = o.beta;
  if (m == 0 || n == 0 || o.batch == 0) return;
  if (gemmFewRows(o, a, b, c)) return;
  // Leading dimensions of the matrices as stored (row-major): op(A) is m x k, so A is m x k or k x m.
  const int lda = static_cast<int>(std::max<int64_t>(1, transA ? m : k));
  const int ldb = static_cast<int>(std::max<int64_t>(1, transB ? k : n));
  const int ldc = static_cast<int>(n);
  const CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
  for (int64_t i = 0; i < o.batch; ++i) {
    float* ci = c + i * o.strideC;
    if (k == 0) {
      scaleC(ci, m * n, beta);
      continue;
    }
    if (m == 1) {
      // One row (single-row inference): C = op(B)ᵀ·a as a matrix-vector product. OpenBLAS's sgemm
      // packs all of B for it (measured, 128x784, 1 thread: 28 µs with the Haswell kernel; sgemv 4.2).
      // op(A) is one contiguous row either way (A is 1 x k, or k x 1 with lda 1). beta = 0 must
      // overwrite: C is zeroed first, so sgemv's scaling by 0 cannot keep a NaN.
      if (beta == 0.0f) std::fill(ci, ci + n, 0.0f);
      cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, static_cast<int>(transB ? n : k),
                  static_cast<int>(transB ? k : n), alpha, b + i * o.strideB, ldb, a + i * o.strideA, 1, beta, ci, 1);
      continue;
    }
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                alpha, a + i * o.strideA, lda, b + i * o.strideB, ldb, beta, ci, ldc);
  }
}

}  // namespace tg
