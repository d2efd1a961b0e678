// The planner's item models, fed with reports and traces the real CLI writes, each checked by
// QAbstractItemModelTester (which fails the test on any broken model contract).

#include <QAbstractItemModelTester>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "compare_model.hpp"
#include "expert_load_model.hpp"
#include "figures.hpp"
#include "plan_data.hpp"
#include "serving_series.hpp"
#include "headline_model.hpp"
#include "power_cap_model.hpp"
#include "problem_model.hpp"
#include "report_access.hpp"
#include "row_filter_proxy.hpp"
#include "run_table_model.hpp"
#include "sweep_model.hpp"
#include "trace_model.hpp"

using namespace moesim::gui;

namespace {

void check(QAbstractItemModel* model) {
  new QAbstractItemModelTester(model, QAbstractItemModelTester::FailureReportingMode::QtTest, model);
}

// The report's largest phase (phases_s), found independently of the code under test.
QString largest_phase(const QJsonObject& report) {
  QString best;
  double most = -1;
  const QJsonObject phases = report["phases_s"].toObject();
  for (auto it = phases.begin(); it != phases.end(); ++it) {
    if (it->toDouble() > most) {
      most = it->toDouble();
      best = it.key();
    }
  }
  return best;
}

}  // namespace

class GuiModelsTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    // One real run of the embedded default scenario, with its trace.
    QProcess p;
    p.start(QStringLiteral(MOESIM_BINARY), {"run", "--json", "--trace", dir_.filePath("trace.json")});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 0);
    const ReportLoad load = parse_report(p.readAllStandardOutput(), "cli");
    QVERIFY2(load.ok(), qPrintable(load.error));
    report_ = load.report;
    QFile t(dir_.filePath("trace.json"));
    QVERIFY(t.open(QIODevice::ReadOnly));
    trace_ = QJsonDocument::fromJson(t.readAll()).object();
  }

  void report_from_another_version_is_a_clear_error() {
    QJsonObject other = report_;
    other["report_version"] = 2;
    const ReportLoad load = parse_report(QJsonDocument(other).toJson(), "old.json");
    QVERIFY(!load.ok());
    QVERIFY2(load.error.contains("old.json") && load.error.contains("another version") &&
                 load.error.contains("report_version 2"),
             qPrintable(load.error));
    QVERIFY(parse_report("{\"feasible\": true}", "x.json").error.contains("no \"report_version\""));
    QVERIFY(parse_report("{not json", "x.json").error.contains("JSON error"));
    QVERIFY(parse_report("[1, 2]", "x.json").error.contains("expected a JSON object"));
  }

  void headline_model_shows_report_values_and_absent_keys() {
    HeadlineModel m;
    check(&m);
    QCOMPARE(m.rowCount(), 0);
    m.set_report(report_);
    QCOMPARE(m.index(0, 1).data().toString(), QStringLiteral("yes"));
    const int tput = m.row_of("Output throughput");
    QVERIFY(tput > 0);
    QCOMPARE(m.index(tput, 1).data(Qt::UserRole).toDouble(),
             report_["throughput"].toObject()["output_tokens_per_s"].toDouble());
    const int step = m.row_of("Step time");
    QCOMPARE(m.index(step, 1).data(Qt::UserRole).toDouble(), report_["step_time_s"].toDouble() * 1e3);
    // Energy follows the report; a report without it says so, with no number behind it.
    const int energy = m.row_of("Tokens per joule");
    QVERIFY(qAbs(m.index(energy, 1).data(Qt::UserRole).toDouble() * report_["energy"].toObject()["joules_per_token"].toDouble() - 1.0) < 1e-9);
    QJsonObject no_energy = report_;
    no_energy.remove("energy");
    m.set_report(no_energy);
    QCOMPARE(m.index(energy, 1).data().toString(), not_in_report());
    QVERIFY(!m.index(energy, 1).data(Qt::UserRole).isValid());
    // Once a report has the key, the figure follows it.
    QJsonObject with_energy = report_;
    with_energy["energy"] = QJsonObject{{"joules", 10.0}, {"joules_per_token", 0.25}};
    m.set_report(with_energy);
    QCOMPARE(m.index(energy, 1).data(Qt::UserRole).toDouble(), 4.0);
    QJsonObject infeasible = report_;
    infeasible["feasible"] = false;
    infeasible["reason"] = "needs 120 GiB";
    m.set_report(infeasible);
    QCOMPARE(m.index(0, 1).data().toString(), QStringLiteral("no: needs 120 GiB"));
    QCOMPARE(m.index(tput, 1).data(Qt::ForegroundRole).value<QBrush>().color(), QColor(0x80, 0x80, 0x80));
  }

  // An uncertainty run's report: a third column with each figure's p10 - p90 in its own units (a
  // figure that inverts its key, tokens per joule, keeps low below high), and the tornado in the
  // Why lines.
  void headline_model_shows_intervals_and_the_tornado() {
    HeadlineModel m;
    check(&m);
    m.set_report(report_);
    QCOMPARE(m.columnCount(), 2);  // no intervals: no third column
    QJsonObject r = report_;
    const QString top_phase = largest_phase(report_);
    r["intervals"] = QJsonObject{{"step_time_s", QJsonObject{{"p10", 0.010}, {"p50", 0.011}, {"p90", 0.013}}},
                                 {"phases_s." + top_phase, QJsonObject{{"p10", 0.001}, {"p50", 0.0015}, {"p90", 0.002}}},
                                 {"energy.joules_per_token", QJsonObject{{"p10", 0.2}, {"p50", 0.25}, {"p90", 0.4}}}};
    r["uncertainty"] = QJsonObject{{"samples", 32}, {"tornado_key", "step_time_s"},
                                   {"tornado", QJsonArray{QJsonObject{{"figure", "device h100-sxm: memory"}, {"class", "derived"},
                                                                      {"spread", 0.1}, {"share", 0.83}}}}};
    m.set_report(r);
    QCOMPARE(m.columnCount(), 3);
    QCOMPARE(m.headerData(2, Qt::Horizontal).toString(), QStringLiteral("p10 \u2013 p90"));
    const QVariantList step = m.index(m.row_of("Step time"), 2).data(Qt::UserRole).toList();
    QCOMPARE(step.size(), 2);
    QCOMPARE(step[0].toDouble(), 10.0);  // ms
    QCOMPARE(step[1].toDouble(), 13.0);
    const QVariantList tpj = m.index(m.row_of("Tokens per joule"), 2).data(Qt::UserRole).toList();
    QCOMPARE(tpj[0].toDouble(), 2.5);
    QCOMPARE(tpj[1].toDouble(), 5.0);
    QVERIFY(!m.index(m.row_of("Output throughput"), 2).data(Qt::UserRole).isValid());  // no interval for it
    QVERIFY(m.index(0, 2).data().toString().isEmpty());
    const QString why = explain_report(r).join(u'\n');
    QVERIFY2(why.contains("Uncertainty (32 samples): what moves step_time_s most: device h100-sxm: memory 83% (derived"),
             qPrintable(why));
    QVERIFY2(why.contains(top_phase + " ") && why.contains("p10 \u2013 p90 1.00 \u2013 2.00 ms"), qPrintable(why));
  }

  void serving_series_reads_the_run_over_time_and_the_cdfs() {
    QJsonObject r;
    r["serving"] = QJsonObject{
        {"preemptions", 3},
        {"series", QJsonObject{{"t_s", QJsonArray{0.5, 1.0}}, {"running", QJsonArray{4, 8}}, {"waiting", QJsonArray{2, 0}},
                               {"kv_fraction", QJsonArray{0.25, 0.5}}, {"decode_tokens_per_s", QJsonArray{100, 200}},
                               {"preemptions", QJsonArray{1, 3}}}},
        {"cdf", QJsonObject{{"percent", QJsonArray{0, 50, 100}}, {"ttft_s", QJsonArray{0.01, 0.02, 0.05}},
                            {"tpot_s", QJsonArray{0.001, 0.002, 0.004}}}}};
    const ServingSeries s = serving_series(r);
    QVERIFY(s.ok());
    QCOMPARE(s.running.size(), 2);
    QCOMPARE(s.kv_percent[1], QPointF(1.0, 50.0));
    QCOMPARE(s.ttft_cdf[1], QPointF(20.0, 50.0));  // ms against % of requests
    QCOMPARE(s.tpot_cdf[2], QPointF(4.0, 100.0));
    QCOMPARE(s.preemptions, 3.0);
    QVERIFY(serving_series(QJsonObject{{"step_time_s", 0.01}}).missing.contains("Not a serving run"));
    QVERIFY(serving_series(QJsonObject{{"serving", QJsonObject{{"requests", 5}}}}).missing.contains("no serving.series"));
  }

  // The Plan tab's spec from its form, and a plan.json's front with its winner.
  void plan_spec_and_plan_front() {
    PlanForm f;
    f.devices = {"b200"};
    f.ttft_ms = 0;
    const QJsonObject spec = plan_spec(f);
    QCOMPARE(spec["hardware"].toArray().size(), 1);
    QCOMPARE(spec["hardware"].toArray()[0].toObject()["scale_up"].toString(), QStringLiteral("nvlink5"));
    QVERIFY(!spec["slo"].toObject().contains("ttft_p99"));
    QCOMPARE(spec["slo"].toObject()["tpot_p99"].toString(), QStringLiteral("50ms"));
    const QJsonObject member{{"device", "h200-sxm"}, {"nodes", 2}, {"devices_per_node", 8}, {"attention_tp", 2}, {"ep", 16},
                             {"pp", 1}, {"batch_per_device", 64}, {"overlap", "none"}, {"replicas", 3},
                             {"usd_per_million_output_tokens", 0.5}, {"tpot_s", 0.04}, {"ttft_s", 0.2},
                             {"joules_per_token_tdp_bound", 0.3}, {"total_devices", 48}};
    QJsonObject with_file = member;
    with_file["scenario_file"] = "/tmp/front/candidate-1.json";
    const QJsonObject plan{{"feasible", true}, {"candidates", 10}, {"evaluation_s", 0.1}, {"winner", member},
                           {"front", QJsonArray{with_file}}};
    const PlanResult r = parse_plan(QJsonDocument(plan).toJson(), "plan.json");
    QVERIFY(r.error.isEmpty());
    QCOMPARE(r.front.size(), 1);
    QCOMPARE(r.winner, 0);
    QCOMPARE(r.front[0].tpot_ms, 40.0);
    QCOMPARE(r.front[0].label, QStringLiteral("2 x 8 h200-sxm, TP 2, EP 16, batch 64, none, 3 replicas"));
    QVERIFY(parse_plan("{", "p.json").error.startsWith("p.json: not a plan"));
    const PlanResult none = parse_plan(R"({"feasible": false, "candidates": 3, "binding_constraint": "memory"})", "p.json");
    QVERIFY(!none.feasible);
    QVERIFY(none.summary.contains("binding: memory"));
  }

  void explanations_follow_the_report() {
    const QStringList why = explain_report(report_);
    // The largest phase of the real report, found here independently, leads the phase line.
    const QString largest = largest_phase(report_);
    const QString phase_line = why.filter("Largest phases").value(0);
    QVERIFY2(phase_line.startsWith("Largest phases on the critical path: " + largest + " "), qPrintable(phase_line));
    QVERIFY(why.filter("Busiest link class: scale-up").size() == 1);  // one node: only scale-up
    QVERIFY(why.filter("Memory headroom").size() == 1);
    QVERIFY(why.filter("Does not run").isEmpty());
    QJsonObject over = report_;
    auto mem = over["memory"].toObject();
    auto dev = mem["per_device_bytes"].toObject();
    dev["total"] = dev["capacity"].toDouble() * 1.5;
    mem["per_device_bytes"] = dev;
    over["memory"] = mem;
    over["feasible"] = false;
    over["reason"] = "does not fit";
    const QStringList bad = explain_report(over);
    QCOMPARE(bad.front(), QStringLiteral("Does not run: does not fit."));
    QVERIFY(bad.filter("The fullest device needs").size() == 1);
    QVERIFY(bad.filter("Memory headroom").isEmpty());
    QVERIFY(explain_report(QJsonObject{{"report_version", 1}}).isEmpty());
  }

  // A serving run's phases are a representative decode step's: their shares are of that step
  // (the phases' sum), not of the run's mean step, which counts prefill steps too.
  void serving_phase_shares_are_of_their_own_step() {
    const QJsonObject serving{{"report_version", 1},
                              {"step_time_s", 0.028},
                              {"phases_s", QJsonObject{{"experts", 0.015}, {"attention", 0.005}}},
                              {"serving", QJsonObject{{"requests", 10}}}};
    const QString line = explain_report(serving).filter("Largest phases").value(0);
    QVERIFY2(line.startsWith("Largest phases of a representative decode step (mean batch and context, 20.00 ms): "
                             "experts 15.00 ms (75 %)"),
             qPrintable(line));
    QJsonObject labelled = serving;
    labelled["validation"] = QJsonObject{{"label", "validated: within 16% on 1 similar case (x +15.5%)"}};
    QCOMPARE(explain_report(labelled).filter("Accuracy").value(0),
             QStringLiteral("Accuracy: validated: within 16% on 1 similar case (x +15.5%)."));
  }

  void run_table_models_bind_report_keys() {
    RunTableModel phases(phase_columns());
    RunTableModel memory(memory_columns());
    RunTableModel links(link_columns());
    check(&phases);
    check(&memory);
    check(&links);
    phases.set_runs({{"a", report_}});
    memory.set_runs({{"a", report_}});
    links.set_runs({{"a", report_}});
    QCOMPARE(phases.rowCount(), 1);
    QCOMPARE(phases.headerData(0, Qt::Vertical).toString(), QStringLiteral("a"));
    double sum = 0;
    for (int c = 0; c < phases.columnCount(); ++c) sum += phases.index(0, c).data().toDouble();
    double report_sum = 0;
    for (const auto& v : report_["phases_s"].toObject()) report_sum += v.toDouble() * 1e3;
    QCOMPARE(sum, report_sum);
    // Memory stacks up to the capacity: used parts plus free.
    const auto mem = report_["memory"].toObject()["per_device_bytes"].toObject();
    double stacked = 0;
    for (int c = 0; c < memory.columnCount(); ++c) stacked += memory.index(0, c).data().toDouble();
    QVERIFY(qAbs(stacked - mem["capacity"].toDouble() / (1024.0 * 1024 * 1024)) < 1e-6);
    // Over capacity: the parts are cut at the capacity and the excess is one segment after it.
    QJsonObject over = report_;
    auto omem = over["memory"].toObject();
    auto odev = omem["per_device_bytes"].toObject();
    const double gib = 1024.0 * 1024 * 1024;
    odev["capacity"] = 100 * gib;
    odev["weights"] = 60 * gib;
    odev["kv_cache"] = 50 * gib;
    odev["activations"] = 1 * gib;
    odev["buffers"] = 9 * gib;
    odev["total"] = 120 * gib;
    omem["per_device_bytes"] = odev;
    over["memory"] = omem;
    memory.set_runs({{"over", over}});
    QCOMPARE(memory.index(0, 0).data().toDouble(), 60.0);   // weights
    QCOMPARE(memory.index(0, 1).data().toDouble(), 40.0);   // KV cache, cut at 100
    QCOMPARE(memory.index(0, 2).data().toDouble(), 0.0);    // activations beyond the capacity
    QCOMPARE(memory.index(0, 4).data().toDouble(), 0.0);    // free
    QCOMPARE(memory.index(0, 5).data().toDouble(), 20.0);   // over capacity
    QCOMPARE(memory.max_row_sum(), 120.0);
    // One node: no scale-out class in the report, so that column is absent, not zero.
    QVERIFY(links.column_available(0));
    QVERIFY(!links.column_available(1));
    QVERIFY(!links.index(0, 1).data(Qt::UserRole).isValid());
    RunTableModel empty(link_columns());
    empty.set_runs({{"b", QJsonObject{{"report_version", 1}}}});
    QVERIFY(!empty.any_available());
  }

  void compare_model_gives_deltas_against_the_first_run() {
    CompareModel m;
    check(&m);
    QJsonObject faster = report_;
    auto tp = faster["throughput"].toObject();
    tp["output_tokens_per_s"] = tp["output_tokens_per_s"].toDouble() * 2;
    faster["throughput"] = tp;
    m.add_run("A", report_);
    m.add_run("B", faster);
    QCOMPARE(m.columnCount(), 2);
    int row = -1;
    for (int r = 0; r < m.rowCount(); ++r) {
      if (m.headerData(r, Qt::Vertical).toString() == "Output throughput") row = r;
    }
    QVERIFY(row > 0);
    QVERIFY(!m.index(row, 0).data(Qt::UserRole + 1).isValid());
    QCOMPARE(m.index(row, 1).data(Qt::UserRole + 1).toDouble(), 1.0);
    QVERIFY(m.index(row, 1).data().toString().contains("+100.0 %"));
    QCOMPARE(m.index(row, 1).data(Qt::ForegroundRole).value<QBrush>().color(), QColor(0x1b, 0x7f, 0x3b));
    m.remove_run(0);
    QCOMPARE(m.columnCount(), 1);
    m.clear();
    QCOMPARE(m.rowCount(), 0);
  }

  void expert_load_model_reads_per_layer_device_tokens() {
    ExpertLoadModel m;
    check(&m);
    // The CLI's report carries the table (MoE scenarios); a report without it says so.
    m.set_report(report_);
    QVERIFY(m.available());
    QJsonObject without = report_;
    auto el0 = without["expert_load"].toObject();
    el0.remove("per_layer_device_tokens");
    without["expert_load"] = el0;
    m.set_report(without);
    QVERIFY(!m.available());
    QVERIFY(m.status().contains(not_in_report()));
    QJsonObject r = report_;
    auto el = r["expert_load"].toObject();
    el["per_layer_device_tokens"] = QJsonArray{QJsonArray{10, 30}, QJsonArray{20, 20}, QJsonArray{40, 0}};
    r["expert_load"] = el;
    m.set_report(r);
    QVERIFY(m.available());
    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(m.columnCount(), 2);
    QCOMPARE(m.max_tokens(), 40.0);
    QCOMPARE(m.index(2, 0).data().toDouble(), 40.0);
    QVERIFY(m.index(0, 1).data(Qt::ToolTipRole).toString().contains("1.50 x layer mean"));
    // The hottest cell is the darkest.
    QVERIFY(m.index(2, 0).data(Qt::BackgroundRole).value<QBrush>().color().lightness() <
            m.index(0, 0).data(Qt::BackgroundRole).value<QBrush>().color().lightness());
    el["per_layer_device_tokens"] = QJsonArray{QJsonArray{1, 2}, QJsonArray{3}};
    r["expert_load"] = el;
    m.set_report(r);
    QVERIFY(!m.available());
    QVERIFY(m.status().contains("different device counts"));
  }

  void trace_model_reads_the_cli_trace() {
    TraceModel m;
    check(&m);
    QVERIFY(m.set_trace(trace_, 3));
    QCOMPARE(m.hidden_device_tracks(), 5);  // 8 devices, 3 shown
    QCOMPARE(m.track_count(), 4);           // 3 devices + scale-up
    QVERIFY(m.track_is_link(3));
    QVERIFY(m.track_name(3).startsWith("scale-up"));
    QVERIFY(m.rowCount() > 50);
    QVERIFY(qAbs(m.end_us() - report_["step_time_s"].toDouble() * 1e6) < 1e-3 * m.end_us());
    for (int r = 0; r < m.rowCount(); ++r) {
      QVERIFY(m.index(r, TraceModel::kTrack).data().toInt() < m.track_count());
    }
    QVERIFY(!m.set_trace(QJsonObject{{"x", 1}}));
    QVERIFY(m.error().contains("traceEvents"));
  }

  void problems_come_from_the_library_validation() {
    ProblemModel m;
    check(&m);
    QFile f(QStringLiteral(MOESIM_SOURCE_DIR "/scenarios/default.json"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    std::string text = f.readAll().toStdString();
    QVERIFY(validate_scenario_text(text, MOESIM_SOURCE_DIR "/scenarios", "default.json").empty());
    text.replace(text.find("h100-sxm"), 8, "h100-sxn");
    m.set_problems(validate_scenario_text(text, MOESIM_SOURCE_DIR "/scenarios", "default.json"));
    QVERIFY(m.has_errors());
    QCOMPARE(m.index(0).data(ProblemModel::kPointerRole).toString(), QStringLiteral("/cluster/node/device"));
    QVERIFY2(m.index(0).data().toString().contains("h100-sxm"), qPrintable(m.index(0).data().toString()));
    m.set_problems(validate_scenario_text("{\n  \"name\": ,\n}", ".", "broken.json"));
    QVERIFY(m.has_errors());
    QVERIFY2(m.index(0).data().toString().contains("line 2"), qPrintable(m.index(0).data().toString()));
  }

  void sweep_model_loads_csv_and_finds_the_pareto_front() {
    SweepModel m;
    check(&m);
    const QByteArray csv =
        "/parallelism/experts/ep,cost.usd_per_million_output_tokens,throughput.output_tokens_per_s,status,error,"
        "scenario_file,mystery\n"
        "8,1.0,10,ok,,a.json,x\n"
        "16,2.0,20,ok,,b.json,x\n"
        "32,3.0,15,ok,,c.json,x\n"
        "4,0.5,5,ok,,d.json,x\n"
        "64,0.1,100,error,\"moesim: simulation failed, \"\"boom\"\"\",e.json,x\n";
    QVERIFY2(m.load_text(csv, false, "sweep.csv"), qPrintable(m.error()));
    QCOMPARE(m.rowCount(), 5);
    QCOMPARE(m.warnings().size(), 1);
    QVERIFY(m.warnings().front().contains("mystery"));
    QCOMPARE(m.column_kind(0), SweepModel::ColumnKind::axis);
    QCOMPARE(m.column_kind(6), SweepModel::ColumnKind::unknown);
    QCOMPARE(m.index(4, 4).data().toString(), QStringLiteral("moesim: simulation failed, \"boom\""));
    const auto numeric = m.numeric_columns();
    QCOMPARE(numeric, (std::vector<int>{0, 1, 2}));
    m.set_axes(1, 2, false, true);  // cheaper and faster is better
    QVERIFY(m.on_front(0));
    QVERIFY(m.on_front(1));
    QVERIFY(!m.on_front(2));  // dearer and slower than row 1
    QVERIFY(m.on_front(3));
    QVERIFY(!m.on_front(4));  // the failed row never is, though its numbers would dominate
    QCOMPARE(m.front_size(), 3);
    QCOMPARE(m.nearest_row(2.05, 19, 3, 100), 1);
    RowFilterProxy front([&](int r) { return m.on_front(r); });
    front.setSourceModel(&m);
    check(&front);
    QCOMPARE(front.rowCount(), 3);
  }

  void sweep_model_reads_jsonl_and_refuses_unusable_files() {
    SweepModel m;
    const QByteArray jsonl =
        "{\"/workload/batch_per_device\": 32, \"status\": \"ok\", \"report\": {\"step_time_s\": 0.01}}\n"
        "{\"/workload/batch_per_device\": 64, \"status\": \"ok\", \"step_time_s\": 0.02, "
        "\"throughput\": {\"output_tokens_per_s\": 5}}\n";
    QVERIFY2(m.load_text(jsonl, true, "s.jsonl"), qPrintable(m.error()));
    QVERIFY(m.column_of("throughput.output_tokens_per_s") >= 0);
    QVERIFY(m.warnings().join(' ').contains("report.step_time_s"));  // nested under an unknown key
    SweepModel bad;
    QVERIFY(!bad.load_text("foo,bar\n1,2\n", false, "odd.csv"));
    QVERIFY2(bad.error().contains("no numeric axis or report column") && bad.error().contains("foo, bar"),
             qPrintable(bad.error()));
    QVERIFY(!bad.load_text("step_time_s\n", false, "h.csv"));
    QVERIFY(bad.error().contains("no results"));
    QVERIFY(!bad.load_text("a,b\n1\n", false, "r.csv"));
    QVERIFY(bad.error().contains("line 2 has 1 fields"));
    QVERIFY(!bad.load_text("{\"a\": 1}\nnot json\n", true, "j.jsonl"));
    QVERIFY(bad.error().startsWith("j.jsonl:2:"));
    QVERIFY(!bad.load_file(dir_.filePath("nothing-here.csv")));
    QVERIFY(bad.error().contains("cannot read"));
  }

  void power_cap_model_shows_refusals_without_numbers() {
    PowerCapModel m;
    check(&m);
    m.set_caps({500, 700});
    QCOMPARE(m.index(0, PowerCapModel::kStatus).data().toString(), QStringLiteral("waiting"));
    m.set_refused(0, "power caps below the device TDP (700 W) ... not simulated by this version");
    m.set_result(1, report_);
    QCOMPARE(m.state(0), PowerCapModel::State::refused);
    QVERIFY(!m.index(0, PowerCapModel::kThroughput).data(Qt::UserRole).isValid());
    QVERIFY(m.index(0, PowerCapModel::kMessage).data().toString().contains("not simulated"));
    QCOMPARE(m.index(1, PowerCapModel::kThroughput).data(Qt::UserRole).toDouble(),
             report_["throughput"].toObject()["output_tokens_per_s"].toDouble());
    QVERIFY(qAbs(m.index(1, PowerCapModel::kTokensPerJoule).data(Qt::UserRole).toDouble() *
                     report_["energy"].toObject()["joules_per_token"].toDouble() - 1.0) < 1e-9);
  }

 private:
  QTemporaryDir dir_;
  QJsonObject report_;
  QJsonObject trace_;
};

QTEST_GUILESS_MAIN(GuiModelsTest)
#include "gui_models_test.moc"
