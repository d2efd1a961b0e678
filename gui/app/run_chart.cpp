#include "run_chart.hpp"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHorizontalBarSeries>
#include <QHorizontalStackedBarSeries>
#include <QLabel>
#include <QLegendMarker>
#include <QStackedLayout>
#include <QVBarModelMapper>
#include <QValueAxis>
#include <algorithm>

#include "run_table_model.hpp"

namespace moesim::gui {

void clear_chart(QChart* chart) {
  chart->removeAllSeries();
  for (QAbstractAxis* a : chart->axes()) {
    chart->removeAxis(a);
    delete a;
  }
}

std::pair<QValueAxis*, QValueAxis*> add_value_axes(QChart* chart, const QString& x_title, const QString& y_title) {
  auto* x = new QValueAxis;
  auto* y = new QValueAxis;
  x->setTitleText(x_title);
  y->setTitleText(y_title);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  return {x, y};
}
namespace {

// A palette that stays readable side by side (and for colour-blind readers, mostly).
const QColor kPalette[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0x2c, 0xa0, 0x2c),
                           QColor(0xd6, 0x27, 0x28), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
                           QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f), QColor(0xbc, 0xbd, 0x22),
                           QColor(0x17, 0xbe, 0xcf)};

}  // namespace

RunChart::RunChart(RunTableModel* model, const QString& title, const QString& value_title, Style style,
                   const QString& missing_text, QWidget* parent)
    : QWidget(parent), model_(model), missing_text_(missing_text) {
  chart_ = new QChart;
  chart_->setTitle(title);
  chart_->setAnimationOptions(QChart::NoAnimation);
  // Phase names are long and many: a legend on the right keeps them whole.
  chart_->legend()->setAlignment(style == Style::stacked ? Qt::AlignRight : Qt::AlignBottom);
  chart_->setMargins(QMargins(4, 4, 4, 4));
  if (style == Style::stacked) {
    series_ = new QHorizontalStackedBarSeries;
  } else {
    series_ = new QHorizontalBarSeries;
  }
  chart_->addSeries(series_);
  categories_ = new QBarCategoryAxis;
  values_ = new QValueAxis;
  values_->setTitleText(value_title);
  values_->setLabelFormat(QStringLiteral("%.3g"));
  chart_->addAxis(categories_, Qt::AlignLeft);
  chart_->addAxis(values_, Qt::AlignBottom);
  series_->attachAxis(categories_);
  series_->attachAxis(values_);
  auto* mapper = new QVBarModelMapper(this);
  mapper->setSeries(series_);
  mapper->setModel(model_);
  mapper->setFirstBarSetColumn(0);
  mapper->setLastBarSetColumn(model_->columnCount() - 1);
  series_->setBarWidth(0.6);
  view_ = new QChartView(chart_);
  view_->setRenderHint(QPainter::Antialiasing);
  view_->setMinimumHeight(200);
  missing_ = new QLabel;
  missing_->setAlignment(Qt::AlignCenter);
  missing_->setWordWrap(true);
  missing_->setStyleSheet(QStringLiteral("color: #666; border: 1px dashed #bbb; padding: 12px;"));
  stack_ = new QStackedLayout(this);
  stack_->addWidget(view_);
  stack_->addWidget(missing_);
  connect(model_, &QAbstractItemModel::modelReset, this, &RunChart::model_reset);
  connect(model_, &QAbstractItemModel::dataChanged, this, &RunChart::model_reset);
  model_reset();
}

void RunChart::show_value_labels(const QString& format) {
  series_->setLabelsFormat(format);
  series_->setLabelsPosition(QAbstractBarSeries::LabelsOutsideEnd);
  series_->setLabelsPrecision(3);
  series_->setLabelsVisible(true);
  labels_ = true;
}

QString RunChart::missing_text() const { return stack_->currentWidget() == missing_ ? missing_->text() : QString(); }

void RunChart::model_reset() {
  if (model_->rowCount() == 0) {
    missing_->setText(tr("%1\n\nNo results yet: run the scenario.").arg(chart_->title()));
    stack_->setCurrentWidget(missing_);
    return;
  }
  if (!model_->any_available()) {
    missing_->setText(chart_->title() + QStringLiteral("\n\n") + missing_text_);
    stack_->setCurrentWidget(missing_);
    return;
  }
  stack_->setCurrentWidget(view_);
  QStringList labels;
  for (int r = 0; r < model_->rowCount(); ++r) labels << model_->headerData(r, Qt::Vertical).toString();
  categories_->setCategories(labels);
  double max = 0;
  const bool stacked = qobject_cast<QHorizontalStackedBarSeries*>(series_) != nullptr;
  if (stacked) {
    max = model_->max_row_sum();
  } else {
    for (int r = 0; r < model_->rowCount(); ++r) {
      for (int c = 0; c < model_->columnCount(); ++c) max = std::max(max, model_->index(r, c).data().toDouble());
    }
  }
  values_->setRange(0, fixed_max_ > 0 ? fixed_max_ : (max > 0 ? max * (labels_ ? 1.3 : 1.05) : 1));
  if (fixed_max_ <= 0) values_->applyNiceNumbers();
  // Sets with no value in any run (e.g. "over capacity" when everything fits) stay out of the legend.
  const auto sets = series_->barSets();
  const auto markers = chart_->legend()->markers(series_);
  for (int c = 0; c < sets.size(); ++c) {
    sets[c]->setColor(kPalette[static_cast<std::size_t>(c) % std::size(kPalette)]);
    if (labels_) sets[c]->setLabelColor(palette().color(QPalette::WindowText));
    if (sets[c]->label() == QLatin1String("free")) sets[c]->setColor(QColor(0xdd, 0xe6, 0xee));
    if (sets[c]->label() == QLatin1String("over capacity")) sets[c]->setColor(QColor(0x4a, 0x00, 0x0a));
    double sum = 0;
    for (int i = 0; i < sets[c]->count(); ++i) sum += sets[c]->at(i);
    if (c < markers.size()) markers[c]->setVisible(sum > 0);
  }
}

}  // namespace moesim::gui
