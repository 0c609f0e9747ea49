// response_format on /v1/chat/completions: text, json_object and json_schema parse into
// GenerationParams::json_schema (the schema text in document order); every malformed or
// unsupported form is a 400 naming the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/openai.h"

namespace ward::server::openai {
namespace {

std::string chat_with(const std::string& response_format) {
    return R"({"messages": [{"role": "user", "content": "x"}], "response_format": )" +
           response_format + "}";
}

TEST(ResponseFormat, TextAndAbsentMeanNoSchema) {
    for (const std::string rf : {R"({"type": "text"})", "null"}) {
        auto r = parse_request(Endpoint::kChat, chat_with(rf));
        ASSERT_TRUE(r) << r.error().to_string();
        EXPECT_FALSE(r->request.params.json_schema) << rf;
    }
    auto r = parse_request(Endpoint::kChat, R"({"messages": [{"role": "user", "content": "x"}]})");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->request.params.json_schema);
}

TEST(ResponseFormat, JsonObjectAsksForAnyObject) {
    auto r = parse_request(Endpoint::kChat, chat_with(R"({"type": "json_object"})"));
    ASSERT_TRUE(r) << r.error().to_string();
    ASSERT_TRUE(r->request.params.json_schema);
    EXPECT_EQ(*r->request.params.json_schema, R"({"type":"object"})");
}

TEST(ResponseFormat, JsonSchemaKeepsTheDocumentOrder) {
    auto r = parse_request(Endpoint::kChat, chat_with(R"({"type": "json_schema", "json_schema": {
        "name": "triage_v1", "strict": true, "schema": {"type": "object",
        "properties": {"urgency": {"enum": ["routine", "urgent"]}, "age": {"type": "integer"}},
        "required": ["urgency", "age"]}}})"));
    ASSERT_TRUE(r) << r.error().to_string();
    ASSERT_TRUE(r->request.params.json_schema);
    const std::string& schema = *r->request.params.json_schema;
    EXPECT_LT(schema.find("urgency"), schema.find("\"age\""));  // not sorted
    auto parsed = nlohmann::json::parse(schema);
    EXPECT_EQ(parsed["required"], nlohmann::json({"urgency", "age"}));
}

TEST(ResponseFormat, EachBadFormIsNamed) {
    struct Case {
        const char* rf;
        const char* param;
        const char* message;
    };
    const Case cases[] = {
        {R"("json")", "response_format", "expected an object"},
        {R"({})", "response_format.type", "required"},
        {R"({"type": "xml"})", "response_format.type", "\"xml\" is not one of"},
        {R"({"type": "json_schema"})", "response_format.json_schema", "required"},
        {R"({"type": "json_schema", "json_schema": {"schema": {}}})",
         "response_format.json_schema.name", "required"},
        {R"({"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}})",
         "response_format.json_schema.name", "letters"},
        {R"({"type": "json_schema", "json_schema": {"name": "a", "strict": "yes", "schema": {}}})",
         "response_format.json_schema.strict", "boolean"},
        {R"({"type": "json_schema", "json_schema": {"name": "a"}})",
         "response_format.json_schema.schema", "required"},
        {R"({"type": "json_schema", "json_schema": {"name": "a", "schema": "{}"}})",
         "response_format.json_schema.schema", "expected an object"},
        {R"({"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object",
            "properties": {"mrn": {"type": "string", "pattern": "[0-9]+"}}}}})",
         "response_format.json_schema.schema",
         "unsupported keyword 'pattern' at /properties/mrn/pattern"},
        {R"({"type": "json_schema", "json_schema": {"name": "a", "schema":
            {"$ref": "http://example.org/x.json"}}})",
         "response_format.json_schema.schema", "external"},
    };
    for (const Case& c : cases) {
        auto r = parse_request(Endpoint::kChat, chat_with(c.rf));
        ASSERT_FALSE(r) << c.rf;
        ApiError e = error_from_status(r.error());
        EXPECT_EQ(e.http_status, 400);
        EXPECT_EQ(e.param, c.param) << c.rf << " -> " << e.message;
        EXPECT_NE(e.message.find(c.message), std::string::npos) << e.message;
    }
}

}  // namespace
}  // namespace ward::server::openai
