#pragma once
// The physical fabric of a cluster: nodes of devices on a scale-up domain (NVSwitch star or
// PCIe), joined by a scale-out network (fat-tree with one NIC per GPU, or rail-optimized).
// Built from a scenario's cluster section; shared by the topology analysis (Boost.Graph), the
// closed-form evaluator and the SimGrid platform builder.

#include <string>

#include "catalog.hpp"

namespace moesim::hw {

enum class ScaleOutTopology {
  fat_tree,        ///< every NIC on a non-blocking fat-tree (leaf + spine, full bisection)
  rail_optimized,  ///< NIC i of every node on rail switch i; rails joined by a spine
};

std::string topology_name(ScaleOutTopology t);

/// A cluster's fabric. Devices are numbered node-major: device d sits in node d / devices_per_node
/// at local index d % devices_per_node.
struct FabricSpec {
  int nodes = 1;
  int devices_per_node = 1;
  Link scale_up;                 ///< each device's port into its node's switch
  bool has_scale_out = false;
  Link scale_out;                ///< each NIC's port into the scale-out network
  int nics_per_node = 0;
  ScaleOutTopology topology = ScaleOutTopology::fat_tree;
  /// Nodes under one leaf switch of a fat-tree (traffic between leaves crosses the spine, with
  /// the cross-switch latency). 0: all nodes under one switch.
  int nodes_per_leaf = 0;
  /// Fat-tree: a leaf's capacity down to its NICs over its capacity up to the spine (1: full
  /// bisection; 2: half as much uplink as NIC ports). Only traffic between leaves crosses it.
  double oversubscription = 1.0;

  int num_devices() const { return nodes * devices_per_node; }
  /// Leaf switches of a fat-tree (1 when every node hangs on one switch); 0 without scale-out or
  /// for a rail-optimized fabric.
  int leaves() const {
    if (!has_scale_out || topology != ScaleOutTopology::fat_tree) return 0;
    return nodes_per_leaf > 0 && nodes_per_leaf < nodes ? nodes / nodes_per_leaf : 1;
  }
  /// The leaf a node's NICs hang on (fat-tree).
  int leaf_of_node(int node) const { return leaves() > 1 ? node / nodes_per_leaf : 0; }
  int node_of(int device) const { return device / devices_per_node; }
  int local_index(int device) const { return device % devices_per_node; }
  /// The NIC (0..nics_per_node-1) a device's scale-out traffic leaves through; devices share
  /// NICs evenly when there are fewer NICs than devices.
  int nic_of(int device) const {
    return nics_per_node > 0 ? local_index(device) * nics_per_node / devices_per_node : 0;
  }
};

}  // namespace moesim::hw
