#include "server/keys.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "common/sqlite.h"

namespace ward::server {
namespace {

namespace fs = std::filesystem;

TEST(Roles, NamesRoundTrip) {
    for (Role r : {Role::kClinician, Role::kResearcher, Role::kService, Role::kAdmin}) {
        auto back = parse_role(role_name(r));
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, r);
    }
    auto bad = parse_role("root");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.error().message().find("clinician"), std::string::npos);
}

TEST(KeyStore, CreateShowsTheKeyOnceAndAuthenticates) {
    auto store = KeyStore::open(":memory:");
    ASSERT_TRUE(store.has_value()) << store.error().to_string();
    auto created = store->create("Dr Who's laptop", Role::kClinician);
    ASSERT_TRUE(created.has_value()) << created.error().to_string();
    EXPECT_EQ(created->key.size(), 5u + 64u);
    EXPECT_TRUE(created->key.starts_with("ward_"));
    EXPECT_EQ(created->id, created->key.substr(5, 8));
    auto p = store->authenticate(created->key);
    ASSERT_TRUE(p.has_value()) << p.error().to_string();
    EXPECT_EQ(p->id, created->id);
    EXPECT_EQ(p->name, "Dr Who's laptop");
    EXPECT_EQ(p->role, Role::kClinician);
    // Cached path gives the same answer.
    auto again = store->authenticate(created->key);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->role, Role::kClinician);
}

TEST(KeyStore, KeysAreDistinct) {
    auto store = KeyStore::open(":memory:");
    ASSERT_TRUE(store.has_value());
    auto a = store->create("a", Role::kService);
    auto b = store->create("b", Role::kService);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_NE(a->key, b->key);
    EXPECT_NE(a->id, b->id);
}

TEST(KeyStore, FailuresAreUnauthenticatedWithOneMessage) {
    auto store = KeyStore::open(":memory:");
    ASSERT_TRUE(store.has_value());
    auto created = store->create("svc", Role::kService);
    ASSERT_TRUE(created.has_value());
    std::string wrong_secret = created->key;
    wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
    std::string unknown_id = "ward_" + std::string(64, 'a');
    std::vector<std::string> bad = {"",
                                    "ward_",
                                    "nope",
                                    wrong_secret,
                                    unknown_id,
                                    created->key + "0",
                                    "WARD_" + created->key.substr(5)};
    std::string message;
    for (const std::string& k : bad) {
        auto r = store->authenticate(k);
        ASSERT_FALSE(r.has_value()) << k;
        EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated) << k;
        EXPECT_EQ(http_status(r.error().code()), 401);
        if (message.empty()) message = r.error().message();
        EXPECT_EQ(r.error().message(), message) << "a message differs for " << k;
        EXPECT_EQ(r.error().message().find(created->id), std::string::npos);
    }
}

TEST(KeyStore, RevokeTakesEffectAtOnce) {
    auto store = KeyStore::open(":memory:");
    ASSERT_TRUE(store.has_value());
    auto created = store->create("research", Role::kResearcher);
    ASSERT_TRUE(created.has_value());
    ASSERT_TRUE(store->authenticate(created->key).has_value());  // now cached
    ASSERT_TRUE(store->revoke(created->id).ok());
    auto r = store->authenticate(created->key);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated);
    EXPECT_TRUE(store->revoke(created->id).ok());  // idempotent
    EXPECT_EQ(store->revoke("ffffffff").code(), StatusCode::kNotFound);
    auto keys = store->list();
    ASSERT_TRUE(keys.has_value());
    ASSERT_EQ(keys->size(), 1u);
    EXPECT_TRUE((*keys)[0].revoked_at.has_value());
}

TEST(KeyStore, RevokeByAnotherProcessIsSeen) {
    fs::path dir = fs::temp_directory_path() / ("ward-keys-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string path = (dir / "keys.db").string();
    auto server = KeyStore::open(path);
    auto cli = KeyStore::open(path);
    ASSERT_TRUE(server.has_value() && cli.has_value());
    auto created = cli->create("ehr", Role::kService);
    ASSERT_TRUE(created.has_value());
    ASSERT_TRUE(server->authenticate(created->key).has_value());  // cached in the server
    ASSERT_TRUE(cli->revoke(created->id).ok());
    EXPECT_FALSE(server->authenticate(created->key).has_value());
    fs::remove_all(dir);
}

TEST(KeyStore, ListNeverShowsHashesAndStoreNeverHoldsTheKey) {
    fs::path dir = fs::temp_directory_path() / ("ward-keys-list-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string path = (dir / "keys.db").string();
    std::string key;
    {
        auto store = KeyStore::open(path);
        ASSERT_TRUE(store.has_value());
        auto a = store->create("one", Role::kAdmin);
        ASSERT_TRUE(a.has_value());
        key = a->key;
        auto keys = store->list();
        ASSERT_TRUE(keys.has_value());
        ASSERT_EQ(keys->size(), 1u);
        EXPECT_EQ((*keys)[0].id, a->id);
        EXPECT_EQ((*keys)[0].name, "one");
        EXPECT_EQ((*keys)[0].role, Role::kAdmin);
        EXPECT_EQ((*keys)[0].created.size(), 20u);
        EXPECT_FALSE((*keys)[0].revoked_at.has_value());
    }
    // The secret part of the key appears nowhere in the database.
    auto db = Database::open(path);
    ASSERT_TRUE(db.has_value());
    auto st = db->prepare("SELECT * FROM api_keys");
    ASSERT_TRUE(st.has_value());
    ASSERT_TRUE(*st->step());
    for (int col = 0; col < 6; ++col) {
        if (st->column_is_null(col)) continue;
        std::string text = st->column_text(col);
        EXPECT_EQ(text.find(key.substr(13)), std::string::npos) << "column " << col;
    }
    fs::remove_all(dir);
}

TEST(KeyStore, RejectsBadNames) {
    auto store = KeyStore::open(":memory:");
    ASSERT_TRUE(store.has_value());
    EXPECT_EQ(store->create("", Role::kAdmin).error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store->create(std::string(101, 'x'), Role::kAdmin).error().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store->create("a\nb", Role::kAdmin).error().code(), StatusCode::kInvalidArgument);
}

TEST(KeyStore, MovedStoreKeepsWorking) {
    auto store = KeyStore::open(":memory:");
    ASSERT_TRUE(store.has_value());
    auto created = store->create("m", Role::kClinician);
    ASSERT_TRUE(created.has_value());
    KeyStore moved = std::move(store).value();
    EXPECT_TRUE(moved.authenticate(created->key).has_value());
}

}  // namespace
}  // namespace ward::server
