// Node-API glue of the tapegrad native backend: argument validation, typed-array pointers (with
// byteOffset, zero copy) and dispatch to the kernels in gemm.cc / elementwise.cc / reduce.cc /
// loss.cc / optim.cc. Every entry point checks argument count, types, integer dims, overflow-safe
// sizes (64-bit, at most 2^31 - 1 elements per operand), array lengths (including batched strides),
// detached buffers and label/index ranges, and throws a TypeError/RangeError naming the kernel and
// the argument. No input from JS may crash the process.
//
// Built without C++ exceptions (NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS): a helper that fails throws
// the JS exception and returns false; the caller returns at once.
//
// Context-aware (Napi::Addon): loads in any number of worker_threads. The only process-wide state
// is OpenBLAS's thread count.
#ifndef NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS
#define NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS
#endif
#include <cblas.h>
#include <napi.h>
#ifdef __linux__
#include <sched.h>
#endif

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE __attribute__((format(printf, 2, 3)))
#else
#define PRINTF_LIKE
#endif

#include "kernels.h"

extern "C" {
// Declared in OpenBLAS's cblas.h on most distributions; repeated here for builds whose header lacks them.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
// libuv, exported by node itself (not every header set ships uv.h).
struct uv_loop_s* uv_default_loop(void);
}

namespace {

constexpr int64_t kMaxElements = 2147483647;  // 2^31 - 1: cblas takes int, and it bounds every product
constexpr int kMaxThreads = 1024;
constexpr size_t kMaxRank = 64;

struct F32 {
  float* p = nullptr;
  int64_t n = 0;
  napi_value value = nullptr;
};
struct I32 {
  int32_t* p = nullptr;
  int64_t n = 0;
  napi_value value = nullptr;
};

std::string fmtNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* typedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "an Int8Array";
    case napi_uint8_array: return "a Uint8Array";
    case napi_uint8_clamped_array: return "a Uint8ClampedArray";
    case napi_int16_array: return "an Int16Array";
    case napi_uint16_array: return "a Uint16Array";
    case napi_int32_array: return "an Int32Array";
    case napi_uint32_array: return "a Uint32Array";
    case napi_float32_array: return "a Float32Array";
    case napi_float64_array: return "a Float64Array";
    case napi_bigint64_array: return "a BigInt64Array";
    case napi_biguint64_array: return "a BigUint64Array";
    default: return "a typed array";
  }
}

// What a JS value is, in words, for error messages ("a Float64Array", "undefined", "a number").
std::string describe(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, v, &t) != napi_ok) return "an unknown value";
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: {
      double d = 0;
      napi_get_value_double(env, v, &d);
      return "the number " + fmtNumber(d);
    }
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_function: return "a function";
    case napi_bigint: return "a bigint";
    case napi_external: return "an external";
    case napi_object: {
      bool is = false;
      if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
        napi_typedarray_type tt;
        size_t len;
        if (napi_get_typedarray_info(env, v, &tt, &len, nullptr, nullptr, nullptr) == napi_ok) return typedArrayName(tt);
      }
      if (napi_is_array(env, v, &is) == napi_ok && is) return "an Array";
      if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) return "an ArrayBuffer";
      if (napi_is_dataview(env, v, &is) == napi_ok && is) return "a DataView";
      return "an object";
    }
  }
  return "an unknown value";
}

