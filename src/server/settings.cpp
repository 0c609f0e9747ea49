#include "server/settings.h"

#include "llm/registry.h"

namespace ward::server {

ConfigSchema config_schema() {
    ConfigSchema s;
    // Defaults are constructed in place: GCC 12 warns (falsely, -Wmaybe-uninitialized) when a
    // ConfigValue variant is moved into the key under -O1 with sanitizers.
    auto key = [&](std::string path, ConfigType type, std::string desc) {
        ConfigKey k;
        k.path = std::move(path);
        k.type = type;
        k.description = std::move(desc);
        return k;
    };
    auto str = [&](std::string path, std::string def, std::string desc,
                   std::vector<std::string> allowed = {}) {
        ConfigKey k = key(std::move(path), ConfigType::kString, std::move(desc));
        k.default_value.emplace(std::in_place_type<std::string>, std::move(def));
        k.allowed = std::move(allowed);
        s.add(std::move(k));
    };
    auto opt_str = [&](std::string path, std::string desc) {
        s.add(key(std::move(path), ConfigType::kString, std::move(desc)));
    };
    auto num = [&](std::string path, int64_t def, int64_t lo, int64_t hi, std::string desc) {
        ConfigKey k = key(std::move(path), ConfigType::kInt, std::move(desc));
        k.default_value.emplace(std::in_place_type<int64_t>, def);
        k.min_int = lo;
        k.max_int = hi;
        s.add(std::move(k));
    };
    auto real = [&](std::string path, double def, std::string desc) {
        ConfigKey k = key(std::move(path), ConfigType::kFloat, std::move(desc));
        k.default_value.emplace(std::in_place_type<double>, def);
        s.add(std::move(k));
    };
    str("server.host", "127.0.0.1", "Address to listen on (0.0.0.0: every interface)");
    num("server.port", 8080, 0, 65535, "HTTP port (0: any free port, printed at start)");
    num("server.http_threads", 32, 2, 1024, "Connections served at once");
    num("server.max_body_bytes", int64_t{8} << 20, 1024, int64_t{1} << 30,
        "Largest request body; larger ones get 413");
    num("server.queue_depth", 16, 0, 100000,
        "Requests that may wait for a generation slot, per model; more get 429");
    num("server.remote_concurrency", 64, 1, 100000, "Requests in flight per remote model");
    real("server.request_timeout_s", 300, "Deadline of one request, seconds");
    real("server.drain_timeout_s", 30, "On SIGTERM, how long in-flight requests may finish");
    str("data.dir", "ward-data", "Directory of the stores (patients, keys, audit, vault)");
    opt_str("privacy.secret_file",
            "File holding the de-identification secret in hex (default: DATA/deid.secret, "
            "created on first start)");
    str("privacy.policy_version", "ward-privacy-1",
        "Version of the privacy policy, written into every audit record");
    str("cds_hooks.auth", "either", "How CDS Hooks callers authenticate", {"jwt", "key", "either"});
    opt_str("cds_hooks.audience", "This service's public base URL (the JWT aud claim)");
    opt_str("cds_hooks.issuers.*.iss", "A trusted EHR's issuer URL");
    s.add(key("cds_hooks.issuers.*.key_files", ConfigType::kStringList,
              "PEM public keys or JWKS files of that issuer"));
    num("mllp.port", 0, 0, 65535, "HL7 v2 MLLP listener port (0: off)");
    str("mllp.host", "127.0.0.1", "Address of the MLLP listener");
    str("context.profile", "general", "Default patient context profile");
    num("context.budget", 0, 0, 1 << 20,
        "Patient context budget in tokens (0: what the model's context allows)");
    opt_str("knowledge.path",
            "The knowledge store (default: DATA/knowledge.db, created on first start)");
    num("knowledge.k", 5, 1, 20, "Passages retrieved for a grounded answer");
    opt_str("knowledge.embedding_model",
            "A model of models.* that produces embeddings: the server embeds new knowledge "
            "chunks with it in the background and fuses dense with BM25 retrieval");
    opt_str("safety.crisis.escalation_text",
            "Opening of the code-written crisis reply (default: one fitting the category)");
    opt_str("safety.crisis.follow_up_text",
            "Last line of the crisis reply, saying a human will follow up (default provided)");
    {
        ConfigKey k = key("safety.crisis.include_us_resources", ConfigType::kBool,
                          "List the US national resources (988, 911, abuse hotlines) after the "
                          "local ones");
        k.default_value.emplace(std::in_place_type<bool>, true);
        s.add(std::move(k));
    }
    opt_str("safety.crisis.resources.*.name", "A local crisis resource listed first (name)");
    opt_str("safety.crisis.resources.*.contact", "How to reach it (phone, text, address)");
    s.add(key("review.tasks", ConfigType::kStringList,
              "Tasks whose every output enters the human review queue (flagged outputs always "
              "do): ask"));
    llm::add_llm_config_keys(s);
    return s;
}

Result<ServerSettings> read_settings(const Config& c) {
    ServerSettings s;
    s.host = c.get_string("server.host");
    s.port = static_cast<int>(c.get_int("server.port"));
    s.http_threads = static_cast<int>(c.get_int("server.http_threads"));
    s.max_body_bytes = static_cast<size_t>(c.get_int("server.max_body_bytes"));
    s.queue_depth = static_cast<int>(c.get_int("server.queue_depth"));
    s.remote_concurrency = static_cast<int>(c.get_int("server.remote_concurrency"));
    s.request_timeout_s = c.get_float("server.request_timeout_s");
    s.drain_timeout_s = c.get_float("server.drain_timeout_s");
    if (s.request_timeout_s <= 0) {
        return invalid_argument("config: server.request_timeout_s must be positive ({})",
                                c.origin("server.request_timeout_s"));
    }
    s.data_dir = c.get_string("data.dir");
    if (auto f = c.find_string("privacy.secret_file")) s.secret_file = *f;
    if (s.secret_file.empty()) s.secret_file = s.path("deid.secret");
    s.policy_version = c.get_string("privacy.policy_version");
    s.cds_auth = c.get_string("cds_hooks.auth");
    if (auto a = c.find_string("cds_hooks.audience")) s.cds_audience = *a;
    for (const std::string& name : c.children("cds_hooks.issuers")) {
        CdsIssuerSettings is;
        is.name = name;
        std::string prefix = "cds_hooks.issuers." + name;
        auto iss = c.find_string(prefix + ".iss");
        if (!iss || iss->empty()) {
            return invalid_argument("config: {}.iss is required", prefix);
        }
        is.iss = *iss;
        if (!c.has(prefix + ".key_files")) {
            return invalid_argument("config: {}.key_files is required", prefix);
        }
        is.key_files = c.get_strings(prefix + ".key_files");
        s.cds_issuers.push_back(std::move(is));
    }
    if (!s.cds_issuers.empty() && s.cds_audience.empty()) {
        return invalid_argument(
            "config: cds_hooks.audience is required with cds_hooks.issuers (a JWT's aud is "
            "this service's public URL, e.g. https://ward.example.org)");
    }
    if (s.cds_auth == "jwt" && s.cds_issuers.empty()) {
        return invalid_argument(
            "config: cds_hooks.auth is \"jwt\" but no cds_hooks.issuers are configured");
    }
    s.mllp_port = static_cast<int>(c.get_int("mllp.port"));
    s.mllp_host = c.get_string("mllp.host");
    s.default_profile = c.get_string("context.profile");
    s.context_budget = static_cast<int>(c.get_int("context.budget"));
    if (auto p = c.find_string("knowledge.path")) s.knowledge_path = *p;
    s.knowledge_k = static_cast<int>(c.get_int("knowledge.k"));
    if (auto m = c.find_string("knowledge.embedding_model")) s.embedding_model = *m;
    if (auto t = c.find_string("safety.crisis.escalation_text")) s.crisis_escalation_text = *t;
    if (auto t = c.find_string("safety.crisis.follow_up_text")) s.crisis_follow_up_text = *t;
    s.crisis_include_us_resources = c.get_bool("safety.crisis.include_us_resources");
    for (const std::string& name : c.children("safety.crisis.resources")) {
        std::string prefix = "safety.crisis.resources." + name;
        auto label = c.find_string(prefix + ".name");
        auto contact = c.find_string(prefix + ".contact");
        if (!label || label->empty() || !contact || contact->empty()) {
            return invalid_argument("config: {} needs both name and contact", prefix);
        }
        s.crisis_resources.emplace_back(*label, *contact);
    }
    if (c.has("review.tasks")) {
        for (const std::string& task : c.get_strings("review.tasks")) {
            if (task != "ask") {
                return invalid_argument(
                    "config: review.tasks: \"{}\" is not a task that can be "
                    "reviewed (ask)",
                    task);
            }
            s.review_tasks.push_back(task);
        }
    }
    return s;
}

}  // namespace ward::server
