#include "scenario_editor.hpp"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>

#include "file_io.hpp"
#include "input/input.hpp"
#include "catalog.hpp"
#include "hw_profile.hpp"
#include "model/model.hpp"
#include "problem_model.hpp"

namespace moesim::gui {
namespace {

using Pointer = nlohmann::ordered_json::json_pointer;

QStringList to_qt(const std::vector<std::string>& names) {
  QStringList out;
  for (const auto& n : names) out << QString::fromStdString(n);
  return out;
}

QStringList links_of_class(const char* link_class) {
  QStringList out;
  for (const auto& l : hw::Catalog::builtin().links()) {
    if (l.link_class == link_class) out << QString::fromStdString(l.name);
  }
  return out;
}

QString widget_text(QWidget* w) {
  if (auto* e = qobject_cast<QLineEdit*>(w)) return e->text();
  if (auto* c = qobject_cast<QComboBox*>(w)) return c->currentText();
  return {};
}

void set_widget_text(QWidget* w, const QString& text) {
  if (auto* e = qobject_cast<QLineEdit*>(w)) {
    if (e->text() != text) e->setText(text);
  } else if (auto* c = qobject_cast<QComboBox*>(w)) {
    if (c->currentText() != text) c->setCurrentText(text);
  }
}

// Removes the value at `ptr`, then any objects left empty above it.
void erase_at(nlohmann::ordered_json& doc, Pointer ptr) {
  while (!ptr.empty()) {
    const Pointer parent = ptr.parent_pointer();
    if (!doc.contains(parent) || !doc[parent].is_object()) return;
    doc[parent].erase(ptr.back());
    if (parent.empty() || !doc[parent].empty()) return;
    ptr = parent;
  }
}

}  // namespace

ScenarioEditor::ScenarioEditor(QWidget* parent) : QWidget(parent), problems_(new ProblemModel(this)) {
  tabs_ = new QTabWidget;
  scroll_ = new QScrollArea;
  scroll_->setWidgetResizable(true);
  auto* form = new QWidget;
  build_form(form);
  scroll_->setWidget(form);
  tabs_->addTab(scroll_, tr("Form"));
  raw_ = new QPlainTextEdit;
  raw_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  raw_->setLineWrapMode(QPlainTextEdit::NoWrap);
  tabs_->addTab(raw_, tr("Raw JSON"));

  problem_summary_ = new QLabel;
  problem_view_ = new QListView;
  problem_view_->setModel(problems_);
  problem_view_->setWordWrap(true);
  problem_view_->setToolTip(tr("Click a problem to go to its field"));
  auto* problem_box = new QWidget;
  auto* pl = new QVBoxLayout(problem_box);
  pl->setContentsMargins(0, 0, 0, 0);
  pl->addWidget(problem_summary_);
  pl->addWidget(problem_view_);
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(tabs_);
  split->addWidget(problem_box);
  split->setStretchFactor(0, 4);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(split);

  validate_timer_ = new QTimer(this);
  validate_timer_->setSingleShot(true);
  validate_timer_->setInterval(200);
  connect(validate_timer_, &QTimer::timeout, this, &ScenarioEditor::validate_now);
  raw_timer_ = new QTimer(this);
  raw_timer_->setSingleShot(true);
  raw_timer_->setInterval(250);
  connect(raw_timer_, &QTimer::timeout, this, &ScenarioEditor::raw_edited);
  connect(raw_, &QPlainTextEdit::textChanged, this, [this] {
    if (!updating_) raw_timer_->start();
  });
  connect(problem_view_, &QListView::clicked, this, [this](const QModelIndex& i) { select_problem(i.row()); });
  // Leaving the raw tab applies what was typed at once.
  connect(tabs_, &QTabWidget::currentChanged, this, [this] {
    if (raw_timer_->isActive()) {
      raw_timer_->stop();
      raw_edited();
    }
  });
  base_dir_ = QDir::currentPath();
  refresh_raw();
  validate_now();
}

QWidget* ScenarioEditor::add_field(QFormLayout* layout, const QString& pointer, const QString& label, Kind kind,
                                   const QStringList& choices, const QString& tip) {
  auto* cell = new QWidget;
  auto* v = new QVBoxLayout(cell);
  v->setContentsMargins(0, 0, 0, 0);
  v->setSpacing(2);
  QWidget* input;
  if (kind == Kind::choice) {
    auto* combo = new QComboBox;
    combo->setEditable(true);
    combo->addItem(QString());
    combo->addItems(choices);
    combo->setInsertPolicy(QComboBox::NoInsert);
    combo->lineEdit()->setPlaceholderText(tr("(default)"));
    input = combo;
  } else {
    auto* edit = new QLineEdit;
    edit->setPlaceholderText(kind == Kind::integer ? tr("(default) integer") : tr("(default)"));
    input = edit;
  }
  input->setObjectName(pointer);
  input->setToolTip(tip.isEmpty() ? pointer : pointer + QStringLiteral(": ") + tip);
  if (kind == Kind::path) {
    auto* row = new QWidget;
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(input, 1);
    auto* browse = new QPushButton(tr("Browse..."));
    h->addWidget(browse);
    connect(browse, &QPushButton::clicked, this, [this, pointer] {
      const QString f = QFileDialog::getOpenFileName(this, tr("Choose a file"), base_dir_, tr("JSON (*.json);;All files (*)"));
      if (f.isEmpty()) return;
      if (pointer == QLatin1String("/model/hf_config")) {
        use_model_config(f);
      } else {
        set_field(pointer, QDir(base_dir_).relativeFilePath(f));
      }
    });
    v->addWidget(row);
  } else {
    v->addWidget(input);
  }
  auto* problem = new QLabel;
  problem->setWordWrap(true);
  problem->setStyleSheet(QStringLiteral("color: #c01c28;"));
  problem->hide();
  v->addWidget(problem);
  layout->addRow(label, cell);
  fields_.push_back({pointer, kind, input, problem});
  const std::size_t index = fields_.size() - 1;
  auto edited = [this, index](const QString& text) {
    if (!updating_) field_edited(fields_[index], text);
  };
  if (auto* e = qobject_cast<QLineEdit*>(input)) connect(e, &QLineEdit::textEdited, this, edited);
  if (auto* c = qobject_cast<QComboBox*>(input)) connect(c, &QComboBox::currentTextChanged, this, edited);
  return input;
}

void ScenarioEditor::build_form(QWidget* form) {
  // Two columns that stack their groups without gaps; groups alternate between them.
  auto* columns = new QHBoxLayout(form);
  QVBoxLayout* column[2] = {new QVBoxLayout, new QVBoxLayout};
  for (auto* c : column) columns->addLayout(c, 1);
  int slot = 0;
  auto group = [&](const QString& title) {
    auto* box = new QGroupBox(title);
    auto* fl = new QFormLayout(box);
    fl->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    column[slot++ % 2]->addWidget(box);
    return fl;
  };
  const QStringList dtypes = to_qt(hw::dtype_names());
  QStringList devices;
  for (const auto& d : hw::Catalog::builtin().devices()) devices << QString::fromStdString(d.name);

  auto* f = group(tr("Model"));
  add_field(f, "/name", tr("Scenario name"), Kind::text, {}, tr("shown in reports"));
  add_field(f, "/model/preset", tr("Preset"), Kind::choice, to_qt(sim::preset_names()),
            tr("a built-in model; or choose a config.json below"));
  add_field(f, "/model/hf_config", tr("HF config.json"), Kind::path, {},
            tr("a HuggingFace config.json (drop one on the window)"));
  add_field(f, "/model/weights_dtype", tr("Weights dtype"), Kind::choice, dtypes);
  add_field(f, "/model/kv_dtype", tr("KV-cache dtype"), Kind::choice, dtypes);

  f = group(tr("Cluster"));
  add_field(f, "/cluster/nodes", tr("Nodes"), Kind::integer);
  add_field(f, "/cluster/node/device", tr("Device"), Kind::choice, devices);
  add_field(f, "/cluster/node/devices_per_node", tr("Devices per node"), Kind::integer);
  add_field(f, "/cluster/node/scale_up", tr("Scale-up link"), Kind::choice, links_of_class("scale_up"));
  add_field(f, "/cluster/scale_out/link", tr("Scale-out link"), Kind::choice, links_of_class("scale_out"),
            tr("needed with more than one node"));
  add_field(f, "/cluster/scale_out/nics_per_node", tr("NICs per node"), Kind::integer);
  add_field(f, "/cluster/scale_out/topology", tr("Scale-out topology"), Kind::choice,
            {"fat-tree", "rail-optimized", "multi-plane"});
  add_field(f, "/cluster/scale_out/nodes_per_leaf", tr("Nodes per leaf"), Kind::integer);
  add_field(f, "/cluster/scale_out/oversubscription", tr("Oversubscription"), Kind::number, {},
            tr("a leaf's (rail's) NIC ports over its uplinks, e.g. 2 for 2:1; flow fidelity"));
  add_field(f, "/cluster/scale_out/path_choice", tr("Path choice"), Kind::choice, {"adaptive", "ecmp"},
            tr("fat-tree leaves: even split, or a hash per NIC pair"));

  f = group(tr("Parallelism"));
  add_field(f, "/parallelism/attention/tp", tr("Attention TP"), Kind::integer);
  add_field(f, "/parallelism/attention/dp", tr("Attention DP"), Kind::integer);
  add_field(f, "/parallelism/attention/cp", tr("Context parallel (CP)"), Kind::integer, {},
            tr("prefill: each prompt split over this many ranks (ring attention)"));
  add_field(f, "/parallelism/experts/ep", tr("Expert parallel (EP)"), Kind::integer);
  add_field(f, "/parallelism/experts/tp", tr("Expert TP"), Kind::integer);
  add_field(f, "/parallelism/pp", tr("Pipeline stages"), Kind::integer);
  add_field(f, "/parallelism/redundant_experts", tr("Redundant experts"), Kind::integer);

  f = group(tr("Workload"));
  add_field(f, "/workload/kind", tr("Kind"), Kind::choice, {"decode", "prefill", "serving", "training"});
  add_field(f, "/workload/batch_per_device", tr("Batch per device"), Kind::integer, {},
            tr("sequences per attention data-parallel rank"));
  add_field(f, "/workload/context_tokens", tr("Context tokens"), Kind::integer, {}, tr("decode"));
  add_field(f, "/workload/input_tokens", tr("Input tokens"), Kind::integer, {}, tr("prefill"));
  add_field(f, "/workload/cached_tokens", tr("Cached tokens"), Kind::integer, {},
            tr("prefill: of the prompt, tokens found in the prefix cache (read, not computed)"));
  add_field(f, "/workload/sessions", tr("Sessions"), Kind::text, {},
            tr("serving, JSON: {\"count\": 40, \"turns\": {\"uniform\": [4, 10]}, \"think_time\": \"5s\", \"system_prompt_tokens\": 4000}"));
  add_field(f, "/workload/prefix_cache", tr("Prefix cache"), Kind::text, {}, tr("serving, JSON: {\"enabled\": true}"));
  add_field(f, "/workload/context_spread", tr("Context spread"), Kind::text, {},
            tr("decode: \"exponential\" or {\"cv\": 0.5}; the step waits for the attention rank with the most KV"));
  add_field(f, "/workload/speculative/method", tr("Speculative method"), Kind::choice, {"mtp", "ngram", "draft_model"},
            tr("decode and serving: drafts verified each step (mtp needs a model with MTP modules)"));
  add_field(f, "/workload/speculative/draft_model", tr("Draft model"), Kind::choice, to_qt(sim::preset_names()),
            tr("method draft_model: a dense preset"));
  add_field(f, "/workload/speculative/draft_tokens", tr("Draft tokens"), Kind::integer);
  add_field(f, "/workload/speculative/acceptance", tr("Acceptance"), Kind::number, {},
            tr("probability a draft token is accepted, e.g. 0.85; or JSON, one per position"));

  f = group(tr("Routing"));
  add_field(f, "/routing/distribution", tr("Distribution"), Kind::choice, {"uniform"},
            tr("uniform, or JSON such as {\"zipf\": 1.1}"));
  add_field(f, "/routing/seed", tr("Seed"), Kind::integer);
  add_field(f, "/routing/capacity_factor", tr("Capacity factor"), Kind::number);
  add_field(f, "/routing/skip_fraction", tr("Skip fraction"), Kind::number);

  f = group(tr("Communication and execution"));
  add_field(f, "/communication/all_to_all", tr("All-to-all"), Kind::choice, to_qt(sim::all_to_all_algorithm_names()));
  add_field(f, "/communication/dispatch_dtype", tr("Dispatch dtype"), Kind::choice, dtypes);
  add_field(f, "/communication/combine_dtype", tr("Combine dtype"), Kind::choice, dtypes);
  add_field(f, "/overlap", tr("Overlap"), Kind::choice, {"none", "compute-comm", "two-microbatch"});
  add_field(f, "/fidelity", tr("Fidelity"), Kind::choice, {"analytic", "flow"});
  add_field(f, "/hw_profile", tr("HW profile"), Kind::path, {},
            tr("a calibrated profile file (moesim fit), a built-in profile name, or \"catalog\"; empty: the device's default"));

  f = group(tr("Power and price"));
  add_field(f, "/power/cap", tr("Power cap"), Kind::text, {}, tr("e.g. 700W"));
  add_field(f, "/price/per_device_hour", tr("Price per device-hour"), Kind::text, {}, tr("e.g. $2.5/h"));
  for (auto* c : column) c->addStretch(1);
}

void ScenarioEditor::field_edited(const Field& field, const QString& raw_text) {
  const QString text = raw_text.trimmed();
  const Pointer ptr(field.pointer.toStdString());
  nlohmann::ordered_json value;
  bool ok = false;
  if (text.isEmpty()) {
    erase_at(doc_, ptr);
  } else {
    if (field.kind == Kind::integer) {
      const qlonglong n = text.toLongLong(&ok);
      if (ok) value = n;
    } else if (field.kind == Kind::number) {
      const double d = text.toDouble(&ok);
      if (ok) value = d;
    } else if (text.startsWith(u'{') || text.startsWith(u'[')) {
      value = nlohmann::ordered_json::parse(text.toStdString(), nullptr, false);
      ok = !value.is_discarded();
    }
    if (!ok) value = text.toStdString();  // kept as typed: validation says what is expected
    try {
      doc_[ptr] = value;
    } catch (const nlohmann::json::exception&) {
      // A parent holds a non-object (typed in the raw tab): validation reports it there.
    }
    // A model is a preset or a config.json, never both: choosing one drops the other.
    if (field.pointer == QLatin1String("/model/preset")) erase_at(doc_, Pointer("/model/hf_config"));
    if (field.pointer == QLatin1String("/model/hf_config")) erase_at(doc_, Pointer("/model/preset"));
  }
  raw_broken_ = false;
  refresh_form(&field);
  refresh_raw();
  touch();
}

void ScenarioEditor::refresh_form(const Field* editing) {
  updating_ = true;
  for (const Field& f : fields_) {
    if (&f == editing) continue;  // keep what the user is typing ("1." on the way to "1.5")
    const Pointer ptr(f.pointer.toStdString());
    QString text;
    if (doc_.contains(ptr)) {
      const auto& v = doc_[ptr];
      text = v.is_string() ? QString::fromStdString(v.get<std::string>()) : QString::fromStdString(v.dump());
    }
    if (widget_text(f.widget).trimmed() != text) set_widget_text(f.widget, text);
  }
  updating_ = false;
}

void ScenarioEditor::refresh_raw() {
  updating_ = true;
  raw_->setPlainText(QString::fromStdString(doc_.dump(2)) + u'\n');
  updating_ = false;
}

void ScenarioEditor::raw_edited() {
  const std::string text = raw_->toPlainText().toStdString();
  auto parsed = nlohmann::ordered_json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    raw_broken_ = true;  // the raw text stays as typed; validation lists the syntax error
  } else {
    raw_broken_ = false;
    doc_ = std::move(parsed);
    refresh_form();
  }
  touch();
}

