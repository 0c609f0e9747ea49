// An incremental reader of Server-Sent Events (the WHATWG "text/event-stream" format), as
// streamed by OpenAI-compatible servers: bytes arrive in chunks cut anywhere (inside a line,
// between the \r and \n of a line end, inside a UTF-8 character), and complete events come out
// in order. Lines end in \n, \r\n or \r; "data:" fields of one event are joined with \n; an
// event is dispatched at a blank line; lines starting with ":" are comments; a leading UTF-8
// BOM is skipped; an incomplete event at the end of the stream is never dispatched (as the
// specification says). Each event is bounded in size so a misbehaving upstream cannot make us
// buffer without limit.
//
// Thread safety: an SseReader is a single-stream state machine; use one per stream, from one
// thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ward::llm {

struct SseEvent {
    std::string type;  // the "event:" field; empty means the default type, "message"
    std::string data;  // the "data:" lines joined with \n (no trailing \n)
    std::string id;    // the last "id:" field of the stream so far, as the specification says

    // True for the OpenAI end-of-stream marker `data: [DONE]`.
    bool is_done() const { return data == "[DONE]"; }
};

class SseReader {
  public:
    static constexpr size_t kDefaultMaxEventBytes = size_t{1} << 20;

    // `max_event_bytes` bounds the stored fields of one event plus the line being read.
    explicit SseReader(size_t max_event_bytes = kDefaultMaxEventBytes);

    // Returns true to keep reading, false to stop (feed() then returns at once, and later
    // calls do nothing).
    using EventCallback = std::function<bool(const SseEvent& event)>;

    // Consumes the next bytes of the stream, calling `on_event` for every event completed by
    // them, in order. Errors: kResourceExhausted when an event (or a single line) grows past
    // the limit; the reader then stays failed and every later call returns the same error.
    Status feed(std::string_view bytes, const EventCallback& on_event);

    // True after `on_event` returned false.
    bool stopped() const { return stopped_; }
    // Events dispatched so far.
    size_t events() const { return n_events_; }
    // The value of the last "retry:" field (milliseconds), or -1 if none was sent.
    long long retry_ms() const { return retry_ms_; }

  private:
    // Handles one complete line (without its terminator); false when the callback stopped.
    bool process_line(std::string_view line, const EventCallback& on_event);
    Status check_size(size_t line_bytes);

    size_t max_event_bytes_;
    std::string line_;        // the current, unterminated line
    bool skip_lf_ = false;    // the previous chunk ended with \r: a leading \n belongs to it
    bool first_line_ = true;  // a UTF-8 BOM may start the stream
    std::string data_;        // data lines of the event being read, each followed by \n
    std::string type_;
    std::string last_id_;
    long long retry_ms_ = -1;
    size_t n_events_ = 0;
    bool stopped_ = false;
    Status error_;
};

}  // namespace ward::llm
