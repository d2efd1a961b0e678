#include "sweep.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "flat_json.hpp"
#include "json_reader.hpp"
#include "process_pool.hpp"
#include "input/input.hpp"
#include "units.hpp"

namespace fs = std::filesystem;

namespace moesim::tools {
namespace {

using nlohmann::json;

// More points than this is a spec mistake, not a sweep.
constexpr double kMaxPoints = 1e8;

const std::vector<std::string> kDefaultReportKeys{
    "feasible", "step_time_s", "throughput.output_tokens_per_s", "throughput.input_tokens_per_s",
    "latency.tpot_s.p50", "latency.ttft_s.p50", "memory.per_device_bytes.total",
    "cost.usd_per_million_output_tokens", "reason"};
const std::vector<std::string> kFidelities{"analytic", "flow"};
const std::vector<std::string> kMethods{"random", "latin-hypercube"};

// splitmix64: a small generator whose output is the same on every platform and library.
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

json number_json(double v, bool integer) {
  if (integer) return static_cast<long long>(std::llround(v));
  return v;
}

// Reads the values of one plain axis at `r` (values / range / geometric), or an empty list.
std::vector<json> read_axis_values(ObjectReader& r, Diagnostics& diag) {
  std::vector<json> out;
  const int forms = (r.has("values") ? 1 : 0) + (r.has("range") ? 1 : 0) + (r.has("geometric") ? 1 : 0);
  if (forms != 1) {
    diag.error(r.pointer(), forms == 0 ? "an axis needs its values" : "give one of 'values', 'range', 'geometric'",
               "\"values\": [...], \"range\": {\"from\", \"to\", \"step\"}, \"geometric\": {\"from\", \"to\", \"factor\"}, "
               "or \"sample\": {...}");
    return out;
  }
  if (const json* v = r.raw("values")) {
    if (!v->is_array()) {
      diag.error(r.pointer_to("values"), "expected a list of values, got " + json_type_name(*v));
    } else if (v->empty()) {
      diag.error(r.pointer_to("values"), "empty list: the sweep space would be empty");
    } else {
      out.assign(v->begin(), v->end());
    }
    return out;
  }
  const bool geometric = r.has("geometric");
  ObjectReader g = r.object(geometric ? "geometric" : "range", true);
  if (!g.valid()) return out;
  const char* step_key = geometric ? "factor" : "step";
  auto from = g.number("from", true);
  auto to = g.number("to", true);
  auto step = g.number(step_key, true);
  g.finish();
  if (!from || !to || !step) return out;
  const json* raw_from = g.raw("from");
  const json* raw_step = g.raw(step_key);
  const bool integer = raw_from->is_number_integer() && (geometric || raw_step->is_number_integer());
  if (geometric ? (*step <= 1 || *from <= 0) : *step <= 0) {
    diag.error(g.pointer_to(step_key), geometric ? "needs from > 0 and a factor above 1" : "the step must be above zero");
    return out;
  }
  if (*to < *from) {
    diag.error(g.pointer(), "empty range: 'to' is below 'from'", "from <= to; 'to' is included");
    return out;
  }
  const double count = geometric ? std::floor(std::log(*to / *from) / std::log(*step) + 1e-9) + 1
                                 : std::floor((*to - *from) / *step + 1e-9) + 1;
  if (count > 1e6) {
    diag.error(g.pointer(), "more than 1,000,000 values on one axis");
    return out;
  }
  double x = *from;
  for (int i = 0; i < static_cast<int>(count); ++i) {
    out.push_back(number_json(x, integer));
    x = geometric ? x * *step : *from + (i + 1) * *step;
  }
  return out;
}

std::optional<SampledAxis> read_sampled(ObjectReader& r, const std::string& pointer, Diagnostics& diag) {
  ObjectReader s = r.object("sample", true);
  if (!s.valid()) return std::nullopt;
  SampledAxis a;
  a.spec_pointer = r.pointer();
  a.pointer = pointer;
  a.integer = s.boolean("integer").value_or(false);
  const int forms = (s.has("uniform") ? 1 : 0) + (s.has("log_uniform") ? 1 : 0) + (s.has("choice") ? 1 : 0);
  std::optional<SampledAxis> result;
  if (forms != 1) {
    diag.error(s.pointer(), "give one of 'uniform', 'log_uniform', 'choice'",
               "\"uniform\": [min, max], \"log_uniform\": [min, max], \"choice\": [a, b, ...]");
  } else if (const json* c = s.raw("choice")) {
    a.kind = SampledAxis::Kind::choice;
    if (!c->is_array() || c->empty()) {
      diag.error(s.pointer_to("choice"), "expected a non-empty list of values");
    } else {
      a.choices.assign(c->begin(), c->end());
      result = a;
    }
  } else {
    const std::string key = s.has("uniform") ? "uniform" : "log_uniform";
    a.kind = key == "uniform" ? SampledAxis::Kind::uniform : SampledAxis::Kind::log_uniform;
    const json* b = s.raw(key);
    if (!b->is_array() || b->size() != 2 || !(*b)[0].is_number() || !(*b)[1].is_number()) {
      diag.error(s.pointer_to(key), "expected [min, max]");
    } else {
      a.lo = (*b)[0].get<double>();
      a.hi = (*b)[1].get<double>();
      if (!(a.lo <= a.hi) || (a.kind == SampledAxis::Kind::log_uniform && a.lo <= 0)) {
        diag.error(s.pointer_to(key), "empty interval: needs min <= max (and min > 0 for log_uniform)");
      } else {
        result = a;
      }
    }
  }
  s.finish();
  return result;
}

json draw(const SampledAxis& a, double u) {
  switch (a.kind) {
    case SampledAxis::Kind::choice: {
      const auto i = std::min(a.choices.size() - 1, static_cast<std::size_t>(u * static_cast<double>(a.choices.size())));
      return a.choices[i];
    }
    case SampledAxis::Kind::uniform:
      // Integers: each of lo..hi equally likely.
      if (a.integer) return number_json(std::floor(a.lo + u * (a.hi - a.lo + 1)), true);
      return a.lo + u * (a.hi - a.lo);
    case SampledAxis::Kind::log_uniform: {
      const double v = std::exp(std::log(a.lo) + u * (std::log(a.hi) - std::log(a.lo)));
      return number_json(a.integer ? std::clamp(std::round(v), a.lo, a.hi) : v, a.integer);
    }
  }
  return nullptr;
}

bool is_prefix_pointer(const std::string& prefix, const std::string& pointer) {
  return pointer == prefix || (pointer.size() > prefix.size() && pointer.compare(0, prefix.size(), prefix) == 0 &&
                               pointer[prefix.size()] == '/');
}

// Sets one value by pointer; false (with `error`) when the path runs through a non-object.
bool set_pointer(json& doc, const std::string& pointer, const json& value, std::string& error) {
  try {
    const json::json_pointer p(pointer);
    const json::json_pointer parent = p.parent_pointer();
    if (!parent.empty() && doc.contains(parent) && !doc.at(parent).is_object()) {
      error = parent.to_string() + " is " + json_type_name(doc.at(parent)) + ", not an object";
      return false;
    }
    doc[p] = value;
    return true;
  } catch (const json::exception& e) {
    error = e.what();
    return false;
  }
}

// Checks that every value of an axis, set alone on the base, names an existing scenario field
// and is valid there. Problems elsewhere (combinations) are left to the points themselves.
void check_axis_values(const SweepSpec& spec, const std::string& spec_pointer, const std::vector<Assignment>& values,
                       Diagnostics& diag) {
  std::set<std::string> reported;  // one "does not exist" per pointer
  for (std::size_t v = 0; v < values.size(); ++v) {
    json doc = spec.base;
    std::string error;
    bool ok = true;
    for (const auto& [ptr, val] : values[v]) ok = ok && set_pointer(doc, ptr, val, error);
    if (!ok) {
      diag.error(spec_pointer, "cannot set the value: " + error);
      return;
    }
    Diagnostics d(spec.base_label);
    sim::scenario_from_json(doc, spec.base_dir, d);
    for (const auto& p : d.problems()) {
      if (p.severity != Problem::Severity::error) continue;
      for (const auto& [ptr, val] : values[v]) {
        const bool unknown = p.message.rfind("unknown key", 0) == 0 && is_prefix_pointer(p.pointer, ptr);
        if (unknown && reported.insert(ptr).second) {
          diag.error(spec_pointer, "axis pointer '" + ptr + "' names no scenario field: " + p.pointer + ": " + p.message,
                     p.hint);
        } else if (!unknown && is_prefix_pointer(ptr, p.pointer)) {
          diag.error(spec_pointer, "value " + val.dump() + " is not valid at " + ptr + ": " + p.message, p.hint);
        }
      }
    }
  }
}

}  // namespace

std::size_t SweepSpec::size() const {
  std::size_t n = 1;
  for (const auto& g : grid) n *= g.values.size();
  return n * (sampled.empty() ? 1 : sample_count);
}

std::vector<std::string> SweepSpec::axis_pointers() const {
  std::vector<std::string> out;
  for (const auto& g : grid) out.insert(out.end(), g.pointers.begin(), g.pointers.end());
  for (const auto& s : sampled) out.push_back(s.pointer);
  return out;
}

Assignment SweepSpec::point(std::size_t index) const {
  const std::size_t per_grid = sampled.empty() ? 1 : sample_count;
  std::size_t g = index / per_grid;
  const std::size_t s = index % per_grid;
  // Mixed radix over the grid: the last axis varies fastest.
  std::vector<std::size_t> digit(grid.size());
  for (std::size_t k = grid.size(); k-- > 0;) {
    digit[k] = g % grid[k].values.size();
    g /= grid[k].values.size();
  }
  Assignment out;
  for (std::size_t k = 0; k < grid.size(); ++k) {
    const auto& a = grid[k].values[digit[k]];
    out.insert(out.end(), a.begin(), a.end());
  }
  for (std::size_t k = 0; k < sampled.size(); ++k) out.emplace_back(sampled[k].pointer, samples[s][k]);
  return out;
}

std::vector<std::vector<double>> unit_samples(SampleMethod method, std::size_t count, std::size_t dims,
                                              std::uint64_t seed) {
  SplitMix rng{seed};
  std::vector<std::vector<double>> out(count, std::vector<double>(dims));
  if (method == SampleMethod::random) {
    for (auto& row : out) {
      for (auto& u : row) u = rng.unit();
    }
    return out;
  }
  for (std::size_t d = 0; d < dims; ++d) {
    std::vector<std::size_t> strata(count);
    for (std::size_t i = 0; i < count; ++i) strata[i] = i;
    for (std::size_t i = count; i > 1; --i) std::swap(strata[i - 1], strata[rng.below(i)]);  // Fisher-Yates
    for (std::size_t i = 0; i < count; ++i) {
      out[i][d] = (static_cast<double>(strata[i]) + rng.unit()) / static_cast<double>(count);
    }
  }
  return out;
}

std::optional<SweepSpec> sweep_spec_from_json(const json& doc, const std::string& path, Diagnostics& diag) {
  const std::size_t errors = diag.error_count();
  SweepSpec spec;
  spec.file = path;
  spec.doc = doc;
  ObjectReader r(doc, "", diag);
  if (!r.valid()) return std::nullopt;
  const fs::path spec_dir = fs::path(path).parent_path();
  // The base scenario: a path (relative to the spec) or the scenario itself.
  bool base_ok = false;
  if (const json* b = r.raw("base")) {
    if (b->is_string()) {
      fs::path p(b->get<std::string>());
      if (p.is_relative()) p = spec_dir / p;
      spec.base_label = p.lexically_normal().string();
      spec.base_dir = fs::path(spec.base_label).parent_path().string();
      Diagnostics bd(spec.base_label);
      if (auto j = read_json_file(spec.base_label, bd)) {
        spec.base = *j;
        base_ok = true;
      }
      diag.merge(bd);
    } else if (b->is_object()) {
      spec.base = *b;
      spec.base_label = path + ":/base";
      spec.base_dir = spec_dir.string();
      base_ok = true;
    } else {
      diag.error("/base", "expected a scenario file path or a scenario object, got " + json_type_name(*b));
    }
  } else {
    diag.error("/base", "missing the base scenario", "\"base\": \"scenarios/default.json\" or a scenario object");
  }
  if (base_ok) {
    Diagnostics bd(spec.base_label);
    if (!sim::scenario_from_json(spec.base, spec.base_dir, bd)) {
      diag.error("/base", "the base scenario is invalid", "its problems are listed below; nothing was run");
      base_ok = false;
    }
    diag.merge(bd);
  }

  // Axes.
  const json* axes = r.raw("axes");
  if (axes == nullptr || !axes->is_array() || axes->empty()) {
    diag.error("/axes", axes == nullptr ? "missing the axes" : "expected a non-empty list of axes",
               "[{\"pointer\": \"/workload/batch_per_device\", \"values\": [8, 16, 32]}, ...]");
  } else {
    for (std::size_t i = 0; i < axes->size(); ++i) {
      const std::string ap = "/axes/" + std::to_string(i);
      ObjectReader a((*axes)[i], ap, diag);
      if (!a.valid()) continue;
      if (a.has("zip")) {
        const json& z = *a.raw("zip");
        GridAxis g;
        g.spec_pointer = ap;
        std::vector<std::vector<json>> columns;
        if (!z.is_array() || z.size() < 2) {
          diag.error(a.pointer_to("zip"), "expected a list of two or more axes advanced together");
        } else {
          for (std::size_t k = 0; k < z.size(); ++k) {
            ObjectReader za(z[k], ap + "/zip/" + std::to_string(k), diag);
            if (!za.valid()) continue;
            auto ptr = za.string("pointer", true);
            auto vals = read_axis_values(za, diag);
            za.finish();
            if (!ptr || vals.empty()) continue;
            g.pointers.push_back(*ptr);
            columns.push_back(std::move(vals));
          }
          const bool same = std::all_of(columns.begin(), columns.end(),
                                        [&](const auto& c) { return c.size() == columns[0].size(); });
          if (!same) {
            std::string sizes;
            for (const auto& c : columns) sizes += (sizes.empty() ? "" : ", ") + std::to_string(c.size());
            diag.error(a.pointer_to("zip"), "zipped axes need as many values each (got " + sizes + ")");
          } else if (columns.size() == z.size()) {
            for (std::size_t v = 0; v < columns[0].size(); ++v) {
              Assignment as;
              for (std::size_t k = 0; k < columns.size(); ++k) as.emplace_back(g.pointers[k], columns[k][v]);
              g.values.push_back(std::move(as));
            }
            spec.grid.push_back(std::move(g));
          }
        }
        a.finish();
        continue;
      }
      auto ptr = a.string("pointer", true);
      if (ptr && (ptr->empty() || (*ptr)[0] != '/')) {
        diag.error(a.pointer_to("pointer"), "a JSON pointer starts with '/'", "e.g. \"/workload/batch_per_device\"");
        ptr.reset();
      }
      if (a.has("sample")) {
        if (ptr) {
          if (auto s = read_sampled(a, *ptr, diag)) spec.sampled.push_back(std::move(*s));
        }
      } else {
        auto vals = read_axis_values(a, diag);
        if (ptr && !vals.empty()) {
          GridAxis g;
          g.spec_pointer = ap;
          g.pointers = {*ptr};
          for (auto& v : vals) g.values.push_back({{*ptr, std::move(v)}});
          spec.grid.push_back(std::move(g));
        }
      }
      a.finish();
    }
  }
  // Two axes on one field would make the later one win silently.
  std::map<std::string, int> seen;
  for (const auto& p : spec.axis_pointers()) {
    if (++seen[p] == 2) diag.error("/axes", "two axes set " + p, "use one axis (or a zip) per field");
  }

  // Sampling.
  ObjectReader s = r.object("samples");
  if (s.valid()) {
    if (auto m = s.choice("method", kMethods)) {
      spec.method = *m == "random" ? SampleMethod::random : SampleMethod::latin_hypercube;
    }
    spec.sample_count = static_cast<std::size_t>(s.integer("count", true, 0, 10000000).value_or(0));
    spec.seed = static_cast<std::uint64_t>(s.integer("seed", false, 0).value_or(1));
    if (s.has("count") && spec.sample_count == 0) diag.error(s.pointer_to("count"), "zero samples: the sweep space would be empty");
    s.finish();
  }
  if (!spec.sampled.empty() && !s.valid()) {
    diag.error("/samples", "sampled axes need \"samples\": {\"method\", \"count\", \"seed\"}",
               "method: " + join_names(kMethods));
  }
  if (spec.sampled.empty() && s.valid()) {
    diag.error("/samples", "no axis is sampled", "give an axis \"sample\": {\"uniform\": [min, max]}");
  }

  if (auto f = r.choice("fidelity", kFidelities)) spec.fidelity = *f;
  if (auto t = r.quantity("timeout", Dimension::time)) spec.timeout_s = *t;
  if (const json* k = r.raw("report_keys")) {
    if (!k->is_array() || k->empty() || !std::all_of(k->begin(), k->end(), [](const json& x) { return x.is_string(); })) {
      diag.error("/report_keys", "expected a list of report keys", "e.g. [\"step_time_s\", \"latency.tpot_s.p50\"]");
    } else {
      for (const auto& x : *k) spec.report_keys.push_back(x.get<std::string>());
    }
  } else {
    spec.report_keys = kDefaultReportKeys;
  }
  r.string("description");
  r.finish();

  double total = 1;
  for (const auto& g : spec.grid) total *= static_cast<double>(g.values.size());
  if (!spec.sampled.empty()) total *= static_cast<double>(spec.sample_count);
  if (total > kMaxPoints) {
    diag.error("/axes", "the sweep has more than 100,000,000 points, the most one spec enumerates",
               "sample the space instead (\"samples\": {\"method\": \"latin-hypercube\", \"count\": N} over sampled axes), "
               "or split the axes over several specs");
  }
  if (diag.error_count() != errors) return std::nullopt;

  if (!spec.sampled.empty()) {
    const auto u = unit_samples(spec.method, spec.sample_count, spec.sampled.size(), spec.seed);
    spec.samples.resize(spec.sample_count);
    for (std::size_t i = 0; i < spec.sample_count; ++i) {
      for (std::size_t k = 0; k < spec.sampled.size(); ++k) spec.samples[i].push_back(draw(spec.sampled[k], u[i][k]));
    }
  }
  if (base_ok) {
    for (const auto& g : spec.grid) check_axis_values(spec, g.spec_pointer, g.values, diag);
    for (std::size_t k = 0; k < spec.sampled.size(); ++k) {
      // The interval's ends (or every choice) stand for the whole axis.
      const SampledAxis& a = spec.sampled[k];
      std::vector<Assignment> ends;
      if (a.kind == SampledAxis::Kind::choice) {
        for (const auto& c : a.choices) ends.push_back({{a.pointer, c}});
      } else {
        ends = {{{a.pointer, draw(a, 0)}}, {{a.pointer, draw(a, 0.999999999)}}};
      }
      check_axis_values(spec, a.spec_pointer, ends, diag);
    }
  }
  if (diag.error_count() != errors) return std::nullopt;
  return spec;
}

std::optional<SweepSpec> load_sweep_spec(const std::string& path, Diagnostics& diag) {
  auto doc = read_json_file(path, diag);
  if (!doc) return std::nullopt;
  return sweep_spec_from_json(*doc, path, diag);
}

json apply_point(const SweepSpec& spec, const Assignment& point) {
  json doc = spec.base;
  std::string error;
  for (const auto& [ptr, val] : point) set_pointer(doc, ptr, val, error);  // checked when the spec was read
  // The point's scenario is written elsewhere: anchor relative paths at the base's folder.
  for (const char* key : {"/model/hf_config", "/hw_profile"}) {
    const json::json_pointer p(key);
    if (doc.contains(p) && doc.at(p).is_string()) {
      fs::path f(doc.at(p).get<std::string>());
      if (f.is_relative()) doc[p] = fs::absolute(fs::path(spec.base_dir) / f).lexically_normal().string();
    }
  }
  return doc;
}

std::vector<std::size_t> shard_points(std::size_t total, int shard, int shards) {
  std::vector<std::size_t> out;
  for (std::size_t i = static_cast<std::size_t>(shard); i < total; i += static_cast<std::size_t>(shards)) out.push_back(i);
  return out;
}

std::optional<std::pair<int, int>> parse_shard(const std::string& text, std::string& error) {
  int i = -1, n = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%d/%d%c", &i, &n, &extra) != 2 || n < 1 || i < 0 || i >= n) {
    error = "--shard " + text + ": expected i/N with 0 <= i < N (e.g. 0/4 ... 3/4; Slurm: "
            "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with --array=0-(N-1))";
    return std::nullopt;
  }
  return std::make_pair(i, n);
}

