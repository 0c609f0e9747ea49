// The `ward` command: shared pieces for subcommand files. Each part's commands live in their
// own file (engine_commands.cpp, deid_commands.cpp, ...) and register themselves on the app
// through one register_* function listed in main.cpp.
//
// Contract of every subcommand: exit code 0 on success, 1 on a runtime failure, 2 on a usage
// error, and on failure exactly one line on stderr saying what went wrong ("ward: ...").
// Handlers do their work in a Status-returning action; they never call exit().
#pragma once

#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "common/status.h"

namespace ward::cli {

// Thrown (or returned via usage_error) for a usage problem that CLI11 cannot express; exits 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Context {
    // The action of the chosen subcommand, set by its parse callback and run after parsing.
    std::function<Status()> action;
    std::string config_path;  // --config, empty when not given
};

// $WARD_DATA_DIR, else "ward-data": the directory of the stores (keys.db, audit.db,
// patients.db, knowledge.db) when a command is not given --data-dir.
inline std::string default_data_dir() {
    const char* dir = std::getenv("WARD_DATA_DIR");
    return dir && *dir ? dir : "ward-data";
}

// Makes `sub` run `action` when chosen.
inline void set_action(CLI::App* sub, Context& ctx, std::function<Status()> action) {
    sub->final_callback([&ctx, action = std::move(action)] { ctx.action = action; });
}

// One per command file; each is defined in <name>_commands.cpp.
void register_engine_commands(CLI::App& app, Context& ctx);   // model, tokenize, generate, ...
void register_deid_commands(CLI::App& app, Context& ctx);     // deid
void register_interop_commands(CLI::App& app, Context& ctx);  // ingest, patient, mllp
void register_audit_commands(CLI::App& app, Context& ctx);    // audit verify|export|head
void register_keys_commands(CLI::App& app, Context& ctx);     // keys create|list|revoke
void register_serve_commands(CLI::App& app, Context& ctx);    // serve
void register_knowledge_commands(CLI::App& app,
                                 Context& ctx);  // kb add|remove|list|versions|diff|search|prune
void register_ask_commands(CLI::App& app, Context& ctx);     // ask
void register_safety_commands(CLI::App& app, Context& ctx);  // safety check

}  // namespace ward::cli
