#include "server/json_body.h"

#include <algorithm>

namespace ward::server {

namespace {

// Scans structure only (strings skipped, escapes honoured) and fails past max_depth.
Status check_depth(std::string_view text, int max_depth) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) {
                return invalid_argument("JSON nested deeper than {} levels at byte {}", max_depth,
                                        i);
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return ok_status();
}

}  // namespace

Result<nlohmann::json> parse_json_body(std::string_view body, int max_depth) {
    WARD_TRY(check_depth(body, max_depth));
    nlohmann::json value = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        // Parse again for the position: the non-throwing form does not report it.
        try {
            nlohmann::json again = nlohmann::json::parse(body);
            (void)again;
        } catch (const nlohmann::json::parse_error& e) {
            // The parser's reason without its "last read" excerpt, which would echo request
            // bytes (possibly PHI) into error messages and logs.
            std::string_view reason = e.what();
            size_t colon = reason.find(": ");
            if (colon != std::string_view::npos) reason.remove_prefix(colon + 2);
            reason = reason.substr(0, reason.find("; last read"));
            return invalid_argument("invalid JSON at byte {}: {}", e.byte, reason);
        } catch (const std::exception&) {
        }
        return invalid_argument("invalid JSON");
    }
    return value;
}

std::string dump_json(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::string> body_string(const nlohmann::json& body, const char* key, std::string def) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return def;
    if (!it->is_string()) return invalid_argument("{}: expected a string", key);
    return it->get<std::string>();
}

Result<int64_t> body_int(const nlohmann::json& body, const char* key, int64_t def, int64_t lo,
                         int64_t hi) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return def;
    if (!it->is_number_integer() && !it->is_number_unsigned()) {
        return invalid_argument("{}: expected an integer", key);
    }
    int64_t v = it->is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(
                                               it->get<uint64_t>(), static_cast<uint64_t>(hi) + 1))
                                         : it->get<int64_t>();
    if (v < lo || v > hi) return invalid_argument("{}: {} is outside [{}, {}]", key, v, lo, hi);
    return v;
}

Result<std::vector<std::string>> body_strings(const nlohmann::json& body, const char* key) {
    std::vector<std::string> out;
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return out;
    if (!it->is_array()) return invalid_argument("{}: expected an array of strings", key);
    for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) return invalid_argument("{}[{}]: expected a string", key, i);
        out.push_back((*it)[i].get<std::string>());
    }
    return out;
}

}  // namespace ward::server
