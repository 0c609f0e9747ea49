#include "audit/audit.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/mapped_file.h"
#include "common/sqlite.h"

namespace ward::audit {
namespace {

namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("ward-audit-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = (dir_ / "audit.db").string();
    }
    void TearDown() override { fs::remove_all(dir_); }

    static AuditRecord record(int i) {
        AuditRecord r;
        r.principal_id = "k" + std::to_string(i % 5);
        r.role = "clinician";
        r.route = "POST /v1/chat/completions";
        r.patient_key_hash = crypto::sha256_hex("patient-" + std::to_string(i % 7));
        r.model = "med-7b";
        r.model_sha256 = crypto::sha256_hex("model file");
        r.policy_version = "2026-11";
        r.prompt_sha256 = crypto::sha256_hex("prompt " + std::to_string(i));
        r.output_sha256 = crypto::sha256_hex("output " + std::to_string(i));
        if (i % 3 == 0) r.safety_flags = {"crisis"};
        r.http_status = i % 11 == 0 ? 500 : 200;
        r.latency_ms = 100 + i;
        r.request_id = "req-" + std::to_string(i);
        return r;
    }

    std::unique_ptr<AuditLog> open_with(int n) {
        auto log = AuditLog::open(path_);
        EXPECT_TRUE(log.has_value()) << log.error().to_string();
        for (int i = 1; i <= n; ++i) {
            auto id = (*log)->append(record(i));
            EXPECT_TRUE(id.has_value()) << id.error().to_string();
        }
        return std::move(log).value();
    }

    // Raw SQL against the file, as an attacker with write access would do.
    void sql(const std::string& statement) {
        auto db = Database::open(path_);
        ASSERT_TRUE(db.has_value());
        ASSERT_TRUE(db->exec(statement).ok()) << statement;
    }

    static std::vector<StoredRecord> rows(const AuditLog& log) {
        std::vector<StoredRecord> out;
        Status s = log.for_each([&](const StoredRecord& r) {
            out.push_back(r);
            return ok_status();
        });
        EXPECT_TRUE(s.ok()) << s.to_string();
        return out;
    }

    // verify() that must run and must find a problem.
    static VerifyReport broken(const AuditLog& log) {
        auto report = log.verify();
        EXPECT_TRUE(report.has_value()) << report.error().to_string();
        if (!report.has_value()) return {};
        EXPECT_FALSE(report->ok);
        return *report;
    }

    // Replaces record `seq` with `forged` and a hash recomputed over it, as an attacker who
    // knows the scheme would.
    void forge(const StoredRecord& original, const AuditRecord& forged) {
        std::string json = canonical_json(original.seq, forged);
        auto db = Database::open(path_);
        ASSERT_TRUE(db.has_value());
        auto st = db->prepare("UPDATE audit_log SET record = ?, hash = ? WHERE seq = ?");
        ASSERT_TRUE(st.has_value());
        st->bind(1, json).bind(2, chain_hash(original.prev_hash, json)).bind(3, original.seq);
        ASSERT_TRUE(st->run().ok());
    }

    fs::path dir_;
    std::string path_;
};

TEST_F(AuditLogTest, EmptyLogVerifies) {
    auto log = AuditLog::open(path_);
    ASSERT_TRUE(log.has_value()) << log.error().to_string();
    auto report = (*log)->verify();
    ASSERT_TRUE(report.has_value()) << report.error().to_string();
    EXPECT_TRUE(report->ok) << report->problem;
    EXPECT_EQ(report->records, 0);
    EXPECT_TRUE(fs::exists(path_ + ".head"));
}

TEST_F(AuditLogTest, AppendsChainFromGenesis) {
    auto log = open_with(0);
    auto first = log->append(record(1));
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->seq, 1);
    EXPECT_EQ(first->hash.size(), 64u);
    auto second = log->append(record(2));
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->seq, 2);
    // The head sidecar names the newest record.
    auto head_text = read_file(path_ + ".head");
    ASSERT_TRUE(head_text.has_value());
    auto head = parse_head(*head_text);
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->seq, 2);
    EXPECT_EQ(head->hash, second->hash);
    // Stored rows chain: record 2's prev_hash is record 1's hash.
    std::vector<StoredRecord> rows = this->rows(*log);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].prev_hash, kGenesisHash);
    EXPECT_EQ(rows[1].prev_hash, rows[0].hash);
    EXPECT_EQ(rows[0].hash, chain_hash(kGenesisHash, canonical_json(1, rows[0].record)));
    EXPECT_EQ(rows[1].record.request_id, "req-2");
    EXPECT_FALSE(rows[0].record.time.empty());
}

