#pragma once
// Tokens per MoE layer and device (report key expert_load.per_layer_device_tokens: an array of
// layers, each an array of per-device token counts). The heatmap view colours cells from
// Qt::BackgroundRole.

#include <QAbstractTableModel>
#include <QJsonObject>
#include <vector>

namespace moesim::gui {

class ExpertLoadModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;

  /// Reads the report's per-layer, per-device tokens; when the key is absent (or not an array of
  /// equal-length numeric arrays) the model is empty and available() is false, with why in status().
  void set_report(const QJsonObject& report);
  bool available() const { return !tokens_.empty(); }
  QString status() const { return status_; }
  double max_tokens() const { return max_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  /// DisplayRole: tokens; BackgroundRole: a colour from white (0) to dark red (the maximum);
  /// ToolTipRole: layer, device, tokens and the ratio to the layer's mean.
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<std::vector<double>> tokens_;  // [layer][device]
  std::vector<double> layer_mean_;
  double max_ = 0;
  QString status_;
};

}  // namespace moesim::gui
