"""The report's style sheet, inlined in the page: the page fetches nothing, not even a font."""

from __future__ import annotations

from typing import Final

# System fonts only; colours readable in print and for the common colour blindnesses
# (succeeded blue-green, failed vermilion, pending amber, unknown grey).
CSS: Final = """\
:root{--s:#1b7f5f;--f:#d1495b;--p:#edae49;--u:#9aa0a6;--ink:#1f2328;--dim:#59636e;--rule:#d8dee4}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1280px;padding:20px 16px 40px;color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
var(--rule);padding-bottom:4px}p{margin:4px 0}.dim{color:var(--dim)}
.warn{color:var(--f);font-weight:600}.note{background:#f6f8fa;border-left:3px solid
var(--rule);padding:8px 12px;color:var(--dim)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.card{border:1px solid var(--rule);
border-radius:6px;padding:8px 14px;min-width:120px}.card b{display:block;font-size:22px;
font-variant-numeric:tabular-nums}.card.s b{color:var(--s)}.card.f b{color:var(--f)}
.card.p b{color:#9a6700}.card.u b{color:var(--dim)}
svg .s,.key.s{fill:var(--s);background:var(--s)}svg .f,.key.f{fill:var(--f);
background:var(--f)}svg .p,.key.p{fill:var(--p);background:var(--p)}svg .u,.key.u{
fill:var(--u);background:var(--u)}svg text{font-size:12px;fill:var(--dim)}
svg .axis{fill:none;stroke:var(--rule)}
.bar{width:100%;height:22px;display:block}.fleet{width:100%;max-width:760px;height:auto}
.spark{width:72px;height:20px;display:block;background:var(--p)}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 12px}
table{border-collapse:collapse;width:100%;margin:6px 0;font-size:13px}
table.fit{width:auto;min-width:50%}th,td{padding:3px 5px;text-align:left;
border-bottom:1px solid #eef1f4;vertical-align:middle}th{font-weight:600;color:var(--dim);
font-size:12px}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.stalled td:first-child{box-shadow:inset 3px 0 var(--f)}.tag{font-size:11px;padding:1px 6px;
border-radius:8px;background:#ffebe9;color:#a40e26;white-space:nowrap}
.wide{overflow-x:auto}table.campaigns{font-size:12px}
.campaigns td:first-child,.campaigns td:nth-last-child(-n+3){white-space:nowrap}
.campaigns .id{display:inline-block;max-width:9ch;overflow:hidden;text-overflow:ellipsis;
vertical-align:bottom}.campaigns td:nth-child(n+4),.campaigns th:nth-child(n+4){
text-align:right;font-variant-numeric:tabular-nums}.campaigns td:nth-last-child(-n+2),
.campaigns th:nth-last-child(-n+2),.campaigns td:nth-last-child(4),.campaigns
th:nth-last-child(4){text-align:left}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.meter{display:inline-block;height:8px;background:var(--f);border-radius:2px;
vertical-align:middle}.cols{display:grid;grid-template-columns:1fr 1fr;gap:24px}
@media (max-width:800px){.cols{grid-template-columns:1fr}}
"""
