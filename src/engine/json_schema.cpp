#include "engine/json_schema.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>

namespace ward::engine {

namespace {

// Schemas are read with their keys in document order: properties are generated in it.
using json = nlohmann::ordered_json;

constexpr size_t kMaxEnumValues = 1024;
constexpr size_t kMaxProperties = 256;
constexpr int64_t kMaxCount = 100000;
constexpr int64_t kMaxChoices = 1024;

constexpr std::array<std::string_view, 12> kAnnotations = {
    "title",    "description", "default",  "examples",  "$schema", "$id",
    "$comment", "deprecated",  "readOnly", "writeOnly", "$defs",   "definitions"};
constexpr std::array<std::string_view, 13> kSupported = {
    "type",  "properties", "required",  "additionalProperties",
    "items", "minItems",   "maxItems",  "enum",
    "const", "minLength",  "maxLength", "anyOf",
    "$ref"};

bool is_annotation(std::string_view key) {
    return std::find(kAnnotations.begin(), kAnnotations.end(), key) != kAnnotations.end();
}

std::string escape_pointer(std::string_view token) {
    std::string out;
    for (char c : token) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

std::string at(const std::string& pointer) {
    return pointer.empty() ? std::string("/") : pointer;
}

class Compiler {
  public:
    explicit Compiler(const json& root) : root_(root) {}

    Result<int32_t> compile(const json& s, const std::string& ptr, int depth);
    Grammar take() { return std::move(g_); }

  private:
    Result<int32_t> add(GrammarNode node, const std::string& ptr) {
        if (g_.nodes.size() >= kMaxGrammarNodes) {
            return invalid_argument("json schema: more than {} grammar nodes (at {})",
                                    kMaxGrammarNodes, at(ptr));
        }
        g_.nodes.push_back(std::move(node));
        return static_cast<int32_t>(g_.nodes.size() - 1);
    }
    Result<int32_t> literal(const json& value, const std::string& ptr) {
        GrammarNode n;
        n.kind = GrammarNodeKind::kLiteral;
        n.literal = value.dump(-1, ' ', false, json::error_handler_t::replace);
        return add(std::move(n), ptr);
    }
    Result<int32_t> any(const std::string& ptr);
    Result<int32_t> compile_ref(const json& s, const std::string& ptr, int depth);
    Result<int32_t> compile_type(const json& s, std::string_view type, const std::string& ptr,
                                 int depth);
    Result<int32_t> compile_object(const json& s, const std::string& ptr, int depth);
    Result<int32_t> compile_array(const json& s, const std::string& ptr, int depth);
    Result<int32_t> string_node(int32_t min, int32_t max, const std::string& ptr) {
        GrammarNode n;
        n.kind = GrammarNodeKind::kString;
        n.min = min;
        n.max = max;
        return add(std::move(n), ptr);
    }

    const json& root_;
    Grammar g_;
    std::map<std::string, int32_t> refs_;
    int32_t any_ = -1;
};

// A non-negative integer keyword, or `fallback` when absent.
Result<int32_t> read_count(const json& s, const char* key, const std::string& ptr,
                           int32_t fallback) {
    auto it = s.find(key);
    if (it == s.end()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > kMaxCount) {
        return invalid_argument("json schema: {}/{} must be an integer in [0, {}]", ptr, key,
                                kMaxCount);
    }
    return static_cast<int32_t>(it->get<int64_t>());
}

// Keywords other than annotations and those in `allowed`.
Status only_keywords(const json& s, std::initializer_list<std::string_view> allowed,
                     std::string_view beside, const std::string& ptr) {
    for (const auto& [key, value] : s.items()) {
        if (is_annotation(key)) continue;
        if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
        return invalid_argument("json schema: keyword '{}' beside {} is not supported (at {}/{})",
                                key, beside, ptr, escape_pointer(key));
    }
    return ok_status();
}

Result<int32_t> Compiler::any(const std::string& ptr) {
    if (any_ >= 0) return any_;
    GrammarNode alt;
    alt.kind = GrammarNodeKind::kAnyOf;
    WARD_ASSIGN_OR_RETURN(any_, add(alt, ptr));
    int32_t str, num, obj, arr, t, f, null;
    WARD_ASSIGN_OR_RETURN(str, string_node(0, -1, ptr));
    GrammarNode n;
    n.kind = GrammarNodeKind::kNumber;
    WARD_ASSIGN_OR_RETURN(num, add(n, ptr));
    GrammarNode o;
    o.kind = GrammarNodeKind::kObject;
    o.free_keys = true;
    o.key = str;
    o.item = any_;
    WARD_ASSIGN_OR_RETURN(obj, add(o, ptr));
    GrammarNode a;
    a.kind = GrammarNodeKind::kArray;
    a.item = any_;
    WARD_ASSIGN_OR_RETURN(arr, add(a, ptr));
    WARD_ASSIGN_OR_RETURN(t, literal(json(true), ptr));
    WARD_ASSIGN_OR_RETURN(f, literal(json(false), ptr));
    WARD_ASSIGN_OR_RETURN(null, literal(json(nullptr), ptr));
    g_.nodes[static_cast<size_t>(any_)].alternatives = {obj, arr, str, num, t, f, null};
    return any_;
}

Result<int32_t> Compiler::compile_ref(const json& s, const std::string& ptr, int depth) {
    WARD_TRY(only_keywords(s, {"$ref"}, "$ref", ptr));
    const json& ref = s["$ref"];
    if (!ref.is_string()) {
        return invalid_argument("json schema: {}/$ref must be a string", ptr);
    }
    const std::string target = ref.get<std::string>();
    if (target.empty() || target[0] != '#') {
        return invalid_argument(
            "json schema: $ref '{}' at {}/$ref is external; only references inside the schema "
            "(\"#/$defs/name\") are supported",
            target, ptr);
    }
    if (auto it = refs_.find(target); it != refs_.end()) return it->second;
    const json* resolved = nullptr;
    try {
        const json::json_pointer pointer(target.substr(1));
        if (root_.contains(pointer)) resolved = &root_.at(pointer);
    } catch (const json::exception&) {
        resolved = nullptr;
    }
    if (resolved == nullptr) {
        return invalid_argument("json schema: $ref '{}' at {}/$ref does not resolve", target, ptr);
    }
    // A placeholder first, so that a recursive reference finds it.
    GrammarNode placeholder;
    placeholder.kind = GrammarNodeKind::kAnyOf;
    int32_t id;
    WARD_ASSIGN_OR_RETURN(id, add(placeholder, ptr));
    refs_[target] = id;
    int32_t body;
    WARD_ASSIGN_OR_RETURN(body, compile(*resolved, target.substr(1), depth + 1));
    g_.nodes[static_cast<size_t>(id)].alternatives = {body};
    return id;
}

Result<int32_t> Compiler::compile(const json& s, const std::string& ptr, int depth) {
    if (depth > kMaxSchemaDepth) {
        return invalid_argument("json schema: nested deeper than {} levels at {}", kMaxSchemaDepth,
                                at(ptr));
    }
    if (s.is_boolean()) {
        if (s.get<bool>()) return any(ptr);
        return invalid_argument("json schema: the schema false at {} matches nothing", at(ptr));
    }
    if (!s.is_object()) {
        return invalid_argument(
            "json schema: the schema at {} must be an object or a boolean, "
            "not {}",
            at(ptr), s.type_name());
    }
    for (const auto& [key, value] : s.items()) {
        if (is_annotation(key)) continue;
        if (std::find(kSupported.begin(), kSupported.end(), key) == kSupported.end()) {
            return invalid_argument("json schema: unsupported keyword '{}' at {}/{}", key, ptr,
                                    escape_pointer(key));
        }
    }
    if (s.contains("$ref")) return compile_ref(s, ptr, depth);
    if (s.contains("const")) {
        WARD_TRY(only_keywords(s, {"const", "type"}, "const", ptr));
        return literal(s["const"], ptr + "/const");
    }
    if (s.contains("enum")) {
        WARD_TRY(only_keywords(s, {"enum", "type"}, "enum", ptr));
        const json& values = s["enum"];
        if (!values.is_array() || values.empty() || values.size() > kMaxEnumValues) {
            return invalid_argument("json schema: {}/enum must be an array of 1 to {} values", ptr,
                                    kMaxEnumValues);
        }
        GrammarNode alt;
        alt.kind = GrammarNodeKind::kAnyOf;
        for (size_t i = 0; i < values.size(); ++i) {
            int32_t id;
            WARD_ASSIGN_OR_RETURN(id, literal(values[i], fmt::format("{}/enum/{}", ptr, i)));
            alt.alternatives.push_back(id);
        }
        if (alt.alternatives.size() == 1) return alt.alternatives[0];
        return add(std::move(alt), ptr);
    }
    if (s.contains("anyOf")) {
        WARD_TRY(only_keywords(s, {"anyOf"}, "anyOf", ptr));
        const json& options = s["anyOf"];
        if (!options.is_array() || options.empty()) {
            return invalid_argument("json schema: {}/anyOf must be a non-empty array", ptr);
        }
        GrammarNode alt;
        alt.kind = GrammarNodeKind::kAnyOf;
        for (size_t i = 0; i < options.size(); ++i) {
            int32_t id;
            WARD_ASSIGN_OR_RETURN(
                id, compile(options[i], fmt::format("{}/anyOf/{}", ptr, i), depth + 1));
            alt.alternatives.push_back(id);
        }
        if (alt.alternatives.size() == 1) return alt.alternatives[0];
        return add(std::move(alt), ptr);
    }
    if (s.contains("type")) {
        const json& type = s["type"];
        if (type.is_string()) return compile_type(s, type.get<std::string>(), ptr, depth);
        if (!type.is_array() || type.empty()) {
            return invalid_argument(
                "json schema: {}/type must be a type name or a non-empty "
                "array of them",
                ptr);
        }
        GrammarNode alt;
        alt.kind = GrammarNodeKind::kAnyOf;
        for (size_t i = 0; i < type.size(); ++i) {
            if (!type[i].is_string()) {
                return invalid_argument("json schema: {}/type/{} must be a string", ptr, i);
            }
            int32_t id;
            WARD_ASSIGN_OR_RETURN(id, compile_type(s, type[i].get<std::string>(), ptr, depth));
            alt.alternatives.push_back(id);
        }
        if (alt.alternatives.size() == 1) return alt.alternatives[0];
        return add(std::move(alt), ptr);
    }
    // No type: the keywords say which.
    if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) {
        return compile_type(s, "object", ptr, depth);
    }
    if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
        return compile_type(s, "array", ptr, depth);
    }
    if (s.contains("minLength") || s.contains("maxLength")) {
        return compile_type(s, "string", ptr, depth);
    }
    return any(ptr);
}

Result<int32_t> Compiler::compile_type(const json& s, std::string_view type, const std::string& ptr,
                                       int depth) {
    if (type == "string") {
        int32_t min, max;
        WARD_ASSIGN_OR_RETURN(min, read_count(s, "minLength", ptr, 0));
        WARD_ASSIGN_OR_RETURN(max, read_count(s, "maxLength", ptr, -1));
        if (max >= 0 && min > max) {
            return invalid_argument("json schema: {}/minLength {} is above maxLength {}", ptr, min,
                                    max);
        }
        return string_node(min, max, ptr);
    }
    if (type == "integer" || type == "number") {
        GrammarNode n;
        n.kind = type == "integer" ? GrammarNodeKind::kInteger : GrammarNodeKind::kNumber;
        return add(std::move(n), ptr);
    }
    if (type == "boolean") {
        GrammarNode alt;
        alt.kind = GrammarNodeKind::kAnyOf;
        int32_t t, f;
        WARD_ASSIGN_OR_RETURN(t, literal(json(true), ptr));
        WARD_ASSIGN_OR_RETURN(f, literal(json(false), ptr));
        alt.alternatives = {t, f};
        return add(std::move(alt), ptr);
    }
    if (type == "null") return literal(json(nullptr), ptr);
    if (type == "object") return compile_object(s, ptr, depth);
    if (type == "array") return compile_array(s, ptr, depth);
    return invalid_argument(
        "json schema: unknown type '{}' at {}/type (expected object, array, "
        "string, integer, number, boolean or null)",
        type, ptr);
}

Result<int32_t> Compiler::compile_object(const json& s, const std::string& ptr, int depth) {
    GrammarNode n;
    n.kind = GrammarNodeKind::kObject;
    const json* properties = nullptr;
    if (auto it = s.find("properties"); it != s.end()) {
        if (!it->is_object() || it->size() > kMaxProperties) {
            return invalid_argument(
                "json schema: {}/properties must be an object of at most {} "
                "properties",
                ptr, kMaxProperties);
        }
        properties = &*it;
    }
    std::set<std::string> required;
    if (auto it = s.find("required"); it != s.end()) {
        if (!it->is_array()) {
            return invalid_argument("json schema: {}/required must be an array of names", ptr);
        }
        for (size_t i = 0; i < it->size(); ++i) {
            const json& name = (*it)[i];
            if (!name.is_string()) {
                return invalid_argument("json schema: {}/required/{} must be a string", ptr, i);
            }
            if (properties == nullptr || !properties->contains(name.get<std::string>())) {
                return invalid_argument(
                    "json schema: required property '{}' at {}/required/{} is not in properties "
                    "(additional properties are not generated)",
                    name.get<std::string>(), ptr, i);
            }
            required.insert(name.get<std::string>());
        }
    }
    const json* additional = nullptr;
    if (auto it = s.find("additionalProperties"); it != s.end()) additional = &*it;
    if (properties != nullptr && !properties->empty()) {
        if (additional != nullptr && !(additional->is_boolean() && !additional->get<bool>())) {
            return invalid_argument(
                "json schema: {}/additionalProperties must be false (or absent) when properties "
                "are given",
                ptr);
        }
        for (const auto& [name, sub] : properties->items()) {
            GrammarProperty p;
            WARD_ASSIGN_OR_RETURN(p.key, literal(json(name), ptr));
            WARD_ASSIGN_OR_RETURN(
                p.value, compile(sub, fmt::format("{}/properties/{}", ptr, escape_pointer(name)),
                                 depth + 1));
            p.required = required.count(name) > 0;
            n.properties.push_back(p);
        }
        return add(std::move(n), ptr);
    }
    if (additional != nullptr && additional->is_boolean() && !additional->get<bool>()) {
        return add(std::move(n), ptr);  // {} only
    }
    n.free_keys = true;
    WARD_ASSIGN_OR_RETURN(n.key, string_node(0, -1, ptr));
    if (additional == nullptr || additional->is_boolean()) {
        WARD_ASSIGN_OR_RETURN(n.item, any(ptr));
    } else {
        WARD_ASSIGN_OR_RETURN(n.item,
                              compile(*additional, ptr + "/additionalProperties", depth + 1));
    }
    return add(std::move(n), ptr);
}

Result<int32_t> Compiler::compile_array(const json& s, const std::string& ptr, int depth) {
    GrammarNode n;
    n.kind = GrammarNodeKind::kArray;
    WARD_ASSIGN_OR_RETURN(n.min, read_count(s, "minItems", ptr, 0));
    WARD_ASSIGN_OR_RETURN(n.max, read_count(s, "maxItems", ptr, -1));
    if (n.max >= 0 && n.min > n.max) {
        return invalid_argument("json schema: {}/minItems {} is above maxItems {}", ptr, n.min,
                                n.max);
    }
    if (auto it = s.find("items"); it != s.end()) {
        if (it->is_array()) {
            return invalid_argument(
                "json schema: {}/items as an array (tuple validation) is not "
                "supported",
                ptr);
        }
        WARD_ASSIGN_OR_RETURN(n.item, compile(*it, ptr + "/items", depth + 1));
    } else {
        WARD_ASSIGN_OR_RETURN(n.item, any(ptr));
    }
    return add(std::move(n), ptr);
}

size_t code_points(const std::string& s) {
    return static_cast<size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<uint8_t>(c) & 0xC0) != 0x80; }));
}

