#include "flow_engine.hpp"

#include <simgrid/s4u.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <unordered_map>

namespace sg4 = simgrid::s4u;

namespace moesim::sim::engine {
namespace {

// Compute tasks carry their duration in seconds; hosts run at this nominal speed so that
// flops_amount = seconds x speed. The value only fixes the scale of SimGrid's numbers.
constexpr double kHostSpeed = 1e12;

struct Platform {
  std::vector<sg4::Host*> ports;  ///< one host per fabric port: devices first, then NICs
};

// A star zone per node in which every device owns a full-duplex port (split-duplex link) to the
// node's switch, and one star zone for the scale-out network in which every NIC is a host with
// its own port. A transfer crosses the sender's up link and the receiver's down link, so each
// carries half the end-to-end latency. Zones nest root -> zone, never deeper; no route crosses
// zones (device-to-NIC hops are not modelled: GPUDirect RDMA reads device memory directly).
Platform build_platform(const Fabric& fabric) {
  Platform p;
  const hw::FabricSpec& spec = fabric.spec;
  auto* root = sg4::create_full_zone("cluster");
  auto add_port = [&](sg4::NetZone* zone, const std::string& name, int port) {
    sg4::Host* h = zone->create_host(name, kHostSpeed);
    auto* link = zone->create_split_duplex_link(name + "-port", fabric.port_bandwidth(port))
                     ->set_latency(fabric.port_latency(port) / 2);
    zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr,
                    {{link, sg4::LinkInRoute::Direction::UP}}, true);
    p.ports.push_back(h);
  };
  for (int node = 0; node < spec.nodes; ++node) {
    auto* zone = sg4::create_star_zone("node" + std::to_string(node));
    zone->set_parent(root);
    for (int i = 0; i < spec.devices_per_node; ++i) {
      const int d = node * spec.devices_per_node + i;
      add_port(zone, "dev" + std::to_string(d), d);
    }
    zone->seal();
  }
  if (fabric.num_nics() > 0) {
    auto* zone = sg4::create_star_zone("scale-out");
    zone->set_parent(root);
    for (int nic = 0; nic < fabric.num_nics(); ++nic) {
      add_port(zone, "nic" + std::to_string(nic), fabric.num_devices() + nic);
    }
    zone->seal();
  }
  root->seal();
  return p;
}

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t w = ::write(fd, p, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    size -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t r = ::read(fd, p, size);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    size -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

Timeline run_flow_in_this_process(const StepGraph& g) {
  int argc = 3;
  char arg0[] = "moesim";
  char arg1[] = "--cfg=host/model:ptask_L07";
  char arg2[] = "--log=root.thresh:critical";
  char* argv[] = {arg0, arg1, arg2, nullptr};
  sg4::Engine engine(&argc, argv);
  const Platform platform = build_platform(g.fabric);

  const std::size_t n = g.tasks.size();
  Timeline t;
  t.start.assign(n, 0.0);
  t.finish.assign(n, 0.0);
  std::vector<sg4::ExecPtr> execs(n);
  std::unordered_map<const sg4::Activity*, std::size_t> index;
  index.reserve(n);
  const std::vector<double> no_flops(platform.ports.size(), 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const Task& task = g.tasks[i];
    sg4::ExecPtr e = sg4::Exec::init();
    if (task.is_collective()) {
      e->set_hosts(platform.ports);
      e->set_flops_amounts(no_flops);
      e->set_bytes_amounts(task.traffic->bytes);
    } else {
      e->set_host(platform.ports[static_cast<std::size_t>(task.device)]);
      e->set_flops_amount(task.seconds * kHostSpeed);
    }
    for (int d : task.deps) execs[static_cast<std::size_t>(d)]->add_successor(e);
    index.emplace(e.get(), i);
    execs[i] = e;
  }
  sg4::Activity::on_completion_cb([&](const sg4::Activity& a) {
    auto it = index.find(&a);
    if (it == index.end()) return;
    t.start[it->second] = a.get_start_time();
    t.finish[it->second] = a.get_finish_time();
    ++t.events;
  });
  for (auto& e : execs) e->vetoable_start();
  engine.run();
  t.makespan = engine.get_clock();
  return t;
}

std::expected<Timeline, std::string> run_flow(const StepGraph& graph) {
  int fds[2];
  if (::pipe(fds) != 0) return std::unexpected(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return std::unexpected(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    int rc = 0;
    try {
      const Timeline t = run_flow_in_this_process(graph);
      const std::size_t n = t.start.size();
      const bool ok = write_all(fds[1], &n, sizeof n) &&
                      write_all(fds[1], t.start.data(), n * sizeof(double)) &&
                      write_all(fds[1], t.finish.data(), n * sizeof(double)) &&
                      write_all(fds[1], &t.makespan, sizeof t.makespan) &&
                      write_all(fds[1], &t.events, sizeof t.events);
      rc = ok ? 0 : 3;
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      (void)!::write(STDERR_FILENO, msg.data(), msg.size());
      rc = 4;
    }
    ::close(fds[1]);
    ::_exit(rc);
  }
  ::close(fds[1]);
  Timeline t;
  std::size_t n = 0;
  bool ok = read_all(fds[0], &n, sizeof n) && n == graph.tasks.size();
  if (ok) {
    t.start.resize(n);
    t.finish.resize(n);
    ok = read_all(fds[0], t.start.data(), n * sizeof(double)) &&
         read_all(fds[0], t.finish.data(), n * sizeof(double)) &&
         read_all(fds[0], &t.makespan, sizeof t.makespan) &&
         read_all(fds[0], &t.events, sizeof t.events);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return std::unexpected("the SimGrid simulation crashed (signal " +
                           std::to_string(WTERMSIG(status)) + ", " + strsignal(WTERMSIG(status)) + ")");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ok) {
    return std::unexpected("the SimGrid simulation failed (exit status " +
                           std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  }
  return t;
}

}  // namespace moesim::sim::engine
