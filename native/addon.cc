// Node-API entry points of the tapegrad native backend: one function per kernel of the catalogue
// (lib/backend/catalogue.ts), each validating its arguments with Args (args.cc) before it calls the
// kernel (gemm.cc / elementwise.cc / reduce.cc / loss.cc / norm.cc / optim.cc) on the typed arrays' memory
// (with byteOffset, zero copy). No input from JS may crash the process.
//
// Built without C++ exceptions (NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS): a check that fails throws
// the JS exception and returns false; the entry point returns at once.
//
// Context-aware: loads in any number of worker_threads. The only process-wide state is OpenBLAS's
// thread count.
#include <cblas.h>
#ifdef __linux__
#include <sched.h>
#endif

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "args.h"
#include "kernels.h"

extern "C" {
// Declared in OpenBLAS's cblas.h on most distributions; repeated here for builds whose header lacks them.
char* openblas_get_config(void);
char* openblas_get_corename(void);
// libuv, exported by node itself (not every header set ships uv.h).
struct uv_loop_s* uv_default_loop(void);
}

namespace tg {
namespace {

constexpr int kMaxThreads = 1024;

#define TG_ENUM_NAME(e, name) #name,
const char* const kUnaryNames[] = {TG_UNARY_OPS(TG_ENUM_NAME)};
const char* const kBinaryNames[] = {TG_BINARY_OPS(TG_ENUM_NAME)};
const char* const kReduceNames[] = {TG_REDUCE_OPS(TG_ENUM_NAME)};
const char* const kActNames[] = {TG_ACT_OPS(TG_ENUM_NAME)};
const OpNames kUnaryOps{kUnaryNames, sizeof kUnaryNames / sizeof *kUnaryNames};
const OpNames kBinaryOps{kBinaryNames, sizeof kBinaryNames / sizeof *kBinaryNames};
const OpNames kReduceOps{kReduceNames, sizeof kReduceNames / sizeof *kReduceNames};
const OpNames kActOps{kActNames, sizeof kActNames / sizeof *kActNames};

#define REQUIRE(expr)                        \
  do {                                       \
    if (!(expr)) return A.env().Undefined(); \
  } while (0)

// ---- gemm: shared by the sync and async entry points -------------------------------------------

struct GemmCall {
  GemmOptions o;
  F32 a, b, c;
};

// The argument names of one gemm's arguments; gemmPair's second product has its own (suffix 2).
struct GemmNames {
  const char *transA, *transB, *m, *n, *k, *alpha, *a, *b, *beta, *c;
};
constexpr GemmNames kGemmNames{"transA", "transB", "m", "n", "k", "alpha", "a", "b", "beta", "c"};
constexpr GemmNames kGemmNames2{"transA2", "transB2", "m2", "n2", "k2", "alpha2", "a2", "b2", "beta2", "c2"};

// The elements of a, b and c a parsed call touches (0: not touched).
struct GemmNeed {
  int64_t a = 0, b = 0, c = 0;
};

// (transA, transB, m, n, k, alpha, a, b, beta, c) at arguments base..base+9, then, when `batched`,
// (batch?, strideA?, strideB?, strideC?).
bool parseGemmAt(Args& A, size_t base, const GemmNames& nm, bool batched, GemmCall* g, GemmNeed* need) {
  GemmOptions& o = g->o;
  double alpha = 1, beta = 0;
  if (!A.boolean(base, nm.transA, &o.transA) || !A.boolean(base + 1, nm.transB, &o.transB)) return false;
  if (!A.dim(base + 2, nm.m, &o.m) || !A.dim(base + 3, nm.n, &o.n) || !A.dim(base + 4, nm.k, &o.k)) return false;
  if (!A.number(base + 5, nm.alpha, &alpha)) return false;
  if (!A.f32(base + 6, nm.a, &g->a) || !A.f32(base + 7, nm.b, &g->b)) return false;
  if (!A.number(base + 8, nm.beta, &beta)) return false;
  if (!A.f32(base + 9, nm.c, &g->c)) return false;
  o.alpha = static_cast<float>(alpha);
  o.beta = static_cast<float>(beta);
  int64_t mk = 0, kn = 0, mn = 0;
  if (!A.product(o.m, o.k, "m*k", &mk) || !A.product(o.k, o.n, "k*n", &kn) || !A.product(o.m, o.n, "m*n", &mn))
    return false;
  o.strideA = mk, o.strideB = kn, o.strideC = mn;
  if (batched && (!A.optDim(base + 10, "batch", &o.batch, 1) || !A.optDim(base + 11, "strideA", &o.strideA, mk) ||
                  !A.optDim(base + 12, "strideB", &o.strideB, kn) || !A.optDim(base + 13, "strideC", &o.strideC, mn)))
    return false;
  if (o.batch == 0 || mn == 0) return true;  // nothing is touched
  // Elements touched: (batch-1)*stride + size; every factor <= 2^31-1, so this fits in int64.
  const int64_t last = o.batch - 1;
  need->a = mk == 0 ? 0 : last * o.strideA + mk;
  need->b = kn == 0 ? 0 : last * o.strideB + kn;
  need->c = last * o.strideC + mn;
  const bool many = o.batch > 1;
  if (!A.length(g->a, nm.a, need->a, many ? "(batch-1)*strideA + m*k" : "m*k")) return false;
  if (!A.length(g->b, nm.b, need->b, many ? "(batch-1)*strideB + k*n" : "k*n")) return false;
  if (!A.length(g->c, nm.c, need->c, many ? "(batch-1)*strideC + m*n" : "m*n")) return false;
  // BLAS reads A and B while writing C: an overlap gives garbage, so refuse it.
  return A.disjoint(g->c, need->c, nm.c, g->a, need->a, nm.a) && A.disjoint(g->c, need->c, nm.c, g->b, need->b, nm.b);
}

// (transA, transB, m, n, k, alpha, a, b, beta, c, batch?, strideA?, strideB?, strideC?)
bool parseGemm(Args& A, GemmCall* g) {
  GemmNeed need;
  return A.count(10, 14) && parseGemmAt(A, 0, kGemmNames, true, g, &need);
}

// A strong reference released without throwing (node-addon-api's Reference throws on failure).
class RawRef {
 public:
  RawRef(napi_env env, napi_value v) : env_(env) {
    if (napi_create_reference(env, v, 1, &ref_) != napi_ok) ref_ = nullptr;
  }
  ~RawRef() {
    if (ref_ != nullptr) napi_delete_reference(env_, ref_);
  }
  RawRef(const RawRef&) = delete;
  RawRef& operator=(const RawRef&) = delete;
  operator napi_ref() const { return ref_; }

