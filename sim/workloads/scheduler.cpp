#include "workloads/scheduler.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <queue>
#include <tuple>
#include <unordered_map>

namespace moesim::sim {
namespace {

// Step times for batch shapes, memoized on a grid: decode sequences per rank (exact to 16, then
// rounded up to 1/8 of their power of two), their mean context (to 256 tokens), prompt tokens of
// the step per rank (rounded up to 128) and those tokens' mean context (to 512). Each shape is
// one step of the deployment under the closed form.
class StepCosts {
 public:
  explicit StepCosts(const Deployment& d) : d_(d) {}

  /// One scheduler step of this shape: its time, the devices' energy over it, and the most any
  /// device draws in it.
  struct Cost {
    double seconds = 0, joules = 0, peak_w = 0;
  };

  Cost step(double decode, double context, double chunk, double chunk_context) {
    const auto key = std::make_tuple(round_batch(decode), round_to(context, 256), round_up(chunk, 128),
                                     round_to(chunk_context, 512));
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    StepShape shape;
    shape.kind = WorkloadKind::decode;
    shape.batch_per_device = static_cast<int>(std::get<0>(key));
    shape.context_tokens = static_cast<int>(std::get<1>(key));
    shape.chunk_tokens = std::get<2>(key);
    shape.chunk_context = std::get<3>(key);
    const DeploymentStep step = build_step(d_, shape, TrafficDetail::port_sums);
    const Timeline t = evaluate_analytic(step.graph);
    const double previous_end = last_step_start(step, t);
    const Cost c{t.makespan - previous_end, device_energy(step.graph, t, previous_end, t.makespan),
                 peak_device_watts(step.graph)};
    cache_[key] = c;
    return c;
  }
  std::size_t evaluations() const { return cache_.size(); }

 private:
  static double round_batch(double b) {
    const double n = std::ceil(b);
    if (n <= 16) return n;
    const double step = std::exp2(std::floor(std::log2(n)) - 3);
    return std::ceil(n / step) * step;
  }
  static double round_to(double x, double q) { return std::max(0.0, std::round(x / q) * q); }
  static double round_up(double x, double q) { return x <= 0 ? 0.0 : std::ceil(x / q) * q; }

  const Deployment& d_;
  std::map<std::tuple<double, double, double, double>, Cost> cache_;
};

// Cached KV prefixes of sessions, least recently used first: one rank's device cache or its host
// tier. Tokens are one device's share per token.
class SessionLru {
 public:
  int tokens(int session) const {
    auto it = index_.find(session);
    return it == index_.end() ? 0 : it->second->second;
  }
  double used() const { return used_; }
  bool empty() const { return order_.empty(); }
  /// Adds (or replaces) the session's entry as the most recent.
  void put(int session, int tokens) {
    take(session);
    order_.emplace_back(session, tokens);
    index_[session] = std::prev(order_.end());
    used_ += tokens;
  }
  /// Removes the session's entry; its tokens (0: none).
  int take(int session) {
    auto it = index_.find(session);
    if (it == index_.end()) return 0;
    const int tokens = it->second->second;
    used_ -= tokens;
    order_.erase(it->second);
    index_.erase(it);
    return tokens;
  }
  /// The least recently used session other than `keep` (-1: none).
  int oldest_except(int keep) const {
    for (const auto& [session, tokens] : order_) {
      if (session != keep) return session;
    }
    return -1;
  }