Status validate(const Grammar& g, const nlohmann::json& v, int32_t id, const std::string& ptr,
                int depth) {
    if (depth > static_cast<int>(kGrammarMaxDepth)) {
        return invalid_argument("output nested deeper than {} levels at {}", kGrammarMaxDepth,
                                at(ptr));
    }
    const GrammarNode& n = g.nodes[static_cast<size_t>(id)];
    auto mismatch = [&](std::string_view expected) {
        return invalid_argument("output does not match the schema at {}: expected {}", at(ptr),
                                expected);
    };
    switch (n.kind) {
        case GrammarNodeKind::kLiteral:
            if (nlohmann::json::parse(n.literal) != v) return mismatch(n.literal);
            return ok_status();
        case GrammarNodeKind::kString: {
            if (!v.is_string()) return mismatch("a string");
            const size_t len = code_points(v.get_ref<const std::string&>());
            if (len < static_cast<size_t>(n.min) ||
                (n.max >= 0 && len > static_cast<size_t>(n.max))) {
                return mismatch(
                    fmt::format("a string of {} to {} characters", n.min,
                                n.max < 0 ? std::string("any") : std::to_string(n.max)));
            }
            return ok_status();
        }
        case GrammarNodeKind::kInteger: {
            if (v.is_number_integer()) return ok_status();
            if (v.is_number_float() && std::isfinite(v.get<double>()) &&
                std::floor(v.get<double>()) == v.get<double>()) {
                return ok_status();
            }
            return mismatch("an integer");
        }
        case GrammarNodeKind::kNumber:
            if (!v.is_number()) return mismatch("a number");
            return ok_status();
        case GrammarNodeKind::kObject: {
            if (!v.is_object()) return mismatch("an object");
            for (const auto& [key, value] : v.items()) {
                const std::string sub = ptr + "/" + escape_pointer(key);
                if (n.free_keys) {
                    WARD_TRY(validate(g, value, n.item, sub, depth + 1));
                    continue;
                }
                const nlohmann::json quoted(key);
                auto p = std::find_if(
                    n.properties.begin(), n.properties.end(), [&](const GrammarProperty& prop) {
                        return g.nodes[static_cast<size_t>(prop.key)].literal == quoted.dump();
                    });
                if (p == n.properties.end()) {
                    return invalid_argument(
                        "output does not match the schema at {}: property '{}' is not allowed",
                        at(ptr), key);
                }
                WARD_TRY(validate(g, value, p->value, sub, depth + 1));
            }
            for (const GrammarProperty& p : n.properties) {
                const std::string name =
                    nlohmann::json::parse(g.nodes[static_cast<size_t>(p.key)].literal)
                        .get<std::string>();
                if (p.required && !v.contains(name)) {
                    return invalid_argument(
                        "output does not match the schema at {}: required property '{}' is "
                        "missing",
                        at(ptr), name);
                }
            }
            return ok_status();
        }
        case GrammarNodeKind::kArray: {
            if (!v.is_array()) return mismatch("an array");
            if (v.size() < static_cast<size_t>(n.min) ||
                (n.max >= 0 && v.size() > static_cast<size_t>(n.max))) {
                return mismatch(
                    fmt::format("an array of {} to {} items", n.min,
                                n.max < 0 ? std::string("any") : std::to_string(n.max)));
            }
            for (size_t i = 0; i < v.size(); ++i) {
                WARD_TRY(validate(g, v[i], n.item, fmt::format("{}/{}", ptr, i), depth + 1));
            }
            return ok_status();
        }
        case GrammarNodeKind::kAnyOf: {
            Status first = mismatch("one of the alternatives");
            for (int32_t alt : n.alternatives) {
                Status s = validate(g, v, alt, ptr, depth + 1);
                if (s.ok()) return s;
            }
            return first;
        }
    }
    return mismatch("a known node");
}

}  // namespace

