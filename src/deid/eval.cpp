#include "deid/eval.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "deid/lexicon.h"

namespace ward::deid {
namespace {

// Character (code point) offset -> byte offset. Offsets past the end clamp to the end.
std::vector<size_t> char_to_byte_table(std::string_view text) {
    std::vector<size_t> t;
    t.reserve(text.size() + 1);
    for (size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) t.push_back(i);
    }
    t.push_back(text.size());
    return t;
}

size_t to_byte(const std::vector<size_t>& table, int64_t c) {
    if (c < 0) return 0;
    return static_cast<size_t>(c) < table.size() ? table[static_cast<size_t>(c)] : table.back();
}

std::string context_of(std::string_view text, size_t s, size_t e) {
    size_t a = s > 40 ? s - 40 : 0, b = std::min(text.size(), e + 40);
    while (a > 0 && (static_cast<uint8_t>(text[a]) & 0xC0) == 0x80) --a;
    while (b < text.size() && (static_cast<uint8_t>(text[b]) & 0xC0) == 0x80) ++b;
    std::string c = std::string(text.substr(a, s - a)) + "[[" + std::string(text.substr(s, e - s)) +
                    "]]" + std::string(text.substr(e, b - e));
    for (char& ch : c) {
        if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    }
    return c;
}

}  // namespace

std::string i2b2_category(std::string_view t) {
    if (t == "PATIENT" || t == "DOCTOR" || t == "USERNAME") return "NAME";
    if (t == "HOSPITAL") return "FACILITY";
    if (t == "ORGANIZATION" || t == "LOCATION-OTHER") return "LOCATION";
    if (t == "STREET") return "STREET";
    if (t == "CITY") return "CITY";
    if (t == "ZIP") return "ZIP";
    if (t == "DATE") return "DATE";
    if (t == "AGE") return "AGE";
    if (t == "PHONE") return "PHONE";
    if (t == "FAX") return "FAX";
    if (t == "EMAIL") return "EMAIL";
    if (t == "URL") return "URL";
    if (t == "IPADDR" || t == "IPADDRESS") return "IP";
    if (t == "SSN") return "SSN";
    if (t == "MEDICALRECORD") return "MRN";
    if (t == "HEALTHPLAN") return "HEALTH_PLAN";
    if (t == "ACCOUNT") return "ACCOUNT";
    if (t == "LICENSE") return "LICENSE";
    if (t == "VEHICLE") return "VEHICLE";
    if (t == "DEVICE") return "DEVICE";
    if (t == "BIOID") return "BIOMETRIC";
    if (t == "IDNUM") return "ID";
    return "";  // STATE, COUNTRY, PROFESSION: not Safe Harbor identifiers
}

std::string presidio_category(std::string_view t) {
    if (t == "PERSON") return "NAME";
    if (t == "STREET_ADDRESS") return "STREET";
    if (t == "GPE") return "CITY";
    if (t == "DATE_TIME") return "DATE";
    if (t == "PHONE_NUMBER") return "PHONE";
    if (t == "EMAIL_ADDRESS") return "EMAIL";
    if (t == "ZIP_CODE") return "ZIP";
    if (t == "DOMAIN_NAME") return "URL";
    if (t == "US_SSN") return "SSN";
    if (t == "IP_ADDRESS") return "IP";
    if (t == "US_DRIVER_LICENSE") return "LICENSE";
    if (t == "CREDIT_CARD" || t == "IBAN_CODE") return "ACCOUNT";
    return "";  // ORGANIZATION, TITLE, NRP, AGE (all ages): not Safe Harbor identifiers
}

Result<std::vector<GoldDoc>> load_gold_jsonl(std::string_view content, std::string_view source) {
    std::vector<GoldDoc> docs;
    size_t line_no = 0, i = 0;
    while (i < content.size()) {
        size_t e = content.find('\n', i);
        if (e == std::string_view::npos) e = content.size();
        std::string_view line = content.substr(i, e - i);
        i = e + 1;
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        try {
            auto j = nlohmann::json::parse(line);
            GoldDoc d;
            d.id = j.contains("id")
                       ? (j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump())
                       : fmt::format("{}:{}", source, line_no);
            d.text = j.at("text").get<std::string>();
            auto table = char_to_byte_table(d.text);
            for (const auto& s : j.value("spans", nlohmann::json::array())) {
                GoldSpan g;
                g.start = to_byte(table, s.at("start").get<int64_t>());
                g.end = to_byte(table, s.at("end").get<int64_t>());
                std::string cat = s.at("category").get<std::string>();
                auto parsed = parse_category(cat);
                g.category = parsed ? std::string(category_name(*parsed)) : "";
                if (g.end > g.start) d.spans.push_back(g);
            }
            docs.push_back(std::move(d));
        } catch (const std::exception& ex) {
            return invalid_argument("deid eval: {}:{}: {}", source, line_no, ex.what());
        }
    }
    return docs;
}

