// JSON Schema -> Grammar (grammar.h), for structured output that always parses. The subset:
//   - type: object (properties, required; additionalProperties false by default when
//     properties are given; without properties, a free object whose values follow
//     additionalProperties, any JSON when it is true or absent), array (items, minItems,
//     maxItems), string (minLength, maxLength in code points), integer, number, boolean, null,
//     or an array of these types;
//   - enum, const, anyOf; local $ref ("#/$defs/x", any JSON pointer into the same document);
//   - annotations that constrain nothing are ignored (title, description, default, examples,
//     $schema, $id, $comment, deprecated, readOnly, writeOnly; $defs and definitions are read
//     only through $ref).
// Every other keyword (pattern, patternProperties, format, minimum, oneOf, allOf, prefixItems,
// an external $ref, ...) is refused with kInvalidArgument naming the keyword and its JSON
// pointer, rather than silently producing output the schema would reject.
//
// The grammar emits canonical compact JSON: no whitespace, object properties in the order the
// schema lists them (optional ones may be left out), integers of at most 15 digits, numbers
// with at most 15 integer and 15 fraction digits and a 2-digit exponent, string escapes
// \" \\ \/ \b \f \n \r \t and \u0XXX (never a surrogate half). Bounds: schema text up to
// 256 KiB, nesting up to 32 levels, at most 4096 grammar nodes, 1024 enum values, 256
// properties per object, lengths and item counts up to 100000, 1024 choices for the first byte
// of a value (nested alternatives multiply); a $ref cycle that never reaches a value is refused.
//
// validate_json() checks a parsed value against the compiled schema (for outputs that were
// not generated under the grammar: remote backends).
//
// Thread safety: pure functions.
#pragma once

#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "engine/grammar.h"

namespace ward::engine {

inline constexpr size_t kMaxSchemaBytes = 256 * 1024;
inline constexpr int kMaxSchemaDepth = 32;
inline constexpr size_t kMaxGrammarNodes = 4096;

// Errors: kInvalidArgument for text that is not JSON, a schema that is not an object or
// boolean, an unsupported keyword, a malformed keyword value, a $ref that does not resolve,
// an unsatisfiable schema (false, a required property not in properties, minLength above
// maxLength), or a schema past the bounds above; each message names the JSON pointer.
Result<std::shared_ptr<const Grammar>> compile_json_schema(std::string_view schema_json);
// Properties are generated in the order of the schema's keys: document order here.
Result<std::shared_ptr<const Grammar>> compile_parsed_json_schema(
    const nlohmann::ordered_json& schema);

// Whether `value` matches the grammar compiled from a schema. Errors: kInvalidArgument
// naming the JSON pointer of the first mismatch and what was expected.
Status validate_json(const Grammar& grammar, const nlohmann::json& value);
// Parses `text` first (kInvalidArgument when it is not JSON).
Status validate_json_text(const Grammar& grammar, std::string_view text);

}  // namespace ward::engine
