// Running the built `ward` binary from a GoogleTest: `ward args` with `input` on stdin, the exit
// code and both output streams captured. Tests using it skip themselves when the binary has not
// been built (WardCliTest). Header-only; include as "../support/cli_run.h".
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace ward::testing {

struct CliRun {
    int code = -1;
    std::string out, err;
};

inline std::string ward_binary() {
    return std::string(WARD_BINARY_DIR) + "/src/cli/ward";
}

// `env` is prepended to the command line ("WARD_DEID_SECRET=... ").
inline CliRun run_ward(const std::string& args, const std::string& input,
                       const std::string& env = "") {
    auto dir = std::filesystem::temp_directory_path();
    std::string tag = std::to_string(::getpid()) + "_" + std::to_string(std::rand());
    std::string in = (dir / ("ward_cli_in_" + tag)).string();
    std::string out = (dir / ("ward_cli_out_" + tag)).string();
    std::string err = (dir / ("ward_cli_err_" + tag)).string();
    std::ofstream(in, std::ios::binary) << input;
    std::string cmd = env + " " + ward_binary() + " " + args + " <" + in + " >" + out + " 2>" + err;
    int status = std::system(cmd.c_str());
    CliRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto slurp = [](const std::string& p) {
        std::ifstream f(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    };
    r.out = slurp(out);
    r.err = slurp(err);
    std::filesystem::remove(in);
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return r;
}

// A fixture that skips its tests when the binary is missing (a subset build).
class WardCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(ward_binary())) GTEST_SKIP() << "ward not built";
    }
};

}  // namespace ward::testing
