#pragma once
// Derivative-free minimisation (Nelder-Mead simplex) for the few-parameter fits of `moesim fit`.
// The fitted models are piecewise smooth (a roofline's max), where gradient methods stall.

#include <functional>
#include <vector>

namespace moesim::calibrate {

struct Minimum {
  std::vector<double> x;
  double value = 0;
  int evaluations = 0;
};

/// Minimises `f` starting from `x0`, with an initial simplex of `x0` and `x0 + step[i] e_i`.
/// Stops when the simplex's values differ by less than `tolerance` (absolute) or after
/// `max_evaluations`. `f` may return +infinity for points outside its domain.
Minimum nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                    const std::vector<double>& step, double tolerance = 1e-14,
                    int max_evaluations = 20000);

}  // namespace moesim::calibrate
