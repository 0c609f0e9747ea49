// Registry::from_config on TOML text: a good file, and each configuration error naming its key.
#include "llm/registry.h"

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

#include "llm/remote_backend.h"

namespace ward::llm {
namespace {

const ConfigSchema& schema() {
    static const ConfigSchema s = [] {
        ConfigSchema out;
        add_llm_config_keys(out);
        return out;
    }();
    return s;
}

EnvLookup fake_env(std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

// The registry built from `toml`, or its error.
Result<std::unique_ptr<Registry>> build(const std::string& toml,
                                        std::map<std::string, std::string> env = {}) {
    auto config = Config::parse(toml, "ward.toml", schema(), fake_env(env));
    if (!config) return config.error();
    // The Config is only read while building.
    return Registry::from_config(*config, fake_env(env));
}

std::string error_of(const std::string& toml, std::map<std::string, std::string> env = {}) {
    auto r = build(toml, std::move(env));
    if (r) return "(no error)";
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().to_string();
    return r.error().message();
}

// Remote models on a port nothing listens on: created (probing fails quietly), never called.
const std::string kNowhere = "http://127.0.0.1:9";

TEST(Registry, BuildsRemoteModelsWithDefaultAndDescription) {
    auto r = build(R"(
[llm]
default_model = "big"

[models.big]
backend = "remote"
base_url = ")" + kNowhere +
                       R"("
upstream_model = "meta-llama/Llama-3.1-70B-Instruct"
api_key_env = "GPU1_KEY"
connect_timeout_s = 0.2
retries = 0
description = "70B on the GPU box"

[models.small]
backend = "remote"
base_url = ")" + kNowhere +
                       R"(/v1"
context = 8192
)",
                   {{"GPU1_KEY", "sk-abc"}});
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    Registry& reg = **r;
    ASSERT_EQ(reg.all().size(), 2u);
    EXPECT_EQ(reg.all()[0]->info().name, "big");
    EXPECT_EQ(reg.all()[1]->info().name, "small");
    Backend* big = reg.find("big");
    ASSERT_NE(big, nullptr);
    EXPECT_EQ(big->info().backend, "remote");
    EXPECT_EQ(big->info().description, "70B on the GPU box");
    EXPECT_EQ(big->info().file_sha256, "remote:meta-llama/Llama-3.1-70B-Instruct@" + kNowhere);
    EXPECT_EQ(big->info().context_length, 0);  // unknown unless given
    EXPECT_EQ(reg.find("small")->info().context_length, 8192);
    EXPECT_EQ(reg.find("small")->info().file_sha256, "remote:small@" + kNowhere + "/v1");
    EXPECT_EQ(reg.find("nope"), nullptr);
    EXPECT_EQ(reg.default_backend(), big);
}

TEST(Registry, DefaultIsTheOnlyModelElseNone) {
    auto one = build("[models.a]\nbackend = \"remote\"\nbase_url = \"" + kNowhere +
                     "\"\nconnect_timeout_s = 0.2\n");
    ASSERT_TRUE(one.has_value()) << one.error().to_string();
    ASSERT_NE((*one)->default_backend(), nullptr);
    EXPECT_EQ((*one)->default_backend()->info().name, "a");

    auto two = build("[models.a]\nbackend = \"remote\"\nbase_url = \"" + kNowhere +
                     "\"\nconnect_timeout_s = 0.2\n[models.b]\nbackend = \"remote\"\n"
                     "base_url = \"" +
                     kNowhere + "\"\nconnect_timeout_s = 0.2\n");
    ASSERT_TRUE(two.has_value()) << two.error().to_string();
    EXPECT_EQ((*two)->default_backend(), nullptr);

    auto none = build("");
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE((*none)->all().empty());
    EXPECT_EQ((*none)->default_backend(), nullptr);
}

TEST(Registry, AddKeepsNameOrder) {
    Registry reg;
    for (const char* name : {"zeta", "alpha", "mid"}) {
        RemoteBackendOptions o;
        o.name = name;
        o.base_url = kNowhere;
        o.probe_at_create = false;
        reg.add(RemoteBackend::create(o).value());
    }
    ASSERT_EQ(reg.all().size(), 3u);
    EXPECT_EQ(reg.all()[0]->info().name, "alpha");
    EXPECT_EQ(reg.all()[2]->info().name, "zeta");
    EXPECT_EQ(reg.find("mid")->info().name, "mid");
}

TEST(Registry, LoadsALocalModel) {
    const std::string path = std::string(WARD_SHARED_DATA) + "/models/stories260K.gguf";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is missing";
    auto r = build("[models.tiny]\nbackend = \"local\"\npath = \"" + path +
                   "\"\nslots = 2\ncontext = 256\nthreads = 1\n");
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    Backend* tiny = (*r)->find("tiny");
    ASSERT_NE(tiny, nullptr);
    EXPECT_EQ(tiny->info().backend, "local");
    EXPECT_TRUE(tiny->ready());
    EXPECT_EQ((*r)->default_backend(), tiny);
}

TEST(Registry, ErrorsNameTheKey) {
    EXPECT_EQ(error_of("[models.med42]\nbackend = \"local\"\n"),
              "config: models.med42.path: required for a local model");
    EXPECT_EQ(error_of("[models.x]\nbackend = \"remote\"\n"),
              "config: models.x.base_url: required for a remote model");
    EXPECT_EQ(error_of("[models.x]\npath = \"a.gguf\"\n"),
              "config: models.x.backend: required (\"local\" or \"remote\")");
    EXPECT_EQ(error_of("[models.x]\nbackend = \"remote\"\nbase_url = \"ftp://h\"\n"),
              "config: ward.toml:3:12: models.x.base_url: \"ftp://h\" is not an http(s) URL "
              "(expected http[s]://host[:port][/prefix])");
    EXPECT_EQ(error_of("[models.x]\nbackend = \"remote\"\nbase_url = \"" + kNowhere +
                       "\"\napi_key_env = \"NOT_SET_ANYWHERE\"\n"),
              "config: ward.toml:4:15: models.x.api_key_env: environment variable "
              "NOT_SET_ANYWHERE is not set");
    EXPECT_EQ(error_of("[models.x]\nbackend = \"remote\"\nbase_url = \"" + kNowhere +
                           "\"\napi_key_env = \"EMPTY_KEY\"\n",
                       {{"EMPTY_KEY", ""}}),
              "config: ward.toml:4:15: models.x.api_key_env: environment variable EMPTY_KEY is "
              "empty");
    EXPECT_EQ(error_of("[models.x]\nbackend = \"remote\"\nbase_url = \"" + kNowhere +
                       "\"\nread_timeout_s = 0\n"),
              "config: ward.toml:4:18: models.x.read_timeout_s: 0 is not a positive number of "
              "seconds");
    EXPECT_EQ(error_of("[models.x]\nbackend = \"local\"\npath = \"m.gguf\"\nbase_url = \"" +
                       kNowhere + "\"\n"),
              "config: ward.toml:4:12: models.x.base_url: only for a remote model (this one is "
              "local)");
    EXPECT_EQ(
        error_of("[models.x]\nbackend = \"remote\"\nbase_url = \"" + kNowhere + "\"\nslots = 2\n"),
        "config: ward.toml:4:9: models.x.slots: only for a local model (this one is "
        "remote)");
    EXPECT_EQ(error_of("[llm]\ndefault_model = \"ghost\"\n[models.a]\nbackend = \"remote\"\n"
                       "base_url = \"" +
                       kNowhere + "\"\n"),
              "config: ward.toml:2:17: llm.default_model: no model named \"ghost\" (models: a)");
    EXPECT_EQ(error_of("[llm]\ndefault_model = \"ghost\"\n"),
              "config: ward.toml:2:17: llm.default_model: no model named \"ghost\" (no models "
              "are configured)");
}

TEST(Registry, SchemaChecksTypesRangesAndValues) {
    // common/config names the schema key ("models.*.slots") and the line of the bad value.
    std::string backend = error_of("[models.x]\nbackend = \"cloud\"\n");
    EXPECT_NE(backend.find("is not one of: local, remote"), std::string::npos) << backend;
    std::string slots = error_of("[models.x]\nbackend = \"local\"\npath = \"m\"\nslots = 65\n");
    EXPECT_NE(slots.find("ward.toml:4:9: models.*.slots = 65 is out of range [1, 64]"),
              std::string::npos)
        << slots;
    std::string retries = error_of("[models.x]\nbackend = \"remote\"\nretries = \"3\"\n");
    EXPECT_NE(retries.find("ward.toml:3:11: models.*.retries must be an integer"),
              std::string::npos)
        << retries;
    std::string typo = error_of("[models.x]\nbackend = \"remote\"\nbase_urll = \"h\"\n");
    EXPECT_NE(typo.find("unknown key \"models.x.base_urll\""), std::string::npos) << typo;
}

TEST(Registry, ALocalModelThatFailsToLoadNamesTheModel) {
    auto r = build("[models.broken]\nbackend = \"local\"\npath = \"/nonexistent/m.gguf\"\n");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message().rfind("config: models.broken: ", 0), 0u) << r.error().message();
}

}  // namespace
}  // namespace ward::llm
