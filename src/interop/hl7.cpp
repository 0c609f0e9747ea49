#include "interop/hl7.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>

namespace ward::interop {

namespace {

bool is_alnum(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Splits `s` on `sep` and returns piece `n` (0-based), or "" when there are fewer.
std::string_view piece(std::string_view s, char sep, size_t n) {
    // Plain loops: the pieces are short, and memchr's call overhead dominates there.
    const char* p = s.data();
    const char* e = p + s.size();
    for (size_t i = 0; i < n; ++i) {
        while (p < e && *p != sep) ++p;
        if (p == e) return "";
        ++p;
    }
    const char* start = p;
    while (p < e && *p != sep) ++p;
    return std::string_view(start, static_cast<size_t>(p - start));
}

// The end of the line starting at `pos`: the next CR or LF, or the end of the text.
size_t line_end(std::string_view text, size_t pos) {
    const char* p = text.data() + pos;
    const char* e = text.data() + text.size();
    const char* cr = static_cast<const char*>(std::memchr(p, '\r', e - p));
    const char* limit = cr ? cr : e;
    const char* lf = static_cast<const char*>(std::memchr(p, '\n', limit - p));
    return static_cast<size_t>((lf ? lf : limit) - text.data());
}

}  // namespace

Result<Hl7Message> Hl7Message::parse(std::string_view text) {
    if (text.size() < 8 || text.substr(0, 3) != "MSH") {
        return invalid_argument("hl7: the message does not start with an MSH segment");
    }
    Hl7Message m;
    Hl7Encoding& enc = m.encoding_;
    enc.field = text[3];
    if (is_alnum(enc.field) || enc.field == '\r' || enc.field == '\n' || enc.field == ' ') {
        return invalid_argument("hl7: MSH-1 field separator '{}' is not a valid separator",
                                enc.field);
    }
    size_t enc_end = text.find(enc.field, 4);
    std::string_view chars = text.substr(4, enc_end == std::string_view::npos ? 0 : enc_end - 4);
    // 2.7+ may add a fifth (truncation) character.
    bool valid = chars.size() == 4 || chars.size() == 5;
    for (size_t i = 0; valid && i < chars.size(); ++i) {
        char c = chars[i];
        if (is_alnum(c) || c == enc.field || c == '\r' || c == '\n' || c == ' ') valid = false;
        for (size_t j = 0; j < i; ++j) {
            if (chars[j] == c) valid = false;
        }
    }
    if (!valid) {
        std::string shown(chars.substr(0, 8));
        for (char& c : shown) {
            if (static_cast<unsigned char>(c) < 0x20) c = '?';
        }
        return invalid_argument(
            "hl7: MSH-2 encoding characters \"{}\" are invalid: expected 4 distinct "
            "separator characters (component, repetition, escape, subcomponent, as in ^~\\&)",
            shown);
    }
    enc.component = chars[0];
    enc.repetition = chars[1];
    enc.escape = chars[2];
    enc.subcomponent = chars[3];

    struct Span {
        size_t first, count;
    };
    std::vector<Span> spans;
    m.fields_.reserve(text.size() / 6 + 16);
    // Per segment name (packed into an int), how many so far: a short list, scanned linearly.
    std::vector<std::pair<uint32_t, size_t>> ordinals;
    ordinals.reserve(16);
    size_t pos = 0;
    size_t seg_no = 0;
    const char field = enc.field;
    while (pos < text.size()) {
        size_t end = line_end(text, pos);
        std::string_view line = text.substr(pos, end - pos);
        pos = end;
        while (pos < text.size() && (text[pos] == '\r' || text[pos] == '\n')) ++pos;
        if (line.empty()) continue;
        ++seg_no;
        if (line.size() < 3 || !is_alnum(line[0]) || !is_alnum(line[1]) || !is_alnum(line[2]) ||
            (line.size() > 3 && line[3] != field)) {
            std::string shown(line.substr(0, std::min<size_t>(line.size(), 10)));
            for (char& c : shown) {
                if (static_cast<unsigned char>(c) < 0x20) c = '?';
            }
            return invalid_argument(
                "hl7: segment {} \"{}\" is not a segment (a name of three letters or digits "
                "followed by '{}'); truncated or corrupt message?",
                seg_no, shown, field);
        }
        Span span{m.fields_.size(), 0};
        bool msh = seg_no == 1;
        m.fields_.push_back(line.substr(0, 3));
        if (msh) {
            m.fields_.push_back(line.substr(3, 1));  // MSH-1
            size_t start = 4;
            while (true) {
                size_t f = line.find(field, start);
                if (f == std::string_view::npos) {
                    m.fields_.push_back(line.substr(start));
                    break;
                }
                m.fields_.push_back(line.substr(start, f - start));
                start = f + 1;
            }
        } else if (line.size() > 3) {
            const char* p = line.data() + 4;
            const char* e = line.data() + line.size();
            while (true) {
                const char* f = p;
                while (f < e && *f != field) ++f;
                m.fields_.emplace_back(p, static_cast<size_t>(f - p));
                if (f == e) break;
                p = f + 1;
            }
        }
        span.count = m.fields_.size() - span.first;
        spans.push_back(span);
        Hl7Segment seg;
        seg.name = line.substr(0, 3);
        seg.index = seg_no;
        uint32_t packed = static_cast<uint32_t>(static_cast<unsigned char>(line[0])) << 16 |
                          static_cast<uint32_t>(static_cast<unsigned char>(line[1])) << 8 |
                          static_cast<unsigned char>(line[2]);
        size_t k = 0;
        while (k < ordinals.size() && ordinals[k].first != packed) ++k;
        if (k == ordinals.size()) ordinals.emplace_back(packed, 0);
        seg.ordinal = ++ordinals[k].second;
        m.segments_.push_back(seg);
    }
    for (size_t i = 0; i < m.segments_.size(); ++i) {
        m.segments_[i].fields =
            std::span<const std::string_view>(m.fields_.data() + spans[i].first, spans[i].count);
    }
    const Hl7Segment& msh = m.segments_.front();
    std::string_view type_field = msh.field(9);
    m.type_ = m.component(type_field, 1);
    m.trigger_ = m.component(type_field, 2);
    m.control_id_ = msh.field(10);
    m.version_ = m.component(msh.field(12), 1);
    return m;
}

const Hl7Segment* Hl7Message::find(std::string_view name) const {
    for (const auto& s : segments_) {
        if (s.name == name) return &s;
    }
    return nullptr;
}

std::string_view Hl7Message::component(std::string_view field, size_t component, size_t repetition,
                                       size_t sub) const {
    std::string_view rep = piece(field, encoding_.repetition, repetition);
    std::string_view comp = piece(rep, encoding_.component, component - 1);
    return piece(comp, encoding_.subcomponent, sub - 1);
}

size_t Hl7Message::repetitions(std::string_view field) const {
    if (field.empty()) return 0;
    return static_cast<size_t>(std::count(field.begin(), field.end(), encoding_.repetition)) + 1;
}

std::string Hl7Message::value(std::string_view field, size_t comp, size_t repetition,
                              size_t sub) const {
    return unescape(component(field, comp, repetition, sub));
}

std::string Hl7Message::unescape(std::string_view raw) const {
    const char esc = encoding_.escape;
    if (raw.find(esc) == std::string_view::npos) {
        if (raw == "\"\"") return "";  // HL7 explicit null
        return std::string(raw);
    }
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != esc) {
            out += raw[i];
            continue;
        }
        size_t close = raw.find(esc, i + 1);
        if (close == std::string_view::npos) {  // a lone escape character: keep it
            out += raw.substr(i);
            break;
        }
        std::string_view seq = raw.substr(i + 1, close - i - 1);
        if (seq == "F")
            out += encoding_.field;
        else if (seq == "S")
            out += encoding_.component;
        else if (seq == "T")
            out += encoding_.subcomponent;
        else if (seq == "R")
            out += encoding_.repetition;
        else if (seq == "E")
            out += esc;
        else if (seq == ".br")
            out += '\n';
        else if (seq == "H" || seq == "N") {  // highlighting on/off: no text
        } else if (!seq.empty() && seq[0] == 'X' && seq.size() % 2 == 1) {
            for (size_t k = 1; k + 1 < seq.size(); k += 2) {
                unsigned v = 0;
                auto r = std::from_chars(seq.data() + k, seq.data() + k + 2, v, 16);
                if (r.ec == std::errc()) out += static_cast<char>(v);
            }
        } else {
            out += raw.substr(i, close - i + 1);  // unknown: keep as received
        }
        i = close;
    }
    return out;
}

