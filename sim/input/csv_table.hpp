#pragma once
// Numeric CSV files (routing traces, request traces): a header naming the columns, then one row
// per line; '#' lines and blank lines are skipped. Problems carry their line number.

#include <optional>
#include <string>
#include <vector>

#include "diagnostics.hpp"

namespace moesim::sim {

struct CsvRows {
  std::vector<std::vector<double>> values;  ///< per row: the requested columns, in order
  std::vector<int> lines;                   ///< per row: its line in the file
};

/// At most `rows` data rows; the next is an error at its line with `hint` (and reading stops).
struct RowLimit {
  std::size_t rows = static_cast<std::size_t>(-1);
  std::string hint;
};

/// Reads the named columns of every row (other columns are allowed and skipped). Missing
/// columns, empty cells and non-numbers are errors at their line and those rows are left out,
/// so that callers can check the rest too; nullopt when the file or its header is unusable.
std::optional<CsvRows> read_csv_columns(const std::string& path, const std::vector<std::string>& columns,
                                        Diagnostics& diag, const RowLimit& limit = {});

}  // namespace moesim::sim
