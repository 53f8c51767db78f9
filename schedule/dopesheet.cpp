// Dopesheet parsing (see dopesheet.hpp for the contract, docs/schedule.md for the rules).
// Three passes: CSV records -> rows with typed cells -> STEPs resolved against the absolute
// anchor rows, sorted, and gathered into keyframes, phase instances and events.
#include "schedule/dopesheet.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>

namespace sg::schedule {

int Dopesheet::property_index(std::string_view name) const {
  for (std::size_t i = 0; i < properties.size(); ++i)
    if (properties[i].name == name) return static_cast<int>(i);
  return -1;
}

namespace {

[[noreturn]] void fail(const std::string& source, int line, int column, const std::string& what) {
  throw DopesheetError(source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what);
}

// At most 60 characters of the text: a malformed megabyte is quoted by its start.
std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 60;
  const bool cut = text.size() > kShown;
  if (cut) text = text.substr(0, kShown);
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '\n') out += "\\n";
    else if (ch == '"') out += "\\\"";
    else out += ch;
  }
  return out + (cut ? "...\"" : "\"");
}

bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// ---------------------------------------------------------------- CSV records

struct Cell {
  std::string text;  // unquoted; trimmed unless it was quoted
  int line, column;
};

struct Record {
  int line;
  std::vector<Cell> cells;
};

// RFC 4180 plus what hand-edited files contain: blanks around fields, CRLF, a UTF-8 BOM.
// Lines with nothing on them are skipped; a line of only commas is a (placeholder) record.
std::vector<Record> read_records(std::string_view text, const std::string& source) {
  std::vector<Record> records;
  std::size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  const std::size_t n = text.size();
  int line = 1;
  auto at_line_end = [&] { return i >= n || text[i] == '\n' || text[i] == '\r'; };
  while (i < n) {
    Record record{line, {}};
    bool blank_line = true;
    for (;;) {
      while (i < n && is_blank(text[i])) ++i;
      Cell cell{"", line, static_cast<int>(record.cells.size()) + 1};
      if (i < n && text[i] == '"') {
        blank_line = false;
        for (++i;; ++i) {
          if (i >= n) fail(source, cell.line, cell.column, "expected a closing quote, got the end of the file");
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              cell.text += '"';
              ++i;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          cell.text += text[i];
        }
        while (i < n && is_blank(text[i])) ++i;
        if (!at_line_end() && text[i] != ',')
          fail(source, line, cell.column, "expected ',' after a quoted field, got " + quoted(text.substr(i, 1)));
      } else {
        const std::size_t start = i;
        while (!at_line_end() && text[i] != ',') ++i;
        cell.text = trim(text.substr(start, i - start));
        if (!cell.text.empty()) blank_line = false;
      }
      record.cells.push_back(std::move(cell));
      if (i < n && text[i] == ',') {
        blank_line = false;
        ++i;
        continue;
      }
      break;
    }
    if (i < n && text[i] == '\r') ++i;
    if (i < n && text[i] == '\n') ++i;
    ++line;
    if (!blank_line) records.push_back(std::move(record));
  }
  return records;
}

// ---------------------------------------------------------------- cells

