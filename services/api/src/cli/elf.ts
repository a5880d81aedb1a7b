/**
 * Minimal ELF64 little-endian symbol lookup, enough to tell whether a binary or library embeds a TLS stack the
 * probe can attach to by symbol (the System V gABI, "Sections" and "Symbol Table"). Reads only the section headers,
 * the symbol tables and their string tables, never the whole file (node and bun binaries are ~100 MB).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Functions the probe attaches to, by TLS family (as in `services/probe-producer/src/main.c`). */
export const TLS_SYMBOLS: Readonly<Record<string, readonly string[]>> = {
  OpenSSL: ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex'],
  GnuTLS: ['gnutls_record_recv', 'gnutls_record_send'],
  NSS: ['PR_Read', 'PR_Write', 'PR_Recv', 'PR_Send'],
};

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHN_UNDEF = 0;
const STT_FUNC = 2;
/** String tables larger than this are not read (no real symbol table is near it). */
const MAX_TABLE_BYTES = 256 << 20;

function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, b, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? b : b.subarray(0, got);
}

/**
 * Which of `names` `path` defines as functions (in `.dynsym` or `.symtab`, section index ≠ SHN_UNDEF). Returns an
 * empty set for a file that is not a 64-bit little-endian ELF, or cannot be read (never throws).
 */
export function definedFunctions(path: string, names: readonly string[]): Set<string> {
  const found = new Set<string>();
  const wanted = new Set(names);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return found;
  }
  try {
    const size = fstatSync(fd).size;
    const eh = readAt(fd, 0, 64);
    if (eh.length < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return found;
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    if (!shoff || shentsize < 64 || shoff + shnum * shentsize > size) return found;
    const sh = readAt(fd, shoff, shnum * shentsize);
    const section = (i: number) => ({
      type: sh.readUInt32LE(i * shentsize + 4),
      offset: Number(sh.readBigUInt64LE(i * shentsize + 0x18)),
      size: Number(sh.readBigUInt64LE(i * shentsize + 0x20)),
      link: sh.readUInt32LE(i * shentsize + 0x28),
      entsize: Number(sh.readBigUInt64LE(i * shentsize + 0x38)),
    });
    for (let i = 0; i < shnum && found.size < wanted.size; i++) {
      const s = section(i);
      if ((s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) || s.entsize < 24 || s.link >= shnum) continue;
      const str = section(s.link);
      if (s.size > MAX_TABLE_BYTES || str.size > MAX_TABLE_BYTES || s.offset + s.size > size || str.offset + str.size > size) continue;
      const syms = readAt(fd, s.offset, s.size);
      const strs = readAt(fd, str.offset, str.size);
      for (let o = 0; o + 24 <= syms.length; o += s.entsize) {
        const nameOff = syms.readUInt32LE(o);
        if ((syms[o + 4] & 0xf) !== STT_FUNC || syms.readUInt16LE(o + 6) === SHN_UNDEF || nameOff >= strs.length) continue;
        const end = strs.indexOf(0, nameOff);
        const name = strs.toString('latin1', nameOff, end < 0 ? strs.length : end);
        if (wanted.has(name)) found.add(name);
      }
    }
    return found;
  } catch {
    return found;
  } finally {
    closeSync(fd);
  }
}

/** The TLS families (keys of {@link TLS_SYMBOLS}) `path` defines at least one probed function of. */
export function tlsFamilies(path: string): string[] {
  const defined = definedFunctions(path, Object.values(TLS_SYMBOLS).flat());
  return Object.entries(TLS_SYMBOLS).filter(([, fns]) => fns.some((f) => defined.has(f))).map(([family]) => family);
}
