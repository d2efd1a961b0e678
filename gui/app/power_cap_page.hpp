#pragma once
// Power caps: runs the current scenario once per cap (a child process each, power.cap set) and
// shows throughput and tokens per joule per cap. A cap the simulator refuses (this version
// simulates only the device TDP) is shown with the refusal, never with invented numbers.

#include <QByteArray>
#include <QWidget>
#include <functional>
#include <vector>

class QLabel;
class QLineEdit;
class QPushButton;

namespace moesim::gui {

class PowerCapModel;
class RowFilterProxy;
class RunController;

class PowerCapPage : public QWidget {
  Q_OBJECT
 public:
  /// `scenario` gives the scenario to run (its run_text), empty when it cannot run.
  PowerCapPage(std::function<QByteArray()> scenario, QWidget* parent = nullptr);
  void set_moesim(const QString& path);
  /// Parses "400W, 500W" (units as in scenarios); false with a message for bad text.
  bool start(const QString& caps_text);
  PowerCapModel* model() const { return model_; }
  QLineEdit* caps_edit() const { return caps_; }
  bool running() const;

 signals:
  void all_done();

 private:
  void next();

  std::function<QByteArray()> scenario_;
  PowerCapModel* model_;
  RowFilterProxy* done_;
  RunController* runner_;
  QLineEdit* caps_;
  QPushButton* run_;
  QLabel* message_;
  QByteArray base_;
  int current_ = -1;
};

}  // namespace moesim::gui
