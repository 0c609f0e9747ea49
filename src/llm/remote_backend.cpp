#include "llm/remote_backend.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <random>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "engine/grammar.h"
#include "engine/json_schema.h"
#include "llm/sse.h"

namespace ward::llm {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxErrorBodyBytes = 64 * 1024;         // of a non-200 answer, for its message
constexpr size_t kMaxPlainBodyBytes = 16 * 1024 * 1024;  // of a 200 answer that is not SSE
// Of an embeddings answer: 2048 inputs of 3072 floats written as JSON take about 80 MiB.
constexpr size_t kMaxEmbeddingsBodyBytes = 128 * 1024 * 1024;
constexpr size_t kMaxEmbeddingInputs = 2048;      // as OpenAI's API
constexpr size_t kMaxUpstreamMessageBytes = 400;  // quoted in our error messages
constexpr auto kProbeInterval = std::chrono::seconds(5);
constexpr auto kWatchdogTick = std::chrono::milliseconds(20);

std::shared_ptr<spdlog::logger> llm_log() {
    static const auto logger = ward::logger("llm");
    return logger;
}

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// Seconds left before `deadline`, or `cap` when that is sooner (or there is no deadline).
double capped_to_deadline(double cap, Clock::time_point deadline) {
    if (deadline == Clock::time_point::max()) return cap;
    return std::min(cap, std::max(0.001, seconds_between(Clock::now(), deadline)));
}

template <typename Setter>
void set_timeout(double seconds, Setter setter) {
    seconds = std::max(seconds, 0.001);
    auto whole = static_cast<time_t>(seconds);
    auto micros = static_cast<time_t>((seconds - static_cast<double>(whole)) * 1e6);
    setter(whole, micros);
}

// A float as the decimal the caller most likely wrote (0.7f as 0.7, not 0.699999988).
double clean_float(float value) {
    return std::strtod(fmt::format("{}", value).c_str(), nullptr);
}

// Cuts `text` to at most `max` bytes without splitting a UTF-8 character, and replaces
// control characters, so an upstream's message can be quoted on one line.
std::string quotable(std::string_view text, size_t max) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    bool cut = text.size() > max;
    if (cut) {
        size_t end = max;
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
        text = text.substr(0, end);
    }
    std::string out;
    out.reserve(text.size() + 3);
    for (char c : text) {
        out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? ' ' : c);
    }
    if (cut) out += "...";
    return out;
}

// The message of an OpenAI-style error body ({"error": {"message": ...}}), or of the other
// shapes servers use ({"error": "..."}, {"message": ...}, {"detail": ...}), else the body.
std::string upstream_message(const std::string& body) {
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
        const json* error = j.contains("error") ? &j["error"] : nullptr;
        if (error && error->is_object() && error->contains("message") &&
            (*error)["message"].is_string()) {
            return quotable((*error)["message"].get<std::string>(), kMaxUpstreamMessageBytes);
        }
        if (error && error->is_string()) {
            return quotable(error->get<std::string>(), kMaxUpstreamMessageBytes);
        }
        for (const char* key : {"message", "detail"}) {
            if (j.contains(key) && j[key].is_string()) {
                return quotable(j[key].get<std::string>(), kMaxUpstreamMessageBytes);
            }
        }
    }
    std::string text = quotable(body, kMaxUpstreamMessageBytes);
    return text.empty() ? "(no message)" : text;
}

// Retry-After in seconds (delta-seconds, possibly fractional); -1 for absent or an HTTP date.
double parse_retry_after(const std::string& value) {
    if (value.empty()) return -1;
    char* end = nullptr;
    double seconds = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds < 0) return -1;
    return seconds;
}

std::string describe_transport_error(httplib::Error error, double connect_s, double read_s) {
    switch (error) {
        case httplib::Error::Connection:
            return "could not connect";
        case httplib::Error::ConnectionTimeout:
            return fmt::format("no connection within {} s", connect_s);
        case httplib::Error::Read:
            return fmt::format("the answer broke off or was silent for {} s", read_s);
        case httplib::Error::Write:
            return "sending the request failed";
        case httplib::Error::SSLConnection:
            return "the TLS handshake failed";
        case httplib::Error::SSLLoadingCerts:
            return "the CA certificates could not be loaded";
        case httplib::Error::SSLServerVerification:
            return "the server's TLS certificate did not verify";
        default:
            return fmt::format("HTTP client error {}", httplib::to_string(error));
    }
}

// Exponential backoff with +-50% jitter, so clients that failed together do not return
// together.
double backoff_seconds(double base, int attempt) {
    thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    return base * std::ldexp(1.0, std::min(attempt, 16)) * jitter(rng);
}

struct ActiveCount {
    explicit ActiveCount(std::atomic<int>& n) : n_(n) { ++n_; }
    ~ActiveCount() { --n_; }
    std::atomic<int>& n_;
};

enum class StopReason { kNone, kCaller, kCancelled, kDeadline };

// Calls client.stop() (which shuts the socket down) when the request is cancelled or its
// deadline passes, so an upstream that sends nothing still lets go of us promptly.
class Watchdog {
  public:
    Watchdog(httplib::Client& client, const Request& request, std::atomic<StopReason>& reason)
        : client_(client), request_(request), reason_(reason) {
        if (request.cancelled == nullptr && request.deadline == Clock::time_point::max()) return;
        thread_ = std::thread([this] { run(); });
    }
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            done_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