std::string hl7_escape(std::string_view text, const Hl7Encoding& e) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == e.escape)
            out += std::string{e.escape, 'E', e.escape};
        else if (c == e.field)
            out += std::string{e.escape, 'F', e.escape};
        else if (c == e.component)
            out += std::string{e.escape, 'S', e.escape};
        else if (c == e.subcomponent)
            out += std::string{e.escape, 'T', e.escape};
        else if (c == e.repetition)
            out += std::string{e.escape, 'R', e.escape};
        else if (c == '\r' || c == '\n')
            out += std::string{e.escape, '.', 'b', 'r', e.escape};
        else
            out += c;
    }
    return out;
}

std::optional<std::string> hl7_timestamp_to_iso(std::string_view ts) {
    // Strip a time zone "+hhmm"/"-hhmm".
    std::string_view zone;
    size_t z = ts.find_first_of("+-");
    if (z != std::string_view::npos) {
        zone = ts.substr(z);
        ts = ts.substr(0, z);
        if (zone.size() != 5) return std::nullopt;
        for (size_t i = 1; i < 5; ++i) {
            if (zone[i] < '0' || zone[i] > '9') return std::nullopt;
        }
    }
    std::string_view frac;
    if (size_t dot = ts.find('.'); dot != std::string_view::npos) {
        frac = ts.substr(dot + 1);
        ts = ts.substr(0, dot);
        if (frac.empty() || frac.size() > 4) return std::nullopt;
    }
    for (char c : ts) {
        if (c < '0' || c > '9') return std::nullopt;
    }
    for (char c : frac) {
        if (c < '0' || c > '9') return std::nullopt;
    }
    size_t n = ts.size();
    if (n != 4 && n != 6 && n != 8 && n != 10 && n != 12 && n != 14) return std::nullopt;
    std::string out(ts.substr(0, 4));
    if (n >= 6) out += "-" + std::string(ts.substr(4, 2));
    if (n >= 8) out += "-" + std::string(ts.substr(6, 2));
    if (n >= 10) out += "T" + std::string(ts.substr(8, 2));
    if (n >= 12)
        out += ":" + std::string(ts.substr(10, 2));
    else if (n == 10)
        out += ":00";
    if (n >= 14) out += ":" + std::string(ts.substr(12, 2));
    if (!frac.empty()) out += "." + std::string(frac);
    if (!zone.empty() && n >= 10) {
        out += std::string(zone.substr(0, 3)) + ":" + std::string(zone.substr(3, 2));
    }
    if (!is_fhir_date(out)) return std::nullopt;
    return out;
}

