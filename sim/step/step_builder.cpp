#include "step/step_builder.hpp"

#include <algorithm>

#include "step/expert_layers.hpp"
#include "step/step_tokens.hpp"

namespace moesim::sim {
namespace {

// Builds the step graph in named stages: the collectives' traffic first (TP all-reduce, routed
// experts per MoE layer, pipeline hand-offs) and the flash stalls of an offloaded deployment,
// then the tasks of every (step, micro-batch, stage, layer, sub-batch) in issue order.
//
// Every device of a stage runs the same kernels at the same time (expected-value routing is
// symmetric), so one task stands for the whole stage: one kernel at a time per stage, and one
// communication stream for the cluster.
class StepBuilder {
 public:
  StepBuilder(const Deployment& d, const StepShape& w, TrafficDetail detail)
      : d_(d), m_(d.model), w_(w), sh_(step_tokens(w)), detail_(detail), n_(d.par.devices), tp_(d.par.attention_tp),
        pp_(d.par.pp), stage_devices_(n_ / pp_),
        // Decode with pipeline stages keeps the pipeline full: `pp` micro-batches per step, and
        // two consecutive steps are simulated so the step time is the steady-state period, not
        // the fill.
        micro_(pp_ * (d.two_microbatch ? 2 : 1)), steps_(pp_ > 1 ? 2 : 1), sub_(d.two_microbatch ? 2 : 1),
        T_(sh_.tokens_per_rank / micro_), seqs_(static_cast<double>(w.batch_per_device) / micro_),
        wbytes_(hw::dtype_bytes(d.weights_dtype)), last_(static_cast<std::size_t>(pp_), -1) {}

  DeploymentStep build() {
    start();
    tp_allreduce_traffic();
    route_experts();
    flash_stalls();
    pipeline_traffic();
    const ParamCounts pc = count_parameters(m_);
    head_params_ = (m_.tie_embeddings ? pc.embedding : pc.lm_head) / tp_;
    // What each (step, pipeline micro-batch) must wait for before entering stage 0: the same
    // sequences' previous token (autoregressive), i.e. the end of that micro-batch last step.
    std::vector<std::vector<int>> mb_end(static_cast<std::size_t>(pp_));
    // At most 10 tasks per layer and sub-batch (attention, all-reduce, norms, gate, shared
    // expert, dispatch, flash read, experts, combine, all-reduce) and one per stage exit.
    graph().tasks.reserve(static_cast<std::size_t>(steps_) * pp_ * sub_ *
                          (10 * static_cast<std::size_t>(m_.num_layers) + pp_));
    for (int step = 0; step < steps_; ++step) {
      if (step == steps_ - 1) out_.last_step_first_task = static_cast<int>(graph().tasks.size());
      for (int mb = 0; mb < pp_; ++mb) micro_batch(mb, mb_end[static_cast<std::size_t>(mb)]);
    }
    return std::move(out_);
  }

 private:
  StepGraph& graph() { return out_.graph; }

  // Memory, token counts and dtypes of the step, and the graph's devices.
  void start() {
    out_.memory = memory_per_device(d_, w_);
    out_.compute_dtype = d_.cost.compute_dtype();
    out_.dispatch_dtype = d_.dispatch_dtype;
    out_.combine_dtype = d_.combine_dtype;
    out_.sequences = static_cast<double>(w_.batch_per_device) * d_.par.attention_dp;
    if (w_.kind == WorkloadKind::decode) {
      out_.output_tokens = out_.sequences;
    } else {
      out_.input_tokens = out_.sequences * w_.input_tokens;
      out_.output_tokens = out_.sequences;  // each prompt yields its first token
    }
    graph().num_devices = n_;
    graph().idle_w = d_.cost.power().idle_w;
    graph().fabric = d_.fabric;
  }

  // --- Tasks -------------------------------------------------------------------------------

  // A kernel on every device of stage `st`, after `deps` and the stage's previous kernel.
  int add_compute(Phase ph, int layer, int st, const KernelCost& c, std::vector<int> deps) {
    Task t;
    t.phase = ph;
    t.layer = layer;
    t.device = st * stage_devices_;
    t.device_count = stage_devices_;
    t.seconds = c.seconds;
    t.flops = c.flops;
    t.bytes = c.bytes;
    t.watts = c.watts;
    t.deps = std::move(deps);
    if (last_[static_cast<std::size_t>(st)] >= 0) t.deps.push_back(last_[static_cast<std::size_t>(st)]);
    std::sort(t.deps.begin(), t.deps.end());
    t.deps.erase(std::unique(t.deps.begin(), t.deps.end()), t.deps.end());
    const int id = graph().add(std::move(t));
    last_[static_cast<std::size_t>(st)] = id;
    return id;
  }

