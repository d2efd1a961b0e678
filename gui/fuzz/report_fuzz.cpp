// The GUI's readers (gui/models): a report as `Open a saved report` loads it, with every view
// model that shows one (headline, experts, phases, memory, links, serving charts, the "why"
// text), the trace view, plan.json and sweep results (CSV or JSONL). Contract: a refusal names
// the file; every cell of every model can be drawn.
#include <QAbstractItemModel>
#include <QJsonDocument>

#include "expert_load_model.hpp"
#include "figures.hpp"
#include "headline_model.hpp"
#include "plan_data.hpp"
#include "report_access.hpp"
#include "run_table_model.hpp"
#include "serving_series.hpp"
#include "support.hpp"
#include "sweep_model.hpp"
#include "trace_model.hpp"

namespace {

using moesim::fuzz::broken;

void draw_every_cell(const QAbstractItemModel& model) {
  const int rows = model.rowCount(), cols = model.columnCount();
  if (rows < 0 || cols < 0) broken("a model with a negative size");
  for (int c = 0; c < cols; ++c) (void)model.headerData(c, Qt::Horizontal, Qt::DisplayRole);
  for (int r = 0; r < rows; ++r) {
    (void)model.headerData(r, Qt::Vertical, Qt::DisplayRole);
    for (int c = 0; c < cols; ++c) {
      for (int role : {int(Qt::DisplayRole), int(Qt::ToolTipRole), int(Qt::UserRole)}) (void)model.data(model.index(r, c), role);
    }
  }
}

void refusal_names(const QString& error, const QString& source) {
  if (!error.contains(source)) broken("a refusal that does not name its file: " + error.toStdString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace moesim::gui;
  const QByteArray text(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
  const QString source = QStringLiteral("fuzz-report.json");

  const ReportLoad load = parse_report(text, source);
  if (!load.ok()) {
    refusal_names(load.error, source);
  } else {
    HeadlineModel headline;
    headline.set_report(load.report);
    draw_every_cell(headline);
    ExpertLoadModel experts;
    experts.set_report(load.report);
    draw_every_cell(experts);
    const std::vector<std::pair<QString, QJsonObject>> runs{{source, load.report}};
    for (auto columns : {phase_columns(), memory_columns(), link_columns()}) {
      RunTableModel table(std::move(columns));
      table.set_runs(runs);
      draw_every_cell(table);
    }
    (void)explain_report(load.report);
    (void)feasibility_text(load.report);
    (void)serving_series(load.report);
  }

  const QJsonDocument doc = QJsonDocument::fromJson(text);
  if (doc.isObject()) {
    TraceModel trace;
    if (trace.set_trace(doc.object())) draw_every_cell(trace);
  }

  const PlanResult plan = parse_plan(text, QStringLiteral("fuzz-plan.json"));
  if (!plan.error.isEmpty()) refusal_names(plan.error, QStringLiteral("fuzz-plan.json"));
  if (plan.winner >= static_cast<int>(plan.front.size())) broken("a plan winner outside its front");

  for (bool jsonl : {false, true}) {
    SweepModel sweep;
    const QString file = jsonl ? QStringLiteral("fuzz-sweep.jsonl") : QStringLiteral("fuzz-sweep.csv");
    if (sweep.load_text(text, jsonl, file)) {
      draw_every_cell(sweep);
    } else {
      refusal_names(sweep.error(), file);
    }
  }
  return 0;
}
