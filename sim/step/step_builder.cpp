#include "step/step_builder.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "step/expert_layers.hpp"
#include "step/mixer_work.hpp"
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
        wbytes_(hw::dtype_bytes(d.weights_dtype)), fp8_(hw::dtype_bytes(d.cost.compute_dtype()) < kActivationBytes),
        last_(static_cast<std::size_t>(pp_), -1) {}

  DeploymentStep build() {
    start();
    tp_allreduce_traffic();
    route_experts();
    mtp_module();
    flash_stalls();
    pipeline_traffic();
    const ParamCounts pc = count_parameters(m_);
    head_params_ = (m_.tie_embeddings ? pc.embedding : pc.lm_head) / tp_;
    // What each (step, pipeline micro-batch) must wait for before entering stage 0: the same
    // sequences' previous token (autoregressive), i.e. the end of that micro-batch last step.
    std::vector<std::vector<int>> mb_end(static_cast<std::size_t>(pp_));
    // At most 32 tasks per layer and sub-batch (every kernel and collective of the layer) and
    // four per stage exit.
    graph().tasks.reserve(static_cast<std::size_t>(steps_) * pp_ * sub_ *
                          (32 * static_cast<std::size_t>(m_.num_layers) + 4 * pp_) + 1);
    draft_model();
    for (int step = 0; step < steps_; ++step) {
      if (step == steps_ - 1) out_.last_step_first_task = static_cast<int>(graph().tasks.size());
      engine_step(mb_end);
      draft_passes(mb_end);
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
    out_.sequences = static_cast<double>(w_.batch_per_device) * d_.par.attention_dp / w_.context_parallel;
    if (w_.kind == WorkloadKind::decode) {
      // Speculative decoding: each step keeps the accepted drafts and one token of its own.
      out_.output_tokens = out_.sequences * (d_.speculative ? d_.speculative->tokens_per_step() : 1.0);
    } else {
      out_.input_tokens = out_.sequences * w_.input_tokens;
      out_.output_tokens = out_.sequences;  // each prompt yields its first token
    }
    graph().num_devices = n_;
    // A device waiting inside a step (on a collective, on another stage) keeps its clocks up and
    // its communication kernels running: it draws its active idle power, not its idle one.
    graph().idle_w = d_.cost.power().active_idle_w;
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

  // `rows` > 0 marks matrix work over that many rows (tokens), reducing over depth `k` (0:
  // unknown): the GEMM efficiency curve of a calibration profile applies.
  int compute(Phase ph, int layer, int st, double flops, double bytes, std::vector<int> deps, double rows = 0,
              double k = 0) {
    return add_compute(ph, layer, st, rows <= 0 ? d_.cost.kernel(flops, bytes) : d_.cost.gemm(flops, bytes, rows, k),
                       std::move(deps));
  }

  // A memory-bound kernel of class `ph` (norms, rotary, activation, casts, ...): its counted
  // FLOPs and bytes at the class's achieved bandwidth (docs/cost-model.md).
  int kernel(Phase ph, int layer, int st, double flops, double bytes, std::vector<int> deps) {
    return add_compute(ph, layer, st, d_.cost.class_kernel(ph, flops, bytes), std::move(deps));
  }

  // Quantising `elements` bf16 activations before an 8-bit GEMM (read 2 B, write 1 B and one fp32
  // scale per 128 elements) or a block-scaled FP4 one; nothing when the GEMMs compute in 16 bits.
  void cast(int layer, int st, double elements, const std::vector<int>& deps) {
    if (!fp8_ || elements <= 0) return;
    // Block-scaled FP4 compute (W4A4): the format's bytes, scales included.
    const hw::DType c = d_.cost.compute_dtype();
    const double written = c == hw::DType::nvfp4 || c == hw::DType::mxfp4 ? hw::dtype_bytes(c) : 1.0 + 4.0 / 128.0;
    kernel(Phase::cast_transpose, layer, st, elements, elements * (kActivationBytes + written), deps);
  }

  // A gated activation (SwiGLU / GeGLU) over `rows` x `inter`: read gate and up, write one; a
  // plain one (squared ReLU): read and write one.
  void activation(int layer, int st, double rows, double inter, const std::vector<int>& deps) {
    if (rows <= 0 || inter <= 0) return;
    if (m_.mlp_gated) {
      kernel(Phase::activation, layer, st, 5.0 * rows * inter, 3.0 * rows * inter * kActivationBytes, deps);
    } else {
      kernel(Phase::activation, layer, st, 2.0 * rows * inter, 2.0 * rows * inter * kActivationBytes, deps);
    }
  }

  // Of an MLP's or expert's weights: the share before the activation (gate and up, or up), the
  // share after it (down), and the intermediate width of `params` split `split` ways.
  double up_share() const { return (m_.mlp_matrices() - 1.0) / m_.mlp_matrices(); }
  double down_share() const { return 1.0 / m_.mlp_matrices(); }
  double intermediate(double params, double split) const { return m_.mlp_intermediate(params) / split; }

  // RMSNorm over `rows` hidden vectors: read, write (the weights are negligible).
  int rmsnorm(int layer, int st, double rows, const std::vector<int>& deps) {
    return kernel(Phase::rmsnorm, layer, st, 4.0 * rows * m_.hidden, 2.0 * rows * m_.hidden * kActivationBytes, deps);
  }

  // The serving engine's fixed time per step (scheduling, input preparation) before the step's
  // first kernel; the device idles meanwhile. Nothing without an engine profile.
  void engine_step(std::vector<std::vector<int>>& mb_end) {
    if (d_.cost.step_overhead_s() <= 0) return;
    std::vector<int> deps;
    for (const auto& e : mb_end) deps.insert(deps.end(), e.begin(), e.end());
    const int id = add_compute(Phase::engine, -1, 0, d_.cost.with_idle(KernelCost{}, d_.cost.step_overhead_s()), deps);
    for (auto& e : mb_end) e = {id};
  }

  // A collective starts when its producers are done and its communication stream is free: the
  // cluster's one stream, or (communication.streams "per-class") its class's own: the expert
  // all-to-all (dispatch, combine), the pipeline sends, the TP all-reduce (every other phase).
  int collective(Phase ph, int layer, std::shared_ptr<const TrafficMatrix> traffic, std::vector<int> deps) {
    Task t;
    t.phase = ph;
    t.layer = layer;
    t.traffic = std::move(traffic);
    t.deps = std::move(deps);
    const std::size_t stream = !d_.stream_per_class                         ? 0
                               : ph == Phase::dispatch || ph == Phase::combine ? 0
                               : ph == Phase::pipeline                         ? 1
                                                                               : 2;
    int& last = last_comm_[stream];
    if (last >= 0) t.deps.push_back(last);
    std::sort(t.deps.begin(), t.deps.end());
    t.deps.erase(std::unique(t.deps.begin(), t.deps.end()), t.deps.end());
    last = graph().add(std::move(t));
    return last;
  }

  // --- Traffic and stalls, built once per step ----------------------------------------------

  // Ring all-reduce inside each attention TP group: each rank sends 2 (tp-1)/tp of the message.
  void tp_allreduce_traffic() {
    if (tp_ > 1) tp_allreduce_ = ring_allreduce(T_);
  }

  // Context parallelism's ring: each device sends its KV blocks (`block_bytes`, what it wrote)
  // to the same TP rank of the next member of its CP group, cp - 1 times (the members are
  // consecutive TP groups). One matrix per block size, shared by the layers that have it.
  std::shared_ptr<const TrafficMatrix> cp_ring(double block_bytes) {
    auto& mtx = cp_rings_[block_bytes];
    if (mtx) return mtx;
    const int cp = w_.context_parallel, group = tp_ * cp;
    const Fabric& f = d_.fabric;
    auto ring = std::make_shared<TrafficMatrix>(f.num_ports());
    for (int dv = 0; dv < stage_devices_; ++dv) {
      const int base = dv / group * group, member = (dv - base) / tp_, rank = (dv - base) % tp_;
      const int dst = base + (member + 1) % cp * tp_ + rank;
      const bool same_node = f.spec.node_of(dv) == f.spec.node_of(dst);
      ring->add(same_node ? dv : f.nic_port(dv), same_node ? dst : f.nic_port(dst), (cp - 1.0) * block_bytes);
    }
    ring->finalize();
    mtx = ring;
    return mtx;
  }

  // A ring all-reduce of `tokens` hidden vectors inside every attention TP group.
  std::shared_ptr<const TrafficMatrix> ring_allreduce(double tokens) const {
    auto mtx = std::make_shared<TrafficMatrix>(d_.fabric.num_ports());
    const double msg = tokens * m_.hidden * kActivationBytes;
    for (int dv = 0; dv < n_; ++dv) {
      const int group = dv / tp_, rank = dv % tp_;
      mtx->add(dv, group * tp_ + (rank + 1) % tp_, 2.0 * (tp_ - 1) / tp_ * msg);
    }
    mtx->finalize();
    return mtx;
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

  // Speculative decoding with a draft model: one decode step of the draft (deployed like the
  // target's attention on the same devices) over the step's sequences, built once.
  void draft_model() {
    const auto& sp = d_.speculative;
    if (w_.kind != WorkloadKind::decode || w_.batch_per_device <= 0 || !sp || !sp->draft ||
        sp->method != SpeculativeSpec::Method::draft_model) {
      return;
    }
    StepShape ds = w_;
    ds.verify_tokens = 1;
    ds.chunk_tokens = 0;
    ds.chunk_context = 0;
    draft_ = build_step(draft_deployment(d_), ds, detail_).graph;
  }

  // The draft's k passes before the target verifies: its kernels (and collectives) spliced in
  // after the engine's step time, each pass after the one before; the draft's own per-step
  // engine time is left out (one engine step schedules them all). Its kernels count in their
  // own classes.
  void draft_passes(std::vector<std::vector<int>>& mb_end) {
    if (!draft_) return;
    std::vector<int> roots;
    for (const auto& e : mb_end) roots.insert(roots.end(), e.begin(), e.end());
    std::sort(roots.begin(), roots.end());
    roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
    for (int pass = 0; pass < d_.speculative->draft_tokens; ++pass) roots = splice(*draft_, roots);
    for (auto& e : mb_end) e = roots;
  }

  // Appends `g`'s tasks, its first ones after `roots`; returns the ids its last ones got.
  std::vector<int> splice(const StepGraph& g, const std::vector<int>& roots) {
    std::vector<std::vector<int>> as(g.tasks.size());  // the new ids each task of g stands for
    std::vector<bool> has_successor(g.tasks.size(), false);
    for (std::size_t i = 0; i < g.tasks.size(); ++i) {
      const Task& t = g.tasks[i];
      std::vector<int> deps = t.deps.empty() ? roots : std::vector<int>{};
      for (int d : t.deps) {
        has_successor[static_cast<std::size_t>(d)] = true;
        deps.insert(deps.end(), as[static_cast<std::size_t>(d)].begin(), as[static_cast<std::size_t>(d)].end());
      }
      std::sort(deps.begin(), deps.end());
      deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
      if (t.phase == Phase::engine && t.layer < 0) {  // the draft's own per-step engine time
        as[i] = deps;
        continue;
      }
      Task c = t;
      c.deps = std::move(deps);
      const int id = graph().add(std::move(c));
      as[i] = {id};
      if (!t.is_collective()) last_[0] = id;  // the target's first kernel follows the draft's
    }
    std::vector<int> ends;
    for (std::size_t i = 0; i < g.tasks.size(); ++i) {
      if (!has_successor[i]) ends.insert(ends.end(), as[i].begin(), as[i].end());
    }
    std::sort(ends.begin(), ends.end());
    ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
    return ends.empty() ? roots : ends;
  }

  // Speculative decoding with MTP: one module pass per draft token, over one token per sequence,
  // with its own routing draw (an extra MoE layer) and TP all-reduce.
  void mtp_module() {
    const auto& sp = d_.speculative;
    // (A serving step that only prefills has no sequence to draft for.)
    if (w_.kind != WorkloadKind::decode || w_.batch_per_device <= 0 || !sp ||
        sp->method != SpeculativeSpec::Method::mtp || m_.mtp_layers == 0) {
      return;
    }
    mtp_passes_ = sp->draft_tokens;
    const int l = m_.num_layers - 1;
    if (m_.layers[static_cast<std::size_t>(l)].moe) {
      ExpertLayerBuilder builder(d_, seqs_, detail_);
      mtp_experts_ = builder.build(m_.num_moe_layers(), pp_ - 1, layer_parameters(m_, l));
    }
    if (tp_ > 1) mtp_allreduce_ = ring_allreduce(seqs_);
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
    // Placed by the first MoE layer's load shares, as the steps place (expert_layers.cpp).
    const std::vector<double> shares = routing_probabilities(expert_popularity(d_.routing, cs.router, 0), cs.router);
    cs.held = d_.placements
                  ->place(cs.router.experts, par.redundant_experts, par.expert_ep,
                          std::min(par.expert_ep, par.devices_per_node), par.placement, shares)
                  ->held;
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

  AttentionWork attention_work(int l, const LayerParams& lp) const {
    return mixer_work(d_, w_, sh_, l, lp, MixerTokens{T_, sh_.chunk_tokens / micro_, seqs_});
  }

  // One layer for every sub-batch: the front half of each (attention, norms, router or dense
  // MLP; the dispatch is issued), then the back half of each (experts, combine).
  void layer(int l, int st, int mb, std::vector<std::vector<int>>& ready) {
    const LayerParams lp = layer_parameters(m_, l);
    const bool moe = m_.layers[static_cast<std::size_t>(l)].moe;
    const AttentionWork attn = attention_work(l, lp);
    std::vector<int> disp_id(static_cast<std::size_t>(sub_), -1);
    const LayerSpec& spec = m_.layers[static_cast<std::size_t>(l)];
    for (int k = 0; k < sub_; ++k) {
      auto& rd = ready[static_cast<std::size_t>(k)];
      // A layer without a mixer (Nemotron-H's MoE and MLP blocks) is its MLP's norm and MLP; one
      // without an MLP ends at the mixer's residual add.
      const std::vector<int> front = spec.mixer == Mixer::none ? mlp_norm(l, st, rd) : attention_and_norms(l, st, attn, rd, spec.mlp);
      if (!spec.mlp) {
        rd = front;
      } else if (moe) {
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

  // The attention block: input RMSNorm, QKV projections, rotary, KV-cache write, attention,
  // output projection (and its TP all-reduce), the residual add and the post-attention RMSNorm;
  // with an engine profile, then the engine's fixed per-layer time (launch gaps), during which
  // the device idles.
  // A recurrent mixer (Gated DeltaNet, Mamba-2) takes the same path: its in_proj, its scan or
  // state update in the attention phase, its out_proj; it has no rotary and no KV-cache write.
  // DSA's indexer scores the context in fp8 before the attention kernel.
  std::vector<int> attention_and_norms(int l, int st, const AttentionWork& attn, const std::vector<int>& ready,
                                       bool mlp_follows) {
    rmsnorm(l, st, T_, ready);
    cast(l, st, T_ * m_.hidden, {});
    compute(Phase::attention_proj, l, st, attn.qkv_flops, attn.qkv_bytes, {}, T_, attn.qkv_k);
    if (attn.rope_elements > 0) {
      kernel(Phase::rotary, l, st, 3.0 * attn.rope_elements, 2.0 * attn.rope_elements * kActivationBytes, {});
    }
    int kv_written = -1;
    if (attn.kv_write_bytes > 0) kv_written = kernel(Phase::kv_write, l, st, 0, 2.0 * attn.kv_write_bytes, {});
    // Ring attention (context parallelism): each rank passes its KV blocks around its CP group
    // while it computes on the blocks it has; the output projection waits for both.
    std::vector<int> ring;
    if (w_.context_parallel > 1 && kv_written >= 0) {
      ring.push_back(collective(Phase::attention, l, cp_ring(attn.kv_write_bytes), {kv_written}));
    }
    if (attn.indexer_flops > 0) {
      // In bf16-peak units, as the attention kernel's cost is: fp8 runs at the fp8 peak.
      const auto bf16 = d_.dev().peak(hw::DType::bf16), fp8 = d_.dev().peak(hw::DType::fp8);
      const double rate = bf16 && fp8 ? *bf16 / *fp8 : 1.0;
      add_compute(Phase::attention, l, st, d_.cost.attention(attn.indexer_flops * rate, attn.indexer_bytes), {});
    }
    add_compute(Phase::attention, l, st, d_.cost.attention(attn.core_flops, attn.core_bytes), {});
    cast(l, st, attn.o_inputs, {});
    std::vector<int> done;
    done.push_back(compute(Phase::attention_proj, l, st, attn.o_flops, attn.o_bytes, ring, T_, attn.o_k));
    if (tp_allreduce_) done = {collective(Phase::attention, l, tp_allreduce_, done)};
    int last = kernel(Phase::residual, l, st, T_ * m_.hidden, 3.0 * T_ * m_.hidden * kActivationBytes, done);
    if (mlp_follows) last = rmsnorm(l, st, T_, {});
    return {engine_layer_overhead(l, st, last)};
  }

  // The MLP's own RMSNorm, for a layer without a mixer.
  std::vector<int> mlp_norm(int l, int st, const std::vector<int>& ready) {
    return {engine_layer_overhead(l, st, rmsnorm(l, st, T_, ready))};
  }

  // With an engine profile, the engine's fixed per-layer time (launch gaps), during which the
  // device idles, after `last`.
  int engine_layer_overhead(int l, int st, int last) {
    if (d_.cost.layer_overhead_s() <= 0) return last;
    return add_compute(Phase::engine, l, st, d_.cost.with_idle(KernelCost{}, d_.cost.layer_overhead_s()), {});
  }

  // A dense layer's MLP (and its TP all-reduce): what the next layer waits for.
  std::vector<int> dense_mlp(int l, int st, const LayerParams& lp, const std::vector<int>& front) {
    const double mlp_flops = 2.0 * T_ * lp.dense_mlp / tp_;
    const double mlp_bytes = lp.dense_mlp / tp_ * wbytes_ + 2.0 * T_ * m_.hidden * kActivationBytes;
    const double inter = intermediate(lp.dense_mlp, tp_);
    cast(l, st, T_ * m_.hidden, front);
    compute(Phase::dense_mlp, l, st, mlp_flops * up_share(), mlp_bytes * up_share(), front, T_, m_.hidden);  // (gate and) up
    activation(l, st, T_, inter, {});
    cast(l, st, T_ * inter, {});
    std::vector<int> mlp;
    mlp.push_back(compute(Phase::dense_mlp, l, st, mlp_flops * down_share(), mlp_bytes * down_share(), {}, T_, inter));  // down
    if (tp_allreduce_) mlp = {collective(Phase::dense_mlp, l, tp_allreduce_, mlp)};
    mlp = {kernel(Phase::residual, l, st, T_ * m_.hidden, 3.0 * T_ * m_.hidden * kActivationBytes, mlp)};
    return mlp;
  }

  // The router (its GEMM, then softmax or sigmoid and top-k over the experts' scores), the
  // shared experts (before the dispatch, or during it when they overlap), the tokens' fp8 cast
  // and permutation into expert order, and the dispatch; returns the dispatch task (-1 without
  // expert parallelism).
  int router_and_dispatch(int l, int st, const LayerParams& lp, const std::vector<int>& front) {
    const double gate_flops = 2.0 * T_ * lp.gate;
    const double gate_bytes = lp.gate * kHighPrecisionBytes + T_ * m_.hidden * kActivationBytes;
    const double experts = m_.moe.num_experts, k = m_.moe.top_k;
    std::vector<int> gated;
    compute(Phase::gate, l, st, gate_flops, gate_bytes, front, T_, m_.hidden);
    // fp32 scores: read, normalise, write, then top-k reads them and writes k (index, weight).
    gated.push_back(kernel(Phase::router, l, st, 8.0 * T_ * experts, T_ * (3.0 * experts * 4.0 + k * 8.0), {}));
    auto shared = [&](const std::vector<int>& deps) {
      if (lp.shared_experts <= 0) return;
      const double sh_flops = 2.0 * T_ * lp.shared_experts / tp_;
      const double sh_bytes = lp.shared_experts / tp_ * wbytes_ + 2.0 * T_ * m_.hidden * kActivationBytes;
      const double inter = intermediate(lp.shared_experts, tp_);
      cast(l, st, T_ * m_.hidden, deps);
      compute(Phase::shared_expert, l, st, sh_flops * up_share(), sh_bytes * up_share(), deps, T_, m_.hidden);
      activation(l, st, T_, inter, {});
      cast(l, st, T_ * inter, {});
      compute(Phase::shared_expert, l, st, sh_flops * down_share(), sh_bytes * down_share(), {}, T_, inter);
    };
    if (!d_.overlap_shared) shared(gated);
    // Each token's k copies gathered in expert order (index building folded in), in the
    // dispatch's format; an fp8 dispatch first quantises the tokens.
    if (hw::dtype_bytes(d_.dispatch_dtype) < kActivationBytes) {
      kernel(Phase::cast_transpose, l, st, T_ * m_.hidden, T_ * m_.hidden * (kActivationBytes + 1.0 + 4.0 / 128.0), {});
    }
    kernel(Phase::permute_unpermute, l, st, 0, 2.0 * T_ * k * m_.hidden * hw::dtype_bytes(d_.dispatch_dtype), {});
    int dispatch = -1;
    if (const auto& disp = experts_at(l).dispatch) {
      dispatch = collective(Phase::dispatch, l, disp, {last_[static_cast<std::size_t>(st)]});
    }
    if (d_.overlap_shared) shared(gated);
    return dispatch;
  }

  // Routed experts once the sub-batch's tokens arrived (every device of the stage waits for the
  // most loaded one, the straggler): the grouped GEMMs with their activation and the fp8 cast
  // between them; then the combine, the weighted sum of each token's k results back in token
  // order (unpermute) and the residual add, and, with TP, the shared experts' all-reduce; what
  // the next layer waits for. The first sub-batch of the first micro-batch also reads the
  // experts it misses from flash.
  std::vector<int> experts_and_combine(int l, int st, const LayerParams& lp, bool reads_flash, int dispatch) {
    std::vector<int> deps;
    if (dispatch >= 0) deps.push_back(dispatch);
    if (const double stall = flash_stall_[static_cast<std::size_t>(l)]; stall > 0 && reads_flash) {
      KernelCost read;
      read.seconds = stall;
      read.watts = d_.cost.power().idle_w;  // the SoC waits on flash (UFS power is not modelled)
      add_compute(Phase::experts, l, st, read, {});
    }
    const LayerExperts& lx = experts_at(l);
    const double inter = intermediate(lp.routed_expert, d_.par.expert_tp);
    std::vector<int> ex;
    ex.push_back(add_compute(Phase::experts, l, st, lx.straggler, deps));
    activation(l, st, lx.pairs, inter, {});
    cast(l, st, lx.pairs * inter, {});
    std::vector<int> next = lx.combine ? std::vector<int>{collective(Phase::combine, l, lx.combine, ex)} : ex;
    // The TP group sums its shards' partial outputs (expert TP) and its shared experts' in one
    // all-reduce.
    if (tp_allreduce_ && d_.par.expert_tp > 1) {
      next = {collective(Phase::experts, l, tp_allreduce_, next)};
    } else if (tp_allreduce_ && lp.shared_experts > 0) {
      next = {collective(Phase::shared_expert, l, tp_allreduce_, next)};
    }
    const double k = m_.moe.top_k;
    kernel(Phase::permute_unpermute, l, st, 2.0 * T_ * k * m_.hidden,
           T_ * m_.hidden * (k * hw::dtype_bytes(d_.combine_dtype) + kActivationBytes), next);
    return {kernel(Phase::residual, l, st, T_ * m_.hidden, 3.0 * T_ * m_.hidden * kActivationBytes, {})};
  }

  const LayerExperts& experts_at(int l) const {
    return in_mtp_ ? mtp_experts_ : experts_of_[static_cast<std::size_t>(l)];
  }

  // Leaving a stage: hand activations to the next one, or produce the token (final norm and lm
  // head over the last token of each sequence, vocabulary split over TP) and, with MTP, draft
  // the next step's tokens.
  void leave_stage(int st, std::vector<std::vector<int>>& ready) {
    for (auto& rd : ready) {
      if (st + 1 < pp_) {
        std::vector<int> deps = rd;
        deps.push_back(last_[static_cast<std::size_t>(st)]);
        rd = {collective(Phase::pipeline, -1, pp_send_[static_cast<std::size_t>(st)], deps)};
      } else {
        rd = {produce_tokens(st, rd, w_.verify_tokens)};
      }
    }
    if (st + 1 == pp_ && mtp_passes_ > 0) mtp_drafts(st, ready);
  }

  // DeepSeek's multi-token prediction drafts the next step's tokens: per draft token one pass of
  // the MTP module over one token per sequence (enorm and hnorm, eh_proj from 2 x hidden to
  // hidden, a decoder layer shaped like the model's last, and the shared head with sampling). Its
  // kernels count in their own classes (eh_proj as a projection, attention_proj).
  void mtp_drafts(int st, std::vector<std::vector<int>>& ready) {
    const int l = m_.num_layers - 1;
    const double h = m_.hidden;
    const double saved_T = T_, saved_chunk = sh_.chunk_tokens;
    const auto saved_allreduce = tp_allreduce_;
    T_ = seqs_;
    sh_.chunk_tokens = 0;
    tp_allreduce_ = mtp_allreduce_;
    in_mtp_ = true;
    for (int pass = 0; pass < mtp_passes_; ++pass) {
      for (auto& rd : ready) {
        rmsnorm(l, st, 2.0 * T_, rd);
        rd = {compute(Phase::attention_proj, l, st, 2.0 * T_ * 2.0 * h * h / tp_,
                      2.0 * h * h / tp_ * wbytes_ + 3.0 * T_ * h * kActivationBytes, {}, T_, 2.0 * h)};
      }
      layer(l, st, /*mb=*/1, ready);  // (mb 1: no flash reads)
      for (auto& rd : ready) rd = {produce_tokens(st, rd, 1)};
    }
    in_mtp_ = false;
    tp_allreduce_ = saved_allreduce;
    T_ = saved_T;
    sh_.chunk_tokens = saved_chunk;
  }

  // The last stage's final RMSNorm and lm head over the last token of each sequence (vocabulary
  // split over TP), then sampling over the vocabulary (fp32 logits: softmax, then the draw) and
  // the serving engine's per-sequence time; in training, the head over every token and the loss.
  int produce_tokens(int st, const std::vector<int>& deps, int positions) {
    // Training scores every token (the loss over all positions); serving the last of each
    // sequence, or with speculative decoding every position it verifies.
    // (T_ and seqs_ are already one sub-batch's: leave_stage calls this once per sub-batch.)
    const double seqs = w_.logits_every_token ? T_ : seqs_ * positions;
    rmsnorm(-1, st, seqs, deps);
    compute(Phase::lm_head, -1, st, 2.0 * seqs * head_params_,
            head_params_ * kHighPrecisionBytes + seqs * m_.hidden * kActivationBytes, {}, seqs, m_.hidden);
    const double logits = seqs * m_.vocab / tp_;
    const Phase ph = w_.logits_every_token ? Phase::loss : Phase::sampling;
    KernelCost sample = d_.cost.class_kernel(ph, 6.0 * logits, 3.0 * logits * 4.0);
    if (d_.cost.sequence_overhead_s() > 0) sample = d_.cost.with_idle(sample, seqs * d_.cost.sequence_overhead_s());
    return add_compute(ph, -1, st, sample, {});
  }

  const Deployment& d_;
  const ModelConfig& m_;
  StepShape w_;
  StepTokens sh_;
  TrafficDetail detail_;
  std::map<double, std::shared_ptr<const TrafficMatrix>> cp_rings_;  // by KV block bytes
  int n_, tp_, pp_, stage_devices_, micro_, steps_, sub_;
  double T_;      // tokens per device per micro-batch
  double seqs_;   // sequences per device per micro-batch
  double wbytes_;
  bool fp8_;      // GEMMs compute in 8 bits: their inputs are quantised first
  double head_params_ = 0;
  DeploymentStep out_;
  std::vector<int> last_;  // per stage: its last kernel
  std::array<int, 3> last_comm_{-1, -1, -1};  // the last collective per stream (one, or per class)
  std::shared_ptr<const TrafficMatrix> tp_allreduce_;
  std::vector<LayerExperts> experts_of_;
  // Speculative decoding with MTP: the module's passes per step, its routed experts (one token
  // per sequence) and its TP all-reduce; while a pass is built, experts_at() answers with them.
  int mtp_passes_ = 0;
  std::optional<StepGraph> draft_;  // speculative decoding with a draft model: its decode step
  LayerExperts mtp_experts_;
  std::shared_ptr<const TrafficMatrix> mtp_allreduce_;
  bool in_mtp_ = false;
  std::vector<double> flash_stall_;
  std::vector<std::shared_ptr<const TrafficMatrix>> pp_send_;
};

}  // namespace

// A kernel on several devices is one task that ends when its slowest device does (the step is
// synchronous); one with a straggler among its devices takes `slowdown` times as long (the
// engine's host time between kernels does not). The other
// devices of the task wait inside it, at its power: the energy of that wait is overstated by the
// difference between kernel and active-idle power (docs/topology.md).
void apply_stragglers(const Deployment& d, StepGraph& g) {
  if (d.straggler_devices.empty() || d.straggler_slowdown == 1.0) return;
  for (Task& t : g.tasks) {
    // The serving engine's time between kernels is the host's, not the slow device's.
    if (t.is_collective() || t.phase == Phase::engine) continue;
    const auto first = std::lower_bound(d.straggler_devices.begin(), d.straggler_devices.end(), t.device);
    if (first == d.straggler_devices.end() || *first >= t.device + t.device_count) continue;
    t.seconds *= d.straggler_slowdown;
    t.slowdown = d.straggler_slowdown;
  }
}

DeploymentStep build_step(const Deployment& d, const StepShape& shape, TrafficDetail detail) {
  StepShape w = shape;
  if (w.kind == WorkloadKind::decode && d.speculative) w.verify_tokens = d.speculative->verify_tokens();
  if (w.kind == WorkloadKind::prefill) w.context_parallel = d.par.attention_cp;
  DeploymentStep st = StepBuilder(d, w, detail).build();
  apply_stragglers(d, st.graph);
  return st;
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
