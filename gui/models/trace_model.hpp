#pragma once
// One simulated step from `moesim run --trace` (Chrome trace-event JSON): the complete ("X")
// events on a list of tracks (devices, then link classes), named by the metadata events. The
// timeline view draws straight from this model.

#include <QAbstractTableModel>
#include <QJsonObject>
#include <vector>

namespace moesim::gui {

class TraceModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kTrack, kName, kCategory, kStartUs, kDurationUs, kColumns };

  using QAbstractTableModel::QAbstractTableModel;

  /// Loads a trace; keeps the first `max_device_tracks` device tracks (the rest are counted in
  /// hidden_device_tracks()) and every link track. False with error() for a document that is not
  /// a trace-event object.
  bool set_trace(const QJsonObject& trace, int max_device_tracks = 8);
  void clear();
  QString error() const { return error_; }

  int track_count() const { return static_cast<int>(tracks_.size()); }
  QString track_name(int track) const;
  bool track_is_link(int track) const;
  int hidden_device_tracks() const { return hidden_devices_; }
  double end_us() const { return end_us_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  struct Track {
    int pid, tid;
    QString name;
    bool link;
  };
  struct Event {
    int track;
    QString name, category;
    double start_us, duration_us;
  };
  std::vector<Track> tracks_;
  std::vector<Event> events_;
  int hidden_devices_ = 0;
  double end_us_ = 0;
  QString error_;
};

}  // namespace moesim::gui
