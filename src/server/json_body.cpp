#include "server/json_body.h"

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

}  // namespace ward::server
