// Readers of record files: JSON (an array of records, an object of records keyed by id, or one
// record), JSONL (one record per line) and CSV (RFC 4180 with a header row). A FieldMapping
// says which fields make each record's id, text and metadata.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "knowledge/ingest_internal.h"

namespace ward::knowledge::detail {
namespace {

using nlohmann::json;

// A field's value as text: one part for a scalar, one per element of an array; absent when
// the record lacks the field or it is null (or, in CSV, the cell is empty).
struct FieldValue {
    bool present = false;
    std::vector<std::string> parts;
};

// Looks a field up in a record; `record` names it in errors ("pqa.json: record \"123\"").
using Lookup = std::function<Result<FieldValue>(const std::string& field)>;

Result<FieldValue> lookup_csv(const std::vector<std::string>& header,
                              const std::vector<std::string>& row, const std::string& field) {
    FieldValue v;
    for (size_t i = 0; i < header.size(); ++i) {
        if (header[i] == field) {
            if (!row[i].empty()) {
                v.present = true;
                v.parts.push_back(row[i]);
            }
            break;
        }
    }
    return v;
}

const json* find_member(const json& object, const std::string& field) {
    auto it = object.find(field);
    if (it != object.end()) return &*it;
    // A dotted path through nested objects: "meta.title".
    const json* cur = &object;
    size_t start = 0;
    while (start <= field.size()) {
        size_t dot = field.find('.', start);
        if (dot == std::string::npos) dot = field.size();
        if (!cur->is_object() || dot == start) return nullptr;
        auto member = cur->find(field.substr(start, dot - start));
        if (member == cur->end()) return nullptr;
        cur = &*member;
        start = dot + 1;
    }
    return cur == &object ? nullptr : cur;
}

Result<std::string> scalar(const json& v, const std::string& field, std::string_view record) {
    switch (v.type()) {
        case json::value_t::string:
            return v.get<std::string>();
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
        case json::value_t::boolean:
            return v.dump();
        case json::value_t::null:
            return std::string();
        default:
            return invalid_argument("{}: field \"{}\" holds {} where text was expected", record,
                                    field,
                                    v.is_array() ? "an array of arrays or objects" : "an object");
    }
}

Result<FieldValue> lookup_json(const json& object, const std::string& field,
                               std::string_view record) {
    FieldValue v;
    const json* member = find_member(object, field);
    if (!member || member->is_null()) return v;
    if (member->is_array()) {
        for (const json& element : *member) {
            WARD_ASSIGN_OR_RETURN(std::string text, scalar(element, field, record));
            if (!text.empty()) v.parts.push_back(std::move(text));
        }
    } else {
        WARD_ASSIGN_OR_RETURN(std::string text, scalar(*member, field, record));
        if (!text.empty()) v.parts.push_back(std::move(text));
    }
    v.present = !v.parts.empty();
    return v;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const std::string& p : parts) {
        if (!out.empty()) out += separator;
        out += p;
    }
    return out;
}

// One record into an Extracted: id (or `key` for "@key"), text paragraphs and metadata.
Result<Extracted> make_record(const FieldMapping& mapping, const Lookup& lookup,
                              std::string_view record, const std::optional<std::string>& key) {
    Extracted out;
    auto value = [&](const std::string& field) -> Result<FieldValue> {
        WARD_ASSIGN_OR_RETURN(FieldValue v, lookup(field));
        for (const std::string& part : v.parts) {
            Status valid = check_text(part, fmt::format("{}: field \"{}\"", record, field));
            if (!valid.ok()) return valid;
        }
        return v;
    };
    if (mapping.id == "@key") {
        if (!key) {
            return invalid_argument(
                "{}: the mapping's id \"@key\" needs a JSON object whose values are the records",
                record);
        }
        out.id = *key;
    } else {
        WARD_ASSIGN_OR_RETURN(FieldValue id, value(mapping.id));
        if (!id.present)
            return invalid_argument("{}: record has no \"{}\" field", record, mapping.id);
        if (id.parts.size() != 1) {
            return invalid_argument("{}: id field \"{}\" holds {} values, not one", record,
                                    mapping.id, id.parts.size());
        }
        out.id = normalise_inline(id.parts[0]);
    }
    WARD_TRY(check_text(out.id, fmt::format("{}: id", record)));
    if (out.id.empty()) return invalid_argument("{}: record has an empty id", record);

    auto metadata = [&](const std::string& field, std::string& into) -> Status {
        if (field.empty()) return ok_status();
        WARD_ASSIGN_OR_RETURN(FieldValue v, value(field));
        into = normalise_inline(join(v.parts, "; "));
        return ok_status();
    };
    WARD_TRY(metadata(mapping.title, out.title));
    WARD_TRY(metadata(mapping.location, out.location));
    WARD_TRY(metadata(mapping.licence, out.licence));
    WARD_TRY(metadata(mapping.source, out.source));
    WARD_TRY(metadata(mapping.published, out.published));
    if (!out.published.empty()) {
        auto date = normalise_date(out.published, fmt::format("field \"{}\"", mapping.published));
        if (!date) return date.error().with_context(record);
        out.published = *date;
    }

    if (!out.title.empty()) add_block(out.blocks, Block::Kind::kHeading, 1, out.title);
    size_t before = out.blocks.size();
    for (const std::string& field : mapping.text) {
        WARD_ASSIGN_OR_RETURN(FieldValue v, value(field));
        for (const std::string& part : v.parts) {
            for (std::string_view paragraph : split_paragraphs(part)) {
                add_block(out.blocks, Block::Kind::kParagraph, 0, paragraph);
            }
        }
    }
    if (out.blocks.size() == before) {
        return invalid_argument("{}: record \"{}\" has no text in {}", record, out.id,
                                mapping.text.size() == 1
                                    ? fmt::format("field \"{}\"", mapping.text[0])
                                    : fmt::format("fields \"{}\"", join(mapping.text, "\", \"")));
    }
    return out;
}

// Fails on a second record with the same id.
class IdRegistry {
  public:
    Status add(const std::string& id, std::string_view record) {
        auto [it, inserted] = seen_.emplace(id, std::string(record));
        if (!inserted) {
            return invalid_argument("{}: duplicate id \"{}\" (first in {})", record, id,
                                    it->second);
        }
        return ok_status();
    }