bool hl7_supported_type(std::string_view type, std::string_view trigger) {
    if (type == "ADT") {
        return trigger == "A01" || trigger == "A03" || trigger == "A04" || trigger == "A08";
    }
    if (type == "ORU") return trigger == "R01";
    if (type == "VXU") return trigger == "V04";
    if (type == "RDE") return trigger == "O11" || trigger == "O01";
    if (type == "RAS") return trigger == "O17" || trigger == "O02";
    return false;
}

namespace {

// A segment name as one integer, for switch statements.
constexpr uint32_t packed(std::string_view name) {
    return name.size() < 3 ? 0
                           : static_cast<uint32_t>(static_cast<unsigned char>(name[0])) << 16 |
                                 static_cast<uint32_t>(static_cast<unsigned char>(name[1])) << 8 |
                                 static_cast<unsigned char>(name[2]);
}

// Maps one message; errors go to `errors` with the segment and field.
class MessageMapper {
  public:
    MessageMapper(const Hl7Message& m, std::string_view origin) : m_(m), origin_(origin) {}

    bool run(PatientRecord& rec, std::vector<Issue>& errors) {
        errors_ = &errors;
        const Hl7Segment* msh = m_.find("MSH");
        if (m_.control_id().empty()) error(*msh, 10, "message control id", "is missing");
        if (m_.message_type().empty()) error(*msh, 9, "message type", "is missing");
        message_time_ = ts(*msh, 7, "date/time of message");
        const Hl7Segment* pid = m_.find("PID");
        if (!pid) {
            add_error("", fmt::format("hl7: {}^{} message has no PID segment", m_.message_type(),
                                      m_.trigger()));
            return false;
        }
        for (const auto& seg : m_.segments()) {
            switch (packed(seg.name)) {
                case packed("PID"):
                    map_pid(seg, rec);
                    break;
                case packed("EVN"):
                    event_time_ = ts(seg, 2, "recorded date/time");
                    break;
                case packed("PV1"):
                    map_pv1(seg, rec);
                    break;
                case packed("AL1"):
                    map_al1(seg, rec);
                    break;
                case packed("DG1"):
                    map_dg1(seg, rec);
                    break;
                case packed("OBR"):
                    map_obr(seg, rec);
                    break;
                case packed("OBX"):
                    map_obx(seg, rec);
                    break;
                case packed("NTE"):
                    map_nte(seg, rec);
                    break;
                case packed("ORC"):
                    order_time_ = ts(seg, 9, "date/time of transaction");
                    break;
                case packed("RXE"):
                    map_rxe(seg, rec);
                    break;
                case packed("RXA"):
                    map_rxa(seg, rec);
                    break;
                case packed("NK1"):
                case packed("MSH"):
                    break;
                default:
                    last_ = Last::kNone;  // an NTE after this is not about an OBX
            }
        }
        return !failed_;
    }

