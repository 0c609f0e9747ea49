#include "deid/deid.h"

#include <cstring>

#include "common/log.h"
#include "deid/internal.h"
#include "deid/surrogate.h"

namespace ward::deid {
namespace {

constexpr std::string_view kCategoryNames[kNumCategories] = {
    "NAME",    "STREET", "CITY",  "ZIP", "FACILITY",  "LOCATION",    "DATE",    "AGE",
    "PHONE",   "FAX",    "EMAIL", "SSN", "MRN",       "HEALTH_PLAN", "ACCOUNT", "LICENSE",
    "VEHICLE", "DEVICE", "URL",   "IP",  "BIOMETRIC", "ID"};

}  // namespace

std::string_view category_name(Category c) {
    auto i = static_cast<size_t>(c);
    return i < static_cast<size_t>(kNumCategories) ? kCategoryNames[i] : "ID";
}

Result<Category> parse_category(std::string_view name) {
    for (int i = 0; i < kNumCategories; ++i) {
        std::string_view n = kCategoryNames[i];
        if (n.size() != name.size()) continue;
        bool eq = true;
        for (size_t k = 0; k < n.size() && eq; ++k) {
            char c = name[k];
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
            eq = c == n[k];
        }
        if (eq) return static_cast<Category>(i);
    }
    return invalid_argument("deid: unknown category \"{}\"", name);
}

Result<Mode> parse_mode(std::string_view name) {
    if (name == "redact") return Mode::kRedact;
    if (name == "mask") return Mode::kMask;
    if (name == "surrogate") return Mode::kSurrogate;
    return invalid_argument("deid: unknown mode \"{}\" (expected redact, mask or surrogate)", name);
}

Status validate_utf8(std::string_view text) {
    const auto* p = reinterpret_cast<const uint8_t*>(text.data());
    size_t n = text.size(), i = 0;
    while (i < n) {
        // ASCII fast path, 8 bytes at a time
        while (i + 8 <= n) {
            uint64_t v;
            std::memcpy(&v, p + i, 8);
            if (v & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return invalid_argument("deid: input is not valid UTF-8 (byte 0x{:02x} at offset {})",
                                    c, i);
        }
        if (i + len > n) {
            return invalid_argument(
                "deid: input is not valid UTF-8 (truncated sequence at "
                "offset {})",
                i);
        }
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) {
                return invalid_argument(
                    "deid: input is not valid UTF-8 (bad continuation "
                    "byte at offset {})",
                    i + k);
            }
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return invalid_argument(
                "deid: input is not valid UTF-8 (overlong or surrogate "
                "sequence at offset {})",
                i);
        }
        i += len;
    }
    return ok_status();
}

struct Deidentifier::Impl {
    DeidentifierOptions options;
    uint64_t secret_id = 0;  // internal::secret_fingerprint(options.secret)
    const Lexicons* lex = nullptr;
};

Deidentifier::Deidentifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Deidentifier::~Deidentifier() = default;

Result<std::unique_ptr<Deidentifier>> Deidentifier::create(DeidentifierOptions options) {
    if (!options.secret.empty() && options.secret.size() < 16) {
        return invalid_argument("deid: the surrogate secret must be at least 16 bytes (got {})",
                                options.secret.size());
    }
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->secret_id = internal::secret_fingerprint(impl->options.secret);
    impl->lex = &Lexicons::get();
    return std::unique_ptr<Deidentifier>(new Deidentifier(std::move(impl)));
}

Result<std::vector<Span>> Deidentifier::detect(std::string_view text) const {
    WARD_TRY(validate_utf8(text));
    internal::Detection d = internal::detect_all(text, *impl_->lex, impl_->options.min_confidence);
    std::vector<Span> spans;
    spans.reserve(d.spans.size());
    for (const auto& c : d.spans) spans.push_back({c.start, c.end, c.category, c.confidence});
    return spans;
}

int Deidentifier::date_shift_days(std::string_view patient_key) const {
    return internal::date_shift_days(impl_->options.secret, patient_key);
}

Result<DeidResult> Deidentifier::deidentify(std::string_view text, Mode mode,
                                            std::string_view patient_key) const {
    if (mode == Mode::kSurrogate && impl_->options.secret.empty()) {
        return failed_precondition(
            "deid: surrogate mode needs a deployment secret (none configured)");
    }
    WARD_TRY(validate_utf8(text));
    internal::Detection d = internal::detect_all(text, *impl_->lex, impl_->options.min_confidence);
    DeidResult r;
    r.spans.reserve(d.spans.size());
    for (const auto& c : d.spans) r.spans.push_back({c.start, c.end, c.category, c.confidence});
    internal::replace_all(text, d, mode, impl_->options.secret, impl_->secret_id, patient_key,
                          *impl_->lex, r);
    logger("deid")->debug("deidentified {} bytes: {} spans", text.size(), r.spans.size());
    return r;
}

}  // namespace ward::deid
