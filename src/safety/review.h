// The human review queue: outputs that a rail or a citation check flagged (or every output of a
// task configured for review) wait here for a clinician to approve, edit or reject them, with a
// reason. Decisions are kept next to the item and can be exported as feedback data (JSON lines)
// for evaluation and fine-tuning.
//
// At rest: the question/input and the output are PHI-bearing text, so both (and an edited
// output) are sealed with XChaCha20-Poly1305 under a key derived from the deployment secret,
// bound to the item id (a row copied onto another id does not open). Metadata (task, route,
// flags, status, who decided, when) is plain, so the queue can be listed without opening
// anything.
//
// Thread safety: a ReviewQueue may be used from any number of threads (one SQLite connection
// behind a mutex; reviews are rare next to requests).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace ward::safety {

enum class ReviewStatus { kPending, kApproved, kEdited, kRejected };
std::string_view review_status_name(ReviewStatus status);  // "pending", "approved", ...
// Errors: kInvalidArgument naming the accepted values.
Result<ReviewStatus> parse_review_status(std::string_view name);

struct ReviewItem {
    std::string id;       // "rv_" + 16 hex digits, assigned by enqueue()
    std::string created;  // ISO 8601 UTC, assigned by enqueue()
    std::string task;     // "ask", "chat", "summary", ...
    std::string route;    // "POST /v1/ask"
    std::string request_id;
    std::string principal_id;      // who made the request
    std::string patient_key_hash;  // or empty
    std::string model;
    std::string knowledge_version;   // or empty
    std::vector<std::string> flags;  // why it is here: "citation_missing_passage", "dose", ...
    std::string input;               // the question or prompt (sealed at rest)
    std::string output;              // the output as the requester saw it (sealed at rest)
    // Set by decide():
    ReviewStatus status = ReviewStatus::kPending;
    std::string reviewer;  // principal id of the reviewer
    std::string decided;   // ISO 8601 UTC
    std::string reason;
    std::optional<std::string> edited_output;  // kEdited only (sealed at rest)
};

struct ReviewDecision {
    ReviewStatus status = ReviewStatus::kApproved;  // kApproved, kEdited or kRejected
    std::string reviewer;
    std::string reason;                        // required for kEdited and kRejected
    std::optional<std::string> edited_output;  // required for kEdited, refused otherwise
};

class ReviewQueue {
  public:
    // Opens or creates the queue at `path`. `secret` is the deployment secret (at least 16
    // bytes); the sealing key is derived from it. Errors: kInvalidArgument for a short secret
    // or a file that is not a review queue; SQLite's own.
    static Result<std::unique_ptr<ReviewQueue>> open(const std::string& path,
                                                     std::span<const uint8_t> secret);
    ~ReviewQueue();

    // Stores a new pending item; returns it with id and created filled in.
    Result<ReviewItem> enqueue(ReviewItem item);
    // Items by status (all when nullopt), newest first, at most `limit` (1..1000), without
    // their texts unless `with_text` (then each is opened; kDataLoss when one fails to).
    Result<std::vector<ReviewItem>> list(std::optional<ReviewStatus> status, int limit,
                                         bool with_text) const;
    // One item with its texts. kNotFound for an unknown id; kDataLoss when it does not open.
    Result<ReviewItem> get(const std::string& id) const;
    // Records a decision on a pending item. Errors: kNotFound; kFailedPrecondition when it was
    // already decided (decisions are final: the first one stands); kInvalidArgument for a
    // decision of status pending, a missing reason or edited text, or edited text with another
    // status.
    Result<ReviewItem> decide(const std::string& id, const ReviewDecision& decision);
    // Pending items.
    Result<int64_t> pending() const;

  private:
    struct Impl;
    explicit ReviewQueue(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The feedback record of a decided item, one JSON object: id, task, model, knowledge_version,
// flags, status, reason, input, output, edited_output (null unless edited), decided.
std::string feedback_json(const ReviewItem& item);

}  // namespace ward::safety
