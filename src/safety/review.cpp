#include "safety/review.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/civil_date.h"
#include "common/crypto.h"
#include "common/sqlite.h"

namespace ward::safety {
namespace {

using nlohmann::json;

constexpr int kSchemaVersion = 1;
constexpr std::string_view kKeyLabel = "ward-review-queue-key-v1";

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS review_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS reviews ("
    " id TEXT PRIMARY KEY,"
    " created TEXT NOT NULL,"
    " task TEXT NOT NULL,"
    " route TEXT NOT NULL,"
    " request_id TEXT NOT NULL,"
    " principal_id TEXT NOT NULL,"
    " patient_key_hash TEXT NOT NULL,"
    " model TEXT NOT NULL,"
    " knowledge_version TEXT NOT NULL,"
    " flags TEXT NOT NULL,"   // JSON array
    " input BLOB NOT NULL,"   // sealed
    " output BLOB NOT NULL,"  // sealed
    " status TEXT NOT NULL,"
    " reviewer TEXT NOT NULL DEFAULT '',"
    " decided TEXT NOT NULL DEFAULT '',"
    " reason TEXT NOT NULL DEFAULT '',"
    " edited BLOB);"  // sealed, kEdited only
    "CREATE INDEX IF NOT EXISTS reviews_status ON reviews(status, created);";

constexpr const char* kColumns =
    "id, created, task, route, request_id, principal_id, patient_key_hash, model, "
    "knowledge_version, flags, input, output, status, reviewer, decided, reason, edited";

std::span<const uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Ciphertexts are bound to the item id and to which field they are.
std::string associated(std::string_view id, std::string_view field) {
    std::string a(id);
    a.push_back('/');
    a.append(field);
    return a;
}

}  // namespace

std::string_view review_status_name(ReviewStatus status) {
    switch (status) {
        case ReviewStatus::kPending:
            return "pending";
        case ReviewStatus::kApproved:
            return "approved";
        case ReviewStatus::kEdited:
            return "edited";
        case ReviewStatus::kRejected:
            return "rejected";
    }
    return "pending";
}

Result<ReviewStatus> parse_review_status(std::string_view name) {
    for (ReviewStatus s : {ReviewStatus::kPending, ReviewStatus::kApproved, ReviewStatus::kEdited,
                           ReviewStatus::kRejected}) {
        if (review_status_name(s) == name) return s;
    }
    return invalid_argument("\"{}\" is not a review status (pending, approved, edited, rejected)",
                            name);
}

struct ReviewQueue::Impl {
    mutable Database db;  // guarded by mu
    crypto::Sha256Digest key{};
    mutable std::mutex mu;

    std::vector<uint8_t> seal(std::string_view id, std::string_view field,
                              std::string_view text) const {
        return crypto::seal(key, bytes_of(text), bytes_of(associated(id, field)));
    }
    Result<std::string> open(std::string_view id, std::string_view field,
                             const std::vector<uint8_t>& box) const {
        auto plain = crypto::open(key, box, bytes_of(associated(id, field)));
        if (!plain) {
            return data_loss("review {}: the {} does not open (wrong secret or altered row)", id,
                             field);
        }
        return std::string(plain->begin(), plain->end());
    }

    // Reads one row of kColumns; texts opened when with_text.
    Result<ReviewItem> read(Statement& st, bool with_text) const {
        ReviewItem it;
        it.id = st.column_text(0);
        it.created = st.column_text(1);
        it.task = st.column_text(2);
        it.route = st.column_text(3);
        it.request_id = st.column_text(4);
        it.principal_id = st.column_text(5);
        it.patient_key_hash = st.column_text(6);
        it.model = st.column_text(7);
        it.knowledge_version = st.column_text(8);
        json flags = json::parse(st.column_text(9), nullptr, false);
        if (flags.is_array()) {
            for (const auto& f : flags) {
                if (f.is_string()) it.flags.push_back(f.get<std::string>());
            }
        }
        WARD_ASSIGN_OR_RETURN(it.status, parse_review_status(st.column_text(12)));
        it.reviewer = st.column_text(13);
        it.decided = st.column_text(14);
        it.reason = st.column_text(15);
        if (with_text) {
            WARD_ASSIGN_OR_RETURN(it.input, open(it.id, "input", st.column_blob(10)));
            WARD_ASSIGN_OR_RETURN(it.output, open(it.id, "output", st.column_blob(11)));
            if (!st.column_is_null(16)) {
                WARD_ASSIGN_OR_RETURN(std::string edited,
                                      open(it.id, "edited output", st.column_blob(16)));
                it.edited_output = std::move(edited);
            }
        }
        return it;
    }

