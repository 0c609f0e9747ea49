// Status and Result<T>: how Ward reports expected failures (bad input, missing files, full
// queues) as values instead of exceptions. A Status is a code plus a message that says what was
// wrong and where; Result<T> holds either a T or a non-OK Status, shaped like std::expected
// (has_value(), value(), error()). Codes map one-to-one onto HTTP statuses for the server.
//
// Thread safety: values; share them like any other value type.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace ward {

enum class StatusCode {
    kOk = 0,
    kInvalidArgument,     // 400: the caller's input is malformed
    kUnauthenticated,     // 401
    kPermissionDenied,    // 403
    kNotFound,            // 404
    kFailedPrecondition,  // 409: the system is not in a state to do this
    kResourceExhausted,   // 429: a queue or budget is full
    kUnavailable,         // 503
    kInternal,            // 500: a bug or an environment failure
    kUnimplemented,       // 501
    kDataLoss,            // 500: stored data is corrupt
    kDeadlineExceeded,    // 504
};

// The name of a code ("invalid_argument"), used in JSON error bodies.
std::string_view status_code_name(StatusCode code);
// The HTTP status a code maps to (200 for kOk).
int http_status(StatusCode code);

class [[nodiscard]] Status {
  public:
    Status() = default;  // OK
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    bool ok() const { return code_ == StatusCode::kOk; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "invalid_argument: gguf: tensor 'x' ..." or "ok".
    std::string to_string() const;

    // Returns a copy whose message is prefixed with `context` and ": ".
    Status with_context(std::string_view context) const;

    friend bool operator==(const Status& a, const Status& b) {
        return a.code_ == b.code_ && a.message_ == b.message_;
    }

  private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

inline Status ok_status() {
    return Status();
}

// Constructors that format their message with fmt: invalid_argument("bad {}", x).
#define WARD_DEFINE_STATUS_MAKER(fn, code)                                                 \
    template <typename... Args>                                                            \
    Status fn(fmt::format_string<Args...> format, Args&&... args) {                        \
        return Status(StatusCode::code, fmt::format(format, std::forward<Args>(args)...)); \
    }
WARD_DEFINE_STATUS_MAKER(invalid_argument, kInvalidArgument)
WARD_DEFINE_STATUS_MAKER(unauthenticated, kUnauthenticated)
WARD_DEFINE_STATUS_MAKER(permission_denied, kPermissionDenied)
WARD_DEFINE_STATUS_MAKER(not_found, kNotFound)
WARD_DEFINE_STATUS_MAKER(failed_precondition, kFailedPrecondition)
WARD_DEFINE_STATUS_MAKER(resource_exhausted, kResourceExhausted)
WARD_DEFINE_STATUS_MAKER(unavailable, kUnavailable)
WARD_DEFINE_STATUS_MAKER(internal_error, kInternal)
WARD_DEFINE_STATUS_MAKER(unimplemented, kUnimplemented)
WARD_DEFINE_STATUS_MAKER(data_loss, kDataLoss)
WARD_DEFINE_STATUS_MAKER(deadline_exceeded, kDeadlineExceeded)
#undef WARD_DEFINE_STATUS_MAKER

// Result<T>: a T or a non-OK Status. Constructing a Result from an OK Status is a programmer
// error and aborts.
template <typename T>
class [[nodiscard]] Result {
    static_assert(!std::is_same_v<std::remove_cvref_t<T>, Status>, "use Status directly");

  public:
    using value_type = T;

    Result(const T& value) : data_(value) {}
    Result(T&& value) : data_(std::move(value)) {}
    template <typename U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
             !std::is_same_v<std::remove_cvref_t<U>, Status>) Result(U&& value)
        : data_(T(std::forward<U>(value))) {}
    Result(Status status) : data_(std::move(status)) {
        if (std::get<Status>(data_).ok()) std::abort();  // an OK status carries no value
    }

    bool has_value() const { return data_.index() == 0; }
    bool ok() const { return has_value(); }
    explicit operator bool() const { return has_value(); }

    // REQUIRES: has_value(). Aborts otherwise (a programmer error, never user input).
    T& value() & { return checked(); }
    const T& value() const& { return const_cast<Result*>(this)->checked(); }
    T&& value() && { return std::move(checked()); }
    T& operator*() & { return checked(); }
    const T& operator*() const& { return const_cast<Result*>(this)->checked(); }
    T* operator->() { return &checked(); }
    const T* operator->() const { return &const_cast<Result*>(this)->checked(); }

    // The error; an OK Status when has_value().
    Status error() const { return has_value() ? Status() : std::get<Status>(data_); }
    Status status() const { return error(); }

    template <typename U>
    T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(data_) : static_cast<T>(std::forward<U>(fallback));
    }

  private:
    T& checked() {
        if (!has_value()) std::abort();
        return std::get<0>(data_);
    }
    std::variant<T, Status> data_;
};

namespace detail {
inline Status to_status(const Status& s) {
    return s;
}
template <typename T>
Status to_status(const Result<T>& r) {
    return r.error();
}
}  // namespace detail

}  // namespace ward

#define WARD_CONCAT_INNER(a, b) a##b
#define WARD_CONCAT(a, b) WARD_CONCAT_INNER(a, b)

// Evaluates `expr` (a Status or a Result); returns its Status from the enclosing function when
// it is not OK.
#define WARD_TRY(expr)                                                                \
    do {                                                                              \
        auto&& ward_try_value_ = (expr);                                              \
        if (!ward_try_value_.ok()) return ::ward::detail::to_status(ward_try_value_); \
    } while (0)

// WARD_ASSIGN_OR_RETURN(auto x, compute()); — declares/assigns from a Result<T> or returns its
// error from the enclosing function.
#define WARD_ASSIGN_OR_RETURN(lhs, expr) \
    WARD_ASSIGN_OR_RETURN_IMPL(WARD_CONCAT(ward_result_, __LINE__), lhs, expr)
#define WARD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                             \
    if (!tmp.has_value()) return tmp.error();      \
    lhs = std::move(tmp).value()

// Aborts with a message on a programmer error. Never use it on user input.
#define WARD_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) ::ward::detail::check_failed(#cond, __FILE__, __LINE__); \
    } while (0)

namespace ward::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
}
