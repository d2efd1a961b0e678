#pragma once
// The dashboard's headline figures of one report: a "Feasible" row, then headline_figures().

#include <QAbstractTableModel>
#include <QJsonObject>

namespace moesim::gui {

/// Two columns (figure, value); Qt::UserRole on the value column gives the raw number (invalid
/// when the report lacks it, displayed as "not in this report").
class HeadlineModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;

  void set_report(const QJsonObject& report);
  void clear();

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

  /// The row of the figure labelled `label`, -1 if none.
  int row_of(const QString& label) const;

 private:
  QJsonObject report_;
  bool has_report_ = false;
};

}  // namespace moesim::gui
