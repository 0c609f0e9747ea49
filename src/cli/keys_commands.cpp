// The `ward keys` subcommands (API keys of the server, docs/audit.md):
//   ward keys create --name N --role R [--data-dir D]   prints the new key, and only it, on stdout
//   ward keys list [--data-dir D]                      id, role, created, revoked, name
//   ward keys revoke ID [--data-dir D]
// The data directory defaults to $WARD_DATA_DIR, else ward-data. When the audit part is built,
// creating and revoking keys are themselves recorded in <data-dir>/audit.db (principal
// "cli:<user>", role admin, route "cli keys create|revoke", request id "key:<id>").
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/cli.h"
#include "server/keys.h"
#ifdef WARD_HAS_AUDIT
#include "audit/audit.h"
#endif

namespace ward::cli {
namespace {

struct KeysArgs {
    std::string data_dir;
    std::string name;
    std::string role;
    std::string id;
};

std::string data_dir_of(const KeysArgs& a) {
    return a.data_dir.empty() ? default_data_dir() : a.data_dir;
}

std::string keys_path(const KeysArgs& a) {
    return (std::filesystem::path(data_dir_of(a)) / "keys.db").string();
}

Result<server::KeyStore> open_existing(const KeysArgs& a) {
    std::string path = keys_path(a);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return not_found("keys: no key store at {} (set --data-dir or WARD_DATA_DIR)", path);
    }
    return server::KeyStore::open(path);
}

#ifdef WARD_HAS_AUDIT
// Records a key operation in the audit trail of the same data directory.
class KeyAudit {
  public:
    static Result<KeyAudit> open(const KeysArgs& a) {
        std::string path = (std::filesystem::path(data_dir_of(a)) / "audit.db").string();
        WARD_ASSIGN_OR_RETURN(auto log, audit::AuditLog::open(path));
        return KeyAudit(std::move(log));
    }
    Status record(std::string_view action, const std::string& key_id) {
        audit::AuditRecord r;
        const char* user = std::getenv("USER");
        r.principal_id = std::string("cli:") + (user && *user ? user : "unknown");
        r.role = "admin";
        r.route = fmt::format("cli keys {}", action);
        r.http_status = 200;
        r.request_id = "key:" + key_id;
        auto id = log_->append(r);
        if (!id) return id.error();
        return ok_status();
    }

  private:
    explicit KeyAudit(std::unique_ptr<audit::AuditLog> log) : log_(std::move(log)) {}
    std::unique_ptr<audit::AuditLog> log_;
};
#endif

Status run_create(const KeysArgs& a) {
    WARD_ASSIGN_OR_RETURN(server::Role role, server::parse_role(a.role));
    std::error_code ec;
    std::filesystem::create_directories(data_dir_of(a), ec);
    if (ec) return internal_error("keys: cannot create {}: {}", data_dir_of(a), ec.message());
#ifdef WARD_HAS_AUDIT
    WARD_ASSIGN_OR_RETURN(KeyAudit audit_log, KeyAudit::open(a));
#endif
    WARD_ASSIGN_OR_RETURN(server::KeyStore store, server::KeyStore::open(keys_path(a)));
    WARD_ASSIGN_OR_RETURN(server::CreatedKey created, store.create(a.name, role));
#ifdef WARD_HAS_AUDIT
    // A key that cannot be audited is not handed out.
    if (Status s = audit_log.record("create", created.id); !s.ok()) {
        (void)store.revoke(created.id);
        return s.with_context(
            fmt::format("keys: key {} revoked because the audit failed", created.id));
    }
#endif
    std::printf("%s\n", created.key.c_str());
    std::fflush(stdout);
    std::fprintf(
        stderr, "created key %s (role %s) in %s; it is shown only this once: store it now\n",
        created.id.c_str(), std::string(server::role_name(role)).c_str(), keys_path(a).c_str());
    return ok_status();
}

Status run_list(const KeysArgs& a) {
    WARD_ASSIGN_OR_RETURN(server::KeyStore store, open_existing(a));
    WARD_ASSIGN_OR_RETURN(auto keys, store.list());
    std::printf("%-8s  %-10s  %-20s  %-20s  %s\n", "ID", "ROLE", "CREATED", "REVOKED", "NAME");
    for (const server::KeyInfo& k : keys) {
        std::printf("%-8s  %-10s  %-20s  %-20s  %s\n", k.id.c_str(),
                    std::string(server::role_name(k.role)).c_str(), k.created.c_str(),
                    k.revoked_at ? k.revoked_at->c_str() : "-", k.name.c_str());
    }
    return ok_status();
}

Status run_revoke(const KeysArgs& a) {
    WARD_ASSIGN_OR_RETURN(server::KeyStore store, open_existing(a));
    WARD_TRY(store.revoke(a.id));
#ifdef WARD_HAS_AUDIT
    WARD_ASSIGN_OR_RETURN(KeyAudit audit_log, KeyAudit::open(a));
    WARD_TRY(audit_log.record("revoke", a.id));
#endif
    std::fprintf(stderr, "revoked key %s\n", a.id.c_str());
    return ok_status();
}

}  // namespace

void register_keys_commands(CLI::App& app, Context& ctx) {
    auto args = std::make_shared<KeysArgs>();
    CLI::App* keys = app.add_subcommand("keys", "Create, list and revoke API keys");
    keys->require_subcommand(1);
    const char* dir_help = "Data directory holding keys.db (default $WARD_DATA_DIR or ward-data)";

    CLI::App* create = keys->add_subcommand("create", "Create a key; prints it once on stdout");
    create->add_option("--name", args->name, "Who or what the key is for")->required();
    create->add_option("--role", args->role, "clinician, researcher, service or admin")
        ->required()
        ->check(CLI::IsMember({"clinician", "researcher", "service", "admin"}));
    create->add_option("--data-dir", args->data_dir, dir_help);
    set_action(create, ctx, [args] { return run_create(*args); });

    CLI::App* list = keys->add_subcommand("list", "List keys (never their secrets or hashes)");
    list->add_option("--data-dir", args->data_dir, dir_help);
    set_action(list, ctx, [args] { return run_list(*args); });

    CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key by its id");
    revoke->add_option("id", args->id, "Key id (the 8 characters after ward_)")->required();
    revoke->add_option("--data-dir", args->data_dir, dir_help);
    set_action(revoke, ctx, [args] { return run_revoke(*args); });
}

}  // namespace ward::cli
