#include "engine/cpu.h"

#include <atomic>
#include <cstdlib>

namespace ward::engine {

const CpuFeatures& cpu_features() {
    static const CpuFeatures features = [] {
        CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        f.avx2 = __builtin_cpu_supports("avx2");
        f.fma = __builtin_cpu_supports("fma");
        f.avx512f = __builtin_cpu_supports("avx512f");
        f.avx512bw = __builtin_cpu_supports("avx512bw");
        f.avx512vl = __builtin_cpu_supports("avx512vl");
        f.avx512vnni = __builtin_cpu_supports("avx512vnni");
        // F16C has no __builtin_cpu_supports name in GCC 12: CPUID leaf 1, ECX bit 29.
        unsigned eax, ebx, ecx, edx;
        __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
        f.f16c = (ecx >> 29) & 1;
#endif
        return f;
    }();
    return features;
}

std::string_view kernel_path_name(KernelPath path) {
    switch (path) {
        case KernelPath::kPortable:
            return "portable";
        case KernelPath::kAvx2:
            return "avx2";
        case KernelPath::kAvx512:
            return "avx512";
    }
    return "?";
}

Result<KernelPath> parse_kernel_path(std::string_view name) {
    if (name == "portable") return KernelPath::kPortable;
    if (name == "avx2") return KernelPath::kAvx2;
    if (name == "avx512") return KernelPath::kAvx512;
    return invalid_argument("kernel path \"{}\" is not one of: portable, avx2, avx512", name);
}

bool kernel_path_supported(KernelPath path) {
    const CpuFeatures& f = cpu_features();
    switch (path) {
        case KernelPath::kPortable:
            return true;
        case KernelPath::kAvx2:
            return f.avx2 && f.fma && f.f16c;
        case KernelPath::kAvx512:
            return kernel_path_supported(KernelPath::kAvx2) && f.avx512f && f.avx512bw &&
                   f.avx512vl && f.avx512vnni;
    }
    return false;
}

KernelPath best_kernel_path() {
    for (KernelPath p : {KernelPath::kAvx512, KernelPath::kAvx2}) {
        if (kernel_path_supported(p)) return p;
    }
    return KernelPath::kPortable;
}

namespace {
std::atomic<int>& current_path() {
    static std::atomic<int> path = [] {
        KernelPath p = best_kernel_path();
        if (const char* env = std::getenv("WARD_KERNELS")) {
            auto parsed = parse_kernel_path(env);
            if (parsed && kernel_path_supported(*parsed)) p = *parsed;
        }
        return static_cast<int>(p);
    }();
    return path;
}
}  // namespace

KernelPath active_kernel_path() {
    return static_cast<KernelPath>(current_path().load());
}

Status set_kernel_path(KernelPath path) {
    if (!kernel_path_supported(path)) {
        return failed_precondition("this CPU cannot run the {} kernels", kernel_path_name(path));
    }
    current_path().store(static_cast<int>(path));
    return ok_status();
}

}  // namespace ward::engine