void ScenarioEditor::touch() {
  dirty_ = true;
  validate_timer_->start();
  emit changed();
}

void ScenarioEditor::mark_clean() { dirty_ = false; }

void ScenarioEditor::mark_dirty() {
  dirty_ = true;
  emit changed();
}

QByteArray ScenarioEditor::text() const {
  if (raw_broken_) return raw_->toPlainText().toUtf8();
  return QByteArray::fromStdString(doc_.dump(2)) + '\n';
}

nlohmann::ordered_json ScenarioEditor::document() const { return raw_broken_ ? nlohmann::ordered_json() : doc_; }

QByteArray ScenarioEditor::run_text() const {
  if (raw_broken_) return {};
  nlohmann::ordered_json doc = doc_;
  for (const char* key : {"/model/hf_config", "/hw_profile"}) {
    const Pointer ptr(key);
    if (doc.contains(ptr) && doc[ptr].is_string()) {
      // "catalog" and built-in profile names are not paths.
      const std::string v = doc[ptr].get<std::string>();
      if (std::string(key) == "/hw_profile" && (v == moesim::hw::kCatalogProfile || moesim::hw::find_builtin_profile(v))) {
        continue;
      }
      doc[ptr] = QDir(base_dir_).absoluteFilePath(QString::fromStdString(doc[ptr].get<std::string>())).toStdString();
    }
  }
  return QByteArray::fromStdString(doc.dump(2)) + '\n';
}

