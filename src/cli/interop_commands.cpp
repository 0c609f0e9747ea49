// The `ward` subcommands of the interop part.
#include "cli/cli.h"

namespace ward::cli {

void register_interop_commands(CLI::App& app, Context& ctx) {
    (void)app;
    (void)ctx;
}

}  // namespace ward::cli
