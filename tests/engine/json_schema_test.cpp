// JSON-Schema-constrained decoding: the schema compiler (the subset, refusals that name the
// keyword and its JSON pointer), the byte automaton, the token mask (against a token-by-token
// check, on SentencePiece and byte-level BPE vocabularies), and the guarantee: every output of
// the demo model and of random-weight models, sampled at temperature 1 with many seeds over a
// dozen schemas, parses and validates (with a validator written here from the schema, not the
// compiled grammar).
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generate.h"
#include "engine/grammar.h"
#include "engine/json_schema.h"
#include "engine/model.h"
#include "engine/model_maker.h"
#include "engine/session.h"

namespace ward::engine {
namespace {

using nlohmann::json;

const std::string kData = WARD_SHARED_DATA;

// ---- An independent validator for the subset, read straight from the schema. ----

size_t code_points(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    return n;
}

bool valid(const json& root, const json& schema, const json& v);

bool valid_type(const json& root, const json& s, const std::string& type, const json& v) {
    if (type == "null") return v.is_null();
    if (type == "boolean") return v.is_boolean();
    if (type == "integer") return v.is_number_integer();
    if (type == "number") return v.is_number();
    if (type == "string") {
        if (!v.is_string()) return false;
        const size_t n = code_points(v.get<std::string>());
        if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return false;
        if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return false;
        return true;
    }
    if (type == "array") {
        if (!v.is_array()) return false;
        if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return false;
        if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return false;
        for (const json& item : v) {
            if (s.contains("items") && !valid(root, s["items"], item)) return false;
        }
        return true;
    }
    if (type == "object") {
        if (!v.is_object()) return false;
        const json props = s.value("properties", json::object());
        for (const auto& name : s.value("required", json::array())) {
            if (!v.contains(name.get<std::string>())) return false;
        }
        for (const auto& [key, value] : v.items()) {
            if (props.contains(key)) {
                if (!valid(root, props[key], value)) return false;
            } else if (!props.empty()) {
                return false;  // additionalProperties false
            }
        }
        return true;
    }
    return false;
}

bool valid(const json& root, const json& s, const json& v) {
    if (s.contains("$ref")) {
        return valid(root, root[json::json_pointer(s["$ref"].get<std::string>().substr(1))], v);
    }
    if (s.contains("const")) return s["const"] == v;
    if (s.contains("enum")) {
        for (const json& e : s["enum"]) {
            if (e == v) return true;
        }
        return false;
    }
    if (s.contains("anyOf")) {
        for (const json& alt : s["anyOf"]) {
            if (valid(root, alt, v)) return true;
        }
        return false;
    }
    if (!s.contains("type")) return true;
    if (s["type"].is_string()) return valid_type(root, s, s["type"].get<std::string>(), v);
    for (const json& t : s["type"]) {
        if (valid_type(root, s, t.get<std::string>(), v)) return true;
    }
    return false;
}

// A dozen schemas, each bounded so that the longest value fits the token budget.
const std::vector<std::string> kSchemas = {
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":16},
        "age":{"type":"integer"},"sex":{"enum":["female","male","other"]}},
        "required":["name","age"]})",
    R"({"type":"object","properties":{"bp":{"type":"object","properties":{
        "systolic":{"type":"integer"},"diastolic":{"type":"integer"}},
        "required":["systolic","diastolic"]},"temp_c":{"type":"number"},
        "notes":{"type":["string","null"],"maxLength":12}},"required":["bp","temp_c","notes"]})",
    R"({"type":"array","items":{"type":"object","properties":{
        "drug":{"type":"string","minLength":1,"maxLength":10},"dose_mg":{"type":"number"}},
        "required":["drug","dose_mg"]},"minItems":1,"maxItems":3})",
    R"({"type":"array","items":{"type":"string","maxLength":6},"minItems":2,"maxItems":4})",
    R"({"type":"object","properties":{"smoker":{"type":"boolean"},
        "allergies":{"type":"boolean"},"pregnant":{"type":["boolean","null"]}},
        "required":["smoker","allergies","pregnant"]})",
    R"({"enum":["low","medium","high",1,null,true]})",
    R"({"anyOf":[{"type":"null"},{"type":"object","properties":{
        "code":{"type":"string","maxLength":8},"system":{"const":"ICD-10"}},
        "required":["code","system"]}]})",
    R"({"type":"number"})",
    R"({"type":"array","items":{"type":"integer"},"maxItems":5})",
    R"({"$defs":{"dose":{"type":"object","properties":{"value":{"type":"number"},
        "unit":{"enum":["mg","mcg","g"]}},"required":["value","unit"]}},
        "type":"object","properties":{"min":{"$ref":"#/$defs/dose"},
        "max":{"$ref":"#/$defs/dose"}},"required":["max"]})",
    R"({"type":"object","properties":{"a":{"type":"integer"},
        "b":{"type":"string","maxLength":5},"c":{"type":"boolean"}}})",
    R"({"type":"string","minLength":3,"maxLength":10})",
    R"({"type":"array","items":{"type":"array","items":{"type":"boolean"},"maxItems":3},
        "minItems":1,"maxItems":3})",
};

