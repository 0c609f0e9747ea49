// The `ward` subcommands of the deid part:
//   ward deid [--mode redact|mask|surrogate] [--patient KEY] [--json] [FILE...]
//   ward deid eval --format jsonl|i2b2|presidio GOLD...
//   ward deid bench [--mode MODE] [--repeat N] [FILE...]
// Surrogate mode reads the deployment secret from WARD_DEID_SECRET (hex, >= 16 bytes) or from
// the file named by --secret-file (raw bytes).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/crypto.h"
#include "common/mapped_file.h"
#include "deid/deid.h"
#include "deid/eval.h"

namespace ward::cli {
namespace {

struct DeidArgs {
    std::string mode = "redact";
    std::string patient;
    bool json = false;
    std::vector<std::string> files;
    std::string secret_file;
    std::string format = "jsonl";
    std::vector<std::string> gold;
    size_t max_misses = 50;
    int repeat = 20;
};

Result<std::string> read_input(const std::string& path) {
    if (path == "-") {
        std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        return s;
    }
    return read_file(path);
}

Result<std::vector<uint8_t>> load_secret(const DeidArgs& a, bool required) {
    if (!a.secret_file.empty()) {
        WARD_ASSIGN_OR_RETURN(std::string s, read_file(a.secret_file));
        return std::vector<uint8_t>(s.begin(), s.end());
    }
    if (const char* hex = std::getenv("WARD_DEID_SECRET"); hex && *hex) {
        auto bytes = crypto::from_hex(hex);
        if (!bytes)
            return invalid_argument("deid: WARD_DEID_SECRET is not hex: {}",
                                    bytes.error().message());
        return std::move(bytes).value();
    }
    if (required) {
        return failed_precondition(
            "deid: surrogate mode needs a deployment secret: set "
            "WARD_DEID_SECRET (hex) or pass --secret-file");
    }
    return std::vector<uint8_t>();
}

Status run_deid(const DeidArgs& a) {
    WARD_ASSIGN_OR_RETURN(deid::Mode mode, deid::parse_mode(a.mode));
    WARD_ASSIGN_OR_RETURN(auto secret, load_secret(a, mode == deid::Mode::kSurrogate && !a.json));
    WARD_ASSIGN_OR_RETURN(auto d, deid::Deidentifier::create({.secret = std::move(secret)}));
    std::vector<std::string> files = a.files.empty() ? std::vector<std::string>{"-"} : a.files;
    for (const std::string& f : files) {
        WARD_ASSIGN_OR_RETURN(std::string text, read_input(f));
        std::string name = f == "-" ? "stdin" : f;
        if (a.json) {
            auto spans = d->detect(text);
            if (!spans) return spans.error().with_context(name);
            nlohmann::json out = {{"source", name}, {"spans", nlohmann::json::array()}};
            for (const auto& s : *spans) {
                out["spans"].push_back(
                    {{"start", s.start},
                     {"end", s.end},
                     {"category", deid::category_name(s.category)},
                     {"text", text.substr(s.start, s.end - s.start)},
                     {"confidence", std::round(static_cast<double>(s.confidence) * 100) / 100}});
            }
            std::cout << out.dump() << '\n';
        } else {
            auto r = d->deidentify(text, mode, a.patient);
            if (!r) return r.error().with_context(name);
            std::cout << r->text;
        }
    }
    std::cout.flush();
    return std::cout ? ok_status() : internal_error("deid: writing the output failed");
}

Status run_eval(const DeidArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto d, deid::Deidentifier::create({}));
    std::vector<deid::GoldDoc> docs;
    for (const std::string& f : a.gold) {
        WARD_ASSIGN_OR_RETURN(std::string content, read_file(f));
        Result<std::vector<deid::GoldDoc>> more =
            a.format == "jsonl"  ? deid::load_gold_jsonl(content, f)
            : a.format == "i2b2" ? deid::load_gold_i2b2(content, f)
                                 : deid::load_gold_presidio(content, f);
        if (!more) return more.error();
        for (auto& doc : *more) docs.push_back(std::move(doc));
    }
    WARD_ASSIGN_OR_RETURN(deid::EvalReport report, deid::evaluate(*d, docs));
    std::cout << deid::format_report(report, a.max_misses);
    return ok_status();
}

Status run_bench(const DeidArgs& a) {
    WARD_ASSIGN_OR_RETURN(deid::Mode mode, deid::parse_mode(a.mode));
    std::vector<uint8_t> secret = crypto::random_bytes(32);
    WARD_ASSIGN_OR_RETURN(auto d, deid::Deidentifier::create({.secret = secret}));
    std::vector<std::string> texts;
    size_t bytes = 0;
    for (const std::string& f : a.files) {
        WARD_ASSIGN_OR_RETURN(std::string content, read_input(f));
        if (f.size() > 6 && f.substr(f.size() - 6) == ".jsonl") {
            WARD_ASSIGN_OR_RETURN(auto docs, deid::load_gold_jsonl(content, f));
            for (auto& doc : docs) texts.push_back(std::move(doc.text));
        } else {
            texts.push_back(std::move(content));
        }
    }
    if (texts.empty()) return invalid_argument("deid bench: give at least one FILE");
    for (const auto& t : texts) bytes += t.size();
    (void)d->deidentify(texts[0], mode, "warm-up");
    auto t0 = std::chrono::steady_clock::now();
    size_t spans = 0;
    for (int k = 0; k < a.repeat; ++k) {
        for (size_t i = 0; i < texts.size(); ++i) {
            auto r = d->deidentify(texts[i], mode, "patient-" + std::to_string(i));
            if (!r) return r.error();
            spans += r->spans.size();
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double mb = double(bytes) * a.repeat / 1e6;
    std::printf(
        "deid bench: mode %s, %zu texts, %.2f MB x %d in %.3f s: %.1f MB/s on one "
        "core, %.0f notes/s, %zu spans\n",
        a.mode.c_str(), texts.size(), double(bytes) / 1e6, a.repeat, secs, mb / secs,
        double(texts.size()) * a.repeat / secs, spans);
    return ok_status();
}

}  // namespace

void register_deid_commands(CLI::App& app, Context& ctx) {
    auto args = std::make_shared<DeidArgs>();
    CLI::App* deid = app.add_subcommand("deid", "Find and replace PHI in clinical text");
    deid->add_option("--mode", args->mode, "Replacement: redact, mask or surrogate")
        ->check(CLI::IsMember({"redact", "mask", "surrogate"}));
    deid->add_option("--patient", args->patient, "Patient key (surrogate consistency, dates)");
    deid->add_flag("--json", args->json, "Write the spans found as JSON, one line per input");
    deid->add_option("--secret-file", args->secret_file,
                     "File with the deployment secret (default: $WARD_DEID_SECRET, hex)");
    deid->add_option("FILE", args->files, "Input files (default: standard input; - for stdin)");
    CLI::App* eval = deid->add_subcommand("eval", "Score detection against gold annotations");
    eval->add_option("--format", args->format, "Gold format: jsonl, i2b2 or presidio")
        ->check(CLI::IsMember({"jsonl", "i2b2", "presidio"}));
    eval->add_option("--max-misses", args->max_misses, "Missed spans to list (default 50)");
    eval->add_option("GOLD", args->gold, "Gold files")->required();
    set_action(eval, ctx, [args] { return run_eval(*args); });

    CLI::App* bench = deid->add_subcommand("bench", "Measure throughput in MB/s on one core");
    bench->add_option("--mode", args->mode, "Replacement mode (default redact)")
        ->check(CLI::IsMember({"redact", "mask", "surrogate"}));
    bench->add_option("--repeat", args->repeat, "Passes over the input (default 20)");
    bench->add_option("FILE", args->files, "Text files or a jsonl corpus")->required();
    set_action(bench, ctx, [args] { return run_bench(*args); });
    // `ward deid` itself, unless one of its subcommands was chosen (the parent's callback runs
    // after the child's and would otherwise replace its action).
    deid->final_callback([&ctx, args, eval, bench] {
        if (eval->parsed() || bench->parsed()) return;
        ctx.action = [args] { return run_deid(*args); };
    });
}

}  // namespace ward::cli