 private:
  napi_env env_;
  napi_ref ref_ = nullptr;
};

// Runs sgemm on the libuv thread pool on private copies of a, b and c, taken on the main thread:
// Node-API cannot pin a typed array's memory, and a buffer transferred (and then collected) while
// the work runs would otherwise be freed under the kernel. The result is copied back into c on the
// main thread, and the promise rejects if c was detached or resized meanwhile. The copies cost
// O(n²) next to the O(n³) product.
class GemmWorker : public Napi::AsyncWorker {
 public:
  GemmWorker(Napi::Env env, const GemmCall& call)
      : Napi::AsyncWorker(env, "tapegrad.gemmAsync"),
        call_(call),
        a_(call.a.p, call.a.p + call.a.n),
        b_(call.b.p, call.b.p + call.b.n),
        c_(call.c.p, call.c.p + call.c.n),
        cLength_(call.c.n),
        refC_(env, call.c.value) {
    if (napi_create_promise(env, &deferred_, &promise_) != napi_ok) deferred_ = nullptr;
  }
  // nullptr (with a JS exception pending) when the promise could not be created.
  napi_value Promise() const { return deferred_ ? promise_ : nullptr; }

 protected:
  void Execute() override { gemm(call_.o, a_.data(), b_.data(), c_.data()); }

  // Replaces node-addon-api's OnWorkComplete (which calls OnOK/OnError and throws on any failed
  // napi call). When the worker thread that queued this is being terminated (worker.terminate(),
  // process.exit() in the worker), the completion still runs but JS can no longer run there:
  // napi_resolve_deferred then fails with napi_pending_exception, and throwing that (node-addon-api's
  // default) is a fatal error for the whole process. So: plain napi calls, every status checked, no
  // throw; a promise that cannot be settled is dropped with its env.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    napi_handle_scope scope = nullptr;
    if (status != napi_cancelled && napi_open_handle_scope(env, &scope) == napi_ok) {
      settle(env);
      napi_close_handle_scope(env, scope);
    }
    Destroy();
  }

 private:
  void settle(napi_env env) {
    napi_value c = nullptr;
    napi_typedarray_type t;
    size_t len = 0;
    void* data = nullptr;
    napi_value ab = nullptr;
    size_t off = 0;
    const bool ok = napi_get_reference_value(env, refC_, &c) == napi_ok && c != nullptr &&
                    napi_get_typedarray_info(env, c, &t, &len, &data, &ab, &off) == napi_ok;
    if (!ok || (data == nullptr && cLength_ > 0) || static_cast<int64_t>(len) != cLength_) {
      napi_value msg = nullptr, err = nullptr;
      if (napi_create_string_utf8(env, "gemmAsync: argument 'c' was detached or resized before the result could be written",
                                  NAPI_AUTO_LENGTH, &msg) == napi_ok &&
          napi_create_type_error(env, nullptr, msg, &err) == napi_ok)
        napi_reject_deferred(env, deferred_, err);
      return;
    }
    if (cLength_ > 0) std::memcpy(data, c_.data(), sizeof(float) * static_cast<size_t>(cLength_));
    napi_value undef = nullptr;
    if (napi_get_undefined(env, &undef) == napi_ok) napi_resolve_deferred(env, deferred_, undef);
  }

  GemmCall call_;
  std::vector<float> a_, b_, c_;
  int64_t cLength_;
  RawRef refC_;
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
};

int availableCores() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const unsigned h = std::thread::hardware_concurrency();
  return h > 0 ? int(h) : 1;
}

// ---- entry points, one per kernel (arguments as in catalogue.ts) --------------------------------

Napi::Value Gemm(Args& A) {
  GemmCall g;
  REQUIRE(parseGemm(A, &g));
  gemm(g.o, g.a.p, g.b.p, g.c.p);
  return A.env().Undefined();
}

