#pragma once
// Pinned runs side by side: one row per headline figure, one column per run; from the second
// run on, each cell also shows the change against the first run, coloured better/worse.

#include <QAbstractTableModel>
#include <QJsonObject>
#include <vector>

namespace moesim::gui {

class CompareModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;

  void add_run(const QString& label, const QJsonObject& report);
  void remove_run(int column);
  void clear();
  const std::vector<std::pair<QString, QJsonObject>>& runs() const { return runs_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  /// DisplayRole: "value" or "value (+x.x %)"; Qt::UserRole: the raw number; Qt::UserRole + 1:
  /// the relative change against the first run (invalid for the first run or absent values).
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<std::pair<QString, QJsonObject>> runs_;
};

}  // namespace moesim::gui
