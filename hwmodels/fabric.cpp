#include "fabric.hpp"

namespace moesim::hw {

std::string topology_name(ScaleOutTopology t) {
  return t == ScaleOutTopology::rail_optimized ? "rail-optimized" : "fat-tree";
}

}  // namespace moesim::hw
