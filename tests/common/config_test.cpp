#include "common/config.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

namespace ward {
namespace {

ConfigSchema test_schema() {
    ConfigSchema s;
    s.add({.path = "server.port",
           .type = ConfigType::kInt,
           .default_value = int64_t{8080},
           .min_int = 1,
           .max_int = 65535});
    s.add({.path = "server.host",
           .type = ConfigType::kString,
           .default_value = std::string("127.0.0.1")});
    s.add({.path = "log.format",
           .type = ConfigType::kString,
           .default_value = std::string("text"),
           .allowed = {"text", "json"}});
    s.add({.path = "engine.temperature", .type = ConfigType::kFloat, .default_value = 0.7});
    s.add({.path = "deid.enabled", .type = ConfigType::kBool, .default_value = true});
    s.add({.path = "server.cors_origins",
           .type = ConfigType::kStringList,
           .default_value = std::vector<std::string>{}});
    s.add({.path = "models.*.path", .type = ConfigType::kString});
    return s;
}

EnvLookup fake_env(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

TEST(Config, DefaultsApplyWhenFileIsSilent) {
    auto schema = test_schema();
    auto cfg = Config::parse("", "ward.toml", schema, fake_env({}));
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    EXPECT_EQ(cfg->get_int("server.port"), 8080);
    EXPECT_EQ(cfg->get_string("server.host"), "127.0.0.1");
    EXPECT_DOUBLE_EQ(cfg->get_float("engine.temperature"), 0.7);
    EXPECT_TRUE(cfg->get_bool("deid.enabled"));
    EXPECT_EQ(cfg->origin("server.port"), "default");
}

TEST(Config, ReadsValuesAndWildcardTables) {
    auto schema = test_schema();
    auto cfg = Config::parse(R"(
[server]
port = 9000
cors_origins = ["https://ehr.example.org"]
[engine]
temperature = 1
[models.med42]
path = "/models/med42.gguf"
[models.tiny]
path = "/models/tiny.gguf"
)",
                             "ward.toml", schema, fake_env({}));
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    EXPECT_EQ(cfg->get_int("server.port"), 9000);
    EXPECT_EQ(cfg->origin("server.port"), "ward.toml:3:8");
    EXPECT_DOUBLE_EQ(cfg->get_float("engine.temperature"), 1.0);  // integers widen to float
    EXPECT_EQ(cfg->get_strings("server.cors_origins").at(0), "https://ehr.example.org");
    EXPECT_EQ(cfg->children("models"), (std::vector<std::string>{"med42", "tiny"}));
    EXPECT_EQ(cfg->get_string("models.med42.path"), "/models/med42.gguf");
}

TEST(Config, UnknownKeyIsNamedWithLine) {
    auto schema = test_schema();
    auto cfg = Config::parse("[server]\nprot = 1\n", "ward.toml", schema, fake_env({}));
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(cfg.error().message(), "config: ward.toml:2:8: unknown key \"server.prot\"");
}

TEST(Config, WrongTypeIsNamed) {
    auto schema = test_schema();
    auto cfg = Config::parse("[server]\nport = \"80\"\n", "ward.toml", schema, fake_env({}));
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().message(),
              "config: ward.toml:2:8: server.port must be an integer, not a string");

    cfg = Config::parse("server.cors_origins = [\"a\", 3]\n", "ward.toml", schema, fake_env({}));
    ASSERT_FALSE(cfg);
    EXPECT_NE(cfg.error().message().find("server.cors_origins[1] must be a string, not an integer"),
              std::string::npos)
        << cfg.error().message();
}

TEST(Config, RangeAndAllowedValuesAreChecked) {
    auto schema = test_schema();
    auto cfg = Config::parse("server.port = 70000\n", "ward.toml", schema, fake_env({}));
    ASSERT_FALSE(cfg);
    EXPECT_NE(cfg.error().message().find("server.port = 70000 is out of range [1, 65535]"),
              std::string::npos);
    cfg = Config::parse("log.format = \"xml\"\n", "ward.toml", schema, fake_env({}));
    ASSERT_FALSE(cfg);
    EXPECT_NE(cfg.error().message().find("log.format = \"xml\" is not one of: text, json"),
              std::string::npos);
}

TEST(Config, SyntaxErrorHasPosition) {
    auto schema = test_schema();
    auto cfg = Config::parse("[server\nport = 1\n", "ward.toml", schema, fake_env({}));
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(cfg.error().message().rfind("config: ward.toml:1:", 0), 0u) << cfg.error().message();
}

TEST(Config, EnvironmentOverridesFileAndDefaults) {
    auto schema = test_schema();
    auto cfg = Config::parse("server.port = 9000\n", "ward.toml", schema,
                             fake_env({{"WARD_SERVER_PORT", "9100"},
                                       {"WARD_DEID_ENABLED", "false"},
                                       {"WARD_SERVER_CORS_ORIGINS", "a,b"}}));
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    EXPECT_EQ(cfg->get_int("server.port"), 9100);
    EXPECT_EQ(cfg->origin("server.port"), "env WARD_SERVER_PORT");
    EXPECT_FALSE(cfg->get_bool("deid.enabled"));
    EXPECT_EQ(cfg->get_strings("server.cors_origins"), (std::vector<std::string>{"a", "b"}));
}

TEST(Config, BadEnvironmentValueIsNamed) {
    auto schema = test_schema();
    auto cfg = Config::defaults(schema, fake_env({{"WARD_SERVER_PORT", "eighty"}}));
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().message(),
              "config: env WARD_SERVER_PORT: \"eighty\" is not an integer (for server.port)");
}

TEST(Config, MissingFileIsNotFound) {
    auto schema = test_schema();
    auto cfg = Config::load_file("/nonexistent/ward.toml", schema, fake_env({}));
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error().code(), StatusCode::kNotFound);
    EXPECT_NE(cfg.error().message().find("/nonexistent/ward.toml"), std::string::npos);
}

TEST(Config, LoadsFromFile) {
    auto schema = test_schema();
    auto path = std::filesystem::temp_directory_path() / "ward_config_test.toml";
    std::ofstream(path) << "[server]\nhost = \"0.0.0.0\"\n";
    auto cfg = Config::load_file(path.string(), schema, fake_env({}));
    std::filesystem::remove(path);
    ASSERT_TRUE(cfg) << cfg.error().to_string();
    EXPECT_EQ(cfg->get_string("server.host"), "0.0.0.0");
}

TEST(ConfigSchema, EnvNames) {
    EXPECT_EQ(ConfigSchema::env_name("server.max_body_bytes"), "WARD_SERVER_MAX_BODY_BYTES");
    EXPECT_EQ(ConfigSchema::env_name("models.*.path"), "");
}

}  // namespace
}  // namespace ward
