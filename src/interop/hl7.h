// HL7 v2 (2.3 to 2.8): parsing messages, mapping ADT (A01, A03, A04, A08), ORU^R01 and the
// order/immunisation messages that carry RXE/RXA into PatientRecords, and acknowledging them.
//
// Parsing is zero-copy: an Hl7Message holds views into the caller's text (which must outlive
// it) split into segments and fields; components, repetitions and subcomponents are split, and
// escape sequences (\F\ \S\ \T\ \R\ \E\ \Xhh..\ \.br\) decoded, only when a value is asked for.
// The encoding characters come from MSH-1 and MSH-2, so any legal set works.
//
// Errors name the segment and field: `hl7: PID-7 (date of birth) "19851340" is not a date
// (segment 3)`. A message whose structure cannot be read (no MSH, bad encoding characters,
// unreadable segment) is rejected as a whole (ACK AR); a message whose content is wrong (a
// missing PID-3, a bad date) is an application error (ACK AE). Reading a file of many messages
// keeps every good message.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "interop/fhir.h"
#include "interop/record.h"

namespace ward::interop {

struct Hl7Encoding {
    char field = '|';
    char component = '^';
    char repetition = '~';
    char escape = '\\';
    char subcomponent = '&';
};

// One segment: its fields as raw (still escaped) text. fields[0] is the segment name; for MSH,
// fields[1] is the field separator itself and fields[2] the encoding characters, so that
// field(n) is MSH-n as the standard numbers it.
struct Hl7Segment {
    std::string_view name;
    std::span<const std::string_view> fields;
    size_t index = 0;    // 1-based position in the message
    size_t ordinal = 0;  // 1-based position among segments of the same name ("OBX[2]")
    // Raw field n (1-based); "" when absent.
    std::string_view field(size_t n) const { return n < fields.size() ? fields[n] : ""; }
};

class Hl7Message {
  public:
    // Parses one message. Segments may end in CR, LF or CRLF. Errors (kInvalidArgument, the
    // reason for an AR): no MSH at the start, invalid encoding characters, a segment whose
    // name is not three letters or digits. `text` must outlive the message.
    static Result<Hl7Message> parse(std::string_view text);

    Hl7Message(Hl7Message&&) = default;
    Hl7Message& operator=(Hl7Message&&) = default;

    const Hl7Encoding& encoding() const { return encoding_; }
    const std::vector<Hl7Segment>& segments() const { return segments_; }
    // The first segment named `name`, or null.
    const Hl7Segment* find(std::string_view name) const;

    // Component `component` (1-based) of repetition `repetition` (0-based) of a raw field,
    // subcomponent `sub` (1-based), still escaped.
    std::string_view component(std::string_view field, size_t component, size_t repetition = 0,
                               size_t sub = 1) const;
    // The same, unescaped.
    std::string value(std::string_view field, size_t component = 1, size_t repetition = 0,
                      size_t sub = 1) const;
    size_t repetitions(std::string_view field) const;
    // Decodes escape sequences of a raw value.
    std::string unescape(std::string_view raw) const;

    std::string_view message_type() const { return type_; }  // "ADT"
    std::string_view trigger() const { return trigger_; }    // "A01"
    std::string_view control_id() const { return control_id_; }
    std::string_view version() const { return version_; }  // "2.3"

  private:
    Hl7Message() = default;
    Hl7Encoding encoding_;
    std::vector<std::string_view> fields_;  // all fields of all segments
    std::vector<Hl7Segment> segments_;
    std::string_view type_, trigger_, control_id_, version_;
};

// Escapes text for an HL7 field (the separators and escape character).
std::string hl7_escape(std::string_view text, const Hl7Encoding& encoding = {});
// "20200928002206" → "2020-09-28T00:22:06", "19850916" → "1985-09-16",
// "202009280022-0500" → "2020-09-28T00:22-05:00". nullopt when not a TS/DTM.
std::optional<std::string> hl7_timestamp_to_iso(std::string_view ts);

// Maps one parsed message into records (not deduplicated: a single message rarely repeats
// itself, and PatientStore::put dedupes). Errors of content go into report.errors (the message
// is then left out, counted in n_skipped). `origin` is copied into every Source.
ReadResult read_hl7_message(const Hl7Message& message, std::string_view origin = {});
// Reads a file or stream of messages (each starting with MSH; FHS/BHS/BTS/FTS batch envelopes
// and MLLP framing bytes are skipped). Every good message is kept; each bad one is reported
// as "message N (control id X): ...".
ReadResult read_hl7(std::string_view text, std::string_view origin = {});

enum class AckCode { kAccept, kError, kReject };  // AA, AE, AR

struct AckInfo {
    AckCode code = AckCode::kAccept;
    std::string text;        // MSA-3 / ERR text: the reason for AE and AR
    std::string error_code;  // HL7 table 0357: "101" required field missing, "102" data type
                             // error, "200" unsupported message type, "207" internal error
};

// Builds the ACK for `message` (may be null when the message could not be parsed; then
// `raw` is scanned for a control id). `now` is the MSH-7 timestamp (YYYYMMDDHHMMSS) and
// `ack_control_id` MSH-10 of the ACK. Segments end in CR.
std::string make_ack(const Hl7Message* message, std::string_view raw, const AckInfo& info,
                     std::string_view now, std::string_view ack_control_id);

// The message types Ward maps ("ADT^A01", "ORU^R01", ...); others are rejected (AR 200).
bool hl7_supported_type(std::string_view type, std::string_view trigger);

}  // namespace ward::interop
