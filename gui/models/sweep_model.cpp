#include "sweep_model.hpp"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace moesim::gui {
namespace {

// Splits CSV text into records of fields (RFC 4180 quoting; quoted fields may hold newlines).
std::vector<QStringList> parse_csv(const QString& text) {
  std::vector<QStringList> records;
  QStringList record;
  QString field;
  bool quoted = false, any = false;
  for (qsizetype i = 0; i < text.size(); ++i) {
    const QChar c = text[i];
    if (quoted) {
      if (c == u'"' && i + 1 < text.size() && text[i + 1] == u'"') {
        field += u'"';
        ++i;
      } else if (c == u'"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == u'"') {
      quoted = any = true;
    } else if (c == u',') {
      record << field;
      field.clear();
      any = true;
    } else if (c == u'\n' || c == u'\r') {
      if (c == u'\r' && i + 1 < text.size() && text[i + 1] == u'\n') ++i;
      if (any || !field.isEmpty()) {
        record << field;
        records.push_back(record);
      }
      record.clear();
      field.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (any || !field.isEmpty()) {
    record << field;
    records.push_back(record);
  }
  return records;
}

QVariant cell_value(const QString& text) {
  bool ok = false;
  const double d = text.toDouble(&ok);
  if (ok && std::isfinite(d)) return d;
  return text;
}

void flatten(const QJsonObject& obj, const QString& prefix, std::vector<std::pair<QString, QVariant>>& out) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    // Axis columns are JSON pointers: their value is the swept value, never flattened further.
    const QString key = prefix.isEmpty() ? it.key() : prefix + u'.' + it.key();
    if (it->isObject() && !key.startsWith(u'/')) {
      flatten(it->toObject(), key, out);
    } else if (it->isDouble()) {
      out.emplace_back(key, it->toDouble());
    } else if (it->isBool()) {
      out.emplace_back(key, it->toBool() ? QStringLiteral("true") : QStringLiteral("false"));
    } else if (it->isString()) {
      out.emplace_back(key, it->toString());
    } else if (!it->isNull()) {
      out.emplace_back(key, QString::fromUtf8(QJsonDocument(QJsonObject{{"v", *it}}).toJson(QJsonDocument::Compact)));
    }
  }
}

}  // namespace

SweepModel::ColumnKind classify_sweep_column(const QString& name) {
  using K = SweepModel::ColumnKind;
  if (name.startsWith(u'/') && name.size() > 1) return K::axis;
  if (name == QLatin1String("status")) return K::status;
  if (name == QLatin1String("error")) return K::error;
  if (name == QLatin1String("scenario_file")) return K::scenario_file;
  static const std::set<QString> whole = {"step_time_s", "feasible", "reason", "scenario", "model", "workload",
                                          "fidelity", "report_version", "devices", "nodes"};
  static const std::set<QString> groups = {"throughput", "latency", "phases_s", "comm", "links", "memory",
                                           "expert_load", "energy", "power", "cost", "slo", "training",
                                           "simulator", "cluster"};
  if (whole.count(name)) return K::report;
  const qsizetype dot = name.indexOf(u'.');
  if (dot > 0 && dot + 1 < name.size() && groups.count(name.left(dot))) return K::report;
  return K::unknown;
}

bool SweepModel::load_file(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    error_ = QStringLiteral("%1: cannot read the file (%2)").arg(path, f.errorString());
    return false;
  }
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix != QLatin1String("csv") && suffix != QLatin1String("jsonl") && suffix != QLatin1String("ndjson")) {
    error_ = QStringLiteral("%1: a sweep file must end in .csv or .jsonl (what moesim sweep writes)").arg(path);
    return false;
  }
  const QString old_base = base_dir_;
  base_dir_ = QFileInfo(path).absolutePath();
  const bool ok = load_text(f.readAll(), suffix != QLatin1String("csv"), path);
  if (!ok) base_dir_ = old_base;
  return ok;
}

