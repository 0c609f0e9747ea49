// The `ward` subcommands of the interop part: ingest, patient list/show, mllp.
//
// The patient store is a SQLite file: --db, else $WARD_DATA_DIR/patients.db, else
// ./ward-patients.db.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "cli/cli.h"
#include "common/civil_date.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/mapped_file.h"
#include "interop/context.h"
#include "interop/fhir.h"
#include "interop/hl7.h"
#include "interop/ingest.h"
#include "interop/mllp.h"
#include "interop/store.h"

namespace ward::cli {

namespace {

std::string default_db() {
    const char* dir = std::getenv("WARD_DATA_DIR");
    if (dir && *dir) return std::string(dir) + "/patients.db";
    return "ward-patients.db";
}

struct IngestArgs {
    std::vector<std::string> files;
    std::string db;
    bool strict = false;
};

Status ingest(const IngestArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, interop::PatientStore::open(a.db));
    size_t n_errors = 0, n_files_with_errors = 0;
    for (const auto& path : a.files) {
        WARD_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
        std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
        interop::ReadResult r = interop::read_clinical_data(text, path, path);
        interop::IngestLogEntry entry{
            path,
            crypto::sha256_hex(text),
            r.report.n_resources,
            r.report.n_read,
            r.report.errors.size(),
            r.report.errors.empty() ? "" : r.report.errors[0].to_string()};
        for (const auto& e : r.report.errors) {
            std::fprintf(stderr, "%s: %s\n", path.c_str(), e.to_string().c_str());
        }
        n_errors += r.report.errors.size();
        if (!r.report.errors.empty()) ++n_files_with_errors;
        size_t n_patients = r.patients.size();
        std::printf("%s: %zu resources, %zu read, %zu kept unread, %zu errors, %zu patients\n",
                    path.c_str(), r.report.n_resources, r.report.n_read, r.report.n_unknown(),
                    r.report.errors.size(), n_patients);
        // What was read is kept even when some of the file was bad.
        WARD_TRY(store.put(std::move(r), path));
        WARD_TRY(store.log_ingest(entry));
    }
    if (n_errors > 0) {
        return invalid_argument(
            "ingest: {} errors in {} of {} files (everything else was stored; "
            "the errors are listed above)",
            n_errors, n_files_with_errors, a.files.size());
    }
    return Status();
}

struct ShowArgs {
    std::string id;
    std::string db;
    std::string profile;
    size_t budget = 1500;
    std::string as_of;
    bool sources = false;
};

Status patient_list(const std::string& db) {
    WARD_ASSIGN_OR_RETURN(auto store, interop::PatientStore::open(db));
    WARD_ASSIGN_OR_RETURN(auto list, store.list());
    for (const auto& p : list) {
        std::printf("%s\t%s\t%s\t%s\t%zu items\n", p.id.c_str(), p.name.c_str(), p.gender.c_str(),
                    p.birth_date.c_str(), p.n_items);
    }
    return Status();
}

Status patient_show(const ShowArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, interop::PatientStore::open(a.db));
    WARD_ASSIGN_OR_RETURN(interop::PatientRecord rec, store.get(a.id));
    if (a.profile.empty()) {
        std::printf("%s\n", interop::record_to_json(rec).c_str());
        return Status();
    }
    WARD_ASSIGN_OR_RETURN(interop::Profile profile, interop::parse_profile(a.profile));
    interop::ContextOptions o;
    o.profile = profile;
    o.token_budget = a.budget;
    o.reference_date = a.as_of.empty() ? utc_now(kIsoDate) : a.as_of;
    WARD_ASSIGN_OR_RETURN(interop::Context ctx, interop::build_context(rec, o));
    std::fputs(ctx.text.c_str(), stdout);
    if (a.sources) {
        std::printf("\nSources:\n");
        for (const auto& c : ctx.citations) {
            std::string s;
            for (const auto& src : c.sources) s += (s.empty() ? "" : ", ") + src.to_string();
            std::printf("[%s] %s\n", c.id.c_str(), s.c_str());
        }
    }
    std::fprintf(stderr, "(%zu tokens estimated of %zu; %zu items, %zu omitted)\n",
                 ctx.estimated_tokens, a.budget, ctx.n_included, ctx.n_omitted);
    return Status();
}

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) {
    g_stop.store(true);
}

