#pragma once
// The headline figures of a report, defined once for the dashboard and the compare view.

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace moesim::gui {

/// One headline figure: how to compute it from a report and how to show it.
struct Figure {
  QString label;
  QString unit;
  QString source;  ///< the report key(s) it comes from, for tooltips
  std::function<std::optional<double>(const QJsonObject&)> value;
  bool higher_is_better = true;
  int decimals = 2;
};

/// Throughput, latency percentiles, step time, memory headroom, energy, power and cost.
const std::vector<Figure>& headline_figures();

/// The figure's p10 - p90 interval in its own units (low, high) from the report's "intervals"
/// (moesim run --uncertainty), when the report has one for the key the figure shows.
std::optional<std::pair<double, double>> figure_interval(const Figure& figure, const QJsonObject& report);

/// "12.34 ms" — the value with the figure's decimals and unit.
QString format_figure(const Figure& figure, double value);

/// Shown in place of a value whose keys the report does not have.
QString not_in_report();

/// Plain sentences that say why a run came out as it did: what does not fit, the phases that
/// dominate the step, the busiest link class, memory headroom, expert imbalance. Only from keys
/// the report has; nothing when it has none of them.
QStringList explain_report(const QJsonObject& report);

/// "yes", or "no: REASON" — the feasible line of a report.
QString feasibility_text(const QJsonObject& report);

}  // namespace moesim::gui
