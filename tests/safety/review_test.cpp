#include "safety/review.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/sqlite.h"

namespace ward::safety {
namespace {

using ::testing::HasSubstr;

class ReviewQueueTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::path(::testing::TempDir()) /
               ("review_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        path_ = (dir_ / "reviews.db").string();
        auto q = ReviewQueue::open(path_, secret_);
        ASSERT_TRUE(q) << q.error().to_string();
        queue_ = std::move(*q);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    ReviewItem item(std::string output = "Give aspirin 325 mg [1]. See [9].") {
        ReviewItem it;
        it.task = "ask";
        it.route = "POST /v1/ask";
        it.request_id = "0123456789abcdef";
        it.principal_id = "k1";
        it.model = "stories";
        it.knowledge_version = "3";
        it.flags = {"citation_missing_passage"};
        it.input = "What aspirin dose for John Smith's MI?";
        it.output = std::move(output);
        return it;
    }

    std::filesystem::path dir_;
    std::string path_;
    std::vector<uint8_t> secret_ = std::vector<uint8_t>(32, 7);
    std::unique_ptr<ReviewQueue> queue_;
};

TEST_F(ReviewQueueTest, EnqueueListGet) {
    auto a = queue_->enqueue(item());
    ASSERT_TRUE(a) << a.error().to_string();
    EXPECT_THAT(a->id, ::testing::MatchesRegex("rv_[0-9a-f]{16}"));
    EXPECT_EQ(a->status, ReviewStatus::kPending);
    ASSERT_TRUE(queue_->enqueue(item("second")));
    EXPECT_EQ(*queue_->pending(), 2);
    auto listed = queue_->list(ReviewStatus::kPending, 10, false);
    ASSERT_TRUE(listed) << listed.error().to_string();
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_TRUE((*listed)[0].output.empty());  // texts only when asked for
    EXPECT_EQ((*listed)[1].flags, std::vector<std::string>{"citation_missing_passage"});
    auto got = queue_->get(a->id);
    ASSERT_TRUE(got) << got.error().to_string();
    EXPECT_EQ(got->input, "What aspirin dose for John Smith's MI?");
    EXPECT_EQ(got->output, "Give aspirin 325 mg [1]. See [9].");
    EXPECT_EQ(queue_->get("rv_0000000000000000").error().code(), StatusCode::kNotFound);
}

TEST_F(ReviewQueueTest, TextsAreSealedAtRest) {
    ASSERT_TRUE(queue_->enqueue(item()));
    queue_.reset();
    auto db = Database::open(path_);
    ASSERT_TRUE(db);
    auto st = db->prepare("SELECT input, output FROM reviews");
    ASSERT_TRUE(st);
    ASSERT_TRUE(*st->step());
    for (int col : {0, 1}) {
        auto blob = st->column_blob(col);
        std::string raw(blob.begin(), blob.end());
        EXPECT_EQ(raw.find("John Smith"), std::string::npos);
        EXPECT_EQ(raw.find("aspirin"), std::string::npos);
    }
}

TEST_F(ReviewQueueTest, WrongSecretOrMovedRowDoesNotOpen) {
    auto a = queue_->enqueue(item());
    auto b = queue_->enqueue(item("other"));
    ASSERT_TRUE(a && b);
    queue_.reset();
    std::vector<uint8_t> other(32, 8);
    auto wrong = ReviewQueue::open(path_, other);
    ASSERT_TRUE(wrong);
    EXPECT_EQ((*wrong)->get(a->id).error().code(), StatusCode::kDataLoss);
    wrong->reset();
    {
        // Copy b's sealed output onto a: it must not open as a's.
        auto db = Database::open(path_);
        ASSERT_TRUE(db);
        ASSERT_TRUE(
            db->exec("UPDATE reviews SET output = (SELECT output FROM reviews WHERE id = '" +
                     b->id + "') WHERE id = '" + a->id + "'")
                .ok());
    }
    auto q = ReviewQueue::open(path_, secret_);
    ASSERT_TRUE(q);
    auto moved = (*q)->get(a->id);
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error().code(), StatusCode::kDataLoss);
    EXPECT_THAT(moved.error().message(), HasSubstr("output does not open"));
}

TEST_F(ReviewQueueTest, DecisionsAreCheckedAndFinal) {
    auto a = queue_->enqueue(item());
    ASSERT_TRUE(a);
    ReviewDecision d;
    d.reviewer = "dr-k";
    d.status = ReviewStatus::kRejected;
    EXPECT_THAT(queue_->decide(a->id, d).error().message(), HasSubstr("reason: required"));
    d.status = ReviewStatus::kEdited;
    d.reason = "invented citation";
    EXPECT_THAT(queue_->decide(a->id, d).error().message(), HasSubstr("text:"));
    d.edited_output = "Give aspirin 325 mg [1].";
    auto edited = queue_->decide(a->id, d);
    ASSERT_TRUE(edited) << edited.error().to_string();
    EXPECT_EQ(edited->status, ReviewStatus::kEdited);
    EXPECT_EQ(*queue_->pending(), 0);
    ReviewDecision again;
    again.reviewer = "dr-j";
    again.status = ReviewStatus::kApproved;
    auto second = queue_->decide(a->id, again);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(second.error().message(), HasSubstr("already edited by dr-k"));

    auto got = queue_->get(a->id);
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->edited_output);
    EXPECT_EQ(*got->edited_output, "Give aspirin 325 mg [1].");
    auto j = nlohmann::json::parse(feedback_json(*got));
    EXPECT_EQ(j["status"], "edited");
    EXPECT_EQ(j["edited_output"], "Give aspirin 325 mg [1].");
    EXPECT_EQ(j["reason"], "invented citation");
    EXPECT_EQ(j["flags"][0], "citation_missing_passage");
}

TEST_F(ReviewQueueTest, BadArgumentsAndForeignFiles) {
    EXPECT_FALSE(queue_->list(std::nullopt, 0, false));
    EXPECT_FALSE(parse_review_status("maybe"));
    std::vector<uint8_t> short_secret(8, 1);
    EXPECT_EQ(ReviewQueue::open((dir_ / "x.db").string(), short_secret).error().code(),
              StatusCode::kInvalidArgument);
    std::string other = (dir_ / "other.db").string();
    {
        auto db = Database::open(other);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->exec("CREATE TABLE patients (id TEXT)").ok());
    }
    auto refused = ReviewQueue::open(other, secret_);
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error().message(), HasSubstr("is not a review queue"));
}

}  // namespace
}  // namespace ward::safety
