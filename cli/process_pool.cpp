#include "process_pool.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "fd_io.hpp"

extern char** environ;

namespace moesim::tools {
namespace {

std::atomic<int> g_interrupt{0};

extern "C" void on_interrupt(int sig) { g_interrupt.store(sig); }

// Installs the interrupt handlers for the lifetime of one pool run and restores the old ones.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupt.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

using Clock = std::chrono::steady_clock;
using sim::read_all;
using sim::write_all;

struct Running {
  std::size_t index = 0;
  pid_t pid = 0;
  Clock::time_point start;
  double timeout_s = 0;
  bool timed_out = false;
};

PointRunner& point_runner() {
  static PointRunner runner;
  return runner;
}

// --- Persistent point workers -------------------------------------------------------------
// A worker is forked once and runs points one after another: the coordinator writes a request
// (scenario, fidelity, report path, standard-error path) on the worker's request pipe, the
// worker runs the registered PointRunner with its standard error sent to that file and answers
// with the exit code. Forking per point cost more than the analytic points themselves (page
// faults of the copy-on-write child; docs/sweep.md). Isolation is kept: a point that crashes or
// is killed takes only its worker, which is replaced, and the flow engine still runs each
// SimGrid simulation in a child of its own.

// A request: its length, then the fields separated by NUL bytes.
bool send_request(int fd, const std::vector<std::string>& fields) {
  std::string body;
  for (const auto& f : fields) body += f + '\0';
  const auto size = static_cast<std::uint32_t>(body.size());
  return write_all(fd, &size, sizeof size) && write_all(fd, body.data(), body.size());
}

// The last of `max_fields` fields takes the rest of the message (it may hold any bytes).
std::optional<std::vector<std::string>> receive_request(int fd, std::size_t max_fields) {
  std::uint32_t size = 0;
  if (!read_all(fd, &size, sizeof size)) return std::nullopt;
  std::string body(size, '\0');
  if (!read_all(fd, body.data(), body.size())) return std::nullopt;
  std::vector<std::string> fields;
  for (std::size_t start = 0; start < body.size();) {
    const std::size_t end = fields.size() + 1 == max_fields ? body.size() - 1 : body.find('\0', start);
    fields.push_back(body.substr(start, end - start));
    start = end + 1;
  }
  return fields;
}

void redirect_fd(const std::string& path, int fd, int flags) {
  const int f = open(path.empty() ? "/dev/null" : path.c_str(), flags, 0644);
  if (f >= 0) {
    dup2(f, fd);
    close(f);
  }
}

// How point `run` ended, from its exit (or signal) and the files it left; removes the files.
ScenarioOutcome outcome_of(const ScenarioRun& run, const JobResult& res) {
  const std::string report_path = run.work_prefix + ".report.json";
  const std::string stderr_path = run.work_prefix + ".stderr";
  ScenarioOutcome o;
  o.seconds = res.elapsed_s;
  const bool ran = res.started && !res.timed_out && res.signal == 0;
  if (ran && (res.exit_code == 0 || res.exit_code == 3)) {
    try {
      o.report = nlohmann::json::parse(read_text(report_path));
      o.status = res.exit_code == 0 ? "ok" : "infeasible";
    } catch (const nlohmann::json::exception& e) {
      o.error = std::string("unreadable report: ") + e.what();
    }
  }
  if (!o.report) {
    o.status = ran && res.exit_code == 1 ? "invalid" : "failed";
    std::string err = read_text(stderr_path);
    constexpr std::size_t kTail = 2000;
    if (err.size() > kTail) err = "..." + err.substr(err.size() - kTail);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    o.error = res.describe() + (o.error.empty() ? "" : "; " + o.error) + (err.empty() ? "" : ": " + err);
  }
  std::remove(report_path.c_str());
  std::remove(stderr_path.c_str());
  return o;
}

// A request: point index, scenario, fidelity, work prefix, uncertainty samples. An answer: the exit code, and with a
// summarize hook the status, seconds and summary.
[[noreturn]] void worker_main(int requests, int answers, const PointRunner& runner, const PointHooks& hooks) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  setpgid(0, 0);
  for (int sig : {SIGINT, SIGTERM, SIGPIPE}) signal(sig, SIG_DFL);
  redirect_fd("", STDIN_FILENO, O_RDONLY);
  redirect_fd("", STDOUT_FILENO, O_WRONLY);
  while (auto fields = receive_request(requests, 5)) {
    if (fields->size() != 5) break;
    const std::size_t index = std::stoull((*fields)[0]);
    const ScenarioRun run{(*fields)[1], (*fields)[2], (*fields)[3], 0, std::stoi((*fields)[4])};
    std::vector<std::string> answer;
    try {
      if (hooks.prepare) hooks.prepare(index);
      redirect_fd(run.work_prefix + ".stderr", STDERR_FILENO, O_WRONLY | O_CREAT | O_TRUNC);
      const auto start = Clock::now();
      int rc = 4;
      try {
        rc = runner(run.scenario, run.fidelity, run.uncertainty, run.work_prefix + ".report.json");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "moesim: %s\n", e.what());
      }
      std::fflush(nullptr);
      redirect_fd("", STDERR_FILENO, O_WRONLY);
      answer.push_back(std::to_string(rc));
      if (hooks.summarize) {
        JobResult res;
        res.started = true;
        res.exit_code = rc;
        res.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
        const ScenarioOutcome o = outcome_of(run, res);
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.17g", o.seconds);
        answer.insert(answer.end(), {o.status, seconds, hooks.summarize(index, o)});
      }
    } catch (const std::exception&) {
      break;  // the coordinator sees the worker end and fails the point
    }
    if (!send_request(answers, answer)) break;
  }
  _exit(0);
}

