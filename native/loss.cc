// Fused softmax cross-entropy (forward returns the mean loss) and its backward.
#include <cmath>
#include <limits>

#include "kernels.h"

namespace tg {

double crossEntropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes, float* probs) {
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * classes;
    float* p = probs + r * classes;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < classes; ++j) mx = (x[j] > mx || x[j] != x[j]) ? x[j] : mx;
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) {
      const double e = std::exp(double(x[j]) - double(mx));
      p[j] = static_cast<float>(e);
      sum += e;
    }
    const double inv = 1.0 / sum;
    for (int64_t j = 0; j < classes; ++j) p[j] = static_cast<float>(double(p[j]) * inv);
    // -log softmax(x)[label] = log(sum) + max - x[label], computed without forming log(p) (no log(0)).
    total += std::log(sum) + double(mx) - double(x[labels[r]]);
  }
  return total / double(rows);
}

void crossEntropyBackward(const float* probs, const int32_t* labels, int64_t rows, int64_t classes,
                          double scale, float* out) {
  const float s = static_cast<float>(scale);
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = probs + r * classes;
    float* o = out + r * classes;
    for (int64_t j = 0; j < classes; ++j) o[j] = s * p[j];  // vectorized
    const int64_t y = labels[r];
    o[y] = static_cast<float>(scale * (double(p[y]) - 1.0));
  }
}

}  // namespace tg
