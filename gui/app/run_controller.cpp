#include "run_controller.hpp"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QStandardPaths>

#include "report_access.hpp"

namespace moesim::gui {

MoesimLocation locate_moesim(const QString& explicit_path) {
  MoesimLocation loc;
  auto executable = [](const QString& p) {
    const QFileInfo fi(p);
    return fi.isFile() && fi.isExecutable();
  };
  auto given = [&](const QString& p, const QString& how) {
    loc.searched << QStringLiteral("%1 (%2)").arg(p, how);
    if (executable(p)) {
      loc.path = QFileInfo(p).absoluteFilePath();
    } else {
      loc.error = QStringLiteral("the moesim binary given by %1 is not an executable file: %2").arg(how, p);
    }
    return loc;
  };
  if (!explicit_path.isEmpty()) return given(explicit_path, QStringLiteral("--moesim"));
  const QString env = qEnvironmentVariable("MOESIM_BIN");
  if (!env.isEmpty()) return given(env, QStringLiteral("MOESIM_BIN"));
  const QString app_dir = QCoreApplication::applicationDirPath();
  for (const QString& rel : {QStringLiteral("moesim"), QStringLiteral("../cli/moesim"), QStringLiteral("../../cli/moesim")}) {
    const QString p = QDir::cleanPath(app_dir + u'/' + rel);
    loc.searched << p;
    if (executable(p)) {
      loc.path = p;
      return loc;
    }
  }
  loc.searched << QStringLiteral("PATH");
  loc.path = QStandardPaths::findExecutable(QStringLiteral("moesim"));
  if (loc.path.isEmpty()) {
    loc.error = QStringLiteral("cannot find the moesim binary (looked in: %1). Build it (make build), put it on "
                               "PATH, set MOESIM_BIN or pass --moesim PATH.")
                    .arg(loc.searched.join(QStringLiteral(", ")));
  }
  return loc;
}

RunController::RunController(QObject* parent) : QObject(parent) {}

RunController::~RunController() {
  if (process_) {
    process_->disconnect(this);
    process_->kill();
    process_->waitForFinished(2000);
  }
}

bool RunController::start(const QByteArray& scenario_json, const QString& label, bool with_trace) {
  if (process_) {
    emit failed(QStringLiteral("a run is already going; wait for it or cancel it"), {});
    return false;
  }
  const MoesimLocation loc = locate_moesim(explicit_moesim_);
  if (loc.path.isEmpty()) {
    emit failed(loc.error, {});
    return false;
  }
  dir_ = std::make_unique<QTemporaryDir>();
  const QString scenario_file = dir_->filePath(QStringLiteral("scenario.json"));
  QFile f(scenario_file);
  if (!dir_->isValid() || !f.open(QIODevice::WriteOnly) || f.write(scenario_json) != scenario_json.size()) {
    emit failed(QStringLiteral("cannot write the scenario to a temporary folder (%1)").arg(dir_->errorString()), {});
    return false;
  }
  f.close();
  scenario_ = scenario_json;
  label_ = label;
  with_trace_ = with_trace;
  cancelled_ = false;
  stderr_buffer_.clear();
  stderr_text_.clear();
  QStringList args = {QStringLiteral("run"), scenario_file, QStringLiteral("--json"), QStringLiteral("--out"),
                      dir_->filePath(QStringLiteral("report.json")), QStringLiteral("--progress"), QStringLiteral("jsonl")};
  if (with_trace) args << QStringLiteral("--trace") << dir_->filePath(QStringLiteral("trace.json"));
  if (uncertainty_samples_ > 0) args << QStringLiteral("--uncertainty") << QString::number(uncertainty_samples_);
  last_command_ = loc.path + u' ' + args.join(u' ');
  process_ = new QProcess(this);
  process_->setProcessChannelMode(QProcess::SeparateChannels);
  process_->setStandardOutputFile(QProcess::nullDevice());
  connect(process_, &QProcess::readyReadStandardError, this, &RunController::read_stderr);
  connect(process_, &QProcess::finished, this, &RunController::on_finished);
  connect(process_, &QProcess::errorOccurred, this, &RunController::on_error);
  emit progress(QStringLiteral("starting"), 0.0);
  process_->start(loc.path, args);
  return true;
}

void RunController::cancel() {
  if (!process_) return;
  cancelled_ = true;
  process_->kill();
}

void RunController::read_stderr() {
  if (!process_) return;
  stderr_buffer_ += process_->readAllStandardError();
  qsizetype nl;
  while ((nl = stderr_buffer_.indexOf('\n')) >= 0) {
    const QByteArray line = stderr_buffer_.left(nl);
    stderr_buffer_.remove(0, nl + 1);
    if (line.startsWith('{')) {
      const QJsonObject e = QJsonDocument::fromJson(line).object();
      if (e.value(QStringLiteral("event")).toString() == QLatin1String("phase")) {
        emit progress(e.value(QStringLiteral("name")).toString(), e.value(QStringLiteral("fraction")).toDouble());
        continue;
      }
      if (!e.isEmpty()) continue;  // start / done
    }
    // Problems name the temporary copy: name the scenario instead.
    stderr_text_ += QString::fromUtf8(line).replace(dir_->filePath(QStringLiteral("scenario.json")),
                                                    QStringLiteral("scenario")) + u'\n';
  }
}

void RunController::fail(const QString& message) {
  QProcess* p = process_;
  process_ = nullptr;
  if (p) p->deleteLater();
  emit failed(message, stderr_text_);
}

void RunController::on_error(QProcess::ProcessError error) {
  if (error != QProcess::FailedToStart || !process_) return;  // others arrive through finished()
  fail(QStringLiteral("could not start %1: %2").arg(process_->program(), process_->errorString()));
}

void RunController::on_finished(int exit_code, QProcess::ExitStatus status) {
  if (!process_) return;
  read_stderr();
  if (!stderr_buffer_.isEmpty()) stderr_text_ += QString::fromUtf8(stderr_buffer_) + u'\n';
  stderr_buffer_.clear();
  if (cancelled_) return fail(QStringLiteral("run cancelled"));
  if (status == QProcess::CrashExit) {
    return fail(QStringLiteral("moesim crashed while running the scenario (%1). The planner is unaffected; the "
                               "scenario is unchanged. Its standard error is below.")
                    .arg(process_->errorString()));
  }
  if (exit_code != 0 && exit_code != 3) {
    QString what;
    switch (exit_code) {
      case 1: what = QStringLiteral("moesim refused the scenario (exit 1: input error)"); break;
      case 4: what = QStringLiteral("the simulator failed (exit 4)"); break;
      default: what = QStringLiteral("moesim exited with code %1").arg(exit_code);
    }
    return fail(what);
  }
  const QString report_path = dir_->filePath(QStringLiteral("report.json"));
  QFile rf(report_path);
  if (!rf.open(QIODevice::ReadOnly)) return fail(QStringLiteral("moesim finished but wrote no report"));
  const ReportLoad load = parse_report(rf.readAll(), QStringLiteral("the report of this run"));
  if (!load.ok()) return fail(load.error);
  RunResult result;
  result.label = label_;
  result.report = load.report;
  result.scenario = scenario_;
  result.exit_code = exit_code;
  if (with_trace_) {
    QFile tf(dir_->filePath(QStringLiteral("trace.json")));
    if (tf.open(QIODevice::ReadOnly)) result.trace = QJsonDocument::fromJson(tf.readAll()).object();
  }
  result.stderr_text = stderr_text_;
  QProcess* p = process_;
  process_ = nullptr;
  p->deleteLater();
  emit finished(result);
}

}  // namespace moesim::gui
