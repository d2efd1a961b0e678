#include "row_filter_proxy.hpp"

namespace moesim::gui {

RowFilterProxy::RowFilterProxy(Predicate accept, QObject* parent)
    : QSortFilterProxyModel(parent), accept_(std::move(accept)) {}

void RowFilterProxy::refresh() { invalidateFilter(); }

bool RowFilterProxy::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
  return !source_parent.isValid() && accept_(source_row);
}

}  // namespace moesim::gui