bool SweepModel::load_text(const QByteArray& text, bool jsonl, const QString& source) {
  QStringList names;
  std::vector<std::vector<QVariant>> rows;
  if (jsonl) {
    int line_no = 0;
    std::vector<std::vector<std::pair<QString, QVariant>>> records;
    for (const QByteArray& line : text.split('\n')) {
      ++line_no;
      if (line.trimmed().isEmpty()) continue;
      QJsonParseError err{};
      const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
      if (err.error != QJsonParseError::NoError || !doc.isObject()) {
        error_ = QStringLiteral("%1:%2: not a JSON object (%3); a .jsonl sweep file holds one object per line")
                     .arg(source).arg(line_no).arg(err.error != QJsonParseError::NoError ? err.errorString()
                                                                                        : QStringLiteral("another JSON value"));
        return false;
      }
      auto& rec = records.emplace_back();
      flatten(doc.object(), {}, rec);
      for (const auto& [k, v] : rec) {
        if (!names.contains(k)) names << k;
      }
    }
    for (const auto& rec : records) {
      std::vector<QVariant> row(static_cast<std::size_t>(names.size()));
      for (const auto& [k, v] : rec) row[static_cast<std::size_t>(names.indexOf(k))] = v;
      rows.push_back(std::move(row));
    }
  } else {
    auto records = parse_csv(QString::fromUtf8(text));
    if (records.empty()) {
      error_ = QStringLiteral("%1: empty file (expected a header line and one line per scenario)").arg(source);
      return false;
    }
    names = records.front();
    for (std::size_t r = 1; r < records.size(); ++r) {
      if (records[r].size() != names.size()) {
        error_ = QStringLiteral("%1: line %2 has %3 fields, the header has %4")
                     .arg(source).arg(r + 1).arg(records[r].size()).arg(names.size());
        return false;
      }
      std::vector<QVariant> row;
      for (const QString& cell : records[r]) row.push_back(cell.isEmpty() ? QVariant() : cell_value(cell));
      rows.push_back(std::move(row));
    }
  }
  if (rows.empty()) {
    error_ = QStringLiteral("%1: no results in the file (only a header, or empty)").arg(source);
    return false;
  }
  std::vector<ColumnKind> kinds;
  QStringList unknown;
  bool any_numeric = false;
  for (qsizetype c = 0; c < names.size(); ++c) {
    kinds.push_back(classify_sweep_column(names[c]));
    if (kinds.back() == ColumnKind::unknown) unknown << names[c];
    if (kinds.back() == ColumnKind::axis || kinds.back() == ColumnKind::report) {
      for (const auto& row : rows) {
        if (row[static_cast<std::size_t>(c)].typeId() == QMetaType::Double) any_numeric = true;
      }
    }
  }
  if (!any_numeric) {
    error_ = QStringLiteral("%1: no numeric axis or report column to plot. Expected columns such as "
                            "\"/parallelism/experts/ep\" (a swept axis, named by JSON pointer), \"step_time_s\", "
                            "\"throughput.output_tokens_per_s\", \"status\", \"scenario_file\"; found: %2")
                 .arg(source, names.join(QStringLiteral(", ")));
    return false;
  }
  beginResetModel();
  names_ = names;
  kinds_ = std::move(kinds);
  rows_ = std::move(rows);
  front_.assign(rows_.size(), 0);
  x_ = y_ = -1;
  error_.clear();
  warnings_.clear();
  if (!unknown.isEmpty()) {
    warnings_ << QStringLiteral("%1: columns not understood, not offered as axes: %2 (expected swept axes named by "
                                "JSON pointer like \"/parallelism/experts/ep\", report keys like \"step_time_s\", or "
                                "status, error, scenario_file)")
                     .arg(source, unknown.join(QStringLiteral(", ")));
  }
  endResetModel();
  return true;
}

SweepModel::ColumnKind SweepModel::column_kind(int column) const {
  return column >= 0 && column < static_cast<int>(kinds_.size()) ? kinds_[static_cast<std::size_t>(column)]
                                                                  : ColumnKind::unknown;
}

std::vector<int> SweepModel::numeric_columns() const {
  std::vector<int> out;
  for (int c = 0; c < static_cast<int>(kinds_.size()); ++c) {
    if (kinds_[static_cast<std::size_t>(c)] != ColumnKind::axis && kinds_[static_cast<std::size_t>(c)] != ColumnKind::report) continue;
    for (int r = 0; r < rowCount(); ++r) {
      bool ok = false;
      number(r, c, &ok);
      if (ok) {
        out.push_back(c);
        break;
      }
    }
  }
  return out;
}

int SweepModel::column_of(const QString& name) const { return static_cast<int>(names_.indexOf(name)); }

