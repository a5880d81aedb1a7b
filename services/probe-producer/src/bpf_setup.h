/* SPDX-License-Identifier: Apache-2.0 */
/* Loading the BPF objects of bpf/ (sslsniff, process) with the options' filters; g.ssl_skel, g.proc_skel. */
#ifndef AGENTSIGHT_BPF_SETUP_H
#define AGENTSIGHT_BPF_SETUP_H

#include <bpf/libbpf.h>
#include <stdarg.h>

/** libbpf's print callback: everything but debug messages on stderr. */
int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap);

/**
 * Opens and loads both objects (shared ring buffer, drop counter and filter maps), attaches the process
 * tracepoints and the exec wakeup, fills the traced and excluded pids. Dies on any failure.
 */
void load_bpf(void);

#endif
