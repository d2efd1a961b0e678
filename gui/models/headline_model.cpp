#include "headline_model.hpp"

#include <QBrush>
#include <QColor>
#include <QFont>

#include "figures.hpp"

namespace moesim::gui {

void HeadlineModel::set_report(const QJsonObject& report) {
  beginResetModel();
  report_ = report;
  has_report_ = true;
  endResetModel();
}

void HeadlineModel::clear() {
  beginResetModel();
  report_ = {};
  has_report_ = false;
  endResetModel();
}

int HeadlineModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid() || !has_report_) return 0;
  return 1 + static_cast<int>(headline_figures().size());
}

int HeadlineModel::columnCount(const QModelIndex& parent) const {
  if (parent.isValid()) return 0;
  return report_.contains(QStringLiteral("intervals")) ? 3 : 2;
}

int HeadlineModel::row_of(const QString& label) const {
  if (label == QLatin1String("Feasible")) return 0;
  const auto& figs = headline_figures();
  for (std::size_t i = 0; i < figs.size(); ++i) {
    if (figs[i].label == label) return static_cast<int>(i) + 1;
  }
  return -1;
}

QVariant HeadlineModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const int row = index.row();
  if (row == 0) {
    if (index.column() == 2) return {};
    const bool feasible = report_.value(QStringLiteral("feasible")).toBool();
    switch (role) {
      case Qt::DisplayRole:
        return index.column() == 0 ? QVariant(QStringLiteral("Feasible")) : QVariant(feasibility_text(report_));
      case Qt::UserRole:
        return index.column() == 1 ? QVariant(feasible) : QVariant();
      case Qt::ToolTipRole:
        return feasibility_text(report_);
      case Qt::ForegroundRole:
        return index.column() == 1 ? QVariant(QBrush(feasible ? QColor(0x1b, 0x7f, 0x3b) : QColor(0xc0, 0x1c, 0x28)))
                                   : QVariant();
      case Qt::FontRole: {
        QFont f;
        f.setBold(true);
        return f;
      }
      default:
        return {};
    }
  }
  const Figure& fig = headline_figures()[static_cast<std::size_t>(row - 1)];
  if (index.column() == 2) {  // the p10 - p90 interval of an uncertainty run
    const auto iv = figure_interval(fig, report_);
    switch (role) {
      case Qt::DisplayRole:
        return iv ? QStringLiteral("%1 \u2013 %2").arg(format_figure(fig, iv->first), format_figure(fig, iv->second)) : QString();
      case Qt::UserRole:
        return iv ? QVariant(QVariantList{iv->first, iv->second}) : QVariant();
      case Qt::ToolTipRole:
        return iv ? QStringLiteral("p10 - p90 over the samples of the hardware figures' uncertainty (intervals.%1)").arg(fig.source)
                  : QStringLiteral("no interval for %1 in this report").arg(fig.source);
      case Qt::TextAlignmentRole:
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      default:
        return {};
    }
  }
  const auto value = fig.value(report_);
  const bool infeasible = !report_.value(QStringLiteral("feasible")).toBool(true);
  switch (role) {
    case Qt::DisplayRole:
      if (index.column() == 0) return fig.label;
      return value ? format_figure(fig, *value) : not_in_report();
    case Qt::UserRole:
      return index.column() == 1 && value ? QVariant(*value) : QVariant();
    case Qt::ToolTipRole:
      return infeasible ? QStringLiteral("report key: %1. The deployment does not fit: this is what a step would "
                                         "take if it did.").arg(fig.source)
                        : QStringLiteral("report key: %1").arg(fig.source);
    case Qt::ForegroundRole:
      // Absent, or the figure of a deployment that cannot run: greyed.
      return index.column() == 1 && (!value || infeasible) ? QVariant(QBrush(QColor(0x80, 0x80, 0x80))) : QVariant();
    case Qt::TextAlignmentRole:
      return index.column() == 1 ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    default:
      return {};
  }
}

QVariant HeadlineModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  return section == 0 ? QStringLiteral("Figure") : section == 1 ? QStringLiteral("Value") : QStringLiteral("p10 \u2013 p90");
}

}  // namespace moesim::gui
