// The prefill side of `moesim plan` (docs/plan.md, "Prefill"): each candidate's TTFT, the time a
// colocated deployment spends prefilling, and disaggregated prefill pools of any hardware option
// with the prefix cache on or off.
#include <algorithm>
#include <cmath>
#include <limits>

#include "catalog.hpp"
#include "plan.hpp"

namespace moesim::tools {
namespace {

using nlohmann::json;

// What one device's share of its node's NICs carries (B/s), and the link's latency. Spec reading
// refuses a prefill pool on hardware without scale_out; the decode side may lack one.
struct NicShare {
  double bandwidth = 0, latency_s = 0;
};

NicShare nic_share(const HardwareOption& h) {
  if (!h.scale_out.is_object()) return {};
  const hw::Link* link = hw::Catalog::builtin().find_link(h.scale_out.value("link", std::string()));
  const int nics = h.scale_out.value("nics_per_node", 0);
  if (link == nullptr || nics <= 0) return {};
  return {link->effective_bandwidth() * nics / h.devices_per_node, link->latency_s};
}

double requests_per_s(const PlanSpec& spec) { return spec.output_tokens_per_s / spec.output_tokens; }

// Prefill on the decode deployment: TTFT is its prefill of one prompt per attention rank (no
// queueing), and with output_tokens each output token carries 1/output_tokens of a prompt's
// prefill, which the deployment's decode waits for.
void colocated(const PlanSpec& spec, Candidate& c) {
  auto pr = run_analytic(spec, candidate_scenario(spec, c, true, "analytic"));
  if (!pr || !pr->feasible) {
    c.status = "slo";
    c.reason = "TTFT: the prefill of one " + std::to_string(spec.input_tokens) + "-token prompt per rank " +
               (pr ? "does not fit: " + pr->reason : "cannot be estimated: " + pr.error());
    return;
  }
  c.ttft_s = pr->step_time_s;
  if (spec.output_tokens > 0 && pr->input_tokens_per_s > 0) {
    const double prompts_per_s = pr->input_tokens_per_s / spec.input_tokens;
    const double x = c.instance_tokens_per_s / (spec.output_tokens * prompts_per_s);
    c.prefill_share = x / (1 + x);
    c.instance_tokens_per_s /= 1 + x;
  }
  if (spec.slo_ttft_s && c.ttft_s > *spec.slo_ttft_s) {
    c.status = "slo";
    c.reason = "TTFT " + ms_text(c.ttft_s) + " > " + ms_text(*spec.slo_ttft_s);
  }
}

// A pool of its own: of the pool layouts of the candidate's prefill hardware and prefix-cache
// setting that fit, the cheapest that meets the TTFT SLO (or, when none does, the fastest).
// TTFT adds the prompt's KV cache crossing to the decode deployment: each device sends its share
// through its NIC share, at the slower side's.
void pooled(const PlanSpec& spec, Candidate& c, const std::vector<PrefillOption>& pools) {
  const HardwareOption& dec = spec.hardware[static_cast<std::size_t>(c.hardware)];
  const NicShare to = nic_share(dec);
  if (to.bandwidth <= 0) {
    c.status = "invalid";
    c.reason = "a prefill pool sends the KV cache over the scale-out network: " + dec.device + " has no scale_out";
    return;
  }
  const PrefillOption* best = nullptr;
  double best_ttft = 0, best_cost = 0;
  int best_replicas = 0;
  auto meets = [&](double ttft) { return !spec.slo_ttft_s || ttft <= *spec.slo_ttft_s; };
  for (const auto& o : pools) {
    if (o.hardware != c.prefill || o.prefix_cache != c.prefix_cache || !o.fits) continue;
    const HardwareOption& h = spec.hardware[static_cast<std::size_t>(o.hardware)];
    const NicShare from = nic_share(h);
    const double ttft = o.step_s + o.kv_bytes_per_device / std::min(from.bandwidth, to.bandwidth) +
                        std::max(from.latency_s, to.latency_s);
    const int replicas = static_cast<int>(std::ceil(requests_per_s(spec) / o.prompts_per_s - 1e-9));
    const double cost = replicas * o.devices(spec) * h.price_per_device_hour;
    const bool better = best == nullptr || (meets(ttft) && !meets(best_ttft)) ||
                        (meets(ttft) == meets(best_ttft) &&
                         (meets(ttft) ? std::tie(cost, ttft) < std::tie(best_cost, best_ttft) : ttft < best_ttft));
    if (better) {
      best = &o;
      best_ttft = ttft;
      best_cost = cost;
      best_replicas = replicas;
    }
  }
  const HardwareOption& ph = spec.hardware[static_cast<std::size_t>(c.prefill)];
  if (best == nullptr) {
    std::string nodes;
    for (int n : spec.prefill_nodes) nodes += (nodes.empty() ? "" : ", ") + std::to_string(n);
    c.status = "memory";
    c.reason = "no prefill pool of " + ph.device + " on " + nodes + " node(s) fits a " +
               std::to_string(spec.input_tokens) + "-token prompt";
    return;
  }
  c.pool = {best->nodes, best->attention_tp, best->devices(spec), best->overlap, best->step_s, best_replicas,
            best_ttft - best->step_s, best_cost};
  c.ttft_s = best_ttft;
  // Energy per output token: the pool's devices at TDP over the output its prompts lead to.
  c.joules_per_token = best->devices(spec) * ph.tdp_w / (best->prompts_per_s * spec.output_tokens);
  if (!meets(best_ttft)) {
    c.status = "slo";
    c.reason = "TTFT " + ms_text(best_ttft) + " > " + ms_text(*spec.slo_ttft_s) + " (prefill pool of " + ph.device + ")";
  }
}

}  // namespace

int cached_prompt_tokens(const PlanSpec& spec, bool prefix_cache) {
  if (!prefix_cache || spec.input_tokens <= 1) return 0;
  // The prompt's last token is always computed (its logits).
  return std::min(spec.input_tokens - 1, static_cast<int>(std::floor(spec.prefix_hit * spec.input_tokens)));
}

void evaluate_prefill(const PlanSpec& spec, Candidate& c, const std::vector<PrefillOption>& pools) {
  if (c.prefill >= 0) {
    pooled(spec, c, pools);
  } else if (spec.slo_ttft_s || spec.output_tokens > 0 || c.prefix_cache) {
    colocated(spec, c);
  }
}

std::vector<PrefillOption> evaluate_prefill_pools(const PlanSpec& spec) {
  std::vector<PrefillOption> out;
  std::vector<int> places = spec.prefill;
  std::sort(places.begin(), places.end());
  places.erase(std::unique(places.begin(), places.end()), places.end());
  for (int h : places) {
    if (h < 0) continue;
    const HardwareOption& hw = spec.hardware[static_cast<std::size_t>(h)];
    for (const auto& cache : spec.prefix_cache)
      for (int n : spec.prefill_nodes)
        for (int tp : spec.attention_tp)
          for (const auto& overlap : spec.overlap) {
            if (hw.max_nodes > 0 && n > hw.max_nodes) continue;
            if ((n * hw.devices_per_node) % tp != 0) continue;
            PrefillOption o;
            o.hardware = h;
            o.nodes = n;
            o.attention_tp = tp;
            o.overlap = overlap;
            o.prefix_cache = cache == "on";
            // The pool's layout: attention TP x DP over its devices, experts over all of them,
            // no pipeline, DeepEP's normal kernels (the prefill ones).
            Candidate pc;
            pc.hardware = h;
            pc.nodes = n;
            pc.attention_tp = tp;
            pc.overlap = overlap;
            pc.all_to_all = "deepep-normal";
            pc.prefix_cache = o.prefix_cache;
            auto r = run_analytic(spec, candidate_scenario(spec, pc, true, "analytic"));
            if (!r) {
              o.reason = r.error();
            } else if (!r->feasible || r->input_tokens_per_s <= 0) {
              o.reason = r->reason;
            } else {
              o.fits = true;
              o.step_s = r->step_time_s;
              o.prompts_per_s = r->input_tokens_per_s / spec.input_tokens;
              o.kv_bytes_per_device = r->memory_kv_cache;
            }
            out.push_back(std::move(o));
          }
  }
  return out;
}

}  // namespace moesim::tools
