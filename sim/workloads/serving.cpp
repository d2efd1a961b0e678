#include "workloads/serving.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "workloads/fixed_step.hpp"
#include "workloads/requests.hpp"
#include "workloads/scheduler.hpp"
#include "workloads/uncertainty.hpp"

namespace moesim::sim {
namespace {


Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  p.p50 = percentile_of_sorted(v, 0.50);
  p.p90 = percentile_of_sorted(v, 0.90);
  p.p99 = percentile_of_sorted(v, 0.99);
  return p;
}

// The values at 0, 5, ..., 100 % (empty for none).
std::vector<double> cdf_of(std::vector<double> v) {
  std::vector<double> out;
  if (v.empty()) return out;
  std::sort(v.begin(), v.end());
  for (int i = 0; i <= 20; ++i) out.push_back(percentile_of_sorted(v, 5.0 * i / 100.0));
  return out;
}

// The pool's samples as the report's series: decode rate over each interval.
std::vector<ServingStats::SeriesPoint> series_of(const std::vector<PoolSample>& samples, double start) {
  std::vector<ServingStats::SeriesPoint> out;
  double t0 = start, tokens0 = 0;
  for (const PoolSample& p : samples) {
    const double dt = p.t - t0;
    out.push_back({p.t - start, p.running, p.waiting, p.kv_fraction, dt > 0 ? (p.decode_tokens - tokens0) / dt : 0.0,
                   p.preemptions});
    t0 = p.t;
    tokens0 = p.decode_tokens;
  }
  return out;
}

double percentile_of(const Percentiles& p, double q) {
  if (q <= 50) return p.p50;
  if (q <= 90) return p.p50 + (p.p90 - p.p50) * (q - 50) / 40;
  return p.p90 + (p.p99 - p.p90) * (q - 90) / 9;
}

// KV capacity per attention rank of a deployment: what the engine's share of a device
// (workload.memory_utilization) holds beyond weights, buffers and the activations of a full token
// budget, over the KV bytes of one token; and those bytes.
std::pair<double, double> kv_capacity_tokens(const Deployment& d, const ServingSpec& sv) {
  StepShape probe;
  probe.kind = WorkloadKind::decode;
  probe.batch_per_device = 0;
  probe.context_tokens = 0;
  probe.chunk_tokens = sv.max_batched_tokens;
  probe.chunk_context = 0;
  const MemoryBreakdown fixed = memory_per_device(d, probe);
  probe.chunk_tokens = 0;
  probe.batch_per_device = 1;
  const MemoryBreakdown one = memory_per_device(d, probe);
  // Recurrent layers (hybrid models) hold a state per sequence, not per token: the engine sets
  // aside one per sequence slot (max_sequences), as vLLM does for its Mamba cache.
  const double kv_per_token = one.kv_cache - one.recurrent_state;
  const double free_bytes =
      fixed.capacity * sv.memory_utilization - (fixed.total - fixed.kv_cache) - sv.max_sequences * one.recurrent_state;
  return {kv_per_token > 0 ? std::floor(std::max(0.0, free_bytes) / kv_per_token) : 1e18, kv_per_token};
}

// One pool of a disaggregated deployment: the first `prefill_nodes` nodes prefill, the others
// decode; each pool spreads attention and experts over all its devices (the scenario's checks
// make sure the expert slots divide over both).
Deployment pool_deployment(const Deployment& d, const ServingSpec& sv, bool prefill) {
  ClusterPart part;
  part.nodes = prefill ? sv.prefill_nodes : d.par.nodes - sv.prefill_nodes;
  part.devices_per_node = d.par.devices_per_node;
  const int devices = part.nodes * part.devices_per_node;
  part.attention_dp = devices / d.par.attention_tp;
  part.expert_ep = devices / d.par.expert_tp;
  part.pp = 1;
  part.scale_out = part.nodes != 1;
  return deployment_part(d, part);
}

// What the schedulers of a run produced.
struct ServingRun {
  PoolOutcome pool, prefill_pool;  // prefill_pool: disaggregated only
  int pool_devices = 0, prefill_devices = 0;
  double kv_capacity = 0, transfer_mean = 0;
  double kv_bytes = 0;  // disaggregated: KV cache bytes moved from the prefill to the decode pool
  long long decode_iterations = 0;  // steps that decode (pool.iterations counts the prefill pool's too)
  double kv_token_bytes = 0;        // KV bytes of one token on one device
  double prefill_idle_w = -1;       // pools of their own: the prefill devices' idle power (-1: the decode pool's)
  std::string infeasible;
};

// Named in every "does not fit" reason, so a user who lowered the share sees why.
std::string memory_share(const ServingSpec& sv) {
  return sv.memory_utilization < 1
             ? " in its memory_utilization share (" + std::to_string(std::lround(100 * sv.memory_utilization)) + "%)"
             : "";
}

int longest(const std::vector<Request>& reqs, bool prompt_only) {
  int most = 0;
  for (const auto& r : reqs) most = std::max(most, prompt_only ? r.input : r.input + r.output);
  return most;
}

// Prefill and decode on the same deployment.
void run_colocated(const Deployment& d, const ServingSpec& sv, std::vector<Request>& reqs, ServingRun& run) {
  const int n = static_cast<int>(reqs.size());
  const int largest = longest(reqs, false);
  const auto [capacity, kv_token_bytes] = kv_capacity_tokens(d, sv);
  run.kv_capacity = capacity;
  run.kv_token_bytes = kv_token_bytes;
  if (n > 0 && static_cast<double>(largest) > run.kv_capacity) {
    run.infeasible = "a request needs " + std::to_string(largest) + " KV cache tokens, but an attention rank holds " +
                     std::to_string(static_cast<long long>(run.kv_capacity)) + " beside its weights and buffers" +
                     memory_share(sv);
    return;
  }
  run.pool = run_pool(d, sv, reqs, PoolMode::colocated, run.kv_capacity, run.kv_token_bytes);
  run.decode_iterations = run.pool.iterations;
}

// The prefill pool first (it depends on nothing downstream), then each prompt's KV cache crosses
// the scale-out network, then the decode pool. False on an internal failure (in run.pool.error
// or run.prefill_pool.error).
bool run_disaggregated(const Deployment& d, const Deployment& pre, const Deployment& dec, const ServingSpec& sv,
                       std::vector<Request>& reqs, ServingRun& run) {
  const int n = static_cast<int>(reqs.size());
  const auto [pre_cap, kv_bytes] = kv_capacity_tokens(pre, sv);
  run.kv_capacity = kv_capacity_tokens(dec, sv).first;
  const int longest_prompt = longest(reqs, true), largest = longest(reqs, false);
  if (n > 0 && static_cast<double>(longest_prompt) > pre_cap) {
    run.infeasible = "a prompt needs " + std::to_string(longest_prompt) + " KV cache tokens, but a prefill rank holds " +
                     std::to_string(static_cast<long long>(pre_cap)) + memory_share(sv);
    return true;
  }
  if (n > 0 && static_cast<double>(largest) > run.kv_capacity) {
    run.infeasible = "a request needs " + std::to_string(largest) + " KV cache tokens, but a decode rank holds " +
                     std::to_string(static_cast<long long>(run.kv_capacity)) + memory_share(sv);
    return true;
  }
  run.prefill_pool = run_pool(pre, sv, reqs, PoolMode::prefill_only, pre_cap);
  if (!run.prefill_pool.error.empty()) return false;
  // Each attention rank's devices send their share of the KV cache through their NICs (with pools
  // of their own, at the slower pool's share).
  const hw::FabricSpec& fabric = d.fabric.spec;
  auto nic_share = [](const hw::FabricSpec& f) {
    return f.has_scale_out ? f.scale_out.effective_bandwidth() * f.nics_per_node / f.devices_per_node : 0.0;
  };
  const double nic_bw = sv.prefill_pool ? std::min(nic_share(pre.fabric.spec), nic_share(dec.fabric.spec)) : nic_share(fabric);
  std::vector<Request> second;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    Request r = reqs[i];
    const double seconds = r.input * kv_bytes / nic_bw + fabric.scale_out.latency_s;
    run.transfer_mean += seconds / n;
    run.kv_bytes += r.input * kv_bytes * pre.par.attention_tp;  // every device of the rank sends its share
    r.arrival = r.finish + seconds;
    r.finish = -1;
    r.prefill_target = r.input;
    r.prefilled = r.input;
    r.kv = r.input + r.generated;
    r.rank = static_cast<int>(i);  // original index, restored below
    second.push_back(r);
  }
  std::stable_sort(second.begin(), second.end(), [](const Request& x, const Request& y) { return x.arrival < y.arrival; });
  std::vector<int> origin;
  for (const auto& r : second) origin.push_back(r.rank);
  run.pool = run_pool(dec, sv, second, PoolMode::decode_only, run.kv_capacity);
  run.decode_iterations = run.pool.iterations;
  for (std::size_t i = 0; i < second.size(); ++i) {
    Request& r = reqs[static_cast<std::size_t>(origin[i])];
    r.finish = second[i].finish;
    r.generated = second[i].generated;
  }
  run.pool.iterations += run.prefill_pool.iterations;
  run.pool.preemptions += run.prefill_pool.preemptions;
  run.pool.evaluations += run.prefill_pool.evaluations;
  run.prefill_devices = pre.par.devices;
  run.pool_devices = dec.par.devices;
  return true;
}