// Validating accessor for one call's arguments. Every method returns false after throwing.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* kernel) : info_(info), env_(info.Env()), kernel_(kernel) {}

  Napi::Env env() const { return env_; }
  const char* kernel() const { return kernel_; }

  bool typeError(const char* fmt, ...) PRINTF_LIKE {
    va_list ap;
    va_start(ap, fmt);
    throwError(true, fmt, ap);
    va_end(ap);
    return false;
  }
  bool rangeError(const char* fmt, ...) PRINTF_LIKE {
    va_list ap;
    va_start(ap, fmt);
    throwError(false, fmt, ap);
    va_end(ap);
    return false;
  }

  bool count(size_t min, size_t max) {
    const size_t n = info_.Length();
    if (n >= min && n <= max) return true;
    if (min == max) return typeError("expected %zu argument%s, got %zu", min, min == 1 ? "" : "s", n);
    return typeError("expected %zu to %zu arguments, got %zu", min, max, n);
  }

  bool isMissing(size_t i) const { return i >= info_.Length() || info_[i].IsUndefined(); }

  bool f32(size_t i, const char* name, F32* out, bool nullable = false) {
    napi_value v = arg(i);
    if (nullable && (info_[i].IsNull() || info_[i].IsUndefined())) {
      *out = F32{};
      return true;
    }
    napi_typedarray_type t = napi_int8_array;
    void* data = nullptr;
    size_t len = 0;
    napi_value ab = nullptr;
    if (!typedArray(v, &t, &len, &data, &ab) || t != napi_float32_array)
      return typeError("argument '%s' must be a Float32Array%s, got %s", name, nullable ? " or null" : "",
                       describe(env_, v).c_str());
    if (!usable(name, len, data, ab)) return false;
    out->p = static_cast<float*>(data);
    out->n = static_cast<int64_t>(len);
    out->value = v;
    return true;
  }

  bool i32(size_t i, const char* name, I32* out) {
    napi_value v = arg(i);
    napi_typedarray_type t = napi_int8_array;
    void* data = nullptr;
    size_t len = 0;
    napi_value ab = nullptr;
    if (!typedArray(v, &t, &len, &data, &ab) || t != napi_int32_array)
      return typeError("argument '%s' must be an Int32Array, got %s", name, describe(env_, v).c_str());
    if (!usable(name, len, data, ab)) return false;
    out->p = static_cast<int32_t*>(data);
    out->n = static_cast<int64_t>(len);
    out->value = v;
    return true;
  }

  // A finite non-negative integer <= 2^31 - 1 (sizes, strides, batch counts).
  bool dim(size_t i, const char* name, int64_t* out) {
    double d;
    if (!number(i, name, &d)) return false;
    if (!(d >= 0) || d != std::floor(d) || d > double(kMaxElements))
      return rangeError("argument '%s' must be an integer in [0, 2^31-1], got %s", name, fmtNumber(d).c_str());
    *out = static_cast<int64_t>(d);
    return true;
  }

  bool optDim(size_t i, const char* name, int64_t* out, int64_t dflt) {
    if (isMissing(i)) return *out = dflt, true;
    return dim(i, name, out);
  }

  bool number(size_t i, const char* name, double* out) {
    napi_value v = arg(i);
    napi_valuetype t;
    if (napi_typeof(env_, v, &t) != napi_ok || t != napi_number)
      return typeError("argument '%s' must be a number, got %s", name, describe(env_, v).c_str());
    napi_get_value_double(env_, v, out);
    return true;
  }

  bool finite(size_t i, const char* name, double* out) {
    if (!number(i, name, out)) return false;
    if (!std::isfinite(*out)) return rangeError("argument '%s' must be a finite number, got %s", name, fmtNumber(*out).c_str());
    return true;
  }

  bool boolean(size_t i, const char* name, bool* out) {
    napi_value v = arg(i);
    napi_valuetype t;
    if (napi_typeof(env_, v, &t) != napi_ok || t != napi_boolean)
      return typeError("argument '%s' must be a boolean, got %s", name, describe(env_, v).c_str());
    napi_get_value_bool(env_, v, out);
    return true;
  }

  bool string(size_t i, const char* name, char* buf, size_t cap) {
    napi_value v = arg(i);
    napi_valuetype t;
    if (napi_typeof(env_, v, &t) != napi_ok || t != napi_string)
      return typeError("argument '%s' must be a string, got %s", name, describe(env_, v).c_str());
    size_t len = 0;
    napi_get_value_string_utf8(env_, v, buf, cap, &len);
    // too long, or with an embedded NUL ("add\0x"): not a known name
    if (len + 1 >= cap || std::strlen(buf) != len) buf[0] = '\0';
    return true;
  }

  // A shape: an Array of at most 64 non-negative integers whose product is <= 2^31 - 1.
  bool shape(size_t i, const char* name, std::vector<int64_t>* out, int64_t* count) {
    napi_value v = arg(i);
    bool isArray = false;
    if (napi_is_array(env_, v, &isArray) != napi_ok || !isArray)
      return typeError("argument '%s' must be an Array of dims, got %s", name, describe(env_, v).c_str());
    uint32_t len = 0;
    if (napi_get_array_length(env_, v, &len) != napi_ok) return typeError("argument '%s' is not a plain Array", name);
    if (len > kMaxRank) return rangeError("argument '%s' has rank %u, at most %zu is supported", name, len, kMaxRank);
    out->resize(len);
    int64_t prod = 1;
    for (uint32_t j = 0; j < len; ++j) {
      napi_value e;
      if (napi_get_element(env_, v, j, &e) != napi_ok) return pendingOr(name);
      napi_valuetype t;
      double d = 0;
      if (napi_typeof(env_, e, &t) != napi_ok || t != napi_number)
        return typeError("argument '%s'[%u] must be a number, got %s", name, j, describe(env_, e).c_str());
      napi_get_value_double(env_, e, &d);
      if (!(d >= 0) || d != std::floor(d) || d > double(kMaxElements))
        return rangeError("argument '%s'[%u] must be an integer in [0, 2^31-1], got %s", name, j, fmtNumber(d).c_str());
      (*out)[j] = static_cast<int64_t>(d);
      prod = prod == 0 ? 0 : prod * (*out)[j];  // both factors <= 2^31-1: no int64 overflow
      if (prod > kMaxElements)
        return rangeError("argument '%s' = %s has more than 2^31-1 elements", name, shapeString(*out, j + 1).c_str());
    }
    *count = prod;
    return true;
  }

  // a * b, checked against the 2^31 - 1 element cap (what: e.g. "m*k").
  bool product(int64_t a, int64_t b, const char* what, int64_t* out) {
    const int64_t p = a * b;  // operands are each <= 2^31-1 here, so no int64 overflow
    if (p > kMaxElements) return rangeError("%s = %lld elements exceeds the 2^31-1 limit", what, (long long)p);
    *out = p;
    return true;
  }
  bool product3(int64_t a, int64_t b, int64_t c, const char* what, int64_t* out) {
    int64_t ab = 0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s", what);
    if (!product(a, b, buf, &ab)) return false;
    return product(ab, c, buf, out);
  }

  // The array must have at least `need` elements (why: the formula, e.g. "m*n").
  template <class A>
  bool length(const A& arr, const char* name, int64_t need, const char* why) {
    if (arr.n >= need) return true;
    return rangeError("argument '%s' has %lld elements, needs %lld (%s)", name, (long long)arr.n, (long long)need, why);
  }

  static std::string shapeString(const std::vector<int64_t>& s, size_t upto = SIZE_MAX) {
    std::string r = "[";
    for (size_t i = 0; i < s.size() && i < upto; ++i) r += (i ? "," : "") + std::to_string(s[i]);
    if (upto < s.size()) r += ",...";
    return r + "]";
  }

 private:
  napi_value arg(size_t i) const { return i < info_.Length() ? static_cast<napi_value>(info_[i]) : static_cast<napi_value>(env_.Undefined()); }

  bool typedArray(napi_value v, napi_typedarray_type* t, size_t* len, void** data, napi_value* ab) {
    bool is = false;
    if (napi_is_typedarray(env_, v, &is) != napi_ok || !is) return false;
    size_t off = 0;
    // `data` already includes byteOffset (Node-API adjusts it).
    return napi_get_typedarray_info(env_, v, t, len, data, ab, &off) == napi_ok;
  }

  bool usable(const char* name, size_t len, void* data, napi_value ab) {
    if (len > size_t(kMaxElements))
      return rangeError("argument '%s' has %zu elements, more than 2^31-1", name, len);
    if (len == 0 && ab != nullptr) {
      bool detached = false;
      if (napi_is_detached_arraybuffer(env_, ab, &detached) == napi_ok && detached)
        return typeError("argument '%s' is backed by a detached ArrayBuffer (was it transferred?)", name);
    }
    if (len > 0 && data == nullptr) return typeError("argument '%s' has no data (detached ArrayBuffer?)", name);
    return true;
  }

  bool pendingOr(const char* name) {
    bool pending = false;
    napi_is_exception_pending(env_, &pending);
    if (!pending) typeError("argument '%s' could not be read", name);
    return false;
  }

  void throwError(bool type, const char* fmt, va_list ap) {
    char msg[512];
    int n = std::snprintf(msg, sizeof msg, "%s: ", kernel_);
    if (n < 0 || size_t(n) >= sizeof msg) n = 0;
    std::vsnprintf(msg + n, sizeof msg - size_t(n), fmt, ap);
    bool pending = false;
    napi_is_exception_pending(env_, &pending);
    if (pending) return;  // keep the first error
    if (type)
      napi_throw_type_error(env_, nullptr, msg);
    else
      napi_throw_range_error(env_, nullptr, msg);
  }

  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* kernel_;
};

