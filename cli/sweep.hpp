#pragma once
// `moesim sweep SPEC.json`: a base scenario and axes over any of its fields by JSON pointer,
// each point run in a child process of a pool, results appended to CSV and JSONL as they finish
// (docs/sweep.md). This header holds the testable parts: the spec, axis expansion, sampling,
// shard slices, the rows; cmd_sweep / cmd_merge are the commands.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "diagnostics.hpp"

namespace moesim::tools {

/// One axis value: what it sets (pointer -> value; a zip sets several pointers at once).
using Assignment = std::vector<std::pair<std::string, nlohmann::json>>;

/// A grid dimension: a plain axis (one pointer) or a zip (several, advanced together).
struct GridAxis {
  std::string spec_pointer;            ///< where it is in the spec ("/axes/2")
  std::vector<std::string> pointers;
  std::vector<Assignment> values;
};

/// A sampled axis: drawn per sample from uniform, log-uniform or a list of choices.
struct SampledAxis {
  std::string spec_pointer;
  std::string pointer;
  enum class Kind { uniform, log_uniform, choice } kind = Kind::uniform;
  double lo = 0, hi = 0;
  bool integer = false;
  std::vector<nlohmann::json> choices;
};

enum class SampleMethod { random, latin_hypercube };

struct SweepSpec {
  std::string file;                    ///< the spec's path
  nlohmann::json base;                 ///< the base scenario document
  std::string base_label;              ///< for problems: its file, or "SPEC:/base"
  std::string base_dir;                ///< resolves the base scenario's relative paths
  std::vector<GridAxis> grid;
  std::vector<SampledAxis> sampled;
  SampleMethod method = SampleMethod::random;
  std::size_t sample_count = 0;        ///< 0 without sampled axes
  std::uint64_t seed = 1;
  std::vector<std::vector<nlohmann::json>> samples;  ///< [sample][sampled axis]
  std::string fidelity;                ///< "" or an override for every point
  double timeout_s = 0;                ///< per point; 0: none
  std::vector<std::string> report_keys;  ///< CSV columns from the report
  nlohmann::json doc;                  ///< the spec as read (stored with the results)

  std::size_t size() const;            ///< number of points
  /// The axes' pointers, in column order.
  std::vector<std::string> axis_pointers() const;
  /// What point `index` sets, in column order.
  Assignment point(std::size_t index) const;
};

/// Reads a spec: its own problems, then the base scenario's (all listed), then every axis value
/// applied alone to the base (an axis naming a field that does not exist is reported with the
/// scenario's own "unknown key" problem). nullopt when anything is wrong; nothing has run.
std::optional<SweepSpec> load_sweep_spec(const std::string& path, Diagnostics& diag);
std::optional<SweepSpec> sweep_spec_from_json(const nlohmann::json& doc, const std::string& path,
                                              Diagnostics& diag);

/// The base scenario with the point's values set (relative model/profile paths made absolute).
nlohmann::json apply_point(const SweepSpec& spec, const Assignment& point);

/// `count` samples in [0,1)^dims: plain random, or Latin hypercube (each dimension's strata
/// each hit once), reproducible from `seed`.
std::vector<std::vector<double>> unit_samples(SampleMethod method, std::size_t count, std::size_t dims,
                                              std::uint64_t seed);

/// Points of shard `shard` of `shards` (0-based): every shards-th point from `shard`, so each
/// shard gets a spread of the space and the union of all shards is every point exactly once.
std::vector<std::size_t> shard_points(std::size_t total, int shard, int shards);
/// Parses "i/N" (0 <= i < N); nullopt with `error` set otherwise.
std::optional<std::pair<int, int>> parse_shard(const std::string& text, std::string& error);

/// One result row (JSONL) and its CSV rendering.
nlohmann::json result_row(const SweepSpec& spec, std::size_t index, const std::string& status,
                          const std::string& error, const std::optional<nlohmann::json>& report, double seconds);
std::string csv_header(const SweepSpec& spec);
std::string csv_row(const SweepSpec& spec, const nlohmann::json& row);

struct SweepOptions {
  std::string spec_path;
  std::string out_dir;                 ///< default: SPEC's stem + ".results" in the current folder
  int jobs = 0;                        ///< 0: all cores
  bool resume = false;
  std::string shard;                   ///< "i/N" or ""
  std::string timeout;                 ///< overrides the spec's ("30s")
  std::string fidelity;                ///< overrides the spec's
};

/// The processes of one sweep spread over several ranks (MPI in moesim-mpi; this library does
/// not link MPI): rank 0 checks the spec and the results folder, hands rank r the points
/// r, r+K, ... of those left to run, and writes every row; the other ranks run their points on
/// their own worker pools and send each row to rank 0 as it finishes.
class SweepGroup {
 public:
  virtual ~SweepGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Collective: every rank ends with rank 0's `text`.
  virtual void broadcast(std::string& text) = 0;
  /// Ranks above 0: one message to rank 0.
  virtual void send_to_root(const std::string& message) = 0;
  /// Rank 0: the next message from another rank; with `wait` false, nullopt when none is waiting.
  virtual std::optional<std::string> receive(bool wait) = 0;
};

/// Exit codes: 0 every point done, 1 bad spec or options (nothing ran), 2 some points failed or
/// the sweep was interrupted (rows so far are kept; --resume continues). With a group, every
/// rank calls it; rank 0 prints, writes the results and returns the sweep's exit code.
int cmd_sweep(const SweepOptions& options, SweepGroup* group = nullptr);

/// Registers the options of `sweep` (the same in moesim and moesim-mpi).
void add_sweep_options(CLI::App& sweep, SweepOptions& options);

/// Joins the results folders of shards into `out_dir` (sorted by point, one row each).
/// Exit codes: 0 complete, 1 bad input, 2 points missing or failed.
int cmd_merge(const std::string& out_dir, const std::vector<std::string>& shard_dirs);

}  // namespace moesim::tools
