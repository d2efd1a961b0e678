#pragma once
// A pure function's results remembered by its arguments, for the evaluations of one process that
// repeat them: a plan's candidates that differ only in hardware or in the all-to-all kernels
// draw the same routing; the samples of a plan's intervals vary hardware figures only; a serving
// run places the same layers for every batch shape.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace moesim::sim {

/// Whether a key holding these numbers can be ordered (a NaN compares false with everything, which
/// would break the memo's order): a value with a NaN among its arguments is made, not remembered
/// (Memo::get's `rememberable`).
inline bool orderable(double x) { return !std::isnan(x); }
inline bool orderable(const std::vector<double>& v) {
  return std::none_of(v.begin(), v.end(), [](double x) { return std::isnan(x); });
}

/// Safe to share between threads. Holds at most `most_bytes` (by the caller's estimate of each
/// entry's size): when the next entry would not fit, it forgets everything it holds and starts
/// again, so a long-lived process (the GUI) keeps remembering what it uses now.
///
/// `Less` may be transparent (`is_transparent`): a lookup then takes a probe that borrows the
/// arguments (no copy of a long vector to find an entry), and `Key` is made from it only to
/// remember a new entry.
template <class Key, class Value, class Less = std::less<>>
class Memo {
 public:
  explicit Memo(std::size_t most_bytes) : most_bytes_(most_bytes) {}

  /// The value remembered for `probe`, else `make()`, remembered at `bytes` under Key(probe).
  /// `make` runs outside the lock: two threads may both make a missing value (the same one; the
  /// first is kept). Not `rememberable` (a probe that cannot be ordered): made, neither looked up
  /// nor remembered.
  template <class Probe, class Make>
  std::shared_ptr<const Value> get(const Probe& probe, std::size_t bytes, Make&& make, bool rememberable = true) {
    if (!rememberable) return std::make_shared<const Value>(make());
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (auto it = made_.find(probe); it != made_.end()) return it->second;
    }
    auto value = std::make_shared<const Value>(make());
    const std::lock_guard<std::mutex> lock(mutex_);
    if (bytes > most_bytes_) return value;
    if (held_bytes_ + bytes > most_bytes_) {
      made_.clear();
      held_bytes_ = 0;
    }
    auto [it, added] = made_.emplace(Key(probe), value);
    if (added) held_bytes_ += bytes;
    return it->second;
  }

  /// Forgets everything (a benchmark of first evaluations; tests).
  void clear() {
    const std::lock_guard<std::mutex> lock(mutex_);
    made_.clear();
    held_bytes_ = 0;
  }

  std::size_t size() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return made_.size();
  }

 private:
  std::size_t most_bytes_;
  mutable std::mutex mutex_;
  std::map<Key, std::shared_ptr<const Value>, Less> made_;
  std::size_t held_bytes_ = 0;
};

}  // namespace moesim::sim
