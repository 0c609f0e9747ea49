#include "server/cds_hooks.h"

#include <exception>

#include <fmt/format.h>

#include "common/crypto.h"
#include "server/json_body.h"

namespace ward::server {

using nlohmann::json;

namespace {

constexpr std::string_view kTopicSystem = "urn:ward:cds-topic";

// Parses an object (server/json_body.h: bounded nesting, no request bytes in the error).
Result<json> parse_object(std::string_view body, std::string_view what) {
    auto value = parse_json_body(body);
    if (!value.ok()) return invalid_argument("cds-hooks: {}", value.status().message());
    if (!value->is_object())
        return invalid_argument("cds-hooks: the {} is not a JSON object", what);
    return std::move(*value);
}

std::string_view type_name(const json& v) {
    return v.type_name();
}

// Reads obj[key] as a string into *out. Absent: an error when `required`, else "" and OK.
// Present but not a non-empty string: an error naming `path`.
Status get_string(const json& obj, std::string_view key, std::string_view path, bool required,
                  std::string* out, std::string_view why = "required") {
    auto it = obj.find(key);
    if (it == obj.end()) {
        if (required) return invalid_argument("{}: {}", path, why);
        out->clear();
        return ok_status();
    }
    if (!it->is_string()) {
        return invalid_argument("{}: expected a string, got {}", path, type_name(*it));
    }
    *out = it->get<std::string>();
    if (out->empty()) return invalid_argument("{}: must not be empty", path);
    return ok_status();
}

bool is_fhir_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool is_user_reference(std::string_view ref) {
    for (std::string_view type :
         {"Practitioner/", "PractitionerRole/", "Patient/", "RelatedPerson/"}) {
        if (ref.starts_with(type)) return is_fhir_id(ref.substr(type.size()));
    }
    return false;
}

bool is_http_url(std::string_view url) {
    std::string_view rest;
    if (url.starts_with("https://")) {
        rest = url.substr(8);
    } else if (url.starts_with("http://")) {
        rest = url.substr(7);
    } else {
        return false;
    }
    if (rest.empty() || rest[0] == '/' || rest[0] == ':') return false;
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
    }
    return true;
}

// A prefetch key, shortened for error messages.
std::string key_path(std::string_view prefix, std::string_view key) {
    if (key.size() > 64) return fmt::format("{}.{}...", prefix, key.substr(0, 64));
    return fmt::format("{}.{}", prefix, key);
}

Status parse_authorization(const json& v, FhirAuthorization* out) {
    if (!v.is_object()) {
        return invalid_argument("fhirAuthorization: expected an object, got {}", type_name(v));
    }
    WARD_TRY(
        get_string(v, "access_token", "fhirAuthorization.access_token", true, &out->access_token));
    WARD_TRY(get_string(v, "token_type", "fhirAuthorization.token_type", true, &out->token_type));
    if (out->token_type != "Bearer") {
        return invalid_argument("fhirAuthorization.token_type: expected \"Bearer\"");
    }
    auto exp = v.find("expires_in");
    if (exp == v.end()) return invalid_argument("fhirAuthorization.expires_in: required");
    if (!exp->is_number_integer()) {
        return invalid_argument("fhirAuthorization.expires_in: expected an integer, got {}",
                                type_name(*exp));
    }
    if (exp->is_number_unsigned() ? exp->get<uint64_t>() > INT64_MAX : exp->get<int64_t>() < 0) {
        return invalid_argument("fhirAuthorization.expires_in: out of range");
    }
    out->expires_in = exp->get<int64_t>();
    WARD_TRY(get_string(v, "scope", "fhirAuthorization.scope", true, &out->scope));
    WARD_TRY(get_string(v, "subject", "fhirAuthorization.subject", true, &out->subject));
    return ok_status();
}

Result<CdsHookRequest> parse_request_object(const json& root) {
    CdsHookRequest req;
    WARD_TRY(get_string(root, "hook", "hook", true, &req.hook));
    WARD_TRY(get_string(root, "hookInstance", "hookInstance", true, &req.hook_instance));
    WARD_TRY(get_string(root, "fhirServer", "fhirServer", false, &req.fhir_server));
    if (!req.fhir_server.empty() && !is_http_url(req.fhir_server)) {
        return invalid_argument("fhirServer: not an http(s) URL");
    }
    if (auto it = root.find("fhirAuthorization"); it != root.end()) {
        FhirAuthorization auth;
        WARD_TRY(parse_authorization(*it, &auth));
        if (req.fhir_server.empty()) {
            return invalid_argument("fhirServer: required when fhirAuthorization is given");
        }
        req.fhir_authorization = std::move(auth);
    }

    auto ctx = root.find("context");
    if (ctx == root.end()) return invalid_argument("context: required");
    if (!ctx->is_object()) {
        return invalid_argument("context: expected an object, got {}", type_name(*ctx));
    }
    const bool patient_view = req.hook == kPatientViewHook;
    const std::string_view why = "required for patient-view";
    WARD_TRY(get_string(*ctx, "userId", "context.userId", patient_view, &req.user_id, why));
    if (!req.user_id.empty() && !is_user_reference(req.user_id)) {
        return invalid_argument(
            "context.userId: expected a reference to a Practitioner, PractitionerRole, Patient or "
            "RelatedPerson (\"Practitioner/123\")");
    }
    WARD_TRY(
        get_string(*ctx, "patientId", "context.patientId", patient_view, &req.patient_id, why));
    if (!req.patient_id.empty() && !is_fhir_id(req.patient_id)) {
        return invalid_argument(
            "context.patientId: not a FHIR id (letters, digits, '-', '.'; "
            "at most 64)");
    }
    WARD_TRY(get_string(*ctx, "encounterId", "context.encounterId", false, &req.encounter_id));
    req.context = *ctx;

    if (auto it = root.find("prefetch"); it != root.end()) {
        if (!it->is_object()) {
            return invalid_argument("prefetch: expected an object, got {}", type_name(*it));
        }
        for (const auto& [key, value] : it->items()) {
            if (!value.is_object() && !value.is_null()) {
                return invalid_argument("{}: expected a FHIR resource or null, got {}",
                                        key_path("prefetch", key), type_name(value));
            }
            req.prefetch.emplace(key, value);
        }
    }
    if (auto it = root.find("extension"); it != root.end()) {
        if (!it->is_object()) {
            return invalid_argument("extension: expected an object, got {}", type_name(*it));
        }
        req.extension = *it;
    }
    return req;
}

// Appends a prefetched value to a collection's entries: a Bundle's entries (with their
// fullUrls, so references between prefetch keys resolve), a single resource, or a CDS Hooks
// 1.0 style {"response": ..., "resource": {...}} wrapper. Anything else is skipped.
void add_entries(const json& value, json& entries) {
    if (!value.is_object()) return;
    auto type = value.find("resourceType");
    if (type == value.end()) {
        auto inner = value.find("resource");
        if (inner != value.end() && inner->is_object() && inner->contains("resourceType")) {
            add_entries(*inner, entries);
        }
        return;
    }
    if (type->is_string() && *type == "Bundle") {
        auto list = value.find("entry");
        if (list == value.end() || !list->is_array()) return;
        for (const auto& e : *list) {
            if (e.is_object() && e.contains("resource")) {
                json entry = {{"resource", e["resource"]}};
                if (auto url = e.find("fullUrl"); url != e.end()) entry["fullUrl"] = *url;
                entries.push_back(std::move(entry));
            }
        }
        return;
    }
    entries.push_back({{"resource", value}});
}

std::string uuid_v4() {
    crypto::Bytes b = crypto::random_bytes(16);
    b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);
    std::string h = crypto::to_hex(b);
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20, 12);
}