  // `rows` > 0 marks matrix work over that many rows (tokens): the GEMM efficiency curve of a
  // calibration profile applies.
  int compute(Phase ph, int layer, int st, double flops, double bytes, std::vector<int> deps, double rows = 0) {
    return add_compute(ph, layer, st, rows <= 0 ? d_.cost.kernel(flops, bytes) : d_.cost.gemm(flops, bytes, rows),
                       std::move(deps));
  }

  // A collective starts when its producers are done and the communication stream is free.
  int collective(Phase ph, int layer, std::shared_ptr<const TrafficMatrix> traffic, std::vector<int> deps) {
    Task t;
    t.phase = ph;
    t.layer = layer;
    t.traffic = std::move(traffic);
    t.deps = std::move(deps);
    if (last_comm_ >= 0) t.deps.push_back(last_comm_);
    std::sort(t.deps.begin(), t.deps.end());
    t.deps.erase(std::unique(t.deps.begin(), t.deps.end()), t.deps.end());
    last_comm_ = graph().add(std::move(t));
    return last_comm_;
  }

  // --- Traffic and stalls, built once per step ----------------------------------------------

  // Ring all-reduce inside each attention TP group: each rank sends 2 (tp-1)/tp of the message.
  void tp_allreduce_traffic() {
    if (tp_ <= 1) return;
    auto mtx = std::make_shared<TrafficMatrix>(d_.fabric.num_ports());
    const double msg = T_ * m_.hidden * kActivationBytes;
    for (int dv = 0; dv < n_; ++dv) {
      const int group = dv / tp_, rank = dv % tp_;
      mtx->add(dv, group * tp_ + (rank + 1) % tp_, 2.0 * (tp_ - 1) / tp_ * msg);
    }
    mtx->finalize();
    tp_allreduce_ = mtx;
  }

  // Routing, placement and the expert-parallel all-to-all of each MoE layer, inside its pipeline
  // stage. One routing draw per layer and step; the micro-batches of a step share it.
  void route_experts() {
    experts_of_.resize(static_cast<std::size_t>(m_.num_layers));
    if (!m_.is_moe()) return;
    ExpertLayerBuilder builder(d_, T_, detail_);
    int moe_layer = 0;
    for (int l = 0; l < m_.num_layers; ++l) {
      if (!m_.layers[static_cast<std::size_t>(l)].moe) continue;
      experts_of_[static_cast<std::size_t>(l)] =
          builder.build(moe_layer++, l / d_.par.layers_per_stage, layer_parameters(m_, l));
    }
    out_.expert_load = builder.summary(micro_);
  }

