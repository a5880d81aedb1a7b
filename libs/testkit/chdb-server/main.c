/*
 * chdb-server: runs chDB's command-line entry point (clickhouse-local) from libchdb.so as a long-lived process, so
 * that its HTTP and native TCP listeners serve a real ClickHouse server for tests (libs/testkit clickhouse-server.ts).
 *
 * usage: chdb-server LIBCHDB_SO [clickhouse-local arguments...]
 *   e.g. chdb-server .../libchdb.so --path=DIR --http_port=P --tcp_port=Q --listen_host=127.0.0.1 \
 *        --query="SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT sleepEachRow(1) FROM system.numbers ..."
 *
 * `query_stable_v2(argc, argv)` is chDB's undocumented command-line entry point (the argv of clickhouse-local); the
 * listeners live while the query runs. Exit status: 2 = the library or its symbol could not be loaded, 1 = the
 * query failed (ClickHouse's message on stderr), 0 = the query ended.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

/* chdb.h's struct local_result_v2 (chDB 3.x). */
struct local_result_v2 {
  char *buf;
  size_t len;
  void *_vec;
  double elapsed;
  unsigned long long rows_read;
  unsigned long long bytes_read;
  char *error_message;
};

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s LIBCHDB_SO [clickhouse-local arguments...]\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "chdb-server: dlopen %s: %s\n", argv[1], dlerror());
    return 2;
  }
  struct local_result_v2 *(*query)(int, char **) = (struct local_result_v2 * (*)(int, char **)) dlsym(lib, "query_stable_v2");
  if (!query) {
    fprintf(stderr, "chdb-server: no query_stable_v2 in %s: %s\n", argv[1], dlerror());
    return 2;
  }
  argv[1] = "clickhouse";
  struct local_result_v2 *r = query(argc - 1, argv + 1);
  if (!r) {
    fprintf(stderr, "chdb-server: query_stable_v2 returned no result\n");
    return 1;
  }
  if (r->error_message) {
    fprintf(stderr, "%s\n", r->error_message);
    return 1;
  }
  if (r->buf && r->len) fwrite(r->buf, 1, r->len, stdout);
  return 0;
}
