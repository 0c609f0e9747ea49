// De-identification of clinical text: finds the 18 HIPAA Safe Harbor identifiers (names,
// locations smaller than a state, dates, ages over 89, phone and fax numbers, e-mail, SSNs,
// record, plan, account, licence, vehicle and device numbers, URLs, IP addresses, biometric
// and other identifiers) and replaces them by a tag, a mask or a realistic surrogate.
//
// Detection is deterministic and runs in one pass over the bytes: hand-written scanners for
// structured identifiers (dates, numbers, addresses, e-mail, URLs), context rules (titles,
// labels, relations, credentials), lexicons (first names, surnames, places; a list of clinical
// words that are not PHI) and propagation of a name found with strong evidence to its other
// mentions in the same text. See docs/deid.md.
//
// Surrogates are keyed by a per-deployment secret: the same real value of the same patient
// always gets the same surrogate (HMAC-SHA-256 over secret, patient key, category and the
// normalised value), and every date of a patient moves by the same secret offset.
//
// Thread safety: a Deidentifier is immutable after create(); any number of threads may call
// detect() and deidentify() on one instance concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::deid {

enum class Category : uint8_t {
    kName,      // people: patients, relatives, clinicians
    kStreet,    // street address: number, street, unit
    kCity,      // city or town
    kZip,       // ZIP code
    kFacility,  // hospital, clinic, practice
    kLocation,  // other places smaller than a state (county, ...)
    kDate,      // any element of a date but the year; weekdays; holidays
    kAge,       // ages over 89
    kPhone,
    kFax,
    kEmail,
    kSsn,
    kMrn,         // medical record number
    kHealthPlan,  // health plan beneficiary / member number
    kAccount,
    kLicense,  // certificate and licence numbers
    kVehicle,  // plates, VINs
    kDevice,   // device identifiers and serial numbers
    kUrl,
    kIp,
    kBiometric,
    kId,  // any other unique identifying number or code
};
inline constexpr int kNumCategories = 22;

// "NAME", "STREET", ... (the names used in JSON, redaction tags and gold files).
std::string_view category_name(Category c);
// Inverse of category_name(); case-insensitive. Errors: kInvalidArgument for an unknown name.
Result<Category> parse_category(std::string_view name);

// One identifier found in the input.
struct Span {
    size_t start = 0;  // byte offset in the input, inclusive
    size_t end = 0;    // byte offset, exclusive
    Category category = Category::kId;
    float confidence = 0;  // 0..1: how sure the detector is (context > lexicon > shape)
};

enum class Mode : uint8_t {
    kRedact,     // "[NAME]"
    kMask,       // one '*' per character
    kSurrogate,  // a realistic, format-preserving fake value
};
// "redact" | "mask" | "surrogate". Errors: kInvalidArgument.
Result<Mode> parse_mode(std::string_view name);

// One replacement made: what the output says, and what the input said. The vault stores these.
struct Replacement {
    std::string surrogate;  // as written in the output
    std::string original;   // as read from the input
    Category category = Category::kId;
};

struct DeidResult {
    std::string text;                       // the de-identified text
    std::vector<Span> spans;                // what was found, offsets into the input
    std::vector<Replacement> replacements;  // one per distinct (surrogate, original) pair
};

struct DeidentifierOptions {
    // The per-deployment secret that keys surrogates and date offsets. Required (>= 16 bytes)
    // for surrogate mode; never logged or stored by this module.
    std::vector<uint8_t> secret;
    // Spans below this confidence are not reported or replaced.
    float min_confidence = 0.5f;
};

class Deidentifier {
  public:
    // Builds the lexicons (embedded in the binary; no files are read). Errors:
    // kInvalidArgument when a secret is given and is shorter than 16 bytes.
    static Result<std::unique_ptr<Deidentifier>> create(DeidentifierOptions options = {});
    ~Deidentifier();

    // Finds the identifiers in `text`: spans sorted by start, never overlapping, offsets in
    // bytes of `text`. Errors: kInvalidArgument when `text` is not valid UTF-8 (the message
    // gives the byte offset). Empty text gives no spans. Any size is accepted; memory is
    // proportional to the input.
    Result<std::vector<Span>> detect(std::string_view text) const;

    // Detects and replaces. `patient_key` scopes surrogates and the date offset (the same key
    // gives the same pseudonyms and the same shift in every call); it is only read in
    // surrogate mode, where an empty key is allowed (one shared scope). Errors: those of
    // detect(), and kFailedPrecondition for surrogate mode without a secret.
    Result<DeidResult> deidentify(std::string_view text, Mode mode,
                                  std::string_view patient_key = {}) const;

    // The date offset in days that surrogate mode applies for `patient_key`: +-30..395, never
    // 0 nor a multiple of 7. Returns 0 when no secret is configured.
    int date_shift_days(std::string_view patient_key) const;

  private:
    struct Impl;
    explicit Deidentifier(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Checks that `text` is valid UTF-8. Errors: kInvalidArgument naming the first bad byte.
Status validate_utf8(std::string_view text);

}  // namespace ward::deid
