#include "serving_series.hpp"

#include <QJsonArray>

namespace moesim::gui {
namespace {

QVector<QPointF> zip(const QJsonArray& x, const QJsonArray& y, double x_scale, double y_scale) {
  QVector<QPointF> out;
  for (qsizetype i = 0; i < std::min(x.size(), y.size()); ++i) {
    out.push_back({x[i].toDouble() * x_scale, y[i].toDouble() * y_scale});
  }
  return out;
}

}  // namespace

ServingSeries serving_series(const QJsonObject& report) {
  ServingSeries s;
  const QJsonObject serving = report.value(QStringLiteral("serving")).toObject();
  if (serving.isEmpty()) {
    s.missing = QStringLiteral("Not a serving run: the Serving view shows a serving workload over time.");
    return s;
  }
  const QJsonObject series = serving.value(QStringLiteral("series")).toObject();
  if (series.isEmpty()) {
    s.missing = QStringLiteral("This report has no serving.series (written by moesim before this version, or the run "
                               "did not simulate).");
    return s;
  }
  const QJsonArray t = series.value(QStringLiteral("t_s")).toArray();
  s.running = zip(t, series.value(QStringLiteral("running")).toArray(), 1, 1);
  s.waiting = zip(t, series.value(QStringLiteral("waiting")).toArray(), 1, 1);
  s.kv_percent = zip(t, series.value(QStringLiteral("kv_fraction")).toArray(), 1, 100);
  s.decode_rate = zip(t, series.value(QStringLiteral("decode_tokens_per_s")).toArray(), 1, 1);
  const QJsonArray pre = series.value(QStringLiteral("preemptions")).toArray();
  s.preemptions_over_time = zip(t, pre, 1, 1);
  s.preemptions = serving.value(QStringLiteral("preemptions")).toDouble(pre.isEmpty() ? 0.0 : pre.last().toDouble());
  const QJsonObject cdf = serving.value(QStringLiteral("cdf")).toObject();
  const QJsonArray percent = cdf.value(QStringLiteral("percent")).toArray();
  // A CDF: latency on x, the share of requests at or below it on y.
  s.ttft_cdf = zip(cdf.value(QStringLiteral("ttft_s")).toArray(), percent, 1e3, 1);
  s.tpot_cdf = zip(cdf.value(QStringLiteral("tpot_s")).toArray(), percent, 1e3, 1);
  return s;
}

}  // namespace moesim::gui
