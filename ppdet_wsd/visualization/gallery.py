"""A static HTML page of review pictures that a person can open in any browser."""
import html
import os

from ppdet_wsd_runtime.atomic import write_text_atomic


STYLE = """
body{font-family:sans-serif;margin:16px;background:#f4f4f4;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:24px}
.grid{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #ccc;padding:6px;width:300px;font-size:12px}
.card img{width:100%;max-height:420px;object-fit:contain;image-rendering:pixelated}
.meta{color:#555;word-break:break-all}
"""


def write_gallery(path, title, intro, cards):
    """Write ``path`` (HTML) showing ``cards`` grouped by their ``group``.

    Args:
        path (str): the HTML file; image paths in cards are relative to its folder.
        title (str): page title.
        intro (list[str]): lines shown under the title (plain text, escaped).
        cards (list[dict]): ``{'group', 'image', 'title', 'lines': [str]}``.
    """
    groups = {}
    for card in cards:
        groups.setdefault(card['group'], []).append(card)
    parts = [f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}'
             f'</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>']
    parts += [f'<p>{html.escape(line)}</p>' for line in intro]
    for group in sorted(groups):
        parts.append(f'<h2>{html.escape(group)} ({len(groups[group])})</h2><div class="grid">')
        for card in groups[group]:
            lines = ''.join(f'<div class="meta">{html.escape(t)}</div>' for t in card['lines'])
            parts.append(f'<div class="card"><img src="{html.escape(card["image"])}" loading="lazy">'
                         f'<div><b>{html.escape(card["title"])}</b></div>{lines}</div>')
        parts.append('</div>')
    parts.append('</body></html>')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_text_atomic(path, '\n'.join(parts))
