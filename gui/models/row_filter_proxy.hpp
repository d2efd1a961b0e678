#pragma once
// A proxy that keeps the source rows a predicate accepts: e.g. the sweep's Pareto front, or the
// power caps that produced a report, so a chart maps only those rows.

#include <QSortFilterProxyModel>
#include <functional>

namespace moesim::gui {

class RowFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  using Predicate = std::function<bool(int source_row)>;
  explicit RowFilterProxy(Predicate accept, QObject* parent = nullptr);
  /// Re-evaluates the predicate (call after the source's state behind it changed).
  void refresh();

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;

 private:
  Predicate accept_;
};

}  // namespace moesim::gui
