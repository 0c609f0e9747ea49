#include "common/log.h"

#include <mutex>
#include <string>
#include <unordered_map>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace ward {
namespace {

// Escapes the message as a JSON string body; spdlog has no JSON formatter of its own.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        for (char c : msg.payload) {
            switch (c) {
                case '"':
                    dest.append(std::string_view("\\\""));
                    break;
                case '\\':
                    dest.append(std::string_view("\\\\"));
                    break;
                case '\n':
                    dest.append(std::string_view("\\n"));
                    break;
                case '\r':
                    dest.append(std::string_view("\\r"));
                    break;
                case '\t':
                    dest.append(std::string_view("\\t"));
                    break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        fmt::format_to(std::back_inserter(dest), "\\u{:04x}",
                                       static_cast<unsigned>(static_cast<unsigned char>(c)));
                    } else {
                        dest.push_back(c);
                    }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonMessageFlag>();
    }
};

struct Registry {
    std::mutex mutex;
    LogOptions options;
    std::shared_ptr<spdlog::sinks::sink> sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;
};

Registry& registry() {
    static Registry* r = new Registry();  // never destroyed: loggers may be used at exit
    return *r;
}

std::unique_ptr<spdlog::formatter> make_formatter(LogFormat format) {
    if (format == LogFormat::kJson) {
        auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
        f->add_flag<JsonMessageFlag>('*');
        f->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":"%*"})");
        return f;
    }
    auto f = std::make_unique<spdlog::pattern_formatter>();
    { f->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v"); }
    return f;
}

void apply(Registry& r, spdlog::logger& lg) {
    lg.sinks().clear();
    lg.sinks().push_back(r.sink);
    lg.set_formatter(make_formatter(r.options.format));
    lg.set_level(r.options.level);
}

}  // namespace

Result<LogFormat> parse_log_format(std::string_view name) {
    if (name == "text") return LogFormat::kText;
    if (name == "json") return LogFormat::kJson;
    return invalid_argument("log format \"{}\" is not one of: text, json", name);
}

Result<spdlog::level::level_enum> parse_log_level(std::string_view name) {
    static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
        {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
        {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
        {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
        {"off", spdlog::level::off}};
    for (const auto& [n, level] : kLevels) {
        if (n == name) return level;
    }
    return invalid_argument(
        "log level \"{}\" is not one of: trace, debug, info, warn, error, critical, off", name);
}

void configure_logging(const LogOptions& options) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.options = options;
    for (auto& [name, lg] : r.loggers) apply(r, *lg);
}

void set_log_sink(std::shared_ptr<spdlog::sinks::sink> sink) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.sink = sink ? std::move(sink) : std::make_shared<spdlog::sinks::stderr_sink_mt>();
    for (auto& [name, lg] : r.loggers) apply(r, *lg);
}

std::shared_ptr<spdlog::logger> logger(std::string_view part) {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    std::string name = "ward." + std::string(part);
    auto it = r.loggers.find(name);
    if (it != r.loggers.end()) return it->second;
    auto lg = std::make_shared<spdlog::logger>(name);
    apply(r, *lg);
    r.loggers.emplace(name, lg);
    return lg;
}

}  // namespace ward
