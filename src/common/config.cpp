#include "common/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

namespace ward {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        out.push_back(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return out;
}

bool path_matches(std::string_view pattern, std::string_view path) {
    auto p = split_path(pattern);
    auto q = split_path(path);
    if (p.size() != q.size()) return false;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] != "*" && p[i] != q[i]) return false;
    }
    return true;
}

std::string describe_node(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        default:
            return "a date or time";
    }
}

std::string where(std::string_view source, const toml::source_region& region) {
    return fmt::format("{}:{}:{}", source, region.begin.line, region.begin.column);
}

Status check_value(const ConfigKey& key, const ConfigValue& value, std::string_view origin) {
    if (key.type == ConfigType::kInt) {
        int64_t v = std::get<int64_t>(value);
        if ((key.min_int && v < *key.min_int) || (key.max_int && v > *key.max_int)) {
            return invalid_argument("config: {}: {} = {} is out of range [{}, {}]", origin,
                                    key.path, v, key.min_int ? std::to_string(*key.min_int) : "",
                                    key.max_int ? std::to_string(*key.max_int) : "");
        }
    }
    if (key.type == ConfigType::kString && !key.allowed.empty()) {
        const auto& v = std::get<std::string>(value);
        bool found = false;
        for (const auto& a : key.allowed) found = found || a == v;
        if (!found) {
            return invalid_argument("config: {}: {} = \"{}\" is not one of: {}", origin, key.path,
                                    v, fmt::join(key.allowed, ", "));
        }
    }
    return ok_status();
}

// Converts a TOML node to the key's type, or explains the mismatch.
Result<ConfigValue> from_node(const ConfigKey& key, const toml::node& node,
                              std::string_view origin) {
    auto mismatch = [&] {
        return invalid_argument("config: {}: {} must be {}, not {}", origin, key.path,
                                config_type_name(key.type), describe_node(node));
    };
    switch (key.type) {
        case ConfigType::kString:
            if (auto v = node.value_exact<std::string>()) return ConfigValue(*v);
            return mismatch();
        case ConfigType::kInt:
            if (auto v = node.value_exact<int64_t>()) return ConfigValue(*v);
            return mismatch();
        case ConfigType::kFloat:
            if (node.is_floating_point()) return ConfigValue(*node.value<double>());
            if (node.is_integer()) return ConfigValue(static_cast<double>(*node.value<int64_t>()));
            return mismatch();
        case ConfigType::kBool:
            if (auto v = node.value_exact<bool>()) return ConfigValue(*v);
            return mismatch();
        case ConfigType::kStringList: {
            const toml::array* arr = node.as_array();
            if (!arr) return mismatch();
            std::vector<std::string> out;
            for (size_t i = 0; i < arr->size(); ++i) {
                auto v = (*arr)[i].value_exact<std::string>();
                if (!v) {
                    return invalid_argument("config: {}: {}[{}] must be a string, not {}", origin,
                                            key.path, i, describe_node((*arr)[i]));
                }
                out.push_back(*v);
            }
            return ConfigValue(std::move(out));
        }
    }
    return mismatch();
}

Result<ConfigValue> from_env_text(const ConfigKey& key, const std::string& text,
                                  std::string_view origin) {
    auto bad = [&] {
        return invalid_argument("config: {}: \"{}\" is not {} (for {})", origin, text,
                                config_type_name(key.type), key.path);
    };
    switch (key.type) {
        case ConfigType::kString:
            return ConfigValue(text);
        case ConfigType::kInt: {
            char* end = nullptr;
            errno = 0;
            long long v = std::strtoll(text.c_str(), &end, 10);
            if (text.empty() || *end != '\0' || errno == ERANGE) return bad();
            return ConfigValue(static_cast<int64_t>(v));
        }
        case ConfigType::kFloat: {
            char* end = nullptr;
            double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0') return bad();
            return ConfigValue(v);
        }
        case ConfigType::kBool:
            if (text == "true" || text == "1" || text == "yes" || text == "on") {
                return ConfigValue(true);
            }
            if (text == "false" || text == "0" || text == "no" || text == "off") {
                return ConfigValue(false);
            }
            return bad();
        case ConfigType::kStringList: {
            std::vector<std::string> out;
            std::stringstream ss(text);
            std::string item;
            while (std::getline(ss, item, ',')) {
                if (!item.empty()) out.push_back(item);
            }
            return ConfigValue(std::move(out));
        }
    }
    return bad();
}

}  // namespace

std::string_view config_type_name(ConfigType type) {
    switch (type) {
        case ConfigType::kString:
            return "a string";
        case ConfigType::kInt:
            return "an integer";
        case ConfigType::kFloat:
            return "a number";
        case ConfigType::kBool:
            return "a boolean";
        case ConfigType::kStringList:
            return "an array of strings";
    }
    return "?";
}

ConfigSchema& ConfigSchema::add(ConfigKey key) {
    WARD_CHECK(find(key.path) == nullptr);
    std::string env = env_name(key.path);
    for (const auto& k : keys_) WARD_CHECK(env.empty() || env_name(k.path) != env);
    keys_.push_back(std::move(key));
    return *this;
}

