/**
 * The terminal of `agentsight top`, on terminal-kit: the alternate screen, one off-screen {@link ScreenBuffer} drawn with
 * `delta: true` (only the cells that changed since the last draw are sent: no clear, no flicker, little traffic over
 * SSH), the cursor hidden, keys read raw. What is drawn comes from {@link renderTop}; this file only maps keys to the
 * view and lines to cells.
 *
 * Keys: `P` / `M` / `T` / `N` sort by CPU %, memory, tokens, network bytes/s (either case); `/` or `\` types a filter (Enter applies it, Esc
 * clears it); `a` shows/hides exited agents; space refreshes now; `q`, Esc or Ctrl-C quits.
 */
import termkit = require('terminal-kit');
import { HEADER_LINE, renderTop, sortOfKey, type TopSnapshot, type TopSort, type TopView } from './snapshot';
import type { Snapshotter } from './command';

/** Runs the live view until the user quits; the terminal is restored on every way out. */
export async function runScreen(src: Snapshotter, init: { sort: TopSort; filter: string; all: boolean; delayMs: number; since: string }): Promise<void> {
  const term = termkit.terminal;
  const view: TopView = { sort: init.sort, filter: init.filter, editing: false, all: init.all, width: term.width, height: term.height, status: '' };
  let snap: TopSnapshot = { ts: new Date().toISOString(), host: '', since: init.since, agents: [], exited_hidden: 0 };
  const buf = new termkit.ScreenBuffer({ dst: term, width: view.width, height: view.height });
  let full = true;
  const draw = () => {
    buf.fill({ attr: {}, char: ' ' });
    renderTop(snap, view).forEach((line, y) => buf.put({ x: 0, y, attr: y === HEADER_LINE ? { inverse: true } : y === 2 ? { bold: true } : {}, wrap: false, dx: 1, dy: 0 }, line.padEnd(view.width)));
    buf.draw({ delta: !full });
    full = false;
  };
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((res) => (done = res));
  const refresh = async () => {
    clearTimeout(timer);
    if (busy) return;
    busy = true;
    try {
      snap = await src.next(view.all);
      view.status = '';
    } catch (err) {
      view.status = `refresh failed: ${(err as Error).message}`.slice(0, view.width);
    } finally {
      busy = false;
    }
    draw();
    timer = setTimeout(() => void refresh(), init.delayMs);
  };
  const onKey = (name: string, _m: unknown, data: { isCharacter?: boolean }) => {
    if (view.editing) {
      if (name === 'ENTER') view.editing = false;
      else if (name === 'ESCAPE') (view.editing = false), (view.filter = '');
      else if (name === 'BACKSPACE') view.filter = view.filter.slice(0, -1);
      else if (name === 'CTRL_C') return void done();
      else if (data?.isCharacter) view.filter += name;
      return void draw();
    }
    if (name === 'q' || name === 'Q' || name === 'CTRL_C' || name === 'ESCAPE') return void done();
    const sort = sortOfKey(name);
    if (sort) view.sort = sort;
    else if (name === '/' || name === '\\') (view.editing = true), (view.filter = '');
    else if (name === 'a') {
      view.all = !view.all;
      return void refresh();
    } else if (name === ' ') return void refresh();
    draw();
  };
  const onResize = (w: number, h: number) => {
    Object.assign(view, { width: w, height: h });
    buf.resize({ x: 0, y: 0, width: w, height: h });
    term.clear();
    full = true;
    draw();
  };
  const restore = () => {
    term.grabInput(false);
    term.hideCursor(false);
    term.styleReset();
    term.fullscreen(false);
  };
  process.once('SIGTERM', done).once('SIGHUP', done);
  term.fullscreen(true);
  term.hideCursor(true);
  term.grabInput({});
  term.on('key', onKey);
  term.on('resize', onResize);
  try {
    draw();
    void refresh();
    await finished;
  } finally {
    clearTimeout(timer);
    term.off('key', onKey);
    term.off('resize', onResize);
    process.off('SIGTERM', done).off('SIGHUP', done);
    restore();
  }
}
