// The model registry: the named models of the configuration file, each served by a local
// backend (a GGUF file run in this process) or a remote one (an OpenAI-compatible server), and
// which one answers when a request names no model. It also declares the configuration keys of
// the llm part, so `ward` can check a file before anything is loaded:
//
//   [llm]
//   default_model = "med42"
//
//   [models.med42]                  # a local model
//   backend = "local"
//   path = "/srv/models/med42-8b.Q4_K_M.gguf"
//   slots = 4
//
//   [models.big]                    # served by vLLM on another machine
//   backend = "remote"
//   base_url = "http://gpu1:8000"
//   upstream_model = "meta-llama/Llama-3.1-70B-Instruct"
//   api_key_env = "WARD_GPU1_KEY"   # the variable that holds the key, never the key itself
//
//   [models.bge]                    # an embedding model: local ones are detected from the
//   backend = "local"               # file (GGUF architecture bert) ...
//   path = "/srv/models/bge-small-en-v1.5-f16.gguf"
//
//   [models.e5]                     # ... remote ones are declared
//   backend = "remote"
//   base_url = "http://gpu1:8000"
//   embedding = true
//
// Thread safety: from_config() and add() build the registry before it is shared; once built,
// find(), all() and default_backend() may be called from any thread (the backends are
// themselves thread-safe).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "llm/backend.h"

namespace ward::llm {

// Registers llm.default_model and the models.*.* keys (see docs/llm.md, "Configuration").
void add_llm_config_keys(ConfigSchema& schema);

class Registry {
  public:
    // Builds every model of `config` (its schema must include add_llm_config_keys): local models
    // are loaded (which takes a while for big files), remote ones are created and probed.
    // Errors: kInvalidArgument naming the key and what is wrong ("config: models.med42.path:
    // required for a local model", "config: models.x.base_url: ... is not an http(s) URL",
    // "config: models.x.api_key_env: environment variable K is not set", a key that does not
    // apply to the model's backend, llm.default_model naming no model); a local model's own
    // load error, prefixed with "models.NAME".
    // `env` reads the variables named by api_key_env (the process environment by default).
    static Result<std::unique_ptr<Registry>> from_config(const Config& config,
                                                         const EnvLookup& env = process_env());

    // The model named `name`, or null. The pointer lives as long as the registry.
    Backend* find(std::string_view name) const;
    // Every model, in name order.
    std::vector<Backend*> all() const;
    // llm.default_model; else the only model when there is exactly one; else null.
    Backend* default_backend() const;

    // Adds a backend under its info().name. REQUIRES: no model of that name yet.
    void add(std::unique_ptr<Backend> backend);

  private:
    std::vector<std::unique_ptr<Backend>> backends_;  // sorted by name
    std::string default_name_;                        // empty: none configured
};

}  // namespace ward::llm