struct Worker {
  pid_t pid = 0;
  int requests = -1;    // coordinator -> worker
  int answers = -1;     // worker -> coordinator
  bool busy = false;
  bool answered = false;  // the answer pipe closed or answered; only the exit is left to see
  std::size_t index = 0;
  Clock::time_point start;
  double timeout_s = 0;
  bool timed_out = false;
};

void close_worker_fds(Worker& w) {
  if (w.requests >= 0) close(w.requests);
  if (w.answers >= 0) close(w.answers);
  w.requests = w.answers = -1;
}

// Forks a worker; false (with `error`) when the system refuses.
bool start_worker(Worker& w, std::vector<Worker>& all, const PointRunner& runner, const PointHooks& hooks,
                  std::string& error) {
  int req[2], ans[2];
  if (pipe(req) != 0) {
    error = std::string("cannot create a pipe: ") + std::strerror(errno);
    return false;
  }
  if (pipe(ans) != 0) {
    error = std::string("cannot create a pipe: ") + std::strerror(errno);
    close(req[0]);
    close(req[1]);
    return false;
  }
  std::fflush(nullptr);  // buffered output would otherwise be written twice
  const pid_t pid = fork();
  if (pid < 0) {
    error = std::string("cannot fork: ") + std::strerror(errno);
    for (int fd : {req[0], req[1], ans[0], ans[1]}) close(fd);
    return false;
  }
  if (pid == 0) {
    for (auto& other : all) close_worker_fds(other);  // only its own pipes stay open
    close(req[1]);
    close(ans[0]);
    worker_main(req[0], ans[1], runner, hooks);
  }
  setpgid(pid, pid);  // also from the parent, so a kill never races the child's own call
  close(req[0]);
  close(ans[1]);
  w = Worker{};
  w.pid = pid;
  w.requests = req[1];
  w.answers = ans[0];
  return true;
}

