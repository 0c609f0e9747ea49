// Embeddings through the Backend interface: a LocalBackend over a made bert model (and the
// refusals of generate() there and of embed() on a decoder), a RemoteBackend against an
// in-process fake /v1/embeddings upstream (success, retries, malformed answers, 4xx), and the
// registry's `embedding` key.
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "common/config.h"
#include "engine/model_maker.h"
#include "llm/local_backend.h"
#include "llm/registry.h"
#include "llm/remote_backend.h"

namespace ward::llm {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::filesystem::path temp_dir() {
    return std::filesystem::temp_directory_path() /
           ("ward_llm_embed_" + std::to_string(::getpid()));
}

std::string temp_path(const std::string& name) {
    std::filesystem::create_directories(temp_dir());
    return (temp_dir() / name).string();
}

// Removes the made model files when the test binary ends.
class TempDirCleanup : public ::testing::Environment {
  public:
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(temp_dir(), ec);
    }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

// Writes a made model once per name.
std::string made(const std::string& name, engine::RandomModelSpec s) {
    s.n_embd = 64;
    s.n_head = 4;
    s.n_head_kv = 4;
    s.n_vocab = 300;
    std::string p = temp_path(name + ".gguf");
    EXPECT_TRUE(engine::make_random_model(s, p).ok());
    return p;
}

// A bert (mean pooling, 32 positions, Q8_0) and a llama (F32), 64 wide.
const std::string& bert_path() {
    static const std::string path = [] {
        engine::RandomModelSpec s;
        s.arch = "bert";
        s.type = engine::TensorType::kQ8_0;
        s.n_layer = 2;
        s.n_ff = 128;
        s.n_ctx = 32;
        return made("bert", s);
    }();
    return path;
}

const std::string& llama_path() {
    static const std::string path = [] {
        engine::RandomModelSpec s;
        s.type = engine::TensorType::kF32;
        s.n_layer = 1;
        s.n_ff = 64;
        s.n_ctx = 64;
        return made("llama", s);
    }();
    return path;
}

std::unique_ptr<LocalBackend> local(const std::string& path, const std::string& name) {
    LocalBackendOptions o;
    o.name = name;
    o.path = path;
    o.slots = 1;
    o.context = 64;
    o.threads = 2;
    auto b = LocalBackend::create(o);
    EXPECT_TRUE(b) << b.error().to_string();
    return b ? std::move(*b) : nullptr;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
    return s;
}

TEST(LocalEmbeddings, BertFileIsAnEmbeddingModel) {
    auto backend = local(bert_path(), "bge");
    ASSERT_TRUE(backend);
    const ModelInfo& info = backend->info();
    EXPECT_TRUE(info.embedding);
    EXPECT_EQ(info.embedding_dim, 64);
    EXPECT_EQ(info.context_length, 32);
    EXPECT_EQ(info.backend, "local");
    EXPECT_EQ(backend->slots(), 0);
    EXPECT_EQ(backend->context(), 32);

    EmbeddingRequest req{
        "bge", {"the patient denies chest pain", "fever", "the patient denies chest pain"}};
    auto e = backend->embed(req);
    ASSERT_TRUE(e) << e.error().to_string();
    ASSERT_EQ(e->vectors.size(), 3u);
    EXPECT_EQ(e->model, "bge");
    for (const auto& v : e->vectors) {
        ASSERT_EQ(v.size(), 64u);
        EXPECT_NEAR(dot(v, v), 1.0, 1e-5);  // unit length
    }
    EXPECT_EQ(e->vectors[0], e->vectors[2]);              // same text, same vector
    EXPECT_LT(dot(e->vectors[0], e->vectors[1]), 0.999);  // different texts differ
    // [CLS] + 5 words + [SEP], [CLS] fever [SEP], and the first again.
    EXPECT_EQ(e->prompt_tokens, 7 + 3 + 7);

    // The batch equals the inputs one by one.
    for (size_t i = 0; i < req.inputs.size(); ++i) {
        auto one = backend->embed(EmbeddingRequest{"bge", {req.inputs[i]}});
        ASSERT_TRUE(one);
        ASSERT_EQ(one->vectors.size(), 1u);
        for (size_t k = 0; k < 64; ++k) {
            EXPECT_NEAR(one->vectors[0][k], e->vectors[i][k], 1e-5) << i << " " << k;
        }
    }
}

TEST(LocalEmbeddings, GenerationIsRefusedAndInputsChecked) {
    auto backend = local(bert_path(), "bge");
    ASSERT_TRUE(backend);
    Request r;
    r.model = "bge";
    r.prompt = "hello";
    auto g = backend->generate(r, {});
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(g.error().message(), "model 'bge' is an embedding model; use /v1/embeddings");
    EXPECT_EQ(backend->check(r).message(), g.error().message());

    auto none = backend->embed(EmbeddingRequest{"bge", {}});
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), StatusCode::kInvalidArgument);
    auto bad = backend->embed(EmbeddingRequest{"bge", {"ok", "bad \xff byte"}});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "input #1 is not valid UTF-8 (at byte 4)");
    std::string long_text;
    for (int i = 0; i < 40; ++i) long_text += "pain ";
    auto too_long = backend->embed(EmbeddingRequest{"bge", {"pain", long_text}});
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(too_long.error().message(),
              "input #1: input of 42 tokens is longer than the model's context of 32");
}

