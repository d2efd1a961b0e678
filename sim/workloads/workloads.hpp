#pragma once
// The door of sim/workloads/: simulate() runs a scenario's workload (a fixed-batch decode or
// prefill step, a serving run, a training step) and returns its report; training_forward_step()
// gives the forward graph of one training micro-batch (for comparing with a measured trace).

#include "workloads/accuracy.hpp"
#include "workloads/simulate.hpp"
#include "workloads/training.hpp"
#include "workloads/uncertainty.hpp"
