#include "llm/local_backend.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "common/log.h"
#include "engine/batch.h"
#include "engine/encoder.h"
#include "engine/generate.h"
#include "engine/grammar.h"
#include "engine/json_schema.h"
#include "engine/parallel.h"
#include "engine/pretokenize.h"
#include "engine/sampler.h"
#include "engine/session.h"

namespace ward::llm {

using engine::Tokenizer;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMaxSlots = 256;
constexpr size_t kMaxStops = 4;
constexpr int kMaxTopLogprobs = 20;

double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

// Length of the well-formed UTF-8 sequence at s[i] (no overlong forms, no surrogates, nothing
// above U+10FFFF), or 0 when the bytes there are not one. The engine's decoder reports a
// malformed sequence as one byte standing for U+FFFD, which no valid single byte is.
size_t utf8_sequence_length(std::string_view s, size_t i) {
    uint32_t code_point = 0;
    const int n = engine::decode_utf8(s, i, &code_point);
    return n == 1 && code_point == 0xFFFD ? 0 : static_cast<size_t>(n);
}

// Byte offset of the first malformed UTF-8 sequence, or npos.
size_t find_invalid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_sequence_length(s, i);
        if (n == 0) return i;
        i += n;
    }
    return std::string_view::npos;
}

// Token texts may be parts of a character; JSON needs valid UTF-8, so such bytes become U+FFFD.
std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const size_t n = utf8_sequence_length(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

Finish to_finish(engine::FinishReason reason) {
    switch (reason) {
        case engine::FinishReason::kStop:
            return Finish::kStop;
        case engine::FinishReason::kLength:
            return Finish::kLength;
        case engine::FinishReason::kCancelled:
            return Finish::kCancelled;
    }
    return Finish::kStop;
}

}  // namespace

namespace internal {

// The texts that Tokenizer::encode(..., parse_special=true) cuts out as single tokens beyond
// those it always cuts: control and unknown tokens, bucketed by first byte, longest first.
class ControlTexts {
  public:
    explicit ControlTexts(const Tokenizer& tokenizer) : tokenizer_(tokenizer), by_byte_(256) {
        for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) {
            const engine::TokenType type = tokenizer.token_type(id);
            if (type != engine::TokenType::kControl && type != engine::TokenType::kUnknown) {
                continue;
            }
            const std::string& text = tokenizer.token_text(id);
            if (!text.empty()) by_byte_[static_cast<unsigned char>(text[0])].push_back(id);
        }
        for (auto& bucket : by_byte_) {
            std::stable_sort(bucket.begin(), bucket.end(), [&](int32_t a, int32_t b) {
                return tokenizer.token_text(a).size() > tokenizer.token_text(b).size();
            });
        }
    }

    // The longest control token whose text starts at text[pos], or -1.
    int32_t match(std::string_view text, size_t pos) const {
        for (int32_t id : by_byte_[static_cast<unsigned char>(text[pos])]) {
            const std::string& t = tokenizer_.token_text(id);
            if (text.compare(pos, t.size(), t) == 0) return id;
        }
        return -1;
    }

    // A byte that starts no control text (used to blank control texts out of contents).
    char blank_byte() const {
        for (int c = 1; c < 0x20; ++c) {
            if (by_byte_[c].empty() && c != '\t' && c != '\n' && c != '\v' && c != '\f' &&
                c != '\r') {
                return static_cast<char>(c);
            }
        }
        return '#';  // no vocabulary has control tokens starting with every control byte
    }

    // `text` with every control text replaced by as many blank bytes (same length).
    std::string blanked(std::string_view text) const {
        std::string out(text);
        const char blank = blank_byte();
        for (size_t pos = 0; pos < out.size();) {
            const int32_t id = match(text, pos);
            if (id < 0) {
                ++pos;
                continue;
            }
            const size_t len = tokenizer_.token_text(id).size();
            std::fill(out.begin() + pos, out.begin() + pos + len, blank);
            pos += len;
        }
        return out;
    }

  private:
    const Tokenizer& tokenizer_;
    std::vector<std::vector<int32_t>> by_byte_;
};

}  // namespace internal

