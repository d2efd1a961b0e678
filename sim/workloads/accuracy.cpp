#include "workloads/accuracy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <expected>
#include <map>

#include "embedded.hpp"
#include "workloads/simulate.hpp"
#include "workloads/uncertainty.hpp"

// Generated at build time (cmake/embed.cmake): data/validation/cases.json and scenarios/*.json.
std::vector<moesim::EmbeddedFile> moesim_builtin_validation_cases();
std::vector<moesim::EmbeddedFile> moesim_builtin_scenarios();

namespace moesim::sim {
namespace {

using Reports = std::map<std::string, nlohmann::json>;

std::expected<Timeline, std::string> no_flow(const StepGraph&) {
  return std::unexpected(std::string("validation cases run in closed form"));
}

// A case's scenario: inline, or {"scenario_file": NAME} of the compiled-in scenarios/.
std::expected<Scenario, std::string> scenario_of(const nlohmann::json& doc, const std::string& pointer) {
  nlohmann::json text = doc;
  if (doc.is_object() && doc.contains("scenario_file")) {
    const std::string name = doc["scenario_file"].is_string() ? doc["scenario_file"].get<std::string>() : "";
    std::vector<std::string> names;
    text = nullptr;
    for (const auto& f : moesim_builtin_scenarios()) {
      names.push_back(f.name);
      if (f.name == name) text = nlohmann::json::parse(f.text, nullptr, false);
    }
    if (text.is_null()) {
      return std::unexpected(pointer + "/scenario_file: no scenario '" + name + "' (valid: " + join_names(names) + ")");
    }
  }
  Diagnostics diag(pointer);
  auto s = scenario_from_json(text, "", diag);
  if (!s) return std::unexpected("the scenario at " + pointer + " no longer reads: " + diag.to_string());
  s->fidelity = Fidelity::analytic;
  return *s;
}

// Evaluates a value expression over the runs' reports.
std::expected<double, std::string> evaluate(const nlohmann::json& e, const Reports& reports, const std::string& pointer) {
  if (!e.is_object()) return std::unexpected(pointer + ": expected an expression object");
  if (e.contains("constant") && e["constant"].is_number()) return e["constant"].get<double>();
  if (e.contains("ratio")) {
    const auto& r = e["ratio"];
    if (!r.is_array() || r.size() != 2) return std::unexpected(pointer + "/ratio: expected [numerator, denominator]");
    auto a = evaluate(r[0], reports, pointer + "/ratio/0");
    auto b = evaluate(r[1], reports, pointer + "/ratio/1");
    if (!a) return a;
    if (!b) return b;
    if (*b == 0) return std::unexpected(pointer + "/ratio/1: is zero");
    return *a / *b;
  }
  if (e.contains("report") && e["report"].is_string()) {
    std::string of = e.value("of", std::string());
    if (of.empty() && reports.size() == 1) of = reports.begin()->first;
    auto it = reports.find(of);
    if (it == reports.end()) return std::unexpected(pointer + "/of: no scenario '" + of + "' in this metric");
    const std::string key = e["report"].get<std::string>();
    if (auto v = report_value(it->second, key)) return *v;
    return std::unexpected(pointer + "/report: the report of '" + of + "' has no number at '" + key + "'");
  }
  return std::unexpected(pointer + ": unknown expression (valid: {\"report\": KEY, \"of\": SCENARIO}, "
                         "{\"constant\": X}, {\"ratio\": [A, B]})");
}

struct Prepared {
  std::vector<std::pair<std::string, Scenario>> scenarios;
  std::vector<UncertainFigure> figures;  // the union over the scenarios, by id
};

// Runs every scenario with the figures scaled by `factors` (by figure id) and evaluates the value.
std::expected<double, std::string> predict(const Prepared& p, const nlohmann::json& value, const std::string& pointer,
                                           const std::map<std::string, double>& factors, std::uint64_t seed_offset) {
  Reports reports;
  for (const auto& [name, s] : p.scenarios) {
    const auto figures = uncertain_figures(s);
    std::vector<double> f(figures.size(), 1.0);
    for (std::size_t i = 0; i < figures.size(); ++i) {
      if (auto it = factors.find(figures[i].id()); it != factors.end()) f[i] = it->second;
    }
    ScaledScenario scaled = scale_figures(s, figures, f);
    scaled.scenario.routing.seed += seed_offset;
    auto r = simulate(scaled.scenario, no_flow);
    if (!r) return std::unexpected("scenario '" + name + "' failed: " + r.error());
    if (!r->simulated) return std::unexpected("scenario '" + name + "' has no timing: " + r->reason);
    reports[name] = r->to_json();
  }
  return evaluate(value, reports, pointer + "/value");
}

AccuracyRow run_metric(const std::string& id, const nlohmann::json& m, const std::string& pointer,
                       const AccuracyOptions& opt) {
  AccuracyRow row;
  row.case_id = id;
  row.metric = m.value("metric", std::string());
  row.workload = m.value("workload", std::string());
  row.note = m.value("note", std::string());
  row.counts = m.value("counts", true);
  row.published = m.value("published", 0.0);
  if (row.published == 0) {
    row.failure = pointer + "/published: expected a non-zero published value";
    return row;
  }
  Prepared p;
  const auto scenarios = m.value("scenarios", nlohmann::json::object());
  if (!scenarios.is_object() || scenarios.empty()) {
    row.failure = pointer + "/scenarios: expected an object of named scenarios";
    return row;
  }
  for (const auto& [name, doc] : scenarios.items()) {
    auto s = scenario_of(doc, pointer + "/scenarios/" + name);
    if (!s) {
      row.failure = s.error();
      return row;
    }
    if (p.scenarios.empty()) {
      const hw::Device& d = *s->cluster.device;
      row.device_class = d.architecture.empty() ? d.kind : d.architecture;
      row.family = s->model.config.family;
    }
    for (auto& f : uncertain_figures(*s)) {
      if (std::none_of(p.figures.begin(), p.figures.end(), [&](const auto& g) { return g.id() == f.id(); })) {
        p.figures.push_back(f);
      }
    }
    p.scenarios.emplace_back(name, *std::move(s));
  }
  const nlohmann::json value = m.value("value", nlohmann::json());
  auto nominal = predict(p, value, pointer, {}, 0);
  if (!nominal) {
    row.failure = nominal.error();
    return row;
  }
  row.predicted = *nominal;
  if (opt.samples < 2) return row;
  const auto u = latin_hypercube(p.figures.size(), opt.samples, opt.seed);
  std::vector<std::optional<double>> values(static_cast<std::size_t>(opt.samples));
  parallel_for(opt.samples, std::max(1, opt.jobs), [&](int i) {
    std::map<std::string, double> factors;
    for (std::size_t d = 0; d < p.figures.size(); ++d) {
      factors[p.figures[d].id()] = spread_factor(p.figures[d].uncertainty, u[static_cast<std::size_t>(i)][d]);
    }
    auto v = predict(p, value, pointer, factors, 1 + static_cast<std::uint64_t>(i));
    if (v) values[static_cast<std::size_t>(i)] = *v;
  });
  std::vector<double> ok;
  for (const auto& v : values) {
    if (v) ok.push_back(*v);
  }
  if (ok.size() >= 2) row.interval = p10_p50_p90(std::move(ok));
  return row;
}

double median(std::vector<double> v) { return v.empty() ? 0.0 : percentile(std::move(v), 0.5); }

std::string pct(double x, const char* f = "%+.1f%%") {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, 100 * x);
  return buf;
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}


}  // namespace