  private:
    std::map<std::string, std::string> seen_;
};

std::string parse_error_text(const std::exception& e) {
    std::string_view what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 3: ..." without the tag.
    if (!what.empty() && what[0] == '[') {
        size_t close = what.find("] ");
        if (close != std::string_view::npos) what.remove_prefix(close + 2);
    }
    return std::string(what);
}

Status check_mapping(const FieldMapping& mapping, std::string_view where) {
    if (mapping.id.empty())
        return invalid_argument("{}: the field mapping names no id field", where);
    if (mapping.text.empty()) {
        return invalid_argument("{}: the field mapping names no text field", where);
    }
    return ok_status();
}

}  // namespace

Result<std::vector<Extracted>> read_json_records(std::string_view text, std::string_view where,
                                                 const FieldMapping& mapping) {
    WARD_TRY(check_mapping(mapping, where));
    json root;
    try {
        root = json::parse(text);
    } catch (const json::exception& e) {
        return invalid_argument("{}: not valid JSON: {}", where, parse_error_text(e));
    }
    std::vector<Extracted> records;
    IdRegistry ids;
    auto add = [&](const json& record, const std::string& name,
                   const std::optional<std::string>& key) -> Status {
        if (!record.is_object()) return invalid_argument("{}: not a JSON object", name);
        Lookup lookup = [&](const std::string& field) { return lookup_json(record, field, name); };
        WARD_ASSIGN_OR_RETURN(Extracted x, make_record(mapping, lookup, name, key));
        WARD_TRY(ids.add(x.id, name));
        records.push_back(std::move(x));
        return ok_status();
    };
    if (root.is_array()) {
        for (size_t i = 0; i < root.size(); ++i) {
            WARD_TRY(add(root[i], fmt::format("{}: record at index {}", where, i), std::nullopt));
        }
    } else if (root.is_object() && mapping.id == "@key") {
        for (const auto& [key, record] : root.items()) {
            WARD_TRY(check_text(key, fmt::format("{}: a key", where)));
            WARD_TRY(add(record, fmt::format("{}: record \"{}\"", where, key), key));
        }
    } else if (root.is_object()) {
        WARD_TRY(add(root, std::string(where), std::nullopt));
    } else {
        return invalid_argument("{}: expected a JSON array or object of records, found {}", where,
                                root.type_name());
    }
    return records;
}

Result<std::vector<Extracted>> read_jsonl_records(std::string_view text, std::string_view where,
                                                  const FieldMapping& mapping) {
    WARD_TRY(check_mapping(mapping, where));
    std::vector<Extracted> records;
    IdRegistry ids;
    size_t pos = 0;
    size_t line_number = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        std::string name = fmt::format("{}: line {}", where, line_number);
        json record;
        try {
            record = json::parse(line);
        } catch (const json::exception& e) {
            return invalid_argument("{}: not valid JSON: {}", name, parse_error_text(e));
        }
        if (!record.is_object()) return invalid_argument("{}: not a JSON object", name);
        Lookup lookup = [&](const std::string& field) { return lookup_json(record, field, name); };
        WARD_ASSIGN_OR_RETURN(Extracted x, make_record(mapping, lookup, name, std::nullopt));
        WARD_TRY(ids.add(x.id, name));
        records.push_back(std::move(x));
    }
    return records;
}

