#include "serving_view.hpp"

#include <QChart>
#include <QChartView>
#include <QGridLayout>
#include <QLabel>
#include <QLineSeries>
#include <QLocale>
#include <QStackedWidget>
#include <QValueAxis>
#include <QVBoxLayout>

#include "run_chart.hpp"
#include "serving_series.hpp"

namespace moesim::gui {
namespace {

const QString kBatch = QStringLiteral("Running batch and queue");
const QString kKv = QStringLiteral("KV cache use (fullest rank)");
const QString kRate = QStringLiteral("Decode rate");
const QString kTtft = QStringLiteral("TTFT distribution");
const QString kTpot = QStringLiteral("TPOT distribution");
const QString kPreempt = QStringLiteral("Preemptions (so far)");

// Replaces `chart`'s series with one line per (name, points), on fresh axes.
// `y_max` > 0 fixes the value axis (percentages).
void plot(QChart* chart, const QList<std::pair<QString, QVector<QPointF>>>& lines, const QString& x_title,
          const QString& y_title, double y_max = 0) {
  clear_chart(chart);
  const auto [x, y] = add_value_axes(chart, x_title, y_title);
  double xmax = 0, ymax = 0;
  for (const auto& [name, points] : lines) {
    auto* s = new QLineSeries;
    s->setName(name);
    s->append(QList<QPointF>(points.begin(), points.end()));
    chart->addSeries(s);
    s->attachAxis(x);
    s->attachAxis(y);
    for (const QPointF& p : points) {
      xmax = std::max(xmax, p.x());
      ymax = std::max(ymax, p.y());
    }
  }
  x->setRange(0, xmax > 0 ? xmax : 1);
  y->setRange(0, ymax > 0 ? ymax * 1.05 : 1);
  x->applyNiceNumbers();
  if (y_max > 0) {
    y->setRange(0, y_max);
  } else {
    y->applyNiceNumbers();
  }
  chart->legend()->setVisible(lines.size() > 1);
}

}  // namespace

ServingView::ServingView(QWidget* parent) : QWidget(parent) {
  stack_ = new QStackedWidget;
  missing_ = new QLabel(tr("No results yet: run a serving scenario."));
  missing_->setAlignment(Qt::AlignCenter);
  missing_->setWordWrap(true);
  auto* page = new QWidget;
  auto* grid = new QGridLayout(page);
  summary_ = new QLabel;
  summary_->setWordWrap(true);
  grid->addWidget(summary_, 0, 0, 1, 3);
  add_chart(grid, kBatch, 1, 0);
  add_chart(grid, kKv, 1, 1);
  add_chart(grid, kRate, 1, 2);
  add_chart(grid, kTtft, 2, 0);
  add_chart(grid, kTpot, 2, 1);
  add_chart(grid, kPreempt, 2, 2);
  stack_->addWidget(missing_);
  stack_->addWidget(page);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(stack_);
}

QChart* ServingView::add_chart(QGridLayout* grid, const QString& title, int row, int column) {
  auto* chart = new QChart;
  chart->setTitle(title);
  auto* view = new QChartView(chart);
  view->setRenderHint(QPainter::Antialiasing);
  view->setMinimumHeight(220);
  grid->addWidget(view, row, column);
  charts_.push_back(chart);
  return chart;
}

void ServingView::show_report(const QJsonObject& report) {
  const ServingSeries s = serving_series(report);
  if (!s.ok()) {
    missing_->setText(s.missing);
    stack_->setCurrentWidget(missing_);
    for (QChart* c : charts_) c->removeAllSeries();
    return;
  }
  plot(charts_[0], {{tr("running"), s.running}, {tr("queued"), s.waiting}}, tr("s"), tr("sequences"));
  plot(charts_[1], {{tr("KV use"), s.kv_percent}}, tr("s"), tr("%"), 100);
  plot(charts_[2], {{tr("decode tokens/s"), s.decode_rate}}, tr("s"), tr("tokens/s"));
  plot(charts_[3], {{tr("TTFT"), s.ttft_cdf}}, tr("ms"), tr("% of requests"), 100);
  plot(charts_[4], {{tr("TPOT"), s.tpot_cdf}}, tr("ms"), tr("% of requests"), 100);
  plot(charts_[5], {{tr("preemptions"), s.preemptions_over_time}}, tr("s"), tr("sequences evicted"));
  const QJsonObject sv = report.value(QStringLiteral("serving")).toObject();
  const QLocale c = QLocale::c();
  summary_->setText(tr("%1 requests over %2 s in %3 scheduler steps; %4 preemptions; peak KV use %5 %; "
                       "the series is the decode (or colocated) pool of one replica, sampled after its steps.")
                        .arg(sv.value(QStringLiteral("requests")).toInt())
                        .arg(c.toString(sv.value(QStringLiteral("makespan_s")).toDouble(), 'f', 2))
                        .arg(sv.value(QStringLiteral("iterations")).toInteger())
                        .arg(c.toString(s.preemptions, 'f', 0))
                        .arg(c.toString(100 * sv.value(QStringLiteral("peak_kv_fraction")).toDouble(), 'f', 1)));
  stack_->setCurrentIndex(1);
}

void ServingView::clear() {
  missing_->setText(tr("No results yet: run a serving scenario."));
  stack_->setCurrentWidget(missing_);
}

QString ServingView::status_text() const {
  return stack_->currentWidget() == missing_ ? missing_->text() : summary_->text();
}

int ServingView::points(const QString& chart_title, int series) const {
  for (QChart* c : charts_) {
    if (c->title() != chart_title) continue;
    const auto all = c->series();
    if (series >= all.size()) return 0;
    const auto* line = qobject_cast<QLineSeries*>(all[series]);
    return line ? static_cast<int>(line->count()) : 0;
  }
  return -1;
}

}  // namespace moesim::gui