namespace {

// Choices one value may start with: alternatives nested in alternatives (anyOf, enum, type
// lists, $ref) multiply. Errors for more than kMaxChoices, and for a cycle of alternatives
// that never reaches a value ({"$ref": "#"} inside itself).
Status check_choices(const Grammar& g) {
    std::vector<int64_t> memo(g.nodes.size(), -1);
    std::vector<uint8_t> visiting(g.nodes.size(), 0);
    std::function<Result<int64_t>(int32_t)> choices = [&](int32_t id) -> Result<int64_t> {
        const size_t i = static_cast<size_t>(id);
        if (g.nodes[i].kind != GrammarNodeKind::kAnyOf) return int64_t{1};
        if (memo[i] >= 0) return memo[i];
        if (visiting[i] != 0) {
            return invalid_argument("json schema: a cycle of $ref or anyOf never reaches a value");
        }
        visiting[i] = 1;
        int64_t total = 0;
        for (int32_t alt : g.nodes[i].alternatives) {
            int64_t n;
            WARD_ASSIGN_OR_RETURN(n, choices(alt));
            total = std::min<int64_t>(total + n, kMaxChoices + 1);
        }
        visiting[i] = 0;
        memo[i] = total;
        return total;
    };
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        int64_t n;
        WARD_ASSIGN_OR_RETURN(n, choices(static_cast<int32_t>(i)));
        if (n > kMaxChoices) {
            return invalid_argument(
                "json schema: alternatives (anyOf, enum, type lists, $ref) nested in one another "
                "give more than {} choices for one value",
                kMaxChoices);
        }
    }
    return ok_status();
}

}  // namespace

