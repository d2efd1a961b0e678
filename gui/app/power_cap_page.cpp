#include "power_cap_page.hpp"

#include <QChart>
#include <QChartView>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QPushButton>
#include <QScatterSeries>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>
#include <QVXYModelMapper>
#include <QValueAxis>
#include <nlohmann/json.hpp>

#include "power_cap_model.hpp"
#include "row_filter_proxy.hpp"
#include "run_controller.hpp"
#include "units.hpp"

namespace moesim::gui {

PowerCapPage::PowerCapPage(std::function<QByteArray()> scenario, QWidget* parent)
    : QWidget(parent), scenario_(std::move(scenario)), model_(new PowerCapModel(this)), runner_(new RunController(this)) {
  done_ = new RowFilterProxy([this](int row) { return model_->index(row, PowerCapModel::kThroughput).data(Qt::UserRole).isValid(); }, this);
  done_->setSourceModel(model_);
  connect(model_, &QAbstractItemModel::dataChanged, done_, &RowFilterProxy::refresh);
  caps_ = new QLineEdit(QStringLiteral("500W, 600W, 700W"));
  run_ = new QPushButton(tr("Run caps"));
  message_ = new QLabel(tr("Runs the scenario once per cap, each in its own moesim process. Tokens per joule needs "
                           "the report's energy keys."));
  message_->setWordWrap(true);
  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Power caps per device:")));
  top->addWidget(caps_, 1);
  top->addWidget(run_);
  auto* table = new QTableView;
  table->setModel(model_);
  table->horizontalHeader()->setSectionResizeMode(PowerCapModel::kMessage, QHeaderView::Stretch);
  table->setWordWrap(true);
  // Rows fit their (wrapped) message at the width the message column really has.
  auto fit_rows = [table] { QTimer::singleShot(0, table, &QTableView::resizeRowsToContents); };
  connect(model_, &QAbstractItemModel::dataChanged, table, fit_rows);
  connect(table->horizontalHeader(), &QHeaderView::sectionResized, table, fit_rows);
  table->horizontalHeader()->setSectionResizeMode(PowerCapModel::kTokensPerJoule, QHeaderView::ResizeToContents);

  auto* chart = new QChart;
  chart->setTitle(tr("Output throughput per power cap"));
  auto* line = new QLineSeries;
  line->setName(tr("output tok/s"));
  auto* points = new QScatterSeries;
  points->setMarkerSize(9);
  chart->addSeries(line);
  chart->addSeries(points);
  chart->legend()->hide();
  auto* ax = new QValueAxis;
  ax->setTitleText(tr("cap (W)"));
  ax->setLabelFormat(QStringLiteral("%.0f"));
  auto* ay = new QValueAxis;
  ay->setTitleText(tr("output tok/s"));
  ay->setLabelFormat(QStringLiteral("%.0f"));
  chart->addAxis(ax, Qt::AlignBottom);
  chart->addAxis(ay, Qt::AlignLeft);
  for (auto* s : std::initializer_list<QXYSeries*>{line, points}) {
    s->attachAxis(ax);
    s->attachAxis(ay);
    auto* mapper = new QVXYModelMapper(this);
    mapper->setXColumn(PowerCapModel::kCapW);
    mapper->setYColumn(PowerCapModel::kThroughput);
    mapper->setSeries(s);
    mapper->setModel(done_);
  }
  auto rescale = [this, ax, ay] {
    double xmin = 1e300, xmax = 0, ymax = 0;
    for (int r = 0; r < model_->rowCount(); ++r) {
      xmin = std::min(xmin, model_->cap_w(r));
      xmax = std::max(xmax, model_->cap_w(r));
      ymax = std::max(ymax, model_->index(r, PowerCapModel::kThroughput).data(Qt::UserRole).toDouble());
    }
    if (xmax <= 0) return;
    ax->setRange(xmin - 50, xmax + 50);
    ay->setRange(0, ymax > 0 ? ymax * 1.1 : 1);
    ay->applyNiceNumbers();
  };
  connect(model_, &QAbstractItemModel::dataChanged, this, rescale);
  connect(model_, &QAbstractItemModel::modelReset, this, rescale);
  auto* view = new QChartView(chart);
  view->setRenderHint(QPainter::Antialiasing);

  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(table);
  split->addWidget(view);
  split->setSizes({300, 500});
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(message_);
  layout->addWidget(split, 1);

  connect(run_, &QPushButton::clicked, this, [this] { start(caps_->text()); });
  connect(runner_, &RunController::finished, this, [this](const RunResult& r) {
    model_->set_result(current_, r.report);
    next();
  });
  connect(runner_, &RunController::failed, this, [this](const QString& msg, const QString& err) {
    // The scenario's own problem lines ("scenario:/power/cap: ...") say why: show those alone.
    QString why = err.trimmed();
    if (why.startsWith(QLatin1String("scenario:"))) why = why.mid(9);
    model_->set_refused(current_, why.isEmpty() ? msg : why);
    next();
  });
}

void PowerCapPage::set_moesim(const QString& path) { runner_->set_moesim(path); }

bool PowerCapPage::running() const { return current_ >= 0; }

bool PowerCapPage::start(const QString& caps_text) {
  if (running()) return false;
  std::vector<double> caps;
  for (const QString& part : caps_text.split(u',', Qt::SkipEmptyParts)) {
    auto w = parse_quantity(part.trimmed().toStdString(), Dimension::power);
    if (!w || !(*w > 0)) {
      message_->setText(tr("\"%1\" is not a power: %2 (write caps like 500W, 0.7kW)")
                            .arg(part.trimmed(), w ? tr("must be above zero") : QString::fromStdString(w.error().message)));
      message_->setStyleSheet(QStringLiteral("color: #c01c28;"));
      return false;
    }
    caps.push_back(*w);
  }
  base_ = scenario_();
  if (caps.empty() || base_.isEmpty()) {
    message_->setText(caps.empty() ? tr("Enter at least one cap, e.g. 500W, 600W, 700W")
                                   : tr("The scenario has errors: fix them in the Scenario tab first."));
    message_->setStyleSheet(QStringLiteral("color: #c01c28;"));
    return false;
  }
  message_->setStyleSheet({});
  message_->setText(tr("Running %1 caps, one moesim process each...").arg(caps.size()));
  model_->set_caps(caps);
  current_ = -1;
  run_->setEnabled(false);
  next();
  return true;
}

void PowerCapPage::next() {
  ++current_;
  if (current_ >= model_->rowCount()) {
    current_ = -1;
    run_->setEnabled(true);
    message_->setText(tr("Done. Refused caps show the simulator's reason; no numbers are invented for them."));
    emit all_done();
    return;
  }
  auto doc = nlohmann::ordered_json::parse(base_.toStdString());
  doc["power"]["cap"] = QStringLiteral("%1W").arg(model_->cap_w(current_), 0, 'g', 6).toStdString();
  model_->set_running(current_);
  runner_->start(QByteArray::fromStdString(doc.dump(2)), tr("cap %1 W").arg(model_->cap_w(current_)), false);
}

}  // namespace moesim::gui
