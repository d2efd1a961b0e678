#pragma once
// The Plan tab's data: the plan spec its form builds (docs/plan.md) and the Pareto front of a
// `moesim plan` run (plan.json), each member with the scenario file the plan wrote for it.

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVector>

namespace moesim::gui {

/// The form: a model, a rate and SLOs, and the GPUs to consider.
struct PlanForm {
  QString preset = QStringLiteral("qwen3-235b-a22b");
  QString weights_dtype = QStringLiteral("fp8");
  double output_tokens_per_s = 100000;
  int context_tokens = 4096;
  int input_tokens = 2048;
  double tpot_ms = 50;    ///< 0: no TPOT SLO
  double ttft_ms = 2000;  ///< 0: no TTFT SLO
  QStringList devices = {QStringLiteral("h100-sxm"), QStringLiteral("h200-sxm")};
  int confirm_top = 0;    ///< flow confirmations of the cheapest (0: none)
};

/// The GPUs the form offers, each with its node: 8 per node, its scale-up link, 8 NDR400 NICs.
QStringList plan_devices();

/// The spec the form stands for: its hardware on 1 to 8 nodes, attention TP 1 to 8, batches of
/// 16 to 256 sequences per device, with and without two-microbatch overlap, DeepEP low-latency.
QJsonObject plan_spec(const PlanForm& form);

struct PlanPoint {
  QString label;          ///< "4 x 8 h200-sxm, TP 8, EP 32, batch 64, two-microbatch"
  QString scenario_file;  ///< the scenario the plan wrote for it
  double usd_per_million = 0, tpot_ms = 0, ttft_ms = -1, joules_per_token = 0;
  int devices = 0;
};

struct PlanResult {
  QString error;          ///< the file could not be read ("" when fine)
  bool feasible = false;  ///< some candidate meets the SLOs
  QString summary;        ///< the counts, or why nothing meets the SLOs
  QVector<PlanPoint> front;
  int winner = -1;        ///< index in `front`
};

/// Reads a plan.json; `file` names it in errors.
PlanResult parse_plan(const QByteArray& json, const QString& file);

}  // namespace moesim::gui
