import { lazy, Suspense } from 'react';
import { NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { useLive } from './live';

// One chunk per view (the charts' code loads only with the views that draw charts): a faster first paint.
const OverviewPage = lazy(() => import('./pages/Overview').then((m) => ({ default: m.OverviewPage })));
const CallsPage = lazy(() => import('./pages/Calls').then((m) => ({ default: m.CallsPage })));
const CallDetailPage = lazy(() => import('./pages/CallDetail').then((m) => ({ default: m.CallDetailPage })));
const SessionsPage = lazy(() => import('./pages/Sessions').then((m) => ({ default: m.SessionsPage })));
const SessionDetailPage = lazy(() => import('./pages/SessionDetail').then((m) => ({ default: m.SessionDetailPage })));
const ProcessesPage = lazy(() => import('./pages/Processes').then((m) => ({ default: m.ProcessesPage })));
const CapturePage = lazy(() => import('./pages/Capture').then((m) => ({ default: m.CapturePage })));

function LiveBadge() {
  const live = useLive();
  return (
    <span className={`live ${live.connected ? 'on' : 'off'}`} data-testid="live" title={live.last ? `last stored: ${live.last.table} ${live.last.id}` : 'no row stored since the page opened'}>
      {live.connected ? '● live' : '○ offline'} {live.events ? `(${live.events})` : ''}
    </span>
  );
}

export function App() {
  const { search } = useLocation();
  // Keep the time range when moving between views.
  const keep = new URLSearchParams(search);
  const range = ['range', 'from', 'to'].filter((k) => keep.get(k)).map((k) => `${k}=${encodeURIComponent(keep.get(k)!)}`).join('&');
  const to = (p: string) => (range ? `${p}?${range}` : p);
  return (
    <div className="app">
      <header>
        <span className="brand">agentsight</span>
        <nav>
          <NavLink to={to('/')} end>Overview</NavLink>
          <NavLink to={to('/sessions')}>Sessions</NavLink>
          <NavLink to={to('/calls')}>LLM calls</NavLink>
          <NavLink to={to('/processes')}>Processes</NavLink>
          <NavLink to="/capture">Capture</NavLink>
        </nav>
        <LiveBadge />
      </header>
      <main>
        <Suspense fallback={<p className="muted">loading…</p>}>
        <Routes>
          <Route path="/" element={<OverviewPage />} />
          <Route path="/sessions" element={<SessionsPage />} />
          <Route path="/sessions/:id" element={<SessionDetailPage />} />
          <Route path="/calls" element={<CallsPage />} />
          <Route path="/calls/:id" element={<CallDetailPage />} />
          <Route path="/processes" element={<ProcessesPage />} />
          <Route path="/capture" element={<CapturePage />} />
          <Route path="*" element={<p className="error">No such page.</p>} />
        </Routes>
        </Suspense>
      </main>
    </div>
  );
}
