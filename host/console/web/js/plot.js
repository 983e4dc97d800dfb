// A time-series plot on <canvas>: named series of [t_ms, value] points,
// the last windowMs of them, each series on the shared or its own y axis.
// The element's data-points is how many points were added since it was
// made (the browser test watches it grow); data-series the series count.

const COLORS = ['#5fb3ff', '#f0b429', '#3fcf8e', '#ff7ab6', '#c08cff', '#ff8f5f'];

export class Plot {
  // opts: {windowMs, maxPoints, separateAxes, label}
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.windowMs = opts.windowMs || 60000;
    this.maxPoints = opts.maxPoints || 4000;
    this.separateAxes = !!opts.separateAxes;
    this.series = new Map(); // name -> {points: [[t, v]], color}
    this.added = 0;
    this.pending = false;
    this.canvas.dataset.points = '0';
    this.canvas.dataset.series = '0';
    this.minGapMs = opts.minGapMs || 0; // thinning: closer points are skipped
    this.legend = opts.legend || null; // element listing the newest series
    this.legendMax = opts.legendMax || 8;
  }

  color(name) {
    return this.series.get(name)?.color;
  }

  add(name, t, v) {
    if (typeof t !== 'number' || typeof v !== 'number' || !Number.isFinite(t) || !Number.isFinite(v)) return;
    let s = this.series.get(name);
    if (s && this.minGapMs && s.points.length && Math.abs(t - s.points[s.points.length - 1][0]) < this.minGapMs) return;
    if (!s) {
      this.prune(t);
      const index = this.nextIndex = (this.nextIndex ?? -1) + 1;
      s = { points: [], color: COLORS[index % COLORS.length], index };
      this.series.set(name, s);
      this.canvas.dataset.series = String(this.series.size);
    }
    const pts = s.points;
    if (pts.length && t < pts[pts.length - 1][0]) {
      // out of order (a loop restarted media time): keep order by inserting
      let i = pts.length - 1;
      while (i > 0 && pts[i - 1][0] > t) i--;
      pts.splice(i, 0, [t, v]);
    } else {
      pts.push([t, v]);
    }
    if (pts.length > this.maxPoints) pts.splice(0, pts.length - this.maxPoints);
    this.added++;
    this.canvas.dataset.points = String(this.added);
    this.schedule();
  }

  // prune drops the series with nothing in the window before t (tracked
  // faces come and go).
  prune(t) {
    for (const [name, s] of this.series) {
      const last = s.points[s.points.length - 1];
      if (!last || last[0] < t - this.windowMs) {
        this.series.delete(name);
      }
    }
    this.canvas.dataset.series = String(this.series.size);
  }

  clear() {
    this.series.clear();
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  // drawLegend lists the series last updated, newest first (tracked faces
  // come and go, so there may be many).
  drawLegend() {
    const el = this.legend;
    if (!el) return;
    const last = (s) => (s.points.length ? s.points[s.points.length - 1][0] : -Infinity);
    const all = [...this.series].sort((a, b) => last(b[1]) - last(a[1]));
    const key = all.slice(0, this.legendMax).map(([n]) => n).join(',') + '|' + all.length;
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    while (el.firstChild) el.removeChild(el.firstChild);
    for (const [name, s] of all.slice(0, this.legendMax)) {
      const item = document.createElement('span');
      const sw = document.createElement('i');
      sw.className = `c${s.index % COLORS.length}`;
      item.append(sw, name);
      el.appendChild(item);
    }
    if (all.length > this.legendMax) {
      const more = document.createElement('span');
      more.textContent = `+${all.length - this.legendMax} older`;
      el.appendChild(more);
    }
  }

  draw() {
    this.drawLegend();
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(100, c.clientWidth), hgt = Math.max(60, c.clientHeight);
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const pad = { l: 44, r: 8, t: 8, b: 18 };
    let tmax = -Infinity;
    for (const s of this.series.values()) if (s.points.length) tmax = Math.max(tmax, s.points[s.points.length - 1][0]);
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#8796a8';
    if (!Number.isFinite(tmax)) {
      g.fillText('waiting for values…', pad.l + 8, hgt / 2);
      return;
    }
    const tmin = tmax - this.windowMs;
    const ranges = new Map();
    let all = [Infinity, -Infinity];
    for (const [name, s] of this.series) {
      let lo = Infinity, hi = -Infinity;
      for (const [t, v] of s.points) if (t >= tmin) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      if (lo === Infinity) continue;
      if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
      ranges.set(name, [lo, hi]);
      all = [Math.min(all[0], lo), Math.max(all[1], hi)];
    }
    const pw = w - pad.l - pad.r, ph = hgt - pad.t - pad.b;
    const x = (t) => pad.l + ((t - tmin) / this.windowMs) * pw;
    // grid and axis labels
    g.strokeStyle = '#2a3545';
    g.lineWidth = 1;
    g.beginPath();
    for (let i = 0; i <= 4; i++) { const yy = pad.t + (ph * i) / 4; g.moveTo(pad.l, yy); g.lineTo(w - pad.r, yy); }
    g.stroke();
    if (!this.separateAxes && all[0] !== Infinity) {
      g.fillText(fmt(all[1]), 2, pad.t + 9);
      g.fillText(fmt(all[0]), 2, pad.t + ph);
    }
    g.fillText(`${Math.round(this.windowMs / 1000)} s`, pad.l, hgt - 4);
    g.fillText(new Date(tmax).toLocaleTimeString(), w - pad.r - 70, hgt - 4);
    let labels = 0;
    for (const [name, s] of this.series) {
      const r = this.separateAxes ? ranges.get(name) : all;
      if (!r) continue;
      const y = (v) => pad.t + ph - ((v - r[0]) / (r[1] - r[0])) * ph;
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = 1.5;
      g.beginPath();
      let started = false, n = 0;
      for (const [t, v] of s.points) {
        if (t < tmin) continue;
        if (!started) { g.moveTo(x(t), y(v)); started = true; } else g.lineTo(x(t), y(v));
        n++;
      }
      g.stroke();
      if (n === 1) { const p = s.points[s.points.length - 1]; g.fillRect(x(p[0]) - 2, y(p[1]) - 2, 4, 4); }
      if (this.separateAxes) {
        g.fillText(`${name}: ${fmt(r[0])} … ${fmt(r[1])}`, pad.l + 4, pad.t + 10 + labels++ * 12);
      }
    }
  }
}

function fmt(v) {
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
