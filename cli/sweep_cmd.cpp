// moesim sweep / moesim merge: the commands around the spec and rows of sweep.hpp.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "file_io.hpp"
#include "process_pool.hpp"
#include "sweep.hpp"
#include "units.hpp"

namespace fs = std::filesystem;

namespace moesim::tools {
namespace {

using nlohmann::json;

constexpr const char* kRowsFile = "results.jsonl";
constexpr const char* kCsvFile = "results.csv";
constexpr const char* kInfoFile = "sweep.json";

bool done_status(const std::string& s) { return s != "failed"; }

// The rows of a results folder; a line cut short by a crash is skipped.
std::vector<json> read_rows(const fs::path& dir) {
  std::vector<json> rows;
  std::istringstream in(read_text((dir / kRowsFile).string()));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      json row = json::parse(line);
      if (row.is_object() && row.contains("point") && row.contains("status")) rows.push_back(std::move(row));
    } catch (const json::exception&) {
      // an incomplete last line: that point runs again
    }
  }
  return rows;
}

// Writes the CSV and JSONL of `rows` in one go (temporary files renamed into place).
bool write_rows(const fs::path& dir, const SweepSpec& spec, const std::vector<json>& rows, std::string* why) {
  std::string jsonl, csv = csv_header(spec);
  for (const auto& r : rows) {
    jsonl += r.dump() + "\n";
    csv += csv_row(spec, r);
  }
  return write_file_atomic((dir / kRowsFile).string(), jsonl, why) && write_file_atomic((dir / kCsvFile).string(), csv, why);
}

