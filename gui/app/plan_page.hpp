#pragma once
// The Plan tab: a model, a rate and SLOs, and the GPUs to consider become a plan spec (shown, and
// editable, as JSON); `moesim plan` runs as a child process with progress and Cancel; the Pareto
// front (cost per million tokens against TPOT, coloured by energy per token) and a table of its
// members follow, and clicking one opens its scenario.

#include <QProcess>
#include <QTemporaryDir>
#include <QWidget>
#include <functional>
#include <memory>

#include "plan_data.hpp"
#include "run_controller.hpp"

class QCheckBox;
class QChart;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace moesim::gui {

class PlanPage : public QWidget {
  Q_OBJECT
 public:
  /// `moesim` finds the moesim binary when a plan starts.
  explicit PlanPage(std::function<MoesimLocation()> moesim, QWidget* parent = nullptr);

  PlanForm form() const;
  void set_form(const PlanForm& form);
  /// The spec as shown (and as edited).
  QString spec_text() const;
  void set_spec_text(const QString& text);
  /// Starts `moesim plan` on the spec text; false (and status_text says why) when it cannot.
  bool start();
  void cancel();
  bool running() const { return process_ != nullptr; }

  const PlanResult& result() const { return result_; }
  QString status_text() const;
  /// Opens front member k (emits open_scenario with its file).
  void open_point(int k);

 signals:
  void open_scenario(const QString& file);
  void finished(bool ok);

 private:
  void rebuild_spec();
  void read_progress();
  void on_finished(int exit_code, QProcess::ExitStatus status);
  void show_result();

  std::function<MoesimLocation()> moesim_;
  QComboBox* preset_;
  QComboBox* dtype_;
  QDoubleSpinBox* rate_;
  QSpinBox* context_;
  QSpinBox* input_;
  QDoubleSpinBox* tpot_;
  QDoubleSpinBox* ttft_;
  QSpinBox* confirm_;
  QList<QCheckBox*> devices_;
  QPlainTextEdit* spec_;
  QPushButton* run_;
  QPushButton* cancel_;
  QProgressBar* progress_;
  QLabel* status_;
  QChart* chart_;
  QTableWidget* table_;
  QProcess* process_ = nullptr;
  std::unique_ptr<QTemporaryDir> dir_;
  QByteArray stderr_;
  PlanResult result_;
  bool cancelled_ = false;
};

}  // namespace moesim::gui
