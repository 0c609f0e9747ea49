// The rail pipeline: per task, which rails run on a user's input, on the data fenced into the
// prompt (notes, documents, retrieved passages) and on the model's output, and what each rail's
// firing does (safety::Action). The outcome of a run is what the server puts in the response
// and in the audit record: the strongest action, every rail's result, the modified text or the
// code-written reply, and the names of the rails that fired.
//
// Defaults (default_pipeline_config()):
//   task               input                                 data             output
//   chat               crisis block, injection flag          injection flag   dose flag
//   ask                crisis block, injection flag          injection flag   dose flag
//   summary            crisis block, injection flag,         injection flag   dose flag
//                      scope block (documentation policy)
//   patient-education  crisis block, injection flag,         injection flag   dose flag
//                      scope block (patient-education policy)
// and for every task, on outputs for roles that may only see de-identified text: phi-leak
// modify (the identifiers are replaced by their tag, "[NAME]"). The dose rail is included only
// when the registry has it.
//
// Rails are built once in create(): "crisis", "injection" and "phi-leak" with the options in the
// config, "scope" per task from the task's policy, any other name through the registry
// (safety/registry.h), so a rail registered later is usable by name.
//
// Thread safety: a Pipeline is immutable after create(); run_*() may be called from any number
// of threads at once.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "safety/crisis.h"
#include "safety/injection.h"
#include "safety/phi_leak.h"
#include "safety/rail.h"
#include "safety/scope.h"

namespace ward::safety {

// Where in a request a text comes from.
enum class Stage { kInput, kData, kOutput };
// "input", "data", "output".
std::string_view stage_name(Stage stage);

struct RailAction {
    std::string rail;  // a registered rail name
    Action action = Action::kFlag;
};

struct TaskRails {
    std::string task;  // "chat"
    std::vector<RailAction> input;
    std::vector<RailAction> data;
    std::vector<RailAction> output;
    // Also run on outputs when the caller's role may not see PHI (run_output's role_sees_phi).
    std::vector<RailAction> output_deidentified;
    // The policy of the "scope" rail; required when a list above names "scope".
    std::optional<ScopePolicy> scope;
};

struct PipelineConfig {
    std::vector<TaskRails> tasks;
    CrisisOptions crisis;  // also the escalation text and resources of a crisis reply
    InjectionOptions injection;
    PhiLeakOptions phi_leak;
};

// The defaults in the table above.
PipelineConfig default_pipeline_config();

struct Outcome {
    Action action = Action::kPass;    // the strongest: block > modify > flag > pass
    std::vector<RailResult> results;  // one per rail run, in configuration order
    std::vector<std::string> flags;   // the rails that fired, in order ("crisis", "injection")
    std::string text;                 // kModify: the text with the evidence replaced; else empty
    std::string reply;                // kBlock: the code-written reply; else empty
    std::string blocked_by;           // kBlock: the rail whose reply was chosen
    // A human should look: a rail mapped to flag fired, or a crisis needs follow-up. A
    // modified or blocked text can need review too, so this is not implied by `action`.
    bool review = false;
};

class Pipeline {
  public:
    // Builds every rail named in `config`. InvalidArgument naming the task, stage and rail for an
    // unknown rail name (with the names that exist), a duplicate or empty task name, or a task
    // that names "scope" without a policy; a rail's own error when it cannot be built.
    static Result<Pipeline> create(const PipelineConfig& config);

    // Runs the task's rails of that stage over `text`. NotFound naming the tasks for an unknown
    // task. role_sees_phi = false adds the task's output_deidentified rails.
    Result<Outcome> run_input(std::string_view task, std::string_view text) const;
    Result<Outcome> run_data(std::string_view task, std::string_view text) const;
    Result<Outcome> run_output(std::string_view task, std::string_view text,
                               bool role_sees_phi = true) const;

    // The configured task names, in configuration order.
    std::vector<std::string> tasks() const;

    ~Pipeline();
    Pipeline(Pipeline&&) noexcept;
    Pipeline& operator=(Pipeline&&) noexcept;

  private:
    struct Impl;
    explicit Pipeline(std::unique_ptr<const Impl> impl);
    std::unique_ptr<const Impl> impl_;
};

// How strong an action is: pass 0 < flag 1 < modify 2 < block 3.
int action_strength(Action action);

// `text` with every span replaced by "[LABEL]" (the label upper-cased); overlapping spans are
// merged and take the first one's label. Spans must lie inside `text`; others are skipped.
std::string redact_spans(std::string_view text, std::vector<Span> spans);

}  // namespace ward::safety
