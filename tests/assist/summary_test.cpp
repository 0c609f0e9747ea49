#include "assist/summary.h"

#include <cstdlib>
#include <functional>
#include <mutex>

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/mapped_file.h"
#include "interop/context.h"
#include "interop/fhir.h"
#include "support/fake_backend.h"

namespace ward::assist {
namespace {

std::string shared_data() {
    const char* env = std::getenv("WARD_SHARED_DATA");
    return env && *env ? env : WARD_SHARED_DATA;
}

constexpr const char* kLeta = "Leta870_Kihn564_5a67c244-3dae-770c-1a41-85790f73b1b1.json";
constexpr const char* kReferenceDate = "2020-11-01";

interop::PatientRecord load_patient(const char* file) {
    auto r = interop::read_fhir_file(shared_data() + "/fhir/synthea/" + file);
    EXPECT_TRUE(r) << r.error().to_string();
    if (!r || r->patients.size() != 1) return {};
    return r->patients[0];
}

SummaryOptions options() {
    SummaryOptions o;
    o.model = "fake-model";
    o.reference_date = kReferenceDate;
    return o;
}

// The context summarize() builds for `backend` with `o` (same options, same counter).
interop::Context expected_context(const interop::PatientRecord& record, const FakeBackend& backend,
                                  size_t budget) {
    interop::ContextOptions c;
    c.reference_date = kReferenceDate;
    c.token_budget = budget;
    c.count_tokens = [&backend](std::string_view t) { return backend.count_tokens(t); };
    auto ctx = interop::build_context(record, c);
    EXPECT_TRUE(ctx) << ctx.error().to_string();
    return ctx ? *ctx : interop::Context{};
}

TEST(Summary, PromptHoldsInstructionsAndTheContext) {
    auto record = load_patient(kLeta);
    FakeBackend backend;
    std::atomic<bool> cancel{false};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    SummaryOptions o = options();
    o.cancelled = &cancel;
    o.deadline = deadline;
    auto s = summarize(record, backend, o);
    ASSERT_TRUE(s) << s.error().to_string();

    const llm::Request& r = backend.last_;
    ASSERT_EQ(r.messages.size(), 2u);
    EXPECT_EQ(r.messages[0].role, "system");
    EXPECT_NE(r.messages[0].content.find("square brackets"), std::string::npos);
    EXPECT_NE(r.messages[0].content.find("not documented"), std::string::npos);
    EXPECT_EQ(r.messages[1].role, "user");
    interop::Context ctx = expected_context(record, backend, s->token_budget);
    EXPECT_NE(r.messages[1].content.find(ctx.text), std::string::npos);
    EXPECT_NE(ctx.text.find("[P1]"), std::string::npos);
    EXPECT_EQ(s->context_sha256, crypto::sha256_hex(ctx.text));
    EXPECT_EQ(s->n_included, ctx.n_included);
    EXPECT_EQ(s->n_omitted, ctx.n_omitted);
    // Passed through: model, determinism, answer length, deadline and the cancel flag.
    EXPECT_EQ(r.model, "fake-model");
    ASSERT_TRUE(r.params.temperature.has_value());
    EXPECT_EQ(*r.params.temperature, 0.0f);
    EXPECT_EQ(r.params.max_tokens, 400);
    EXPECT_EQ(r.deadline, deadline);
    EXPECT_EQ(r.cancelled, &cancel);
    EXPECT_EQ(s->patient_id, record.id);
    EXPECT_EQ(s->reference_date, kReferenceDate);
    EXPECT_EQ(s->model.name, "fake-model");
    EXPECT_EQ(s->counts.active_problems, 2u);
}

TEST(Summary, CitationsResolveAndInventedIdsAreReported) {
    auto record = load_patient(kLeta);
    FakeBackend backend;
    backend.script_ = [](const llm::Request&) {
        return std::string(
            "Active problems include two documented conditions [P1, P2]. The latest SARS-CoV-2 "
            "test is reported [L1][P1]. Smoking status is not documented. Warfarin is "
            "prescribed [M7] [Z12]. See [sic] and [1].");
    };
    std::string streamed;
    auto s = summarize(record, backend, options(), [&](const llm::Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_TRUE(s) << s.error().to_string();
    EXPECT_EQ(streamed, s->text);
    interop::Context ctx = expected_context(record, backend, s->token_budget);

    ASSERT_EQ(s->citations.size(), 3u);
    EXPECT_EQ(s->citations[0].id, "P1");
    EXPECT_EQ(s->citations[1].id, "P2");
    EXPECT_EQ(s->citations[2].id, "L1");
    for (const auto& c : s->citations) {
        auto it = std::find_if(ctx.citations.begin(), ctx.citations.end(),
                               [&](const interop::Citation& x) { return x.id == c.id; });
        ASSERT_NE(it, ctx.citations.end()) << c.id;
        EXPECT_EQ(c.label, it->label);
        EXPECT_EQ(c.sources, it->sources);
        EXPECT_FALSE(c.sources.empty()) << c.id;
    }
    // The patient has no medications: [M7] is invented, as is [Z12]. Both are reported, and
    // the text is left as the model wrote it.
    EXPECT_EQ(s->unsupported_ids, (std::vector<std::string>{"M7", "Z12"}));
    EXPECT_NE(s->text.find("[M7]"), std::string::npos);
}

TEST(Summary, CitedIdsParsing) {
    EXPECT_EQ(cited_ids("a [P1, M2][L3] b [P1] [sic] [1] [x9] [A1;V2 N3] [[S4]"),
              (std::vector<std::string>{"P1", "M2", "L3", "A1", "V2", "N3", "S4"}));
    EXPECT_TRUE(cited_ids("no citations here [").empty());
    EXPECT_TRUE(cited_ids("[P123456]").empty());
}

TEST(Summary, BudgetFitsTheModelWindowCountedByTheBackend) {
    auto record = load_patient(kLeta);
    FakeBackend backend(/*context_length=*/1200);
    SummaryOptions o = options();
    o.max_tokens = 300;
    auto s = summarize(record, backend, o);
    ASSERT_TRUE(s) << s.error().to_string();
    size_t prompt = 0;
    for (const auto& m : backend.last_.messages) prompt += backend.count_tokens(m.content);
    EXPECT_LE(prompt + kTemplateReserve + 300, 1200u);
    EXPECT_LE(s->context_tokens, s->token_budget);
    interop::Context ctx = expected_context(record, backend, s->token_budget);
    EXPECT_EQ(s->context_tokens, quarter_bytes(ctx.text));
    EXPECT_GT(s->n_omitted, 0u) << "the record should not fit 1200 tokens whole";

    // An explicit budget is used as given.
    o.token_budget = 250;
    s = summarize(record, backend, o);
    ASSERT_TRUE(s) << s.error().to_string();
    EXPECT_EQ(s->token_budget, 250u);
    EXPECT_LE(quarter_bytes(backend.last_.messages[1].content),
              250u +
                  quarter_bytes("Patient record extract. Each item starts with its id in "
                                "square brackets.\n\n\nWrite the summary now, citing item "
                                "ids.") +
                  1);

    // A window too small for the instructions and the answer.
    FakeBackend tiny(/*context_length=*/350);
    o.token_budget = 0;
    auto small = summarize(record, tiny, o);
    ASSERT_FALSE(small);
    EXPECT_EQ(small.error().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(tiny.calls_, 0);
}

// A chat template that takes more than kTemplateReserve: the automatic budget shrinks until
// the backend says the prompt fits.
TEST(Summary, AutomaticBudgetShrinksWhenTheTemplateNeedsMore) {
    auto record = load_patient(kLeta);
    FakeBackend backend(/*context_length=*/1200);
    backend.template_tokens_ = 250;
    SummaryOptions o = options();
    o.max_tokens = 300;
    auto s = summarize(record, backend, o);
    ASSERT_TRUE(s) << s.error().to_string();
    EXPECT_GT(backend.checks_, 1);
    EXPECT_EQ(backend.calls_, 1);
    EXPECT_TRUE(backend.check(backend.last_).ok());
    EXPECT_LE(s->context_tokens, s->token_budget);

    FakeBackend roomy(/*context_length=*/1200);
    auto plain = summarize(record, roomy, o);
    ASSERT_TRUE(plain);
    EXPECT_EQ(roomy.checks_, 1);
    EXPECT_LT(s->token_budget, plain->token_budget);

    // An explicit budget is the caller's: not shrunk, not checked here.
    FakeBackend fixed(/*context_length=*/1200);
    fixed.template_tokens_ = 250;
    o.token_budget = 700;
    auto explicit_budget = summarize(record, fixed, o);
    ASSERT_TRUE(explicit_budget);
    EXPECT_EQ(explicit_budget->token_budget, 700u);
    EXPECT_EQ(fixed.checks_, 0);
}

TEST(Summary, BackendErrorsKeepTheirCode) {
    auto record = load_patient(kLeta);
    FakeBackend backend;
    backend.error_ = unavailable("remote: upstream http://x:8000 did not answer");
    auto s = summarize(record, backend, options());
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(s.error().message().find("summary: "), std::string::npos);

    backend.error_ = deadline_exceeded("deadline passed before the first token");
    s = summarize(record, backend, options());
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), StatusCode::kDeadlineExceeded);

    SummaryOptions bad = options();
    bad.reference_date = "2020-13-01";
    s = summarize(record, backend, bad);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
}

TEST(Summary, FhirOutputReadsBack) {
    auto record = load_patient(kLeta);
    FakeBackend backend;
    backend.script_ = [](const llm::Request&) {
        return std::string("Two active problems [P1][P2]; no medications documented.");
    };
    auto s = summarize(record, backend, options());
    ASSERT_TRUE(s) << s.error().to_string();
    auto bundle = summary_as_fhir(*s, record, backend.info(), "2026-11-27T19:00:00Z");
    ASSERT_TRUE(bundle) << bundle.error().to_string();

    auto back = interop::read_fhir_json(*bundle);
    EXPECT_TRUE(back.report.ok()) << back.report.status().to_string();
    ASSERT_EQ(back.patients.size(), 1u);
    EXPECT_EQ(back.patients[0].id, record.id);
    ASSERT_EQ(back.patients[0].notes.size(), 1u);
    EXPECT_EQ(back.patients[0].notes[0].text, s->text);
    ASSERT_EQ(back.other_resources.size(), 1u);
    EXPECT_EQ(back.other_resources[0].type, "Provenance");
    // Provenance entities are the cited items' sources.
    for (const auto& c : s->citations) {
        for (const auto& src : c.sources) {
            EXPECT_NE(bundle->find("\"" + src.id + "\""), std::string::npos) << src.id;
        }
    }
    EXPECT_NE(bundle->find(kModelSha), std::string::npos);

    // A remote model has no file hash: its provenance cannot be stated.
    llm::ModelInfo remote = backend.info();
    remote.file_sha256 = "meta-llama/Llama-3-8B";
    auto refused = summary_as_fhir(*s, record, remote, "2026-11-27T19:00:00Z");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), StatusCode::kInvalidArgument);
}

TEST(Summary, LatestRecordDate) {
    auto record = load_patient(kLeta);
    std::string latest = latest_record_date(record);
    ASSERT_EQ(latest.size(), 10u);
    EXPECT_TRUE(interop::is_fhir_date(latest));
    EXPECT_EQ(latest_record_date(interop::PatientRecord{}), "");
    interop::PatientRecord r;
    r.observations.push_back({});
    r.observations.back().effective = "2021-02-03T10:00:00Z";
    r.problems.push_back({});
    r.problems.back().onset = "2019-01-01";
    EXPECT_EQ(latest_record_date(r), "2021-02-03");
}

// The token-counter hook of the context builder (interop/context.h).
TEST(ContextTokenCounter, BudgetHoldsWithTheCallersCounter) {
    auto record = load_patient(kLeta);
    for (size_t budget : {120, 200, 400, 800, 3000}) {
        interop::ContextOptions c;
        c.reference_date = kReferenceDate;
        c.token_budget = budget;
        c.count_tokens = quarter_bytes;
        auto ctx = interop::build_context(record, c);
        ASSERT_TRUE(ctx) << budget << ": " << ctx.error().to_string();
        EXPECT_LE(quarter_bytes(ctx->text), budget);
        EXPECT_EQ(ctx->estimated_tokens, quarter_bytes(ctx->text));
        // bytes/4 counts far fewer tokens than the estimate, so more fits than with it.
        interop::ContextOptions e = c;
        e.count_tokens = nullptr;
        auto est = interop::build_context(record, e);
        ASSERT_TRUE(est);
        EXPECT_GE(ctx->n_included, est->n_included) << budget;
    }
}

// A counter for which the whole costs more than its lines (as when a tokenizer merges across
// lines the other way round): the builder must still return a text within the budget.
TEST(ContextTokenCounter, WholeTextIsRecheckedWhenLinesUndercount) {
    auto record = load_patient(kLeta);
    auto superadditive = [](std::string_view t) {
        size_t lines = static_cast<size_t>(std::count(t.begin(), t.end(), '\n'));
        return (t.size() + 3) / 4 + lines * lines;
    };
    for (size_t budget : {300, 600, 1200}) {
        interop::ContextOptions c;
        c.reference_date = kReferenceDate;
        c.token_budget = budget;
        c.count_tokens = superadditive;
        auto ctx = interop::build_context(record, c);
        ASSERT_TRUE(ctx) << budget << ": " << ctx.error().to_string();
        EXPECT_LE(superadditive(ctx->text), budget) << budget;
        EXPECT_GT(ctx->n_included, 0u) << budget;
    }
}

}  // namespace
}  // namespace ward::assist
