#include "plan_page.hpp"

#include <QCheckBox>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QLabel>
#include <QLocale>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScatterSeries>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QValueAxis>
#include <QVBoxLayout>
#include <QFontDatabase>
#include <algorithm>

#include "model/model.hpp"
#include "run_chart.hpp"

namespace moesim::gui {
namespace {

// The front in three energy bands (a colour each), each point keeping its front index.
void plot_front(QChart* chart, const PlanResult& r, const std::function<void(int)>& clicked) {
  clear_chart(chart);
  if (r.front.isEmpty()) return;
  std::vector<double> joules;
  for (const auto& p : r.front) joules.push_back(p.joules_per_token);
  std::sort(joules.begin(), joules.end());
  const double lo = joules[joules.size() / 3], hi = joules[2 * joules.size() / 3];
  const auto [x, y] = add_value_axes(chart, QStringLiteral("$ per million output tokens"), QStringLiteral("TPOT p99 (ms)"));
  const QString names[3] = {QStringLiteral("lowest J/token third"), QStringLiteral("middle third"),
                            QStringLiteral("highest third")};
  const QColor colours[3] = {QColor(0x1b, 0x7f, 0x3b), QColor(0xe0, 0x9f, 0x1f), QColor(0xc0, 0x1c, 0x28)};
  double xmax = 0, ymax = 0;
  for (int band = 0; band < 3; ++band) {
    auto* s = new QScatterSeries;
    s->setName(names[band]);
    s->setColor(colours[band]);
    s->setMarkerSize(11);
    QList<int> index;
    for (int k = 0; k < r.front.size(); ++k) {
      const auto& p = r.front[k];
      const int b = p.joules_per_token < lo ? 0 : p.joules_per_token < hi ? 1 : 2;
      if (b != band) continue;
      s->append(p.usd_per_million, p.tpot_ms);
      index.push_back(k);
      xmax = std::max(xmax, p.usd_per_million);
      ymax = std::max(ymax, p.tpot_ms);
    }
    chart->addSeries(s);
    s->attachAxis(x);
    s->attachAxis(y);
    QObject::connect(s, &QScatterSeries::clicked, chart, [s, index, clicked](const QPointF& at) {
      // The nearest point of this series.
      int best = -1;
      double dist = 0;
      for (int i = 0; i < s->count(); ++i) {
        const QPointF d = s->at(i) - at;
        const double dd = d.x() * d.x() + d.y() * d.y();
        if (best < 0 || dd < dist) {
          best = i;
          dist = dd;
        }
      }
      if (best >= 0) clicked(index[best]);
    });
  }
  x->setRange(0, xmax * 1.1);
  y->setRange(0, ymax * 1.1);
  x->applyNiceNumbers();
  y->applyNiceNumbers();
}

}  // namespace

PlanPage::PlanPage(std::function<MoesimLocation()> moesim, QWidget* parent) : QWidget(parent), moesim_(std::move(moesim)) {
  preset_ = new QComboBox;
  for (const auto& name : sim::preset_names()) preset_->addItem(QString::fromStdString(name));
  dtype_ = new QComboBox;
  dtype_->addItems({QStringLiteral("fp8"), QStringLiteral("bf16"), QStringLiteral("nvfp4")});
  rate_ = new QDoubleSpinBox;
  rate_->setRange(1, 1e9);
  rate_->setDecimals(0);
  rate_->setSuffix(QStringLiteral(" tok/s"));
  context_ = new QSpinBox;
  context_->setRange(1, 1 << 20);
  input_ = new QSpinBox;
  input_->setRange(1, 1 << 20);
  tpot_ = new QDoubleSpinBox;
  tpot_->setRange(0, 1e6);
  tpot_->setSuffix(QStringLiteral(" ms"));
  tpot_->setSpecialValueText(QStringLiteral("none"));
  ttft_ = new QDoubleSpinBox;
  ttft_->setRange(0, 1e7);
  ttft_->setSuffix(QStringLiteral(" ms"));
  ttft_->setSpecialValueText(QStringLiteral("none"));
  confirm_ = new QSpinBox;
  confirm_->setRange(0, 10);
  confirm_->setToolTip(tr("Re-run the cheapest front members at flow fidelity (SimGrid), one child process each"));
  auto* form = new QFormLayout;
  form->addRow(tr("Model"), preset_);
  form->addRow(tr("Weights"), dtype_);
  form->addRow(tr("Output rate"), rate_);
  form->addRow(tr("Context tokens"), context_);
  form->addRow(tr("Prompt tokens"), input_);
  form->addRow(tr("TPOT p99 SLO"), tpot_);
  form->addRow(tr("TTFT p99 SLO"), ttft_);
  form->addRow(tr("Flow checks"), confirm_);
  auto* gpus = new QGroupBox(tr("GPUs (8 per node, 8 NDR400 NICs)"));
  auto* gpu_layout = new QVBoxLayout(gpus);
  for (const QString& d : plan_devices()) {
    auto* box = new QCheckBox(d);
    devices_.push_back(box);
    gpu_layout->addWidget(box);
  }
  spec_ = new QPlainTextEdit;
  spec_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  spec_->setToolTip(tr("The plan spec (docs/plan.md) the form builds; edit it for a search of your own"));
  run_ = new QPushButton(tr("Plan"));
  cancel_ = new QPushButton(tr("Cancel"));
  cancel_->setEnabled(false);
  progress_ = new QProgressBar;
  progress_->setRange(0, 100);
  status_ = new QLabel(tr("Give a model, a rate and SLOs, then Plan."));
  status_->setWordWrap(true);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(run_);
  buttons->addWidget(cancel_);
  buttons->addWidget(progress_, 1);

  auto* left = new QWidget;
  auto* left_layout = new QVBoxLayout(left);
  left_layout->addLayout(form);
  left_layout->addWidget(gpus);
  left_layout->addWidget(new QLabel(tr("Spec")));
  left_layout->addWidget(spec_, 1);
  left_layout->addLayout(buttons);
  left_layout->addWidget(status_);

  chart_ = new QChart;
  chart_->setTitle(tr("Pareto front: cost against TPOT, colour by energy per token (click a point to open it)"));
  auto* view = new QChartView(chart_);
  view->setRenderHint(QPainter::Antialiasing);
  table_ = new QTableWidget(0, 6);
  table_->setHorizontalHeaderLabels({tr("Deployment"), tr("$/M tok"), tr("TPOT ms"), tr("TTFT ms"), tr("J/token"), tr("GPUs")});
  table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int row, int) { open_point(row); });
  auto* right = new QSplitter(Qt::Vertical);
  right->addWidget(view);
  right->addWidget(table_);
  auto* split = new QSplitter;
  split->addWidget(left);
  split->addWidget(right);
  split->setStretchFactor(1, 1);
  split->setSizes({420, 900});
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split);

  set_form(PlanForm{});
  for (QComboBox* b : {preset_, dtype_}) connect(b, &QComboBox::currentTextChanged, this, &PlanPage::rebuild_spec);
  for (QDoubleSpinBox* b : {rate_, tpot_, ttft_}) connect(b, &QDoubleSpinBox::valueChanged, this, &PlanPage::rebuild_spec);
  for (QSpinBox* b : {context_, input_, confirm_}) connect(b, &QSpinBox::valueChanged, this, &PlanPage::rebuild_spec);
  for (QCheckBox* b : devices_) connect(b, &QCheckBox::toggled, this, &PlanPage::rebuild_spec);
  connect(run_, &QPushButton::clicked, this, [this] { start(); });
  connect(cancel_, &QPushButton::clicked, this, &PlanPage::cancel);
}