std::optional<double> parse_number(std::string_view s) {
  if (s.starts_with('+')) {  // as Python's float() accepts it; from_chars does not
    s.remove_prefix(1);
    if (s.starts_with('-')) return std::nullopt;
  }
  double value = 0.0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (error != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// STEP forms; the relative ones are measured from the nearest absolute rows in file order.
enum class StepForm { absolute, after, before, fraction_after, fraction_before };

struct Row {
  int line = 0;
  const Cell* step_cell = nullptr;
  StepForm form = StepForm::absolute;
  long long offset = 0;   // absolute step, or N of +N / -N
  double fraction = 0.0;  // F of +F / -F
  long long step = 0;     // resolved
  std::optional<std::string> phase;
  std::vector<std::string> events;
  std::vector<std::optional<double>> values;  // one per property
};

void parse_step(Row& row, const std::string& source) {
  const Cell& cell = *row.step_cell;
  const std::string_view text = cell.text;
  auto expected = [&](const std::string& what) {
    fail(source, cell.line, cell.column, "expected " + what + ", got " + quoted(text));
  };
  const std::string forms = "a STEP: an integer >= 0, +N, -N, +F or -F (0 < F < 1)";
  const bool relative = text.starts_with('+') || text.starts_with('-');
  const std::string_view number = relative ? text.substr(1) : text;
  if (all_digits(number)) {
    if (number.size() > 10 || std::stoll(std::string(number)) > kMaxStep)
      expected("a STEP of at most " + std::to_string(kMaxStep));
    row.offset = std::stoll(std::string(number));
    if (relative && row.offset == 0) expected("N >= 1 in +N / -N");
    row.form = !relative ? StepForm::absolute : text[0] == '+' ? StepForm::after : StepForm::before;
    return;
  }
  // A fraction is written with a decimal point (as the original requires): 0.5 or .5.
  const std::size_t point = number.find('.');
  if (!relative || point == std::string_view::npos || point + 1 == number.size() ||
      !(point == 0 || all_digits(number.substr(0, point))) || !all_digits(number.substr(point + 1)))
    expected(forms);
  row.fraction = *parse_number(number);
  if (!(row.fraction > 0.0 && row.fraction < 1.0)) expected("a fraction F with 0 < F < 1 in +F / -F");
  row.form = text[0] == '+' ? StepForm::fraction_after : StepForm::fraction_before;
}

// Python's round(): ties go to the even neighbour, independent of the FPU rounding mode.
double round_half_even(double x) {
  const double floor = std::floor(x), rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return std::fmod(floor, 2.0) == 0.0 ? floor : floor + 1;
}

void resolve_steps(std::vector<Row>& rows, const std::string& source) {
  const std::size_t n = rows.size();
  std::vector<std::optional<long long>> above(n), below(n);  // nearest absolute anchors
  std::optional<long long> anchor;
  for (std::size_t i = 0; i < n; ++i) {
    above[i] = anchor;
    if (rows[i].form == StepForm::absolute) anchor = rows[i].offset;
  }
  anchor.reset();
  for (std::size_t i = n; i-- > 0;) {
    below[i] = anchor;
    if (rows[i].form == StepForm::absolute) anchor = rows[i].offset;
  }
  for (std::size_t i = 0; i < n; ++i) {
    Row& row = rows[i];
    const Cell& cell = *row.step_cell;
    auto need = [&](bool ok, const char* anchors, const char* purpose) {
      if (!ok)
        fail(source, cell.line, cell.column, std::string("expected ") + anchors + " " + quoted(cell.text) + " " + purpose);
    };
    long long step = 0;
    switch (row.form) {
      case StepForm::absolute: step = row.offset; break;
      case StepForm::after:
        need(above[i].has_value(), "an absolute STEP row above", "to count from");
        step = *above[i] + row.offset;
        break;
      case StepForm::before:
        need(below[i].has_value(), "an absolute STEP row below", "to count back from");
        step = *below[i] - row.offset;
        break;
      case StepForm::fraction_after:
      case StepForm::fraction_before: {
        need(above[i] && below[i], "absolute STEP rows above and below", "to take the fraction between");
        const double prev = double(*above[i]), next = double(*below[i]);
        const double span = next - prev;
        step = static_cast<long long>(round_half_even(
            row.form == StepForm::fraction_after ? prev + row.fraction * span : next - row.fraction * span));
        break;
      }
    }
    row.step = std::max(step, 0LL);
    if (row.step > kMaxStep)
      fail(source, cell.line, cell.column,
           "expected a STEP of at most " + std::to_string(kMaxStep) + ", got " + quoted(cell.text) +
               " = " + std::to_string(row.step));
  }
}

}  // namespace

Dopesheet parse_dopesheet(std::string_view text, const std::string& source) {
  const std::vector<Record> records = read_records(text, source);
  if (records.empty()) fail(source, 1, 1, "expected a header row (STEP,...), got an empty file");

  // ------------------------------------------------------------ header
  enum class Kind { step, phase, action, property };
  struct Column {
    Kind kind;
    int property = -1;
  };
  Dopesheet sheet;
  sheet.source = source;
  const Record& header = records.front();
  std::vector<Column> columns;
  std::vector<std::string> names;  // reserved names and property names, to catch a duplicate
  for (const Cell& cell : header.cells) {
    const std::string& name = cell.text;
    auto expected = [&](const std::string& what) {
      fail(source, cell.line, cell.column, "expected " + what + ", got " + quoted(name));
    };
    if (name.empty()) expected("a column name");
    Column column{Kind::property};
    if (name == "STEP") column.kind = Kind::step;
    else if (name == "PHASE") column.kind = Kind::phase;
    else if (name == "ACTION") column.kind = Kind::action;
    else {
      std::vector<std::string_view> parts;
      for (std::size_t start = 0;;) {
        const std::size_t colon = name.find(':', start);
        parts.push_back(trim(std::string_view(name).substr(start, colon - start)));
        if (colon == std::string::npos) break;
        start = colon + 1;
      }
      if (parts.size() > 3 || parts[0].empty()) expected("a property header name[:space[:timing]]");
      Property property;
      property.name = parts[0];
      const std::string_view space = parts.size() > 1 ? parts[1] : "";
      const std::string_view timing = parts.size() > 2 ? parts[2] : "";
      if (space == "log") property.space = Space::log;
      else if (!space.empty() && space != "linear")
        fail(source, cell.line, cell.column,
             "expected a space 'linear' or 'log' in column '" + name + "', got " + quoted(space));
      if (timing == "linear") property.timing = Timing::linear;
      else if (timing == "step-end" || timing == "step") property.timing = Timing::step_end;
      else if (!timing.empty() && timing != "minjerk")
        fail(source, cell.line, cell.column,
             "expected a timing 'minjerk', 'linear', 'step-end' or 'step' in column '" + name + "', got " +
                 quoted(timing));
      column.property = static_cast<int>(sheet.properties.size());
      sheet.properties.push_back(std::move(property));
    }
    const std::string key = column.kind == Kind::property ? sheet.properties.back().name : name;
    const auto seen = std::find(names.begin(), names.end(), key);
    if (seen != names.end())
      fail(source, cell.line, cell.column,
           "expected each column once, got a second '" + key + "' (first in column " +
               std::to_string(seen - names.begin() + 1) + ")");
    names.push_back(key);
    columns.push_back(column);
  }
  const auto step_column = std::find_if(columns.begin(), columns.end(), [](auto& c) { return c.kind == Kind::step; });
  if (step_column == columns.end()) fail(source, header.line, 1, "expected a STEP column in the header");

  // ------------------------------------------------------------ rows
  if (records.size() == 1)
    fail(source, header.line + 1, 1, "expected at least one row after the header, got none");
  std::vector<Row> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const Record& record = records[r];
    const std::size_t got = record.cells.size(), want = columns.size();
    if (got != want)
      fail(source, record.line, static_cast<int>(std::min(got, want) + 1),
           "expected " + std::to_string(want) + " cells like the header, got " + std::to_string(got));
    Row row;
    row.line = record.line;
    row.step_cell = &record.cells[step_column - columns.begin()];
    row.values.resize(sheet.properties.size());
    for (std::size_t c = 0; c < want; ++c) {
      const Cell& cell = record.cells[c];
      switch (columns[c].kind) {
        case Kind::step: parse_step(row, source); break;
        case Kind::phase:
          if (!cell.text.empty()) row.phase = cell.text;
          break;
        case Kind::action:
          for (std::size_t start = 0; start <= cell.text.size();) {
            const std::size_t comma = std::min(cell.text.find(',', start), cell.text.size());
            const std::string_view event = trim(std::string_view(cell.text).substr(start, comma - start));
            if (!event.empty()) row.events.emplace_back(event);
            start = comma + 1;
          }
          break;
        case Kind::property: {
          if (cell.text.empty()) break;
          row.values[columns[c].property] = parse_number(cell.text);
          if (!row.values[columns[c].property])
            fail(source, cell.line, cell.column,
                 "expected a number in column '" + sheet.properties[columns[c].property].name + "', got " +
                     quoted(cell.text));
          break;
        }
      }
    }
    rows.push_back(std::move(row));
  }
  resolve_steps(rows, source);
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.step < b.step; });

  // ------------------------------------------------------------ gather
  std::vector<int> keyframe_line(sheet.properties.size(), 0);
  int phase_line = 0;
  for (const Row& row : rows) {
    const int step = static_cast<int>(row.step);
    for (std::size_t p = 0; p < sheet.properties.size(); ++p) {
      if (!row.values[p]) continue;
      auto& keys = sheet.properties[p].keyframes;
      if (!keys.empty() && keys.back().step == step) {
        const int column = static_cast<int>(
            std::find_if(columns.begin(), columns.end(), [&](auto& c) { return c.property == int(p); }) -
            columns.begin() + 1);
        fail(source, row.line, column,
             "expected one value per step in column '" + sheet.properties[p].name + "', got a second at step " +
                 std::to_string(step) + " (first on line " + std::to_string(keyframe_line[p]) + ")");
      }
      keys.push_back({step, *row.values[p]});
      keyframe_line[p] = row.line;
    }
    if (row.phase) {
      if (!sheet.phases.empty() && sheet.phases.back().start == step) {
        const int column = static_cast<int>(
            std::find_if(columns.begin(), columns.end(), [](auto& c) { return c.kind == Kind::phase; }) -
            columns.begin() + 1);
        fail(source, row.line, column,
             "expected one PHASE per step, got a second at step " + std::to_string(step) + " (first on line " +
                 std::to_string(phase_line) + ")");
      }
      sheet.phases.push_back({*row.phase, step, step});
      phase_line = row.line;
    }
    if (!row.events.empty()) {
      if (sheet.actions.empty() || sheet.actions.back().step != step) sheet.actions.push_back({step, {}});
      auto& events = sheet.actions.back().events;
      events.insert(events.end(), row.events.begin(), row.events.end());
    }
  }
  sheet.length = static_cast<int>(rows.back().step) + 1;
  for (std::size_t i = 0; i < sheet.phases.size(); ++i)
    sheet.phases[i].end = i + 1 < sheet.phases.size() ? sheet.phases[i + 1].start - 1 : sheet.length - 1;
  for (std::size_t c = 0; c < columns.size(); ++c)
    if (columns[c].kind == Kind::property && sheet.properties[columns[c].property].keyframes.empty())
      fail(source, header.line, static_cast<int>(c + 1),
           "expected at least one value in column '" + sheet.properties[columns[c].property].name +
               "', got an empty column");
  return sheet;
}

Dopesheet load_dopesheet(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw DopesheetError(path + ": cannot open the file (" + std::strerror(errno) + ")");
  std::string text;
  char buffer[1 << 16];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, file)) > 0;) {
    text.append(buffer, got);
    if (text.size() > kMaxFileBytes) {  // /dev/urandom, or a wrong file: never read without end
      std::fclose(file);
      throw DopesheetError(path + ": larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB, not a dopesheet");
    }
  }
  const bool failed = std::ferror(file);
  std::fclose(file);
  if (failed) throw DopesheetError(path + ": cannot read the file");
  return parse_dopesheet(text, path);
}

}  // namespace sg::schedule
