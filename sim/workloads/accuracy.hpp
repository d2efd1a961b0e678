#pragma once
// The project's accuracy record (docs/validation.md): the end-to-end validation cases of
// data/validation/cases.json (compiled in) that say how moesim predicts them ("predict"), run
// in closed form, each published metric against moesim's prediction; with an uncertainty
// interval per metric on request. `moesim accuracy` prints it; the validation tests read the
// same predictions.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "report/report.hpp"

namespace moesim::sim {

struct AccuracyRow {
  std::string case_id;
  std::string metric;       ///< what was measured, in words
  std::string workload;     ///< decode, prefill, serving, training
  std::string note;         ///< e.g. why it does not count
  bool counts = true;       ///< false: in sample (a figure was fitted on it)
  double published = 0;
  std::optional<double> predicted;
  std::string failure;      ///< why there is no prediction (a scenario that no longer runs)
  std::optional<Report::Interval> interval;  ///< p10 / p50 / p90 with samples > 0
  std::string device_class; ///< of the (first) scenario's device
  std::string family;       ///< of its model

  std::optional<double> error() const {
    return predicted ? std::optional<double>(*predicted / published - 1) : std::nullopt;
  }
  /// Whether the interval holds the published value (false without an interval).
  bool covered() const { return interval && interval->p10 <= published && published <= interval->p90; }
};

struct AccuracyOptions {
  int samples = 0;          ///< > 0: an uncertainty interval per metric from this many samples
  int jobs = 1;             ///< worker threads for the samples
  std::uint64_t seed = 1;
  std::string only;         ///< a case id: that case alone ("" for all)
};

/// Runs every "predict" entry of `cases_doc` (a cases.json document). A case whose scenario no
/// longer reads or runs is a row with `failure` set, never an exception.
std::vector<AccuracyRow> run_accuracy(const nlohmann::json& cases_doc, const AccuracyOptions& options);
/// ... of the compiled-in data/validation/cases.json.
std::vector<AccuracyRow> run_accuracy(const AccuracyOptions& options);

/// The compiled-in cases document.
const nlohmann::json& builtin_validation_cases();

/// Median and largest absolute error over the rows that count and have a prediction; coverage
/// of their intervals and the median interval half-width (relative to p50) where they have one.
struct AccuracySummary {
  int rows = 0, counted = 0, failed = 0;
  double median_abs_error = 0, max_abs_error = 0;
  std::string max_case;
  int with_interval = 0, covered = 0;
  double median_half_width = 0;
};
AccuracySummary summarize_accuracy(const std::vector<AccuracyRow>& rows);

std::string accuracy_markdown(const std::vector<AccuracyRow>& rows);
nlohmann::json accuracy_json(const std::vector<AccuracyRow>& rows);
/// One test case per row (a failure: beyond `tolerance` of the published value, or no prediction).
std::string accuracy_junit(const std::vector<AccuracyRow>& rows, double tolerance);

}  // namespace moesim::sim
