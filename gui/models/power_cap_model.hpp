#pragma once
// The power-cap view: one row per cap, filled as each child run finishes or is refused.

#include <QAbstractTableModel>
#include <QJsonObject>
#include <vector>

namespace moesim::gui {

class PowerCapModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kCapW, kStatus, kThroughput, kTokensPerJoule, kMessage, kColumns };
  enum class State { pending, running, done, refused };

  using QAbstractTableModel::QAbstractTableModel;

  void set_caps(const std::vector<double>& caps_w);
  void set_running(int row);
  void set_result(int row, const QJsonObject& report);
  /// The run was refused or failed: `message` (e.g. the validation problem) is shown as it is.
  void set_refused(int row, const QString& message);
  State state(int row) const;
  double cap_w(int row) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  /// DisplayRole for the number columns: the number when known, otherwise the reason text
  /// ("not in this report", "refused", ...); Qt::UserRole: the number or invalid.
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  struct Row {
    double cap_w = 0;
    State state = State::pending;
    QJsonObject report;
    QString message;
  };
  std::vector<Row> rows_;
};

}  // namespace moesim::gui
