#include "compare_model.hpp"

#include <QBrush>
#include <QColor>
#include <QLocale>

#include "figures.hpp"

namespace moesim::gui {

void CompareModel::add_run(const QString& label, const QJsonObject& report) {
  const int col = columnCount();
  beginInsertColumns({}, col, col);
  const bool first = runs_.empty();
  runs_.emplace_back(label, report);
  endInsertColumns();
  if (first) {  // rows appear with the first run
    beginResetModel();
    endResetModel();
  } else if (rowCount() > 0) {
    emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
  }
}

void CompareModel::remove_run(int column) {
  if (column < 0 || column >= columnCount()) return;
  beginResetModel();
  runs_.erase(runs_.begin() + column);
  endResetModel();
}

void CompareModel::clear() {
  beginResetModel();
  runs_.clear();
  endResetModel();
}

int CompareModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid() || runs_.empty()) return 0;
  return 1 + static_cast<int>(headline_figures().size());
}

int CompareModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(runs_.size());
}

QVariant CompareModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const QJsonObject& report = runs_[static_cast<std::size_t>(index.column())].second;
  if (index.row() == 0) {
    if (role == Qt::DisplayRole) return feasibility_text(report);
    if (role == Qt::UserRole) return report.value(QStringLiteral("feasible")).toBool();
    return {};
  }
  const Figure& fig = headline_figures()[static_cast<std::size_t>(index.row() - 1)];
  const auto value = fig.value(report);
  const auto base = fig.value(runs_.front().second);
  std::optional<double> change;
  if (index.column() > 0 && value && base && *base != 0) change = (*value - *base) / *base;
  switch (role) {
    case Qt::DisplayRole: {
      if (!value) return not_in_report();
      QString text = format_figure(fig, *value);
      if (change) text += QStringLiteral(" (%1%2 %)").arg(*change >= 0 ? "+" : "").arg(QLocale::c().toString(*change * 100, 'f', 1));
      return text;
    }
    case Qt::UserRole:
      return value ? QVariant(*value) : QVariant();
    case Qt::UserRole + 1:
      return change ? QVariant(*change) : QVariant();
    case Qt::ForegroundRole: {
      if (!value) return QBrush(QColor(0x80, 0x80, 0x80));
      if (!change || std::abs(*change) < 1e-9) return {};
      const bool better = (*change > 0) == fig.higher_is_better;
      return QBrush(better ? QColor(0x1b, 0x7f, 0x3b) : QColor(0xc0, 0x1c, 0x28));
    }
    case Qt::TextAlignmentRole:
      return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    default:
      return {};
  }
}

QVariant CompareModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Horizontal) {
    if (section < 0 || section >= columnCount()) return {};
    return runs_[static_cast<std::size_t>(section)].first;
  }
  if (section < 0 || section >= rowCount()) return {};
  return section == 0 ? QStringLiteral("Feasible") : headline_figures()[static_cast<std::size_t>(section - 1)].label;
}

}  // namespace moesim::gui
