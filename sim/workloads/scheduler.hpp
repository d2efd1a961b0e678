#pragma once
// Inside sim/workloads/: one deployment's continuous-batching schedulers over a serving run.
// Every request goes to an attention data-parallel rank round-robin; each rank admits, preempts
// and fills its token budget on its own, and all ranks step together (expert parallelism
// synchronises them every layer), so a step lasts as long as the largest rank's batch takes.

#include <string>
#include <vector>

#include "input/input.hpp"
#include "step/step.hpp"
#include "workloads/requests.hpp"

namespace moesim::sim {

enum class PoolMode {
  colocated,     ///< prefill and decode on the same deployment
  prefill_only,  ///< disaggregated prefill pool: a request leaves with its first token
  decode_only,   ///< disaggregated decode pool: requests arrive with their prompt in the KV cache
};

/// The pool's state after one step, for the run's time series (ServingStats::series).
struct PoolSample {
  double t = 0;               ///< seconds since the run's start, at the end of the step
  double running = 0;         ///< sequences in the running batches, all ranks
  double waiting = 0;         ///< requests arrived and queued, all ranks
  double kv_fraction = 0;     ///< the fullest rank's KV cache use over its capacity
  double decode_tokens = 0;   ///< tokens decoded so far, all ranks
  double preemptions = 0;     ///< so far
};

struct PoolOutcome {
  double end = 0;             ///< when the last request left
  long long iterations = 0, preemptions = 0;
  double decode_sum = 0;      ///< decode sequences per rank, summed over steps
  double peak_kv = 0;
  std::size_t evaluations = 0;
  double busy_s = 0, step_joules = 0, peak_w = 0;  ///< energy of the steps (docs/power.md)
  // Prefix cache: prompt tokens admitted, those found cached (not prefilled), tokens evicted.
  double prompt_tokens = 0, prefix_hit_tokens = 0, evicted_tokens = 0;
  // Attention DP: per step, the rank with the most KV tokens to attend over against the mean
  // rank, summed over the steps where any rank attends (and their count).
  double imbalance_sum = 0;
  long long imbalance_steps = 0;
  // KV offload: tokens moved to and from host memory, turns that waited for theirs, and the
  // waiting summed over them.
  double offloaded_tokens = 0, restored_tokens = 0, restore_wait_s = 0;
  double ssd_tokens = 0, ssd_restored_tokens = 0;  ///< written to and read back from the SSD tier
  long long restored_turns = 0;
  /// After every step, thinned to at most 2 x kMaxSeriesSamples by keeping every 2^k-th step.
  std::vector<PoolSample> series;
  std::string error;          ///< internal failure, empty when fine
};

inline constexpr std::size_t kMaxSeriesSamples = 128;

/// Runs `reqs` (sorted by arrival) through the deployment's schedulers, each rank holding
/// `kv_capacity` KV-cache tokens; the requests' progress and times are left in `reqs`.
/// `kv_token_bytes`: KV bytes of one token on one device (for KV offload's transfers).
PoolOutcome run_pool(const Deployment& deployment, const ServingSpec& serving, std::vector<Request>& reqs,
                     PoolMode mode, double kv_capacity, double kv_token_bytes = 0);

}  // namespace moesim::sim