std::shared_ptr<const Grammar> compile(std::string_view schema) {
    auto g = compile_json_schema(schema);
    EXPECT_TRUE(g) << g.error().to_string() << "\n" << schema;
    return g ? *g : nullptr;
}

bool accepts_all(const Grammar& g, std::string_view text) {
    GrammarState s(&g);
    return s.accepts(text) && [&] {
        for (char c : text) s.step(static_cast<uint8_t>(c));
        return s.accepting();
    }();
}

// ---- The compiler and the automaton. ----

TEST(JsonSchema, AcceptsCanonicalValuesOnly) {
    auto g = compile(kSchemas[0]);
    EXPECT_TRUE(accepts_all(*g, R"({"name":"Ada","age":36,"sex":"female"})"));
    EXPECT_TRUE(accepts_all(*g, R"({"name":"","age":-4})"));
    EXPECT_FALSE(accepts_all(*g, R"({"name":"Ada"})"));                 // age required
    EXPECT_FALSE(accepts_all(*g, R"({"age":36,"name":"Ada"})"));        // schema order
    EXPECT_FALSE(accepts_all(*g, R"({"name": "Ada","age":36})"));       // no whitespace
    EXPECT_FALSE(accepts_all(*g, R"({"name":"Ada","age":3.5})"));       // integer
    EXPECT_FALSE(accepts_all(*g, R"({"name":"Ada","age":36,"x":1})"));  // no extras
    EXPECT_FALSE(accepts_all(*g, R"({"name":"Ada","age":007})"));       // leading zeros
    EXPECT_FALSE(accepts_all(*g, R"({"name":"Ada","age":1,"sex":"f"})"));
    EXPECT_FALSE(accepts_all(*g, R"({"name":"abcdefghijklmnopq","age":1})"));  // maxLength 16
    EXPECT_TRUE(accepts_all(*g, "{\"name\":\"\xc3\xa9\\n\\u00e9\\\"\",\"age\":0}"));
    EXPECT_FALSE(accepts_all(*g, "{\"name\":\"\xc3\",\"age\":0}"));          // cut UTF-8
    EXPECT_FALSE(accepts_all(*g, "{\"name\":\"\xed\xa0\x80\",\"age\":0}"));  // surrogate
    EXPECT_FALSE(accepts_all(*g, "{\"name\":\"\\ud800\",\"age\":0}"));       // surrogate escape
    EXPECT_FALSE(accepts_all(*g, "{\"name\":\"a\nb\",\"age\":0}"));          // raw control
}