  private:
    enum class Last { kNone, kObr, kObx };

    void add_error(std::string where, std::string message) {
        failed_ = true;
        errors_->push_back({std::move(where), std::move(message)});
    }
    void error(const Hl7Segment& seg, size_t field, std::string_view what, std::string_view msg) {
        add_error("", fmt::format("hl7: {}-{} ({}) {} (segment {})", seg.name, field, what, msg,
                                  seg.index));
    }
    std::vector<Source> source(const Hl7Segment& seg) const {
        Source s;
        s.kind = Source::Kind::kHl7;
        s.id = std::string(m_.control_id());
        s.locator.reserve(8);
        s.locator.append(seg.name).append("[").append(std::to_string(seg.ordinal)).append("]");
        s.origin = std::string(origin_);
        return {s};
    }
    std::string val(const Hl7Segment& seg, size_t field, size_t comp = 1, size_t rep = 0) {
        return m_.value(seg.field(field), comp, rep);
    }
    std::string ts(const Hl7Segment& seg, size_t field, std::string_view what, size_t comp = 1) {
        std::string_view raw = m_.component(seg.field(field), comp);
        if (raw.empty() || raw == "\"\"") return "";
        auto iso = hl7_timestamp_to_iso(raw);
        if (!iso) {
            error(seg, field, what, fmt::format("\"{}\" is not a date", raw));
            return "";
        }
        return *iso;
    }
    // A CE/CWE field: code^text^system[^alt code^alt text^alt system].
    Concept ce(const Hl7Segment& seg, size_t field, size_t rep = 0) {
        Concept c;
        std::string_view f = seg.field(field);
        std::string code = m_.value(f, 1, rep), text = m_.value(f, 2, rep);
        std::string system = m_.value(f, 3, rep);
        if (!code.empty() || !text.empty()) c.codings.push_back({system_uri(system), code, text});
        std::string alt = m_.value(f, 4, rep);
        if (!alt.empty()) {
            c.codings.push_back({system_uri(m_.value(f, 6, rep)), alt, m_.value(f, 5, rep)});
        }
        if (c.codings.empty()) c.text = m_.value(f, 9, rep);  // CWE-9 original text
        return c;
    }
    static std::string system_uri(const std::string& hl7_system) {
        if (hl7_system == "LN") return std::string(kLoinc);
        if (hl7_system == "SCT" || hl7_system == "SNM" || hl7_system == "SNOMED") {
            return std::string(kSnomed);
        }
        if (hl7_system == "RXNORM") return std::string(kRxNorm);
        if (hl7_system == "I10" || hl7_system == "ICD10" || hl7_system == "I10C") {
            return std::string(kIcd10);
        }
        if (hl7_system == "CVX") return std::string(kCvx);
        return hl7_system;
    }
    static std::optional<double> parse_number(std::string_view s) {
        while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
        while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
        if (!s.empty() && s.front() == '+') s.remove_prefix(1);
        if (s.empty()) return std::nullopt;
        double v = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
        return v;
    }

    void map_pid(const Hl7Segment& seg, PatientRecord& rec) {
        Demographics& d = rec.demographics;
        std::string_view ids = seg.field(3);
        if (ids.empty()) ids = seg.field(2);  // PID-2 (external id) in old feeds
        if (ids.empty()) return error(seg, 3, "patient identifier list", "is missing");
        std::string key;
        for (size_t r = 0; r < m_.repetitions(ids); ++r) {
            std::string value = m_.value(ids, 1, r);
            if (value.empty()) continue;
            std::string authority = m_.value(ids, 4, r), type = m_.value(ids, 5, r);
            d.identifiers.push_back({authority + (type.empty() ? "" : "/" + type), value});
            if (key.empty() || (type == "MR" && key_type_ != "MR")) {
                key = value;
                key_type_ = type;
            }
        }
        if (key.empty()) return error(seg, 3, "patient identifier list", "has no identifier");
        rec.id = key;
        d.family_name = val(seg, 5, 1);
        std::string given = val(seg, 5, 2), middle = val(seg, 5, 3);
        if (!given.empty()) d.given_names.push_back(given);
        if (!middle.empty()) d.given_names.push_back(middle);
        std::string dob = ts(seg, 7, "date of birth");
        d.birth_date = std::string(date_key(dob));
        std::string sex = val(seg, 8);
        if (sex == "M")
            d.gender = "male";
        else if (sex == "F")
            d.gender = "female";
        else if (sex == "O" || sex == "A")
            d.gender = "other";
        else if (sex == "U")
            d.gender = "unknown";
        else if (!sex.empty())
            error(seg, 8, "administrative sex", fmt::format("\"{}\" is not M, F, O, A or U", sex));
        d.city = val(seg, 11, 3);
        d.state = val(seg, 11, 4);
        d.country = val(seg, 11, 6);
        d.language = val(seg, 15, 2);
        if (d.language.empty()) d.language = val(seg, 15, 1);
        std::string death = ts(seg, 29, "patient death date and time");
        if (!death.empty())
            d.deceased = death;
        else if (val(seg, 30) == "Y")
            d.deceased = "true";
        d.sources = source(seg);
    }