  // Flash offload: each MoE layer's expert kernel first waits for the experts it misses in the
  // cache to be read from flash (once per step; the routing is known after the gate, so the read
  // overlaps the dispatch). Each pipeline stage's devices cache only their own stage's experts
  // (memory_per_device sizes the cache for one stage), so each stage runs its own caches over its
  // own MoE layers.
  void flash_stalls() {
    flash_stall_.assign(static_cast<std::size_t>(m_.num_layers), 0.0);
    const MemoryBreakdown& mem = out_.memory;
    if (!mem.offloaded || !mem.offload_problem.empty()) return;
    const ParallelLayout& par = d_.par;
    ExpertCacheSpec cs;
    cs.routing = d_.routing;
    cs.router = d_.router;
    cs.tokens = sh_.tokens_per_rank * par.attention_dp;
    cs.capacity_experts = static_cast<std::size_t>(mem.cache_experts);
    std::vector<double> expected = routing_probabilities(expert_popularity(d_.routing, cs.router, 0), cs.router);
    for (double& x : expected) x *= cs.tokens;
    cs.held = place_experts(cs.router.experts, par.redundant_experts, par.expert_ep,
                            std::min(par.expert_ep, par.devices_per_node), par.placement, expected)
                  .held;
    OffloadStats o;
    o.flash_bytes = mem.routed_expert_bytes;
    o.cache_experts = mem.cache_experts;
    o.cache_bytes = o.cache_experts * mem.expert_bytes;
    o.experts = mem.routed_expert_bytes / mem.expert_bytes;
    o.flash_read_Bps = *d_.dev().flash_read_bandwidth;
    double hits = 0, accesses = 0;
    int moe_before = 0;
    for (int st = 0; st < pp_; ++st) {
      const std::vector<int> stage_moe = moe_layers_of_stage(st);
      if (stage_moe.empty()) continue;
      cs.first_moe_layer = moe_before;
      cs.moe_layers = static_cast<int>(stage_moe.size());
      moe_before += cs.moe_layers;
      const ExpertCacheStats cache = simulate_expert_cache(cs);
      hits += cache.hit_rate * cache.accesses_per_step;
      accesses += cache.accesses_per_step;
      for (std::size_t i = 0; i < stage_moe.size(); ++i) {
        const double misses = cache.worst_misses_per_layer[i];
        const auto l = static_cast<std::size_t>(stage_moe[i]);
        flash_stall_[l] = misses * mem.expert_bytes / o.flash_read_Bps;
        o.misses_per_step += misses;
        o.stall_s += flash_stall_[l];
      }
    }
    o.hit_rate = accesses > 0 ? hits / accesses : 1.0;
    out_.offload = o;
  }

  std::vector<int> moe_layers_of_stage(int st) const {
    const int l0 = st * d_.par.layers_per_stage, l1 = std::min(m_.num_layers, l0 + d_.par.layers_per_stage);
    std::vector<int> out;
    for (int l = l0; l < l1; ++l) {
      if (m_.layers[static_cast<std::size_t>(l)].moe) out.push_back(l);
    }
    return out;
  }

  // Activations handed from one stage to the next: device i of a stage to device i of the next.
  void pipeline_traffic() {
    const Fabric& f = d_.fabric;
    pp_send_.resize(static_cast<std::size_t>(pp_));
    for (int st = 0; st + 1 < pp_; ++st) {
      auto mtx = std::make_shared<TrafficMatrix>(f.num_ports());
      for (int i = 0; i < stage_devices_; ++i) {
        const int src = st * stage_devices_ + i, dst = src + stage_devices_;
        const bool same_node = f.spec.node_of(src) == f.spec.node_of(dst);
        const int from = same_node ? src : f.nic_port(src);
        const int to = same_node ? dst : f.nic_port(dst);
        mtx->add(from, to, T_ / tp_ * m_.hidden * kActivationBytes);
      }
      mtx->finalize();
      pp_send_[static_cast<std::size_t>(st)] = mtx;
    }
  }

  // --- The step, in issue order -------------------------------------------------------------

  // One pipeline micro-batch through every stage; `end` holds what it waited for last step and
  // receives where it ends this step.
  void micro_batch(int mb, std::vector<int>& end) {
    // `ready[k]` = the tasks sub-batch k of this micro-batch waits for, per device of a stage.
    std::vector<std::vector<int>> ready(static_cast<std::size_t>(sub_), end);
    for (int st = 0; st < pp_; ++st) {
      const int l0 = st * d_.par.layers_per_stage, l1 = std::min(m_.num_layers, l0 + d_.par.layers_per_stage);
      for (int l = l0; l < l1; ++l) layer(l, st, mb, ready);
      leave_stage(st, ready);
    }
    std::vector<int> ends;
    for (const auto& r : ready) ends.insert(ends.end(), r.begin(), r.end());
    end = ends;
  }

  struct AttentionWork {
    double flops = 0, bytes = 0;
  };