QString ScenarioEditor::scenario_name() const {
  if (!raw_broken_ && doc_.contains("name") && doc_["name"].is_string()) {
    return QString::fromStdString(doc_["name"].get<std::string>());
  }
  return path_.isEmpty() ? tr("untitled") : QFileInfo(path_).completeBaseName();
}

bool ScenarioEditor::valid() const { return !problems_->has_errors(); }

bool ScenarioEditor::load_file(const QString& path, QString* error) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    if (error) *error = QStringLiteral("%1: cannot read the file (%2)").arg(path, f.errorString());
    return false;
  }
  load_text(f.readAll(), QFileInfo(path).absoluteFilePath(), QFileInfo(path).absolutePath());
  return true;
}

void ScenarioEditor::load_text(const QByteArray& text, const QString& path, const QString& base_dir) {
  path_ = path;
  base_dir_ = base_dir;
  auto parsed = nlohmann::ordered_json::parse(text.toStdString(), nullptr, false);
  updating_ = true;
  if (parsed.is_discarded() || !parsed.is_object()) {
    // Show the text as it is, so the user can repair it; validation names the error.
    raw_broken_ = true;
    doc_ = nlohmann::ordered_json::object();
    raw_->setPlainText(QString::fromUtf8(text));
    tabs_->setCurrentWidget(raw_);
  } else {
    raw_broken_ = false;
    doc_ = std::move(parsed);
    raw_->setPlainText(QString::fromStdString(doc_.dump(2)) + u'\n');
  }
  updating_ = false;
  refresh_form();
  dirty_ = false;
  validate_now();
  emit changed();
}

