// Kernel entry points of the tapegrad native backend (float32 only).
//
// These functions trust their arguments: addon.cc (with args.cc) validates every size, length,
// index range and type before calling them. Sizes are int64_t (the addon caps element counts at
// 2^31 - 1), arrays are dense row-major, and outputs are written in place. The semantics mirror
// lib/backend/catalogue.ts and the JS reference backend (lib/backend/js/); see the comments there.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace tg {

// ---- gemm.cc ---------------------------------------------------------------------------------
struct GemmOptions {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0, batch = 1, strideA = 0, strideB = 0, strideC = 0;
  float alpha = 1, beta = 0;
};
// C = alpha * op(A) * op(B) + beta * C for each of `batch` matrices (strides may be 0).
void gemm(const GemmOptions& o, const float* a, const float* b, float* c);
// gemm_rows.cc: gemm without transposes for 2 to 64 rows on AVX-512 CPUs; false when it does not apply.
bool gemmFewRows(const GemmOptions& o, const float* a, const float* b, float* c);
// Two independent gemms (pair.cc), each on one OpenBLAS thread (bitwise single-threaded results):
// with 2+ OpenBLAS threads and a product of kTwoThreadWork or more at the same time on two threads,
// otherwise one after the other. Outputs must not overlap each other nor the other product's inputs.
void gemmPair(const GemmOptions& o1, const float* a1, const float* b1, float* c1, const GemmOptions& o2,
              const float* a2, const float* b2, float* c2);
// Runs part(0) on this thread and part(1) on a persistent helper thread at the same time, each with
// one OpenBLAS thread (parts call gemmUnlocked, blaslock.h), under the lock every gemm shares. With
// fewer than 2 OpenBLAS threads, or `together` false, both parts run here, one after the other (still
// on one OpenBLAS thread). gemmPair is one use.
void runParts(const std::function<void(int)>& part, bool together = true);
// Multiply-adds below which a second thread costs more than it saves (measured per shape with
// npm run bench:threads; OpenBLAS 0.3.21 itself stays on one thread below 64³ too).
constexpr double kTwoThreadWork = 64.0 * 64.0 * 64.0;
// OpenBLAS's process-wide thread count. gemmPair lowers it to 1 while it runs, holding a lock that
// gemm, blasThreads and setBlasThreads share: no other thread's call ever sees the transient value.
int blasThreads();
void setBlasThreads(int n);

#define TG_ENUM_VALUE(e, name) e,

// ---- linear.cc -------------------------------------------------------------------------------
#define TG_ACT_OPS(X) X(None, none) X(Relu, relu) X(Sigmoid, sigmoid) X(Tanh, tanh)
enum class Act { TG_ACT_OPS(TG_ENUM_VALUE) };
// out = act(x·Wᵀ + bias): x [rows, inF], w [outF, inF], bias [outF] or null, out [rows, outF].
void linear(const float* x, const float* w, const float* bias, Act act, int64_t rows, int64_t inF, int64_t outF,
            float* out);
// Its VJP from g [rows, outF] and the output y (read only when act != None): with ga = g·act'(y),
// db = dbBeta·db + Σ_rows ga, dw = dwBeta·dw + gaᵀ·x, dx = ga·W. dx, dw and db may be null.
void linearBackward(const float* g, const float* y, Act act, const float* x, const float* w, int64_t rows,
                    int64_t inF, int64_t outF, float* dx, float* dw, float dwBeta, float* db, float dbBeta);
// Where linear splits a layer of outF outputs when it runs on two threads: the helper thread owns W's
// rows (and the output's columns) from there on. sgdStep splits a parameter's update there too.
int64_t columnSplit(int64_t outF);

