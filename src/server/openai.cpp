#include "server/openai.h"

#include <cmath>

#include "common/crypto.h"
#include "engine/json_schema.h"
#include "server/json_body.h"

namespace ward::server::openai {

using nlohmann::json;

namespace {

Status field_error(std::string_view param, std::string_view what) {
    return invalid_argument("{}: {}", param, what);
}

std::string_view type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "an array";
        case json::value_t::object:
            return "an object";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number";
        default:
            return "an unsupported value";
    }
}

// Optional number in [lo, hi]; null counts as absent.
Result<std::optional<double>> get_number(const json& body, const char* key, double lo, double hi) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::optional<double>();
    if (!it->is_number()) {
        return field_error(key, fmt::format("expected a number, got {}", type_name(*it)));
    }
    double v = it->get<double>();
    if (!std::isfinite(v) || v < lo || v > hi) {
        return field_error(key, fmt::format("{} is outside [{}, {}]", v, lo, hi));
    }
    return std::optional<double>(v);
}

Result<std::optional<int64_t>> get_integer(const json& body, const char* key, int64_t lo,
                                           int64_t hi) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::optional<int64_t>();
    if (it->is_number_float()) {
        double d = it->get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
            int64_t v = static_cast<int64_t>(d);
            if (v >= lo && v <= hi) return std::optional<int64_t>(v);
        }
        return field_error(key, fmt::format("expected an integer in [{}, {}]", lo, hi));
    }
    if (it->is_number_unsigned()) {
        uint64_t u = it->get<uint64_t>();
        if (u > static_cast<uint64_t>(hi) || (lo > 0 && u < static_cast<uint64_t>(lo))) {
            return field_error(key, fmt::format("{} is outside [{}, {}]", u, lo, hi));
        }
        return std::optional<int64_t>(static_cast<int64_t>(u));
    }
    if (!it->is_number_integer()) {
        return field_error(key, fmt::format("expected an integer, got {}", type_name(*it)));
    }
    int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) return field_error(key, fmt::format("{} is outside [{}, {}]", v, lo, hi));
    return std::optional<int64_t>(v);
}

Result<std::optional<bool>> get_bool(const json& body, const char* key) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return std::optional<bool>();
    if (!it->is_boolean()) {
        return field_error(key, fmt::format("expected a boolean, got {}", type_name(*it)));
    }
    return std::optional<bool>(it->get<bool>());
}

// Message content: a string, or an array of {"type": "text", "text": ...} parts.
Result<std::string> message_content(const json& content, const std::string& param) {
    if (content.is_string()) return content.get<std::string>();
    if (content.is_null()) return std::string();
    if (!content.is_array()) {
        return field_error(param, fmt::format("expected a string or an array of text parts, got {}",
                                              type_name(content)));
    }
    std::string text;
    for (size_t i = 0; i < content.size(); ++i) {
        const json& part = content[i];
        std::string p = fmt::format("{}[{}]", param, i);
        if (!part.is_object()) return field_error(p, "expected an object");
        auto type = part.find("type");
        if (type == part.end() || !type->is_string()) {
            return field_error(p + ".type", "required string");
        }
        if (*type != "text") {
            return field_error(p + ".type",
                               fmt::format("\"{}\" parts are not supported (text only)",
                                           type->get<std::string>()));
        }
        auto t = part.find("text");
        if (t == part.end() || !t->is_string()) return field_error(p + ".text", "required string");
        if (!text.empty()) text += "\n";
        text += t->get<std::string>();
    }
    return text;
}

Status parse_messages(const json& body, llm::Request& out) {
    auto it = body.find("messages");
    if (it == body.end() || it->is_null()) return field_error("messages", "required");
    if (!it->is_array()) {
        return field_error("messages", fmt::format("expected an array, got {}", type_name(*it)));
    }
    if (it->empty()) return field_error("messages", "must hold at least one message");
    for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        std::string param = fmt::format("messages[{}]", i);
        if (!m.is_object()) return field_error(param, "expected an object");
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) {
            return field_error(param + ".role", "required string");
        }
        std::string r = role->get<std::string>();
        if (r == "developer") r = "system";
        if (r != "system" && r != "user" && r != "assistant") {
            return field_error(param + ".role",
                               fmt::format("\"{}\" is not supported (system, developer, user, "
                                           "assistant)",
                                           role->get<std::string>()));
        }
        auto content = m.find("content");
        if (content == m.end()) return field_error(param + ".content", "required");
        if (content->is_null() && r != "assistant") {
            return field_error(param + ".content", "required for a " + r + " message");
        }
        WARD_ASSIGN_OR_RETURN(std::string text, message_content(*content, param + ".content"));
        out.messages.push_back({std::move(r), std::move(text)});
    }
    return ok_status();
}

