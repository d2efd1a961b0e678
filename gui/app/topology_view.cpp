#include "topology_view.hpp"

#include <QPainter>
#include <algorithm>
#include <cmath>

#include "run_table_model.hpp"

namespace moesim::gui {

QColor utilization_colour(double u) {
  u = std::clamp(u, 0.0, 1.0);
  // green -> amber -> red
  if (u < 0.5) return QColor::fromRgbF(static_cast<float>(0.17 + u * 2 * 0.78), static_cast<float>(0.63 + u * 2 * 0.12), 0.17f);
  return QColor::fromRgbF(static_cast<float>(0.95 - (u - 0.5) * 2 * 0.2), static_cast<float>(0.75 - (u - 0.5) * 2 * 0.6), 0.15f);
}

TopologyView::TopologyView(RunTableModel* links, QWidget* parent) : QWidget(parent), links_(links) {
  connect(links_, &QAbstractItemModel::modelReset, this, qOverload<>(&QWidget::update));
  setMinimumHeight(300);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
}

void TopologyView::set_scenario(const QJsonObject& scenario) {
  scenario_ = scenario;
  update();
}

void TopologyView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const QRect area = rect().adjusted(16, 12, -16, -12);
  const QJsonObject cluster = scenario_.value(QStringLiteral("cluster")).toObject();
  if (cluster.isEmpty() || links_->rowCount() == 0) {
    p.setPen(QColor(0x66, 0x66, 0x66));
    p.drawText(area, Qt::AlignCenter, tr("No topology yet: run a scenario."));
    return;
  }
  const QJsonObject node = cluster.value(QStringLiteral("node")).toObject();
  const QJsonObject out = cluster.value(QStringLiteral("scale_out")).toObject();
  const int nodes = cluster.value(QStringLiteral("nodes")).toInt(1);
  const int per_node = node.value(QStringLiteral("devices_per_node")).toInt(1);
  const int nics = out.value(QStringLiteral("nics_per_node")).toInt(0);
  const bool has_out = !out.isEmpty();
  // links_ row 0 is this run: column 0 scale-up %, column 1 scale-out %.
  const QVariant up_v = links_->index(0, 0).data(Qt::UserRole);
  const QVariant out_v = links_->index(0, 1).data(Qt::UserRole);
  const double up = up_v.isValid() ? up_v.toDouble() / 100 : 0;
  const double outu = out_v.isValid() ? out_v.toDouble() / 100 : 0;
  auto util_text = [](const QVariant& v) {
    return v.isValid() ? QStringLiteral("%1 % busy").arg(v.toDouble(), 0, 'f', 1) : QStringLiteral("not in this report");
  };

  QFont bold = font();
  bold.setBold(true);
  p.setFont(bold);
  p.setPen(palette().color(QPalette::Text));
  p.drawText(QRect(area.left(), area.top(), area.width(), 20), Qt::AlignLeft,
             tr("%1 node(s) x %2 %3 = %4 devices").arg(nodes).arg(per_node)
                 .arg(node.value(QStringLiteral("device")).toString()).arg(nodes * per_node));
  p.setFont(font());

  const int shown_nodes = std::min(nodes, 6);
  const int top = area.top() + 40;
  const int switch_h = 34;
  const int node_top = has_out ? top + switch_h + 90 : top;
  const int gap = 18;
  const int node_w = std::max(90, (area.width() - gap * (shown_nodes - 1 + (nodes > shown_nodes ? 1 : 0))) /
                                      (shown_nodes + (nodes > shown_nodes ? 1 : 0)));
  const int node_h = 150;
  const QColor up_colour = utilization_colour(up), out_colour = utilization_colour(outu);

