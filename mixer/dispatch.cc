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

constexpr std::array<IsaEntry, 4> kIsaNames = {{
    {Isa::kScalar, "scalar"},
    {Isa::kSse2, "sse2"},
    {Isa::kAvx2, "avx2"},
    {Isa::kAvx512, "avx512"},
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
    case Isa::kAvx512:
      // The kernel uses F (512-bit int32) and BW (512-bit int16, 32-bit masks); libgcc reports
      // them only if the OS also saves the opmask and ZMM state.
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

std::optional<Kernels> KernelsOf(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return Kernels{isa, &internal::MixMinusScalar, &internal::MixMinusScalarChecked};
#if defined(ANCHORD_MIXER_X86)
    case Isa::kSse2:
      return Kernels{isa, &internal::MixMinusSse2, &internal::MixMinusSse2Checked};
    case Isa::kAvx2:
      return Kernels{isa, &internal::MixMinusAvx2, &internal::MixMinusAvx2Checked};
    case Isa::kAvx512:
      return Kernels{isa, &internal::MixMinusAvx512, &internal::MixMinusAvx512Checked};
#else
    default:
      return std::nullopt;
#endif
  }
  return std::nullopt;
}

}  // namespace

std::optional<Kernels> KernelsFor(Isa isa) {
  if (!CpuSupports(isa)) return std::nullopt;
  return KernelsOf(isa);
}

Kernels BestKernels() {
  // Fastest first; scalar always exists, so the loop always returns.
  for (const Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kSse2}) {
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
