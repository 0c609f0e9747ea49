// The `ward` subcommands of the engine part.
#include "cli/cli.h"

namespace ward::cli {

void register_engine_commands(CLI::App& app, Context& ctx) {
    (void)app;
    (void)ctx;
}

}  // namespace ward::cli
