#pragma once
// One simulated step as a timeline: a row per device (the first few) and per link class, a bar
// per task, coloured by phase. Draws straight from a TraceModel.

#include <QWidget>

namespace moesim::gui {

class TraceModel;

class TimelineView : public QWidget {
  Q_OBJECT
 public:
  explicit TimelineView(TraceModel* model, QWidget* parent = nullptr);
  QSize sizeHint() const override;
  /// Shows [start_us, end_us] of the step; an empty or inverted window shows the whole step.
  void set_window(double start_us, double end_us);
  double window_start() const { return start_; }
  double window_end() const;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;

 private:
  double time_at(double x) const;

  TraceModel* model_;
  double start_ = 0, end_ = 0;  // the window shown; end_ 0: the whole step
  double drag_x_ = 0, drag_start_ = 0;
};

}  // namespace moesim::gui
