// Scoring of detection against gold annotations: precision, recall and F1 per category and
// overall, per token and per entity, plus the missed spans with their context. Reads Ward's
// jsonl gold format, the i2b2/n2c2 2014 XML format and the presidio-research JSON format.
//
// Definitions (docs/deid.md): tokens are runs of letters and digits. A gold token is found when
// any predicted span covers it (the category need not match: a name tagged DATE is still
// hidden). Per category, recall counts gold tokens of that category and precision counts
// predicted tokens of that category. A gold entity is found when all of its tokens are covered;
// a predicted entity is correct when it overlaps a gold entity. Gold categories mapped to ""
// (not Safe Harbor PHI, e.g. i2b2 STATE or PROFESSION) are left out of both counts.
//
// Thread safety: functions are pure apart from the Deidentifier they are given (thread-safe).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "deid/deid.h"

namespace ward::deid {

struct GoldSpan {
    size_t start = 0, end = 0;  // byte offsets in GoldDoc::text
    std::string category;       // Ward category name, or "" for a span not scored
};

struct GoldDoc {
    std::string id;
    std::string text;
    std::vector<GoldSpan> spans;
};

// Ward jsonl: {"id", "text", "spans": [{"start", "end", "category"}]}, character offsets.
// Errors: kInvalidArgument naming the source and line.
Result<std::vector<GoldDoc>> load_gold_jsonl(std::string_view content, std::string_view source);
// i2b2/n2c2 2014 XML (one document per file). Categories are mapped by i2b2_category().
Result<std::vector<GoldDoc>> load_gold_i2b2(std::string_view xml, std::string_view source);
// presidio-research synthetic data set (a JSON array with full_text and spans).
Result<std::vector<GoldDoc>> load_gold_presidio(std::string_view json, std::string_view source);

// i2b2 TYPE -> Ward category name ("" when not scored).
std::string i2b2_category(std::string_view type);
// presidio entity_type -> Ward category name ("" when not scored).
std::string presidio_category(std::string_view type);

struct Counts {
    int64_t tp = 0, fp = 0, fn = 0;
    double precision() const { return tp + fp ? double(tp) / double(tp + fp) : 1.0; }
    double recall() const { return tp + fn ? double(tp) / double(tp + fn) : 1.0; }
    double f1() const {
        double p = precision(), r = recall();
        return p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
};

struct Miss {
    std::string doc_id, category, text, context;
};

struct EvalReport {
    std::map<std::string, Counts> token_by_category, entity_by_category;
    Counts token_overall, entity_overall;
    std::vector<Miss> misses;  // gold entities not fully covered
    std::vector<Miss> false_positives;
    size_t documents = 0;
};

// Runs detection on every document and scores it. Errors: those of Deidentifier::detect().
Result<EvalReport> evaluate(const Deidentifier& deid, const std::vector<GoldDoc>& docs);

// A plain-text table: one row per category and the overall rows, then up to `max_misses`
// missed spans with context.
std::string format_report(const EvalReport& report, size_t max_misses);

}  // namespace ward::deid
