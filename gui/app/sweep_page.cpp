#include "sweep_page.hpp"

#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QScatterSeries>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QVXYModelMapper>
#include <QValueAxis>
#include <algorithm>

#include "row_filter_proxy.hpp"
#include "sweep_model.hpp"

namespace moesim::gui {

SweepPage::SweepPage(QWidget* parent) : QWidget(parent), model_(new SweepModel(this)) {
  points_ = new RowFilterProxy([this](int r) { return model_->plottable(r) && !model_->on_front(r); }, this);
  front_ = new RowFilterProxy([this](int r) { return model_->on_front(r); }, this);
  points_->setSourceModel(model_);
  front_->setSourceModel(model_);
  auto* open = new QPushButton(tr("Open sweep results..."));
  x_ = new QComboBox;
  y_ = new QComboBox;
  x_higher_ = new QCheckBox(tr("higher is better"));
  y_higher_ = new QCheckBox(tr("higher is better"));
  y_higher_->setChecked(true);
  message_ = new QLabel(tr("Load the CSV or JSONL that moesim sweep writes."));
  message_->setWordWrap(true);
  message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* top = new QHBoxLayout;
  top->addWidget(open);
  top->addSpacing(12);
  top->addWidget(new QLabel(tr("x:")));
  top->addWidget(x_, 1);
  top->addWidget(x_higher_);
  top->addSpacing(12);
  top->addWidget(new QLabel(tr("y:")));
  top->addWidget(y_, 1);
  top->addWidget(y_higher_);

  auto* chart = new QChart;
  chart->setTitle(tr("Sweep: the Pareto front is highlighted; click a point to open its scenario"));
  auto* all = new QScatterSeries;
  all->setName(tr("scenarios"));
  all->setMarkerSize(8);
  all->setColor(QColor(0x9e, 0xb3, 0xc8));
  auto* best = new QScatterSeries;
  best->setName(tr("Pareto front"));
  best->setMarkerSize(12);
  best->setColor(QColor(0xd6, 0x27, 0x28));
  chart->addSeries(all);
  chart->addSeries(best);
  ax_ = new QValueAxis;
  ay_ = new QValueAxis;
  ax_->setLabelFormat(QStringLiteral("%.4g"));
  ay_->setLabelFormat(QStringLiteral("%.4g"));
  chart->addAxis(ax_, Qt::AlignBottom);
  chart->addAxis(ay_, Qt::AlignLeft);
  chart->legend()->setAlignment(Qt::AlignBottom);
  int i = 0;
  for (auto* s : {all, best}) {
    s->attachAxis(ax_);
    s->attachAxis(ay_);
    auto* mapper = new QVXYModelMapper(this);
    mapper->setSeries(s);
    QAbstractItemModel* source = i++ == 0 ? static_cast<QAbstractItemModel*>(points_) : front_;
    // Both columns change together: detach while setting them, so the mapper never sees half.
    connect(model_, &QAbstractItemModel::dataChanged, mapper, [this, mapper, source] {
      mapper->setModel(nullptr);
      mapper->setXColumn(model_->x_column());
      mapper->setYColumn(model_->y_column());
      mapper->setModel(source);
    });
    connect(s, &QScatterSeries::clicked, this, [this](const QPointF& p) { click_point(p.x(), p.y()); });
  }
  auto* view = new QChartView(chart);
  view->setRenderHint(QPainter::Antialiasing);
  auto* table = new QTableView;
  table->setModel(model_);
  table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  connect(table, &QTableView::doubleClicked, this, [this](const QModelIndex& idx) {
    const QString f = model_->scenario_file(idx.row());
    if (!f.isEmpty()) emit open_scenario(f);
  });
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(view);
  split->addWidget(table);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setSizes({560, 240});
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(message_);
  layout->addWidget(split, 1);

  connect(open, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open sweep results"), {},
                                                   tr("Sweep results (*.csv *.jsonl *.ndjson);;All files (*)"));
    if (!f.isEmpty()) load(f);
  });
  for (auto* c : {x_, y_}) connect(c, &QComboBox::currentIndexChanged, this, &SweepPage::axes_changed);
  for (auto* c : {x_higher_, y_higher_}) connect(c, &QCheckBox::toggled, this, &SweepPage::axes_changed);
}

