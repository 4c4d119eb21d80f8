// What runs: the stage table, the two scenes, and numbers as people read them.
#include "tools/live/live.hpp"

#include "common/platform.hpp"
#include "tools/live/stage_table.hpp" // generated from tools/stages

#include <algorithm>
#include <cstdio>

namespace live {

// The stages with a colour in tools/stages (02, 03 and 04), then the article's Python programs
// that `--python` puts beside two of them, each in the colour of its twin.
namespace {

std::vector<stage_info> read_stages(std::string_view table) {
  std::vector<stage_info> ours, python;
  auto trim = [](std::string_view s) {
    auto from = s.find_first_not_of(' ');
    return from == s.npos ? std::string()
                          : std::string(s.substr(from, s.find_last_not_of(' ') - from + 1));
  };
  for (std::size_t at = 0; at < table.size();) {
    auto eol = std::min(table.find('\n', at), table.size());
    auto line = table.substr(at, eol - at);
    at = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f; // number folder program label section colour rgb
    for (std::size_t from = 0; from <= line.size();) {
      auto bar = std::min(line.find('|', from), line.size());
      f.push_back(trim(line.substr(from, bar - from)));
      from = bar + 1;
    }
    if (f.size() != 7 || f[5] == "-") continue;
    ours.push_back({f[0], f[2], f[3], f[4], std::stoi(f[5]), f[6]});
    if (f[0] == "02" || f[0] == "03")
      python.push_back({f[0] + " py", f[2] + ".py", "aiohttp",
                        f[4] + ", in Python (" + f[2] + ".py)", std::stoi(f[5]), f[6], f[1]});
  }
  ours.insert(ours.end(), python.begin(), python.end());
  return ours;
}

} // namespace

const std::vector<stage_info> stages = read_stages(stage_table);

std::size_t index_of(std::string_view number) { // in `stages`
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (stages[i].number == number) return i;
  return 0;
}

scene memory_scene() {
  return {"memory", metric::memory, 1'000'000, "0",
          "memory, one scale for all: 02 holds every request it has not made yet"};
}
scene cpu_scene() {
  return {"cpu", metric::cpu, 15'000, "s",
          "CPU: requests wait {delays} on the server; 03 polls while they wait"};
}

std::string group(std::uint64_t n) { // 1234567 -> 1,234,567
  auto digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string compact(std::uint64_t n) { // 1000000 -> 1M, 15000 -> 15k
  char text[32];
  if (n >= 1'000'000 && n % 100'000 == 0)
    std::snprintf(text, sizeof text, "%gM", n / 1e6);
  else if (n >= 10'000 && n % 1'000 == 0)
    std::snprintf(text, sizeof text, "%gk", n / 1e3);
  else
    return group(n);
  return text;
}

// Memory with three significant figures: its number and its unit (MB = 1024 KB, as the clients'
// progress lines count).
std::pair<std::string, std::string> memory_text(double kb) {
  char text[32];
  double mb = kb / 1024;
  if (mb >= 1024)
    std::snprintf(text, sizeof text, "%.2f", mb / 1024);
  else
    std::snprintf(text, sizeof text, mb >= 100 ? "%.0f" : "%.1f", mb);
  return {text, mb >= 1024 ? "GiB" : "MiB"};
}

std::string delay_words(const std::string& delay) {
  return delay == "s" ? "0-3 s" : delay == "ms" ? "0-3 ms" : "none";
}

std::vector<std::string> server_args(const std::string& delay) {
  if (delay == "s") return {"--port", "0", "--max-delay", "3", "--delay-unit", "s"};
  if (delay == "ms") return {"--port", "0", "--max-delay", "3", "--delay-unit", "ms"};
  return {"--port", "0", "--max-delay", "0"};
}

// Stage 02 keeps every request in memory: cap it at half the machine, as the tour does, so that a
// large N ends in a clear `out of memory` instead of a visit from the OOM killer.
std::string memory_cap() {
  auto kb = common::platform::physical_memory_kb();
  return std::to_string(std::max<std::uint64_t>(kb / 2 / 1024, 64)) + "M";
}

std::string fixed(double v, const char* format) {
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

} // namespace live
