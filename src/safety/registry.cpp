#include "safety/registry.h"

#include "safety/crisis.h"
#include "safety/dose.h"

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
