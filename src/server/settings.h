// The server's configuration: every key `ward serve` reads (server, data, privacy, CDS Hooks,
// MLLP, and the models of llm/), one schema so that an unknown or mistyped key in ward.toml is
// an error naming its line, and typed settings read from it once at start.
//
// Thread safety: plain values, immutable after load.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/status.h"

namespace ward::server {

// The full schema of ward.toml (server keys plus llm's models.* keys).
ConfigSchema config_schema();

struct CdsIssuerSettings {
    std::string name;                    // the table name in cds_hooks.issuers.<name>
    std::string iss;                     // the issuer URL the JWT's "iss" must equal
    std::vector<std::string> key_files;  // PEM public keys or a JWKS JSON file
};

struct ServerSettings {
    std::string host = "127.0.0.1";
    int port = 8080;
    int http_threads = 32;                    // connections served at once
    size_t max_body_bytes = size_t{8} << 20;  // larger bodies get 413
    int queue_depth = 16;                     // requests that may wait per model beyond its slots
    int remote_concurrency = 64;              // requests in flight per remote model
    double request_timeout_s = 300;           // the deadline of one request
    double drain_timeout_s = 30;              // SIGTERM: how long in-flight requests may finish
    std::string data_dir = "ward-data";       // patients.db, keys.db, audit.db, deid.secret
    std::string secret_file;  // the de-identification secret (hex); default data_dir/deid.secret
    std::string policy_version = "ward-privacy-1";
    std::string cds_auth = "either";  // "jwt", "key" or "either"
    std::string cds_audience;         // this service's public base URL (JWT "aud")
    std::vector<CdsIssuerSettings> cds_issuers;
    int mllp_port = 0;  // 0: no MLLP listener
    std::string mllp_host = "127.0.0.1";
    std::string default_profile = "general";
    int context_budget = 0;       // patient context tokens; 0: what the model's context allows
    std::string knowledge_path;   // the knowledge store; empty: data_dir/knowledge.db
    int knowledge_k = 5;          // passages per grounded answer
    std::string embedding_model;  // registry name of the embedding model; empty: BM25 only
    std::vector<std::string> review_tasks;  // tasks whose every output is queued for review
    // The crisis reply (safety/crisis.h): empty texts take the built-in defaults; local resources
    // (name, contact) are listed first, in the order of their table names.
    std::string crisis_escalation_text;
    std::string crisis_follow_up_text;
    bool crisis_include_us_resources = true;
    std::vector<std::pair<std::string, std::string>> crisis_resources;

    std::string path(const std::string& file) const { return data_dir + "/" + file; }
};

// Reads the settings from a loaded config (validated by config_schema()).
Result<ServerSettings> read_settings(const Config& config);

}  // namespace ward::server
