#include "safety/pipeline.h"

#include <algorithm>
#include <cctype>

#include <fmt/ranges.h>

#include "safety/registry.h"

namespace ward::safety {

std::string_view stage_name(Stage stage) {
    switch (stage) {
        case Stage::kInput:
            return "input";
        case Stage::kData:
            return "data";
        case Stage::kOutput:
            return "output";
    }
    return "input";
}

int action_strength(Action action) {
    switch (action) {
        case Action::kPass:
            return 0;
        case Action::kFlag:
            return 1;
        case Action::kModify:
            return 2;
        case Action::kBlock:
            return 3;
    }
    return 0;
}

std::string redact_spans(std::string_view text, std::vector<Span> spans) {
    std::erase_if(spans, [&](const Span& s) { return s.begin >= s.end || s.end > text.size(); });
    std::stable_sort(spans.begin(), spans.end(),
                     [](const Span& a, const Span& b) { return a.begin < b.begin; });
    std::string out;
    size_t pos = 0;
    for (size_t i = 0; i < spans.size();) {
        size_t begin = spans[i].begin, end = spans[i].end;
        std::string label = spans[i].label;
        size_t j = i + 1;
        while (j < spans.size() && spans[j].begin < end) end = std::max(end, spans[j++].end);
        out.append(text.substr(pos, begin - pos));
        for (char& c : label) c = char(std::toupper(static_cast<unsigned char>(c)));
        out += "[" + (label.empty() ? std::string("REDACTED") : label) + "]";
        pos = end;
        i = j;
    }
    out.append(text.substr(pos));
    return out;
}

namespace {

struct BoundRail {
    std::shared_ptr<const Rail> rail;
    Action action = Action::kPass;
};

struct TaskPlan {
    std::string task;
    std::vector<BoundRail> input, data, output, output_deidentified;
};

bool registered(std::string_view name) {
    for (const auto& r : rails()) {
        if (r.name == name) return true;
    }
    return false;
}

std::string blocked_reply(const RailResult& r, const CrisisOptions& crisis) {
    if (r.rail == "crisis") return escalation(r, crisis).text;
    if (r.rail == "scope") return "I can't help with that request here. " + r.detail;
    return "Ward's " + r.rail + " check stopped this text (" + r.rule +
           "). It has not been used; a member of staff can review it.";
}

}  // namespace

PipelineConfig default_pipeline_config() {
    PipelineConfig c;
    bool has_dose = registered("dose");
    for (std::string task : {"chat", "ask", "summary", "patient-education"}) {
        TaskRails t;
        t.task = task;
        t.input = {{"crisis", Action::kBlock}, {"injection", Action::kFlag}};
        t.data = {{"injection", Action::kFlag}};
        if (has_dose) t.output.push_back({"dose", Action::kFlag});
        t.output_deidentified = {{"phi-leak", Action::kModify}};
        if (task == "summary" || task == "patient-education") {
            t.input.push_back({"scope", Action::kBlock});
            t.scope = default_scope_policy(task).value();
        }
        c.tasks.push_back(std::move(t));
    }
    return c;
}

struct Pipeline::Impl {
    using Plan = TaskPlan;
    std::vector<TaskPlan> plans;
    CrisisOptions crisis;
    // The plan of `task`; NotFound naming the configured tasks otherwise.
    Result<const Plan*> find(std::string_view task) const;
};

Pipeline::Pipeline(std::unique_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

Result<Pipeline> Pipeline::create(const PipelineConfig& config) {
    auto impl = std::make_unique<Impl>();
    impl->crisis = config.crisis;
    // Rails without per-task options are built once and shared by every task that uses them.
    std::map<std::string, std::shared_ptr<const Rail>, std::less<>> shared;
    auto build_shared = [&](const std::string& name) -> Result<std::shared_ptr<const Rail>> {
        if (auto it = shared.find(name); it != shared.end()) return it->second;
        std::shared_ptr<const Rail> rail;
        if (name == "crisis") {
            WARD_ASSIGN_OR_RETURN(CrisisDetector d, CrisisDetector::create(config.crisis));
            rail = std::make_shared<CrisisDetector>(std::move(d));
        } else if (name == "injection") {
            WARD_ASSIGN_OR_RETURN(InjectionDetector d, InjectionDetector::create(config.injection));
            rail = std::make_shared<InjectionDetector>(std::move(d));
        } else if (name == "phi-leak") {
            WARD_ASSIGN_OR_RETURN(PhiLeakRail d, PhiLeakRail::create(config.phi_leak));
            rail = std::make_shared<PhiLeakRail>(std::move(d));
        } else {
            auto made = make_rail(name);
            if (!made) {
                if (made.error().code() == StatusCode::kNotFound) {
                    return invalid_argument("{}", made.error().message());
                }
                return made.error();
            }
            rail = std::shared_ptr<const Rail>(std::move(*made));
        }
        shared.emplace(name, rail);
        return rail;
    };

    for (const TaskRails& t : config.tasks) {
        if (t.task.empty()) return invalid_argument("safety pipeline: a task has no name");
        for (const TaskPlan& p : impl->plans) {
            if (p.task == t.task) {
                return invalid_argument("safety pipeline: task \"{}\" is configured twice", t.task);
            }
        }
        TaskPlan plan;
        plan.task = t.task;
        std::shared_ptr<const Rail> scope;
        auto bind = [&](const std::vector<RailAction>& list, std::string_view stage,
                        std::vector<BoundRail>& out) -> Status {
            for (const RailAction& ra : list) {
                std::string where = fmt::format("safety pipeline: task \"{}\" {} rail \"{}\"",
                                                t.task, stage, ra.rail);
                std::shared_ptr<const Rail> rail;
                if (ra.rail == "scope") {
                    if (!t.scope) {
                        return invalid_argument("{}: the task has no scope policy", where);
                    }
                    if (!scope) {
                        auto made = ScopeRail::create(*t.scope);
                        if (!made) return made.error().with_context(where);
                        scope = std::make_shared<ScopeRail>(std::move(*made));
                    }
                    rail = scope;
                } else {
                    auto made = build_shared(ra.rail);
                    if (!made) return made.error().with_context(where);
                    rail = *made;
                }
                out.push_back({std::move(rail), ra.action});
            }
            return ok_status();
        };
        WARD_TRY(bind(t.input, "input", plan.input));
        WARD_TRY(bind(t.data, "data", plan.data));
        WARD_TRY(bind(t.output, "output", plan.output));
        WARD_TRY(bind(t.output_deidentified, "output_deidentified", plan.output_deidentified));
        impl->plans.push_back(std::move(plan));
    }
    return Pipeline(std::move(impl));
}

std::vector<std::string> Pipeline::tasks() const {
    std::vector<std::string> out;
    for (const auto& p : impl_->plans) out.push_back(p.task);
    return out;
}

namespace {

Outcome run_rails(std::initializer_list<const std::vector<BoundRail>*> lists, std::string_view text,
                  const CrisisOptions& crisis) {
    Outcome o;
    std::vector<Span> to_redact;
    const RailResult* blocker = nullptr;
    for (const auto* list : lists) {
        for (const BoundRail& b : *list) {
            o.results.push_back(b.rail->check(text));
        }
    }
    size_t i = 0;
    for (const auto* list : lists) {
        for (const BoundRail& b : *list) {
            const RailResult& r = o.results[i++];
            if (!r.fired) continue;
            o.flags.push_back(r.rail);
            if (action_strength(b.action) > action_strength(o.action)) o.action = b.action;
            switch (b.action) {
                case Action::kPass:
                    break;
                case Action::kFlag:
                    o.review = true;
                    break;
                case Action::kModify:
                    to_redact.insert(to_redact.end(), r.spans.begin(), r.spans.end());
                    break;
                case Action::kBlock:
                    // A crisis reply goes first whatever the order; otherwise the first blocker.
                    if (blocker == nullptr || (r.rail == "crisis" && blocker->rail != "crisis")) {
                        blocker = &r;
                    }
                    break;
            }
            if (r.rail == "crisis" && escalation(r, crisis).human_follow_up) o.review = true;
        }
    }
    if (o.action == Action::kBlock) {
        o.reply = blocked_reply(*blocker, crisis);
        o.blocked_by = blocker->rail;
    } else if (o.action == Action::kModify) {
        o.text = redact_spans(text, std::move(to_redact));
    }
    return o;
}

}  // namespace

Result<const Pipeline::Impl::Plan*> Pipeline::Impl::find(std::string_view task) const {
    for (const auto& p : plans) {
        if (p.task == task) return &p;
    }
    std::vector<std::string> names;
    for (const auto& p : plans) names.push_back(p.task);
    return not_found("safety pipeline: unknown task \"{}\" (tasks: {})", task,
                     fmt::join(names, ", "));
}

Result<Outcome> Pipeline::run_input(std::string_view task, std::string_view text) const {
    WARD_ASSIGN_OR_RETURN(const Impl::Plan* p, impl_->find(task));
    return run_rails({&p->input}, text, impl_->crisis);
}

Result<Outcome> Pipeline::run_data(std::string_view task, std::string_view text) const {
    WARD_ASSIGN_OR_RETURN(const Impl::Plan* p, impl_->find(task));
    return run_rails({&p->data}, text, impl_->crisis);
}

Result<Outcome> Pipeline::run_output(std::string_view task, std::string_view text,
                                     bool role_sees_phi) const {
    WARD_ASSIGN_OR_RETURN(const Impl::Plan* p, impl_->find(task));
    if (role_sees_phi) return run_rails({&p->output}, text, impl_->crisis);
    return run_rails({&p->output, &p->output_deidentified}, text, impl_->crisis);
}

}  // namespace ward::safety
