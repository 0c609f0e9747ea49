// `ward serve`: runs the HTTP server (server/server.h) until SIGTERM or SIGINT, then drains the
// requests in flight and exits 0.
#include <pthread.h>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "common/log.h"
#include "common/mapped_file.h"
#include "server/server.h"
#include "server/settings.h"

namespace ward::cli {

namespace {

struct ServeArgs {
    std::string host;
    int port = -1;
    std::string data_dir;
    std::vector<std::string> models;  // GGUF files served as local models
    int slots = 0;
    int context = 0;
    int threads = -1;
    std::string chat_template;
};

// TOML for the models given with --model: one [models.<file stem>] table each.
Result<std::string> model_tables(const ServeArgs& a) {
    std::string toml;
    for (const std::string& path : a.models) {
        std::string name = std::filesystem::path(path).stem().string();
        if (name.empty()) return invalid_argument("--model: \"{}\" has no file name", path);
        std::string escaped;
        for (char c : path) {
            if (c == '"' || c == '\\') escaped += '\\';
            escaped += c;
        }
        toml +=
            fmt::format("\n[models.\"{}\"]\nbackend = \"local\"\npath = \"{}\"\n", name, escaped);
        if (a.slots > 0) toml += fmt::format("slots = {}\n", a.slots);
        if (a.context > 0) toml += fmt::format("context = {}\n", a.context);
        if (a.threads >= 0) toml += fmt::format("threads = {}\n", a.threads);
        if (!a.chat_template.empty()) {
            toml += fmt::format("chat_template = \"{}\"\n", a.chat_template);
        }
    }
    return toml;
}

Status serve(const Context& ctx, const ServeArgs& a) {
    const ConfigSchema schema = server::config_schema();
    std::string text;
    std::string source = "(defaults)";
    if (!ctx.config_path.empty()) {
        WARD_ASSIGN_OR_RETURN(text, read_file(ctx.config_path));
        source = ctx.config_path;
    }
    WARD_ASSIGN_OR_RETURN(std::string extra, model_tables(a));
    text += extra;
    WARD_ASSIGN_OR_RETURN(Config config, Config::parse(text, source, schema));
    WARD_ASSIGN_OR_RETURN(server::ServerSettings settings, server::read_settings(config));
    if (!a.host.empty()) settings.host = a.host;
    if (a.port >= 0) settings.port = a.port;
    if (!a.data_dir.empty()) {
        if (settings.secret_file == settings.path("deid.secret")) {
            settings.secret_file = a.data_dir + "/deid.secret";
        }
        settings.data_dir = a.data_dir;
    }

    // Signals are taken by this thread only (sigwait below); block them before any thread
    // starts so that every thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    WARD_ASSIGN_OR_RETURN(auto srv, server::Server::create(config, settings));
    WARD_TRY(srv->start());
    std::printf("ward: listening on http://%s:%d\n", settings.host.c_str(), srv->port());
    if (srv->mllp_port() > 0) {
        std::printf("ward: MLLP listener on %s:%d\n", settings.mllp_host.c_str(), srv->mllp_port());
    }
    std::fflush(stdout);

    int sig = 0;
    sigwait(&signals, &sig);
    logger("server")->info("signal {}: draining", sig);
    std::printf("ward: %s received, draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    std::fflush(stdout);
    srv->drain();
    srv->wait();
    std::printf("ward: stopped\n");
    return ok_status();
}

}  // namespace

void register_serve_commands(CLI::App& app, Context& ctx) {
    auto args = std::make_shared<ServeArgs>();
    CLI::App* sub = app.add_subcommand(
        "serve", "Run the HTTP server: OpenAI-compatible API, patients, CDS Hooks (docs/api.md)");
    sub->add_option("--host", args->host, "Address to listen on (default server.host)");
    sub->add_option("--port", args->port, "Port (default server.port; 0: any free port)")
        ->check(CLI::Range(0, 65535));
    sub->add_option("--data-dir", args->data_dir, "Directory of the stores (default data.dir)");
    sub->add_option("-m,--model", args->models,
                    "A GGUF file to serve as a local model named after the file (repeatable)");
    sub->add_option("--slots", args->slots, "Generation slots of each --model")
        ->check(CLI::Range(1, 64));
    sub->add_option("--context", args->context, "Context tokens per slot of each --model")
        ->check(CLI::Range(16, 1 << 20));
    sub->add_option("-t,--threads", args->threads, "Threads of each --model (0: all cores)")
        ->check(CLI::Range(0, 1024));
    sub->add_option("--chat-template", args->chat_template,
                    "Chat template of each --model when its GGUF has none (llama2, chatml, ...)")
        ->check([](const std::string& v) {
            for (char c : v) {
                if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
                    c != '.') {
                    return std::string("a template name");
                }
            }
            return std::string();
        });
    set_action(sub, ctx, [&ctx, args] { return serve(ctx, *args); });
}

}  // namespace ward::cli
