// The outcome every safety rail returns, and the interface rails implement. A rail looks at one
// text (a user turn, a model output, a retrieved passage) and says whether its rule fired, how
// strongly, and which bytes are the evidence. Rails decide nothing about what happens next: the
// pipeline maps each RailResult to an Action per task (a crisis on a user turn blocks the model's
// answer and sends the code-written escalation; a PHI leak on an output modifies it; ...).
//
// Thread safety: RailResult and Span are values. A Rail is immutable after construction and its
// check() may be called from any number of threads at once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::safety {

// A piece of evidence: bytes [begin, end) of the checked text, with what they are evidence of
// (for the crisis rail, the category, e.g. "plan_or_means"). For valid UTF-8 input, offsets
// always fall on character boundaries.
struct Span {
    size_t begin = 0;
    size_t end = 0;
    std::string label;
};

struct RailResult {
    std::string rail;  // the rail's registered name, e.g. "crisis"
    bool fired = false;
    std::string rule;         // what fired (a category or rule id); empty when nothing fired
    double score = 0;         // in [0, 1]; 0 when nothing fired. Each rail documents its scale.
    std::vector<Span> spans;  // evidence for a firing, sorted by begin; empty when not fired
    std::string detail;       // one short human-readable sentence; never contains input text
};

// What the pipeline does with a text after its rails ran.
enum class Action {
    kPass,    // nothing to do
    kModify,  // the text is changed (e.g. PHI redacted) before it goes on
    kBlock,   // the text does not go on; a code-written reply replaces it
    kFlag,    // the text goes on, and a human reviews it
};

// "pass", "modify", "block", "flag".
std::string_view action_name(Action action);
// The inverse of action_name; InvalidArgument naming the accepted values otherwise.
Result<Action> parse_action(std::string_view name);

// A rail: one check over one text.
class Rail {
  public:
    virtual ~Rail() = default;
    // The registered name ("crisis").
    virtual std::string_view name() const = 0;
    // Checks `text` (any bytes; invalid UTF-8 is tolerated and never matches). Never fails:
    // a rail that cannot decide reports fired = false with the reason in detail.
    virtual RailResult check(std::string_view text) const = 0;
};

}  // namespace ward::safety
