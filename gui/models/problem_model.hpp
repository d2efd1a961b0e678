#pragma once
// Live validation of the scenario being edited, through the same library code as
// `moesim validate` (sim::scenario_from_json), and the list of its problems.

#include <QAbstractListModel>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace moesim::gui {

/// Every problem of a scenario document's text: JSON syntax (with line and column), then the
/// scenario v1 checks. `base_dir` resolves relative paths; `file_label` names the file.
std::vector<Problem> validate_scenario_text(const std::string& text, const std::string& base_dir,
                                            const std::string& file_label);

class ProblemModel : public QAbstractListModel {
  Q_OBJECT
 public:
  enum Role { kPointerRole = Qt::UserRole, kSeverityRole, kMessageRole };

  using QAbstractListModel::QAbstractListModel;

  void set_problems(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }
  bool has_errors() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  /// DisplayRole: "/json/pointer: message (hint)"; kPointerRole: the pointer; kSeverityRole:
  /// "error" | "warning"; kMessageRole: message and hint without the pointer.
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

 private:
  std::vector<Problem> problems_;
};

}  // namespace moesim::gui
