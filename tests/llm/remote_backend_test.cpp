// RemoteBackend against an in-process fake upstream: an httplib::Server on 127.0.0.1 (port 0)
// that answers from a script, streams Server-Sent Events chunk by chunk, and records what it
// was sent.
#include "llm/remote_backend.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "llm/sse.h"

namespace ward::llm {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// One scripted answer of the fake upstream.
struct Answer {
    int status = 200;
    std::vector<std::string> chunks;  // written one at a time (SSE bytes, or a plain body)
    std::string content_type = "text/event-stream";
    httplib::Headers headers;
    std::chrono::milliseconds delay_before{0};   // silence before the status line
    std::chrono::milliseconds delay_between{0};  // between chunks
    bool endless = false;  // after the chunks, keep sending pieces until the client goes away
};

struct Recorded {
    std::string path;
    json body;
    std::string authorization;
};

std::string sse(const json& chunk) {
    return "data: " + chunk.dump() + "\n\n";
}

std::string chat_delta(const std::string& text) {
    return sse({{"object", "chat.completion.chunk"},
                {"choices",
                 {{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}}}});
}

std::string chat_finish(const std::string& reason) {
    return sse(
        {{"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", reason}}}}});
}

std::string usage_chunk(int prompt, int completion) {
    return sse({{"choices", json::array()},
                {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", completion}}}});
}

const std::string kDone = "data: [DONE]\n\n";

class FakeUpstream {
  public:
    FakeUpstream() {
        auto handler = [this](const httplib::Request& req, httplib::Response& res) {
            answer(req, res);
        };
        server_.Post("/v1/chat/completions", handler);
        server_.Post("/v1/completions", handler);
        server_.Post("/prefix/v1/chat/completions", handler);
        server_.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                models_authorization_ = req.get_header_value("Authorization");
            }
            res.set_content(R"({"object":"list","data":[{"id":"upstream-model"}]})",
                            "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~FakeUpstream() {
        server_.stop();
        thread_.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // Answers in order; the last one repeats.
    void script(std::vector<Answer> answers) {
        std::lock_guard<std::mutex> lock(mutex_);
        answers_.assign(answers.begin(), answers.end());
    }
    int posts() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return static_cast<int>(recorded_.size());
    }
    Recorded request(size_t i) const {
        std::lock_guard<std::mutex> lock(mutex_);
        return recorded_.at(i);
    }
    std::string models_authorization() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return models_authorization_;
    }
    // True once a write to a streaming client failed: it closed the connection.
    bool client_went_away() const { return went_away_.load(); }

  private:
    void answer(const httplib::Request& req, httplib::Response& res) {
        Answer a;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            recorded_.push_back({req.path, json::parse(req.body, nullptr, false),
                                 req.get_header_value("Authorization")});
            if (!answers_.empty()) {
                a = answers_.front();
                if (answers_.size() > 1) answers_.pop_front();
            }
        }
        std::this_thread::sleep_for(a.delay_before);
        res.status = a.status;
        for (const auto& [k, v] : a.headers) res.set_header(k, v);
        if (a.status != 200 || a.content_type != "text/event-stream") {
            std::string body;
            for (const auto& c : a.chunks) body += c;
            res.set_content(body, a.content_type);
            return;
        }
        res.set_chunked_content_provider(a.content_type,
                                         [this, a](size_t, httplib::DataSink& sink) {
                                             for (const auto& chunk : a.chunks) {
                                                 if (!sink.write(chunk.data(), chunk.size())) {
                                                     went_away_ = true;
                                                     return false;
                                                 }
                                                 std::this_thread::sleep_for(a.delay_between);
                                             }
                                             if (a.endless) {
                                                 const std::string piece = chat_delta("more ");
                                                 for (int i = 0; i < 1000; ++i) {  // 10 s at most
                                                     if (!sink.write(piece.data(), piece.size())) {
                                                         went_away_ = true;
                                                         return false;
                                                     }
                                                     std::this_thread::sleep_for(10ms);
                                                 }
                                             }
                                             sink.done();
                                             return true;
                                         });
    }

    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::deque<Answer> answers_;
    std::vector<Recorded> recorded_;
    std::string models_authorization_;
    std::atomic<bool> went_away_{false};
};

// A port nothing listens on: bound by a plain socket, then closed.
int closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

RemoteBackendOptions options_for(const std::string& url) {
    RemoteBackendOptions o;
    o.name = "fake";
    o.base_url = url;
    o.upstream_model = "upstream-model";
    o.api_key = "sk-test-key";
    o.connect_timeout_s = 2;
    o.read_timeout_s = 5;
    o.retries = 3;
    o.backoff_s = 0.01;
    return o;
}

std::unique_ptr<RemoteBackend> make(const RemoteBackendOptions& o) {
    auto backend = RemoteBackend::create(o);
    EXPECT_TRUE(backend.has_value()) << backend.error().to_string();
    return backend ? std::move(*backend) : nullptr;
}

Request chat_request(std::string content = "Summarise the note.") {
    Request r;
    r.model = "fake";
    r.messages = {{"system", "You are terse."}, {"user", std::move(content)}};
    r.params.max_tokens = 32;
    r.params.temperature = 0.7f;
    r.params.seed = 42;
    r.params.stop = {"</s>"};
    return r;
}

class LogCapture {
  public:
    LogCapture() {
        sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        set_log_sink(sink_);
        configure_logging({.level = spdlog::level::debug});
    }
    ~LogCapture() {
        configure_logging({});
        set_log_sink(nullptr);
    }
    std::string text() {
        sink_->flush();
        return out_.str();
    }

  private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST(RemoteBackend, StreamsPiecesInOrderWithUsageFromTheFinalChunk) {
    FakeUpstream up;
    up.script({{.chunks = {chat_delta("Hel"), chat_delta("lo"), chat_delta(" wor"),
                           chat_delta("ld"), chat_finish("stop"), usage_chunk(12, 4), kDone},
                .delay_between = 5ms}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    std::vector<std::string> pieces;
    auto gen = backend->generate(chat_request(), [&](const Piece& p) {
        pieces.push_back(p.text);
        return true;
    });
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(pieces, (std::vector<std::string>{"Hel", "lo", " wor", "ld"}));
    EXPECT_EQ(gen->text, "Hello world");
    EXPECT_EQ(gen->finish, Finish::kStop);
    EXPECT_EQ(gen->usage.prompt_tokens, 12);
    EXPECT_EQ(gen->usage.completion_tokens, 4);
    EXPECT_EQ(gen->model, "fake");
    EXPECT_TRUE(gen->pieces.empty());  // no logprobs asked for

    ASSERT_EQ(up.posts(), 1);
    Recorded sent = up.request(0);
    EXPECT_EQ(sent.path, "/v1/chat/completions");
    EXPECT_EQ(sent.authorization, "Bearer sk-test-key");
    EXPECT_EQ(sent.body["model"], "upstream-model");
    EXPECT_EQ(sent.body["stream"], true);
    EXPECT_EQ(sent.body["stream_options"]["include_usage"], true);
    EXPECT_EQ(sent.body["messages"].size(), 2u);
    EXPECT_EQ(sent.body["messages"][1]["content"], "Summarise the note.");
    EXPECT_EQ(sent.body["max_tokens"], 32);
    EXPECT_EQ(sent.body["temperature"], 0.7);  // not 0.699999988
    EXPECT_EQ(sent.body["seed"], 42);
    EXPECT_EQ(sent.body["stop"], json::array({"</s>"}));
    EXPECT_FALSE(sent.body.contains("logprobs"));
}

TEST(RemoteBackend, CompletionWithLengthFinishAndEstimatedUsage) {
    FakeUpstream up;
    auto text_chunk = [](const std::string& t, const char* finish) {
        json f = finish ? json(finish) : json(nullptr);
        return sse({{"choices", {{{"index", 0}, {"text", t}, {"finish_reason", f}}}}});
    };
    up.script(
        {{.chunks = {text_chunk("Once upon", nullptr), text_chunk(" a time", "length"), kDone}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request r;
    r.prompt = "Tell a story: ";  // 14 bytes
    r.params.max_tokens = 0;      // until the context is full: no max_tokens upstream
    auto gen = backend->generate(r, nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->text, "Once upon a time");
    EXPECT_EQ(gen->finish, Finish::kLength);
    // No usage chunk: estimated at one token per 3 bytes, rounded up.
    EXPECT_EQ(gen->usage.prompt_tokens, 5);
    EXPECT_EQ(gen->usage.completion_tokens, 6);
    Recorded sent = up.request(0);
    EXPECT_EQ(sent.path, "/v1/completions");
    EXPECT_EQ(sent.body["prompt"], "Tell a story: ");
    EXPECT_FALSE(sent.body.contains("max_tokens"));
}

TEST(RemoteBackend, NonAsciiSplitAcrossNetworkChunks) {
    FakeUpstream up;
    std::string stream = chat_delta("Patient: caf\xC3\xA9 \xE2\x80\x94 ") +
                         chat_delta("\xF0\x9F\x98\x80 ok") + chat_finish("stop") + kDone;
    // Cut inside each multibyte character and inside a \n\n.
    std::vector<std::string> cuts;
    size_t e_acute = stream.find("\xC3\xA9") + 1, dash = stream.find("\xE2\x80\x94") + 2,
           emoji = stream.find("\xF0\x9F\x98\x80") + 3, blank = stream.find("\n\n") + 1;
    std::vector<size_t> at = {blank, e_acute, dash, emoji};
    std::sort(at.begin(), at.end());
    size_t from = 0;
    for (size_t cut : at) {
        cuts.push_back(stream.substr(from, cut - from));
        from = cut;
    }
    cuts.push_back(stream.substr(from));
    up.script({{.chunks = cuts, .delay_between = 20ms}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    std::string streamed;
    auto gen = backend->generate(chat_request(), [&](const Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->text, "Patient: caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80 ok");
    EXPECT_EQ(streamed, gen->text);
}

TEST(RemoteBackend, RetriesServiceUnavailableThenSucceeds) {
    FakeUpstream up;
    Answer busy{.status = 503,
                .chunks = {R"({"error":{"message":"overloaded","type":"server_error"}})"},
                .content_type = "application/json"};
    up.script({busy, busy, {.chunks = {chat_delta("ok"), chat_finish("stop"), kDone}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->text, "ok");
    EXPECT_EQ(up.posts(), 3);
}

TEST(RemoteBackend, HonoursRetryAfterUpToTheCap) {
    FakeUpstream up;
    LogCapture logs;
    Answer limited{.status = 429,
                   .chunks = {R"({"error":{"message":"rate limited"}})"},
                   .content_type = "application/json",
                   .headers = {{"Retry-After", "1"}}};
    up.script({limited, {.chunks = {chat_delta("ok"), chat_finish("stop"), kDone}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(up.posts(), 2);
    EXPECT_NE(logs.text().find("HTTP 429); retrying in 1.00 s"), std::string::npos) << logs.text();

    // An hour is cut to max_retry_after_s.
    FakeUpstream up2;
    limited.headers = {{"Retry-After", "3600"}};
    up2.script({limited, {.chunks = {chat_delta("ok"), chat_finish("stop"), kDone}}});
    auto o = options_for(up2.url());
    o.max_retry_after_s = 0.2;
    auto capped = make(o);
    ASSERT_TRUE(capped);
    ASSERT_TRUE(capped->generate(chat_request(), nullptr).has_value());
    EXPECT_NE(logs.text().find("retrying in 0.20 s"), std::string::npos) << logs.text();
}

TEST(RemoteBackend, BadRequestCarriesTheUpstreamMessageAndIsNotRetried) {
    FakeUpstream up;
    up.script({{.status = 400,
                .chunks = {R"({"error":{"message":"max_tokens is too large: 999999","type":)"
                           R"("invalid_request_error","param":"max_tokens"}})"},
                .content_type = "application/json"}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_FALSE(gen.has_value());
    EXPECT_EQ(gen.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(gen.error().message(), "upstream fake (" + up.url() +
                                         ") rejected the request: HTTP 400: max_tokens is too "
                                         "large: 999999");
    EXPECT_EQ(up.posts(), 1);
}

TEST(RemoteBackend, UnreachableUpstreamIsUnavailableAfterTheRetries) {
    auto o = options_for("http://127.0.0.1:" + std::to_string(closed_port()));
    o.retries = 2;
    auto backend = make(o);
    ASSERT_TRUE(backend);
    EXPECT_FALSE(backend->ready());
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_FALSE(gen.has_value());
    EXPECT_EQ(gen.error().code(), StatusCode::kUnavailable);
    EXPECT_EQ(gen.error().message().rfind("upstream fake (" + o.base_url +
                                              ") is unavailable after 3 attempt(s): could not "
                                              "connect",
                                          0),
              0u)
        << gen.error().message();
}

TEST(RemoteBackend, ReadTimeoutIsRetriedThenUnavailable) {
    FakeUpstream up;
    up.script(
        {{.chunks = {chat_delta("late"), chat_finish("stop"), kDone}, .delay_before = 1500ms}});
    auto o = options_for(up.url());
    o.read_timeout_s = 0.3;
    o.retries = 1;
    auto backend = make(o);
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_FALSE(gen.has_value());
    EXPECT_EQ(gen.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(gen.error().message().find("silent for 0.3 s"), std::string::npos)
        << gen.error().message();
    EXPECT_EQ(up.posts(), 2);
}

TEST(RemoteBackend, CallbackReturningFalseCancelsAndClosesTheConnection) {
    FakeUpstream up;
    up.script({{.chunks = {chat_delta("a"), chat_delta("b")}, .endless = true}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    int seen = 0;
    auto gen = backend->generate(chat_request(), [&](const Piece&) { return ++seen < 3; });
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->finish, Finish::kCancelled);
    EXPECT_EQ(seen, 3);
    EXPECT_EQ(gen->text, "abmore ");
    EXPECT_EQ(backend->active(), 0);
    for (int i = 0; i < 500 && !up.client_went_away(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(up.client_went_away());
    EXPECT_EQ(up.posts(), 1);  // a cancelled request is never retried
}

TEST(RemoteBackend, CancelFlagStopsASilentUpstream) {
    FakeUpstream up;
    up.script(
        {{.chunks = {chat_delta("late"), chat_finish("stop"), kDone}, .delay_before = 3000ms}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    std::atomic<bool> cancel{false};
    Request r = chat_request();
    r.cancelled = &cancel;
    std::thread canceller([&] {
        std::this_thread::sleep_for(100ms);
        cancel = true;
    });
    auto gen = backend->generate(r, nullptr);
    canceller.join();
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->finish, Finish::kCancelled);
    EXPECT_EQ(gen->text, "");
    EXPECT_EQ(up.posts(), 1);
}

TEST(RemoteBackend, DeadlineBeforeTheFirstPieceIsDeadlineExceeded) {
    FakeUpstream up;
    up.script(
        {{.chunks = {chat_delta("late"), chat_finish("stop"), kDone}, .delay_before = 2000ms}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request r = chat_request();
    r.deadline = std::chrono::steady_clock::now() + 200ms;
    auto gen = backend->generate(r, nullptr);
    ASSERT_FALSE(gen.has_value());
    EXPECT_EQ(gen.error().code(), StatusCode::kDeadlineExceeded) << gen.error().to_string();
}

TEST(RemoteBackend, DeadlineAfterPiecesEndsAsCancelled) {
    FakeUpstream up;
    up.script({{.chunks = {chat_delta("a")}, .endless = true}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request r = chat_request();
    r.deadline = std::chrono::steady_clock::now() + 300ms;
    auto gen = backend->generate(r, nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->finish, Finish::kCancelled);
    EXPECT_EQ(gen->text.rfind("amore ", 0), 0u);
}

TEST(RemoteBackend, NoRetryOnceTextWasDelivered) {
    FakeUpstream up;
    up.script({{.chunks = {chat_delta("half"), chat_delta(" a sentence")}}});  // no finish
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    std::string streamed;
    auto gen = backend->generate(chat_request(), [&](const Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_FALSE(gen.has_value());
    EXPECT_EQ(gen.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(gen.error().message().find("ended after 2 piece(s)"), std::string::npos)
        << gen.error().message();
    EXPECT_EQ(streamed, "half a sentence");
    EXPECT_EQ(up.posts(), 1);
}

TEST(RemoteBackend, ErrorEventBeforeTextIsRetriedMalformedEventIsNot) {
    FakeUpstream up;
    up.script({{.chunks = {sse({{"error", {{"message", "worker died"}}}})}},
               {.chunks = {chat_delta("fine"), chat_finish("stop"), kDone}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->text, "fine");
    EXPECT_EQ(up.posts(), 2);

    FakeUpstream bad;
    bad.script({{.chunks = {"data: {not json\n\n"}}});
    auto backend2 = make(options_for(bad.url()));
    ASSERT_TRUE(backend2);
    auto gen2 = backend2->generate(chat_request(), nullptr);
    ASSERT_FALSE(gen2.has_value());
    EXPECT_EQ(gen2.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(gen2.error().message().find("not JSON"), std::string::npos);
    EXPECT_EQ(bad.posts(), 1);
}

TEST(RemoteBackend, OversizedEventIsUnavailableOtherFinishReasonsAreStop) {
    FakeUpstream up;
    up.script({{.chunks = {"data: \"" + std::string(SseReader::kDefaultMaxEventBytes, 'x')}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_FALSE(gen.has_value());
    EXPECT_EQ(gen.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(gen.error().message().find("an event larger than 1048576 bytes"), std::string::npos)
        << gen.error().message();
    EXPECT_EQ(up.posts(), 1);

    FakeUpstream filtered;
    filtered.script({{.chunks = {chat_delta("partial"), chat_finish("content_filter"), kDone}}});
    auto backend2 = make(options_for(filtered.url()));
    ASSERT_TRUE(backend2);
    auto gen2 = backend2->generate(chat_request(), nullptr);
    ASSERT_TRUE(gen2.has_value()) << gen2.error().to_string();
    EXPECT_EQ(gen2->finish, Finish::kStop);
}

TEST(RemoteBackend, LogprobsBecomeOnePiecePerToken) {
    FakeUpstream up;
    json chunk = {
        {"choices",
         {{{"index", 0},
           {"delta", {{"content", "Yes."}}},
           {"logprobs",
            {{"content",
              {{{"token", "Yes"},
                {"logprob", -0.25},
                {"top_logprobs",
                 {{{"token", "Yes"}, {"logprob", -0.25}}, {{"token", "No"}, {"logprob", -1.5}}}}},
               {{"token", "."}, {"logprob", -0.5}, {"top_logprobs", json::array()}}}}}},
           {"finish_reason", "stop"}}}}};
    up.script({{.chunks = {sse(chunk), kDone}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request r = chat_request();
    r.params.logprobs = true;
    r.params.top_logprobs = 2;
    std::vector<Piece> pieces;
    auto gen = backend->generate(r, [&](const Piece& p) {
        pieces.push_back(p);
        return true;
    });
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    ASSERT_EQ(pieces.size(), 2u);
    EXPECT_EQ(pieces[0].text, "Yes");
    EXPECT_EQ(pieces[0].token, "Yes");
    EXPECT_FLOAT_EQ(pieces[0].logprob, -0.25f);
    ASSERT_EQ(pieces[0].top.size(), 2u);
    EXPECT_EQ(pieces[0].top[1].token, "No");
    EXPECT_EQ(pieces[1].text, ".");
    EXPECT_EQ(gen->pieces.size(), 2u);
    EXPECT_EQ(gen->text, "Yes.");
    EXPECT_EQ(up.request(0).body["logprobs"], true);
    EXPECT_EQ(up.request(0).body["top_logprobs"], 2);
}

TEST(RemoteBackend, AcceptsAWholeJsonAnswer) {
    FakeUpstream up;
    up.script({{.chunks = {R"({"choices":[{"index":0,"message":{"role":"assistant","content":)"
                           R"("All done."},"finish_reason":"stop"}],)"
                           R"("usage":{"prompt_tokens":9,"completion_tokens":3}})"},
                .content_type = "application/json"}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->text, "All done.");
    EXPECT_EQ(gen->usage.completion_tokens, 3);
}

TEST(RemoteBackend, ReadsAnEventStreamUnderAnotherContentType) {
    FakeUpstream up;
    up.script({{.chunks = {chat_delta("via "), chat_delta("proxy"), chat_finish("stop"), kDone},
                .content_type = "text/plain"}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(gen->text, "via proxy");
}

TEST(RemoteBackend, HttpsUpstreamThatIsNotThereIsUnavailable) {
    // The build speaks TLS: an https URL fails like any unreachable host, after the retries.
    auto o = options_for("https://127.0.0.1:" + std::to_string(closed_port()));
    o.retries = 1;
    auto backend = make(o);
    ASSERT_TRUE(backend);
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_FALSE(gen.has_value());
    EXPECT_EQ(gen.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(gen.error().message().find("after 2 attempt(s): could not connect"),
              std::string::npos)
        << gen.error().message();
}

TEST(RemoteBackend, TheKeyNeverAppearsInErrorsOrLogs) {
    const std::string key = "sk-SECRET-0123456789";
    const std::string note = "Mrs Jane Roe, MRN 44556677, chest pain";
    LogCapture logs;
    std::vector<std::string> errors;
    {
        FakeUpstream up;
        up.script(
            {{.status = 401,
              .chunks = {R"({"error":{"message":"Incorrect API key provided: )" + key + R"("}})"},
              .content_type = "application/json"},
             {.status = 503, .chunks = {"busy " + key}, .content_type = "text/plain"},
             {.chunks = {chat_delta("reply about " + note), chat_finish("stop"), kDone}}});
        auto o = options_for(up.url());
        o.api_key = key;
        o.retries = 1;
        auto backend = make(o);
        ASSERT_TRUE(backend);
        EXPECT_EQ(up.models_authorization(), "Bearer " + key);
        auto rejected = backend->generate(chat_request(note), nullptr);
        ASSERT_FALSE(rejected.has_value());
        EXPECT_NE(rejected.error().message().find("Incorrect API key provided: [redacted]"),
                  std::string::npos);
        errors.push_back(rejected.error().to_string());
        auto ok = backend->generate(chat_request(note), nullptr);  // 503, then the answer
        ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
        EXPECT_EQ(up.request(0).authorization, "Bearer " + key);
    }
    auto o = options_for("http://127.0.0.1:" + std::to_string(closed_port()));
    o.api_key = key;
    o.retries = 1;
    auto unreachable = make(o);
    ASSERT_TRUE(unreachable);
    auto failed = unreachable->generate(chat_request(note), nullptr);
    ASSERT_FALSE(failed.has_value());
    errors.push_back(failed.error().to_string());
    EXPECT_FALSE(unreachable->ready());

    std::string logged = logs.text();
    EXPECT_FALSE(logged.empty());
    EXPECT_EQ(logged.find(key), std::string::npos) << logged;
    EXPECT_EQ(logged.find("MRN"), std::string::npos) << logged;          // no prompt text
    EXPECT_EQ(logged.find("reply about"), std::string::npos) << logged;  // no completion text
    for (const auto& e : errors) EXPECT_EQ(e.find(key), std::string::npos) << e;
}

TEST(RemoteBackend, ReadyInfoAndPrefix) {
    FakeUpstream up;
    up.script({{.chunks = {chat_delta("ok"), chat_finish("stop"), kDone}}});
    auto o = options_for(up.url() + "/prefix/v1/");
    auto backend = make(o);
    ASSERT_TRUE(backend);
    // /prefix/v1/models is not served: not ready, but generation still goes to the prefix.
    EXPECT_FALSE(backend->ready());
    auto gen = backend->generate(chat_request(), nullptr);
    ASSERT_TRUE(gen.has_value()) << gen.error().to_string();
    EXPECT_EQ(up.request(0).path, "/prefix/v1/chat/completions");
    EXPECT_TRUE(backend->ready());  // the upstream answered

    auto plain = make(options_for(up.url()));
    ASSERT_TRUE(plain);
    EXPECT_TRUE(plain->ready());
    const ModelInfo& info = plain->info();
    EXPECT_EQ(info.name, "fake");
    EXPECT_EQ(info.backend, "remote");
    EXPECT_EQ(info.file_sha256, "remote:upstream-model@" + up.url());
    EXPECT_EQ(info.context_length, 0);
    EXPECT_GT(info.created, 0);
    EXPECT_EQ(plain->waiting(), 0);
    EXPECT_EQ(plain->count_tokens(""), 0u);
    EXPECT_EQ(plain->count_tokens("abc"), 1u);
    EXPECT_EQ(plain->count_tokens("abcd"), 2u);
}

TEST(RemoteBackend, RejectsBadRequestsWithoutCallingTheUpstream) {
    FakeUpstream up;
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request both = chat_request();
    both.prompt = "x";
    EXPECT_EQ(backend->generate(both, nullptr).error().code(), StatusCode::kInvalidArgument);
    Request neither;
    EXPECT_EQ(backend->generate(neither, nullptr).error().code(), StatusCode::kInvalidArgument);
    Request stops = chat_request();
    stops.params.stop = {"a", "b", "c", "d", "e"};
    EXPECT_EQ(backend->generate(stops, nullptr).error().code(), StatusCode::kInvalidArgument);
    Request top = chat_request();
    top.params.top_logprobs = 21;
    EXPECT_EQ(backend->generate(top, nullptr).error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(up.posts(), 0);
}

TEST(RemoteBackend, CreateChecksOptions) {
    auto o = options_for("ftp://example.org");
    o.probe_at_create = false;
    auto bad = RemoteBackend::create(o);
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().message().find("is not an http(s) URL"), std::string::npos);
    o.base_url = "http://127.0.0.1:9";
    o.read_timeout_s = 0;
    EXPECT_FALSE(RemoteBackend::create(o).has_value());
    o.read_timeout_s = 1;
    o.name = "";
    EXPECT_FALSE(RemoteBackend::create(o).has_value());
    o.name = "x";
    o.upstream_model = "";
    auto defaulted = RemoteBackend::create(o);
    ASSERT_TRUE(defaulted.has_value());
    EXPECT_EQ((*defaulted)->info().file_sha256, "remote:x@http://127.0.0.1:9");
}

TEST(ParseBaseUrl, AcceptsHttpAndHttpsWithPortAndPrefix) {
    auto a = parse_base_url("http://gpu1:8000");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->scheme_host_port, "http://gpu1:8000");
    EXPECT_EQ(a->path_prefix, "");
    auto b = parse_base_url("HTTPS://llm.hospital.org/api/v1/");
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->scheme_host_port, "https://llm.hospital.org");
    EXPECT_EQ(b->path_prefix, "/api");
    auto c = parse_base_url("http://[::1]:11434/ollama");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->scheme_host_port, "http://[::1]:11434");
    EXPECT_EQ(c->path_prefix, "/ollama");
}

TEST(ParseBaseUrl, RejectsWhatIsNotAnHttpUrl) {
    for (const char* url :
         {"", "gpu1:8000", "ftp://x", "http://", "http://:80", "http://h:0", "http://h:99999",
          "http://h:8a", "http://h/x?y=1", "http://h#f", "http://h /x", "http://[::1"}) {
        auto r = parse_base_url(url);
        EXPECT_FALSE(r.has_value()) << url;
        if (!r) {
            EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
        }
    }
    auto creds = parse_base_url("http://user:hunter2@h");
    ASSERT_FALSE(creds.has_value());
    EXPECT_EQ(creds.error().message().find("hunter2"), std::string::npos);
}

constexpr const char* kTriageSchema =
    R"({"type":"object","properties":{"urgency":{"enum":["routine","urgent"]},
        "age":{"type":"integer"}},"required":["urgency","age"]})";

TEST(RemoteBackend, JsonSchemaIsSentAsResponseFormatAndTheAnswerValidated) {
    FakeUpstream up;
    up.script({{.chunks = {chat_delta("{\"urgency\": "), chat_delta("\"urgent\", \"age\": 71}"),
                           chat_finish("stop"), kDone}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request r = chat_request();
    r.params.json_schema = kTriageSchema;
    std::string streamed;
    auto gen = backend->generate(r, [&](const Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_TRUE(gen) << gen.error().to_string();
    EXPECT_EQ(gen->text, R"({"urgency": "urgent", "age": 71})");
    EXPECT_EQ(streamed, gen->text);  // delivered once it validated
    ASSERT_EQ(up.posts(), 1);
    const json rf = up.request(0).body["response_format"];
    EXPECT_EQ(rf["type"], "json_schema");
    EXPECT_EQ(rf["json_schema"]["name"], "ward");
    EXPECT_EQ(rf["json_schema"]["strict"], true);
    EXPECT_EQ(rf["json_schema"]["schema"], json::parse(kTriageSchema));
}

TEST(RemoteBackend, JsonSchemaMismatchIsRetriedOnceThenUnavailable) {
    FakeUpstream up;
    // First answer is not JSON; the retry validates: nothing of the first reaches the caller.
    up.script(
        {{.chunks = {chat_delta("Sure! Here is the JSON"), chat_finish("stop"), kDone}},
         {.chunks = {chat_delta(R"({"urgency":"routine","age":4})"), chat_finish("stop"), kDone}}});
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request r = chat_request();
    r.params.json_schema = kTriageSchema;
    std::string streamed;
    auto gen = backend->generate(r, [&](const Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_TRUE(gen) << gen.error().to_string();
    EXPECT_EQ(streamed, R"({"urgency":"routine","age":4})");
    EXPECT_EQ(up.posts(), 2);

    // Both answers fail the schema (a missing property, then a wrong enum value).
    FakeUpstream bad;
    bad.script(
        {{.chunks = {chat_delta(R"({"urgency":"routine"})"), chat_finish("stop"), kDone}},
         {.chunks = {chat_delta(R"({"urgency":"soon","age":4})"), chat_finish("stop"), kDone}}});
    auto backend2 = make(options_for(bad.url()));
    ASSERT_TRUE(backend2);
    streamed.clear();
    auto failed = backend2->generate(r, [&](const Piece& p) {
        streamed += p.text;
        return true;
    });
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code(), StatusCode::kUnavailable);
    EXPECT_NE(failed.error().message().find("upstream output does not match the schema"),
              std::string::npos)
        << failed.error().message();
    EXPECT_TRUE(streamed.empty());
    EXPECT_EQ(bad.posts(), 2);
}

TEST(RemoteBackend, UnsupportedSchemaIsRefusedWithoutCallingTheUpstream) {
    FakeUpstream up;
    auto backend = make(options_for(up.url()));
    ASSERT_TRUE(backend);
    Request r = chat_request();
    r.params.json_schema = R"({"type":"object","patternProperties":{"^x":{}}})";
    auto gen = backend->generate(r, {});
    ASSERT_FALSE(gen);
    EXPECT_EQ(gen.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(gen.error().message().find("patternProperties"), std::string::npos);
    EXPECT_EQ(up.posts(), 0);
}

}  // namespace
}  // namespace ward::llm
