#include "common/log.h"

#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include <gtest/gtest.h>

namespace ward {
namespace {

class LogTest : public ::testing::Test {
  protected:
    void SetUp() override {
        sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
        set_log_sink(sink_);
    }
    void TearDown() override {
        set_log_sink(nullptr);
        configure_logging({});
    }
    std::ostringstream out_;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST_F(LogTest, OneNamedLoggerPerPart) {
    auto a = logger("engine");
    auto b = logger("engine");
    EXPECT_EQ(a.get(), b.get());
    EXPECT_EQ(a->name(), "ward.engine");
    EXPECT_NE(logger("deid").get(), a.get());
}

TEST_F(LogTest, TextFormatNamesLoggerAndLevel) {
    configure_logging({LogFormat::kText, spdlog::level::info});
    logger("engine")->info("loaded {} tensors", 12);
    std::string line = out_.str();
    EXPECT_NE(line.find("[ward.engine] loaded 12 tensors"), std::string::npos) << line;
    EXPECT_NE(line.find("info"), std::string::npos);
}

TEST_F(LogTest, JsonFormatIsOneParsableObjectPerLine) {
    configure_logging({LogFormat::kJson, spdlog::level::info});
    logger("server")->warn("quote \" backslash \\ newline \n tab \t ctl \x01 done");
    logger("server")->info("second");
    std::istringstream lines(out_.str());
    std::string line;
    std::vector<nlohmann::json> records;
    while (std::getline(lines, line)) records.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0]["logger"], "ward.server");
    EXPECT_EQ(records[0]["level"], "warning");
    EXPECT_EQ(records[0]["msg"], "quote \" backslash \\ newline \n tab \t ctl \x01 done");
    EXPECT_EQ(records[1]["msg"], "second");
    EXPECT_TRUE(records[0].contains("time"));
}

TEST_F(LogTest, LevelFilters) {
    configure_logging({LogFormat::kText, spdlog::level::warn});
    logger("deid")->info("hidden");
    logger("deid")->error("shown");
    EXPECT_EQ(out_.str().find("hidden"), std::string::npos);
    EXPECT_NE(out_.str().find("shown"), std::string::npos);
}

TEST(LogParse, NamesAndErrors) {
    EXPECT_EQ(*parse_log_format("json"), LogFormat::kJson);
    EXPECT_FALSE(parse_log_format("xml"));
    EXPECT_EQ(*parse_log_level("debug"), spdlog::level::debug);
    EXPECT_EQ(parse_log_level("loud").error().message(),
              "log level \"loud\" is not one of: trace, debug, info, warn, error, critical, off");
}

}  // namespace
}  // namespace ward