#define REQUIRE(expr)                \
  do {                               \
    if (!(expr)) return env.Undefined(); \
  } while (0)

bool overlaps(const float* p, int64_t pn, const float* q, int64_t qn) {
  if (pn <= 0 || qn <= 0) return false;
  return p < q + qn && q < p + pn;
}

// ---- gemm: shared by the sync and async entry points -------------------------------------------

struct GemmCall {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0, batch = 1, strideA = 0, strideB = 0, strideC = 0;
  double alpha = 1, beta = 0;
  F32 a, b, c;
};

// Arguments: (transA, transB, m, n, k, alpha, a, b, beta, c, batch?, strideA?, strideB?, strideC?)
bool parseGemm(Args& A, GemmCall* g) {
  if (!A.count(10, 14)) return false;
  if (!A.boolean(0, "transA", &g->transA) || !A.boolean(1, "transB", &g->transB)) return false;
  if (!A.dim(2, "m", &g->m) || !A.dim(3, "n", &g->n) || !A.dim(4, "k", &g->k)) return false;
  if (!A.number(5, "alpha", &g->alpha)) return false;
  if (!A.f32(6, "a", &g->a) || !A.f32(7, "b", &g->b)) return false;
  if (!A.number(8, "beta", &g->beta)) return false;
  if (!A.f32(9, "c", &g->c)) return false;
  int64_t mk = 0, kn = 0, mn = 0;
  if (!A.product(g->m, g->k, "m*k", &mk) || !A.product(g->k, g->n, "k*n", &kn) || !A.product(g->m, g->n, "m*n", &mn))
    return false;
  if (!A.optDim(10, "batch", &g->batch, 1) || !A.optDim(11, "strideA", &g->strideA, mk) ||
      !A.optDim(12, "strideB", &g->strideB, kn) || !A.optDim(13, "strideC", &g->strideC, mn))
    return false;
  if (g->batch == 0 || mn == 0) return true;  // nothing is touched
  // Elements touched: (batch-1)*stride + size; every factor <= 2^31-1, so this fits in int64.
  const int64_t last = g->batch - 1;
  const int64_t needA = mk == 0 ? 0 : last * g->strideA + mk;
  const int64_t needB = kn == 0 ? 0 : last * g->strideB + kn;
  const int64_t needC = last * g->strideC + mn;
  const bool batched = g->batch > 1;
  if (!A.length(g->a, "a", needA, batched ? "(batch-1)*strideA + m*k" : "m*k")) return false;
  if (!A.length(g->b, "b", needB, batched ? "(batch-1)*strideB + k*n" : "k*n")) return false;
  if (!A.length(g->c, "c", needC, batched ? "(batch-1)*strideC + m*n" : "m*n")) return false;
  // BLAS reads A and B while writing C: an overlap gives garbage, so refuse it.
  if (overlaps(g->c.p, needC, g->a.p, needA)) return A.rangeError("argument 'c' overlaps argument 'a' in memory");
  if (overlaps(g->c.p, needC, g->b.p, needB)) return A.rangeError("argument 'c' overlaps argument 'b' in memory");
  return true;
}

