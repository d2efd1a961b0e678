#include "input/csv_table.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "file_io.hpp"

namespace moesim::sim {

std::optional<CsvRows> read_csv_columns(const std::string& path, const std::vector<std::string>& columns,
                                        Diagnostics& diag, const RowLimit& limit) {
  const std::string expected = "columns " + join_names(columns, ",");
  if (std::string why = not_a_data_file(path); !why.empty()) {
    diag.error_at_line(1, why, "give a CSV file with " + expected);
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) {
    diag.error_at_line(1, "cannot open the file", "give a CSV file with " + expected);
    return std::nullopt;
  }
  const std::size_t errors_before = diag.error_count();
  CsvRows out;
  std::vector<int> col;  // index of each requested column in a row, once the header is read
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      const auto b = cell.find_first_not_of(" \t");
      const auto e = cell.find_last_not_of(" \t");
      cells.push_back(b == std::string::npos ? std::string() : cell.substr(b, e - b + 1));
    }
    if (col.empty()) {
      for (const auto& name : columns) {
        const auto it = std::find(cells.begin(), cells.end(), name);
        if (it == cells.end()) {
          diag.error_at_line(line_no, "the header has no column '" + name + "'",
                             "the first line names the " + expected);
        }
        col.push_back(static_cast<int>(it - cells.begin()));
      }
      if (diag.error_count() > errors_before) return std::nullopt;
      continue;
    }
    if (out.values.size() >= limit.rows) {
      diag.error_at_line(line_no, "more than " + std::to_string(limit.rows) + " rows", limit.hint);
      break;
    }
    std::vector<double> row(columns.size(), 0.0);
    bool ok = true;
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const auto i = static_cast<std::size_t>(col[c]);
      if (i >= cells.size() || cells[i].empty()) {
        diag.error_at_line(line_no, "missing column '" + columns[c] + "'", "every row has " + expected);
        ok = false;
        continue;
      }
      const std::string& s = cells[i];
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), row[c]);
      if (ec != std::errc() || ptr != s.data() + s.size()) {
        diag.error_at_line(line_no, "column '" + columns[c] + "' is not a number: '" + s + "'");
        ok = false;
      }
    }
    if (!ok) continue;
    out.values.push_back(std::move(row));
    out.lines.push_back(line_no);
  }
  if (col.empty()) {
    diag.error_at_line(1, "the file is empty", "the first line names the " + expected);
    return std::nullopt;
  }
  return out;
}

}  // namespace moesim::sim
