#include "llm/sse.h"

#include <utility>

namespace ward::llm {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace

SseReader::SseReader(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

Status SseReader::check_size(size_t line_bytes) {
    if (data_.size() + type_.size() + line_bytes > max_event_bytes_) {
        error_ = resource_exhausted("sse: an event is larger than the limit of {} bytes",
                                    max_event_bytes_);
    }
    return error_;
}

Status SseReader::feed(std::string_view bytes, const EventCallback& on_event) {
    if (!error_.ok()) return error_;
    if (stopped_) return ok_status();
    size_t pos = 0;
    if (skip_lf_ && !bytes.empty()) {
        // The previous chunk ended with the \r of a \r\n pair.
        if (bytes[0] == '\n') pos = 1;
        skip_lf_ = false;
    }
    while (pos < bytes.size()) {
        size_t end = bytes.find_first_of("\r\n", pos);
        if (end == std::string_view::npos) {
            std::string_view rest = bytes.substr(pos);
            WARD_TRY(check_size(line_.size() + rest.size()));
            line_.append(rest);
            break;
        }
        std::string_view piece = bytes.substr(pos, end - pos);
        WARD_TRY(check_size(line_.size() + piece.size()));
        std::string_view line = piece;
        if (!line_.empty()) {
            line_.append(piece);
            line = line_;
        }
        if (bytes[end] == '\r') {
            if (end + 1 < bytes.size()) {
                if (bytes[end + 1] == '\n') ++end;
            } else {
                skip_lf_ = true;
            }
        }
        pos = end + 1;
        bool keep_going = process_line(line, on_event);
        line_.clear();
        if (!keep_going) {
            stopped_ = true;
            break;
        }
    }
    return ok_status();
}

bool SseReader::process_line(std::string_view line, const EventCallback& on_event) {
    if (first_line_) {
        first_line_ = false;
        if (line.substr(0, kUtf8Bom.size()) == kUtf8Bom) line.remove_prefix(kUtf8Bom.size());
    }
    if (line.empty()) {
        // Dispatch. An event without data lines is dropped, its type forgotten.
        if (data_.empty()) {
            type_.clear();
            return true;
        }
        data_.pop_back();  // the \n after the last data line
        SseEvent event{std::move(type_), std::move(data_), last_id_};
        data_.clear();
        type_.clear();
        ++n_events_;
        return on_event(event);
    }
    if (line[0] == ':') return true;  // a comment (servers send them as keep-alives)
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
        value = line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
        data_.append(value);
        data_.push_back('\n');
    } else if (field == "event") {
        type_.assign(value);
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
    } else if (field == "retry") {
        bool digits = !value.empty() && value.size() <= 18;
        long long ms = 0;
        for (char c : value) {
            digits = digits && c >= '0' && c <= '9';
            if (digits) ms = ms * 10 + (c - '0');
        }
        if (digits) retry_ms_ = ms;
    }
    // Other fields are ignored, as the specification says.
    return true;
}

}  // namespace ward::llm
