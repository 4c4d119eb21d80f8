// The screen: the terminal's modes, and a canvas of cells written out with ANSI escapes.
#pragma once

#include "tools/live/live.hpp"

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <termios.h>
#include <unistd.h>

namespace live {

struct terminal {
  bool active = false;
  bool colour = false, truecolour = false;
  termios saved{};
  bool saved_ok = false;

  void enter() {
    if (tcgetattr(STDOUT_FILENO, &saved) == 0) {
      saved_ok = true;
      auto quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO); // keys pressed do not scribble on the view
      tcsetattr(STDOUT_FILENO, TCSANOW, &quiet);
    }
    // The alternate screen, cursor hidden; the shell's screen comes back unchanged at the end.
    std::fputs("\033[?1049h\033[?25l\033[2J", stdout);
    std::fflush(stdout);
    active = true;
  }
  void leave() {
    if (!active) return;
    std::fputs("\033[0m\033[?25h\033[?1049l", stdout);
    std::fflush(stdout);
    if (saved_ok) tcsetattr(STDOUT_FILENO, TCSANOW, &saved);
    active = false;
  }
  ~terminal() { leave(); }
};

std::pair<int, int> terminal_size(); // columns, rows

// A cell grid with one colour per cell, written out with ANSI escapes.
class canvas {
public:
  canvas(int columns, int rows)
      : columns_(columns), rows_(rows),
        cells_(static_cast<std::size_t>(columns * rows), std::string(" ")),
        colours_(static_cast<std::size_t>(columns * rows), -1),
        bold_(static_cast<std::size_t>(columns * rows), false) {}

  // Puts UTF-8 text, one code point a cell, from column x of row y.
  void text(int x, int y, std::string_view s, int colour = -1, bool bold = false) {
    for (std::size_t i = 0; i < s.size();) {
      auto len = utf8_length(static_cast<unsigned char>(s[i]));
      put(x++, y, std::string(s.substr(i, len)), colour, bold);
      i += len;
    }
  }
  void put(int x, int y, std::string cell, int colour = -1, bool bold = false) {
    if (x < 0 || y < 0 || x >= columns_ || y >= rows_) return;
    auto at = static_cast<std::size_t>(y * columns_ + x);
    cells_[at] = std::move(cell);
    colours_[at] = colour;
    bold_[at] = bold;
  }

  std::string render(const terminal& t) const {
    std::string out = "\033[H";
    for (int y = 0; y < rows_; ++y) {
      int colour = -1;
      bool bold = false;
      for (int x = 0; x < columns_; ++x) {
        auto at = static_cast<std::size_t>(y * columns_ + x);
        if (colours_[at] != colour || bold_[at] != bold) {
          colour = colours_[at];
          bold = bold_[at];
          out += "\033[0m";
          if (bold) out += "\033[1m";
          if (colour >= 0 && t.colour) {
            if (t.truecolour)
              out += std::string("\033[38;2;") + stages[static_cast<std::size_t>(colour)].rgb + "m";
            else
              out += "\033[38;5;" +
                     std::to_string(stages[static_cast<std::size_t>(colour)].colour) + "m";
          }
        }
        out += cells_[at];
      }
      out += "\033[0m";
      if (y + 1 < rows_) out += "\r\n";
    }
    return out;
  }

private:
  static std::size_t utf8_length(unsigned char c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  }
  int columns_, rows_;
  std::vector<std::string> cells_;
  std::vector<int> colours_; // an index into `stages`, or -1
  std::vector<bool> bold_;
};

// One frame of the full-screen view.
void draw(canvas& c, int columns, int rows, const options& o, const std::vector<runner>& runners,
          double elapsed, const std::string& port, double server_cpu);
// One plain line a stage, when the terminal is too small or not a terminal.
void print_plain(const options& o, const std::vector<runner>& runners, double elapsed);

} // namespace live
