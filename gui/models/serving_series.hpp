#pragma once
// What the Serving view plots of a serving report (serving.series and serving.cdf, report v1):
// the running batch, the queue, KV use and the decode rate over time, TTFT and TPOT CDFs, and
// the preemptions. Nothing for a report without them (a fixed step, a training run).

#include <QJsonObject>
#include <QPointF>
#include <QString>
#include <QVector>

namespace moesim::gui {

struct ServingSeries {
  QVector<QPointF> running, waiting;  ///< (s, sequences)
  QVector<QPointF> kv_percent;        ///< (s, % of the fullest rank's KV cache)
  QVector<QPointF> decode_rate;       ///< (s, decode tokens/s)
  QVector<QPointF> ttft_cdf, tpot_cdf;  ///< (ms, % of requests at or below)
  QVector<QPointF> preemptions_over_time;  ///< (s, sequences evicted so far)
  double preemptions = 0;             ///< over the run
  QString missing;                    ///< why there is nothing to plot ("" when there is)
  bool ok() const { return missing.isEmpty(); }
};

ServingSeries serving_series(const QJsonObject& report);

}  // namespace moesim::gui
