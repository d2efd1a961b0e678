#include "raw_writer.hpp"

#include <cmath>
#include <cstdio>

#include "file_io.hpp"

namespace moesim::calibrate {
namespace {

nlohmann::json value_to_json(const Value& v) {
  return std::visit(
      [](const auto& x) -> nlohmann::json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, double>) {
          // JSON has no NaN or infinity: a failed measurement is written as null, which the
          // fitter reports as NaN, naming the sample.
          return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
        } else {
          return nlohmann::json(x);
        }
      },
      v);
}

}  // namespace

nlohmann::json fields_to_json(const Fields& fields) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, value] : fields) j[key] = value_to_json(value);
  return j;
}

nlohmann::json family_to_json(const FamilyResult& f) {
  nlohmann::json j = nlohmann::json::object();
  j["started"] = f.started;
  j["finished"] = f.finished;
  if (!f.clocks.empty()) j["clocks"] = fields_to_json(f.clocks);
  if (!f.settings.empty()) j["settings"] = fields_to_json(f.settings);
  if (!f.notes.empty()) j["notes"] = f.notes;
  if (f.skipped) j["skipped"] = *f.skipped;
  nlohmann::json samples = nlohmann::json::array();
  for (const Sample& s : f.samples) samples.push_back(fields_to_json(s.fields));
  if (!f.samples.empty() || !f.skipped) j["samples"] = samples;
  return j;
}

bool write_json_file(const std::string& path, const nlohmann::json& doc, std::string& error) {
  if (std::string why; !write_file_atomic(path, doc.dump(1) + "\n", &why)) {
    error = "cannot write " + path + " (" + why + ")";
    return false;
  }
  return true;
}

}  // namespace moesim::calibrate
