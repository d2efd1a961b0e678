#pragma once
// The door of sim/input/: scenario v1, read and validated into typed structs with every problem
// collected (file and JSON pointer), and the MoE specifications it names.

#include "input/moe_spec.hpp"
#include "input/scenario.hpp"
#include "input/uncertain_figures.hpp"
