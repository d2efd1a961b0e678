#include "timeline_view.hpp"

#include <QPainter>
#include <QPainterPath>
#include <cmath>
#include <map>

#include "trace_model.hpp"

namespace moesim::gui {
namespace {

constexpr int kLabelWidth = 190;
constexpr int kRow = 24;
constexpr int kTop = 46;

QColor phase_colour(const QString& phase) {
  static const std::map<QString, QColor> colours = {
      {"attention", QColor(0x1f, 0x77, 0xb4)}, {"gate", QColor(0xff, 0x7f, 0x0e)},
      {"dispatch", QColor(0x2c, 0xa0, 0x2c)},  {"experts", QColor(0xd6, 0x27, 0x28)},
      {"shared_expert", QColor(0x94, 0x67, 0xbd)}, {"dense_mlp", QColor(0x8c, 0x56, 0x4b)},
      {"combine", QColor(0xe3, 0x77, 0xc2)},   {"pipeline", QColor(0xbc, 0xbd, 0x22)},
      {"other", QColor(0x7f, 0x7f, 0x7f)}};
  auto it = colours.find(phase);
  return it == colours.end() ? QColor(0x17, 0xbe, 0xcf) : it->second;
}

// A tick step of 1, 2 or 5 x 10^k giving about `target` ticks.
double tick_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) return m * mag;
  }
  return 10 * mag;
}

}  // namespace

TimelineView::TimelineView(TraceModel* model, QWidget* parent) : QWidget(parent), model_(model) {
  connect(model_, &QAbstractItemModel::modelReset, this, qOverload<>(&QWidget::update));
  setMinimumHeight(160);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
}

QSize TimelineView::sizeHint() const { return {900, kTop + kRow * (model_->track_count() + 4) + 40}; }

void TimelineView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const QRect area = rect().adjusted(8, 0, -12, 0);
  if (model_->track_count() == 0 || model_->end_us() <= 0) {
    p.setPen(QColor(0x66, 0x66, 0x66));
    const QString why = model_->error().isEmpty()
                            ? tr("No timeline yet: run a scenario (the GUI asks moesim for a trace of one step).")
                            : tr("No timeline: %1").arg(model_->error());
    p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, why);
    return;
  }
  const double end = model_->end_us();
  const int x0 = area.left() + kLabelWidth;
  const int width = std::max(50, area.right() - x0);
  auto x_of = [&](double us) { return x0 + us / end * width; };
  // Title and time axis.
  QFont bold = font();
  bold.setBold(true);
  p.setFont(bold);
  p.setPen(palette().color(QPalette::Text));
  p.drawText(QRect(area.left(), 4, area.width(), 18), Qt::AlignLeft,
             tr("One step: %1 ms, %2 tasks").arg(end / 1e3, 0, 'f', 3).arg(model_->rowCount()));
  p.setFont(font());
  const bool ms = end >= 2000;
  const double step = tick_step(end, 8);
  for (double t = 0; t <= end + 1e-9; t += step) {
    const double x = x_of(t);
    p.setPen(QColor(0xdd, 0xdd, 0xdd));
    p.drawLine(QPointF(x, kTop - 4), QPointF(x, kTop + kRow * model_->track_count()));
    p.setPen(QColor(0x44, 0x44, 0x44));
    const QString label = ms ? QStringLiteral("%1 ms").arg(t / 1e3, 0, 'g', 4) : QStringLiteral("%1 us").arg(t, 0, 'g', 4);
    p.drawText(QRectF(x - 40, kTop - 22, 80, 16), Qt::AlignCenter, label);
  }
  // Track labels and bands.
  for (int t = 0; t < model_->track_count(); ++t) {
    const int y = kTop + t * kRow;
    if (t % 2) p.fillRect(QRect(area.left(), y, area.width(), kRow), QColor(0xf4, 0xf6, 0xf8));
    p.setPen(model_->track_is_link(t) ? QColor(0x0b, 0x4f, 0x8a) : palette().color(QPalette::Text));
    p.drawText(QRect(area.left() + 2, y, kLabelWidth - 8, kRow), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(model_->track_name(t), Qt::ElideRight, kLabelWidth - 8));
  }
  // Tasks.
  std::map<QString, bool> seen;
  for (int r = 0; r < model_->rowCount(); ++r) {
    const int track = model_->index(r, TraceModel::kTrack).data().toInt();
    const QString phase = model_->index(r, TraceModel::kCategory).data().toString();
    const double start = model_->index(r, TraceModel::kStartUs).data().toDouble();
    const double dur = model_->index(r, TraceModel::kDurationUs).data().toDouble();
    const QRectF box(x_of(start), kTop + track * kRow + 3, std::max(1.0, dur / end * width), kRow - 6);
    p.fillRect(box, phase_colour(phase));
    seen[phase] = true;
  }
  int y = kTop + model_->track_count() * kRow + 8;
  if (model_->hidden_device_tracks() > 0) {
    p.setPen(QColor(0x66, 0x66, 0x66));
    p.drawText(QRect(area.left(), y, area.width(), 18), Qt::AlignLeft,
               tr("... and %1 more devices (same pattern under uniform routing); open the trace in Perfetto for all")
                   .arg(model_->hidden_device_tracks()));
    y += 22;
  }
  // Legend.
  int x = area.left();
  for (const auto& [phase, _] : seen) {
    p.fillRect(QRect(x, y + 3, 12, 12), phase_colour(phase));
    p.setPen(palette().color(QPalette::Text));
    const int w = p.fontMetrics().horizontalAdvance(phase);
    p.drawText(QRect(x + 16, y, w + 4, 18), Qt::AlignVCenter, phase);
    x += w + 32;
  }
}

}  // namespace moesim::gui