// The longest prefix of `s` of at most `max` bytes that does not split a UTF-8 character.
std::string_view utf8_prefix(std::string_view s, size_t max) {
    if (s.size() <= max) return s;
    size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}

// Model and record text inside a markdown card: no raw HTML and no inline links or images
// (text from the EHR could carry instructions; a card must not fetch or point anywhere).
std::string markdown_text(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 16);
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '<') {
            out += "&lt;";
        } else if (c == '>') {
            out += "&gt;";
        } else if (c == '&') {
            out += "&amp;";
        } else if (c == ']' && i + 1 < s.size() && s[i + 1] == '(') {
            out += "]\\";
        } else if (c == '!' && i + 1 < s.size() && s[i + 1] == '[') {
            out += "\\!";
        } else {
            out += c;
        }
    }
    return out;
}

std::string plural(size_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

json discovery(const CdsServiceConfig& config) {
    const std::string p = "{{context.patientId}}";
    json service = {
        {"hook", kPatientViewHook},
        {"id", config.id},
        {"title", config.title},
        {"description", config.description},
        {"prefetch",
         {{"patient", "Patient/" + p},
          {"conditions", "Condition?patient=" + p + "&clinical-status=active"},
          {"medications", "MedicationRequest?patient=" + p + "&status=active"},
          {"allergies", "AllergyIntolerance?patient=" + p},
          // Recent labs and vitals: the latest 100 by date (token search on category, _sort and
          // _count are within the specification's recommended query subset).
          {"observations", "Observation?patient=" + p +
                               "&category=laboratory,vital-signs&_sort=-date&_count=100"}}},
    };
    if (!config.usage_requirements.empty()) {
        service["usageRequirements"] = config.usage_requirements;
    }
    return {{"services", json::array({service})}};
}

Result<CdsHookRequest> parse_hook_request(std::string_view body) {
    try {
        WARD_ASSIGN_OR_RETURN(json root, parse_object(body, "hook request"));
        return parse_request_object(root);
    } catch (const std::exception& e) {
        // get<> on a checked type never throws; this is the module's last guard.
        return internal_error("cds-hooks: unexpected error reading the hook request: {}", e.what());
    }
}

Result<interop::PatientRecord> record_from_prefetch(const CdsHookRequest& request,
                                                    interop::ReadReport* report) {
    if (request.patient_id.empty()) {
        return invalid_argument("context.patientId: required to read the prefetch");
    }
    try {
        json entries = json::array();
        for (const auto& [key, value] : request.prefetch) {
            if (!value.is_null()) add_entries(value, entries);
        }
        if (entries.empty()) {
            return not_found("cds-hooks: the prefetch holds no resources for patient {}",
                             request.patient_id);
        }
        json bundle = {{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", entries}};
        interop::FhirReadOptions options;
        options.origin = "cds-hooks:" + request.hook_instance;
        interop::ReadResult read = interop::read_fhir_json(
            bundle.dump(-1, ' ', false, json::error_handler_t::replace), options);
        if (report) *report = std::move(read.report);
        interop::PatientRecord out;
        bool found = false;
        for (auto& patient : read.patients) {
            if (patient.id != request.patient_id) {
                return invalid_argument(
                    "prefetch: holds data about patient {}, not context.patientId {}", patient.id,
                    request.patient_id);
            }
            if (found) {
                out.merge(std::move(patient));
            } else {
                out = std::move(patient);
                found = true;
            }
        }
        if (!found) {
            return not_found("cds-hooks: the prefetch holds no readable data for patient {}",
                             request.patient_id);
        }
        return out;
    } catch (const std::exception& e) {
        return internal_error("cds-hooks: unexpected error reading the prefetch: {}", e.what());
    }
}

std::vector<std::string> summary_concerns(const assist::Summary& s) {
    std::vector<std::string> out;
    if (!s.unsupported_ids.empty()) {
        std::string ids;
        for (const auto& id : s.unsupported_ids) ids += (ids.empty() ? "" : ", ") + id;
        out.push_back(fmt::format(
            "The text cites {} that the record extract does not have ({}): treat the statements "
            "citing {} as unsupported.",
            s.unsupported_ids.size() == 1 ? "an item" : "items", ids,
            s.unsupported_ids.size() == 1 ? "it" : "them"));
    }
    bool blank = s.text.find_first_not_of(" \t\r\n") == std::string::npos;
    if (blank) {
        out.push_back("The model returned no text.");
    } else if (s.citations.empty() && s.unsupported_ids.empty()) {
        out.push_back("The text cites no record items: none of it is shown to be grounded.");
    }
    if (s.generation.finish == llm::Finish::kLength) {
        out.push_back("The text was cut at the length limit and may be incomplete.");
    } else if (s.generation.finish == llm::Finish::kCancelled) {
        out.push_back(
            "Generation was stopped early (deadline or cancellation): the text is incomplete.");
    }
    return out;
}

std::string card_summary_line(const assist::Summary& s) {
    // U+2014 EM DASH is 3 bytes.
    std::string tail =
        fmt::format(": {}, {}, {} \xE2\x80\x94 review before use",
                    plural(s.counts.active_problems, "active problem", "active problems"),
                    plural(s.counts.current_medications, "medication", "medications"),
                    plural(s.counts.allergies, "allergy", "allergies"));
    std::string head = "AI draft summary";
    const size_t limit = kMaxCardSummaryBytes - 1;
    if (!s.patient_name.empty()) {
        std::string with_name = head + " for " + s.patient_name;
        if (with_name.size() + tail.size() <= limit) {
            head = with_name;
        } else {
            const std::string_view ellipsis = "\xE2\x80\xA6";  // U+2026, 3 bytes
            size_t fixed = head.size() + 5 + ellipsis.size() + tail.size();
            if (fixed < limit) {
                head += " for ";
                head += utf8_prefix(s.patient_name, limit - fixed);
                head += ellipsis;
            }
        }
    }
    return std::string(utf8_prefix(head + tail, limit));
}

json summary_cards(const assist::Summary& s, const CdsCardOptions& options) {
    std::vector<std::string> concerns = summary_concerns(s);
    const std::string& model_name = s.model.name.empty() ? s.generation.model : s.model.name;

    std::string detail =
        "**AI-generated draft: review before use.** Written by a language model from the "
        "patient's record; it may be wrong or incomplete and is not a recommendation.\n\n";
    for (const auto& c : concerns) detail += "> **Attention:** " + c + "\n>\n";
    if (!concerns.empty()) detail += "\n";
    detail += markdown_text(s.text);
    detail += "\n\n";
    if (!s.citations.empty()) {
        detail += "**Cited record items**\n\n";
        for (const auto& c : s.citations) {
            std::string sources;
            for (const auto& src : c.sources) {
                sources += (sources.empty() ? "" : ", ") + src.to_string();
            }
            detail += fmt::format("- [{}] {}", c.id, markdown_text(c.label));
            if (!sources.empty()) detail += " (" + markdown_text(sources) + ")";
            detail += "\n";
        }
        detail += "\n";
    }
    detail +=
        fmt::format("Record as of {}: {} items read by the model", s.reference_date, s.n_included);
    if (s.n_omitted > 0) detail += fmt::format(", {} left out for length", s.n_omitted);
    detail += fmt::format(". Model {}", markdown_text(model_name));
    if (!s.model.file_sha256.empty()) {
        detail +=
            fmt::format(" ({})", markdown_text(std::string(utf8_prefix(s.model.file_sha256, 16))));
    }
    detail += fmt::format("; context SHA-256 {}.", s.context_sha256.substr(0, 16));

    json source = {{"label", fmt::format("Ward (model {})", model_name)},
                   {"topic",
                    {{"system", kTopicSystem},
                     {"code", "patient-summary"},
                     {"display", "AI-generated patient summary"}}}};
    if (!options.source_url.empty()) source["url"] = options.source_url;
    if (!options.source_icon.empty()) source["icon"] = options.source_icon;

    // Reasons a clinician can give when dismissing the card: they tell the service whether
    // the summary was wrong, which feedback analysis needs most.
    auto reason = [](std::string_view code, std::string_view display) {
        return json{
            {"system", "urn:ward:cds-override-reason"}, {"code", code}, {"display", display}};
    };
    json card = {
        {"uuid", uuid_v4()},
        {"summary", card_summary_line(s)},
        {"indicator", concerns.empty() ? "info" : "warning"},
        {"detail", detail},
        {"source", source},
        {"overrideReasons", json::array({reason("inaccurate", "Summary is inaccurate"),
                                         reason("incomplete", "Summary misses something important"),
                                         reason("not-useful", "Not useful here")})},
    };
    if (!options.review_url.empty()) {
        card["links"] = json::array(
            {{{"label", "Review the summary"}, {"url", options.review_url}, {"type", "absolute"}}});
    }
    return {{"cards", json::array({card})}};
}

json no_data_response() {
    return {{"cards", json::array()}};
}

Result<CdsFeedback> parse_feedback(std::string_view body) {
    try {
        WARD_ASSIGN_OR_RETURN(json root, parse_object(body, "feedback request"));
        auto list = root.find("feedback");
        if (list == root.end()) return invalid_argument("feedback: required");
        if (!list->is_array()) {
            return invalid_argument("feedback: expected an array, got {}", type_name(*list));
        }
        if (list->empty()) return invalid_argument("feedback: must not be empty");
        CdsFeedback out;
        for (size_t i = 0; i < list->size(); ++i) {
            const json& item = (*list)[i];
            std::string path = fmt::format("feedback[{}]", i);
            if (!item.is_object()) {
                return invalid_argument("{}: expected an object, got {}", path, type_name(item));
            }
            CdsFeedbackItem f;
            WARD_TRY(get_string(item, "card", path + ".card", true, &f.card));
            WARD_TRY(get_string(item, "outcome", path + ".outcome", true, &f.outcome));
            if (f.outcome != "accepted" && f.outcome != "overridden") {
                return invalid_argument("{}.outcome: expected accepted or overridden", path);
            }
            auto accepted = item.find("acceptedSuggestions");
            if (accepted != item.end()) {
                if (!accepted->is_array()) {
                    return invalid_argument("{}.acceptedSuggestions: expected an array, got {}",
                                            path, type_name(*accepted));
                }
                for (size_t j = 0; j < accepted->size(); ++j) {
                    const json& a = (*accepted)[j];
                    std::string apath = fmt::format("{}.acceptedSuggestions[{}]", path, j);
                    if (!a.is_object()) {
                        return invalid_argument("{}: expected an object, got {}", apath,
                                                type_name(a));
                    }
                    std::string id;
                    WARD_TRY(get_string(a, "id", apath + ".id", true, &id));
                    f.accepted_suggestions.push_back(std::move(id));
                }
            }
            if (f.outcome == "accepted" && f.accepted_suggestions.empty()) {
                return invalid_argument("{}.acceptedSuggestions: required for accepted outcomes",
                                        path);
            }
            if (auto o = item.find("overrideReason"); o != item.end()) {
                std::string opath = path + ".overrideReason";
                if (!o->is_object()) {
                    return invalid_argument("{}: expected an object, got {}", opath, type_name(*o));
                }
                if (auto r = o->find("reason"); r != o->end()) {
                    if (!r->is_object()) {
                        return invalid_argument("{}.reason: expected a Coding, got {}", opath,
                                                type_name(*r));
                    }
                    interop::Coding coding;
                    WARD_TRY(
                        get_string(*r, "system", opath + ".reason.system", false, &coding.system));
                    WARD_TRY(get_string(*r, "code", opath + ".reason.code", true, &coding.code));
                    WARD_TRY(get_string(*r, "display", opath + ".reason.display", false,
                                        &coding.display));
                    f.override_reason = std::move(coding);
                }
                WARD_TRY(
                    get_string(*o, "userComment", opath + ".userComment", false, &f.user_comment));
                if (!f.override_reason && f.user_comment.empty()) {
                    return invalid_argument("{}: needs a reason or a userComment", opath);
                }
            }
            WARD_TRY(get_string(item, "outcomeTimestamp", path + ".outcomeTimestamp", true,
                                &f.outcome_timestamp));
            if (!interop::is_fhir_date(f.outcome_timestamp) ||
                f.outcome_timestamp.find('T') == std::string::npos) {
                return invalid_argument(
                    "{}.outcomeTimestamp: not an ISO 8601 timestamp (2020-12-11T00:00:00Z)", path);
            }
            out.items.push_back(std::move(f));
        }
        return out;
    } catch (const std::exception& e) {
        return internal_error("cds-hooks: unexpected error reading feedback: {}", e.what());
    }
}

}  // namespace ward::server
