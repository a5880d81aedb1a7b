# The many-processes workload of the network-bytes tests (test/e2e/net-bytes.e2e, probe file-net.spec): forks N
# children one after another; child i connects to 127.0.0.1:PORT, sends 1 + i bytes, shuts its side, reads the
# server's answer (2(1 + i) + 3 bytes) until it closes, and exits 0 only if it got all of it. The parent makes no inet
# traffic itself, writes {pid: bytes sent} of its children to OUT (JSON), then sleeps HOLD_S seconds.
import json, os, socket, time

n_children, port = int(os.environ["N"]), int(os.environ["PORT"])
sent = {}
for i in range(n_children):
    n = 1 + i
    pid = os.fork()
    if pid == 0:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"x" * n)
        s.shutdown(socket.SHUT_WR)
        got = 0
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += len(d)
        os._exit(0 if got == 2 * n + 3 else 1)
    _, status = os.waitpid(pid, 0)
    assert status == 0, (i, status)
    sent[pid] = n
with open(os.environ["OUT"], "w") as f:
    f.write(json.dumps(sent))
time.sleep(float(os.environ.get("HOLD_S", "0")))
