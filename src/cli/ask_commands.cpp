// `ward ask QUESTION -m MODEL.gguf [--kb FILE | --data-dir D] [-k N] [--version V]
//            [--source S]... [--patient ID] [--max-tokens N] [--context N] [-t N]
//            [--chat-template NAME] [--json]`
// A grounded answer from the knowledge base with a local model (assist/ask.h): the answer,
// then the passages it cites with their sources, then any citation flags. --json prints the
// POST /v1/ask shape. Without --patient nothing of a patient is read; with it, the record comes
// from <data dir>/patients.db (ward ingest) and is used here, on this machine, as is.
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "assist/ask.h"
#include "assist/summary.h"
#include "cli/cli.h"
#include "interop/store.h"
#include "knowledge/store.h"
#include "llm/local_backend.h"

namespace ward::cli {
namespace {

struct AskArgs {
    std::string question;
    std::string model;
    std::string kb;
    std::string data_dir;
    int k = 5;
    int64_t version = 0;
    std::vector<std::string> sources;
    std::string patient;
    int max_tokens = 512;
    int context = 4096;
    int threads = 0;
    std::string chat_template;
    bool json = false;
};

Status run_ask(const AskArgs& a) {
    std::string dir = a.data_dir.empty() ? default_data_dir() : a.data_dir;
    std::string kb = a.kb.empty() ? (std::filesystem::path(dir) / "knowledge.db").string() : a.kb;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(kb, ec)) {
        return not_found(
            "ask: no knowledge base at {} (set --kb or --data-dir, or `ward kb add` "
            "first)",
            kb);
    }
    WARD_ASSIGN_OR_RETURN(auto store, knowledge::Store::open(kb));

    std::optional<interop::PatientRecord> record;
    if (!a.patient.empty()) {
        std::string path = (std::filesystem::path(dir) / "patients.db").string();
        if (!std::filesystem::is_regular_file(path, ec)) {
            return not_found("ask: no patient store at {} (`ward ingest` first)", path);
        }
        WARD_ASSIGN_OR_RETURN(auto patients, interop::PatientStore::open(path));
        WARD_ASSIGN_OR_RETURN(record, patients.get(a.patient));
    }

    llm::LocalBackendOptions lo;
    lo.name = std::filesystem::path(a.model).stem().string();
    lo.path = a.model;
    lo.slots = 1;
    lo.context = a.context;
    lo.threads = a.threads;
    lo.chat_template = a.chat_template;
    WARD_ASSIGN_OR_RETURN(auto backend, llm::LocalBackend::create(lo));

    assist::AskOptions o;
    o.model = lo.name;
    o.k = a.k;
    if (a.version > 0) o.knowledge_version = a.version;
    o.sources = a.sources;
    o.max_tokens = a.max_tokens;
    if (record) {
        o.patient = &*record;
        o.reference_date = assist::latest_record_date(*record);
    }
    WARD_ASSIGN_OR_RETURN(assist::AskAnswer answer, assist::ask(a.question, *store, *backend, o));
    if (a.json) {
        std::printf("%s\n", assist::answer_json(answer, true).dump().c_str());
        return ok_status();
    }
    std::printf("%s\n", answer.text.c_str());
    if (!answer.citations.cited.empty())
        std::printf("\nSources (knowledge base version %lld):\n",
                    static_cast<long long>(answer.knowledge_version));
    for (int n : answer.citations.cited) {
        const knowledge::Hit& h = answer.passages[static_cast<size_t>(n - 1)].hit;
        std::printf("[%d] %s — %s (%s%s%s)\n", n,
                    h.title.empty() ? h.doc_id.c_str() : h.title.c_str(), h.source.c_str(),
                    h.doc_id.c_str(), h.licence.empty() ? "" : ", ", h.licence.c_str());
    }
    for (const auto& f : answer.citations.flags) {
        std::fprintf(stderr, "flag %s: %s: \"%s\"\n",
                     std::string(knowledge::citation_flag_name(f.kind)).c_str(), f.detail.c_str(),
                     answer.text.substr(f.begin, f.end - f.begin).c_str());
    }
    return ok_status();
}

}  // namespace

void register_ask_commands(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<AskArgs>();
    CLI::App* sub = app.add_subcommand(
        "ask", "A grounded answer from the knowledge base, with citations (local model)");
    sub->add_option("question", a->question, "The question")->required();
    sub->add_option("-m,--model", a->model, "GGUF model file")->required();
    sub->add_option("--kb", a->kb, "Knowledge base file (default <data dir>/knowledge.db)");
    sub->add_option("--data-dir", a->data_dir,
                    "Data directory (default $WARD_DATA_DIR or ward-data)");
    sub->add_option("-k", a->k, "Passages retrieved")
        ->check(CLI::Range(1, assist::kMaxAskPassages));
    sub->add_option("--version", a->version, "Knowledge base version (default: current)")
        ->check(CLI::PositiveNumber);
    sub->add_option("--source", a->sources, "Only these knowledge sources (repeatable)");
    sub->add_option("--patient", a->patient, "Patient id or identifier in <data dir>/patients.db");
    sub->add_option("--max-tokens", a->max_tokens, "Answer length cap")->check(CLI::Range(1, 8192));
    sub->add_option("--context", a->context, "Context window in tokens")
        ->check(CLI::Range(64, 1 << 20));
    sub->add_option("-t,--threads", a->threads, "Threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    sub->add_option("--chat-template", a->chat_template,
                    "Chat template family (default: the GGUF's)");
    sub->add_flag("--json", a->json, "Print the POST /v1/ask JSON shape");
    set_action(sub, ctx, [a] { return run_ask(*a); });
}

}  // namespace ward::cli
