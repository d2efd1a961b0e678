#include "main_window.hpp"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QJsonDocument>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QScrollArea>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>

#include "file_io.hpp"
#include "compare_page.hpp"
#include "dashboard.hpp"
#include "plan_page.hpp"
#include "power_cap_page.hpp"
#include "report_access.hpp"
#include "run_controller.hpp"
#include "scenario_editor.hpp"
#include "serving_view.hpp"
#include "sweep_page.hpp"
#include "timeline_view.hpp"
#include "topology_view.hpp"

namespace moesim::gui {

QString scenarios_dir() {
  const QString env = qEnvironmentVariable("MOESIM_SCENARIOS_DIR");
  if (!env.isEmpty()) return env;
  return QStringLiteral(MOESIM_SCENARIOS_SOURCE_DIR);
}

QString MainWindow::autosave_path() {
  const QString env = qEnvironmentVariable("MOESIM_GUI_AUTOSAVE");
  if (!env.isEmpty()) return env;
  return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/autosave.json");
}

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), runner_(new RunController(this)) {
  setAcceptDrops(true);
  editor_ = new ScenarioEditor;
  dashboard_ = new Dashboard;
  timeline_ = new TimelineView(dashboard_->trace());
  topology_ = new TopologyView(dashboard_->links());
  compare_ = new ComparePage;
  power_ = new PowerCapPage([this] { return editor_->valid() ? editor_->run_text() : QByteArray(); });
  sweep_ = new SweepPage;
  serving_ = new ServingView;
  plan_ = new PlanPage([this] { return locate_moesim(moesim_path_); });
  connect(plan_, &PlanPage::open_scenario, this, [this](const QString& file) {
    if (open_file(file)) tabs_->setCurrentWidget(editor_);
  });
  log_ = new QPlainTextEdit;
  log_->setReadOnly(true);
  log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));

  tabs_ = new QTabWidget;
  tabs_->addTab(editor_, tr("Scenario"));
  tabs_->addTab(dashboard_, tr("Results"));
  tabs_->addTab(serving_, tr("Serving"));
  auto* timeline_scroll = new QScrollArea;
  timeline_scroll->setWidgetResizable(true);
  timeline_scroll->setWidget(timeline_);
  tabs_->addTab(timeline_scroll, tr("Timeline"));
  tabs_->addTab(topology_, tr("Topology"));
  tabs_->addTab(compare_, tr("Compare"));
  tabs_->addTab(power_, tr("Power caps"));
  tabs_->addTab(sweep_, tr("Sweep"));
  tabs_->addTab(plan_, tr("Plan"));
  tabs_->addTab(log_, tr("Log"));
  setCentralWidget(tabs_);

  progress_ = new QProgressBar;
  progress_->setRange(0, 100);
  progress_->setValue(0);
  progress_->setMaximumWidth(220);
  progress_->setTextVisible(false);
  phase_ = new QLabel;
  build_actions();

  autosave_timer_ = new QTimer(this);
  autosave_timer_->setSingleShot(true);
  autosave_timer_->setInterval(2000);
  connect(autosave_timer_, &QTimer::timeout, this, &MainWindow::autosave);
  connect(editor_, &ScenarioEditor::changed, this, [this] {
    update_title();
    if (editor_->dirty()) autosave_timer_->start();
  });
  connect(editor_, &ScenarioEditor::validity_changed, this, &MainWindow::update_actions);
  connect(runner_, &RunController::progress, this, [this](const QString& phase, double fraction) {
    phase_->setText(phase + QStringLiteral("..."));
    if (phase == QLatin1String("simulating")) {
      progress_->setRange(0, 0);  // no finer progress inside one step: a busy bar
    } else {
      progress_->setRange(0, 100);
      progress_->setValue(static_cast<int>(fraction * 100));
    }
  });
  connect(runner_, &RunController::finished, this, &MainWindow::run_finished);
  connect(runner_, &RunController::failed, this, &MainWindow::run_failed);
  connect(sweep_, &SweepPage::open_scenario, this, [this](const QString& f) {
    if (maybe_save() && open_file(f)) tabs_->setCurrentWidget(editor_);
  });

  confirm_ = [this] {
    return QMessageBox::question(this, tr("Unsaved changes"),
                                 tr("The scenario \"%1\" has unsaved changes. Save them?").arg(editor_->scenario_name()),
                                 QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
  };
  // Start from the default template.
  new_from_template(scenarios_dir() + QStringLiteral("/default.json"));
  if (QFile::exists(autosave_path())) {
    recover_action_->setEnabled(true);
    statusBar()->showMessage(tr("Unsaved work from an earlier session was kept: File > Recover unsaved scenario."));
  }
  update_title();
  update_actions();
  resize(1400, 900);
}

