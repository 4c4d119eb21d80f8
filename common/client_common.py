# What the Python clients share and no step of the article is about, as common/ is for the C++
# ones: the command line (args.cpp), the end-of-run line and its Ctrl-C twin (summary.cpp), and
# how one failed request is described. Each line a client prints here is the one its C++ twin
# prints, so that `timed`, the tour and the tests read both alike.
import asyncio
import os
import resource
import signal
import sys
import threading
import time

MAX_REQUESTS = 1_000_000_000_000  # a trillion: beyond any run here
MAX_LIMIT = 1_000_000  # concurrent connections
SPARE_FDS = 32  # open files besides the connections


class Arguments:
    """Walks argv as common::arguments does: `--name value` and `--name=value`."""

    def __init__(self, argv, usage, example, help_text=""):
        self.words = list(argv[1:])
        self.program = os.path.basename(argv[0]) if argv else "program"
        self.usage, self.example, self.help_text = usage, example, help_text
        self.pending = None

    def done(self):
        return not self.words

    def next(self):
        if self.pending is not None:
            self.fail(f"option takes no value: {self.last}")
        arg = self.last = self.words.pop(0)
        if arg in ("--help", "-h"):
            print(f"Usage: {self.program} {self.usage}\n{self.help_text}"
                  f"{chr(10) if self.help_text else ''}Example: {self.program} {self.example}")
            sys.exit(0)
        if arg.startswith("--") and "=" in arg:
            arg, self.pending = arg.split("=", 1)
        return arg

    def value(self):
        if self.pending is not None:
            value, self.pending = self.pending, None
            return value
        if self.done():
            self.fail(f"missing value after {self.last}")
        return self.words.pop(0)

    def fail(self, message):
        sys.stderr.write(f"{self.program}: {message}\nUsage: {self.program} {self.usage}\n"
                         f"Example: {self.program} {self.example}\n")
        sys.exit(2)

    def number(self, text, what, low, high):
        if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
            self.fail(f"{what} must be a whole number from {low} to {high}, not '{text}'")
        return int(text)

    def seconds(self, text, what, high):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0 < value <= high or text.strip() != text:
            self.fail(f"{what} must be a number of seconds above 0 and at most {high}, not '{text}'")
        return value


class ClientArgs:
    requests = 0  # N, the number of requests to make
    limit = 1  # requests in flight at once
    url = "http://localhost:8080/{}"  # the article's URL template
    timeout = 30.0  # seconds, for connecting, and for each request
    memory_limit = 0  # bytes of address space; 0 means no cap


def check_url(url):
    """The reason `url` is no URL template the clients take, or None (as common::url_template)."""
    if any(c <= " " or c >= "\x7f" for c in url):
        return "it contains spaces or controls"
    if not url.startswith("http://") or "/" not in url[7:] or url[7:].startswith("/"):
        return "expected http://host[:port]/path"
    authority = url[7:].split("/", 1)[0]
    if "@" in authority:
        return "user names are not supported"
    if not authority.startswith("[") and ":" in authority:
        host, port = authority.rsplit(":", 1)
        if not host:
            return "no host"
        if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
            return "the port must be a number from 1 to 65535"
    if url.count("{}") > 1:
        return "more than one {} placeholder"
    if "{}" in url and url.index("{}") < 7 + len(authority) + 1:
        return "the {} must be in the path"
    return None


