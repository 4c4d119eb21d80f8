#!/usr/bin/python3
# client-sync.py: the article's synchronous client, the baseline, beside its C++ twin main.cpp.
# One request at a time, each on a new connection (requests.get without a Session), its body
# read before the next starts. The command line, the summary line and the exit codes are
# main.cpp's.
import pathlib
import sys

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "common"))
import client_common  # noqa: E402 - the command line and the summary, as in common/


def failure(error, authority):
    """`step: reason` for a request that raised, as the async clients word it."""
    cause = error
    while cause is not None and getattr(cause, "errno", None) is None:
        cause = cause.__cause__ or cause.__context__ or getattr(cause, "reason", None)
    why = client_common.reason(cause if cause is not None else error)
    if isinstance(error, requests.Timeout):
        return "read: timed out"
    if isinstance(error, requests.ConnectionError) and not isinstance(
            error, requests.exceptions.ChunkedEncodingError):
        return f"connect to {authority}: {why}"
    return f"read: {why}"


def run(args, summary):
    authority = client_common.authority_of(args.url)
    for i in range(args.requests):
        try:
            response = requests.get(args.url.format(i), timeout=args.timeout)
            response.text
        except requests.RequestException as error:
            summary.add_failure(failure(error, authority))
            continue
        if response.status_code == 200:
            summary.add_ok()
        else:
            summary.add_failure(f"status: HTTP {response.status_code}")


if __name__ == "__main__":
    args = client_common.parse_client_args(sys.argv)
    sys.exit(client_common.main(run, args))
