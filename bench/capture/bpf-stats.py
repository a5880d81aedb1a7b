#!/usr/bin/python3
"""Holds BPF run-time statistics on while it runs (bpf(BPF_ENABLE_STATS, BPF_STATS_RUN_TIME): reference-counted and
released when this process exits, unlike the kernel.bpf_stats_enabled sysctl). Prints "on" once enabled, then waits
for stdin to close."""
import ctypes
import sys

libc = ctypes.CDLL(None, use_errno=True)
SYS_bpf = 321  # x86_64
BPF_ENABLE_STATS = 32
attr = (ctypes.c_uint32 * 32)()  # union bpf_attr, zeroed; enable_stats.type = BPF_STATS_RUN_TIME (0)
fd = libc.syscall(SYS_bpf, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
if fd < 0:
    print('error %d' % ctypes.get_errno(), flush=True)
    sys.exit(1)
print('on', flush=True)
sys.stdin.read()
