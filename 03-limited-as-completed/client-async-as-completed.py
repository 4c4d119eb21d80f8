#!/usr/bin/python3
# client-async-as-completed.py: the article's new client, for today's aiohttp, beside its C++
# twin main.cpp. A generator makes each request only when limited_as_completed() pulls it, so at
# most `limit` exist at once and memory stays flat; first_to_finish() finds a finished one by
# polling, which is why it keeps a core busy. limited_as_completed() is the article's, unchanged.
import asyncio
import pathlib
import sys
from itertools import islice

import aiohttp

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "common"))
import client_common  # noqa: E402 - the command line and the summary, as in common/

limit = 1000  # requests in flight at once, as in the article


def limited_as_completed(coros, limit):
    futures = [
        asyncio.ensure_future(c)
        for c in islice(coros, 0, limit)
    ]
    async def first_to_finish():
        while True:
            await asyncio.sleep(0)
            for f in futures:
                if f.done():
                    futures.remove(f)
                    try:
                        newf = next(coros)
                        futures.append(
                            asyncio.ensure_future(newf))
                    except StopIteration as e:
                        pass
                    return f.result()
    while len(futures) > 0:
        yield first_to_finish()


async def fetch(url, session):
    async with session.get(url) as response:
        await response.read()
        return response


async def print_when_done(tasks, limit, summary, authority):
    for res in limited_as_completed(tasks, limit):
        await summary.count(res, authority)


async def run(args, summary):
    # aiohttp's pool holds 100 connections unless told otherwise, which would cap the limit of
    # 1000; and a session is now opened and closed with `async with`.
    connector = aiohttp.TCPConnector(limit=args.limit)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        coros = (fetch(args.url.format(i), session) for i in range(args.requests))
        await print_when_done(coros, args.limit, summary, client_common.authority_of(args.url))


if __name__ == "__main__":
    args = client_common.parse_client_args(sys.argv, limit=limit)
    sys.exit(client_common.main(lambda args, summary: asyncio.run(run(args, summary)), args))
