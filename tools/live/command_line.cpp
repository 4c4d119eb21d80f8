// live's command line: the scene, its options, and --help.
#include "tools/live/live.hpp"

#include "common/args.hpp"
#include "common/platform.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include <unistd.h>

namespace live {

std::string program_path(const options& o, const stage_info& s) {
  return !s.folder.empty() ? std::string(SOURCE_DIR) + "/" + s.folder + "/" + s.program
                           : o.bin + "/" + s.program;
}

namespace {

// What `--help` prints between the Usage and Example lines, with the defaults of `out`.
std::string help(const options& out) {
  using std::to_string;
  std::string h =
      "Runs stages 02, 03 and 04 side by side against one server, each through timed,\n";
  h += "draws their memory, CPU and requests/s live, then prints timed's lines and a table.\n\n";
  h += "  memory|cpu           the scene: memory (default; " + to_string(memory_scene().requests) +
       " requests, no delays)\n";
  h += "                       or cpu (" + to_string(cpu_scene().requests) +
       " requests, the article's 0-3 s delays)\n";
  h += "  --requests N         requests for each stage, 1 to 100000000 (default: the scene's)\n";
  h += "  --delay s|ms|0       the server's delays: 0-3 s, 0-3 ms or none (default: the scene's)\n";
  h += "  --limit L            each client's requests in flight, 1 to 10000 (default " +
       to_string(out.limit) + ")\n";
  h += "  --for SECONDS        stops the clients after this long (default: they finish)\n";
  h += "  --stages LIST        which of 02, 03 and 04 to run, comma-separated (default: all)\n";
  h += "  --python             the article's Python client beside its twin: the eager one\n";
  h += "                       beside 02 in the memory scene (for 60 s unless --for says\n";
  h += "                       otherwise), the polling one beside 03 in the cpu scene\n";
  h += "  --plain              plain progress lines instead of the drawing (also when the\n";
  h += "                       terminal is smaller than 80x24, or not a terminal)\n";
  h += "  --hold SECONDS       keeps the last frame up this long before the summary (default 0)\n";
  h += "  --brief              ends with the table and one sentence, not each stage's lines\n";
  h += "  --bin DIR            where the programs are (default: this program's directory)\n";
  h += "  -h, --help           prints this and exits\n\n";
  h += "Ctrl-C stops the clients; it then prints what they did so far.\n";
  return h;
}

} // namespace

options parse_args(int argc, char** argv) {
  common::arguments args(argc, argv,
                         "[memory|cpu] [--requests N] [--delay s|ms|0] [--limit L] [--for SECONDS] "
                         "[--stages 02,03,04] [--python] [--plain] [--hold SECONDS] [--brief] "
                         "[--bin DIR]",
                         "memory --requests 300000", help(options{}));
  options out;
  out.bin = common::platform::program_directory(argc > 0 ? argv[0] : nullptr);
  std::optional<std::uint64_t> requests;
  std::optional<std::string> delay;
  while (!args.done()) {
    auto arg = args.next();
    if (arg == "memory") {
      out.what = memory_scene();
    } else if (arg == "cpu") {
      out.what = cpu_scene();
    } else if (arg == "--requests") {
      requests = args.number(args.value(), "--requests", 1, 100'000'000);
    } else if (arg == "--delay") {
      delay = args.value();
      if (*delay != "s" && *delay != "ms" && *delay != "0")
        args.fail("--delay takes s, ms or 0, not '" + *delay + "'");
    } else if (arg == "--limit") {
      out.limit = args.number(args.value(), "--limit", 1, 10'000);
    } else if (arg == "--for") {
      out.run_for = args.seconds(args.value(), "--for", 86'400);
    } else if (arg == "--stages") {
      std::string list(args.value());
      std::string rest = list;
      for (auto& s : stages)
        if (auto at = rest.find(s.number); s.folder.empty() && at != std::string::npos) {
          out.shown.push_back(&s);
          rest.erase(at, 2);
        }
      if (out.shown.empty() || rest.find_first_not_of(",") != std::string::npos)
        args.fail("--stages takes 02, 03 or 04, separated by commas, not '" + list + "'");
    } else if (arg == "--hold") {
      out.hold = args.seconds(args.value(), "--hold", 600);
    } else if (arg == "--python") {
      out.python = true;
    } else if (arg == "--brief") {
      out.brief = true;
    } else if (arg == "--plain") {
      out.plain = true;
    } else if (arg == "--bin") {
      out.bin = args.value();
    } else {
      args.fail(arg.substr(0, 2) == "--"
                    ? "unknown option " + std::string(arg)
                    : "unknown scene '" + std::string(arg) + "' (memory or cpu)");
    }
  }
  if (out.shown.empty())
    for (auto& s : stages)
      if (s.folder.empty()) out.shown.push_back(&s);
  if (requests) out.what.requests = *requests;
  if (delay) out.what.delay = *delay;
  if (out.python) { // beside its twin: the eager client for memory, the polling one for CPU
    bool memory = out.what.headline == metric::memory;
    auto& twin = stages[index_of(memory ? "02" : "03")];
    auto at = std::find(out.shown.begin(), out.shown.end(), &twin);
    out.shown.insert(at == out.shown.end() ? at : at + 1,
                     &stages[index_of(memory ? "02 py" : "03 py")]);
    if (std::system("/usr/bin/python3 -c 'import aiohttp' >/dev/null 2>&1") != 0)
      args.fail("--python needs Debian's python3-aiohttp for /usr/bin/python3 (apt-get install "
                "python3-aiohttp)");
    // A million requests take Python minutes: unless told otherwise, a minute of them.
    if (memory && out.run_for.count() == 0) out.run_for = std::chrono::seconds(60);
  }
  for (auto* s : out.shown)
    if (access(program_path(out, *s).c_str(), X_OK) != 0)
      args.fail("no program " + program_path(out, *s) + " (build it, or give --bin)");
  if (access((out.bin + "/server").c_str(), X_OK) != 0)
    args.fail("no program " + out.bin + "/server (build it, or give --bin)");
  return out;
}

} // namespace live