void runGemm(const GemmCall& g) {
  tg::gemm(g.transA, g.transB, g.m, g.n, g.k, static_cast<float>(g.alpha), g.a.p, g.b.p, static_cast<float>(g.beta),
           g.c.p, g.batch, g.strideA, g.strideB, g.strideC);
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
    call_.a.p = a_.data();
    call_.b.p = b_.data();
    call_.c.p = c_.data();
  }
  // nullptr (with a JS exception pending) when the promise could not be created.
  napi_value Promise() const { return deferred_ ? promise_ : nullptr; }

 protected:
  void Execute() override { runGemm(call_); }

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
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
  std::vector<float> a_, b_, c_;
  int64_t cLength_;
  RawRef refC_;
};

std::once_flag gThreadsOnce;

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

class TapegradAddon : public Napi::Addon<TapegradAddon> {
 public:
  TapegradAddon(Napi::Env env, Napi::Object exports) {
    // Default OpenBLAS thread count = cores available to this process, unless the user chose one
    // through the environment. Process-wide, so done once even when several workers load the addon.
    std::call_once(gThreadsOnce, [] {
      if (!std::getenv("OPENBLAS_NUM_THREADS") && !std::getenv("GOTO_NUM_THREADS") && !std::getenv("OMP_NUM_THREADS"))
        openblas_set_num_threads(availableCores());
    });
    DefineAddon(exports, {
        InstanceMethod("gemm", &TapegradAddon::Gemm, napi_enumerable),
        InstanceMethod("gemmAsync", &TapegradAddon::GemmAsync, napi_enumerable),
        InstanceMethod("unary", &TapegradAddon::Unary, napi_enumerable),
        InstanceMethod("binary", &TapegradAddon::Binary, napi_enumerable),
        InstanceMethod("reduce", &TapegradAddon::Reduce, napi_enumerable),
        InstanceMethod("argmax", &TapegradAddon::Argmax, napi_enumerable),
        InstanceMethod("sumTo", &TapegradAddon::SumTo, napi_enumerable),
        InstanceMethod("softmax", &TapegradAddon::Softmax, napi_enumerable),
        InstanceMethod("crossEntropy", &TapegradAddon::CrossEntropy, napi_enumerable),
        InstanceMethod("crossEntropyBackward", &TapegradAddon::CrossEntropyBackward, napi_enumerable),
        InstanceMethod("indexSelect", &TapegradAddon::IndexSelect, napi_enumerable),
        InstanceMethod("indexAdd", &TapegradAddon::IndexAdd, napi_enumerable),
        InstanceMethod("permute", &TapegradAddon::Permute, napi_enumerable),
        InstanceMethod("sgdStep", &TapegradAddon::SgdStep, napi_enumerable),
        InstanceMethod("adamStep", &TapegradAddon::AdamStep, napi_enumerable),
        InstanceMethod("setNumThreads", &TapegradAddon::SetNumThreads, napi_enumerable),
        InstanceMethod("getNumThreads", &TapegradAddon::GetNumThreads, napi_enumerable),
        InstanceMethod("info", &TapegradAddon::Info, napi_enumerable),
    });
  }

