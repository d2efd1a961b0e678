#include "allocator.hpp"

#include <cstdlib>

#ifdef MOESIM_MIMALLOC
#include <mimalloc.h>
#endif

namespace moesim::tools {

std::string allocator_name() {
#ifdef MOESIM_MIMALLOC
  // Linked is not enough: the dynamic linker binds malloc to the first library that defines it.
  void* probe = std::calloc(1, 64);
  const bool ours = mi_is_in_heap_region(probe);
  std::free(probe);
  if (ours) {
    const int v = mi_version();  // e.g. 209 for 2.0.9
    return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
  }
#endif
  return "the default malloc";
}

}  // namespace moesim::tools