TEST(JsonSchema, NumbersAndTopLevelEnd) {
    auto g = compile(R"({"type":"number"})");
    for (const char* ok : {"0", "-0", "12", "-3.25", "1e5", "2.5E-07", "6.02e+23"}) {
        EXPECT_TRUE(accepts_all(*g, ok)) << ok;
    }
    for (const char* bad : {"-", "01", "1.", ".5", "1e", "1e+", "+1", "1e123", "NaN"}) {
        EXPECT_FALSE(accepts_all(*g, bad)) << bad;
    }
    GrammarState s(g.get());
    ASSERT_TRUE(s.step('4'));
    EXPECT_TRUE(s.accepting());
    EXPECT_FALSE(s.finished());  // more digits may follow
    auto obj = compile(R"({"type":"object","properties":{"x":{"type":"null"}}})");
    GrammarState o(obj.get());
    for (char c : std::string("{}")) ASSERT_TRUE(o.step(static_cast<uint8_t>(c)));
    EXPECT_TRUE(o.finished());
    EXPECT_FALSE(o.step(' '));
}

TEST(JsonSchema, ArraysOptionalPropertiesAnyOfAndRefs) {
    auto tags = compile(kSchemas[3]);
    EXPECT_TRUE(accepts_all(*tags, R"(["a","bc"])"));
    EXPECT_FALSE(accepts_all(*tags, R"(["a"])"));
    EXPECT_FALSE(accepts_all(*tags, R"(["a","b","c","d","e"])"));
    auto opt = compile(kSchemas[10]);
    for (const char* ok :
         {"{}", R"({"b":"x"})", R"({"a":1,"c":true})", R"({"a":1,"b":"","c":false})"}) {
        EXPECT_TRUE(accepts_all(*opt, ok)) << ok;
    }
    EXPECT_FALSE(accepts_all(*opt, R"({"c":true,"a":1})"));
    EXPECT_FALSE(accepts_all(*opt, R"({,"a":1})"));
    auto nullable = compile(kSchemas[6]);
    EXPECT_TRUE(accepts_all(*nullable, "null"));
    EXPECT_TRUE(accepts_all(*nullable, R"({"code":"I10","system":"ICD-10"})"));
    EXPECT_FALSE(accepts_all(*nullable, R"({"code":"I10","system":"ICD-9"})"));
    auto refs = compile(kSchemas[9]);
    EXPECT_TRUE(accepts_all(*refs, R"({"max":{"value":4,"unit":"g"}})"));
    EXPECT_FALSE(accepts_all(*refs, R"({"min":{"value":4,"unit":"g"}})"));
    auto recursive = compile(R"({"$defs":{"node":{"type":"object","properties":{
        "kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}}}},
        "$ref":"#/$defs/node"})");
    EXPECT_TRUE(accepts_all(*recursive, R"({"kids":[{},{"kids":[{}]}]})"));
    auto any = compile("{}");  // json_object mode: any JSON value
    EXPECT_TRUE(accepts_all(*any, R"({"a":[1,{"b":null}],"c":"d"})"));
    auto object = compile(R"({"type":"object"})");
    EXPECT_TRUE(accepts_all(*object, R"({"x":[true,-1.5e3]})"));
    EXPECT_FALSE(accepts_all(*object, "[]"));
}