// `make` runs here; `ended` gets the points that ended without an answer (and every point
// without a summarize hook), `answered` those summarized in their worker.
bool run_in_workers(std::size_t count, int parallel, const PointRunner& runner, const PointHooks& hooks,
                    const std::function<ScenarioRun(std::size_t)>& make,
                    const std::function<void(std::size_t, const JobResult&)>& ended,
                    const std::function<void(std::size_t, const ScenarioOutcome&)>& answered,
                    const std::function<void()>& tick) {
  keep_freed_memory();  // workers are forked below and inherit it
  InterruptGuard guard;
  struct sigaction ignore {}, old_pipe {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, &old_pipe);  // a dead worker's pipe must not end the coordinator
  struct RestorePipe {
    struct sigaction old;
    ~RestorePipe() { sigaction(SIGPIPE, &old, nullptr); }
  } restore_pipe{old_pipe};

  std::vector<Worker> workers(std::min<std::size_t>(count, static_cast<std::size_t>(std::max(parallel, 1))));
  std::string start_error;
  std::vector<bool> alive(workers.size(), false);
  for (std::size_t k = 0; k < workers.size(); ++k) alive[k] = start_worker(workers[k], workers, runner, hooks, start_error);
  auto stop_all = [&] {
    for (auto& w : workers) {
      if (w.pid <= 0) continue;
      kill(-w.pid, SIGKILL);
      waitpid(w.pid, nullptr, 0);
      close_worker_fds(w);
      w.pid = 0;
    }
  };
  auto finish_point = [&](Worker& w, JobResult res) {
    res.started = true;
    res.elapsed_s = std::chrono::duration<double>(Clock::now() - w.start).count();
    res.timed_out = w.timed_out;
    w.busy = false;
    ended(w.index, res);
  };
  std::size_t next = 0;
  std::size_t busy = 0;
  while (next < count || busy > 0) {
    if (g_interrupt.load() != 0) {
      stop_all();
      return false;
    }
    if (std::none_of(alive.begin(), alive.end(), [](bool a) { return a; })) {
      // No worker could be started: the remaining points cannot run.
      for (; next < count; ++next) {
        JobResult r;
        r.error = start_error;
        ended(next, r);
      }
      break;
    }
    for (std::size_t k = 0; k < workers.size() && next < count; ++k) {
      Worker& w = workers[k];
      if (!alive[k] || w.busy) continue;
      const std::size_t i = next++;
      const ScenarioRun run = make(i);
      w.busy = true;
      w.answered = false;
      w.index = i;
      w.start = Clock::now();
      w.timeout_s = run.timeout_s;
      w.timed_out = false;
      ++busy;
      // A failed send means the worker died; its exit is seen below and fails this point.
      send_request(w.requests, {std::to_string(i), run.scenario, run.fidelity, run.work_prefix, std::to_string(run.uncertainty)});
    }
    if (tick) tick();
    std::vector<pollfd> fds;
    std::vector<std::size_t> owner;
    for (std::size_t k = 0; k < workers.size(); ++k) {
      if (alive[k] && workers[k].busy && !workers[k].answered) {
        fds.push_back({workers[k].answers, POLLIN, 0});
        owner.push_back(k);
      }
    }
    // 20 ms: the granularity of timeouts, interrupts, the tick and noticing a dead worker.
    if (poll(fds.data(), fds.size(), 20) > 0) {
      for (std::size_t f = 0; f < fds.size(); ++f) {
        if (fds[f].revents == 0) continue;
        Worker& w = workers[owner[f]];
        const auto answer = receive_request(w.answers, 4);
        if (answer && answer->size() == 4) {
          ScenarioOutcome o;
          o.status = (*answer)[1];
          o.seconds = std::stod((*answer)[2]);
          o.summary = (*answer)[3];
          w.busy = false;
          --busy;
          answered(w.index, o);
        } else if (answer && answer->size() == 1) {
          JobResult res;
          res.exit_code = std::stoi((*answer)[0]);
          finish_point(w, res);
          --busy;
        } else {
          w.answered = true;  // closed without an answer: it is dying
        }
      }
    }
    // Workers that ended (crashed, killed, timed out) and points past their time.
    for (std::size_t k = 0; k < workers.size(); ++k) {
      Worker& w = workers[k];
      if (!alive[k]) continue;
      int status = 0;
      const pid_t gone = waitpid(w.pid, &status, WNOHANG);
      if (gone == 0) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - w.start).count();
        if (w.busy && w.timeout_s > 0 && elapsed > w.timeout_s && !w.timed_out) {
          w.timed_out = true;
          kill(-w.pid, SIGKILL);
        }
        continue;
      }
      kill(-w.pid, SIGKILL);  // whatever it left running in its group goes with it
      close_worker_fds(w);
      if (w.busy) {
        JobResult res;
        if (gone < 0) {
          res.signal = SIGKILL;
        } else if (WIFEXITED(status)) {
          res.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
          res.signal = WTERMSIG(status);
        }
        finish_point(w, res);
        --busy;
      }
      alive[k] = next < count && start_worker(w, workers, runner, hooks, start_error);
      if (!alive[k]) w.pid = 0;
    }
  }
  stop_all();
  return true;
}

JobResult start_job(const Job& job, pid_t& pid) {
  JobResult r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  const std::string out = job.stdout_path.empty() ? "/dev/null" : job.stdout_path;
  const std::string err = job.stderr_path.empty() ? "/dev/null" : job.stderr_path;
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a kill reaches its children too
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // the pool blocks SIGCHLD; its jobs must not
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  for (const auto& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    r.error = "cannot start " + job.argv[0] + ": " + std::strerror(rc);
    return r;
  }
  r.started = true;
  return r;
}

}  // namespace

std::string JobResult::describe() const {
  if (!started) return error;
  if (timed_out) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "timed out after %.3g s", elapsed_s);
    return buf;
  }
  if (signal != 0) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exit code " + std::to_string(exit_code);
}