namespace {

using internal::ControlTexts;

// See encode_chat_prompt. The rendering is done twice: once with the real contents, once with
// every control text in them blanked out (same length, so positions agree). Control texts found
// in the blanked rendering come from the template; those, and only those, become control
// tokens; everything between them (template text and contents alike) is plain text.
std::vector<int32_t> encode_chat(const Tokenizer& tokenizer, const ControlTexts& controls,
                                 engine::ChatTemplateFamily family,
                                 std::span<const ChatMessage> messages) {
    std::vector<engine::ChatMessage> real, blanked;
    real.reserve(messages.size());
    blanked.reserve(messages.size());
    for (const ChatMessage& m : messages) {
        real.push_back({m.role, m.content});
        blanked.push_back({m.role, controls.blanked(m.content)});
    }
    std::string rendered = engine::render_chat(family, real, true);
    std::string skeleton = engine::render_chat(family, blanked, true);
    if (rendered.size() != skeleton.size()) {
        // A template that changed a content because of a control text in it (none known does):
        // fall back to the blanked contents, where no control text is left to inject.
        logger("llm")->warn(
            "chat template {} rendered blanked contents differently; "
            "control texts were dropped from the contents",
            engine::chat_template_name(family));
        rendered = skeleton;
        const char blank = controls.blank_byte();
        std::erase(rendered, blank);
        skeleton = rendered;
    }

    const std::string_view bos_text = engine::chat_template_bos_text(family);
    const bool writes_bos = !bos_text.empty() && rendered.starts_with(bos_text);
    std::vector<int32_t> ids;
    if (tokenizer.add_bos_default() && !writes_bos && tokenizer.bos() >= 0) {
        ids.push_back(tokenizer.bos());
    }
    const auto append_text = [&](size_t from, size_t to) {
        if (to <= from) return;
        std::vector<int32_t> part =
            tokenizer.encode(std::string_view(rendered).substr(from, to - from), false, false);
        ids.insert(ids.end(), part.begin(), part.end());
    };
    size_t text_start = 0;
    for (size_t pos = 0; pos < skeleton.size();) {
        const int32_t id = controls.match(skeleton, pos);
        if (id < 0) {
            ++pos;
            continue;
        }
        append_text(text_start, pos);
        ids.push_back(id);
        pos += tokenizer.token_text(id).size();
        text_start = pos;
    }
    append_text(text_start, rendered.size());
    return ids;
}

// The token trie of a model, for constrained decoding: built on the first request with a
// schema and shared by every later one while the model lives (one per process per model).
std::shared_ptr<const engine::TokenTrie> token_trie_for(
    const std::shared_ptr<const engine::Model>& model) {
    static std::mutex mutex;
    static std::vector<
        std::pair<std::weak_ptr<const engine::Model>, std::shared_ptr<const engine::TokenTrie>>>
        cache;
    std::lock_guard lock(mutex);
    std::erase_if(cache, [](const auto& entry) { return entry.first.expired(); });
    for (const auto& [owner, trie] : cache) {
        if (owner.lock() == model) return trie;
    }
    auto trie = engine::TokenTrie::build(model->tokenizer());
    cache.emplace_back(model, trie);
    return trie;
}

std::string describe(const engine::Model& model) {
    // The tensor type holding most of the weights names the quantisation.
    std::map<std::string_view, int64_t> weights_by_type;
    for (const auto& t : model.file().tensors()) {
        weights_by_type[engine::tensor_type_name(t.type)] += t.n_elements;
    }
    std::string_view main_type = "?";
    int64_t most = -1;
    for (const auto& [type, n] : weights_by_type) {
        if (n > most) {
            most = n;
            main_type = type;
        }
    }
    return fmt::format("{}, {:.2f}M parameters, {}", engine::arch_name(model.hparams().arch),
                       model.n_params() / 1e6, main_type);
}

}  // namespace

std::vector<int32_t> encode_chat_prompt(const Tokenizer& tokenizer,
                                        engine::ChatTemplateFamily family,
                                        std::span<const ChatMessage> messages) {
    return encode_chat(tokenizer, ControlTexts(tokenizer), family, messages);
}

// One request, shared by the thread that called generate() (which reads pieces and the
// outcome) and the scheduler (which writes them).
struct LocalBackend::Job {
    uint64_t id = 0;
    std::vector<int32_t> prompt;
    engine::GenerateOptions options;
    bool starts_document = false;  // the prompt is BOS alone
    bool want_logprobs = false;
    Clock::time_point deadline;
    const std::atomic<bool>* cancelled = nullptr;
    std::atomic<bool> abandoned{false};  // on_piece returned false
    Clock::time_point queued_at;