  if (has_out) {
    const QRect sw(area.left(), top, area.width(), switch_h);
    p.setPen(QPen(QColor(0x55, 0x55, 0x55), 1));
    p.setBrush(QColor(0xee, 0xf1, 0xf5));
    p.drawRoundedRect(sw, 6, 6);
    p.setPen(palette().color(QPalette::Text));
    p.drawText(sw, Qt::AlignCenter,
               tr("scale-out network: %1, %2 (%3)")
                   .arg(out.value(QStringLiteral("link")).toString(),
                        out.value(QStringLiteral("topology")).toString(QStringLiteral("fat-tree")), util_text(out_v)));
  }
  for (int n = 0; n < shown_nodes; ++n) {
    const QRect box(area.left() + n * (node_w + gap), node_top, node_w, node_h);
    p.setPen(QPen(QColor(0x55, 0x55, 0x55), 1));
    p.setBrush(QColor(0xfa, 0xfa, 0xfa));
    p.drawRoundedRect(box, 6, 6);
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QRect(box.left(), box.top() + 2, box.width(), 16), Qt::AlignCenter, tr("node %1").arg(n));
    // Scale-up switch bar, devices hanging below it.
    const QRect bar(box.left() + 8, box.top() + 26, box.width() - 16, 10);
    p.fillRect(bar, up_colour);
    const int shown_dev = std::min(per_node, 8);
    const double slot = static_cast<double>(box.width() - 16) / shown_dev;
    for (int d = 0; d < shown_dev; ++d) {
      const double cx = box.left() + 8 + slot * (d + 0.5);
      p.setPen(QPen(up_colour, 3));
      p.drawLine(QPointF(cx, bar.bottom()), QPointF(cx, box.top() + 70));
      p.setPen(QPen(QColor(0x33, 0x33, 0x33), 1));
      p.setBrush(QColor(0x1f, 0x77, 0xb4));
      const double s = std::min(18.0, slot - 4);
      p.drawRect(QRectF(cx - s / 2, box.top() + 70, s, s));
    }
    if (per_node > shown_dev) {
      p.drawText(QRect(box.left(), box.top() + 92, box.width(), 16), Qt::AlignCenter, tr("+%1 more").arg(per_node - shown_dev));
    }
    if (has_out) {
      const int shown_nics = std::min(std::max(nics, 1), 8);
      for (int k = 0; k < shown_nics; ++k) {
        const double cx = box.left() + 8 + (box.width() - 16.0) / shown_nics * (k + 0.5);
        p.setPen(QPen(out_colour, 2.5));
        p.drawLine(QPointF(cx, box.top()), QPointF(cx, top + switch_h));
      }
    }
    p.setPen(QColor(0x44, 0x44, 0x44));
    p.drawText(QRect(box.left() + 4, box.bottom() - 36, box.width() - 8, 32), Qt::AlignCenter | Qt::TextWordWrap,
               tr("%1 x %2").arg(per_node).arg(node.value(QStringLiteral("scale_up")).toString()));
  }
  if (nodes > shown_nodes) {
    const QRect more(area.left() + shown_nodes * (node_w + gap), node_top, node_w, node_h);
    p.setPen(QColor(0x66, 0x66, 0x66));
    p.drawText(more, Qt::AlignCenter, tr("... %1 more\nnodes").arg(nodes - shown_nodes));
  }
  // Legend: the two link classes with their measured utilization, and the colour scale.
  int y = node_top + node_h + 24;
  auto legend = [&](const QColor& c, const QString& text) {
    p.fillRect(QRect(area.left(), y + 4, 28, 8), c);
    p.setPen(palette().color(QPalette::Text));
    p.drawText(QRect(area.left() + 36, y, area.width() - 36, 16), Qt::AlignVCenter, text);
    y += 22;
  };
  legend(up_colour, tr("scale-up (%1): %2").arg(node.value(QStringLiteral("scale_up")).toString(), util_text(up_v)));
  if (has_out) {
    legend(out_colour, tr("scale-out (%1, %2 NIC(s) per node): %3")
                           .arg(out.value(QStringLiteral("link")).toString()).arg(nics).arg(util_text(out_v)));
  }
  y += 6;
  for (int i = 0; i <= 100; ++i) p.fillRect(QRect(area.left() + i * 2, y, 2, 10), utilization_colour(i / 100.0));
  p.setPen(QColor(0x44, 0x44, 0x44));
  p.drawText(QRect(area.left() + 210, y - 3, 400, 16), Qt::AlignVCenter,
             tr("0 % to 100 % of the step busy (average over the class's ports)"));
}

}  // namespace moesim::gui