void MainWindow::build_actions() {
  auto* file = menuBar()->addMenu(tr("&File"));
  auto* templates = file->addMenu(tr("&New from template"));
  const QDir dir(scenarios_dir());
  for (const QString& f : dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name)) {
    templates->addAction(f, this, [this, path = dir.filePath(f)] {
      if (maybe_save()) new_from_template(path);
    });
  }
  if (templates->isEmpty()) templates->addAction(tr("(no templates in %1)").arg(dir.path()))->setEnabled(false);
  auto* open = file->addAction(tr("&Open..."), this, [this] {
    if (!maybe_save()) return;
    const QString f = QFileDialog::getOpenFileName(this, tr("Open scenario"), scenarios_dir(), tr("Scenarios (*.json)"));
    if (!f.isEmpty()) open_file(f);
  });
  open->setShortcut(QKeySequence::Open);
  file->addAction(tr("&Save"), this, &MainWindow::save)->setShortcut(QKeySequence::Save);
  file->addAction(tr("Save &as..."), this, &MainWindow::save_as)->setShortcut(QKeySequence::SaveAs);
  file->addAction(tr("Open &results..."), this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open a saved report"), {}, tr("Reports (*.json)"));
    if (!f.isEmpty()) open_results(f);
  });
  recover_action_ = file->addAction(tr("&Recover unsaved scenario"), this, &MainWindow::recover_autosave);
  recover_action_->setEnabled(false);
  file->addSeparator();
  file->addAction(tr("&Quit"), this, &QWidget::close)->setShortcut(QKeySequence::Quit);

  auto* run_menu = menuBar()->addMenu(tr("&Run"));
  run_action_ = run_menu->addAction(tr("&Run"), this, [this] { run(); });
  run_action_->setShortcut(Qt::CTRL | Qt::Key_R);
  cancel_action_ = run_menu->addAction(tr("&Cancel"), this, &MainWindow::cancel);
  pin_action_ = run_menu->addAction(tr("&Pin run to Compare"), this, [this] { pin_last_run(); });
  intervals_action_ = run_menu->addAction(tr("With &intervals (32 samples of the hardware figures)"));
  intervals_action_->setCheckable(true);
  intervals_action_->setToolTip(tr("moesim run --uncertainty 32: p10 - p90 of the headline figures and the figures that "
                                   "move them most (docs/uncertainty.md)"));
  connect(intervals_action_, &QAction::toggled, this, [this](bool on) { runner_->set_uncertainty_samples(on ? 32 : 0); });

  auto* bar = addToolBar(tr("Main"));
  bar->setMovable(false);
  auto* new_button = new QToolButton;
  new_button->setText(tr("New"));
  new_button->setMenu(templates);
  new_button->setPopupMode(QToolButton::InstantPopup);
  bar->addWidget(new_button);
  bar->addAction(open);
  bar->addAction(tr("Save"), this, &MainWindow::save);
  bar->addSeparator();
  bar->addAction(run_action_);
  bar->addAction(cancel_action_);
  bar->addWidget(progress_);
  bar->addWidget(phase_);
  bar->addSeparator();
  bar->addAction(pin_action_);
}

void MainWindow::set_moesim(const QString& path) {
  moesim_path_ = path;
  runner_->set_moesim(path);
  power_->set_moesim(path);
}

QStringList MainWindow::tab_names() const {
  QStringList out;
  for (int i = 0; i < tabs_->count(); ++i) out << tabs_->tabText(i);
  return out;
}

bool MainWindow::select_tab(const QString& name) {
  for (int i = 0; i < tabs_->count(); ++i) {
    if (tabs_->tabText(i).compare(name, Qt::CaseInsensitive) == 0) {
      tabs_->setCurrentIndex(i);
      return true;
    }
  }
  return false;
}

