#pragma once
// Inside sim/step/: the tokens a step shape puts on one attention rank, shared by the memory
// model and the step builder.

#include "step/deployment.hpp"

namespace moesim::sim {

/// Activations are bf16; embeddings, the lm head, routers and norms stay in bf16 whatever the
/// weights' dtype.
inline constexpr double kActivationBytes = 2;
inline constexpr double kHighPrecisionBytes = 2;

struct StepTokens {
  double tokens_per_rank = 0;   ///< tokens an attention DP rank processes in this step
  double attended_context = 0;  ///< context each new token attends to (average)
  double chunk_tokens = 0;      ///< of tokens_per_rank: prompt tokens of a chunked prefill
  double chunk_context = 0;     ///< the context those attend to (average)
};

inline StepTokens step_tokens(const StepShape& w) {
  StepTokens sh;
  if (w.kind == WorkloadKind::decode) {
    sh.tokens_per_rank = static_cast<double>(w.batch_per_device) * w.verify_tokens + w.chunk_tokens;
    // With attention DP imbalance, the slowest rank's sequences (their mean context times the
    // imbalance) set the attention kernel's time.
    sh.attended_context = (w.context_tokens + 1) * w.attention_imbalance;
    sh.chunk_tokens = w.chunk_tokens;
    sh.chunk_context = w.chunk_context;
  } else {
    // Cached prompt tokens are attended to, not computed; causal: new token i attends to the
    // cached ones and i new ones.
    // With context parallelism a rank holds 1/cp of each prompt; its queries attend over the
    // whole prompt (ring attention) at the same average causal span.
    const double fresh = static_cast<double>(w.input_tokens) - w.cached_tokens;
    sh.tokens_per_rank = static_cast<double>(w.batch_per_device) * fresh / w.context_parallel;
    sh.attended_context = w.cached_tokens + (fresh + 1) / 2.0;
  }
  return sh;
}

}  // namespace moesim::sim
