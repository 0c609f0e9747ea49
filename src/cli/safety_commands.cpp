// The `ward` subcommands of the safety part:
//   ward safety check --rail NAME [--json] [FILE]
// Runs one rail over each line of FILE (default: standard input) so that a rail can be measured
// on any labelled set. With --json, one object per input line:
//   {"line": N, "fired": true|false, "rule": "...", "score": x, "spans": [{"begin", "end",
//    "label", "text"}], "detail": "..."}
// Without it, one short line per input line. An unknown rail is a usage error (exit 2) whose one
// line names the rails that exist.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/mapped_file.h"
#include "safety/registry.h"

namespace ward::cli {
namespace {

struct SafetyArgs {
    std::string rail;
    bool json = false;
    std::string file;
};

Status run_check(const SafetyArgs& a) {
    auto rail = safety::make_rail(a.rail);
    if (!rail) {
        if (rail.error().code() == StatusCode::kNotFound) throw UsageError(rail.error().message());
        return rail.error();
    }
    std::string input;
    if (a.file.empty() || a.file == "-") {
        input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        if (std::cin.bad()) return internal_error("safety check: reading standard input failed");
    } else {
        WARD_ASSIGN_OR_RETURN(input, read_file(a.file));
    }
    size_t line_no = 0, fired = 0, pos = 0;
    while (pos < input.size()) {
        size_t end = input.find('\n', pos);
        if (end == std::string::npos) end = input.size();
        std::string_view line(input.data() + pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = end + 1;
        ++line_no;
        safety::RailResult r = (*rail)->check(line);
        if (r.fired) ++fired;
        if (a.json) {
            nlohmann::json spans = nlohmann::json::array();
            for (const auto& s : r.spans) {
                // Spans fall on UTF-8 boundaries, but the line itself may be invalid UTF-8:
                // replace rather than throw when dumping.
                spans.push_back({{"begin", s.begin},
                                 {"end", s.end},
                                 {"label", s.label},
                                 {"text", std::string(line.substr(s.begin, s.end - s.begin))}});
            }
            nlohmann::json out = {{"line", line_no},  {"fired", r.fired}, {"rule", r.rule},
                                  {"score", r.score}, {"spans", spans},   {"detail", r.detail}};
            std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        } else if (r.fired) {
            std::cout << "line " << line_no << ": " << r.rail << " fired (" << r.rule << ", "
                      << r.score << "): " << r.detail << '\n';
        } else {
            std::cout << "line " << line_no << ": pass (" << r.detail << ")\n";
        }
    }
    if (!a.json) {
        std::cout << line_no << " lines, " << fired << " fired\n";
    }
    std::cout.flush();
    return std::cout ? ok_status() : internal_error("safety check: writing the output failed");
}

}  // namespace

void register_safety_commands(CLI::App& app, Context& ctx) {
    auto args = std::make_shared<SafetyArgs>();
    CLI::App* safety = app.add_subcommand("safety", "Run Ward's safety rails");
    safety->require_subcommand(1);
    std::string rails_help = "Rail to run: " + safety::rail_names();
    CLI::App* check = safety->add_subcommand("check", "Run one rail over each line of the input");
    check->add_option("--rail", args->rail, rails_help)->required();
    check->add_flag("--json", args->json, "One JSON object per input line");
    check->add_option("FILE", args->file, "Input file (default: standard input; - for stdin)");
    set_action(check, ctx, [args] { return run_check(*args); });
}

}  // namespace ward::cli