Result<std::vector<Extracted>> read_csv_records(std::string_view text, std::string_view where,
                                                const FieldMapping& mapping) {
    WARD_TRY(check_mapping(mapping, where));
    // RFC 4180: fields separated by commas, records by CRLF or LF; a field in double quotes may
    // hold commas, line breaks and doubled quotes. Empty lines between records are skipped.
    struct Row {
        size_t line = 0;
        std::vector<std::string> fields;
    };
    std::vector<Row> rows;
    size_t i = 0;
    size_t n = text.size();
    size_t line = 1;
    while (i < n) {
        if (text[i] == '\n' || (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')) {
            i += text[i] == '\r' ? 2 : 1;
            ++line;
            continue;
        }
        Row row;
        row.line = line;
        while (true) {
            std::string field;
            if (i < n && text[i] == '"') {
                size_t opened = line;
                ++i;
                while (true) {
                    if (i >= n) {
                        return invalid_argument("{}: line {}: a quoted field is not closed", where,
                                                opened);
                    }
                    if (text[i] == '"') {
                        if (i + 1 < n && text[i + 1] == '"') {
                            field += '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    if (text[i] == '\n') ++line;
                    field += text[i++];
                }
                if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    return invalid_argument(
                        "{}: line {}: field {} has text after its closing quote", where, line,
                        row.fields.size() + 1);
                }
            } else {
                size_t start = i;
                while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    if (text[i] == '"') {
                        return invalid_argument(
                            "{}: line {}: field {} has a quote but does not start with one", where,
                            line, row.fields.size() + 1);
                    }
                    ++i;
                }
                field.assign(text.substr(start, i - start));
            }
            row.fields.push_back(std::move(field));
            if (i < n && text[i] == ',') {
                ++i;
                continue;
            }
            if (i < n && text[i] == '\r') {
                ++i;
                if (i < n && text[i] != '\n') {
                    return invalid_argument("{}: line {}: a carriage return without a line feed",
                                            where, line);
                }
            }
            if (i < n && text[i] == '\n') {
                ++i;
                ++line;
            }
            break;
        }
        rows.push_back(std::move(row));
    }
    if (rows.empty()) return std::vector<Extracted>{};

    const std::vector<std::string>& header = rows[0].fields;
    for (size_t c = 0; c < header.size(); ++c) {
        for (size_t d = 0; d < c; ++d) {
            if (header[c] == header[d]) {
                return invalid_argument("{}: line {}: column \"{}\" appears twice in the header",
                                        where, rows[0].line, header[c]);
            }
        }
    }
    auto need_column = [&](const std::string& field, std::string_view role) -> Status {
        if (field.empty() || (role == "id" && field == "@key")) return ok_status();
        if (std::find(header.begin(), header.end(), field) == header.end()) {
            return invalid_argument("{}: the mapping's {} column \"{}\" is not in the header",
                                    where, role, field);
        }
        return ok_status();
    };
    WARD_TRY(need_column(mapping.id, "id"));
    for (const std::string& field : mapping.text) WARD_TRY(need_column(field, "text"));
    WARD_TRY(need_column(mapping.title, "title"));
    WARD_TRY(need_column(mapping.location, "location"));
    WARD_TRY(need_column(mapping.published, "published"));
    WARD_TRY(need_column(mapping.licence, "licence"));
    WARD_TRY(need_column(mapping.source, "source"));

    std::vector<Extracted> records;
    IdRegistry ids;
    for (size_t r = 1; r < rows.size(); ++r) {
        const Row& row = rows[r];
        std::string name = fmt::format("{}: line {}", where, row.line);
        if (row.fields.size() != header.size()) {
            return invalid_argument("{}: {} fields where the header has {}", name,
                                    row.fields.size(), header.size());
        }
        Lookup lookup = [&](const std::string& field) {
            return lookup_csv(header, row.fields, field);
        };
        WARD_ASSIGN_OR_RETURN(Extracted x, make_record(mapping, lookup, name, std::nullopt));
        WARD_TRY(ids.add(x.id, name));
        records.push_back(std::move(x));
    }
    return records;
}

}  // namespace ward::knowledge::detail
