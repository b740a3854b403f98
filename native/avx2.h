// Hot memory-bound loops compiled twice: for the x86-64 baseline (SSE2, 4 floats per instruction)
// and with AVX2 (8), picked at run time. Only "avx2", never "fma": the compiler cannot contract
// a·b + c, so both versions round exactly alike (bit-identical results on every CPU).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TG_AVX2_TARGET __attribute__((target("avx2")))
namespace tg {
inline bool hasAvx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}
}  // namespace tg
#else
#define TG_AVX2_TARGET
namespace tg {
inline bool hasAvx2() { return false; }
}  // namespace tg
#endif

// Defines NAME PARAMS, which runs the inline function NAME##Body compiled with AVX2 when the CPU has it.
#define TG_AVX2_DISPATCH(NAME, PARAMS, ARGS)                     \
  TG_AVX2_TARGET static void NAME##Avx2 PARAMS { NAME##Body ARGS; } \
  static void NAME##Base PARAMS { NAME##Body ARGS; }               \
  static void NAME PARAMS {                                        \
    if (hasAvx2()) NAME##Avx2 ARGS;                                \
    else NAME##Base ARGS;                                          \
  }
