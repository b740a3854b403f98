// Argument parsing and validation (see args.h).
#include "args.h"

#include <cmath>
#include <cstdio>
#include <cstring>

namespace tg {

namespace {

constexpr size_t kMaxRank = 64;

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

bool isDim(double d) { return d >= 0 && d == std::floor(d) && d <= double(kMaxElements); }

}  // namespace

bool Args::typeError(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throwError(true, fmt, ap);
  va_end(ap);
  return false;
}

bool Args::rangeError(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throwError(false, fmt, ap);
  va_end(ap);
  return false;
}

bool Args::count(size_t min, size_t max) {
  const size_t n = info_.Length();
  if (n >= min && n <= max) return true;
  if (min == max) return typeError("expected %zu argument%s, got %zu", min, min == 1 ? "" : "s", n);
  return typeError("expected %zu to %zu arguments, got %zu", min, max, n);
}

bool Args::f32(size_t i, const char* name, F32* out, bool nullable) {
  napi_value v = arg(i);
  if (nullable && (info_[i].IsNull() || info_[i].IsUndefined())) {
    *out = F32{};
    return true;
  }
  void* data = nullptr;
  int64_t len = 0;
  if (!typedArray(v, name, napi_float32_array, nullable ? "a Float32Array or null" : "a Float32Array", &data, &len)) return false;
  out->p = static_cast<float*>(data);
  out->n = len;
  out->value = v;
  return true;
}

// The one place Int32Array arguments (labels, indices, argmax's output) are read.
bool Args::i32(size_t i, const char* name, I32* out) {
  napi_value v = arg(i);
  void* data = nullptr;
  int64_t len = 0;
  if (!typedArray(v, name, napi_int32_array, "an Int32Array", &data, &len)) return false;
  out->p = static_cast<int32_t*>(data);
  out->n = len;
  out->value = v;
  return true;
}

bool Args::dim(size_t i, const char* name, int64_t* out) {
  double d;
  if (!number(i, name, &d)) return false;
  if (!isDim(d)) return rangeError("argument '%s' must be an integer in [0, 2^31-1], got %s", name, fmtNumber(d).c_str());
  *out = static_cast<int64_t>(d);
  return true;
}

bool Args::optDim(size_t i, const char* name, int64_t* out, int64_t dflt) {
  if (isMissing(i)) return *out = dflt, true;
  return dim(i, name, out);
}

bool Args::number(size_t i, const char* name, double* out) { return isNumber(arg(i), name, out); }

bool Args::boolean(size_t i, const char* name, bool* out) { return isBool(arg(i), name, out); }

bool Args::shape(size_t i, const char* name, Shape* out, int64_t* count) {
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
    if (!isDim(d))
      return rangeError("argument '%s'[%u] must be an integer in [0, 2^31-1], got %s", name, j, fmtNumber(d).c_str());
    (*out)[j] = static_cast<int64_t>(d);
    prod = prod == 0 ? 0 : prod * (*out)[j];  // both factors <= 2^31-1: no int64 overflow
    if (prod > kMaxElements)
      return rangeError("argument '%s' = %s has more than 2^31-1 elements", name, shapeString(*out, j + 1).c_str());
  }
  *count = prod;
  return true;
}

bool Args::op(size_t i, const OpNames& ops, int* out) {
  napi_value v = arg(i);
  napi_valuetype t;
  if (napi_typeof(env_, v, &t) != napi_ok || t != napi_string)
    return typeError("argument 'op' must be a string, got %s", describe(env_, v).c_str());
  char name[32];
  size_t len = 0;
  napi_get_value_string_utf8(env_, v, name, sizeof name, &len);
  // too long, or with an embedded NUL ("add\0x"): not a known name
  if (len + 1 >= sizeof name || std::strlen(name) != len) name[0] = '\0';
  for (size_t j = 0; j < ops.count; ++j)
    if (std::strcmp(name, ops.names[j]) == 0) return *out = int(j), true;
  std::string expected;
  for (size_t j = 0; j < ops.count; ++j) expected += (j ? ", " : "") + std::string(ops.names[j]);
  return rangeError("unknown op '%s' (expected %s)", name, expected.c_str());
}

bool Args::object(size_t i, const char* name, napi_value* out) {
  napi_value v = arg(i);
  napi_valuetype t;
  if (napi_typeof(env_, v, &t) != napi_ok || t != napi_object)
    return typeError("argument '%s' must be an options object, got %s", name, describe(env_, v).c_str());
  *out = v;
  return true;
}

// Option fields are named 'o.<field>' in messages; the name is only built on the error path.
bool Args::fieldFinite(napi_value obj, const char* field, double* out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env_, obj, field, &v) != napi_ok) return pendingOr((std::string("o.") + field).c_str());
  if (napi_typeof(env_, v, &t) == napi_ok && t == napi_number) {
    napi_get_value_double(env_, v, out);
    if (std::isfinite(*out)) return true;
    return rangeError("argument 'o.%s' must be a finite number, got %s", field, fmtNumber(*out).c_str());
  }
  return isNumber(v, (std::string("o.") + field).c_str(), out);
}