// (the 10 arguments of an unbatched gemm, twice)
Napi::Value GemmPair(Args& A) {
  GemmCall g1, g2;
  GemmNeed n1, n2;
  REQUIRE(A.count(20, 20) && parseGemmAt(A, 0, kGemmNames, false, &g1, &n1) &&
          parseGemmAt(A, 10, kGemmNames2, false, &g2, &n2));
  // Each output is written while the other product runs: it may overlap nothing the other touches.
  REQUIRE(A.disjoint(g1.c, n1.c, "c", g2.c, n2.c, "c2") && A.disjoint(g1.c, n1.c, "c", g2.a, n2.a, "a2") &&
          A.disjoint(g1.c, n1.c, "c", g2.b, n2.b, "b2") && A.disjoint(g2.c, n2.c, "c2", g1.a, n1.a, "a") &&
          A.disjoint(g2.c, n2.c, "c2", g1.b, n1.b, "b"));
  gemmPair(g1.o, g1.a.p, g1.b.p, g1.c.p, g2.o, g2.a.p, g2.b.p, g2.c.p);
  return A.env().Undefined();
}

// Returns a Promise<void>; bad arguments reject it.
Napi::Value GemmAsync(Args& A) {
  Napi::Env env = A.env();
  GemmCall g;
  if (!parseGemm(A, &g)) {
    Napi::Error err = env.GetAndClearPendingException();
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(err.Value());
    return d.Promise();
  }
  auto* w = new GemmWorker(env, g);
  napi_value p = w->Promise();
  if (p == nullptr) {
    delete w;
    A.typeError("could not create a promise");
    return env.Undefined();
  }
  w->Queue();
  return Napi::Value(env, p);
}

// (op, x, out, p0?, p1?)
Napi::Value UnaryEntry(Args& A) {
  REQUIRE(A.count(3, 5));
  int op = 0;
  F32 x, out;
  REQUIRE(A.op(0, kUnaryOps, &op) && A.f32(1, "x", &x) && A.f32(2, "out", &out));
  REQUIRE(A.length(out, "out", x.n, "x.length"));
  const Unary u = static_cast<Unary>(op);
  double p0 = 0, p1 = 0;
  const bool two = u == Unary::Clamp || u == Unary::Affine || u == Unary::Softplus;
  if (two || u == Unary::Pow) REQUIRE(A.number(3, "p0", &p0));
  if (two) REQUIRE(A.number(4, "p1", &p1));
  unary(u, x.p, out.p, x.n, p0, p1);
  return A.env().Undefined();
}

bool broadcastsTo(Args& A, int op, const char* which, const Shape& s, const Shape& as, const Shape& bs,
                  const Shape& os) {
  if (Args::broadcasts(s, os)) return true;
  return A.rangeError("(%s) %s: shapes %s and %s do not broadcast to outShape %s", kBinaryNames[op], which,
                      Args::shapeString(as).c_str(), Args::shapeString(bs).c_str(), Args::shapeString(os).c_str());
}

// (op, a, aShape, b, bShape, out, outShape)
Napi::Value BinaryEntry(Args& A) {
  REQUIRE(A.count(7, 7));
  int op = 0;
  F32 a, b, out;
  Shape as, bs, os;
  int64_t an = 0, bn = 0, on = 0;
  REQUIRE(A.op(0, kBinaryOps, &op));
  REQUIRE(A.shape(2, "aShape", &as, &an) && A.shape(4, "bShape", &bs, &bn) && A.shape(6, "outShape", &os, &on));
  REQUIRE(A.f32(1, "a", &a) && A.f32(3, "b", &b) && A.f32(5, "out", &out));
  REQUIRE(broadcastsTo(A, op, "aShape", as, as, bs, os) && broadcastsTo(A, op, "bShape", bs, as, bs, os));
  REQUIRE(A.length(a, "a", an, "product of aShape") && A.length(b, "b", bn, "product of bShape") &&
          A.length(out, "out", on, "product of outShape"));
  binary(static_cast<Binary>(op), a.p, as, b.p, bs, out.p, os);
  return A.env().Undefined();
}

// (op, x, outer, n, inner, out)
Napi::Value ReduceEntry(Args& A) {
  REQUIRE(A.count(6, 6));
  int op = 0;
  F32 x, out;
  int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0;
  REQUIRE(A.op(0, kReduceOps, &op) && A.f32(1, "x", &x) && A.axis(2, &outer, &n, &inner, &total, &oi) &&
          A.f32(5, "out", &out));
  REQUIRE(A.length(x, "x", total, "outer*n*inner") && A.length(out, "out", oi, "outer*inner"));
  reduce(static_cast<Reduce>(op), x.p, outer, n, inner, out.p);
  return A.env().Undefined();
}

// (x, outer, n, inner, out: Int32Array)
Napi::Value Argmax(Args& A) {
  REQUIRE(A.count(5, 5));
  F32 x;
  I32 out;
  int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0;
  REQUIRE(A.f32(0, "x", &x) && A.axis(1, &outer, &n, &inner, &total, &oi) && A.i32(4, "out", &out));
  REQUIRE(A.length(x, "x", total, "outer*n*inner") && A.length(out, "out", oi, "outer*inner"));
  if (n == 0 && oi > 0) REQUIRE(A.rangeError("argument 'n' is 0: argmax of an empty axis"));
  argmax(x.p, outer, n, inner, out.p);
  return A.env().Undefined();
}