TEST_F(AuditLogTest, CanonicalJsonHasFixedKeyOrderAndRoundTrips) {
    AuditRecord r = record(3);
    r.time = "2026-11-27T22:15:35.123Z";
    std::string json = canonical_json(42, r);
    EXPECT_EQ(json.rfind("{\"seq\":42,\"time\":\"2026-11-27T22:15:35.123Z\",\"principal_id\":", 0),
              0u)
        << json;
    EXPECT_LT(json.find("\"safety_flags\":[\"crisis\"]"), json.find("\"http_status\""));
    int64_t seq = 0;
    auto back = parse_record_json(json, &seq);
    ASSERT_TRUE(back.has_value()) << back.error().to_string();
    EXPECT_EQ(seq, 42);
    EXPECT_EQ(canonical_json(seq, *back), json);
    EXPECT_FALSE(parse_record_json("{\"seq\":1}").has_value());
    EXPECT_FALSE(parse_record_json("not json").has_value());
}

TEST_F(AuditLogTest, TimeIsRfc3339UtcWithMilliseconds) {
    std::string t = rfc3339_now();
    ASSERT_EQ(t.size(), 24u) << t;
    EXPECT_EQ(t[4], '-');
    EXPECT_EQ(t[10], 'T');
    EXPECT_EQ(t[19], '.');
    EXPECT_EQ(t.back(), 'Z');
}

TEST_F(AuditLogTest, RejectsMalformedHashesAndReadablePatientKeys) {
    auto log = open_with(0);
    AuditRecord r = record(1);
    r.prompt_sha256 = "not a hash";
    EXPECT_EQ(log->append(r).error().code(), StatusCode::kInvalidArgument);
    r = record(1);
    r.patient_key_hash = "John Smith";
    EXPECT_EQ(log->append(r).error().code(), StatusCode::kInvalidArgument);
    auto report = log->verify();
    ASSERT_TRUE(report.has_value());
    EXPECT_TRUE(report->ok);
    EXPECT_EQ(report->records, 0);
}

TEST_F(AuditLogTest, ConcurrentAppendsFromEightThreadsVerify) {
    auto log = open_with(0);
    constexpr int kThreads = 8;
    constexpr int kPerThread = 25;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                if (!log->append(record(t * 1000 + i)).has_value()) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    auto report = log->verify();
    ASSERT_TRUE(report.has_value()) << report.error().to_string();
    EXPECT_TRUE(report->ok) << report->problem;
    EXPECT_EQ(report->records, kThreads * kPerThread);
    auto head = log->head();
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->seq, kThreads * kPerThread);
    EXPECT_EQ(report->head.hash, head->hash);
}

TEST_F(AuditLogTest, EditedRowIsNamed) {
    auto log = open_with(20);
    sql("UPDATE audit_log SET record = replace(record, '\"http_status\":200', "
        "'\"http_status\":201') WHERE seq = 17");
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 17);
    EXPECT_EQ(report.problem, "record 17: hash mismatch (edited)");
    EXPECT_EQ(report.records, 16);
}

TEST_F(AuditLogTest, EditedRowWithRecomputedHashBreaksTheNextLink) {
    auto log = open_with(20);
    // The attacker also fixes record 5's hash; record 6 still points at the old one.
    std::vector<StoredRecord> rows = this->rows(*log);
    AuditRecord forged = rows[4].record;
    forged.principal_id = "someone-else";
    forge(rows[4], forged);
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 6);
    EXPECT_NE(report.problem.find("record 6: prev_hash does not match"), std::string::npos)
        << report.problem;
}

TEST_F(AuditLogTest, RewrittenTailIsCaughtByTheHead) {
    auto log = open_with(5);
    // Rewrite record 5 and recompute its hash: the chain is valid, only the head disagrees.
    std::vector<StoredRecord> rows = this->rows(*log);
    AuditRecord forged = rows[4].record;
    forged.http_status = 200;
    forged.output_sha256 = crypto::sha256_hex("something else");
    forge(rows[4], forged);
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 5);
    EXPECT_NE(report.problem.find("differs from the head"), std::string::npos) << report.problem;
}

