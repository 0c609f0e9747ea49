#include "safety/registry.h"

#include "safety/crisis.h"
#include "safety/dose.h"
#include "safety/injection.h"
#include "safety/phi_leak.h"
#include "safety/scope.h"

namespace ward::safety {
namespace {

struct Registration {
    RailInfo info;
    Result<std::unique_ptr<Rail>> (*make)();
};

Result<std::unique_ptr<Rail>> make_crisis() {
    WARD_ASSIGN_OR_RETURN(CrisisDetector d, CrisisDetector::create({}));
    return std::unique_ptr<Rail>(std::make_unique<CrisisDetector>(std::move(d)));
}

Result<std::unique_ptr<Rail>> make_injection() {
    WARD_ASSIGN_OR_RETURN(InjectionDetector d, InjectionDetector::create({}));
    return std::unique_ptr<Rail>(std::make_unique<InjectionDetector>(std::move(d)));
}

Result<std::unique_ptr<Rail>> make_phi_leak() {
    WARD_ASSIGN_OR_RETURN(PhiLeakRail r, PhiLeakRail::create({}));
    return std::unique_ptr<Rail>(std::make_unique<PhiLeakRail>(std::move(r)));
}

// Without a task, the scope rail applies the patient-education policy, the strictest built-in.
Result<std::unique_ptr<Rail>> make_scope() {
    WARD_ASSIGN_OR_RETURN(ScopePolicy policy, default_scope_policy("patient-education"));
    WARD_ASSIGN_OR_RETURN(ScopeRail r, ScopeRail::create(policy));
    return std::unique_ptr<Rail>(std::make_unique<ScopeRail>(std::move(r)));
}

Result<std::unique_ptr<Rail>> make_dose() {
    WARD_ASSIGN_OR_RETURN(DoseChecker d, DoseChecker::create({}));
    return std::unique_ptr<Rail>(std::make_unique<DoseChecker>(std::move(d)));
}

const std::vector<Registration>& registrations() {
    static const std::vector<Registration> table = {
        {{"crisis",
          "suicidal or self-harm intent, plans and means, recent attempts, harm to others, "
          "abuse"},
         &make_crisis},
        {{"dose",
          "doses above the label maximum (daily, single, per kg) and mg/mcg mix-ups for common "
          "drugs"},
         &make_dose},
        {{"injection",
          "instructions aimed at the assistant inside notes, documents and retrieved passages"},
         &make_injection},
        {{"phi-leak", "identifiers (the deid detector) in an output meant for de-identified roles"},
         &make_phi_leak},
        {{"scope", "requests outside a task's purpose (default: the patient-education policy)"},
         &make_scope},
    };
    return table;
}

}  // namespace

const std::vector<RailInfo>& rails() {
    static const std::vector<RailInfo> infos = [] {
        std::vector<RailInfo> out;
        for (const auto& r : registrations()) out.push_back(r.info);
        return out;
    }();
    return infos;
}

std::string rail_names() {
    std::string out;
    for (const auto& r : rails()) out += (out.empty() ? "" : ", ") + std::string(r.name);
    return out;
}

Result<std::unique_ptr<Rail>> make_rail(std::string_view name) {
    for (const auto& r : registrations()) {
        if (r.info.name == name) return r.make();
    }
    return not_found("safety: unknown rail \"{}\" (rails: {})", name, rail_names());
}

}  // namespace ward::safety