    std::mutex mutex;  // guards what follows
    std::condition_variable changed;
    std::deque<Piece> pieces;  // for the caller to hand to on_piece
    bool done = false;
    Status error;           // when done: not ok for a failed request
    Generation generation;  // when done and error is ok

    bool should_stop(Clock::time_point now) const {
        return abandoned.load() || (cancelled != nullptr && cancelled->load()) || now >= deadline;
    }
};

// A Session and the request it serves. Only the scheduler thread touches a Slot.
struct LocalBackend::Slot {
    std::unique_ptr<engine::Session> session;
    std::shared_ptr<Job> job;  // null when free
    std::optional<engine::Sampler> sampler;
    std::optional<engine::GrammarMatcher> matcher;  // when the request has a JSON schema
    std::optional<engine::TokenStream> stream;
    std::vector<Piece> pieces;  // the Generation's pieces when logprobs were asked for
    size_t prefilled = 0;       // prompt tokens in the session (cached or evaluated)
    size_t chunk = 0;           // prompt tokens in the current step's item
    int cached = 0;             // prompt tokens that came from the prefix cache
    int32_t next_token = -1;    // sampled and not yet evaluated
    uint64_t admitted = 0;      // admission order (prefill goes oldest first)
    uint64_t last_used = 0;     // when it last served a request
    Clock::time_point admitted_at, first_token_at;
    bool sampled_any = false;
};

LocalBackend::LocalBackend(Key) {}

Result<std::unique_ptr<LocalBackend>> LocalBackend::create(const LocalBackendOptions& options) {
    const std::string where = fmt::format("local backend '{}'", options.name);
    if (options.slots < 1 || options.slots > kMaxSlots) {
        return invalid_argument("{}: slots {} is outside [1, {}]", where, options.slots, kMaxSlots);
    }
    if (options.context < 2) {
        return invalid_argument("{}: context {} is too small (at least 2 tokens)", where,
                                options.context);
    }
    if (options.batch < 1) {
        return invalid_argument("{}: batch {} must be at least 1", where, options.batch);
    }
    if (options.threads < 0) {
        return invalid_argument("{}: threads {} is negative", where, options.threads);
    }
    auto log = logger("llm");
    const auto t0 = Clock::now();
    auto model = engine::Model::load(options.path);
    if (!model) {
        return Status(model.error().code(), fmt::format("{}: {}", where, model.error().message()));
    }

    auto backend = std::make_unique<LocalBackend>(Key());
    backend->model_ = std::move(*model);
    const engine::Model& m = *backend->model_;
    const Tokenizer& tok = m.tokenizer();
    if (!options.chat_template.empty()) {
        auto family = engine::chat_template_from_name(options.chat_template);
        if (!family) return invalid_argument("{}: {}", where, family.error().message());
        backend->family_ = *family;
    } else if (auto text = tok.chat_template()) {
        auto family = engine::detect_chat_template(*text);
        if (!family) {
            return invalid_argument("{}: the model's chat template: {}", where,
                                    family.error().message());
        }
        backend->family_ = *family;
    }
    backend->controls_ = std::make_unique<ControlTexts>(tok);

    if (m.hparams().is_encoder()) {
        // An embedding model: no slots and no scheduler; embed() runs the Encoder on the
        // calling thread, sharing one worker team.
        backend->team_ = std::make_shared<engine::WorkerTeam>(options.threads);
        engine::EncoderOptions eo;
        eo.team = backend->team_;
        eo.max_batch_tokens = std::max(options.batch, m.hparams().n_ctx_train);
        auto encoder = engine::Encoder::create(backend->model_, eo);
        if (!encoder) {
            return Status(encoder.error().code(),
                          fmt::format("{}: {}", where, encoder.error().message()));
        }
        backend->encoder_ = std::move(*encoder);
        backend->context_ = backend->encoder_->max_tokens();
        backend->batch_ = options.batch;
        ModelInfo& info = backend->info_;
        info.name = options.name;
        info.backend = "local";
        info.file_sha256 = m.file_sha256();
        info.description = describe(m);
        info.context_length = backend->encoder_->max_tokens();
        info.embedding = true;
        info.embedding_dim = backend->encoder_->dim();
        info.created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
        log->info(
            "{}: loaded in {:.2f} s ({}; sha256 {}); embedding model of {} dimensions, "
            "{} tokens, {} threads",
            where, seconds_between(t0, Clock::now()), info.description, info.file_sha256,
            info.embedding_dim, info.context_length, backend->team_->size());
        return backend;
    }

    int context = options.context;
    const int trained = m.hparams().n_ctx_train;
    if (trained > 0 && context > trained) {
        log->warn("{}: context {} capped at the model's training context {}", where, context,
                  trained);
        context = trained;
    }
    backend->context_ = context;
    backend->batch_ = options.batch;
    backend->team_ = std::make_shared<engine::WorkerTeam>(options.threads);
    for (int i = 0; i < options.slots; ++i) {
        engine::SessionOptions so;
        so.n_ctx = context;
        so.n_threads = options.threads;
        so.n_batch = options.batch;
        so.team = backend->team_;
        auto session = engine::Session::create(backend->model_, so);
        if (!session) {
            return Status(session.error().code(),
                          fmt::format("{}: slot {}: {}", where, i, session.error().message()));
        }
        auto slot = std::make_unique<Slot>();
        slot->session = std::move(*session);
        backend->slots_.push_back(std::move(slot));
    }
    backend->evaluator_ = std::make_unique<engine::BatchEvaluator>(backend->model_, backend->team_,
                                                                   options.batch + options.slots);

    ModelInfo& info = backend->info_;
    info.name = options.name;
    info.backend = "local";
    info.file_sha256 = m.file_sha256();
    info.description = describe(m);
    info.context_length = context;
    info.created = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    backend->scheduler_ = std::thread([b = backend.get()] { b->scheduler_loop(); });
    log->info(
        "{}: loaded in {:.2f} s ({}; sha256 {}); {} slots of {} tokens, {} threads, "
        "chat template {}",
        where, seconds_between(t0, Clock::now()), info.description, info.file_sha256, options.slots,
        context, backend->team_->size(),
        backend->family_ ? engine::chat_template_name(*backend->family_) : "none");
    return backend;
}