// ---- elementwise.cc --------------------------------------------------------------------------
// The op lists of lib/backend/catalogue.ts (the same names; a test checks it): X(Enum, name).
#define TG_UNARY_OPS(X)                                                                                \
  X(Exp, exp) X(Log, log) X(Sqrt, sqrt) X(Abs, abs) X(Sigmoid, sigmoid) X(Tanh, tanh) X(Relu, relu) \
  X(Sign, sign) X(Pow, pow) X(Clamp, clamp) X(Affine, affine) X(Sin, sin) X(Cos, cos) X(Log1p, log1p)    \
  X(Expm1, expm1) X(Erf, erf) X(Gelu, gelu) X(GeluTanh, geluTanh) X(Softplus, softplus)
#define TG_BINARY_OPS(X)                                                                  \
  X(Add, add) X(Sub, sub) X(Mul, mul) X(Div, div) X(Maximum, maximum) X(Eq, eq) X(Gt, gt) \
  X(Lt, lt) X(ReluGrad, reluGrad) X(SigmoidGrad, sigmoidGrad) X(TanhGrad, tanhGrad) X(GeluGrad, geluGrad) \
  X(GeluTanhGrad, geluTanhGrad)
#define TG_REDUCE_OPS(X) X(Sum, sum) X(Max, max)

enum class Unary { TG_UNARY_OPS(TG_ENUM_VALUE) };
enum class Binary { TG_BINARY_OPS(TG_ENUM_VALUE) };

void unary(Unary op, const float* x, float* out, int64_t n, double p0, double p1);

// Broadcasting binary op. aShape/bShape are right-aligned against outShape (rank <= out rank,
// each dim 1 or equal to the out dim; the addon checks this).
void binary(Binary op, const float* a, const std::vector<int64_t>& aShape, const float* b,
            const std::vector<int64_t>& bShape, float* out, const std::vector<int64_t>& outShape);
// binary on two runs of n floats (same shape, no broadcasting): the same arithmetic.
void binaryRun(Binary op, const float* a, const float* b, float* out, int64_t n);

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
enum class Reduce { TG_REDUCE_OPS(TG_ENUM_VALUE) };

void reduce(Reduce op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out);
// out[j] = Σ_i x[i·cols + j]: the column sums of [rows, cols], in double (reduce's sum over axis 0).
void columnSums(const float* x, int64_t rows, int64_t cols, float* out);
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

// ---- norm.cc ---------------------------------------------------------------------------------
// x is [n, c, l]; statistics per channel. weight/bias may be null (1 and 0).
void batchNorm(const float* x, int64_t n, int64_t c, int64_t l, const float* weight, const float* bias, double eps,
               float* out, float* mean, float* var);
// Any of dx, dweight, dbias may be null (not computed).
void batchNormBackward(const float* x, const float* g, int64_t n, int64_t c, int64_t l, const float* mean,
                       const float* var, double eps, const float* weight, float* dx, float* dweight, float* dbias);
// x is [rows, cols]; statistics per row, weight/bias (cols elements) may be null.
void layerNorm(const float* x, int64_t rows, int64_t cols, const float* weight, const float* bias, double eps,
               float* out, float* mean, float* var);
void layerNormBackward(const float* x, const float* g, int64_t rows, int64_t cols, const float* mean,
                       const float* var, double eps, const float* weight, float* dx, float* dweight, float* dbias);
// Inverted dropout drawing from the xoshiro128** state (4 words, updated in place); mask may be null.
void dropout(const float* x, int64_t len, double p, uint32_t state[4], float* out, float* mask);

// ---- optim.cc --------------------------------------------------------------------------------
// The option objects of lib/backend/catalogue.ts.
struct SgdOptions {
  double lr = 0, momentum = 0, dampening = 0, weightDecay = 0;
  bool nesterov = false;
};
struct AdamOptions {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weightDecay = 0;
  bool decoupled = false;
};
// With split in (0, n) and 2+ OpenBLAS threads, [split, n) runs on runParts' helper at the same time.
void sgdStep(float* param, const float* grad, float* buf, bool first, int64_t n, const SgdOptions& o,
             int64_t split = 0);
void adamStep(float* param, const float* grad, float* m, float* v, int64_t n, double step, const AdamOptions& o,
              int64_t split = 0);

}  // namespace tg
