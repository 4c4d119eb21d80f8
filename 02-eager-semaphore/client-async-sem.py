#!/usr/bin/python3
# client-async-sem.py: the article's "Async client using semaphores" (first written by Paweł
# Miech), for today's aiohttp, beside its C++ twin main.cpp. Every request is created as a
# running task up front, and a semaphore lets `limit` of them fetch at a time: its memory grows
# with N. The command line, the summary line and the exit codes are main.cpp's.
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


async def bound_fetch(sem, url, session, summary, authority):
    # Getter function with semaphore: each task waits here, already created, for its turn.
    async with sem:
        await summary.count(fetch(url, session), authority)


async def run(args, summary):
    # aiohttp's pool holds 100 connections unless told otherwise, which would cap the semaphore's
    # 1000; and a session is now opened and closed with `async with`.
    connector = aiohttp.TCPConnector(limit=args.limit)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    authority = client_common.authority_of(args.url)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        sem = asyncio.Semaphore(args.limit)
        for i in range(args.requests):
            task = asyncio.ensure_future(
                bound_fetch(sem, args.url.format(i), session, summary, authority))
            tasks.append(task)
        await asyncio.gather(*tasks)


if __name__ == "__main__":
    args = client_common.parse_client_args(sys.argv, limit=limit, memory_limit=True)
    sys.exit(client_common.main(lambda args, summary: asyncio.run(run(args, summary)), args))