Status parse_prompt(const json& body, llm::Request& out) {
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) return field_error("prompt", "required");
    if (it->is_string()) {
        out.prompt = it->get<std::string>();
        return ok_status();
    }
    if (it->is_array()) {
        if (it->size() == 1 && (*it)[0].is_string()) {
            out.prompt = (*it)[0].get<std::string>();
            return ok_status();
        }
        if (!it->empty() && (*it)[0].is_number()) {
            return field_error("prompt", "token id prompts are not supported; send text");
        }
        return field_error("prompt", "send one prompt per request");
    }
    return field_error("prompt", fmt::format("expected a string, got {}", type_name(*it)));
}

Status parse_stop(const json& body, llm::GenerationParams& p) {
    auto it = body.find("stop");
    if (it == body.end() || it->is_null()) return ok_status();
    if (it->is_string()) {
        if (!it->get<std::string>().empty()) p.stop.push_back(it->get<std::string>());
        return ok_status();
    }
    if (!it->is_array()) {
        return field_error("stop", fmt::format("expected a string or an array of strings, got {}",
                                               type_name(*it)));
    }
    if (it->size() > 4) return field_error("stop", "at most 4 stop sequences");
    for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string())
            return field_error(fmt::format("stop[{}]", i), "expected a string");
        std::string s = (*it)[i].get<std::string>();
        if (!s.empty()) p.stop.push_back(std::move(s));
    }
    return ok_status();
}

// Fields the API defines that Ward does not implement: refused rather than ignored, so a
// client never believes it got what it asked for.
Status refuse_unsupported(const json& body) {
    auto tools = body.find("tools");
    if (tools != body.end() && !tools->is_null() && !(tools->is_array() && tools->empty())) {
        return field_error("tools", "tool calls are not supported");
    }
    auto fn = body.find("functions");
    if (fn != body.end() && !fn->is_null()) {
        return field_error("functions", "function calls are not supported");
    }
    for (const char* key : {"echo", "suffix"}) {
        auto it = body.find(key);
        if (it != body.end() && !it->is_null() && *it != false && *it != "") {
            return field_error(key, "is not supported");
        }
    }
    auto best = body.find("best_of");
    if (best != body.end() && !best->is_null() && *best != 1) {
        return field_error("best_of", "only 1 is supported");
    }
    return ok_status();
}

