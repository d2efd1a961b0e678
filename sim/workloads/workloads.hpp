#pragma once
// The door of sim/workloads/: simulate() runs a scenario's workload (a fixed-batch decode or
// prefill step, a serving run, a training step) and returns its report.

#include "workloads/simulate.hpp"
