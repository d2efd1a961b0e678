// The planner's window, driven as a user would on the offscreen platform: load, edit, run in a
// child moesim, read the dashboard; and every bad input the issue names.

#include <sys/resource.h>

#include <QAction>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QLineEdit>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProcess>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QtTest>
#include <csignal>

#include "compare_model.hpp"
#include "compare_page.hpp"
#include "dashboard.hpp"
#include "headline_model.hpp"
#include "main_window.hpp"
#include "power_cap_model.hpp"
#include "plan_page.hpp"
#include "power_cap_page.hpp"
#include "problem_model.hpp"
#include "report_access.hpp"
#include "run_chart.hpp"
#include "run_table_model.hpp"
#include "scenario_editor.hpp"
#include "serving_view.hpp"
#include "sweep_model.hpp"
#include "sweep_page.hpp"
#include "timeline_view.hpp"
#include "trace_model.hpp"

using namespace moesim::gui;

namespace {

const QString kDefault = QStringLiteral(MOESIM_SOURCE_DIR "/scenarios/default.json");

// Waits for the window's run to end; returns whether it succeeded.
bool wait_run(QSignalSpy& spy, int ms = 120000) {
  if (spy.isEmpty() && !spy.wait(ms)) return false;
  return spy.takeFirst().at(0).toBool();
}

double headline(const MainWindow& w, const QString& label) {
  const HeadlineModel* m = w.dashboard()->headline();
  return m->index(m->row_of(label), 1).data(Qt::UserRole).toDouble();
}

}  // namespace

class GuiAppTest : public QObject {
  Q_OBJECT

  QString script(const QString& name, const QString& body) {
    const QString path = dir_.filePath(name);
    QFile f(path);
    f.open(QIODevice::WriteOnly);
    f.write(("#!/bin/sh\n" + body + "\n").toUtf8());
    f.close();
    f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
    return path;
  }

 private slots:
  void init() { QFile::remove(MainWindow::autosave_path()); }

  void edit_run_and_dashboard_match_the_cli() {
    MainWindow w;
    w.set_moesim(MOESIM_BINARY);
    w.set_confirm_discard([] { return int(QMessageBox::Discard); });
    QVERIFY(w.open_file(kDefault));
    QVERIFY(!w.editor()->dirty());
    QVERIFY(w.editor()->set_field("/workload/batch_per_device", "32"));
    QVERIFY(w.editor()->dirty());
    w.editor()->validate_now();
    QVERIFY(w.run_action()->isEnabled());
    QSignalSpy ended(&w, &MainWindow::run_ended);
    QVERIFY(w.run());
    QVERIFY(!w.run_action()->isEnabled());  // one run at a time
    QVERIFY(wait_run(ended));

    // The same edited scenario through the CLI.
    QFile f(dir_.filePath("edited.json"));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(w.editor()->run_text());
    f.close();
    QProcess cli;
    cli.start(MOESIM_BINARY, {"run", f.fileName(), "--json"});
    QVERIFY(cli.waitForFinished(60000));
    const ReportLoad expected = parse_report(cli.readAllStandardOutput(), "cli");
    QVERIFY2(expected.ok(), qPrintable(expected.error));
    const QJsonObject& r = expected.report;
    QCOMPARE(headline(w, "Output throughput"), r["throughput"].toObject()["output_tokens_per_s"].toDouble());
    QCOMPARE(headline(w, "Step time"), r["step_time_s"].toDouble() * 1e3);
    QCOMPARE(headline(w, "TPOT p99"), r["latency"].toObject()["tpot_s"].toObject()["p99"].toDouble() * 1e3);
    QCOMPARE(headline(w, "Cost per M output tokens"), r["cost"].toObject()["usd_per_million_output_tokens"].toDouble());
    const auto mem = r["memory"].toObject()["per_device_bytes"].toObject();
    QCOMPARE(headline(w, "Memory headroom"), (mem["capacity"].toDouble() - mem["total"].toDouble()) / (1024.0 * 1024 * 1024));
    QCOMPARE(w.dashboard()->phases()->index(0, 0).data().toDouble(), r["phases_s"].toObject()["attention"].toDouble() * 1e3);
    QVERIFY(w.dashboard()->phase_chart()->missing_text().isEmpty());
    QVERIFY(w.dashboard()->trace()->rowCount() > 0);
    // The timeline zooms into part of the step and back.
    const double step_us = r["step_time_s"].toDouble() * 1e6;
    QVERIFY(qAbs(w.timeline()->window_end() - step_us) < 1e-3 * step_us);
    w.timeline()->set_window(step_us / 4, step_us / 2);
    QCOMPARE(w.timeline()->window_start(), step_us / 4);
    QCOMPARE(w.timeline()->window_end(), step_us / 2);
    w.timeline()->set_window(0, 0);
    QCOMPARE(w.timeline()->window_start(), 0.0);
    QVERIFY(w.dashboard()->banner_text().contains("feasible"));
    QVERIFY(w.dashboard()->why_text().contains("Largest phases on the critical path"));
    // The edit mattered: batch 32 is not the template's batch 64.
    QVERIFY(w.editor()->run_text().contains("\"batch_per_device\": 32"));

    // Pin it, run a second option, compare.
    QVERIFY(w.pin_last_run());
    QVERIFY(w.editor()->set_field("/workload/batch_per_device", "128"));
    QVERIFY(w.run());
    QVERIFY(wait_run(ended));
    QVERIFY(w.pin_last_run());
    const CompareModel* cmp = w.compare()->model();
    QCOMPARE(cmp->columnCount(), 2);
    QVERIFY(cmp->headerData(0, Qt::Horizontal).toString().startsWith("A: "));
    QVERIFY(headline(w, "Output throughput") > r["throughput"].toObject()["output_tokens_per_s"].toDouble());
    QVERIFY(cmp->index(1, 1).data(Qt::UserRole + 1).toDouble() > 0);  // throughput rose
  }

