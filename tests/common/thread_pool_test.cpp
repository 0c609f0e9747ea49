#include "common/thread_pool.h"

#include <atomic>
#include <numeric>
#include <stdexcept>
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
    std::atomic<int> inside{0};
    std::atomic<int> max_inside{0};
    pool.parallel_for(64, [&](size_t) {
        int now = inside.fetch_add(1) + 1;
        int prev = max_inside.load();
        while (now > prev && !max_inside.compare_exchange_weak(prev, now)) {
        }
        // Spin until someone else is inside too, or give up after a while: overlap is likely,
        // not guaranteed, on a loaded machine. The assertion below is on correctness only.
        for (int k = 0; k < 10000 && inside.load() < 2; ++k) std::this_thread::yield();
        inside.fetch_sub(1);
    });
    EXPECT_GE(max_inside.load(), 1);
    EXPECT_EQ(inside.load(), 0);
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