TEST_F(AuditLogTest, DeletedMiddleRowIsNamed) {
    auto log = open_with(20);
    sql("DELETE FROM audit_log WHERE seq = 17");
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 17);
    EXPECT_EQ(report.problem, "record 17 is missing (deleted)");
}

TEST_F(AuditLogTest, DeletedFirstRowsAreNamed) {
    auto log = open_with(5);
    sql("DELETE FROM audit_log WHERE seq <= 2");
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 1);
    EXPECT_EQ(report.problem, "records 1 to 2 are missing (deleted)");
}

TEST_F(AuditLogTest, SwappedRowsAreDetected) {
    auto log = open_with(6);
    sql("UPDATE audit_log SET seq = 100 WHERE seq = 3;"
        "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
        "UPDATE audit_log SET seq = 4 WHERE seq = 100;");
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 3);
}

TEST_F(AuditLogTest, DeletedLastRowsAreDetectedThroughTheHead) {
    auto log = open_with(19);
    sql("DELETE FROM audit_log WHERE seq > 17");
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 18);
    EXPECT_EQ(report.problem, "the last 2 records are missing (head says 19, log ends at 17)");
    sql("DELETE FROM audit_log WHERE seq > 16");
    report = broken(*log);
    EXPECT_EQ(report.problem, "the last 3 records are missing (head says 19, log ends at 16)");
}

TEST_F(AuditLogTest, MissingHeadIsReported) {
    auto log = open_with(3);
    fs::remove(path_ + ".head");
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.records, 3);
    EXPECT_NE(report.problem.find("is missing"), std::string::npos) << report.problem;
    // Reopening does not quietly recreate it for a non-empty log.
    log.reset();
    auto reopened = AuditLog::open(path_);
    ASSERT_TRUE(reopened.has_value());
    EXPECT_FALSE(fs::exists(path_ + ".head"));
}

TEST_F(AuditLogTest, RowsBeyondTheHeadAreReported) {
    auto log = open_with(3);
    auto old_head = read_file(path_ + ".head");
    ASSERT_TRUE(old_head.has_value());
    ASSERT_TRUE(log->append(record(4)).has_value());
    ASSERT_TRUE(write_file_atomic(path_ + ".head", *old_head).ok());
    VerifyReport report = broken(*log);
    EXPECT_EQ(report.first_bad_seq, 4);
}

TEST_F(AuditLogTest, ReopenContinuesTheChain) {
    std::string last_hash;
    {
        auto log = open_with(4);
        auto head = log->head();
        ASSERT_TRUE(head.has_value());
        last_hash = head->hash;
    }
    auto log = AuditLog::open(path_);
    ASSERT_TRUE(log.has_value());
    auto id = (*log)->append(record(5));
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(id->seq, 5);
    std::vector<StoredRecord> rows = this->rows(**log);
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[4].prev_hash, last_hash);
    auto report = (*log)->verify();
    ASSERT_TRUE(report.has_value());
    EXPECT_TRUE(report->ok) << report->problem;
    EXPECT_EQ(report->records, 5);
}

TEST_F(AuditLogTest, HeadTextRoundTrips) {
    AuditHead h{17, crypto::sha256_hex("x")};
    auto back = parse_head(format_head(h));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->seq, 17);
    EXPECT_EQ(back->hash, h.hash);
    EXPECT_FALSE(parse_head("17").has_value());
    EXPECT_FALSE(parse_head("x " + h.hash).has_value());
    EXPECT_FALSE(parse_head("17 abc").has_value());
}

TEST_F(AuditLogTest, RefusesInMemoryLogs) {
    EXPECT_EQ(AuditLog::open(":memory:").error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(AuditLog::open("").error().code(), StatusCode::kInvalidArgument);
}

TEST(AuditDefaultPath, UsesWardDataDir) {
    ::setenv("WARD_DATA_DIR", "/srv/ward", 1);
    EXPECT_EQ(default_audit_path(), "/srv/ward/audit.db");
    ::unsetenv("WARD_DATA_DIR");
    EXPECT_EQ(default_audit_path(), "ward-data/audit.db");
}

}  // namespace
}  // namespace ward::audit