TEST(LocalEmbeddings, ConcurrentRequests) {
    auto backend = local(bert_path(), "bge");
    ASSERT_TRUE(backend);
    auto expected = backend->embed(EmbeddingRequest{"bge", {"chest pain", "fever"}});
    ASSERT_TRUE(expected);
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto got = backend->embed(EmbeddingRequest{"bge", {"chest pain", "fever"}});
                if (!got || got->vectors != expected->vectors) ++mismatches;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_EQ(backend->active(), 0);
}

TEST(LocalEmbeddings, DecoderRefusesEmbed) {
    auto backend = local(llama_path(), "tiny");
    ASSERT_TRUE(backend);
    EXPECT_FALSE(backend->info().embedding);
    auto e = backend->embed(EmbeddingRequest{"tiny", {"hello"}});
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(e.error().message(), "model 'tiny' does not produce embeddings");
}

// A fake upstream for /v1/embeddings answering from a script, recording what it was sent.
struct Scripted {
    int status = 200;
    std::string body;
    httplib::Headers headers;
};

class FakeEmbeddings {
  public:
    FakeEmbeddings() {
        server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
            Scripted answer;
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(json::parse(req.body, nullptr, false));
                authorizations_.push_back(req.get_header_value("Authorization"));
                if (!script_.empty()) {
                    answer = script_.front();
                    script_.pop_front();
                } else {
                    answer = {500, R"({"error":{"message":"script empty"}})", {}};
                }
            }
            res.status = answer.status;
            for (const auto& [k, v] : answer.headers) res.set_header(k, v);
            res.set_content(answer.body, "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~FakeEmbeddings() {
        server_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void push(Scripted s) {
        std::lock_guard lock(mutex_);
        script_.push_back(std::move(s));
    }
    std::vector<json> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::vector<std::string> authorizations() {
        std::lock_guard lock(mutex_);
        return authorizations_;
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::deque<Scripted> script_;
    std::vector<json> requests_;
    std::vector<std::string> authorizations_;
};

std::string answer_json(const std::vector<std::pair<int, std::vector<float>>>& items,
                        int prompt_tokens) {
    json data = json::array();
    for (const auto& [index, v] : items) {
        data.push_back({{"object", "embedding"}, {"index", index}, {"embedding", v}});
    }
    return json{{"object", "list"},
                {"data", data},
                {"model", "e5-upstream"},
                {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}}
        .dump();
}

std::unique_ptr<RemoteBackend> remote(const FakeEmbeddings& fake, bool embedding = true,
                                      int retries = 2) {
    RemoteBackendOptions o;
    o.name = "e5";
    o.base_url = fake.url();
    o.upstream_model = "e5-upstream";
    o.api_key = "sk-secret";
    o.embedding = embedding;
    o.retries = retries;
    o.backoff_s = 0.01;
    o.probe_at_create = false;
    auto b = RemoteBackend::create(o);
    EXPECT_TRUE(b) << b.error().to_string();
    return b ? std::move(*b) : nullptr;
}

TEST(RemoteEmbeddings, PostsInputsAndReadsVectorsInIndexOrder) {
    FakeEmbeddings fake;
    // Items out of order: the index decides.
    fake.push({200, answer_json({{1, {0.0f, 1.0f}}, {0, {1.0f, 0.0f}}}, 9), {}});
    auto backend = remote(fake);
    ASSERT_TRUE(backend);
    EXPECT_TRUE(backend->info().embedding);
    auto e = backend->embed(EmbeddingRequest{"e5", {"first", "second"}});
    ASSERT_TRUE(e) << e.error().to_string();
    ASSERT_EQ(e->vectors.size(), 2u);
    EXPECT_EQ(e->vectors[0], (std::vector<float>{1.0f, 0.0f}));
    EXPECT_EQ(e->vectors[1], (std::vector<float>{0.0f, 1.0f}));
    EXPECT_EQ(e->prompt_tokens, 9);
    EXPECT_EQ(e->model, "e5");
    auto sent = fake.requests();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0]["model"], "e5-upstream");
    EXPECT_EQ(sent[0]["input"], json::array({"first", "second"}));
    EXPECT_EQ(sent[0]["encoding_format"], "float");
    EXPECT_EQ(fake.authorizations()[0], "Bearer sk-secret");
}

