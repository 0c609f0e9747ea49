// Fuzzes the JSON Schema compiler and the byte automaton it builds. The input is a schema, a
// NUL byte, then a candidate output. Any schema compiles or is refused with a Status (never a
// crash); a candidate the automaton accepts to an accepting state must parse as JSON and
// validate against the schema (validate_json), and a refused byte must leave the state as it
// was. A few byte strings per schema are also stepped one byte at a time from every
// intermediate state, which exercises alternatives, numbers ending at a delimiter and nesting.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/grammar.h"
#include "engine/json_schema.h"

namespace {

using ward::engine::compile_json_schema;
using ward::engine::Grammar;
using ward::engine::GrammarState;
using ward::engine::validate_json;

void check_candidate(const Grammar& g, std::string_view candidate) {
    GrammarState state(&g);
    for (char c : candidate) {
        GrammarState before = state;
        if (!state.step(static_cast<uint8_t>(c))) {
            // A refused byte changes nothing: the state still accepts what it accepted.
            if (before.accepting() != state.accepting()) __builtin_trap();
            return;
        }
    }
    if (!state.accepting()) return;
    auto value = nlohmann::json::parse(candidate, nullptr, false);
    if (value.is_discarded()) __builtin_trap();
    if (!validate_json(g, value).ok()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t nul = input.find('\0');
    const std::string_view schema = input.substr(0, nul);
    const std::string_view candidate =
        nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
    auto grammar = compile_json_schema(schema);
    if (!grammar) {
        if ((*grammar.error().message().c_str()) == '\0') __builtin_trap();  // must say why
        return 0;
    }
    check_candidate(**grammar, candidate);
    // Values every automaton must either accept validly or refuse.
    for (std::string_view v : {"{}", "[]", "null", "true", "0", "-1.5e3", "\"\"", "{\"a\":1}",
                               "[1,[2,{}]]", "\"\\u00e9\""}) {
        check_candidate(**grammar, v);
    }
    return 0;
}