// (x, xShape, out, outShape)
Napi::Value SumTo(Args& A) {
  REQUIRE(A.count(4, 4));
  F32 x, out;
  Shape xs, os;
  int64_t xn = 0, on = 0;
  REQUIRE(A.shape(1, "xShape", &xs, &xn) && A.shape(3, "outShape", &os, &on));
  REQUIRE(A.f32(0, "x", &x) && A.f32(2, "out", &out));
  if (!Args::broadcasts(os, xs))
    REQUIRE(A.rangeError("argument 'outShape' %s does not broadcast to xShape %s", Args::shapeString(os).c_str(),
                         Args::shapeString(xs).c_str()));
  REQUIRE(A.length(x, "x", xn, "product of xShape") && A.length(out, "out", on, "product of outShape"));
  sumTo(x.p, xs, out.p, os);
  return A.env().Undefined();
}

// (x, outer, n, inner, out, log)
Napi::Value Softmax(Args& A) {
  REQUIRE(A.count(6, 6));
  F32 x, out;
  bool log = false;
  int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0;
  REQUIRE(A.f32(0, "x", &x) && A.axis(1, &outer, &n, &inner, &total, &oi) && A.f32(4, "out", &out) &&
          A.boolean(5, "log", &log));
  REQUIRE(A.length(x, "x", total, "outer*n*inner") && A.length(out, "out", total, "outer*n*inner"));
  softmax(x.p, outer, n, inner, out.p, log);
  return A.env().Undefined();
}

// The shared part of crossEntropy(logits, labels, rows, classes, probs) and
// crossEntropyBackward(probs, labels, rows, classes, scale, out): `in` is argument 0, `out` the last.
bool parseLoss(Args& A, const char* inName, const char* outName, size_t outAt, F32* in, I32* labels, int64_t* rows,
               int64_t* classes, F32* out) {
  int64_t total = 0;
  return A.count(outAt + 1, outAt + 1) && A.f32(0, inName, in) && A.i32(1, "labels", labels) &&
         A.dim(2, "rows", rows) && A.dim(3, "classes", classes) && A.f32(outAt, outName, out) &&
         A.product(*rows, *classes, "rows*classes", &total) && A.length(*in, inName, total, "rows*classes") &&
         A.length(*labels, "labels", *rows, "rows") && A.length(*out, outName, total, "rows*classes") &&
         A.indices(labels, *rows, *classes, "labels");
}

Napi::Value CrossEntropy(Args& A) {
  F32 logits, probs;
  I32 labels;
  int64_t rows = 0, classes = 0;
  REQUIRE(parseLoss(A, "logits", "probs", 4, &logits, &labels, &rows, &classes, &probs));
  return Napi::Number::New(A.env(), crossEntropy(logits.p, labels.p, rows, classes, probs.p));
}

Napi::Value CrossEntropyBackward(Args& A) {
  F32 probs, out;
  I32 labels;
  int64_t rows = 0, classes = 0;
  double scale = 0;
  REQUIRE(parseLoss(A, "probs", "out", 5, &probs, &labels, &rows, &classes, &out) && A.number(4, "scale", &scale));
  crossEntropyBackward(probs.p, labels.p, rows, classes, scale, out.p);
  return A.env().Undefined();
}

// The shared part of indexSelect(x, outer, n, inner, idx, out) and indexAdd(g, outer, n, inner, idx, out):
// `dense` has outer*n*inner elements, `picked` outer*idx.length*inner.
struct IndexCall {
  F32 src, out;
  I32 idx;
  int64_t outer = 0, n = 0, inner = 0, dense = 0, picked = 0;
};
bool parseIndex(Args& A, const char* srcName, bool srcIsDense, IndexCall* c) {
  int64_t oi = 0;
  if (!A.count(6, 6) || !A.f32(0, srcName, &c->src) || !A.axis(1, &c->outer, &c->n, &c->inner, &c->dense, &oi) ||
      !A.i32(4, "idx", &c->idx) || !A.f32(5, "out", &c->out) ||
      !A.product(oi, c->idx.n, "outer*idx.length*inner", &c->picked))
    return false;
  const char* dense = "outer*n*inner";
  const char* picked = "outer*idx.length*inner";
  if (!A.length(c->src, srcName, srcIsDense ? c->dense : c->picked, srcIsDense ? dense : picked) ||
      !A.length(c->out, "out", srcIsDense ? c->picked : c->dense, srcIsDense ? picked : dense))
    return false;
  return c->picked == 0 || A.indices(&c->idx, c->idx.n, c->n, "idx");
}

Napi::Value IndexSelect(Args& A) {
  IndexCall c;
  REQUIRE(parseIndex(A, "x", true, &c) && A.disjoint(c.out, c.picked, "out", c.src, c.dense, "x"));
  if (c.picked > 0) indexSelect(c.src.p, c.outer, c.n, c.inner, c.idx.p, c.idx.n, c.out.p);
  return A.env().Undefined();
}

Napi::Value IndexAdd(Args& A) {
  IndexCall c;
  REQUIRE(parseIndex(A, "g", false, &c));
  if (c.picked > 0) indexAdd(c.src.p, c.outer, c.n, c.inner, c.idx.p, c.idx.n, c.out.p);
  return A.env().Undefined();
}

