#include "process_pool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

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

// Runs job.in_process in a forked child with the same redirections and process group as a
// spawned program.
JobResult fork_job(const Job& job, pid_t& pid) {
  JobResult r;
  std::fflush(nullptr);  // buffered output would otherwise be written twice
  pid = fork();
  if (pid < 0) {
    r.error = std::string("cannot fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    auto redirect = [](const std::string& path, int fd, int flags) {
      const int f = open(path.empty() ? "/dev/null" : path.c_str(), flags, 0644);
      if (f >= 0) {
        dup2(f, fd);
        close(f);
      }
    };
    redirect("", STDIN_FILENO, O_RDONLY);
    redirect(job.stdout_path, STDOUT_FILENO, O_WRONLY | O_CREAT | O_TRUNC);
    redirect(job.stderr_path, STDERR_FILENO, O_WRONLY | O_CREAT | O_TRUNC);
    int rc = 4;
    try {
      rc = job.in_process();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "moesim: %s\n", e.what());
    }
    std::fflush(nullptr);
    _exit(rc);
  }
  setpgid(pid, pid);  // also from the parent, so a kill never races the child's own call
  r.started = true;
  return r;
}

JobResult start_job(const Job& job, pid_t& pid) {
  if (job.in_process) return fork_job(job, pid);
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
              const std::function<void(std::size_t, const JobResult&)>& done) {
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
                   const std::function<void(std::size_t, const ScenarioOutcome&)>& done) {
  std::vector<ScenarioRun> runs(count);
  const char* env = std::getenv("MOESIM_SWEEP_WORKER");
  const bool exec_worker = env != nullptr && *env != '\0';
  const std::string worker = exec_worker ? std::string(env) : self_executable();
  // Without a worker override, a registered runner does each point in a forked copy of this
  // process: the same work as `moesim run`, without loading the program again.
  const PointRunner runner = exec_worker ? PointRunner{} : point_runner();
  auto make = [&](std::size_t i) {
    runs[i] = make_run(i);
    const ScenarioRun& r = runs[i];
    Job job;
    job.argv = {worker, "run", r.scenario, "--json", "--out", r.work_prefix + ".report.json"};
    if (!r.fidelity.empty()) {
      job.argv.push_back("--fidelity");
      job.argv.push_back(r.fidelity);
    }
    job.stderr_path = r.work_prefix + ".stderr";
    job.timeout_s = r.timeout_s;
    if (runner) {
      job.in_process = [runner, scenario = r.scenario, fidelity = r.fidelity, out = r.work_prefix + ".report.json"] {
        return runner(scenario, fidelity, out);
      };
    }
    return job;
  };
  auto finish = [&](std::size_t i, const JobResult& res) {
    const std::string report_path = runs[i].work_prefix + ".report.json";
    const std::string stderr_path = runs[i].work_prefix + ".stderr";
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
    runs[i] = ScenarioRun{};
    done(i, o);
  };
  return run_pool(count, parallel, make, finish);
}

void set_point_runner(PointRunner runner) { point_runner() = std::move(runner); }

int parallel_slots(int requested) {
  if (requested > 0) return requested;
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

bool write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f || !(f << text) || !f.flush()) {
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace moesim::tools
