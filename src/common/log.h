// Logging on spdlog: one named logger per part ("ward.engine", "ward.deid", ...), all writing
// to stderr through one shared sink, as human-readable text by default or as JSON lines (one
// object per record: time, level, logger, message) when asked.
//
// Privacy rule for every caller: log ids, counts, timings and hashes, never note text, prompts,
// completions or other PHI.
//
// Thread safety: loggers are thread-safe; configure_logging() should be called once at start-up
// before other threads log.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

#include "common/status.h"

namespace ward {

enum class LogFormat { kText, kJson };

struct LogOptions {
    LogFormat format = LogFormat::kText;
    spdlog::level::level_enum level = spdlog::level::info;
};

// Parses "text" | "json".
Result<LogFormat> parse_log_format(std::string_view name);
// Parses "trace" | "debug" | "info" | "warn" | "error" | "critical" | "off".
Result<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Applies options to every existing and future Ward logger.
void configure_logging(const LogOptions& options);

// Replaces the sink of every Ward logger (tests capture output this way). Passing nullptr
// restores stderr.
void set_log_sink(std::shared_ptr<spdlog::sinks::sink> sink);

// The logger of a part: logger("engine") is "ward.engine". Created on first use; never null.
std::shared_ptr<spdlog::logger> logger(std::string_view part);

}  // namespace ward
