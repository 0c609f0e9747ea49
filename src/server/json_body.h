// Parsing an untrusted JSON request body: nesting is bounded before the parser runs (a body of
// a million '[' would otherwise exhaust the stack of a recursive parser), and a syntax error
// names its byte offset.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ward::server {

inline constexpr int kMaxJsonDepth = 64;

// Errors: kInvalidArgument "invalid JSON at byte N: ..." or "JSON nested deeper than 64 levels
// at byte N".
Result<nlohmann::json> parse_json_body(std::string_view body, int max_depth = kMaxJsonDepth);

// Optional fields of a request object, by name; a missing or null field gives the default.
// Errors: kInvalidArgument naming the field ("k: expected an integer", "k: 99 is outside
// [1, 20]", "sources: expected an array of strings").
Result<std::string> body_string(const nlohmann::json& body, const char* key, std::string def);
Result<int64_t> body_int(const nlohmann::json& body, const char* key, int64_t def, int64_t lo,
                         int64_t hi);
Result<std::vector<std::string>> body_strings(const nlohmann::json& body, const char* key);

// Serialises a response; bytes that are not UTF-8 (never expected) become U+FFFD instead of
// throwing.
std::string dump_json(const nlohmann::json& value);

}  // namespace ward::server
