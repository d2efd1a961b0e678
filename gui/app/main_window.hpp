#pragma once
// The planner's window: scenario editor, run with progress and Cancel, results dashboard,
// timeline, topology, compare, power caps, sweep explorer and the run log, as tabs.

#include <QJsonObject>
#include <QMainWindow>
#include <functional>

class QAction;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QTabWidget;
class QTimer;

namespace moesim::gui {

class ComparePage;
class Dashboard;
class PowerCapPage;
class RunController;
class ScenarioEditor;
class SweepPage;
class ServingView;
class PlanPage;
class TimelineView;
class TopologyView;
struct RunResult;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);

  /// Where moesim is (--moesim); empty: search (see locate_moesim).
  void set_moesim(const QString& path);
  bool open_file(const QString& path);
  /// Shows a saved report (`moesim run --json --out FILE`) on the dashboard. A file that is not a
  /// report of this version is refused with the reason in the banner; false then.
  bool open_results(const QString& path);
  /// Starts a run of the current scenario; false (with the reason shown) when it cannot start.
  bool run();
  void cancel();
  /// Pins the last successful run to the Compare tab.
  bool pin_last_run();
  /// Selects the tab whose title matches `name` (case-insensitive). False if none.
  bool select_tab(const QString& name);
  QStringList tab_names() const;

  /// The answer to "discard unsaved changes?" (tests replace the dialog).
  using ConfirmDiscard = std::function<int()>;  // QMessageBox::Save | Discard | Cancel
  void set_confirm_discard(ConfirmDiscard confirm) { confirm_ = std::move(confirm); }
  /// True when it is fine to drop the current document (saved, discarded, or clean).
  bool maybe_save();
  /// Writes the autosave file now (when there are unsaved changes).
  void autosave();
  static QString autosave_path();
  /// Loads the autosaved document (File > Recover unsaved scenario); it stays unsaved.
  void recover_autosave();

  ScenarioEditor* editor() const { return editor_; }
  Dashboard* dashboard() const { return dashboard_; }
  ComparePage* compare() const { return compare_; }
  SweepPage* sweep() const { return sweep_; }
  ServingView* serving() const { return serving_; }
  PlanPage* plan() const { return plan_; }
  TimelineView* timeline() const { return timeline_; }
  PowerCapPage* power_caps() const { return power_; }
  RunController* runner() const { return runner_; }
  QAction* run_action() const { return run_action_; }
  QString log_text() const;
  QString status_text() const;
  QTabWidget* tabs() const { return tabs_; }

 signals:
  /// A run ended (successfully or not).
  void run_ended(bool ok);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void build_actions();
  void new_from_template(const QString& path);
  bool save();
  bool save_as();
  void update_title();
  void update_actions();
  void run_finished(const RunResult& result);
  void run_failed(const QString& message, const QString& stderr_text);
  void log(const QString& text);

  ScenarioEditor* editor_;
  Dashboard* dashboard_;
  TimelineView* timeline_;
  TopologyView* topology_;
  ComparePage* compare_;
  PowerCapPage* power_;
  SweepPage* sweep_;
  ServingView* serving_;
  PlanPage* plan_;
  QString moesim_path_;
  QPlainTextEdit* log_;
  QTabWidget* tabs_;
  RunController* runner_;
  QProgressBar* progress_;
  QLabel* phase_;
  QAction* run_action_ = nullptr;
  QAction* cancel_action_ = nullptr;
  QAction* pin_action_ = nullptr;
  QAction* intervals_action_ = nullptr;
  QAction* recover_action_ = nullptr;
  QTimer* autosave_timer_;
  ConfirmDiscard confirm_;
  QString last_label_;
  QJsonObject last_report_;
  int pinned_ = 0;
};

/// The folder of ready-made scenarios (templates): $MOESIM_SCENARIOS_DIR, else the source tree's
/// scenarios/ this binary was built from.
QString scenarios_dir();

}  // namespace moesim::gui
