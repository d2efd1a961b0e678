#pragma once
// The scenario editor: a form with a field for every scenario v1 key, a raw-JSON tab, and live
// validation through the library (the same checks as `moesim validate`). The document is JSON
// kept in the user's key order; keys the form does not know are kept as they are.

#include <QWidget>
#include <nlohmann/json.hpp>
#include <vector>

class QComboBox;
class QFormLayout;
class QModelIndex;
class QLabel;
class QLineEdit;
class QListView;
class QPlainTextEdit;
class QScrollArea;
class QTabWidget;
class QTimer;

namespace moesim::gui {

class ProblemModel;

class ScenarioEditor : public QWidget {
  Q_OBJECT
 public:
  explicit ScenarioEditor(QWidget* parent = nullptr);

  /// Opens a scenario file. False with `error` (file unreadable) and the editor unchanged.
  bool load_file(const QString& path, QString* error);
  /// Shows `text` as an untitled scenario (templates, recovered autosaves); relative paths
  /// resolve against `base_dir`. `path` becomes the file to save to (may be empty).
  void load_text(const QByteArray& text, const QString& path, const QString& base_dir);
  /// Writes the document (pretty JSON) to `path`; it becomes the editor's file and is clean.
  bool save_file(const QString& path, QString* error);

  QString file_path() const { return path_; }
  QString base_dir() const { return base_dir_; }
  bool dirty() const { return dirty_; }
  /// No errors in the last validation (warnings allowed).
  bool valid() const;
  /// What the user has: the raw text when it does not parse, otherwise the document.
  QByteArray text() const;
  /// The document for a run: relative paths made absolute against base_dir(). Empty when the
  /// raw text does not parse.
  QByteArray run_text() const;
  /// The document as JSON (null when the raw text does not parse).
  nlohmann::ordered_json document() const;
  QString scenario_name() const;

  /// Sets a field as if the user typed `text` into it (tests, drag-and-drop).
  bool set_field(const QString& pointer, const QString& text);
  QString field_text(const QString& pointer) const;
  QWidget* field_widget(const QString& pointer) const;
  /// The message shown under a field ("" when none).
  QString field_problem(const QString& pointer) const;
  ProblemModel* problems() const { return problems_; }
  /// Shows the field of problem `row` and gives it focus.
  void select_problem(int row);
  /// Uses a HuggingFace config.json as the model (replacing the preset).
  void use_model_config(const QString& path);
  /// Runs validation now instead of after the typing pause.
  void validate_now();
  QTabWidget* tabs() const { return tabs_; }
  QPlainTextEdit* raw_editor() const { return raw_; }
  void mark_clean();
  /// Marks the document as unsaved (e.g. recovered from an autosave).
  void mark_dirty();

 signals:
  void changed();
  void validity_changed(bool valid);

 private:
  enum class Kind { text, integer, number, choice, path };
  struct Field {
    QString pointer;
    Kind kind;
    QWidget* widget;  // QLineEdit or QComboBox
    QLabel* problem;  // shown under the field
  };

  void build_form(QWidget* form);
  QWidget* add_field(QFormLayout* layout, const QString& pointer, const QString& label, Kind kind,
                     const QStringList& choices = {}, const QString& tip = {});
  void field_edited(const Field& field, const QString& text);
  void refresh_form(const Field* editing = nullptr);
  void refresh_raw();
  void raw_edited();
  void touch();
  const Field* field_for_problem(const QModelIndex& index) const;
  const Field* find_field(const QString& pointer) const;

  nlohmann::ordered_json doc_ = nlohmann::ordered_json::object();
  QString path_, base_dir_;
  bool dirty_ = false;
  bool raw_broken_ = false;
  bool updating_ = false;
  std::vector<Field> fields_;
  QTabWidget* tabs_;
  QScrollArea* scroll_;
  QPlainTextEdit* raw_;
  QListView* problem_view_;
  QLabel* problem_summary_;
  ProblemModel* problems_;
  QTimer* validate_timer_;
  QTimer* raw_timer_;
};

}  // namespace moesim::gui