LocalBackend::~LocalBackend() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (scheduler_.joinable()) scheduler_.join();
}

Status LocalBackend::validate(const Request& request) const {
    if (encoder_) {
        return invalid_argument("model '{}' is an embedding model; use /v1/embeddings", info_.name);
    }
    const GenerationParams& p = request.params;
    if (request.messages.empty() && !request.prompt) {
        return invalid_argument("the request has no messages and no prompt");
    }
    if (!request.messages.empty() && request.prompt) {
        return invalid_argument("the request has both messages and a prompt; give one of them");
    }
    for (size_t i = 0; i < request.messages.size(); ++i) {
        const ChatMessage& m = request.messages[i];
        if (m.role != "system" && m.role != "user" && m.role != "assistant") {
            return invalid_argument(
                "message {} has the unknown role \"{}\" (expected system, user or assistant)", i,
                valid_utf8(m.role));
        }
        if (size_t at = find_invalid_utf8(m.content); at != std::string_view::npos) {
            return invalid_argument("message {} content is not valid UTF-8 (at byte {})", i, at);
        }
    }
    if (request.prompt) {
        if (size_t at = find_invalid_utf8(*request.prompt); at != std::string_view::npos) {
            return invalid_argument("the prompt is not valid UTF-8 (at byte {})", at);
        }
    }
    if (p.temperature && !(*p.temperature >= 0.0f && *p.temperature <= 2.0f)) {
        return invalid_argument("temperature {} is outside [0, 2]", *p.temperature);
    }
    if (p.top_p && !(*p.top_p > 0.0f && *p.top_p <= 1.0f)) {
        return invalid_argument("top_p {} is outside (0, 1]", *p.top_p);
    }
    if (p.stop.size() > kMaxStops) {
        return invalid_argument("{} stop strings given; at most {} are allowed", p.stop.size(),
                                kMaxStops);
    }
    for (size_t i = 0; i < p.stop.size(); ++i) {
        if (find_invalid_utf8(p.stop[i]) != std::string_view::npos) {
            return invalid_argument("stop string {} is not valid UTF-8", i);
        }
    }
    if (p.top_logprobs < 0 || p.top_logprobs > kMaxTopLogprobs) {
        return invalid_argument("top_logprobs {} is outside [0, {}]", p.top_logprobs,
                                kMaxTopLogprobs);
    }
    if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
        return invalid_argument("presence_penalty {} is outside [-2, 2]", p.presence_penalty);
    }
    if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
        return invalid_argument("frequency_penalty {} is outside [-2, 2]", p.frequency_penalty);
    }
    if (!request.messages.empty() && !family_) {
        return invalid_argument(
            "model '{}' has no chat template: send a prompt, or configure chat_template",
            info_.name);
    }
    if (p.json_schema) {
        auto grammar = engine::compile_json_schema(std::string_view(*p.json_schema));
        if (!grammar) return grammar.error();
    }
    return ok_status();
}