bool Args::fieldBool(napi_value obj, const char* field, bool* out) {
  napi_value v;
  napi_valuetype t;
  if (napi_get_named_property(env_, obj, field, &v) != napi_ok) return pendingOr((std::string("o.") + field).c_str());
  if (napi_typeof(env_, v, &t) == napi_ok && t == napi_boolean) return napi_get_value_bool(env_, v, out) == napi_ok;
  return isBool(v, (std::string("o.") + field).c_str(), out);
}

bool Args::product(int64_t a, int64_t b, const char* what, int64_t* out) {
  const int64_t p = a * b;  // operands are each <= 2^31-1 here, so no int64 overflow
  if (p > kMaxElements) return rangeError("%s = %lld elements exceeds the 2^31-1 limit", what, (long long)p);
  *out = p;
  return true;
}

bool Args::product3(int64_t a, int64_t b, int64_t c, const char* what, int64_t* out) {
  int64_t ab = 0;
  return product(a, b, what, &ab) && product(ab, c, what, out);
}

bool Args::indices(I32* arr, int64_t count, int64_t bound, const char* name) {
  arr->copy.assign(arr->p, arr->p + count);
  arr->p = arr->copy.data();
  for (int64_t j = 0; j < count; ++j) {
    const int32_t v = arr->p[j];
    if (v < 0 || v >= bound)
      return rangeError("%s[%lld] = %d is outside [0, %lld)", name, (long long)j, v, (long long)bound);
  }
  return true;
}

bool Args::disjoint(const F32& out, int64_t outCount, const char* outName, const F32& in, int64_t inCount,
                    const char* inName) {
  if (outCount <= 0 || inCount <= 0) return true;
  if (out.p < in.p + inCount && in.p < out.p + outCount)
    return rangeError("argument '%s' overlaps argument '%s' in memory", outName, inName);
  return true;
}

bool Args::broadcasts(const Shape& s, const Shape& to) {
  if (s.size() > to.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const int64_t d = s[s.size() - 1 - i], o = to[to.size() - 1 - i];
    if (d != o && d != 1) return false;
  }
  return true;
}

bool Args::axis(size_t i0, int64_t* outer, int64_t* n, int64_t* inner, int64_t* total, int64_t* oi) {
  if (!dim(i0, "outer", outer) || !dim(i0 + 1, "n", n) || !dim(i0 + 2, "inner", inner)) return false;
  return product3(*outer, *n, *inner, "outer*n*inner", total) && product(*outer, *inner, "outer*inner", oi);
}

std::string Args::shapeString(const Shape& s, size_t upto) {
  std::string r = "[";
  for (size_t i = 0; i < s.size() && i < upto; ++i) r += (i ? "," : "") + std::to_string(s[i]);
  if (upto < s.size()) r += ",...";
  return r + "]";
}

napi_value Args::arg(size_t i) const {
  return i < info_.Length() ? static_cast<napi_value>(info_[i]) : static_cast<napi_value>(env_.Undefined());
}

bool Args::isNumber(napi_value v, const char* name, double* out) {
  napi_valuetype t;
  if (napi_typeof(env_, v, &t) != napi_ok || t != napi_number)
    return typeError("argument '%s' must be a number, got %s", name, describe(env_, v).c_str());
  napi_get_value_double(env_, v, out);
  return true;
}

bool Args::isBool(napi_value v, const char* name, bool* out) {
  napi_valuetype t;
  if (napi_typeof(env_, v, &t) != napi_ok || t != napi_boolean)
    return typeError("argument '%s' must be a boolean, got %s", name, describe(env_, v).c_str());
  napi_get_value_bool(env_, v, out);
  return true;
}

// The one place typed-array arguments are read: v must be a typed array of `type` (`typeName` in
// messages, with its article) with a usable buffer; *data and *len are set on success.
bool Args::typedArray(napi_value v, const char* name, napi_typedarray_type type, const char* typeName, void** data,
                      int64_t* len) {
  bool is = false;
  napi_typedarray_type t = napi_int8_array;
  size_t n = 0, off = 0;
  napi_value ab = nullptr;
  // `data` already includes byteOffset (Node-API adjusts it).
  if (napi_is_typedarray(env_, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env_, v, &t, &n, data, &ab, &off) != napi_ok || t != type)
    return typeError("argument '%s' must be %s, got %s", name, typeName, describe(env_, v).c_str());
  if (!usable(name, n, *data, ab)) return false;
  *len = static_cast<int64_t>(n);
  return true;
}

bool Args::usable(const char* name, size_t len, void* data, napi_value ab) {
  if (len > size_t(kMaxElements)) return rangeError("argument '%s' has %zu elements, more than 2^31-1", name, len);
  if (len == 0 && ab != nullptr) {
    bool detached = false;
    if (napi_is_detached_arraybuffer(env_, ab, &detached) == napi_ok && detached)
      return typeError("argument '%s' is backed by a detached ArrayBuffer (was it transferred?)", name);
  }
  if (len > 0 && data == nullptr) return typeError("argument '%s' has no data (detached ArrayBuffer?)", name);
  return true;
}

bool Args::pendingOr(const char* name) {
  bool pending = false;
  napi_is_exception_pending(env_, &pending);
  if (!pending) typeError("argument '%s' could not be read", name);
  return false;
}

void Args::throwError(bool type, const char* fmt, va_list ap) {
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

}  // namespace tg
