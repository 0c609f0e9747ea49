#include "llm/backend.h"

namespace ward::llm {

std::string_view finish_name(Finish finish) {
    switch (finish) {
        case Finish::kStop:
            return "stop";
        case Finish::kLength:
            return "length";
        case Finish::kCancelled:
            return "cancelled";
    }
    return "stop";
}

}  // namespace ward::llm
