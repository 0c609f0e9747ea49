#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "common/status.h"

namespace ward::engine {

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) {}

double Sampler::uniform() {
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

Sampled Sampler::sample(std::span<const float> logits, std::span<const int32_t> history,
                        std::span<const uint8_t> allowed) {
    const int n = static_cast<int>(logits.size());
    work_.assign(logits.begin(), logits.end());

    // Penalties over the recent window.
    const bool penalise = params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                          params_.frequency_penalty != 0.0f;
    if (penalise && !history.empty()) {
        size_t window = params_.repeat_last_n < 0
                            ? history.size()
                            : std::min(history.size(), size_t(params_.repeat_last_n));
        std::unordered_map<int32_t, int> counts;
        for (size_t i = history.size() - window; i < history.size(); ++i) ++counts[history[i]];
        for (const auto& [id, count] : counts) {
            if (id < 0 || id >= n) continue;
            float& l = work_[id];
            if (params_.repeat_penalty != 1.0f) {
                l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
            }
            l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
        }
    }

    // The mask: tokens it refuses can never be chosen.
    const bool masked = !allowed.empty();
    if (masked) {
        WARD_CHECK(allowed.size() == work_.size());
        for (size_t i = 0; i < work_.size(); ++i) {
            if (allowed[i] == 0) work_[i] = -std::numeric_limits<float>::infinity();
        }
    }

    // Log-softmax of the penalised (and masked) logits, for reporting.
    const float max = *std::max_element(work_.begin(), work_.end());
    double sum = 0;
    for (float l : work_) sum += std::exp(static_cast<double>(l - max));
    const float log_z = max + static_cast<float>(std::log(sum));

    Sampled out;
    if (params_.temperature <= 0) {
        out.id = static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());
    } else {
        // Candidates sorted by logit, best first (stable: ties keep the lower id first).
        ids_.resize(size_t(n));
        std::iota(ids_.begin(), ids_.end(), 0);
        int k = params_.top_k > 0 ? std::min(params_.top_k, n) : n;
        auto by_logit = [&](int32_t a, int32_t b) {
            return work_[a] > work_[b] || (work_[a] == work_[b] && a < b);
        };
        std::partial_sort(ids_.begin(), ids_.begin() + k, ids_.end(), by_logit);
        ids_.resize(size_t(k));
        // Probabilities at temperature 1 for top-p and min-p, as llama.cpp orders them.
        std::vector<double> p(ids_.size());
        double total = 0;
        for (size_t i = 0; i < ids_.size(); ++i) {
            p[i] = std::exp(static_cast<double>(work_[ids_[i]] - work_[ids_[0]]));
            total += p[i];
        }
        size_t keep = ids_.size();
        if (masked) {
            while (keep > 1 && std::isinf(work_[ids_[keep - 1]])) --keep;
        }
        if (params_.top_p < 1.0f) {
            double cum = 0;
            for (size_t i = 0; i < ids_.size(); ++i) {
                cum += p[i] / total;
                if (cum >= params_.top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        if (params_.min_p > 0.0f) {
            // p[0] is the largest (= 1 before normalising).
            size_t i = 1;
            while (i < keep && p[i] >= params_.min_p * p[0]) ++i;
            keep = i;
        }
        // Sample at the temperature from what is left.
        std::vector<double> q(keep);
        double qsum = 0;
        for (size_t i = 0; i < keep; ++i) {
            q[i] = std::exp(static_cast<double>(work_[ids_[i]] - work_[ids_[0]]) /
                            params_.temperature);
            qsum += q[i];
        }
        double r = uniform() * qsum;
        size_t pick = keep - 1;
        for (size_t i = 0; i < keep; ++i) {
            r -= q[i];
            if (r < 0) {
                pick = i;
                break;
            }
        }
        out.id = ids_[pick];
    }
    out.logprob = work_[out.id] - log_z;

    if (params_.n_logprobs > 0) {
        int k = std::min(params_.n_logprobs, n);
        std::vector<int32_t> top(static_cast<size_t>(n));
        std::iota(top.begin(), top.end(), 0);
        std::partial_sort(top.begin(), top.begin() + k, top.end(), [&](int32_t a, int32_t b) {
            return work_[a] > work_[b] || (work_[a] == work_[b] && a < b);
        });
        for (int i = 0; i < k; ++i) {
            if (std::isinf(work_[top[i]])) break;  // masked out
            out.top.push_back({top[i], work_[top[i]] - log_z});
        }
    }
    return out;
}

}  // namespace ward::engine