// KV caches arriving during a decode step come in this many equal bursts, released evenly over
// the step's closed-form time: enough that each burst is small beside the step's collectives
// (DeepSeek-V3 decode: one burst per two layers), so the arrivals meet them as a steady stream
// would.
constexpr int kKvBursts = 32;

// A disaggregated run's representative step: the decode pool's step placed on the whole cluster
// (its nodes after the prefill pool's), and the KV caches that arrive from the prefill pool
// during it, `bytes` per step, as background traffic on the same NICs. NIC i of every prefill node
// sends to NIC i of every decode node in equal shares (the KV shard of GPU i goes to GPU i of the
// decode rank; on rails and planes it stays on its rail). Nothing here moves on a Wi-Fi cell.
StepExtension kv_arrivals(const Deployment& whole, int prefill_nodes, double bytes) {
  StepExtension ext;
  ext.needs_pairs = whole.fabric.spec.spine_can_bind();
  ext.apply = [&whole, prefill_nodes, bytes](DeploymentStep& step) {
    const Fabric& f = whole.fabric;
    place_in(step.graph, f, prefill_nodes);
    if (bytes <= 0 || f.num_nics() == 0 || f.wireless()) return;
    const double step_s = evaluate_analytic(step.graph).makespan;
    const int nics = f.spec.nics_per_node, decode_nodes = f.spec.nodes - prefill_nodes;
    const double pair = bytes / kKvBursts / (static_cast<double>(nics) * prefill_nodes * decode_nodes);
    auto m = std::make_shared<TrafficMatrix>(f.num_ports());
    for (int p = 0; p < prefill_nodes; ++p) {
      for (int i = 0; i < nics; ++i) {
        for (int q = prefill_nodes; q < f.spec.nodes; ++q) {
          m->add(f.num_devices() + p * nics + i, f.num_devices() + q * nics + i, pair);
        }
      }
    }
    m->finalize();
    for (int k = 0; k < kKvBursts; ++k) {
      Task t;
      t.phase = Phase::kv_transfer;
      t.traffic = m;
      t.release_s = step_s * k / kKvBursts;
      t.background = true;
      step.graph.add(std::move(t));
    }
  };
  return ext;
}

