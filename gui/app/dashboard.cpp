#include "dashboard.hpp"

#include <QGridLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QStyledItemDelegate>
#include <QSplitter>
#include <QStackedLayout>
#include <QTableView>
#include <QVBoxLayout>

#include "expert_load_model.hpp"
#include "figures.hpp"
#include "headline_model.hpp"
#include "run_chart.hpp"
#include "run_controller.hpp"
#include "run_table_model.hpp"
#include "trace_model.hpp"

namespace moesim::gui {
namespace {

// Heat-map cells are colour only; the figure is in the tooltip.
class HeatCellDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override {
    painter->fillRect(option.rect, index.data(Qt::BackgroundRole).value<QBrush>());
  }
};

}  // namespace

Dashboard::Dashboard(QWidget* parent)
    : QWidget(parent),
      headline_(new HeadlineModel(this)),
      phases_(new RunTableModel(phase_columns(), this)),
      memory_(new RunTableModel(memory_columns(), this)),
      links_(new RunTableModel(link_columns(), this)),
      expert_load_(new ExpertLoadModel(this)),
      trace_(new TraceModel(this)) {
  banner_ = new QLabel;
  banner_->setWordWrap(true);
  banner_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  banner_->setText(tr("No results yet: edit a scenario and press Run."));

  auto* table = new QTableView;
  table->setModel(headline_);
  table->verticalHeader()->hide();
  table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  table->setWordWrap(true);
  table->setSelectionMode(QAbstractItemView::NoSelection);
  table->setMinimumWidth(380);
  connect(headline_, &QAbstractItemModel::modelReset, table, &QTableView::resizeRowsToContents);

  phase_chart_ = new RunChart(phases_, tr("Step time by phase (critical path)"), tr("ms"), RunChart::Style::stacked,
                              tr("phases_s: %1").arg(not_in_report()));
  memory_chart_ = new RunChart(memory_, tr("Memory of the worst device against its capacity"), tr("GiB"),
                               RunChart::Style::stacked, tr("memory.per_device_bytes: %1").arg(not_in_report()));
  link_chart_ = new RunChart(links_, tr("Link utilization (share of the step busy)"), tr("%"), RunChart::Style::grouped,
                             tr("links.*.utilization: %1").arg(not_in_report()));
  link_chart_->show_value_labels(QStringLiteral("@value %"));

  heatmap_ = new QTableView;
  heatmap_->setModel(expert_load_);
  // The whole table at once: every layer and device stretched into the box.
  heatmap_->horizontalHeader()->setMinimumSectionSize(1);
  heatmap_->verticalHeader()->setMinimumSectionSize(1);
  heatmap_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  heatmap_->verticalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  heatmap_->setShowGrid(false);
  heatmap_->setItemDelegate(new HeatCellDelegate(heatmap_));
  heatmap_missing_ = new QLabel;
  heatmap_missing_->setWordWrap(true);
  heatmap_missing_->setAlignment(Qt::AlignCenter);
  heatmap_missing_->setStyleSheet(QStringLiteral("color: #666; border: 1px dashed #bbb; padding: 12px;"));
  auto* heat_box = new QGroupBox(tr("Expert load: tokens per MoE layer (rows, first at the top) and device (columns); darker = busier"));
  heatmap_stack_ = new QStackedLayout(heat_box);
  heatmap_stack_->addWidget(heatmap_);
  heatmap_stack_->addWidget(heatmap_missing_);
  auto heat_update = [this] {
    if (expert_load_->available()) {
      // Labels only where they fit; the tooltip names every cell.
      heatmap_->horizontalHeader()->setVisible(expert_load_->columnCount() <= 24);
      heatmap_->verticalHeader()->setVisible(expert_load_->rowCount() <= 32);
      heatmap_stack_->setCurrentWidget(heatmap_);
    } else {
      heatmap_missing_->setText(headline_->rowCount() == 0 ? tr("No results yet: run the scenario.")
                                                           : expert_load_->status());
      heatmap_stack_->setCurrentWidget(heatmap_missing_);
    }
  };
  connect(expert_load_, &QAbstractItemModel::modelReset, this, heat_update);
  heat_update();

  auto* charts = new QWidget;
  auto* grid = new QGridLayout(charts);
  grid->setContentsMargins(0, 0, 0, 0);
  grid->addWidget(phase_chart_, 0, 0);
  grid->addWidget(memory_chart_, 0, 1);
  grid->addWidget(link_chart_, 1, 0);
  grid->addWidget(heat_box, 1, 1);
  why_ = new QLabel;
  why_->setWordWrap(true);
  why_->setTextFormat(Qt::RichText);
  why_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  why_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* why_box = new QGroupBox(tr("Why"));
  auto* why_layout = new QVBoxLayout(why_box);
  why_layout->addWidget(why_);
  auto* left = new QSplitter(Qt::Vertical);
  left->addWidget(table);
  left->addWidget(why_box);
  left->setSizes({420, 300});
  auto* split = new QSplitter;
  split->addWidget(left);
  split->addWidget(charts);
  split->setStretchFactor(1, 1);
  split->setSizes({400, 900});
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(banner_);
  layout->addWidget(split, 1);
}

void Dashboard::show_result(const RunResult& result) {
  const std::vector<std::pair<QString, QJsonObject>> runs = {{tr("this run"), result.report}};
  headline_->set_report(result.report);
  phases_->set_runs(runs);
  memory_->set_runs(runs);
  links_->set_runs(runs);
  expert_load_->set_report(result.report);
  if (result.trace.isEmpty()) {
    trace_->clear();
  } else {
    trace_->set_trace(result.trace);
  }
  QString why;
  for (const QString& line : explain_report(result.report)) why += QStringLiteral("<li>%1</li>").arg(line.toHtmlEscaped());
  why_->setText(why.isEmpty() ? tr("The report has none of the keys this panel reads.")
                              : QStringLiteral("<ul style=\"margin-left: -20px;\">%1</ul>").arg(why));
  const QString name = result.report.value(QStringLiteral("scenario")).toString();
  if (result.report.value(QStringLiteral("feasible")).toBool(true)) {
    banner_->setStyleSheet(QStringLiteral("color: #1b7f3b; font-weight: bold;"));
    banner_->setText(tr("%1: feasible. %2 devices, %3 fidelity.")
                         .arg(name)
                         .arg(result.report.value(QStringLiteral("cluster")).toObject().value(QStringLiteral("devices")).toInt())
                         .arg(result.report.value(QStringLiteral("fidelity")).toString()));
  } else {
    banner_->setStyleSheet(QStringLiteral("color: #c01c28; font-weight: bold;"));
    banner_->setText(tr("%1: infeasible: %2").arg(name, result.report.value(QStringLiteral("reason")).toString()));
  }
}

void Dashboard::show_failure(const QString& message) {
  headline_->clear();
  phases_->set_runs({});
  memory_->set_runs({});
  links_->set_runs({});
  expert_load_->set_report({});
  trace_->clear();
  why_->clear();
  banner_->setStyleSheet(QStringLiteral("color: #c01c28; font-weight: bold;"));
  banner_->setText(tr("No results: %1 (details in the Log tab)").arg(message));
}

QString Dashboard::banner_text() const { return banner_->text(); }
QString Dashboard::why_text() const { return why_->text(); }

QString Dashboard::expert_load_missing_text() const {
  return heatmap_stack_->currentWidget() == heatmap_missing_ ? heatmap_missing_->text() : QString();
}

}  // namespace moesim::gui