  private:
    void run() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!wake_.wait_for(lock, kWatchdogTick, [this] { return done_; })) {
            StopReason why = StopReason::kNone;
            if (request_.cancelled && request_.cancelled->load()) why = StopReason::kCancelled;
            if (Clock::now() >= request_.deadline) why = StopReason::kDeadline;
            if (why == StopReason::kNone) continue;
            StopReason none = StopReason::kNone;
            reason_.compare_exchange_strong(none, why);
            client_.stop();
        }
    }

    httplib::Client& client_;
    const Request& request_;
    std::atomic<StopReason>& reason_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace

// What one generate() has received so far, across attempts.
struct RemoteBackend::StreamState {
    Generation gen;
    bool want_pieces = false;  // logprobs were asked for: keep Generation::pieces
    size_t delivered = 0;      // pieces handed to the callback
    std::string finish_reason;
    bool saw_done = false;
    bool have_usage = false;
    std::atomic<StopReason> stop{StopReason::kNone};
    Status error;              // a malformed or failed stream
    bool error_event = false;  // `error` came from the upstream itself (worth a retry)
    Clock::time_point first_piece;
};

struct RemoteBackend::Attempt {
    enum Outcome { kDone, kRetry, kFatal };
    Outcome outcome = kDone;
    Status status;              // kRetry: why (for the final message); kFatal: the error
    std::string reason;         // for the log: a status code or transport error, never text
    double retry_after_s = -1;  // the upstream's Retry-After, when it sent one
};

Result<BaseUrl> parse_base_url(std::string_view url) {
    const std::string_view expected = "expected http[s]://host[:port][/prefix]";
    std::string lower(url.substr(0, 8));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string scheme;
    if (lower.starts_with("http://")) {
        scheme = "http";
    } else if (lower.starts_with("https://")) {
        scheme = "https";
    } else {
        return invalid_argument("\"{}\" is not an http(s) URL ({})", url, expected);
    }
    std::string_view rest = url.substr(scheme.size() + 3);
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos) {
        // Not quoted: the URL holds a password.
        return invalid_argument(
            "a URL with credentials (user:password@) is not supported; put the key in the "
            "environment variable named by api_key_env");
    }
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return invalid_argument("\"{}\" is not an http(s) URL: it has a query or fragment ({})",
                                url, expected);
    }
    for (char c : rest) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
            return invalid_argument(
                "\"{}\" is not an http(s) URL: it contains a space or a "
                "control character",
                url);
        }
    }
    std::string_view host = authority;
    std::string_view port;
    bool has_port = false;
    if (authority.starts_with('[')) {  // an IPv6 literal: [::1]:8080
        size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return invalid_argument("\"{}\" is not an http(s) URL: unclosed '[' in the host", url);
        }
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') {
                return invalid_argument("\"{}\" is not an http(s) URL ({})", url, expected);
            }
            has_port = true;
            port = after.substr(1);
        }
    } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        has_port = true;
        port = authority.substr(colon + 1);
    }
    if (host.empty() || host == "[]") {
        return invalid_argument("\"{}\" is not an http(s) URL: it has no host", url);
    }
    if (has_port) {
        bool digits = !port.empty() && port.size() <= 5;
        for (char c : port) digits = digits && c >= '0' && c <= '9';
        int number = digits ? std::stoi(std::string(port)) : 0;
        if (number < 1 || number > 65535) {
            return invalid_argument(
                "\"{}\" is not an http(s) URL: port \"{}\" is not a number in 1..65535", url, port);
        }
    }
    while (path.ends_with('/')) path.remove_suffix(1);
    // "http://host/v1" is how OpenAI clients are usually configured; we add /v1 ourselves.
    if (path.ends_with("/v1")) path.remove_suffix(3);
    return BaseUrl{scheme + "://" + std::string(authority), std::string(path)};
}

Result<std::unique_ptr<RemoteBackend>> RemoteBackend::create(RemoteBackendOptions options) {
    if (options.name.empty()) return invalid_argument("remote model: the name is empty");
    const std::string& name = options.name;
    if (!(options.connect_timeout_s > 0) || !(options.read_timeout_s > 0)) {
        return invalid_argument("remote model {}: timeouts must be > 0 seconds", name);
    }
    if (options.retries < 0 || options.retries > 100) {
        return invalid_argument("remote model {}: retries {} is not in 0..100", name,
                                options.retries);
    }
    if (!(options.backoff_s >= 0) || !(options.max_retry_after_s >= 0)) {
        return invalid_argument("remote model {}: backoff_s and max_retry_after_s must be >= 0",
                                name);
    }
    if (options.context < 0) {
        return invalid_argument("remote model {}: context {} is negative", name, options.context);
    }
    auto url = parse_base_url(options.base_url);
    if (!url) return url.error().with_context(fmt::format("remote model {}: base_url", name));
    if (options.upstream_model.empty()) options.upstream_model = options.name;
    std::unique_ptr<RemoteBackend> backend(new RemoteBackend(std::move(options), *url));
    if (backend->options_.probe_at_create) {
        std::lock_guard<std::mutex> lock(backend->probe_mutex_);
        backend->probe();
    }
    return backend;
}

RemoteBackend::RemoteBackend(RemoteBackendOptions options, BaseUrl url)
    : options_(std::move(options)), url_(std::move(url)) {
    info_.name = options_.name;
    info_.backend = "remote";
    info_.file_sha256 = fmt::format("remote:{}@{}", options_.upstream_model, options_.base_url);
    info_.description =
        !options_.description.empty()
            ? options_.description
            : fmt::format("remote model {} at {}", options_.upstream_model, options_.base_url);
    info_.context_length = options_.context;
    info_.embedding = options_.embedding;
    info_.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
}

