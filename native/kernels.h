// Kernel entry points of the tapegrad native backend (float32 only).
//
// These functions trust their arguments: addon.cc validates every size, length, index range and
// type before calling them. Sizes are int64_t (the addon caps element counts at 2^31 - 1), arrays
// are dense row-major, and outputs are written in place. The semantics mirror lib/backend/backend.ts
// and the JS reference backend (lib/backend/js.ts); see the comments there.
#pragma once

#include <cstdint>
#include <vector>

namespace tg {

// ---- gemm.cc ---------------------------------------------------------------------------------
// C = alpha * op(A) * op(B) + beta * C for each of `batch` matrices (strides may be 0).
void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          const float* b, float beta, float* c, int64_t batch, int64_t strideA, int64_t strideB,
          int64_t strideC);

// ---- elementwise.cc --------------------------------------------------------------------------
enum class Unary { Neg, Exp, Log, Sqrt, Abs, Sigmoid, Tanh, Relu, Step, Sign, Pow, Clamp, Affine };
enum class Binary { Add, Sub, Mul, Div, Maximum, Minimum, Eq, Gt, Lt, ReluGrad, SigmoidGrad, TanhGrad };

bool parseUnary(const char* name, Unary* op);
bool parseBinary(const char* name, Binary* op);

void unary(Unary op, const float* x, float* out, int64_t n, double p0, double p1);

// Broadcasting binary op. aShape/bShape are right-aligned against outShape (rank <= out rank,
// each dim 1 or equal to the out dim; the addon checks this).
void binary(Binary op, const float* a, const std::vector<int64_t>& aShape, const float* b,
            const std::vector<int64_t>& bShape, float* out, const std::vector<int64_t>& outShape);

// out[outer, j, inner] = x[outer, idx[j], inner]
void indexSelect(const float* x, int64_t outer, int64_t n, int64_t inner, const int32_t* idx,
                 int64_t nIdx, float* out);
// out[outer, idx[j], inner] += g[outer, j, inner]
void indexAdd(const float* g, int64_t outer, int64_t n, int64_t inner, const int32_t* idx,
              int64_t nIdx, float* out);
// out = x with axes permuted (out.shape[i] = shape[perm[i]])
void permute(const float* x, const std::vector<int64_t>& shape, const std::vector<int64_t>& perm,
             float* out);

// ---- reduce.cc -------------------------------------------------------------------------------
enum class Reduce { Sum, Max, Min };
bool parseReduce(const char* name, Reduce* op);

void reduce(Reduce op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out);
void argmax(const float* x, int64_t outer, int64_t n, int64_t inner, int32_t* out);
// outShape right-aligned against xShape, each dim 1 or equal.
void sumTo(const float* x, const std::vector<int64_t>& xShape, float* out,
           const std::vector<int64_t>& outShape);
void softmax(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log);

// ---- loss.cc ---------------------------------------------------------------------------------
// Labels must already be checked to lie in [0, classes).
double crossEntropy(const float* logits, const int32_t* labels, int64_t rows, int64_t classes,
                    float* probs);
void crossEntropyBackward(const float* probs, const int32_t* labels, int64_t rows, int64_t classes,
                          double scale, float* out);

// ---- optim.cc --------------------------------------------------------------------------------
void sgdStep(float* param, const float* grad, float* buf, bool first, int64_t n, double lr,
             double momentum, double dampening, bool nesterov, double weightDecay);
void adamStep(float* param, const float* grad, float* m, float* v, int64_t n, double step, double lr,
              double beta1, double beta2, double eps, double weightDecay, bool decoupled);

}  // namespace tg
