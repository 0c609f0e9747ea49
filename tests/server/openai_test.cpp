#include "server/openai.h"

#include <gtest/gtest.h>

#include "server/json_body.h"

namespace ward::server::openai {
namespace {

using nlohmann::json;

ParsedRequest parse_ok(Endpoint e, const std::string& body) {
    auto r = parse_request(e, body);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : ParsedRequest{};
}

ApiError parse_error(Endpoint e, const std::string& body) {
    auto r = parse_request(e, body);
    EXPECT_FALSE(r.ok()) << body;
    return r.ok() ? ApiError{} : error_from_status(r.status());
}

TEST(OpenAiRequest, ParsesAChatRequestWithEveryField) {
    auto p = parse_ok(Endpoint::kChat, R"({
      "model": "m", "stream": true, "stream_options": {"include_usage": true},
      "messages": [{"role": "developer", "content": "be brief"},
                   {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                   {"role": "assistant", "content": null}],
      "temperature": 0.2, "top_p": 0.9, "max_tokens": 7, "seed": 42, "stop": ["x", "y"],
      "logprobs": true, "top_logprobs": 3, "presence_penalty": 0.5, "frequency_penalty": -0.5,
      "user": "u1", "n": 1, "some_future_field": {"ignored": true}})");
    EXPECT_EQ(p.request.model, "m");
    EXPECT_TRUE(p.stream);
    EXPECT_TRUE(p.include_usage);
    ASSERT_EQ(p.request.messages.size(), 3u);
    EXPECT_EQ(p.request.messages[0].role, "system");
    EXPECT_EQ(p.request.messages[1].content, "a\nb");
    EXPECT_EQ(p.request.messages[2].content, "");
    EXPECT_FLOAT_EQ(*p.request.params.temperature, 0.2f);
    EXPECT_FLOAT_EQ(*p.request.params.top_p, 0.9f);
    EXPECT_EQ(p.request.params.max_tokens, 7);
    EXPECT_EQ(*p.request.params.seed, 42u);
    EXPECT_EQ(p.request.params.stop, (std::vector<std::string>{"x", "y"}));
    EXPECT_TRUE(p.request.params.logprobs);
    EXPECT_EQ(p.request.params.top_logprobs, 3);
    EXPECT_FLOAT_EQ(p.request.params.presence_penalty, 0.5f);
}

TEST(OpenAiRequest, CompletionPromptForms) {
    EXPECT_EQ(*parse_ok(Endpoint::kCompletion, R"({"prompt": "hi"})").request.prompt, "hi");
    EXPECT_EQ(*parse_ok(Endpoint::kCompletion, R"({"prompt": ["hi"]})").request.prompt, "hi");
    auto p = parse_ok(Endpoint::kCompletion, R"({"prompt": "x", "logprobs": 2})");
    EXPECT_TRUE(p.request.params.logprobs);
    EXPECT_EQ(p.request.params.top_logprobs, 2);
    EXPECT_EQ(p.request.params.max_tokens, 16);  // OpenAI's default for completions
    EXPECT_EQ(parse_ok(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x"}]})")
                  .request.params.max_tokens,
              0);  // chat: until the model stops or the context is full
    EXPECT_EQ(parse_error(Endpoint::kCompletion, R"({"prompt": [1, 2]})").param, "prompt");
    EXPECT_EQ(parse_error(Endpoint::kCompletion, R"({"prompt": ["a", "b"]})").param, "prompt");
}

TEST(OpenAiRequest, EachBadFieldIsNamed) {
    struct Case {
        const char* body;
        const char* param;
    };
    const Case cases[] = {
        {R"({"model": 3, "messages": [{"role": "user", "content": "x"}]})", "model"},
        {R"({"messages": []})", "messages"},
        {R"({"messages": "hi"})", "messages"},
        {R"({"model": "m"})", "messages"},
        {R"({"messages": [{"content": "x"}]})", "messages[0].role"},
        {R"({"messages": [{"role": "tool", "content": "x"}]})", "messages[0].role"},
        {R"({"messages": [{"role": "user"}]})", "messages[0].content"},
        {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
        {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
         "messages[0].content[0].type"},
        {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})",
         "temperature"},
        {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 3})", "temperature"},
        {R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0})", "top_p"},
        {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens"},
        {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5})", "max_tokens"},
        {R"({"messages": [{"role": "user", "content": "x"}], "n": 2})", "n"},
        {R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a","b","c","d","e"]})",
         "stop"},
        {R"({"messages": [{"role": "user", "content": "x"}], "stop": [1]})", "stop[0]"},
        {R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", "top_logprobs"},
        {R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
        {R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {}})",
         "stream_options"},
        {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})",
         "tools"},
        {R"({"messages": [{"role": "user", "content": "x"}], "seed": "1"})", "seed"},
    };
    for (const Case& c : cases) {
        ApiError e = parse_error(Endpoint::kChat, c.body);
        EXPECT_EQ(e.http_status, 400) << c.body;
        EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
        EXPECT_EQ(e.type, "invalid_request_error");
    }
}

