#pragma once
// The physical fabric of a cluster: nodes of devices on a scale-up domain (NVSwitch star or
// PCIe), joined by a scale-out network (fat-tree with one NIC per GPU, or rail-optimized).
// Built from a scenario's cluster section; shared by the topology analysis (Boost.Graph), the
// closed-form evaluator and the SimGrid platform builder.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

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
  /// Fat-tree with leaves: how flows between leaves pick a spine. Adaptive routing spreads every
  /// flow evenly over a leaf's uplinks (one bundle); ECMP hashes each (source NIC, destination
  /// NIC) flow onto one uplink, so flows can collide (docs/topology.md).
  bool ecmp = false;
  std::uint64_t ecmp_seed = 1;
  /// Rail-optimized: traffic for another rail crosses NVLink to the sender's node-mate on the
  /// destination's rail and leaves through that GPU's NIC (NCCL's PXN), instead of crossing the
  /// spine. Applies to the direct all-to-all (docs/topology.md).
  bool pxn = false;
  /// Rail-optimized without a spine ("multi-plane", DeepSeek's multi-plane fat-tree): each rail
  /// is a plane of its own and nothing joins the planes, so traffic for another plane is always
  /// forwarded over NVLink to the sender's node-mate on that plane (docs/topology.md).
  bool multi_plane = false;
  /// "fat-tree", "rail-optimized" or "multi-plane".
  std::string topology_label() const {
    return multi_plane ? "multi-plane" : topology == ScaleOutTopology::rail_optimized ? "rail-optimized" : "fat-tree";
  }
  /// Ports at reduced speed or down (scenario cluster.degraded / cluster.failed): a fraction of the
  /// link's bandwidth, 0 for a failed port. Empty: every port at full speed.
  std::vector<double> nic_speed;     ///< by global NIC index, node * nics_per_node + nic
  std::vector<double> device_speed;  ///< each device's scale-up port

  int num_devices() const { return nodes * devices_per_node; }
  /// Leaf switches of a fat-tree (1 when every node hangs on one switch); 0 without scale-out or
  /// for a rail-optimized fabric.
  int leaves() const {
    if (!has_scale_out || topology != ScaleOutTopology::fat_tree) return 0;
    return nodes_per_leaf > 0 && nodes_per_leaf < nodes ? nodes / nodes_per_leaf : 1;
  }
  /// The leaf a node's NICs hang on (fat-tree).
  int leaf_of_node(int node) const { return leaves() > 1 ? node / nodes_per_leaf : 0; }
  /// The switches NICs hang on below the spine: a fat-tree's leaves, or a rail-optimized
  /// fabric's rails (NIC i of every node on rail i; 0 without scale-out).
  int switch_groups() const {
    if (!has_scale_out) return 0;
    return topology == ScaleOutTopology::rail_optimized ? nics_per_node : leaves();
  }
  /// The leaf or rail of global NIC `nic` (node * nics_per_node + index).
  int switch_of_nic(int nic) const {
    return topology == ScaleOutTopology::rail_optimized ? nic % nics_per_node : leaf_of_node(nic / nics_per_node);
  }
  /// NICs below one leaf or rail.
  int nics_per_switch_group() const {
    return switch_groups() > 0 ? nodes * nics_per_node / switch_groups() : 0;
  }
  /// One leaf's or rail's uplink bundle to the spine, per direction: the NIC ports below it over
  /// the oversubscription.
  double uplink_bundle_bandwidth() const {
    return nics_per_switch_group() * scale_out.effective_bandwidth() / oversubscription;
  }
  /// Whether leaf or rail uplinks can be a bottleneck: oversubscribed, or ECMP-hashed (at full
  /// bisection and even spreading they never are). Multi-plane fabrics have no spine.
  bool spine_can_bind() const {
    return switch_groups() > 1 && !multi_plane && (oversubscription > 1.0 || ecmp);
  }
  /// Uplinks per leaf, one per spine switch: the NIC ports below it over the oversubscription
  /// (an integer for ECMP; topology_problems checks it).
  int uplinks_per_leaf() const {
    return static_cast<int>(std::llround(nics_per_switch_group() / oversubscription));
  }
  /// ECMP: the uplink (and so the spine, and the spine's downlink to the destination leaf) the
  /// flow from global NIC `src` to global NIC `dst` is hashed onto (splitmix64 of the seed and
  /// the pair: the same on every platform).
  int ecmp_uplink(int src, int dst) const {
    std::uint64_t z = ecmp_seed * 0x9E3779B97F4A7C15ULL + (static_cast<std::uint64_t>(src) << 32) +
                      static_cast<std::uint64_t>(dst);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<int>(z % static_cast<std::uint64_t>(std::max(1, uplinks_per_leaf())));
  }
  int node_of(int device) const { return device / devices_per_node; }
  int local_index(int device) const { return device % devices_per_node; }
  /// The NIC (0..nics_per_node-1) a device's scale-out traffic is cabled to; devices share NICs
  /// evenly when there are fewer NICs than devices.
  int cabled_nic_of(int device) const {
    return nics_per_node > 0 ? local_index(device) * nics_per_node / devices_per_node : 0;
  }
  double nic_speed_of(int global_nic) const {
    return nic_speed.empty() ? 1.0 : nic_speed[static_cast<std::size_t>(global_nic)];
  }
  double device_speed_of(int device) const {
    return device_speed.empty() ? 1.0 : device_speed[static_cast<std::size_t>(device)];
  }
  /// The NIC a device's scale-out traffic leaves through: its own, or when that one has failed the
  /// next working NIC of its node (in index order, wrapping), which it then shares. A node without
  /// a working NIC keeps the cabled one (disconnected() says so).
  int nic_of(int device) const {
    const int own = cabled_nic_of(device);
    if (nic_speed.empty() || nics_per_node == 0) return own;
    const int base = node_of(device) * nics_per_node;
    for (int k = 0; k < nics_per_node; ++k) {
      const int nic = (own + k) % nics_per_node;
      if (nic_speed_of(base + nic) > 0) return nic;
    }
    return own;
  }
  /// Why some device cannot reach the devices it must (a node whose NICs have all failed, in a
  /// cluster of several nodes; a device whose scale-up port failed, in a node of several), or
  /// empty when every device is reachable.
  std::string disconnected() const {
    for (int d = 0; d < num_devices() && !device_speed.empty(); ++d) {
      if (devices_per_node > 1 && device_speed_of(d) <= 0) {
        return "device " + std::to_string(d) + "'s scale-up port has failed: it cannot reach the other devices of node " +
               std::to_string(node_of(d));
      }
    }
    for (int n = 0; n < nodes && nodes > 1 && !nic_speed.empty(); ++n) {
      bool any = false;
      for (int i = 0; i < nics_per_node; ++i) any = any || nic_speed_of(n * nics_per_node + i) > 0;
      if (!any) return "every NIC of node " + std::to_string(n) + " has failed: its devices cannot reach the other nodes";
    }
    return {};
  }
};

}  // namespace moesim::hw
