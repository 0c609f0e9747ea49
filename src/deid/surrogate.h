// Replacement of detected spans: redaction tags, masks, and keyed, format-preserving
// surrogates with per-patient date shifting. Internal to deid/; the API is
// Deidentifier::deidentify().
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "deid/internal.h"

namespace ward::deid::internal {

// The per-patient date offset in days: HMAC(secret, "date-shift" | patient) mapped to
// +-[30, 395], never a multiple of 7 or 28 (so a weekday or "the 14th" always changes).
int date_shift_days(std::span<const uint8_t> secret, std::string_view patient_key);

// A non-zero 64-bit fingerprint of the secret (an HMAC, not the secret): the per-thread cache
// of per-patient keys is keyed by it, so no copy of the secret is kept there.
uint64_t secret_fingerprint(std::span<const uint8_t> secret);

// Writes the replaced text into out.text and the (surrogate, original) pairs into
// out.replacements. REQUIRES: d.spans sorted and not overlapping; secret non-empty for
// surrogate mode.
void replace_all(std::string_view text, const Detection& d, Mode mode,
                 std::span<const uint8_t> secret, uint64_t secret_id, std::string_view patient_key,
                 const Lexicons& lex, DeidResult& out);

}  // namespace ward::deid::internal
