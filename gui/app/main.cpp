// moesim-gui: the desktop planner. Without options it opens the window; with --run and
// --screenshot it runs scenarios, waits for their results, saves a PNG of the window and exits
// (docs/gui.md uses this for its screenshots, the tests use the same path).

#include <QApplication>
#include <QCommandLineParser>
#include <QMessageBox>
#include <QTimer>
#include <cstdio>

#include "main_window.hpp"
#include "run_controller.hpp"
#include "plan_page.hpp"
#include "power_cap_page.hpp"
#include "scenario_editor.hpp"
#include "timeline_view.hpp"
#include "sweep_page.hpp"

namespace {

struct Automation {
  QStringList runs;
  QString caps, sweep, tab, screenshot, axes;
  int next = 0;
  bool ok = true;
  bool plan = false;  // run the Plan tab's plan (--plan)
};

void fail(const QString& message) { std::fprintf(stderr, "moesim-gui: %s\n", qPrintable(message)); }

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("moesim-gui"));
  QApplication::setOrganizationName(QStringLiteral("moesim"));
  QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

  QCommandLineParser cli;
  cli.setApplicationDescription(QStringLiteral("moesim desktop planner"));
  cli.addHelpOption();
  cli.addVersionOption();
  cli.addPositionalArgument(QStringLiteral("scenario"), QStringLiteral("Scenario JSON to open"), QStringLiteral("[scenario]"));
  const QCommandLineOption run_opt(QStringLiteral("run"), QStringLiteral("Open and run SCENARIO (repeat to run several; each is pinned to Compare)"), QStringLiteral("SCENARIO"));
  const QCommandLineOption shot_opt(QStringLiteral("screenshot"), QStringLiteral("Save a PNG of the window to FILE when done, then exit"), QStringLiteral("FILE"));
  const QCommandLineOption tab_opt(QStringLiteral("tab"), QStringLiteral("Show this tab (Scenario, Results, Timeline, Topology, Compare, Power caps, Sweep, Log)"), QStringLiteral("NAME"));
  const QCommandLineOption moesim_opt(QStringLiteral("moesim"), QStringLiteral("The moesim binary to run simulations with"), QStringLiteral("PATH"));
  const QCommandLineOption sweep_opt(QStringLiteral("sweep"), QStringLiteral("Load sweep results (CSV/JSONL) into the Sweep tab"), QStringLiteral("FILE"));
  const QCommandLineOption caps_opt(QStringLiteral("power-caps"), QStringLiteral("Run the power-cap view with these caps (e.g. 500W,700W)"), QStringLiteral("LIST"));
  const QCommandLineOption set_opt(QStringLiteral("set"), QStringLiteral("After opening a scenario, set a field as if typed (repeatable), e.g. /workload/batch_per_device=64"), QStringLiteral("POINTER=VALUE"));
  const QCommandLineOption axes_opt(QStringLiteral("sweep-axes"), QStringLiteral("Sweep chart axes as two column names, e.g. step_time_s,throughput.output_tokens_per_s"), QStringLiteral("X,Y"));
  const QCommandLineOption zoom_opt(QStringLiteral("timeline-ms"), QStringLiteral("Show this part of the step in the Timeline tab, e.g. 0,3"), QStringLiteral("START,END"));
  const QCommandLineOption size_opt(QStringLiteral("size"), QStringLiteral("Window size, e.g. 1400x900"), QStringLiteral("WxH"), QStringLiteral("1400x900"));
  const QCommandLineOption plan_opt(QStringLiteral("plan"), QStringLiteral("Run the Plan tab's plan (its default form) and wait for its front"));
  const QCommandLineOption intervals_opt(QStringLiteral("intervals"), QStringLiteral("Run with moesim run --uncertainty N (p10-p90 intervals and the tornado)"), QStringLiteral("N"));
  for (const auto& o : {run_opt, shot_opt, tab_opt, moesim_opt, sweep_opt, caps_opt, set_opt, axes_opt, zoom_opt, size_opt, intervals_opt, plan_opt}) cli.addOption(o);
  cli.process(app);

  moesim::gui::MainWindow window;
  if (cli.isSet(moesim_opt)) window.set_moesim(cli.value(moesim_opt));
  if (cli.isSet(intervals_opt)) {
    bool ok = false;
    const int n = cli.value(intervals_opt).toInt(&ok);
    if (!ok || n < 2) {
      fail(QStringLiteral("--intervals %1: expected a sample count of at least 2").arg(cli.value(intervals_opt)));
      return 2;
    }
    window.runner()->set_uncertainty_samples(n);
  }
  const QStringList size = cli.value(size_opt).split(u'x');
  if (size.size() == 2 && size[0].toInt() > 0 && size[1].toInt() > 0) window.resize(size[0].toInt(), size[1].toInt());
  const QStringList sets = cli.values(set_opt);
  auto apply_sets = [&] {
    for (const QString& s : sets) {
      const qsizetype eq = s.indexOf(u'=');
      if (eq <= 0 || !window.editor()->set_field(s.left(eq), s.mid(eq + 1))) {
        fail(QStringLiteral("--set %1: expected POINTER=VALUE with the pointer of a form field, e.g. /workload/batch_per_device=64").arg(s));
        return false;
      }
    }
    window.editor()->validate_now();
    return true;
  };
  if (!cli.positionalArguments().isEmpty()) {
    if (!window.open_file(cli.positionalArguments().front()) || !apply_sets()) return 2;
  } else if (!sets.isEmpty() && !cli.isSet(run_opt) && !apply_sets()) {
    return 2;
  }
  if (cli.isSet(tab_opt) && !window.tab_names().contains(cli.value(tab_opt), Qt::CaseInsensitive)) {
    fail(QStringLiteral("--tab %1: no such tab (tabs: %2)").arg(cli.value(tab_opt), window.tab_names().join(QStringLiteral(", "))));
    return 2;
  }
  window.show();
  const bool automated =
      cli.isSet(shot_opt) || cli.isSet(run_opt) || cli.isSet(sweep_opt) || cli.isSet(caps_opt) || cli.isSet(plan_opt);
  if (!automated) return QApplication::exec();

  Automation a{cli.values(run_opt), cli.value(caps_opt), cli.value(sweep_opt), cli.value(tab_opt), cli.value(shot_opt),
               cli.value(axes_opt)};
  a.plan = cli.isSet(plan_opt);
  // Steps run one after another from the event loop: runs, then power caps, then the sweep file,
  // then the screenshot.
  const QString zoom = cli.value(zoom_opt);
  auto finish = [&] {
    if (!a.tab.isEmpty()) window.select_tab(a.tab);
    if (!zoom.isEmpty()) {
      const QStringList se = zoom.split(u',');
      bool ok1 = false, ok2 = false;
      const double s0 = se.value(0).toDouble(&ok1), s1 = se.value(1).toDouble(&ok2);
      if (se.size() != 2 || !ok1 || !ok2 || !(s1 > s0)) {
        fail(QStringLiteral("--timeline-ms %1: expected START,END in milliseconds, START < END").arg(zoom));
        a.ok = false;
      } else {
        window.timeline()->set_window(s0 * 1e3, s1 * 1e3);
      }
    }
    QTimer::singleShot(400, &window, [&] {
      if (!a.screenshot.isEmpty()) {
        if (!window.grab().save(a.screenshot)) {
          fail(QStringLiteral("cannot write the screenshot %1").arg(a.screenshot));
          a.ok = false;
        }
      }
      // Leaving: whatever was edited is in the autosave, never a dialog in an automated run.
      window.set_confirm_discard([] { return static_cast<int>(QMessageBox::Discard); });
      QApplication::exit(a.ok ? 0 : 1);
    });
  };
  std::function<void()> step = [&] {
    if (a.next < a.runs.size()) {
      const QString file = a.runs[a.next++];
      if (!window.open_file(file) || !apply_sets() || !window.run()) {
        fail(QStringLiteral("%1: cannot run (%2)").arg(file, window.status_text()));
        a.ok = false;
        QTimer::singleShot(0, &window, step);
      }
      return;  // run_ended continues
    }
    if (!a.caps.isEmpty()) {
      const QString caps = std::exchange(a.caps, QString());
      if (window.power_caps()->start(caps)) return;  // all_done continues
      fail(QStringLiteral("--power-caps %1: cannot start").arg(caps));
      a.ok = false;
    }
    if (std::exchange(a.plan, false)) {
      if (window.plan()->start()) return;  // finished continues
      fail(QStringLiteral("--plan: %1").arg(window.plan()->status_text()));
      a.ok = false;
    }
    if (!a.sweep.isEmpty()) {
      if (!window.sweep()->load(std::exchange(a.sweep, QString()))) {
        fail(window.sweep()->message());
        a.ok = false;
      } else if (!a.axes.isEmpty()) {
        const QStringList xy = a.axes.split(u',');
        if (xy.size() != 2 || !window.sweep()->set_axes(xy[0], xy[1])) {
          fail(QStringLiteral("--sweep-axes %1: expected two numeric column names of the sweep file").arg(a.axes));
          a.ok = false;
        }
      }
    }
    finish();
  };
  QObject::connect(&window, &moesim::gui::MainWindow::run_ended, &window, [&](bool ok) {
    if (!ok) {
      fail(window.status_text());
      a.ok = false;
    } else if (a.runs.size() > 1) {
      window.pin_last_run();
    }
    QTimer::singleShot(0, &window, step);
  });
  QObject::connect(window.power_caps(), &moesim::gui::PowerCapPage::all_done, &window,
                   [&] { QTimer::singleShot(0, &window, step); });
  QObject::connect(window.plan(), &moesim::gui::PlanPage::finished, &window, [&](bool ok) {
    if (!ok) {
      fail(window.plan()->status_text());
      a.ok = false;
    }
    QTimer::singleShot(0, &window, step);
  });
  QTimer::singleShot(0, &window, step);
  return QApplication::exec();
}
