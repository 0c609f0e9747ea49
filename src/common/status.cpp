#include "common/status.h"

#include <cstdio>

namespace ward {

std::string_view status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::kOk:
            return "ok";
        case StatusCode::kInvalidArgument:
            return "invalid_argument";
        case StatusCode::kUnauthenticated:
            return "unauthenticated";
        case StatusCode::kPermissionDenied:
            return "permission_denied";
        case StatusCode::kNotFound:
            return "not_found";
        case StatusCode::kFailedPrecondition:
            return "failed_precondition";
        case StatusCode::kResourceExhausted:
            return "resource_exhausted";
        case StatusCode::kUnavailable:
            return "unavailable";
        case StatusCode::kInternal:
            return "internal";
        case StatusCode::kUnimplemented:
            return "unimplemented";
        case StatusCode::kDataLoss:
            return "data_loss";
        case StatusCode::kDeadlineExceeded:
            return "deadline_exceeded";
    }
    return "unknown";
}

int http_status(StatusCode code) {
    switch (code) {
        case StatusCode::kOk:
            return 200;
        case StatusCode::kInvalidArgument:
            return 400;
        case StatusCode::kUnauthenticated:
            return 401;
        case StatusCode::kPermissionDenied:
            return 403;
        case StatusCode::kNotFound:
            return 404;
        case StatusCode::kFailedPrecondition:
            return 409;
        case StatusCode::kResourceExhausted:
            return 429;
        case StatusCode::kUnavailable:
            return 503;
        case StatusCode::kInternal:
            return 500;
        case StatusCode::kUnimplemented:
            return 501;
        case StatusCode::kDataLoss:
            return 500;
        case StatusCode::kDeadlineExceeded:
            return 504;
    }
    return 500;
}

std::string Status::to_string() const {
    if (ok()) return "ok";
    return fmt::format("{}: {}", status_code_name(code_), message_);
}

Status Status::with_context(std::string_view context) const {
    if (ok()) return *this;
    return Status(code_, fmt::format("{}: {}", context, message_));
}

namespace detail {
void check_failed(const char* expr, const char* file, int line) {
    std::fprintf(stderr, "ward: internal check failed: %s at %s:%d\n", expr, file, line);
    std::abort();
}
}  // namespace detail

}  // namespace ward
