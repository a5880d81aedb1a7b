#!/usr/bin/python3
"""Python TLS client of capture.bench.ts (Debian's /usr/bin/python3: ssl module on the system libssl.so.3, which
uses SSL_write_ex / SSL_read_ex). Prints ONE JSON line on stdout.

  py-client.py loop  <echoPort>  <ca.pem> <n>   1-byte send / 1-byte recv round trips on one blocking TLS socket
      -> {"write_ns":[...],"rtt_ns":[...]}  write_ns = wall time of sock.send(b'x') (one SSL_write_ex);
         rtt_ns = send start -> recv(1) returned (one SSL_read_ex, blocking).
  py-client.py mem <key.pem> <cert.pem> <n>     in ONE process, a client and a server SSLObject over memory BIOs (no
      sockets, no syscalls): per round trip client write 1 byte, server read, server write 1 byte, client read
      -> {"write_ns":[...],"read_ns":[...],"rtt_ns":[...]}  write_ns / read_ns = wall time of the client's
         SSLObject.write (one SSL_write_ex) / SSLObject.read (one SSL_read_ex, data already buffered)
  py-client.py small <httpsPort> <ca.pem> <n>   n sequential GET /small over one keep-alive http.client connection
      -> {"n":n,"seconds":s}
  py-client.py idle <key.pem> <cert.pem> 0      one in-memory handshake, prints "ready", waits for a line on stdin
  py-client.py work <key.pem> <cert.pem> <n>    the same, then n untimed in-memory round trips in a thread and n in
      a forked child (no exec): 4 n SSL_write_ex calls in all (services/probe-producer/test/per-process.spec.ts)
"""
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time

mode, n = sys.argv[1], int(sys.argv[4])
clock = time.perf_counter_ns


def mem_pair(key, cert):
    """A client and a server SSLObject over memory BIOs, handshake done: (c, s, cin, cout, sin, sout)."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    cctx = ssl.create_default_context(cafile=cert)
    cin, cout, sin, sout = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = cctx.wrap_bio(cin, cout, server_hostname='localhost')
    s = sctx.wrap_bio(sin, sout, server_side=True)
    done = {c: False, s: False}
    while not all(done.values()):
        for o in (c, s):
            if not done[o]:
                try:
                    o.do_handshake()
                    done[o] = True
                except ssl.SSLWantReadError:
                    pass
            sin.write(cout.read())
            cin.write(sout.read())
    return c, s, cin, cout, sin, sout


def untimed_round_trips(key, cert, count):
    """count round trips of 1 byte each way on a new in-memory pair (2 SSL_write_ex, 2+ SSL_read_ex each)."""
    c, s, cin, cout, sin, sout = mem_pair(key, cert)
    for _ in range(count):
        c.write(b'x')
        sin.write(cout.read())
        s.write(s.read(1))
        cin.write(sout.read())
        if c.read(1) != b'x':
            raise SystemExit('bad client read')


if mode in ('idle', 'work'):
    key, cert = sys.argv[2], sys.argv[3]
    mem_pair(key, cert)
    print('ready', flush=True)
    sys.stdin.readline()
    if mode == 'work':
        t = threading.Thread(target=untimed_round_trips, args=(key, cert, n))
        t.start()
        t.join()
        child = os.fork()
        if child == 0:
            untimed_round_trips(key, cert, n)
            os._exit(0)
        sys.exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
    sys.exit(0)

if mode == 'mem':
    key, cert = sys.argv[2], sys.argv[3]
    c, s, cin, cout, sin, sout = mem_pair(key, cert)
    w = [0] * n
    r = [0] * n
    rt = [0] * n
    for i in range(n):
        t0 = clock()
        c.write(b'x')
        t1 = clock()
        sin.write(cout.read())
        if s.read(1) != b'x':
            raise SystemExit('bad server read')
        s.write(b'x')
        cin.write(sout.read())
        t2 = clock()
        if c.read(1) != b'x':
            raise SystemExit('bad client read')
        t3 = clock()
        w[i] = t1 - t0
        r[i] = t3 - t2
        rt[i] = t3 - t0
    print(json.dumps({'write_ns': w, 'read_ns': r, 'rtt_ns': rt}))
    sys.exit(0)

port, ca = int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)

if mode == 'loop':
    raw = socket.create_connection(('127.0.0.1', port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname='localhost')
    w = [0] * n
    r = [0] * n
    for i in range(n):
        t0 = clock()
        s.send(b'x')
        t1 = clock()
        if s.recv(1) != b'x':
            raise SystemExit('bad echo')
        t2 = clock()
        w[i] = t1 - t0
        r[i] = t2 - t0
    s.close()
    print(json.dumps({'write_ns': w, 'rtt_ns': r}))
elif mode == 'small':
    c = http.client.HTTPSConnection('127.0.0.1', port, context=ctx)
    t0 = time.perf_counter()
    for _ in range(n):
        c.request('GET', '/small', headers={'Host': 'localhost'})
        resp = c.getresponse()
        resp.read()
        if resp.status != 200:
            raise SystemExit('status %d' % resp.status)
    print(json.dumps({'n': n, 'seconds': time.perf_counter() - t0}))
    c.close()
else:
    raise SystemExit('unknown mode ' + mode)