void MainWindow::new_from_template(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    statusBar()->showMessage(tr("%1: cannot read the template (%2)").arg(path, f.errorString()));
    return;
  }
  // A template is a starting point: saving asks for a new file name.
  editor_->load_text(f.readAll(), {}, QFileInfo(path).absolutePath());
  statusBar()->showMessage(tr("New scenario from template %1").arg(QFileInfo(path).fileName()), 5000);
  update_title();
}

bool MainWindow::open_file(const QString& path) {
  QString error;
  if (!editor_->load_file(path, &error)) {
    statusBar()->showMessage(error);
    log(error);
    QMessageBox::warning(this, tr("Cannot open"), error);
    return false;
  }
  statusBar()->showMessage(tr("Opened %1").arg(path), 5000);
  update_title();
  return true;
}

bool MainWindow::open_results(const QString& path) {
  QFile f(path);
  ReportLoad load;
  if (!f.open(QIODevice::ReadOnly)) {
    load.error = tr("%1: cannot read the file (%2)").arg(path, f.errorString());
  } else {
    load = parse_report(f.readAll(), path);
  }
  tabs_->setCurrentWidget(dashboard_);
  if (!load.ok()) {
    dashboard_->show_failure(load.error);
    serving_->clear();
    log(load.error);
    statusBar()->showMessage(load.error);
    return false;
  }
  RunResult result;
  result.label = load.report.value(QStringLiteral("scenario")).toString(QFileInfo(path).fileName());
  result.report = load.report;
  last_label_ = result.label;
  last_report_ = load.report;
  dashboard_->show_result(result);
  serving_->show_report(result.report);
  topology_->set_scenario({});  // a report alone does not say how the cluster is wired
  statusBar()->showMessage(tr("Showing the saved report %1").arg(path), 5000);
  update_actions();
  return true;
}

bool MainWindow::save() {
  if (editor_->file_path().isEmpty()) return save_as();
  QString error;
  if (!editor_->save_file(editor_->file_path(), &error)) {
    QMessageBox::warning(this, tr("Cannot save"), error);
    return false;
  }
  QFile::remove(autosave_path());
  statusBar()->showMessage(tr("Saved %1").arg(editor_->file_path()), 5000);
  update_title();
  return true;
}

bool MainWindow::save_as() {
  const QString f = QFileDialog::getSaveFileName(this, tr("Save scenario"), editor_->base_dir(), tr("Scenarios (*.json)"));
  if (f.isEmpty()) return false;
  QString error;
  if (!editor_->save_file(f, &error)) {
    QMessageBox::warning(this, tr("Cannot save"), error);
    return false;
  }
  QFile::remove(autosave_path());
  update_title();
  return true;
}

bool MainWindow::maybe_save() {
  if (!editor_->dirty()) return true;
  switch (confirm_()) {
    case QMessageBox::Save:
      return save();
    case QMessageBox::Discard:
      QFile::remove(autosave_path());
      return true;
    default:
      return false;
  }
}

void MainWindow::autosave() {
  if (!editor_->dirty()) return;
  QDir().mkpath(QFileInfo(autosave_path()).absolutePath());
  QJsonObject o{{"file", editor_->file_path()}, {"base_dir", editor_->base_dir()},
                {"text", QString::fromUtf8(editor_->text())}};
  // Best effort: a failed autosave leaves the last one, and the editor keeps the work.
  const QByteArray bytes = QJsonDocument(o).toJson();
  (void)write_file_atomic(autosave_path().toStdString(), std::string_view(bytes.constData(), bytes.size()));
}

void MainWindow::recover_autosave() {
  QFile f(autosave_path());
  if (!f.open(QIODevice::ReadOnly)) return;
  const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
  if (!maybe_save()) return;
  editor_->load_text(o.value(QStringLiteral("text")).toString().toUtf8(), o.value(QStringLiteral("file")).toString(),
                     o.value(QStringLiteral("base_dir")).toString(QDir::currentPath()));
  editor_->mark_dirty();  // recovered work is unsaved work
  statusBar()->showMessage(tr("Recovered the unsaved scenario; save it to keep it."));
  tabs_->setCurrentWidget(editor_);
}

void MainWindow::update_title() {
  setWindowTitle(QStringLiteral("%1%2 - moesim planner").arg(editor_->dirty() ? "* " : "", editor_->scenario_name()));
}

