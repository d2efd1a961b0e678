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

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  TraceModel* model_;
};

}  // namespace moesim::gui
