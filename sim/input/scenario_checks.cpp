#include "input/scenario_checks.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace moesim::sim {
namespace {

// Pipeline stages divide the devices and the layers, sit on whole nodes or inside one, and split
// a fixed batch into micro-batches. False when the stages do not divide the devices (the other
// checks would not make sense).
bool check_pipeline(const Scenario& s, Diagnostics& diag) {
  const auto& par = s.parallelism;
  const ModelConfig& m = s.model.config;
  const int devices = s.cluster.num_devices();
  if (devices % par.pp != 0) {
    diag.error("/parallelism/pp", std::to_string(devices) + " devices do not split into " +
                                      std::to_string(par.pp) + " pipeline stages");
    return false;
  }
  const int stage = devices / par.pp;
  if (stage % s.cluster.devices_per_node != 0 && s.cluster.devices_per_node % stage != 0) {
    diag.error("/parallelism/pp",
               "a pipeline stage of " + std::to_string(stage) + " devices neither fills whole nodes of " +
                   std::to_string(s.cluster.devices_per_node) + " nor fits in one",
               "choose pp so that devices / pp is a multiple or a divisor of devices_per_node");
  }
  if (par.pp > m.num_layers) {
    diag.error("/parallelism/pp", std::to_string(par.pp) + " stages for " +
                                      std::to_string(m.num_layers) + " layers");
  }
  const bool fixed_batch = s.workload.kind == WorkloadKind::decode || s.workload.kind == WorkloadKind::prefill;
  if (fixed_batch && par.pp > 1 && s.workload.batch_per_device % par.pp != 0) {
    diag.error("/workload/batch_per_device",
               "batch of " + std::to_string(s.workload.batch_per_device) + " does not split into " +
                   std::to_string(par.pp) + " pipeline micro-batches");
  }
  return true;
}

// Attention: tp x dp x cp x pp is the device count; context parallelism splits prefill prompts
// (one pipeline stage), each into cp equal parts.
void check_attention_degrees(const Scenario& s, Diagnostics& diag) {
  const auto& par = s.parallelism;
  const int devices = s.cluster.num_devices();
  const long long product = 1LL * par.attention_tp * par.attention_dp * par.attention_cp * par.pp;
  if (product != devices) {
    const std::string cp = par.attention_cp > 1 ? " x " + std::to_string(par.attention_cp) : "";
    diag.error("/parallelism/attention",
               std::string("attention tp x dp") + (cp.empty() ? "" : " x cp") + " x pp = " + std::to_string(par.attention_tp) +
                   " x " + std::to_string(par.attention_dp) + cp + " x " + std::to_string(par.pp) + " = " +
                   std::to_string(product) + ", but the cluster has " + std::to_string(devices) + " devices",
               "tp x dp x cp x pp must equal nodes x devices_per_node");
  }
  if (par.attention_cp <= 1) return;
  const std::string at = "/parallelism/attention/cp";
  if (s.workload.kind != WorkloadKind::prefill) {
    diag.error(at, "context parallelism splits prompts: this version applies it to prefill only",
               "valid here: cp 1 (or \"kind\": \"prefill\")");
  } else if (par.pp > 1) {
    diag.error(at, "context parallelism with pipeline stages is not modelled", "use pp 1 with cp > 1");
  } else {
    const int fresh = s.workload.input_tokens - s.workload.cached_tokens;
    if (fresh % par.attention_cp != 0) {
      diag.error(at,
                 "cp " + std::to_string(par.attention_cp) + " does not divide the prompt's " + std::to_string(fresh) +
                     " computed tokens into equal parts",
                 "choose a cp that divides input_tokens" + std::string(s.workload.cached_tokens > 0 ? " - cached_tokens" : ""));
    }
  }
}

// Experts: ep x tp x pp covers the devices (training may replicate the group), the slots divide
// over EP, and a dense model has no expert degrees.
void check_experts(const Scenario& s, Diagnostics& diag) {
  const auto& par = s.parallelism;
  const ModelConfig& m = s.model.config;
  const int devices = s.cluster.num_devices();
  if (m.is_moe()) {
    // Training may replicate the expert-parallel group (expert data parallelism); inference
    // deployments use one group per pipeline stage.
    const int group = par.expert_ep * par.expert_tp * par.pp;
    const bool expert_dp = s.workload.kind == WorkloadKind::training && group > 0 && devices % group == 0;
    if (group != devices && !expert_dp) {
      diag.error("/parallelism/experts",
                 "experts ep x tp x pp = " + std::to_string(par.expert_ep * par.expert_tp * par.pp) +
                     ", but the cluster has " + std::to_string(devices) + " devices",
                 "ep x tp x pp must equal nodes x devices_per_node");
    }
    if (par.expert_ep > devices) {
      diag.error("/parallelism/experts/ep",
                 "EP degree " + std::to_string(par.expert_ep) + " is above the device count " +
                     std::to_string(devices));
    }
    const int slots = m.moe.num_experts + par.redundant_experts;
    if (par.redundant_experts > m.moe.num_experts) {
      diag.error("/parallelism/redundant_experts",
                 std::to_string(par.redundant_experts) + " redundant experts for " +
                     std::to_string(m.moe.num_experts) + " experts",
                 "at most one replica per expert");
    } else if (slots % par.expert_ep != 0 &&
               !(s.workload.kind == WorkloadKind::serving && s.workload.serving.disaggregated &&
                 !s.workload.serving.prefill_pool)) {
      // (disaggregated pools each spread the slots over their own devices: checked per pool)
      diag.error("/parallelism/experts/ep",
                 par.redundant_experts == 0
                     ? std::to_string(m.moe.num_experts) + " experts do not divide evenly over EP " +
                           std::to_string(par.expert_ep)
                     : std::to_string(m.moe.num_experts) + " experts + " +
                           std::to_string(par.redundant_experts) + " redundant = " +
                           std::to_string(slots) + " slots do not divide evenly over EP " +
                           std::to_string(par.expert_ep),
                 "choose an EP degree that divides " + std::to_string(slots) +
                     ", or add redundant experts");
    }
    if (par.expert_tp > 1 && par.expert_tp != par.attention_tp) {
      // An expert shard then holds the same tokens as its attention rank (vLLM's and SGLang's
      // default layout); other mixes would move tokens between the two groupings.
      diag.error("/parallelism/experts/tp",
                 "expert TP " + std::to_string(par.expert_tp) + " differs from attention TP " +
                     std::to_string(par.attention_tp),
                 "expert TP must equal attention TP in this version (\"tp\": " + std::to_string(par.attention_tp) +
                     "), or be 1");
    } else if (m.moe.expert_intermediate % par.expert_tp != 0) {
      diag.error("/parallelism/experts/tp",
                 "expert intermediate size " + std::to_string(m.moe.expert_intermediate) +
                     " does not split over expert TP " + std::to_string(par.expert_tp));
    }
  } else if (par.expert_ep != 1 || par.expert_tp != 1) {
    diag.error("/parallelism/experts", "model '" + m.name + "' is dense: it has no experts to split",
               "remove /parallelism/experts");
  }
}

// Attention TP: groups stay inside a node, and the heads split over them.
void check_attention_tp(const Scenario& s, Diagnostics& diag) {
  const auto& par = s.parallelism;
  const ModelConfig& m = s.model.config;
  if (s.cluster.devices_per_node % par.attention_tp != 0) {
    diag.error("/parallelism/attention/tp",
               "attention TP " + std::to_string(par.attention_tp) + " does not fit in a node of " +
                   std::to_string(s.cluster.devices_per_node) + " devices",
               "TP groups stay inside a node: choose a divisor of devices_per_node");
  }
  if (m.attention.num_heads % par.attention_tp != 0) {
    diag.error("/parallelism/attention/tp",
               std::to_string(m.attention.num_heads) + " attention heads do not split over TP " +
                   std::to_string(par.attention_tp));
  }
}

// A decode context within the model's maximum position.
void check_decode_context(const Scenario& s, Diagnostics& diag) {
  const ModelConfig& m = s.model.config;
  if (s.workload.kind == WorkloadKind::decode && m.max_position > 0 &&
      s.workload.context_tokens >= m.max_position) {
    diag.error("/workload/context_tokens",
               "context of " + std::to_string(s.workload.context_tokens) +
                   " tokens is beyond the model's maximum position " + std::to_string(m.max_position));
  }
}

// Disaggregated serving: two pools with a scale-out network between them, each able to hold the
// experts.
void check_disaggregation(const Scenario& s, Diagnostics& diag) {
  const auto& par = s.parallelism;
  const ModelConfig& m = s.model.config;
  if (s.workload.kind == WorkloadKind::serving && s.workload.serving.prefill_pool) {
    // Pools of their own: each moves KV caches through its scale-out NICs, without pipeline
    // stages (the rest of each pool is checked as a deployment of its own).
    const ServingSpec& sv = s.workload.serving;
    for (const auto& [pool, cluster, pp] : {std::tuple{"prefill", sv.prefill_pool->cluster, sv.prefill_pool->parallelism.pp},
                                            std::tuple{"decode", s.cluster, par.pp}}) {
      const std::string at = std::string("/workload/disaggregated/") + pool;
      if (!cluster.scale_out) {
        diag.error(at + "/cluster/scale_out", std::string("the ") + pool + " pool's KV caches cross a scale-out network: it needs one",
                   "give its cluster a scale_out link");
      }
      if (pp != 1) diag.error(at + "/parallelism/pp", "disaggregated pools run without pipeline stages in this version", "use pp 1");
    }
    if (sv.max_concurrency > 0) {
      diag.error("/workload/max_concurrency", "closed-loop clients with disaggregation " + std::string(kNotYet),
                 "use an open arrival process");
    }
  } else if (s.workload.kind == WorkloadKind::serving && s.workload.serving.disaggregated) {
    const ServingSpec& sv = s.workload.serving;
    const std::string ptr = "/workload/disaggregated/prefill_nodes";
    const int slots = m.moe.num_experts + par.redundant_experts;
    if (sv.prefill_nodes >= s.cluster.nodes) {
      diag.error(ptr, std::to_string(sv.prefill_nodes) + " prefill nodes leave none of the " +
                          std::to_string(s.cluster.nodes) + " nodes to decode",
                 "at most " + std::to_string(s.cluster.nodes - 1));
    } else if (!s.cluster.scale_out) {
      diag.error(ptr, "disaggregation moves KV caches between nodes: the cluster needs a scale-out network");
    } else if (par.pp != 1) {
      diag.error("/parallelism/pp", "disaggregated pools run without pipeline stages in this version", "use pp 1");
    } else if (sv.max_concurrency > 0) {
      diag.error("/workload/max_concurrency", "closed-loop clients with disaggregation " + std::string(kNotYet),
                 "use an open arrival process");
    } else if (m.is_moe()) {
      for (int nodes : {sv.prefill_nodes, s.cluster.nodes - sv.prefill_nodes}) {
        const int ep = nodes * s.cluster.devices_per_node / par.expert_tp;
        if (slots % ep != 0) {
          diag.error(ptr, std::to_string(slots) + " expert slots do not divide over a pool of " + std::to_string(nodes) +
                              " nodes (EP " + std::to_string(ep) + ")",
                     "each pool spreads the experts over all its devices: choose pools whose device counts divide " +
                         std::to_string(slots));
          break;
        }
      }
    }
  }
}

// Training: the global batch fills micro-batches on every data-parallel rank and the pipeline,
// interleaving splits the layers, and sequences fit the model.
void check_training(const Scenario& s, Diagnostics& diag) {
  const auto& par = s.parallelism;
  const ModelConfig& m = s.model.config;
  if (s.workload.kind == WorkloadKind::training) {
    const TrainingSpec& tr = s.workload.training;
    const long long per_step = static_cast<long long>(tr.micro_batch) * par.attention_dp;
    if (tr.global_batch % per_step != 0) {
      diag.error("/workload/global_batch",
                 "global batch " + std::to_string(tr.global_batch) + " does not divide into micro-batches of " +
                     std::to_string(tr.micro_batch) + " sequences on " + std::to_string(par.attention_dp) +
                     " data-parallel ranks",
                 "choose a multiple of micro_batch x attention dp = " + std::to_string(per_step));
    } else if (tr.global_batch / per_step < par.pp) {
      diag.error("/workload/global_batch",
                 std::to_string(tr.global_batch / per_step) + " micro-batches per rank cannot fill " +
                     std::to_string(par.pp) + " pipeline stages",
                 "1F1B needs at least pp micro-batches: raise global_batch or lower micro_batch");
    }
    if (tr.interleaved && (m.num_layers % (par.pp * tr.virtual_stages) != 0)) {
      diag.error(tr.virtual_stages_given ? "/workload/virtual_stages" : "/workload/schedule",
                 std::to_string(m.num_layers) + " layers do not split into " + std::to_string(par.pp) + " stages x " +
                     std::to_string(tr.virtual_stages) + " chunks",
                 "use \"1f1b\" or a virtual_stages that divides " + std::to_string(m.num_layers / par.pp) +
                     " layers per stage");
    }
    if (m.max_position > 0 && tr.seq_len > m.max_position) {
      diag.error("/workload/seq_len", "sequence of " + std::to_string(tr.seq_len) +
                                          " tokens is beyond the model's maximum position " + std::to_string(m.max_position));
    }
  }
}

// A prefill prompt within the model's maximum position.
void check_prefill_prompt(const Scenario& s, Diagnostics& diag) {
  const ModelConfig& m = s.model.config;
  if (s.workload.kind == WorkloadKind::prefill && m.max_position > 0 &&
      s.workload.input_tokens > m.max_position) {
    diag.error("/workload/input_tokens",
               "prompt of " + std::to_string(s.workload.input_tokens) +
                   " tokens is beyond the model's maximum position " + std::to_string(m.max_position));
  }
}

// The device computes in the weights' dtype.
// A quantised dtype (under 2 bytes) the device has no tensor cores for is weight-only: stored so,
// dequantised and computed in bf16 (as vLLM runs MXFP4 or INT4 weights on Hopper), with a note.
void check_compute_dtype(const Scenario& s, Diagnostics& diag) {
  const hw::Device* dev = s.cluster.device;
  const hw::DType w = s.model.weights_dtype;
  if (dev == nullptr || dev->peak(w)) return;
  std::string has;
  for (const auto& [dt, peak] : dev->compute.peak_flops) has += (has.empty() ? "" : ", ") + hw::dtype_name(dt);
  if (hw::dtype_bytes(w) < 2 && dev->peak(hw::DType::bf16)) {
    diag.warning("/model/weights_dtype",
                 "device '" + dev->name + "' has no " + hw::dtype_name(w) + " tensor cores: the weights are stored in " +
                     hw::dtype_name(w) + " and computed in bf16 (weight-only quantisation)",
                 "it computes in: " + has);
  } else {
    diag.error("/model/weights_dtype", "device '" + dev->name + "' has no " + hw::dtype_name(w) + " compute",
               "valid here: " + has);
  }
}

// Stragglers, degraded and failed ports name devices and NICs that exist, each once; this
// version simulates them in fixed steps (decode, prefill) only.
void check_cluster_faults(const Scenario& s, Diagnostics& diag) {
  const ClusterSpec& c = s.cluster;
  const bool fixed_batch = s.workload.kind == WorkloadKind::decode || s.workload.kind == WorkloadKind::prefill;
  const int devices = c.num_devices();
  const int nics = c.scale_out ? c.scale_out->nics_per_node : 0;
  auto not_here = [&](const std::string& key) {
    diag.error("/cluster/" + key,
               key + " is simulated for decode and prefill steps; " + workload_kind_name(s.workload.kind) + " " +
                   kNotYet,
               "remove it, or study the effect on a decode or prefill step of the same deployment");
  };
  if (c.stragglers) {
    if (!fixed_batch) not_here("stragglers");
    std::vector<bool> seen(static_cast<std::size_t>(std::max(devices, 0)), false);
    for (std::size_t i = 0; i < c.stragglers->devices.size(); ++i) {
      const int d = c.stragglers->devices[i];
      const std::string at = "/cluster/stragglers/devices/" + std::to_string(i);
      if (d < 0 || d >= devices) {
        diag.error(at, "device " + std::to_string(d) + " does not exist: the cluster has devices 0 to " +
                           std::to_string(devices - 1));
      } else if (seen[static_cast<std::size_t>(d)]) {
        diag.error(at, "device " + std::to_string(d) + " is listed twice");
      } else {
        seen[static_cast<std::size_t>(d)] = true;
      }
    }
  }
  // Each port once: a port listed twice (in one list or in both) has no single speed.
  std::map<std::string, std::string> listed;  // port -> where
  for (const auto* list : {&c.degraded, &c.failed}) {
    const std::string key = list == &c.degraded ? "degraded" : "failed";
    if (!list->empty() && !fixed_batch) not_here(key);
    for (std::size_t i = 0; i < list->size(); ++i) {
      const PortFault& f = (*list)[i];
      const std::string at = "/cluster/" + key + "/" + std::to_string(i);
      const std::string port = f.device >= 0 ? "device " + std::to_string(f.device)
                                             : "node " + std::to_string(f.node) + " NIC " + std::to_string(f.nic);
      if (const auto [it, added] = listed.emplace(port, at); !added) {
        diag.error(at, port + " is already listed at " + it->second, "give each port once");
      }
      if (f.device >= 0 || f.node < 0) {
        if (f.device >= devices) {
          diag.error(at + "/device", "device " + std::to_string(f.device) + " does not exist: the cluster has devices 0 to " +
                                         std::to_string(devices - 1));
        }
        continue;
      }
      if (f.node >= c.nodes) {
        diag.error(at + "/node", "node " + std::to_string(f.node) + " does not exist: the cluster has nodes 0 to " +
                                     std::to_string(c.nodes - 1));
      }
      if (nics == 0) {
        diag.error(at + "/nic", "the cluster has no scale-out network, so no NICs",
                   "name a device's scale-up port instead: {\"device\": D}");
      } else if (f.nic >= nics) {
        diag.error(at + "/nic", "NIC " + std::to_string(f.nic) + " does not exist: each node has NICs 0 to " +
                                    std::to_string(nics - 1));
      }
    }
  }
}

// Sessions and the prefix cache: a colocated, open-loop deployment; the shared system prompt
// within the model's context.
void check_sessions(const Scenario& s, Diagnostics& diag) {
  if (s.workload.kind != WorkloadKind::serving) return;
  const ServingSpec& sv = s.workload.serving;
  if (sv.sessions) {
    if (sv.max_concurrency > 0) {
      diag.error("/workload/max_concurrency", "sessions pace themselves (a turn follows the previous one)",
                 "remove max_concurrency, or the sessions");
    }
    const int max_pos = s.model.config.max_position;
    if (max_pos > 0 && sv.sessions->system_prompt_tokens + sv.input_tokens.hi >= max_pos) {
      diag.error("/workload/sessions/system_prompt_tokens",
                 "the shared system prompt (" + std::to_string(sv.sessions->system_prompt_tokens) +
                     " tokens) and a turn's input reach the model's maximum position " + std::to_string(max_pos),
                 "a shorter system prompt, or a model with a longer context");
    }
  }
  if (sv.kv_offload && !sv.prefix_cache.enabled) {
    diag.error("/workload/kv_offload", "KV offload keeps the prefixes the prefix cache evicts: it needs the prefix cache",
               "add \"prefix_cache\": {\"enabled\": true}");
  }
  if ((sv.sessions || sv.prefix_cache.enabled) && sv.disaggregated) {
    diag.error(sv.sessions ? "/workload/sessions" : "/workload/prefix_cache",
               std::string("sessions and prefix caching with disaggregation ") + kNotYet,
               "serve them colocated (remove disaggregated)");
  }
}

// Speculative decoding: decode and serving only; MTP needs the model's MTP modules; a draft model
// is not simulated in this version.
void check_speculative(const Scenario& s, Diagnostics& diag) {
  if (!s.workload.speculative) return;
  const SpeculativeSpec& sp = *s.workload.speculative;
  const WorkloadKind kind = s.workload.kind;
  if (kind != WorkloadKind::decode && kind != WorkloadKind::serving) {
    diag.error("/workload/speculative",
               "speculative decoding drafts output tokens; a " + workload_kind_name(kind) + " workload has none to draft",
               "use it with a decode or serving workload");
  }
  if (sp.method == SpeculativeSpec::Method::mtp && s.model.config.mtp_layers == 0) {
    diag.error("/workload/speculative/method",
               "model '" + s.model.config.name + "' has no multi-token-prediction layers (num_nextn_predict_layers is 0)",
               "use \"ngram\" (prompt lookup), or a model with MTP modules such as deepseek-v3");
  }
  if (sp.method == SpeculativeSpec::Method::draft_model) {
    if (sp.draft_model.empty()) {
      diag.error("/workload/speculative/draft_model", "the draft_model method needs a draft model",
                 "a dense preset, e.g. \"qwen3-0.6b\"");
    } else if (sp.draft) {
      if (sp.draft->is_moe()) {
        diag.error("/workload/speculative/draft_model", "draft model '" + sp.draft_model + "' is a mixture of experts",
                   "a dense draft model is simulated (it runs on every attention rank beside the target)");
      }
      if (s.parallelism.pp > 1) {
        diag.error("/workload/speculative/method", "a draft model with pipeline stages " + std::string(kNotYet), "use pp 1");
      }
      if (sp.draft->vocab != s.model.config.vocab) {
        diag.warning("/workload/speculative/draft_model",
                     "draft model '" + sp.draft_model + "' has a vocabulary of " + std::to_string(sp.draft->vocab) +
                         " tokens, the target " + std::to_string(s.model.config.vocab) +
                         ": its drafts need translating, and the acceptance you give should reflect that");
      }
    }
  } else if (!sp.draft_model.empty()) {
    diag.error("/workload/speculative/draft_model", "a draft model is only used by the method \"draft_model\"",
               "remove draft_model");
  }
}

}  // namespace

void check_consistency(const Scenario& s, Diagnostics& diag) {
  if (!check_pipeline(s, diag)) return;
  check_attention_degrees(s, diag);
  check_experts(s, diag);
  check_attention_tp(s, diag);
  check_decode_context(s, diag);
  check_speculative(s, diag);
  check_sessions(s, diag);
  check_disaggregation(s, diag);
  check_training(s, diag);
  check_prefill_prompt(s, diag);
  check_compute_dtype(s, diag);
  check_cluster_faults(s, diag);
}

}  // namespace moesim::sim