Result<std::vector<GoldDoc>> load_gold_i2b2(std::string_view xml, std::string_view source) {
    GoldDoc d;
    d.id = std::string(source);
    size_t t0 = xml.find("<TEXT><![CDATA[");
    size_t t1 = xml.find("]]></TEXT>");
    if (t0 == std::string_view::npos || t1 == std::string_view::npos || t1 < t0) {
        return invalid_argument("deid eval: {}: no <TEXT><![CDATA[...]]></TEXT> element", source);
    }
    d.text = std::string(xml.substr(t0 + 15, t1 - t0 - 15));
    auto table = char_to_byte_table(d.text);
    size_t tags = xml.find("<TAGS>", t1);
    size_t tags_end = xml.find("</TAGS>", t1);
    if (tags == std::string_view::npos || tags_end == std::string_view::npos) {
        return invalid_argument("deid eval: {}: no <TAGS> element", source);
    }
    auto attr = [](std::string_view tag, std::string_view name) -> std::string {
        std::string key = " " + std::string(name) + "=\"";
        size_t p = tag.find(key);
        if (p == std::string_view::npos) return "";
        p += key.size();
        size_t q = tag.find('"', p);
        return q == std::string_view::npos ? "" : std::string(tag.substr(p, q - p));
    };
    size_t p = tags + 6;
    while (true) {
        size_t a = xml.find('<', p);
        if (a == std::string_view::npos || a >= tags_end) break;
        size_t b = xml.find('>', a);
        if (b == std::string_view::npos) break;
        std::string_view tag = xml.substr(a, b - a + 1);
        p = b + 1;
        std::string start = attr(tag, "start"), end = attr(tag, "end"), type = attr(tag, "TYPE");
        if (start.empty() || end.empty()) continue;
        try {
            GoldSpan g;
            g.start = to_byte(table, std::stoll(start));
            g.end = to_byte(table, std::stoll(end));
            g.category = i2b2_category(type);
            if (g.end > g.start) d.spans.push_back(g);
        } catch (const std::exception&) {
            return invalid_argument("deid eval: {}: bad offsets in {}", source, tag);
        }
    }
    return std::vector<GoldDoc>{std::move(d)};
}

Result<std::vector<GoldDoc>> load_gold_presidio(std::string_view json, std::string_view source) {
    std::vector<GoldDoc> docs;
    try {
        auto j = nlohmann::json::parse(json);
        size_t k = 0;
        for (const auto& item : j) {
            GoldDoc d;
            d.id = fmt::format("{}#{}", source, k++);
            d.text = item.at("full_text").get<std::string>();
            auto table = char_to_byte_table(d.text);
            for (const auto& s : item.at("spans")) {
                GoldSpan g;
                g.start = to_byte(table, s.at("start_position").get<int64_t>());
                g.end = to_byte(table, s.at("end_position").get<int64_t>());
                g.category = presidio_category(s.at("entity_type").get<std::string>());
                if (g.end > g.start) d.spans.push_back(g);
            }
            docs.push_back(std::move(d));
        }
    } catch (const std::exception& ex) {
        return invalid_argument("deid eval: {}: {}", source, ex.what());
    }
    return docs;
}

