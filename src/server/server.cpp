#include "server/server.h"

#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "assist/ask.h"
#include "assist/knowledge_embedding.h"
#include "assist/summary.h"
#include "audit/audit.h"
#include "common/civil_date.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/mapped_file.h"
#include "deid/deid.h"
#include "interop/context.h"
#include "interop/ingest.h"
#include "interop/mllp.h"
#include "interop/store.h"
#include "knowledge/report.h"
#include "knowledge/store.h"
#include "llm/registry.h"
#include "safety/pipeline.h"
#include "safety/review.h"
#include "server/cds_hooks.h"
#include "server/json_body.h"
#include "server/jwt.h"
#include "server/keys.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/policy.h"

namespace ward::server {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxQuestionBytes = 16 * 1024;  // /v1/ask question, /v1/knowledge/search query
constexpr size_t kMaxEmbeddingInputs = 256;      // strings per /v1/embeddings request
constexpr size_t kEmbedBatch = 32;               // chunks per background embedding step

// Who may call a route. kPublic routes carry no PHI (probes, metrics, CDS discovery).
enum RoleBits : uint8_t {
    kClinician = 1,
    kResearcher = 2,
    kService = 4,
    kAdmin = 8,
    kAnyRole = 15,
};

uint8_t role_bit(Role role) {
    switch (role) {
        case Role::kClinician:
            return kClinician;
        case Role::kResearcher:
            return kResearcher;
        case Role::kService:
            return kService;
        case Role::kAdmin:
            return kAdmin;
    }
    return 0;
}

// Roles that may see PHI (re-identified output, raw patient context).
bool sees_phi(Role role) {
    return role == Role::kClinician || role == Role::kService;
}

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string today_utc() {
    return utc_now(kIsoDate);
}

std::string ack_time_now() {
    return utc_now(kHl7Timestamp);
}

void reply_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(dump_json(body), "application/json");
}

void reply_error(httplib::Response& res, const Status& status) {
    openai::ApiError e = openai::error_from_status(status);
    reply_json(res, e.http_status, openai::error_body(e));
}

// One SQLite connection per concurrent user of the patient store (a PatientStore is for one
// thread at a time).
class StorePool {
  public:
    explicit StorePool(std::string path) : path_(std::move(path)) {}
    struct Lease {
        StorePool* pool = nullptr;
        std::unique_ptr<interop::PatientStore> store;
        Lease() = default;
        Lease(Lease&& o) noexcept : pool(o.pool), store(std::move(o.store)) { o.pool = nullptr; }
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (pool && store) pool->give_back(std::move(store));
        }
        interop::PatientStore* operator->() { return store.get(); }
    };
    Result<Lease> acquire() {
        Lease lease;
        lease.pool = this;
        {
            std::lock_guard lock(mu_);
            if (!free_.empty()) {
                lease.store = std::move(free_.back());
                free_.pop_back();
                return lease;
            }
        }
        WARD_ASSIGN_OR_RETURN(auto store, interop::PatientStore::open(path_));
        lease.store = std::make_unique<interop::PatientStore>(std::move(store));
        return lease;
    }

  private:
    void give_back(std::unique_ptr<interop::PatientStore> store) {
        std::lock_guard lock(mu_);
        if (free_.size() < 16) free_.push_back(std::move(store));
    }
    std::string path_;
    std::mutex mu_;
    std::vector<std::unique_ptr<interop::PatientStore>> free_;
};

// Per-model admission: slots plus queue depth; beyond that, 429.
struct Admission {
    std::atomic<int> in_flight{0};
    int limit = 1;
};

class Ticket {
  public:
    Ticket() = default;
    explicit Ticket(Admission* a) : a_(a) {}
    Ticket(Ticket&& o) noexcept : a_(std::exchange(o.a_, nullptr)) {}
    Ticket& operator=(Ticket&& o) noexcept {
        release();
        a_ = std::exchange(o.a_, nullptr);
        return *this;
    }
    ~Ticket() { release(); }
    void release() {
        if (a_) a_->in_flight.fetch_sub(1);
        a_ = nullptr;
    }

  private:
    Admission* a_ = nullptr;
};

// One request in flight: what the audit record and the metrics need at the end. Shared with a
// streaming content provider, which finishes it when the stream ends.
struct Call {
    std::string route;  // "POST /v1/patients/{id}/context"
    std::string metric_route;
    std::string request_id;
    Clock::time_point start = Clock::now();
    std::optional<Principal> principal;
    audit::AuditRecord record;
    bool audited = true;
    bool deferred = false;  // a streamed response finishes the call itself
    bool finished = false;
};

std::string sha256_of(std::string_view text) {
    return crypto::sha256_hex(text);
}

// The audit record's model fields: a local model's file SHA-256; a remote model has none (its
// upstream identity is written into the model name instead).
void set_audit_model(audit::AuditRecord& record, const llm::ModelInfo& info) {
    const bool hex64 = info.file_sha256.size() == 64 &&
                       std::all_of(info.file_sha256.begin(), info.file_sha256.end(), [](char c) {
                           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                       });
    record.model =
        hex64 || info.file_sha256.empty() ? info.name : info.name + " " + info.file_sha256;
    record.model_sha256 = hex64 ? info.file_sha256 : std::string();
}

// What the record states about who the patient is: replaced by placeholders before any
// de-identification, so that a name the detector does not know still never leaves.
void add_patient_identifiers(PrivacyScope& scope, const interop::PatientRecord& record) {
    const interop::Demographics& d = record.demographics;
    scope.add_known(d.display_name(), "[PATIENT NAME]");
    scope.add_known(d.family_name, "[PATIENT FAMILY NAME]");
    for (size_t i = 0; i < d.given_names.size(); ++i) {
        scope.add_known(d.given_names[i], i == 0 ? std::string("[PATIENT GIVEN NAME]")
                                                 : fmt::format("[PATIENT GIVEN NAME {}]", i + 1));
    }
    scope.add_known(record.id, "[PATIENT ID]");
    for (size_t i = 0; i < d.identifiers.size(); ++i) {
        scope.add_known(d.identifiers[i].value, fmt::format("[PATIENT IDENTIFIER {}]", i + 1));
    }
}

}  // namespace

struct Server::Impl {
    ServerSettings settings;
    std::unique_ptr<llm::Registry> registry;
    std::unique_ptr<deid::Deidentifier> deid;
    std::vector<uint8_t> secret;
    std::unique_ptr<KeyStore> keys;
    std::unique_ptr<audit::AuditLog> audit;
    std::unique_ptr<JwtVerifier> jwt;
    std::unique_ptr<StorePool> patients;
    std::map<const llm::Backend*, std::unique_ptr<Admission>> admission;
    Metrics metrics;
    PrivacyStats privacy;
    CdsServiceConfig cds;
    std::unique_ptr<interop::MllpServer> mllp;
    std::shared_ptr<knowledge::Store> knowledge;
    std::unique_ptr<safety::ReviewQueue> reviews;
    std::unique_ptr<safety::Pipeline> rails;  // the safety rails of every task
    llm::Backend* embedder = nullptr;         // knowledge.embedding_model, or null

    // Embeds knowledge chunks that have no vector of the embedding model yet, so that a
    // version added with `ward kb add` joins dense retrieval without a restart.
    std::thread embed_thread;
    std::mutex embed_mu;
    std::condition_variable embed_cv;
    bool embed_stop = false;
    void embed_loop();

    httplib::Server http;
    std::thread http_thread;
    int bound_port = 0;
    std::atomic<bool> draining{false};
    std::atomic<bool> stopped{false};

    std::mutex cancel_mu;
    std::set<std::shared_ptr<std::atomic<bool>>> cancel_flags;

    using Handler = Status (Impl::*)(const httplib::Request&, httplib::Response&,
                                     std::shared_ptr<Call>);
    struct Route {
        const char* method;
        const char* pattern;  // httplib regex
        const char* name;     // for metrics and audit
        uint8_t roles;        // 0: public
        bool cds;             // CDS Hooks authentication (JWT or key, per config)
        bool audited;
        Handler handler;
    };
    static const std::vector<Route>& routes();

    void install_routes();
    void handle(const Route& route, const httplib::Request& req, httplib::Response& res);
    Result<Principal> authenticate(const Route& route, const httplib::Request& req);
    void finish(Call& call, int status);

    Result<llm::Backend*> find_model(const std::string& name);
    Result<Ticket> admit(llm::Backend* backend);
    std::shared_ptr<std::atomic<bool>> new_cancel_flag();
    void drop_cancel_flag(const std::shared_ptr<std::atomic<bool>>& flag);
    std::string patient_key_hash(std::string_view patient_id) const;
    void note_generation(const llm::Generation& g);

