#pragma once
// The door of sim/moe/: expert routing (per-layer popularity and draws), expert placement
// (contiguous, round-robin, EPLB), the expert cache of flash-offloaded deployments, and the
// expert-parallel all-to-all traffic.

#include "moe/all_to_all.hpp"
#include "moe/expert_cache.hpp"
#include "moe/placement.hpp"
#include "moe/routing.hpp"
