// Kernel launch overhead: the cost of one more kernel in a stream of back-to-back launches
// (what the cost model adds per kernel), and the launch + synchronise round trip.
#include <vector>

#include "bench_common.hpp"

namespace moesim::calibrate {
namespace {

__global__ void empty_kernel() {}

}  // namespace

FamilyResult run_launch(const Context& ctx) {
  FamilyResult r;
  r.name = "launch";
  r.started = utc_now();
  r.clocks = clock_fields(ctx);
  const bool quick = ctx.options.quick;
  const int batch = quick ? 500 : 2000;     // kernels per back-to-back measurement
  const int batches = ctx.repeats(9, 5);
  const int round_trips = quick ? 200 : 1000;
  r.settings = {{"kernel", std::string("empty, 1 block of 32 threads")},
                {"back_to_back_kernels", static_cast<long long>(batch)},
                {"back_to_back_repeats", static_cast<long long>(batches)},
                {"launch_sync_repeats", static_cast<long long>(round_trips)},
                {"clock", std::string("host steady_clock")}};
  Stream stream;
  auto launch = [&] { empty_kernel<<<1, 32, 0, stream.get()>>>(); };
  for (int i = 0; i < 200; ++i) launch();  // warm-up: module load, first-launch costs
  check(cudaStreamSynchronize(stream.get()), "launch warm-up");
  check(cudaGetLastError(), "empty kernel launch");

  std::vector<double> per_kernel;
  for (int b = 0; b < batches; ++b) {
    const double t0 = host_seconds();
    for (int i = 0; i < batch; ++i) launch();
    check(cudaStreamSynchronize(stream.get()), "back-to-back launches");
    per_kernel.push_back((host_seconds() - t0) / batch);
  }
  check(cudaGetLastError(), "empty kernel launch");
  Sample b2b;
  b2b.set("kind", std::string("back_to_back")).set("kernels", static_cast<long long>(batch)).timing(summarize(per_kernel));
  r.samples.push_back(std::move(b2b));

  std::vector<double> trips;
  for (int i = 0; i < round_trips; ++i) {
    const double t0 = host_seconds();
    launch();
    check(cudaStreamSynchronize(stream.get()), "launch + sync");
    trips.push_back(host_seconds() - t0);
  }
  Sample sync;
  sync.set("kind", std::string("launch_sync")).set("kernels", 1LL).timing(summarize(trips));
  r.samples.push_back(std::move(sync));
  r.finished = utc_now();
  return r;
}

}  // namespace moesim::calibrate
