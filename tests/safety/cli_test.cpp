// `ward safety check` end to end: runs the built binary (skipped when it has not been built).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../support/cli_run.h"
#include "safety/registry.h"

namespace {

using ward::testing::CliRun;
using ward::testing::ward_binary;

CliRun run(const std::string& args, const std::string& input) {
    return ward::testing::run_ward(args, input);
}

using SafetyCli = ward::testing::WardCliTest;

TEST_F(SafetyCli, OneJsonObjectPerLine) {
    CliRun r = run("safety check --rail crisis --json",
                   "Thanks for the refill\r\nI want to kill myself\n\ndenies SI\n");
    ASSERT_EQ(r.code, 0) << r.err;
    std::vector<nlohmann::json> lines;
    size_t i = 0;
    while (i < r.out.size()) {
        size_t e = r.out.find('\n', i);
        lines.push_back(nlohmann::json::parse(r.out.substr(i, e - i)));
        i = e + 1;
    }
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0]["line"], 1);
    EXPECT_EQ(lines[0]["fired"], false);
    EXPECT_EQ(lines[0]["score"], 0.0);
    EXPECT_EQ(lines[1]["fired"], true);
    EXPECT_EQ(lines[1]["rule"], "suicidal_ideation_active");
    EXPECT_GT(lines[1]["score"].get<double>(), 0.5);
    ASSERT_EQ(lines[1]["spans"].size(), 1u);
    EXPECT_EQ(lines[1]["spans"][0]["text"], "kill myself");
    EXPECT_EQ(lines[1]["spans"][0]["begin"], 10);
    EXPECT_EQ(lines[1]["spans"][0]["end"], 21);
    EXPECT_EQ(lines[1]["spans"][0]["label"], "suicidal_ideation_active");
    EXPECT_EQ(lines[2]["fired"], false);
    EXPECT_EQ(lines[3]["fired"], false);
    EXPECT_EQ(lines[3]["line"], 4);
}

TEST_F(SafetyCli, HumanLinesFromAFile) {
    auto path = std::filesystem::temp_directory_path() / "ward_safety_cli_input.txt";
    std::ofstream(path) << "I want to die\nall good\n";
    CliRun r = run("safety check --rail crisis " + path.string(), "");
    std::filesystem::remove(path);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("line 1: crisis fired (suicidal_ideation_passive"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("line 2: pass"), std::string::npos);
    EXPECT_NE(r.out.find("2 lines, 1 fired"), std::string::npos);
}

TEST_F(SafetyCli, UnknownRailIsAUsageErrorNamingTheRails) {
    CliRun r = run("safety check --rail vibes", "x\n");
    EXPECT_EQ(r.code, 2);
    // Every registered rail is named, so the list grows as rails are added.
    EXPECT_EQ(r.err,
              "ward: safety: unknown rail \"vibes\" (rails: " + ward::safety::rail_names() + ")\n");
    EXPECT_NE(ward::safety::rail_names().find("crisis"), std::string::npos);
    EXPECT_TRUE(r.out.empty());
}

TEST_F(SafetyCli, MissingFileFails) {
    CliRun r = run("safety check --rail crisis /nonexistent/ward/input.txt", "");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("/nonexistent/ward/input.txt"), std::string::npos) << r.err;
}

}  // namespace
