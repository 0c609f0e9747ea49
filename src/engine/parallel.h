// The engine's worker team: a fixed set of threads that run one function together, each on its
// share of the work, with cheap synchronisation. Workers spin briefly between jobs (a decode
// step runs a few hundred jobs back to back) and then sleep on an atomic wait, so an idle
// engine costs nothing. No thread is created per token.
//
// Thread safety: run() may be called from several threads; calls are serialised.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ward::engine {

class WorkerTeam {
  public:
    // n_threads counts the caller: a team of 2 has one worker thread. 0: hardware threads.
    explicit WorkerTeam(int n_threads = 0);
    ~WorkerTeam();
    WorkerTeam(const WorkerTeam&) = delete;
    WorkerTeam& operator=(const WorkerTeam&) = delete;

    int size() const { return n_threads_; }

    // Runs fn(ith, nth) on every member (the caller is ith 0) and returns when all are done.
    // fn must not throw.
    void run(const std::function<void(int ith, int nth)>& fn);

  private:
    void worker(int ith);

    int n_threads_ = 1;
    std::vector<std::thread> threads_;
    std::mutex run_mutex_;
    const std::function<void(int, int)>* job_ = nullptr;
    std::atomic<uint32_t> epoch_{0};
    std::atomic<int> pending_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
};

// Splits [0, n) into nth nearly equal parts; returns part ith as [begin, end).
inline void split_range(int64_t n, int ith, int nth, int64_t& begin, int64_t& end) {
    const int64_t per = n / nth, extra = n % nth;
    begin = ith * per + std::min<int64_t>(ith, extra);
    end = begin + per + (ith < extra ? 1 : 0);
}

}  // namespace ward::engine
