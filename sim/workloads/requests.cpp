#include "workloads/requests.hpp"

#include <algorithm>
#include <random>

namespace moesim::sim {
namespace {

int draw_tokens(const TokenCountSpec& t, std::mt19937_64& rng) {
  if (t.lo == t.hi) return t.lo;
  return std::uniform_int_distribution<int>(t.lo, t.hi)(rng);
}

}  // namespace

std::vector<Request> make_requests(const ServingSpec& sv, std::uint64_t seed) {
  std::vector<Request> all;
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 17);
  double t = 0;
  std::exponential_distribution<double> gap(sv.arrival == ServingSpec::Arrival::poisson ? sv.poisson_rps : 1.0);
  for (int i = 0; i < sv.requests; ++i) {
    Request r;
    if (sv.arrival == ServingSpec::Arrival::trace) {
      const RequestSpec& q = sv.trace[static_cast<std::size_t>(i)];
      r.arrival = q.arrival_s;
      r.input = q.input_tokens;
      r.output = q.output_tokens;
    } else {
      if (sv.arrival == ServingSpec::Arrival::poisson) t += gap(rng);
      r.arrival = t;
      r.input = draw_tokens(sv.input_tokens, rng);
      r.output = draw_tokens(sv.output_tokens, rng);
    }
    r.prefill_target = r.input;
    all.push_back(r);
  }
  std::stable_sort(all.begin(), all.end(), [](const Request& a, const Request& b) { return a.arrival < b.arrival; });
  std::vector<Request> mine;
  for (std::size_t i = 0; i < all.size(); i += static_cast<std::size_t>(sv.replicas)) mine.push_back(all[i]);
  return mine;
}

}  // namespace moesim::sim
