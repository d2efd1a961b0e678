#include "expert_load_model.hpp"

#include <QBrush>
#include <QColor>
#include <QJsonArray>
#include <algorithm>

#include "figures.hpp"
#include "report_access.hpp"

namespace moesim::gui {

void ExpertLoadModel::set_report(const QJsonObject& report) {
  beginResetModel();
  tokens_.clear();
  layer_mean_.clear();
  max_ = 0;
  const QJsonValue v = report_value(report, QStringLiteral("expert_load.per_layer_device_tokens"));
  if (v.isUndefined()) {
    status_ = QStringLiteral("Expert load per layer and device: %1 (key expert_load.per_layer_device_tokens)")
                  .arg(not_in_report());
  } else if (!v.isArray()) {
    status_ = QStringLiteral("expert_load.per_layer_device_tokens: expected an array of layers");
  } else {
    status_.clear();
    for (const QJsonValue& layer : v.toArray()) {
      if (!layer.isArray()) {
        status_ = QStringLiteral("expert_load.per_layer_device_tokens: each layer must be an array of token counts");
        break;
      }
      std::vector<double> row;
      for (const QJsonValue& t : layer.toArray()) row.push_back(t.toDouble());
      if (!tokens_.empty() && row.size() != tokens_.front().size()) {
        status_ = QStringLiteral("expert_load.per_layer_device_tokens: layers have different device counts");
        break;
      }
      tokens_.push_back(std::move(row));
    }
    if (!status_.isEmpty() || tokens_.empty() || tokens_.front().empty()) {
      if (status_.isEmpty()) status_ = QStringLiteral("expert_load.per_layer_device_tokens is empty");
      tokens_.clear();
    }
    for (const auto& row : tokens_) {
      double sum = 0;
      for (double t : row) {
        sum += t;
        max_ = std::max(max_, t);
      }
      layer_mean_.push_back(sum / static_cast<double>(row.size()));
    }
  }
  endResetModel();
}

int ExpertLoadModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(tokens_.size());
}

int ExpertLoadModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() || tokens_.empty() ? 0 : static_cast<int>(tokens_.front().size());
}

QVariant ExpertLoadModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const auto layer = static_cast<std::size_t>(index.row());
  const double t = tokens_[layer][static_cast<std::size_t>(index.column())];
  switch (role) {
    case Qt::DisplayRole:
      return t;
    case Qt::BackgroundRole: {
      const double x = max_ > 0 ? t / max_ : 0;  // 0 white .. 1 dark red
      const auto c = [&](int lo, int hi) { return static_cast<int>(lo + (hi - lo) * x); };
      return QBrush(QColor(c(255, 165), c(255, 15), c(255, 21)));
    }
    case Qt::ToolTipRole: {
      const double mean = layer_mean_[layer];
      return QStringLiteral("layer %1, device %2: %3 tokens (%4 x layer mean)")
          .arg(index.row()).arg(index.column()).arg(t, 0, 'f', 0).arg(mean > 0 ? t / mean : 0, 0, 'f', 2);
    }
    default:
      return {};
  }
}

QVariant ExpertLoadModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  return orientation == Qt::Horizontal ? QStringLiteral("d%1").arg(section) : QStringLiteral("L%1").arg(section);
}

}  // namespace moesim::gui
