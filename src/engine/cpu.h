// CPU features and the kernel path the engine uses. One portable binary runs everywhere: the
// SIMD kernels are compiled per file for their instruction sets and chosen at run time from
// CPUID, never by -march at build time.
//
// Paths: kPortable (plain C++, any x86-64), kAvx2 (AVX2 + FMA + F16C), kAvx512 (AVX-512 F, BW,
// VL and VNNI). The environment variable WARD_KERNELS=portable|avx2|avx512 or
// set_kernel_path() picks a lower path (tests force each one).
//
// Thread safety: cpu_features() is safe from any thread; set_kernel_path() must not race with
// running forward passes.
#pragma once

#include <string_view>

#include "common/status.h"

namespace ward::engine {

struct CpuFeatures {
    bool avx2 = false, fma = false, f16c = false;
    bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false;
};

const CpuFeatures& cpu_features();

enum class KernelPath { kPortable = 0, kAvx2 = 1, kAvx512 = 2 };
std::string_view kernel_path_name(KernelPath path);
Result<KernelPath> parse_kernel_path(std::string_view name);

// True when this CPU can run the path.
bool kernel_path_supported(KernelPath path);
// The best path this CPU supports.
KernelPath best_kernel_path();
// The path in use: WARD_KERNELS if set and supported, else the best.
KernelPath active_kernel_path();
// Errors: kFailedPrecondition when this CPU cannot run `path`.
Status set_kernel_path(KernelPath path);

}  // namespace ward::engine
