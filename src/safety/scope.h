// The scope rail: keeps a task to its purpose. Each task has a ScopePolicy (plain data, one
// TOML table per task): refused topics, each a list of patterns with the reason the user is
// told, and optionally the topics the task is for. A request fires when it matches a refused
// topic, or, when the policy lists allowed topics, when it matches none of them.
//
// Built-in policies: "patient-education" refuses prescribing, the dosing or misuse of
// controlled substances, and diagnosing a named patient; "summary" (clinical documentation)
// refuses creative writing, programming and other unrelated requests. Other tasks have no
// scope policy by default.
//
// Thread safety: a ScopeRail is immutable after create(); check() may run on any number of
// threads at once. Copies share the compiled patterns.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "safety/pattern_set.h"
#include "safety/rail.h"

namespace ward::safety {

struct ScopeTopic {
    std::string name;                   // becomes RailResult::rule: "controlled_substance"
    std::vector<std::string> patterns;  // safety/pattern_set.h syntax; may use the policy's sets
    std::string reason;                 // told to the user when the topic is refused
};

struct ScopePolicy {
    std::string task;     // "patient-education"
    std::string purpose;  // one sentence, for help texts and refusals
    // Word sets the patterns use as @name: name -> "a|b|c".
    std::map<std::string, std::string> sets;
    std::vector<ScopeTopic> refused;
    // When not empty, a request must match one of these patterns to be in scope.
    std::vector<std::string> allowed;
    // The reason given when allowed is not empty and nothing matched.
    std::string out_of_scope_reason;
};

// The built-in policy of `task` ("patient-education", "summary"). NotFound naming the tasks that
// have one otherwise.
Result<ScopePolicy> default_scope_policy(std::string_view task);
// The tasks with a built-in policy, in a stable order.
std::vector<std::string> default_scope_tasks();

class ScopeRail final : public Rail {
  public:
    // Compiles the policy. InvalidArgument naming the task, topic and pattern for a pattern that
    // does not compile or uses an unknown set, a topic without a name, patterns or reason, or
    // allowed patterns without an out_of_scope_reason.
    static Result<ScopeRail> create(const ScopePolicy& policy);

    std::string_view name() const override { return "scope"; }

    // When fired: rule is the refused topic's name (the first topic in policy order that
    // matched), or "out_of_scope" when allowed topics are configured and none matched; detail is
    // the reason to tell the user; spans are the refused topic's matches (none for
    // out_of_scope). Score: 1 for a refused topic, 0.6 for out_of_scope.
    RailResult check(std::string_view request) const override;

    const ScopePolicy& policy() const { return *policy_; }

  private:
    ScopeRail(std::shared_ptr<const ScopePolicy> policy, std::shared_ptr<const PatternSet> refused,
              std::shared_ptr<const PatternSet> allowed);
    std::shared_ptr<const ScopePolicy> policy_;
    std::shared_ptr<const PatternSet> refused_;  // rule = topic name
    std::shared_ptr<const PatternSet> allowed_;
};

}  // namespace ward::safety
