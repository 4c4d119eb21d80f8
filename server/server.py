#!/usr/bin/python3
# server.py: the article's delay server ("Setup: Server") for today's aiohttp, beside the C++
# server. Every `GET /{name}` answers "Hello, World!" after randint(0, N) seconds. It takes the C++
# server's --host, --port, --max-delay, --delay-unit and --seed, prints the same `listening on`
# line that `timed` waits for, and on SIGINT or SIGTERM how many requests it served.
import asyncio
import pathlib
import random
import signal
import sys

from aiohttp import web

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "common"))
import client_common  # noqa: E402 - the command line, as in common/

backlog = 4096  # connections waiting to be accepted: aiohttp's 128 can overflow at a limit of 1000


class Options:
    host = "127.0.0.1"
    port = 8080
    max_delay = 3  # in delay units
    unit = 1.0  # seconds per delay unit
    seed = None


class Statistics:
    requests = 0  # answered
    in_flight = 0
    peak_in_flight = 0
    total_delay = 0.0  # seconds, for the mean


def parse_options(argv):
    opts = Options()
    args = client_common.Arguments(
        argv, "[--host ADDRESS] [--port PORT] [--max-delay N] [--delay-unit s|ms] [--seed S]",
        "--port 0 --max-delay 3 --delay-unit ms")
    while not args.done():
        arg = args.next()
        if arg == "--host":
            opts.host = args.value()
        elif arg == "--port":
            opts.port = args.number(args.value(), "--port", 0, 65535)
        elif arg == "--max-delay":
            opts.max_delay = args.number(args.value(), "--max-delay", 0, 3600)
        elif arg == "--delay-unit":
            unit = args.value()
            if unit not in ("s", "ms"):
                args.fail("--delay-unit must be s or ms")
            opts.unit = 1.0 if unit == "s" else 0.001
        elif arg == "--seed":
            opts.seed = args.number(args.value(), "--seed", 0, 2**64 - 1)
        else:
            args.fail(f"unknown argument {arg}")
    return opts


def make_handle(opts, stats):
    async def handle(request):
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        delay = random.randint(0, opts.max_delay) * opts.unit
        try:
            await asyncio.sleep(delay)
            stats.requests += 1
            stats.total_delay += delay
            return web.Response(text="Hello, World!")
        finally:
            stats.in_flight -= 1
    return handle


async def serve(opts, stats):
    app = web.Application()
    app.router.add_route("GET", "/{name}", make_handle(opts, stats))
    # The article's loop.create_server(app.make_handler()) is gone: a runner and a site now.
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, opts.host, opts.port, backlog=backlog)
    await site.start()
    port = runner.addresses[0][1]
    print(f"listening on http://{opts.host}:{port}", flush=True)
    stop = asyncio.Event()
    for caught in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(caught, stop.set)
    await stop.wait()  # then asyncio.run() cancels the requests still sleeping


if __name__ == "__main__":
    opts = parse_options(sys.argv)
    client_common.raise_fd_limit()
    random.seed(opts.seed)
    stats = Statistics()
    try:
        asyncio.run(serve(opts, stats))
    except OSError as error:
        sys.stderr.write(f"server.py: {error}\n")
        sys.exit(1)
    line = f"served {stats.requests} requests, peak {stats.peak_in_flight} requests at once"
    if opts.max_delay > 0 and stats.requests > 0:
        line += f", mean delay {stats.total_delay / stats.requests:.3f} s"
    print(line)