 private:
  std::list<std::pair<int, int>> order_;
  std::unordered_map<int, std::list<std::pair<int, int>>::iterator> index_;
  double used_ = 0;
};

// What one rank puts into a step: its decodes (and their mean context) and its prompt chunks.
struct RankBatch {
  double decode = 0, ctx = 0;          // decode sequences, their KV tokens summed
  double chunk = 0, chunk_ctx = 0;     // prompt tokens, their context summed (token-weighted)
  std::vector<std::pair<int, int>> chunks;  // (request, prompt tokens this step)
};

class PoolScheduler {
 public:
  PoolScheduler(const Deployment& d, const ServingSpec& sv, std::vector<Request>& reqs, PoolMode mode,
                double kv_capacity, double kv_token_bytes)
      : sv_(sv), reqs_(reqs), mode_(mode), kv_capacity_(kv_capacity), ranks_(d.par.attention_dp),
        n_(static_cast<int>(reqs.size())), waiting_(static_cast<std::size_t>(ranks_)),
        running_(static_cast<std::size_t>(ranks_)), kv_used_(static_cast<std::size_t>(ranks_), 0.0), costs_(d),
        closed_(sv.max_concurrency > 0 && mode == PoolMode::colocated),
        verify_(d.speculative ? d.speculative->verify_tokens() : 1),
        tokens_per_step_(d.speculative ? d.speculative->tokens_per_step() : 1.0),
        issuable_(static_cast<int>(std::count_if(reqs.begin(), reqs.end(), [](const Request& r) { return r.turn == 0; }))),
        cache_on_(sv.prefix_cache.enabled && mode == PoolMode::colocated),
        system_(sv.sessions ? sv.sessions->system_prompt_tokens : 0),
        cache_(static_cast<std::size_t>(ranks_)), system_cached_(static_cast<std::size_t>(ranks_), false),
        offload_(cache_on_ && sv.kv_offload && kv_token_bytes > 0),
        token_bytes_(kv_token_bytes),
        host_capacity_(offload_ ? sv.kv_offload->host_bytes / d.par.devices_per_node / kv_token_bytes : 0.0),
        link_bw_(offload_ ? sv.kv_offload->link->effective_bandwidth() : 0.0),
        host_(static_cast<std::size_t>(ranks_)), link_free_(static_cast<std::size_t>(ranks_), 0.0),
        ssd_capacity_(offload_ ? sv.kv_offload->ssd_bytes / d.par.devices_per_node / kv_token_bytes : 0.0),
        ssd_bw_(offload_ ? sv.kv_offload->ssd_bandwidth / d.par.devices_per_node : 0.0),
        ssd_(static_cast<std::size_t>(ranks_)), ssd_free_(static_cast<std::size_t>(ranks_), 0.0) {}

  PoolOutcome run() {
    if (closed_) {
      while (issued_ < std::min(n_, sv_.max_concurrency)) issue(0.0);
    }
    while (done_ < n_) {
      release_arrivals();
      if (!any_work()) {
        if (!idle_until_next_arrival()) {
          out_.error = "serving simulation stalled with requests left (internal error)";
          return out_;
        }
        continue;
      }
      // Schedule each rank; the step's shape is the largest rank's batch.
      std::vector<RankBatch> batches(static_cast<std::size_t>(ranks_));
      const RankBatch* largest = nullptr;
      double most_kv = 0, all_kv = 0;
      for (int k = 0; k < ranks_; ++k) {
        RankBatch& b = batches[static_cast<std::size_t>(k)];
        schedule_rank(k, b);
        if (largest == nullptr ? b.decode + b.chunk > 0 : b.decode + b.chunk > largest->decode + largest->chunk) {
          largest = &b;
        }
        most_kv = std::max(most_kv, b.ctx + b.chunk_ctx);
        all_kv += b.ctx + b.chunk_ctx;
      }
      if (all_kv > 0) {
        out_.imbalance_sum += most_kv / (all_kv / ranks_);
        ++out_.imbalance_steps;
      }
      if (largest == nullptr) {
        // Nothing to compute while prefixes come back from host memory: wait for the first.
        double ready = std::numeric_limits<double>::infinity();
        for (const auto& run : running_) {
          for (int id : run) {
            if (req(id).ready_at > t_) ready = std::min(ready, req(id).ready_at);
          }
        }
        if (std::isfinite(ready)) {
          t_ = ready;
          continue;
        }
        out_.error = "serving: a step with no work (the KV cache cannot take any prompt token)";
        return out_;
      }
      const double decode = largest->decode, chunk = largest->chunk;
      const StepCosts::Cost cost = costs_.step(decode, decode > 0 ? largest->ctx / decode : 0, chunk,
                                               chunk > 0 ? largest->chunk_ctx / chunk : 0);
      out_.busy_s += cost.seconds;
      out_.step_joules += cost.joules;
      out_.peak_w = std::max(out_.peak_w, cost.peak_w);
      t_ += cost.seconds;
      ++out_.iterations;
      out_.decode_sum += decode;
      for (int k = 0; k < ranks_; ++k) {
        decoded_ += batches[static_cast<std::size_t>(k)].decode * tokens_per_step_;
        apply_step(k, batches[static_cast<std::size_t>(k)]);
      }
      sample();
    }
    out_.end = t_;
    out_.evaluations = costs_.evaluations();
    return out_;
  }