    Result<ReviewItem> get_locked(const std::string& id) const {
        WARD_ASSIGN_OR_RETURN(
            Statement st, db.prepare(fmt::format("SELECT {} FROM reviews WHERE id = ?", kColumns)));
        st.bind(1, id);
        WARD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return not_found("review {} does not exist", id);
        return read(st, true);
    }
};

ReviewQueue::ReviewQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReviewQueue::~ReviewQueue() = default;

Result<std::unique_ptr<ReviewQueue>> ReviewQueue::open(const std::string& path,
                                                       std::span<const uint8_t> secret) {
    if (secret.size() < 16) {
        return invalid_argument("review queue: the secret is {} bytes, at least 16 are needed",
                                secret.size());
    }
    auto impl = std::make_unique<Impl>();
    WARD_ASSIGN_OR_RETURN(impl->db, Database::open(path));
    // A file holding other tables is not a review queue.
    {
        WARD_ASSIGN_OR_RETURN(Statement st,
                              impl->db.prepare("SELECT name FROM sqlite_master WHERE type = "
                                               "'table' AND name NOT IN ('review_meta', "
                                               "'reviews') AND name NOT LIKE 'sqlite_%' LIMIT 1"));
        WARD_ASSIGN_OR_RETURN(bool other, st.step());
        if (other) {
            return invalid_argument("{} is not a review queue (it holds table \"{}\")", path,
                                    st.column_text(0));
        }
    }
    WARD_TRY(impl->db.exec(kSchema));
    {
        WARD_ASSIGN_OR_RETURN(
            Statement st, impl->db.prepare("SELECT value FROM review_meta WHERE key = 'schema'"));
        WARD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) {
            WARD_ASSIGN_OR_RETURN(Statement ins,
                                  impl->db.prepare("INSERT INTO review_meta VALUES ('schema', ?)"));
            ins.bind(1, std::to_string(kSchemaVersion));
            WARD_TRY(ins.run());
        } else if (st.column_text(0) != std::to_string(kSchemaVersion)) {
            return invalid_argument("{}: review queue schema {} is not {} (a newer Ward made it?)",
                                    path, st.column_text(0), kSchemaVersion);
        }
    }
    impl->key = crypto::hmac_sha256(secret, kKeyLabel);
    return std::unique_ptr<ReviewQueue>(new ReviewQueue(std::move(impl)));
}

Result<ReviewItem> ReviewQueue::enqueue(ReviewItem item) {
    item.id = "rv_" + crypto::to_hex(crypto::random_bytes(8));
    item.created = utc_now();
    item.status = ReviewStatus::kPending;
    item.reviewer.clear();
    item.decided.clear();
    item.reason.clear();
    item.edited_output.reset();
    std::lock_guard lock(impl_->mu);
    WARD_ASSIGN_OR_RETURN(
        Statement st,
        impl_->db.prepare("INSERT INTO reviews (id, created, task, route, request_id, "
                          "principal_id, patient_key_hash, model, knowledge_version, flags, "
                          "input, output, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    st.bind(1, item.id);
    st.bind(2, item.created);
    st.bind(3, item.task);
    st.bind(4, item.route);
    st.bind(5, item.request_id);
    st.bind(6, item.principal_id);
    st.bind(7, item.patient_key_hash);
    st.bind(8, item.model);
    st.bind(9, item.knowledge_version);
    st.bind(10, json(item.flags).dump());
    st.bind_blob(11, impl_->seal(item.id, "input", item.input));
    st.bind_blob(12, impl_->seal(item.id, "output", item.output));
    st.bind(13, review_status_name(item.status));
    WARD_TRY(st.run());
    return item;
}

Result<std::vector<ReviewItem>> ReviewQueue::list(std::optional<ReviewStatus> status, int limit,
                                                  bool with_text) const {
    if (limit < 1 || limit > 1000) {
        return invalid_argument("limit: {} is outside [1, 1000]", limit);
    }
    std::lock_guard lock(impl_->mu);
    std::string sql = fmt::format("SELECT {} FROM reviews{} ORDER BY created DESC, id LIMIT ?",
                                  kColumns, status ? " WHERE status = ?" : "");
    WARD_ASSIGN_OR_RETURN(Statement st, impl_->db.prepare(sql));
    int i = 1;
    if (status) st.bind(i++, review_status_name(*status));
    st.bind(i, static_cast<int64_t>(limit));
    std::vector<ReviewItem> out;
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) break;
        WARD_ASSIGN_OR_RETURN(ReviewItem it, impl_->read(st, with_text));
        out.push_back(std::move(it));
    }
    return out;
}

Result<ReviewItem> ReviewQueue::get(const std::string& id) const {
    std::lock_guard lock(impl_->mu);
    return impl_->get_locked(id);
}

Result<ReviewItem> ReviewQueue::decide(const std::string& id, const ReviewDecision& d) {
    if (d.status == ReviewStatus::kPending) {
        return invalid_argument("decision: expected approve, edit or reject");
    }
    if (d.status != ReviewStatus::kApproved && d.reason.empty()) {
        return invalid_argument("reason: required to {}",
                                d.status == ReviewStatus::kEdited ? "edit" : "reject");
    }
    if (d.status == ReviewStatus::kEdited && (!d.edited_output || d.edited_output->empty())) {
        return invalid_argument("text: the edited output is required to edit");
    }
    if (d.status != ReviewStatus::kEdited && d.edited_output) {
        return invalid_argument("text: only an edit carries text");
    }
    if (d.reviewer.empty()) return invalid_argument("reviewer: required");
    std::lock_guard lock(impl_->mu);
    WARD_ASSIGN_OR_RETURN(ReviewItem item, impl_->get_locked(id));
    if (item.status != ReviewStatus::kPending) {
        return failed_precondition("review {} was already {} by {} at {}", id,
                                   review_status_name(item.status), item.reviewer, item.decided);
    }
    item.status = d.status;
    item.reviewer = d.reviewer;
    item.decided = utc_now();
    item.reason = d.reason;
    item.edited_output = d.edited_output;
    WARD_ASSIGN_OR_RETURN(Statement st,
                          impl_->db.prepare("UPDATE reviews SET status = ?, reviewer = ?, "
                                            "decided = ?, reason = ?, edited = ? WHERE id = ? "
                                            "AND status = 'pending'"));
    st.bind(1, review_status_name(item.status));
    st.bind(2, item.reviewer);
    st.bind(3, item.decided);
    st.bind(4, item.reason);
    if (item.edited_output) {
        st.bind_blob(5, impl_->seal(id, "edited output", *item.edited_output));
    } else {
        st.bind_null(5);
    }
    st.bind(6, id);
    WARD_TRY(st.run());
    return item;
}

Result<int64_t> ReviewQueue::pending() const {
    std::lock_guard lock(impl_->mu);
    WARD_ASSIGN_OR_RETURN(
        Statement st, impl_->db.prepare("SELECT count(*) FROM reviews WHERE status = 'pending'"));
    WARD_ASSIGN_OR_RETURN(bool row, st.step());
    return row ? st.column_int(0) : 0;
}

std::string feedback_json(const ReviewItem& item) {
    json j = {{"id", item.id},
              {"task", item.task},
              {"model", item.model},
              {"knowledge_version", item.knowledge_version},
              {"flags", item.flags},
              {"status", review_status_name(item.status)},
              {"reason", item.reason},
              {"input", item.input},
              {"output", item.output},
              {"edited_output", item.edited_output ? json(*item.edited_output) : json(nullptr)},
              {"decided", item.decided}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ward::safety
