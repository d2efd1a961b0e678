#pragma once
// Sweep results (CSV or JSONL from `moesim sweep`): one row per scenario, columns named by JSON
// pointer for the swept axes ("/parallelism/experts/ep"), flattened report keys ("step_time_s",
// "throughput.output_tokens_per_s"), and "status", "error", "scenario_file". Columns it does not
// understand are listed in warnings() and not offered as axes. Pareto front over two chosen
// columns.

#include <QAbstractTableModel>
#include <QStringList>
#include <QVariant>
#include <vector>

namespace moesim::gui {

class SweepModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Role { kParetoRole = Qt::UserRole, kPlottableRole };
  enum class ColumnKind { axis, report, status, error, scenario_file, unknown };

  using QAbstractTableModel::QAbstractTableModel;

  /// Loads a .csv or .jsonl file. False with error() when nothing usable could be read (the
  /// previous contents stay); warnings() lists columns that were not understood.
  bool load_file(const QString& path);
  bool load_text(const QByteArray& text, bool jsonl, const QString& source);
  QString error() const { return error_; }
  QStringList warnings() const { return warnings_; }

  ColumnKind column_kind(int column) const;
  /// Columns with numbers that can be chosen as chart axes (swept axes and report keys).
  std::vector<int> numeric_columns() const;
  int column_of(const QString& name) const;

  /// Chooses the chart axes and recomputes the Pareto front: rows that no other row beats on
  /// both (lower x is better unless `x_higher_better`; likewise y). Failed rows (status other
  /// than ok) and infeasible rows are never on the front.
  void set_axes(int x_column, int y_column, bool x_higher_better, bool y_higher_better);
  int x_column() const { return x_; }
  int y_column() const { return y_; }
  /// The row ran (status ok, feasible) and has numbers in both chosen columns.
  bool plottable(int row) const;
  bool on_front(int row) const;
  int front_size() const;
  /// The plottable row nearest (x, y), distances scaled by the given spans; -1 if none.
  int nearest_row(double x, double y, double x_span, double y_span) const;
  /// The row's scenario file, resolved against the sweep file's folder; empty if none.
  QString scenario_file(int row) const;
  double number(int row, int column, bool* ok = nullptr) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  bool row_ok(int row) const;

  QStringList names_;
  std::vector<ColumnKind> kinds_;
  std::vector<std::vector<QVariant>> rows_;
  std::vector<char> front_;
  int x_ = -1, y_ = -1;
  QString base_dir_;
  QString error_;
  QStringList warnings_;
};

/// How a sweep column name is understood (exposed for tests).
SweepModel::ColumnKind classify_sweep_column(const QString& name);

}  // namespace moesim::gui
