#!/usr/bin/python3
# client-async-proposal.py: what stage 04 has in today's Python, beside its C++ twin main.cpp.
# The article's series asked for a `limit` on asyncio.as_completed (bpo-30782); it was turned
# down, and asyncio still has no bounded as_completed (Executor.map's buffersize=, new in 3.14, is
# for threads and processes). The closest thing: `limit` workers in a TaskGroup (Python 3.11),
# each taking the next request from one lazy generator when it has finished its last. No polling
# and flat memory, like stage 04; but there is no stream of results for one reader to consume in
# completion order: each worker counts its own (docs/python.md says what else it lacks).
import asyncio
import pathlib
import sys

import aiohttp

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "common"))
import client_common  # noqa: E402 - the command line and the summary, as in common/

limit = 1000  # requests in flight at once, as in the article


async def fetch(url, session):
    async with session.get(url) as response:
        await response.read()
        return response


async def worker(coros, summary, authority):
    # The generator is shared: `for` takes its next coroutine without awaiting, so no two workers
    # ever get the same one. A worker waits on its request, not on a poll.
    for coro in coros:
        await summary.count(coro, authority)


async def run(args, summary):
    # aiohttp's pool holds 100 connections unless told otherwise, which would cap the limit of
    # 1000; and a session is now opened and closed with `async with`.
    connector = aiohttp.TCPConnector(limit=args.limit)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    authority = client_common.authority_of(args.url)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        coros = (fetch(args.url.format(i), session) for i in range(args.requests))
        async with asyncio.TaskGroup() as workers:
            for _ in range(min(args.limit, args.requests)):
                workers.create_task(worker(coros, summary, authority))


if __name__ == "__main__":
    args = client_common.parse_client_args(sys.argv, limit=limit)
    sys.exit(client_common.main(lambda args, summary: asyncio.run(run(args, summary)), args))