// response_format: {"type": "text"} (the default), {"type": "json_object"} (any JSON object),
// or {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}. The schema is
// compiled here so that an unsupported one is a 400 naming its keyword; its text is taken from
// `text` again, in document order (properties are generated in the order they are listed).
Status parse_response_format(const json& body, std::string_view text, llm::GenerationParams& p) {
    auto rf = body.find("response_format");
    if (rf == body.end() || rf->is_null()) return ok_status();
    if (!rf->is_object()) {
        return field_error("response_format",
                           fmt::format("expected an object, got {}", type_name(*rf)));
    }
    auto type = rf->find("type");
    if (type == rf->end() || !type->is_string()) {
        return field_error("response_format.type",
                           "required: \"text\", \"json_object\" or \"json_schema\"");
    }
    const std::string kind = type->get<std::string>();
    if (kind == "text") return ok_status();
    if (kind == "json_object") {
        p.json_schema = R"({"type":"object"})";
        return ok_status();
    }
    if (kind != "json_schema") {
        return field_error("response_format.type",
                           fmt::format("\"{}\" is not one of \"text\", \"json_object\", "
                                       "\"json_schema\"",
                                       kind));
    }
    auto spec = rf->find("json_schema");
    if (spec == rf->end() || !spec->is_object()) {
        return field_error("response_format.json_schema",
                           "required with type \"json_schema\": an object with name and schema");
    }
    auto name = spec->find("name");
    if (name == spec->end() || !name->is_string() || name->get<std::string>().empty() ||
        name->get<std::string>().size() > 64 ||
        name->get<std::string>().find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            std::string::npos) {
        return field_error("response_format.json_schema.name",
                           "required: 1 to 64 letters, digits, '_' or '-'");
    }
    if (auto strict = spec->find("strict");
        strict != spec->end() && !strict->is_null() && !strict->is_boolean()) {
        return field_error("response_format.json_schema.strict", "expected a boolean");
    }
    auto schema = spec->find("schema");
    if (schema == spec->end() || !schema->is_object()) {
        return field_error("response_format.json_schema.schema",
                           schema == spec->end()
                               ? std::string("required: a JSON Schema object")
                               : fmt::format("expected an object, got {}", type_name(*schema)));
    }
    // Document order: the body parsed again, keeping key order.
    const auto ordered = nlohmann::ordered_json::parse(text, nullptr, false);
    std::string schema_text = schema->dump();
    if (!ordered.is_discarded()) {
        schema_text = ordered["response_format"]["json_schema"]["schema"].dump(
            -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    }
    auto grammar = engine::compile_json_schema(std::string_view(schema_text));
    if (!grammar) {
        return field_error("response_format.json_schema.schema", grammar.error().message());
    }
    p.json_schema = std::move(schema_text);
    return ok_status();
}

}  // namespace

Result<ParsedRequest> parse_request(Endpoint endpoint, std::string_view text) {
    WARD_ASSIGN_OR_RETURN(json body, parse_json_body(text));
    if (!body.is_object()) {
        return invalid_argument("body: expected a JSON object, got {}", type_name(body));
    }
    ParsedRequest out;
    out.endpoint = endpoint;
    llm::Request& r = out.request;
    llm::GenerationParams& p = r.params;

    if (auto m = body.find("model"); m != body.end() && !m->is_null()) {
        if (!m->is_string()) {
            return field_error("model", fmt::format("expected a string, got {}", type_name(*m)));
        }
        r.model = m->get<std::string>();
    }
    WARD_TRY(refuse_unsupported(body));
    if (endpoint == Endpoint::kChat) {
        WARD_TRY(parse_messages(body, r));
    } else {
        WARD_TRY(parse_prompt(body, r));
    }
    WARD_ASSIGN_OR_RETURN(auto n, get_integer(body, "n", 1, 128));
    if (n && *n != 1) return field_error("n", "only 1 choice per request is supported");

    constexpr int64_t kMaxTokens = 1 << 20;
    WARD_ASSIGN_OR_RETURN(auto max_tokens, get_integer(body, "max_tokens", 1, kMaxTokens));
    WARD_ASSIGN_OR_RETURN(auto max_completion,
                          get_integer(body, "max_completion_tokens", 1, kMaxTokens));
    if (max_completion) max_tokens = max_completion;
    out.max_tokens_given = max_tokens.has_value();
    // Without a limit, as in OpenAI's API: chat runs until the model stops or the context is
    // full (0), completions stop after 16 tokens.
    p.max_tokens =
        max_tokens ? static_cast<int>(*max_tokens) : (endpoint == Endpoint::kChat ? 0 : 16);

    WARD_ASSIGN_OR_RETURN(auto temperature, get_number(body, "temperature", 0, 2));
    if (temperature) p.temperature = static_cast<float>(*temperature);
    WARD_ASSIGN_OR_RETURN(auto top_p, get_number(body, "top_p", 0, 1));
    if (top_p) {
        if (*top_p <= 0) return field_error("top_p", "must be greater than 0");
        p.top_p = static_cast<float>(*top_p);
    }
    WARD_ASSIGN_OR_RETURN(auto seed, get_integer(body, "seed", INT64_MIN, INT64_MAX));
    if (seed) p.seed = static_cast<uint64_t>(*seed);
    WARD_ASSIGN_OR_RETURN(auto presence, get_number(body, "presence_penalty", -2, 2));
    if (presence) p.presence_penalty = static_cast<float>(*presence);
    WARD_ASSIGN_OR_RETURN(auto frequency, get_number(body, "frequency_penalty", -2, 2));
    if (frequency) p.frequency_penalty = static_cast<float>(*frequency);
    WARD_TRY(parse_stop(body, p));
    WARD_TRY(parse_response_format(body, text, p));

    if (endpoint == Endpoint::kChat) {
        WARD_ASSIGN_OR_RETURN(auto logprobs, get_bool(body, "logprobs"));
        p.logprobs = logprobs.value_or(false);
        WARD_ASSIGN_OR_RETURN(auto top, get_integer(body, "top_logprobs", 0, 20));
        if (top) {
            if (!p.logprobs && *top > 0) {
                return field_error("top_logprobs", "requires \"logprobs\": true");
            }
            p.top_logprobs = static_cast<int>(*top);
        }
    } else {
        WARD_ASSIGN_OR_RETURN(auto logprobs, get_integer(body, "logprobs", 0, 5));
        if (logprobs) {
            p.logprobs = true;
            p.top_logprobs = static_cast<int>(*logprobs);
        }
    }

    WARD_ASSIGN_OR_RETURN(auto stream, get_bool(body, "stream"));
    out.stream = stream.value_or(false);
    if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
        if (!so->is_object()) return field_error("stream_options", "expected an object");
        if (!out.stream) return field_error("stream_options", "requires \"stream\": true");
        WARD_ASSIGN_OR_RETURN(auto usage, get_bool(*so, "include_usage"));
        out.include_usage = usage.value_or(false);
    }
    if (auto u = body.find("user"); u != body.end() && !u->is_null() && !u->is_string()) {
        return field_error("user", "expected a string");
    }
    return out;
}

