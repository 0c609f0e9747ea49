// Append throughput of the audit log: the server appends one record per request, so this must
// stay well above the request rate (~100/s). Each append is one SQLite transaction plus the
// atomic rewrite of the head sidecar; the disk's fsync latency dominates.
//   build/release/bench/audit/audit_bench --benchmark_filter=Append
#include <unistd.h>

#include <filesystem>

#include <benchmark/benchmark.h>

#include "audit/audit.h"
#include "common/crypto.h"

namespace {

namespace fs = std::filesystem;

ward::audit::AuditRecord sample(int64_t i) {
    ward::audit::AuditRecord r;
    r.principal_id = "abcd1234";
    r.role = "clinician";
    r.route = "POST /v1/chat/completions";
    r.patient_key_hash = ward::crypto::sha256_hex("patient");
    r.model = "med-7b";
    r.model_sha256 = ward::crypto::sha256_hex("model");
    r.policy_version = "p1";
    r.prompt_sha256 = ward::crypto::sha256_hex("prompt" + std::to_string(i));
    r.output_sha256 = ward::crypto::sha256_hex("output" + std::to_string(i));
    r.http_status = 200;
    r.latency_ms = 120;
    r.request_id = "req-" + std::to_string(i);
    return r;
}

struct TempLog {
    fs::path dir;
    std::unique_ptr<ward::audit::AuditLog> log;
    TempLog() {
        const char* base = std::getenv("WARD_BENCH_DIR");
        dir = fs::path(base ? base : fs::temp_directory_path().string()) /
              ("ward-audit-bench-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir);
        log = std::move(ward::audit::AuditLog::open((dir / "audit.db").string())).value();
    }
    ~TempLog() {
        log.reset();
        fs::remove_all(dir);
    }
};

TempLog* shared_log = nullptr;

void BM_Append(benchmark::State& state) {
    if (state.thread_index() == 0) shared_log = new TempLog();
    int64_t i = state.thread_index() * 1000000;
    for (auto _ : state) {
        auto id = shared_log->log->append(sample(i++));
        if (!id) state.SkipWithError(id.error().message().c_str());
    }
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) {
        delete shared_log;
        shared_log = nullptr;
    }
}
BENCHMARK(BM_Append)->Threads(1)->Threads(4)->Threads(16)->UseRealTime()->MinTime(2.0);

void BM_Verify(benchmark::State& state) {
    TempLog t;
    for (int64_t i = 0; i < state.range(0); ++i) (void)t.log->append(sample(i));
    for (auto _ : state) {
        auto report = t.log->verify();
        if (!report || !report->ok) state.SkipWithError("verify failed");
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Verify)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
