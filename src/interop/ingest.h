// Reading clinical data whatever its format: HL7 v2 (one message or a feed), FHIR R4 JSON (a
// resource or a Bundle) or Bulk NDJSON, chosen from a hint (a file name or a content type) and
// the first bytes. The CLI's `ward ingest` and the server's POST /v1/patients share it.
//
// Thread safety: pure function.
#pragma once

#include <string_view>

#include "interop/fhir.h"

namespace ward::interop {

enum class DataFormat { kHl7, kFhirJson, kFhirNdjson };

// The format of `text`: HL7 when the hint says so (".hl7", ".txt", an hl7-v2 content type) or
// the text starts with MSH/FHS/BHS (after MLLP framing or blank lines); NDJSON for ".ndjson",
// ".jsonl" or an ndjson content type; FHIR JSON otherwise.
DataFormat detect_format(std::string_view hint, std::string_view text);

// Reads `text` in its detected format; `origin` is copied into every item's Source.
ReadResult read_clinical_data(std::string_view text, std::string_view origin,
                              std::string_view hint);

}  // namespace ward::interop