// The representative step: the mean decode batch at the mean context, on `d` (the deployment,
// or its decode pool), with the scenario's fidelity, for phases, traffic, memory and expert load.
std::expected<Report, std::string> representative_step(const Scenario& s, const Deployment& d,
                                                       const std::vector<Request>& reqs, const ServingRun& run,
                                                       const FlowEvaluator& flow, SimulationDetail* detail,
                                                       const StepExtension& extension) {
  const int n = static_cast<int>(reqs.size());
  const long long iterations = run.decode_iterations;
  StepShape rep = step_shape_of(s.workload);
  rep.kind = WorkloadKind::decode;
  const double mean_decode = iterations > 0 ? run.pool.decode_sum / static_cast<double>(iterations) : 1.0;
  rep.batch_per_device = std::max(1, static_cast<int>(std::lround(mean_decode)));
  double mean_ctx = 0;
  for (const auto& r : reqs) mean_ctx += r.input + r.output / 2.0;
  rep.context_tokens = n > 0 ? static_cast<int>(mean_ctx / n) : 0;
  return run_fixed_step(s.name, d, rep, s.fidelity, flow, detail, extension);
}

// Latencies of the finished requests, throughput, and the SLOs with goodput.
void latency_and_slo(const ServingSpec& sv, const std::vector<Request>& reqs, double makespan, Report& out,
                     ServingStats& st) {
  std::vector<double> ttft, tpot, e2e;
  double in_tokens = 0, out_tokens = 0;
  for (const auto& r : reqs) {
    if (r.finish < 0) continue;
    ttft.push_back(r.first_token - r.arrival);
    e2e.push_back(r.finish - r.arrival);
    if (r.output > 1) tpot.push_back((r.finish - r.first_token) / (r.output - 1));
    in_tokens += r.input;
    out_tokens += r.output;
  }
  out.step_time_s = st.iterations > 0 ? makespan / static_cast<double>(st.iterations) : 0;
  out.output_tokens_per_s = makespan > 0 ? out_tokens * sv.replicas / makespan : 0;
  out.input_tokens_per_s = makespan > 0 ? in_tokens * sv.replicas / makespan : 0;
  out.latency_s["ttft"] = percentiles(ttft);
  out.latency_s["e2e"] = percentiles(e2e);
  if (!tpot.empty()) out.latency_s["tpot"] = percentiles(tpot);
  st.ttft_cdf_s = cdf_of(ttft);
  st.tpot_cdf_s = cdf_of(tpot);
  if (!sv.slo_ttft_s && !sv.slo_tpot_s) return;
  st.slo_met = (!sv.slo_ttft_s || percentile_of(out.latency_s["ttft"], sv.slo_percentile) <= *sv.slo_ttft_s) &&
               (!sv.slo_tpot_s || tpot.empty() || percentile_of(out.latency_s["tpot"], sv.slo_percentile) <= *sv.slo_tpot_s);
  int good = 0;
  for (const auto& r : reqs) {
    if (r.finish < 0) continue;
    const double tp = r.output > 1 ? (r.finish - r.first_token) / (r.output - 1) : 0;
    if ((!sv.slo_ttft_s || r.first_token - r.arrival <= *sv.slo_ttft_s) && (!sv.slo_tpot_s || tp <= *sv.slo_tpot_s)) ++good;
  }
  st.goodput_rps = makespan > 0 ? good * sv.replicas / makespan : 0;
}