bool ScenarioEditor::save_file(const QString& path, QString* error) {
  // Not QSaveFile: Qt 6.4's commits a file cut short by a full disk (a short write passes).
  const QByteArray bytes = text();
  if (std::string why; !write_file_atomic(path.toStdString(), std::string_view(bytes.constData(), bytes.size()), &why)) {
    if (error) *error = QStringLiteral("%1: cannot write the file (%2); the file there is unchanged").arg(path, QString::fromStdString(why));
    return false;
  }
  const QString old_base = base_dir_;
  path_ = QFileInfo(path).absoluteFilePath();
  base_dir_ = QFileInfo(path).absolutePath();
  dirty_ = false;
  if (old_base != base_dir_) validate_now();  // relative paths now resolve elsewhere
  emit changed();
  return true;
}

bool ScenarioEditor::set_field(const QString& pointer, const QString& text) {
  const Field* f = find_field(pointer);
  if (!f || f->pointer != pointer) return false;
  updating_ = true;
  set_widget_text(f->widget, text);
  updating_ = false;
  field_edited(*f, text);
  return true;
}

QString ScenarioEditor::field_text(const QString& pointer) const {
  const Field* f = find_field(pointer);
  return f && f->pointer == pointer ? widget_text(f->widget) : QString();
}

QWidget* ScenarioEditor::field_widget(const QString& pointer) const {
  const Field* f = find_field(pointer);
  return f && f->pointer == pointer ? f->widget : nullptr;
}

