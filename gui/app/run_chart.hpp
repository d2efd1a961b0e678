#pragma once
// A bar chart bound to a RunTableModel through QVBarModelMapper: the model's columns are the
// bar sets, its rows the categories (runs). The chart keeps no numbers of its own; when the model
// has no values at all it shows why instead of an empty chart.

#include <QWidget>
#include <utility>

class QChart;
class QChartView;
class QLabel;
class QStackedLayout;
class QAbstractBarSeries;
class QBarCategoryAxis;
class QValueAxis;

namespace moesim::gui {

class RunTableModel;

/// Removes every series and axis of `chart` (the line and scatter views redraw from scratch).
void clear_chart(QChart* chart);
/// Two fresh value axes, x at the bottom and y on the left, with these titles, added to `chart`.
std::pair<QValueAxis*, QValueAxis*> add_value_axes(QChart* chart, const QString& x_title, const QString& y_title);

class RunChart : public QWidget {
  Q_OBJECT
 public:
  enum class Style { stacked, grouped };
  RunChart(RunTableModel* model, const QString& title, const QString& value_title, Style style,
           const QString& missing_text, QWidget* parent = nullptr);
  /// Fixes the value axis to [0, max] (e.g. 100 for percentages); 0: from the data.
  void set_fixed_max(double max) { fixed_max_ = max; }
  /// Writes each bar's value on it (`format` as QAbstractBarSeries::setLabelsFormat).
  void show_value_labels(const QString& format);
  /// The text shown when the model has nothing ("" when the chart is shown).
  QString missing_text() const;
  QChart* chart() const { return chart_; }

 private:
  void model_reset();

  RunTableModel* model_;
  QChart* chart_;
  QChartView* view_;
  QAbstractBarSeries* series_;
  QBarCategoryAxis* categories_;
  QValueAxis* values_;
  QLabel* missing_;
  QStackedLayout* stack_;
  QString missing_text_;
  double fixed_max_ = 0;
  bool labels_ = false;
};

}  // namespace moesim::gui