TEST(JsonSchema, RefusesUnsupportedKeywordsNamingThePointer) {
    struct Case {
        const char* schema;
        const char* message;
    };
    const Case cases[] = {
        {R"({"type":"object","properties":{"mrn":{"type":"string","pattern":"^[0-9]+$"}}})",
         "unsupported keyword 'pattern' at /properties/mrn/pattern"},
        {R"({"type":"object","patternProperties":{"^x":{}}})",
         "unsupported keyword 'patternProperties' at /patternProperties"},
        {R"({"$ref":"https://example.org/s.json"})", "is external"},
        {R"({"type":"array","items":{"$ref":"#/$defs/missing"}})",
         "$ref '#/$defs/missing' at /items/$ref does not resolve"},
        {R"({"type":"integer","minimum":0})", "unsupported keyword 'minimum' at /minimum"},
        {R"({"oneOf":[{"type":"null"}]})", "unsupported keyword 'oneOf' at /oneOf"},
        {R"({"type":"strnig"})", "unknown type 'strnig' at /type"},
        {R"({"type":"object","properties":{"a":{}},"required":["b"]})",
         "required property 'b' at /required/0 is not in properties"},
        {R"({"type":"string","minLength":5,"maxLength":2})", "minLength 5 is above maxLength 2"},
        {R"({"type":"object","properties":{"a":{}},"additionalProperties":true})",
         "/additionalProperties must be false"},
        {R"({"enum":[]})", "/enum must be an array"},
        {R"([1,2])", "must be an object or a boolean"},
        {R"({"type":"string",)", "not valid JSON"},
        {"false", "matches nothing"},
    };
    for (const Case& c : cases) {
        auto g = compile_json_schema(std::string_view(c.schema));
        ASSERT_FALSE(g) << c.schema;
        EXPECT_EQ(g.error().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(g.error().message().find(c.message), std::string::npos)
            << g.error().message() << "\nwanted: " << c.message;
    }
    // A $ref cycle that never reaches a value, and alternatives that multiply: refused
    // before any byte is stepped (2^12 choices for the first byte otherwise).
    auto cycle = compile_json_schema(
        std::string_view(R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})"));
    ASSERT_FALSE(cycle);
    EXPECT_NE(cycle.error().message().find("never reaches a value"), std::string::npos);
    json chain = {{"$defs", json::object()}, {"$ref", "#/$defs/a0"}};
    for (int i = 0; i < 12; ++i) {
        const std::string next = "#/$defs/a" + std::to_string(i + 1);
        chain["$defs"]["a" + std::to_string(i)] = {{"anyOf", {{{"$ref", next}}, {{"$ref", next}}}}};
    }
    chain["$defs"]["a12"] = {{"type", "null"}};
    auto wide = compile_json_schema(std::string_view(chain.dump()));
    ASSERT_FALSE(wide);
    EXPECT_NE(wide.error().message().find("more than 1024 choices"), std::string::npos)
        << wide.error().message();
    // Depth and size bounds.
    std::string deep = "{}";
    for (int i = 0; i < 40; ++i) deep = R"({"type":"array","items":)" + deep + "}";
    auto g = compile_json_schema(std::string_view(deep));
    ASSERT_FALSE(g);
    EXPECT_NE(g.error().message().find("nested deeper than 32"), std::string::npos);
    json big = {{"enum", json::array()}};
    for (int i = 0; i < 2000; ++i) big["enum"].push_back(i);
    EXPECT_FALSE(compile_json_schema(std::string_view(big.dump())));
    EXPECT_FALSE(compile_json_schema(std::string_view(std::string(kMaxSchemaBytes + 1, ' '))));
}

TEST(JsonSchema, ValidateJsonNamesTheMismatch) {
    auto g = compile(kSchemas[2]);
    EXPECT_TRUE(validate_json_text(*g, R"([ {"dose_mg": 5, "drug": "x"} ])").ok());
    Status s = validate_json_text(*g, R"([{"drug":"x","dose_mg":"5"}])");
    EXPECT_NE(s.message().find("at /0/dose_mg: expected a number"), std::string::npos)
        << s.message();
    s = validate_json_text(*g, R"([{"drug":"x"}])");
    EXPECT_NE(s.message().find("required property 'dose_mg' is missing"), std::string::npos);
    s = validate_json_text(*g, R"([{"drug":"x","dose_mg":1,"route":"po"}])");
    EXPECT_NE(s.message().find("property 'route' is not allowed"), std::string::npos);
    EXPECT_FALSE(validate_json_text(*g, "[").ok());
    EXPECT_FALSE(validate_json_text(*g, "[]").ok());  // minItems 1
}

// ---- Token masks. ----

std::shared_ptr<const Tokenizer> load_tokenizer(const std::string& path) {
    auto file = GgufFile::open(path);
    EXPECT_TRUE(file) << path;
    auto tok = Tokenizer::from_gguf(**file);
    EXPECT_TRUE(tok);
    return *tok;
}

// Drives a matcher with random logits to the end, checking at every step that mask() agrees
// with allows() token by token; returns the text.
std::string drive_and_check_mask(const Tokenizer& tok, std::shared_ptr<const Grammar> g,
                                 std::shared_ptr<const TokenTrie> trie, uint64_t seed,
                                 int check_every) {
    GrammarMatcher m(g, trie);
    Sampler sampler({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0, .seed = seed});
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0, 3);
    std::vector<float> logits(static_cast<size_t>(tok.n_vocab()));
    std::vector<uint8_t> allowed;
    std::string text;
    for (int step = 0; step < 2000; ++step) {
        if (step % check_every == 0 && !m.finished()) {
            const size_t n = m.mask(&allowed, logits.size());
            size_t counted = 0;
            for (int32_t id = 0; id < tok.n_vocab(); ++id) {
                if ((allowed[static_cast<size_t>(id)] != 0) != m.allows(id)) {
                    ADD_FAILURE() << "mask and allows() differ on token " << id << " after '"
                                  << text << "'";
                    return text;
                }
                counted += allowed[static_cast<size_t>(id)];
            }
            EXPECT_EQ(counted, n);
        }
        for (float& l : logits) l = normal(rng);
        auto s = sample_constrained(sampler, m, logits, {});
        EXPECT_TRUE(s) << s.error().to_string();
        if (!s) return text;
        if (tok.is_eog(s->id)) {
            EXPECT_TRUE(m.accept(s->id).ok());
            return text;
        }
        EXPECT_TRUE(m.accept(s->id).ok());
        text += tok.token_to_piece(s->id);
    }
    ADD_FAILURE() << "no end after 2000 tokens: " << text;
    return text;
}

TEST(JsonSchemaMask, MatchesTokenByTokenCheckOnSentencePieceAndBpe) {
    for (const std::string& path :
         {kData + "/models/stories260K.gguf", kData + "/tokenizers/vocab-llama3-bpe.gguf"}) {
        auto tok = load_tokenizer(path);
        auto trie = TokenTrie::build(*tok);
        const bool big = tok->n_vocab() > 10000;
        // The 128k BPE vocabulary is slow to check token by token under the sanitizers: three
        // schemas, every 10th step.
        for (size_t i = 0; i < kSchemas.size(); ++i) {
            if (big && i != 0 && i != 2 && i != 6) continue;
            auto g = compile(kSchemas[i]);
            std::string text = drive_and_check_mask(*tok, g, trie, 100 + i, big ? 10 : 1);
            json schema = json::parse(kSchemas[i]);
            json value = json::parse(text, nullptr, false);
            ASSERT_FALSE(value.is_discarded()) << path << " schema " << i << ": " << text;
            EXPECT_TRUE(valid(schema, schema, value)) << path << " schema " << i << ": " << text;
        }
    }
}

TEST(JsonSchemaMask, BpeByteTokensAreRawBytes) {
    auto tok = load_tokenizer(kData + "/tokenizers/vocab-llama3-bpe.gguf");
    auto trie = TokenTrie::build(*tok);
    // "Ġ" spells a space in the byte alphabet, "Ã©" the two bytes of "é".
    const int32_t space = tok->find_token("\xc4\xa0");
    ASSERT_GE(space, 0);
    EXPECT_EQ(trie->bytes()[static_cast<size_t>(space)], " ");
    const auto e_acute = tok->encode("\xc3\xa9", false);
    ASSERT_EQ(e_acute.size(), 1u);
    EXPECT_EQ(trie->bytes()[static_cast<size_t>(e_acute[0])], "\xc3\xa9");
    const auto quote_comma = tok->encode("\",", false);
    ASSERT_EQ(quote_comma.size(), 1u);

    auto g = compile(R"({"type":"array","items":{"type":"string"}})");
    GrammarMatcher m(g, trie);
    EXPECT_FALSE(m.allows(space));  // no whitespace anywhere
    EXPECT_FALSE(m.allows(tok->eos()));
    for (int32_t id : tok->encode("[\"a", false)) ASSERT_TRUE(m.accept(id).ok()) << id;
    EXPECT_TRUE(m.allows(quote_comma[0]));  // one token closes the string and goes on
    EXPECT_TRUE(m.allows(e_acute[0]));
    EXPECT_TRUE(m.allows(space));  // inside a string
    ASSERT_TRUE(m.accept(quote_comma[0]).ok());
    EXPECT_FALSE(m.allows(space));
    EXPECT_FALSE(m.accept(tok->encode("]", false).at(0)).ok());  // a value must follow ','
}

TEST(JsonSchemaMask, SentencePieceByteFallbackTokensCarryOneByte) {
    auto tok = load_tokenizer(kData + "/models/stories260K.gguf");
    auto trie = TokenTrie::build(*tok);
    const int32_t brace = tok->find_token("<0x7B>");
    const int32_t lead = tok->find_token("<0xC3>");
    const int32_t cont = tok->find_token("<0xA9>");
    const int32_t word = tok->find_token("\xe2\x96\x81the");  // "▁the"
    ASSERT_GE(brace, 0);
    ASSERT_GE(lead, 0);
    ASSERT_GE(cont, 0);
    ASSERT_GE(word, 0);
    EXPECT_EQ(trie->bytes()[static_cast<size_t>(brace)], "{");
    EXPECT_EQ(trie->bytes()[static_cast<size_t>(lead)], "\xc3");
    EXPECT_EQ(trie->bytes()[static_cast<size_t>(word)], " the");
    EXPECT_TRUE(trie->bytes()[static_cast<size_t>(tok->bos())].empty());  // control: never

    auto g = compile(R"({"type":"string","maxLength":2})");
    GrammarMatcher m(g, trie);
    EXPECT_FALSE(m.allows(brace));
    ASSERT_TRUE(m.accept_bytes("\"").ok());
    EXPECT_TRUE(m.allows(lead));
    EXPECT_FALSE(m.allows(word));  // " the": 4 characters, over maxLength 2
    EXPECT_TRUE(m.allows(tok->find_token("<0x20>")));
    ASSERT_TRUE(m.accept(lead).ok());
    // Half a character: only a continuation byte may follow, not a word or the closing quote.
    EXPECT_TRUE(m.allows(cont));
    EXPECT_FALSE(m.allows(word));
    EXPECT_FALSE(m.allows(tok->find_token("<0x22>")));
    ASSERT_TRUE(m.accept(cont).ok());
    ASSERT_TRUE(m.accept_bytes("x").ok());
    EXPECT_FALSE(m.allows(brace));  // maxLength 2 reached: only the quote
    EXPECT_FALSE(m.allows(tok->eos()));
    ASSERT_TRUE(m.accept(tok->find_token("<0x22>")).ok());
    EXPECT_TRUE(m.finished());
    EXPECT_TRUE(m.allows(tok->eos()));
    std::vector<uint8_t> allowed;
    EXPECT_EQ(m.mask(&allowed, static_cast<size_t>(tok->n_vocab())), 1u);  // EOS alone
}

// ---- The guarantee: 100% of outputs parse and validate. ----

int run_generations(const std::shared_ptr<const Model>& model, const std::string& prompt_text,
                    int seeds, int max_tokens, int* n_valid) {
    const Tokenizer& tok = model->tokenizer();
    auto trie = TokenTrie::build(tok);
    auto prompt = tok.encode(prompt_text, true);
    int n = 0;
    for (size_t i = 0; i < kSchemas.size(); ++i) {
        auto g = compile(kSchemas[i]);
        const json schema = json::parse(kSchemas[i]);
        for (int seed = 0; seed < seeds; ++seed) {
            auto session = Session::create(model, {.n_ctx = 1024, .n_threads = 2});
            EXPECT_TRUE(session);
            GenerateOptions o;
            o.max_tokens = max_tokens;
            o.sampling.temperature = 1.0f;
            o.sampling.seed = static_cast<uint64_t>(seed) * 7919 + i;
            o.grammar = g;
            o.token_trie = trie;
            auto r = generate(**session, prompt, o);
            ++n;
            EXPECT_TRUE(r) << r.error().to_string();
            if (!r) continue;
            EXPECT_EQ(r->finish, FinishReason::kStop) << "schema " << i << ": " << r->text;
            json value = json::parse(r->text, nullptr, false);
            EXPECT_FALSE(value.is_discarded())
                << "schema " << i << " seed " << seed << ": " << r->text;
            if (value.is_discarded()) continue;
            const bool ok = valid(schema, schema, value) && validate_json(*g, value).ok();
            EXPECT_TRUE(ok) << "schema " << i << " seed " << seed << ": " << r->text;
            *n_valid += ok ? 1 : 0;
        }
    }
    return n;
}

TEST(JsonSchemaGenerate, DemoModelOutputsAlwaysValidate) {
    auto model = Model::load(kData + "/models/stories260K.gguf");
    ASSERT_TRUE(model);
    int n_valid = 0;
    const int n = run_generations(*model, "The patient record:", 8, 480, &n_valid);
    EXPECT_EQ(n, 104);
    EXPECT_EQ(n_valid, n);
}

TEST(JsonSchemaGenerate, RandomWeightModelOutputsAlwaysValidate) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("ward_json_schema_" + std::to_string(::getpid()) + ".gguf"))
                                 .string();
    RandomModelSpec spec;
    spec.type = TensorType::kQ8_0;
    spec.n_embd = 128;
    spec.n_layer = 2;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    spec.n_ff = 256;
    spec.n_vocab = 600;
    spec.n_ctx = 1024;
    spec.seed = 3;
    ASSERT_TRUE(make_random_model(spec, path).ok());
    auto model = Model::load(path);
    std::filesystem::remove(path);
    ASSERT_TRUE(model) << model.error().to_string();
    int n_valid = 0;
    const int n = run_generations(*model, "Record:", 8, 600, &n_valid);
    EXPECT_EQ(n, 104);
    EXPECT_EQ(n_valid, n);
}