QString ScenarioEditor::field_problem(const QString& pointer) const {
  const Field* f = find_field(pointer);
  return f && f->pointer == pointer && !f->problem->isHidden() ? f->problem->text() : QString();
}

void ScenarioEditor::use_model_config(const QString& path) {
  QString value = QDir(base_dir_).relativeFilePath(path);
  if (path_.isEmpty() || value.startsWith(QLatin1String("../.."))) value = QFileInfo(path).absoluteFilePath();
  set_field(QStringLiteral("/model/hf_config"), value);
}

// The field a problem belongs to: the same pointer, else the deepest field above it (a problem
// inside a value), else the first field below it (a problem with a whole section).
const ScenarioEditor::Field* ScenarioEditor::find_field(const QString& pointer) const {
  const Field* best = nullptr;
  for (const Field& f : fields_) {
    if (f.pointer == pointer) return &f;
    if (pointer.startsWith(f.pointer + u'/') && (!best || f.pointer.size() > best->pointer.size())) best = &f;
  }
  if (best) return best;
  if (pointer.isEmpty()) return nullptr;
  for (const Field& f : fields_) {
    if (f.pointer.startsWith(pointer + u'/')) return &f;
  }
  return nullptr;
}

const ScenarioEditor::Field* ScenarioEditor::field_for_problem(const QModelIndex& index) const {
  const Problem& p = problems_->problems()[static_cast<std::size_t>(index.row())];
  const QString label = path_.isEmpty() ? tr("untitled") : path_;
  if (!p.file.empty() && QString::fromStdString(p.file) != label) {
    // A problem inside a referenced file belongs to the field that names that file.
    const QString file = QString::fromStdString(p.file);
    for (const char* key : {"/model/hf_config", "/hw_profile"}) {
      const Field* f = find_field(QString::fromLatin1(key));
      const QString value = f ? widget_text(f->widget) : QString();
      if (!value.isEmpty() && (file.endsWith(value) || value.endsWith(QFileInfo(file).fileName()))) return f;
    }
  }
  return find_field(index.data(ProblemModel::kPointerRole).toString());
}

