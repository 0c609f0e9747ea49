#include "llm/registry.h"

#include <algorithm>
#include <span>
#include <variant>

#include "common/log.h"
#include "llm/local_backend.h"
#include "llm/remote_backend.h"

namespace ward::llm {
namespace {

// The keys each backend kind understands beyond the shared ones (backend, context,
// description); a key of the other kind is a mistake worth stopping for.
constexpr std::string_view kLocalOnly[] = {"path", "slots", "threads", "batch", "chat_template"};
// `embedding` is remote-only: a local model is an embedding model when its GGUF is a bert.
constexpr std::string_view kRemoteOnly[] = {"base_url",          "upstream_model", "api_key_env",
                                            "connect_timeout_s", "read_timeout_s", "retries",
                                            "embedding"};

// A model checked against the configuration, not yet loaded.
struct Plan {
    std::string name;
    bool local = true;
    LocalBackendOptions local_options;
    RemoteBackendOptions remote_options;
};

class ModelKeys {
  public:
    ModelKeys(const Config& config, std::string name) : config_(config), name_(std::move(name)) {}

    std::string path(std::string_view field) const {
        return fmt::format("models.{}.{}", name_, field);
    }
    bool given(std::string_view field) const { return config_.has(path(field)); }
    std::string string(std::string_view field) const { return config_.get_string(path(field)); }
    int integer(std::string_view field) const {
        return static_cast<int>(config_.get_int(path(field)));
    }
    double number(std::string_view field) const { return config_.get_float(path(field)); }
    bool boolean(std::string_view field) const { return config_.get_bool(path(field)); }

    // "config: ward.toml:7:1: models.x.base_url: <what>", the location when the key was given.
    Status error(std::string_view field, std::string_view what) const {
        std::string key = path(field);
        std::string origin = config_.origin(key);
        if (origin == "unset" || origin == "default") {
            return invalid_argument("config: {}: {}", key, what);
        }
        return invalid_argument("config: {}: {}: {}", origin, key, what);
    }

