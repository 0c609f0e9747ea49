// Entry point of the `ward` command. Parses the command line with CLI11, configures logging,
// then runs the chosen subcommand's action and maps its Status to the exit code.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/cli.h"
#include "common/log.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void print_error(const std::string& message) {
    std::string line = message;
    for (char& c : line) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    std::fprintf(stderr, "ward: %s\n", line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace ward;
    CLI::App app{"Ward: a self-hosted clinical LLM server", "ward"};
    app.set_version_flag("--version", std::string("ward ") + WARD_VERSION);
    app.require_subcommand(0, 1);

    cli::Context ctx;
    std::string log_format = "text";
    std::string log_level = "warn";
    app.add_option("--config", ctx.config_path, "TOML configuration file");
    app.add_option("--log-format", log_format, "Log format: text or json")
        ->check(CLI::IsMember({"text", "json"}));
    app.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error, off");

#ifdef WARD_HAS_ENGINE
    cli::register_engine_commands(app, ctx);
#endif
#ifdef WARD_HAS_DEID
    cli::register_deid_commands(app, ctx);
#endif
#ifdef WARD_HAS_INTEROP
    cli::register_interop_commands(app, ctx);
#endif
#ifdef WARD_HAS_AUDIT
    cli::register_audit_commands(app, ctx);
#endif
#ifdef WARD_HAS_KEYS
    cli::register_keys_commands(app, ctx);
#endif
#ifdef WARD_HAS_SERVE
    cli::register_serve_commands(app, ctx);
#endif
#ifdef WARD_HAS_KNOWLEDGE
    cli::register_knowledge_commands(app, ctx);
#endif
#ifdef WARD_HAS_ASK
    cli::register_ask_commands(app, ctx);
#endif
#ifdef WARD_HAS_SAFETY
    cli::register_safety_commands(app, ctx);
#endif

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        print_error(std::string(e.what()) + " (see ward --help)");
        return kExitUsage;
    } catch (const cli::UsageError& e) {
        print_error(e.what());
        return kExitUsage;
    }

    auto level = parse_log_level(log_level);
    if (!level) {
        print_error(level.error().message());
        return kExitUsage;
    }
    configure_logging({*parse_log_format(log_format), *level});

    if (!ctx.action) {
        std::fputs(app.help().c_str(), stdout);
        return kExitOk;
    }
    try {
        Status status = ctx.action();
        if (!status.ok()) {
            print_error(status.message());
            return kExitFailure;
        }
    } catch (const cli::UsageError& e) {
        print_error(e.what());
        return kExitUsage;
    } catch (const std::exception& e) {
        print_error(std::string("internal error: ") + e.what());
        return kExitFailure;
    }
    return kExitOk;
}
