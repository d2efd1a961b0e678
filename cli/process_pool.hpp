#pragma once
// A pool of child processes for the headless commands (sweep, regress, plan): each job is one
// program run with its standard output and error sent to files, a wall-clock limit, and its own
// process group so that a timeout or an interrupt also ends whatever the job started (the
// flow engine forks a child of its own).

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace moesim::tools {

struct Job {
  std::vector<std::string> argv;  ///< argv[0] is the program path
  std::string stdout_path;        ///< empty: /dev/null
  std::string stderr_path;        ///< empty: /dev/null
  double timeout_s = 0;           ///< 0: no limit
};

struct JobResult {
  bool started = false;      ///< false: the program could not be started (error says why)
  int exit_code = -1;        ///< when it exited normally
  int signal = 0;            ///< when a signal ended it (SIGKILL after a timeout too)
  bool timed_out = false;
  double elapsed_s = 0;
  std::string error;         ///< why it could not be started

  bool ok() const { return started && signal == 0 && !timed_out && exit_code == 0; }
  /// "exit code 4", "killed by signal 9 (Killed)", "timed out after 2 s", ...
  std::string describe() const;
};

/// Runs jobs 0..count-1 with at most `parallel` at once, in index order; `make` builds job i
/// when a slot frees, `done` is called in this thread as each one ends (in completion order).
/// SIGINT/SIGTERM during the run end every running job and stop launching new ones; the
/// function then returns false (true when every job ran).
/// `tick`, when set, is called in this thread at least every 20 ms while jobs run.
bool run_pool(std::size_t count, int parallel, const std::function<Job(std::size_t)>& make,
              const std::function<void(std::size_t, const JobResult&)>& done, const std::function<void()>& tick = {});

/// One `moesim run SCENARIO --json` in a child process.
struct ScenarioRun {
  std::string scenario;      ///< scenario file
  std::string fidelity;      ///< "" or an override
  std::string work_prefix;   ///< the report and standard error go to PREFIX.report.json / .stderr
  double timeout_s = 0;
  int uncertainty = 0;       ///< > 0: `--uncertainty N` (intervals in the report)
};

struct ScenarioOutcome {
  std::string status;        ///< "ok", "infeasible" (exit 3, report present), "invalid" (exit 1:
                             ///< the scenario was refused) or "failed"
  std::optional<nlohmann::json> report;
  std::string error;         ///< failed: how it ended, then the tail of its standard error
  double seconds = 0;
  std::string summary;       ///< what PointHooks::summarize made of it (then `report` may be empty)
};

/// Work done for each point in the process that runs it, so that the coordinator, which
/// serves every worker, does not become the bottleneck of short points. In a forked worker the
/// hooks see the caller's data as it was when the pool started; with exec'd workers
/// ($MOESIM_SWEEP_WORKER) or for a point whose worker died they run in the coordinator.
struct PointHooks {
  /// Before point i runs (e.g. writes its scenario file).
  std::function<void(std::size_t)> prepare;
  /// Point i's outcome as text, handed to `done` in ScenarioOutcome::summary with the status
  /// and seconds; the report and error are then not sent back (`report`, `error` are empty).
  std::function<std::string(std::size_t, const ScenarioOutcome&)> summarize;
};

/// Runs the scenarios with at most `parallel` at once; temporary files are removed after each.
/// With a registered PointRunner (set_point_runner), `parallel` worker processes are forked
/// once and each runs points one after another (a crashed, killed or timed-out point takes
/// only its worker, which is replaced); otherwise, or when $MOESIM_SWEEP_WORKER is set (a
/// wrapper script, or a test's deliberately crashing worker), each point is a program started
/// as `WORKER run SCENARIO --json --out ...`. Returns false when interrupted.
/// `make(i)` is called just before run i starts (it may write the scenario file then);
/// `tick`, when set, is called in this thread at least every 20 ms while points run.
bool run_scenarios(std::size_t count, int parallel, const std::function<ScenarioRun(std::size_t)>& make,
                   const std::function<void(std::size_t, const ScenarioOutcome&)>& done,
                   const std::function<void()>& tick = {}, const PointHooks& hooks = {});

/// What `moesim run SCENARIO --json --out OUT [--fidelity F] [--uncertainty N]` does, for forked
/// workers: the programs register it (it links the flow engine; this library does not). Unset:
/// workers are exec'd. It runs many points in one process, so it must leave no state behind.
using PointRunner = std::function<int(const std::string& scenario, const std::string& fidelity, int uncertainty,
                                      const std::string& out)>;
void set_point_runner(PointRunner runner);

/// Keeps memory freed by this process (and by processes forked from it later) for reuse instead
/// of handing it back to the kernel after every evaluation (glibc's mmap and trim thresholds).
/// Where mimalloc serves malloc (the programs; cli/allocator.hpp) it changes nothing, mimalloc
/// keeps freed pages itself; it matters where glibc's does (the tests, the sanitizer builds).
void keep_freed_memory();
/// Parallel slots for `requested` (0 or less: every core this process may use).
int parallel_slots(int requested);

/// The path of the running executable (for re-running this program as a worker).
std::string self_executable();

/// Reads a whole (small) text file; "" when it cannot be read.
std::string read_text(const std::string& path);

}  // namespace moesim::tools