  // Attention over this micro-batch's tokens (heads split by TP): the projections and its share
  // of the KV cache, a chunked prefill's prompt tokens at their own context.
  AttentionWork attention_work(int l, const LayerParams& lp) const {
    const double Tc = sh_.chunk_tokens / micro_;
    AttentionWork a;
    a.flops = ((T_ - Tc) * attention_flops_per_token(m_, l, sh_.attended_context) +
               Tc * attention_flops_per_token(m_, l, sh_.chunk_context)) / tp_;
    double kv_per_token = kv_elements_per_token(m_, l) * hw::dtype_bytes(d_.kv_dtype);
    if (m_.attention.kind == AttentionKind::gqa) kv_per_token /= std::min<double>(tp_, m_.attention.num_kv_heads);
    const int window = m_.layers[static_cast<std::size_t>(l)].sliding_window;
    const double ctx = window > 0 ? std::min<double>(sh_.attended_context, window) : sh_.attended_context;
    const double chunk_ctx = window > 0 ? std::min<double>(sh_.chunk_context, window) : sh_.chunk_context;
    const double kv_read = w_.kind == WorkloadKind::decode
                               ? seqs_ * ctx * kv_per_token + (Tc > 0 ? Tc + chunk_ctx : 0.0) * kv_per_token
                               : T_ * kv_per_token;
    a.bytes = lp.attention / tp_ * wbytes_ + kv_read + 2.0 * T_ * m_.hidden * kActivationBytes;
    return a;
  }

  // One layer for every sub-batch: the front half of each (attention, norms, router or dense
  // MLP; the dispatch is issued), then the back half of each (experts, combine).
  void layer(int l, int st, int mb, std::vector<std::vector<int>>& ready) {
    const LayerParams lp = layer_parameters(m_, l);
    const bool moe = m_.layers[static_cast<std::size_t>(l)].moe;
    const AttentionWork attn = attention_work(l, lp);
    std::vector<int> disp_id(static_cast<std::size_t>(sub_), -1);
    for (int k = 0; k < sub_; ++k) {
      auto& rd = ready[static_cast<std::size_t>(k)];
      const std::vector<int> front = attention_and_norms(l, st, attn, rd);
      if (moe) {
        disp_id[static_cast<std::size_t>(k)] = router_and_dispatch(l, st, lp, front);
      } else {
        rd = dense_mlp(l, st, lp, front);
      }
    }
    if (!moe) return;
    for (int k = 0; k < sub_; ++k) {
      ready[static_cast<std::size_t>(k)] = experts_and_combine(l, st, lp, k == 0 && mb == 0, disp_id[static_cast<std::size_t>(k)]);
    }
  }

  // Attention (and its TP all-reduce), then norms and residual adds; with an engine profile the
  // norms task also carries the engine's fixed per-layer time (launches, small kernels), during
  // which the device idles.
  std::vector<int> attention_and_norms(int l, int st, const AttentionWork& attn, const std::vector<int>& ready) {
    std::vector<int> done;
    done.push_back(compute(Phase::attention, l, st, attn.flops, attn.bytes, ready, T_));
    if (tp_allreduce_) done = {collective(Phase::attention, l, tp_allreduce_, done)};
    KernelCost norms = d_.cost.kernel(10.0 * T_ * m_.hidden, 6.0 * T_ * m_.hidden * kActivationBytes);
    if (d_.cost.layer_overhead_s() > 0) norms = d_.cost.with_idle(norms, d_.cost.layer_overhead_s());
    return {add_compute(Phase::other, l, st, norms, done)};
  }

  // A dense layer's MLP (and its TP all-reduce): what the next layer waits for.
  std::vector<int> dense_mlp(int l, int st, const LayerParams& lp, const std::vector<int>& front) {
    const double mlp_flops = 2.0 * T_ * lp.dense_mlp / tp_;
    const double mlp_bytes = lp.dense_mlp / tp_ * wbytes_ + 2.0 * T_ * m_.hidden * kActivationBytes;
    std::vector<int> mlp;
    mlp.push_back(compute(Phase::dense_mlp, l, st, mlp_flops, mlp_bytes, front, T_));
    if (tp_allreduce_) mlp = {collective(Phase::dense_mlp, l, tp_allreduce_, mlp)};
    return mlp;
  }

  // The router, the shared experts (before the dispatch, or during it when they overlap) and
  // the dispatch; returns the dispatch task (-1 without expert parallelism).
  int router_and_dispatch(int l, int st, const LayerParams& lp, const std::vector<int>& front) {
    const double gate_flops = 2.0 * T_ * lp.gate;
    const double gate_bytes = lp.gate * kHighPrecisionBytes + T_ * m_.hidden * kActivationBytes;
    std::vector<int> gated;
    gated.push_back(compute(Phase::gate, l, st, gate_flops, gate_bytes, front, T_));
    auto shared = [&](const std::vector<int>& deps) {
      if (lp.shared_experts <= 0) return;
      const double sh_flops = 2.0 * T_ * lp.shared_experts / tp_;
      const double sh_bytes = lp.shared_experts / tp_ * wbytes_ + 2.0 * T_ * m_.hidden * kActivationBytes;
      compute(Phase::shared_expert, l, st, sh_flops, sh_bytes, deps, T_);
    };
    if (!d_.overlap_shared) shared(gated);
    int dispatch = -1;
    if (const auto& disp = experts_of_[static_cast<std::size_t>(l)].dispatch) {
      dispatch = collective(Phase::dispatch, l, disp, {last_[static_cast<std::size_t>(st)]});
    }
    if (d_.overlap_shared) shared(gated);
    return dispatch;
  }

