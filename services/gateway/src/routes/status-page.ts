/**
 * The gateway's status page (`GET /`): one HTML document with its CSS and script inline, no build step and nothing
 * loaded from elsewhere. The script polls `/v1/status` every 2 s, computes rates from counter deltas and draws the
 * last five minutes as inline SVG; every value goes into the DOM as text (textContent), never as markup.
 */
export const STATUS_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Larder status</title>
<style>
  :root { --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --dim: #6b7385; --line: #e3e6ec; --hit: #1f9d55; --s3: #d97706; --bad: #c53030; --accent: #2563eb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
  header { display: flex; align-items: baseline; gap: 12px; padding: 14px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 18px; }
  #namespace { color: var(--dim); }
  #live { margin-left: auto; color: var(--dim); font-size: 12px; }
  #live.down { color: var(--bad); font-weight: 600; }
  main { padding: 16px 20px; display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  .wide { grid-column: span 2; }
  .full { grid-column: 1 / -1; }
  .card h2 { margin: 0 0 6px; font-size: 12px; font-weight: 600; letter-spacing: .04em; text-transform: uppercase; color: var(--dim); }
  .big { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .sub { color: var(--dim); font-size: 12px; font-variant-numeric: tabular-nums; }
  .bar { height: 8px; border-radius: 4px; background: var(--line); overflow: hidden; margin: 6px 0; }
  .bar > div { height: 100%; width: 0; background: var(--accent); }
  svg { width: 100%; height: 110px; display: block; }
  svg .grid { stroke: var(--line); stroke-width: 1; }
  svg .hit { fill: none; stroke: var(--hit); stroke-width: 2; }
  svg .s3 { fill: none; stroke: var(--s3); stroke-width: 2; }
  .legend { font-size: 12px; color: var(--dim); }
  .legend b { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin: 0 4px 0 10px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  td, th { text-align: left; padding: 2px 6px 2px 0; vertical-align: top; font-variant-numeric: tabular-nums; }
  td { overflow-wrap: anywhere; }
  th { color: var(--dim); font-weight: 500; white-space: nowrap; }
  .ok { color: var(--hit); }
  .warn { color: var(--bad); font-weight: 600; }
  #errors td { border-top: 1px solid var(--line); }
  #errors td { white-space: nowrap; }
  #errors td.path, #errors td.msg { white-space: normal; overflow-wrap: anywhere; }
</style>
</head>
<body>
<header><h1>Larder</h1><span id="namespace"></span><span id="live">connecting…</span></header>
<main>
  <section class="card"><h2>Hit ratio</h2><div class="big" id="hit-ratio">–</div><div class="sub" id="hit-detail"></div></section>
  <section class="card"><h2>Served now</h2><div class="big" id="rate-served">–</div><div class="sub" id="rate-detail"></div></section>
  <section class="card"><h2>Cache</h2><div class="big"><span id="used">–</span> <span class="sub">of <span id="capacity">–</span></span></div>
    <div class="bar"><div id="used-bar"></div></div><div class="sub" id="cache-detail"></div></section>
  <section class="card"><h2>S3</h2><div class="big"><span id="s3-gets">–</span> <span class="sub">GETs</span></div><div class="sub" id="s3-detail"></div></section>
  <section class="card"><h2>Saved by the cache</h2><div class="big" id="saved">–</div><div class="sub" id="saved-detail"></div></section>
  <section class="card"><h2>Fetchers</h2><div class="big"><span id="fetchers-online">–</span> <span class="sub">online</span></div><div class="sub" id="fetchers-detail"></div></section>
  <section class="card wide"><h2>Hit ratio, up to the last 5 minutes</h2><svg id="chart-ratio" viewBox="0 0 300 110" preserveAspectRatio="none"></svg>
    <div class="legend"><b style="background:var(--hit)"></b>hits / lookups per 2 s <span id="ratio-now"></span></div></section>
  <section class="card wide"><h2>Throughput, up to the last 5 minutes</h2><svg id="chart-rate" viewBox="0 0 300 110" preserveAspectRatio="none"></svg>
    <div class="legend"><b style="background:var(--hit)"></b>from the cache <b style="background:var(--s3)"></b>from S3 <span id="rate-max"></span></div></section>
  <section class="card"><h2>Services</h2><table id="services"></table></section>
  <section class="card"><h2>Config</h2><table id="config"></table></section>
  <section class="card"><h2>Images and NBD</h2><table id="images"></table></section>
  <section class="card"><h2>S3 endpoint</h2><table id="s3-endpoint"></table></section>
  <section class="card"><h2>Integrity and eviction</h2><table id="integrity"></table></section>
  <section class="card"><h2>Datastores</h2><table id="datastores"></table></section>
  <section class="card"><h2>Garbage collection</h2><table id="gc"></table></section>
  <section class="card full"><h2>Recent errors</h2><table id="errors"></table></section>
</main>
<script>
(function () {
  'use strict';
  var POLL_MS = 2000;
  var KEEP = 150; // 5 minutes of 2 s samples
  var points = []; // { ratio: 0..1 or null, cacheRate, s3Rate } per interval
  var prev = null;

  function $(id) { return document.getElementById(id); }
  function text(id, v) { $(id).textContent = v; }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  // Same as the CLI's formatSize, so that the page and larder status agree.
  function size(b) {
    if (num(b) === null) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], v = b, i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)) + ' ' + units[i];
  }
  function count(n) { return num(n) === null ? '–' : String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function pct(x) { return x === null ? '–' : (100 * x).toFixed(1) + '%'; }
  function money(v, cur) { return num(v) === null ? '–' : '~' + (v >= 0.01 || v === 0 ? v.toFixed(2) : String(Number(v.toPrecision(2)))) + ' ' + (cur || ''); }
  function yesNo(ok, yes, no) { return { text: ok ? yes : no, cls: ok ? 'ok' : 'warn' }; }

  // Rows of [label, value] where value is a string or { text, cls }; built with text nodes only.
  function table(id, rows) {
    var t = $(id);
    while (t.firstChild) t.removeChild(t.firstChild);
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      var th = document.createElement('th');
      th.textContent = r[0];
      var td = document.createElement('td');
      var v = r[1];
      if (v && typeof v === 'object') { td.textContent = v.text; if (v.cls) td.className = v.cls; } else td.textContent = v === null || v === undefined ? '–' : String(v);
      tr.appendChild(th);
      tr.appendChild(td);
      t.appendChild(tr);
    });
  }
  function pairs(obj) {
    return Object.keys(obj || {}).sort().map(function (k) { return k + ' ' + count(obj[k]); }).join(', ') || 'none';
  }

  function line(svg, values, max, cls) {
    var n = values.length;
    if (n < 2) return;
    // The chart spans at least a minute and grows to KEEP samples, so that a fresh page is not one thin edge.
    var span = Math.max(30, n);
    var d = values.map(function (v, i) {
      var x = 300 - (n - 1 - i) * (300 / (span - 1));
      var y = v === null ? null : 105 - (100 * v) / (max || 1);
      return y === null ? null : x.toFixed(1) + ',' + y.toFixed(1);
    }).filter(function (p) { return p !== null; }).join(' ');
    var pl = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    pl.setAttribute('class', cls);
    pl.setAttribute('points', d);
    svg.appendChild(pl);
  }
  function chart(id, series, max) {
    var svg = $(id);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    [5, 55, 105].forEach(function (y) {
      var g = document.createElementNS('http://www.w3.org/2000/svg', 'line');
      g.setAttribute('class', 'grid'); g.setAttribute('x1', '0'); g.setAttribute('x2', '300');
      g.setAttribute('y1', String(y)); g.setAttribute('y2', String(y));
      svg.appendChild(g);
    });
    series.forEach(function (s) { line(svg, s.values, max, s.cls); });
  }

  // A counter's increase per second since the last sample; a restart (the counter went down) counts as none.
  function rate(cur, old, dt) {
    if (num(cur) === null || num(old) === null || dt <= 0) return null;
    return cur >= old ? (cur - old) / dt : 0;
  }

  function render(s) {
    var now = Date.now();
    var lookups = (s.hits || 0) + (s.misses || 0);
    text('namespace', 'namespace ' + s.namespace);
    text('hit-ratio', lookups ? pct(s.hits / lookups) : '–');
    text('hit-detail', count(s.hits) + ' hits / ' + count(s.misses) + ' misses');

    var cacheRate = null, s3Rate = null, ratio = null;
    if (prev) {
      var dt = (now - prev.t) / 1000;
      cacheRate = rate(s.hitBytes, prev.s.hitBytes, dt);
      s3Rate = rate(s.s3Bytes, prev.s.s3Bytes, dt);
      var dh = rate(s.hits, prev.s.hits, 1), dm = rate(s.misses, prev.s.misses, 1);
      ratio = dh !== null && dm !== null && dh + dm > 0 ? dh / (dh + dm) : null;
      points.push({ ratio: ratio, cacheRate: cacheRate, s3Rate: s3Rate });
      if (points.length > KEEP) points.shift();
    }
    prev = { t: now, s: s };
    text('rate-served', cacheRate === null && s3Rate === null ? '–' : size((cacheRate || 0) + (s3Rate || 0)) + '/s');
    text('rate-detail', 'cache ' + (cacheRate === null ? '–' : size(cacheRate) + '/s') + ' · S3 ' + (s3Rate === null ? '–' : size(s3Rate) + '/s'));
    text('ratio-now', ratio === null ? '' : '· now ' + pct(ratio));

    var cap = num(s.effectiveCapacityBytes) !== null && s.effectiveCapacityBytes < s.capacityBytes ? s.effectiveCapacityBytes : s.capacityBytes;
    text('used', size(s.usedBytes));
    text('capacity', size(s.capacityBytes));
    $('used').title = count(s.usedBytes) + ' bytes';
    $('capacity').title = count(s.capacityBytes) + ' bytes';
    $('used-bar').style.width = num(s.usedBytes) !== null && cap ? Math.min(100, (100 * s.usedBytes) / cap).toFixed(1) + '%' : '0';
    text('cache-detail', count(s.chunkCount) + ' chunks' + (cap !== s.capacityBytes ? ' · effective ' + size(cap) + ' (filesystem reserve)' : ''));

    var cost = s.s3Cost;
    text('s3-gets', count(s.s3Gets));
    text('s3-detail', size(s.s3Bytes) + ' downloaded' + (cost ? ' · ' + count(cost.requests) + ' requests, ' + money(cost.cost.total, cost.currency) : ''));
    text('saved', cost ? money(cost.saved.total, cost.currency) : '–');
    text('saved-detail', cost ? count(cost.saved.hits) + ' GETs and ' + size(cost.saved.hitBytes) + ' not fetched' + (cost.saved.putsNotSent ? ', ' + count(cost.saved.putsNotSent) + ' PUTs not sent' : '') : '');

    text('fetchers-online', count(s.fetchersOnline));
    text('fetchers-detail', count(s.fetchesInFlight) + ' fetches in flight · ' + count(s.fetchesQueued) + ' queued');

    var rateMax = Math.max.apply(null, points.map(function (p) { return Math.max(p.cacheRate || 0, p.s3Rate || 0); }).concat([1]));
    chart('chart-ratio', [{ values: points.map(function (p) { return p.ratio; }), cls: 'hit' }], 1);
    chart('chart-rate', [
      { values: points.map(function (p) { return p.cacheRate; }), cls: 'hit' },
      { values: points.map(function (p) { return p.s3Rate; }), cls: 's3' },
    ], rateMax);
    text('rate-max', '· top of chart ' + size(rateMax) + '/s');

    var cfg = s.config;
    table('services', [
      ['Redis', s.redis ? yesNo(s.redis.online, 'online', 'OFFLINE: ' + (s.redis.error || '')) : null],
      ['cache-index', yesNo(s.cacheIndexOnline, 'online', 'OFFLINE')],
      ['config-service', cfg ? yesNo(cfg.configServiceOnline, 'online', 'OFFLINE') : 'not used (config file)'],
      ['fetchers', yesNo(s.fetchersOnline > 0, count(s.fetchersOnline) + ' online', 'none online')],
      ['gc-workers', count(s.gcWorkersOnline) + ' online'],
    ]);
    var restart = cfg && cfg.restartRequired ? cfg.restartRequired : [];
    table('config', cfg ? [
      ['generation', count(cfg.generation)],
      ['digest', cfg.digest ? String(cfg.digest).slice(0, 12) : null],
      ['restart', restart.length ? { text: 'needed for ' + restart.join(', '), cls: 'warn' } : { text: 'not needed', cls: 'ok' }],
      ['last update', cfg.lastUpdate],
      ['last error', cfg.lastError ? { text: String(cfg.lastError), cls: 'warn' } : 'none'],
    ] : [['source', 'config file (no config-service)']]);
    var im = s.images || {}, dc = s.decodedCache || {}, sp = s.decodedSpill;
    table('images', [
      ['NBD clients', s.nbd ? count(s.nbd.clients) : 'no NBD server'],
      ['open chunk files', count(s.openChunkFiles)],
      ['decoded cache', size(dc.usedBytes) + ' of ' + size(dc.budgetBytes) + ' · ' + count(dc.hits) + ' hits / ' + count(dc.misses) + ' misses'],
      // Decoded copies on the volume; corrupt ones (failed their CRC check when scrubbed, decoded again) are a warning.
      ['decoded on volume', sp ? { text: size(sp.usedBytes) + ' of ' + size(sp.budgetBytes) + ' · ' + count(sp.chunks) + ' chunks · ' + count(sp.corrupt) + ' corrupt · ' + count(sp.failedWrites) + ' failed writes' + (sp.scrub ? ' · ' + count(sp.scrub.passes) + ' scrub passes' : ''), cls: sp.corrupt || sp.failedWrites ? 'warn' : '' } : null],
      // null: no image index read yet.
      ['S3 for indexes', im.s3Reachable === null || im.s3Reachable === undefined ? 'not asked yet' : yesNo(im.s3Reachable, 'reachable', 'UNREACHABLE')],
      ['from last good index', (im.servedFromLastGood || []).join(', ') || 'none'],
      ['last S3 error', im.lastS3Error ? { text: String(im.lastS3Error.message || im.lastS3Error), cls: 'warn' } : 'none'],
    ]);
    var ep = s.s3Endpoint;
    table('s3-endpoint', ep ? [
      ['requests', pairs(ep.requests)],
      ['errors', pairs(ep.errors)],
      ['bytes in / out', size(ep.bytesIn) + ' / ' + size(ep.bytesOut)],
      ['chunk PUTs not sent', ep.chunks ? count(ep.chunks.putsKnown) : null],
    ] : [['', 'not running']]);
    table('integrity', [
      ['verify failures', s.verifyFailures ? { text: count(s.verifyFailures), cls: 'warn' } : count(s.verifyFailures)],
      ['quarantined', count(s.quarantined)],
      ['evictions', count(s.evictions) + ' (' + size(s.evictedBytes) + ')'],
    ]);
    table('datastores', (s.datastores || []).map(function (d) { return [d.name, d.layout + ' · s3://' + d.bucket + '/' + (d.prefix || '')]; }));

    // Per datastore: the GC in progress, else the last run (when it ended, result, what it removed or would remove).
    table('gc', s.gc === null ? [['', { text: 'unknown (Redis did not answer)', cls: 'warn' }]] : (s.gc || []).map(function (g) {
      var r = g.running, l = g.last;
      if (r) return [g.store, 'running: ' + r.phase + (r.apply ? '' : ' (dry run)')];
      if (!l) return [g.store, 'never run'];
      var what = (l.apply ? 'removed ' : 'would remove ') + count(l.cache.chunks) + ' cached (' + size(l.cache.bytes) + ')' + (l.s3.skipped ? '' : ', ' + count(l.s3.chunks) + ' in S3 (' + size(l.s3.bytes) + ')');
      var when = String(l.finishedAt || l.startedAt).replace('T', ' ').slice(0, 19);
      return [g.store, l.phase === 'done' ? when + ' · ' + what : { text: when + ' · ' + l.phase + (l.error ? ': ' + l.error : ''), cls: 'warn' }];
    }));

    var errs = s.recentErrors || [];
    var et = $('errors');
    while (et.firstChild) et.removeChild(et.firstChild);
    if (!errs.length) table('errors', [['', 'none since the gateway started']]);
    errs.forEach(function (e) {
      var tr = document.createElement('tr');
      [String(e.time).replace('T', ' ').slice(0, 19), String(e.status), e.method + ' ' + e.path, e.message].forEach(function (v, i) {
        var td = document.createElement('td');
        td.textContent = v;
        td.className = ['', 'warn', 'path', 'msg'][i];
        tr.appendChild(td);
      });
      et.appendChild(tr);
    });
  }

  // With tokens configured, /v1/status needs a read token: asked once, kept for this tab only (sessionStorage).
  var TOKEN_KEY = 'larder-token';
  function authHeaders() {
    var t = sessionStorage.getItem(TOKEN_KEY);
    return t ? { authorization: 'Bearer ' + t } : {};
  }
  function askToken(status) {
    var t = window.prompt(status === 403 ? 'This token may not read the status; another token:' : 'The gateway needs a token (read scope):');
    if (!t) throw new Error('HTTP ' + status + ': needs a token (reload the page to enter one)');
    sessionStorage.setItem(TOKEN_KEY, t.trim());
  }
  function poll() {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, 5000);
    var stop = false;
    fetch('v1/status', { cache: 'no-store', signal: ctl.signal, headers: authHeaders() })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) {
          sessionStorage.removeItem(TOKEN_KEY);
          try { askToken(r.status); } catch (e) { stop = true; throw e; }
          return fetch('v1/status', { cache: 'no-store', signal: ctl.signal, headers: authHeaders() });
        }
        return r;
      })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (s) {
        render(s);
        var live = $('live');
        live.className = '';
        live.textContent = 'live · updated ' + new Date().toLocaleTimeString();
        document.body.setAttribute('data-updates', String(Number(document.body.getAttribute('data-updates') || 0) + 1));
      })
      .catch(function (err) {
        var live = $('live');
        live.className = 'down';
        live.textContent = 'gateway unreachable: ' + (err && err.message ? err.message : String(err));
      })
      .then(function () { clearTimeout(timer); if (!stop) setTimeout(poll, POLL_MS); });
  }
  poll();
})();
</script>
</body>
</html>
`;
