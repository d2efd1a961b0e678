#pragma once
// Runs x figures: one row per run (a pinned run, or the dashboard's current run), one column per
// figure taken from its report. Bar charts bind to it through QVBarModelMapper (bar sets are the
// columns, categories the rows), so the charts hold no data of their own.

#include <QAbstractTableModel>
#include <QJsonObject>
#include <functional>
#include <optional>
#include <vector>

namespace moesim::gui {

struct RunColumn {
  QString header;
  std::function<std::optional<double>(const QJsonObject&)> value;
};

/// Phases of a step (phases_s.*), in milliseconds.
std::vector<RunColumn> phase_columns();
/// Memory of the worst device (memory.per_device_bytes.*) in GiB, stacked against its capacity:
/// weights, KV cache, activations, buffers (each cut at the capacity), then free (capacity -
/// total) or over capacity (total - capacity, starting at the capacity). Rows sum to
/// max(total, capacity).
std::vector<RunColumn> memory_columns();
/// Link utilization per class (links.*.utilization), in percent.
std::vector<RunColumn> link_columns();

class RunTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  RunTableModel(std::vector<RunColumn> columns, QObject* parent = nullptr);

  /// Replaces the runs: (label, report) pairs.
  void set_runs(const std::vector<std::pair<QString, QJsonObject>>& runs);

  /// Whether any run has a value in `column`; false for all columns means "not in this report".
  bool column_available(int column) const;
  bool any_available() const;
  /// The largest row sum (for a stacked chart's axis).
  double max_row_sum() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  /// DisplayRole: the number (0 where the report lacks it, so stacked bars stay aligned);
  /// Qt::UserRole: the number or an invalid QVariant when absent.
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<RunColumn> columns_;
  std::vector<QString> labels_;
  std::vector<std::vector<std::optional<double>>> values_;  // [row][column]
};

}  // namespace moesim::gui
