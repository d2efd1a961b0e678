#include "timeline_view.hpp"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>
#include <algorithm>
#include <QPainterPath>
#include <cmath>
#include <map>

#include "trace_model.hpp"

namespace moesim::gui {
namespace {

constexpr int kLabelWidth = 190;

int width_px(const QWidget* w) { return w->rect().adjusted(8, 0, -12, 0).right(); }
constexpr int kRow = 24;
constexpr int kTop = 46;

QColor phase_colour(const QString& phase) {
  static const std::map<QString, QColor> colours = {
      {"attention", QColor(0x1f, 0x77, 0xb4)}, {"gate", QColor(0xff, 0x7f, 0x0e)},
      {"dispatch", QColor(0x2c, 0xa0, 0x2c)},  {"experts", QColor(0xd6, 0x27, 0x28)},
      {"shared_expert", QColor(0x94, 0x67, 0xbd)}, {"dense_mlp", QColor(0x8c, 0x56, 0x4b)},
      {"combine", QColor(0xe3, 0x77, 0xc2)},   {"pipeline", QColor(0xbc, 0xbd, 0x22)},
      {"attention_proj", QColor(0x6b, 0xae, 0xd6)}, {"router", QColor(0xfd, 0xae, 0x6b)},
      {"activation", QColor(0xff, 0x98, 0x96)}, {"rmsnorm", QColor(0xc7, 0xc7, 0xc7)},
      {"rotary", QColor(0xc5, 0xb0, 0xd5)},     {"kv_write", QColor(0x9e, 0xda, 0xe5)},
      {"residual", QColor(0xdb, 0xdb, 0x8d)},   {"permute_unpermute", QColor(0x98, 0xdf, 0x8a)},
      {"cast_transpose", QColor(0xf7, 0xb6, 0xd2)}, {"lm_head", QColor(0xc4, 0x9c, 0x94)},
      {"sampling", QColor(0x39, 0x3b, 0x79)},   {"loss", QColor(0x39, 0x3b, 0x79)},
      {"engine", QColor(0x52, 0x52, 0x52)},     {"other", QColor(0x7f, 0x7f, 0x7f)}};
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
  connect(model_, &QAbstractItemModel::modelReset, this, [this] { set_window(0, 0); });
  setMinimumHeight(160);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
}

double TimelineView::window_end() const { return end_ > start_ ? end_ : model_->end_us(); }

void TimelineView::set_window(double start_us, double end_us) {
  const double full = model_->end_us();
  if (!(end_us > start_us) || full <= 0) {
    start_ = end_ = 0;
  } else {
    start_ = std::clamp(start_us, 0.0, full);
    end_ = std::clamp(end_us, start_ + 1e-3, full);
    if (start_ <= 0 && end_ >= full) start_ = end_ = 0;
  }
  update();
}

double TimelineView::time_at(double x) const {
  const int x0 = 8 + kLabelWidth;
  const double width = std::max(50, width_px(this) - x0);
  return start_ + (x - x0) / width * (window_end() - start_);
}

void TimelineView::wheelEvent(QWheelEvent* event) {
  const double t = time_at(event->position().x());
  const double factor = event->angleDelta().y() > 0 ? 0.8 : 1.25;
  set_window(t - (t - start_) * factor, t + (window_end() - t) * factor);
  event->accept();
}

void TimelineView::mousePressEvent(QMouseEvent* event) {
  drag_x_ = event->position().x();
  drag_start_ = start_;
}

void TimelineView::mouseMoveEvent(QMouseEvent* event) {
  if (!(event->buttons() & Qt::LeftButton) || end_ <= start_) return;
  const double span = end_ - start_;
  const double dt = time_at(drag_x_) - time_at(event->position().x());
  double s0 = std::clamp(drag_start_ + dt, 0.0, model_->end_us() - span);
  start_ = s0;
  end_ = s0 + span;
  update();
}

void TimelineView::mouseDoubleClickEvent(QMouseEvent*) { set_window(0, 0); }

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
  const double w0 = start_, w1 = window_end(), span = w1 - w0;
  const int x0 = area.left() + kLabelWidth;
  const int width = std::max(50, area.right() - x0);
  auto x_of = [&](double us) { return x0 + (us - w0) / span * width; };
  // Title and time axis.
  QFont bold = font();
  bold.setBold(true);
  p.setFont(bold);
  p.setPen(palette().color(QPalette::Text));
  p.drawText(QRect(area.left(), 4, area.width(), 18), Qt::AlignLeft,
             tr("One step: %1 ms, %2 tasks").arg(end / 1e3, 0, 'f', 3).arg(model_->rowCount()));
  p.setFont(font());
  p.setPen(QColor(0x66, 0x66, 0x66));
  p.drawText(QRect(area.left(), 4, area.width(), 18), Qt::AlignRight,
             span < end ? tr("showing %1 to %2 ms; wheel: zoom, drag: pan, double-click: whole step")
                              .arg(w0 / 1e3, 0, 'f', 3).arg(w1 / 1e3, 0, 'f', 3)
                        : tr("wheel: zoom, drag: pan"));
  const bool ms = span >= 2000;
  const double step = tick_step(span, 8);
  for (double t = std::ceil(w0 / step) * step; t <= w1 + 1e-9; t += step) {
    const double x = x_of(t);
    p.setPen(QColor(0xdd, 0xdd, 0xdd));
    p.drawLine(QPointF(x, kTop - 4), QPointF(x, kTop + kRow * model_->track_count()));
    p.setPen(QColor(0x44, 0x44, 0x44));
    const QString label = ms ? QStringLiteral("%1 ms").arg(t / 1e3, 0, 'g', 4) : QStringLiteral("%1 us").arg(t, 0, 'g', 4);
    // Keep the last label inside the widget rather than cut at its edge.
    const double lx = std::min(x - 40, static_cast<double>(area.right()) - 80);
    p.drawText(QRectF(lx, kTop - 22, 80, 16), lx < x - 40 ? Qt::AlignRight | Qt::AlignVCenter : Qt::AlignCenter, label);
  }
  // Track labels and bands.
  for (int t = 0; t < model_->track_count(); ++t) {
    const int y = kTop + t * kRow;
    if (t % 2) p.fillRect(QRect(area.left(), y, area.width(), kRow), QColor(0xf4, 0xf6, 0xf8));
    p.setPen(model_->track_is_link(t) ? QColor(0x0b, 0x4f, 0x8a) : palette().color(QPalette::Text));
    p.drawText(QRect(area.left() + 2, y, kLabelWidth - 8, kRow), Qt::AlignVCenter | Qt::AlignLeft,
               p.fontMetrics().elidedText(model_->track_name(t), Qt::ElideRight, kLabelWidth - 8));
  }
  // Tasks, clipped to the window.
  p.save();
  p.setClipRect(QRect(x0, kTop, width + 1, kRow * model_->track_count()));
  std::map<QString, bool> seen;
  for (int r = 0; r < model_->rowCount(); ++r) {
    const int track = model_->index(r, TraceModel::kTrack).data().toInt();
    const QString phase = model_->index(r, TraceModel::kCategory).data().toString();
    const double start = model_->index(r, TraceModel::kStartUs).data().toDouble();
    const double dur = model_->index(r, TraceModel::kDurationUs).data().toDouble();
    seen[phase] = true;
    if (start + dur < w0 || start > w1) continue;
    const QRectF box(x_of(start), kTop + track * kRow + 3, std::max(1.0, dur / span * width), kRow - 6);
    p.fillRect(box, phase_colour(phase));
    const QRectF shown = box.intersected(QRectF(x0, box.top(), width, box.height()));
    if (shown.width() > 60) {  // zoomed in far enough to name the task
      p.setPen(Qt::white);
      p.drawText(shown.adjusted(3, 0, -2, 0), Qt::AlignVCenter | Qt::AlignLeft,
                 p.fontMetrics().elidedText(model_->index(r, TraceModel::kName).data().toString(), Qt::ElideRight,
                                            static_cast<int>(shown.width()) - 5));
    }
  }
  p.restore();
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
