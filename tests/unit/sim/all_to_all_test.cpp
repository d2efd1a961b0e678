#include <gtest/gtest.h>

#include "moe/moe.hpp"

using namespace moesim::sim;
using moesim::hw::DType;

namespace {

// nodes x per_node devices, one NIC per device.
Fabric cluster(int nodes, int per_node) {
  Fabric f;
  f.spec.nodes = nodes;
  f.spec.devices_per_node = per_node;
  f.spec.scale_up.bandwidth = 100;
  f.spec.scale_up.efficiency = 1;
  f.spec.has_scale_out = nodes > 1;
  f.spec.scale_out.bandwidth = 10;
  f.spec.scale_out.efficiency = 1;
  f.spec.nics_per_node = nodes > 1 ? per_node : 0;
  return f;
}

AllToAllSpec spec(const Fabric& f, int experts, int k, AllToAllAlgorithm alg) {
  AllToAllSpec a;
  a.experts = experts;
  a.top_k = k;
  a.hidden = 128;  // 256 bytes per token in bf16
  a.tokens.assign(static_cast<std::size_t>(f.num_devices()), 1.0);
  a.algorithm = alg;
  return a;
}

double nic_bytes(const Fabric& f, const TrafficMatrix& m) {
  double b = 0;
  for (int p = f.num_devices(); p < f.num_ports(); ++p) b += m.sent_by(p);
  return b;
}

}  // namespace

