#include "knowledge/report.h"

namespace ward::knowledge {

using nlohmann::json;

json hit_json(const Hit& h) {
    return {{"rank", h.rank},       {"score", h.score},         {"doc_id", h.doc_id},
            {"source", h.source},   {"title", h.title},         {"chunk_id", h.chunk_id},
            {"text", h.text},       {"heading", h.heading},     {"location", h.location},
            {"licence", h.licence}, {"published", h.published}, {"chunk_ordinal", h.chunk_ordinal}};
}

json version_json(const VersionInfo& v) {
    return {{"id", v.id},
            {"created", v.created},
            {"note", v.note},
            {"documents", v.documents},
            {"chunks", v.chunks}};
}

json document_json(const DocumentInfo& d) {
    return {{"doc_id", d.doc_id},
            {"source", d.source},
            {"title", d.title},
            {"location", d.location},
            {"licence", d.licence},
            {"published", d.published},
            {"format", d.format},
            {"sha256", d.content_sha256},
            {"chunks", d.chunks},
            {"bytes", d.bytes},
            {"added_version", d.added_version},
            {"removed_version", d.removed_version ? json(*d.removed_version) : json(nullptr)}};
}

json diff_json(const Diff& diff) {
    auto list = [](const std::vector<DocumentInfo>& docs) {
        json out = json::array();
        for (const DocumentInfo& d : docs) out.push_back(document_json(d));
        return out;
    };
    return {{"from", diff.from},
            {"to", diff.to},
            {"added", list(diff.added)},
            {"removed", list(diff.removed)},
            {"changed", list(diff.changed)}};
}

}  // namespace ward::knowledge
