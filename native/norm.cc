// Batch and layer normalization (training forward and backward) and inverted dropout. Statistics
// accumulate in double; the mean and biased variance are stored as float and the normalization
// reads the stored values back, as lib/backend/js/norm.ts does, so both backends and the backward
// see the same rstd = 1/√(var + eps).
#include <cmath>
#include <vector>

#include "kernels.h"

namespace tg {

using Vec = std::vector<double>;

// Calls f(ch, i) for every element i of x viewed as [n, c, l], in memory order (so each channel's
// elements come in the same order as in the JS kernels). With l = 1 ([N, C]) the inner loop runs
// across channels and vectorizes.
template <class F>
static inline void eachElement(int64_t n, int64_t c, int64_t l, F f) {
  if (l == 1) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch) f(ch, i * c + ch);
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0, base = (i * c + ch) * l; j < l; ++j) f(ch, base + j);
}

// Per channel of x viewed as [n, c, l]: the mean and biased variance over n·l, rounded to float.
static void channelStats(const float* x, int64_t n, int64_t c, int64_t l, float* mean, float* var) {
  const double count = double(n * l);
  Vec s(static_cast<size_t>(c), 0.0), q(static_cast<size_t>(c), 0.0);
  eachElement(n, c, l, [&](int64_t ch, int64_t i) { s[ch] += x[i]; });
  for (int64_t ch = 0; ch < c; ++ch) s[ch] /= count;
  eachElement(n, c, l, [&](int64_t ch, int64_t i) {
    const double d = x[i] - s[ch];
    q[ch] += d * d;
  });
  for (int64_t ch = 0; ch < c; ++ch) {
    mean[ch] = static_cast<float>(s[ch]);
    var[ch] = static_cast<float>(q[ch] / count);
  }
}

void batchNorm(const float* x, int64_t n, int64_t c, int64_t l, const float* weight, const float* bias, double eps,
               float* out, float* mean, float* var) {
  channelStats(x, n, c, l, mean, var);
  Vec scale(static_cast<size_t>(c)), shift(static_cast<size_t>(c));
  for (int64_t ch = 0; ch < c; ++ch) {
    scale[ch] = (weight ? double(weight[ch]) : 1.0) / std::sqrt(double(var[ch]) + eps);
    shift[ch] = (bias ? double(bias[ch]) : 0.0) - double(mean[ch]) * scale[ch];
  }
  eachElement(n, c, l, [&](int64_t ch, int64_t i) { out[i] = static_cast<float>(double(x[i]) * scale[ch] + shift[ch]); });
}

void batchNormBackward(const float* x, const float* g, int64_t n, int64_t c, int64_t l, const float* mean,
                       const float* var, double eps, const float* weight, float* dx, float* dweight, float* dbias) {
  const double count = double(n * l);
  const size_t cs = static_cast<size_t>(c);
  Vec sg(cs, 0.0), sgx(cs, 0.0), m(cs), rstd(cs), k(cs), mg(cs), c2(cs);
  for (int64_t ch = 0; ch < c; ++ch) m[ch] = mean[ch], rstd[ch] = 1.0 / std::sqrt(double(var[ch]) + eps);
  eachElement(n, c, l, [&](int64_t ch, int64_t i) {
    const double gv = g[i];
    sg[ch] += gv;
    sgx[ch] += gv * (double(x[i]) - m[ch]);
  });
  for (int64_t ch = 0; ch < c; ++ch) {
    sgx[ch] *= rstd[ch];  // Σ g·x̂
    if (dweight) dweight[ch] = static_cast<float>(sgx[ch]);
    if (dbias) dbias[ch] = static_cast<float>(sg[ch]);
    k[ch] = (weight ? double(weight[ch]) : 1.0) * rstd[ch];
    mg[ch] = sg[ch] / count;
    c2[ch] = rstd[ch] * (sgx[ch] / count);
  }
  if (!dx) return;
  eachElement(n, c, l, [&](int64_t ch, int64_t i) {
    dx[i] = static_cast<float>(k[ch] * (double(g[i]) - mg[ch] - (double(x[i]) - m[ch]) * c2[ch]));
  });
}

void layerNorm(const float* x, int64_t rows, int64_t cols, const float* weight, const float* bias, double eps,
               float* out, float* mean, float* var) {
  channelStats(x, 1, rows, cols, mean, var);  // a row is a "channel" of [1, rows, cols]
  for (int64_t r = 0; r < rows; ++r) {
    const double m = mean[r], rstd = 1.0 / std::sqrt(double(var[r]) + eps);
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const double xh = (double(xr[j]) - m) * rstd;
      o[j] = static_cast<float>((weight ? xh * double(weight[j]) : xh) + (bias ? double(bias[j]) : 0.0));
    }
  }
}

void layerNormBackward(const float* x, const float* g, int64_t rows, int64_t cols, const float* mean,
                       const float* var, double eps, const float* weight, float* dx, float* dweight, float* dbias) {
  Vec dw(dweight ? size_t(cols) : 0, 0.0), db(dbias ? size_t(cols) : 0, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const double m = mean[r], rstd = 1.0 / std::sqrt(double(var[r]) + eps);
    const float* xr = x + r * cols;
    const float* gr = g + r * cols;
    double sgy = 0, sgyx = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double gv = gr[j], xh = (double(xr[j]) - m) * rstd, gy = weight ? gv * double(weight[j]) : gv;
      sgy += gy;
      sgyx += gy * xh;
      if (dweight) dw[j] += gv * xh;
      if (dbias) db[j] += gv;
    }
    if (!dx) continue;
    const double mg = sgy / double(cols), c2 = rstd * (sgyx / double(cols));
    float* d = dx + r * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const double gy = weight ? double(gr[j]) * double(weight[j]) : double(gr[j]);
      d[j] = static_cast<float>(rstd * (gy - mg - (double(xr[j]) - m) * c2));
    }
  }
  for (int64_t j = 0; dweight && j < cols; ++j) dweight[j] = static_cast<float>(dw[j]);
  for (int64_t j = 0; dbias && j < cols; ++j) dbias[j] = static_cast<float>(db[j]);
}

static inline uint32_t rotl(uint32_t v, int k) { return (v << k) | (v >> (32 - k)); }

// xoshiro128**, as lib/random.ts: u = r/2³² compared with p in double.
void dropout(const float* x, int64_t len, double p, uint32_t state[4], float* out, float* mask) {
  uint32_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  const float scale = p == 1.0 ? 0.0f : static_cast<float>(1.0 / (1.0 - p));
  for (int64_t i = 0; i < len; ++i) {
    const uint32_t r = rotl(s1 * 5u, 7) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    const float m = double(r) * (1.0 / 4294967296.0) < p ? 0.0f : scale;
    if (mask) mask[i] = m;
    out[i] = x[i] * m;
  }
  state[0] = s0, state[1] = s1, state[2] = s2, state[3] = s3;
}

}  // namespace tg
