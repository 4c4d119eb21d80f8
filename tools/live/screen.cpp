// The screen: a pixel font for the large figures, the chart, a frame, and the plain lines.
#include "tools/live/screen.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <tuple>

#include <sys/ioctl.h>

namespace live {

std::pair<int, int> terminal_size() { // columns, rows
  winsize w{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return {w.ws_col, w.ws_row};
  return {0, 0};
}

namespace {

// Large digits: a 3x5 pixel font drawn with half blocks, three rows of text tall.
constexpr std::string_view glyph_chars = "0123456789.%";
constexpr std::array<std::array<const char*, 5>, 12> glyphs{{
    {"###", "#.#", "#.#", "#.#", "###"},
    {".#.", "##.", ".#.", ".#.", "###"},
    {"###", "..#", "###", "#..", "###"},
    {"###", "..#", "###", "..#", "###"},
    {"#.#", "#.#", "###", "..#", "..#"},
    {"###", "#..", "###", "..#", "###"},
    {"###", "#..", "###", "#.#", "###"},
    {"###", "..#", "..#", "..#", "..#"},
    {"###", "#.#", "###", "#.#", "###"},
    {"###", "#.#", "###", "..#", "###"},
    {".", ".", ".", ".", "#"},
    {"#.#", "..#", ".#.", "#..", "#.#"},
}};

int big_width(std::string_view s) {
  int w = 0;
  for (char c : s)
    if (auto g = glyph_chars.find(c); g != std::string_view::npos)
      w += static_cast<int>(std::strlen(glyphs[g][0])) + 1;
  return w;
}

void big_text(canvas& c, int x, int y, std::string_view s, int colour) {
  for (char ch : s) {
    auto g = glyph_chars.find(ch);
    if (g == std::string_view::npos) continue;
    auto& rows = glyphs[g];
    int w = static_cast<int>(std::strlen(rows[0]));
    for (int row = 0; row < 3; ++row)
      for (int col = 0; col < w; ++col) {
        bool top = rows[static_cast<std::size_t>(row * 2)][col] == '#';
        bool bottom = row * 2 + 1 < 5 && rows[static_cast<std::size_t>(row * 2 + 1)][col] == '#';
        c.put(x + col, y + row, top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ", colour, true);
      }
    x += w + 1;
  }
}

// The chart's top, in KB: a power of two of MB, at or above v (16 MB at least).
double scale_top(double kb) {
  double top = 16 * 1024;
  while (top < kb)
    top *= 2;
  return top;
}

std::string scale_text(double kb) { // 512 MiB, 1 GiB, 2 GiB
  auto mb = static_cast<long>(kb / 1024);
  return mb >= 1024 ? std::to_string(mb / 1024) + " GiB" : std::to_string(mb) + " MiB";
}

// A bar chart of `history` over the seconds [0, span], columns wide and rows tall, on a scale
// of [0, top]: each column shows the highest sample that falls in it, in eighths of a cell.
void chart(canvas& c, int x, int y, int columns, int rows,
           const std::vector<std::pair<double, double>>& history, double span, double top,
           int colour) {
  static constexpr std::array<const char*, 9> eighths{" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  std::vector<double> column(static_cast<std::size_t>(columns), -1);
  for (auto& [t, v] : history) {
    auto at = std::min(columns - 1, static_cast<int>(t / span * columns));
    auto& cell = column[static_cast<std::size_t>(at)];
    cell = std::max(cell, v);
  }
  for (int col = 0; col < columns; ++col) {
    double v = column[static_cast<std::size_t>(col)];
    if (v < 0) continue; // not running at that time
    int height = static_cast<int>(std::lround(std::min(v, top) / top * rows * 8));
    height = std::max(height, 1); // running, however little: a line along the bottom
    for (int row = 0; row < rows; ++row) {
      int fill = std::clamp(height - row * 8, 0, 8);
      c.put(x + col, y + rows - 1 - row, eighths[static_cast<std::size_t>(fill)], colour);
    }
  }
}

std::string right(std::string_view label, std::string value, int width) {
  auto pad = width - static_cast<int>(label.size()) - static_cast<int>(value.size());
  return std::string(label) + std::string(static_cast<std::size_t>(std::max(pad, 1)), ' ') + value;
}

} // namespace

void draw(canvas& c, int columns, int rows, const options& o, const std::vector<runner>& runners,
          double elapsed, const std::string& port, double server_cpu) {
  auto& s = o.what;
  bool memory = s.headline == metric::memory;
  c.text(0, 0,
         std::string(memory ? "MEMORY SCENE" : "CPU SCENE") + " · " + group(s.requests) +
             " requests, " + std::to_string(o.limit) + " at a time · delays " +
             delay_words(s.delay) + " · " + fixed(elapsed, "%.1f s"),
         -1, true);
  auto shows = [&](std::string_view number) {
    return std::any_of(runners.begin(), runners.end(),
                       [&](auto& r) { return r.info->number == number; });
  };
  auto watch = s.watch;
  if (memory && !shows("02")) watch = "memory: it stays flat however many requests are made";
  if (!memory && !shows("03")) watch = "CPU: requests wait {delays} on the server";
  if (auto at = watch.find("{delays}"); at != std::string::npos)
    watch.replace(at, 8, delay_words(s.delay));
  c.text(0, 1, "Watch: " + watch);

  int panel = (columns - gutter) / static_cast<int>(runners.size());
  int chart_rows = rows - 15;
  int chart_top = 8;
  double span = std::max(elapsed, 0.2 * (panel - 1)); // the chart grows until it fills the panel
  double top = 100;
  if (memory) {
    for (auto& r : runners)
      for (auto& [t, v] : r.rss_history)
        top = std::max(top, v);
    top = scale_top(top);
  }
  auto scale_label = [&](double v) { return memory ? scale_text(v) : fixed(v, "%.0f%%"); };
  c.text(0, chart_top, scale_label(top));
  c.text(0, chart_top + chart_rows / 2, scale_label(top / 2));
  c.text(0, chart_top + chart_rows - 1, memory ? "0 MB" : "0%");
  c.text(0, chart_top + chart_rows, memory ? "memory" : "CPU");

  for (std::size_t i = 0; i < runners.size(); ++i) {
    auto& r = runners[i];
    int colour = static_cast<int>(r.info - stages.data());
    int x = gutter + static_cast<int>(i) * panel;
    int w = panel - 1;
    c.text(x, 3, (std::string(r.info->number) + " " + r.info->label).substr(0, w), colour, true);
    // The number that matters, large, with its unit.
    std::string number, unit;
    if (memory) {
      std::tie(number, unit) = memory_text(static_cast<double>(r.rss_kb));
    } else {
      number = fixed(r.cpu_percent, "%.0f%%");
      unit = "CPU";
    }
    big_text(c, x, 4, number, colour);
    c.text(x + big_width(number), 6, unit, colour, true);
    // The history, on one scale for all three.
    auto& history = memory ? r.rss_history : r.cpu_history;
    for (int row = 0; row < chart_rows; ++row)
      c.put(x - 1, chart_top + row, "│");
    chart(c, x, chart_top, w, chart_rows, history, span, top, colour);
    int below = chart_top + chart_rows;
    c.text(x, below, std::string(static_cast<std::size_t>(w), '-'));
    c.text(x, below, "0 s");
    auto end = fixed(span, "%.0f s");
    c.text(x + w - static_cast<int>(end.size()), below, end);
    // The figures.
    std::string other = memory ? fixed(r.cpu_percent, "%.0f%%")
                               : memory_text(static_cast<double>(r.rss_kb)).first + " " +
                                     memory_text(static_cast<double>(r.rss_kb)).second;
    c.text(x, below + 1, right(memory ? "CPU" : "memory", other, w));
    c.text(x, below + 2, right("requests/s", group(static_cast<std::uint64_t>(r.rate)), w));
    c.text(x, below + 3, right("done", group(r.done) + " / " + compact(o.what.requests), w));
    std::string state = r.finished ? (r.stopped       ? "stopped"
                                      : r.status == 0 ? "finished"
                                                      : "ended")
                                   : "running";
    c.text(x, below + 4, right("failed", group(r.failed), w));
    c.text(x, below + 5, right("", state, w), colour);
  }
  c.text(0, rows - 1,
         "server http://127.0.0.1:" + port + ", CPU " + fixed(server_cpu, "%.0f%%") +
             " · Ctrl-C stops");
}

void print_plain(const options& o, const std::vector<runner>& runners, double elapsed) {
  for (auto& r : runners) {
    auto [number, unit] = memory_text(static_cast<double>(r.rss_kb));
    std::printf("%6.1f s  %s %-22s memory %7s %s  CPU %4.0f%%  %8s requests/s  done %s of %s  "
                "failed %s%s\n",
                elapsed, r.info->number.c_str(), r.info->label.c_str(), number.c_str(),
                unit.c_str(), r.cpu_percent, group(static_cast<std::uint64_t>(r.rate)).c_str(),
                group(r.done).c_str(), group(o.what.requests).c_str(), group(r.failed).c_str(),
                r.finished ? (r.stopped ? "  stopped" : "  finished") : "");
  }
  std::fflush(stdout);
}

} // namespace live
