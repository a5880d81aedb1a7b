/**
 * The C style check of infra/lint.sh: the repository's .clang-format (clang-format 14, as infra/setup.sh installs)
 * flags C that is not written in it, accepts C that is, and bpf/vmlinux/.clang-format leaves the generated vmlinux.h
 * headers alone.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** Exit status of `clang-format-14 --dry-run -Werror` on `code` as if it were the file `file` (repository-relative). */
function check(file: string, code: string): number | null {
  const r = spawnSync('clang-format-14', ['--dry-run', '-Werror', `--assume-filename=${resolve(ROOT, file)}`], { cwd: ROOT, input: code, encoding: 'utf8' });
  if (r.error) throw r.error;
  return r.status;
}

const FORMATTED = `static __always_inline int emit(struct pt_regs *ctx, __u32 fn)
{
	struct probe_stat *st = probe_stat_of(fn); /* may be NULL */

	if (!st)
		return 0;
	st->records++;
	return 0;
}
`;

describe('.clang-format (infra/lint.sh)', () => {
  test('accepts C written in the style, in bpf/ and in the producer', () => {
    expect(check('bpf/sslsniff.bpf.c', FORMATTED)).toBe(0);
    expect(check('services/probe-producer/src/attach.c', FORMATTED)).toBe(0);
  });

  test('flags a brace on the wrong line, spaces for tabs and a line over 120 columns', () => {
    expect(check('bpf/sslsniff.bpf.c', FORMATTED.replace(')\n{', ') {'))).not.toBe(0);
    expect(check('bpf/sslsniff.bpf.c', FORMATTED.replace('\tif (!st)', '    if (!st)'))).not.toBe(0);
    expect(check('services/probe-producer/src/attach.c',
      FORMATTED.replace('probe_stat_of(fn);', `probe_stat_of(fn + ${'1 + '.repeat(30)}1);`))).not.toBe(0);
  });

  test('leaves the generated bpf/vmlinux/<arch>/vmlinux.h alone', () => {
    expect(check('bpf/vmlinux/x86/vmlinux.h', FORMATTED.replace(')\n{', ') {'))).toBe(0);
  });
});
