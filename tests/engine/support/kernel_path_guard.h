// Forces a kernel path (cpu.h) for the life of a test scope and restores the previous one.
#pragma once

#include <gtest/gtest.h>

#include "engine/cpu.h"

namespace ward::engine::testing {

class KernelPathGuard {
  public:
    explicit KernelPathGuard(KernelPath path) : saved_(active_kernel_path()) {
        EXPECT_TRUE(set_kernel_path(path).ok());
    }
    ~KernelPathGuard() { (void)set_kernel_path(saved_); }
    KernelPathGuard(const KernelPathGuard&) = delete;
    KernelPathGuard& operator=(const KernelPathGuard&) = delete;

  private:
    KernelPath saved_;
};

}  // namespace ward::engine::testing
