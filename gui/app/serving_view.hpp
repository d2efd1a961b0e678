#pragma once
// The Serving tab: a serving run over time (running batch and queue, KV use, decode rate) and its
// TTFT and TPOT CDFs, with the preemptions; from the report's serving.series and serving.cdf.

#include <QJsonObject>
#include <QWidget>

class QChart;
class QGridLayout;
class QLabel;
class QStackedWidget;

namespace moesim::gui {

class ServingView : public QWidget {
  Q_OBJECT
 public:
  explicit ServingView(QWidget* parent = nullptr);

  void show_report(const QJsonObject& report);
  void clear();

  /// For tests: the summary line, or why nothing is shown.
  QString status_text() const;
  /// For tests: the number of points of each chart's series, by chart title.
  int points(const QString& chart_title, int series = 0) const;

 private:
  QChart* add_chart(QGridLayout* grid, const QString& title, int row, int column);

  QStackedWidget* stack_;
  QLabel* missing_;
  QLabel* summary_;
  QList<QChart*> charts_;
};

}  // namespace moesim::gui
