#pragma once
// Inside sim/step/: the work of one layer's token mixer for one micro-batch on one device:
// softmax attention (with DSA's indexer where the model has one) or a linear recurrence (Gated
// DeltaNet, Mamba-2). The step builder turns it into kernels (docs/models.md).

#include "step/deployment.hpp"
#include "step/step_tokens.hpp"

namespace moesim::sim {

struct AttentionWork {
  double qkv_flops = 0, qkv_bytes = 0;    // input projections (QKV, MLA's, a recurrence's in_proj)
  double o_flops = 0, o_bytes = 0;        // output projection
  double core_flops = 0, core_bytes = 0;  // the attention kernel (or the recurrence's scan/update)
  double indexer_flops = 0, indexer_bytes = 0;  // DSA: scoring every earlier token (fp8)
  double kv_write_bytes = 0;
  double rope_elements = 0;               // elements rotary rewrites (q and k rope parts)
  double o_inputs = 0;                    // elements entering the output projection
  double qkv_k = 0, o_k = 0;              // reduction depths (QKV: FLOP-weighted over its GEMMs)
};

/// This micro-batch's tokens on one attention rank: all of them, those of a chunked prefill
/// among them, and the sequences.
struct MixerTokens {
  double tokens = 0, chunk_tokens = 0, sequences = 0;
};

/// The mixer work of layer `layer`, whose parameters are `lp` (heads split over attention TP). 0
/// for a layer without one.
AttentionWork mixer_work(const Deployment& d, const StepShape& w, const StepTokens& sh, int layer, const LayerParams& lp,
                         const MixerTokens& t);

}  // namespace moesim::sim
