#include "compare_page.hpp"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include "compare_model.hpp"
#include "figures.hpp"
#include "run_chart.hpp"
#include "run_table_model.hpp"

namespace moesim::gui {

ComparePage::ComparePage(QWidget* parent)
    : QWidget(parent),
      model_(new CompareModel(this)),
      phases_(new RunTableModel(phase_columns(), this)),
      memory_(new RunTableModel(memory_columns(), this)) {
  auto* help = new QLabel(tr("Pin runs with \"Pin run\" (toolbar) to compare them. Changes are against the first "
                             "pinned run: green is better, red is worse."));
  help->setWordWrap(true);
  table_ = new QTableView;
  table_->setModel(model_);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  table_->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->setSelectionBehavior(QAbstractItemView::SelectColumns);
  auto* remove = new QPushButton(tr("Remove selected run"));
  auto* clear = new QPushButton(tr("Clear all"));
  connect(remove, &QPushButton::clicked, this, [this] {
    const auto cols = table_->selectionModel()->selectedColumns();
    if (!cols.isEmpty()) model_->remove_run(cols.front().column());
  });
  connect(clear, &QPushButton::clicked, model_, &CompareModel::clear);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(help, 1);
  buttons->addWidget(remove);
  buttons->addWidget(clear);
  auto* charts = new QSplitter;
  charts->addWidget(new RunChart(phases_, tr("Step time by phase"), tr("ms"), RunChart::Style::stacked,
                                 tr("phases_s: %1").arg(not_in_report())));
  charts->addWidget(new RunChart(memory_, tr("Memory of the worst device"), tr("GiB"), RunChart::Style::stacked,
                                 tr("memory.per_device_bytes: %1").arg(not_in_report())));
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(table_);
  split->addWidget(charts);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(buttons);
  layout->addWidget(split, 1);
  connect(model_, &QAbstractItemModel::modelReset, this, &ComparePage::sync);
  connect(model_, &QAbstractItemModel::columnsInserted, this, &ComparePage::sync);
}

void ComparePage::pin(const QString& label, const QJsonObject& report) { model_->add_run(label, report); }

void ComparePage::sync() {
  // The charts name runs by their letter; the table above carries the full names.
  auto runs = model_->runs();
  for (auto& [label, report] : runs) label = label.section(u':', 0, 0);
  phases_->set_runs(runs);
  memory_->set_runs(runs);
}

}  // namespace moesim::gui
