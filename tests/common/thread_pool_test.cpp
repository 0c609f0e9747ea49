#include "common/thread_pool.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ward {
namespace {

TEST(ThreadPool, SubmitReturnsResults) {
    ThreadPool pool(2);
    EXPECT_EQ(pool.size(), 2u);
    std::vector<std::future<int>> futures;
    for (int i = 0; i < 100; ++i) futures.push_back(pool.submit([i] { return i * i; }));
    for (int i = 0; i < 100; ++i) EXPECT_EQ(futures[i].get(), i * i);
}

TEST(ThreadPool, SubmitPropagatesExceptions) {
    ThreadPool pool(1);
    auto f = pool.submit([]() -> int { throw std::runtime_error("boom"); });
    EXPECT_THROW(f.get(), std::runtime_error);
}

TEST(ThreadPool, ParallelForRunsEveryIndexOnce) {
    ThreadPool pool(3);
    for (size_t n : {0u, 1u, 2u, 7u, 1000u}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(n, [&](size_t i) { hits[i].fetch_add(1); });
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
}

TEST(ThreadPool, ParallelForUsesSeveralThreads) {
    ThreadPool pool(2);
    std::mutex m;
    std::set<std::thread::id> ids;
    // Each task waits (up to 10 s, for a loaded machine) until a second thread has joined in,
    // so one thread cannot drain every index alone unless the pool's workers never run.
    pool.parallel_for(16, [&](size_t) {
        {
            std::lock_guard lock(m);
            ids.insert(std::this_thread::get_id());
        }
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            {
                std::lock_guard lock(m);
                if (ids.size() >= 2) break;
            }
            std::this_thread::yield();
        }
    });
    EXPECT_GE(ids.size(), 2u);
}

TEST(ThreadPool, ParallelForRethrowsAfterAllIndicesRan) {
    ThreadPool pool(2);
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.parallel_for(50,
                                   [&](size_t i) {
                                       ran.fetch_add(1);
                                       if (i == 10) throw std::runtime_error("bad index");
                                   }),
                 std::runtime_error);
    EXPECT_EQ(ran.load(), 50);
}

TEST(ThreadPool, NestedParallelForDoesNotDeadlock) {
    ThreadPool pool(2);
    std::atomic<int> total{0};
    pool.parallel_for(4,
                      [&](size_t) { pool.parallel_for(4, [&](size_t) { total.fetch_add(1); }); });
    EXPECT_EQ(total.load(), 16);
}

TEST(ThreadPool, DestructorFinishesQueuedWork) {
    std::atomic<int> done{0};
    {
        ThreadPool pool(1);
        for (int i = 0; i < 20; ++i) (void)pool.submit([&] { done.fetch_add(1); });
    }
    EXPECT_EQ(done.load(), 20);
}

}  // namespace
}  // namespace ward
