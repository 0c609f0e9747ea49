#include "support/tiny_model.h"

#include <unistd.h>

#include <filesystem>

namespace ward::engine::testing {

int tiny_vocab_size() {
    return TinyModelSpec().n_vocab;
}

std::string temp_path(const std::string& name) {
    auto dir =
        std::filesystem::temp_directory_path() / ("ward_engine_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}

Status write_tiny_model(const TinyModelSpec& spec, const std::string& path) {
    return make_random_model(spec, path);
}

}  // namespace ward::engine::testing