  void invalid_scenario_disables_run_and_shows_the_reason_at_the_field() {
    MainWindow w;
    w.show();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    QVERIFY(w.open_file(kDefault));
    QVERIFY(w.editor()->set_field("/cluster/node/device", "h100-sxn"));
    w.editor()->validate_now();
    QVERIFY(!w.run_action()->isEnabled());
    const QString msg = w.editor()->field_problem("/cluster/node/device");
    QVERIFY2(msg.contains("h100-sxn") && msg.contains("h100-sxm"), qPrintable(msg));
    QVERIFY(!w.run());
    // Clicking the problem selects its field.
    w.select_tab("Results");
    w.select_tab("Scenario");
    w.editor()->tabs()->setCurrentIndex(1);
    w.editor()->select_problem(0);
    QCOMPARE(w.editor()->tabs()->currentIndex(), 0);
    QTRY_VERIFY(w.editor()->field_widget("/cluster/node/device")->hasFocus());
    // What the user typed stays.
    QCOMPARE(w.editor()->field_text("/cluster/node/device"), QStringLiteral("h100-sxn"));
    QVERIFY(w.editor()->set_field("/cluster/node/device", "h100-sxm"));
    w.editor()->validate_now();
    QVERIFY(w.run_action()->isEnabled());
    QVERIFY(w.editor()->field_problem("/cluster/node/device").isEmpty());
  }

  void broken_raw_json_keeps_the_text_and_names_the_line() {
    MainWindow w;
    QVERIFY(w.open_file(kDefault));
    const QString broken = "{\n  \"name\": \"x\",\n  \"model\": {\"preset\": \"mixtral-8x7b\"\n}";
    w.editor()->raw_editor()->setPlainText(broken);
    QTRY_VERIFY(w.editor()->problems()->has_errors());
    QVERIFY(!w.run_action()->isEnabled());
    QCOMPARE(QString::fromUtf8(w.editor()->text()), broken);
    QVERIFY(w.editor()->problems()->index(0).data().toString().contains("line"));
  }

