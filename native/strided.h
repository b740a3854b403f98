// Walking a strided view one innermost run at a time (permute and sumTo).
#pragma once

#include <cstdint>
#include <vector>

namespace tg {

// Advance the row-major multi-index idx over dims [0, r-1) (the caller walks the last dim as a
// run), keeping *off == sum over d of idx[d] * stride[d].
inline void nextRun(const std::vector<int64_t>& size, const std::vector<int64_t>& stride, std::vector<int64_t>* idx,
                    int64_t* off) {
  for (size_t d = size.size() - 1; d-- > 0;) {
    *off += stride[d];
    if (++(*idx)[d] < size[d]) return;
    *off -= stride[d] * size[d];
    (*idx)[d] = 0;
  }
}

}  // namespace tg
