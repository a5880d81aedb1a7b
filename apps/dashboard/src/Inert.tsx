/**
 * Captured content is hostile: it is only ever rendered as React text (never as HTML), and the characters that would
 * act on the terminal or the reading order — C0/C1 controls such as ESC (ANSI escapes), DEL, and the Unicode bidi
 * controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) — are shown as visible, inert markers.
 */
import { Fragment } from 'react';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The visible marker of a control character: `␛` for ESC, `␀`… for other C0 controls, `⟨U+202E⟩` for the rest. */
export function controlLabel(ch: string): string {
  const c = ch.codePointAt(0)!;
  if (c === 0x1b) return '␛';
  if (c < 0x20) return String.fromCodePoint(0x2400 + c);
  if (c === 0x7f) return '␡';
  return `⟨U+${c.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/** `text` as React text with control characters replaced by visible markers (class `ctl`, code point in the title). */
export function Inert({ text, className }: { text: string | null | undefined; className?: string }) {
  const s = text ?? '';
  const parts: Array<string | { ch: string }> = [];
  let last = 0;
  for (const m of s.matchAll(CONTROL)) {
    if (m.index! > last) parts.push(s.slice(last, m.index));
    parts.push({ ch: m[0] });
    last = m.index! + m[0].length;
  }
  if (last < s.length) parts.push(s.slice(last));
  return (
    <span className={className}>
      {parts.map((p, i) =>
        typeof p === 'string' ? <Fragment key={i}>{p}</Fragment> : (
          <span key={i} className="ctl" title={`control character U+${p.ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`}>{controlLabel(p.ch)}</span>
        ),
      )}
    </span>
  );
}

/** A block of captured text (pre-wrapped): JSON pretty-printed when it parses, else as is; always inert. */
export function InertBlock({ text, json = true }: { text: string | null | undefined; json?: boolean }) {
  let s = text ?? '';
  if (json && s) {
    try {
      s = JSON.stringify(JSON.parse(s), null, 2);
    } catch {
      /* not JSON: as is */
    }
  }
  return <pre className="block"><Inert text={s} /></pre>;
}
