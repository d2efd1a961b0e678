#pragma once
// Pinned runs side by side: the headline figures with deltas against the first pinned run, and
// their step-time phases stacked in one chart.

#include <QWidget>

class QJsonObject;
class QTableView;

namespace moesim::gui {

class CompareModel;
class RunChart;
class RunTableModel;

class ComparePage : public QWidget {
  Q_OBJECT
 public:
  explicit ComparePage(QWidget* parent = nullptr);
  void pin(const QString& label, const QJsonObject& report);
  CompareModel* model() const { return model_; }
  RunTableModel* phases() const { return phases_; }

 private:
  void sync();

  CompareModel* model_;
  RunTableModel* phases_;
  RunTableModel* memory_;
  QTableView* table_;
};

}  // namespace moesim::gui