// (x, shape, perm, out)
Napi::Value Permute(Args& A) {
  REQUIRE(A.count(4, 4));
  F32 x, out;
  Shape shape, perm;
  int64_t total = 0, ignored = 0;
  REQUIRE(A.shape(1, "shape", &shape, &total) && A.shape(2, "perm", &perm, &ignored));
  REQUIRE(A.f32(0, "x", &x) && A.f32(3, "out", &out));
  // perm's entries are integers in [0, 2^31-1] but its "product" is meaningless (0 is valid).
  std::vector<bool> seen(shape.size(), false);
  bool ok = perm.size() == shape.size();
  for (size_t i = 0; ok && i < perm.size(); ++i) {
    ok = perm[i] < int64_t(shape.size()) && !seen[size_t(perm[i])];
    if (ok) seen[size_t(perm[i])] = true;
  }
  if (!ok)
    REQUIRE(A.rangeError("argument 'perm' %s is not a permutation of the %zu axes of shape %s",
                         Args::shapeString(perm).c_str(), shape.size(), Args::shapeString(shape).c_str()));
  REQUIRE(A.length(x, "x", total, "product of shape") && A.length(out, "out", total, "product of shape"));
  REQUIRE(A.disjoint(out, total, "out", x, total, "x"));
  permute(x.p, shape, perm, out.p);
  return A.env().Undefined();
}

// ---- normalization and dropout ------------------------------------------------------------------

// eps must be a finite number >= 0 (a negative one could make var + eps 0 or negative: NaN, not a crash,
// but never what the caller meant).
bool parseEps(Args& A, size_t i, double* eps) {
  if (!A.number(i, "eps", eps)) return false;
  if (std::isfinite(*eps) && *eps >= 0) return true;
  return A.rangeError("argument 'eps' must be a finite number >= 0, got %g", *eps);
}

// Optional (null) arrays must have at least `need` elements when given.
bool optLength(Args& A, const F32& a, const char* name, int64_t need, const char* why) {
  return a.p == nullptr || A.length(a, name, need, why);
}

// (x, n, c, l, weight|null, bias|null, eps, out, mean, var)
Napi::Value BatchNormEntry(Args& A) {
  REQUIRE(A.count(10, 10));
  int64_t n = 0, c = 0, l = 0, total = 0;
  double eps = 0;
  F32 x, w, b, out, mean, var;
  REQUIRE(A.dim(1, "n", &n) && A.dim(2, "c", &c) && A.dim(3, "l", &l) && A.product3(n, c, l, "n*c*l", &total) &&
          parseEps(A, 6, &eps));
  REQUIRE(A.f32(0, "x", &x) && A.f32(4, "weight", &w, true) && A.f32(5, "bias", &b, true) && A.f32(7, "out", &out) &&
          A.f32(8, "mean", &mean) && A.f32(9, "var", &var));
  REQUIRE(A.length(x, "x", total, "n*c*l") && A.length(out, "out", total, "n*c*l") && optLength(A, w, "weight", c, "c") &&
          optLength(A, b, "bias", c, "c") && A.length(mean, "mean", c, "c") && A.length(var, "var", c, "c"));
  batchNorm(x.p, n, c, l, w.p, b.p, eps, out.p, mean.p, var.p);
  return A.env().Undefined();
}

// (x, g, n, c, l, mean, var, eps, weight|null, dx|null, dweight|null, dbias|null)
Napi::Value BatchNormBackwardEntry(Args& A) {
  REQUIRE(A.count(12, 12));
  int64_t n = 0, c = 0, l = 0, total = 0;
  double eps = 0;
  F32 x, g, mean, var, w, dx, dw, db;
  REQUIRE(A.dim(2, "n", &n) && A.dim(3, "c", &c) && A.dim(4, "l", &l) && A.product3(n, c, l, "n*c*l", &total) &&
          parseEps(A, 7, &eps));
  REQUIRE(A.f32(0, "x", &x) && A.f32(1, "g", &g) && A.f32(5, "mean", &mean) && A.f32(6, "var", &var) &&
          A.f32(8, "weight", &w, true) && A.f32(9, "dx", &dx, true) && A.f32(10, "dweight", &dw, true) &&
          A.f32(11, "dbias", &db, true));
  REQUIRE(A.length(x, "x", total, "n*c*l") && A.length(g, "g", total, "n*c*l") && A.length(mean, "mean", c, "c") &&
          A.length(var, "var", c, "c") && optLength(A, w, "weight", c, "c") && optLength(A, dx, "dx", total, "n*c*l") &&
          optLength(A, dw, "dweight", c, "c") && optLength(A, db, "dbias", c, "c"));
  batchNormBackward(x.p, g.p, n, c, l, mean.p, var.p, eps, w.p, dx.p, dw.p, db.p);
  return A.env().Undefined();
}

// (x, rows, cols, weight|null, bias|null, eps, out, mean, var)
Napi::Value LayerNormEntry(Args& A) {
  REQUIRE(A.count(9, 9));
  int64_t rows = 0, cols = 0, total = 0;
  double eps = 0;
  F32 x, w, b, out, mean, var;
  REQUIRE(A.dim(1, "rows", &rows) && A.dim(2, "cols", &cols) && A.product(rows, cols, "rows*cols", &total) &&
          parseEps(A, 5, &eps));
  REQUIRE(A.f32(0, "x", &x) && A.f32(3, "weight", &w, true) && A.f32(4, "bias", &b, true) && A.f32(6, "out", &out) &&
          A.f32(7, "mean", &mean) && A.f32(8, "var", &var));
  REQUIRE(A.length(x, "x", total, "rows*cols") && A.length(out, "out", total, "rows*cols") &&
          optLength(A, w, "weight", cols, "cols") && optLength(A, b, "bias", cols, "cols") &&
          A.length(mean, "mean", rows, "rows") && A.length(var, "var", rows, "rows"));
  layerNorm(x.p, rows, cols, w.p, b.p, eps, out.p, mean.p, var.p);
  return A.env().Undefined();
}

