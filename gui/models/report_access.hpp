#pragma once
// Reading report v1 JSON (docs/report.md) in the GUI: dotted key paths, and the version check
// that turns a results file from another version into a clear message.

#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>
#include <optional>

namespace moesim::gui {

/// The report version this GUI reads.
inline constexpr int kReportVersion = 1;

/// The value at a dotted key path ("latency.tpot_s.p50"); undefined when any part is missing.
QJsonValue report_value(const QJsonObject& report, const QString& path);

/// The number at a dotted key path, if present and numeric.
std::optional<double> report_number(const QJsonObject& report, const QString& path);

/// A parsed report, or why it could not be read (names the source).
struct ReportLoad {
  QJsonObject report;
  QString error;
  bool ok() const { return error.isEmpty(); }
};

/// Parses report JSON text. Malformed JSON, a non-object, or a `report_version` other than
/// kReportVersion give an error that names `source` and says what was expected.
ReportLoad parse_report(const QByteArray& text, const QString& source);

}  // namespace moesim::gui