    // Handlers.
    Status models(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status model(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status chat(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status completions(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status generate_openai(openai::Endpoint, const httplib::Request&, httplib::Response&,
                           std::shared_ptr<Call>);
    Status deidentify(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status ingest(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status list_patients(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status patient_context(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status patient_summary(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status ask(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status embeddings(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status knowledge_info(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status knowledge_search(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status list_reviews(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status export_reviews(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status get_review(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status decide_review(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    // Records a rail outcome in the audit record ("rail_crisis", ...) and returns its JSON.
    json note_rails(Call& call, safety::Stage stage, const safety::Outcome& outcome);
    // Queues an output for human review when it was flagged or its task is configured for
    // review; returns the "review" member of the response (null when not queued).
    json queue_review(Call& call, std::string_view task, const std::vector<std::string>& flags,
                      const std::string& input, const std::string& output);
    // The "knowledge_version" field: 0 or absent for the current version, else one that can
    // still be queried.
    Result<std::optional<int64_t>> requested_version(const json& body);
    Status cds_discovery(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status cds_service(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status cds_feedback(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status healthz(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status readyz(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);
    Status metrics_text(const httplib::Request&, httplib::Response&, std::shared_ptr<Call>);

    // Shared by the summary route and the CDS service.
    struct SummaryCall {
        llm::Backend* backend = nullptr;
        std::optional<std::string> model;
        interop::Profile profile = interop::Profile::kGeneral;
        size_t budget = 0;
        int max_tokens = 400;
        std::string reference_date;
    };
    Result<assist::Summary> run_summary(const interop::PatientRecord& record, const SummaryCall& sc,
                                        const Principal& principal, Call& call);
};

// Every route of the server, in one place (docs/api.md documents each).
const std::vector<Server::Impl::Route>& Server::Impl::routes() {
    static const std::vector<Route> table = {
        // OpenAI-compatible.
        {"GET", "/v1/models", "/v1/models", kAnyRole, false, true, &Impl::models},
        {"GET", R"(/v1/models/([^/]+))", "/v1/models/{id}", kAnyRole, false, true, &Impl::model},
        {"POST", "/v1/chat/completions", "/v1/chat/completions",
         kClinician | kResearcher | kService, false, true, &Impl::chat},
        {"POST", "/v1/completions", "/v1/completions", kClinician | kResearcher | kService, false,
         true, &Impl::completions},
        {"POST", "/v1/embeddings", "/v1/embeddings", kClinician | kResearcher | kService, false,
         true, &Impl::embeddings},
        // Knowledge: grounded answers with citations.
        {"POST", "/v1/ask", "/v1/ask", kClinician | kResearcher | kService, false, true,
         &Impl::ask},
        {"GET", "/v1/knowledge", "/v1/knowledge", kAnyRole, false, true, &Impl::knowledge_info},
        {"POST", "/v1/knowledge/search", "/v1/knowledge/search", kAnyRole, false, true,
         &Impl::knowledge_search},
        // Human review of flagged outputs (they hold PHI: clinicians only).
        {"GET", "/v1/reviews", "/v1/reviews", kClinician, false, true, &Impl::list_reviews},
        {"GET", "/v1/reviews/export", "/v1/reviews/export", kClinician, false, true,
         &Impl::export_reviews},
        {"GET", R"(/v1/reviews/(rv_[0-9a-f]+))", "/v1/reviews/{id}", kClinician, false, true,
         &Impl::get_review},
        {"POST", R"(/v1/reviews/(rv_[0-9a-f]+))", "/v1/reviews/{id}", kClinician, false, true,
         &Impl::decide_review},
        // De-identification.
        {"POST", "/v1/deid", "/v1/deid", kAnyRole, false, true, &Impl::deidentify},
        // Patients.
        {"POST", "/v1/patients", "/v1/patients", kClinician | kService | kAdmin, false, true,
         &Impl::ingest},
        {"GET", "/v1/patients", "/v1/patients", kClinician | kService, false, true,
         &Impl::list_patients},
        {"GET", R"(/v1/patients/([^/]+)/context)", "/v1/patients/{id}/context",
         kClinician | kResearcher | kService, false, true, &Impl::patient_context},
        {"POST", R"(/v1/patients/([^/]+)/summary)", "/v1/patients/{id}/summary",
         kClinician | kResearcher | kService, false, true, &Impl::patient_summary},
        // CDS Hooks 2.0.
        {"GET", "/cds-services", "/cds-services", 0, false, true, &Impl::cds_discovery},
        {"POST", R"(/cds-services/([^/]+)/feedback)", "/cds-services/{id}/feedback",
         kService | kClinician, true, true, &Impl::cds_feedback},
        {"POST", R"(/cds-services/([^/]+))", "/cds-services/{id}", kService | kClinician, true,
         true, &Impl::cds_service},
        // Operations.
        {"GET", "/healthz", "/healthz", 0, false, false, &Impl::healthz},
        {"GET", "/readyz", "/readyz", 0, false, false, &Impl::readyz},
        {"GET", "/metrics", "/metrics", 0, false, false, &Impl::metrics_text},
    };
    return table;
}

void Server::Impl::install_routes() {
    for (const Route& route : routes()) {
        auto fn = [this, &route](const httplib::Request& req, httplib::Response& res) {
            handle(route, req, res);
        };
        if (std::string_view(route.method) == "GET") {
            http.Get(route.pattern, fn);
        } else {
            http.Post(route.pattern, fn);
        }
    }
    // Errors httplib answers itself (unknown route, body too large, malformed HTTP) get the same
    // JSON body as ours.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                       httplib::Response& res) {
        if (!res.body.empty() || res.is_chunked_content_provider_) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        Status s;
        switch (res.status) {
            case 404:
                s = not_found("no route {} {} (see docs/api.md)", req.method, req.path);
                break;
            case 413:
                s = invalid_argument("request body is larger than server.max_body_bytes ({} bytes)",
                                     settings.max_body_bytes);
                break;
            case 414:
                s = invalid_argument("request URI too long");
                break;
            default:
                s = invalid_argument("HTTP error {} for {} {}", res.status, req.method, req.path);
        }
        int status = res.status;
        reply_error(res, s);
        res.status = status;
        if (status != 404) metrics.count_refusal(status == 413 ? "body_too_large" : "bad_http");
        return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "unknown";
            try {
                std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            logger("server")->error("request failed with an exception: {}", what);
            reply_error(res, internal_error("internal error (logged)"));
        });
}

Result<Principal> Server::Impl::authenticate(const Route& route, const httplib::Request& req) {
    std::string header = req.get_header_value("Authorization");
    std::string_view h = header;
    if (h.empty()) {
        return unauthenticated("missing Authorization header (expected \"Bearer <API key>\")");
    }
    if (h.size() < 7 || !(h.substr(0, 7) == "Bearer " || h.substr(0, 7) == "bearer ")) {
        return unauthenticated("Authorization header must be \"Bearer <token>\"");
    }
    std::string_view token = h.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    const bool looks_jwt = std::count(token.begin(), token.end(), '.') == 2;
    if (route.cds && looks_jwt) {
        if (settings.cds_auth == "key") {
            return unauthenticated("CDS Hooks calls authenticate with an API key here");
        }
        if (!jwt) return unauthenticated("no CDS Hooks JWT issuers are configured");
        std::string audience = settings.cds_audience.empty()
                                   ? std::string(req.path)
                                   : settings.cds_audience + std::string(req.path);
        WARD_ASSIGN_OR_RETURN(JwtClaims claims, jwt->verify(token, audience, unix_now()));
        Principal p;
        p.id = claims.iss + "#" + claims.sub;
        p.name = claims.iss;
        p.role = Role::kService;
        return p;
    }
    if (route.cds && settings.cds_auth == "jwt") {
        return unauthenticated("CDS Hooks calls must carry a signed JWT here");
    }
    return keys->authenticate(token);
}

void Server::Impl::handle(const Route& route, const httplib::Request& req, httplib::Response& res) {
    auto call = std::make_shared<Call>();
    call->route = std::string(route.method) + " " + route.name;
    call->metric_route = route.name;
    call->audited = route.audited;
    call->request_id = crypto::to_hex(crypto::random_bytes(8));
    res.set_header("X-Request-Id", call->request_id);
    call->record.route = call->route;
    call->record.request_id = call->request_id;
    call->record.policy_version = settings.policy_version;

    Status status;
    if (route.roles != 0) {
        auto principal = authenticate(route, req);
        if (!principal.ok()) {
            metrics.count_refusal("auth");
            status = principal.status();
        } else if ((role_bit(principal->role) & route.roles) == 0) {
            metrics.count_refusal("role");
            status = permission_denied("role {} may not call {}", role_name(principal->role),
                                       call->route);
            call->principal = *principal;
        } else {
            call->principal = *principal;
        }
    }
    if (call->principal) {
        call->record.principal_id = call->principal->id;
        call->record.role = std::string(role_name(call->principal->role));
    }
    if (status.ok()) status = (this->*route.handler)(req, res, call);
    if (!status.ok()) {
        reply_error(res, status);
        if (status.code() == StatusCode::kResourceExhausted) res.set_header("Retry-After", "1");
        if (status.code() == StatusCode::kUnavailable && draining) {
            res.set_header("Retry-After", "5");
        }
        call->deferred = false;
    }
    if (!call->deferred) finish(*call, res.status);
}

void Server::Impl::finish(Call& call, int status) {
    if (call.finished) return;
    call.finished = true;
    const double seconds = std::chrono::duration<double>(Clock::now() - call.start).count();
    metrics.observe_request(call.metric_route, status, seconds);
    logger("server")->info("request {} {} status={} ms={:.1f} principal={}", call.request_id,
                           call.route, status, seconds * 1000,
                           call.principal ? call.principal->id : "-");
    if (!call.audited) return;
    call.record.http_status = status;
    call.record.latency_ms = static_cast<int64_t>(seconds * 1000);
    auto appended = audit->append(call.record);
    if (!appended.ok()) {
        // The response has gone; the failure is loud in the log and the metrics.
        logger("server")->error("audit append failed for request {}: {}", call.request_id,
                                appended.status().message());
        metrics.count_event("audit_append_failed");
    }
}

Result<llm::Backend*> Server::Impl::find_model(const std::string& name) {
    llm::Backend* b = name.empty() ? registry->default_backend() : registry->find(name);
    if (b) return b;
    if (name.empty()) {
        return invalid_argument(
            "model: required (no default model is configured; see GET /v1/models)");
    }
    return not_found("model \"{}\" does not exist (see GET /v1/models)", name);
}

Result<Ticket> Server::Impl::admit(llm::Backend* backend) {
    if (draining) {
        metrics.count_refusal("draining");
        return unavailable("the server is shutting down; retry on another node");
    }
    Admission& a = *admission.at(backend);
    int n = a.in_flight.fetch_add(1) + 1;
    Ticket ticket(&a);
    if (n > a.limit) {
        metrics.count_refusal("queue_full");
        return resource_exhausted(
            "model \"{}\" is at capacity ({} requests in flight or queued); retry later",
            backend->info().name, a.limit);
    }
    return ticket;
}

std::shared_ptr<std::atomic<bool>> Server::Impl::new_cancel_flag() {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard lock(cancel_mu);
    cancel_flags.insert(flag);
    return flag;
}

void Server::Impl::drop_cancel_flag(const std::shared_ptr<std::atomic<bool>>& flag) {
    std::lock_guard lock(cancel_mu);
    cancel_flags.erase(flag);
}

std::string Server::Impl::patient_key_hash(std::string_view patient_id) const {
    std::string msg = "ward-audit-patient:";
    msg += patient_id;
    auto mac = crypto::hmac_sha256(
        secret, std::span(reinterpret_cast<const uint8_t*>(msg.data()), msg.size()));
    return crypto::to_hex(mac);
}

void Server::Impl::note_generation(const llm::Generation& g) {
    metrics.observe_generation(g.model, g.usage.prompt_tokens, g.usage.cached_prompt_tokens,
                               g.usage.completion_tokens, g.prompt_seconds, g.generate_seconds);
}

// ---- OpenAI-compatible -------------------------------------------------------------------

json model_json(const llm::ModelInfo& info) {
    return json{{"id", info.name},
                {"object", "model"},
                {"created", info.created},
                {"owned_by", "ward"},
                {"ward",
                 {{"backend", info.backend},
                  {"sha256", info.file_sha256},
                  {"description", info.description},
                  {"context_length", info.context_length}}}};
}

Status Server::Impl::models(const httplib::Request&, httplib::Response& res,
                            std::shared_ptr<Call>) {
    json data = json::array();
    for (llm::Backend* b : registry->all()) data.push_back(model_json(b->info()));
    reply_json(res, 200, json{{"object", "list"}, {"data", std::move(data)}});
    return ok_status();
}

Status Server::Impl::model(const httplib::Request& req, httplib::Response& res,
                           std::shared_ptr<Call>) {
    llm::Backend* b = registry->find(req.matches[1].str());
    if (!b) return not_found("model \"{}\" does not exist", req.matches[1].str());
    reply_json(res, 200, model_json(b->info()));
    return ok_status();
}

Status Server::Impl::chat(const httplib::Request& req, httplib::Response& res,
                          std::shared_ptr<Call> call) {
    return generate_openai(openai::Endpoint::kChat, req, res, std::move(call));
}

Status Server::Impl::completions(const httplib::Request& req, httplib::Response& res,
                                 std::shared_ptr<Call> call) {
    return generate_openai(openai::Endpoint::kCompletion, req, res, std::move(call));
}

namespace {

// A prompt longer than the context is the caller's error (400), not a full queue.
Status as_request_error(Status s) {
    if (s.code() == StatusCode::kResourceExhausted) {
        return Status(StatusCode::kInvalidArgument, "messages: " + s.message());
    }
    return s;
}

std::string prompt_digest(const llm::Request& r) {
    json j;
    if (r.prompt) {
        j["prompt"] = *r.prompt;
    } else {
        json msgs = json::array();
        for (const auto& m : r.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
        j["messages"] = std::move(msgs);
    }
    return sha256_of(dump_json(j));
}

// What a streamed generation shares between the handler and httplib's content provider.
struct StreamState {
    openai::ParsedRequest parsed;
    std::unique_ptr<llm::Backend> fixed;  // the code-written reply of a blocked request
    std::unique_ptr<PolicyBackend> policy;
    Ticket ticket;
    std::shared_ptr<std::atomic<bool>> cancelled;
    std::shared_ptr<Call> call;
    std::string user_text;
    std::string id;
    int64_t created = 0;
    bool started = false;
};

}  // namespace

Status Server::Impl::generate_openai(openai::Endpoint endpoint, const httplib::Request& req,
                                     httplib::Response& res, std::shared_ptr<Call> call) {
    WARD_ASSIGN_OR_RETURN(openai::ParsedRequest parsed, openai::parse_request(endpoint, req.body));
    WARD_ASSIGN_OR_RETURN(llm::Backend * backend, find_model(parsed.request.model));
    parsed.request.model = backend->info().name;
    set_audit_model(call->record, backend->info());
    call->record.prompt_sha256 = prompt_digest(parsed.request);

    // Input rails on what the user wrote last: a crisis or an out-of-scope request is answered
    // by code, in the response shape the client asked for, and the model does not run.
    std::string user_text;
    if (parsed.request.prompt) {
        user_text = *parsed.request.prompt;
    } else {
        for (auto it = parsed.request.messages.rbegin(); it != parsed.request.messages.rend();
             ++it) {
            if (it->role == "user") {
                user_text = it->content;
                break;
            }
        }
    }
    WARD_ASSIGN_OR_RETURN(safety::Outcome input_outcome, rails->run_input("chat", user_text));
    json input_rails = note_rails(*call, safety::Stage::kInput, input_outcome);
    if (input_outcome.action != safety::Action::kPass) {
        res.set_header("X-Ward-Safety",
                       fmt::format("{} {}", safety::action_name(input_outcome.action),
                                   fmt::join(input_outcome.flags, ",")));
    }
    if (input_outcome.review) {
        (void)queue_review(
            *call, "chat", input_outcome.flags, user_text,
            input_outcome.action == safety::Action::kBlock ? input_outcome.reply : std::string());
    }
    std::unique_ptr<llm::Backend> fixed;
    if (input_outcome.action == safety::Action::kBlock) {
        fixed = std::make_unique<FixedReplyBackend>(backend->info(), input_outcome.reply);
    }
    const bool remote = backend->info().backend == "remote";
    auto policy = fixed
                      ? std::make_unique<PolicyBackend>(*fixed, *deid, PrivacyDecision{}, &privacy)
                      : std::make_unique<PolicyBackend>(
                            *backend, *deid,
                            decide_privacy(remote, sees_phi(call->principal->role)), &privacy);
    if (policy->decision().deidentify_input) call->record.safety_flags.push_back("deidentified");
    WARD_TRY(as_request_error(policy->check(parsed.request)));
    WARD_ASSIGN_OR_RETURN(Ticket ticket, admit(backend));

    auto cancelled = new_cancel_flag();
    parsed.request.cancelled = cancelled.get();
    parsed.request.deadline =
        Clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(settings.request_timeout_s * 1000));
    const std::string id = openai::new_response_id(endpoint);
    const int64_t created = unix_now();

    if (!parsed.stream) {
        auto g = policy->generate(parsed.request, {});
        drop_cancel_flag(cancelled);
        if (!g.ok()) return as_request_error(g.status());
        if (!fixed) note_generation(*g);
        if (g->finish == llm::Finish::kCancelled && Clock::now() >= parsed.request.deadline) {
            return deadline_exceeded("the request's deadline of {} s passed after {} tokens",
                                     settings.request_timeout_s, g->usage.completion_tokens);
        }
        json body_rails = {{"input", std::move(input_rails)}};
        if (!fixed) {
            // Output rails: a PHI leak to a de-identified role is redacted; a dose above the
            // maximum is flagged for review.
            WARD_ASSIGN_OR_RETURN(
                safety::Outcome out,
                rails->run_output("chat", g->text, sees_phi(call->principal->role)));
            body_rails["output"] = note_rails(*call, safety::Stage::kOutput, out);
            if (out.action == safety::Action::kModify) g->text = out.text;
            if (out.review) (void)queue_review(*call, "chat", out.flags, user_text, g->text);
        }
        call->record.output_sha256 = sha256_of(g->text);
        json response = openai::response_body(parsed, *g, id, created);
        response["ward_safety"] = std::move(body_rails);
        reply_json(res, 200, response);
        return ok_status();
    }

    auto state = std::make_shared<StreamState>();
    state->parsed = std::move(parsed);
    state->fixed = std::move(fixed);
    state->user_text = std::move(user_text);
    state->policy = std::move(policy);
    state->ticket = std::move(ticket);
    state->cancelled = cancelled;
    state->call = call;
    state->id = id;
    state->created = created;
    call->deferred = true;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, state](size_t, httplib::DataSink& sink) {
            if (state->started) {
                sink.done();
                return true;
            }
            state->started = true;
            const auto& p = state->parsed;
            const std::string& model = p.request.model;
            bool first = true;
            bool client_gone = false;
            auto write = [&](const std::string& text) {
                if (client_gone) return false;
                if (!sink.write(text.data(), text.size())) client_gone = true;
                return !client_gone;
            };
            auto on_piece = [&](const llm::Piece& piece) {
                bool ok = write(openai::sse_event(
                    openai::chunk_body(p, piece, first, model, state->id, state->created)));
                first = false;
                return ok;
            };
            auto g = state->policy->generate(p.request, on_piece);
            drop_cancel_flag(state->cancelled);
            int status = 200;
            if (!g.ok()) {
                // The stream has started: the error travels as an event, as OpenAI does.
                openai::ApiError e = openai::error_from_status(as_request_error(g.status()));
                write(openai::sse_event(openai::error_body(e)));
                status = e.http_status;
            } else {
                if (!state->fixed) {
                    note_generation(*g);
                    // A streamed answer has gone out: output rails can only flag it.
                    auto out =
                        rails->run_output("chat", g->text, sees_phi(state->call->principal->role));
                    if (out.ok()) {
                        note_rails(*state->call, safety::Stage::kOutput, *out);
                        if (out->action != safety::Action::kPass || out->review) {
                            (void)queue_review(*state->call, "chat", out->flags, state->user_text,
                                               g->text);
                        }
                    }
                }
                state->call->record.output_sha256 = sha256_of(g->text);
                if (first) {
                    on_piece(llm::Piece{});  // the role chunk, even for an empty answer
                }
                write(openai::sse_event(
                    openai::final_chunk_body(p, g->finish, model, state->id, state->created)));
                if (p.include_usage) {
                    write(openai::sse_event(
                        openai::usage_chunk_body(p, g->usage, model, state->id, state->created)));
                }
                if (client_gone) {
                    state->call->record.safety_flags.push_back("client_disconnected");
                    status = 499;  // nginx's "client closed request", for the audit and metrics
                }
            }
            write(std::string(openai::kSseDone));
            state->ticket.release();
            finish(*state->call, status);
            sink.done();
            return true;
        },
        [this, state](bool) {
            // Also runs when the connection failed before the provider was called.
            state->ticket.release();
            drop_cancel_flag(state->cancelled);
            if (!state->call->finished) finish(*state->call, 499);
        });
    return ok_status();
}

// ---- De-identification -------------------------------------------------------------------

Status Server::Impl::deidentify(const httplib::Request& req, httplib::Response& res,
                                std::shared_ptr<Call> call) {
    WARD_ASSIGN_OR_RETURN(json body, parse_json_body(req.body));
    if (!body.is_object()) return invalid_argument("body: expected a JSON object");
    auto text = body.find("text");
    if (text == body.end() || !text->is_string()) return invalid_argument("text: required string");
    std::string mode_name = "surrogate";
    if (auto m = body.find("mode"); m != body.end()) {
        if (!m->is_string()) return invalid_argument("mode: expected a string");
        mode_name = m->get<std::string>();
    }
    std::string patient_key;
    if (auto k = body.find("patient_key"); k != body.end() && !k->is_null()) {
        if (!k->is_string()) return invalid_argument("patient_key: expected a string");
        patient_key = k->get<std::string>();
    }
    const std::string& input = text->get_ref<const std::string&>();
    call->record.prompt_sha256 = sha256_of(input);
    if (!patient_key.empty()) call->record.patient_key_hash = patient_key_hash(patient_key);

    auto span_json = [&](const std::vector<deid::Span>& spans) {
        json out = json::array();
        for (const auto& s : spans) {
            out.push_back({{"start", s.start},
                           {"end", s.end},
                           {"category", deid::category_name(s.category)},
                           {"confidence", s.confidence}});
        }
        return out;
    };
    if (mode_name == "spans") {
        WARD_ASSIGN_OR_RETURN(auto spans, deid->detect(input));
        reply_json(res, 200, json{{"spans", span_json(spans)}});
        return ok_status();
    }
    auto mode = deid::parse_mode(mode_name);
    if (!mode.ok()) return invalid_argument("mode: {} (or \"spans\")", mode.status().message());
    WARD_ASSIGN_OR_RETURN(auto result, deid->deidentify(input, *mode, patient_key));
    privacy.count_spans(result.spans);
    call->record.output_sha256 = sha256_of(result.text);
    reply_json(
        res, 200,
        json{{"text", result.text}, {"mode", mode_name}, {"spans", span_json(result.spans)}});
    return ok_status();
}

// ---- Patients ----------------------------------------------------------------------------

Status Server::Impl::ingest(const httplib::Request& req, httplib::Response& res,
                            std::shared_ptr<Call> call) {
    if (req.body.empty())
        return invalid_argument("body: empty (send a FHIR bundle or HL7 message)");
    call->record.prompt_sha256 = sha256_of(req.body);
    const std::string origin = "http:" + call->request_id;
    interop::ReadResult r =
        interop::read_clinical_data(req.body, origin, req.get_header_value("Content-Type"));
    json errors = json::array();
    for (const auto& e : r.report.errors) errors.push_back(e.to_string());
    json ids = json::array();
    for (const auto& p : r.patients) ids.push_back(p.id);
    if (r.patients.empty() && !r.report.errors.empty()) {
        return invalid_argument("body: nothing could be read: {}", r.report.errors[0].to_string());
    }
    if (r.patients.size() == 1) call->record.patient_key_hash = patient_key_hash(r.patients[0].id);
    json summary = {{"patients", ids},
                    {"resources", r.report.n_resources},
                    {"read", r.report.n_read},
                    {"kept_unread", r.report.n_unknown()},
                    {"errors", errors}};
    interop::IngestLogEntry entry{origin,
                                  sha256_of(req.body),
                                  r.report.n_resources,
                                  r.report.n_read,
                                  r.report.errors.size(),
                                  r.report.errors.empty() ? "" : r.report.errors[0].to_string()};
    WARD_ASSIGN_OR_RETURN(auto store, patients->acquire());
    WARD_TRY(store->put(std::move(r), origin));
    WARD_TRY(store->log_ingest(entry));
    // Stored, some of it with errors: 200 with the errors listed (nothing good was dropped).
    reply_json(res, 200, summary);
    return ok_status();
}

Status Server::Impl::list_patients(const httplib::Request&, httplib::Response& res,
                                   std::shared_ptr<Call>) {
    WARD_ASSIGN_OR_RETURN(auto store, patients->acquire());
    WARD_ASSIGN_OR_RETURN(auto list, store->list());
    json data = json::array();
    for (const auto& p : list) {
        data.push_back({{"id", p.id},
                        {"name", p.name},
                        {"gender", p.gender},
                        {"birth_date", p.birth_date},
                        {"items", p.n_items},
                        {"updated", p.updated}});
    }
    reply_json(res, 200, json{{"object", "list"}, {"data", std::move(data)}});
    return ok_status();
}

namespace {

json citations_json(const std::vector<interop::Citation>& citations, bool with_sources) {
    json out = json::array();
    for (const auto& c : citations) {
        json item = {{"id", c.id}, {"label", c.label}};
        if (with_sources) {
            json sources = json::array();
            for (const auto& s : c.sources) sources.push_back(s.to_string());
            item["sources"] = std::move(sources);
        }
        out.push_back(std::move(item));
    }
    return out;
}

Result<size_t> parse_size(const std::string& text, const char* param, size_t lo, size_t hi) {
    size_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi) {
        return invalid_argument("{}: expected an integer in [{}, {}], got \"{}\"", param, lo, hi,
                                text.substr(0, 40));
    }
    return v;
}

}  // namespace

Status Server::Impl::patient_context(const httplib::Request& req, httplib::Response& res,
                                     std::shared_ptr<Call> call) {
    const std::string id = req.matches[1].str();
    call->record.patient_key_hash = patient_key_hash(id);
    interop::ContextOptions o;
    WARD_ASSIGN_OR_RETURN(
        o.profile, interop::parse_profile(req.has_param("profile") ? req.get_param_value("profile")
                                                                   : settings.default_profile));
    llm::Backend* backend = nullptr;
    if (req.has_param("model")) {
        WARD_ASSIGN_OR_RETURN(backend, find_model(req.get_param_value("model")));
    } else {
        backend = registry->default_backend();
    }
    if (backend)
        o.count_tokens = [backend](std::string_view t) { return backend->count_tokens(t); };
    o.token_budget = settings.context_budget > 0 ? size_t(settings.context_budget) : 1500;
    if (req.has_param("budget")) {
        WARD_ASSIGN_OR_RETURN(o.token_budget,
                              parse_size(req.get_param_value("budget"), "budget", 16, 1 << 20));
    }
    WARD_ASSIGN_OR_RETURN(auto store, patients->acquire());
    WARD_ASSIGN_OR_RETURN(interop::PatientRecord record, store->get(id));
    o.reference_date =
        req.has_param("as_of") ? req.get_param_value("as_of") : assist::latest_record_date(record);
    if (o.reference_date.empty()) o.reference_date = today_utc();
    WARD_ASSIGN_OR_RETURN(interop::Context ctx, interop::build_context(record, o));
    const bool phi = sees_phi(call->principal->role);
    std::string text = ctx.text;
    if (!phi) {
        PrivacyScope scope(*deid, &privacy);
        add_patient_identifiers(scope, record);
        WARD_ASSIGN_OR_RETURN(text, scope.deidentify(text));
        call->record.safety_flags.push_back("deidentified");
    }
    call->record.output_sha256 = sha256_of(text);
    json body = {{"patient_id", phi ? json(record.id) : json(call->record.patient_key_hash)},
                 {"profile", interop::profile_name(o.profile)},
                 {"reference_date", o.reference_date},
                 {"budget", o.token_budget},
                 {"tokens", backend ? backend->count_tokens(text) : ctx.estimated_tokens},
                 {"text", text},
                 {"citations", citations_json(ctx.citations, phi)},
                 {"included", ctx.n_included},
                 {"omitted", ctx.n_omitted},
                 {"deidentified", !phi}};
    reply_json(res, 200, body);
    return ok_status();
}

Result<assist::Summary> Server::Impl::run_summary(const interop::PatientRecord& record,
                                                  const SummaryCall& sc, const Principal& principal,
                                                  Call& call) {
    llm::Backend* backend = sc.backend;
    set_audit_model(call.record, backend->info());
    const bool remote = backend->info().backend == "remote";
    PolicyBackend policy(*backend, *deid, decide_privacy(remote, sees_phi(principal.role)),
                         &privacy);
    if (policy.decision().deidentify_input) {
        call.record.safety_flags.push_back("deidentified");
        add_patient_identifiers(policy.scope(), record);
    }
    WARD_ASSIGN_OR_RETURN(Ticket ticket, admit(backend));
    auto cancelled = new_cancel_flag();
    assist::SummaryOptions o;
    o.model = backend->info().name;
    o.profile = sc.profile;
    o.reference_date = sc.reference_date;
    o.token_budget = sc.budget;
    o.max_tokens = sc.max_tokens;
    o.cancelled = cancelled.get();
    o.deadline = Clock::now() +
                 std::chrono::milliseconds(static_cast<int64_t>(settings.request_timeout_s * 1000));
    auto summary = assist::summarize(record, policy, o);
    drop_cancel_flag(cancelled);
    if (!summary.ok()) {
        // The model's context cannot hold the task: a configuration limit, not a full queue.
        if (summary.status().code() == StatusCode::kResourceExhausted) {
            return failed_precondition(
                "{} (lower max_tokens or serve the model with a larger "
                "context)",
                summary.status().message());
        }
        return summary.status();
    }
    note_generation(summary->generation);
    call.record.prompt_sha256 = summary->context_sha256;
    call.record.output_sha256 = sha256_of(summary->text);
    if (!summary->unsupported_ids.empty()) {
        call.record.safety_flags.push_back("unsupported_citations");
    }
    return summary;
}

Status Server::Impl::patient_summary(const httplib::Request& req, httplib::Response& res,
                                     std::shared_ptr<Call> call) {
    const std::string id = req.matches[1].str();
    call->record.patient_key_hash = patient_key_hash(id);
    json body = json::object();
    if (!req.body.empty()) {
        WARD_ASSIGN_OR_RETURN(body, parse_json_body(req.body));
        if (!body.is_object()) return invalid_argument("body: expected a JSON object");
    }
    auto get_string = [&](const char* key, std::string def) {
        return body_string(body, key, std::move(def));
    };
    auto get_int = [&](const char* key, int64_t def, int64_t lo, int64_t hi) {
        return body_int(body, key, def, lo, hi);
    };
    SummaryCall sc;
    WARD_ASSIGN_OR_RETURN(std::string model, get_string("model", ""));
    WARD_ASSIGN_OR_RETURN(sc.backend, find_model(model));
    WARD_ASSIGN_OR_RETURN(std::string profile, get_string("profile", settings.default_profile));
    WARD_ASSIGN_OR_RETURN(sc.profile, interop::parse_profile(profile));
    WARD_ASSIGN_OR_RETURN(int64_t budget, get_int("budget", settings.context_budget, 0, 1 << 20));
    sc.budget = static_cast<size_t>(budget);
    WARD_ASSIGN_OR_RETURN(int64_t max_tokens, get_int("max_tokens", 400, 1, 8192));
    sc.max_tokens = static_cast<int>(max_tokens);
    WARD_ASSIGN_OR_RETURN(sc.reference_date, get_string("reference_date", ""));
    WARD_ASSIGN_OR_RETURN(std::string format, get_string("format", "json"));
    if (format != "json" && format != "fhir") {
        return invalid_argument("format: expected \"json\" or \"fhir\", got \"{}\"", format);
    }

    const bool phi = sees_phi(call->principal->role);
    // Refusals that do not depend on the answer come before the model runs.
    if (format == "fhir" && !phi) {
        return permission_denied(
            "format: FHIR write-back carries the patient's identity; role {} may not receive it",
            role_name(call->principal->role));
    }
    if (format == "fhir" && sc.backend->info().backend == "remote") {
        return invalid_argument(
            "format: FHIR write-back names the model file's SHA-256, which remote model \"{}\" "
            "does not have",
            sc.backend->info().name);
    }
    interop::PatientRecord record;
    {
        WARD_ASSIGN_OR_RETURN(auto store, patients->acquire());
        WARD_ASSIGN_OR_RETURN(record, store->get(id));
    }
    WARD_ASSIGN_OR_RETURN(assist::Summary s, run_summary(record, sc, *call->principal, *call));
    json out = {{"patient_id", phi ? json(record.id) : json(call->record.patient_key_hash)},
                {"model", s.model.name},
                {"model_sha256", s.model.file_sha256},
                {"profile", interop::profile_name(s.profile)},
                {"reference_date", s.reference_date},
                {"summary", s.text},
                {"citations", citations_json(s.citations, phi)},
                {"unsupported_ids", s.unsupported_ids},
                {"finish_reason", openai::finish_reason(s.generation.finish)},
                {"usage", openai::usage_json(s.generation.usage)},
                {"context",
                 {{"sha256", s.context_sha256},
                  {"tokens", s.context_tokens},
                  {"budget", s.token_budget},
                  {"included", s.n_included},
                  {"omitted", s.n_omitted}}},
                {"deidentified", !phi},
                {"policy_version", settings.policy_version}};
    if (format == "fhir") {
        WARD_ASSIGN_OR_RETURN(std::string bundle, assist::summary_as_fhir(s, record, s.model));
        WARD_ASSIGN_OR_RETURN(json fhir, parse_json_body(bundle));
        out["fhir"] = std::move(fhir);
    }
    reply_json(res, 200, out);
    return ok_status();
}

// ---- Knowledge ---------------------------------------------------------------------------

Status Server::Impl::ask(const httplib::Request& req, httplib::Response& res,
                         std::shared_ptr<Call> call) {
    WARD_ASSIGN_OR_RETURN(json body, parse_json_body(req.body));
    if (!body.is_object()) return invalid_argument("body: expected a JSON object");
    WARD_ASSIGN_OR_RETURN(std::string question, body_string(body, "question", ""));
    if (question.find_first_not_of(" \t\r\n") == std::string::npos) {
        return invalid_argument("question: required, a non-empty string");
    }
    if (question.size() > kMaxQuestionBytes) {
        return invalid_argument("question: {} bytes, more than the limit of {}", question.size(),
                                kMaxQuestionBytes);
    }
    WARD_ASSIGN_OR_RETURN(std::string model, body_string(body, "model", ""));
    WARD_ASSIGN_OR_RETURN(llm::Backend * backend, find_model(model));
    if (backend->info().embedding) {
        return invalid_argument("model: \"{}\" is an embedding model; /v1/ask needs a chat model",
                                backend->info().name);
    }
    assist::AskOptions o;
    o.model = backend->info().name;
    WARD_ASSIGN_OR_RETURN(int64_t k,
                          body_int(body, "k", settings.knowledge_k, 1, assist::kMaxAskPassages));
    o.k = static_cast<int>(k);
    WARD_ASSIGN_OR_RETURN(o.knowledge_version, requested_version(body));
    WARD_ASSIGN_OR_RETURN(o.sources, body_strings(body, "sources"));
    WARD_ASSIGN_OR_RETURN(int64_t max_tokens, body_int(body, "max_tokens", 512, 1, 8192));
    o.max_tokens = static_cast<int>(max_tokens);
    WARD_ASSIGN_OR_RETURN(std::string patient_id, body_string(body, "patient_id", ""));
    WARD_ASSIGN_OR_RETURN(std::string profile,
                          body_string(body, "profile", settings.default_profile));
    WARD_ASSIGN_OR_RETURN(o.profile, interop::parse_profile(profile));
    WARD_ASSIGN_OR_RETURN(o.reference_date, body_string(body, "reference_date", ""));

    const bool phi = sees_phi(call->principal->role);
    std::optional<interop::PatientRecord> record;
    if (!patient_id.empty()) {
        call->record.patient_key_hash = patient_key_hash(patient_id);
        WARD_ASSIGN_OR_RETURN(auto store, patients->acquire());
        WARD_ASSIGN_OR_RETURN(record, store->get(patient_id));
        if (o.reference_date.empty()) o.reference_date = assist::latest_record_date(*record);
        o.patient = &*record;
    }
    set_audit_model(call->record, backend->info());
    call->record.prompt_sha256 = sha256_of(question);
    const bool remote = backend->info().backend == "remote";
    PolicyBackend policy(*backend, *deid, decide_privacy(remote, phi), &privacy);
    if (policy.decision().deidentify_input) {
        call->record.safety_flags.push_back("deidentified");
        if (record) add_patient_identifiers(policy.scope(), *record);
    }
    std::optional<PolicyBackend> embed_policy;
    if (embedder != nullptr) {
        embed_policy.emplace(*embedder, *deid,
                             decide_privacy(embedder->info().backend == "remote", phi), &privacy);
        if (record && embed_policy->decision().deidentify_input) {
            add_patient_identifiers(embed_policy->scope(), *record);
        }
        o.embedder = &*embed_policy;
    }
    // Input rails: a crisis or an out-of-scope question is answered by code at once.
    WARD_ASSIGN_OR_RETURN(safety::Outcome input_outcome, rails->run_input("ask", question));
    json safety_json = {{"input", note_rails(*call, safety::Stage::kInput, input_outcome)}};
    if (input_outcome.action == safety::Action::kBlock) {
        assist::AskAnswer blocked;
        blocked.question = question;
        blocked.text = input_outcome.reply;
        blocked.finish = "blocked";
        blocked.model = backend->info();
        WARD_ASSIGN_OR_RETURN(blocked.knowledge_version, knowledge->current_version());
        call->record.knowledge_version = std::to_string(blocked.knowledge_version);
        call->record.output_sha256 = sha256_of(blocked.text);
        json out = assist::answer_json(blocked, false);
        out["review"] = input_outcome.review ? queue_review(*call, "ask", input_outcome.flags,
                                                            question, blocked.text)
                                             : json(nullptr);
        out["safety"] = std::move(safety_json);
        out["id"] = "ask-" + call->request_id;
        out["object"] = "ward.answer";
        out["created"] = unix_now();
        out["patient_id"] = nullptr;
        out["deidentified"] = false;
        out["policy_version"] = settings.policy_version;
        reply_json(res, 200, out);
        return ok_status();
    }
    WARD_ASSIGN_OR_RETURN(Ticket ticket, admit(backend));
    auto cancelled = new_cancel_flag();
    o.cancelled = cancelled.get();
    o.deadline = Clock::now() +
                 std::chrono::milliseconds(static_cast<int64_t>(settings.request_timeout_s * 1000));
    auto answer = assist::ask(question, *knowledge, policy, o);
    drop_cancel_flag(cancelled);
    if (!answer.ok()) {
        if (answer.status().code() == StatusCode::kResourceExhausted) {
            return failed_precondition(
                "{} (lower max_tokens or k, or serve the model with a "
                "larger context)",
                answer.status().message());
        }
        return answer.status();
    }
    if (answer->finish != "no_passages") note_generation(answer->generation);
    call->record.knowledge_version = std::to_string(answer->knowledge_version);
    call->record.prompt_sha256 =
        answer->prompt_sha256.empty() ? call->record.prompt_sha256 : answer->prompt_sha256;
    call->record.output_sha256 = sha256_of(answer->text);
    for (const auto& flag : answer->citations.flags) {
        std::string name = fmt::format("citation_{}", knowledge::citation_flag_name(flag.kind));
        auto& flags = call->record.safety_flags;
        if (std::find(flags.begin(), flags.end(), name) == flags.end()) flags.push_back(name);
    }
    if (answer->finish == "no_passages") call->record.safety_flags.push_back("no_passages");
    // Data rails on the passages (instructions hidden in documents), output rails on the
    // answer (PHI for de-identified roles, doses).
    std::vector<std::string> review_flags;
    safety::Outcome data_outcome;
    for (const assist::AskPassage& p : answer->passages) {
        WARD_ASSIGN_OR_RETURN(safety::Outcome o1, rails->run_data("ask", p.hit.text));
        for (auto& f : o1.flags) {
            if (std::find(data_outcome.flags.begin(), data_outcome.flags.end(), f) ==
                data_outcome.flags.end()) {
                data_outcome.flags.push_back(f);
            }
        }
        for (auto& r : o1.results) data_outcome.results.push_back(std::move(r));
        if (safety::action_strength(o1.action) > safety::action_strength(data_outcome.action)) {
            data_outcome.action = o1.action;
        }
        data_outcome.review = data_outcome.review || o1.review;
    }
    safety_json["data"] = note_rails(*call, safety::Stage::kData, data_outcome);
    if (answer->finish != "no_passages") {
        WARD_ASSIGN_OR_RETURN(safety::Outcome output_outcome,
                              rails->run_output("ask", answer->text, phi));
        safety_json["output"] = note_rails(*call, safety::Stage::kOutput, output_outcome);
        if (output_outcome.action == safety::Action::kModify) {
            answer->text = output_outcome.text;
            std::vector<std::string> texts;
            for (const auto& p : answer->passages) texts.push_back(p.hit.text);
            answer->citations = knowledge::check_citations(answer->text, texts);
            call->record.output_sha256 = sha256_of(answer->text);
        }
        if (output_outcome.review) {
            for (const auto& f : output_outcome.flags) review_flags.push_back(f);
        }
    }
    if (data_outcome.review) {
        for (const auto& f : data_outcome.flags) review_flags.push_back(f + "_in_passage");
    }
    json out = assist::answer_json(*answer, /*include_passage_text=*/false);
    out["safety"] = std::move(safety_json);
    for (const std::string& f : call->record.safety_flags) {
        if (f.starts_with("citation_")) review_flags.push_back(f);
    }
    out["review"] = queue_review(*call, "ask", review_flags, question, answer->text);
    out["id"] = "ask-" + call->request_id;
    out["object"] = "ward.answer";
    out["created"] = unix_now();
    out["patient_id"] =
        record ? (phi ? json(record->id) : json(call->record.patient_key_hash)) : json(nullptr);
    out["deidentified"] = policy.decision().deidentify_input;
    out["policy_version"] = settings.policy_version;
    reply_json(res, 200, out);
    return ok_status();
}

Result<std::optional<int64_t>> Server::Impl::requested_version(const json& body) {
    WARD_ASSIGN_OR_RETURN(int64_t version, body_int(body, "knowledge_version", 0, 0, INT64_MAX));
    if (version == 0) return std::optional<int64_t>{};
    WARD_ASSIGN_OR_RETURN(auto versions, knowledge->versions());
    for (const auto& v : versions) {
        if (v.id == version) return std::optional<int64_t>(version);
    }
    if (versions.empty()) {
        return invalid_argument(
            "knowledge_version: {} does not exist (the knowledge base is empty)", version);
    }
    return invalid_argument(
        "knowledge_version: {} does not exist or was pruned (versions {} to {} "
        "can be queried)",
        version, versions.front().id, versions.back().id);
}

Status Server::Impl::embeddings(const httplib::Request& req, httplib::Response& res,
                                std::shared_ptr<Call> call) {
    WARD_ASSIGN_OR_RETURN(json body, parse_json_body(req.body));
    if (!body.is_object()) return invalid_argument("body: expected a JSON object");
    WARD_ASSIGN_OR_RETURN(std::string model, body_string(body, "model", ""));
    if (model.empty()) return invalid_argument("model: required (see GET /v1/models)");
    WARD_ASSIGN_OR_RETURN(llm::Backend * backend, find_model(model));
    if (!backend->info().embedding) {
        return invalid_argument("model: \"{}\" does not produce embeddings", model);
    }
    llm::EmbeddingRequest er;
    er.model = backend->info().name;
    auto input = body.find("input");
    if (input == body.end() || input->is_null()) {
        return invalid_argument("input: required, a string or an array of strings");
    }
    if (input->is_string()) {
        er.inputs.push_back(input->get<std::string>());
    } else if (input->is_array()) {
        if (input->empty()) return invalid_argument("input: the array is empty");
        if (input->size() > kMaxEmbeddingInputs) {
            return invalid_argument("input: {} items, more than the limit of {}", input->size(),
                                    kMaxEmbeddingInputs);
        }
        for (size_t i = 0; i < input->size(); ++i) {
            if (!(*input)[i].is_string()) {
                return invalid_argument(
                    "input[{}]: expected a string (token arrays are not supported)", i);
            }
            er.inputs.push_back((*input)[i].get<std::string>());
        }
    } else {
        return invalid_argument("input: expected a string or an array of strings");
    }
    for (size_t i = 0; i < er.inputs.size(); ++i) {
        if (er.inputs[i].empty()) return invalid_argument("input[{}]: empty string", i);
    }
    WARD_ASSIGN_OR_RETURN(std::string format, body_string(body, "encoding_format", "float"));
    if (format != "float" && format != "base64") {
        return invalid_argument("encoding_format: expected \"float\" or \"base64\", got \"{}\"",
                                format);
    }
    if (body.contains("dimensions") && !body["dimensions"].is_null()) {
        return invalid_argument("dimensions: not supported; model \"{}\" has {} dimensions",
                                er.model, backend->info().embedding_dim);
    }
    set_audit_model(call->record, backend->info());
    std::string joined;
    for (const auto& s : er.inputs) joined += s + '\0';
    call->record.prompt_sha256 = sha256_of(joined);
    const bool remote = backend->info().backend == "remote";
    PolicyBackend policy(*backend, *deid, decide_privacy(remote, sees_phi(call->principal->role)),
                         &privacy);
    if (policy.decision().deidentify_input) call->record.safety_flags.push_back("deidentified");
    WARD_ASSIGN_OR_RETURN(Ticket ticket, admit(backend));
    WARD_ASSIGN_OR_RETURN(llm::Embeddings result, policy.embed(er));
    json data = json::array();
    for (size_t i = 0; i < result.vectors.size(); ++i) {
        const std::vector<float>& v = result.vectors[i];
        json item = {{"object", "embedding"}, {"index", i}};
        if (format == "base64") {
            item["embedding"] = crypto::to_base64(
                std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)));
        } else {
            item["embedding"] = v;
        }
        data.push_back(std::move(item));
    }
    reply_json(
        res, 200,
        json{{"object", "list"},
             {"data", std::move(data)},
             {"model", result.model.empty() ? er.model : result.model},
             {"usage",
              {{"prompt_tokens", result.prompt_tokens}, {"total_tokens", result.prompt_tokens}}}});
    return ok_status();
}

Status Server::Impl::knowledge_info(const httplib::Request&, httplib::Response& res,
                                    std::shared_ptr<Call>) {
    WARD_ASSIGN_OR_RETURN(auto versions, knowledge->versions());
    json list = json::array();
    for (const auto& v : versions) list.push_back(knowledge::version_json(v));
    WARD_ASSIGN_OR_RETURN(int64_t current, knowledge->current_version());
    reply_json(res, 200,
               json{{"current_version", current},
                    {"versions", std::move(list)},
                    {"embedding_model", embedder ? json(embedder->info().name) : json(nullptr)}});
    return ok_status();
}

Status Server::Impl::knowledge_search(const httplib::Request& req, httplib::Response& res,
                                      std::shared_ptr<Call> call) {
    WARD_ASSIGN_OR_RETURN(json body, parse_json_body(req.body));
    if (!body.is_object()) return invalid_argument("body: expected a JSON object");
    knowledge::Query q;
    WARD_ASSIGN_OR_RETURN(q.text, body_string(body, "query", ""));
    if (q.text.find_first_not_of(" \t\r\n") == std::string::npos) {
        return invalid_argument("query: required, a non-empty string");
    }
    if (q.text.size() > kMaxQuestionBytes) {
        return invalid_argument("query: {} bytes, more than the limit of {}", q.text.size(),
                                kMaxQuestionBytes);
    }
    WARD_ASSIGN_OR_RETURN(int64_t k, body_int(body, "k", settings.knowledge_k, 1, 100));
    q.k = static_cast<int>(k);
    WARD_ASSIGN_OR_RETURN(q.version, requested_version(body));
    WARD_ASSIGN_OR_RETURN(q.sources, body_strings(body, "sources"));
    call->record.prompt_sha256 = sha256_of(q.text);
    if (embedder != nullptr) {
        PolicyBackend policy(
            *embedder, *deid,
            decide_privacy(embedder->info().backend == "remote", sees_phi(call->principal->role)),
            &privacy);
        llm::EmbeddingRequest er{embedder->info().name, {q.text}};
        WARD_ASSIGN_OR_RETURN(llm::Embeddings e, policy.embed(er));
        if (e.vectors.size() == 1) {
            q.embedding = std::move(e.vectors[0]);
            q.embedding_model = er.model;
        }
    }
    WARD_ASSIGN_OR_RETURN(knowledge::SearchResult found, knowledge->search(q));
    call->record.knowledge_version = std::to_string(found.version);
    json hits = json::array();
    for (const auto& h : found.hits) hits.push_back(knowledge::hit_json(h));
    reply_json(
        res, 200,
        json{
            {"knowledge_version", found.version}, {"mode", found.mode}, {"hits", std::move(hits)}});
    return ok_status();
}

void Server::Impl::embed_loop() {
    const std::string model = embedder->info().name;
    auto wait = [&](std::chrono::seconds d) {
        std::unique_lock lock(embed_mu);
        embed_cv.wait_for(lock, d, [&] { return embed_stop; });
        return !embed_stop;
    };
    while (true) {
        {
            std::lock_guard lock(embed_mu);
            if (embed_stop) return;
        }
        auto step = assist::embed_pending_chunks(*knowledge, *embedder, model, kEmbedBatch);
        if (!step.ok()) {
            // Counts and codes only: the message may quote no chunk text, but stay safe.
            logger("server")->warn("knowledge: embedding with {} failed ({}); retrying in 30 s",
                                   model, status_code_name(step.status().code()));
            metrics.count_event("knowledge_embedding_failed");
            if (!wait(std::chrono::seconds(30))) return;
            continue;
        }
        if (step->embedded == 0 && !wait(std::chrono::seconds(2))) return;
    }
}

// ---- Human review ------------------------------------------------------------------------

json Server::Impl::note_rails(Call& call, safety::Stage stage, const safety::Outcome& outcome) {
    for (const std::string& rail : outcome.flags) {
        std::string flag = fmt::format("rail_{}_{}", rail, safety::stage_name(stage));
        auto& flags = call.record.safety_flags;
        if (std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.push_back(flag);
    }
    if (outcome.action != safety::Action::kPass)
        metrics.count_event(fmt::format("rail_{}_{}", safety::action_name(outcome.action),
                                        safety::stage_name(stage)));
    json results = json::array();
    for (const safety::RailResult& r : outcome.results) {
        if (!r.fired) continue;
        results.push_back(
            {{"rail", r.rail}, {"rule", r.rule}, {"score", r.score}, {"detail", r.detail}});
    }
    return json{{"action", safety::action_name(outcome.action)},
                {"flags", outcome.flags},
                {"fired", std::move(results)}};
}

json Server::Impl::queue_review(Call& call, std::string_view task,
                                const std::vector<std::string>& flags, const std::string& input,
                                const std::string& output) {
    const bool configured = std::find(settings.review_tasks.begin(), settings.review_tasks.end(),
                                      task) != settings.review_tasks.end();
    if (flags.empty() && !configured) return nullptr;
    safety::ReviewItem item;
    item.task = std::string(task);
    item.route = call.route;
    item.request_id = call.request_id;
    item.principal_id = call.principal ? call.principal->id : "";
    item.patient_key_hash = call.record.patient_key_hash;
    item.model = call.record.model;
    item.knowledge_version = call.record.knowledge_version;
    item.flags = flags;
    if (flags.empty()) item.flags.push_back("task_review");
    item.input = input;
    item.output = output;
    auto queued = reviews->enqueue(std::move(item));
    if (!queued.ok()) {
        // The answer still goes out; the failure is loud (and the audit record says so).
        logger("server")->error("review queue: enqueue for request {} failed: {}", call.request_id,
                                queued.status().message());
        metrics.count_event("review_enqueue_failed");
        call.record.safety_flags.push_back("review_enqueue_failed");
        return json{{"id", nullptr}, {"status", "not_queued"}};
    }
    call.record.safety_flags.push_back("review_queued");
    return json{{"id", queued->id}, {"status", "pending"}};
}

namespace {

json review_json(const safety::ReviewItem& it, bool with_text) {
    json j = {{"id", it.id},
              {"created", it.created},
              {"task", it.task},
              {"route", it.route},
              {"request_id", it.request_id},
              {"principal_id", it.principal_id},
              {"patient_key_hash", it.patient_key_hash},
              {"model", it.model},
              {"knowledge_version", it.knowledge_version},
              {"flags", it.flags},
              {"status", safety::review_status_name(it.status)},
              {"reviewer", it.reviewer.empty() ? json(nullptr) : json(it.reviewer)},
              {"decided", it.decided.empty() ? json(nullptr) : json(it.decided)},
              {"reason", it.reason.empty() ? json(nullptr) : json(it.reason)}};
    if (with_text) {
        j["input"] = it.input;
        j["output"] = it.output;
        j["edited_output"] = it.edited_output ? json(*it.edited_output) : json(nullptr);
    }
    return j;
}

}  // namespace

Status Server::Impl::list_reviews(const httplib::Request& req, httplib::Response& res,
                                  std::shared_ptr<Call>) {
    std::optional<safety::ReviewStatus> status = safety::ReviewStatus::kPending;
    if (req.has_param("status")) {
        std::string name = req.get_param_value("status");
        if (name == "all") {
            status.reset();
        } else {
            auto parsed = safety::parse_review_status(name);
            if (!parsed.ok())
                return invalid_argument("status: {} (or \"all\")", parsed.status().message());
            status = *parsed;
        }
    }
    int limit = 50;
    if (req.has_param("limit")) {
        std::string text = req.get_param_value("limit");
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
        if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 1000) {
            return invalid_argument("limit: expected an integer in [1, 1000], got \"{}\"", text);
        }
    }
    WARD_ASSIGN_OR_RETURN(auto items, reviews->list(status, limit, /*with_text=*/false));
    json data = json::array();
    for (const auto& it : items) data.push_back(review_json(it, false));
    WARD_ASSIGN_OR_RETURN(int64_t pending, reviews->pending());
    reply_json(res, 200, json{{"object", "list"}, {"data", std::move(data)}, {"pending", pending}});
    return ok_status();
}

Status Server::Impl::export_reviews(const httplib::Request&, httplib::Response& res,
                                    std::shared_ptr<Call>) {
    std::string out;
    for (auto status : {safety::ReviewStatus::kApproved, safety::ReviewStatus::kEdited,
                        safety::ReviewStatus::kRejected}) {
        WARD_ASSIGN_OR_RETURN(auto items, reviews->list(status, 1000, /*with_text=*/true));
        for (const auto& it : items) out += safety::feedback_json(it) + "\n";
    }
    res.status = 200;
    res.set_content(out, "application/x-ndjson");
    return ok_status();
}

Status Server::Impl::get_review(const httplib::Request& req, httplib::Response& res,
                                std::shared_ptr<Call>) {
    WARD_ASSIGN_OR_RETURN(safety::ReviewItem item, reviews->get(req.matches[1].str()));
    reply_json(res, 200, review_json(item, true));
    return ok_status();
}

Status Server::Impl::decide_review(const httplib::Request& req, httplib::Response& res,
                                   std::shared_ptr<Call> call) {
    WARD_ASSIGN_OR_RETURN(json body, parse_json_body(req.body));
    if (!body.is_object()) return invalid_argument("body: expected a JSON object");
    WARD_ASSIGN_OR_RETURN(std::string decision, body_string(body, "decision", ""));
    safety::ReviewDecision d;
    if (decision == "approve") {
        d.status = safety::ReviewStatus::kApproved;
    } else if (decision == "edit") {
        d.status = safety::ReviewStatus::kEdited;
    } else if (decision == "reject") {
        d.status = safety::ReviewStatus::kRejected;
    } else {
        return invalid_argument("decision: expected \"approve\", \"edit\" or \"reject\"");
    }
    WARD_ASSIGN_OR_RETURN(d.reason, body_string(body, "reason", ""));
    if (body.contains("text") && !body["text"].is_null()) {
        WARD_ASSIGN_OR_RETURN(std::string text, body_string(body, "text", ""));
        d.edited_output = std::move(text);
    }
    d.reviewer = call->principal->id;
    WARD_ASSIGN_OR_RETURN(safety::ReviewItem item, reviews->decide(req.matches[1].str(), d));
    call->record.patient_key_hash = item.patient_key_hash;
    call->record.model = item.model;
    call->record.knowledge_version = item.knowledge_version;
    call->record.output_sha256 = sha256_of(item.edited_output ? *item.edited_output : item.output);
    call->record.safety_flags.push_back(
        fmt::format("review_{}", safety::review_status_name(item.status)));
    reply_json(res, 200, review_json(item, false));
    return ok_status();
}

// ---- CDS Hooks ---------------------------------------------------------------------------

Status Server::Impl::cds_discovery(const httplib::Request&, httplib::Response& res,
                                   std::shared_ptr<Call>) {
    reply_json(res, 200, discovery(cds));
    return ok_status();
}

Status Server::Impl::cds_service(const httplib::Request& req, httplib::Response& res,
                                 std::shared_ptr<Call> call) {
    const std::string service = req.matches[1].str();
    if (service != cds.id) {
        return not_found("CDS service \"{}\" does not exist (see GET /cds-services)", service);
    }
    WARD_ASSIGN_OR_RETURN(CdsHookRequest hook, parse_hook_request(req.body));
    if (hook.hook != "patient-view") {
        return invalid_argument("hook: service {} answers patient-view, not \"{}\"", cds.id,
                                hook.hook);
    }
    call->record.patient_key_hash = patient_key_hash(hook.patient_id);
    auto record = record_from_prefetch(hook);
    if (!record.ok() && record.status().code() == StatusCode::kNotFound) {
        WARD_ASSIGN_OR_RETURN(auto store, patients->acquire());
        record = store->get(hook.patient_id);
        if (!record.ok() && record.status().code() == StatusCode::kNotFound) {
            call->record.safety_flags.push_back("no_data");
            reply_json(res, 200, no_data_response());
            return ok_status();
        }
    }
    if (!record.ok()) return record.status();
    SummaryCall sc;
    WARD_ASSIGN_OR_RETURN(sc.backend, find_model(""));
    WARD_ASSIGN_OR_RETURN(sc.profile, interop::parse_profile(settings.default_profile));
    sc.budget = static_cast<size_t>(settings.context_budget);
    WARD_ASSIGN_OR_RETURN(assist::Summary s, run_summary(*record, sc, *call->principal, *call));
    CdsCardOptions options;
    reply_json(res, 200, summary_cards(s, options));
    return ok_status();
}

Status Server::Impl::cds_feedback(const httplib::Request& req, httplib::Response& res,
                                  std::shared_ptr<Call> call) {
    const std::string service = req.matches[1].str();
    if (service != cds.id) {
        return not_found("CDS service \"{}\" does not exist (see GET /cds-services)", service);
    }
    WARD_ASSIGN_OR_RETURN(CdsFeedback feedback, parse_feedback(req.body));
    for (const auto& item : feedback.items) {
        call->record.safety_flags.push_back("feedback:" + item.outcome + ":" + item.card);
        metrics.count_event(item.outcome == "accepted" ? "cds_feedback_accepted"
                                                       : "cds_feedback_overridden");
    }
    reply_json(res, 200, json::object());
    return ok_status();
}

// ---- Operations --------------------------------------------------------------------------

Status Server::Impl::healthz(const httplib::Request&, httplib::Response& res,
                             std::shared_ptr<Call>) {
    reply_json(res, 200, json{{"status", "ok"}});
    return ok_status();
}

Status Server::Impl::readyz(const httplib::Request&, httplib::Response& res,
                            std::shared_ptr<Call>) {
    json models = json::object();
    bool ready = !draining;
    for (llm::Backend* b : registry->all()) {
        models[b->info().name] = b->ready();
        ready = ready && b->ready();
    }
    reply_json(res, ready ? 200 : 503,
               json{{"status", ready ? "ready" : (draining ? "draining" : "loading")},
                    {"models", std::move(models)}});
    return ok_status();
}

Status Server::Impl::metrics_text(const httplib::Request&, httplib::Response& res,
                                  std::shared_ptr<Call>) {
    std::vector<Metrics::ModelGauge> gauges;
    for (llm::Backend* b : registry->all()) {
        gauges.push_back(
            {b->info().name, b->active(), b->waiting(), admission.at(b)->in_flight.load()});
    }
    res.status = 200;
    res.set_content(metrics.render(gauges, &privacy), "text/plain; version=0.0.4");
    return ok_status();
}

// ---- Life cycle --------------------------------------------------------------------------

namespace {

// The de-identification secret: from the file, or made and written there (0600) on first start.
Result<std::vector<uint8_t>> load_secret(const std::string& path) {
    if (const char* env = std::getenv("WARD_DEID_SECRET"); env && *env) {
        WARD_ASSIGN_OR_RETURN(auto bytes, crypto::from_hex(env));
        return bytes;
    }
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
        WARD_ASSIGN_OR_RETURN(std::string text, read_file(path));
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        auto bytes = crypto::from_hex(text);
        if (!bytes.ok()) return invalid_argument("{}: not a hex secret", path);
        if (bytes->size() < 16)
            return invalid_argument("{}: the secret is shorter than 16 bytes", path);
        return *bytes;
    }
    auto bytes = crypto::random_bytes(32);
    WARD_TRY(write_file_atomic(path, crypto::to_hex(bytes) + "\n"));
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    logger("server")->info("created a new de-identification secret in {}", path);
    return bytes;
}

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
    if (impl_->embed_thread.joinable()) {
        {
            std::lock_guard lock(impl_->embed_mu);
            impl_->embed_stop = true;
        }
        impl_->embed_cv.notify_all();
        impl_->embed_thread.join();
    }
    if (impl_->http_thread.joinable()) {
        impl_->http.stop();
        impl_->http_thread.join();
    }
    if (impl_->mllp) impl_->mllp->stop();
}

Result<std::unique_ptr<Server>> Server::create(const Config& config, ServerSettings settings) {
    auto impl = std::make_unique<Impl>();
    std::error_code ec;
    std::filesystem::create_directories(settings.data_dir, ec);
    if (ec) {
        return failed_precondition("data.dir: cannot create {}: {}", settings.data_dir,
                                   ec.message());
    }
    WARD_ASSIGN_OR_RETURN(impl->secret, load_secret(settings.secret_file));
    deid::DeidentifierOptions deid_options;
    deid_options.secret = impl->secret;
    WARD_ASSIGN_OR_RETURN(impl->deid, deid::Deidentifier::create(deid_options));
    WARD_ASSIGN_OR_RETURN(auto keys, KeyStore::open(settings.path("keys.db")));
    impl->keys = std::make_unique<KeyStore>(std::move(keys));
    WARD_ASSIGN_OR_RETURN(impl->audit, audit::AuditLog::open(settings.path("audit.db")));
    impl->patients = std::make_unique<StorePool>(settings.path("patients.db"));
    {
        WARD_ASSIGN_OR_RETURN(auto probe, impl->patients->acquire());
        (void)probe;
    }
    if (!settings.cds_issuers.empty()) {
        std::vector<JwtIssuer> issuers;
        for (const auto& is : settings.cds_issuers) {
            auto issuer = load_jwt_issuer(is.iss, is.key_files);
            if (!issuer.ok()) {
                return Status(issuer.status().code(),
                              fmt::format("config: cds_hooks.issuers.{}.key_files: {}", is.name,
                                          issuer.status().message()));
            }
            issuers.push_back(std::move(*issuer));
        }
        WARD_ASSIGN_OR_RETURN(auto verifier, JwtVerifier::create(std::move(issuers)));
        impl->jwt = std::make_unique<JwtVerifier>(std::move(verifier));
    }
    WARD_ASSIGN_OR_RETURN(impl->registry, llm::Registry::from_config(config));
    for (llm::Backend* b : impl->registry->all()) {
        auto a = std::make_unique<Admission>();
        if (b->info().backend == "remote") {
            a->limit = settings.remote_concurrency;
        } else {
            std::string key = "models." + b->info().name + ".slots";
            int slots = config.has(key) ? static_cast<int>(config.get_int(key)) : 4;
            a->limit = slots + settings.queue_depth;
        }
        impl->admission.emplace(b, std::move(a));
    }
    {
        std::string path = settings.knowledge_path.empty() ? settings.path("knowledge.db")
                                                           : settings.knowledge_path;
        auto store = knowledge::Store::open(path);
        if (!store.ok()) {
            return Status(store.status().code(),
                          fmt::format("knowledge.path: {}", store.status().message()));
        }
        impl->knowledge = std::move(*store);
    }
    WARD_ASSIGN_OR_RETURN(impl->reviews,
                          safety::ReviewQueue::open(settings.path("reviews.db"), impl->secret));
    {
        safety::PipelineConfig rails_config = safety::default_pipeline_config();
        rails_config.crisis.escalation_text = settings.crisis_escalation_text;
        rails_config.crisis.follow_up_text = settings.crisis_follow_up_text;
        rails_config.crisis.include_us_resources = settings.crisis_include_us_resources;
        for (const auto& [name, contact] : settings.crisis_resources) {
            rails_config.crisis.local_resources.push_back({name, contact});
        }
        auto rails = safety::Pipeline::create(rails_config);
        if (!rails.ok()) {
            return Status(rails.status().code(),
                          fmt::format("config: safety.crisis: {}", rails.status().message()));
        }
        impl->rails = std::make_unique<safety::Pipeline>(std::move(*rails));
    }
    if (!settings.embedding_model.empty()) {
        impl->embedder = impl->registry->find(settings.embedding_model);
        if (impl->embedder == nullptr) {
            return invalid_argument(
                "config: knowledge.embedding_model \"{}\" is not a model of "
                "models.*",
                settings.embedding_model);
        }
        if (!impl->embedder->info().embedding) {
            return invalid_argument(
                "config: knowledge.embedding_model \"{}\" does not produce "
                "embeddings",
                settings.embedding_model);
        }
    }
    impl->settings = std::move(settings);
    if (impl->embedder != nullptr) {
        Impl* raw = impl.get();
        impl->embed_thread = std::thread([raw] { raw->embed_loop(); });
    }
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::start() {
    Impl& m = *impl_;
    m.install_routes();
    m.http.new_task_queue = [n = m.settings.http_threads] { return new httplib::ThreadPool(n); };
    m.http.set_payload_max_length(m.settings.max_body_bytes);
    m.http.set_read_timeout(std::chrono::seconds(30));
    m.http.set_write_timeout(std::chrono::seconds(30));
    m.http.set_keep_alive_max_count(1000);
    int port = m.settings.port;
    if (port == 0) {
        port = m.http.bind_to_any_port(m.settings.host);
    } else if (!m.http.bind_to_port(m.settings.host, port)) {
        port = -1;
    }
    if (port <= 0) {
        return unavailable("cannot listen on {}:{} (in use or not permitted)", m.settings.host,
                           m.settings.port);
    }
    m.bound_port = port;
    m.http_thread = std::thread([&m] { m.http.listen_after_bind(); });
    if (m.settings.mllp_port > 0) {
        interop::MllpOptions o;
        o.host = m.settings.mllp_host;
        o.port = static_cast<uint16_t>(m.settings.mllp_port);
        WARD_ASSIGN_OR_RETURN(auto store,
                              interop::PatientStore::open(m.settings.path("patients.db")));
        auto shared = std::make_shared<interop::PatientStore>(std::move(store));
        WARD_ASSIGN_OR_RETURN(
            m.mllp,
            interop::MllpServer::start(o, [shared](std::string_view msg, const std::string& peer) {
                return interop::handle_hl7_message(msg, *shared, "mllp:" + peer, ack_time_now());
            }));
    }
    logger("server")->info("listening on {}:{}", m.settings.host, m.bound_port);
    return ok_status();
}

int Server::port() const {
    return impl_->bound_port;
}
int Server::mllp_port() const {
    return impl_->mllp ? impl_->mllp->port() : 0;
}

void Server::drain() {
    Impl& m = *impl_;
    if (m.draining.exchange(true)) return;
    logger("server")->info("draining: no new generations; waiting up to {} s",
                           m.settings.drain_timeout_s);
    auto in_flight = [&m] {
        int n = 0;
        for (const auto& [b, a] : m.admission) n += a->in_flight.load();
        return n;
    };
    auto wait_idle = [&](Clock::duration limit) {
        const auto until = Clock::now() + limit;
        while (in_flight() > 0 && Clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    };
    wait_idle(std::chrono::milliseconds(static_cast<int64_t>(m.settings.drain_timeout_s * 1000)));
    if (int n = in_flight(); n > 0) {
        logger("server")->warn("drain timeout: cancelling {} requests", n);
        std::lock_guard lock(m.cancel_mu);
        for (const auto& f : m.cancel_flags) f->store(true);
    }
    wait_idle(std::chrono::seconds(5));
    if (m.mllp) m.mllp->stop();
    m.http.stop();
}

void Server::wait() {
    if (impl_->http_thread.joinable()) impl_->http_thread.join();
}

}  // namespace ward::server
