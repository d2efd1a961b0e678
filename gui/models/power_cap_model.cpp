#include "power_cap_model.hpp"

#include <QBrush>
#include <QColor>

#include "figures.hpp"
#include "report_access.hpp"

namespace moesim::gui {

void PowerCapModel::set_caps(const std::vector<double>& caps_w) {
  beginResetModel();
  rows_.clear();
  for (double c : caps_w) rows_.push_back({c, State::pending, {}, {}});
  endResetModel();
}

void PowerCapModel::set_running(int row) {
  if (row < 0 || row >= rowCount()) return;
  rows_[static_cast<std::size_t>(row)].state = State::running;
  emit dataChanged(index(row, 0), index(row, kColumns - 1));
}

void PowerCapModel::set_result(int row, const QJsonObject& report) {
  if (row < 0 || row >= rowCount()) return;
  auto& r = rows_[static_cast<std::size_t>(row)];
  r.state = State::done;
  r.report = report;
  r.message = report.value(QStringLiteral("feasible")).toBool(true)
                  ? QString()
                  : QStringLiteral("infeasible: ") + report.value(QStringLiteral("reason")).toString();
  emit dataChanged(index(row, 0), index(row, kColumns - 1));
}

void PowerCapModel::set_refused(int row, const QString& message) {
  if (row < 0 || row >= rowCount()) return;
  auto& r = rows_[static_cast<std::size_t>(row)];
  r.state = State::refused;
  r.message = message;
  emit dataChanged(index(row, 0), index(row, kColumns - 1));
}

PowerCapModel::State PowerCapModel::state(int row) const { return rows_.at(static_cast<std::size_t>(row)).state; }
double PowerCapModel::cap_w(int row) const { return rows_.at(static_cast<std::size_t>(row)).cap_w; }

int PowerCapModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int PowerCapModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : kColumns; }

QVariant PowerCapModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Row& r = rows_[static_cast<std::size_t>(index.row())];
  std::optional<double> number;
  if (index.column() == kCapW) number = r.cap_w;
  if (r.state == State::done && index.column() == kThroughput) {
    number = report_number(r.report, QStringLiteral("throughput.output_tokens_per_s"));
  }
  if (r.state == State::done && index.column() == kTokensPerJoule) {
    auto j = report_number(r.report, QStringLiteral("energy.joules_per_token"));
    if (j && *j > 0) number = 1.0 / *j;
  }
  if (role == Qt::UserRole) return number ? QVariant(*number) : QVariant();
  if (role == Qt::ForegroundRole && r.state == State::refused) return QBrush(QColor(0xc0, 0x1c, 0x28));
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case kCapW:
      return r.cap_w;
    case kStatus:
      switch (r.state) {
        case State::pending: return QStringLiteral("waiting");
        case State::running: return QStringLiteral("running");
        case State::done: return QStringLiteral("done");
        case State::refused: return QStringLiteral("refused");
      }
      return {};
    case kThroughput:
    case kTokensPerJoule:
      if (number) return *number;
      return r.state == State::done ? not_in_report() : QString();
    case kMessage:
      return r.message;
    default:
      return {};
  }
}

QVariant PowerCapModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kCapW: return QStringLiteral("cap (W)");
    case kStatus: return QStringLiteral("status");
    case kThroughput: return QStringLiteral("output tok/s");
    case kTokensPerJoule: return QStringLiteral("tokens per joule");
    case kMessage: return QStringLiteral("message");
    default: return {};
  }
}

}  // namespace moesim::gui
