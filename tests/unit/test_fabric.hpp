#pragma once
// Fabrics for tests that build step graphs by hand.

#include "graph/graph.hpp"

namespace moesim::sim::test_support {

/// One node of `devices` devices whose ports carry `bandwidth` B/s with `latency` s end to end.
inline Fabric one_node(int devices, double bandwidth, double latency) {
  Fabric f;
  f.spec.nodes = 1;
  f.spec.devices_per_node = devices;
  f.spec.scale_up.bandwidth = bandwidth;
  f.spec.scale_up.efficiency = 1.0;
  f.spec.scale_up.latency_s = latency;
  return f;
}

}  // namespace moesim::sim::test_support
