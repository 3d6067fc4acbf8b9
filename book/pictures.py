# Generates book/src/pictures/L1.svg .. L8.svg: who holds what, and why nothing wakes the
# leaked task. Run once; the SVGs are committed and can be edited by hand.
import html
W, H = 680, 250
STYLE = {
  'task':  ('#fff4e5', '#d9822b', ''),       # the leaked task
  'alive': ('#eef5ff', '#4a78b5', ''),       # something that lives on
  'gone':  ('#f4f4f4', '#9a9a9a', '6,4'),    # dropped / returned
  'prim':  ('#f1fbf1', '#4e9a4e', ''),       # a channel / primitive
}
def box(x, y, w, h, lines, kind):
    fill, stroke, dash = STYLE[kind]
    d = f' stroke-dasharray="{dash}"' if dash else ''
    out = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="2"{d}/>']
    n = len(lines)
    for i, line in enumerate(lines):
        weight = 'bold' if i == 0 else 'normal'
        size = 14 if i == 0 else 12
        ty = y + h / 2 + (i - (n - 1) / 2) * 17 + 5
        color = '#777' if kind == 'gone' else '#222'
        out.append(f'<text x="{x + w / 2}" y="{ty:.0f}" text-anchor="middle" font-size="{size}" font-weight="{weight}" fill="{color}">{html.escape(line)}</text>')
    return out
def arrow(x1, y1, x2, y2, label, kind, lx=None, ly=None):
    color, dash, marker = {'holds': ('#4a78b5', '', 'hold'), 'waits': ('#c0392b', '7,5', 'wait')}[kind]
    d = f' stroke-dasharray="{dash}"' if dash else ''
    out = [f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="2"{d} marker-end="url(#{marker})"/>']
    if label:
        lx = lx if lx is not None else (x1 + x2) / 2
        ly = ly if ly is not None else (y1 + y2) / 2 - 7
        out.append(f'<text x="{lx}" y="{ly}" text-anchor="middle" font-size="12" fill="{color}" font-style="italic">{html.escape(label)}</text>')
    return out
def svg(name, title, parts, fix):
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" role="img" aria-label="{html.escape(title)}">',
            '<defs>',
            '<marker id="hold" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#4a78b5"/></marker>',
            '<marker id="wait" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c0392b"/></marker>',
            '</defs>',
            f'<rect width="{W}" height="{H}" fill="white"/>',
            f'<text x="16" y="26" font-size="15" font-weight="bold" fill="#222">{html.escape(title)}</text>']
    legend = ['<text x="16" y="238" font-size="11" fill="#555">orange: the leaked task · blue, solid: holds · red, dashed: waits on · grey, dashed: gone</text>']
    fixline = [f'<text x="16" y="216" font-size="12" fill="#2d6a2d">fix: {html.escape(fix)}</text>']
    body = head + [p for part in parts for p in part] + fixline + legend + ['</svg>']
    open(f'/work/main/book/src/pictures/{name}.svg', 'w').write('\n'.join(body) + '\n')

svg('L1', 'L1 /sum: a send nobody receives', [
  box(20, 60, 170, 60, ['handler', 'read c1, returned'], 'gone'),
  box(260, 60, 170, 60, ['sum task (2nd half)', 'send(c2, sum)'], 'task'),
  box(500, 60, 160, 60, ['GoChan c2', 'one slot, no "closed"'], 'prim'),
  arrow(430, 80, 500, 80, 'holds', 'holds'),
  arrow(430, 105, 500, 105, 'waits until taken', 'waits', 465, 128),
  arrow(105, 120, 560, 150, '', 'holds'),
  [ '<text x="330" y="160" text-anchor="middle" font-size="12" fill="#777">the handler would have taken it: it is gone, and c2 cannot tell</text>' ],
], "tokio channels: the handler owns the receivers and reads both; a dropped receiver fails the send")

svg('L2', 'L2 /select: a select! loop with no exit', [
  box(20, 60, 150, 60, ['request', 'dropped its jobs sender'], 'gone'),
  box(250, 60, 180, 60, ['worker task', 'loop { select! {..} }'], 'task'),
  box(500, 45, 160, 40, ['jobs: closed', '(branch disabled)'], 'prim'),
  box(500, 100, 160, 40, ['config watch'], 'prim'),
  box(500, 155, 160, 38, ['server state', 'holds the watch sender'], 'alive'),
  arrow(430, 72, 500, 65, '', 'waits'),
  arrow(430, 108, 500, 118, 'waits for a change', 'waits', 455, 134),
  arrow(580, 155, 580, 140, '', 'holds'),
], "match None and break, and watch the request's CancellationToken")

