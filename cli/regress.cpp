#include "regress.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "file_io.hpp"
#include "flat_json.hpp"
#include "json_reader.hpp"
#include "process_pool.hpp"
#include "report/report.hpp"
#include "workloads/workloads.hpp"

namespace fs = std::filesystem;

namespace moesim::tools {
namespace {

const std::vector<std::string> kFidelities{"analytic", "flow"};

std::string percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g%%", 100 * x);
  return buf;
}

std::string tolerance_text(const BaselineKey& k) {
  if (!k.value.is_number()) return "exact";
  std::string t;
  if (k.rel_tol > 0) t = percent(k.rel_tol);
  if (k.abs_tol > 0) t += (t.empty() ? "" : " or ") + short_number(k.abs_tol);
  return t.empty() ? "exact" : t;
}

// The new run's interval of a key: (p10, p50, p90), when the report has one.
std::optional<std::array<double, 3>> interval_of(const nlohmann::json& report, const std::string& key) {
  const auto it = report.find("intervals");
  if (it == report.end() || !it->contains(key)) return std::nullopt;
  const auto& iv = (*it)[key];
  return std::array<double, 3>{iv.value("p10", 0.0), iv.value("p50", 0.0), iv.value("p90", 0.0)};
}

double relative_width(const std::array<double, 3>& iv) { return iv[1] != 0 ? (iv[2] - iv[0]) / std::abs(iv[1]) : 0.0; }

// A baseline with intervals: its nominal must lie in the new interval, and the interval may not
// widen beyond the key's width tolerance.
void check_interval(const BaselineKey& k, const nlohmann::json& report, double want, KeyCheck& c) {
  const auto iv = interval_of(report, k.key);
  if (!iv) return;
  auto fail = [&](const std::string& why) {
    c.pass = false;
    c.why += (c.why.empty() ? "" : "; ") + why;
  };
  if (want < (*iv)[0] || want > (*iv)[2]) {
    fail("the baseline's " + short_number(want) + " left the new p10-p90 interval [" + short_number((*iv)[0]) + ", " +
         short_number((*iv)[2]) + "]");
  }
  if (k.interval_width && k.width_tol && relative_width(*iv) > *k.interval_width * (1 + *k.width_tol)) {
    fail("the interval widened from " + percent(*k.interval_width) + " to " + percent(relative_width(*iv)) +
         " of p50, beyond " + percent(*k.width_tol));
  }
}

}  // namespace

std::optional<Baseline> load_baseline(const std::string& path, Diagnostics& diag) {
  auto doc = read_json_file(path, diag);
  if (!doc) return std::nullopt;
  const std::size_t errors = diag.error_count();
  Baseline b;
  b.file = path;
  b.name = fs::path(path).stem().string();
  b.doc = *doc;
  ObjectReader r(*doc, "", diag);
  if (auto s = r.string("scenario", true)) {
    fs::path p(*s);
    if (p.is_relative()) p = fs::path(path).parent_path() / p;
    b.scenario = p.lexically_normal().string();
    if (!fs::exists(b.scenario)) {
      diag.error("/scenario", "scenario file '" + b.scenario + "' does not exist",
                 "a path relative to the baseline's folder");
    }
  }
  if (auto f = r.choice("fidelity", kFidelities)) b.fidelity = *f;
  if (ObjectReader u = r.object("uncertainty"); u.valid()) {
    b.uncertainty = static_cast<int>(u.integer("samples", true, 2, sim::kMaxUncertaintySamples).value_or(0));
    u.finish();
  }
  r.string("description");
  ObjectReader keys = r.object("keys", true);
  if (keys.valid()) {
    const auto& obj = doc->at("keys");
    if (obj.empty()) diag.error("/keys", "no keys to compare", "e.g. \"step_time_s\": {\"rel_tol\": 0.01}");
    for (const auto& [name, _] : obj.items()) {
      ObjectReader k = keys.object(name, true);
      if (!k.valid()) continue;
      BaselineKey bk;
      bk.key = name;
      if (const auto* v = k.raw("value")) bk.value = *v;
      bk.rel_tol = k.number("rel_tol", false, 0).value_or(0);
      bk.abs_tol = k.number("abs_tol", false, 0).value_or(0);
      bk.interval_width = k.number("interval_width", false, 0);
      bk.width_tol = k.number("width_tol", false, 0);
      if ((bk.interval_width || bk.width_tol) && !doc->contains("uncertainty")) {
        diag.error(k.pointer(), "an interval check needs the baseline's \"uncertainty\": {\"samples\": N}",
                   "add it at the top of the baseline, or remove interval_width / width_tol");
      }
      const bool has_tol = k.has("rel_tol") || k.has("abs_tol");
      if (bk.value.is_object() || bk.value.is_array()) {
        diag.error(k.pointer_to("value"), "a baseline value is one report leaf (number, string or boolean)");
      } else if (!bk.value.is_null() && !bk.value.is_number() && has_tol) {
        diag.error(k.pointer(), "a tolerance applies to numbers only", "non-numbers are compared exactly");
      }
      k.finish();
      b.keys.push_back(std::move(bk));
    }
  }
  r.finish();
  if (diag.error_count() != errors) return std::nullopt;
  return b;
}

