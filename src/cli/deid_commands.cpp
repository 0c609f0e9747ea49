// The `ward` subcommands of the deid part.
#include "cli/cli.h"

namespace ward::cli {

void register_deid_commands(CLI::App& app, Context& ctx) {
    (void)app;
    (void)ctx;
}

}  // namespace ward::cli
