// Element-wise kernels (unary, broadcasting binary) and data movement (indexSelect/indexAdd, permute).
//
// Precision: a single +, -, *, /, sqrt on float32 inputs rounds exactly like the JS reference, which
// computes in double and stores to float32. Transcendentals (exp, log, tanh, sigmoid, pow) are
// computed in double here too, so native and JS agree to the last bit or two; those loops are
// scalar (glibc only offers vector expf/logf under -ffast-math). The cheap loops are written so GCC
// auto-vectorizes them at -O3 for baseline x86-64 (SSE2); check with -fopt-info-vec.
#include <cmath>
#include <cstring>

#include "avx2.h"
#include "kernels.h"
#include "strided.h"

namespace tg {

// ---- unary -----------------------------------------------------------------------------------

template <class F>
static void map1(const float* x, float* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

// relu runs on every hidden activation of an mlp step: AVX2 when the CPU has it (avx2.h; 0.6x the time here).
static inline void reluRunBody(const float* x, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] < 0.0f ? 0.0f : x[i];
}
TG_AVX2_DISPATCH(reluRun, (const float* x, float* out, int64_t n), (x, out, n))

static inline double sigmoidD(double v) {
  // 1 / (1 + e^-v) is exact enough in double for every float input; no overflow trouble in double.
  return 1.0 / (1.0 + std::exp(-v));
}

constexpr double kGeluK = 0.79788456080286535588;  // √(2/π)
constexpr double kGeluA = 0.044715;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt1_2 = 0.70710678118654752440;

static inline double geluU(double v) { return kGeluK * (v + kGeluA * v * v * v); }

// The derivatives, as in lib/backend/js/elementwise.ts (see the comments there).
static inline double geluDeriv(double v) {
  return 0.5 * (1.0 + std::erf(v * kSqrt1_2)) + v * std::exp(-0.5 * v * v) * kInvSqrt2Pi;
}
static inline double geluTanhDeriv(double v) {
  const double u = geluU(v), e = std::exp(-2.0 * std::fabs(u)), s = (u >= 0 ? 1.0 : e) / (1.0 + e);
  return s + 2.0 * v * kGeluK * (1.0 + 3.0 * kGeluA * v * v) * (e / ((1.0 + e) * (1.0 + e)));
}

template <class F>
static void mapD(const float* x, float* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(f(double(x[i])));
}

void unary(Unary op, const float* x, float* out, int64_t n, double p0, double p1) {
  switch (op) {
    case Unary::Abs: return map1(x, out, n, [](float v) { return std::fabs(v); });
    case Unary::Sqrt: return map1(x, out, n, [](float v) { return std::sqrt(v); });
    // Math trap: relu(NaN) is NaN (like torch and Math.max), so test "v < 0" rather than "v > 0".
    case Unary::Relu: return reluRun(x, out, n);
    // sign(NaN) = NaN, sign(±0) = ±0 (Math.sign).
    case Unary::Sign:
      return map1(x, out, n, [](float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v); });
    case Unary::Clamp: {
      // Math.min(Math.max(x, lo), hi), like torch.clamp: NaN in x or in a bound gives NaN.
      // Bounds may be ±Infinity.
      return map1(x, out, n, [p0, p1](float v) {
        double r = v;
        r = (r < p0 || p0 != p0) ? p0 : r;
        r = (r > p1 || p1 != p1) ? p1 : r;
        return static_cast<float>(r);
      });
    }
    case Unary::Affine:
      return map1(x, out, n, [p0, p1](float v) { return static_cast<float>(p0 * v + p1); });
    case Unary::Pow:
      if (p0 == 2.0) return map1(x, out, n, [](float v) { return v * v; });
      if (p0 == 1.0) return map1(x, out, n, [](float v) { return v; });
      return map1(x, out, n, [p0](float v) { return static_cast<float>(std::pow(double(v), p0)); });
    case Unary::Exp: return map1(x, out, n, [](float v) { return static_cast<float>(std::exp(double(v))); });
    case Unary::Log: return map1(x, out, n, [](float v) { return static_cast<float>(std::log(double(v))); });
    case Unary::Tanh: return map1(x, out, n, [](float v) { return static_cast<float>(std::tanh(double(v))); });
    case Unary::Sigmoid: return map1(x, out, n, [](float v) { return static_cast<float>(sigmoidD(v)); });
    case Unary::Sin: return mapD(x, out, n, [](double v) { return std::sin(v); });
    case Unary::Cos: return mapD(x, out, n, [](double v) { return std::cos(v); });
    case Unary::Log1p: return mapD(x, out, n, [](double v) { return std::log1p(v); });
    case Unary::Expm1: return mapD(x, out, n, [](double v) { return std::expm1(v); });
    case Unary::Erf: return mapD(x, out, n, [](double v) { return std::erf(v); });
    case Unary::Gelu: return mapD(x, out, n, [](double v) { return v * 0.5 * (1.0 + std::erf(v * kSqrt1_2)); });
    case Unary::Softplus:
      return mapD(x, out, n, [p0, p1](double v) {
        const double t = p0 * v;
        return t > p1 ? v : ((t > 0 ? t : 0.0) + std::log1p(std::exp(-std::fabs(t)))) / p0;
      });
    case Unary::GeluTanh: return mapD(x, out, n, [](double v) { return v / (1.0 + std::exp(-2.0 * geluU(v))); });
  }
}