Result<std::shared_ptr<const Grammar>> compile_parsed_json_schema(
    const nlohmann::ordered_json& schema) {
    Compiler compiler(schema);
    int32_t root;
    WARD_ASSIGN_OR_RETURN(root, compiler.compile(schema, "", 0));
    auto grammar = std::make_shared<Grammar>(compiler.take());
    grammar->root = root;
    WARD_TRY(check_choices(*grammar));
    return std::shared_ptr<const Grammar>(std::move(grammar));
}

Result<std::shared_ptr<const Grammar>> compile_json_schema(std::string_view schema_json) {
    if (schema_json.size() > kMaxSchemaBytes) {
        return invalid_argument("json schema: {} bytes is more than the limit of {}",
                                schema_json.size(), kMaxSchemaBytes);
    }
    json schema = json::parse(schema_json, nullptr, false);
    if (schema.is_discarded()) {
        return invalid_argument("json schema: the text is not valid JSON");
    }
    return compile_parsed_json_schema(schema);
}

Status validate_json(const Grammar& grammar, const nlohmann::json& value) {
    if (grammar.root < 0) return invalid_argument("validate: the grammar is empty");
    return validate(grammar, value, grammar.root, "", 0);
}

Status validate_json_text(const Grammar& grammar, std::string_view text) {
    nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) return invalid_argument("output is not valid JSON");
    return validate_json(grammar, value);
}

}  // namespace ward::engine