std::vector<KeyCheck> compare_with_baseline(const Baseline& baseline, const nlohmann::json& report) {
  std::vector<KeyCheck> out;
  for (const auto& k : baseline.keys) {
    KeyCheck c;
    c.key = k.key;
    c.want = k.value;
    c.tolerance = tolerance_text(k);
    auto got = lookup(report, k.key);
    if (got) c.got = *got;
    if (k.value.is_null()) {
      c.why = "no baseline value (run moesim regress --update)";
    } else if (!got) {
      c.why = "the report has no key '" + k.key + "'";
    } else if (k.value.is_number() && got->is_number()) {
      const double want = k.value.get<double>(), g = got->get<double>();
      const double delta = std::abs(g - want);
      c.diff = want != 0 ? delta / std::abs(want) : delta;
      c.pass = delta <= std::max(k.abs_tol, k.rel_tol * std::abs(want));
      if (!c.pass) c.why = "moved " + (want != 0 ? percent(c.diff) : short_number(delta)) + ", beyond its tolerance";
      if (baseline.uncertainty > 0) check_interval(k, report, want, c);
    } else {
      c.pass = k.value == *got;
      if (!c.pass) c.why = "expected " + k.value.dump() + ", got " + got->dump();
    }
    out.push_back(std::move(c));
  }
  return out;
}

bool BaselineResult::pass() const {
  return error.empty() && std::all_of(checks.begin(), checks.end(), [](const KeyCheck& c) { return c.pass; });
}

std::string diff_table(const std::vector<BaselineResult>& results) {
  std::size_t wb = 8, wk = 3;
  for (const auto& r : results) {
    wb = std::max(wb, r.name.size());
    for (const auto& c : r.checks) wk = std::max(wk, c.key.size());
  }
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-*s  %12s  %12s  %9s  %9s  %s\n", static_cast<int>(wb), "baseline",
                static_cast<int>(wk), "key", "baseline", "now", "change", "tolerance", "status");
  out += line;
  for (const auto& r : results) {
    if (!r.error.empty()) {
      out += r.name + ": RUN FAILED: " + r.error + "\n";
      continue;
    }
    for (const auto& c : r.checks) {
      const std::string change = c.want.is_number() && c.got.is_number() ? percent(c.diff) : "";
      std::snprintf(line, sizeof line, "%-*s  %-*s  %12s  %12s  %9s  %9s  %s\n", static_cast<int>(wb), r.name.c_str(),
                    static_cast<int>(wk), c.key.c_str(), short_number(c.want).c_str(),
                    c.got.is_null() ? "-" : short_number(c.got).c_str(), change.c_str(), c.tolerance.c_str(),
                    c.pass ? "ok" : ("DRIFT: " + c.why).c_str());
      out += line;
    }
  }
  return out;
}

