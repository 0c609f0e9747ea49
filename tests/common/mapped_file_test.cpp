#include "common/mapped_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace ward {
namespace {

namespace fs = std::filesystem;

class MappedFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ward_mapped_" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        fs::permissions(dir_, fs::perms::all, fs::perm_options::add);
        fs::remove_all(dir_);
    }
    fs::path dir_;
};

TEST_F(MappedFileTest, MapsContents) {
    auto path = dir_ / "a.bin";
    std::ofstream(path, std::ios::binary) << "hello";
    auto f = MappedFile::open(path.string());
    ASSERT_TRUE(f) << f.error().to_string();
    ASSERT_EQ(f->size(), 5u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), "hello");
    f->prefetch();
    // Moving keeps the mapping valid.
    MappedFile moved = std::move(f).value();
    EXPECT_EQ(moved.bytes()[4], 'o');
}

TEST_F(MappedFileTest, MissingFileIsNotFound) {
    auto f = MappedFile::open((dir_ / "missing.gguf").string());
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code(), StatusCode::kNotFound);
    EXPECT_NE(f.error().message().find("missing.gguf"), std::string::npos);
}

TEST_F(MappedFileTest, EmptyFileMapsToEmptySpan) {
    auto path = dir_ / "empty.bin";
    std::ofstream(path, std::ios::binary).flush();
    auto f = MappedFile::open(path.string());
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_EQ(f->size(), 0u);
    EXPECT_TRUE(f->bytes().empty());
}

TEST_F(MappedFileTest, UnreadableFileIsPermissionDenied) {
    auto path = dir_ / "secret.bin";
    std::ofstream(path, std::ios::binary) << "x";
    fs::permissions(path, fs::perms::none);
    // Root reads any file, so as root the check runs in a child that drops to "nobody".
    EXPECT_EXIT(
        {
            if (::geteuid() == 0 && ::setuid(65534) != 0) std::_Exit(3);
            auto f = MappedFile::open(path.string());
            std::_Exit(!f && f.error().code() == StatusCode::kPermissionDenied ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST_F(MappedFileTest, DirectoryIsRejected) {
    auto f = MappedFile::open(dir_.string());
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(MappedFileTest, ReadAndAtomicWrite) {
    auto path = (dir_ / "out.txt").string();
    ASSERT_TRUE(write_file_atomic(path, "first").ok());
    ASSERT_TRUE(write_file_atomic(path, "second").ok());
    auto text = read_file(path);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, "second");
    EXPECT_EQ(read_file((dir_ / "nope").string()).error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace ward