 private:
  Napi::Value Gemm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "gemm");
    GemmCall g;
    REQUIRE(parseGemm(A, &g));
    runGemm(g);
    return env.Undefined();
  }

  // Same arguments as gemm; returns a Promise<void>. Bad arguments reject the promise.
  Napi::Value GemmAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "gemmAsync");
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

  // unary(op, x, out, p0?, p1?)
  Napi::Value Unary(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "unary");
    REQUIRE(A.count(3, 5));
    char name[32];
    REQUIRE(A.string(0, "op", name, sizeof name));
    tg::Unary op;
    if (!tg::parseUnary(name, &op)) {
      A.rangeError("unknown op '%s'", name);
      return env.Undefined();
    }
    F32 x, out;
    REQUIRE(A.f32(1, "x", &x) && A.f32(2, "out", &out));
    REQUIRE(A.length(out, "out", x.n, "x.length"));
    double p0 = 0, p1 = 0;
    const bool needP0 = op == tg::Unary::Pow || op == tg::Unary::Clamp || op == tg::Unary::Affine;
    const bool needP1 = op == tg::Unary::Clamp || op == tg::Unary::Affine;
    if (needP0) REQUIRE(A.number(3, "p0", &p0));
    if (needP1) REQUIRE(A.number(4, "p1", &p1));
    tg::unary(op, x.p, out.p, x.n, p0, p1);
    return env.Undefined();
  }

  // binary(op, a, aShape, b, bShape, out, outShape)
  Napi::Value Binary(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "binary");
    REQUIRE(A.count(7, 7));
    char name[32];
    REQUIRE(A.string(0, "op", name, sizeof name));
    tg::Binary op;
    if (!tg::parseBinary(name, &op)) {
      A.rangeError("unknown op '%s'", name);
      return env.Undefined();
    }
    F32 a, b, out;
    std::vector<int64_t> as, bs, os;
    int64_t an = 0, bn = 0, on = 0;
    // Shapes first: reading an Array element can run a JS getter, which could detach a buffer
    // whose pointer we already hold. Typed-array pointers are taken only after all JS has run.
    REQUIRE(A.shape(2, "aShape", &as, &an) && A.shape(4, "bShape", &bs, &bn) && A.shape(6, "outShape", &os, &on));
    REQUIRE(A.f32(1, "a", &a) && A.f32(3, "b", &b) && A.f32(5, "out", &out));
    REQUIRE(broadcastsTo(A, name, as, bs, os, "aShape", as) && broadcastsTo(A, name, as, bs, os, "bShape", bs));
    REQUIRE(A.length(a, "a", an, "product of aShape") && A.length(b, "b", bn, "product of bShape") &&
            A.length(out, "out", on, "product of outShape"));
    tg::binary(op, a.p, as, b.p, bs, out.p, os);
    return env.Undefined();
  }

  static bool broadcastsTo(Args& A, const char* op, const std::vector<int64_t>& as, const std::vector<int64_t>& bs,
                           const std::vector<int64_t>& os, const char* which, const std::vector<int64_t>& s) {
    bool ok = s.size() <= os.size();
    for (size_t i = 0; ok && i < s.size(); ++i) {
      const int64_t d = s[s.size() - 1 - i], o = os[os.size() - 1 - i];
      ok = d == o || d == 1;
    }
    if (ok) return true;
    return A.rangeError("(%s) %s: shapes %s and %s do not broadcast to outShape %s", op, which,
                        Args::shapeString(as).c_str(), Args::shapeString(bs).c_str(), Args::shapeString(os).c_str());
  }

  // Validates x/out for [outer, n, inner] kernels; sets total = outer*n*inner and oi = outer*inner.
  static bool axisDims(Args& A, size_t i0, int64_t* outer, int64_t* n, int64_t* inner, int64_t* total, int64_t* oi) {
    if (!A.dim(i0, "outer", outer) || !A.dim(i0 + 1, "n", n) || !A.dim(i0 + 2, "inner", inner)) return false;
    return A.product3(*outer, *n, *inner, "outer*n*inner", total) && A.product(*outer, *inner, "outer*inner", oi);
  }

  // reduce(op, x, outer, n, inner, out)
  Napi::Value Reduce(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "reduce");
    REQUIRE(A.count(6, 6));
    char name[32];
    REQUIRE(A.string(0, "op", name, sizeof name));
    tg::Reduce op;
    if (!tg::parseReduce(name, &op)) {
      A.rangeError("unknown op '%s' (expected sum, max or min)", name);
      return env.Undefined();
    }
    F32 x, out;
    int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0;
    REQUIRE(A.f32(1, "x", &x) && axisDims(A, 2, &outer, &n, &inner, &total, &oi) && A.f32(5, "out", &out));
    REQUIRE(A.length(x, "x", total, "outer*n*inner") && A.length(out, "out", oi, "outer*inner"));
    tg::reduce(op, x.p, outer, n, inner, out.p);
    return env.Undefined();
  }

  // argmax(x, outer, n, inner, out: Int32Array)
  Napi::Value Argmax(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "argmax");
    REQUIRE(A.count(5, 5));
    F32 x;
    I32 out;
    int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0;
    REQUIRE(A.f32(0, "x", &x) && axisDims(A, 1, &outer, &n, &inner, &total, &oi) && A.i32(4, "out", &out));
    REQUIRE(A.length(x, "x", total, "outer*n*inner") && A.length(out, "out", oi, "outer*inner"));
    if (n == 0 && oi > 0) {
      A.rangeError("argument 'n' is 0: argmax of an empty axis");
      return env.Undefined();
    }
    tg::argmax(x.p, outer, n, inner, out.p);
    return env.Undefined();
  }

  // sumTo(x, xShape, out, outShape)
  Napi::Value SumTo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "sumTo");
    REQUIRE(A.count(4, 4));
    F32 x, out;
    std::vector<int64_t> xs, os;
    int64_t xn = 0, on = 0;
    // Shapes before pointers (a getter in a shape array could detach a buffer).
    REQUIRE(A.shape(1, "xShape", &xs, &xn) && A.shape(3, "outShape", &os, &on));
    REQUIRE(A.f32(0, "x", &x) && A.f32(2, "out", &out));
    bool ok = os.size() <= xs.size();
    for (size_t i = 0; ok && i < os.size(); ++i) {
      const int64_t o = os[os.size() - 1 - i], d = xs[xs.size() - 1 - i];
      ok = o == d || o == 1;
    }
    if (!ok) {
      A.rangeError("argument 'outShape' %s does not broadcast to xShape %s", Args::shapeString(os).c_str(),
                   Args::shapeString(xs).c_str());
      return env.Undefined();
    }
    REQUIRE(A.length(x, "x", xn, "product of xShape") && A.length(out, "out", on, "product of outShape"));
    tg::sumTo(x.p, xs, out.p, os);
    return env.Undefined();
  }

  // softmax(x, outer, n, inner, out, log)
  Napi::Value Softmax(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "softmax");
    REQUIRE(A.count(6, 6));
    F32 x, out;
    bool log;
    int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0;
    REQUIRE(A.f32(0, "x", &x) && axisDims(A, 1, &outer, &n, &inner, &total, &oi) && A.f32(4, "out", &out) &&
            A.boolean(5, "log", &log));
    REQUIRE(A.length(x, "x", total, "outer*n*inner") && A.length(out, "out", total, "outer*n*inner"));
    tg::softmax(x.p, outer, n, inner, out.p, log);
    return env.Undefined();
  }

  // Indices and labels are copied before they are checked, and the kernel reads the copy: the array
  // may live in a SharedArrayBuffer that another thread rewrites between the check and the use.
  static bool checkedCopy(Args& A, const I32& src, int64_t count, int64_t bound, const char* name,
                          std::vector<int32_t>* out) {
    out->assign(src.p, src.p + count);
    for (int64_t j = 0; j < count; ++j) {
      const int32_t v = (*out)[size_t(j)];
      if (v < 0 || v >= bound)
        return A.rangeError("%s[%lld] = %d is outside [0, %lld)", name, (long long)j, v, (long long)bound);
    }
    return true;
  }

  // crossEntropy(logits, labels, rows, classes, probs) -> mean loss
  Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "crossEntropy");
    REQUIRE(A.count(5, 5));
    F32 logits, probs;
    I32 labels;
    int64_t rows = 0, classes = 0, total = 0;
    REQUIRE(A.f32(0, "logits", &logits) && A.i32(1, "labels", &labels) && A.dim(2, "rows", &rows) &&
            A.dim(3, "classes", &classes) && A.f32(4, "probs", &probs));
    REQUIRE(A.product(rows, classes, "rows*classes", &total));
    REQUIRE(A.length(logits, "logits", total, "rows*classes") && A.length(labels, "labels", rows, "rows") &&
            A.length(probs, "probs", total, "rows*classes"));
    std::vector<int32_t> y;
    REQUIRE(checkedCopy(A, labels, rows, classes, "labels", &y));
    return Napi::Number::New(env, tg::crossEntropy(logits.p, y.data(), rows, classes, probs.p));
  }

  // crossEntropyBackward(probs, labels, rows, classes, scale, out)
  Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "crossEntropyBackward");
    REQUIRE(A.count(6, 6));
    F32 probs, out;
    I32 labels;
    int64_t rows = 0, classes = 0, total = 0;
    double scale;
    REQUIRE(A.f32(0, "probs", &probs) && A.i32(1, "labels", &labels) && A.dim(2, "rows", &rows) &&
            A.dim(3, "classes", &classes) && A.number(4, "scale", &scale) && A.f32(5, "out", &out));
    REQUIRE(A.product(rows, classes, "rows*classes", &total));
    REQUIRE(A.length(probs, "probs", total, "rows*classes") && A.length(labels, "labels", rows, "rows") &&
            A.length(out, "out", total, "rows*classes"));
    std::vector<int32_t> y;
    REQUIRE(checkedCopy(A, labels, rows, classes, "labels", &y));
    tg::crossEntropyBackward(probs.p, y.data(), rows, classes, scale, out.p);
    return env.Undefined();
  }

  // indexSelect(x, outer, n, inner, idx, out)
  Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "indexSelect");
    REQUIRE(A.count(6, 6));
    F32 x, out;
    I32 idx;
    int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0, outTotal = 0;
    REQUIRE(A.f32(0, "x", &x) && axisDims(A, 1, &outer, &n, &inner, &total, &oi) && A.i32(4, "idx", &idx) &&
            A.f32(5, "out", &out));
    REQUIRE(A.product(oi, idx.n, "outer*idx.length*inner", &outTotal));
    REQUIRE(A.length(x, "x", total, "outer*n*inner") && A.length(out, "out", outTotal, "outer*idx.length*inner"));
    std::vector<int32_t> ix;
    if (outTotal > 0) REQUIRE(checkedCopy(A, idx, idx.n, n, "idx", &ix));
    if (overlaps(out.p, outTotal, x.p, total)) {
      A.rangeError("argument 'out' overlaps argument 'x' in memory");
      return env.Undefined();
    }
    if (outTotal > 0) tg::indexSelect(x.p, outer, n, inner, ix.data(), idx.n, out.p);
    return env.Undefined();
  }

  // indexAdd(g, outer, n, inner, idx, out)
  Napi::Value IndexAdd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "indexAdd");
    REQUIRE(A.count(6, 6));
    F32 g, out;
    I32 idx;
    int64_t outer = 0, n = 0, inner = 0, total = 0, oi = 0, gTotal = 0;
    REQUIRE(A.f32(0, "g", &g) && axisDims(A, 1, &outer, &n, &inner, &total, &oi) && A.i32(4, "idx", &idx) &&
            A.f32(5, "out", &out));
    REQUIRE(A.product(oi, idx.n, "outer*idx.length*inner", &gTotal));
    REQUIRE(A.length(g, "g", gTotal, "outer*idx.length*inner") && A.length(out, "out", total, "outer*n*inner"));
    std::vector<int32_t> ix;
    if (gTotal > 0) REQUIRE(checkedCopy(A, idx, idx.n, n, "idx", &ix));
    if (gTotal > 0) tg::indexAdd(g.p, outer, n, inner, ix.data(), idx.n, out.p);
    return env.Undefined();
  }

  // permute(x, shape, perm, out)
  Napi::Value Permute(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "permute");
    REQUIRE(A.count(4, 4));
    F32 x, out;
    std::vector<int64_t> shape, perm;
    int64_t total = 0, ignored = 0;
    // Shapes before pointers (a getter in a shape array could detach a buffer).
    REQUIRE(A.shape(1, "shape", &shape, &total) && A.shape(2, "perm", &perm, &ignored));
    REQUIRE(A.f32(0, "x", &x) && A.f32(3, "out", &out));
    // perm's entries are integers in [0, 2^31-1] but its "product" is meaningless (0 is valid).
    std::vector<bool> seen(shape.size(), false);
    bool ok = perm.size() == shape.size();
    for (size_t i = 0; ok && i < perm.size(); ++i) {
      ok = perm[i] < int64_t(shape.size()) && !seen[size_t(perm[i])];
      if (ok) seen[size_t(perm[i])] = true;
    }
    if (!ok) {
      A.rangeError("argument 'perm' %s is not a permutation of the %zu axes of shape %s",
                   Args::shapeString(perm).c_str(), shape.size(), Args::shapeString(shape).c_str());
      return env.Undefined();
    }
    REQUIRE(A.length(x, "x", total, "product of shape") && A.length(out, "out", total, "product of shape"));
    if (overlaps(out.p, total, x.p, total)) {
      A.rangeError("argument 'out' overlaps argument 'x' in memory");
      return env.Undefined();
    }
    tg::permute(x.p, shape, perm, out.p);
    return env.Undefined();
  }

  // sgdStep(param, grad, buf|null, first, lr, momentum, dampening, nesterov, weightDecay)
  Napi::Value SgdStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "sgdStep");
    REQUIRE(A.count(9, 9));
    F32 param, grad, buf;
    bool first, nesterov;
    double lr, momentum, dampening, wd;
    REQUIRE(A.f32(0, "param", &param) && A.f32(1, "grad", &grad) && A.f32(2, "buf", &buf, true) &&
            A.boolean(3, "first", &first) && A.finite(4, "lr", &lr) && A.finite(5, "momentum", &momentum) &&
            A.finite(6, "dampening", &dampening) && A.boolean(7, "nesterov", &nesterov) &&
            A.finite(8, "weightDecay", &wd));
    REQUIRE(A.length(grad, "grad", param.n, "param.length"));
    if (momentum != 0) {
      if (buf.p == nullptr && param.n > 0) {
        A.typeError("argument 'buf' must be a Float32Array when momentum != 0, got null");
        return env.Undefined();
      }
      REQUIRE(A.length(buf, "buf", param.n, "param.length"));
    }
    tg::sgdStep(param.p, grad.p, buf.p, first, param.n, lr, momentum, dampening, nesterov, wd);
    return env.Undefined();
  }

  // adamStep(param, grad, m, v, step, lr, beta1, beta2, eps, weightDecay, decoupled)
  Napi::Value AdamStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "adamStep");
    REQUIRE(A.count(11, 11));
    F32 param, grad, m, v;
    int64_t step = 0;
    double lr, beta1, beta2, eps, wd;
    bool decoupled;
    REQUIRE(A.f32(0, "param", &param) && A.f32(1, "grad", &grad) && A.f32(2, "m", &m) && A.f32(3, "v", &v) &&
            A.dim(4, "step", &step) && A.finite(5, "lr", &lr) && A.finite(6, "beta1", &beta1) &&
            A.finite(7, "beta2", &beta2) && A.finite(8, "eps", &eps) && A.finite(9, "weightDecay", &wd) &&
            A.boolean(10, "decoupled", &decoupled));
    if (step < 1) {
      A.rangeError("argument 'step' must be >= 1 (steps are 1-based), got %lld", (long long)step);
      return env.Undefined();
    }
    REQUIRE(A.length(grad, "grad", param.n, "param.length") && A.length(m, "m", param.n, "param.length") &&
            A.length(v, "v", param.n, "param.length"));
    tg::adamStep(param.p, grad.p, m.p, v.p, param.n, double(step), lr, beta1, beta2, eps, wd, decoupled);
    return env.Undefined();
  }

  // setNumThreads(n): OpenBLAS threads for the whole process (all workers share them); main thread only.
  Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "setNumThreads");
    REQUIRE(A.count(1, 1));
    int64_t n = 0;
    REQUIRE(A.dim(0, "n", &n));
    if (n < 1 || n > kMaxThreads) {
      A.rangeError("argument 'n' must be in [1, %d], got %lld", kMaxThreads, (long long)n);
      return env.Undefined();
    }
    // Process-wide, and sgemm's rounding depends on it (OpenBLAS's threaded driver splits M, N and K
    // differently from its serial one): from a worker it would silently change every thread's results.
    struct uv_loop_s* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop != uv_default_loop()) {
      napi_throw_error(env, nullptr,
                       "setNumThreads: OpenBLAS's thread count is process-wide and changes results in the last bits; "
                       "set it from the main thread (or with OPENBLAS_NUM_THREADS), not from a worker");
      return env.Undefined();
    }
    openblas_set_num_threads(static_cast<int>(n));
    return env.Undefined();
  }

  Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "getNumThreads");
    REQUIRE(A.count(0, 0));
    return Napi::Number::New(env, openblas_get_num_threads());
  }

  // info(): { openblasConfig, openblasCore, numThreads, cores }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Args A(info, "info");
    REQUIRE(A.count(0, 0));
    Napi::Object o = Napi::Object::New(env);
    const char* cfg = openblas_get_config();
    const char* core = openblas_get_corename();
    o.Set("openblasConfig", Napi::String::New(env, cfg ? cfg : ""));
    o.Set("openblasCore", Napi::String::New(env, core ? core : ""));
    o.Set("numThreads", Napi::Number::New(env, openblas_get_num_threads()));
    o.Set("cores", Napi::Number::New(env, availableCores()));
    return o;
  }
};

}  // namespace

NODE_API_ADDON(TapegradAddon)