svg('L3', 'L3 /range: a receive loop whose sender lives on', [
  box(20, 60, 150, 60, ['request', 'sent its numbers'], 'gone'),
  box(250, 60, 180, 60, ['consumer task', 'while let Some(x) = recv()'], 'task'),
  box(500, 60, 160, 60, ['channel', 'never closed'], 'prim'),
  box(500, 140, 160, 45, ['server state', 'a Sender clone (debug tap)'], 'alive'),
  arrow(430, 90, 500, 90, 'waits for None', 'waits', 465, 80),
  arrow(580, 140, 580, 120, 'holds', 'holds', 610, 134),
], "keep a WeakSender (Sender::downgrade): it does not keep the channel open")

svg('L4', 'L4 /heartbeat: a sleep loop whose handle was dropped', [
  box(20, 60, 160, 60, ['handler', 'dropped the JoinHandle'], 'gone'),
  box(250, 60, 190, 60, ['heartbeat task', 'loop { sleep; beat }'], 'task'),
  box(510, 60, 150, 60, ['timer', 'wakes it, every time'], 'prim'),
  arrow(440, 90, 510, 90, 'sleeps on', 'waits', 475, 80),
  [ '<text x="340" y="160" text-anchor="middle" font-size="12" fill="#777">dropping a JoinHandle detaches the task: nothing can stop it now</text>' ],
], "an AbortOnDropHandle owned by the handler: aborted when the handler ends")

svg('L5', 'L5 /upstream: an upstream call with no timeout', [
  box(20, 60, 170, 60, ['handler', 'timed out its wait, 504'], 'gone'),
  box(260, 60, 170, 60, ['call task', 'upstream.call().await'], 'task'),
  box(500, 60, 160, 60, ['upstream', 'accepted, went silent'], 'alive'),
  arrow(430, 90, 500, 90, 'waits for ever', 'waits', 465, 80),
  [ '<text x="330" y="160" text-anchor="middle" font-size="12" fill="#777">the timeout bounded the wait for the task, not the call inside it</text>' ],
], "timeout(d, call) in the handler, no task: when it fires the call is dropped")

svg('L6', 'L6 /abandon: work that outlives a client who gave up', [
  box(20, 60, 170, 60, ['client', 'gave up, disconnected'], 'gone'),
  box(20, 140, 170, 45, ['handler future', 'dropped by hyper'], 'gone'),
  box(260, 60, 170, 60, ['work task', 'runs to the end'], 'task'),
  box(500, 60, 160, 60, ['result channel', 'receiver dropped'], 'prim'),
  arrow(430, 90, 500, 90, 'will send, to nobody', 'holds', 465, 80),
  [ '<text x="330" y="160" text-anchor="middle" font-size="12" fill="#777">nobody told the task that nobody waits any more</text>' ],
], "a CancellationToken per request, cancelled when the handler is dropped")

svg('L7', 'L7: connections that never finish a request', [
  box(20, 60, 170, 60, ['slow client', 'sent half a head, waits'], 'alive'),
  box(260, 60, 180, 60, ['connection task', 'reading the head'], 'task'),
  box(510, 60, 150, 60, ['socket', 'open, silent'], 'prim'),
  arrow(190, 90, 260, 90, 'holds open', 'holds', 225, 80),
  arrow(440, 90, 510, 90, 'reads, no deadline', 'waits', 475, 80),
  [ '<text x="340" y="160" text-anchor="middle" font-size="12" fill="#777">a task and a file descriptor per client, for as long as the client likes</text>' ],
], "a header deadline and an idle deadline per connection (Go's ReadHeaderTimeout, IdleTimeout)")

svg('L8', 'L8 /save: work dropped at shutdown', [
  box(20, 60, 170, 60, ['request', 'answered "accepted"'], 'gone'),
  box(260, 60, 170, 60, ['write task', 'detached, writes in 1 s'], 'task'),
  box(500, 60, 160, 60, ['shutdown', 'waits for requests only'], 'alive'),
  arrow(500, 100, 430, 100, 'drops it with the runtime', 'waits', 465, 125),
  [ '<text x="330" y="160" text-anchor="middle" font-size="12" fill="#777">nobody owns the task, so nobody waits for it: the accepted save is lost</text>' ],
], "spawn on a TaskTracker; shutdown waits for it, within a deadline, then cancels")
print("ok")