  void missing_moesim_binary_is_a_clear_message() {
    MainWindow w;
    w.set_moesim(dir_.filePath("no-such-moesim"));
    QVERIFY(w.open_file(kDefault));
    const QByteArray before = w.editor()->text();
    QSignalSpy ended(&w, &MainWindow::run_ended);
    w.run();
    QVERIFY(!wait_run(ended, 5000));
    QVERIFY2(w.dashboard()->banner_text().contains("not an executable file") &&
                 w.dashboard()->banner_text().contains("no-such-moesim"),
             qPrintable(w.dashboard()->banner_text()));
    QCOMPARE(w.editor()->text(), before);
    QVERIFY(w.run_action()->isEnabled());  // can try again
  }

  void crashing_moesim_leaves_the_gui_alive_with_its_stderr() {
    MainWindow w;
    w.set_moesim(script("crash.sh", "echo 'about to fail hard' >&2\nkill -SEGV $$"));
    QVERIFY(w.open_file(kDefault));
    QSignalSpy ended(&w, &MainWindow::run_ended);
    QVERIFY(w.run());
    QVERIFY(!wait_run(ended, 10000));
    QVERIFY2(w.dashboard()->banner_text().contains("crashed"), qPrintable(w.dashboard()->banner_text()));
    QVERIFY(w.log_text().contains("about to fail hard"));
    // And the next run works.
    w.set_moesim(MOESIM_BINARY);
    QVERIFY(w.run());
    QVERIFY(wait_run(ended));
  }

  void results_from_another_version_are_refused() {
    MainWindow w;
    w.set_moesim(script("future.sh",
                        "out=''\nwhile [ $# -gt 0 ]; do [ \"$1\" = --out ] && out=\"$2\"; shift; done\n"
                        "echo '{\"report_version\": 2, \"feasible\": true}' > \"$out\""));
    QVERIFY(w.open_file(kDefault));
    QSignalSpy ended(&w, &MainWindow::run_ended);
    QVERIFY(w.run());
    QVERIFY(!wait_run(ended, 10000));
    QVERIFY2(w.dashboard()->banner_text().contains("another version"), qPrintable(w.dashboard()->banner_text()));
    QCOMPARE(w.dashboard()->headline()->rowCount(), 0);
  }

  void cancel_stops_the_child_and_the_window_stays_responsive() {
    MainWindow w;
    w.set_moesim(script("slow.sh", "echo '{\"event\":\"phase\",\"name\":\"simulating\",\"fraction\":0.1}' >&2\nexec sleep 30"));
    QVERIFY(w.open_file(kDefault));
    QSignalSpy ended(&w, &MainWindow::run_ended);
    QElapsedTimer t;
    t.start();
    QVERIFY(w.run());
    QTest::qWait(200);  // the event loop turns while the child runs
    QVERIFY(w.editor()->set_field("/name", "edited while running"));
    w.cancel();
    QVERIFY(!wait_run(ended, 10000));
    QVERIFY(t.elapsed() < 10000);
    QVERIFY(w.dashboard()->banner_text().contains("cancelled"));
    QCOMPARE(w.editor()->field_text("/name"), QStringLiteral("edited while running"));
  }

