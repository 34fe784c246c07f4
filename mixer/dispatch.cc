// Chooses a mix-minus kernel from the CPU's features. Called once at start (and by tests and
// benchmarks to force an ISA); the returned function pointer is then used on the data path.
#include <array>

#include "mixer/internal/kernels.h"
#include "mixer/mix.h"

namespace anchord::mixer {
namespace {

struct IsaEntry {
  Isa isa;
  std::string_view name;
};

constexpr std::array<IsaEntry, 3> kIsaNames = {{
    {Isa::kScalar, "scalar"},
    {Isa::kSse2, "sse2"},
    {Isa::kAvx2, "avx2"},
}};

bool CpuSupports(Isa isa) {
#if defined(ANCHORD_MIXER_X86)
  // Only needed before main() (static initializers); harmless afterwards.
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kSse2:
      return __builtin_cpu_supports("sse2");
    case Isa::kAvx2:
      // libgcc also checks that the OS saves the YMM state (XGETBV), not just CPUID.
      return __builtin_cpu_supports("avx2");
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

MixMinusFn MixMinusFor(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return &internal::MixMinusScalar;
#if defined(ANCHORD_MIXER_X86)
    case Isa::kSse2:
      return &internal::MixMinusSse2;
    case Isa::kAvx2:
      return &internal::MixMinusAvx2;
#else
    default:
      return nullptr;
#endif
  }
  return nullptr;
}

}  // namespace

std::optional<Kernels> KernelsFor(Isa isa) {
  if (!CpuSupports(isa)) return std::nullopt;
  const MixMinusFn mix_minus = MixMinusFor(isa);
  if (mix_minus == nullptr) return std::nullopt;
  return Kernels{isa, mix_minus};
}

Kernels BestKernels() {
  // Fastest first; scalar always exists, so the loop always returns.
  for (const Isa isa : {Isa::kAvx2, Isa::kSse2}) {
    if (auto kernels = KernelsFor(isa)) return *kernels;
  }
  return *KernelsFor(Isa::kScalar);
}

std::string_view IsaName(Isa isa) {
  for (const IsaEntry& entry : kIsaNames) {
    if (entry.isa == isa) return entry.name;
  }
  return "unknown";
}

std::optional<Isa> ParseIsa(std::string_view name) {
  for (const IsaEntry& entry : kIsaNames) {
    if (entry.name == name) return entry.isa;
  }
  return std::nullopt;
}

}  // namespace anchord::mixer