json result_row(const SweepSpec& spec, std::size_t index, const std::string& status, const std::string& error,
                const std::optional<json>& report, double seconds) {
  json axes = json::object();
  for (const auto& [ptr, val] : spec.point(index)) axes[ptr] = val;
  json row = {{"point", index}, {"status", status}, {"axes", axes}, {"seconds", seconds}};
  row["error"] = error.empty() ? json(nullptr) : json(error);
  row["report"] = report ? *report : json(nullptr);
  return row;
}

std::string csv_header(const SweepSpec& spec) {
  std::vector<json> cells{"point"};
  for (const auto& p : spec.axis_pointers()) cells.emplace_back(p);
  cells.emplace_back("status");
  for (const auto& k : spec.report_keys) cells.emplace_back(k);
  cells.emplace_back("error");
  return csv_line(cells);
}

std::string csv_row(const SweepSpec& spec, const json& row) {
  std::vector<json> cells{row.at("point")};
  for (const auto& p : spec.axis_pointers()) cells.push_back(row.at("axes").value(p, json(nullptr)));
  cells.push_back(row.at("status"));
  for (const auto& k : spec.report_keys) {
    auto v = row.at("report").is_object() ? lookup(row.at("report"), k) : std::nullopt;
    cells.push_back(v ? *v : json(nullptr));
  }
  cells.push_back(row.value("error", json(nullptr)));
  return csv_line(cells);
}

}  // namespace moesim::tools