ApiError error_from_status(const Status& status) {
    ApiError e;
    e.http_status = http_status(status.code());
    e.message = status.message();
    switch (status.code()) {
        case StatusCode::kUnauthenticated:
            e.type = "authentication_error";
            break;
        case StatusCode::kPermissionDenied:
            e.type = "permission_error";
            break;
        case StatusCode::kNotFound:
            e.type = "not_found_error";
            break;
        case StatusCode::kResourceExhausted:
            e.type = "rate_limit_error";
            break;
        case StatusCode::kInvalidArgument:
        case StatusCode::kFailedPrecondition:
            e.type = "invalid_request_error";
            break;
        default:
            e.type = "server_error";
            break;
    }
    e.code = std::string(status_code_name(status.code()));
    // The codes OpenAI clients look for.
    const std::string& text = status.message();
    if (status.code() == StatusCode::kNotFound && text.starts_with("model \"")) {
        e.code = "model_not_found";
        e.param = "model";
    } else if (text.find("does not fit the context") != std::string::npos) {
        e.code = "context_length_exceeded";
    }
    // "<param>: message" where param is a field path.
    const std::string& m = status.message();
    size_t colon = m.find(": ");
    if (status.code() == StatusCode::kInvalidArgument && colon != std::string::npos && colon < 80) {
        std::string_view head(m.data(), colon);
        bool path = !head.empty();
        for (char c : head) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' ||
                  c == ']' || c == '-')) {
                path = false;
                break;
            }
        }
        if (path && head != "body" && e.param.empty()) e.param = std::string(head);
    }
    return e;
}

json error_body(const ApiError& e) {
    json err = {{"message", e.message}, {"type", e.type}};
    err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
    err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
    return json{{"error", std::move(err)}};
}

