// Reductions over the middle axis of [outer, n, inner], argmax, sumTo (the VJP of broadcasting)
// and softmax / log-softmax. Sums accumulate in double (as the JS reference does with JS numbers),
// so long reductions do not drift; loops over `inner` are contiguous and auto-vectorize.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "avx2.h"
#include "kernels.h"
#include "strided.h"

namespace tg {

// Sum of a contiguous run in double with 8 independent partial sums (pipelined / SLP-vectorized).
static double sumRun(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
  double s = 0;
  for (; i < n; ++i) s += x[i];
  return s + ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// out[j] = Σ_i x[i·inner + j] (a bias gradient), in double; acc is scratch of inner doubles. AVX2 when
// the CPU has it (avx2.h): 0.55x the time of the SSE2 loop on [128, 512].
static inline void columnSumsAccBody(const float* x, int64_t n, int64_t inner, double* acc, float* out) {
  for (int64_t j = 0; j < inner; ++j) acc[j] = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = x + i * inner;
    for (int64_t j = 0; j < inner; ++j) acc[j] += row[j];
  }
  for (int64_t j = 0; j < inner; ++j) out[j] = static_cast<float>(acc[j]);
}
TG_AVX2_DISPATCH(columnSumsAcc, (const float* x, int64_t n, int64_t inner, double* acc, float* out),
                 (x, n, inner, acc, out))

void columnSums(const float* x, int64_t rows, int64_t cols, float* out) {
  std::vector<double> acc(static_cast<size_t>(cols));
  columnSumsAcc(x, rows, cols, acc.data(), out);
}

// NaN-propagating max (torch.max semantics; a NaN anywhere gives NaN).
static inline float maxNaN(float m, float v) { return (v > m || v != v) ? v : m; }

void reduce(Reduce op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out) {
  // No output: no work (an empty output with a huge reduced dim, e.g. [1, 2^31-1, 0], must not loop over it).
  if (outer == 0 || inner == 0) return;
  const float inf = std::numeric_limits<float>::infinity();
  if (op == Reduce::Sum) {
    if (inner == 1) {
      for (int64_t o = 0; o < outer; ++o) out[o] = static_cast<float>(sumRun(x + o * n, n));
      return;
    }
    std::vector<double> acc(static_cast<size_t>(inner));
    for (int64_t o = 0; o < outer; ++o) columnSumsAcc(x + o * n * inner, n, inner, acc.data(), out + o * inner);
    return;
  }
  // Reduce::Max
  for (int64_t o = 0; o < outer; ++o) {
    float* dst = out + o * inner;
    for (int64_t j = 0; j < inner; ++j) dst[j] = -inf;
    for (int64_t i = 0; i < n; ++i) {
      const float* row = x + (o * n + i) * inner;
      for (int64_t j = 0; j < inner; ++j) dst[j] = maxNaN(dst[j], row[j]);
    }
  }
}

// First index of the maximum; a NaN counts as the maximum (torch.argmax), the first NaN wins.
void argmax(const float* x, int64_t outer, int64_t n, int64_t inner, int32_t* out) {
  if (outer == 0 || inner == 0) return;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < inner; ++j) {
      const float* p = x + o * n * inner + j;
      int32_t best = 0;
      float bv = n > 0 ? p[0] : 0.0f;
      if (bv == bv) {
        for (int64_t i = 1; i < n; ++i) {
          const float v = p[i * inner];
          if (v > bv || v != v) {
            best = static_cast<int32_t>(i);
            bv = v;
            if (v != v) break;
          }
        }
      }
      out[o * inner + j] = best;
    }
  }
}

void sumTo(const float* x, const std::vector<int64_t>& xShape, float* out, const std::vector<int64_t>& outShape) {
  const size_t r = xShape.size();
  int64_t outCount = 1, xCount = 1;
  for (int64_t s : outShape) outCount *= s;
  for (int64_t s : xShape) xCount *= s;
  if (outCount == 0) return;
  if (xCount == 0) {  // an empty sum is 0
    std::fill(out, out + outCount, 0.0f);
    return;
  }
  if (xCount == outCount) {  // nothing is reduced (only size-1 dims differ)
    std::memcpy(out, x, sizeof(float) * size_t(outCount));
    return;
  }
  // Output stride of each x dim (0 where the dim is summed away), then coalesce.
  std::vector<int64_t> st(r, 0);
  int64_t acc = 1;
  for (size_t i = 0; i < outShape.size(); ++i) {
    const size_t si = outShape.size() - 1 - i, xi = r - 1 - i;
    st[xi] = outShape[si] == 1 ? 0 : acc;
    acc *= outShape[si];
  }
  std::vector<int64_t> size, stride;
  for (size_t i = 0; i < r; ++i) {
    if (xShape[i] == 1) continue;
    if (!size.empty() && stride.back() == st[i] * xShape[i]) {
      size.back() *= xShape[i];
      stride.back() = st[i];
      continue;
    }
    size.push_back(xShape[i]);
    stride.push_back(st[i]);
  }
  std::vector<double> sum(static_cast<size_t>(outCount), 0.0);
  double* s = sum.data();
  const size_t R = size.size();
  const int64_t n = size[R - 1], sn = stride[R - 1];
  const int64_t outerCount = xCount / n;
  std::vector<int64_t> idx(R, 0);
  int64_t off = 0;
  for (int64_t o = 0; o < outerCount; ++o) {
    const float* src = x + o * n;
    if (sn == 0) {
      s[off] += sumRun(src, n);
    } else if (sn == 1) {
      double* d = s + off;
      for (int64_t i = 0; i < n; ++i) d[i] += src[i];
    } else {
      for (int64_t i = 0; i < n; ++i) s[off + i * sn] += src[i];
    }
    nextRun(size, stride, &idx, &off);
  }
  for (int64_t i = 0; i < outCount; ++i) out[i] = static_cast<float>(sum[i]);
}

void softmax(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log) {
  if (outer == 0 || n == 0 || inner == 0) return;
  std::vector<float> mx(static_cast<size_t>(inner));
  std::vector<double> sum(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * n * inner;
    float* oo = out + o * n * inner;
    std::fill(mx.begin(), mx.end(), -std::numeric_limits<float>::infinity());
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) mx[j] = maxNaN(mx[j], xo[i * inner + j]);
    // A row of all -Infinity has max -Infinity: shift by 0 instead so the result is NaN-free where possible.
    for (int64_t j = 0; j < inner; ++j)
      if (std::isinf(mx[j]) && mx[j] < 0) mx[j] = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < inner; ++j) {
        const double e = std::exp(double(xo[i * inner + j]) - double(mx[j]));
        sum[j] += e;
        if (!log) oo[i * inner + j] = static_cast<float>(e);
      }
    }
    if (log) {
      for (int64_t j = 0; j < inner; ++j) sum[j] = std::log(sum[j]) + double(mx[j]);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j)
          oo[i * inner + j] = static_cast<float>(double(xo[i * inner + j]) - sum[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) sum[j] = 1.0 / sum[j];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j)
          oo[i * inner + j] = static_cast<float>(double(oo[i * inner + j]) * sum[j]);
    }
  }
}

}  // namespace tg