 private:
  Request& req(int id) { return reqs_[static_cast<std::size_t>(id)]; }

  // The state after this step, every stride_-th step; the stride doubles (and every other sample
  // goes) when the series reaches twice its target length.
  void sample() {
    if (out_.iterations % series_stride_ != 0) return;
    PoolSample p{.t = t_, .decode_tokens = decoded_, .preemptions = static_cast<double>(out_.preemptions)};
    for (int k = 0; k < ranks_; ++k) {
      p.running += static_cast<double>(running_[static_cast<std::size_t>(k)].size());
      p.waiting += static_cast<double>(waiting_[static_cast<std::size_t>(k)].size());
      p.kv_fraction = std::max(p.kv_fraction, kv_used_[static_cast<std::size_t>(k)] / kv_capacity_);
    }
    out_.series.push_back(p);
    if (out_.series.size() >= 2 * kMaxSeriesSamples) {
      std::vector<PoolSample> kept;
      for (std::size_t i = 1; i < out_.series.size(); i += 2) kept.push_back(out_.series[i]);
      out_.series = std::move(kept);
      series_stride_ *= 2;
    }
  }

  // Sends the next request to the next rank (closed loop: not before `now`).
  void issue(double now) {
    Request& r = req(issued_);
    if (closed_) r.arrival = std::max(r.arrival, now);
    r.rank = next_rank_;
    next_rank_ = (next_rank_ + 1) % ranks_;
    ++issued_;
  }

  // Open loop: issue what has arrived; then queue at its rank every issued request that arrived.
  void release_arrivals() {
    if (!closed_) {
      while (issued_ < issuable_ && req(issued_).arrival <= t_) issue(t_);
    }
    while (released_ < issued_ && req(released_).arrival <= t_) {
      waiting_[static_cast<std::size_t>(req(released_).rank)].push_back(released_);
      ++released_;
    }
    // Later turns of sessions, at their session's rank.
    while (!follow_ups_.empty() && follow_ups_.top().first <= t_) {
      const int id = follow_ups_.top().second;
      follow_ups_.pop();
      waiting_[static_cast<std::size_t>(req(id).rank)].push_back(id);
    }
  }

  bool any_work() const {
    for (int k = 0; k < ranks_; ++k) {
      if (!waiting_[static_cast<std::size_t>(k)].empty() || !running_[static_cast<std::size_t>(k)].empty()) return true;
    }
    return false;
  }

  // Idle until the next arrival; false when none is left (an internal error).
  bool idle_until_next_arrival() {
    double next = std::numeric_limits<double>::infinity();
    if (released_ < issued_) {
      next = req(released_).arrival;
    } else if (issued_ < issuable_) {
      next = req(issued_).arrival;
    }
    if (!follow_ups_.empty()) next = std::min(next, follow_ups_.top().first);
    if (!std::isfinite(next)) return false;
    t_ = std::max(t_, next);
    return true;
  }

  // One rank's step: admit, preempt until the decodes fit, then fill the token budget with
  // decodes and prompt chunks.
  void schedule_rank(int k, RankBatch& b) {
    admit(k);
    preempt(k);
    auto& run = running_[static_cast<std::size_t>(k)];
    for (int id : run) {
      if (!req(id).decoding()) continue;
      b.decode += 1;
      b.ctx += req(id).kv;
    }
    fill_prompt_chunks(k, b);
  }