Result<std::vector<int32_t>> LocalBackend::tokenize_request(const Request& request) const {
    WARD_TRY(validate(request));
    const Tokenizer& tok = model_->tokenizer();
    std::vector<int32_t> ids;
    if (request.prompt) {
        ids = tok.encode(*request.prompt, tok.add_bos_default(), false);
    } else {
        ids = encode_chat(tok, *controls_, *family_, request.messages);
    }
    if (ids.empty()) {
        return invalid_argument("the prompt is empty and the model has no BOS token to start from");
    }
    const int n = static_cast<int>(ids.size());
    const int max_tokens = request.params.max_tokens;
    if ((max_tokens > 0 && static_cast<int64_t>(n) + max_tokens > context_) ||
        (max_tokens <= 0 && n >= context_)) {
        return resource_exhausted(
            "prompt of {} tokens does not fit the context of {} (max_tokens {})", n, context_,
            max_tokens);
    }
    return ids;
}

Status LocalBackend::check(const Request& request) const {
    return tokenize_request(request).status();
}

size_t LocalBackend::count_tokens(std::string_view text) const {
    return model_->tokenizer().encode(text, false, false).size();
}

Result<Generation> LocalBackend::generate(const Request& request, const PieceCallback& on_piece) {
    WARD_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, tokenize_request(request));
    const Tokenizer& tok = model_->tokenizer();
    const GenerationParams& p = request.params;

    auto job = std::make_shared<Job>();
    job->id = next_id_.fetch_add(1);
    job->starts_document = prompt.size() == 1 && prompt[0] == tok.bos();
    job->prompt = std::move(prompt);
    job->options.max_tokens = p.max_tokens;
    job->options.stop = p.stop;
    engine::SamplingParams& sp = job->options.sampling;  // engine defaults unless given
    if (p.temperature) sp.temperature = *p.temperature;
    if (p.top_p) sp.top_p = *p.top_p;
    sp.presence_penalty = p.presence_penalty;
    sp.frequency_penalty = p.frequency_penalty;
    sp.seed = p.seed ? *p.seed : std::random_device{}();
    sp.n_logprobs = p.top_logprobs;
    job->want_logprobs = p.logprobs || p.top_logprobs > 0;
    if (p.json_schema) {
        WARD_ASSIGN_OR_RETURN(job->options.grammar,
                              engine::compile_json_schema(std::string_view(*p.json_schema)));
        job->options.token_trie = token_trie_for(model_);
    }
    job->deadline = request.deadline;
    job->cancelled = request.cancelled;
    job->queued_at = Clock::now();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            return unavailable("local backend '{}': shutting down", info_.name);
        }
        queue_.push_back(job);
        n_waiting_.store(static_cast<int>(queue_.size()));
        // Notified under the lock: once it is released the backend may be destroyed.
        wake_.notify_one();
    }

    // From here on only `job` is touched: the backend may be shutting down.
    bool callback_threw = false;
    std::unique_lock lock(job->mutex);
    for (;;) {
        job->changed.wait(lock, [&] { return !job->pieces.empty() || job->done; });
        while (!job->pieces.empty()) {
            Piece piece = std::move(job->pieces.front());
            job->pieces.pop_front();
            if (!on_piece || job->abandoned.load()) continue;
            lock.unlock();
            bool keep = false;
            try {
                keep = on_piece(piece);
            } catch (...) {
                callback_threw = true;
            }
            lock.lock();
            if (!keep) job->abandoned.store(true);
        }
        if (job->done) break;
    }
    if (callback_threw) {
        return internal_error("request {}: the piece callback threw", job->id);
    }
    if (!job->error.ok()) return job->error;
    return std::move(job->generation);
}