  // Routed experts once the sub-batch's tokens arrived (every device of the stage waits for the
  // most loaded one, the straggler), then the combine and, with TP, the shared experts'
  // all-reduce; what the next layer waits for. The first sub-batch of the first micro-batch
  // also reads the experts it misses from flash.
  std::vector<int> experts_and_combine(int l, int st, const LayerParams& lp, bool reads_flash, int dispatch) {
    std::vector<int> deps;
    if (dispatch >= 0) deps.push_back(dispatch);
    std::vector<int> ex;
    if (const double stall = flash_stall_[static_cast<std::size_t>(l)]; stall > 0 && reads_flash) {
      KernelCost read;
      read.seconds = stall;
      read.watts = d_.cost.power().idle_w;  // the SoC waits on flash (UFS power is not modelled)
      add_compute(Phase::experts, l, st, read, {});
    }
    const LayerExperts& lx = experts_of_[static_cast<std::size_t>(l)];
    ex.push_back(add_compute(Phase::experts, l, st, lx.straggler, deps));
    std::vector<int> next = lx.combine ? std::vector<int>{collective(Phase::combine, l, lx.combine, ex)} : ex;
    if (tp_allreduce_ && lp.shared_experts > 0) next = {collective(Phase::shared_expert, l, tp_allreduce_, next)};
    return next;
  }

  // Leaving a stage: hand activations to the next one, or produce the token (final norm and lm
  // head over the last token of each sequence, vocabulary split over TP).
  void leave_stage(int st, std::vector<std::vector<int>>& ready) {
    for (auto& rd : ready) {
      if (st + 1 < pp_) {
        std::vector<int> deps = rd;
        deps.push_back(last_[static_cast<std::size_t>(st)]);
        rd = {collective(Phase::pipeline, -1, pp_send_[static_cast<std::size_t>(st)], deps)};
      } else {
        std::vector<int> head;
        head.push_back(compute(Phase::other, -1, st, 2.0 * seqs_ / sub_ * head_params_,
                               head_params_ * kHighPrecisionBytes + seqs_ / sub_ * m_.hidden * kActivationBytes, rd,
                               seqs_ / sub_));
        rd = head;
      }
    }
  }

  const Deployment& d_;
  const ModelConfig& m_;
  StepShape w_;
  StepTokens sh_;
  TrafficDetail detail_;
  int n_, tp_, pp_, stage_devices_, micro_, steps_, sub_;
  double T_;      // tokens per device per micro-batch
  double seqs_;   // sequences per device per micro-batch
  double wbytes_;
  double head_params_ = 0;
  DeploymentStep out_;
  std::vector<int> last_;  // per stage: its last kernel
  int last_comm_ = -1;     // the last collective
  std::shared_ptr<const TrafficMatrix> tp_allreduce_;
  std::vector<LayerExperts> experts_of_;
  std::vector<double> flash_stall_;
  std::vector<std::shared_ptr<const TrafficMatrix>> pp_send_;
};

}  // namespace

DeploymentStep build_step(const Deployment& d, const StepShape& shape, TrafficDetail detail) {
  return StepBuilder(d, shape, detail).build();
}

DeploymentStep build_deployment_step(const Scenario& s) {
  return build_step(resolve_deployment(s), step_shape_of(s.workload), traffic_detail_for(s.fidelity));
}

double last_step_start(const DeploymentStep& step, const Timeline& timeline) {
  double start = 0;
  for (std::size_t i = 0; i < static_cast<std::size_t>(step.last_step_first_task); ++i) {
    start = std::max(start, timeline.finish[i]);
  }
  return start;
}

}  // namespace moesim::sim
