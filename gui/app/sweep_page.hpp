#pragma once
// Sweep explorer: load `moesim sweep` results (CSV/JSONL), choose two columns, see the Pareto
// front highlighted; clicking a point (or double-clicking a row) opens its scenario.

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QValueAxis;

namespace moesim::gui {

class RowFilterProxy;
class SweepModel;

class SweepPage : public QWidget {
  Q_OBJECT
 public:
  explicit SweepPage(QWidget* parent = nullptr);
  bool load(const QString& path);
  SweepModel* model() const { return model_; }
  QString message() const;
  /// Chooses axes by column name (automation, tests).
  bool set_axes(const QString& x, const QString& y);
  /// As if the user clicked the point nearest (x, y).
  void click_point(double x, double y);

 signals:
  void open_scenario(const QString& path);

 private:
  void axes_changed();
  void fill_axis_choices();

  SweepModel* model_;
  RowFilterProxy* points_;
  RowFilterProxy* front_;
  QComboBox* x_;
  QComboBox* y_;
  QCheckBox* x_higher_;
  QCheckBox* y_higher_;
  QLabel* message_;
  QValueAxis* ax_;
  QValueAxis* ay_;
};

}  // namespace moesim::gui