TEST(RemoteEmbeddings, RetriesAfterA500) {
    FakeEmbeddings fake;
    fake.push({500, R"({"error":{"message":"overloaded"}})", {}});
    fake.push({503, R"({"error":{"message":"warming up"}})", {{"Retry-After", "0"}}});
    fake.push({200, answer_json({{0, {0.6f, 0.8f}}}, 0), {}});
    auto backend = remote(fake);
    ASSERT_TRUE(backend);
    auto e = backend->embed(EmbeddingRequest{"e5", {"abcdef"}});
    ASSERT_TRUE(e) << e.error().to_string();
    EXPECT_EQ(fake.requests().size(), 3u);
    EXPECT_EQ(e->vectors[0], (std::vector<float>{0.6f, 0.8f}));
    EXPECT_EQ(e->prompt_tokens, 2);  // no usage: estimated, one token per 3 bytes
}

TEST(RemoteEmbeddings, RetriesSpentIsUnavailable) {
    FakeEmbeddings fake;
    for (int i = 0; i < 3; ++i) fake.push({502, R"({"error":{"message":"bad gateway"}})", {}});
    auto backend = remote(fake, true, 2);
    ASSERT_TRUE(backend);
    auto e = backend->embed(EmbeddingRequest{"e5", {"x"}});
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(e.error().message().find("unavailable after 3 attempt(s): HTTP 502: bad gateway"),
              std::string::npos)
        << e.error().message();
}

