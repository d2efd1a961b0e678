#pragma once
// The cluster of the last run: nodes with their devices on the scale-up fabric, NICs up to the
// scale-out network, each link class coloured by the utilization the run measured
// (links.*.utilization, from the dashboard's link model).

#include <QJsonObject>
#include <QWidget>

namespace moesim::gui {

class RunTableModel;

class TopologyView : public QWidget {
  Q_OBJECT
 public:
  TopologyView(RunTableModel* links, QWidget* parent = nullptr);
  /// The scenario that ran (its "cluster" section is drawn).
  void set_scenario(const QJsonObject& scenario);
  QSize sizeHint() const override { return {900, 520}; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  RunTableModel* links_;
  QJsonObject scenario_;
};

/// Green (idle) to red (saturated) for a utilization in [0, 1].
QColor utilization_colour(double u);

}  // namespace moesim::gui
