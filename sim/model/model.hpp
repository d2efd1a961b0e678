#pragma once
// The door of sim/model/: a model's architecture (HF config.json or a built-in preset), its
// parameter counts, per-layer FLOPs and KV-cache sizes.

#include "model/model_config.hpp"
#include "model/presets.hpp"