  private:
    const Config& config_;
    std::string name_;
};

Result<Plan> plan_model(const Config& config, const std::string& name, const EnvLookup& env) {
    ModelKeys keys(config, name);
    Plan plan;
    plan.name = name;
    if (!keys.given("backend")) return keys.error("backend", "required (\"local\" or \"remote\")");
    plan.local = keys.string("backend") == "local";
    std::span<const std::string_view> not_for = kLocalOnly;
    if (plan.local) not_for = kRemoteOnly;
    for (std::string_view field : not_for) {
        if (keys.given(field)) {
            return keys.error(field, plan.local ? "only for a remote model (this one is local)"
                                                : "only for a local model (this one is remote)");
        }
    }

    if (plan.local) {
        LocalBackendOptions& o = plan.local_options;
        if (!keys.given("path")) return keys.error("path", "required for a local model");
        o.name = name;
        o.path = keys.string("path");
        o.slots = keys.integer("slots");
        o.context = keys.integer("context");
        o.threads = keys.integer("threads");
        o.batch = keys.integer("batch");
        if (keys.given("chat_template")) o.chat_template = keys.string("chat_template");
        return plan;
    }

    RemoteBackendOptions& o = plan.remote_options;
    o.name = name;
    if (!keys.given("base_url")) return keys.error("base_url", "required for a remote model");
    o.base_url = keys.string("base_url");
    if (auto url = parse_base_url(o.base_url); !url) {
        return keys.error("base_url", url.error().message());
    }
    if (keys.given("upstream_model")) o.upstream_model = keys.string("upstream_model");
    if (keys.given("api_key_env")) {
        std::string variable = keys.string("api_key_env");
        if (variable.empty()) {
            return keys.error("api_key_env",
                              "is empty (name the environment variable that "
                              "holds the key, or leave the key out)");
        }
        std::optional<std::string> key = env(variable);
        if (!key) {
            return keys.error("api_key_env",
                              fmt::format("environment variable {} is not set", variable));
        }
        if (key->empty()) {
            return keys.error("api_key_env",
                              fmt::format("environment variable {} is empty", variable));
        }
        o.api_key = std::move(*key);
    }
    for (std::string_view field : {"connect_timeout_s", "read_timeout_s"}) {
        double seconds = keys.number(field);
        if (!(seconds > 0)) {
            return keys.error(field,
                              fmt::format("{} is not a positive number of seconds", seconds));
        }
    }
    o.connect_timeout_s = keys.number("connect_timeout_s");
    o.read_timeout_s = keys.number("read_timeout_s");
    o.retries = keys.integer("retries");
    o.embedding = keys.given("embedding") && keys.boolean("embedding");
    // The context default (2048) is a local slot size; a remote context is unknown unless given.
    o.context = keys.given("context") ? keys.integer("context") : 0;
    if (keys.given("description")) o.description = keys.string("description");
    return plan;
}

}  // namespace

void add_llm_config_keys(ConfigSchema& schema) {
    using T = ConfigType;
    schema.add({.path = "llm.default_model",
                .type = T::kString,
                .description = "the model that serves requests naming none"});
    schema.add({.path = "models.*.backend",
                .type = T::kString,
                .description = "\"local\" (a GGUF file run here) or \"remote\" (an "
                               "OpenAI-compatible server); required",
                .allowed = {"local", "remote"}});
    schema.add({.path = "models.*.path",
                .type = T::kString,
                .description = "local: the GGUF file (required)"});
    schema.add({.path = "models.*.slots",
                .type = T::kInt,
                .default_value = int64_t{4},
                .description = "local: requests generating at once",
                .min_int = 1,
                .max_int = 64});
    schema.add({.path = "models.*.context",
                .type = T::kInt,
                .default_value = int64_t{2048},
                .description = "local: tokens per slot; remote: the upstream's context, if known",
                .min_int = 0,
                .max_int = 1 << 20});
    schema.add({.path = "models.*.threads",
                .type = T::kInt,
                .default_value = int64_t{0},
                .description = "local: forward-pass threads; 0 for the hardware's",
                .min_int = 0,
                .max_int = 1024});
    schema.add({.path = "models.*.batch",
                .type = T::kInt,
                .default_value = int64_t{256},
                .description = "local: prompt tokens evaluated per step over all slots",
                .min_int = 1,
                .max_int = 65536});
    schema.add({.path = "models.*.chat_template",
                .type = T::kString,
                .description = "local: a chat template family overriding the GGUF's"});
    schema.add({.path = "models.*.base_url",
                .type = T::kString,
                .description = "remote: http[s]://host[:port][/prefix] (required)"});
    schema.add({.path = "models.*.upstream_model",
                .type = T::kString,
                .description = "remote: the model name sent upstream; default: the table name"});
    schema.add({.path = "models.*.api_key_env",
                .type = T::kString,
                .description = "remote: the environment variable holding the API key"});
    schema.add({.path = "models.*.connect_timeout_s",
                .type = T::kFloat,
                .default_value = 5.0,
                .description = "remote: seconds to wait for a connection"});
    schema.add({.path = "models.*.read_timeout_s",
                .type = T::kFloat,
                .default_value = 120.0,
                .description = "remote: the longest silence within an answer, in seconds"});
    schema.add({.path = "models.*.retries",
                .type = T::kInt,
                .default_value = int64_t{3},
                .description = "remote: further attempts before the first piece arrives",
                .min_int = 0,
                .max_int = 20});
    schema.add({.path = "models.*.embedding",
                .type = T::kBool,
                .description = "remote: an embedding model, served at /v1/embeddings (local "
                               "models are detected from the file)"});
    schema.add(
        {.path = "models.*.description", .type = T::kString, .description = "shown in /v1/models"});
}

Result<std::unique_ptr<Registry>> Registry::from_config(const Config& config,
                                                        const EnvLookup& env) {
    // Check everything first, so a typo is reported before minutes of loading.
    std::vector<Plan> plans;
    std::vector<std::string> names = config.children("models");
    for (const auto& name : names) {
        WARD_ASSIGN_OR_RETURN(Plan plan, plan_model(config, name, env));
        plans.push_back(std::move(plan));
    }
    auto registry = std::make_unique<Registry>();
    if (auto name = config.find_string("llm.default_model")) {
        if (std::find(names.begin(), names.end(), *name) == names.end()) {
            std::string known = names.empty() ? "no models are configured"
                                              : fmt::format("models: {}", fmt::join(names, ", "));
            return invalid_argument("config: {}: llm.default_model: no model named \"{}\" ({})",
                                    config.origin("llm.default_model"), *name, known);
        }
        registry->default_name_ = *name;
    }
    for (auto& plan : plans) {
        std::unique_ptr<Backend> backend;
        if (plan.local) {
            auto local = LocalBackend::create(plan.local_options);
            if (!local) return local.error().with_context("config: models." + plan.name);
            backend = std::move(*local);
        } else {
            auto remote = RemoteBackend::create(std::move(plan.remote_options));
            if (!remote) return remote.error().with_context("config: models." + plan.name);
            backend = std::move(*remote);
        }
        logger("llm")->info("model {}: {} backend", plan.name, plan.local ? "local" : "remote");
        registry->add(std::move(backend));
    }
    return registry;
}

Backend* Registry::find(std::string_view name) const {
    auto it = std::lower_bound(
        backends_.begin(), backends_.end(), name,
        [](const std::unique_ptr<Backend>& b, std::string_view n) { return b->info().name < n; });
    return it != backends_.end() && (*it)->info().name == name ? it->get() : nullptr;
}

std::vector<Backend*> Registry::all() const {
    std::vector<Backend*> out;
    out.reserve(backends_.size());
    for (const auto& b : backends_) out.push_back(b.get());
    return out;
}

Backend* Registry::default_backend() const {
    if (!default_name_.empty()) return find(default_name_);
    return backends_.size() == 1 ? backends_.front().get() : nullptr;
}

void Registry::add(std::unique_ptr<Backend> backend) {
    WARD_CHECK(backend != nullptr);
    WARD_CHECK(find(backend->info().name) == nullptr);
    auto it = std::lower_bound(
        backends_.begin(), backends_.end(), backend->info().name,
        [](const std::unique_ptr<Backend>& b, const std::string& n) { return b->info().name < n; });
    backends_.insert(it, std::move(backend));
}

}  // namespace ward::llm