TEST(RemoteEmbeddings, MalformedAnswersAreClearErrors) {
    struct Bad {
        std::string body;
        std::string message;
    };
    const std::vector<Bad> cases = {
        {"{not json", "answered /v1/embeddings with the answer is not JSON"},
        {R"({"object":"list"})", "has no \"data\" array"},
        {answer_json({{0, {1.0f}}}, 1), "1 embeddings for 2 inputs"},
        {answer_json({{0, {1.0f}}, {0, {1.0f}}}, 1), "repeats index 0"},
        {answer_json({{0, {1.0f}}, {1, {1.0f, 2.0f}}}, 1), "data[1].embedding has 2 values"},
        {R"({"data":[{"index":0,"embedding":"AAAA"},{"index":1,"embedding":[1]}]})",
         "data[0].embedding is not a non-empty array of numbers"},
        {R"({"data":[{"index":5,"embedding":[1]},{"index":1,"embedding":[1]}]})",
         "data[0].index is not an input index below 2"},
    };
    for (const Bad& bad : cases) {
        SCOPED_TRACE(bad.body);
        FakeEmbeddings fake;
        fake.push({200, bad.body, {}});
        auto backend = remote(fake);
        ASSERT_TRUE(backend);
        auto e = backend->embed(EmbeddingRequest{"e5", {"a", "b"}});
        ASSERT_FALSE(e);
        EXPECT_EQ(e.error().code(), StatusCode::kUnavailable);
        EXPECT_NE(e.error().message().find(bad.message), std::string::npos) << e.error().message();
        EXPECT_NE(e.error().message().find("upstream e5 (" + fake.url() + ")"), std::string::npos)
            << e.error().message();
        EXPECT_EQ(fake.requests().size(), 1u);  // not retried
    }
}

TEST(RemoteEmbeddings, ClientErrorsAreNotRetriedAndKeysNeverShow) {
    FakeEmbeddings fake;
    fake.push({400, R"({"error":{"message":"input too long for key sk-secret"}})", {}});
    auto backend = remote(fake);
    ASSERT_TRUE(backend);
    auto e = backend->embed(EmbeddingRequest{"e5", {"x"}});
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(e.error().message().find("HTTP 400: input too long for key [redacted]"),
              std::string::npos)
        << e.error().message();
    EXPECT_EQ(e.error().message().find("sk-secret"), std::string::npos);
    EXPECT_EQ(fake.requests().size(), 1u);
}

TEST(RemoteEmbeddings, GeneratorsAndEmbeddersRefuseEachOther) {
    FakeEmbeddings fake;
    auto embedder = remote(fake, true);
    ASSERT_TRUE(embedder);
    Request r;
    r.prompt = "hi";
    auto g = embedder->generate(r, {});
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().message(), "model 'e5' is an embedding model; use /v1/embeddings");
    auto generator = remote(fake, false);
    ASSERT_TRUE(generator);
    auto e = generator->embed(EmbeddingRequest{"e5", {"x"}});
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message(), "model 'e5' does not produce embeddings");
    EXPECT_TRUE(fake.requests().empty());
}

TEST(RegistryEmbeddings, EmbeddingKeyIsForRemoteModels) {
    ConfigSchema schema;
    add_llm_config_keys(schema);
    auto load = [&](const std::string& toml) {
        auto config = Config::parse(toml, "ward.toml", schema);
        EXPECT_TRUE(config) << config.error().to_string();
        return Registry::from_config(*config);
    };
    auto local_with_key = load("[models.bge]\nbackend = \"local\"\npath = \"" + bert_path() +
                               "\"\nembedding = true\n");
    ASSERT_FALSE(local_with_key);
    EXPECT_NE(local_with_key.error().message().find("models.bge.embedding"), std::string::npos)
        << local_with_key.error().message();

    auto registry = load("[models.bge]\nbackend = \"local\"\npath = \"" + bert_path() +
                         "\"\n[models.e5]\nbackend = \"remote\"\nbase_url = "
                         "\"http://127.0.0.1:9\"\nembedding = true\nconnect_timeout_s = 0.2\n");
    ASSERT_TRUE(registry) << registry.error().to_string();
    EXPECT_TRUE((*registry)->find("bge")->info().embedding);
    EXPECT_EQ((*registry)->find("bge")->info().embedding_dim, 64);
    EXPECT_TRUE((*registry)->find("e5")->info().embedding);
}

}  // namespace
}  // namespace ward::llm
