#pragma once
// Runs one simulation as a child `moesim run FILE --json --out REPORT [--trace TRACE]
// --progress jsonl` process. SimGrid allows one engine per process, and a crash of the simulator
// must never take the GUI down: the GUI process never simulates.

#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QStringList>
#include <QTemporaryDir>
#include <memory>

namespace moesim::gui {

/// Where moesim-gui looks for the moesim binary, and what it found.
struct MoesimLocation {
  QString path;           ///< empty when not found
  QStringList searched;   ///< every place looked at, for the error message
  QString error;          ///< set when not found
};

/// `explicit_path` (--moesim) wins, then $MOESIM_BIN, then next to the running executable
/// (same folder, ../cli/ of a build tree), then PATH. A path that was given but is not an
/// executable is an error; it never falls back silently.
MoesimLocation locate_moesim(const QString& explicit_path);

/// What a finished run produced.
struct RunResult {
  QString label;
  QJsonObject report;
  QJsonObject trace;        ///< empty without --trace, or when the trace was unreadable
  QByteArray scenario;      ///< the scenario JSON that ran
  int exit_code = 0;        ///< 0 feasible, 3 infeasible
  QString stderr_text;      ///< warnings moesim printed
};

class RunController : public QObject {
  Q_OBJECT
 public:
  explicit RunController(QObject* parent = nullptr);
  ~RunController() override;

  /// Overrides where moesim is (the --moesim option); empty: search (locate_moesim).
  void set_moesim(const QString& path) { explicit_moesim_ = path; }
  QString explicit_moesim() const { return explicit_moesim_; }

  /// Starts a run of `scenario_json` (relative paths must already be absolute). False, with
  /// failed() emitted, when moesim cannot be found or a run is already going.
  bool start(const QByteArray& scenario_json, const QString& label, bool with_trace = true);
  /// Runs with `moesim run --uncertainty N` (intervals and the tornado in the report); 0: without.
  void set_uncertainty_samples(int samples) { uncertainty_samples_ = samples; }
  int uncertainty_samples() const { return uncertainty_samples_; }
  /// Kills the child; failed("cancelled") follows.
  void cancel();
  bool running() const { return process_ != nullptr; }
  /// The command line of the last run, for the log.
  QString last_command() const { return last_command_; }

 signals:
  void progress(const QString& phase, double fraction);
  void finished(const moesim::gui::RunResult& result);
  void failed(const QString& message, const QString& stderr_text);

 private:
  void read_stderr();
  void on_finished(int exit_code, QProcess::ExitStatus status);
  void on_error(QProcess::ProcessError error);
  void fail(const QString& message);

  QString explicit_moesim_;
  QProcess* process_ = nullptr;
  std::unique_ptr<QTemporaryDir> dir_;
  QByteArray scenario_;
  QString label_;
  bool with_trace_ = true;
  int uncertainty_samples_ = 0;
  bool cancelled_ = false;
  QByteArray stderr_buffer_;
  QString stderr_text_;
  QString last_command_;
};

}  // namespace moesim::gui
