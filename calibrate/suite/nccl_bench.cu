// NCCL all-reduce and all-to-all across every visible GPU (one process, one communicator per
// GPU): the collectives of tensor parallelism and of expert dispatch/combine. Timed on the host
// from the first enqueue to the last stream's completion.
#include <string>
#include <vector>

#include "bench_common.hpp"

#if MOESIM_HAVE_NCCL
#include <nccl.h>
#endif

namespace moesim::calibrate {

#if MOESIM_HAVE_NCCL
namespace {

constexpr std::size_t kMiB = 1u << 20;
const std::vector<std::size_t> kSizes{1 * kMiB, 8 * kMiB, 64 * kMiB, 256 * kMiB, 1024 * kMiB};
const std::vector<std::size_t> kQuickSizes{8 * kMiB, 256 * kMiB};

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw BenchError(std::string(what) + ": " + ncclGetErrorString(r));
}

// One communicator, stream and pair of buffers per GPU, released in the right order.
struct Ranks {
  std::vector<ncclComm_t> comms;
  std::vector<cudaStream_t> streams;
  std::vector<DeviceBuffer> send, recv;
  int home = 0;

  Ranks(int n, std::size_t bytes, int home_device) : comms(static_cast<std::size_t>(n)), home(home_device) {
    std::vector<int> devs(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) devs[static_cast<std::size_t>(i)] = i;
    check_nccl(ncclCommInitAll(comms.data(), n, devs.data()), "ncclCommInitAll");
    for (int i = 0; i < n; ++i) {
      check(cudaSetDevice(i), "cudaSetDevice");
      cudaStream_t s = nullptr;
      check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
      streams.push_back(s);
      send.emplace_back(bytes);
      recv.emplace_back(bytes);
      check(cudaMemset(send.back().get(), 0, bytes), "cudaMemset");
    }
    check(cudaSetDevice(home), "cudaSetDevice");
  }
  ~Ranks() {
    for (std::size_t i = 0; i < streams.size(); ++i) {
      cudaSetDevice(static_cast<int>(i));
      cudaStreamSynchronize(streams[i]);
      cudaStreamDestroy(streams[i]);
    }
    for (ncclComm_t c : comms) {
      if (c != nullptr) ncclCommDestroy(c);
    }
    cudaSetDevice(home);
  }
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

  void synchronize() {
    for (std::size_t i = 0; i < streams.size(); ++i) {
      check(cudaSetDevice(static_cast<int>(i)), "cudaSetDevice");
      check(cudaStreamSynchronize(streams[i]), "collective");
    }
    check(cudaSetDevice(home), "cudaSetDevice");
  }
};

// Enqueues one collective of `bytes` per rank on every rank.
void enqueue(Ranks& ranks, const std::string& collective, std::size_t bytes) {
  const int n = static_cast<int>(ranks.comms.size());
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  for (int r = 0; r < n; ++r) {
    const auto ri = static_cast<std::size_t>(r);
    if (collective == "all_reduce") {
      check_nccl(ncclAllReduce(ranks.send[ri].get(), ranks.recv[ri].get(), bytes / 2, ncclBfloat16, ncclSum,
                               ranks.comms[ri], ranks.streams[ri]),
                 "ncclAllReduce");
    } else {
      // All-to-all as NCCL's own tests do it: a send and a receive of bytes / n with every rank.
      const std::size_t chunk = bytes / static_cast<std::size_t>(n);
      for (int p = 0; p < n; ++p) {
        const std::size_t off = chunk * static_cast<std::size_t>(p);
        check_nccl(ncclSend(ranks.send[ri].as<char>() + off, chunk, ncclChar, p, ranks.comms[ri], ranks.streams[ri]),
                   "ncclSend");
        check_nccl(ncclRecv(ranks.recv[ri].as<char>() + off, chunk, ncclChar, p, ranks.comms[ri], ranks.streams[ri]),
                   "ncclRecv");
      }
    }
  }
  check_nccl(ncclGroupEnd(), "ncclGroupEnd");
}

}  // namespace
#endif

FamilyResult run_nccl(const Context& ctx) {
  FamilyResult r;
  r.name = "nccl";
  r.started = utc_now();
  r.clocks = clock_fields(ctx);
#if !MOESIM_HAVE_NCCL
  r.skipped = "moesim-calibrate was built without NCCL";
#else
  if (ctx.gpu_count < 2) {
    r.skipped = "needs 2 or more GPUs (" + std::to_string(ctx.gpu_count) + " visible)";
    r.finished = utc_now();
    return r;
  }
  const auto& sizes = ctx.options.quick ? kQuickSizes : kSizes;
  const int repeats = ctx.repeats(10, 5);
  const int warmup = ctx.warmup(3, 1);
  int version = 0;
  ncclGetVersion(&version);
  r.settings = {{"ranks", static_cast<long long>(ctx.gpu_count)},
                {"nccl_version", static_cast<long long>(version)},
                {"repeats", static_cast<long long>(repeats)},
                {"warmup", static_cast<long long>(warmup)},
                {"bytes", std::string("per-rank buffer; all_to_all sends bytes/ranks to each rank (itself included)")},
                {"clock", std::string("host steady_clock, enqueue to completion on every rank")}};
  std::size_t largest = 0;
  for (std::size_t s : sizes) largest = std::max(largest, s);
  Ranks ranks(ctx.gpu_count, largest, ctx.device);
  for (const std::string collective : {"all_reduce", "all_to_all"}) {
    for (std::size_t bytes : sizes) {
      for (int i = 0; i < warmup; ++i) enqueue(ranks, collective, bytes);
      ranks.synchronize();
      std::vector<double> t;
      for (int i = 0; i < repeats; ++i) {
        const double t0 = host_seconds();
        enqueue(ranks, collective, bytes);
        ranks.synchronize();
        t.push_back(host_seconds() - t0);
      }
      Sample s;
      s.set("collective", collective)
          .set("ranks", static_cast<long long>(ctx.gpu_count))
          .set("dtype", std::string(collective == "all_reduce" ? "bf16" : "bytes"))
          .set("bytes", static_cast<long long>(bytes))
          .timing(summarize(std::move(t)));
      r.samples.push_back(std::move(s));
    }
  }
#endif
  r.finished = utc_now();
  return r;
}

}  // namespace moesim::calibrate