    void map_pv1(const Hl7Segment& seg, PatientRecord& rec) {
        Encounter e;
        std::string cls = val(seg, 2);
        static const std::map<std::string, std::string, std::less<>> kClass = {
            {"I", "IMP"}, {"O", "AMB"}, {"E", "EMER"}, {"P", "PRENC"},
            {"R", "AMB"}, {"B", "AMB"}, {"C", "AMB"},  {"N", ""}};
        auto it = kClass.find(cls);
        e.encounter_class = it != kClass.end() ? it->second : cls;
        std::string service = val(seg, 10);
        if (!service.empty()) e.type.codings.push_back({"HL7 0069", service, ""});
        std::string ward = val(seg, 3, 1), room = val(seg, 3, 2), bed = val(seg, 3, 3);
        e.location = ward;
        if (!room.empty()) e.location += " " + room;
        if (!bed.empty()) e.location += " " + bed;
        std::string prefix = val(seg, 7, 6), given = val(seg, 7, 3), family = val(seg, 7, 2);
        for (const std::string* part : {&prefix, &given, &family}) {
            if (part->empty()) continue;
            if (!e.provider.empty()) e.provider += ' ';
            e.provider += *part;
        }
        e.start = ts(seg, 44, "admit date/time");
        e.end = ts(seg, 45, "discharge date/time");
        if (e.start.empty()) e.start = !event_time_.empty() ? event_time_ : message_time_;
        bool discharge = m_.message_type() == "ADT" && m_.trigger() == "A03";
        if (discharge && e.end.empty()) e.end = !event_time_.empty() ? event_time_ : message_time_;
        e.status = discharge || !e.end.empty() ? "finished" : "in-progress";
        e.visit_id = val(seg, 19);
        e.sources = source(seg);
        // ADT^A08/A03 update the same visit: replace an earlier record of it in this message.
        rec.encounters.push_back(std::move(e));
    }

    void map_al1(const Hl7Segment& seg, PatientRecord& rec) {
        Allergy a;
        a.code = ce(seg, 3);
        if (a.code.empty()) return error(seg, 3, "allergen code", "is missing");
        std::string type = val(seg, 2);
        if (type == "DA")
            a.category = "medication";
        else if (type == "FA")
            a.category = "food";
        else if (type == "EA")
            a.category = "environment";
        else if (type == "MA" || type == "AA" || type == "PA")
            a.category = "other";
        std::string sev = val(seg, 4);
        if (sev == "SV")
            a.criticality = "high";
        else if (sev == "MO" || sev == "MI")
            a.criticality = "low";
        Reaction re;
        std::string_view reactions = seg.field(5);
        for (size_t r = 0; r < m_.repetitions(reactions); ++r) {
            std::string text = m_.value(reactions, 1, r);
            if (!text.empty()) re.manifestations.push_back(text);
        }
        if (sev == "SV")
            re.severity = "severe";
        else if (sev == "MO")
            re.severity = "moderate";
        else if (sev == "MI")
            re.severity = "mild";
        if (!re.manifestations.empty()) a.reactions.push_back(std::move(re));
        a.onset = ts(seg, 6, "identification date");
        a.clinical_status = "active";
        a.sources = source(seg);
        rec.allergies.push_back(std::move(a));
    }

    void map_dg1(const Hl7Segment& seg, PatientRecord& rec) {
        Problem p;
        p.code = ce(seg, 3);
        if (p.code.empty()) {
            std::string text = val(seg, 4);
            if (text.empty()) return error(seg, 3, "diagnosis code", "is missing");
            p.code.text = text;
        }
        p.onset = ts(seg, 5, "diagnosis date/time");
        p.recorded = p.onset.empty() ? message_time_ : p.onset;
        p.category = "encounter-diagnosis";
        p.clinical_status = "active";
        p.sources = source(seg);
        rec.problems.push_back(std::move(p));
    }

    void map_obr(const Hl7Segment& seg, PatientRecord& rec) {
        Report r;
        r.code = ce(seg, 4);
        if (r.code.empty()) return error(seg, 4, "universal service identifier", "is missing");
        obr_time_ = ts(seg, 7, "observation date/time");
        r.date = obr_time_;
        std::string status = val(seg, 25);
        r.status = status == "F"   ? "final"
                   : status == "P" ? "preliminary"
                   : status == "C" ? "corrected"
                                   : status;
        r.sources = source(seg);
        rec.reports.push_back(std::move(r));
        report_ = rec.reports.size() - 1;
        last_ = Last::kObr;
    }

