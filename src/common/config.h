// Configuration: a TOML file (toml++) checked against a schema of known keys, with WARD_*
// environment overrides. Every error names the key and where it came from, so an operator can
// fix the file without reading code: `config: ward.toml:4:1: unknown key "server.prot"`.
//
// Keys are dotted paths ("server.port"). A schema key may contain one "*" segment for tables
// whose names the operator chooses ("models.*.path" matches "models.med42.path"). The
// environment variable of a key is WARD_ + the path upper-cased with "." → "_"
// (server.port → WARD_SERVER_PORT); keys with "*" have none.
//
// Thread safety: a loaded Config is immutable and may be read from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace ward {

enum class ConfigType { kString, kInt, kFloat, kBool, kStringList };
std::string_view config_type_name(ConfigType type);

using ConfigValue = std::variant<std::string, int64_t, double, bool, std::vector<std::string>>;

struct ConfigKey {
    std::string path;  // "server.port" or "models.*.path"
    ConfigType type = ConfigType::kString;
    std::optional<ConfigValue> default_value;  // nullopt: no value unless given
    std::string description;
    std::optional<int64_t> min_int, max_int;  // for kInt
    std::vector<std::string> allowed;         // for kString: the accepted values, if any
};

class ConfigSchema {
  public:
    // REQUIRES: the path is new and its environment name does not collide with another key's.
    ConfigSchema& add(ConfigKey key);
    // The key whose path matches `path` (with "*" segments matching any name), or null.
    const ConfigKey* find(std::string_view path) const;
    const std::vector<ConfigKey>& keys() const { return keys_; }
    // "WARD_SERVER_PORT" for "server.port"; empty for keys with a "*" segment.
    static std::string env_name(std::string_view path);

  private:
    std::vector<ConfigKey> keys_;
};

// Where override values come from; the default reads the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

class Config {
  public:
    // Reads and validates a TOML file. Errors: kNotFound (missing or unreadable file),
    // kInvalidArgument (syntax, unknown key, wrong type, out of range) naming the key and line.
    static Result<Config> load_file(const std::string& path, const ConfigSchema& schema,
                                    const EnvLookup& env = process_env());
    // Same, from text; `source_name` is used in messages.
    static Result<Config> parse(std::string_view toml_text, std::string_view source_name,
                                const ConfigSchema& schema, const EnvLookup& env = process_env());
    // Defaults plus environment overrides, no file.
    static Result<Config> defaults(const ConfigSchema& schema,
                                   const EnvLookup& env = process_env());

    bool has(std::string_view path) const { return values_.count(std::string(path)) > 0; }
    // Typed getters. REQUIRES: the key is in the schema with that type and has a value (given
    // or defaulted); a wrong call is a programmer error and aborts.
    const std::string& get_string(std::string_view path) const;
    int64_t get_int(std::string_view path) const;
    double get_float(std::string_view path) const;
    bool get_bool(std::string_view path) const;
    const std::vector<std::string>& get_strings(std::string_view path) const;
    // Optional forms: nullopt when the key has no value.
    std::optional<std::string> find_string(std::string_view path) const;

    // Names of the tables under a prefix with "*" keys: children("models") → {"med42", ...}.
    std::vector<std::string> children(std::string_view prefix) const;
    // Where a key's value came from: "default", "ward.toml:3:1" or "env WARD_SERVER_PORT".
    std::string origin(std::string_view path) const;

  private:
    const ConfigValue& get(std::string_view path, ConfigType type) const;
    Status apply_defaults_and_env(const ConfigSchema& schema, const EnvLookup& env);

    const ConfigSchema* schema_ = nullptr;
    std::map<std::string, ConfigValue, std::less<>> values_;
    std::map<std::string, std::string, std::less<>> origins_;
};

}  // namespace ward