void MainWindow::update_actions() {
  const bool busy = runner_->running();
  run_action_->setEnabled(!busy && editor_->valid());
  run_action_->setToolTip(editor_->valid() ? tr("Run the scenario (Ctrl+R)")
                                           : tr("The scenario has errors: see the list under the editor"));
  cancel_action_->setEnabled(busy);
  pin_action_->setEnabled(!last_report_.isEmpty());
}

bool MainWindow::run() {
  if (runner_->running()) return false;
  editor_->validate_now();
  if (!editor_->valid()) {
    statusBar()->showMessage(tr("The scenario has errors; fix them first (they are listed under the editor)."));
    tabs_->setCurrentWidget(editor_);
    update_actions();
    return false;
  }
  last_label_ = editor_->scenario_name();
  log(tr("--- run: %1").arg(last_label_));
  const bool started = runner_->start(editor_->run_text(), last_label_);
  if (started) log(runner_->last_command());
  update_actions();
  return started;
}

void MainWindow::cancel() { runner_->cancel(); }

void MainWindow::run_finished(const RunResult& result) {
  progress_->setRange(0, 100);
  progress_->setValue(100);
  phase_->setText(tr("done"));
  last_report_ = result.report;
  dashboard_->show_result(result);
  serving_->show_report(result.report);
  topology_->set_scenario(QJsonDocument::fromJson(result.scenario).object());
  if (!result.stderr_text.isEmpty()) log(result.stderr_text.trimmed());
  log(result.exit_code == 3 ? tr("finished: infeasible") : tr("finished"));
  statusBar()->showMessage(tr("Run finished: %1").arg(result.label), 5000);
  if (tabs_->currentWidget() == editor_) tabs_->setCurrentWidget(dashboard_);
  update_actions();
  emit run_ended(true);
}

void MainWindow::run_failed(const QString& message, const QString& stderr_text) {
  progress_->setRange(0, 100);
  progress_->setValue(0);
  phase_->setText(tr("failed"));
  last_report_ = {};
  dashboard_->show_failure(message);
  serving_->clear();
  log(tr("failed: %1").arg(message));
  if (!stderr_text.trimmed().isEmpty()) log(tr("moesim stderr:\n%1").arg(stderr_text.trimmed()));
  statusBar()->showMessage(tr("Run failed: %1").arg(message));
  tabs_->setCurrentWidget(dashboard_);
  update_actions();
  emit run_ended(false);
}

bool MainWindow::pin_last_run() {
  if (last_report_.isEmpty()) return false;
  const QString letter = QString(QChar(u'A' + pinned_ % 26));
  ++pinned_;
  QString name = last_label_;
  if (name.size() > 44) name = name.left(42) + QStringLiteral("...");
  compare_->pin(letter + QStringLiteral(": ") + name, last_report_);
  statusBar()->showMessage(tr("Pinned as %1 (Compare tab)").arg(letter), 5000);
  return true;
}

void MainWindow::log(const QString& text) { log_->appendPlainText(text); }
QString MainWindow::log_text() const { return log_->toPlainText(); }
QString MainWindow::status_text() const { return statusBar()->currentMessage(); }

void MainWindow::closeEvent(QCloseEvent* event) {
  if (runner_->running()) runner_->cancel();
  if (maybe_save()) {
    event->accept();
  } else {
    event->ignore();
  }
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  for (const QUrl& u : event->mimeData()->urls()) {
    if (u.isLocalFile() && u.toLocalFile().endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) {
      event->acceptProposedAction();
      return;
    }
  }
}

void MainWindow::dropEvent(QDropEvent* event) {
  for (const QUrl& u : event->mimeData()->urls()) {
    const QString path = u.toLocalFile();
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) continue;
    const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
    // A HuggingFace config.json names its architecture; a scenario has a cluster.
    if (o.contains(QStringLiteral("model_type")) || o.contains(QStringLiteral("architectures"))) {
      editor_->use_model_config(path);
      tabs_->setCurrentWidget(editor_);
      statusBar()->showMessage(tr("Model config %1 is now the scenario's model").arg(path), 5000);
    } else if (maybe_save()) {
      open_file(path);
      tabs_->setCurrentWidget(editor_);
    }
    event->acceptProposedAction();
    return;
  }
}

}  // namespace moesim::gui
