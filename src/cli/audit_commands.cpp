// The `ward audit` subcommands (docs/audit.md):
//   ward audit verify [--db PATH]       recompute the hash chain and compare with the head file
//   ward audit export --format fhir [--db PATH] [--out FILE]   AuditEvent NDJSON
//   ward audit head [--db PATH]         "<seq> <hash>" of the newest record, to ship elsewhere
// The default log is $WARD_DATA_DIR/audit.db, else ward-data/audit.db.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "audit/audit.h"
#include "cli/cli.h"

namespace ward::cli {
namespace {

struct AuditArgs {
    std::string db;
    std::string format = "fhir";
    std::string out;
};

// Opens an existing log; never creates one (a typo in --db must not pass as an empty log).
Result<std::unique_ptr<audit::AuditLog>> open_existing(const AuditArgs& a) {
    std::string path = a.db.empty() ? audit::default_audit_path() : a.db;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return not_found("audit: no audit log at {} (set --db or WARD_DATA_DIR)", path);
    }
    return audit::AuditLog::open(path);
}

Status run_verify(const AuditArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto log, open_existing(a));
    WARD_ASSIGN_OR_RETURN(audit::VerifyReport report, log->verify());
    if (!report.ok) return data_loss("audit: {}", report.problem);
    std::printf("ok: %lld records, head %s\n", static_cast<long long>(report.records),
                report.head.hash.c_str());
    return ok_status();
}

Status run_export(const AuditArgs& a) {
    if (a.format != "fhir")
        return invalid_argument("audit: unknown export format \"{}\"", a.format);
    WARD_ASSIGN_OR_RETURN(auto log, open_existing(a));
    if (a.out.empty() || a.out == "-") return log->export_fhir(std::cout);
    std::string tmp = a.out + ".partial";
    {
        std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
        if (!file) return internal_error("audit: cannot write {}", tmp);
        Status s = log->export_fhir(file);
        file.close();
        if (!s.ok() || !file) {
            std::remove(tmp.c_str());
            return s.ok() ? internal_error("audit: cannot write {}", tmp) : s;
        }
    }
    if (std::rename(tmp.c_str(), a.out.c_str()) != 0) {
        std::remove(tmp.c_str());
        return internal_error("audit: cannot rename {} to {}", tmp, a.out);
    }
    return ok_status();
}

Status run_head(const AuditArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto log, open_existing(a));
    WARD_ASSIGN_OR_RETURN(audit::AuditHead head, log->head());
    std::fputs(audit::format_head(head).c_str(), stdout);
    return ok_status();
}

}  // namespace

void register_audit_commands(CLI::App& app, Context& ctx) {
    auto args = std::make_shared<AuditArgs>();
    CLI::App* audit_cmd = app.add_subcommand("audit", "Verify and export the audit trail");
    audit_cmd->require_subcommand(1);

    CLI::App* verify = audit_cmd->add_subcommand(
        "verify", "Recompute the hash chain; exit 1 naming the first broken record");
    verify->add_option("--db", args->db, "Audit log (default $WARD_DATA_DIR/audit.db)");
    set_action(verify, ctx, [args] { return run_verify(*args); });

    CLI::App* exp =
        audit_cmd->add_subcommand("export", "Export the log as FHIR R4 AuditEvent NDJSON");
    exp->add_option("--format", args->format, "Export format")->check(CLI::IsMember({"fhir"}));
    exp->add_option("--db", args->db, "Audit log (default $WARD_DATA_DIR/audit.db)");
    exp->add_option("--out", args->out, "Output file (default stdout)");
    set_action(exp, ctx, [args] { return run_export(*args); });

    CLI::App* head = audit_cmd->add_subcommand(
        "head", "Print \"<seq> <hash>\" of the newest record (ship it to another system)");
    head->add_option("--db", args->db, "Audit log (default $WARD_DATA_DIR/audit.db)");
    set_action(head, ctx, [args] { return run_head(*args); });
}

}  // namespace ward::cli