    void map_obx(const Hl7Segment& seg, PatientRecord& rec) {
        Observation o;
        o.code = ce(seg, 3);
        if (o.code.empty()) return error(seg, 3, "observation identifier", "is missing");
        std::string type = val(seg, 2);
        std::string_view raw_value = seg.field(5);
        if (seg.fields.size() <= 5 && type != "") {
            return error(seg, 5, "observation value", "is missing (truncated segment?)");
        }
        std::string unit = val(seg, 6, 1);
        if (unit.empty()) unit = val(seg, 6, 2);
        if (unit == "\"\"") unit.clear();
        using K = ObservationValue::Kind;
        if (type == "NM") {
            std::string text = m_.unescape(raw_value);
            o.value.kind = K::kQuantity;
            o.value.unit = unit;
            if (!text.empty()) {
                o.value.number = parse_number(text);
                if (!o.value.number) {
                    return error(seg, 5, "observation value",
                                 fmt::format("\"{}\" is not a number (OBX-2 is NM)", text));
                }
            }
        } else if (type == "SN") {
            o.value.kind = K::kQuantity;
            o.value.unit = unit;
            o.value.comparator = val(seg, 5, 1);
            std::string sep = val(seg, 5, 3);
            o.value.number = parse_number(val(seg, 5, 2));
            if (!sep.empty()) {
                o.value.kind = sep == ":" || sep == "/" ? K::kRatio : K::kRange;
                o.value.high = parse_number(val(seg, 5, 4));
            }
        } else if (type == "CE" || type == "CWE" || type == "CNE" || type == "CF") {
            o.value.kind = K::kConcept;
            o.value.concept_value = ce(seg, 5);
            o.value.text = o.value.concept_value.label();
        } else if (type == "DT" || type == "TS" || type == "DTM" || type == "TM") {
            o.value.kind = K::kDateTime;
            o.value.text = m_.unescape(raw_value);
        } else {  // ST, TX, FT, and anything else: text, repetitions joined by lines
            o.value.kind = K::kString;
            for (size_t r = 0; r < std::max<size_t>(1, m_.repetitions(raw_value)); ++r) {
                if (r > 0) o.value.text += '\n';
                o.value.text += m_.unescape(piece(raw_value, m_.encoding().repetition, r));
            }
        }
        std::string range = val(seg, 7);
        if (!range.empty()) o.reference_ranges.push_back(parse_range(range, unit));
        std::string_view flags = seg.field(8);
        for (size_t r = 0; r < m_.repetitions(flags); ++r) {
            std::string f = m_.value(flags, 1, r);
            if (!f.empty() && f != "N" && f != "\"\"")
                o.interpretation.push_back(f);
            else if (f == "N")
                o.interpretation.push_back("N");
        }
        std::string status = val(seg, 11);
        o.status = status == "F"   ? "final"
                   : status == "P" ? "preliminary"
                   : status == "C" ? "corrected"
                                   : status;
        o.effective = ts(seg, 14, "date/time of the observation");
        if (o.effective.empty()) o.effective = !obr_time_.empty() ? obr_time_ : message_time_;
        o.category = "laboratory";
        o.sources = source(seg);
        if (report_ != SIZE_MAX)
            rec.reports[report_].result_ids.push_back(o.sources[0].to_string());
        rec.observations.push_back(std::move(o));
        obx_ = rec.observations.size() - 1;
        last_ = Last::kObx;
    }

    static ReferenceRange parse_range(std::string range, const std::string& unit) {
        ReferenceRange rr;
        rr.text = range;
        rr.unit = unit;
        std::string s;
        for (char c : range) {
            if (c != '[' && c != ']' && c != ' ') s += c;
        }
        if (s.starts_with("<=") || s.starts_with(">=")) s = s.substr(0, 1) + s.substr(2);
        if (s.starts_with("<")) {
            rr.high = parse_number(s.substr(1));
        } else if (s.starts_with(">")) {
            rr.low = parse_number(s.substr(1));
        } else if (size_t dash = s.find('-', 1); dash != std::string::npos) {
            rr.low = parse_number(s.substr(0, dash));
            rr.high = parse_number(s.substr(dash + 1));
        }
        return rr;
    }