void ScenarioEditor::validate_now() {
  validate_timer_->stop();
  const QString label = path_.isEmpty() ? tr("untitled") : path_;
  problems_->set_problems(validate_scenario_text(text().toStdString(), base_dir_.toStdString(), label.toStdString()));
  for (const Field& f : fields_) {
    f.problem->clear();
    f.problem->hide();
    f.widget->setStyleSheet({});
  }
  int errors = 0, warnings = 0;
  for (int row = 0; row < problems_->rowCount(); ++row) {
    const QModelIndex i = problems_->index(row);
    const bool error = i.data(ProblemModel::kSeverityRole).toString() == QLatin1String("error");
    (error ? errors : warnings)++;
    if (const Field* f = field_for_problem(i)) {
      QString msg = i.data(ProblemModel::kMessageRole).toString();
      if (!f->problem->text().isEmpty()) msg = f->problem->text() + u'\n' + msg;
      f->problem->setText(msg);
      f->problem->show();
      if (error) f->widget->setStyleSheet(QStringLiteral("border: 1px solid #c01c28;"));
    }
  }
  problem_view_->setVisible(errors + warnings > 0);  // the form gets the room when all is well
  if (errors == 0 && warnings == 0) {
    problem_summary_->setText(tr("Valid scenario: no problems."));
    problem_summary_->setStyleSheet(QStringLiteral("color: #1b7f3b;"));
  } else {
    problem_summary_->setText(tr("%1 error(s), %2 warning(s). Run is disabled while there are errors; click a "
                                 "problem to go to its field.").arg(errors).arg(warnings));
    problem_summary_->setStyleSheet(errors ? QStringLiteral("color: #c01c28;") : QStringLiteral("color: #9a6700;"));
  }
  emit validity_changed(errors == 0);
}

void ScenarioEditor::select_problem(int row) {
  if (row < 0 || row >= problems_->rowCount()) return;
  const Field* f = field_for_problem(problems_->index(row));
  if (!f) {
    tabs_->setCurrentWidget(raw_);
    raw_->setFocus();
    return;
  }
  tabs_->setCurrentWidget(scroll_);
  scroll_->ensureWidgetVisible(f->widget);
  f->widget->setFocus(Qt::OtherFocusReason);
}

}  // namespace moesim::gui
