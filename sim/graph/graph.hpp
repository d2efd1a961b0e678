#pragma once
// The door of sim/graph/: one step as a dependency graph of kernels and collectives over the
// fabric's ports, its timeline, and the closed-form (analytic) evaluation of it.

#include "graph/step_graph.hpp"
