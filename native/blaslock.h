// The lock behind blasThreads/setBlasThreads (kernels.h), for gemm.cc and pair.cc only: gemm holds it
// shared; gemmPair holds it exclusively while OpenBLAS runs on one thread, and calls gemmUnlocked.
#pragma once

#include <shared_mutex>

#include "kernels.h"

namespace tg {

std::shared_mutex& blasLock();
void gemmUnlocked(const GemmOptions& o, const float* a, const float* b, float* c);

}  // namespace tg
