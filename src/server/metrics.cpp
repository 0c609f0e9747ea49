#include "server/metrics.h"

#include <fmt/format.h>

#include "deid/deid.h"
#include "server/policy.h"

namespace ward::server {

namespace {

// Label values are our own route patterns and model names; escape anyway.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

void Metrics::observe_request(std::string_view route, int status, double seconds) {
    std::lock_guard lock(mu_);
    ++requests_[{std::string(route), status}];
    auto it = latency_.find(route);
    if (it == latency_.end()) it = latency_.emplace(std::string(route), Histogram{}).first;
    Histogram& h = it->second;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) ++h.counts[i];
    }
    ++h.count;
    h.sum += seconds;
}

void Metrics::observe_generation(std::string_view model, int prompt_tokens, int cached_tokens,
                                 int completion_tokens, double prompt_seconds,
                                 double generate_seconds) {
    std::lock_guard lock(mu_);
    auto it = models_.find(model);
    if (it == models_.end()) it = models_.emplace(std::string(model), ModelCounters{}).first;
    ModelCounters& m = it->second;
    ++m.requests;
    m.prompt_tokens += static_cast<uint64_t>(std::max(prompt_tokens, 0));
    m.cached_tokens += static_cast<uint64_t>(std::max(cached_tokens, 0));
    m.completion_tokens += static_cast<uint64_t>(std::max(completion_tokens, 0));
    m.prompt_seconds += prompt_seconds;
    m.generate_seconds += generate_seconds;
}

namespace {

void count_in(std::map<std::string, uint64_t, std::less<>>& counts, std::string_view key) {
    auto it = counts.find(key);
    if (it == counts.end()) it = counts.emplace(std::string(key), 0).first;
    ++it->second;
}

}  // namespace

void Metrics::count_refusal(std::string_view reason) {
    std::lock_guard lock(mu_);
    count_in(refusals_, reason);
}

void Metrics::count_event(std::string_view event) {
    std::lock_guard lock(mu_);
    count_in(events_, event);
}

std::string Metrics::render(const std::vector<ModelGauge>& models,
                            const PrivacyStats* privacy) const {
    std::string out;
    std::lock_guard lock(mu_);
    header(out, "ward_http_requests_total", "counter", "HTTP requests by route and status.");
    for (const auto& [key, n] : requests_) {
        out += fmt::format("ward_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                           label(key.first), key.second, n);
    }
    header(out, "ward_http_request_duration_seconds", "histogram",
           "Time from request to the last byte of the response, by route.");
    for (const auto& [route, h] : latency_) {
        for (size_t i = 0; i < kBuckets.size(); ++i) {
            out += fmt::format(
                "ward_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                label(route), kBuckets[i], h.counts[i]);
        }
        out += fmt::format(
            "ward_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
            label(route), h.count);
        out += fmt::format("ward_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n",
                           label(route), h.sum);
        out += fmt::format("ward_http_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                           label(route), h.count);
    }
    struct Series {
        const char* name;
        const char* type;
        const char* help;
        double (*get)(const ModelCounters&);
    };
    static const Series series[] = {
        {"ward_generations_total", "counter", "Generations finished, by model.",
         [](const ModelCounters& m) { return double(m.requests); }},
        {"ward_prompt_tokens_total", "counter", "Prompt tokens, by model.",
         [](const ModelCounters& m) { return double(m.prompt_tokens); }},
        {"ward_prompt_tokens_cached_total", "counter",
         "Prompt tokens served from the prefix cache, by model.",
         [](const ModelCounters& m) { return double(m.cached_tokens); }},
        {"ward_generated_tokens_total", "counter", "Generated tokens, by model.",
         [](const ModelCounters& m) { return double(m.completion_tokens); }},
        {"ward_prompt_seconds_total", "counter", "Seconds spent on prompts, by model.",
         [](const ModelCounters& m) { return m.prompt_seconds; }},
        {"ward_generate_seconds_total", "counter",
         "Seconds spent generating, by model (tokens/s = rate(tokens) / rate(seconds)).",
         [](const ModelCounters& m) { return m.generate_seconds; }},
        {"ward_generation_tokens_per_second", "gauge",
         "Mean generation speed per request since start, by model.",
         [](const ModelCounters& m) {
             return m.generate_seconds > 0 ? double(m.completion_tokens) / m.generate_seconds : 0.0;
         }},
    };
    for (const Series& s : series) {
        header(out, s.name, s.type, s.help);
        for (const auto& [model, m] : models_) {
            out += fmt::format("{}{{model=\"{}\"}} {}\n", s.name, label(model), s.get(m));
        }
    }
    header(out, "ward_queue_depth", "gauge", "Requests waiting for a generation slot, by model.");
    for (const auto& g : models) {
        out += fmt::format("ward_queue_depth{{model=\"{}\"}} {}\n", label(g.model), g.waiting);
    }
    header(out, "ward_active_generations", "gauge", "Requests generating now, by model.");
    for (const auto& g : models) {
        out +=
            fmt::format("ward_active_generations{{model=\"{}\"}} {}\n", label(g.model), g.active);
    }
    header(out, "ward_requests_in_flight", "gauge",
           "Generation requests admitted and not finished, by model.");
    for (const auto& g : models) {
        out += fmt::format("ward_requests_in_flight{{model=\"{}\"}} {}\n", label(g.model),
                           g.in_flight);
    }
    header(out, "ward_refusals_total", "counter",
           "Requests refused, by reason (queue_full, draining, auth, role, body_too_large, ...).");
    for (const auto& [reason, n] : refusals_) {
        out += fmt::format("ward_refusals_total{{reason=\"{}\"}} {}\n", label(reason), n);
    }
    header(out, "ward_events_total", "counter",
           "Other events: audit_append_failed, cds_feedback_accepted, cds_feedback_overridden.");
    for (const auto& [event, n] : events_) {
        out += fmt::format("ward_events_total{{event=\"{}\"}} {}\n", label(event), n);
    }
    if (privacy) {
        header(out, "ward_deid_requests_total", "counter",
               "Generations whose input was de-identified.");
        out += fmt::format("ward_deid_requests_total {}\n", privacy->requests_deidentified.load());
        header(out, "ward_deid_failures_total", "counter",
               "De-identification failures (each failed its request closed).");
        out += fmt::format("ward_deid_failures_total {}\n", privacy->failures.load());
        header(out, "ward_deid_spans_total", "counter", "Identifiers replaced, by category.");
        for (int c = 0; c < deid::kNumCategories; ++c) {
            out += fmt::format("ward_deid_spans_total{{category=\"{}\"}} {}\n",
                               deid::category_name(static_cast<deid::Category>(c)),
                               privacy->spans[c].load());
        }
    }
    return out;
}

}  // namespace ward::server
