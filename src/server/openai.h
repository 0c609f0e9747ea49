// The OpenAI-compatible API's request and response shapes: parsing a /v1/chat/completions or
// /v1/completions body into an llm::Request (every field checked, errors naming the field as
// OpenAI's "param"), and building the JSON of responses, streamed chunks and errors, so that
// existing OpenAI clients work unchanged.
//
// Pure functions of their inputs (no I/O); the fuzz target `openai_request` drives the parsers.
// Thread safety: none needed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "llm/backend.h"

namespace ward::server::openai {

enum class Endpoint { kChat, kCompletion };

struct ParsedRequest {
    Endpoint endpoint = Endpoint::kChat;
    llm::Request request;  // model may be empty: the server's default model
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    bool max_tokens_given = false;
};

// A request error in the API's terms.
struct ApiError {
    int http_status = 400;
    std::string type = "invalid_request_error";
    std::string code;   // e.g. "model_not_found", "context_length_exceeded"; may be empty
    std::string param;  // the offending field ("messages[1].content"), may be empty
    std::string message;
};

// Parses a request body. Errors (kInvalidArgument) say which field and why, in the form
// "<param>: <what is wrong>" (see error_from_status()).
Result<ParsedRequest> parse_request(Endpoint endpoint, std::string_view body);

// Maps a Status to the API's error: the HTTP status from the code (common/status.h), the
// param from a "<param>: " prefix, the type from the status ("invalid_request_error",
// "authentication_error", "permission_error", "not_found_error", "rate_limit_error",
// "server_error").
ApiError error_from_status(const Status& status);
// {"error": {"message", "type", "param", "code"}}
nlohmann::json error_body(const ApiError& error);

// "chatcmpl-<24 hex>" / "cmpl-<24 hex>".
std::string new_response_id(Endpoint endpoint);

// The whole response of a non-streamed request.
nlohmann::json response_body(const ParsedRequest& request, const llm::Generation& generation,
                             const std::string& id, int64_t created);

// Streaming: the chunk carrying `piece` (the first chunk of a chat stream also carries the
// assistant role: pass first = true), the final chunk with the finish reason, and the usage
// chunk (choices empty) sent when stream_options.include_usage is set.
nlohmann::json chunk_body(const ParsedRequest& request, const llm::Piece& piece, bool first,
                          const std::string& model, const std::string& id, int64_t created);
nlohmann::json final_chunk_body(const ParsedRequest& request, llm::Finish finish,
                                const std::string& model, const std::string& id, int64_t created);
nlohmann::json usage_chunk_body(const ParsedRequest& request, const llm::Usage& usage,
                                const std::string& model, const std::string& id, int64_t created);
nlohmann::json usage_json(const llm::Usage& usage);

// The API's name of a finish reason ("stop", "length"; a cancelled generation reports
// "length": the client asked for no more).
std::string_view finish_reason(llm::Finish finish);

// One Server-Sent Event: "data: <json>\n\n".
std::string sse_event(const nlohmann::json& body);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace ward::server::openai