def parse_client_args(argv, limit=None, memory_limit=False):
    """`PROGRAM N [--limit L] [--url TEMPLATE] [--timeout SECONDS] [--memory-limit SIZE]`, or a
    usage error (exit 2) with one line saying what is wrong, as parse_client_args() in C++."""
    usage = "N" + (" [--limit L]" if limit else "") + " [--url TEMPLATE] [--timeout SECONDS]"
    usage += " [--memory-limit SIZE]" if memory_limit else ""
    example = (f"10000 --limit {limit}" if limit else "10") + " --url http://localhost:8080/{}"
    out = ClientArgs()
    what = "at most L at a time," if limit else "one after another,"
    help_text = (f"Makes N GET requests, {what} and prints how many succeeded.\n\n"
                 f"  N                    the number of requests, 0 to {MAX_REQUESTS}\n")
    if limit:
        help_text += (f"  --limit L            requests in flight at once, 1 to {MAX_LIMIT} "
                      f"(default {limit})\n")
    help_text += (f"  --url TEMPLATE       where to send them (default {out.url});\n"
                  "                       {} becomes the request's number, 0 to N-1\n"
                  "  --timeout SECONDS    for connecting, and for each request (default 30 s)\n")
    if memory_limit:
        help_text += "  --memory-limit SIZE  caps the address space, e.g. 512M or 2G\n"
    help_text += ("  -h, --help           prints this and exits\n\n"
                  "Exit status: 0 when every request succeeded, 1 when some failed, 2 for bad\n"
                  "arguments, 130 when interrupted (Ctrl-C: the summary line says how far it got).\n")
    args = Arguments(argv, usage, example, help_text)
    out.limit = limit or 1
    has_n = False
    while not args.done():
        arg = args.next()
        if limit and arg == "--limit":
            out.limit = args.number(args.value(), "--limit", 1, MAX_LIMIT)
        elif arg == "--url":
            out.url = args.value()
        elif arg == "--timeout":
            out.timeout = args.seconds(args.value(), "--timeout", 86400)
        elif memory_limit and arg == "--memory-limit":
            text = args.value()
            units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
            scale = units.get(text[-1:].lower(), 1)
            digits = text[:-1] if scale > 1 else text
            if not digits.isascii() or not digits.isdigit() or int(digits) == 0:
                args.fail(f"--memory-limit must be a size such as 512M or 2G, not '{text}'")
            out.memory_limit = int(digits) * scale
        elif len(arg) > 1 and arg[0] == "-" and not arg[1].isdigit():
            args.fail(f"unknown option {arg}")
        elif has_n:
            args.fail(f"unexpected argument '{arg}'")
        else:
            out.requests = args.number(arg, "N (the number of requests)", 0, MAX_REQUESTS)
            has_n = True
    if not has_n:
        args.fail("missing N, the number of requests to make")
    if "{port}" in out.url:
        args.fail(f"the URL '{out.url}' has {{port}}, which only `timed` fills in (with its "
                  "server's port); give the port itself, or run this through timed")
    if (why := check_url(out.url)) is not None:
        args.fail(f"bad URL '{out.url}': {why}")
    # Each request in flight holds a connection, and each connection a file descriptor.
    fds = raise_fd_limit()
    if limit and out.limit + SPARE_FDS > fds:
        args.fail(f"--limit {out.limit} needs {out.limit + SPARE_FDS} open files, but this process "
                  f"may open {fds}; raise the limit with `ulimit -n` or lower --limit")
    if out.memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (out.memory_limit, out.memory_limit))
    return out


