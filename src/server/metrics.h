// Prometheus metrics of the server (text exposition format 0.0.4): requests by route and
// status, request latency histograms by route, prompt and generated tokens and generation time
// by model (tokens/s = rate of tokens over rate of seconds), queue depth and active generations
// by model (sampled when scraped), de-identification counts by category, refusals by reason,
// other events (audit failures, CDS card feedback) by name.
// Labels carry route patterns, model names, categories and reasons: never ids, text or PHI.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ward::server {

struct PrivacyStats;

class Metrics {
  public:
    struct ModelGauge {
        std::string model;
        int active = 0;
        int waiting = 0;
        int in_flight = 0;
    };

    // route: the route's pattern ("/v1/patients/{id}/context"), never the concrete path.
    void observe_request(std::string_view route, int status, double seconds);
    void observe_generation(std::string_view model, int prompt_tokens, int cached_tokens,
                            int completion_tokens, double prompt_seconds, double generate_seconds);
    // A request refused: "queue_full", "draining", "auth", "role", "body_too_large", ...
    void count_refusal(std::string_view reason);
    // Something that happened that is not a refusal: "audit_append_failed",
    // "cds_feedback_accepted", "cds_feedback_overridden".
    void count_event(std::string_view event);

    // The exposition text; gauges and privacy counters are read at call time.
    std::string render(const std::vector<ModelGauge>& models, const PrivacyStats* privacy) const;

  private:
    static constexpr std::array<double, 14> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                        1,     2.5,  5,     10,   30,  60,   300};
    struct Histogram {
        std::array<uint64_t, kBuckets.size()> counts{};
        uint64_t count = 0;
        double sum = 0;
    };
    struct ModelCounters {
        uint64_t requests = 0, prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
        double prompt_seconds = 0, generate_seconds = 0;
    };
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, uint64_t, std::less<>> requests_;
    std::map<std::string, Histogram, std::less<>> latency_;
    std::map<std::string, ModelCounters, std::less<>> models_;
    std::map<std::string, uint64_t, std::less<>> refusals_;
    std::map<std::string, uint64_t, std::less<>> events_;
};

}  // namespace ward::server