// The whole run's energy: every step's energy, and idle power while no request is in the system.
void run_energy(const ServingSpec& sv, const ServingRun& run, double makespan, double out_tokens, Report& out) {
  EnergyStats& e = *out.energy;
  const double prefill_idle_w = run.prefill_idle_w >= 0 ? run.prefill_idle_w : e.idle_w_per_device;
  const double idle_j = e.idle_w_per_device * run.pool_devices * std::max(0.0, makespan - run.pool.busy_s) +
                        prefill_idle_w * run.prefill_devices * std::max(0.0, makespan - run.prefill_pool.busy_s);
  e.joules = (run.pool.step_joules + run.prefill_pool.step_joules + idle_j) * sv.replicas;
  e.seconds = makespan;
  e.per = "run";
  e.token_kind = "output";
  e.tokens = out_tokens * sv.replicas;
  e.avg_w_per_device = makespan > 0 ? e.joules / (out.devices * makespan) : e.idle_w_per_device;
  e.peak_w_per_device = std::max({e.idle_w_per_device, run.pool.peak_w, run.prefill_pool.peak_w});
  e.source = "timeline integral of per-kernel device power over every scheduler step (analytic step timelines)";
}

}  // namespace

std::expected<Report, std::string> simulate_serving(const Scenario& s, const Deployment& d, const FlowEvaluator& flow,
                                                    SimulationDetail* detail) {
  const auto t0 = std::chrono::steady_clock::now();
  const ServingSpec& sv = s.workload.serving;
  std::vector<Request> reqs = make_requests(sv, d.routing.seed);
  const int n = static_cast<int>(reqs.size());
  const double first_arrival = n > 0 ? reqs.front().arrival : 0;

  // A disaggregated run's two pools, each a deployment of its own: parts of the cluster, or
  // pools of their own (the scenario's cluster is then the decode pool's).
  std::optional<Deployment> prefill_pool, decode_pool;
  if (sv.prefill_pool) {
    prefill_pool = resolve_deployment(prefill_pool_scenario(s));
    decode_pool = d;
  } else if (sv.disaggregated) {
    prefill_pool = pool_deployment(d, sv, true);
    decode_pool = pool_deployment(d, sv, false);
  }
  ServingRun run;
  run.pool_devices = d.par.devices;
  if (memory_per_device(d, step_shape_of(s.workload)).offloaded) {
    // The expert cache is sized to all RAM left beside a fixed-batch step's KV cache; serving
    // would need the two to share RAM as requests come and go, which is not modelled.
    run.infeasible = "serving with routed experts offloaded to flash is not modelled (the expert cache takes the RAM "
                     "the KV cache would need); run a decode or prefill workload, or use more devices so the model fits";
  } else if (!sv.disaggregated) {
    run_colocated(d, sv, reqs, run);
  } else if (!run_disaggregated(d, *prefill_pool, *decode_pool, sv, reqs, run)) {
    return std::unexpected(run.prefill_pool.error);
  }
  if (!run.pool.error.empty()) return std::unexpected(run.pool.error);

  const double kv_per_step =
      run.decode_iterations > 0 ? run.kv_bytes / static_cast<double>(run.decode_iterations) : 0.0;
  // (Pools of their own share no fabric to place the decode step in: no KV arrivals there.)
  const StepExtension extension = decode_pool && !sv.prefill_pool && run.infeasible.empty()
                                      ? kv_arrivals(d, sv.prefill_nodes, kv_per_step)
                                      : StepExtension{};
  auto report = representative_step(s, decode_pool ? *decode_pool : d, reqs, run, flow, detail, extension);
  if (!report) return report;
  Report& out = *report;
  out.workload = "serving";
  const double makespan = run.infeasible.empty() ? run.pool.end - first_arrival : 0.0;
  double out_tokens = 0;
  for (const auto& r : reqs) {
    if (r.finish >= 0) out_tokens += r.output;
  }
  ServingStats st;
  st.requests = n;
  st.replicas = sv.replicas;
  st.makespan_s = makespan;
  st.iterations = run.pool.iterations;
  st.preemptions = run.pool.preemptions;
  st.mean_decode_batch =
      run.decode_iterations > 0 ? run.pool.decode_sum / static_cast<double>(run.decode_iterations) : 1.0;
  st.kv_capacity_tokens = run.kv_capacity;
  st.peak_kv_fraction = run.pool.peak_kv;
  st.series = series_of(run.pool.series, first_arrival);
  st.slo_ttft_s = sv.slo_ttft_s;
  st.slo_tpot_s = sv.slo_tpot_s;
  st.slo_percentile = sv.slo_percentile;
  st.prefill_nodes = sv.disaggregated ? sv.prefill_nodes : 0;
  st.kv_transfer_s = run.transfer_mean;
  st.attention_imbalance = run.pool.imbalance_steps > 0 ? run.pool.imbalance_sum / static_cast<double>(run.pool.imbalance_steps) : 1.0;
  if (sv.sessions) {
    st.sessions = 0;
    std::vector<double> first, later;
    for (const auto& r : reqs) {
      if (r.turn == 0) ++st.sessions;
      if (r.finish >= 0) (r.turn == 0 ? first : later).push_back(r.first_token - r.arrival);
    }
    st.ttft_first_turn_s = percentiles(first);
    st.ttft_later_turns_s = percentiles(later);
  }
  if (sv.prefix_cache.enabled) {
    st.prefix_cache = true;
    st.prefix_hit_rate = run.pool.prompt_tokens > 0 ? run.pool.prefix_hit_tokens / run.pool.prompt_tokens : 0.0;
    st.prefill_tokens_saved = run.pool.prefix_hit_tokens;
    st.evicted_tokens = run.pool.evicted_tokens;
  }
  if (sv.kv_offload) {
    st.kv_offload = true;
    st.offload_bytes_to_host = run.pool.offloaded_tokens * run.kv_token_bytes;
    st.offload_bytes_from_host = run.pool.restored_tokens * run.kv_token_bytes;
    st.offload_restored_turns = run.pool.restored_turns;
    st.offload_bytes_to_ssd = run.pool.ssd_tokens * run.kv_token_bytes;
    st.offload_bytes_from_ssd = run.pool.ssd_restored_tokens * run.kv_token_bytes;
    st.offload_mean_wait_s = run.pool.restored_turns > 0 ? run.pool.restore_wait_s / static_cast<double>(run.pool.restored_turns) : 0.0;
  }
  st.kv_bytes_per_decode_step = kv_per_step;
  out.latency_s.clear();
  out.devices = d.par.devices;
  out.nodes = d.par.nodes;
  if (sv.prefill_pool) {
    // Pools of their own: both pools' devices, and their price per device-hour blended.
    const Deployment& pre = *prefill_pool;
    run.prefill_idle_w = pre.cost.power().active_idle_w;
    st.prefill_device = pre.dev().name;
    st.prefill_devices = pre.par.devices;
    st.decode_device = d.dev().name;
    st.decode_devices = d.par.devices;
    if (pre.price_per_device_hour) st.prefill_usd_per_hour = *pre.price_per_device_hour * pre.par.devices * sv.replicas;
    if (d.price_per_device_hour) st.decode_usd_per_hour = *d.price_per_device_hour * d.par.devices * sv.replicas;
    out.price_per_device_hour.reset();
    if (pre.price_per_device_hour && d.price_per_device_hour) {
      out.price_per_device_hour = (*pre.price_per_device_hour * pre.par.devices + *d.price_per_device_hour * d.par.devices) /
                                  (pre.par.devices + d.par.devices);
    }
    out.devices += pre.par.devices;
    out.nodes += pre.par.nodes;
  }
  if (!run.infeasible.empty()) {
    out.feasible = false;
    out.reason = run.infeasible;
  } else {
    latency_and_slo(sv, reqs, makespan, out, st);
  }
  out.devices *= sv.replicas;
  out.nodes *= sv.replicas;
  if (out.energy && out.feasible) {
    run_energy(sv, run, makespan, out_tokens, out);
  } else {
    out.energy.reset();
  }
  price_report(out);
  out.serving = st;
  out.events += static_cast<long long>(run.pool.evaluations);
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace moesim::sim
