#include "safety/rail.h"

namespace ward::safety {

std::string_view action_name(Action action) {
    switch (action) {
        case Action::kPass:
            return "pass";
        case Action::kModify:
            return "modify";
        case Action::kBlock:
            return "block";
        case Action::kFlag:
            return "flag";
    }
    return "pass";
}

Result<Action> parse_action(std::string_view name) {
    for (Action a : {Action::kPass, Action::kModify, Action::kBlock, Action::kFlag}) {
        if (action_name(a) == name) return a;
    }
    return invalid_argument("safety: unknown action \"{}\" (pass, modify, block or flag)", name);
}

}  // namespace ward::safety
