#include "nelder_mead.hpp"

#include <algorithm>
#include <cstddef>
#include <numeric>

namespace moesim::calibrate {

Minimum nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                    const std::vector<double>& step, double tolerance, int max_evaluations) {
  // Standard coefficients: reflection 1, expansion 2, contraction 1/2, shrink 1/2.
  constexpr double kReflect = 1.0, kExpand = 2.0, kContract = 0.5, kShrink = 0.5;
  const std::size_t n = x0.size();
  std::vector<std::vector<double>> pts(n + 1, x0);
  for (std::size_t i = 0; i < n; ++i) pts[i + 1][i] += step[i];
  std::vector<double> val(n + 1);
  int evals = 0;
  auto eval = [&](const std::vector<double>& x) {
    ++evals;
    return f(x);
  };
  for (std::size_t i = 0; i <= n; ++i) val[i] = eval(pts[i]);
  std::vector<std::size_t> order(n + 1);
  auto along = [&](const std::vector<double>& centre, const std::vector<double>& worst, double t) {
    std::vector<double> x(n);
    for (std::size_t j = 0; j < n; ++j) x[j] = centre[j] + t * (worst[j] - centre[j]);
    return x;
  };
  while (evals < max_evaluations) {
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return val[a] < val[b]; });
    const std::size_t best = order.front(), worst = order.back(), second = order[n - 1];
    if (val[worst] - val[best] < tolerance) break;
    std::vector<double> centre(n, 0.0);
    for (std::size_t i = 0; i <= n; ++i) {
      if (i == worst) continue;
      for (std::size_t j = 0; j < n; ++j) centre[j] += pts[i][j] / static_cast<double>(n);
    }
    const auto reflected = along(centre, pts[worst], -kReflect);
    const double fr = eval(reflected);
    if (fr < val[best]) {
      const auto expanded = along(centre, pts[worst], -kExpand);
      const double fe = eval(expanded);
      if (fe < fr) {
        pts[worst] = expanded;
        val[worst] = fe;
      } else {
        pts[worst] = reflected;
        val[worst] = fr;
      }
      continue;
    }
    if (fr < val[second]) {
      pts[worst] = reflected;
      val[worst] = fr;
      continue;
    }
    // Contract towards the better of the worst point and its reflection.
    const bool outside = fr < val[worst];
    const auto contracted = along(centre, outside ? reflected : pts[worst], kContract);
    const double fc = eval(contracted);
    if (fc < (outside ? fr : val[worst])) {
      pts[worst] = contracted;
      val[worst] = fc;
      continue;
    }
    for (std::size_t i = 0; i <= n; ++i) {
      if (i == best) continue;
      for (std::size_t j = 0; j < n; ++j) pts[i][j] = pts[best][j] + kShrink * (pts[i][j] - pts[best][j]);
      val[i] = eval(pts[i]);
    }
  }
  const auto it = std::min_element(val.begin(), val.end());
  const auto idx = static_cast<std::size_t>(it - val.begin());
  return {pts[idx], *it, evals};
}

}  // namespace moesim::calibrate