  // Safe writes (issue 19): a save that fails part-way (a full disk; here a file-size limit, which
  // fails a write the same way) says why, names the file, keeps the saved version as it was and
  // leaves no temporary file; the document stays unsaved.
  void a_failed_save_keeps_the_earlier_file() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("kept.json"));
    const QByteArray earlier = "{\"earlier\": true}\n";
    {
      QFile f(path);
      QVERIFY(f.open(QIODevice::WriteOnly) && f.write(earlier) == earlier.size());
    }
    MainWindow w;
    QVERIFY(w.open_file(kDefault));
    QVERIFY(w.editor()->set_field("/workload/context_tokens", "4096"));
    rlimit before{};
    QVERIFY(getrlimit(RLIMIT_FSIZE, &before) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = before;
    small.rlim_cur = 64;  // bytes: the scenario is longer
    QVERIFY(setrlimit(RLIMIT_FSIZE, &small) == 0);
    QString error;
    const bool saved = w.editor()->save_file(path, &error);
    QVERIFY(setrlimit(RLIMIT_FSIZE, &before) == 0);
    std::signal(SIGXFSZ, old_handler);
    QVERIFY(!saved);
    QVERIFY2(error.contains(path) && error.contains(QStringLiteral("cannot write")), qPrintable(error));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), earlier);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{QStringLiteral("kept.json")});
    QVERIFY(w.editor()->dirty());
  }

  void unsaved_changes_prompt_and_autosave_recovery() {
    {
      MainWindow w;
      QVERIFY(w.open_file(kDefault));
      QVERIFY(w.editor()->set_field("/workload/context_tokens", "4096"));
      int asked = 0;
      w.set_confirm_discard([&] {
        ++asked;
        return int(QMessageBox::Cancel);
      });
      QVERIFY(!w.maybe_save());  // cancelled: nothing is dropped
      QCOMPARE(asked, 1);
      QVERIFY(w.editor()->dirty());
      w.autosave();
      QVERIFY(QFile::exists(MainWindow::autosave_path()));
      QCloseEvent close;
      QApplication::sendEvent(&w, &close);
      QVERIFY(!close.isAccepted());  // still open, still edited
      w.set_confirm_discard([] { return int(QMessageBox::Cancel); });
    }
    // A later session offers the autosaved work back.
    MainWindow again;
    QVERIFY2(again.status_text().contains("Recover unsaved scenario"), qPrintable(again.status_text()));
    QCOMPARE(again.editor()->field_text("/workload/context_tokens"), QStringLiteral("2048"));  // the template
    again.recover_autosave();
    QCOMPARE(again.editor()->field_text("/workload/context_tokens"), QStringLiteral("4096"));
    QVERIFY(again.editor()->dirty());
    QVERIFY(again.editor()->file_path().endsWith("default.json"));
    // Discarding on purpose drops the autosave.
    again.set_confirm_discard([] { return int(QMessageBox::Discard); });
    QVERIFY(again.maybe_save());
    QVERIFY(!QFile::exists(MainWindow::autosave_path()));
  }

  void sweep_with_unknown_columns_explains_and_a_click_opens_the_scenario() {
    MainWindow w;
    w.set_confirm_discard([] { return int(QMessageBox::Discard); });
    const QString csv = dir_.filePath("sweep.csv");
    QFile f(csv);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QStringLiteral("/workload/batch_per_device,step_time_s,throughput.output_tokens_per_s,status,error,"
                           "scenario_file,colour\n"
                           "32,0.01,3000,ok,,%1,red\n64,0.011,5500,ok,,%1,blue\n")
                .arg(QStringLiteral(MOESIM_SOURCE_DIR "/scenarios/qwen3-235b-decode-pp2.json")).toUtf8());
    f.close();
    QVERIFY(w.sweep()->load(csv));
    QVERIFY2(w.sweep()->message().contains("colour"), qPrintable(w.sweep()->message()));
    QVERIFY(w.sweep()->set_axes("step_time_s", "throughput.output_tokens_per_s"));
    QCOMPARE(w.sweep()->model()->front_size(), 2);
    w.sweep()->click_point(0.011, 5500);
    QVERIFY(w.editor()->file_path().endsWith("qwen3-235b-decode-pp2.json"));
    QFile g(dir_.filePath("bad.csv"));
    QVERIFY(g.open(QIODevice::WriteOnly));
    g.write("a,b\n1,2\n");
    g.close();
    QVERIFY(!w.sweep()->load(g.fileName()));
    QVERIFY(w.sweep()->message().contains("no numeric axis or report column"));
    QCOMPARE(w.sweep()->model()->rowCount(), 2);  // the previous sweep stays
  }

  void power_caps_run_side_by_side_and_a_cap_above_the_device_is_refused() {
    MainWindow w;
    w.set_moesim(MOESIM_BINARY);
    QVERIFY(w.open_file(kDefault));
    QSignalSpy done(w.power_caps(), &PowerCapPage::all_done);
    QVERIFY(w.power_caps()->start("500W, 700W, 900W"));
    QVERIFY(done.wait(120000));
    const PowerCapModel* m = w.power_caps()->model();
    QCOMPARE(m->state(0), PowerCapModel::State::done);
    QCOMPARE(m->state(1), PowerCapModel::State::done);
    // A lower cap never runs faster, and the H100's 700 W is its maximum: 900 W is refused.
    QVERIFY(m->index(0, PowerCapModel::kThroughput).data(Qt::UserRole).toDouble() <=
            m->index(1, PowerCapModel::kThroughput).data(Qt::UserRole).toDouble() * (1 + 1e-9));
    QVERIFY(m->index(0, PowerCapModel::kTokensPerJoule).data(Qt::UserRole).toDouble() > 0);
    QCOMPARE(m->state(2), PowerCapModel::State::refused);
    const QString why = m->index(2, PowerCapModel::kMessage).data().toString();
    QVERIFY2(why.contains("/power/cap") && why.contains("above the device maximum"), qPrintable(why));
    QVERIFY(!why.contains("scenario.json"));  // the temporary copy is not named
    QVERIFY(!w.power_caps()->start("fast"));
  }

  void saved_results_open_and_results_of_another_version_are_refused() {
    MainWindow w;
    const QString good = dir_.filePath("report.json");
    QProcess cli;
    cli.start(MOESIM_BINARY, {"run", kDefault, "--json", "--out", good});
    QVERIFY(cli.waitForFinished(60000));
    QCOMPARE(cli.exitCode(), 0);
    QVERIFY(w.open_results(good));
    QFile f(good);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QJsonObject report = QJsonDocument::fromJson(f.readAll()).object();
    QCOMPARE(headline(w, "Step time"), report["step_time_s"].toDouble() * 1e3);
    QVERIFY(w.pin_last_run());
    report["report_version"] = 7;
    QFile old(dir_.filePath("old-report.json"));
    QVERIFY(old.open(QIODevice::WriteOnly));
    old.write(QJsonDocument(report).toJson());
    old.close();
    QVERIFY(!w.open_results(old.fileName()));
    QVERIFY2(w.dashboard()->banner_text().contains("another version") &&
                 w.dashboard()->banner_text().contains("report_version 7"),
             qPrintable(w.dashboard()->banner_text()));
    QCOMPARE(w.dashboard()->headline()->rowCount(), 0);
    QCOMPARE(w.compare()->model()->columnCount(), 1);  // what was pinned stays
  }

  // The Serving tab: a saved serving report's run over time and its CDFs; a decode report says
  // why there is nothing to show.
  void serving_view_plots_a_serving_run_and_explains_a_fixed_step() {
    MainWindow w;
    QVERIFY(w.open_results(QStringLiteral(MOESIM_SOURCE_DIR "/tests/golden/expected/qwen3-30b-a3b-serving-1xh100.json")));
    const QString status = w.serving()->status_text();
    QVERIFY2(status.contains("500 requests") && status.contains("preemptions"), qPrintable(status));
    QVERIFY(w.serving()->points("Running batch and queue", 0) > 10);
    QCOMPARE(w.serving()->points("Running batch and queue", 1), w.serving()->points("Running batch and queue", 0));
    QCOMPARE(w.serving()->points("TTFT distribution"), 21);
    QCOMPARE(w.serving()->points("TPOT distribution"), 21);
    QVERIFY(w.open_results(QStringLiteral(MOESIM_SOURCE_DIR "/tests/golden/expected/default.json")));
    QVERIFY2(w.serving()->status_text().contains("Not a serving run"), qPrintable(w.serving()->status_text()));
  }

  // The Plan tab: the form's spec runs `moesim plan` as a child; its Pareto front fills the chart
  // and the table, and a member opens as the scenario; a broken spec is refused before anything
  // runs, and Cancel stops the child.
  void plan_tab_plans_shows_the_front_and_opens_a_member() {
    MainWindow w;
    w.set_moesim(MOESIM_BINARY);
    PlanPage* plan = w.plan();
    QVERIFY(plan->spec_text().contains("\"qwen3-235b-a22b\""));
    QSignalSpy done(plan, &PlanPage::finished);
    QVERIFY(plan->start());
    QVERIFY(done.wait(120000));
    QCOMPARE(done.takeFirst().at(0).toBool(), true);
    const PlanResult& r = plan->result();
    QVERIFY2(r.feasible && !r.front.isEmpty(), qPrintable(plan->status_text()));
    QVERIFY(r.winner >= 0);
    QVERIFY(plan->status_text().contains("Pareto front"));
    for (int k = 1; k < r.front.size(); ++k) QVERIFY(r.front[k].usd_per_million >= r.front[k - 1].usd_per_million - 1e-9);
    plan->open_point(0);
    QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.editor()));
    QVERIFY(w.editor()->run_text().contains(r.front[0].label.section(u' ', 3, 3).toUtf8()));  // its device

    plan->set_spec_text("{ not json");
    QVERIFY(!plan->start());
    QVERIFY2(plan->status_text().contains("not JSON"), qPrintable(plan->status_text()));

    PlanForm big = plan->form();
    big.devices = plan_devices();  // every GPU: long enough to cancel
    plan->set_form(big);
    QVERIFY(plan->start());
    plan->cancel();
    QVERIFY(done.wait(30000) || !done.isEmpty());
    QCOMPARE(done.takeLast().at(0).toBool(), false);
    QCOMPARE(plan->status_text(), QStringLiteral("Cancelled."));
    QVERIFY(!plan->running());
  }

  void dropping_a_config_json_makes_it_the_model() {
    MainWindow w;
    QVERIFY(w.open_file(kDefault));
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(MOESIM_HF_CONFIGS_DIR "/Qwen--Qwen3-30B-A3B.json")});
    QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &drop);
    QVERIFY(w.editor()->field_text("/model/hf_config").endsWith("Qwen--Qwen3-30B-A3B.json"));
    QVERIFY(w.editor()->field_text("/model/preset").isEmpty());
    // Dropping a scenario opens it.
    w.set_confirm_discard([] { return int(QMessageBox::Discard); });
    QMimeData scenario;
    scenario.setUrls({QUrl::fromLocalFile(MOESIM_SOURCE_DIR "/scenarios/deepseek-v3-prefill-ep32.json")});
    QDragEnterEvent enter2(QPoint(10, 10), Qt::CopyAction, &scenario, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter2);
    QDropEvent drop2(QPointF(10, 10), Qt::CopyAction, &scenario, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &drop2);
    QVERIFY2(w.editor()->file_path().endsWith("deepseek-v3-prefill-ep32.json"), qPrintable(w.status_text() + " / " + w.editor()->file_path()));
  }

  void model_config_file_replaces_the_preset() {
    MainWindow w;
    QVERIFY(w.open_file(kDefault));
    w.editor()->use_model_config(MOESIM_HF_CONFIGS_DIR "/Qwen--Qwen3-30B-A3B.json");
    w.editor()->validate_now();
    QVERIFY(w.editor()->field_text("/model/preset").isEmpty());
    QVERIFY(w.editor()->field_text("/model/hf_config").endsWith("Qwen--Qwen3-30B-A3B.json"));
    QVERIFY2(w.editor()->valid(), qPrintable(w.editor()->problems()->index(0).data().toString()));
  }

  void screenshot_automation_writes_a_png() {
    const QString png = dir_.filePath("shot.png");
    QProcess gui;
    gui.start(MOESIM_GUI_BINARY, {"--moesim", MOESIM_BINARY, "--run", kDefault, "--screenshot", png, "--tab",
                                  "Results", "--size", "1200x800"});
    QVERIFY(gui.waitForFinished(120000));
    QCOMPARE(gui.exitCode(), 0);
    QImage img(png);
    QCOMPARE(img.size(), QSize(1200, 800));
    QProcess bad;
    bad.start(MOESIM_GUI_BINARY, {"--tab", "Nope", "--screenshot", png});
    QVERIFY(bad.waitForFinished(60000));
    QCOMPARE(bad.exitCode(), 2);
    QVERIFY(bad.readAllStandardError().contains("no such tab"));
  }

 private:
  QTemporaryDir dir_;
};

QTEST_MAIN(GuiAppTest)
#include "gui_app_test.moc"
