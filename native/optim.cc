// In-place optimizer steps with PyTorch 1.13's formulas (torch.optim.SGD / Adam / AdamW,
// single-tensor path, maximize=False, amsgrad=False). Per element the arithmetic is done in
// double and stored as float32, like the JS reference.
#include <cmath>

#include "avx2.h"
#include "kernels.h"

namespace tg {

static void sgdRun(float* param, const float* grad, float* buf, bool first, int64_t n, const SgdOptions& o) {
  const double lr = o.lr, momentum = o.momentum, dampening = o.dampening, weightDecay = o.weightDecay;
  const bool nesterov = o.nesterov;
  //   d = g + wd·p (only when wd != 0: 0·Inf would be NaN);  buf = first ? d : momentum·buf + (1 - dampening)·d
  //   d = nesterov ? d + momentum·buf : buf;  p -= lr·d
  if (momentum == 0.0 && weightDecay == 0.0) {
    // plain SGD, the memory-bound common case: float arithmetic like torch's param.add_(grad, alpha=-lr),
    // a loop the compiler vectorizes
    const float alpha = static_cast<float>(-lr);
    for (int64_t i = 0; i < n; ++i) param[i] = param[i] + alpha * grad[i];
    return;
  }
  if (momentum == 0.0) {
    for (int64_t i = 0; i < n; ++i) {
      double d = grad[i];
      if (weightDecay != 0.0) d += weightDecay * double(param[i]);
      param[i] = static_cast<float>(double(param[i]) - lr * d);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    double d = grad[i];
    if (weightDecay != 0.0) d += weightDecay * double(param[i]);
    buf[i] = first ? static_cast<float>(d) : static_cast<float>(momentum * double(buf[i]) + (1.0 - dampening) * d);
    d = nesterov ? d + momentum * double(buf[i]) : double(buf[i]);
    param[i] = static_cast<float>(double(param[i]) - lr * d);
  }
}

static inline void adamRunBody(float* param, const float* grad, float* m, float* v, int64_t n, double step,
                               const AdamOptions& o) {
  const double lr = o.lr, beta1 = o.beta1, beta2 = o.beta2, eps = o.eps, weightDecay = o.weightDecay;
  const bool decoupled = o.decoupled;
  //   Adam:  g += wd·p            AdamW: p *= 1 - lr·wd
  //   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
  //   p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + eps)
  const double bc1 = 1.0 - std::pow(beta1, step);
  const double bc2Sqrt = std::sqrt(1.0 - std::pow(beta2, step));
  const double stepSize = lr / bc1;
  const double decay = 1.0 - lr * weightDecay;
  for (int64_t i = 0; i < n; ++i) {
    double p = param[i];
    double g = grad[i];
    if (decoupled) {
      p = static_cast<float>(p * decay);  // stored, as torch's param.mul_ does
    } else if (weightDecay != 0.0) {
      g += weightDecay * p;
    }
    const float mi = static_cast<float>(beta1 * double(m[i]) + (1.0 - beta1) * g);
    const float vi = static_cast<float>(beta2 * double(v[i]) + (1.0 - beta2) * g * g);
    m[i] = mi;
    v[i] = vi;
    const double denom = std::sqrt(double(vi)) / bc2Sqrt + eps;
    param[i] = static_cast<float>(p - stepSize * (double(mi) / denom));
  }
}
// sqrt and division in double are the cost: AVX2 does 4 per instruction (same bits, avx2.h).
TG_AVX2_DISPATCH(adamRun, (float* param, const float* grad, float* m, float* v, int64_t n, double step, const AdamOptions& o),
                 (param, grad, m, v, n, step, o))

// run(offset, count) over [0, n): in two parts at `split` on runParts' two threads when it pays (only
// large parameters do). The steps are elementwise, so the split gives the same bits.
template <class F>
static void inParts(int64_t n, int64_t split, F run) {
  if (split <= 0 || split >= n || n < (1 << 15) || blasThreads() < 2) return run(0, n);
  runParts([&](int p) { p ? run(split, n - split) : run(0, split); });
}

void sgdStep(float* param, const float* grad, float* buf, bool first, int64_t n, const SgdOptions& o, int64_t split) {
  inParts(n, split, [&](int64_t i, int64_t c) { sgdRun(param + i, grad + i, buf ? buf + i : nullptr, first, c, o); });
}

void adamStep(float* param, const float* grad, float* m, float* v, int64_t n, double step, const AdamOptions& o,
              int64_t split) {
  inParts(n, split, [&](int64_t i, int64_t c) { adamRun(param + i, grad + i, m + i, v + i, c, step, o); });
}

}  // namespace tg