std::string RemoteBackend::redact(std::string text) const {
    const std::string& key = options_.api_key;
    if (key.empty()) return text;
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
        text.replace(at, key.size(), "[redacted]");
    }
    return text;
}

bool RemoteBackend::probe() const {
    last_probe_ = Clock::now();
    httplib::Client client(url_.scheme_host_port);
    auto set_all = [&](time_t s, time_t us) {
        client.set_connection_timeout(s, us);
        client.set_read_timeout(s, us);
        client.set_write_timeout(s, us);
    };
    set_timeout(options_.connect_timeout_s, set_all);
    httplib::Headers headers;
    if (!options_.api_key.empty()) {
        headers.emplace("Authorization", "Bearer " + options_.api_key);
    }
    auto res = client.Get(url_.path_prefix + "/v1/models", headers);
    // The first failure is a warning; repeats (ready() polls every 5 s) are debug lines.
    const auto level = probe_failures_++ == 0 ? spdlog::level::warn : spdlog::level::debug;
    if (!res) {
        llm_log()->log(level, "remote {}: {} does not answer GET /v1/models ({}); will try again",
                       info_.name, options_.base_url,
                       describe_transport_error(res.error(), options_.connect_timeout_s,
                                                options_.connect_timeout_s));
        return false;
    }
    if (res->status != 200) {
        llm_log()->log(level, "remote {}: {} answered GET /v1/models with HTTP {}; will try again",
                       info_.name, options_.base_url, res->status);
        return false;
    }
    probe_failures_ = 0;
    json listing = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (listing.is_object() && listing.contains("data") && listing["data"].is_array()) {
        bool listed = false;
        for (const auto& model : listing["data"]) {
            listed = listed || (model.is_object() && model.contains("id") &&
                                model["id"] == options_.upstream_model);
        }
        if (!listed) {
            llm_log()->warn("remote {}: {} does not list model \"{}\" (requests may fail)",
                            info_.name, options_.base_url, options_.upstream_model);
        }
    }
    llm_log()->info("remote {}: {} is ready", info_.name, options_.base_url);
    ready_ = true;
    return true;
}