TEST(AllToAll, HitProbabilityIsTopKWithoutReplacement) {
  EXPECT_DOUBLE_EQ(prob_hits_subset(8, 1, 2), 1.0 - 21.0 / 28.0);  // Mixtral, one expert per GPU
  EXPECT_DOUBLE_EQ(prob_hits_subset(4, 2, 2), 1.0 - 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(prob_hits_subset(4, 4, 1), 1.0);
  EXPECT_DOUBLE_EQ(prob_hits_subset(4, 0, 1), 0.0);
}

TEST(AllToAll, Fp8CarriesOneScalePer128Channels) {
  EXPECT_DOUBLE_EQ(token_wire_bytes(7168, DType::fp8), 7168 + 56 * 4);
  EXPECT_DOUBLE_EQ(token_wire_bytes(7168, DType::bf16), 2 * 7168);
}

TEST(AllToAll, DirectSendsEachTokenOncePerDestinationDevice) {
  const Fabric f = cluster(2, 2);
  const auto t = expert_all_to_all(f, spec(f, 4, 2, AllToAllAlgorithm::direct));
  const double p = 0.5;  // a token's 2 of 4 experts include a given device's one expert
  EXPECT_DOUBLE_EQ(t.dispatch->at(0, 1), p * 256);                              // same node
  EXPECT_DOUBLE_EQ(t.dispatch->at(f.nic_port(0), f.nic_port(2)), p * 256);      // across nodes
  EXPECT_DOUBLE_EQ(t.dispatch->at(0, 2), 0.0);  // no scale-up path between nodes
  // Combine returns the same tokens the other way.
  EXPECT_DOUBLE_EQ(t.combine->at(1, 0), p * 256);
}

TEST(AllToAll, DeepEpNormalSendsOncePerNodeAndForwardsOverNvlink) {
  const Fabric f = cluster(2, 2);
  const auto direct = expert_all_to_all(f, spec(f, 4, 2, AllToAllAlgorithm::direct));
  const auto deepep = expert_all_to_all(f, spec(f, 4, 2, AllToAllAlgorithm::deepep_normal));
  // Device 0 reaches node 1 through device 2 (same local index): once per token that hits node 1.
  const double p_node = 1.0 - 1.0 / 6.0, p_dev = 0.5;
  EXPECT_DOUBLE_EQ(deepep.dispatch->at(f.nic_port(0), f.nic_port(2)), p_node * 256);
  EXPECT_DOUBLE_EQ(deepep.dispatch->at(f.nic_port(0), f.nic_port(3)), 0.0);
  // Device 2 forwards device 0's tokens meant for device 3 over NVLink (plus device 2's own).
  EXPECT_DOUBLE_EQ(deepep.dispatch->at(2, 3), 2 * p_dev * 256);
  // Deduplication per node moves fewer bytes over the scale-out network.
  EXPECT_LT(nic_bytes(f, *deepep.dispatch), nic_bytes(f, *direct.dispatch));
}

TEST(AllToAll, LowLatencyKernelsSendEveryTokenExpertPair) {
  const Fabric f = cluster(2, 2);
  auto a = spec(f, 8, 4, AllToAllAlgorithm::deepep_low_latency);
  const auto t = expert_all_to_all(f, a);
  // 4 of 8 experts, 2 per device: on average 1 of a token's experts sits on each device.
  EXPECT_DOUBLE_EQ(t.dispatch->at(0, 1), 1.0 * 256);
  EXPECT_DOUBLE_EQ(t.dispatch->at(f.nic_port(0), f.nic_port(3)), 1.0 * 256);
  EXPECT_DOUBLE_EQ(t.dispatch->total(), 4 * 3 * 256.0);  // every device, every other device
}

// The sums-only form (analytic fidelity) must carry exactly the per-port bytes of the pairs.
TEST(AllToAll, PortSumsWithoutPairsEqualThoseOfThePairs) {
  Fabric f;
  f.spec.nodes = 3;
  f.spec.devices_per_node = 4;
  f.spec.has_scale_out = true;
  f.spec.nics_per_node = 2;  // two devices share each NIC
  AllToAllSpec a;
  a.experts = 24;
  a.top_k = 4;
  a.hidden = 1024;
  a.dispatch_dtype = moesim::hw::DType::fp8;
  a.combine_dtype = moesim::hw::DType::bf16;
  for (int d = 0; d < 12; ++d) {
    a.tokens.push_back(10.0 + d);
    a.device_hit.push_back(0.05 + 0.03 * ((d * 7) % 5));
  }
  a.node_hit = {0.4, 0.55, 0.7};
  for (auto alg : {AllToAllAlgorithm::direct, AllToAllAlgorithm::deepep_normal, AllToAllAlgorithm::deepep_low_latency}) {
    a.algorithm = alg;
    const AllToAllTraffic full = expert_all_to_all(f, a, true);
    const AllToAllTraffic sums = expert_all_to_all(f, a, false);
    EXPECT_FALSE(sums.dispatch->has_pairs());
    for (int p = 0; p < f.num_ports(); ++p) {
      for (const auto& [x, y] : {std::pair{full.dispatch, sums.dispatch}, std::pair{full.combine, sums.combine}}) {
        EXPECT_NEAR(x->sent_by(p), y->sent_by(p), 1e-9 * (1 + x->sent_by(p))) << all_to_all_algorithm_name(alg) << " port " << p;
        EXPECT_NEAR(x->received_by(p), y->received_by(p), 1e-9 * (1 + x->received_by(p))) << all_to_all_algorithm_name(alg) << " port " << p;
      }
    }
    EXPECT_NEAR(full.dispatch->total(), sums.dispatch->total(), 1e-9 * full.dispatch->total());
  }
}

// PXN on a rail-optimized fabric: a token for a device on another rail crosses NVLink to the
// sender's node-mate on that rail and leaves through the mate's NIC, so every scale-out byte
// stays on one rail. The NICs carry the same bytes in total, NVLink carries the cross-rail ones
// once more, and the port sums agree with the pairs.
TEST(AllToAll, PxnKeepsScaleOutTrafficOnItsRailAndTheSumsAgree) {
  Fabric f = cluster(3, 4);
  f.spec.topology = moesim::hw::ScaleOutTopology::rail_optimized;
  AllToAllSpec a = spec(f, 24, 4, AllToAllAlgorithm::direct);
  for (int d = 0; d < 12; ++d) {
    a.tokens[static_cast<std::size_t>(d)] = 10.0 + d;
    a.device_hit.push_back(0.05 + 0.03 * ((d * 7) % 5));
  }
  a.node_hit = {0.4, 0.55, 0.7};
  const AllToAllTraffic plain = expert_all_to_all(f, a, true);
  f.spec.pxn = true;
  const AllToAllTraffic pxn = expert_all_to_all(f, a, true);
  for (const auto& e : pxn.dispatch->entries()) {
    if (!f.is_nic(e.src)) continue;
    EXPECT_EQ(f.spec.switch_of_nic(e.src - f.num_devices()), f.spec.switch_of_nic(e.dst - f.num_devices()))
        << e.src << " -> " << e.dst;
  }
  EXPECT_NEAR(nic_bytes(f, *pxn.dispatch), nic_bytes(f, *plain.dispatch), 1e-9 * nic_bytes(f, *plain.dispatch));
  double nvlink_plain = 0, nvlink_pxn = 0, cross_rail = 0;
  for (int p = 0; p < f.num_devices(); ++p) {
    nvlink_plain += plain.dispatch->sent_by(p);
    nvlink_pxn += pxn.dispatch->sent_by(p);
  }
  for (const auto& e : plain.dispatch->entries()) {
    if (f.is_nic(e.src) && f.spec.switch_of_nic(e.src - f.num_devices()) != f.spec.switch_of_nic(e.dst - f.num_devices())) {
      cross_rail += e.bytes;
    }
  }
  EXPECT_GT(cross_rail, 0.0);
  EXPECT_NEAR(nvlink_pxn - nvlink_plain, cross_rail, 1e-9 * cross_rail);
  const AllToAllTraffic sums = expert_all_to_all(f, a, false);
  for (int p = 0; p < f.num_ports(); ++p) {
    for (const auto& [x, y] : {std::pair{pxn.dispatch, sums.dispatch}, std::pair{pxn.combine, sums.combine}}) {
      EXPECT_NEAR(x->sent_by(p), y->sent_by(p), 1e-9 * (1 + x->sent_by(p))) << "port " << p;
      EXPECT_NEAR(x->received_by(p), y->received_by(p), 1e-9 * (1 + x->received_by(p))) << "port " << p;
    }
  }
  // DeepEP's algorithms route by node already: PXN leaves them as they are.
  a.algorithm = AllToAllAlgorithm::deepep_normal;
  f.spec.pxn = false;
  const double before = nic_bytes(f, *expert_all_to_all(f, a, true).dispatch);
  f.spec.pxn = true;
  EXPECT_DOUBLE_EQ(nic_bytes(f, *expert_all_to_all(f, a, true).dispatch), before);
}

// A multi-plane fabric has no path between planes: the direct and low-latency all-to-alls forward
// every cross-plane token over NVLink (as PXN does), DeepEP's normal kernels need no forwarding.
TEST(AllToAll, MultiPlaneForwardsEveryCrossPlaneTokenOverNvlink) {
  Fabric f = cluster(3, 4);
  f.spec.topology = moesim::hw::ScaleOutTopology::rail_optimized;
  f.spec.multi_plane = true;
  for (auto alg : {AllToAllAlgorithm::direct, AllToAllAlgorithm::deepep_low_latency, AllToAllAlgorithm::deepep_normal}) {
    const AllToAllSpec a = spec(f, 24, 4, alg);
    const AllToAllTraffic full = expert_all_to_all(f, a, true);
    for (const auto& e : full.dispatch->entries()) {
      if (!f.is_nic(e.src)) continue;
      EXPECT_EQ(f.spec.switch_of_nic(e.src - f.num_devices()), f.spec.switch_of_nic(e.dst - f.num_devices()))
          << all_to_all_algorithm_name(alg);
    }
    const AllToAllTraffic sums = expert_all_to_all(f, a, false);
    for (int p = 0; p < f.num_ports(); ++p) {
      EXPECT_NEAR(full.dispatch->sent_by(p), sums.dispatch->sent_by(p), 1e-9 * (1 + full.dispatch->sent_by(p)));
      EXPECT_NEAR(full.combine->received_by(p), sums.combine->received_by(p), 1e-9 * (1 + full.combine->received_by(p)));
    }
  }
}