const nlohmann::json& builtin_validation_cases() {
  static const nlohmann::json doc = [] {
    for (const auto& f : moesim_builtin_validation_cases()) return nlohmann::json::parse(f.text, nullptr, false);
    return nlohmann::json();
  }();
  return doc;
}

std::vector<AccuracyRow> run_accuracy(const nlohmann::json& doc, const AccuracyOptions& opt) {
  std::vector<AccuracyRow> rows;
  if (!doc.is_object() || !doc.contains("cases") || !doc["cases"].is_array()) return rows;
  const auto& cases = doc["cases"];
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const std::string id = cases[c].value("id", std::string());
    if (!opt.only.empty() && id != opt.only) continue;
    const auto predict = cases[c].find("predict");
    if (predict == cases[c].end() || !predict->is_array()) continue;
    for (std::size_t m = 0; m < predict->size(); ++m) {
      rows.push_back(run_metric(id, (*predict)[m], "/cases/" + std::to_string(c) + "/predict/" + std::to_string(m), opt));
    }
  }
  return rows;
}

std::vector<AccuracyRow> run_accuracy(const AccuracyOptions& opt) { return run_accuracy(builtin_validation_cases(), opt); }

AccuracySummary summarize_accuracy(const std::vector<AccuracyRow>& rows) {
  AccuracySummary s;
  std::vector<double> errors, widths;
  for (const auto& r : rows) {
    ++s.rows;
    if (!r.predicted) ++s.failed;
    if (!r.counts || !r.predicted) continue;
    ++s.counted;
    const double e = std::abs(*r.error());
    errors.push_back(e);
    if (e > s.max_abs_error) {
      s.max_abs_error = e;
      s.max_case = r.case_id;
    }
    if (r.interval) {
      ++s.with_interval;
      s.covered += r.covered();
      widths.push_back((r.interval->p90 - r.interval->p10) / (2 * r.interval->p50));
    }
  }
  s.median_abs_error = median(errors);
  s.median_half_width = median(widths);
  return s;
}

