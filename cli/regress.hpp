#pragma once
// `moesim regress BASELINE_DIR`: re-runs the scenario of every committed baseline report and
// compares chosen report keys with the per-key tolerances stored in the baseline
// (docs/regress.md).

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace moesim::tools {

struct BaselineKey {
  std::string key;           ///< dotted report key ("latency.tpot_s.p50")
  nlohmann::json value;      ///< null: not recorded yet (run --update)
  double rel_tol = 0;        ///< allowed |got - want| / |want|
  double abs_tol = 0;        ///< allowed |got - want|
  /// With intervals (the baseline's "uncertainty"): the relative width (p90 - p10) / p50 recorded
  /// by --update, and how much wider (relative) a new interval may be.
  std::optional<double> interval_width;
  std::optional<double> width_tol;
};

struct Baseline {
  std::string file;          ///< the baseline's path
  std::string name;          ///< its file stem
  std::string scenario;      ///< scenario path, resolved against the baseline's folder
  std::string fidelity;      ///< "" or an override
  int uncertainty = 0;       ///< > 0: run with --uncertainty N and check the keys' intervals
  std::vector<BaselineKey> keys;
  nlohmann::json doc;        ///< the file as read (rewritten by --update)
};

/// Reads and checks one baseline file; every problem goes to `diag`.
std::optional<Baseline> load_baseline(const std::string& path, Diagnostics& diag);

struct KeyCheck {
  std::string key;
  nlohmann::json want, got;  ///< got is null when the report lacks the key
  double diff = 0;           ///< |got - want| / |want| for numbers (absolute when want is 0)
  bool pass = false;
  std::string why;           ///< for a failure: what differs
  std::string tolerance;     ///< for people: "1%", "exact"
};

/// Compares a report with a baseline, key by key.
std::vector<KeyCheck> compare_with_baseline(const Baseline& baseline, const nlohmann::json& report);

struct BaselineResult {
  std::string name;
  std::string scenario;
  std::string error;         ///< the run failed (or the report was unreadable): why
  std::vector<KeyCheck> checks;
  double seconds = 0;
  bool pass() const;
};

std::string diff_table(const std::vector<BaselineResult>& results);
std::string junit_xml(const std::vector<BaselineResult>& results);
std::string markdown_summary(const std::vector<BaselineResult>& results);

/// The baseline document with its values replaced by the report's (tolerances kept).
/// Keys the report lacks (or holds as null) are listed in `missing`: such a baseline must not
/// be written (--update refuses rather than keep a stale value or drop a watched key).
nlohmann::json updated_baseline(const Baseline& baseline, const nlohmann::json& report,
                                std::vector<std::string>& missing);

/// Why --update refuses a baseline with keys the report lacks: the keys, the closest report
/// keys ("did you mean"), and what to do.
std::string missing_keys_error(const Baseline& baseline, const nlohmann::json& report,
                               const std::vector<std::string>& missing);

struct RegressOptions {
  std::string dir;
  std::string junit_path;
  std::string summary_path;
  bool update = false;
  int jobs = 0;              ///< 0: all cores
};

/// Exit codes: 0 no drift, 1 bad input, 2 drift or failed runs.
int cmd_regress(const RegressOptions& options);

}  // namespace moesim::tools
