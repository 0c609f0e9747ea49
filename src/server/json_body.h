// Parsing an untrusted JSON request body: nesting is bounded before the parser runs (a body of
// a million '[' would otherwise exhaust the stack of a recursive parser), and a syntax error
// names its byte offset.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ward::server {

inline constexpr int kMaxJsonDepth = 64;

// Errors: kInvalidArgument "invalid JSON at byte N: ..." or "JSON nested deeper than 64 levels
// at byte N".
Result<nlohmann::json> parse_json_body(std::string_view body, int max_depth = kMaxJsonDepth);

// Serialises a response; bytes that are not UTF-8 (never expected) become U+FFFD instead of
// throwing.
std::string dump_json(const nlohmann::json& value);

}  // namespace ward::server
