// Inside sim/input/: the scenario's "workload" section (docs/scenario.md): decode, prefill,
// serving (arrivals, sessions, prefix cache, KV offload, disaggregation, SLOs) and training, and
// speculative decoding.
#include <cmath>
#include <filesystem>

#include "input/csv_table.hpp"
#include "input/scenario_checks.hpp"
#include "input/scenario_readers.hpp"
#include "model/model.hpp"

namespace moesim::sim {
namespace {

const std::vector<std::string> kWorkloadKinds{"decode", "prefill", "serving", "training"};
constexpr int kMaxTokenCount = 1 << 24;  ///< a request's input or output tokens

// A request's token count: a positive integer, or {"uniform": [lo, hi]}.
std::optional<TokenCountSpec> read_token_count(ObjectReader& w, const std::string& key, Diagnostics& diag) {
  const nlohmann::json* v = w.raw(key);
  if (v == nullptr) return std::nullopt;
  const std::string ptr = w.pointer_to(key);
  const std::string hint = "a positive integer, or {\"uniform\": [lo, hi]}";
  if (v->is_number_integer() && v->get<long long>() >= 1 && v->get<long long>() <= kMaxTokenCount) {
    const int n = static_cast<int>(v->get<long long>());
    return TokenCountSpec{n, n};
  }
  if (v->is_object() && v->size() == 1 && v->contains("uniform")) {
    const auto& u = v->at("uniform");
    if (u.is_array() && u.size() == 2 && u[0].is_number_integer() && u[1].is_number_integer() &&
        u[0].get<long long>() >= 1 && u[0].get<long long>() <= u[1].get<long long>() && u[1].get<long long>() <= kMaxTokenCount) {
      return TokenCountSpec{static_cast<int>(u[0].get<long long>()), static_cast<int>(u[1].get<long long>())};
    }
    diag.error(ptr + "/uniform", "expected [lo, hi] with 1 <= lo <= hi", hint);
    return std::nullopt;
  }
  diag.error(ptr, "expected a token count, got " + v->dump(), hint);
  return std::nullopt;
}

// The hint of a request count past the scenario's limit.
std::string requests_limit_hint(int limit) {
  return "one run simulates at most " + std::to_string(limit) + " requests (about 200 bytes of memory each); " +
         "\"limits\": {\"requests\": N} raises it, up to " + std::to_string(Limits::kMaxRequests);
}

void read_serving(ObjectReader& w, const std::string& base_dir, const Limits& limits, ServingSpec& sv, Diagnostics& diag) {
  const nlohmann::json* arrival = w.raw("arrival");
  const std::string hint = "valid: \"offline\", {\"poisson_rps\": r}, {\"trace\": \"requests.csv\"}";
  bool from_trace = false;
  if (arrival == nullptr || (arrival->is_string() && *arrival == "offline")) {
    sv.arrival = ServingSpec::Arrival::offline;
  } else if (arrival->is_object() && arrival->size() == 1 && arrival->contains("poisson_rps")) {
    const auto& r = arrival->at("poisson_rps");
    if (r.is_number() && r.get<double>() > 0) {
      sv.arrival = ServingSpec::Arrival::poisson;
      sv.poisson_rps = r.get<double>();
    } else {
      diag.error(w.pointer_to("arrival") + "/poisson_rps", "expected a positive request rate (requests per second), got " + r.dump());
    }
  } else if (arrival->is_object() && arrival->size() == 1 && arrival->contains("trace") && arrival->at("trace").is_string()) {
    sv.arrival = ServingSpec::Arrival::trace;
    from_trace = true;
    std::filesystem::path p(arrival->at("trace").get<std::string>());
    if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
    sv.trace_file = p.lexically_normal().string();
    Diagnostics td(sv.trace_file);
    const std::vector<std::string> cols{"arrival_s", "input_tokens", "output_tokens"};
    const RowLimit row_limit{static_cast<std::size_t>(limits.requests), requests_limit_hint(limits.requests)};
    if (auto rows = read_csv_columns(sv.trace_file, cols, td, row_limit)) {
      for (std::size_t i = 0; i < rows->values.size(); ++i) {
        const auto& v = rows->values[i];
        // (Fuzzing found a count past int's range, cast unchecked: as in requests, at most 2^24.)
        const auto count_ok = [](double t) { return t >= 1 && t <= kMaxTokenCount && t == std::floor(t); };
        if (!(std::isfinite(v[0]) && v[0] >= 0) || !count_ok(v[1]) || !count_ok(v[2])) {
          td.error_at_line(rows->lines[i], "arrival_s must be a finite number >= 0 and token counts positive integers up to " +
                                               std::to_string(kMaxTokenCount));
          continue;
        }
        sv.trace.push_back({v[0], static_cast<int>(v[1]), static_cast<int>(v[2])});
      }
      if (sv.trace.empty() && !td.has_errors()) td.error_at_line(1, "the request trace has no rows");
    }
    if (td.has_errors()) diag.error(w.pointer_to("arrival") + "/trace", "cannot use request trace '" + sv.trace_file + "'", "its problems are listed below");
    diag.merge(td);
  } else {
    diag.error(w.pointer_to("arrival"), "unknown arrival process " + arrival->dump(), hint);
  }
  if (ObjectReader ss = w.object("sessions"); ss.valid()) {
    SessionSpec sp;
    sp.count = static_cast<int>(ss.integer("count", true, 1, 1 << 22).value_or(1));
    if (auto t = read_token_count(ss, "turns", diag)) sp.turns = *t;
    if (!ss.has("turns")) {
      diag.error(ss.pointer_to("turns"), "missing required key 'turns'", "turns per session: a number or {\"uniform\": [lo, hi]}");
    }
    sp.think_s = ss.quantity("think_time", Dimension::time).value_or(0.0);
    sp.system_prompt_tokens = static_cast<int>(ss.integer("system_prompt_tokens", false, 0, 1 << 26).value_or(0));
    ss.finish();
    if (from_trace) {
      diag.error(w.pointer_to("sessions"), "sessions make their own requests; a request trace cannot drive them",
                 "use \"offline\" or {\"poisson_rps\": r} (the rate at which sessions start)");
    }
    if (w.has("requests")) {
      diag.error(w.pointer_to("requests"), "with sessions the requests are their turns", "remove 'requests'");
    }
    if (static_cast<long long>(sp.count) * sp.turns.hi > limits.requests) {
      diag.error(ss.pointer(), std::to_string(sp.count) + " sessions of up to " + std::to_string(sp.turns.hi) +
                 " turns can make more requests than this scenario's limit", requests_limit_hint(limits.requests));
    }
    sv.sessions = sp;
  }
  if (ObjectReader ko = w.object("kv_offload"); ko.valid()) {
    KvOffloadSpec k;
    k.host_bytes = ko.quantity("host_memory", Dimension::bytes, true).value_or(0.0);
    k.link = read_link(ko, "link");
    if (ObjectReader ssd = ko.object("ssd"); ssd.valid()) {
      k.ssd_bytes = ssd.quantity("capacity", Dimension::bytes, true).value_or(0.0);
      k.ssd_bandwidth = ssd.quantity("bandwidth", Dimension::bandwidth, true).value_or(0.0);
      ssd.finish();
    }
    ko.finish();
    sv.kv_offload = k;
  }
  if (ObjectReader pc = w.object("prefix_cache"); pc.valid()) {
    sv.prefix_cache.enabled = pc.boolean("enabled").value_or(true);
    sv.prefix_cache.block_tokens = static_cast<int>(pc.integer("block_tokens", false, 1, 1 << 20).value_or(16));
    pc.finish();
  }
  if (sv.sessions && !from_trace) {
    for (const char* key : {"input_tokens", "output_tokens"}) {
      auto t = read_token_count(w, key, diag);
      if (!w.has(key)) diag.error(w.pointer_to(key), std::string("missing required key '") + key + "'", "each turn's new tokens: a number or {\"uniform\": [lo, hi]}");
      if (t) (std::string(key) == "input_tokens" ? sv.input_tokens : sv.output_tokens) = *t;
    }
    sv.requests = 0;  // the turns, counted when they are drawn
  } else if (from_trace) {
    for (const char* key : {"requests", "input_tokens", "output_tokens"}) {
      if (w.has(key)) diag.error(w.pointer_to(key), std::string("'") + key + "' comes from the request trace", "remove it, or use another arrival process");
    }
    sv.requests = static_cast<int>(sv.trace.size());
  } else {
    sv.requests = static_cast<int>(w.integer("requests", true, 1, Limits::kMaxRequests).value_or(1));
    if (sv.requests > limits.requests) {
      diag.error(w.pointer_to("requests"), std::to_string(sv.requests) + " requests are more than this scenario's limit",
                 requests_limit_hint(limits.requests));
    }
    for (const char* key : {"input_tokens", "output_tokens"}) {
      auto t = read_token_count(w, key, diag);
      if (!w.has(key)) diag.error(w.pointer_to(key), std::string("missing required key '") + key + "'", "tokens per request: a number or {\"uniform\": [lo, hi]}");
      if (t) (std::string(key) == "input_tokens" ? sv.input_tokens : sv.output_tokens) = *t;
    }
  }
  sv.max_concurrency = static_cast<int>(w.integer("max_concurrency", false, 1, 1 << 24).value_or(0));
  sv.max_batched_tokens = static_cast<int>(w.integer("max_batched_tokens", false, 1, 1 << 24).value_or(8192));
  sv.max_sequences = static_cast<int>(w.integer("max_sequences", false, 1, 1 << 24).value_or(256));
  sv.chunked_prefill = w.boolean("chunked_prefill").value_or(true);
  sv.memory_utilization =
      read_fraction(w, "memory_utilization", "the share of device memory the engine may use (vLLM's default is 0.9)")
          .value_or(1.0);
  sv.replicas = static_cast<int>(w.integer("replicas", false, 1, 1 << 20).value_or(1));
  if (ObjectReader d = w.object("disaggregated"); d.valid()) {
    sv.disaggregated = true;
    const bool has_prefill = d.has("prefill"), has_decode = d.has("decode");  // (both declared known)
    if (has_prefill || has_decode) {
      // Pools of their own: read by read_pools (they set the scenario's cluster).
      if (d.has("prefill_nodes")) {
        diag.error(d.pointer_to("prefill_nodes"), "give either prefill_nodes or the pools, not both",
                   "with pools, each names its cluster and parallelism");
      }
    } else {
      sv.prefill_nodes = static_cast<int>(d.integer("prefill_nodes", true, 1, 1 << 20).value_or(1));
    }
    d.finish();
  }
  if (ObjectReader slo = w.object("slo"); slo.valid()) {
    sv.slo_ttft_s = slo.quantity("ttft", Dimension::time);
    sv.slo_tpot_s = slo.quantity("tpot", Dimension::time);
    sv.slo_percentile = slo.number("percentile", false, 1.0, 100.0).value_or(99.0);
    slo.finish();
    if (!sv.slo_ttft_s && !sv.slo_tpot_s && !slo.has("ttft") && !slo.has("tpot")) {
      diag.error(slo.pointer(), "an SLO needs 'ttft' and/or 'tpot'", "e.g. {\"ttft\": \"2s\", \"tpot\": \"100ms\"}");
    }
  }
}

// workload.speculative: the method, the draft tokens and their acceptance (a probability, or
// one per draft position).
std::optional<SpeculativeSpec> read_speculative(ObjectReader& w, Diagnostics& diag) {
  ObjectReader sp = w.object("speculative");
  if (!sp.valid()) return std::nullopt;
  SpeculativeSpec spec;
  const auto method = sp.choice("method", {"mtp", "draft_model", "ngram"}, true);
  spec.method = !method || *method == "mtp"      ? SpeculativeSpec::Method::mtp
                : *method == "ngram"             ? SpeculativeSpec::Method::ngram
                                                 : SpeculativeSpec::Method::draft_model;
  spec.draft_tokens = static_cast<int>(sp.integer("draft_tokens", true, 1, 64).value_or(1));
  const nlohmann::json* a = sp.raw("acceptance");
  const bool per_position = a != nullptr && a->is_array();
  if (a == nullptr) {
    diag.error(sp.pointer_to("acceptance"), "missing required key 'acceptance'",
               "the probability that a draft token is accepted, e.g. 0.85, or one per draft position");
  } else if (a->is_number()) {
    spec.acceptance.push_back(a->get<double>());
  } else if (a->is_array()) {
    for (const auto& x : *a) spec.acceptance.push_back(x.is_number() ? x.get<double>() : -1.0);
    if (spec.acceptance.size() != static_cast<std::size_t>(spec.draft_tokens)) {
      diag.error(sp.pointer_to("acceptance"),
                 std::to_string(spec.acceptance.size()) + " acceptance values for " +
                     std::to_string(spec.draft_tokens) + " draft tokens",
                 "give one per draft position, or a single number for all");
    }
  } else {
    diag.error(sp.pointer_to("acceptance"), "expected a number or an array of numbers, got " + json_type_name(*a));
  }
  for (std::size_t i = 0; i < spec.acceptance.size(); ++i) {
    const double x = spec.acceptance[i];
    if (!(x >= 0.0 && x <= 1.0)) {
      diag.error(sp.pointer_to("acceptance") + (per_position ? "/" + std::to_string(i) : ""),
                 "acceptance must be a probability in [0, 1]",
                 "e.g. 0.85 (DeepSeek-V3's MTP accepts 85-90% of second tokens)");
    }
  }
  if (auto dm = sp.string("draft_model"); dm) {
    spec.draft_model = *dm;
    Diagnostics pd(diag.file());
    if (auto cfg = load_preset(*dm, pd)) {
      spec.draft = std::make_shared<const ModelConfig>(*std::move(cfg));
    } else {
      for (const auto& p : pd.problems()) diag.error(sp.pointer_to("draft_model"), p.message, p.hint);
    }
  }
  sp.finish();
  return spec;
}

}  // namespace

void read_workload(ObjectReader w, const std::string& base_dir, Scenario& s, Diagnostics& diag) {
  if (!w.valid()) return;
  auto kind = w.choice("kind", kWorkloadKinds, true);
  if (!kind) return;
  auto& wl = s.workload;
  if (*kind == "decode") {
    wl.kind = WorkloadKind::decode;
    wl.batch_per_device = static_cast<int>(w.integer("batch_per_device", true, 1, 1 << 24).value_or(1));
    wl.context_tokens = static_cast<int>(w.integer("context_tokens", true, 0, 1 << 30).value_or(0));
    if (const nlohmann::json* spread = w.raw("context_spread")) {
      if (spread->is_string() && spread->get<std::string>() == "none") {
        wl.context_cv = 0;
      } else if (spread->is_string() && spread->get<std::string>() == "exponential") {
        wl.context_cv = 1;
      } else if (spread->is_object()) {
        ObjectReader cv = w.object("context_spread");
        wl.context_cv = cv.number("cv", true, 0.0, 10.0).value_or(0);
        cv.finish();
      } else {
        diag.error(w.pointer_to("context_spread"), "expected \"none\", \"exponential\" or {\"cv\": x}",
                   "how sequence contexts vary around context_tokens: \"exponential\" is {\"cv\": 1}");
      }
    }
    wl.attention_imbalance = w.boolean("attention_imbalance").value_or(true);
  } else if (*kind == "prefill") {
    wl.kind = WorkloadKind::prefill;
    wl.batch_per_device = static_cast<int>(w.integer("batch_per_device", true, 1, 1 << 24).value_or(1));
    wl.input_tokens = static_cast<int>(w.integer("input_tokens", true, 1, 1 << 30).value_or(1));
    if (w.has("cached_tokens")) {
      const auto cached = w.integer("cached_tokens", false, 0, 1 << 30);
      if (cached && *cached >= wl.input_tokens) {
        diag.error(w.pointer_to("cached_tokens"),
                   "a prompt of " + std::to_string(wl.input_tokens) + " tokens with " + std::to_string(*cached) +
                       " cached computes nothing",
                   "at most input_tokens - 1 (" + std::to_string(wl.input_tokens - 1) +
                       "): the prompt's last token is always computed, for its logits");
      } else if (cached) {
        wl.cached_tokens = static_cast<int>(*cached);
      }
    }
  } else if (*kind == "serving") {
    wl.kind = WorkloadKind::serving;
    read_serving(w, base_dir, s.limits, wl.serving, diag);
  } else if (*kind == "training") {
    wl.kind = WorkloadKind::training;
    auto& tr = wl.training;
    tr.global_batch = static_cast<int>(w.integer("global_batch", true, 1, 1 << 26).value_or(1));
    tr.seq_len = static_cast<int>(w.integer("seq_len", true, 1, 1 << 24).value_or(1));
    tr.micro_batch = static_cast<int>(w.integer("micro_batch", false, 1, 1 << 20).value_or(1));
    const auto schedule = w.choice("schedule", {"1f1b", "interleaved"});
    tr.interleaved = schedule && *schedule == "interleaved";
    tr.virtual_stages = tr.interleaved ? 2 : 1;
    if (w.has("virtual_stages")) {
      tr.virtual_stages_given = true;
      if (!tr.interleaved) {
        diag.error(w.pointer_to("virtual_stages"), "virtual_stages needs the interleaved schedule",
                   "set \"schedule\": \"interleaved\" or remove virtual_stages");
      }
      tr.virtual_stages = static_cast<int>(w.integer("virtual_stages", false, 2, 1024).value_or(2));
    }
    const auto recompute = w.choice("recompute", {"none", "full"});
    tr.full_recompute = recompute && *recompute == "full";
    tr.framework_efficiency =
        read_fraction(w, "framework_efficiency", "the achieved share of the modelled forward/backward speed")
            .value_or(1.0);
    w.choice("optimizer", {"adam"});  // Adam (fp32 master weights and moments) is the one modelled
  } else {
    diag.error(w.pointer_to("kind"), "workload '" + *kind + "' " + kNotYet,
               "valid here: decode, prefill, serving");
    return;  // its keys are not read, so they are not reported as unknown either
  }
  wl.speculative = read_speculative(w, diag);
  w.finish();
}

}  // namespace moesim::sim