TEST(JsonSchemaGenerate, GreedyAndTheTokenBudget) {
    auto model = Model::load(kData + "/models/stories260K.gguf");
    ASSERT_TRUE(model);
    auto g = compile(kSchemas[0]);
    auto prompt = (*model)->tokenizer().encode("Once upon a time", true);
    auto session = Session::create(*model, {.n_ctx = 256, .n_threads = 1});
    GenerateOptions o;
    o.max_tokens = 200;
    o.sampling.temperature = 0;
    o.grammar = g;
    auto r = generate(**session, prompt, o);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->finish, FinishReason::kStop);
    EXPECT_TRUE(validate_json_text(*g, r->text).ok()) << r->text;
    // Too few tokens: the value is cut and the finish says so.
    auto session2 = Session::create(*model, {.n_ctx = 256, .n_threads = 1});
    o.max_tokens = 3;
    auto cut = generate(**session2, prompt, o);
    ASSERT_TRUE(cut);
    EXPECT_EQ(cut->finish, FinishReason::kLength);
    EXPECT_FALSE(validate_json_text(*g, cut->text).ok());
    // ignore_eos cannot be honoured under a grammar.
    o.ignore_eos = true;
    auto session3 = Session::create(*model, {.n_ctx = 256, .n_threads = 1});
    auto refused = generate(**session3, prompt, o);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ward::engine
