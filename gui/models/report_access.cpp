#include "report_access.hpp"

#include <QJsonDocument>
#include <QJsonParseError>

namespace moesim::gui {

QJsonValue report_value(const QJsonObject& report, const QString& path) {
  QJsonValue v(report);
  for (const auto& part : path.split(u'.')) {
    if (!v.isObject()) return QJsonValue(QJsonValue::Undefined);
    v = v.toObject().value(part);
  }
  return v;
}

std::optional<double> report_number(const QJsonObject& report, const QString& path) {
  const QJsonValue v = report_value(report, path);
  if (!v.isDouble()) return std::nullopt;
  return v.toDouble();
}

ReportLoad parse_report(const QByteArray& text, const QString& source) {
  QJsonParseError err{};
  const QJsonDocument doc = QJsonDocument::fromJson(text, &err);
  if (err.error != QJsonParseError::NoError) {
    return {{}, QStringLiteral("%1: not a moesim report (JSON error at byte %2: %3)")
                    .arg(source).arg(err.offset).arg(err.errorString())};
  }
  if (!doc.isObject()) return {{}, QStringLiteral("%1: not a moesim report (expected a JSON object)").arg(source)};
  const QJsonObject report = doc.object();
  const QJsonValue version = report.value(QStringLiteral("report_version"));
  if (!version.isDouble()) {
    return {{}, QStringLiteral("%1: not a moesim report (no \"report_version\"; this GUI reads version %2)")
                    .arg(source).arg(kReportVersion)};
  }
  if (version.toInt() != kReportVersion || version.toDouble() != kReportVersion) {
    return {{}, QStringLiteral("%1: a results file from another version of moesim (report_version %2; this "
                               "GUI reads version %3). Re-run the scenario with this version.")
                    .arg(source).arg(version.toDouble()).arg(kReportVersion)};
  }
  return {report, {}};
}

}  // namespace moesim::gui
