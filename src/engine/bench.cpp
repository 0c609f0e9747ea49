#include "engine/bench.h"

#include <sys/mman.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "common/thread_pool.h"
#include "engine/batch.h"
#include "engine/kernels.h"
#include "engine/session.h"

namespace ward::engine {
namespace {

using Clock = std::chrono::steady_clock;

void mean_stddev(const std::vector<double>& v, double& mean, double& stddev) {
    mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    stddev = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
}

// Aggregate tokens/s of `n_streams` sessions decoding together, one token each per step, for
// n_gen steps from an empty context; one sample per rep.
Result<std::vector<double>> batched_decode(const std::shared_ptr<const Model>& model,
                                           const std::shared_ptr<WorkerTeam>& team, int n_streams,
                                           int n_gen, int reps, std::mt19937& rng) {
    std::uniform_int_distribution<int32_t> token(3, model->hparams().n_vocab - 1);
    std::vector<std::unique_ptr<Session>> sessions;
    for (int i = 0; i < n_streams; ++i) {
        SessionOptions so;
        so.n_ctx = std::max(n_gen + 1, 16);
        so.team = team;
        WARD_ASSIGN_OR_RETURN(auto s, Session::create(model, so));
        sessions.push_back(std::move(s));
    }
    BatchEvaluator evaluator(model, team, n_streams);
    std::vector<int32_t> next(static_cast<size_t>(n_streams), 1);
    std::vector<BatchItem> items;
    std::vector<float> logits;
    auto step = [&]() -> Status {
        items.clear();
        for (int i = 0; i < n_streams; ++i) items.push_back({sessions[i].get(), {&next[i], 1}});
        WARD_TRY(evaluator.eval(items, logits));
        for (auto& t : next) t = token(rng);
        return ok_status();
    };
    // Untimed: grows the evaluator's scratch to its size.
    WARD_TRY(step());
    std::vector<double> samples;
    for (int rep = 0; rep < reps; ++rep) {
        for (auto& s : sessions) s->reset();
        auto t0 = Clock::now();
        for (int i = 0; i < n_gen; ++i) WARD_TRY(step());
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        samples.push_back(double(n_gen) * n_streams / secs);
    }
    return samples;
}

}  // namespace

double measure_read_bandwidth(int n_threads) {
    if (n_threads <= 0)
        n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    constexpr size_t kBytes = size_t{1} << 30;  // 1 GiB: far beyond any cache
    const size_t n = kBytes / sizeof(uint64_t);
    // 2 MiB-aligned and backed by huge pages where the kernel allows, so the probe measures
    // memory, not page-table walks.
    struct Free {
        void operator()(uint64_t* p) const { std::free(p); }
    };
    std::unique_ptr<uint64_t, Free> buf(
        static_cast<uint64_t*>(std::aligned_alloc(size_t{2} << 20, kBytes)));
    if (!buf) return 0;
    ::madvise(buf.get(), kBytes, MADV_HUGEPAGE);
    // Touch every page from the threads that will read it (first-touch placement).
    ThreadPool pool(static_cast<size_t>(n_threads));
    const size_t per = n / static_cast<size_t>(n_threads);
    pool.parallel_for(static_cast<size_t>(n_threads), [&](size_t t) {
        std::memset(buf.get() + t * per, 1, per * sizeof(uint64_t));
    });
    std::vector<uint64_t> sums(static_cast<size_t>(n_threads) * 8);
    // The widest loads the active kernel path has, as the matrix kernels read weights.
    const kernels::StreamReadFn read = kernels::active_kernels().stream_read;
    double best = 0;
    for (int pass = 0; pass < 5; ++pass) {
        auto t0 = Clock::now();
        pool.parallel_for(static_cast<size_t>(n_threads), [&](size_t t) {
            const auto* p = reinterpret_cast<const uint8_t*>(buf.get() + t * per);
            sums[t * 8] = read(p, static_cast<int64_t>(per * sizeof(uint64_t)) / 64 * 64);
        });
        double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        best = std::max(best,
                        static_cast<double>(per * static_cast<size_t>(n_threads) * 8) / secs / 1e9);
    }
    volatile uint64_t keep = sums[0];
    (void)keep;
    return best;
}

Result<BenchResult> run_bench(std::shared_ptr<const Model> model, const BenchOptions& o) {
    BenchResult r;
    r.model = model->file().path();
    r.threads = o.n_threads > 0
                    ? o.n_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    r.n_prompt = o.n_prompt;
    r.n_gen = o.n_gen;
    r.reps = std::max(1, o.reps);
    const int n_ctx = std::max(o.n_prompt + o.n_gen + 1, 16);
    SessionOptions so;
    so.n_ctx = n_ctx;
    so.n_threads = r.threads;
    so.n_batch = std::max(1, o.n_prompt);
    WARD_ASSIGN_OR_RETURN(auto session, Session::create(model, so));
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> token(3, model->hparams().n_vocab - 1);

    // One untimed warm-up pass brings the weights into the page cache.
    {
        std::vector<int32_t> warm = {1, token(rng)};
        WARD_TRY(session->eval(warm).status());
        session->reset();
    }
    std::vector<double> pp, tg;
    for (int rep = 0; rep < r.reps; ++rep) {
        if (o.n_prompt > 0) {
            std::vector<int32_t> prompt(static_cast<size_t>(o.n_prompt));
            for (auto& t : prompt) t = token(rng);
            session->reset();
            auto t0 = Clock::now();
            WARD_TRY(session->eval(prompt).status());
            pp.push_back(o.n_prompt / std::chrono::duration<double>(Clock::now() - t0).count());
        }
        if (o.n_gen > 0) {
            session->reset();
            int32_t next = 1;
            auto t0 = Clock::now();
            for (int i = 0; i < o.n_gen; ++i) {
                WARD_ASSIGN_OR_RETURN(auto logits,
                                      session->eval(std::span<const int32_t>(&next, 1)));
                next = token(rng);
                (void)logits;
            }
            tg.push_back(o.n_gen / std::chrono::duration<double>(Clock::now() - t0).count());
        }
    }
    if (!pp.empty()) mean_stddev(pp, r.pp_tokens_per_s, r.pp_stddev);
    if (!tg.empty()) mean_stddev(tg, r.tg_tokens_per_s, r.tg_stddev);
    if (o.n_gen > 0 && !o.streams.empty()) {
        const std::shared_ptr<WorkerTeam> team = session->team();
        for (int n : o.streams) {
            if (n < 1 || n > 256) {
                return invalid_argument("bench: {} streams is outside [1, 256]", n);
            }
            WARD_ASSIGN_OR_RETURN(auto samples,
                                  batched_decode(model, team, n, o.n_gen, r.reps, rng));
            StreamsResult sr;
            sr.streams = n;
            mean_stddev(samples, sr.tokens_per_s, sr.stddev);
            r.batched.push_back(sr);
        }
        double single = r.batched.front().tokens_per_s;
        for (const auto& sr : r.batched) {
            if (sr.streams == 1) single = sr.tokens_per_s;
        }
        for (auto& sr : r.batched) sr.speedup = sr.tokens_per_s / single;
    }
    session.reset();
    r.bandwidth_gb_s = measure_read_bandwidth(r.threads);
    r.bytes_per_token = static_cast<double>(model->decode_bytes_per_token());
    r.decode_bound_tokens_per_s = r.bandwidth_gb_s * 1e9 / r.bytes_per_token;
    r.fraction_of_bound = r.tg_tokens_per_s / r.decode_bound_tokens_per_s;
    return r;
}

}  // namespace ward::engine
