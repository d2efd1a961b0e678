#include "workloads/requests.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <random>

namespace moesim::sim {
namespace {

int draw_tokens(const TokenCountSpec& t, std::mt19937_64& rng) {
  if (t.lo == t.hi) return t.lo;
  return std::uniform_int_distribution<int>(t.lo, t.hi)(rng);
}

}  // namespace

// Sessions: every turn of every session, the first turns at the sessions' starts and the later
// ones pending; each replica serves every replicas-th session.
std::vector<Request> session_requests(const ServingSpec& sv, std::mt19937_64& rng) {
  const SessionSpec& ss = *sv.sessions;
  std::exponential_distribution<double> gap(sv.arrival == ServingSpec::Arrival::poisson ? sv.poisson_rps : 1.0);
  std::vector<Request> firsts, later;
  double t = 0;
  for (int s = 0; s < ss.count; ++s) {
    if (sv.arrival == ServingSpec::Arrival::poisson) t += gap(rng);
    const int turns = draw_tokens(ss.turns, rng);
    int context = ss.system_prompt_tokens;
    for (int k = 0; k < turns; ++k) {
      Request r;
      const int fresh = draw_tokens(sv.input_tokens, rng);
      r.output = draw_tokens(sv.output_tokens, rng);
      r.input = context + fresh;
      r.prefix = context;
      r.prefill_target = r.input;
      r.session = s;
      r.turn = k;
      r.think_s = ss.think_s;
      r.arrival = k == 0 ? t : std::numeric_limits<double>::infinity();
      context += fresh + r.output;
      if (s % sv.replicas != 0) continue;
      (k == 0 ? firsts : later).push_back(r);
    }
  }
  // First turns by start time, then the pending turns; link each turn to the next.
  std::vector<Request> out = std::move(firsts);
  out.insert(out.end(), later.begin(), later.end());
  std::map<std::pair<int, int>, int> index;
  for (std::size_t i = 0; i < out.size(); ++i) index[{out[i].session, out[i].turn}] = static_cast<int>(i);
  for (Request& r : out) {
    auto it = index.find({r.session, r.turn + 1});
    r.next = it == index.end() ? -1 : it->second;
  }
  return out;
}

std::vector<Request> make_requests(const ServingSpec& sv, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 17);
  if (sv.sessions) return session_requests(sv, rng);
  std::vector<Request> all;
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
