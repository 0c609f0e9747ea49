// The rails Ward has, by name, so that callers (the pipeline, `ward safety check --rail NAME`)
// build one without knowing its class. Adding a rail: implement safety::Rail, then add one row
// to the table in registry.cpp.
//
// Thread safety: the table is constant; make_rail() may run on any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "safety/rail.h"

namespace ward::safety {

struct RailInfo {
    std::string_view name;     // "crisis"
    std::string_view summary;  // one line for help texts
};

// Every registered rail, in a stable order.
const std::vector<RailInfo>& rails();

// "crisis, ..." — the registered names, comma-separated.
std::string rail_names();

// Builds the rail `name` with its default options. NotFound, naming the rails that exist, when
// there is no such rail; a rail's own error when it cannot be built.
Result<std::unique_ptr<Rail>> make_rail(std::string_view name);

}  // namespace ward::safety