struct MllpArgs {
    int port = 2575;
    std::string host = "127.0.0.1";
    std::string db;
};

Status mllp(const MllpArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, interop::PatientStore::open(a.db));
    interop::MllpOptions o;
    o.host = a.host;
    o.port = static_cast<uint16_t>(a.port);
    auto handler = [&store](std::string_view message, const std::string& peer) {
        return interop::handle_hl7_message(message, store, "mllp:" + peer, utc_now(kHl7Timestamp));
    };
    WARD_ASSIGN_OR_RETURN(auto server, interop::MllpServer::start(o, handler));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::fprintf(stderr, "ward: mllp listening on %s:%u, storing into %s (Ctrl-C to stop)\n",
                 a.host.c_str(), server->port(), a.db.c_str());
    while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server->stop();
    std::fprintf(stderr, "ward: mllp stopped after %zu messages\n", server->messages_handled());
    return Status();
}

}  // namespace

void register_interop_commands(CLI::App& app, Context& ctx) {
    auto ingest_args = std::make_shared<IngestArgs>();
    ingest_args->db = default_db();
    CLI::App* ing = app.add_subcommand(
        "ingest", "Read FHIR R4 JSON/Bundles, Bulk NDJSON and HL7 v2 files into the patient store");
    ing->add_option("files", ingest_args->files, "Files to read (.json, .ndjson, .hl7)")
        ->required()
        ->check(CLI::ExistingFile);
    ing->add_option("--db", ingest_args->db, "Patient store (SQLite file)");
    set_action(ing, ctx, [ingest_args] { return ingest(*ingest_args); });

    CLI::App* patient = app.add_subcommand("patient", "List and show stored patients");
    patient->require_subcommand(1);
    auto list_db = std::make_shared<std::string>(default_db());
    CLI::App* list = patient->add_subcommand("list", "List stored patients");
    list->add_option("--db", *list_db, "Patient store (SQLite file)");
    set_action(list, ctx, [list_db] { return patient_list(*list_db); });

    auto show_args = std::make_shared<ShowArgs>();
    show_args->db = default_db();
    CLI::App* show = patient->add_subcommand(
        "show", "Show a patient's record (JSON), or its model context with --context");
    show->add_option("id", show_args->id, "Patient id or identifier (MRN)")->required();
    show->add_option("--db", show_args->db, "Patient store (SQLite file)");
    show->add_option("--context", show_args->profile,
                     "Build the context for a profile: general, oncology, dermatology, dental, "
                     "neurology, mental-health");
    show->add_option("--budget", show_args->budget, "Token budget of the context")
        ->check(CLI::Range(size_t{16}, size_t{1} << 20));
    show->add_option("--as-of", show_args->as_of, "Reference date YYYY-MM-DD (default: today)");
    show->add_flag("--sources", show_args->sources, "Print the sources of each cited item");
    set_action(show, ctx, [show_args] { return patient_show(*show_args); });

    auto mllp_args = std::make_shared<MllpArgs>();
    mllp_args->db = default_db();
    CLI::App* ml = app.add_subcommand("mllp", "Receive HL7 v2 over MLLP, acknowledge and store");
    ml->add_option("--port", mllp_args->port, "TCP port (0: any free port)")
        ->check(CLI::Range(0, 65535));
    ml->add_option("--host", mllp_args->host, "Address to bind");
    ml->add_option("--db", mllp_args->db, "Patient store (SQLite file)");
    set_action(ml, ctx, [mllp_args] { return mllp(*mllp_args); });
}

}  // namespace ward::cli