def raise_fd_limit():
    """Raises the soft limit of open files to the hard one; returns the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def authority_of(url):
    return url[len("http://"):].split("/", 1)[0]


def describe(error, authority):
    """`step: reason` for a request that raised `error`, in the words of the C++ session."""
    import aiohttp  # not for client-sync, which has requests instead

    if isinstance(error, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "read: timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"connect to {authority}: {reason(error.os_error)}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "read: end of stream"
    if isinstance(error, (aiohttp.ClientError, OSError)):
        return f"read: {reason(error)}"
    raise error  # not a failure of one request: main reports it


def reason(error):
    """An OSError's reason as strerror says it; otherwise the error's own words, without
    parentheses (the summary line has them around the whole)."""
    errno = getattr(error, "errno", None)
    text = os.strerror(errno) if errno else str(error) or type(error).__name__
    return text.replace("(", "").replace(")", "")


def rss_kb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class Summary:
    """Counts the outcomes and prints common::summary's lines: `N requests: ok X, failed Y ...`
    at the end, `interrupted after K of N requests: ...` on SIGINT or SIGTERM (then exit
    128 + the signal), and a progress line a second on a terminal (PROGRESS=1: anywhere)."""

    def __init__(self, requests):
        self.requests, self.ok, self.failed, self.first_failure = requests, 0, 0, ""
        self.stopping = threading.Event()
        self.progress = None
        mode = os.environ.get("PROGRESS")
        self.terminal = sys.stderr.isatty()
        if requests > 0 and mode != "0" and (mode == "1" or self.terminal):
            self.progress = threading.Thread(target=self.show_progress, daemon=True)
            self.progress.start()
        for caught in (signal.SIGINT, signal.SIGTERM):
            signal.signal(caught, self.on_signal)

    def add_ok(self):
        self.ok += 1

    def add_failure(self, failure):
        if self.failed == 0:
            self.first_failure = failure
        self.failed += 1

    async def count(self, response, authority):
        """Awaits one request (fetch()'s coroutine, or a future of one) and counts its outcome."""
        try:
            status = (await response).status
        except Exception as error:  # an expected failure of one request, or raised again
            self.add_failure(describe(error, authority))
            return
        if status == 200:
            self.add_ok()
        else:
            self.add_failure(f"status: HTTP {status}")

    def counts(self):
        text = f"ok {self.ok}, failed {self.failed}"
        if self.ok + self.failed < self.requests:
            text += f", not made {self.requests - self.ok - self.failed}"
        if self.failed:
            text += f" (first failure: {self.first_failure})"
        return text

    def line(self):
        return f"{self.requests} requests: {self.counts()}"

    def on_signal(self, number, frame):
        clear = "\r\033[K" if self.progress and self.terminal else ""
        done = self.ok + self.failed
        os.write(2, f"{clear}interrupted after {done} of {self.requests} requests: "
                    f"{self.counts()}\n".encode())
        os._exit(128 + number)  # at once: the run is in the middle of something

    def show_progress(self):
        interval = int(os.environ.get("PROGRESS_INTERVAL_MS", "0") or 0)
        interval = interval / 1000 if 10 <= interval <= 60000 else 1.0
        start = time.monotonic()
        end = "" if self.terminal else "\n"
        while not self.stopping.wait(interval):
            elapsed = time.monotonic() - start
            done = self.ok + self.failed
            rate = done / elapsed
            left = int((self.requests - done) / rate + 0.5) if rate > 0 else None
            eta = f"{left // 3600}:{left // 60 % 60:02}:{left % 60:02}" if left is not None else "?"
            sys.stderr.write(f"{chr(13) + chr(27) + '[K' if self.terminal else ''}progress: "
                             f"{elapsed:.0f} s, {done} of {self.requests} requests "
                             f"({100 * done / self.requests:.1f}%), {rate:.0f}/s, "
                             f"RSS {rss_kb() / 1024:.1f} MiB, {self.failed} failed, ETA {eta}{end}")
            sys.stderr.flush()
        if self.terminal:
            sys.stderr.write("\r\033[K")

    def print(self):
        """Stops the progress line and the catching of signals, prints line(), and returns the
        exit status: 0 when every request succeeded, else 1."""
        for caught in (signal.SIGINT, signal.SIGTERM):
            signal.signal(caught, signal.SIG_DFL)
        if self.progress:
            self.stopping.set()
            self.progress.join()
        sys.stderr.write(self.line() + "\n")
        return 0 if self.ok == self.requests else 1


def main(run, args):
    """Runs `run(args, summary)` to its end and returns the exit status; an error no request
    explains is printed as `error: ...` (exit 1), running out of memory as in C++ (exit 3)."""
    summary = Summary(args.requests)
    try:
        run(args, summary)
    except MemoryError:
        sys.stderr.write(f"out of memory after {summary.ok + summary.failed} of {args.requests} "
                         "requests\n")
        return 3
    except Exception as error:  # noqa: BLE001 - the program's second error boundary
        sys.stderr.write(f"error: {error}\n")
        return 1
    return summary.print()