double SweepModel::number(int row, int column, bool* ok) const {
  if (ok) *ok = false;
  if (row < 0 || row >= rowCount() || column < 0 || column >= static_cast<int>(names_.size())) return 0;
  const QVariant& v = rows_[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)];
  if (v.typeId() != QMetaType::Double) return 0;
  if (ok) *ok = true;
  return v.toDouble();
}

bool SweepModel::row_ok(int row) const {
  const int status = column_of(QStringLiteral("status"));
  if (status >= 0) {
    const QString s = rows_[static_cast<std::size_t>(row)][static_cast<std::size_t>(status)].toString();
    if (!s.isEmpty() && s != QLatin1String("ok")) return false;
  }
  const int feasible = column_of(QStringLiteral("feasible"));
  if (feasible >= 0) {
    const QVariant& f = rows_[static_cast<std::size_t>(row)][static_cast<std::size_t>(feasible)];
    if (f.toString() == QLatin1String("false") || (f.typeId() == QMetaType::Double && f.toDouble() == 0)) return false;
  }
  return true;
}

bool SweepModel::plottable(int row) const {
  if (row < 0 || row >= rowCount() || !row_ok(row)) return false;  // no numbers from runs that did not work
  bool okx = false, oky = false;
  number(row, x_, &okx);
  number(row, y_, &oky);
  return okx && oky;
}

bool SweepModel::on_front(int row) const {
  return row >= 0 && row < static_cast<int>(front_.size()) && front_[static_cast<std::size_t>(row)];
}

int SweepModel::front_size() const { return static_cast<int>(std::count(front_.begin(), front_.end(), 1)); }

void SweepModel::set_axes(int x_column, int y_column, bool x_higher_better, bool y_higher_better) {
  x_ = x_column;
  y_ = y_column;
  front_.assign(rows_.size(), 0);
  // Orient both so that larger is better, then keep the rows nothing dominates.
  auto gx = [&](int r) { return x_higher_better ? number(r, x_) : -number(r, x_); };
  auto gy = [&](int r) { return y_higher_better ? number(r, y_) : -number(r, y_); };
  std::vector<int> candidates;
  for (int r = 0; r < rowCount(); ++r) {
    if (plottable(r)) candidates.push_back(r);
  }
  for (int r : candidates) {
    bool dominated = false;
    for (int o : candidates) {
      if (o == r) continue;
      if (gx(o) >= gx(r) && gy(o) >= gy(r) && (gx(o) > gx(r) || gy(o) > gy(r))) {
        dominated = true;
        break;
      }
    }
    front_[static_cast<std::size_t>(r)] = dominated ? 0 : 1;
  }
  if (rowCount() > 0) emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
}

int SweepModel::nearest_row(double x, double y, double x_span, double y_span) const {
  int best = -1;
  double best_d = std::numeric_limits<double>::infinity();
  for (int r = 0; r < rowCount(); ++r) {
    if (!plottable(r)) continue;
    const double dx = (number(r, x_) - x) / (x_span > 0 ? x_span : 1);
    const double dy = (number(r, y_) - y) / (y_span > 0 ? y_span : 1);
    const double d = dx * dx + dy * dy;
    if (d < best_d) {
      best_d = d;
      best = r;
    }
  }
  return best;
}

QString SweepModel::scenario_file(int row) const {
  const int c = column_of(QStringLiteral("scenario_file"));
  if (c < 0 || row < 0 || row >= rowCount()) return {};
  const QString f = rows_[static_cast<std::size_t>(row)][static_cast<std::size_t>(c)].toString();
  if (f.isEmpty()) return {};
  return QDir(base_dir_.isEmpty() ? QDir::currentPath() : base_dir_).absoluteFilePath(f);
}

int SweepModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int SweepModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(names_.size());
}

QVariant SweepModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  switch (role) {
    case Qt::DisplayRole:
    case Qt::EditRole:
      return rows_[static_cast<std::size_t>(index.row())][static_cast<std::size_t>(index.column())];
    case kParetoRole:
      return on_front(index.row());
    case kPlottableRole:
      return plottable(index.row());
    default:
      return {};
  }
}

QVariant SweepModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Vertical) return section + 1;
  if (section < 0 || section >= static_cast<int>(names_.size())) return {};
  return names_[section];
}

}  // namespace moesim::gui
