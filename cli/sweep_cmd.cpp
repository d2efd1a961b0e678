// moesim sweep / moesim merge: the commands around the spec and rows of sweep.hpp.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

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
bool write_rows(const fs::path& dir, const SweepSpec& spec, const std::vector<json>& rows) {
  std::string jsonl, csv = csv_header(spec);
  for (const auto& r : rows) {
    jsonl += r.dump() + "\n";
    csv += csv_row(spec, r);
  }
  return write_text_atomic((dir / kRowsFile).string(), jsonl) && write_text_atomic((dir / kCsvFile).string(), csv);
}

// Appends whole lines: one write() each on O_APPEND descriptors, so a crash leaves complete
// rows (at worst one cut line, which a resume skips).
class RowAppender {
 public:
  RowAppender(const fs::path& dir, const SweepSpec& spec) : spec_(spec) {
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
  bool append(const json& row) {
    return write_all(jsonl_, row.dump() + "\n") && write_all(csv_, csv_row(spec_, row));
  }

 private:
  static bool write_all(int fd, const std::string& text) {
    return ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  const SweepSpec& spec_;
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

int cmd_sweep(const SweepOptions& options) {
  Diagnostics diag(options.spec_path);
  auto spec = load_sweep_spec(options.spec_path, diag);
  for (const auto& p : diag.problems()) std::cerr << p.to_string() << "\n";
  if (!spec) return 1;
  if (!options.fidelity.empty()) spec->fidelity = options.fidelity;
  if (!options.timeout.empty()) {
    auto t = parse_quantity(options.timeout, Dimension::time);
    if (!t || *t <= 0) {
      std::cerr << "--timeout " << options.timeout << ": " << (t ? std::string("must be above zero") : t.error().message)
                << " (e.g. 30s)\n";
      return 1;
    }
    spec->timeout_s = *t;
  }
  int shard = 0, shards = 1;
  if (!options.shard.empty()) {
    std::string error;
    auto s = parse_shard(options.shard, error);
    if (!s) {
      std::cerr << error << "\n";
      return 1;
    }
    std::tie(shard, shards) = *s;
  }
  const fs::path dir = options.out_dir.empty() ? fs::path(fs::path(options.spec_path).stem().string() + ".results")
                                               : fs::path(options.out_dir);
  std::error_code ec;
  fs::create_directories(dir / "work", ec);
  if (ec) {
    std::cerr << dir.string() << ": cannot create the results folder: " << ec.message() << "\n";
    return 1;
  }
  const json info = sweep_info(*spec, options.shard);
  const bool have_rows = fs::exists(dir / kRowsFile);
  std::vector<json> kept;
  if (have_rows && !options.resume) {
    std::cerr << dir.string() << ": already holds results; --resume continues that sweep (or choose another --out)\n";
    return 1;
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
      return 1;
    }
    for (auto& row : read_rows(dir)) {
      if (done_status(row.at("status").get<std::string>())) kept.push_back(std::move(row));
    }
  }
  if (!write_text_atomic((dir / kInfoFile).string(), info.dump(2) + "\n") || !write_rows(dir, *spec, kept)) {
    std::cerr << dir.string() << ": cannot write the results\n";
    return 1;
  }
  std::vector<bool> done(spec->size(), false);
  for (const auto& row : kept) done[row.at("point").get<std::size_t>()] = true;
  std::vector<std::size_t> todo;
  for (std::size_t i : shard_points(spec->size(), shard, shards)) {
    if (!done[i]) todo.push_back(i);
  }
  const std::size_t skipped = kept.size();

  RowAppender out(dir, *spec);
  if (!out.ok()) {
    std::cerr << dir.string() << ": cannot append to the results\n";
    return 1;
  }
  Progress progress(todo.size(), isatty(STDERR_FILENO) != 0);
  std::size_t finished = 0, failed = 0;
  bool write_error = false;
  std::map<std::string, std::size_t> by_status;
  const int slots = parallel_slots(options.jobs);
  auto make_run = [&](std::size_t k) {
    const std::size_t i = todo[k];
    const fs::path prefix = dir / "work" / ("point-" + std::to_string(i));
    write_text_atomic(prefix.string() + ".json", apply_point(*spec, spec->point(i)).dump(2));
    return ScenarioRun{prefix.string() + ".json", spec->fidelity, prefix.string(), spec->timeout_s};
  };
  const auto start = std::chrono::steady_clock::now();
  const bool complete = run_scenarios(todo.size(), slots, make_run, [&](std::size_t k, const ScenarioOutcome& o) {
    const std::size_t i = todo[k];
    fs::remove(dir / "work" / ("point-" + std::to_string(i) + ".json"));
    if (!out.append(result_row(*spec, i, o.status, o.error, o.report, o.seconds))) write_error = true;
    ++finished;
    ++by_status[o.status];
    if (o.status == "failed") ++failed;
    progress.update(finished, failed);
  });
  progress.update(finished, failed, true);
  progress.finish();
  fs::remove(dir / "work", ec);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("moesim sweep: %zu points run in %.1f s on %d job%s (", finished, wall, slots, slots == 1 ? "" : "s");
  const char* sep = "";
  for (const auto& [status, n] : by_status) {
    std::printf("%s%zu %s", sep, n, status.c_str());
    sep = ", ";
  }
  std::printf(")%s; %zu done before; results in %s\n", finished == 0 ? "none" : "", skipped,
              (dir / kCsvFile).string().c_str());
  if (write_error) {
    std::cerr << dir.string() << ": some rows could not be written\n";
    return 2;
  }
  if (!complete) {
    std::cerr << "moesim sweep: interrupted; moesim sweep --resume continues\n";
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
  if (!write_text_atomic((fs::path(out_dir) / kInfoFile).string(), info.dump(2) + "\n") ||
      !write_rows(out_dir, *spec, merged)) {
    std::cerr << out_dir << ": cannot write the merged results\n";
    return 1;
  }
  const std::size_t missing = spec->size() - merged.size();
  std::printf("moesim merge: %zu of %zu points (%zu failed, %zu missing) from %zu folders into %s\n", merged.size(),
              spec->size(), failed, missing, shard_dirs.size(), (fs::path(out_dir) / kCsvFile).string().c_str());
  return missing == 0 && failed == 0 ? 0 : 2;
}

}  // namespace moesim::tools
