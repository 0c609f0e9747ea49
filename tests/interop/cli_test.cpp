// End to end through the real `ward` binary: ingest, patient list/show, exit codes.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace ward::interop {
namespace {

struct CommandResult {
    int code = -1;
    std::string out;
};

CommandResult run(const std::string& args) {
    std::string cmd = std::string(WARD_BINARY_DIR) + "/src/cli/ward " + args + " 2>&1";
    CommandResult r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

TEST(Cli, IngestListShow) {
    if (!std::filesystem::exists(std::string(WARD_BINARY_DIR) + "/src/cli/ward")) {
        GTEST_SKIP() << "the ward binary is not built";
    }
    auto dir =
        std::filesystem::temp_directory_path() / ("ward-interop-cli-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string db = (dir / "p.db").string();
    std::string data = testing::shared_data();
    CommandResult ing = run("ingest --db " + db + " " + data + "/fhir/synthea/Cris921*.json " +
                            data + "/hl7v2/simhospital-2.hl7");
    EXPECT_EQ(ing.code, 0) << ing.out;
    EXPECT_NE(ing.out.find("84 resources, 60 read, 24 kept unread, 0 errors, 1 patients"),
              std::string::npos)
        << ing.out;
    CommandResult list = run("patient list --db " + db);
    EXPECT_EQ(list.code, 0);
    EXPECT_NE(list.out.find("d4519c92-d241-b2b2-7360-291d60be699e\tCris921 Rath779\tfemale"),
              std::string::npos)
        << list.out;
    EXPECT_NE(list.out.find("3463070384\tValerie Isabella Alexander"), std::string::npos);
    CommandResult show =
        run("patient show --db " + db +
            " 3463070384 --context general --budget 400 --as-of 2020-11-01 --sources");
    EXPECT_EQ(show.code, 0) << show.out;
    EXPECT_NE(show.out.find("- [L1] Cholesterol: 1.36 mmol/L (2020-10-21)"), std::string::npos)
        << show.out;
    EXPECT_NE(show.out.find("[L1] hl7:2/OBX[1]"), std::string::npos) << show.out;

    // Bad input: what was read is stored, the error is reported, exit 1.
    std::string bad = (dir / "bad.json").string();
    std::FILE* f = std::fopen(bad.c_str(), "w");
    std::fputs("{\"resourceType\":\"Patient\",\"id\":\"z\",\"birthDate\":\"nope\"}", f);
    std::fclose(f);
    CommandResult ing_bad = run("ingest --db " + db + " " + bad);
    EXPECT_EQ(ing_bad.code, 1);
    EXPECT_NE(ing_bad.out.find("Patient.birthDate: \"nope\" is not a FHIR date (Patient/z)"),
              std::string::npos)
        << ing_bad.out;
    CommandResult missing = run("patient show --db " + db + " nobody");
    EXPECT_EQ(missing.code, 1);
    EXPECT_NE(missing.out.find("ward: store: no patient \"nobody\""), std::string::npos);
    CommandResult usage = run("patient show --db " + db + " 3463070384 --budget abc");
    EXPECT_EQ(usage.code, 2);
    CommandResult profile = run("patient show --db " + db + " 3463070384 --context nope");
    EXPECT_EQ(profile.code, 1);
    EXPECT_NE(profile.out.find("unknown context profile"), std::string::npos);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ward::interop