TEST(OpenAiRequest, MalformedJsonIsAClearError) {
    ApiError e = parse_error(Endpoint::kChat, R"({"messages": [)");
    EXPECT_EQ(e.http_status, 400);
    EXPECT_NE(e.message.find("invalid JSON at byte"), std::string::npos) << e.message;
    e = parse_error(Endpoint::kChat, "[1]");
    EXPECT_NE(e.message.find("JSON object"), std::string::npos);
    // Deep nesting is refused before the parser recurses.
    std::string deep(100000, '[');
    e = parse_error(Endpoint::kChat, deep);
    EXPECT_NE(e.message.find("nested deeper"), std::string::npos) << e.message;
    // Invalid UTF-8 inside a string.
    e = parse_error(Endpoint::kChat,
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"\xff\"}]}");
    EXPECT_EQ(e.http_status, 400);
}

TEST(OpenAiResponse, ChatShapes) {
    auto p = parse_ok(Endpoint::kChat,
                      R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true,
                          "top_logprobs": 1, "stream": true,
                          "stream_options": {"include_usage": true}})");
    llm::Generation g;
    g.text = "hello";
    g.model = "m";
    g.finish = llm::Finish::kLength;
    g.usage = {5, 1, 2};
    g.pieces.push_back({"hello", "hello", -0.5f, {{"hello", -0.5f}}});
    json body = response_body(p, g, "chatcmpl-1", 100);
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(body["choices"][0]["message"]["content"], "hello");
    EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
    EXPECT_EQ(body["choices"][0]["logprobs"]["content"][0]["token"], "hello");
    EXPECT_EQ(body["usage"]["total_tokens"], 6);
    EXPECT_EQ(body["usage"]["prompt_tokens_details"]["cached_tokens"], 2);

    json first = chunk_body(p, g.pieces[0], true, "m", "chatcmpl-1", 100);
    EXPECT_EQ(first["object"], "chat.completion.chunk");
    EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
    EXPECT_TRUE(first["usage"].is_null());
    json last = final_chunk_body(p, llm::Finish::kStop, "m", "chatcmpl-1", 100);
    EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
    EXPECT_TRUE(last["choices"][0]["delta"].is_object());
    json usage = usage_chunk_body(p, g.usage, "m", "chatcmpl-1", 100);
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"]["completion_tokens"], 1);
    EXPECT_EQ(sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
}

TEST(OpenAiResponse, CompletionLogprobsAreParallelArrays) {
    auto p = parse_ok(Endpoint::kCompletion, R"({"prompt": "x", "logprobs": 1})");
    llm::Generation g;
    g.text = "ab";
    g.model = "m";
    g.pieces.push_back({"a", "a", -1.0f, {{"a", -1.0f}}});
    g.pieces.push_back({"b", "b", -2.0f, {{"b", -2.0f}}});
    json body = response_body(p, g, "cmpl-1", 1);
    EXPECT_EQ(body["object"], "text_completion");
    EXPECT_EQ(body["choices"][0]["text"], "ab");
    EXPECT_EQ(body["choices"][0]["logprobs"]["tokens"], json({"a", "b"}));
    EXPECT_EQ(body["choices"][0]["logprobs"]["text_offset"], json({0, 1}));
}

TEST(OpenAiError, StatusMapsToTheApiShape) {
    ApiError e = error_from_status(not_found("model \"x\" does not exist"));
    EXPECT_EQ(e.http_status, 404);
    EXPECT_EQ(e.param, "model");
    EXPECT_EQ(e.code, "model_not_found");  // what OpenAI clients look for
    json body = error_body(e);
    EXPECT_EQ(body["error"]["type"], "not_found_error");
    e = error_from_status(not_found("store: no patient \"p\""));
    EXPECT_EQ(e.code, "not_found");
    EXPECT_TRUE(error_body(e)["error"]["param"].is_null());
    e = error_from_status(invalid_argument(
        "messages: prompt of 9 tokens does not fit the context of 8 (max_tokens 1)"));
    EXPECT_EQ(e.code, "context_length_exceeded");
    EXPECT_EQ(e.param, "messages");
    e = error_from_status(resource_exhausted("full"));
    EXPECT_EQ(e.http_status, 429);
    EXPECT_EQ(e.type, "rate_limit_error");
    e = error_from_status(unauthenticated("no key"));
    EXPECT_EQ(e.http_status, 401);
    // Only field paths become a param.
    e = error_from_status(invalid_argument("invalid JSON at byte 3: x"));
    EXPECT_EQ(e.param, "");
}

}  // namespace
}  // namespace ward::server::openai