QString SweepPage::message() const { return message_->text(); }

bool SweepPage::load(const QString& path) {
  if (!model_->load_file(path)) {
    message_->setStyleSheet(QStringLiteral("color: #c01c28;"));
    message_->setText(model_->error());
    return false;
  }
  fill_axis_choices();
  return true;
}

void SweepPage::fill_axis_choices() {
  const QSignalBlocker bx(x_), by(y_);
  x_->clear();
  y_->clear();
  for (int c : model_->numeric_columns()) {
    const QString name = model_->headerData(c, Qt::Horizontal).toString();
    x_->addItem(name, c);
    y_->addItem(name, c);
  }
  // A planner's usual question: cost (lower is better) against throughput (higher is better).
  auto prefer = [](QComboBox* box, std::initializer_list<const char*> names, int fallback) {
    for (const char* n : names) {
      const int i = box->findText(QString::fromLatin1(n));
      if (i >= 0) return box->setCurrentIndex(i);
    }
    box->setCurrentIndex(std::min(fallback, box->count() - 1));
  };
  prefer(x_, {"cost.usd_per_million_output_tokens", "step_time_s"}, 0);
  prefer(y_, {"throughput.output_tokens_per_s"}, 1);
  axes_changed();
}

bool SweepPage::set_axes(const QString& x, const QString& y) {
  const int xi = x_->findText(x), yi = y_->findText(y);
  if (xi < 0 || yi < 0) return false;
  x_->setCurrentIndex(xi);
  y_->setCurrentIndex(yi);
  axes_changed();
  return true;
}

void SweepPage::axes_changed() {
  if (x_->currentIndex() < 0 || y_->currentIndex() < 0) return;
  const int xc = x_->currentData().toInt(), yc = y_->currentData().toInt();
  model_->set_axes(xc, yc, x_higher_->isChecked(), y_higher_->isChecked());
  points_->refresh();
  front_->refresh();
  ax_->setTitleText(x_->currentText());
  ay_->setTitleText(y_->currentText());
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  int shown = 0;
  for (int r = 0; r < model_->rowCount(); ++r) {
    if (!model_->plottable(r)) continue;
    ++shown;
    xmin = std::min(xmin, model_->number(r, xc));
    xmax = std::max(xmax, model_->number(r, xc));
    ymin = std::min(ymin, model_->number(r, yc));
    ymax = std::max(ymax, model_->number(r, yc));
  }
  if (shown > 0) {
    const double px = std::max((xmax - xmin) * 0.08, std::abs(xmax) * 0.02 + 1e-12);
    const double py = std::max((ymax - ymin) * 0.08, std::abs(ymax) * 0.02 + 1e-12);
    ax_->setRange(xmin - px, xmax + px);
    ay_->setRange(ymin - py, ymax + py);
    ax_->applyNiceNumbers();
    ay_->applyNiceNumbers();
  }
  QString text = tr("%1 scenarios, %2 plotted, %3 on the Pareto front. Failed and infeasible rows are listed below but not plotted.")
                     .arg(model_->rowCount()).arg(shown).arg(model_->front_size());
  if (!model_->warnings().isEmpty()) text += u'\n' + model_->warnings().join(u'\n');
  message_->setStyleSheet(model_->warnings().isEmpty() ? QString() : QStringLiteral("color: #9a6700;"));
  message_->setText(text);
}

void SweepPage::click_point(double x, double y) {
  const int row = model_->nearest_row(x, y, ax_->max() - ax_->min(), ay_->max() - ay_->min());
  if (row < 0) return;
  const QString f = model_->scenario_file(row);
  if (f.isEmpty()) {
    message_->setText(tr("Row %1 has no scenario_file column to open.").arg(row + 1));
    return;
  }
  emit open_scenario(f);
}

}  // namespace moesim::gui
