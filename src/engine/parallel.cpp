#include "engine/parallel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ward::engine {
namespace {
inline void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
}
// A decode step runs jobs a few microseconds apart, so a short spin catches the next one; past
// that the thread sleeps, which also keeps an oversubscribed machine from starving.
constexpr int kSpinsBeforeSleep = 4096;
constexpr int kSpinsBeforeYield = 2048;
}  // namespace

WorkerTeam::WorkerTeam(int n_threads) {
    if (n_threads <= 0)
        n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    n_threads_ = n_threads;
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

WorkerTeam::~WorkerTeam() {
    stop_.store(true);
    epoch_.fetch_add(1);
    epoch_.notify_all();
    for (auto& t : threads_) t.join();
}

void WorkerTeam::worker(int ith) {
    uint32_t seen = 0;
    while (true) {
        // Wait for a new epoch: spin first, then sleep.
        uint32_t e = epoch_.load(std::memory_order_acquire);
        for (int spin = 0; e == seen && spin < kSpinsBeforeSleep; ++spin) {
            cpu_relax();
            e = epoch_.load(std::memory_order_acquire);
        }
        while (e == seen) {
            // wait() returns at once if the epoch moved after the load above, so a job
            // published while this thread decides to sleep is never missed.
            sleepers_.fetch_add(1, std::memory_order_acq_rel);
            epoch_.wait(seen, std::memory_order_acquire);
            sleepers_.fetch_sub(1, std::memory_order_acq_rel);
            e = epoch_.load(std::memory_order_acquire);
        }
        seen = e;
        if (stop_.load()) return;
        (*job_)(ith, n_threads_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void WorkerTeam::run(const std::function<void(int, int)>& fn) {
    if (n_threads_ == 1) {
        fn(0, 1);
        return;
    }
    std::lock_guard lock(run_mutex_);
    job_ = &fn;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) epoch_.notify_all();
    fn(0, n_threads_);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
        if (spin < kSpinsBeforeYield) {
            cpu_relax();
        } else {
            std::this_thread::yield();  // a worker was descheduled: let it run
        }
    }
}

}  // namespace ward::engine