// (x, g, rows, cols, mean, var, eps, weight|null, dx|null, dweight|null, dbias|null)
Napi::Value LayerNormBackwardEntry(Args& A) {
  REQUIRE(A.count(11, 11));
  int64_t rows = 0, cols = 0, total = 0;
  double eps = 0;
  F32 x, g, mean, var, w, dx, dw, db;
  REQUIRE(A.dim(2, "rows", &rows) && A.dim(3, "cols", &cols) && A.product(rows, cols, "rows*cols", &total) &&
          parseEps(A, 6, &eps));
  REQUIRE(A.f32(0, "x", &x) && A.f32(1, "g", &g) && A.f32(4, "mean", &mean) && A.f32(5, "var", &var) &&
          A.f32(7, "weight", &w, true) && A.f32(8, "dx", &dx, true) && A.f32(9, "dweight", &dw, true) &&
          A.f32(10, "dbias", &db, true));
  REQUIRE(A.length(x, "x", total, "rows*cols") && A.length(g, "g", total, "rows*cols") &&
          A.length(mean, "mean", rows, "rows") && A.length(var, "var", rows, "rows") &&
          optLength(A, w, "weight", cols, "cols") && optLength(A, dx, "dx", total, "rows*cols") &&
          optLength(A, dw, "dweight", cols, "cols") && optLength(A, db, "dbias", cols, "cols"));
  layerNormBackward(x.p, g.p, rows, cols, mean.p, var.p, eps, w.p, dx.p, dw.p, db.p);
  return A.env().Undefined();
}

// (x, p, state: Int32Array(4), out, mask|null)
Napi::Value DropoutEntry(Args& A) {
  REQUIRE(A.count(5, 5));
  double p = 0;
  REQUIRE(A.number(1, "p", &p));
  if (!(p >= 0 && p <= 1)) REQUIRE(A.rangeError("argument 'p' must be a probability in [0, 1], got %g", p));
  F32 x, out, mask;
  I32 state;
  REQUIRE(A.f32(0, "x", &x) && A.i32(2, "state", &state) && A.f32(3, "out", &out) && A.f32(4, "mask", &mask, true));
  REQUIRE(A.length(state, "state", 4, "the 4 xoshiro128** state words") && A.length(out, "out", x.n, "x.length") &&
          optLength(A, mask, "mask", x.n, "x.length"));
  // The mask is written before out reads x: it must not overlap either (out may be x itself).
  REQUIRE(mask.p == nullptr ||
          (A.disjoint(mask, x.n, "mask", x, x.n, "x") && A.disjoint(mask, x.n, "mask", out, x.n, "out")));
  uint32_t s[4];
  for (int i = 0; i < 4; ++i) s[i] = static_cast<uint32_t>(state.p[i]);
  dropout(x.p, x.n, p, s, out.p, mask.p);
  for (int i = 0; i < 4; ++i) state.p[i] = static_cast<int32_t>(s[i]);
  return A.env().Undefined();
}

// The sizes of linear and linearBackward: rows, inF, outF at i, i+1, i+2, and the element counts.
struct LinearDims {
  int64_t rows = 0, inF = 0, outF = 0, x = 0, w = 0, y = 0;
};
bool linearDims(Args& A, size_t i, LinearDims* d) {
  return A.dim(i, "rows", &d->rows) && A.dim(i + 1, "inF", &d->inF) && A.dim(i + 2, "outF", &d->outF) &&
         A.product(d->rows, d->inF, "rows*inF", &d->x) && A.product(d->outF, d->inF, "outF*inF", &d->w) &&
         A.product(d->rows, d->outF, "rows*outF", &d->y);
}
int64_t countOf(const F32& a, int64_t n) { return a.p ? n : 0; }

// (x, w, bias|null, act, rows, inF, outF, out)
Napi::Value LinearEntry(Args& A) {
  REQUIRE(A.count(8, 8));
  LinearDims d;
  int act = 0;
  F32 x, w, b, out;
  REQUIRE(linearDims(A, 4, &d) && A.op(3, kActOps, &act));
  REQUIRE(A.f32(0, "x", &x) && A.f32(1, "w", &w) && A.f32(2, "bias", &b, true) && A.f32(7, "out", &out));
  REQUIRE(A.length(x, "x", d.x, "rows*inF") && A.length(w, "w", d.w, "outF*inF") &&
          optLength(A, b, "bias", d.outF, "outF") && A.length(out, "out", d.y, "rows*outF"));
  // out is written by two threads while they read the inputs
  REQUIRE(A.disjoint(out, d.y, "out", x, d.x, "x") && A.disjoint(out, d.y, "out", w, d.w, "w") &&
          A.disjoint(out, d.y, "out", b, countOf(b, d.outF), "bias"));
  linear(x.p, w.p, b.p, static_cast<Act>(act), d.rows, d.inF, d.outF, out.p);
  return A.env().Undefined();
}