  // Admit while the prompts of admitted sequences, still to be prefilled, fit in the KV cache
  // next to what it holds (the oldest waiting request first, as engines do).
  void admit(int k) {
    auto& run = running_[static_cast<std::size_t>(k)];
    auto& wait = waiting_[static_cast<std::size_t>(k)];
    double& used = kv_used_[static_cast<std::size_t>(k)];
    double committed = used;
    for (int id : run) {
      const Request& r = req(id);
      committed += (r.prefill_target - r.prefilled) + verify_;
    }
    while (!wait.empty() && static_cast<int>(run.size()) < sv_.max_sequences) {
      Request& r = req(wait.front());
      // A prompt whose start is cached (its session's last turn, or the rank's copy of the
      // system prompt) prefills only the rest: whole blocks of it.
      const auto own = cached_tokens(k, r.session);
      const int on_host = own == 0 && r.prefilled == 0 && r.prefix > 0 ? host_tokens(k, r.session) : 0;
      int hit = 0;
      if (cache_on_ && r.prefilled == 0 && r.prefix > 0) {
        const int reuse = own > 0       ? std::min(own, r.prefix)
                          : on_host > 0 ? std::min(on_host, r.prefix)
                                        : (system_cached_[static_cast<std::size_t>(k)] ? std::min(system_, r.prefix) : 0);
        hit = reuse / sv_.prefix_cache.block_tokens * sv_.prefix_cache.block_tokens;
      }
      // The session's own entry becomes the request's KV (already counted); a copy of the
      // system prompt is new KV.
      const double fresh = r.prefill_target - (own > 0 ? hit : 0) + verify_;
      while (cache_on_ && committed + fresh > kv_capacity_ && evict_one(k, r.session, committed)) {
      }
      if (!run.empty() && committed + fresh > kv_capacity_) break;
      committed += fresh;
      if (mode_ == PoolMode::decode_only) used += r.kv;  // arrives with its KV cache
      if (cache_on_) {
        if (own > 0) {
          cache_[static_cast<std::size_t>(k)].take(r.session);  // its whole blocks stay in `used`, now the request's
          used -= own - hit;
        }
        if (own == 0 && hit > 0) used += hit;
        if (on_host > 0) {
          // Back from host memory over the link (after what is queued on it): no prompt chunk
          // until it is in.
          double ready = t_;
          if (host_[static_cast<std::size_t>(k)].take(r.session) == 0 && ssd_bw_ > 0) {
            // From the SSD tier: read into host memory first.
            ssd_[static_cast<std::size_t>(k)].take(r.session);
            double& ssd = ssd_free_[static_cast<std::size_t>(k)];
            ssd = std::max(ssd, t_) + hit * token_bytes_ / ssd_bw_;
            ready = ssd;
            out_.ssd_restored_tokens += hit;
          }
          double& link = link_free_[static_cast<std::size_t>(k)];
          link = std::max(link, ready) + hit * token_bytes_ / link_bw_;
          r.ready_at = link;
          out_.restored_tokens += hit;
          out_.restore_wait_s += link - t_;
          ++out_.restored_turns;
        }
        r.prefilled = hit;
        r.kv = hit;
        out_.prefix_hit_tokens += hit;
      }
      out_.prompt_tokens += r.prefill_target;
      run.push_back(wait.front());
      wait.pop_front();
    }
  }

  // --- Prefix cache (per rank, LRU over sessions) -----------------------------------------

  // A session's prefix below the device: in host memory, else on the SSD tier.
  int host_tokens(int k, int session) const {
    if (!offload_ || session < 0) return 0;
    const int host = host_[static_cast<std::size_t>(k)].tokens(session);
    return host > 0 ? host : ssd_[static_cast<std::size_t>(k)].tokens(session);
  }

  int cached_tokens(int k, int session) const {
    return cache_on_ && session >= 0 ? cache_[static_cast<std::size_t>(k)].tokens(session) : 0;
  }

  // Evicts a session's prefix from the device (to the host tier with KV offload).
  // `keep`: a session whose prefix below the device must stay (the one being admitted; -1: none).
  void evict(int k, int session, int keep) {
    const int tokens = cache_[static_cast<std::size_t>(k)].take(session);
    kv_used_[static_cast<std::size_t>(k)] -= tokens;
    out_.evicted_tokens += tokens;
    if (offload_) to_host(k, session, tokens, keep);
  }

  // An evicted prefix moves to host memory (its least recently used entries leave to make room)
  // over the device-host link, which is busy for the transfer.
  void to_host(int k, int session, int tokens, int keep) {
    const auto ks = static_cast<std::size_t>(k);
    if (tokens <= 0 || tokens > host_capacity_) return;
    SessionLru& host = host_[ks];
    while (host.used() + tokens > host_capacity_) {
      const int oldest = host.oldest_except(keep);
      if (oldest < 0) return;  // no room beside the prefix being restored: dropped
      to_ssd(k, oldest, host.take(oldest), keep);
    }
    host.put(session, tokens);
    out_.offloaded_tokens += tokens;
    link_free_[ks] = std::max(link_free_[ks], t_) + tokens * token_bytes_ / link_bw_;
  }

