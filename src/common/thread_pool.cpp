#include "common/thread_pool.h"

#include <atomic>
#include <exception>

namespace ward {
namespace {
thread_local const ThreadPool* current_pool = nullptr;
}

ThreadPool::ThreadPool(size_t n_threads) {
    if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
    workers_.reserve(n_threads);
    for (size_t i = 0; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
}

bool ThreadPool::in_worker() const {
    return current_pool == this;
}

void ThreadPool::enqueue(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(task));
    }
    cv_.notify_one();
}

void ThreadPool::worker_loop() {
    current_pool = this;
    while (true) {
        std::function<void()> task;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        task();
    }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
    if (n == 0) return;
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto run_one = [&](size_t i) {
        try {
            fn(i);
        } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!first_error) first_error = std::current_exception();
        }
    };
    if (n == 1 || in_worker()) {
        for (size_t i = 0; i < n; ++i) run_one(i);
    } else {
        // Indices are claimed from a shared counter by the caller and up to size() helpers.
        struct Shared {
            std::atomic<size_t> next{0};
            std::atomic<size_t> done{0};
            std::mutex m;
            std::condition_variable cv;
        };
        auto shared = std::make_shared<Shared>();
        auto drain = [shared, n, &run_one] {
            size_t i;
            while ((i = shared->next.fetch_add(1)) < n) {
                run_one(i);
                if (shared->done.fetch_add(1) + 1 == n) {
                    std::lock_guard lock(shared->m);
                    shared->cv.notify_all();
                }
            }
        };
        size_t helpers = std::min(size(), n - 1);
        for (size_t h = 0; h < helpers; ++h) enqueue(drain);
        drain();
        std::unique_lock lock(shared->m);
        shared->cv.wait(lock, [&] { return shared->done.load() == n; });
    }
    if (first_error) std::rethrow_exception(first_error);
}

}  // namespace ward
