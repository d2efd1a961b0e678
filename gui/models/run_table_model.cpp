#include "run_table_model.hpp"

#include <algorithm>
#include <numeric>

#include "report_access.hpp"

namespace moesim::gui {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

RunColumn scaled(const QString& header, const QString& path, double scale) {
  return {header, [path, scale](const QJsonObject& r) -> std::optional<double> {
            auto v = report_number(r, path);
            if (!v) return std::nullopt;
            return *v * scale;
          }};
}

}  // namespace

std::vector<RunColumn> phase_columns() {
  std::vector<RunColumn> cols;
  // Every phase the report names (sim/graph/step_graph.hpp), in the graph's order.
  const std::pair<const char*, const char*> phases[] = {
      {"attention", "attention"},   {"attention_proj", "attention proj."}, {"gate", "gate"},
      {"router", "router"},         {"dispatch", "dispatch"},              {"experts", "experts"},
      {"combine", "combine"},       {"shared_expert", "shared expert"},    {"dense_mlp", "dense MLP"},
      {"activation", "activation"}, {"rmsnorm", "RMSNorm"},                {"rotary", "rotary"},
      {"kv_write", "KV write"},     {"residual", "residual"},              {"permute_unpermute", "permute"},
      {"cast_transpose", "fp8 cast"}, {"lm_head", "lm head"},              {"sampling", "sampling"},
      {"loss", "loss"},             {"engine", "engine"},                  {"pipeline", "pipeline"},
      {"other", "other"}};
  for (const auto& [key, label] : phases) {
    cols.push_back(scaled(QString::fromLatin1(label), QStringLiteral("phases_s.") + QLatin1String(key), 1e3));
  }
  return cols;
}

std::vector<RunColumn> memory_columns() {
  // Stacked in this order up to the capacity; whatever lies beyond it is one "over capacity"
  // segment that starts exactly at the capacity, so the bar reads against the device's size.
  const QString m = QStringLiteral("memory.per_device_bytes.");
  const std::vector<std::pair<QString, QString>> parts = {
      {"weights", "weights"}, {"KV cache", "kv_cache"}, {"activations", "activations"}, {"buffers", "buffers"}};
  auto clipped = [m, parts](const QJsonObject& r, std::size_t upto) -> std::optional<double> {
    auto cap = report_number(r, m + "capacity");
    auto part = report_number(r, m + parts[upto].second);
    if (!part) return std::nullopt;
    if (!cap) return *part / kGiB;
    double below = 0;
    for (std::size_t i = 0; i < upto; ++i) below += report_number(r, m + parts[i].second).value_or(0);
    return std::clamp(*cap - below, 0.0, *part) / kGiB;
  };
  std::vector<RunColumn> cols;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    cols.push_back({parts[i].first, [clipped, i](const QJsonObject& r) { return clipped(r, i); }});
  }
  auto diff = [m](const QJsonObject& r) -> std::optional<double> {
    auto cap = report_number(r, m + "capacity");
    auto total = report_number(r, m + "total");
    if (!cap || !total) return std::nullopt;
    return (*cap - *total) / kGiB;
  };
  cols.push_back({"free", [diff](const QJsonObject& r) -> std::optional<double> {
                    auto d = diff(r);
                    if (!d) return std::nullopt;
                    return std::max(0.0, *d);
                  }});
  cols.push_back({"over capacity", [diff](const QJsonObject& r) -> std::optional<double> {
                    auto d = diff(r);
                    if (!d) return std::nullopt;
                    return std::max(0.0, -*d);
                  }});
  return cols;
}

std::vector<RunColumn> link_columns() {
  return {scaled("scale-up", "links.scale_up.utilization", 100), scaled("scale-out", "links.scale_out.utilization", 100)};
}

RunTableModel::RunTableModel(std::vector<RunColumn> columns, QObject* parent)
    : QAbstractTableModel(parent), columns_(std::move(columns)) {}

void RunTableModel::set_runs(const std::vector<std::pair<QString, QJsonObject>>& runs) {
  beginResetModel();
  labels_.clear();
  values_.clear();
  for (const auto& [label, report] : runs) {
    labels_.push_back(label);
    auto& row = values_.emplace_back();
    for (const auto& c : columns_) row.push_back(c.value(report));
  }
  endResetModel();
}

bool RunTableModel::column_available(int column) const {
  return std::any_of(values_.begin(), values_.end(),
                     [&](const auto& row) { return row[static_cast<std::size_t>(column)].has_value(); });
}

bool RunTableModel::any_available() const {
  for (int c = 0; c < columnCount(); ++c) {
    if (column_available(c)) return true;
  }
  return false;
}

double RunTableModel::max_row_sum() const {
  double best = 0;
  for (const auto& row : values_) {
    double sum = 0;
    for (const auto& v : row) sum += v.value_or(0);
    best = std::max(best, sum);
  }
  return best;
}

int RunTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(values_.size());
}

int RunTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(columns_.size());
}

QVariant RunTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const auto& v = values_[static_cast<std::size_t>(index.row())][static_cast<std::size_t>(index.column())];
  if (role == Qt::DisplayRole || role == Qt::EditRole) return v.value_or(0.0);
  if (role == Qt::UserRole) return v ? QVariant(*v) : QVariant();
  return {};
}

QVariant RunTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Horizontal) {
    if (section < 0 || section >= columnCount()) return {};
    return columns_[static_cast<std::size_t>(section)].header;
  }
  if (section < 0 || section >= rowCount()) return {};
  return labels_[static_cast<std::size_t>(section)];
}

}  // namespace moesim::gui
