#pragma once
// Inside sim/workloads/: the requests of a serving run and their progress through a scheduler.

#include <cstdint>
#include <vector>

#include "input/input.hpp"

namespace moesim::sim {

struct Request {
  double arrival = 0;
  int input = 0;
  int output = 0;
  // Progress.
  int prefill_target = 0;      ///< tokens to (re)compute before decoding: the prompt, plus the
                               ///< tokens generated before a preemption
  int prefilled = 0;           ///< of those, in the KV cache
  int generated = 0;           ///< output tokens produced so far (kept across preemptions)
  int kv = 0;                  ///< KV cache tokens held
  /// Speculative decoding: expected tokens earned by decode steps and not yet emitted (a step
  /// emits the whole part; the expected gain per step is fractional).
  double draft_credit = 0;
  /// KV offload: the time its prefix is back from host memory (no prompt chunk before).
  double ready_at = 0;
  bool chunk_this_step = false;  ///< got prompt tokens in the step being applied
  double first_token = -1;     ///< time of the first output token
  double finish = -1;
  int rank = 0;
  // Sessions (workload.sessions): the session, the turn, how much of the prompt is the
  // session's context so far (what a prefix cache can hold), the next turn's request (-1: none)
  // and the think time before it. A later turn's arrival is unknown (infinite) until the turn
  // before it finishes.
  int session = -1;
  int turn = 0;
  int prefix = 0;
  int next = -1;
  double think_s = 0;

  bool decoding() const { return prefilled >= prefill_target; }
};

/// The requests this replica serves, sorted by arrival: every `replicas`-th of the whole stream
/// (round-robin router), each with its own arrival time (offline: all at 0; closed loop: set when
/// issued). Token counts and Poisson gaps are drawn from `seed`.
std::vector<Request> make_requests(const ServingSpec& serving, std::uint64_t seed);

}  // namespace moesim::sim
