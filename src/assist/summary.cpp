#include "assist/summary.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "common/crypto.h"
#include "interop/writeback.h"

namespace ward::assist {

namespace {

std::string_view profile_focus(interop::Profile profile) {
    switch (profile) {
        case interop::Profile::kGeneral:
            return "Cover active problems, current medications, allergies, notable recent "
                   "results and recent care.";
        case interop::Profile::kOncology:
            return "Focus on the cancer history: diagnoses, treatments and their dates, current "
                   "therapy, and results that bear on it (blood counts, tumour markers, weight).";
        case interop::Profile::kDermatology:
            return "Focus on skin conditions, allergies and reactions, and medications that "
                   "affect the skin.";
        case interop::Profile::kDental:
            return "Focus on what matters for dental care: bleeding risk and anticoagulants, "
                   "bisphosphonates, allergies, and oral conditions.";
        case interop::Profile::kNeurology:
            return "Focus on cognition and neurological conditions: diagnoses, cognitive test "
                   "scores and their trend, falls, and relevant medications and labs.";
        case interop::Profile::kMentalHealth:
            return "Focus on mental health: diagnoses, screening scores (PHQ, GAD-7) and their "
                   "trend, substance use, and psychiatric medications.";
    }
    return "";
}

constexpr std::string_view kUserPreamble =
    "Patient record extract. Each item starts with its id in square brackets.\n\n";
constexpr std::string_view kUserClosing = "\nWrite the summary now, citing item ids.";

bool is_id(std::string_view token) {
    if (token.size() < 2 || token.size() > 5) return false;
    if (token[0] < 'A' || token[0] > 'Z') return false;
    for (size_t i = 1; i < token.size(); ++i) {
        if (token[i] < '0' || token[i] > '9') return false;
    }
    return true;
}

std::string today_utc() {
    auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
    std::chrono::year_month_day ymd{today};
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

std::string now_instant_utc() {
    auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    auto day = std::chrono::floor<std::chrono::days>(now);
    std::chrono::year_month_day ymd{day};
    std::chrono::hh_mm_ss hms{now - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                       hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

// True when `date` is set and later than `ref` (days since the epoch).
bool after(std::string_view date, int64_t ref) {
    auto d = interop::days_from_date(date);
    return d && *d > ref;
}

RecordCounts count_items(const interop::PatientRecord& r, int64_t ref) {
    RecordCounts c;
    for (const auto& p : r.problems) {
        if (after(p.onset.empty() ? p.recorded : p.onset, ref)) continue;
        bool active = p.abatement.empty() ? p.active() : after(p.abatement, ref);
        if (active) ++c.active_problems;
    }
    for (const auto& m : r.medications) {
        if (after(m.start, ref) || !m.current()) continue;
        if (!m.end.empty() && !after(m.end, ref) &&
            m.kind != interop::Medication::Kind::kAdministration) {
            continue;
        }
        ++c.current_medications;
    }
    for (const auto& a : r.allergies) {
        if (a.clinical_status == "resolved" || a.clinical_status == "inactive") continue;
        ++c.allergies;
    }
    return c;
}

}  // namespace

std::string summary_instructions(interop::Profile profile) {
    return fmt::format(
        "You are a clinical documentation assistant. Write a concise summary of the patient "
        "record extract for a clinician, in at most 8 short sentences or bullet points. {}\n"
        "Rules:\n"
        "- Use only the facts in the extract. Do not infer diagnoses, doses or dates.\n"
        "- After every statement, cite the ids of the items it rests on in square brackets, "
        "for example [P1] or [M2][L3]. Cite only ids that appear in the extract.\n"
        "- When something a clinician would expect is missing, write \"not documented\" "
        "rather than guessing.\n"
        "- Do not give treatment advice.",
        profile_focus(profile));
}

std::vector<llm::ChatMessage> summary_messages(interop::Profile profile,
                                               std::string_view context_text) {
    std::string user;
    user.reserve(kUserPreamble.size() + context_text.size() + kUserClosing.size());
    user.append(kUserPreamble).append(context_text).append(kUserClosing);
    return {{"system", summary_instructions(profile)}, {"user", std::move(user)}};
}

std::vector<std::string> cited_ids(std::string_view text) {
    std::vector<std::string> out;
    std::set<std::string, std::less<>> seen;
    size_t pos = 0;
    while ((pos = text.find('[', pos)) != std::string_view::npos) {
        size_t end = text.find(']', pos + 1);
        if (end == std::string_view::npos) break;
        std::string_view inside = text.substr(pos + 1, end - pos - 1);
        // A nested '[' means this '[' was not a citation's opening: restart from the inner one.
        size_t nested = inside.find('[');
        if (nested != std::string_view::npos) {
            pos = pos + 1 + nested;
            continue;
        }
        size_t i = 0;
        while (i < inside.size()) {
            while (i < inside.size() &&
                   (inside[i] == ',' || inside[i] == ';' || inside[i] == ' ')) {
                ++i;
            }
            size_t j = i;
            while (j < inside.size() && inside[j] != ',' && inside[j] != ';' && inside[j] != ' ')
                ++j;
            std::string_view token = inside.substr(i, j - i);
            if (is_id(token) && !seen.contains(token)) {
                seen.emplace(token);
                out.emplace_back(token);
            }
            i = j;
        }
        pos = end + 1;
    }
    return out;
}

std::string latest_record_date(const interop::PatientRecord& r) {
    int64_t best = INT64_MIN;
    std::string best_text;
    auto consider = [&](std::string_view date) {
        std::string_view key = interop::date_key(date);
        if (key.size() != 10) return;
        auto d = interop::days_from_date(key);
        if (d && *d > best) {
            best = *d;
            best_text = std::string(key);
        }
    };
    for (const auto& p : r.problems) {
        consider(p.onset);
        consider(p.abatement);
        consider(p.recorded);
    }
    for (const auto& m : r.medications) {
        consider(m.start);
        consider(m.end);
    }
    for (const auto& a : r.allergies) consider(a.onset);
    for (const auto& o : r.observations) consider(o.effective);
    for (const auto& p : r.procedures) {
        consider(p.performed);
        consider(p.performed_end);
    }
    for (const auto& i : r.immunizations) consider(i.date);
    for (const auto& e : r.encounters) {
        consider(e.start);
        consider(e.end);
    }
    for (const auto& n : r.notes) consider(n.date);
    for (const auto& rep : r.reports) consider(rep.date);
    for (const auto& c : r.care_plans) {
        consider(c.start);
        consider(c.end);
    }
    return best_text;
}

Result<size_t> tokens_left(const llm::ModelInfo& model, size_t fixed, int max_tokens,
                           std::string_view task, std::string_view what) {
    if (model.context_length <= 0) return kDefaultBudget;
    auto window = static_cast<size_t>(model.context_length);
    if (fixed >= window) {
        return resource_exhausted(
            "{}: model \"{}\" has a context of {} tokens, which cannot hold {} and {} tokens of "
            "answer ({} tokens)",
            task, model.name, window, what, max_tokens, fixed);
    }
    return window - fixed;
}

Result<Summary> summarize(const interop::PatientRecord& record, llm::Backend& backend,
                          const SummaryOptions& options, const llm::PieceCallback& on_piece) {
    if (options.model.empty()) return invalid_argument("summary: no model named");
    if (options.max_tokens < 1) {
        return invalid_argument("summary: max_tokens {} must be at least 1", options.max_tokens);
    }
    std::string reference_date =
        options.reference_date.empty() ? today_utc() : options.reference_date;

    const llm::ModelInfo& info = backend.info();
    auto count = [&backend](std::string_view text) { return backend.count_tokens(text); };
    size_t budget = options.token_budget;
    if (budget == 0) {
        size_t fixed = count(summary_instructions(options.profile)) + count(kUserPreamble) +
                       count(kUserClosing) + kTemplateReserve +
                       static_cast<size_t>(options.max_tokens);
        WARD_ASSIGN_OR_RETURN(
            budget, tokens_left(info, fixed, options.max_tokens, "summary", "the instructions"));
    }

    interop::ContextOptions copts;
    copts.profile = options.profile;
    copts.reference_date = reference_date;
    copts.count_tokens = count;
    llm::Request request;
    request.model = options.model;
    request.params.max_tokens = options.max_tokens;
    request.params.temperature = options.temperature;
    request.deadline = options.deadline;
    request.cancelled = options.cancelled;
    Result<interop::Context> context = interop::Context{};
    for (int attempt = 0;; ++attempt) {
        copts.token_budget = budget;
        context = interop::build_context(record, copts);
        if (!context) return context.error().with_context("summary");
        request.messages = summary_messages(options.profile, context->text);
        // An automatic budget assumed kTemplateReserve tokens for the chat template; when the
        // backend's own rendering says the prompt does not fit after all, shrink and rebuild.
        // Other errors are left to generate(), which makes the same checks.
        if (options.token_budget != 0 || attempt == kMaxBudgetRetries) break;
        Status fits = backend.check(request);
        if (fits.code() != StatusCode::kResourceExhausted) break;
        size_t cut = std::max<size_t>(kTemplateReserve, budget / 8);
        if (cut >= budget) break;
        budget -= cut;
    }
    auto generation = backend.generate(request, on_piece);
    if (!generation) return generation.error().with_context("summary");

    Summary out;
    out.patient_id = record.id;
    out.patient_name = record.demographics.display_name();
    out.text = generation->text;
    out.context_sha256 = crypto::sha256_hex(context->text);
    out.context_tokens = context->estimated_tokens;
    out.token_budget = budget;
    out.n_included = context->n_included;
    out.n_omitted = context->n_omitted;
    out.reference_date = reference_date;
    out.profile = options.profile;
    out.counts = count_items(record, *interop::days_from_date(reference_date));
    out.model = info;

    std::set<std::string> unsupported;
    for (const std::string& id : cited_ids(out.text)) {
        auto it = std::find_if(context->citations.begin(), context->citations.end(),
                               [&](const interop::Citation& c) { return c.id == id; });
        if (it == context->citations.end()) {
            unsupported.insert(id);
        } else {
            out.citations.push_back(*it);
        }
    }
    out.unsupported_ids.assign(unsupported.begin(), unsupported.end());
    out.generation = std::move(generation).value();
    return out;
}

Result<std::string> summary_as_fhir(const Summary& summary, const interop::PatientRecord& record,
                                    const llm::ModelInfo& model, std::string_view created) {
    interop::GeneratedDocument doc;
    doc.patient_id = record.id;
    doc.text = summary.text;
    doc.title = "AI-generated patient summary (draft)";
    doc.created = created.empty() ? now_instant_utc() : std::string(created);
    doc.model_name = model.name;
    doc.model_sha256 = model.file_sha256;
    doc.task = fmt::format("{} summary", interop::profile_name(summary.profile));
    for (const auto& citation : summary.citations) {
        for (const auto& source : citation.sources) {
            if (std::find(doc.cited.begin(), doc.cited.end(), source) == doc.cited.end()) {
                doc.cited.push_back(source);
            }
        }
    }
    auto bundle = interop::make_document_bundle(doc);
    if (!bundle) return bundle.error().with_context("summary");
    return bundle;
}

}  // namespace ward::assist