std::string junit_xml(const std::vector<BaselineResult>& results) {
  int tests = 0, failures = 0, errors = 0;
  double seconds = 0;
  for (const auto& r : results) {
    seconds += r.seconds;
    if (!r.error.empty()) {
      ++tests;
      ++errors;
      continue;
    }
    for (const auto& c : r.checks) {
      ++tests;
      failures += c.pass ? 0 : 1;
    }
  }
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  char head[256];
  std::snprintf(head, sizeof head,
                "<testsuites name=\"moesim regress\" tests=\"%d\" failures=\"%d\" errors=\"%d\" time=\"%.3f\">\n",
                tests, failures, errors, seconds);
  x += head;
  for (const auto& r : results) {
    const int n = r.error.empty() ? static_cast<int>(r.checks.size()) : 1;
    int f = 0;
    for (const auto& c : r.checks) f += c.pass ? 0 : 1;
    std::snprintf(head, sizeof head, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" time=\"%.3f\">\n", n,
                  r.error.empty() ? f : 0, r.error.empty() ? 0 : 1, r.seconds);
    x += "  <testsuite name=\"" + sim::xml_escape(r.name) + head;
    x += "    <properties><property name=\"scenario\" value=\"" + sim::xml_escape(r.scenario) + "\"/></properties>\n";
    if (!r.error.empty()) {
      x += "    <testcase classname=\"regress." + sim::xml_escape(r.name) + "\" name=\"run\">\n";
      x += "      <error message=\"the scenario did not run\">" + sim::xml_escape(r.error) + "</error>\n";
      x += "    </testcase>\n";
    }
    for (const auto& c : r.error.empty() ? r.checks : std::vector<KeyCheck>{}) {
      x += "    <testcase classname=\"regress." + sim::xml_escape(r.name) + "\" name=\"" + sim::xml_escape(c.key) + "\"";
      if (c.pass) {
        x += "/>\n";
        continue;
      }
      x += ">\n      <failure message=\"" + sim::xml_escape(c.why) + "\">baseline " + sim::xml_escape(c.want.dump()) +
           ", now " + sim::xml_escape(c.got.dump()) + "</failure>\n    </testcase>\n";
    }
    x += "  </testsuite>\n";
  }
  return x + "</testsuites>\n";
}

std::string markdown_summary(const std::vector<BaselineResult>& results) {
  int drifted = 0, failed_runs = 0, keys = 0;
  for (const auto& r : results) {
    failed_runs += r.error.empty() ? 0 : 1;
    for (const auto& c : r.checks) {
      ++keys;
      drifted += c.pass || !r.error.empty() ? 0 : 1;
    }
  }
  std::string md = "## moesim regress: ";
  md += drifted == 0 && failed_runs == 0 ? "no drift" : "DRIFT";
  md += "\n\n" + std::to_string(results.size()) + " baselines, " + std::to_string(keys) + " keys, " +
        std::to_string(drifted) + " drifted, " + std::to_string(failed_runs) + " runs failed.\n\n";
  md += "| baseline | scenario | result |\n|---|---|---|\n";
  for (const auto& r : results) {
    md += "| " + r.name + " | `" + r.scenario + "` | " +
          (!r.error.empty() ? "run failed" : r.pass() ? "ok" : "drift") + " |\n";
  }
  if (drifted + failed_runs == 0) return md;
  md += "\n| baseline | key | baseline | now | change |\n|---|---|---|---|---|\n";
  for (const auto& r : results) {
    if (!r.error.empty()) {
      std::string e = r.error.substr(0, 300);
      std::replace(e.begin(), e.end(), '\n', ' ');
      std::replace(e.begin(), e.end(), '|', '/');
      md += "| " + r.name + " | (run) | | | failed: " + e + " |\n";
      continue;
    }
    for (const auto& c : r.checks) {
      if (c.pass) continue;
      md += "| " + r.name + " | `" + c.key + "` | " + short_number(c.want) + " | " +
            (c.got.is_null() ? "-" : short_number(c.got)) + " | " + c.why + " |\n";
    }
  }
  return md;
}

nlohmann::json updated_baseline(const Baseline& baseline, const nlohmann::json& report,
                                std::vector<std::string>& missing) {
  nlohmann::json doc = baseline.doc;
  for (const auto& k : baseline.keys) {
    auto got = lookup(report, k.key);
    if (!got || got->is_null()) {
      missing.push_back(k.key);
      continue;
    }
    doc["keys"][k.key]["value"] = *got;
    if (auto iv = interval_of(report, k.key); iv && baseline.uncertainty > 0) {
      doc["keys"][k.key]["interval_width"] = relative_width(*iv);
    }
  }
  return doc;
}

