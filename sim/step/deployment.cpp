#include "step/deployment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>

namespace moesim::sim {
namespace {

// The counts that follow from the degrees.
void derive_layout(ParallelLayout& l, int num_layers) {
  l.devices = l.nodes * l.devices_per_node;
  l.stage_devices = l.devices / l.pp;
  l.layers_per_stage = (num_layers + l.pp - 1) / l.pp;
}

ParallelLayout layout_of(const Scenario& s) {
  ParallelLayout l;
  static_cast<ParallelismSpec&>(l) = s.parallelism;
  l.attention_dp = s.parallelism.attention_dp * s.parallelism.attention_cp;  // ranks holding distinct tokens
  l.nodes = s.cluster.nodes;
  l.devices_per_node = s.cluster.devices_per_node;
  derive_layout(l, s.model.config.num_layers);
  return l;
}

// The stragglers' ids: as listed, or round(share x devices) of them (at least one for a share
// above 0) drawn without replacement from a generator seeded with the scenario's seed (a partial
// Fisher-Yates shuffle on a 64-bit Mersenne Twister, reduced by modulo: the same on every
// platform). Ascending.
std::vector<int> straggler_devices_of(const Scenario& s) {
  if (!s.cluster.stragglers) return {};
  const Stragglers& st = *s.cluster.stragglers;
  std::vector<int> ids = st.devices;
  if (st.share) {
    const int n = s.cluster.num_devices();
    int k = static_cast<int>(std::llround(*st.share * n));
    if (*st.share > 0) k = std::max(k, 1);
    std::vector<int> all(static_cast<std::size_t>(n));
    std::iota(all.begin(), all.end(), 0);
    std::mt19937_64 rng(st.seed);
    for (int i = 0; i < k; ++i) {
      const auto j = static_cast<std::size_t>(i) + static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(n - i));
      std::swap(all[static_cast<std::size_t>(i)], all[j]);
    }
    ids.assign(all.begin(), all.begin() + k);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

double draw_attention_imbalance(int ranks, int batch, double context, double cv, std::uint64_t seed) {
  if (cv <= 0 || ranks <= 1 || context <= 0) return 1.0;
  std::mt19937_64 rng(seed ^ 0x6174746e696d62ULL);  // its own stream, apart from the routing draws
  std::gamma_distribution<double> ctx(1.0 / (cv * cv), context * cv * cv);
  double most = 0, sum = 0;
  for (int r = 0; r < ranks; ++r) {
    double kv = 0;
    for (int b = 0; b < batch; ++b) kv += ctx(rng) + 1.0;  // +1: the token the step adds
    most = std::max(most, kv);
    sum += kv;
  }
  return most / (sum / ranks);
}

StepShape step_shape_of(const WorkloadSpec& w) {
  StepShape sh;
  sh.kind = w.kind;
  sh.batch_per_device = w.batch_per_device;
  sh.context_tokens = w.context_tokens;
  sh.input_tokens = w.input_tokens;
  sh.cached_tokens = w.cached_tokens;
  return sh;
}

Deployment resolve_deployment(const Scenario& s) {
  const ModelConfig& m = s.model.config;
  CostModel cost(*s.cluster.device, s.model.weights_dtype, s.hw_profile.get(), s.power_cap_w, s.engine);
  // Two micro-batches overlap DeepEP's all-to-all (whose kernels hold SMs) with the GEMMs.
  if (s.overlap == "two-microbatch" && s.communication.all_to_all != AllToAllAlgorithm::direct &&
      m.is_moe()) {
    cost.share_sms_with_communication();
  }
  // Tokens travel in fp8 when the experts compute in fp8 or a block-scaled fp4 (DeepEP's fp8
  // dispatch), else in bf16; combine returns bf16 unless the scenario says otherwise.
  const hw::DType c = cost.compute_dtype();
  const bool low = c == hw::DType::fp8 || c == hw::DType::fp4 || c == hw::DType::nvfp4 || c == hw::DType::mxfp4;
  const hw::DType dispatch_dtype = s.communication.dispatch_dtype.value_or(low ? hw::DType::fp8 : hw::DType::bf16);
  return Deployment{
      .model = m,
      .weights_dtype = s.model.weights_dtype,
      .kv_dtype = s.model.kv_dtype,
      .device = s.cluster.device,
      .power_cap_w = s.power_cap_w,
      .hw_profile = s.hw_profile,
      .hw_profile_name = s.hw_profile ? s.hw_profile_file : std::string(),
      .hw_profile_default = s.hw_profile_default,
      .hw_profile_inherited = s.hw_profile_inherited,
      .engine = s.engine,
      .engine_default = s.engine_default,
      .engine_inherited = s.engine_inherited,
      .cost = cost,
      .fabric = Fabric{fabric_of(s)},
      .par = layout_of(s),
      .routing = s.routing,
      .router = {m.moe.num_experts, m.moe.top_k, m.moe.n_group, m.moe.topk_group},
      .all_to_all = s.communication.all_to_all,
      .dispatch_dtype = dispatch_dtype,
      .combine_dtype = s.communication.combine_dtype.value_or(hw::DType::bf16),
      .two_microbatch = s.overlap == "two-microbatch",
      .overlap_shared = s.overlap != "none",
      .stream_per_class = s.communication.stream_per_class,
      .always_simulate = s.limits.always_simulate,
      .price_per_device_hour = s.price_per_device_hour ? s.price_per_device_hour : s.cluster.device->price_per_hour,
      .price_electricity_per_j = s.price_electricity_per_j,
      .straggler_devices = straggler_devices_of(s),
      .straggler_slowdown = s.cluster.stragglers ? s.cluster.stragglers->slowdown : 1.0,
      .speculative = s.workload.speculative,
  };
}

Deployment draft_deployment(const Deployment& target) {
  Deployment d = target;
  d.model = *target.speculative->draft;
  d.speculative.reset();
  d.par.expert_ep = 1;
  d.par.expert_tp = 1;
  d.par.redundant_experts = 0;
  d.router = {d.model.moe.num_experts, d.model.moe.top_k, d.model.moe.n_group, d.model.moe.topk_group};
  d.two_microbatch = false;
  d.overlap_shared = false;
  derive_layout(d.par, d.model.num_layers);
  return d;
}

Deployment deployment_part(const Deployment& whole, const ClusterPart& part) {
  Deployment d = whole;
  ParallelLayout& l = d.par;
  l.nodes = part.nodes;
  l.devices_per_node = part.devices_per_node;
  l.attention_dp = part.attention_dp;
  l.expert_ep = part.expert_ep;
  l.pp = part.pp;
  derive_layout(l, d.model.num_layers);
  // The part's fabric: the whole's on fewer nodes, or its scale-up alone when the part has no
  // scale-out. Faults and stragglers name the whole's ports and devices; the scenario checks
  // refuse them for the workloads that run parts (serving, training).
  hw::FabricSpec f = whole.fabric.spec;
  if (!(part.scale_out && f.has_scale_out)) {
    hw::FabricSpec bare;
    bare.scale_up = f.scale_up;
    f = bare;
  }
  f.nodes = part.nodes;
  f.devices_per_node = part.devices_per_node;
  f.nic_speed.clear();
  f.device_speed.clear();
  d.fabric.spec = f;
  d.straggler_devices.clear();
  return d;
}

}  // namespace moesim::sim