    void map_nte(const Hl7Segment& seg, PatientRecord& rec) {
        std::string text;
        std::string_view f = seg.field(3);
        for (size_t r = 0; r < m_.repetitions(f); ++r) {
            if (r > 0) text += '\n';
            text += m_.unescape(piece(f, m_.encoding().repetition, r));
        }
        if (text.empty()) return;
        if (last_ == Last::kObx && obx_ != SIZE_MAX) {
            rec.observations[obx_].notes.push_back(text);
            return;
        }
        Note n;
        n.text = std::move(text);
        n.date = !obr_time_.empty() ? obr_time_ : message_time_;
        n.title = last_ == Last::kObr && report_ != SIZE_MAX
                      ? "Comment on " + rec.reports[report_].code.label()
                      : "Comment";
        n.content_type = "text/plain";
        n.sources = source(seg);
        rec.notes.push_back(std::move(n));
    }

    void map_rxe(const Hl7Segment& seg, PatientRecord& rec) {
        Medication m;
        m.kind = Medication::Kind::kOrder;
        m.code = ce(seg, 2);
        if (m.code.empty()) return error(seg, 2, "give code", "is missing");
        m.dose_value = parse_number(val(seg, 3));
        m.dose_unit = val(seg, 5, 2).empty() ? val(seg, 5, 1) : val(seg, 5, 2);
        std::string timing = val(seg, 1, 2);  // TQ-2 interval ("BID", "Q8H")
        std::string route = val(seg, 6, 2);
        if (m.dose_value) {
            m.dosage = fmt::format("{} {}", *m.dose_value, m.dose_unit);
            if (!timing.empty()) m.dosage += " " + timing;
        }
        m.start = ts(seg, 1, "quantity/timing start", 4);
        if (m.start.empty()) m.start = order_time_.empty() ? message_time_ : order_time_;
        m.status = "active";
        m.sources = source(seg);
        rec.medications.push_back(std::move(m));
    }

    void map_rxa(const Hl7Segment& seg, PatientRecord& rec) {
        Concept code = ce(seg, 5);
        if (code.empty()) return error(seg, 5, "administered code", "is missing");
        std::string when = ts(seg, 3, "date/time start of administration");
        std::string completion = val(seg, 20);
        std::string status = completion == "RE"   ? "not-done"
                             : completion == "NA" ? "not-done"
                             : completion == "PA" ? "partially-completed"
                                                  : "completed";
        bool vaccine = m_.message_type() == "VXU" || code.find(kCvx) != nullptr;
        if (vaccine) {
            Immunization i;
            i.vaccine = std::move(code);
            i.date = when;
            i.status = status;
            i.sources = source(seg);
            rec.immunizations.push_back(std::move(i));
            return;
        }
        Medication m;
        m.kind = Medication::Kind::kAdministration;
        m.code = std::move(code);
        m.dose_value = parse_number(val(seg, 6));
        m.dose_unit = val(seg, 7, 2).empty() ? val(seg, 7, 1) : val(seg, 7, 2);
        if (m.dose_value) m.dosage = fmt::format("{} {}", *m.dose_value, m.dose_unit);
        m.start = when;
        m.end = when;
        m.status = status;
        m.sources = source(seg);
        rec.medications.push_back(std::move(m));
    }

    const Hl7Message& m_;
    std::string_view origin_;
    std::vector<Issue>* errors_ = nullptr;
    bool failed_ = false;
    std::string key_type_;
    std::string message_time_, event_time_, obr_time_, order_time_;
    size_t report_ = SIZE_MAX, obx_ = SIZE_MAX;
    Last last_ = Last::kNone;
};

void merge_into(std::map<std::string, PatientRecord>& records, PatientRecord&& rec) {
    auto [it, inserted] = records.try_emplace(rec.id);
    if (inserted) it->second.id = rec.id;
    it->second.append(std::move(rec));
}

}  // namespace

ReadResult read_hl7_message(const Hl7Message& message, std::string_view origin) {
    ReadResult out;
    out.report.n_resources = 1;
    if (!hl7_supported_type(message.message_type(), message.trigger())) {
        ++out.report.unknown_types[fmt::format("{}^{}", message.message_type(), message.trigger())];
        return out;
    }
    PatientRecord rec;
    MessageMapper mapper(message, origin);
    std::vector<Issue> errors;
    if (mapper.run(rec, errors)) {
        out.patients.push_back(std::move(rec));
        out.report.n_read = 1;
    } else {
        out.report.n_skipped = 1;
        out.report.errors = std::move(errors);
    }
    return out;
}

