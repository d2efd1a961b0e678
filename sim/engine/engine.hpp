#pragma once
// The door of sim/engine/: the only code that uses SimGrid. run_flow() evaluates a step graph
// with flow-level contention in a forked child (one engine per process).

#include "engine/flow_engine.hpp"
