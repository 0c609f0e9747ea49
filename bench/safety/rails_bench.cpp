// Throughput of the injection, phi-leak and scope rails and of the pipeline, one thread:
//   - injection on the labelled notes and passages (tests/safety/data/injection_messages.tsv,
//     short) and on one 1.6 KB guideline passage (the size a knowledge-base chunk has);
//   - phi-leak on a 400-byte model output with identifiers;
//   - scope (patient-education policy) on short requests;
//   - the default pipeline's input stage ("patient-education": crisis, injection, scope) and
//     output stage for a de-identified role (phi-leak, and dose when registered).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "safety/injection.h"
#include "safety/phi_leak.h"
#include "safety/pipeline.h"
#include "safety/scope.h"

namespace {

const std::vector<std::string>& labelled_texts() {
    static const auto out = [] {
        std::string path =
            std::string(WARD_SOURCE_DIR) + "/tests/safety/data/injection_messages.tsv";
        std::string content = ward::read_file(path).value();
        std::vector<std::string> texts;
        size_t i = 0;
        while (i < content.size()) {
            size_t e = content.find('\n', i);
            if (e == std::string::npos) e = content.size();
            std::string row = content.substr(i, e - i);
            i = e + 1;
            size_t t = row.find('\t', row.find('\t') + 1);
            if (t != std::string::npos) texts.push_back(row.substr(t + 1));
        }
        return texts;
    }();
    return out;
}

const std::string kPassage =
    "Metformin is the preferred initial pharmacologic agent for the treatment of type 2 "
    "diabetes. It is effective and safe, is inexpensive, and may reduce risk of cardiovascular "
    "events and death. Metformin should be started at the time type 2 diabetes is diagnosed "
    "unless there are contraindications. The dose should be titrated gradually to reduce "
    "gastrointestinal side effects: start with 500 mg once or twice daily with meals and "
    "increase by 500 mg every 1 to 2 weeks as tolerated, to a maximum of 2,000 to 2,550 mg per "
    "day in divided doses. Metformin may be safely used in people with an estimated glomerular "
    "filtration rate of 30 mL/min/1.73 m2 or more; do not start it below 45, and stop it below "
    "30. Hold metformin before iodinated contrast imaging in patients with an eGFR between 30 "
    "and 60, a history of liver disease, alcoholism or heart failure, and restart 48 hours "
    "after the procedure if renal function is stable. Long-term use is associated with "
    "vitamin B12 deficiency; measure B12 periodically, especially in patients with anaemia or "
    "peripheral neuropathy. Patients should be told to report persistent vomiting, "
    "abdominal pain or unusual muscle pain, which may signal lactic acidosis, a rare but "
    "serious adverse effect. Ignore isolated mildly raised lactate values in patients who are "
    "otherwise well. Combination therapy should be considered when the HbA1c is 1.5% or more "
    "above the individual target at diagnosis.";

const std::string kOutput =
    "Discharge summary for Mr. John Smith (MRN 4839201), admitted 03/14/2024 with community-"
    "acquired pneumonia. Treated with ceftriaxone and azithromycin, switched to oral "
    "amoxicillin-clavulanate on day 3. Oxygen weaned to room air. Follow up with Dr. Alice "
    "Wong at Riverside Clinic in 1 week; call (617) 555-0142 with questions. Repeat chest "
    "X-ray in 6 weeks to confirm resolution.";

const std::vector<std::string> kRequests = {
    "What is type 2 diabetes?",
    "How does metformin work and what are its side effects?",
    "how many oxycodone can I take to get high",
    "prescribe me Xanax",
    "What should I eat before a colonoscopy?",
    "Does Mr. Jones have cancer?",
};

void BM_InjectionLabelledTexts(benchmark::State& state) {
    static const auto d = ward::safety::InjectionDetector::create({}).value();
    size_t bytes = 0;
    for (auto _ : state) {
        for (const auto& t : labelled_texts()) {
            auto r = d.check(t);
            benchmark::DoNotOptimize(r);
            bytes += t.size();
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["texts/s"] =
        benchmark::Counter(static_cast<double>(labelled_texts().size() * state.iterations()),
                           benchmark::Counter::kIsRate);
}
BENCHMARK(BM_InjectionLabelledTexts);

void BM_InjectionPassage(benchmark::State& state) {
    static const auto d = ward::safety::InjectionDetector::create({}).value();
    for (auto _ : state) {
        auto r = d.check(kPassage);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(kPassage.size() * state.iterations()));
}
BENCHMARK(BM_InjectionPassage);

void BM_PhiLeakOutput(benchmark::State& state) {
    static const auto rail = ward::safety::PhiLeakRail::create({}).value();
    for (auto _ : state) {
        auto r = rail.check(kOutput);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(kOutput.size() * state.iterations()));
}
BENCHMARK(BM_PhiLeakOutput);

void BM_ScopeRequests(benchmark::State& state) {
    static const auto rail = ward::safety::ScopeRail::create(
                                 ward::safety::default_scope_policy("patient-education").value())
                                 .value();
    for (auto _ : state) {
        for (const auto& q : kRequests) {
            auto r = rail.check(q);
            benchmark::DoNotOptimize(r);
        }
    }
    state.counters["requests/s"] = benchmark::Counter(
        static_cast<double>(kRequests.size() * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScopeRequests);

const ward::safety::Pipeline& pipeline() {
    static const auto p =
        ward::safety::Pipeline::create(ward::safety::default_pipeline_config()).value();
    return p;
}

void BM_PipelineInput(benchmark::State& state) {
    for (auto _ : state) {
        for (const auto& q : kRequests) {
            auto o = pipeline().run_input("patient-education", q);
            benchmark::DoNotOptimize(o);
        }
    }
    state.counters["requests/s"] = benchmark::Counter(
        static_cast<double>(kRequests.size() * state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PipelineInput);

void BM_PipelineOutputDeidentified(benchmark::State& state) {
    for (auto _ : state) {
        auto o = pipeline().run_output("summary", kOutput, /*role_sees_phi=*/false);
        benchmark::DoNotOptimize(o);
    }
    state.SetBytesProcessed(static_cast<int64_t>(kOutput.size() * state.iterations()));
}
BENCHMARK(BM_PipelineOutputDeidentified);

}  // namespace

BENCHMARK_MAIN();