ReadResult read_hl7(std::string_view text, std::string_view origin) {
    ReadResult out;
    std::map<std::string, PatientRecord> records;
    // Split into messages at each segment that starts with MSH.
    std::vector<std::string_view> messages;
    size_t pos = 0, start = std::string_view::npos;
    while (pos < text.size()) {
        size_t end = line_end(text, pos);
        std::string_view line = text.substr(pos, end - pos);
        // MLLP framing bytes in a captured stream.
        while (!line.empty() && (line.front() == '\x0b' || line.front() == '\x1c')) {
            line.remove_prefix(1);
            pos += 1;
        }
        bool envelope = line.starts_with("FHS") || line.starts_with("BHS") ||
                        line.starts_with("BTS") || line.starts_with("FTS");
        if (line.starts_with("MSH") || envelope) {
            if (start != std::string_view::npos)
                messages.push_back(text.substr(start, pos - start));
            start = envelope ? std::string_view::npos : pos;
        } else if (start == std::string_view::npos && !line.empty()) {
            // Data before the first MSH: reported as a message that cannot be read.
            start = pos;
        }
        pos = end;
        while (pos < text.size() &&
               (text[pos] == '\r' || text[pos] == '\n' || text[pos] == '\x1c')) {
            ++pos;
        }
    }
    if (start != std::string_view::npos) messages.push_back(text.substr(start));

    size_t n = 0;
    for (std::string_view raw : messages) {
        ++n;
        while (!raw.empty() && (raw.back() == '\x1c' || raw.back() == '\r' || raw.back() == '\n')) {
            raw.remove_suffix(1);
        }
        auto msg = Hl7Message::parse(raw);
        if (!msg) {
            ++out.report.n_resources;
            ++out.report.n_skipped;
            out.report.errors.push_back({fmt::format("message {}", n), msg.error().message()});
            continue;
        }
        ReadResult one = read_hl7_message(*msg, origin);
        for (auto& e : one.report.errors) {
            e.where = fmt::format("message {} (control id {})", n, msg->control_id());
        }
        out.report.merge(std::move(one.report));
        for (auto& rec : one.patients) merge_into(records, std::move(rec));
    }
    for (auto& [id, rec] : records) {
        rec.dedupe();
        out.patients.push_back(std::move(rec));
    }
    return out;
}

namespace {
std::string control_id_from_raw(std::string_view raw) {
    if (raw.size() < 4 || !raw.starts_with("MSH")) return "";
    char sep = raw[3];
    size_t end = raw.find_first_of("\r\n");
    std::string_view msh = raw.substr(0, end);
    // MSH-10 is piece 9 when splitting on the separator (MSH itself is piece 0).
    return std::string(piece(msh, sep, 9));
}
}  // namespace

std::string make_ack(const Hl7Message* message, std::string_view raw, const AckInfo& info,
                     std::string_view now, std::string_view ack_control_id) {
    Hl7Encoding enc = message ? message->encoding() : Hl7Encoding{};
    std::string sending_app = "WARD", sending_fac = "WARD", receiving_app, receiving_fac;
    std::string trigger, version = "2.5", control;
    if (message) {
        const Hl7Segment& msh = message->segments().front();
        receiving_app = std::string(msh.field(3));
        receiving_fac = std::string(msh.field(4));
        if (!msh.field(5).empty()) sending_app = std::string(msh.field(5));
        if (!msh.field(6).empty()) sending_fac = std::string(msh.field(6));
        trigger = std::string(message->trigger());
        if (!message->version().empty()) version = std::string(message->version());
        control = std::string(message->control_id());
    } else {
        control = control_id_from_raw(raw);
        // Only echo what is safe to echo: drop separators of an unparseable header.
        std::erase_if(control, [](char c) { return !is_alnum(c) && c != '-' && c != '.'; });
    }
    std::string_view code = info.code == AckCode::kAccept  ? "AA"
                            : info.code == AckCode::kError ? "AE"
                                                           : "AR";
    std::string f(1, enc.field);
    std::string out;
    out += "MSH" + f + enc.component + enc.repetition + enc.escape + enc.subcomponent;
    out += f + sending_app + f + sending_fac + f + receiving_app + f + receiving_fac;
    out += f + std::string(now) + f + f + "ACK";
    if (!trigger.empty()) out += enc.component + trigger + enc.component + "ACK";
    out += f + std::string(ack_control_id) + f + "P" + f + version + "\r";
    out += "MSA" + f + std::string(code) + f + control;
    if (!info.text.empty()) out += f + hl7_escape(info.text.substr(0, 200), enc);
    out += "\r";
    if (info.code != AckCode::kAccept) {
        // ERR-3 (2.5+): error code^text^HL70357; ERR-4 severity E. ERR-1 left empty.
        std::string err_code = info.error_code.empty() ? "207" : info.error_code;
        out += "ERR" + f + f + f + err_code + enc.component +
               hl7_escape(info.text.substr(0, 200), enc) + enc.component + "HL70357" + f + "E\r";
    }
    return out;
}

}  // namespace ward::interop
