#pragma once
// The door of sim/step/: from a validated scenario to one step's graph. resolve_deployment()
// turns the scenario into a Deployment once (model, device and cost model, fabric, parallel
// layout, routing and placement policy); build_step() lays out the kernels and collectives of one
// step of a given shape on it, with the memory each device needs.

#include "step/cost_model.hpp"
#include "step/deployment.hpp"
#include "step/memory.hpp"
#include "step/step_builder.hpp"