std::string new_response_id(Endpoint endpoint) {
    auto bytes = crypto::random_bytes(12);
    return (endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-") + crypto::to_hex(bytes);
}

std::string_view finish_reason(llm::Finish finish) {
    return finish == llm::Finish::kStop ? "stop" : "length";
}

json usage_json(const llm::Usage& u) {
    return json{{"prompt_tokens", u.prompt_tokens},
                {"completion_tokens", u.completion_tokens},
                {"total_tokens", u.prompt_tokens + u.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

namespace {

json token_bytes(const std::string& token) {
    json bytes = json::array();
    for (unsigned char c : token) bytes.push_back(int(c));
    return bytes;
}

// Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs: [...]}, ...]}.
json chat_logprobs(const std::vector<llm::Piece>& pieces) {
    json content = json::array();
    for (const llm::Piece& p : pieces) {
        json top = json::array();
        for (const auto& t : p.top) {
            top.push_back(
                {{"token", t.token}, {"logprob", t.logprob}, {"bytes", token_bytes(t.token)}});
        }
        content.push_back({{"token", p.token},
                           {"logprob", p.logprob},
                           {"bytes", token_bytes(p.token)},
                           {"top_logprobs", std::move(top)}});
    }
    return json{{"content", std::move(content)}};
}

// Legacy completions logprobs: parallel arrays.
json completion_logprobs(const std::vector<llm::Piece>& pieces, size_t text_offset) {
    json tokens = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
    for (const llm::Piece& p : pieces) {
        tokens.push_back(p.token);
        lps.push_back(p.logprob);
        json top = json::object();
        for (const auto& t : p.top) top[t.token] = t.logprob;
        tops.push_back(std::move(top));
        offs.push_back(text_offset);
        text_offset += p.token.size();
    }
    return json{{"tokens", std::move(tokens)},
                {"token_logprobs", std::move(lps)},
                {"top_logprobs", std::move(tops)},
                {"text_offset", std::move(offs)}};
}

json envelope(const ParsedRequest& r, const std::string& model, const std::string& id,
              int64_t created, bool chunk) {
    const bool chat = r.endpoint == Endpoint::kChat;
    return json{{"id", id},
                {"object",
                 chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"},
                {"created", created},
                {"model", model},
                {"system_fingerprint", nullptr}};
}

}  // namespace

json response_body(const ParsedRequest& r, const llm::Generation& g, const std::string& id,
                   int64_t created) {
    json body = envelope(r, g.model, id, created, false);
    const bool want_logprobs = r.request.params.logprobs;
    json choice = {{"index", 0}, {"finish_reason", finish_reason(g.finish)}};
    if (r.endpoint == Endpoint::kChat) {
        choice["message"] = {{"role", "assistant"}, {"content", g.text}, {"refusal", nullptr}};
        choice["logprobs"] = want_logprobs ? chat_logprobs(g.pieces) : json(nullptr);
    } else {
        choice["text"] = g.text;
        choice["logprobs"] = want_logprobs ? completion_logprobs(g.pieces, 0) : json(nullptr);
    }
    body["choices"] = json::array({std::move(choice)});
    body["usage"] = usage_json(g.usage);
    return body;
}

json chunk_body(const ParsedRequest& r, const llm::Piece& piece, bool first,
                const std::string& model, const std::string& id, int64_t created) {
    json body = envelope(r, model, id, created, true);
    const bool want_logprobs = r.request.params.logprobs;
    json choice = {{"index", 0}, {"finish_reason", nullptr}};
    if (r.endpoint == Endpoint::kChat) {
        json delta = {{"content", piece.text}};
        if (first) delta["role"] = "assistant";
        choice["delta"] = std::move(delta);
        choice["logprobs"] =
            want_logprobs && !piece.token.empty() ? chat_logprobs({piece}) : json(nullptr);
    } else {
        choice["text"] = piece.text;
        choice["logprobs"] =
            want_logprobs && !piece.token.empty() ? completion_logprobs({piece}, 0) : json(nullptr);
    }
    body["choices"] = json::array({std::move(choice)});
    if (r.include_usage) body["usage"] = nullptr;
    return body;
}

json final_chunk_body(const ParsedRequest& r, llm::Finish finish, const std::string& model,
                      const std::string& id, int64_t created) {
    json body = envelope(r, model, id, created, true);
    json choice = {{"index", 0}, {"finish_reason", finish_reason(finish)}, {"logprobs", nullptr}};
    if (r.endpoint == Endpoint::kChat) {
        choice["delta"] = json::object();
    } else {
        choice["text"] = "";
    }
    body["choices"] = json::array({std::move(choice)});
    if (r.include_usage) body["usage"] = nullptr;
    return body;
}

json usage_chunk_body(const ParsedRequest& r, const llm::Usage& usage, const std::string& model,
                      const std::string& id, int64_t created) {
    json body = envelope(r, model, id, created, true);
    body["choices"] = json::array();
    body["usage"] = usage_json(usage);
    return body;
}

std::string sse_event(const json& body) {
    std::string out = "data: ";
    out += dump_json(body);
    out += "\n\n";
    return out;
}

}  // namespace ward::server::openai
