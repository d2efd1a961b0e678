#include "plan_data.hpp"

#include <QJsonArray>
#include <QJsonDocument>
#include <QLocale>

namespace moesim::gui {
namespace {

struct DeviceNode {
  const char* device;
  const char* scale_up;
};

constexpr DeviceNode kNodes[] = {{"h100-sxm", "nvlink4"}, {"h200-sxm", "nvlink4"}, {"h800-sxm", "nvlink-h800"},
                                 {"b200", "nvlink5"},     {"b300", "nvlink5"},     {"mi300x", "xgmi-mi300x"},
                                 {"mi355x", "xgmi-mi355x"}};

QJsonArray ints(std::initializer_list<int> v) {
  QJsonArray a;
  for (int x : v) a.append(x);
  return a;
}

QString label_of(const QJsonObject& c) {
  QString s = QStringLiteral("%1 x %2 %3, TP %4, EP %5")
                  .arg(c.value(QStringLiteral("nodes")).toInt())
                  .arg(c.value(QStringLiteral("devices_per_node")).toInt())
                  .arg(c.value(QStringLiteral("device")).toString())
                  .arg(c.value(QStringLiteral("attention_tp")).toInt())
                  .arg(c.value(QStringLiteral("ep")).toInt());
  if (c.value(QStringLiteral("pp")).toInt(1) > 1) s += QStringLiteral(", PP %1").arg(c.value(QStringLiteral("pp")).toInt());
  s += QStringLiteral(", batch %1, %2").arg(c.value(QStringLiteral("batch_per_device")).toInt()).arg(c.value(QStringLiteral("overlap")).toString());
  if (c.value(QStringLiteral("replicas")).toInt(1) > 1) s += QStringLiteral(", %1 replicas").arg(c.value(QStringLiteral("replicas")).toInt());
  return s;
}

}  // namespace

QStringList plan_devices() {
  QStringList out;
  for (const auto& n : kNodes) out << QString::fromLatin1(n.device);
  return out;
}

QJsonObject plan_spec(const PlanForm& f) {
  QJsonArray hardware;
  for (const auto& n : kNodes) {
    if (!f.devices.contains(QString::fromLatin1(n.device))) continue;
    hardware.append(QJsonObject{{"device", n.device}, {"devices_per_node", 8}, {"scale_up", n.scale_up},
                                {"scale_out", QJsonObject{{"link", "ib-ndr400"}, {"nics_per_node", 8}}}});
  }
  QJsonObject slo;
  if (f.tpot_ms > 0) slo.insert(QStringLiteral("tpot_p99"), QStringLiteral("%1ms").arg(f.tpot_ms));
  if (f.ttft_ms > 0) slo.insert(QStringLiteral("ttft_p99"), QStringLiteral("%1ms").arg(f.ttft_ms));
  return QJsonObject{
      {"name", QStringLiteral("%1 at %2 output tokens/s (moesim-gui Plan tab)").arg(f.preset).arg(f.output_tokens_per_s)},
      {"model", QJsonObject{{"preset", f.preset}, {"weights_dtype", f.weights_dtype}}},
      {"workload", QJsonObject{{"output_tokens_per_s", f.output_tokens_per_s}, {"context_tokens", f.context_tokens},
                               {"input_tokens", f.input_tokens}}},
      {"slo", slo},
      {"hardware", hardware},
      {"search", QJsonObject{{"nodes", ints({1, 2, 4, 8})},
                             {"attention_tp", ints({1, 2, 4, 8})},
                             {"batch_per_device", ints({16, 32, 64, 128, 256})},
                             {"overlap", QJsonArray{"none", "two-microbatch"}},
                             {"all_to_all", QJsonArray{"deepep-low-latency"}}}},
      {"confirm", QJsonObject{{"top", f.confirm_top}}}};
}

PlanResult parse_plan(const QByteArray& json, const QString& file) {
  PlanResult r;
  QJsonParseError err;
  const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject()) {
    r.error = QStringLiteral("%1: not a plan (%2)").arg(file, err.error != QJsonParseError::NoError ? err.errorString()
                                                                                                   : QStringLiteral("expected a JSON object"));
    return r;
  }
  const QJsonObject plan = doc.object();
  r.feasible = plan.value(QStringLiteral("feasible")).toBool();
  const QLocale c = QLocale::c();
  r.summary = QStringLiteral("%1 candidates searched in %2 s")
                  .arg(plan.value(QStringLiteral("candidates")).toInt())
                  .arg(c.toString(plan.value(QStringLiteral("evaluation_s")).toDouble(), 'f', 2));
  if (!r.feasible) {
    r.summary += QStringLiteral("; none meets the SLOs (binding: %1)").arg(plan.value(QStringLiteral("binding_constraint")).toString());
    return r;
  }
  const QJsonObject winner = plan.value(QStringLiteral("winner")).toObject();
  const QJsonArray front = plan.value(QStringLiteral("front")).toArray();
  for (const QJsonValue& v : front) {
    const QJsonObject o = v.toObject();
    PlanPoint p;
    p.label = label_of(o);
    p.scenario_file = o.value(QStringLiteral("scenario_file")).toString();
    p.usd_per_million = o.value(QStringLiteral("usd_per_million_output_tokens")).toDouble();
    p.tpot_ms = o.value(QStringLiteral("tpot_s")).toDouble() * 1e3;
    const double ttft = o.value(QStringLiteral("ttft_s")).toDouble(-1);
    p.ttft_ms = ttft >= 0 ? ttft * 1e3 : -1;
    p.joules_per_token = o.value(QStringLiteral("joules_per_token_tdp_bound")).toDouble();
    p.devices = o.value(QStringLiteral("total_devices")).toInt();
    QJsonObject bare = o;
    bare.remove(QStringLiteral("scenario_file"));
    if (bare == winner) r.winner = static_cast<int>(r.front.size());
    r.front.push_back(p);
  }
  r.summary += QStringLiteral("; the Pareto front of cost, TPOT and energy has %1 members").arg(r.front.size());
  return r;
}

}  // namespace moesim::gui
