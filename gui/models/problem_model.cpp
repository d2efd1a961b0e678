#include "problem_model.hpp"

#include <QBrush>
#include <QColor>
#include <nlohmann/json.hpp>

#include "json_reader.hpp"
#include "input/input.hpp"

namespace moesim::gui {

std::vector<Problem> validate_scenario_text(const std::string& text, const std::string& base_dir,
                                            const std::string& file_label) {
  Diagnostics diag(file_label);
  if (auto doc = parse_json_text(text, diag)) (void)sim::scenario_from_json(*doc, base_dir, diag);
  return diag.problems();
}

void ProblemModel::set_problems(std::vector<Problem> problems) {
  beginResetModel();
  problems_ = std::move(problems);
  endResetModel();
}

bool ProblemModel::has_errors() const {
  for (const auto& p : problems_) {
    if (p.severity == Problem::Severity::error) return true;
  }
  return false;
}

int ProblemModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(problems_.size());
}

QVariant ProblemModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Problem& p = problems_[static_cast<std::size_t>(index.row())];
  const bool error = p.severity == Problem::Severity::error;
  QString message = QString::fromStdString(p.message);
  if (!p.hint.empty()) message += QStringLiteral(" (%1)").arg(QString::fromStdString(p.hint));
  switch (role) {
    case Qt::DisplayRole: {
      const QString where = p.pointer.empty() ? QStringLiteral("(whole file)") : QString::fromStdString(p.pointer);
      return QStringLiteral("%1%2: %3").arg(error ? "" : "warning: ", where, message);
    }
    case Qt::ToolTipRole:
      return QString::fromStdString(p.to_string());
    case kPointerRole:
      return QString::fromStdString(p.pointer);
    case kSeverityRole:
      return error ? QStringLiteral("error") : QStringLiteral("warning");
    case kMessageRole:
      return message;
    case Qt::ForegroundRole:
      return QBrush(error ? QColor(0xc0, 0x1c, 0x28) : QColor(0x9a, 0x67, 0x00));
    default:
      return {};
  }
}

}  // namespace moesim::gui
