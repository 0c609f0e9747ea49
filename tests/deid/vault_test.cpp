#include <gtest/gtest.h>

#include <filesystem>

#include "common/crypto.h"
#include "deid/vault.h"
#include "test_util.h"

namespace ward::deid {
namespace {

using test::shared_deid;

TEST(Vault, RoundTripsAndDeletesScopes) {
    auto dir = std::filesystem::temp_directory_path() /
               ("ward_vault_" + crypto::to_hex(crypto::random_bytes(6)));
    std::filesystem::create_directories(dir);
    std::string path = (dir / "vault.db").string();
    std::vector<uint8_t> master(32, 3);
    std::string text = "Mr. Kowalski (MRN 1234567) was seen 3/14/2024 by Dr. Okafor.";
    auto r = shared_deid().deidentify(text, Mode::kSurrogate, "pat-1").value();
    VaultScope scope{"pat-1", "conv-9"};
    {
        auto v = Vault::open(path, master).value();
        ASSERT_TRUE(v.store(scope, r.replacements).ok());
        ASSERT_TRUE(v.store(scope, r.replacements).ok());  // idempotent
        EXPECT_EQ(v.entry_count(scope).value(), static_cast<int64_t>(r.replacements.size()));
    }
    // reopen: persisted, and nothing readable on disk
    auto raw = read_file(path).value();
    EXPECT_EQ(raw.find("Kowalski"), std::string::npos);
    auto v = Vault::open(path, master).value();
    EXPECT_EQ(v.reidentify(scope, r.text).value(), text);
    // a model's answer that reuses a surrogate gets the real name back
    std::string answer = "Summary for " + r.replacements[0].surrogate + ".";
    EXPECT_EQ(v.reidentify(scope, answer).value(), "Summary for Kowalski.");
    // another conversation sees nothing
    EXPECT_EQ(v.reidentify({"pat-1", "other"}, r.text).value(), r.text);
    // a wrong master key cannot open the scope
    auto wrong = Vault::open(path, std::vector<uint8_t>(32, 4)).value();
    EXPECT_EQ(wrong.reidentify(scope, r.text).value(), r.text);  // different scope id
    ASSERT_TRUE(v.delete_scope(scope).ok());
    EXPECT_EQ(v.entry_count(scope).value(), 0);
    EXPECT_EQ(v.reidentify(scope, r.text).value(), r.text);
    EXPECT_FALSE(Vault::open(path, std::vector<uint8_t>(5, 1)).has_value());
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ward::deid
