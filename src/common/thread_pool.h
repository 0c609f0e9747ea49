// A fixed-size thread pool. Threads are created once, at construction, never per task.
// `submit` queues a task and returns a future; `parallel_for` splits an index range across the
// workers and the calling thread and returns when every index has run.
//
// Thread safety: submit() and parallel_for() may be called from any thread, including from
// inside a task (parallel_for from inside a task runs inline rather than deadlocking).
// The destructor finishes queued tasks, then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace ward {

class ThreadPool {
  public:
    // n_threads == 0 means std::thread::hardware_concurrency() (at least 1).
    explicit ThreadPool(size_t n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    size_t size() const { return workers_.size(); }

    // Queues `fn`; the future carries its result or its exception.
    template <typename F>
    auto submit(F&& fn) -> std::future<std::invoke_result_t<F>> {
        using R = std::invoke_result_t<F>;
        auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
        std::future<R> result = task->get_future();
        enqueue([task] { (*task)(); });
        return result;
    }

    // Runs fn(i) for every i in [0, n), spread over the workers and the caller; blocks until
    // all are done. The first exception thrown by fn is rethrown here after all indices ran.
    void parallel_for(size_t n, const std::function<void(size_t)>& fn);

    // True on a thread owned by this pool.
    bool in_worker() const;

  private:
    void enqueue(std::function<void()> task);
    void worker_loop();

    std::vector<std::thread> workers_;
    std::deque<std::function<void()>> queue_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
};

}  // namespace ward