// ---- binary with broadcasting -----------------------------------------------------------------

// Inner loops over one contiguous run of the output; sa/sb are 0 (broadcast) or 1 (contiguous)
// in the three fast shapes, anything in the generic one.
template <class F>
static void inner(F f, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float s = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], s);
  } else if (sa == 0 && sb == 1) {
    const float s = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = f(s, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i * sa], b[i * sb]);
  }
}

struct Layout {
  // Coalesced output dims with per-input element strides (0 on broadcast dims), outermost first.
  std::vector<int64_t> size, sa, sb;
};

// Right-align the input shapes to the output, give broadcast dims stride 0, drop size-1 dims and
// merge neighbours that are contiguous for both inputs. Same-shape becomes one dim [N] (1, 1);
// [m,n]∘[n] becomes [m, n] with b strides (0, 1); [m,n]∘[m,1] becomes [m, n] with b strides (1, 0).
static Layout coalesce(const std::vector<int64_t>& outShape, const std::vector<int64_t>* shapes[2]) {
  const size_t r = outShape.size();
  std::vector<int64_t> st[2];
  for (int t = 0; t < 2; ++t) {
    const auto& s = *shapes[t];
    st[t].assign(r, 0);
    int64_t acc = 1;
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t si = s.size() - 1 - i, oi = r - 1 - i;
      st[t][oi] = s[si] == 1 ? 0 : acc;
      acc *= s[si];
    }
  }
  Layout L;
  for (size_t i = 0; i < r; ++i) {
    if (outShape[i] == 1) continue;
    if (!L.size.empty()) {
      const int64_t n = outShape[i];
      if (L.sa.back() == st[0][i] * n && L.sb.back() == st[1][i] * n) {
        L.size.back() *= n;
        L.sa.back() = st[0][i];
        L.sb.back() = st[1][i];
        continue;
      }
    }
    L.size.push_back(outShape[i]);
    L.sa.push_back(st[0][i]);
    L.sb.push_back(st[1][i]);
  }
  if (L.size.empty()) {  // a single element
    L.size.push_back(1);
    L.sa.push_back(0);
    L.sb.push_back(0);
  }
  return L;
}

template <class F>
static void broadcastLoop(F f, const float* a, const float* b, float* out, const Layout& L) {
  const size_t r = L.size.size();
  const int64_t n = L.size[r - 1], sa = L.sa[r - 1], sb = L.sb[r - 1];
  if (r == 1) return inner(f, a, sa, b, sb, out, n);
  if (r == 2) {  // row / column / 2-D strided: no odometer needed
    for (int64_t i = 0; i < L.size[0]; ++i) inner(f, a + i * L.sa[0], sa, b + i * L.sb[0], sb, out + i * n, n);
    return;
  }
  // Generic N-d: odometer over the outer dims, contiguous runs of n outputs.
  std::vector<int64_t> idx(r - 1, 0);
  int64_t outer = 1;
  for (size_t d = 0; d + 1 < r; ++d) outer *= L.size[d];
  int64_t offA = 0, offB = 0;
  for (int64_t o = 0; o < outer; ++o) {
    inner(f, a + offA, sa, b + offB, sb, out + o * n, n);
    for (size_t d = r - 1; d-- > 0;) {
      offA += L.sa[d];
      offB += L.sb[d];
      if (++idx[d] < L.size[d]) break;
      offA -= L.sa[d] * L.size[d];
      offB -= L.sb[d] * L.size[d];
      idx[d] = 0;
    }
  }
}

static void binaryLayout(Binary op, const float* a, const float* b, float* out, const Layout& L);

void binary(Binary op, const float* a, const std::vector<int64_t>& aShape, const float* b,
            const std::vector<int64_t>& bShape, float* out, const std::vector<int64_t>& outShape) {
  const std::vector<int64_t>* shapes[2] = {&aShape, &bShape};
  const Layout L = coalesce(outShape, shapes);
  for (int64_t s : L.size)
    if (s == 0) return;
  binaryLayout(op, a, b, out, L);
}

