import { NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { useLive } from './live';
import { OverviewPage } from './pages/Overview';
import { CallsPage } from './pages/Calls';
import { CallDetailPage } from './pages/CallDetail';
import { SessionsPage } from './pages/Sessions';
import { SessionDetailPage } from './pages/SessionDetail';
import { ProcessesPage } from './pages/Processes';
import { CapturePage } from './pages/Capture';

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
      </main>
    </div>
  );
}