const ConfigKey* ConfigSchema::find(std::string_view path) const {
    for (const auto& k : keys_) {
        if (path_matches(k.path, path)) return &k;
    }
    return nullptr;
}

std::string ConfigSchema::env_name(std::string_view path) {
    if (path.find('*') != std::string_view::npos) return "";
    std::string out = "WARD_";
    for (char c : path) {
        out.push_back(c == '.' ? '_'
                               : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    };
}

Result<Config> Config::load_file(const std::string& path, const ConfigSchema& schema,
                                 const EnvLookup& env) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return not_found("config: cannot read \"{}\": {}", path, std::strerror(errno));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) return not_found("config: cannot read \"{}\"", path);
    return parse(buffer.str(), path, schema, env);
}

Result<Config> Config::parse(std::string_view toml_text, std::string_view source_name,
                             const ConfigSchema& schema, const EnvLookup& env) {
    Config cfg;
    cfg.schema_ = &schema;
    toml::table root;
    try {
        root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& e) {
        return invalid_argument("config: {}: {}", where(source_name, e.source()),
                                std::string(e.description()));
    }
    Status status;
    // Walks every leaf; tables recurse, everything else must be a known key.
    std::function<void(const toml::table&, const std::string&)> walk =
        [&](const toml::table& table, const std::string& prefix) {
            for (const auto& [k, node] : table) {
                if (!status.ok()) return;
                std::string path =
                    prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
                const ConfigKey* key = schema.find(path);
                std::string origin = where(source_name, node.source());
                if (node.is_table() && !key) {
                    walk(*node.as_table(), path);
                    continue;
                }
                if (!key) {
                    status = invalid_argument("config: {}: unknown key \"{}\"", origin, path);
                    return;
                }
                auto value = from_node(*key, node, origin);
                if (!value.has_value()) {
                    status = value.error();
                    return;
                }
                status = check_value(*key, *value, origin);
                cfg.values_[path] = std::move(*value);
                cfg.origins_[path] = origin;
            }
        };
    walk(root, "");
    WARD_TRY(status);
    WARD_TRY(cfg.apply_defaults_and_env(schema, env));
    return cfg;
}

Result<Config> Config::defaults(const ConfigSchema& schema, const EnvLookup& env) {
    Config cfg;
    cfg.schema_ = &schema;
    WARD_TRY(cfg.apply_defaults_and_env(schema, env));
    return cfg;
}

Status Config::apply_defaults_and_env(const ConfigSchema& schema, const EnvLookup& env) {
    for (const auto& key : schema.keys()) {
        std::string env_var = ConfigSchema::env_name(key.path);
        if (!env_var.empty()) {
            if (auto text = env(env_var)) {
                std::string origin = "env " + env_var;
                WARD_ASSIGN_OR_RETURN(ConfigValue v, from_env_text(key, *text, origin));
                WARD_TRY(check_value(key, v, origin));
                values_[key.path] = std::move(v);
                origins_[key.path] = origin;
                continue;
            }
        }
        if (key.default_value && !values_.count(key.path) &&
            key.path.find('*') == std::string::npos) {
            values_[key.path] = *key.default_value;
            origins_[key.path] = "default";
        }
    }
    return ok_status();
}

const ConfigValue& Config::get(std::string_view path, ConfigType type) const {
    WARD_CHECK(schema_ != nullptr);
    const ConfigKey* key = schema_->find(path);
    WARD_CHECK(key != nullptr && key->type == type);
    auto it = values_.find(path);
    if (it == values_.end() && key->default_value) return *key->default_value;
    WARD_CHECK(it != values_.end());
    return it->second;
}

const std::string& Config::get_string(std::string_view path) const {
    return std::get<std::string>(get(path, ConfigType::kString));
}
int64_t Config::get_int(std::string_view path) const {
    return std::get<int64_t>(get(path, ConfigType::kInt));
}
double Config::get_float(std::string_view path) const {
    return std::get<double>(get(path, ConfigType::kFloat));
}
bool Config::get_bool(std::string_view path) const {
    return std::get<bool>(get(path, ConfigType::kBool));
}
const std::vector<std::string>& Config::get_strings(std::string_view path) const {
    return std::get<std::vector<std::string>>(get(path, ConfigType::kStringList));
}
std::optional<std::string> Config::find_string(std::string_view path) const {
    auto it = values_.find(path);
    if (it == values_.end()) return std::nullopt;
    if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
    return std::nullopt;
}

std::vector<std::string> Config::children(std::string_view prefix) const {
    std::vector<std::string> out;
    std::string p = std::string(prefix) + ".";
    for (const auto& [path, value] : values_) {
        if (path.compare(0, p.size(), p) != 0) continue;
        std::string rest = path.substr(p.size());
        std::string name = rest.substr(0, rest.find('.'));
        if (out.empty() || out.back() != name) out.push_back(name);
    }
    return out;
}

std::string Config::origin(std::string_view path) const {
    auto it = origins_.find(path);
    return it == origins_.end() ? "unset" : it->second;
}

}  // namespace ward
