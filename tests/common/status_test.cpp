#include "common/status.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace ward {
namespace {

Result<int> parse_positive(int x) {
    if (x <= 0) return invalid_argument("{} is not positive", x);
    return x;
}

Result<int> doubled(int x) {
    WARD_ASSIGN_OR_RETURN(int v, parse_positive(x));
    return v * 2;
}

Status check_both(int a, int b) {
    WARD_TRY(parse_positive(a));
    WARD_TRY(parse_positive(b));
    return ok_status();
}

TEST(Status, DefaultIsOk) {
    Status s;
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, CarriesCodeAndFormattedMessage) {
    Status s = not_found("patient {} in {}", 42, "store");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kNotFound);
    EXPECT_EQ(s.message(), "patient 42 in store");
    EXPECT_EQ(s.to_string(), "not_found: patient 42 in store");
    EXPECT_EQ(s.with_context("ingest").message(), "ingest: patient 42 in store");
}

TEST(Status, CodesMapToHttp) {
    EXPECT_EQ(http_status(StatusCode::kInvalidArgument), 400);
    EXPECT_EQ(http_status(StatusCode::kUnauthenticated), 401);
    EXPECT_EQ(http_status(StatusCode::kPermissionDenied), 403);
    EXPECT_EQ(http_status(StatusCode::kNotFound), 404);
    EXPECT_EQ(http_status(StatusCode::kFailedPrecondition), 409);
    EXPECT_EQ(http_status(StatusCode::kResourceExhausted), 429);
    EXPECT_EQ(http_status(StatusCode::kUnavailable), 503);
    EXPECT_EQ(http_status(StatusCode::kInternal), 500);
    EXPECT_EQ(status_code_name(StatusCode::kResourceExhausted), "resource_exhausted");
}

TEST(Result, HoldsValueOrError) {
    Result<int> good = parse_positive(3);
    ASSERT_TRUE(good.has_value());
    EXPECT_EQ(*good, 3);
    EXPECT_TRUE(good.error().ok());

    Result<int> bad = parse_positive(-1);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(bad.error().message(), "-1 is not positive");
    EXPECT_EQ(bad.value_or(7), 7);
}

TEST(Result, AssignOrReturnPropagates) {
    EXPECT_EQ(*doubled(4), 8);
    EXPECT_EQ(doubled(0).error().message(), "0 is not positive");
}

TEST(Result, TryPropagatesFirstError) {
    EXPECT_TRUE(check_both(1, 2).ok());
    EXPECT_EQ(check_both(1, -5).message(), "-5 is not positive");
    EXPECT_EQ(check_both(-2, -5).message(), "-2 is not positive");
}

TEST(Result, MoveOnlyValues) {
    Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
    ASSERT_TRUE(r);
    std::unique_ptr<int> p = std::move(r).value();
    EXPECT_EQ(*p, 5);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
    Result<int> bad = parse_positive(-1);
    EXPECT_DEATH((void)bad.value(), "");
}

TEST(ResultDeathTest, OkStatusIsNotAnError) {
    EXPECT_DEATH(Result<int>{Status()}, "");
}

}  // namespace
}  // namespace ward