// Appends whole lines: one write() each on O_APPEND descriptors, so a crash leaves complete
// rows (at worst one cut line, which a resume skips).
class RowAppender {
 public:
  explicit RowAppender(const fs::path& dir) {
    jsonl_ = open((dir / kRowsFile).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    csv_ = open((dir / kCsvFile).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }
  ~RowAppender() {
    if (jsonl_ >= 0) close(jsonl_);
    if (csv_ >= 0) close(csv_);
  }
  RowAppender(const RowAppender&) = delete;
  RowAppender& operator=(const RowAppender&) = delete;
  bool ok() const { return jsonl_ >= 0 && csv_ >= 0; }
  /// A row as its JSONL line followed by its CSV line.
  bool append(const std::string& lines) {
    const std::size_t cut = lines.find('\n') + 1;
    return write_all(jsonl_, lines.substr(0, cut)) && write_all(csv_, lines.substr(cut));
  }

 private:
  static bool write_all(int fd, const std::string& text) {
    return ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  int jsonl_ = -1, csv_ = -1;
};

// A one-line progress bar on standard error, only on a terminal.
class Progress {
 public:
  Progress(std::size_t total, bool enabled) : total_(total), enabled_(enabled), start_(Clock::now()) {}
  void update(std::size_t done, std::size_t failed, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double frac = total_ == 0 ? 1 : static_cast<double>(done) / static_cast<double>(total_);
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    char eta[32] = "--:--";
    if (done > 0) {
      const long secs = std::lround(elapsed / static_cast<double>(done) * static_cast<double>(total_ - done));
      std::snprintf(eta, sizeof eta, "%ld:%02ld", secs / 60, secs % 60);
    }
    std::fprintf(stderr, "\r[%s] %zu/%zu  done %zu  failed %zu  ETA %s ", bar.c_str(), done, total_, done - failed,
                 failed, eta);
    std::fflush(stderr);
  }
  void finish() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::size_t total_;
  bool enabled_;
  Clock::time_point start_, last_{};
};

json sweep_info(const SweepSpec& spec, const std::string& shard) {
  return {{"spec", spec.doc}, {"base", spec.base}, {"points", spec.size()},
          {"shard", shard.empty() ? json(nullptr) : json(shard)},
          {"base_dir", fs::absolute(spec.base_dir).lexically_normal().string()}};
}

// Whether two results folders come from the same sweep (folders may sit on other machines).
bool same_sweep(json a, json b) {
  a.erase("base_dir");
  b.erase("base_dir");
  return a == b;
}

}  // namespace

void add_sweep_options(CLI::App& sweep, SweepOptions& so) {
  sweep.add_option("spec", so.spec_path, "Sweep spec JSON (docs/sweep.md)")->required()->check(CLI::ExistingFile);
  sweep.add_option("-j,--jobs", so.jobs, "Points run at once (default: all cores; under MPI: per rank, the machine's cores shared among its ranks)")
      ->check(CLI::PositiveNumber);
  sweep.add_option("-o,--out", so.out_dir, "Results folder (default: SPEC-stem.results)");
  sweep.add_flag("--resume", so.resume, "Continue a sweep in its results folder: skip points already done");
  sweep.add_option("--shard", so.shard, "Run only slice i of N (0 <= i < N), e.g. for Slurm job arrays");
  sweep.add_option("--timeout", so.timeout, "Wall-clock limit per point (e.g. 30s); overrides the spec");
  sweep.add_option("--fidelity", so.fidelity, "Override every point's fidelity")->check(CLI::IsMember({"analytic", "flow"}));
}

namespace {

// What rank 0 decided before anything runs: the exit code when nothing runs, else the points.
struct SweepPlan {
  int rc = 0;
  std::vector<std::size_t> todo;
  std::size_t skipped = 0;     // done by an earlier run (--resume)
};

fs::path results_dir(const SweepOptions& options) {
  return options.out_dir.empty() ? fs::path(fs::path(options.spec_path).stem().string() + ".results")
                                 : fs::path(options.out_dir);
}

// Applies the option overrides to the spec; the shard in `shard`/`shards`. 1 (printed when
// `print`) for a bad option.
int apply_options(const SweepOptions& options, SweepSpec& spec, int& shard, int& shards, bool print) {
  if (!options.fidelity.empty()) spec.fidelity = options.fidelity;
  if (!options.timeout.empty()) {
    auto t = parse_quantity(options.timeout, Dimension::time);
    if (!t || *t <= 0) {
      if (print) {
        std::cerr << "--timeout " << options.timeout << ": " << (t ? std::string("must be above zero") : t.error().message)
                  << " (e.g. 30s)\n";
      }
      return 1;
    }
    spec.timeout_s = *t;
  }
  shard = 0;
  shards = 1;
  if (!options.shard.empty()) {
    std::string error;
    auto s = parse_shard(options.shard, error);
    if (!s) {
      if (print) std::cerr << error << "\n";
      return 1;
    }
    std::tie(shard, shards) = *s;
  }
  return 0;
}

// Rank 0: the results folder made ready (refused, or resumed: the rows done kept) and the
// points left to run.
SweepPlan prepare_results(const SweepOptions& options, const SweepSpec& spec, int shard, int shards) {
  SweepPlan plan;
  plan.rc = 1;
  const fs::path dir = results_dir(options);
  std::error_code ec;
  fs::create_directories(dir / "work", ec);
  if (ec) {
    std::cerr << dir.string() << ": cannot create the results folder: " << ec.message() << "\n";
    return plan;
  }
  const json info = sweep_info(spec, options.shard);
  const bool have_rows = fs::exists(dir / kRowsFile);
  std::vector<json> kept;
  if (have_rows && !options.resume) {
    std::cerr << dir.string() << ": already holds results; --resume continues that sweep (or choose another --out)\n";
    return plan;
  }
  if (have_rows) {
    json old;
    try {
      old = json::parse(read_text((dir / kInfoFile).string()));
    } catch (const json::exception&) {
    }
    if (!same_sweep(old, info)) {
      std::cerr << dir.string() << ": --resume needs the same spec, base scenario and --shard as the run that wrote "
                << kInfoFile << "\n";
      return plan;
    }
    for (auto& row : read_rows(dir)) {
      if (done_status(row.at("status").get<std::string>())) kept.push_back(std::move(row));
    }
  }
  if (std::string why; !write_file_atomic((dir / kInfoFile).string(), info.dump(2) + "\n", &why) || !write_rows(dir, spec, kept, &why)) {
    std::cerr << dir.string() << ": cannot write the results (" << why << ")\n";
    return plan;
  }
  std::vector<bool> done(spec.size(), false);
  for (const auto& row : kept) done[row.at("point").get<std::size_t>()] = true;
  for (std::size_t i : shard_points(spec.size(), shard, shards)) {
    if (!done[i]) plan.todo.push_back(i);
  }
  plan.skipped = kept.size();
  plan.rc = 0;
  return plan;
}

// Rank 0's plan to every rank.
void share_plan(SweepGroup& group, SweepPlan& plan) {
  std::string text;
  if (group.rank() == 0) text = json{{"rc", plan.rc}, {"todo", plan.todo}}.dump();
  group.broadcast(text);
  const json j = json::parse(text);
  plan.rc = j.at("rc").get<int>();
  plan.todo = j.at("todo").get<std::vector<std::size_t>>();
}

// A finished point as the text the rows are written from: its status, then its JSONL line, then
// its CSV line. Made in the worker that ran the point (PointHooks::summarize).
struct FinishedPoint {
  std::string status;
  std::string lines;  // JSONL line + CSV line
  static std::string encode(const std::string& status, const std::string& lines) { return status + "\n" + lines; }
  static FinishedPoint decode(const std::string& text) {
    const std::size_t cut = text.find('\n');
    return {text.substr(0, cut), text.substr(cut + 1)};
  }
};

// Runs `points` on this process's worker pool; the workers write each point's scenario under
// `work` and turn its report into rows; `on_row` gets each as it finishes. False when
// interrupted.
bool run_points(const SweepSpec& spec, const std::vector<std::size_t>& points, const fs::path& work, int slots,
                const std::function<void(const FinishedPoint&)>& on_row, const std::function<void()>& tick) {
  auto prefix = [&](std::size_t k) { return (work / ("point-" + std::to_string(points[k]))).string(); };
  auto make_run = [&](std::size_t k) {
    return ScenarioRun{prefix(k) + ".json", spec.fidelity, prefix(k), spec.timeout_s};
  };
  PointHooks hooks;
  hooks.prepare = [&](std::size_t k) {
    write_file_atomic(prefix(k) + ".json", apply_point(spec, spec.point(points[k])).dump(2));
  };
  hooks.summarize = [&](std::size_t k, const ScenarioOutcome& o) {
    fs::remove(prefix(k) + ".json");
    const json row = result_row(spec, points[k], o.status, o.error, o.report, o.seconds);
    return FinishedPoint::encode(o.status, row.dump() + "\n" + csv_row(spec, row));
  };
  return run_scenarios(points.size(), slots, make_run, [&](std::size_t, const ScenarioOutcome& o) {
    on_row(FinishedPoint::decode(o.summary));
  }, tick, hooks);
}

// A rank above 0: its slice of the points, each row sent to rank 0, then an end message.
int run_remote_rank(SweepGroup& group, const std::optional<SweepSpec>& spec, const std::vector<std::size_t>& todo,
                    int slots) {
  std::vector<std::size_t> mine;
  for (std::size_t k = static_cast<std::size_t>(group.rank()); k < todo.size(); k += static_cast<std::size_t>(group.size())) {
    mine.push_back(todo[k]);
  }
  json end = {{"rank", group.rank()}, {"end", true}, {"complete", true}, {"error", nullptr}, {"points", 0}};
  if (!spec) {
    // Rank 0 read the spec; this one could not (another machine, another file system).
    end["complete"] = false;
    end["error"] = "rank " + std::to_string(group.rank()) + " cannot read the spec or its base scenario";
    group.send_to_root("E" + end.dump());
    return 1;
  }
  std::error_code ec;
  const fs::path work = fs::temp_directory_path() / ("moesim-sweep-rank" + std::to_string(group.rank()) + "-" +
                                                     std::to_string(getpid()));
  fs::create_directories(work, ec);
  std::size_t sent = 0;
  const bool complete = run_points(*spec, mine, work, slots, [&](const FinishedPoint& p) {
    group.send_to_root("R" + FinishedPoint::encode(p.status, p.lines));
    ++sent;
  }, {});
  fs::remove_all(work, ec);
  end["complete"] = complete;
  end["points"] = sent;
  group.send_to_root("E" + end.dump());
  return complete ? 0 : 2;
}

}  // namespace

int cmd_sweep(const SweepOptions& options, SweepGroup* group) {
  const bool root = group == nullptr || group->rank() == 0;
  Diagnostics diag(options.spec_path);
  auto spec = load_sweep_spec(options.spec_path, diag);
  if (root) {
    for (const auto& p : diag.problems()) std::cerr << p.to_string() << "\n";
  }
  int shard = 0, shards = 1;
  SweepPlan plan;
  plan.rc = spec ? apply_options(options, *spec, shard, shards, root) : 1;
  if (root && plan.rc == 0) plan = prepare_results(options, *spec, shard, shards);
  if (group != nullptr) share_plan(*group, plan);
  if (plan.rc != 0) return plan.rc;
  const int slots = parallel_slots(options.jobs);
  if (!root) return run_remote_rank(*group, spec, plan.todo, slots);

  const int ranks = group == nullptr ? 1 : group->size();
  std::vector<std::size_t> mine;
  for (std::size_t k = 0; k < plan.todo.size(); k += static_cast<std::size_t>(ranks)) mine.push_back(plan.todo[k]);
  const fs::path dir = results_dir(options);
  RowAppender out(dir);
  if (!out.ok()) {
    std::cerr << dir.string() << ": cannot append to the results\n";
    return 1;
  }
  Progress progress(plan.todo.size(), isatty(STDERR_FILENO) != 0);
  std::size_t finished = 0, failed = 0;
  bool write_error = false;
  std::map<std::string, std::size_t> by_status;
  auto on_row = [&](const FinishedPoint& p) {
    if (!out.append(p.lines)) write_error = true;
    const std::string& status = p.status;
    ++finished;
    ++by_status[status];
    if (status == "failed") ++failed;
    progress.update(finished, failed);
  };
  // Messages from the other ranks: rows ("R" + FinishedPoint), and one end message each ("E" + JSON).
  std::vector<std::size_t> per_rank(static_cast<std::size_t>(ranks), 0);
  int ended = 0;
  bool complete = true;
  auto take = [&](const std::string& message) {
    if (message.starts_with("R")) {
      on_row(FinishedPoint::decode(message.substr(1)));
      return;
    }
    const json m = json::parse(message.substr(1));
    ++ended;
    per_rank.at(m.at("rank").get<std::size_t>()) = m.at("points").get<std::size_t>();
    complete = complete && m.at("complete").get<bool>();
    if (m.at("error").is_string()) std::cerr << "moesim sweep: " << m.at("error").get<std::string>() << "\n";
  };
  auto drain = [&] {
    while (auto m = group->receive(false)) take(*m);
  };
  const auto start = std::chrono::steady_clock::now();
  // && complete: end messages of other ranks may already have been taken while this rank ran.
  const bool mine_complete = run_points(*spec, mine, dir / "work", slots, [&](const FinishedPoint& p) {
    ++per_rank[0];
    on_row(p);
  }, group == nullptr ? std::function<void()>{} : drain);
  complete = mine_complete && complete;
  while (ended < ranks - 1) take(*group->receive(true));
  progress.update(finished, failed, true);
  progress.finish();
  std::error_code ec;
  fs::remove(dir / "work", ec);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("moesim sweep: %zu points run in %.1f s on %d job%s", finished, wall, slots, slots == 1 ? "" : "s");
  if (ranks > 1) {
    std::printf(" per rank x %d ranks (points per rank:", ranks);
    for (std::size_t n : per_rank) std::printf(" %zu", n);
    std::printf(")");
  }
  std::printf(" (");
  const char* sep = "";
  for (const auto& [status, n] : by_status) {
    std::printf("%s%zu %s", sep, n, status.c_str());
    sep = ", ";
  }
  std::printf(")%s; %zu done before; results in %s\n", finished == 0 ? "none" : "", plan.skipped,
              (dir / kCsvFile).string().c_str());
  if (write_error) {
    std::cerr << dir.string() << ": some rows could not be written\n";
    return 2;
  }
  if (!complete || finished < plan.todo.size()) {
    std::cerr << "moesim sweep: " << plan.todo.size() - finished
              << " points did not run (interrupted, or a rank stopped); moesim sweep --resume continues\n";
    return 2;
  }
  return failed == 0 ? 0 : 2;
}

int cmd_merge(const std::string& out_dir, const std::vector<std::string>& shard_dirs) {
  json info;
  std::map<std::size_t, json> rows;
  for (const auto& d : shard_dirs) {
    json shard_info;
    try {
      shard_info = json::parse(read_text((fs::path(d) / kInfoFile).string()));
    } catch (const json::exception&) {
      std::cerr << d << ": not a sweep results folder (no readable " << kInfoFile << ")\n";
      return 1;
    }
    shard_info["shard"] = nullptr;
    if (info.is_null()) {
      info = shard_info;
    } else if (!same_sweep(shard_info, info)) {
      std::cerr << d << ": comes from another sweep (spec or base scenario differ from " << shard_dirs[0] << ")\n";
      return 1;
    }
    for (auto& row : read_rows(d)) {
      const auto i = row.at("point").get<std::size_t>();
      auto it = rows.find(i);
      // A done row beats a failed one; otherwise the first seen stays.
      if (it == rows.end() || (!done_status(it->second.at("status").get<std::string>()) &&
                               done_status(row.at("status").get<std::string>()))) {
        rows[i] = std::move(row);
      }
    }
  }
  // The spec as stored, on the stored copy of its base scenario.
  json spec_doc = info.at("spec");
  spec_doc["base"] = info.at("base");
  Diagnostics diag(shard_dirs[0] + "/" + kInfoFile + ":/spec");
  auto spec = sweep_spec_from_json(spec_doc, (fs::path(info.value("base_dir", ".")) / "spec.json").string(), diag);
  if (!spec) {
    for (const auto& p : diag.problems()) std::cerr << p.to_string() << "\n";
    return 1;
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  std::vector<json> merged;
  std::size_t failed = 0;
  for (auto& [i, row] : rows) {
    failed += done_status(row.at("status").get<std::string>()) ? 0 : 1;
    merged.push_back(std::move(row));
  }
  if (std::string why; !write_file_atomic((fs::path(out_dir) / kInfoFile).string(), info.dump(2) + "\n", &why) ||
                        !write_rows(out_dir, *spec, merged, &why)) {
    std::cerr << out_dir << ": cannot write the merged results (" << why << ")\n";
    return 1;
  }
  const std::size_t missing = spec->size() - merged.size();
  std::printf("moesim merge: %zu of %zu points (%zu failed, %zu missing) from %zu folders into %s\n", merged.size(),
              spec->size(), failed, missing, shard_dirs.size(), (fs::path(out_dir) / kCsvFile).string().c_str());
  return missing == 0 && failed == 0 ? 0 : 2;
}

}  // namespace moesim::tools