std::string accuracy_markdown(const std::vector<AccuracyRow>& rows) {
  bool intervals = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.interval.has_value(); });
  std::string o = "| case | metric | published | predicted | error |" + std::string(intervals ? " p10 – p90 | covered |" : "") +
                  " counts |\n|---|---|---|---|---|" + (intervals ? "---|---|" : "") + "---|\n";
  for (const auto& r : rows) {
    std::string metric = r.metric;
    std::replace(metric.begin(), metric.end(), '|', '/');
    o += "| " + r.case_id + " | " + metric + " | " + num(r.published) + " | " +
         (r.predicted ? num(*r.predicted) : "FAILED: " + r.failure) + " | " + (r.predicted ? pct(*r.error()) : "–") + " |";
    if (intervals) {
      o += r.interval ? " " + num(r.interval->p10) + " – " + num(r.interval->p90) + " | " + (r.covered() ? "yes" : "no") + " |"
                      : " – | – |";
    }
    o += std::string(r.counts ? " yes" : " no") + (r.note.empty() ? "" : ": " + r.note) + " |\n";
  }
  const AccuracySummary s = summarize_accuracy(rows);
  o += "\nMedian |error| over " + std::to_string(s.counted) + " counted metrics: " + pct(s.median_abs_error, "%.1f%%") +
       "; largest: " + pct(s.max_abs_error, "%.1f%%") + " (" + s.max_case + ")";
  if (s.failed > 0) o += "; " + std::to_string(s.failed) + " failed";
  o += ".\n";
  if (s.with_interval > 0) {
    o += "The p10 – p90 interval holds the published value in " + std::to_string(s.covered) + " of " +
         std::to_string(s.with_interval) + " counted metrics; median half-width " + pct(s.median_half_width, "%.1f%%") + ".\n";
  }
  return o;
}

nlohmann::json accuracy_json(const std::vector<AccuracyRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json j = {{"case", r.case_id}, {"metric", r.metric}, {"workload", r.workload}, {"counts", r.counts},
                        {"published", r.published}, {"device_class", r.device_class}, {"family", r.family}};
    if (r.predicted) {
      j["predicted"] = *r.predicted;
      j["error"] = *r.error();
    } else {
      j["failure"] = r.failure;
    }
    if (!r.note.empty()) j["note"] = r.note;
    if (r.interval) {
      j["interval"] = {{"p10", r.interval->p10}, {"p50", r.interval->p50}, {"p90", r.interval->p90}};
      j["covered"] = r.covered();
    }
    out.push_back(j);
  }
  const AccuracySummary s = summarize_accuracy(rows);
  nlohmann::json summary = {{"metrics", s.rows}, {"counted", s.counted}, {"failed", s.failed},
                            {"median_abs_error", s.median_abs_error}, {"max_abs_error", s.max_abs_error},
                            {"max_case", s.max_case}};
  if (s.with_interval > 0) {
    summary["with_interval"] = s.with_interval;
    summary["covered"] = s.covered;
    summary["median_half_width"] = s.median_half_width;
  }
  return {{"cases", out}, {"summary", summary}};
}

std::string accuracy_junit(const std::vector<AccuracyRow>& rows, double tolerance) {
  int failures = 0, skipped = 0;
  std::string body;
  for (const auto& r : rows) {
    body += "  <testcase classname=\"" + xml_escape(r.case_id) + "\" name=\"" + xml_escape(r.metric) + "\">\n";
    if (!r.predicted) {
      ++failures;
      body += "    <failure message=\"no prediction\">" + xml_escape(r.failure) + "</failure>\n";
    } else if (!r.counts) {
      ++skipped;
      body += "    <skipped message=\"" + xml_escape("does not count: " + r.note) + "\"/>\n";
    } else if (std::abs(*r.error()) > tolerance) {
      ++failures;
      body += "    <failure message=\"" + xml_escape("error " + pct(*r.error()) + " beyond " + pct(tolerance, "%.0f%%")) +
              "\">predicted " + num(*r.predicted) + ", published " + num(r.published) + "</failure>\n";
    }
    body += "  </testcase>\n";
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"moesim accuracy\" tests=\"" +
         std::to_string(rows.size()) + "\" failures=\"" + std::to_string(failures) + "\" skipped=\"" +
         std::to_string(skipped) + "\">\n" + body + "</testsuite>\n";
}

}  // namespace moesim::sim
