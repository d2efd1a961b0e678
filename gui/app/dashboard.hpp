#pragma once
// The results dashboard of one run: headline figures, phase breakdown, memory against
// capacity, link utilization and expert load per layer and device. It owns the item models;
// the charts and views only bind to them.

#include <QJsonObject>
#include <QWidget>

class QLabel;
class QStackedLayout;
class QTableView;

namespace moesim::gui {

class ExpertLoadModel;
class HeadlineModel;
class RunChart;
class RunTableModel;
class TraceModel;
struct RunResult;

class Dashboard : public QWidget {
  Q_OBJECT
 public:
  explicit Dashboard(QWidget* parent = nullptr);

  void show_result(const RunResult& result);
  /// A failed run: the message in the banner, previous results cleared.
  void show_failure(const QString& message);

  HeadlineModel* headline() const { return headline_; }
  RunTableModel* phases() const { return phases_; }
  RunTableModel* memory() const { return memory_; }
  RunTableModel* links() const { return links_; }
  ExpertLoadModel* expert_load() const { return expert_load_; }
  TraceModel* trace() const { return trace_; }
  RunChart* phase_chart() const { return phase_chart_; }
  RunChart* memory_chart() const { return memory_chart_; }
  RunChart* link_chart() const { return link_chart_; }
  QString banner_text() const;
  /// The "Why" panel (rich text), empty without a result.
  QString why_text() const;
  /// The expert-load panel's message when it has no data ("" when the heatmap shows).
  QString expert_load_missing_text() const;

 private:
  HeadlineModel* headline_;
  RunTableModel* phases_;
  RunTableModel* memory_;
  RunTableModel* links_;
  ExpertLoadModel* expert_load_;
  TraceModel* trace_;
  RunChart* phase_chart_;
  RunChart* memory_chart_;
  RunChart* link_chart_;
  QLabel* banner_;
  QLabel* why_;
  QTableView* heatmap_;
  QLabel* heatmap_missing_;
  QStackedLayout* heatmap_stack_;
};

}  // namespace moesim::gui