bool RemoteBackend::ready() const {
    if (ready_) return true;
    std::unique_lock<std::mutex> lock(probe_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return false;  // another thread is probing right now
    if (Clock::now() - last_probe_ < kProbeInterval) return false;
    return probe();
}

size_t RemoteBackend::count_tokens(std::string_view text) const {
    return (text.size() + 2) / 3;
}

namespace {

struct LogprobEntry {
    std::string token;
    float logprob = 0;
    std::vector<TopLogprob> top;
};

const json* find_member(const json& object, const char* key) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

int int_member(const json& object, const char* key) {
    const json* value = find_member(object, key);
    if (!value || !value->is_number()) return 0;
    return static_cast<int>(std::clamp<double>(value->get<double>(), 0, 1e9));
}

std::string string_member(const json& object, const char* key) {
    const json* value = find_member(object, key);
    return value && value->is_string() ? value->get<std::string>() : std::string();
}

float as_float(const json& value) {
    if (!value.is_number()) return 0.0f;
    double d = value.get<double>();
    return std::isfinite(d) ? static_cast<float>(std::clamp(d, -1e30, 1e30)) : 0.0f;
}

// The per-token log-probabilities of one choice, in either the chat shape
// ({"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]}) or the legacy
// completions shape ({"tokens": [...], "token_logprobs": [...], "top_logprobs": [{tok: lp}]}).
std::vector<LogprobEntry> read_logprobs(const json& logprobs) {
    std::vector<LogprobEntry> out;
    if (!logprobs.is_object()) return out;
    if (logprobs.contains("content") && logprobs["content"].is_array()) {
        for (const auto& item : logprobs["content"]) {
            if (!item.is_object()) continue;
            LogprobEntry entry;
            entry.token = string_member(item, "token");
            if (const json* lp = find_member(item, "logprob")) entry.logprob = as_float(*lp);
            if (item.contains("top_logprobs") && item["top_logprobs"].is_array()) {
                for (const auto& alt : item["top_logprobs"]) {
                    if (!alt.is_object()) continue;
                    const json* lp = find_member(alt, "logprob");
                    entry.top.push_back({string_member(alt, "token"), lp ? as_float(*lp) : 0.0f});
                }
            }
            out.push_back(std::move(entry));
        }
        return out;
    }
    if (logprobs.contains("tokens") && logprobs["tokens"].is_array()) {
        const json& tokens = logprobs["tokens"];
        const json none;
        const json& values =
            logprobs.contains("token_logprobs") ? logprobs["token_logprobs"] : none;
        const json& tops = logprobs.contains("top_logprobs") ? logprobs["top_logprobs"] : none;
        for (size_t i = 0; i < tokens.size(); ++i) {
            LogprobEntry entry;
            if (tokens[i].is_string()) entry.token = tokens[i].get<std::string>();
            if (values.is_array() && i < values.size()) entry.logprob = as_float(values[i]);
            if (tops.is_array() && i < tops.size() && tops[i].is_object()) {
                for (const auto& [token, value] : tops[i].items()) {
                    entry.top.push_back({token, as_float(value)});
                }
                std::sort(entry.top.begin(), entry.top.end(),
                          [](const auto& a, const auto& b) { return a.logprob > b.logprob; });
            }
            out.push_back(std::move(entry));
        }
    }
    return out;
}

// Reads an OpenAI embeddings answer for n_inputs inputs: `data` holds one object per input
// with its `index` and its `embedding` (an array of numbers), in any order; `usage` is
// optional. Errors: a description of what is not of that shape (the caller names the
// upstream).
Result<Embeddings> parse_embeddings(const std::string& body, size_t n_inputs) {
    json answer = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (answer.is_discarded()) return unavailable("the answer is not JSON");
    if (!answer.is_object()) return unavailable("the answer is not a JSON object");
    auto data = answer.find("data");
    if (data == answer.end() || !data->is_array()) {
        return unavailable("the answer has no \"data\" array");
    }
    if (data->size() != n_inputs) {
        return unavailable("the answer has {} embeddings for {} inputs", data->size(), n_inputs);
    }
    Embeddings out;
    out.vectors.resize(n_inputs);
    std::vector<bool> seen(n_inputs, false);
    size_t dim = 0;
    for (size_t k = 0; k < data->size(); ++k) {
        const json& item = (*data)[k];
        if (!item.is_object()) return unavailable("data[{}] is not an object", k);
        auto index = item.find("index");
        size_t i = k;  // without an index, the position says which input it is
        if (index != item.end()) {
            if (!index->is_number_unsigned() || index->get<uint64_t>() >= n_inputs) {
                return unavailable("data[{}].index is not an input index below {}", k, n_inputs);
            }
            i = static_cast<size_t>(index->get<uint64_t>());
        }
        if (seen[i]) return unavailable("data[{}] repeats index {}", k, i);
        seen[i] = true;
        auto embedding = item.find("embedding");
        if (embedding == item.end() || !embedding->is_array() || embedding->empty()) {
            return unavailable(
                "data[{}].embedding is not a non-empty array of numbers (ask "
                "for encoding_format \"float\")",
                k);
        }
        if (dim == 0) dim = embedding->size();
        if (embedding->size() != dim) {
            return unavailable("data[{}].embedding has {} values, data[0] had {}", k,
                               embedding->size(), dim);
        }
        std::vector<float>& vec = out.vectors[i];
        vec.reserve(dim);
        for (const json& v : *embedding) {
            if (!v.is_number()) return unavailable("data[{}].embedding holds a non-number", k);
            vec.push_back(static_cast<float>(v.get<double>()));
        }
    }
    if (auto usage = answer.find("usage"); usage != answer.end() && usage->is_object()) {
        out.prompt_tokens = int_member(*usage, "prompt_tokens");
    }
    return out;
}

}  // namespace

Result<Generation> RemoteBackend::generate(const Request& request, const PieceCallback& on_piece) {
    const std::string& name = info_.name;
    const GenerationParams& p = request.params;
    if (options_.embedding) {
        return invalid_argument("model '{}' is an embedding model; use /v1/embeddings", name);
    }
    if (request.messages.empty() == !request.prompt.has_value()) {
        return invalid_argument("model {}: a request needs either messages or a prompt", name);
    }
    if (p.stop.size() > 4) {
        return invalid_argument("model {}: {} stop strings; at most 4 are allowed", name,
                                p.stop.size());
    }
    if (p.top_logprobs < 0 || p.top_logprobs > 20) {
        return invalid_argument("model {}: top_logprobs {} is not in 0..20", name, p.top_logprobs);
    }
    if (p.temperature && !(*p.temperature >= 0 && *p.temperature <= 2)) {
        return invalid_argument("model {}: temperature {} is not in [0, 2]", name, *p.temperature);
    }
    if (p.top_p && !(*p.top_p > 0 && *p.top_p <= 1)) {
        return invalid_argument("model {}: top_p {} is not in (0, 1]", name, *p.top_p);
    }
    for (float penalty : {p.presence_penalty, p.frequency_penalty}) {
        if (!(penalty >= -2 && penalty <= 2)) {
            return invalid_argument("model {}: penalty {} is not in [-2, 2]", name, penalty);
        }
    }
    std::shared_ptr<const engine::Grammar> grammar;
    if (p.json_schema) {
        auto compiled = engine::compile_json_schema(std::string_view(*p.json_schema));
        if (!compiled) return compiled.error().with_context(fmt::format("model {}", name));
        grammar = *compiled;
    }
    ActiveCount active(active_);
    const auto start = Clock::now();
    if (start >= request.deadline) {
        return deadline_exceeded("model {}: the deadline passed before the request was sent", name);
    }

    json body = {{"model", options_.upstream_model},
                 {"stream", true},
                 {"stream_options", {{"include_usage", true}}}};
    const bool chat = !request.messages.empty();
    const bool want_logprobs = p.logprobs || p.top_logprobs > 0;
    std::string path;
    if (chat) {
        path = "/v1/chat/completions";
        json messages = json::array();
        for (const auto& m : request.messages) {
            messages.push_back({{"role", m.role}, {"content", m.content}});
        }
        body["messages"] = std::move(messages);
        if (want_logprobs) {
            body["logprobs"] = true;
            if (p.top_logprobs > 0) body["top_logprobs"] = p.top_logprobs;
        }
    } else {
        path = "/v1/completions";
        body["prompt"] = *request.prompt;
        if (want_logprobs) body["logprobs"] = p.top_logprobs;  // legacy: the number of alternatives
    }
    if (p.max_tokens > 0) body["max_tokens"] = p.max_tokens;
    if (p.temperature) body["temperature"] = clean_float(*p.temperature);
    if (p.top_p) body["top_p"] = clean_float(*p.top_p);
    if (p.seed) body["seed"] = *p.seed;
    if (!p.stop.empty()) body["stop"] = p.stop;
    if (p.presence_penalty != 0) body["presence_penalty"] = clean_float(p.presence_penalty);
    if (p.frequency_penalty != 0) body["frequency_penalty"] = clean_float(p.frequency_penalty);
    if (grammar) {
        // OpenAI structured outputs; servers without them ignore the field, and the answer is
        // validated below either way.
        body["response_format"] = {
            {"type", "json_schema"},
            {"json_schema",
             {{"name", "ward"}, {"schema", json::parse(*p.json_schema)}, {"strict", true}}}};
    }
    const std::string body_text = body.dump(-1, ' ', false, json::error_handler_t::replace);

    // One generation with the retries for transport failures; `deliver` gets the pieces.
    auto run = [&](const PieceCallback& deliver) -> Result<Generation> {
        StreamState state;
        state.want_pieces = want_logprobs;
        state.gen.model = name;
        const int attempts = 1 + options_.retries;
        Status last_error;
        auto cancelled = [&] { return request.cancelled && request.cancelled->load(); };
        auto cancelled_generation = [&] {
            state.gen.finish = Finish::kCancelled;
            state.gen.prompt_seconds = seconds_between(start, Clock::now());
            return state.gen;
        };
        for (int i = 0; i < attempts; ++i) {
            if (cancelled()) return cancelled_generation();
            Attempt result = attempt(request, path, body_text, deliver, state);
            if (result.outcome == Attempt::kFatal) {
                llm_log()->warn("remote {}: request failed ({}) after {} attempt(s), {:.2f} s",
                                name, result.reason, i + 1, seconds_between(start, Clock::now()));
                return result.status;
            }
            if (result.outcome == Attempt::kDone) {
                Generation& gen = state.gen;
                const auto end = Clock::now();
                if (state.stop == StopReason::kNone) {
                    gen.finish = state.finish_reason == "length" ? Finish::kLength : Finish::kStop;
                } else {
                    gen.finish = Finish::kCancelled;
                }
                if (!state.have_usage) {
                    size_t prompt_estimate = 0;
                    if (request.prompt) prompt_estimate = count_tokens(*request.prompt);
                    for (const auto& m : request.messages)
                        prompt_estimate += count_tokens(m.content);
                    gen.usage.prompt_tokens = static_cast<int>(prompt_estimate);
                    gen.usage.completion_tokens = static_cast<int>(count_tokens(gen.text));
                }
                if (state.delivered > 0) {
                    gen.prompt_seconds = seconds_between(start, state.first_piece);
                    gen.generate_seconds = seconds_between(state.first_piece, end);
                } else {
                    gen.prompt_seconds = seconds_between(start, end);
                }
                llm_log()->info(
                    "remote {}: {} prompt + {} completion tokens{}, finish {}, {} attempt(s), "
                    "{:.2f} s",
                    name, gen.usage.prompt_tokens, gen.usage.completion_tokens,
                    state.have_usage ? "" : " (estimated)", finish_name(gen.finish), i + 1,
                    seconds_between(start, end));
                return std::move(state.gen);
            }
            last_error = result.status;
            if (i + 1 == attempts) break;
            double wait =
                std::min(result.retry_after_s >= 0 ? result.retry_after_s
                                                   : backoff_seconds(options_.backoff_s, i),
                         options_.max_retry_after_s);
            llm_log()->warn("remote {}: attempt {} of {} failed ({}); retrying in {:.2f} s", name,
                            i + 1, attempts, result.reason, wait);
            const auto resume = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(wait));
            if (resume >= request.deadline) {
                return deadline_exceeded(
                    "upstream {} ({}): the deadline passes before the next attempt; last error: {}",
                    name, options_.base_url, last_error.message());
            }
            while (Clock::now() < resume) {
                if (cancelled()) return cancelled_generation();
                std::this_thread::sleep_for(std::min<Clock::duration>(
                    resume - Clock::now(), std::chrono::milliseconds(20)));
            }
            if (cancelled()) return cancelled_generation();
        }
        llm_log()->warn("remote {}: unavailable after {} attempt(s), {:.2f} s", name, attempts,
                        seconds_between(start, Clock::now()));
        return unavailable("upstream {} ({}) is unavailable after {} attempt(s): {}", name,
                           options_.base_url, attempts, last_error.message());
    };

    if (!grammar) return run(on_piece);
    // Structured output: the answer is held back until it validates against the schema, with
    // one more try when it does not (a client must never see text that fails its schema).
    Status mismatch;
    for (int round = 0; round < 2; ++round) {
        std::vector<Piece> held;
        auto gen = run([&](const Piece& piece) {
            held.push_back(piece);
            return true;
        });
        if (!gen) return gen;
        if (gen->finish == Finish::kCancelled) return gen;
        mismatch = engine::validate_json_text(*grammar, gen->text);
        if (mismatch.ok()) {
            for (const Piece& piece : held) {
                if (on_piece && !on_piece(piece)) {
                    gen->finish = Finish::kCancelled;
                    break;
                }
            }
            return gen;
        }
        llm_log()->warn("remote {}: the answer does not match the schema (try {} of 2): {}", name,
                        round + 1, mismatch.message());
    }
    return unavailable("upstream output does not match the schema: {}", mismatch.message());
}