void LocalBackend::scheduler_loop() {
    std::vector<std::shared_ptr<Job>> admitted, dropped;
    for (;;) {
        admitted.clear();
        dropped.clear();
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || n_active_.load() > 0; });
            if (stopping_) break;
            // Requests cancelled or out of time while waiting leave the queue.
            const auto now = Clock::now();
            std::erase_if(queue_, [&](const std::shared_ptr<Job>& job) {
                if (!job->should_stop(now)) return false;
                dropped.push_back(job);
                return true;
            });
            int free_slots = 0;
            for (const auto& slot : slots_) free_slots += slot->job == nullptr;
            while (free_slots > 0 && !queue_.empty()) {
                admitted.push_back(std::move(queue_.front()));
                queue_.pop_front();
                --free_slots;
            }
            n_waiting_.store(static_cast<int>(queue_.size()));
        }
        for (auto& job : dropped) {
            const bool cancelled =
                job->abandoned.load() || (job->cancelled != nullptr && job->cancelled->load());
            std::lock_guard lock(job->mutex);
            if (cancelled) {
                job->generation.finish = Finish::kCancelled;
                job->generation.model = info_.name;
                job->generation.usage.prompt_tokens = static_cast<int>(job->prompt.size());
                job->generation.queue_seconds = seconds_between(job->queued_at, Clock::now());
            } else {
                job->error = deadline_exceeded(
                    "request {}: the deadline passed while waiting for a slot", job->id);
            }
            job->done = true;
            job->changed.notify_all();
        }
        for (auto& job : admitted) {
            // The free slot sharing the longest prompt prefix; among equals the least recently
            // used, so that other caches live longer.
            Slot* best = nullptr;
            size_t best_common = 0;
            for (auto& slot : slots_) {
                if (slot->job) continue;
                const size_t common = common_prefix(*slot->session, job->prompt);
                if (!best || common > best_common ||
                    (common == best_common && slot->last_used < best->last_used)) {
                    best = slot.get();
                    best_common = common;
                }
            }
            admit(*best, std::move(job));
        }
        if (n_active_.load() > 0) step();
    }

    // Shutting down: every request still here fails.
    const Status down = unavailable("local backend '{}': shutting down", info_.name);
    for (auto& slot : slots_) {
        if (slot->job) fail_slot(*slot, down);
    }
    std::deque<std::shared_ptr<Job>> left;
    {
        std::lock_guard lock(mutex_);
        left.swap(queue_);
        n_waiting_.store(0);
    }
    for (auto& job : left) {
        std::lock_guard lock(job->mutex);
        job->error = down;
        job->done = true;
        job->changed.notify_all();
    }
}

size_t LocalBackend::common_prefix(const engine::Session& session,
                                   std::span<const int32_t> prompt) {
    // At most all but the last prompt token: its logits start the generation.
    const std::span<const int32_t> history = session.history();
    const size_t limit = std::min(history.size(), prompt.size() - 1);
    size_t n = 0;
    while (n < limit && history[n] == prompt[n]) ++n;
    return n;
}

void LocalBackend::admit(Slot& slot, std::shared_ptr<Job> job) {
    engine::Session& session = *slot.session;
    size_t reuse = common_prefix(session, job->prompt);
    // Another slot (free or busy) may hold a longer prefix: copy its KV rows.
    const Slot* donor = nullptr;
    size_t donor_common = reuse;
    for (const auto& other : slots_) {
        if (other.get() == &slot) continue;
        const size_t common = common_prefix(*other->session, job->prompt);
        if (common > donor_common) {
            donor = other.get();
            donor_common = common;
        }
    }
    if (donor) {
        Status copied = session.copy_prefix(*donor->session, static_cast<int>(donor_common));
        if (copied.ok()) {
            logger("llm")->debug("request {}: {} prompt tokens copied from another slot", job->id,
                                 donor_common);
            reuse = donor_common;
        } else {
            logger("llm")->warn("request {}: prefix copy failed, evaluating the prompt: {}",
                                job->id, copied.to_string());
        }
    }
    if (session.n_past() != static_cast<int>(reuse)) session.truncate(static_cast<int>(reuse));

    slot.job = std::move(job);
    Job& j = *slot.job;
    slot.sampler.emplace(j.options.sampling);
    slot.matcher.reset();
    if (j.options.grammar) slot.matcher.emplace(j.options.grammar, j.options.token_trie);
    slot.stream.emplace(model_->tokenizer(), j.options, j.starts_document);
    slot.pieces.clear();
    slot.prefilled = reuse;
    slot.chunk = 0;
    slot.cached = static_cast<int>(reuse);
    slot.next_token = -1;
    slot.admitted = ++use_clock_;
    slot.admitted_at = Clock::now();
    slot.sampled_any = false;
    n_active_.fetch_add(1);
}