// (g, y|null, act, x, w, rows, inF, outF, dx|null, dw|null, dwBeta, db|null, dbBeta)
Napi::Value LinearBackwardEntry(Args& A) {
  REQUIRE(A.count(13, 13));
  LinearDims d;
  int act = 0;
  double dwBeta = 0, dbBeta = 0;
  F32 g, y, x, w, dx, dw, db;
  REQUIRE(linearDims(A, 5, &d) && A.op(2, kActOps, &act) && A.number(10, "dwBeta", &dwBeta) &&
          A.number(12, "dbBeta", &dbBeta));
  REQUIRE(A.f32(0, "g", &g) && A.f32(1, "y", &y, true) && A.f32(3, "x", &x) && A.f32(4, "w", &w) &&
          A.f32(8, "dx", &dx, true) && A.f32(9, "dw", &dw, true) && A.f32(11, "db", &db, true));
  if (act != static_cast<int>(Act::None) && y.p == nullptr && d.y > 0)
    REQUIRE(A.typeError("argument 'y' must be a Float32Array when act is '%s', got null", kActNames[act]));
  REQUIRE(A.length(g, "g", d.y, "rows*outF") && optLength(A, y, "y", d.y, "rows*outF") &&
          A.length(x, "x", d.x, "rows*inF") && A.length(w, "w", d.w, "outF*inF") &&
          optLength(A, dx, "dx", d.x, "rows*inF") && optLength(A, dw, "dw", d.w, "outF*inF") &&
          optLength(A, db, "db", d.outF, "outF"));
  // each output is written by two threads while they read every input: no overlaps at all
  const F32* outs[3] = {&dx, &dw, &db};
  const int64_t outN[3] = {countOf(dx, d.x), countOf(dw, d.w), countOf(db, d.outF)};
  const char* outNames[3] = {"dx", "dw", "db"};
  const F32* ins[4] = {&g, &y, &x, &w};
  const int64_t inN[4] = {d.y, countOf(y, d.y), d.x, d.w};
  const char* inNames[4] = {"g", "y", "x", "w"};
  for (int o = 0; o < 3; ++o) {
    for (int i = 0; i < 4; ++i) REQUIRE(A.disjoint(*outs[o], outN[o], outNames[o], *ins[i], inN[i], inNames[i]));
    for (int p = o + 1; p < 3; ++p) REQUIRE(A.disjoint(*outs[o], outN[o], outNames[o], *outs[p], outN[p], outNames[p]));
  }
  linearBackward(g.p, y.p, static_cast<Act>(act), x.p, w.p, d.rows, d.inF, d.outF, dx.p, dw.p,
                 static_cast<float>(dwBeta), db.p, static_cast<float>(dbBeta));
  return A.env().Undefined();
}

// An optimizer step's optional `rows` (the parameter's first dimension) at i: where linear splits W
// between its two threads (columnSplit), as an element offset; 0 without rows.
bool rowSplit(Args& A, size_t i, int64_t n, int64_t* split) {
  int64_t rows = 0;
  if (!A.optDim(i, "rows", &rows, 0)) return false;
  if (rows > 0 && n % rows != 0)
    return A.rangeError("argument 'rows' (%lld) does not divide param.length (%lld)", static_cast<long long>(rows),
                        static_cast<long long>(n));
  *split = rows > 0 ? columnSplit(rows) * (n / rows) : 0;
  return true;
}

// (param, grad, buf|null, first, o: {lr, momentum, dampening, nesterov, weightDecay}, rows?)
Napi::Value SgdStep(Args& A) {
  REQUIRE(A.count(5, 6));
  napi_value opts;
  SgdOptions o;
  bool first = false;
  REQUIRE(A.object(4, "o", &opts) && A.fieldFinite(opts, "lr", &o.lr) && A.fieldFinite(opts, "momentum", &o.momentum) &&
          A.fieldFinite(opts, "dampening", &o.dampening) && A.fieldBool(opts, "nesterov", &o.nesterov) &&
          A.fieldFinite(opts, "weightDecay", &o.weightDecay));
  F32 param, grad, buf;
  REQUIRE(A.f32(0, "param", &param) && A.f32(1, "grad", &grad) && A.f32(2, "buf", &buf, true) &&
          A.boolean(3, "first", &first));
  REQUIRE(A.length(grad, "grad", param.n, "param.length"));
  if (o.momentum != 0) {
    if (buf.p == nullptr && param.n > 0)
      REQUIRE(A.typeError("argument 'buf' must be a Float32Array when momentum != 0, got null"));
    REQUIRE(A.length(buf, "buf", param.n, "param.length"));
  }
  int64_t split = 0;
  REQUIRE(rowSplit(A, 5, param.n, &split));
  sgdStep(param.p, grad.p, buf.p, first, param.n, o, split);
  return A.env().Undefined();
}