RemoteBackend::Attempt RemoteBackend::attempt(const Request& request, const std::string& path,
                                              const std::string& body,
                                              const PieceCallback& on_piece,
                                              StreamState& state) const {
    const std::string& name = info_.name;
    const std::string& url = options_.base_url;
    const double connect_s = capped_to_deadline(options_.connect_timeout_s, request.deadline);
    const double read_s = capped_to_deadline(options_.read_timeout_s, request.deadline);
    httplib::Client client(url_.scheme_host_port);
    if (!client.is_valid()) {  // https in a build without OpenSSL
        Attempt invalid;
        invalid.outcome = Attempt::kFatal;
        invalid.reason = "no TLS";
        invalid.status = unavailable("upstream {} ({}): this build cannot speak https", name, url);
        return invalid;
    }
    set_timeout(connect_s, [&](time_t s, time_t us) { client.set_connection_timeout(s, us); });
    set_timeout(read_s, [&](time_t s, time_t us) {
        client.set_read_timeout(s, us);
        client.set_write_timeout(s, us);
    });

    httplib::Request req;
    req.method = "POST";
    req.path = url_.path_prefix + path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    req.set_header("Accept", "text/event-stream");
    req.set_header("Accept-Encoding", "identity");  // stream as it comes, uncompressed
    if (!options_.api_key.empty()) req.set_header("Authorization", "Bearer " + options_.api_key);

    int http_status = 0;
    bool event_stream = true;
    double retry_after = -1;
    std::string other_body;  // an error body, or a 200 answer that is not an event stream
    SseReader reader;
    // Only attempts before the first piece are retried, so nothing delivered is reset here.
    state.error = Status();
    state.error_event = false;
    state.finish_reason.clear();
    state.saw_done = false;
    state.have_usage = false;
    state.gen.usage = Usage();

    // Hands text to the caller; false once the request must stop.
    auto deliver = [&](std::string text, std::vector<LogprobEntry> logprobs) {
        std::vector<Piece> pieces;
        if (logprobs.empty()) {
            if (!text.empty()) pieces.push_back(Piece{std::move(text), "", 0, {}});
        } else {
            std::string joined;
            for (const auto& entry : logprobs) joined += entry.token;
            const bool per_token = joined == text;
            for (auto& entry : logprobs) {
                Piece piece;
                piece.text = per_token ? entry.token : std::string();
                piece.token = std::move(entry.token);
                piece.logprob = entry.logprob;
                piece.top = std::move(entry.top);
                pieces.push_back(std::move(piece));
            }
            // Text that does not split into the tokens goes with the first of them.
            if (!per_token) pieces.front().text = std::move(text);
        }
        for (auto& piece : pieces) {
            if (request.cancelled && request.cancelled->load()) {
                state.stop = StopReason::kCancelled;
                return false;
            }
            if (Clock::now() >= request.deadline) {
                state.stop = StopReason::kDeadline;
                return false;
            }
            if (state.delivered++ == 0) state.first_piece = Clock::now();
            state.gen.text += piece.text;
            bool keep_going = !on_piece || on_piece(piece);
            if (state.want_pieces) state.gen.pieces.push_back(std::move(piece));
            if (!keep_going) {
                state.stop = StopReason::kCaller;
                return false;
            }
        }
        return true;
    };

    // One chunk of the OpenAI shape (or a whole non-streamed answer); false to stop reading.
    auto apply = [&](const json& chunk) -> bool {
        if (!chunk.is_object()) {
            state.error =
                unavailable("upstream {} ({}) sent an event that is not a JSON object", name, url);
            return false;
        }
        if (const json* error = find_member(chunk, "error")) {
            state.error = unavailable("upstream {} ({}) reported an error: {}", name, url,
                                      redact(upstream_message(json{{"error", *error}}.dump())));
            state.error_event = true;
            return false;
        }
        if (const json* usage = find_member(chunk, "usage"); usage && usage->is_object()) {
            Usage& u = state.gen.usage;
            u.prompt_tokens = int_member(*usage, "prompt_tokens");
            u.completion_tokens = int_member(*usage, "completion_tokens");
            if (const json* details = find_member(*usage, "prompt_tokens_details")) {
                u.cached_prompt_tokens = int_member(*details, "cached_tokens");
            }
            state.have_usage = true;
        }
        const json* choices = find_member(chunk, "choices");
        if (!choices || !choices->is_array() || choices->empty()) return true;
        const json* choice = &(*choices)[0];
        for (const auto& c : *choices) {
            const json* index = find_member(c, "index");
            if (index && index->is_number_integer() && index->get<int64_t>() == 0) choice = &c;
        }
        std::string text;
        if (const json* delta = find_member(*choice, "delta")) {
            text = string_member(*delta, "content");
        } else if (const json* message = find_member(*choice, "message")) {
            text = string_member(*message, "content");
        } else {
            text = string_member(*choice, "text");
        }
        std::vector<LogprobEntry> logprobs;
        if (const json* lp = find_member(*choice, "logprobs")) logprobs = read_logprobs(*lp);
        if (std::string finish = string_member(*choice, "finish_reason"); !finish.empty()) {
            state.finish_reason = std::move(finish);
        }
        return deliver(std::move(text), std::move(logprobs));
    };

    auto on_event = [&](const SseEvent& event) -> bool {
        if (event.is_done()) {
            state.saw_done = true;
            return true;
        }
        try {
            json chunk = json::parse(event.data);
            if (event.type == "error" && !find_member(chunk, "error")) {
                chunk = json{{"error", chunk}};
            }
            return apply(chunk);
        } catch (const json::exception&) {
            if (event.type == "error") {
                state.error = unavailable("upstream {} ({}) reported an error: {}", name, url,
                                          redact(quotable(event.data, kMaxUpstreamMessageBytes)));
                state.error_event = true;
            } else {
                state.error = unavailable(
                    "upstream {} ({}) sent an event that is not JSON of the OpenAI "
                    "shape",
                    name, url);
            }
            return false;
        }
    };

    req.response_handler = [&](const httplib::Response& response) {
        http_status = response.status;
        retry_after = parse_retry_after(response.get_header_value("Retry-After"));
        event_stream = response.get_header_value("Content-Type").find("text/event-stream") !=
                       std::string::npos;
        return true;
    };
    req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
        if (http_status != 200 || !event_stream) {
            size_t limit = http_status == 200 ? kMaxPlainBodyBytes : kMaxErrorBodyBytes;
            other_body.append(data, std::min(size, limit - other_body.size()));
            return other_body.size() < limit || http_status != 200;
        }
        Status fed = reader.feed(std::string_view(data, size), on_event);
        if (!fed.ok()) {
            state.error = unavailable("upstream {} ({}) sent an event larger than {} bytes", name,
                                      url, SseReader::kDefaultMaxEventBytes);
            return false;
        }
        return state.error.ok() && state.stop == StopReason::kNone;
    };

    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    bool sent;
    {
        Watchdog watchdog(client, request, state.stop);
        sent = client.send(req, response, error);
    }
    if (http_status == 200) ready_ = true;

    Attempt out;
    auto retry = [&](std::string reason, Status status) {
        out.outcome = Attempt::kRetry;
        out.reason = std::move(reason);
        out.status = std::move(status);
        return out;
    };
    auto fatal = [&](std::string reason, Status status) {
        out.outcome = Attempt::kFatal;
        out.reason = std::move(reason);
        out.status = std::move(status);
        return out;
    };

    // 1. We stopped it: the caller, the cancel flag or the deadline.
    StopReason stop = state.stop;
    const bool complete = state.saw_done || !state.finish_reason.empty();
    if (sent && complete && stop != StopReason::kCaller && state.error.ok()) {
        // The watchdog fired after the whole answer had arrived: nothing was cut short.
        stop = StopReason::kNone;
        state.stop = stop;
    }
    if (stop == StopReason::kNone && !sent && Clock::now() >= request.deadline) {
        stop = StopReason::kDeadline;  // the read timeout was cut to the deadline
        state.stop = stop;
    }
    if (stop != StopReason::kNone) {
        if (stop == StopReason::kDeadline && state.delivered == 0) {
            return fatal("deadline", deadline_exceeded("upstream {} ({}): the deadline passed "
                                                       "before the first piece",
                                                       name, url));
        }
        return out;  // kDone, finished as cancelled
    }
    // 2. The stream itself was bad (malformed, oversized, an error event).
    if (!state.error.ok()) {
        if (state.delivered == 0 && state.error_event) {
            return retry("error event", state.error);
        }
        return fatal("bad stream", state.error);
    }
    // 3. The connection failed.
    if (!sent) {
        std::string what = describe_transport_error(error, connect_s, read_s);
        std::string reason = httplib::to_string(error);
        if (state.delivered > 0) {
            return fatal(reason, unavailable("upstream {} ({}): the stream broke after {} "
                                             "piece(s): {}",
                                             name, url, state.delivered, what));
        }
        if (error == httplib::Error::SSLServerVerification ||
            error == httplib::Error::SSLLoadingCerts) {
            return fatal(reason, unavailable("upstream {} ({}): {}", name, url, what));
        }
        return retry(reason, Status(StatusCode::kUnavailable, what));
    }
    // 4. The upstream said no.
    if (http_status != 200) {
        std::string message = redact(upstream_message(other_body));
        std::string reason = fmt::format("HTTP {}", http_status);
        if (http_status == 429 || http_status >= 500) {
            out.retry_after_s = retry_after;
            return retry(reason, Status(StatusCode::kUnavailable,
                                        fmt::format("HTTP {}: {}", http_status, message)));
        }
        if (http_status >= 400) {
            return fatal(reason, invalid_argument("upstream {} ({}) rejected the request: HTTP "
                                                  "{}: {}",
                                                  name, url, http_status, message));
        }
        return fatal(reason, unavailable("upstream {} ({}) answered with unexpected HTTP {}", name,
                                         url, http_status));
    }
    // 5. A 200 answer that is one JSON document (a server that ignored "stream": true).
    if (!event_stream) {
        json whole = json::parse(other_body, nullptr, /*allow_exceptions=*/false);
        if (whole.is_discarded() && other_body.find("data:") != std::string::npos) {
            // An event stream under another Content-Type (some proxies rewrite it): read it
            // now, whole.
            SseReader late;
            Status fed = late.feed(other_body, on_event);
            if (!fed.ok()) {
                state.error = unavailable("upstream {} ({}) sent an event larger than {} bytes",
                                          name, url, SseReader::kDefaultMaxEventBytes);
            }
            if (state.stop != StopReason::kNone) return out;
            if (!state.error.ok()) return fatal("bad stream", state.error);
            if (state.saw_done || !state.finish_reason.empty()) return out;
            return fatal("stream ended early",
                         unavailable("upstream {} ({}): the answer ended without a finish reason",
                                     name, url));
        }
        if (whole.is_discarded()) {
            return fatal("not JSON", unavailable("upstream {} ({}) answered with neither an event "
                                                 "stream nor JSON",
                                                 name, url));
        }
        bool applied = false;
        try {
            applied = apply(whole);
        } catch (const json::exception&) {
            state.error = unavailable("upstream {} ({}) answered with JSON not of the OpenAI shape",
                                      name, url);
        }
        if (!applied && state.stop == StopReason::kNone) return fatal("bad answer", state.error);
        return out;
    }
    // 6. A complete stream ends with a finish reason or [DONE]; anything else broke off.
    if (complete) return out;
    if (state.delivered == 0) {
        return retry("stream ended early",
                     Status(StatusCode::kUnavailable, "the stream ended before any text"));
    }
    return fatal("stream ended early",
                 unavailable("upstream {} ({}): the stream ended after {} piece(s) without a "
                             "finish reason",
                             name, url, state.delivered));
}