PlanForm PlanPage::form() const {
  PlanForm f;
  f.preset = preset_->currentText();
  f.weights_dtype = dtype_->currentText();
  f.output_tokens_per_s = rate_->value();
  f.context_tokens = context_->value();
  f.input_tokens = input_->value();
  f.tpot_ms = tpot_->value();
  f.ttft_ms = ttft_->value();
  f.confirm_top = confirm_->value();
  f.devices.clear();
  for (QCheckBox* b : devices_) {
    if (b->isChecked()) f.devices << b->text();
  }
  return f;
}

void PlanPage::set_form(const PlanForm& f) {
  const QSignalBlocker block(this);
  preset_->setCurrentText(f.preset);
  dtype_->setCurrentText(f.weights_dtype);
  rate_->setValue(f.output_tokens_per_s);
  context_->setValue(f.context_tokens);
  input_->setValue(f.input_tokens);
  tpot_->setValue(f.tpot_ms);
  ttft_->setValue(f.ttft_ms);
  confirm_->setValue(f.confirm_top);
  for (QCheckBox* b : devices_) b->setChecked(f.devices.contains(b->text()));
  rebuild_spec();
}

void PlanPage::rebuild_spec() {
  spec_->setPlainText(QString::fromUtf8(QJsonDocument(plan_spec(form())).toJson(QJsonDocument::Indented)));
}

