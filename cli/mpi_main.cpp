// moesim-mpi: `mpirun -n K moesim-mpi sweep SPEC.json [options]` spreads the points of a sweep
// over K MPI ranks (docs/sweep.md). Rank 0 checks the spec and the results folder and writes
// every row; each rank runs its slice of the points on its own pool of forked workers. The
// sweep itself is moesim's (cli/sweep_cmd.cpp); this file only carries its messages over MPI.

#include <mpi.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <ctime>
#include <deque>
#include <string>
#include <utility>
#include <iostream>
#include <thread>

#include "allocator.hpp"
#include "process_pool.hpp"
#include "run_point.hpp"
#include "sweep.hpp"

namespace {

using namespace moesim::tools;

constexpr int kTag = 7;

class MpiGroup final : public SweepGroup {
 public:
  MpiGroup() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  /// Ranks on this machine (sharing its memory), this one included.
  int ranks_on_this_machine() const {
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    int n = 1;
    MPI_Comm_size(local, &n);
    MPI_Comm_free(&local);
    return n;
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void broadcast(std::string& text) override {
    unsigned long long n = text.size();
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    text.resize(static_cast<std::size_t>(n));
    for (std::size_t at = 0; at < text.size();) {  // MPI counts are ints
      const int chunk = static_cast<int>(std::min<std::size_t>(text.size() - at, INT_MAX));
      MPI_Bcast(text.data() + at, chunk, MPI_CHAR, 0, MPI_COMM_WORLD);
      at += static_cast<std::size_t>(chunk);
    }
  }

  // Rows go out without waiting for rank 0 to take them (a blocking send of a row above the eager
  // limit held the rank's pool until rank 0 polled). MPI keeps messages between two ranks in
  // order, so the end message still arrives last. Sent buffers are freed as their sends complete.
  void send_to_root(const std::string& message) override {
    pending_.emplace_back(message, MPI_REQUEST_NULL);
    auto& [text, request] = pending_.back();
    MPI_Isend(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, kTag, MPI_COMM_WORLD, &request);
    while (!pending_.empty()) {
      int done = 0;
      MPI_Test(&pending_.front().second, &done, MPI_STATUS_IGNORE);
      if (done == 0) break;
      pending_.pop_front();
    }
  }
  ~MpiGroup() override {
    for (auto& p : pending_) MPI_Wait(&p.second, MPI_STATUS_IGNORE);
  }

  std::optional<std::string> receive(bool wait) override {
    MPI_Status status;
    int flag = 0;
    while (true) {
      MPI_Iprobe(MPI_ANY_SOURCE, kTag, MPI_COMM_WORLD, &flag, &status);
      if (flag != 0 || !wait) break;
      // A blocking MPI_Probe spins on a core the other ranks' workers could use.
      timespec nap{0, 2'000'000};
      nanosleep(&nap, nullptr);
    }
    if (flag == 0) return std::nullopt;
    int n = 0;
    MPI_Get_count(&status, MPI_CHAR, &n);
    std::string text(static_cast<std::size_t>(n), '\0');
    MPI_Recv(text.data(), n, MPI_CHAR, status.MPI_SOURCE, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return text;
  }

 private:
  int rank_ = 0, size_ = 1;
  std::deque<std::pair<std::string, MPI_Request>> pending_;  ///< sends not known to be complete
};

int run(int argc, char** argv) {
  MpiGroup group;
  CLI::App app{"moesim-mpi: a moesim sweep spread over MPI ranks (mpirun -n K moesim-mpi sweep SPEC.json)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moesim-mpi 0.1.0 (allocator: " + moesim::tools::allocator_name() + ")");
  SweepOptions options;
  auto* sweep = app.add_subcommand("sweep", "Run a sweep's points over the ranks; rank 0 writes the results");
  add_sweep_options(*sweep, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parses the same arguments: one message is enough.
    if (group.rank() == 0) return app.exit(e) == 0 ? 0 : 1;
    return e.get_exit_code() == 0 ? 0 : 1;
  }
  set_point_runner(run_point);
  // Default workers per rank: this machine's cores shared among its ranks, and no more than the
  // cores the rank may use. A binding alone is not enough: OpenMPI binds ranks to a whole socket
  // when there are more than two, and each would then start a worker per core of its socket.
  const int local_ranks = group.ranks_on_this_machine();  // collective: every rank calls it
  if (options.jobs <= 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    options.jobs = std::max(1, std::min(parallel_slots(0), cores / local_ranks));
  }
  try {
    return cmd_sweep(options, &group);
  } catch (const std::exception& e) {
    std::cerr << "moesim-mpi: rank " << group.rank() << ": internal error: " << e.what() << "\n";
    MPI_Abort(MPI_COMM_WORLD, 4);
    return 4;
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int rc = run(argc, argv);
  MPI_Finalize();
  return rc;
}