void LocalBackend::step() {
    const auto now = Clock::now();
    for (auto& slot : slots_) {
        if (slot->job && slot->job->should_stop(now)) finish_slot(*slot, Finish::kCancelled);
    }

    // One row per decoding slot; prompt chunks for the others, oldest admission first, within
    // the per-step prompt budget.
    std::vector<Slot*> order;
    for (auto& slot : slots_) {
        if (slot->job) order.push_back(slot.get());
    }
    std::sort(order.begin(), order.end(),
              [](const Slot* a, const Slot* b) { return a->admitted < b->admitted; });
    std::vector<engine::BatchItem> items;
    std::vector<Slot*> item_slots;
    size_t budget = static_cast<size_t>(batch_);
    for (Slot* slot : order) {
        const std::vector<int32_t>& prompt = slot->job->prompt;
        slot->chunk = 0;
        if (slot->prefilled < prompt.size()) {
            slot->chunk = std::min(prompt.size() - slot->prefilled, budget);
            if (slot->chunk == 0) continue;
            budget -= slot->chunk;
            items.push_back({slot->session.get(), std::span<const int32_t>(prompt).subspan(
                                                      slot->prefilled, slot->chunk)});
        } else {
            items.push_back({slot->session.get(), std::span<const int32_t>(&slot->next_token, 1)});
        }
        item_slots.push_back(slot);
    }
    if (items.empty()) return;

    Status evaluated = evaluator_->eval(items, logits_);
    if (!evaluated.ok()) {
        logger("llm")->error("local backend '{}': batch of {} items failed: {}", info_.name,
                             items.size(), evaluated.to_string());
        for (Slot* slot : item_slots) fail_slot(*slot, evaluated);
        return;
    }

    const Tokenizer& tok = model_->tokenizer();
    const size_t n_vocab = static_cast<size_t>(tok.n_vocab());
    for (size_t i = 0; i < item_slots.size(); ++i) {
        Slot& slot = *item_slots[i];
        if (slot.chunk > 0) {
            slot.prefilled += slot.chunk;
            if (slot.prefilled < slot.job->prompt.size()) continue;  // more prompt to go
        }
        std::span<const float> logits(logits_.data() + i * n_vocab, n_vocab);
        engine::Sampled sampled;
        if (slot.matcher) {
            auto constrained = engine::sample_constrained(*slot.sampler, *slot.matcher, logits,
                                                          slot.session->history());
            Status accepted =
                constrained ? slot.matcher->accept(constrained->id) : constrained.error();
            if (!accepted.ok()) {
                fail_slot(slot, accepted.with_context(
                                    fmt::format("request {}: constrained decoding", slot.job->id)));
                continue;
            }
            sampled = std::move(*constrained);
        } else {
            sampled = slot.sampler->sample(logits, slot.session->history());
        }
        if (!slot.sampled_any) {
            slot.sampled_any = true;
            slot.first_token_at = Clock::now();
        }
        // A full context can show this token but never evaluate it.
        const bool last = slot.session->n_past() >= slot.session->n_ctx();
        const size_t tokens_before = slot.stream->result().tokens.size();
        engine::StreamStep streamed = slot.stream->push(sampled, last);
        const bool is_token = slot.stream->result().tokens.size() > tokens_before;
        if (!streamed.text.empty() || (is_token && slot.job->want_logprobs)) {
            Piece piece;
            piece.text = std::string(streamed.text);
            if (is_token && slot.job->want_logprobs) {
                piece.token = valid_utf8(tok.token_to_piece(sampled.id, true));
                piece.logprob = sampled.logprob;
                for (const engine::TokenLogprob& alt : sampled.top) {
                    piece.top.push_back(
                        {valid_utf8(tok.token_to_piece(alt.id, true)), alt.logprob});
                }
                slot.pieces.push_back(piece);
            } else if (slot.job->want_logprobs && !slot.pieces.empty()) {
                // Held-back text released by the end-of-generation token: Generation::pieces
                // stay one per token and still spell the whole text.
                slot.pieces.back().text += piece.text;
            }
            std::lock_guard lock(slot.job->mutex);
            slot.job->pieces.push_back(std::move(piece));
            slot.job->changed.notify_all();
        }
        if (streamed.done) {
            finish_slot(slot, to_finish(slot.stream->result().finish));
        } else {
            slot.next_token = sampled.id;
        }
    }
}

