// Argument parsing and validation for the Node-API entry points (addon.cc). Every check runs before
// a kernel touches memory: argument count, types, integer dims, overflow-safe sizes (64-bit, at most
// 2^31 - 1 elements per operand), array lengths (including batched strides), detached buffers,
// overlaps, and label/index ranges. A failing check throws a TypeError/RangeError whose message
// starts with the kernel's name and names the argument, and returns false; the caller returns at once.
//
// Order matters: reading an Array element or an object property can run a JS getter, which could
// detach a buffer whose pointer we already hold. Entry points read shapes and options first, and
// take typed-array pointers only after all JS has run.
#pragma once

#ifndef NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS
#define NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS
#endif
#include <napi.h>

#include <cstdarg>
#include <cstdint>
#include <string>
#include <vector>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE __attribute__((format(printf, 2, 3)))
#else
#define PRINTF_LIKE
#endif

namespace tg {

constexpr int64_t kMaxElements = 2147483647;  // 2^31 - 1: cblas takes int, and it bounds every product

struct F32 {
  float* p = nullptr;
  int64_t n = 0;
  napi_value value = nullptr;
};
struct I32 {
  int32_t* p = nullptr;
  int64_t n = 0;
  napi_value value = nullptr;
  std::vector<int32_t> copy;  // indices(): the checked values, which p then points at
};
using Shape = std::vector<int64_t>;

// Names of an enum's values, in order (the op lists in kernels.h).
struct OpNames {
  const char* const* names;
  size_t count;
};

// Validating accessor for one call's arguments. Every method returns false after throwing.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* kernel) : info_(info), env_(info.Env()), kernel_(kernel) {}

  Napi::Env env() const { return env_; }

  bool typeError(const char* fmt, ...) PRINTF_LIKE;
  bool rangeError(const char* fmt, ...) PRINTF_LIKE;

  bool count(size_t min, size_t max);

  // Arguments by position.
  bool f32(size_t i, const char* name, F32* out, bool nullable = false);
  bool i32(size_t i, const char* name, I32* out);
  bool dim(size_t i, const char* name, int64_t* out);                 // integer in [0, 2^31-1]
  bool optDim(size_t i, const char* name, int64_t* out, int64_t dflt);  // missing/undefined: dflt
  bool number(size_t i, const char* name, double* out);
  bool boolean(size_t i, const char* name, bool* out);
  bool shape(size_t i, const char* name, Shape* out, int64_t* count);  // at most 64 dims, product <= 2^31-1
  // A name from `ops` (a string); *out is its index.
  bool op(size_t i, const OpNames& ops, int* out);
  // An options object; its fields are read with the field* methods (names show as 'o.<field>').
  bool object(size_t i, const char* name, napi_value* out);
  bool fieldFinite(napi_value obj, const char* field, double* out);
  bool fieldBool(napi_value obj, const char* field, bool* out);

  // a * b (and a * b * c), checked against the 2^31 - 1 element cap (what: e.g. "m*k").
  bool product(int64_t a, int64_t b, const char* what, int64_t* out);
  bool product3(int64_t a, int64_t b, int64_t c, const char* what, int64_t* out);

  // The array must have at least `need` elements (why: the formula, e.g. "m*n").
  template <class A>
  bool length(const A& arr, const char* name, int64_t need, const char* why) {
    if (arr.n >= need) return true;
    return rangeError("argument '%s' has %lld elements, needs %lld (%s)", name, (long long)arr.n, (long long)need, why);
  }

  // Labels/indices: copies the first `count` values into arr->copy, checks that each lies in
  // [0, bound), and points arr->p at the copy, so the kernel reads exactly what was checked (the
  // array may live in a SharedArrayBuffer that another thread rewrites between check and use).
  bool indices(I32* arr, int64_t count, int64_t bound, const char* name);
  // Refuses an output that overlaps an input in memory.
  bool disjoint(const F32& out, int64_t outCount, const char* outName, const F32& in, int64_t inCount, const char* inName);
  // s (one of a call's shapes) right-aligns against `to`, each dim 1 or equal.
  static bool broadcasts(const Shape& s, const Shape& to);
  // [outer, n, inner] at i0..i0+2; total = outer*n*inner, oi = outer*inner.
  bool axis(size_t i0, int64_t* outer, int64_t* n, int64_t* inner, int64_t* total, int64_t* oi);

  static std::string shapeString(const Shape& s, size_t upto = SIZE_MAX);

 private:
  napi_value arg(size_t i) const;
  bool isMissing(size_t i) const { return i >= info_.Length() || info_[i].IsUndefined(); }
  bool isNumber(napi_value v, const char* what, double* out);
  bool isBool(napi_value v, const char* what, bool* out);
  bool typedArray(napi_value v, const char* name, napi_typedarray_type type, const char* typeName, void** data,
                  int64_t* len);
  bool usable(const char* name, size_t len, void* data, napi_value ab);
  bool pendingOr(const char* name);
  void throwError(bool type, const char* fmt, va_list ap);

  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* kernel_;
};

}  // namespace tg