  // What host memory evicts goes to the SSD tier (its oldest entries are dropped to make room),
  // written at the rank's share of the SSDs' bandwidth.
  void to_ssd(int k, int session, int tokens, int keep) {
    const auto ks = static_cast<std::size_t>(k);
    if (ssd_capacity_ <= 0 || tokens <= 0 || tokens > ssd_capacity_) return;
    SessionLru& ssd = ssd_[ks];
    while (ssd.used() + tokens > ssd_capacity_) {
      const int oldest = ssd.oldest_except(keep);
      if (oldest < 0) return;
      ssd.take(oldest);
    }
    ssd.put(session, tokens);
    out_.ssd_tokens += tokens;
    ssd_free_[ks] = std::max(ssd_free_[ks], t_) + tokens * token_bytes_ / ssd_bw_;
  }

  // Evicts the least recently used prefix other than `keep`'s (whose prefix below the device also
  // stays: the session being admitted); lowers `committed` by its tokens.
  bool evict_one(int k, int keep, double& committed) {
    const int session = cache_[static_cast<std::size_t>(k)].oldest_except(keep);
    if (session < 0) return false;
    committed -= cache_[static_cast<std::size_t>(k)].tokens(session);
    evict(k, session, keep);
    return true;
  }

  // A finished turn's KV stays cached as its session's prefix, the most recent.
  void keep_entry(int k, const Request& r) {
    evict(k, r.session, -1);  // (an older prefix of the session, if one is left)
    cache_[static_cast<std::size_t>(k)].put(r.session, r.kv);
    if (system_ > 0) system_cached_[static_cast<std::size_t>(k)] = true;
  }

  // Decodes need one more KV slot each; preempt the newest until they fit. Recompute
  // preemption: the prompt and the tokens so far are prefilled again later.
  void preempt(int k) {
    auto& run = running_[static_cast<std::size_t>(k)];
    auto& wait = waiting_[static_cast<std::size_t>(k)];
    double& used = kv_used_[static_cast<std::size_t>(k)];
    while (true) {
      double need = used;
      for (int id : run) need += req(id).decoding() ? verify_ : 0;
      if (need <= kv_capacity_) break;
      double committed = need;
      if (cache_on_ && evict_one(k, -1, committed)) continue;  // cached prefixes go before running work
      if (run.size() <= 1) break;
      const int victim = run.back();
      run.pop_back();
      Request& v = req(victim);
      used -= v.kv;
      v.kv = 0;
      v.prefilled = 0;
      v.prefill_target = v.input + v.generated;
      wait.push_front(victim);
      ++out_.preemptions;
    }
  }

  // Prompt chunks in admission order, within the batched-token budget left by the decodes and
  // the KV cache (whole prompts only without chunked prefill).
  void fill_prompt_chunks(int k, RankBatch& b) {
    const double used = kv_used_[static_cast<std::size_t>(k)];
    int budget = sv_.max_batched_tokens - static_cast<int>(b.decode) * verify_;
    double kv_after = used + b.decode * verify_;
    for (int id : running_[static_cast<std::size_t>(k)]) {
      if (budget <= 0) break;
      const Request& r = req(id);
      if (r.decoding() || r.ready_at > t_) continue;  // (its prefix still on its way from host memory)
      const int left = r.prefill_target - r.prefilled;
      int take = std::min(left, budget);
      if (!sv_.chunked_prefill && take < left) break;
      // Cached prefixes of idle sessions make room for prompts being prefilled.
      while (cache_on_ && kv_capacity_ - kv_after < take && evict_one(k, -1, kv_after)) {
      }
      take = static_cast<int>(std::min<double>(take, kv_capacity_ - kv_after));
      if (take <= 0) break;
      b.chunks.push_back({id, take});
      b.chunk_ctx += static_cast<double>(r.prefilled) * take;
      b.chunk += take;
      kv_after += take;
      budget -= take;
    }
  }