void LocalBackend::finish_slot(Slot& slot, Finish finish) {
    Job& job = *slot.job;
    const auto now = Clock::now();
    if (finish == Finish::kCancelled && !slot.sampled_any && now >= job.deadline &&
        !job.abandoned.load() && !(job.cancelled && job.cancelled->load())) {
        fail_slot(slot, deadline_exceeded("request {}: the deadline passed before the first token",
                                          job.id));
        return;
    }
    if (finish == Finish::kCancelled) slot.stream->cancel();
    engine::GenerateResult result = slot.stream->take_result();
    Generation g;
    g.text = std::move(result.text);
    if (job.want_logprobs) g.pieces = std::move(slot.pieces);
    g.finish = finish;
    g.usage.prompt_tokens = static_cast<int>(job.prompt.size());
    g.usage.completion_tokens = static_cast<int>(result.tokens.size());
    g.usage.cached_prompt_tokens = slot.cached;
    g.model = info_.name;
    g.queue_seconds = seconds_between(job.queued_at, slot.admitted_at);
    const auto first = slot.sampled_any ? slot.first_token_at : now;
    g.prompt_seconds = seconds_between(slot.admitted_at, first);
    g.generate_seconds = seconds_between(first, now);
    logger("llm")->info(
        "request {}: {} prompt tokens ({} cached), {} generated, finish {}, queue {:.3f} s, "
        "prompt {:.3f} s, generate {:.3f} s",
        job.id, g.usage.prompt_tokens, g.usage.cached_prompt_tokens, g.usage.completion_tokens,
        finish_name(finish), g.queue_seconds, g.prompt_seconds, g.generate_seconds);
    // The slot is free before the caller wakes: active() never counts a returned request.
    std::shared_ptr<Job> owner = release_slot(slot);
    std::lock_guard lock(job.mutex);
    job.generation = std::move(g);
    job.done = true;
    job.changed.notify_all();
}

void LocalBackend::fail_slot(Slot& slot, const Status& status) {
    Job& job = *slot.job;
    logger("llm")->info("request {}: failed: {}", job.id, status_code_name(status.code()));
    std::shared_ptr<Job> owner = release_slot(slot);
    std::lock_guard lock(job.mutex);
    job.error = status;
    job.done = true;
    job.changed.notify_all();
}

std::shared_ptr<LocalBackend::Job> LocalBackend::release_slot(Slot& slot) {
    std::shared_ptr<Job> job = std::move(slot.job);
    slot.sampler.reset();
    slot.matcher.reset();
    slot.stream.reset();
    slot.pieces.clear();
    slot.last_used = ++use_clock_;
    n_active_.fetch_sub(1);
    return job;
}

Result<Embeddings> LocalBackend::embed(const EmbeddingRequest& request) {
    if (!encoder_) return Backend::embed(request);
    if (request.inputs.empty()) return invalid_argument("no input to embed");
    if (request.inputs.size() > kMaxEmbeddingInputs) {
        return invalid_argument("{} inputs given; at most {} are allowed per request",
                                request.inputs.size(), kMaxEmbeddingInputs);
    }
    std::vector<std::vector<int32_t>> ids;
    ids.reserve(request.inputs.size());
    int prompt_tokens = 0;
    for (size_t i = 0; i < request.inputs.size(); ++i) {
        if (size_t at = find_invalid_utf8(request.inputs[i]); at != std::string_view::npos) {
            return invalid_argument("input #{} is not valid UTF-8 (at byte {})", i, at);
        }
        ids.push_back(encoder_->tokenize(request.inputs[i]));
        prompt_tokens += static_cast<int>(ids.back().size());
    }
    ++n_active_;
    const auto t0 = Clock::now();
    auto vectors = encoder_->embed_tokens(ids);
    --n_active_;
    if (!vectors) return vectors.error();
    logger("llm")->debug("local backend '{}': {} inputs, {} tokens embedded in {:.3f} s",
                         info_.name, ids.size(), prompt_tokens, seconds_between(t0, Clock::now()));
    Embeddings out;
    out.vectors = std::move(*vectors);
    out.prompt_tokens = prompt_tokens;
    out.model = info_.name;
    return out;
}

}  // namespace ward::llm