std::string missing_keys_error(const Baseline& baseline, const nlohmann::json& report,
                               const std::vector<std::string>& missing) {
  std::vector<std::string> report_keys;
  for (const auto& [key, value] : flatten(report)) report_keys.push_back(key);
  std::string text = "the report has no ";
  for (std::size_t i = 0; i < missing.size(); ++i) {
    text += (i == 0 ? "" : ", ") + std::string("'") + missing[i] + "'";
    const std::string near = closest_name(missing[i], report_keys);
    if (!near.empty()) text += " (did you mean '" + near + "'?)";
  }
  return text + "; --update never drops a watched key: rename it or delete it in " + baseline.file +
         " (its tolerance goes with it), then run --update again";
}

int cmd_regress(const RegressOptions& options) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::is_directory(options.dir, ec)) {
    std::cerr << options.dir << ": not a folder of baselines\n";
    return 1;
  }
  for (const auto& e : fs::directory_iterator(options.dir, ec)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << options.dir << ": no baseline files (*.json) in this folder\n";
    return 1;
  }
  std::vector<Baseline> baselines;
  bool bad = false;
  for (const auto& f : files) {
    Diagnostics diag(f);
    auto b = load_baseline(f, diag);
    for (const auto& p : diag.problems()) std::cerr << p.to_string() << "\n";
    if (b) baselines.push_back(std::move(*b));
    bad = bad || !b;
  }
  if (bad) return 1;  // every problem listed, nothing run

  const fs::path work = fs::temp_directory_path() / ("moesim-regress-" + std::to_string(getpid()));
  fs::create_directories(work, ec);
  auto make_run = [&](std::size_t i) {
    const Baseline& b = baselines[i];
    return ScenarioRun{b.scenario, b.fidelity, (work / b.name).string(), 0, b.uncertainty};
  };
  std::vector<BaselineResult> results(baselines.size());
  int rc = 0;
  const bool complete = run_scenarios(baselines.size(), parallel_slots(options.jobs), make_run,
                                      [&](std::size_t i, const ScenarioOutcome& o) {
    const Baseline& b = baselines[i];
    BaselineResult& r = results[i];
    r.name = b.name;
    r.scenario = b.scenario;
    r.seconds = o.seconds;
    if (!o.report) {
      r.error = o.error;
      return;
    }
    if (options.update) {
      std::vector<std::string> missing;
      const auto doc = updated_baseline(b, *o.report, missing);
      if (!missing.empty()) {
        r.error = missing_keys_error(b, *o.report, missing);
      } else if (std::string why; !write_file_atomic(b.file, doc.dump(2) + "\n", &why)) {
        r.error = "cannot rewrite " + b.file + " (" + why + "); it is unchanged";
      }
    }
    r.checks = compare_with_baseline(b, *o.report);
  });
  fs::remove_all(work, ec);
  if (!complete) {
    std::cerr << "moesim regress: interrupted\n";
    return 2;
  }
  if (options.update) {
    for (const auto& r : results) {
      std::cout << r.name << ": " << (r.error.empty() ? "baseline rewritten" : "NOT rewritten: " + r.error) << "\n";
      if (!r.error.empty()) rc = 2;
    }
    return rc;
  }
  std::cout << diff_table(results);
  const bool pass = std::all_of(results.begin(), results.end(), [](const BaselineResult& r) { return r.pass(); });
  std::cout << (pass ? "moesim regress: no drift in " : "moesim regress: DRIFT in ") << results.size()
            << " baselines\n";
  std::string why;
  if (!options.junit_path.empty() && !write_file_atomic(options.junit_path, junit_xml(results), &why)) {
    std::cerr << options.junit_path << ": cannot write the file (" << why << ")\n";
    rc = 1;
  }
  if (!options.summary_path.empty() && !write_file_atomic(options.summary_path, markdown_summary(results), &why)) {
    std::cerr << options.summary_path << ": cannot write the file (" << why << ")\n";
    rc = 1;
  }
  return pass ? rc : 2;
}

}  // namespace moesim::tools
