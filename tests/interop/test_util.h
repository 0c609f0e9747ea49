// Helpers shared by the interop tests: where the shared data and the goldens live.
#pragma once

#include <cstdlib>
#include <string>

#include "common/mapped_file.h"

namespace ward::interop::testing {

inline std::string shared_data() {
    const char* env = std::getenv("WARD_SHARED_DATA");
    return env && *env ? env : WARD_SHARED_DATA;
}
inline std::string source_dir() {
    const char* env = std::getenv("WARD_SOURCE_DIR");
    return env && *env ? env : WARD_SOURCE_DIR;
}
inline std::string synthea(const std::string& name) {
    return shared_data() + "/fhir/synthea/" + name;
}
inline std::string slurp(const std::string& path) {
    auto r = ward::read_file(path);
    return r ? *r : std::string();
}

// The six Synthea patient bundles of the shared data.
inline const char* const kSyntheaPatients[] = {
    "Bibi254_Schowalter414_475d72ca-91c7-7211-97e3-f000af33fc04.json",
    "Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json",
    "Denisha680_Keeling57_6a93e0ad-9bd0-6d85-34a7-015186f7880a.json",
    "Hipolito984_Schulist381_6b9c211c-2c38-3955-43a0-4d285c714fab.json",
    "Les282_Bernier607_4f1ad84a-f8a2-2de6-343d-007efe781585.json",
    "Leta870_Kihn564_5a67c244-3dae-770c-1a41-85790f73b1b1.json",
};

}  // namespace ward::interop::testing
