// A linear layer, y = act(x·Wᵀ + b), and its VJP as one kernel each.
//
// With two OpenBLAS threads a mid-sized layer is split by its output columns (tensor parallelism):
// the helper thread (runParts) computes y[:, h:], the bias gradient, dW[h:] and its share of dX from
// W[h:] alone, the caller's thread the rest, and sgdStep updates W[h:] on the helper too. Each core
// then reads and writes only its own rows of W for the whole step. The alternatives (each gemm on both
// cores, or dX on one core and dW on the other) make both cores read all of W, and the update then
// invalidates the other core's copy line by line: measured on the 2-core Zen 5 VM, sgdStep over
// 1.6 MB of W took 192 µs after the other core had read W against 44 µs when it had not (the
// sgdStep row of npm run bench:threads).
// dX = Σ_c ga[:, c]·W[c] is the one sum split across the cores: the helper's share is added after.
#include <cstring>
#include <vector>

#include "blaslock.h"
#include "kernels.h"

namespace tg {
namespace {

enum class Plan { One, Columns, Rows, Blas };

// Measured per shape (bench/threads.mjs, bench/README.md "Two threads"): below kTwoThreadWork one
// thread; from 2²⁸ OpenBLAS's own threads do best; between, split the columns when each half keeps
// whole cache lines of at least 16 floats, else the rows.
Plan planFor(int64_t rows, int64_t inF, int64_t outF) {
  const double work = double(rows) * double(inF) * double(outF);
  if (work < kTwoThreadWork || blasThreads() < 2) return Plan::One;
  if (work >= 268435456.0) return Plan::Blas;
  if (outF >= 32) return Plan::Columns;
  return rows >= 32 ? Plan::Rows : Plan::One;
}

Unary unaryOf(Act a) { return a == Act::Relu ? Unary::Relu : a == Act::Sigmoid ? Unary::Sigmoid : Unary::Tanh; }
Binary gradOf(Act a) {
  return a == Act::Relu ? Binary::ReluGrad : a == Act::Sigmoid ? Binary::SigmoidGrad : Binary::TanhGrad;
}

// Scratch of the calling thread, kept between calls (a step reuses it).
float* scratch(std::vector<float>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}
thread_local std::vector<float> gaScratch, dxScratch, yScratch;

// Rows [r0, r1) of the forward: bias rows, one gemm accumulating onto them, the activation in place.
void forwardRows(const float* x, const float* w, const float* bias, Act act, int64_t r0, int64_t r1, int64_t inF,
                 int64_t outF, float* out, bool locked) {
  float* o = out + r0 * outF;
  const int64_t n = r1 - r0;
  if (bias)
    for (int64_t r = 0; r < n; ++r) std::memcpy(o + r * outF, bias, sizeof(float) * static_cast<size_t>(outF));
  GemmOptions g;
  g.transB = true;
  g.m = n, g.n = outF, g.k = inF, g.beta = bias ? 1.0f : 0.0f;
  if (locked) gemmUnlocked(g, x + r0 * inF, w, o);
  else gemm(g, x + r0 * inF, w, o);
  if (act != Act::None) unary(unaryOf(act), o, o, n * outF, 0, 0);
}

// db = dbBeta·db + the column sums of ga [rows, cols]
void biasGrad(const float* ga, int64_t rows, int64_t cols, float* db, float dbBeta) {
  if (dbBeta == 0.0f) return columnSums(ga, rows, cols, db);
  std::vector<float> s(static_cast<size_t>(cols));
  columnSums(ga, rows, cols, s.data());
  for (int64_t j = 0; j < cols; ++j) db[j] = dbBeta * db[j] + s[j];
}

}  // namespace

int64_t columnSplit(int64_t outF) { return (outF / 2 + 8) / 16 * 16; }

void linear(const float* x, const float* w, const float* bias, Act act, int64_t rows, int64_t inF, int64_t outF,
            float* out) {
  if (rows == 0 || outF == 0) return;
  switch (planFor(rows, inF, outF)) {
    case Plan::Columns: {
      // Each part computes its columns into a dense block of scratch, then copies them into out with
      // the activation: two threads writing the two halves of out's rows directly (ldc = outF) took
      // 355 µs against 300 for mlp's first layer (128·256·784 each; 2-core Zen 5 VM).
      const int64_t h = columnSplit(outF);
      float* blocks = scratch(yScratch, rows * outF);
      return runParts([&](int p) {
        const int64_t c0 = p ? h : 0, width = p ? outF - h : h;
        float* blk = blocks + rows * c0;
        if (bias)
          for (int64_t r = 0; r < rows; ++r)
            std::memcpy(blk + r * width, bias + c0, sizeof(float) * static_cast<size_t>(width));
        GemmOptions g;
        g.transB = true;
        g.m = rows, g.n = width, g.k = inF, g.beta = bias ? 1.0f : 0.0f;
        gemmUnlocked(g, x, w + c0 * inF, blk);
        for (int64_t r = 0; r < rows; ++r) {
          float* o = out + r * outF + c0;
          if (act == Act::None) std::memcpy(o, blk + r * width, sizeof(float) * static_cast<size_t>(width));
          else unary(unaryOf(act), blk + r * width, o, width, 0, 0);
        }
      });
    }
    case Plan::Rows: {
      const int64_t h = rows / 2;
      return runParts([&](int p) { forwardRows(x, w, bias, act, p ? h : 0, p ? rows : h, inF, outF, out, true); });
    }
    default: return forwardRows(x, w, bias, act, 0, rows, inF, outF, out, false);
  }
}

void linearBackward(const float* g, const float* y, Act act, const float* x, const float* w, int64_t rows,
                    int64_t inF, int64_t outF, float* dx, float* dw, float dwBeta, float* db, float dbBeta) {
  const Plan plan = planFor(rows, inF, outF);
  GemmOptions gw, gx;  // dW = gaᵀ·x, dX = ga·W (the caller's thread writes dX)
  gw.transA = true, gw.m = outF, gw.n = inF, gw.k = rows, gw.beta = dwBeta;
  gx.m = rows, gx.n = inF, gx.k = outF;
  if (plan == Plan::Columns) {
    const int64_t h = columnSplit(outF);
    float* part = dx ? scratch(dxScratch, rows * inF) : nullptr;
    // ga's columns of each part go to a dense block of scratch (the forward's reason)
    float* blocks = scratch(gaScratch, rows * outF);
    runParts([&](int p) {
      const int64_t c0 = p ? h : 0, width = p ? outF - h : h;
      float* gs = blocks + rows * c0;
      for (int64_t r = 0; r < rows; ++r) {
        if (act == Act::None) std::memcpy(gs + r * width, g + r * outF + c0, sizeof(float) * static_cast<size_t>(width));
        else binaryRun(gradOf(act), y + r * outF + c0, g + r * outF + c0, gs + r * width, width);
      }
      if (db) biasGrad(gs, rows, width, db + c0, dbBeta);
      if (dw) {
        GemmOptions o = gw;
        o.m = width;
        gemmUnlocked(o, gs, x, dw + c0 * inF);
      }
      if (dx) {
        GemmOptions o = gx;
        o.k = width;
        gemmUnlocked(o, gs, w + c0 * inF, p ? part : dx);
      }
    });
    if (dx)
      for (int64_t i = 0; i < rows * inF; ++i) dx[i] += part[i];
    return;
  }
  float* ga = act == Act::None ? nullptr : scratch(gaScratch, rows * outF);
  if (ga) binaryRun(gradOf(act), y, g, ga, rows * outF);
  const float* gs = ga ? ga : g;
  if (db) biasGrad(gs, rows, outF, db, dbBeta);
  if (dx && dw && plan != Plan::One) return gemmPair(gx, gs, w, dx, gw, gs, x, dw);
  if (dw) gemm(gw, gs, x, dw);
  if (dx) gemm(gx, gs, w, dx);
}

}  // namespace tg
