#include "trace_model.hpp"

#include <QJsonArray>
#include <algorithm>
#include <map>

namespace moesim::gui {

void TraceModel::clear() {
  beginResetModel();
  tracks_.clear();
  events_.clear();
  hidden_devices_ = 0;
  end_us_ = 0;
  error_.clear();
  endResetModel();
}

bool TraceModel::set_trace(const QJsonObject& trace, int max_device_tracks) {
  clear();
  const QJsonValue events = trace.value(QStringLiteral("traceEvents"));
  if (!events.isArray()) {
    error_ = QStringLiteral("not a trace-event file (no \"traceEvents\" array)");
    return false;
  }
  // Metadata first: process names tell devices from links, thread names name the tracks.
  std::map<int, QString> process;
  std::map<std::pair<int, int>, QString> thread;
  for (const QJsonValue& v : events.toArray()) {
    const QJsonObject e = v.toObject();
    if (e.value(QStringLiteral("ph")).toString() != QLatin1String("M")) continue;
    const QString what = e.value(QStringLiteral("name")).toString();
    const QString name = e.value(QStringLiteral("args")).toObject().value(QStringLiteral("name")).toString();
    const int pid = e.value(QStringLiteral("pid")).toInt();
    if (what == QLatin1String("process_name")) process[pid] = name;
    if (what == QLatin1String("thread_name")) thread[{pid, e.value(QStringLiteral("tid")).toInt()}] = name;
  }
  std::map<std::pair<int, int>, int> track_of;
  int devices = 0;
  std::vector<Track> links;
  for (const auto& [key, name] : thread) {
    const bool link = process[key.first] == QLatin1String("links");
    if (link) {
      links.push_back({key.first, key.second, name, true});
    } else if (devices++ < max_device_tracks) {
      track_of[key] = static_cast<int>(tracks_.size());
      tracks_.push_back({key.first, key.second, name, false});
    }
  }
  hidden_devices_ = std::max(0, devices - max_device_tracks);
  for (const auto& l : links) {
    track_of[{l.pid, l.tid}] = static_cast<int>(tracks_.size());
    tracks_.push_back(l);
  }
  std::vector<Event> loaded;
  for (const QJsonValue& v : events.toArray()) {
    const QJsonObject e = v.toObject();
    if (e.value(QStringLiteral("ph")).toString() != QLatin1String("X")) continue;
    auto it = track_of.find({e.value(QStringLiteral("pid")).toInt(), e.value(QStringLiteral("tid")).toInt()});
    if (it == track_of.end()) continue;
    Event ev{it->second, e.value(QStringLiteral("name")).toString(), e.value(QStringLiteral("cat")).toString(),
             e.value(QStringLiteral("ts")).toDouble(), e.value(QStringLiteral("dur")).toDouble()};
    end_us_ = std::max(end_us_, ev.start_us + ev.duration_us);
    loaded.push_back(std::move(ev));
  }
  beginResetModel();
  events_ = std::move(loaded);
  endResetModel();
  return true;
}

QString TraceModel::track_name(int track) const {
  return track >= 0 && track < track_count() ? tracks_[static_cast<std::size_t>(track)].name : QString();
}

bool TraceModel::track_is_link(int track) const {
  return track >= 0 && track < track_count() && tracks_[static_cast<std::size_t>(track)].link;
}

int TraceModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(events_.size());
}

int TraceModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : kColumns; }

QVariant TraceModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  if (role != Qt::DisplayRole && role != Qt::EditRole) return {};
  const Event& e = events_[static_cast<std::size_t>(index.row())];
  switch (index.column()) {
    case kTrack: return e.track;
    case kName: return e.name;
    case kCategory: return e.category;
    case kStartUs: return e.start_us;
    case kDurationUs: return e.duration_us;
    default: return {};
  }
}

QVariant TraceModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kTrack: return QStringLiteral("track");
    case kName: return QStringLiteral("name");
    case kCategory: return QStringLiteral("phase");
    case kStartUs: return QStringLiteral("start (us)");
    case kDurationUs: return QStringLiteral("duration (us)");
    default: return {};
  }
}

}  // namespace moesim::gui
