// The knowledge store's records as JSON, one shape for the HTTP API (docs/api.md) and the
// `ward kb ... --json` commands (docs/knowledge.md), so the two can never drift apart.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "knowledge/store.h"

namespace ward::knowledge {

// {"rank", "score", "doc_id", "source", "title", "chunk_id", "text", "heading", "location",
//  "licence", "published", "chunk_ordinal"}
nlohmann::json hit_json(const Hit& hit);
// {"id", "created", "note", "documents", "chunks"}
nlohmann::json version_json(const VersionInfo& version);
// {"doc_id", "source", "title", "location", "licence", "published", "format", "sha256",
//  "chunks", "bytes", "added_version", "removed_version" (null when live)}
nlohmann::json document_json(const DocumentInfo& document);
// {"from", "to", "added": [...], "removed": [...], "changed": [...]} of document_json objects
nlohmann::json diff_json(const Diff& diff);

}  // namespace ward::knowledge
