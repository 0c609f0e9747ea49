// `ward deid` end to end: runs the built binary (skipped when it has not been built).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../support/cli_run.h"

namespace {

using ward::testing::CliRun;
using ward::testing::ward_binary;

CliRun run(const std::string& args, const std::string& input, const std::string& env = "") {
    return ward::testing::run_ward(args, input, env);
}

using Cli = ward::testing::WardCliTest;

TEST_F(Cli, RedactsStdinByDefault) {
    CliRun r = run("deid", "Seen by Dr. Ana Okafor on 3/14/2024.\n");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "Seen by Dr. [NAME] on [DATE].\n");
}

TEST_F(Cli, JsonSpansInBytes) {
    CliRun r = run("deid --json", "Zoë saw Dr. Lund.");
    ASSERT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_FALSE(j["spans"].empty());
    const auto& last = j["spans"].back();
    EXPECT_EQ(last["start"], 13);  // bytes: "Zoë" is 4 bytes
    EXPECT_EQ(last["end"], 17);
    EXPECT_EQ(last["category"], "NAME");
    EXPECT_EQ(last["text"], "Lund");
    EXPECT_TRUE(last["confidence"].is_number());
}

TEST_F(Cli, SurrogateNeedsASecretAndIsStablePerPatient) {
    CliRun no_secret = run("deid --mode surrogate", "Mr. Kowalski");
    EXPECT_EQ(no_secret.code, 1);
    EXPECT_EQ(no_secret.err.rfind("ward: ", 0), 0u) << no_secret.err;
    std::string env = "WARD_DEID_SECRET=000102030405060708090a0b0c0d0e0f1011121314151617";
    CliRun a = run("deid --mode surrogate --patient p1", "Mr. Kowalski", env);
    CliRun b = run("deid --mode surrogate --patient p1", "Mr. Kowalski", env);
    ASSERT_EQ(a.code, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_EQ(a.out.find("Kowalski"), std::string::npos);
}

TEST_F(Cli, InvalidUtf8AndUsageErrors) {
    CliRun bad = run("deid", "abc\xff");
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.err.find("UTF-8"), std::string::npos) << bad.err;
    EXPECT_EQ(run("deid --mode shred", "x").code, 2);
    EXPECT_EQ(run("deid eval --format xml x", "").code, 2);
}

TEST_F(Cli, EvalPrintsTheTable) {
    std::string gold = std::string(WARD_SOURCE_DIR) + "/tests/deid/data/corpus.jsonl";
    CliRun r = run("deid eval --format jsonl --max-misses 3 " + gold, "");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("OVERALL"), std::string::npos);
    EXPECT_NE(r.out.find("tok_R"), std::string::npos);
    EXPECT_NE(r.out.find("missed:"), std::string::npos);
}

}  // namespace