Result<Embeddings> RemoteBackend::embed(const EmbeddingRequest& request) {
    const std::string& name = info_.name;
    const std::string& url = options_.base_url;
    if (!options_.embedding) return Backend::embed(request);
    if (request.inputs.empty()) return invalid_argument("model {}: no input to embed", name);
    if (request.inputs.size() > kMaxEmbeddingInputs) {
        return invalid_argument("model {}: {} inputs given; at most {} are allowed per request",
                                name, request.inputs.size(), kMaxEmbeddingInputs);
    }
    ActiveCount active(active_);
    const auto start = Clock::now();
    const json body = {{"model", options_.upstream_model},
                       {"input", request.inputs},
                       {"encoding_format", "float"}};
    const std::string body_text = body.dump(-1, ' ', false, json::error_handler_t::replace);
    const int attempts = 1 + options_.retries;
    Status last_error;
    for (int i = 0; i < attempts; ++i) {
        httplib::Client client(url_.scheme_host_port);
        if (!client.is_valid()) {
            return unavailable("upstream {} ({}): this build cannot speak https", name, url);
        }
        set_timeout(options_.connect_timeout_s,
                    [&](time_t sec, time_t us) { client.set_connection_timeout(sec, us); });
        set_timeout(options_.read_timeout_s, [&](time_t sec, time_t us) {
            client.set_read_timeout(sec, us);
            client.set_write_timeout(sec, us);
        });
        httplib::Request req;
        req.method = "POST";
        req.path = url_.path_prefix + "/v1/embeddings";
        req.body = body_text;
        req.set_header("Content-Type", "application/json");
        if (!options_.api_key.empty()) {
            req.set_header("Authorization", "Bearer " + options_.api_key);
        }
        int http_status = 0;
        double retry_after = -1;
        std::string answer;
        bool too_big = false;
        req.response_handler = [&](const httplib::Response& response) {
            http_status = response.status;
            retry_after = parse_retry_after(response.get_header_value("Retry-After"));
            return true;
        };
        req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
            const size_t limit = http_status == 200 ? kMaxEmbeddingsBodyBytes : kMaxErrorBodyBytes;
            if (answer.size() + size > limit) {
                answer.append(data, limit - answer.size());
                too_big = http_status == 200;
                return !too_big;  // an error body is cut, a too large answer abandoned
            }
            answer.append(data, size);
            return true;
        };
        httplib::Response response;
        httplib::Error error = httplib::Error::Success;
        const bool sent = client.send(req, response, error);
        std::string reason;
        if (too_big) {
            return unavailable("upstream {} ({}): the embeddings answer is larger than {} bytes",
                               name, url, kMaxEmbeddingsBodyBytes);
        }
        if (!sent) {
            std::string what = describe_transport_error(error, options_.connect_timeout_s,
                                                        options_.read_timeout_s);
            if (error == httplib::Error::SSLServerVerification ||
                error == httplib::Error::SSLLoadingCerts) {
                return unavailable("upstream {} ({}): {}", name, url, what);
            }
            reason = httplib::to_string(error);
            last_error = Status(StatusCode::kUnavailable, what);
        } else if (http_status == 200) {
            ready_ = true;
            auto parsed = parse_embeddings(answer, request.inputs.size());
            if (!parsed) {
                llm_log()->warn("remote {}: malformed embeddings answer after {} attempt(s)", name,
                                i + 1);
                return unavailable("upstream {} ({}) answered /v1/embeddings with {}", name, url,
                                   parsed.error().message());
            }
            Embeddings out = std::move(*parsed);
            if (out.prompt_tokens == 0) {
                for (const auto& input : request.inputs) {
                    out.prompt_tokens += static_cast<int>(count_tokens(input));
                }
            }
            out.model = name;
            llm_log()->info("remote {}: {} inputs embedded ({} tokens), {} attempt(s), {:.2f} s",
                            name, out.vectors.size(), out.prompt_tokens, i + 1,
                            seconds_between(start, Clock::now()));
            return out;
        } else {
            std::string message = redact(upstream_message(answer));
            reason = fmt::format("HTTP {}", http_status);
            if (http_status != 429 && http_status < 500) {
                if (http_status >= 400) {
                    return invalid_argument("upstream {} ({}) rejected the request: HTTP {}: {}",
                                            name, url, http_status, message);
                }
                return unavailable("upstream {} ({}) answered with unexpected HTTP {}", name, url,
                                   http_status);
            }
            last_error =
                Status(StatusCode::kUnavailable, fmt::format("HTTP {}: {}", http_status, message));
        }
        if (i + 1 == attempts) break;
        const double wait =
            std::min(retry_after >= 0 ? retry_after : backoff_seconds(options_.backoff_s, i),
                     options_.max_retry_after_s);
        llm_log()->warn("remote {}: embeddings attempt {} of {} failed ({}); retrying in {:.2f} s",
                        name, i + 1, attempts, reason, wait);
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
    llm_log()->warn("remote {}: embeddings unavailable after {} attempt(s), {:.2f} s", name,
                    attempts, seconds_between(start, Clock::now()));
    return unavailable("upstream {} ({}) is unavailable after {} attempt(s): {}", name, url,
                       attempts, last_error.message());
}

}  // namespace ward::llm
