#!/usr/bin/env python3
"""Minimal real TLS client on the system libssl (python3 urllib + ssl), used by @agentsight/testkit runPyClient().

POSTs a body to URL over HTTPS with an SSL context that trusts only --cafile, reads the response in small pieces
(so a streamed response is consumed as a stream) and writes the raw response body bytes to stdout (no decompression).
The status line and headers go to stderr as one JSON line: {"status": N, "headers": {...}}.

usage: py_client.py URL --cafile CA [--data JSON | --data-file PATH] [--header 'Name: value']... [--method POST]
exit code: 0 on HTTP 2xx, 22 on HTTP >= 400 (like curl -f), 1 on other errors.
"""
import argparse
import json
import ssl
import sys
import urllib.error
import urllib.request


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--cafile", required=True)
    p.add_argument("--data")
    p.add_argument("--data-file")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--method", default="POST")
    a = p.parse_args()

    if a.data_file:
        with open(a.data_file, "rb") as f:
            body = f.read()
    else:
        body = (a.data if a.data is not None else "{}").encode("utf-8")
    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    headers = {"Content-Type": "application/json"}
    for h in a.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    req = urllib.request.Request(a.url, data=body, headers=headers, method=a.method)
    # No proxies: the replay server is local.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
    try:
        resp = opener.open(req, timeout=60)
        status = resp.status
    except urllib.error.HTTPError as e:
        resp = e
        status = e.code
    sys.stderr.write(json.dumps({"status": status, "headers": dict(resp.headers.items())}) + "\n")
    sys.stderr.flush()
    out = sys.stdout.buffer
    while True:
        piece = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
        if not piece:
            break
        out.write(piece)
        out.flush()
    return 0 if status < 400 else 22


if __name__ == "__main__":
    sys.exit(main())
