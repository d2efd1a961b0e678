#include "figures.hpp"

#include <QLocale>

#include "report_access.hpp"

namespace moesim::gui {
namespace {

using Get = std::function<std::optional<double>(const QJsonObject&)>;

Get key(const QString& path, double scale = 1) {
  return [path, scale](const QJsonObject& r) -> std::optional<double> {
    auto v = report_number(r, path);
    if (!v) return std::nullopt;
    return *v * scale;
  };
}

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kJoulesPerKWh = 3.6e6;

std::vector<Figure> make_figures() {
  const QString mem = QStringLiteral("memory.per_device_bytes.");
  auto headroom = [mem](const QJsonObject& r) -> std::optional<double> {
    auto cap = report_number(r, mem + "capacity");
    auto total = report_number(r, mem + "total");
    if (!cap || !total) return std::nullopt;
    return (*cap - *total) / kGiB;
  };
  auto energy_per_m = [](const QJsonObject& r) -> std::optional<double> {
    auto j = report_number(r, QStringLiteral("energy.joules_per_token"));
    if (!j) return std::nullopt;
    return *j * 1e6 / kJoulesPerKWh;
  };
  auto tokens_per_joule = [](const QJsonObject& r) -> std::optional<double> {
    auto j = report_number(r, QStringLiteral("energy.joules_per_token"));
    if (!j || !(*j > 0)) return std::nullopt;
    return 1.0 / *j;
  };
  std::vector<Figure> f = {
      {"Output throughput", "tok/s", "throughput.output_tokens_per_s", key("throughput.output_tokens_per_s"), true, 0},
      {"Output per device", "tok/s", "throughput.output_tokens_per_s_per_device",
       key("throughput.output_tokens_per_s_per_device"), true, 0},
      {"Input throughput", "tok/s", "throughput.input_tokens_per_s", key("throughput.input_tokens_per_s"), true, 0},
      {"Step time", "ms", "step_time_s", key("step_time_s", 1e3), false, 3},
  };
  for (const char* lat : {"ttft", "tpot"}) {
    for (const char* p : {"p50", "p90", "p99"}) {
      const QString path = QStringLiteral("latency.%1_s.%2").arg(QLatin1String(lat), QLatin1String(p));
      f.push_back({QStringLiteral("%1 %2").arg(QString::fromLatin1(lat).toUpper(), QLatin1String(p)), "ms", path,
                   key(path, 1e3), false, 3});
    }
  }
  f.push_back({"Memory used (worst device)", "GiB", mem + "total", key(mem + "total", 1 / kGiB), false, 1});
  f.push_back({"Memory headroom", "GiB", mem + "capacity - total", headroom, true, 1});
  f.push_back({"Expert load max/mean", "", "expert_load.max_over_mean", key("expert_load.max_over_mean"), false, 3});
  f.push_back({"Energy per M output tokens", "kWh", "energy.joules_per_token", energy_per_m, false, 3});
  f.push_back({"Tokens per joule", "tok/J", "energy.joules_per_token", tokens_per_joule, true, 2});
  f.push_back({"Average power per device", "W", "power.avg_w_per_device", key("power.avg_w_per_device"), false, 0});
  f.push_back({"Cost per M output tokens", "$", "cost.usd_per_million_output_tokens",
               key("cost.usd_per_million_output_tokens"), false, 4});
  return f;
}

}  // namespace

const std::vector<Figure>& headline_figures() {
  static const std::vector<Figure> figures = make_figures();
  return figures;
}

QString format_figure(const Figure& figure, double value) {
  QString text = QLocale::c().toString(value, 'f', figure.decimals);
  // Thousands separators only for large whole numbers (throughput), where they help reading.
  if (figure.decimals == 0) {
    QLocale grouped(QLocale::English);
    text = grouped.toString(value, 'f', 0);
  }
  if (figure.unit.isEmpty()) return text;
  if (figure.unit == QLatin1String("$")) return QStringLiteral("$") + text;
  return text + QLatin1Char(' ') + figure.unit;
}

QString not_in_report() { return QStringLiteral("not in this report"); }

QString feasibility_text(const QJsonObject& report) {
  const QJsonValue f = report.value(QStringLiteral("feasible"));
  if (!f.isBool()) return not_in_report();
  if (f.toBool()) return QStringLiteral("yes");
  return QStringLiteral("no: ") + report.value(QStringLiteral("reason")).toString(QStringLiteral("(no reason given)"));
}

}  // namespace moesim::gui
