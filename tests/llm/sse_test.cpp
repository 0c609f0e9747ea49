#include "llm/sse.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ward::llm {
namespace {

struct Collected {
    std::vector<SseEvent> events;
    Status status;
};

// Feeds `stream` in pieces of `chunk` bytes (0: all at once).
Collected read_all(std::string_view stream, size_t chunk, size_t max_bytes = 1 << 20) {
    SseReader reader(max_bytes);
    Collected out;
    auto on_event = [&](const SseEvent& e) {
        out.events.push_back(e);
        return true;
    };
    if (chunk == 0) chunk = stream.size() + 1;
    for (size_t pos = 0; pos < stream.size() && out.status.ok(); pos += chunk) {
        out.status = reader.feed(stream.substr(pos, chunk), on_event);
    }
    return out;
}

std::vector<std::string> datas(const Collected& c) {
    std::vector<std::string> out;
    for (const auto& e : c.events) out.push_back(e.data);
    return out;
}

TEST(SseReader, DispatchesOnBlankLineAndJoinsDataLines) {
    auto c = read_all("data: a\ndata: b\n\ndata:c\n\n", 0);
    ASSERT_TRUE(c.status.ok());
    EXPECT_EQ(datas(c), (std::vector<std::string>{"a\nb", "c"}));
}

TEST(SseReader, AcceptsEveryLineEndingInEveryChunking) {
    const std::string stream =
        "data: one\r\n\r\ndata: two\r\rdata: three\n\n: comment\r\ndata: four\r\n\r\n";
    for (size_t chunk = 0; chunk <= stream.size(); ++chunk) {
        auto c = read_all(stream, chunk);
        ASSERT_TRUE(c.status.ok()) << chunk;
        EXPECT_EQ(datas(c), (std::vector<std::string>{"one", "two", "three", "four"}))
            << "chunk " << chunk;
    }
}

TEST(SseReader, CarriageReturnAtChunkEndIsOneLineEnd) {
    // "\r" ends a chunk and "\n" starts the next: one line end, not a blank line.
    SseReader reader;
    std::vector<std::string> got;
    auto on_event = [&](const SseEvent& e) {
        got.push_back(e.data);
        return true;
    };
    ASSERT_TRUE(reader.feed("data: x\r", on_event).ok());
    ASSERT_TRUE(reader.feed("\ndata: y\r", on_event).ok());
    EXPECT_TRUE(got.empty());
    ASSERT_TRUE(reader.feed("\n\r", on_event).ok());
    EXPECT_EQ(got, (std::vector<std::string>{"x\ny"}));
}

TEST(SseReader, MultibyteCharactersSplitAcrossChunksArriveWhole) {
    const std::string stream = "data: {\"t\":\"caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80\"}\n\n";
    for (size_t chunk = 1; chunk < 8; ++chunk) {
        auto c = read_all(stream, chunk);
        ASSERT_EQ(c.events.size(), 1u);
        EXPECT_EQ(c.events[0].data, "{\"t\":\"caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80\"}");
    }
}

TEST(SseReader, CommentsFieldsAndEventTypes) {
    auto c = read_all(
        ": keep-alive\n\nevent: error\ndata: bad\nid: 7\nretry: 1500\n\ndata\n\nfoo: bar\n\n", 3);
    ASSERT_TRUE(c.status.ok());
    ASSERT_EQ(c.events.size(), 2u);
    EXPECT_EQ(c.events[0].type, "error");
    EXPECT_EQ(c.events[0].data, "bad");
    EXPECT_EQ(c.events[0].id, "7");
    // A bare "data" line is a data field with an empty value; the type resets per event.
    EXPECT_EQ(c.events[1].type, "");
    EXPECT_EQ(c.events[1].data, "");
    EXPECT_EQ(c.events[1].id, "7");
}

TEST(SseReader, OnlyOneSpaceAfterTheColonIsDropped) {
    auto c = read_all("data:  two spaces\ndata:none\n\n", 0);
    ASSERT_EQ(c.events.size(), 1u);
    EXPECT_EQ(c.events[0].data, " two spaces\nnone");
}

TEST(SseReader, SkipsALeadingByteOrderMark) {
    auto c = read_all(
        "\xEF\xBB\xBF"
        "data: x\n\n",
        1);
    ASSERT_EQ(c.events.size(), 1u);
    EXPECT_EQ(c.events[0].data, "x");
}

TEST(SseReader, IncompleteEventAtEndIsNotDispatched) {
    auto c = read_all("data: a\n\ndata: b\n", 0);
    EXPECT_EQ(datas(c), (std::vector<std::string>{"a"}));
}

TEST(SseReader, RecognisesDone) {
    auto c = read_all("data: {\"x\":1}\n\ndata: [DONE]\n\n", 0);
    ASSERT_EQ(c.events.size(), 2u);
    EXPECT_FALSE(c.events[0].is_done());
    EXPECT_TRUE(c.events[1].is_done());
}

TEST(SseReader, OversizedEventIsAClearErrorAndStaysOne) {
    std::string big =
        "data: " + std::string(100, 'x') + "\ndata: " + std::string(100, 'y') + "\n\n";
    auto fits = read_all(big, 0, 1000);
    EXPECT_TRUE(fits.status.ok());
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}}) {
        auto c = read_all("data: ok\n\n" + big, chunk, 150);
        EXPECT_EQ(c.status.code(), StatusCode::kResourceExhausted) << chunk;
        EXPECT_NE(c.status.message().find("larger than the limit of 150 bytes"), std::string::npos);
        EXPECT_EQ(datas(c), (std::vector<std::string>{"ok"})) << chunk;
    }
    // A line that never ends is bounded too.
    SseReader reader(64);
    auto ignore = [](const SseEvent&) { return true; };
    Status s;
    for (int i = 0; i < 100 && s.ok(); ++i) s = reader.feed("xxxxxxxx", ignore);
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(reader.feed("\n\n", ignore).code(), StatusCode::kResourceExhausted);
}

TEST(SseReader, StopsWhenTheCallbackSaysSo) {
    SseReader reader;
    int seen = 0;
    auto on_event = [&](const SseEvent&) { return ++seen < 2; };
    ASSERT_TRUE(reader.feed("data: 1\n\ndata: 2\n\ndata: 3\n\n", on_event).ok());
    EXPECT_EQ(seen, 2);
    EXPECT_TRUE(reader.stopped());
    ASSERT_TRUE(reader.feed("data: 4\n\n", on_event).ok());
    EXPECT_EQ(seen, 2);
}

TEST(SseReader, RetryFieldTakesOnlyDigits) {
    SseReader reader;
    auto ignore = [](const SseEvent&) { return true; };
    ASSERT_TRUE(reader.feed("retry: 12a\n", ignore).ok());
    EXPECT_EQ(reader.retry_ms(), -1);
    ASSERT_TRUE(reader.feed("retry: 2500\n", ignore).ok());
    EXPECT_EQ(reader.retry_ms(), 2500);
}

}  // namespace
}  // namespace ward::llm
