#include "figures.hpp"

#include <QJsonArray>
#include <QLocale>
#include <algorithm>

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

namespace {

// `report` with the number at dotted `path` replaced by `value`.
QJsonObject with_number(QJsonObject report, const QStringList& path, double value) {
  if (path.size() == 1) {
    report.insert(path.front(), value);
    return report;
  }
  report.insert(path.front(), with_number(report.value(path.front()).toObject(), path.mid(1), value));
  return report;
}

}  // namespace

std::optional<std::pair<double, double>> figure_interval(const Figure& figure, const QJsonObject& report) {
  const QJsonObject iv = report.value(QStringLiteral("intervals")).toObject().value(figure.source).toObject();
  if (!iv.contains(QStringLiteral("p10")) || !iv.contains(QStringLiteral("p90"))) return std::nullopt;
  const QStringList path = figure.source.split(u'.');
  const auto lo = figure.value(with_number(report, path, iv.value(QStringLiteral("p10")).toDouble()));
  const auto hi = figure.value(with_number(report, path, iv.value(QStringLiteral("p90")).toDouble()));
  if (!lo || !hi) return std::nullopt;
  return std::pair{std::min(*lo, *hi), std::max(*lo, *hi)};
}

QStringList explain_report(const QJsonObject& report) {
  QStringList out;
  const QString mem = QStringLiteral("memory.per_device_bytes.");
  const auto cap = report_number(report, mem + "capacity");
  const auto total = report_number(report, mem + "total");
  auto gib = [](double b) { return QLocale::c().toString(b / kGiB, 'f', 1); };
  if (!report.value(QStringLiteral("feasible")).toBool(true)) {
    out << QStringLiteral("Does not run: %1.").arg(report.value(QStringLiteral("reason")).toString());
  }
  if (cap && total && *total > *cap) {
    QStringList parts;
    for (const char* k : {"weights", "kv_cache", "activations", "buffers"}) {
      if (auto v = report_number(report, mem + k)) parts << QStringLiteral("%1 %2").arg(QLatin1String(k), gib(*v));
    }
    out << QStringLiteral("The fullest device needs %1 GiB of its %2 GiB (%3 GiB).")
               .arg(gib(*total), gib(*cap), parts.join(QStringLiteral(", ")));
  }
  // Shares of the phases' own step: their sum, the critical path they split (a serving run's
  // step_time_s is the mean of all its steps, prefill ones included; its phases are those of a
  // representative decode step), as the CLI's phase table computes them.
  const QJsonObject phases = report.value(QStringLiteral("phases_s")).toObject();
  double phase_step = 0;
  for (auto it = phases.begin(); it != phases.end(); ++it) phase_step += std::max(0.0, it->toDouble());
  const bool serving = report.contains(QStringLiteral("serving"));
  if (phase_step > 0) {
    std::vector<std::pair<double, QString>> sorted;
    for (auto it = phases.begin(); it != phases.end(); ++it) sorted.emplace_back(it->toDouble(), it.key());
    std::sort(sorted.rbegin(), sorted.rend());
    QStringList top;
    for (std::size_t i = 0; i < std::min<std::size_t>(2, sorted.size()); ++i) {
      if (sorted[i].first <= 0) break;
      QString text = QStringLiteral("%1 %2 ms (%3 %")
                         .arg(sorted[i].second)
                         .arg(QLocale::c().toString(sorted[i].first * 1e3, 'f', 2))
                         .arg(QLocale::c().toString(sorted[i].first / phase_step * 100, 'f', 0));
      // An uncertainty run's interval of the phase (intervals."phases_s.NAME").
      const QJsonObject iv = report.value(QStringLiteral("intervals")).toObject().value(QStringLiteral("phases_s.") + sorted[i].second).toObject();
      if (iv.contains(QStringLiteral("p10"))) {
        text += QStringLiteral("; p10 \u2013 p90 %1 \u2013 %2 ms")
                    .arg(QLocale::c().toString(iv.value(QStringLiteral("p10")).toDouble() * 1e3, 'f', 2),
                         QLocale::c().toString(iv.value(QStringLiteral("p90")).toDouble() * 1e3, 'f', 2));
      }
      top << text + QStringLiteral(")");
    }
    if (!top.isEmpty()) {
      out << (serving ? QStringLiteral("Largest phases of a representative decode step (mean batch and context, %1 ms): %2.")
                            .arg(QLocale::c().toString(phase_step * 1e3, 'f', 2), top.join(QStringLiteral(", ")))
                      : QStringLiteral("Largest phases on the critical path: %1.").arg(top.join(QStringLiteral(", "))));
    }
  }
  const QJsonObject links = report.value(QStringLiteral("links")).toObject();
  QString busiest;
  double busiest_u = -1;
  for (auto it = links.begin(); it != links.end(); ++it) {
    const double u = it->toObject().value(QStringLiteral("utilization")).toDouble();
    if (u > busiest_u) {
      busiest_u = u;
      busiest = it.key();
    }
  }
  if (busiest_u >= 0) {
    out << QStringLiteral("Busiest link class: %1, busy %2 % of the step%3.")
               .arg(busiest == QLatin1String("scale_out") ? QStringLiteral("scale-out") : QStringLiteral("scale-up"))
               .arg(QLocale::c().toString(busiest_u * 100, 'f', 0))
               .arg(busiest_u > 0.8 ? QStringLiteral(": close to saturation") : QString());
  }
  if (cap && total && *total <= *cap && *cap > 0) {
    const double free = (*cap - *total) / *cap;
    out << QStringLiteral("Memory headroom %1 GiB (%2 % of the device)%3.")
               .arg(gib(*cap - *total))
               .arg(QLocale::c().toString(free * 100, 'f', 0))
               .arg(free < 0.05 ? QStringLiteral(": no room to grow the batch or the context") : QString());
  }
  // How far runs like this one have been validated (the report's label, from the project's cases).
  if (const QString label = report.value(QStringLiteral("validation")).toObject().value(QStringLiteral("label")).toString();
      !label.isEmpty()) {
    out << QStringLiteral("Accuracy: %1.").arg(label);
  }
  // moesim run --uncertainty: the figures that move the main key most.
  const QJsonObject u = report.value(QStringLiteral("uncertainty")).toObject();
  if (const QJsonArray bars = u.value(QStringLiteral("tornado")).toArray(); !bars.isEmpty()) {
    QStringList parts;
    for (const QJsonValue& b : bars) {
      const QJsonObject o = b.toObject();
      parts << QStringLiteral("%1 %2% (%3 \u00b1%4%)")
                   .arg(o.value(QStringLiteral("figure")).toString())
                   .arg(QLocale::c().toString(100 * o.value(QStringLiteral("share")).toDouble(), 'f', 0))
                   .arg(o.value(QStringLiteral("class")).toString())
                   .arg(QLocale::c().toString(100 * o.value(QStringLiteral("spread")).toDouble(), 'f', 0));
    }
    out << QStringLiteral("Uncertainty (%1 samples): what moves %2 most: %3.")
               .arg(u.value(QStringLiteral("samples")).toInt())
               .arg(u.value(QStringLiteral("tornado_key")).toString(), parts.join(QStringLiteral("; ")));
  }
  if (auto imb = report_number(report, QStringLiteral("expert_load.max_over_mean")); imb && *imb > 1.1) {
    out << QStringLiteral("Expert load is uneven: the busiest device gets %1 x the mean.")
               .arg(QLocale::c().toString(*imb, 'f', 2));
  }
  return out;
}

QString feasibility_text(const QJsonObject& report) {
  const QJsonValue f = report.value(QStringLiteral("feasible"));
  if (!f.isBool()) return not_in_report();
  if (f.toBool()) return QStringLiteral("yes");
  return QStringLiteral("no: ") + report.value(QStringLiteral("reason")).toString(QStringLiteral("(no reason given)"));
}

}  // namespace moesim::gui
