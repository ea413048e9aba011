/** A line chart in SVG (loss, learning rate): points in data space scaled into a fixed viewBox. */
export function LineChart({ title, points, format = (v) => v.toPrecision(4), color = 'var(--accent)' }: { title: string; points: [number, number][]; format?: (v: number) => string; color?: string }) {
  const W = 320, H = 140, P = 28;
  const last = points[points.length - 1];
  if (points.length === 0) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted small">Waiting for the first step…</p>
      </figure>
    );
  }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-12) { y0 -= Math.abs(y0) * 0.1 + 1e-9; y1 += Math.abs(y1) * 0.1 + 1e-9; }
  const sx = (x: number) => P + ((x - x0) / (x1 - x0)) * (W - 2 * P);
  const sy = (y: number) => H - P + 8 - ((y - y0) / (y1 - y0)) * (H - 2 * P);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
  return (
    <figure className="chart">
      <figcaption>
        {title}: <strong data-testid={`chart-${title.toLowerCase().replace(/\W+/g, '-')}`}>{format(last[1])}</strong> <span className="muted small">at step {last[0]} ({points.length} points)</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title} over ${points.length} steps, from ${format(points[0][1])} to ${format(last[1])}`}>
        <line x1={P} y1={H - P + 8} x2={W - P} y2={H - P + 8} className="axis" />
        <line x1={P} y1={P - 8} x2={P} y2={H - P + 8} className="axis" />
        <text x={2} y={P - 6} className="tick">{format(y1)}</text>
        <text x={2} y={H - P + 6} className="tick">{format(y0)}</text>
        <text x={W - P} y={H - 4} className="tick" textAnchor="end">step {x1}</text>
        <path d={d} fill="none" stroke={color} strokeWidth={2} />
        {points.length === 1 && <circle cx={sx(last[0])} cy={sy(last[1])} r={3} fill={color} />}
      </svg>
    </figure>
  );
}
