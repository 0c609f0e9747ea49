// The AVX-512 path (F, BW, VL, VNNI). Until its own kernels land for a type, it uses the AVX2
// kernels, which run unchanged on every AVX-512 CPU.
#include "engine/kernels.h"

namespace ward::engine::kernels {

const KernelSet& avx512_kernels() {
    static const KernelSet set = [] {
        KernelSet k = avx2_kernels();
        return k;
    }();
    return set;
}

}  // namespace ward::engine::kernels