Result<EvalReport> evaluate(const Deidentifier& deid, const std::vector<GoldDoc>& docs) {
    EvalReport r;
    for (const GoldDoc& doc : docs) {
        ++r.documents;
        WARD_ASSIGN_OR_RETURN(std::vector<Span> pred, deid.detect(doc.text));
        const std::string& text = doc.text;
        size_t n = text.size();
        // per byte: gold category index (+1), -1 ignored; predicted category (+1)
        std::vector<int8_t> gold(n, 0), got(n, 0);
        std::vector<std::string> names;
        auto cat_index = [&](const std::string& c) {
            for (size_t k = 0; k < names.size(); ++k) {
                if (names[k] == c) return static_cast<int8_t>(k + 1);
            }
            names.push_back(c);
            return static_cast<int8_t>(names.size());
        };
        for (const GoldSpan& g : doc.spans) {
            int8_t v = g.category.empty() ? int8_t{-1} : cat_index(g.category);
            for (size_t b = g.start; b < g.end && b < n; ++b) {
                if (gold[b] == 0 || v > 0) gold[b] = v;
            }
        }
        for (const Span& s : pred) {
            int8_t v = cat_index(std::string(category_name(s.category)));
            for (size_t b = s.start; b < s.end && b < n; ++b) got[b] = v;
        }
        // tokens
        size_t i = 0;
        while (i < n) {
            if (!is_word_byte(text[i])) {
                ++i;
                continue;
            }
            size_t s = i;
            while (i < n && is_word_byte(text[i])) ++i;
            int8_t g = 0, p = 0;
            for (size_t b = s; b < i; ++b) {
                if (gold[b] != 0 && g == 0) g = gold[b];
                if (got[b] != 0 && p == 0) p = got[b];
            }
            if (g < 0) continue;  // not scored
            if (g > 0) {
                auto& c = r.token_by_category[names[static_cast<size_t>(g - 1)]];
                (p > 0 ? c.tp : c.fn) += 1;
                (p > 0 ? r.token_overall.tp : r.token_overall.fn) += 1;
            } else if (p > 0) {
                r.token_by_category[names[static_cast<size_t>(p - 1)]].fp += 1;
                r.token_overall.fp += 1;
            }
        }
        // entities
        for (const GoldSpan& g : doc.spans) {
            if (g.category.empty()) continue;
            bool covered = true, any_token = false;
            for (size_t b = g.start; b < g.end && b < n; ++b) {
                if (is_word_byte(text[b])) {
                    any_token = true;
                    if (got[b] == 0) covered = false;
                }
            }
            if (!any_token) continue;
            auto& c = r.entity_by_category[g.category];
            if (covered) {
                ++c.tp;
                ++r.entity_overall.tp;
            } else {
                ++c.fn;
                ++r.entity_overall.fn;
                r.misses.push_back({doc.id, g.category, text.substr(g.start, g.end - g.start),
                                    context_of(text, g.start, g.end)});
            }
        }
        for (const Span& s : pred) {
            bool overlaps = false, ignored = false;
            for (const GoldSpan& g : doc.spans) {
                if (g.start < s.end && s.start < g.end) {
                    (g.category.empty() ? ignored : overlaps) = true;
                }
            }
            if (overlaps) continue;  // counted as found through the gold side
            if (ignored) continue;
            auto& c = r.entity_by_category[std::string(category_name(s.category))];
            ++c.fp;
            ++r.entity_overall.fp;
            r.false_positives.push_back({doc.id, std::string(category_name(s.category)),
                                         text.substr(s.start, s.end - s.start),
                                         context_of(text, s.start, s.end)});
        }
    }
    return r;
}

std::string format_report(const EvalReport& r, size_t max_misses) {
    std::string out = fmt::format("documents: {}\n\n", r.documents);
    out += fmt::format("{:<12} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8}\n", "category",
                       "tok_P", "tok_R", "tok_F1", "tok_n", "ent_P", "ent_R", "ent_F1", "ent_n");
    std::map<std::string, int> cats;
    for (const auto& [k, v] : r.token_by_category) cats[k] = 1;
    for (const auto& [k, v] : r.entity_by_category) cats[k] = 1;
    auto row = [&](const std::string& name, const Counts& t, const Counts& e) {
        out += fmt::format(
            "{:<12} {:>8.4f} {:>8.4f} {:>8.4f} {:>8} | {:>8.4f} {:>8.4f} {:>8.4f} "
            "{:>8}\n",
            name, t.precision(), t.recall(), t.f1(), t.tp + t.fn, e.precision(), e.recall(), e.f1(),
            e.tp + e.fn);
    };
    for (const auto& [k, v] : cats) {
        auto t = r.token_by_category.count(k) ? r.token_by_category.at(k) : Counts{};
        auto e = r.entity_by_category.count(k) ? r.entity_by_category.at(k) : Counts{};
        row(k, t, e);
    }
    row("OVERALL", r.token_overall, r.entity_overall);
    out += fmt::format("\nmissed: {} of {} gold entities\n", r.misses.size(),
                       r.entity_overall.tp + r.entity_overall.fn);
    for (size_t k = 0; k < r.misses.size() && k < max_misses; ++k) {
        const Miss& m = r.misses[k];
        out += fmt::format("  {} {} \"{}\": {}\n", m.doc_id, m.category, m.text, m.context);
    }
    out += fmt::format("\nfalse positives: {} predicted entities overlap no gold entity\n",
                       r.false_positives.size());
    for (size_t k = 0; k < r.false_positives.size() && k < max_misses; ++k) {
        const Miss& m = r.false_positives[k];
        out += fmt::format("  {} {} \"{}\": {}\n", m.doc_id, m.category, m.text, m.context);
    }
    return out;
}

}  // namespace ward::deid