bool PlanPage::start() {
  if (process_ != nullptr) return false;
  const MoesimLocation loc = moesim_();
  auto refuse = [this](const QString& why) {
    status_->setText(why);
    emit finished(false);
    return false;
  };
  if (loc.path.isEmpty()) return refuse(loc.error);
  QJsonParseError err;
  QJsonDocument::fromJson(spec_->toPlainText().toUtf8(), &err);
  if (err.error != QJsonParseError::NoError) return refuse(tr("The spec is not JSON: %1 (offset %2)").arg(err.errorString()).arg(err.offset));
  dir_ = std::make_unique<QTemporaryDir>();
  const QString spec_file = dir_->filePath(QStringLiteral("plan.json.spec"));
  QFile f(spec_file);
  if (!dir_->isValid() || !f.open(QIODevice::WriteOnly) || f.write(spec_->toPlainText().toUtf8()) < 0) {
    return refuse(tr("Cannot write the spec to a temporary folder"));
  }
  f.close();
  result_ = {};
  plot_front(chart_, result_, {});
  table_->setRowCount(0);
  stderr_.clear();
  cancelled_ = false;
  process_ = new QProcess(this);
  process_->setStandardOutputFile(QProcess::nullDevice());
  connect(process_, &QProcess::readyReadStandardError, this, &PlanPage::read_progress);
  connect(process_, &QProcess::finished, this, &PlanPage::on_finished);
  run_->setEnabled(false);
  cancel_->setEnabled(true);
  progress_->setValue(0);
  status_->setText(tr("Planning..."));
  process_->start(loc.path, {QStringLiteral("plan"), spec_file, QStringLiteral("-o"), dir_->filePath(QStringLiteral("plan")),
                             QStringLiteral("--progress"), QStringLiteral("jsonl")});
  return true;
}

void PlanPage::cancel() {
  if (process_ == nullptr) return;
  cancelled_ = true;
  process_->kill();
}

void PlanPage::read_progress() {
  stderr_ += process_->readAllStandardError();
  qsizetype nl;
  while ((nl = stderr_.indexOf('\n')) >= 0) {
    const QByteArray line = stderr_.left(nl);
    stderr_.remove(0, nl + 1);
    const QJsonObject e = QJsonDocument::fromJson(line).object();
    if (e.value(QStringLiteral("event")).toString() == QLatin1String("phase")) {
      progress_->setValue(static_cast<int>(100 * e.value(QStringLiteral("fraction")).toDouble()));
      status_->setText(tr("Planning: %1").arg(e.value(QStringLiteral("name")).toString()));
    } else if (!line.trimmed().isEmpty() && !line.startsWith('{')) {
      status_->setText(QString::fromUtf8(line));  // a problem with the spec, as moesim words it
    }
  }
}

void PlanPage::on_finished(int exit_code, QProcess::ExitStatus status) {
  read_progress();
  const QString problem = status_->text();
  process_->deleteLater();
  process_ = nullptr;
  run_->setEnabled(true);
  cancel_->setEnabled(false);
  if (cancelled_) {
    status_->setText(tr("Cancelled."));
    progress_->setValue(0);
    emit finished(false);
    return;
  }
  QFile f(dir_->filePath(QStringLiteral("plan/plan.json")));
  if (status != QProcess::NormalExit || (exit_code != 0 && exit_code != 3) || !f.open(QIODevice::ReadOnly)) {
    status_->setText(tr("moesim plan failed (exit %1): %2").arg(exit_code).arg(problem));
    emit finished(false);
    return;
  }
  result_ = parse_plan(f.readAll(), f.fileName());
  progress_->setValue(100);
  show_result();
  emit finished(result_.error.isEmpty());
}

void PlanPage::show_result() {
  if (!result_.error.isEmpty()) {
    status_->setText(result_.error);
    return;
  }
  status_->setText(result_.summary + (result_.winner >= 0 ? tr(". Winner: %1.").arg(result_.front[result_.winner].label) : QString()));
  plot_front(chart_, result_, [this](int k) { open_point(k); });
  const QLocale c = QLocale::c();
  table_->setRowCount(static_cast<int>(result_.front.size()));
  for (int k = 0; k < result_.front.size(); ++k) {
    const PlanPoint& p = result_.front[k];
    const QStringList cells = {p.label + (k == result_.winner ? tr(" (winner)") : QString()),
                               c.toString(p.usd_per_million, 'f', 3), c.toString(p.tpot_ms, 'f', 1),
                               p.ttft_ms >= 0 ? c.toString(p.ttft_ms, 'f', 0) : QStringLiteral("-"),
                               c.toString(p.joules_per_token, 'f', 3), QString::number(p.devices)};
    for (int col = 0; col < cells.size(); ++col) table_->setItem(k, col, new QTableWidgetItem(cells[col]));
  }
}

QString PlanPage::status_text() const { return status_->text(); }
QString PlanPage::spec_text() const { return spec_->toPlainText(); }
void PlanPage::set_spec_text(const QString& text) { spec_->setPlainText(text); }

void PlanPage::open_point(int k) {
  if (k < 0 || k >= result_.front.size()) return;
  table_->selectRow(k);
  emit open_scenario(result_.front[k].scenario_file);
}

}  // namespace moesim::gui
