// Fuzzes the configuration reader: any bytes must give a Config or a clear error, never a
// crash, hang or out-of-bounds read.
#include <cstdint>
#include <string_view>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const ward::ConfigSchema schema = [] {
        ward::ConfigSchema s;
        s.add({.path = "server.port",
               .type = ward::ConfigType::kInt,
               .default_value = int64_t{8080},
               .min_int = 1,
               .max_int = 65535});
        s.add({.path = "server.host", .type = ward::ConfigType::kString});
        s.add({.path = "engine.temperature", .type = ward::ConfigType::kFloat});
        s.add({.path = "deid.enabled", .type = ward::ConfigType::kBool});
        s.add({.path = "server.origins", .type = ward::ConfigType::kStringList});
        s.add({.path = "models.*.path", .type = ward::ConfigType::kString});
        return s;
    }();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    auto cfg = ward::Config::parse(text, "fuzz.toml", schema, no_env);
    if (cfg) (void)cfg->children("models");
    return 0;
}