// (param, grad, m, v, step, o: {lr, beta1, beta2, eps, weightDecay, decoupled}, rows?)
Napi::Value AdamStep(Args& A) {
  REQUIRE(A.count(6, 7));
  napi_value opts;
  AdamOptions o;
  REQUIRE(A.object(5, "o", &opts) && A.fieldFinite(opts, "lr", &o.lr) && A.fieldFinite(opts, "beta1", &o.beta1) &&
          A.fieldFinite(opts, "beta2", &o.beta2) && A.fieldFinite(opts, "eps", &o.eps) &&
          A.fieldFinite(opts, "weightDecay", &o.weightDecay) && A.fieldBool(opts, "decoupled", &o.decoupled));
  F32 param, grad, m, v;
  int64_t step = 0;
  REQUIRE(A.f32(0, "param", &param) && A.f32(1, "grad", &grad) && A.f32(2, "m", &m) && A.f32(3, "v", &v) &&
          A.dim(4, "step", &step));
  if (step < 1) REQUIRE(A.rangeError("argument 'step' must be >= 1 (steps are 1-based), got %lld", (long long)step));
  REQUIRE(A.length(grad, "grad", param.n, "param.length") && A.length(m, "m", param.n, "param.length") &&
          A.length(v, "v", param.n, "param.length"));
  int64_t split = 0;
  REQUIRE(rowSplit(A, 6, param.n, &split));
  adamStep(param.p, grad.p, m.p, v.p, param.n, double(step), o, split);
  return A.env().Undefined();
}

// setNumThreads(n): OpenBLAS threads for the whole process (all workers share them); main thread only.
Napi::Value SetNumThreads(Args& A) {
  REQUIRE(A.count(1, 1));
  int64_t n = 0;
  REQUIRE(A.dim(0, "n", &n));
  if (n < 1 || n > kMaxThreads)
    REQUIRE(A.rangeError("argument 'n' must be in [1, %d], got %lld", kMaxThreads, (long long)n));
  // Process-wide, and sgemm's rounding depends on it (OpenBLAS's threaded driver splits M, N and K
  // differently from its serial one): from a worker it would silently change every thread's results.
  struct uv_loop_s* loop = nullptr;
  if (napi_get_uv_event_loop(A.env(), &loop) == napi_ok && loop != uv_default_loop()) {
    napi_throw_error(A.env(), nullptr,
                     "setNumThreads: OpenBLAS's thread count is process-wide and changes results in the last bits; "
                     "set it from the main thread (or with OPENBLAS_NUM_THREADS), not from a worker");
    return A.env().Undefined();
  }
  setBlasThreads(static_cast<int>(n));
  return A.env().Undefined();
}

Napi::Value GetNumThreads(Args& A) {
  REQUIRE(A.count(0, 0));
  return Napi::Number::New(A.env(), blasThreads());
}

// info(): { openblasConfig, openblasCore, numThreads, cores }
Napi::Value Info(Args& A) {
  REQUIRE(A.count(0, 0));
  Napi::Env env = A.env();
  Napi::Object o = Napi::Object::New(env);
  const char* cfg = openblas_get_config();
  const char* core = openblas_get_corename();
  o.Set("openblasConfig", Napi::String::New(env, cfg ? cfg : ""));
  o.Set("openblasCore", Napi::String::New(env, core ? core : ""));
  o.Set("numThreads", Napi::Number::New(env, blasThreads()));
  o.Set("cores", Napi::Number::New(env, availableCores()));
  return o;
}

// ---- the table -------------------------------------------------------------------------------

struct EntryPoint {
  const char* name;
  Napi::Value (*fn)(Args&);
};

const EntryPoint kEntryPoints[] = {
    {"gemm", Gemm},
    {"gemmAsync", GemmAsync},
    {"gemmPair", GemmPair},
    {"unary", UnaryEntry},
    {"binary", BinaryEntry},
    {"reduce", ReduceEntry},
    {"argmax", Argmax},
    {"sumTo", SumTo},
    {"softmax", Softmax},
    {"crossEntropy", CrossEntropy},
    {"crossEntropyBackward", CrossEntropyBackward},
    {"indexSelect", IndexSelect},
    {"indexAdd", IndexAdd},
    {"permute", Permute},
    {"dropout", DropoutEntry},
    {"batchNorm", BatchNormEntry},
    {"batchNormBackward", BatchNormBackwardEntry},
    {"layerNorm", LayerNormEntry},
    {"layerNormBackward", LayerNormBackwardEntry},
    {"linear", LinearEntry},
    {"linearBackward", LinearBackwardEntry},
    {"sgdStep", SgdStep},
    {"adamStep", AdamStep},
    {"setNumThreads", SetNumThreads},
    {"getNumThreads", GetNumThreads},
    {"info", Info},
};

Napi::Value Call(const Napi::CallbackInfo& info) {
  const auto* e = static_cast<const EntryPoint*>(info.Data());
  Args A(info, e->name);
  return e->fn(A);
}

std::once_flag gThreadsOnce;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Default OpenBLAS thread count = cores available to this process, unless the user chose one
  // through the environment. Process-wide, so done once even when several workers load the addon.
  std::call_once(gThreadsOnce, [] {
    if (!std::getenv("OPENBLAS_NUM_THREADS") && !std::getenv("GOTO_NUM_THREADS") && !std::getenv("OMP_NUM_THREADS"))
      setBlasThreads(availableCores());
  });
  for (const EntryPoint& e : kEntryPoints)
    exports.Set(e.name, Napi::Function::New(env, Call, e.name, const_cast<EntryPoint*>(&e)));
  return exports;
}

}  // namespace
}  // namespace tg

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return tg::Init(env, exports); }

NODE_API_MODULE(tapegrad, InitAddon)
