// runParts: two parts of one kernel at the same time, part 0 on the caller's thread and part 1 on one
// persistent helper thread, each with one OpenBLAS thread. gemmPair runs two independent gemms this
// way (inter-op parallelism), e.g. a layer's dX = g·W and dW = gᵀ·x, so its results are bitwise those
// of two single-threaded gemm calls; linear.cc splits a layer's columns (each core keeps its rows of W).
//
// OpenBLAS's thread count is process-wide (blas_cpu_number): it is set to 1 for the duration of the
// pair and restored afterwards, under an exclusive lock that every gemm call and thread-count read
// shares (blaslock.h), so no other thread's gemm runs meanwhile or sees the transient count, and a
// pair takes the same path, with the same bits, on the main thread and in worker_threads.
// Concurrent single-threaded calls are safe in OpenBLAS's pthread build since 0.3.7 (thread-safe
// buffer allocation; OpenMathLib/OpenBLAS#1844, #2126), and test/gemm-pair.test.ts
// checks thousands of pairs against sequential calls bit for bit.
//
// The helper is created on first use and deliberately never joined or destroyed: it only ever waits
// on its condition variable between jobs, and a static destructor joining it at exit could deadlock
// or run after OpenBLAS is torn down. The caller blocks until both products are written, so the
// arrays stay alive (a Worker being terminated cannot run JS, let alone collect, until we return).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "blaslock.h"
#include "kernels.h"

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}

#ifndef TG_PAIR_SPIN_US
#define TG_PAIR_SPIN_US 50
#endif

namespace tg {
namespace {

using Part = std::function<void(int)>;

inline void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

class Helper {
 public:
  Helper() { std::thread([this] { loop(); }).detach(); }

  // Runs part(1) on the helper and part(0) here; returns when both are done. If the helper has not
  // picked part 1 up by the time part 0 is done (it was not scheduled: a loaded machine), this
  // thread runs it too, so a pair is never much slower than the two parts in a row.
  void run(const Part& part) {
    {
      std::lock_guard<std::mutex> l(m_);
      job_ = &part;
      state_.store(kPosted, std::memory_order_release);
    }
    cv_.notify_all();
    part(0);
    int posted = kPosted;
    if (state_.compare_exchange_strong(posted, kIdle, std::memory_order_acq_rel)) {
      part(1);
      return;
    }
    waitFor(kDone);
    state_.store(kIdle, std::memory_order_relaxed);
  }

 private:
  enum : int { kIdle, kPosted, kRunning, kDone };
  // Both sides spin a while before sleeping: the two halves of a pair take about as long, and the
  // next pair of a backward pass follows within microseconds, while waking a sleeping thread costs
  // tens of microseconds on a VM.
  static constexpr auto kSpin = std::chrono::microseconds(TG_PAIR_SPIN_US);

  void waitFor(int s) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
      if (state_.load(std::memory_order_acquire) == s) return;
      relax();
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
    }
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return state_.load(std::memory_order_acquire) == s; });
  }

  void loop() {
    for (;;) {
      waitFor(kPosted);
      // The caller may take the job back meanwhile (run): only a successful claim reads job_.
      int posted = kPosted;
      if (!state_.compare_exchange_strong(posted, kRunning, std::memory_order_acq_rel)) continue;
      (*job_)(1);
      {
        std::lock_guard<std::mutex> l(m_);
        state_.store(kDone, std::memory_order_release);
      }
      cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<int> state_{kIdle};
  const Part* job_ = nullptr;
};

Helper& helper() {
  static Helper* h = new Helper();  // leaked on purpose (see the top of this file)
  return *h;
}

}  // namespace

void runParts(const Part& part, bool together) {
  // Exclusive: one pair at a time, and every other gemm (any thread, gemmAsync too) waits, so none
  // runs on the transient single OpenBLAS thread. Same path and bits on the main thread and in workers.
  std::unique_lock<std::shared_mutex> l(blasLock());
  const int threads = openblas_get_num_threads();
  if (threads < 2) {
    part(0);
    part(1);
    return;
  }
  openblas_set_num_threads(1);
  if (together) {
    helper().run(part);
  } else {
    part(0);
    part(1);
  }
  openblas_set_num_threads(threads);
}

void gemmPair(const GemmOptions& o1, const float* a1, const float* b1, float* c1, const GemmOptions& o2,
              const float* a2, const float* b2, float* c2) {
  const auto work = [](const GemmOptions& o) { return double(o.m) * double(o.n) * double(o.k); };
  runParts([&](int p) { p == 0 ? gemmUnlocked(o1, a1, b1, c1) : gemmUnlocked(o2, a2, b2, c2); },
           std::max(work(o1), work(o2)) >= kTwoThreadWork);
}

}  // namespace tg