  // Applies the step to one rank: prompt chunks land in the KV cache, decodes produce tokens, and
  // finished sequences leave (a prefill pool hands a sequence on once its first token is out).
  void apply_step(int k, const RankBatch& b) {
    auto& run = running_[static_cast<std::size_t>(k)];
    double& used = kv_used_[static_cast<std::size_t>(k)];
    for (const auto& [id, take] : b.chunks) {
      Request& r = req(id);
      r.prefilled += take;
      r.kv += take;
      used += take;
      r.chunk_this_step = true;
    }
    std::vector<int> still;
    for (int id : run) {
      Request& r = req(id);
      const bool was_chunk = r.chunk_this_step;
      r.chunk_this_step = false;
      const bool was_decode = !was_chunk && r.prefilled >= r.prefill_target;
      // A step that completes a prompt yields a token, as does every decode step.
      if (was_decode || (was_chunk && r.prefilled >= r.prefill_target)) {
        // A decode step keeps the accepted drafts too (their expected number, emitted whole).
        int gained = 1;
        if (was_decode && verify_ > 1) {
          r.draft_credit += tokens_per_step_;
          gained = std::max(1, static_cast<int>(std::floor(r.draft_credit)));
          r.draft_credit -= gained;
        }
        gained = std::min(gained, std::max(1, r.output - r.generated));
        r.generated += gained;
        r.kv += gained;
        used += gained;
        if (r.first_token < 0) r.first_token = t_;
      }
      if (r.generated >= r.output || (mode_ == PoolMode::prefill_only && r.generated > 0)) {
        r.finish = t_;
        if (cache_on_ && r.session >= 0) {
          keep_entry(k, r);  // its KV stays, now the session's cached prefix
        } else {
          used -= r.kv;
        }
        r.kv = 0;
        ++done_;
        if (closed_ && issued_ < n_) issue(t_);
        if (r.next >= 0) {
          // The session's next turn arrives a think time later, at the same rank.
          Request& nx = req(r.next);
          nx.arrival = t_ + r.think_s;
          nx.rank = r.rank;
          follow_ups_.emplace(nx.arrival, r.next);
        }
      } else {
        still.push_back(id);
      }
    }
    run = std::move(still);
    out_.peak_kv = std::max(out_.peak_kv, used / kv_capacity_);
  }

  const ServingSpec& sv_;
  std::vector<Request>& reqs_;
  PoolMode mode_;
  double kv_capacity_;
  int ranks_, n_;
  std::vector<std::deque<int>> waiting_;
  std::vector<std::vector<int>> running_;
  std::vector<double> kv_used_;
  StepCosts costs_;
  bool closed_;
  // Speculative decoding: KV slots and batched tokens a decode takes in a step (its drafts and
  // its own token), and the tokens it gains in expectation.
  int verify_;
  double tokens_per_step_;
  // Requests issued in index order: all, or with sessions their first turns (which come first);
  // later turns are released from follow_ups_ when the turn before them ends.
  int issuable_;
  // Sessions' later turns waiting for their arrival (time, request), earliest first.
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>> follow_ups_;
  // Prefix cache per rank.
  bool cache_on_;
  int system_;
  std::vector<SessionLru> cache_;
  std::vector<bool> system_cached_;
  // KV offload: per rank, the host tier (LRU like the device's, in tokens of one device's share)
  // and when its device-host link is next free (transfers queue on it).
  bool offload_;
  double token_bytes_, host_capacity_, link_bw_;
  std::vector<SessionLru> host_;
  std::vector<double> link_free_;
  // The SSD tier below host memory (per rank: its devices' share of capacity and bandwidth).
  double ssd_capacity_, ssd_bw_;
  std::vector<SessionLru> ssd_;
  std::vector<double> ssd_free_;
  int issued_ = 0, next_rank_ = 0, done_ = 0, released_ = 0;
  double decoded_ = 0;           // tokens decoded so far (the series)
  long long series_stride_ = 1;  // steps between samples of the series
  double t_ = 0;
  PoolOutcome out_;
};

}  // namespace

PoolOutcome run_pool(const Deployment& d, const ServingSpec& sv, std::vector<Request>& reqs, PoolMode mode,
                     double kv_capacity, double kv_token_bytes) {
  return PoolScheduler(d, sv, reqs, mode, kv_capacity, kv_token_bytes).run();
}

}  // namespace moesim::sim