bool run_pool(std::size_t count, int parallel, const std::function<Job(std::size_t)>& make,
              const std::function<void(std::size_t, const JobResult&)>& done, const std::function<void()>& tick) {
  InterruptGuard guard;
  if (parallel < 1) parallel = 1;
  // Wait for children by blocking on SIGCHLD (with a short timeout for deadlines and
  // interrupts) instead of polling: the coordinator must not compete with its workers.
  sigset_t chld, previous;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &previous);
  struct Restore {
    sigset_t mask;
    ~Restore() { sigprocmask(SIG_SETMASK, &mask, nullptr); }
  } restore{previous};
  std::vector<Running> running;
  std::size_t next = 0;
  auto kill_all = [&] {
    for (auto& r : running) kill(-r.pid, SIGKILL);
    for (auto& r : running) waitpid(r.pid, nullptr, 0);
    running.clear();
  };
  while (next < count || !running.empty()) {
    if (g_interrupt.load() != 0) {
      kill_all();
      return false;
    }
    while (next < count && static_cast<int>(running.size()) < parallel) {
      const std::size_t i = next++;
      const Job job = make(i);
      pid_t pid = 0;
      JobResult r = start_job(job, pid);
      if (!r.started) {
        done(i, r);
        continue;
      }
      running.push_back({i, pid, Clock::now(), job.timeout_s, false});
    }
    if (tick) tick();
    bool reaped = false;
    for (std::size_t k = 0; k < running.size();) {
      Running& r = running[k];
      int status = 0;
      const pid_t w = waitpid(r.pid, &status, WNOHANG);
      const double elapsed = std::chrono::duration<double>(Clock::now() - r.start).count();
      if (w == 0) {
        if (r.timeout_s > 0 && elapsed > r.timeout_s && !r.timed_out) {
          r.timed_out = true;
          kill(-r.pid, SIGKILL);
        }
        ++k;
        continue;
      }
      JobResult res;
      res.started = true;
      res.elapsed_s = elapsed;
      res.timed_out = r.timed_out;
      if (w < 0) {
        res.signal = SIGKILL;
        res.error = "lost track of the process";
      } else if (WIFEXITED(status)) {
        res.exit_code = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        res.signal = WTERMSIG(status);
      }
      // Whatever the job left running in its group goes with it.
      kill(-r.pid, SIGKILL);
      const std::size_t index = r.index;
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      reaped = true;
      done(index, res);
    }
    if (!reaped && !running.empty()) {
      timespec wait{0, 20'000'000};  // 20 ms: the granularity of timeouts and interrupts
      sigtimedwait(&chld, nullptr, &wait);
    }
  }
  return true;
}

bool run_scenarios(std::size_t count, int parallel, const std::function<ScenarioRun(std::size_t)>& make_run,
                   const std::function<void(std::size_t, const ScenarioOutcome&)>& done,
                   const std::function<void()>& tick, const PointHooks& hooks) {
  std::vector<ScenarioRun> runs(count);
  const char* env = std::getenv("MOESIM_SWEEP_WORKER");
  const bool exec_worker = env != nullptr && *env != '\0';
  const std::string worker = exec_worker ? std::string(env) : self_executable();
  // Without a worker override, a registered runner does the points in persistent forked
  // workers: the same work as `moesim run`, without loading the program again.
  const PointRunner runner = exec_worker ? PointRunner{} : point_runner();
  auto remember = [&](std::size_t i) -> const ScenarioRun& {
    runs[i] = make_run(i);
    return runs[i];
  };
  auto make = [&](std::size_t i) {
    const ScenarioRun& r = remember(i);
    if (hooks.prepare) hooks.prepare(i);
    Job job;
    job.argv = {worker, "run", r.scenario, "--json", "--out", r.work_prefix + ".report.json"};
    if (!r.fidelity.empty()) {
      job.argv.push_back("--fidelity");
      job.argv.push_back(r.fidelity);
    }
    if (r.uncertainty > 0) {
      job.argv.push_back("--uncertainty");
      job.argv.push_back(std::to_string(r.uncertainty));
    }
    job.stderr_path = r.work_prefix + ".stderr";
    job.timeout_s = r.timeout_s;
    return job;
  };
  auto finish = [&](std::size_t i, const JobResult& res) {
    ScenarioOutcome o = outcome_of(runs[i], res);
    if (hooks.summarize) o.summary = hooks.summarize(i, o);
    runs[i] = ScenarioRun{};
    done(i, o);
  };
  auto answered = [&](std::size_t i, const ScenarioOutcome& o) {
    runs[i] = ScenarioRun{};
    done(i, o);
  };
  if (runner) return run_in_workers(count, parallel, runner, hooks, remember, finish, answered, tick);
  return run_pool(count, parallel, make, finish, tick);
}

// Workers evaluate point after point with the same allocation pattern, the coordinator parses
// row after row, and plan evaluates candidate after candidate. By default glibc hands large blocks
// (mmap) and the heap's free top (trim) back to the kernel after each and page-faults them in
// again on the next: ~100 faults per DeepSeek-V3 evaluation, a third of a 1,000-point sweep's time
// on the development VM, and page faults are what two workers share worst there
// (bench/sweep_speedup.sh, docs/sweep.md). Keeping freed memory for reuse instead leaves a
// process's footprint at that of its largest evaluation.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum: blocks below 32 MiB come from the heap
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void set_point_runner(PointRunner runner) { point_runner() = std::move(runner); }

int parallel_slots(int requested) {
  if (requested > 0) return requested;
  // The cores this process may run on (taskset, cgroups, an MPI rank's binding), else all.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("moesim") : p.string();
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace moesim::tools