void binaryRun(Binary op, const float* a, const float* b, float* out, int64_t n) {
  if (n > 0) binaryLayout(op, a, b, out, Layout{{n}, {1}, {1}});
}

static void binaryLayout(Binary op, const float* a, const float* b, float* out, const Layout& L) {
  switch (op) {
    case Binary::Add: return broadcastLoop([](float x, float y) { return x + y; }, a, b, out, L);
    case Binary::Sub: return broadcastLoop([](float x, float y) { return x - y; }, a, b, out, L);
    case Binary::Mul: return broadcastLoop([](float x, float y) { return x * y; }, a, b, out, L);
    case Binary::Div: return broadcastLoop([](float x, float y) { return x / y; }, a, b, out, L);
    // NaN-propagating like Math.max / torch.maximum.
    case Binary::Maximum:
      return broadcastLoop([](float x, float y) { return (x > y || x != x) ? x : y; }, a, b, out, L);
    case Binary::Eq: return broadcastLoop([](float x, float y) { return x == y ? 1.0f : 0.0f; }, a, b, out, L);
    case Binary::Gt: return broadcastLoop([](float x, float y) { return x > y ? 1.0f : 0.0f; }, a, b, out, L);
    case Binary::Lt: return broadcastLoop([](float x, float y) { return x < y ? 1.0f : 0.0f; }, a, b, out, L);
    // Math trap: relu'(0) = 0, and a NaN gradient where the unit is off is dropped (select, not multiply).
    case Binary::ReluGrad:
      return broadcastLoop([](float y, float g) { return y > 0.0f ? g : 0.0f; }, a, b, out, L);
    case Binary::SigmoidGrad:
      return broadcastLoop(
          [](float y, float g) { return static_cast<float>(double(g) * double(y) * (1.0 - double(y))); }, a, b,
          out, L);
    case Binary::TanhGrad:
      return broadcastLoop(
          [](float y, float g) { return static_cast<float>(double(g) * (1.0 - double(y) * double(y))); }, a, b,
          out, L);
    case Binary::GeluGrad:
      return broadcastLoop([](float x, float g) { return static_cast<float>(double(g) * geluDeriv(x)); }, a, b, out, L);
    case Binary::GeluTanhGrad:
      return broadcastLoop([](float x, float g) { return static_cast<float>(double(g) * geluTanhDeriv(x)); }, a, b, out,
                           L);
  }
}

// ---- data movement ----------------------------------------------------------------------------

void indexSelect(const float* x, int64_t outer, int64_t n, int64_t inner, const int32_t* idx,
                 int64_t nIdx, float* out) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * n * inner;
    float* oo = out + o * nIdx * inner;
    if (inner == 1) {
      for (int64_t j = 0; j < nIdx; ++j) oo[j] = xo[idx[j]];
    } else {
      for (int64_t j = 0; j < nIdx; ++j)
        std::memcpy(oo + j * inner, xo + int64_t(idx[j]) * inner, sizeof(float) * size_t(inner));
    }
  }
}

void indexAdd(const float* g, int64_t outer, int64_t n, int64_t inner, const int32_t* idx, int64_t nIdx,
              float* out) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* go = g + o * nIdx * inner;
    float* oo = out + o * n * inner;
    for (int64_t j = 0; j < nIdx; ++j) {
      float* dst = oo + int64_t(idx[j]) * inner;
      const float* src = go + j * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  }
}

void permute(const float* x, const std::vector<int64_t>& shape, const std::vector<int64_t>& perm, float* out) {
  const size_t r = shape.size();
  int64_t total = 1;
  for (int64_t s : shape) total *= s;
  if (total == 0) return;
  if (r == 0) {
    out[0] = x[0];
    return;
  }
  std::vector<int64_t> inStride(r), size(r), stride(r);
  int64_t acc = 1;
  for (size_t i = r; i-- > 0;) inStride[i] = acc, acc *= shape[i];
  for (size_t i = 0; i < r; ++i) size[i] = shape[perm[i]], stride[i] = inStride[perm[i]];
  const int64_t n = size[r - 1], s = stride[r - 1];
  const int64_t outerCount = total / n;
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t o = 0; o < outerCount; ++o) {
    float* dst = out + o * n;
    const float* src = x + off;
    if (s == 1) {
      std::memcpy(dst, src, sizeof(float) * size_t(n));
    } else {
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i * s];
    }
    nextRun(size, stride, &idx, &off);
  }
}

}  // namespace tg
