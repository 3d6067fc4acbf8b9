//! Leak suspects: the spawn sites whose live tasks keep piling up, named in-process.
//!
//! The `TokioTaskLeak` alert (`leak-probe/prometheus/rules.yml`) watches the *floor* of the
//! live task count (its minimum over a window) and fires when it rose in two windows in a
//! row: transient tasks come and go above the floor, leaked ones raise it. This module does
//! the same per spawn site, inside the process, with no Prometheus and no dump:
//!
//! ```text
//! every 50 ms    count live tasks per spawn site (the registry, no runtime pause)
//! every 250 ms   keep each site's floor (minimum) and peak (maximum) of those counts
//! on a read      a site is a suspect when its floor rose twice, each time by more than
//!                its count typically moves within a window, from one quiet window to
//!                another at least half a second later, and never fell back
//! ```
//!
//! (On a big registry a sample takes milliseconds: the sampler then waits longer between
//! samples, and a window lasts until it holds at least [`MIN_SAMPLES`]. The window being
//! sampled counts with the last closed one, so a settled leak shows at once.)
//!
//! Why "by more than the count typically moves" (the median spread of its windows): a
//! busy site's count swings between a low and a high within every window (requests start
//! and end), and its floor wanders inside that range. A floor that climbs by more than
//! that has tasks under it that did not end. One such rise is a load step (the server got
//! busier, and stays busy); two, with no fall in between, is growth. A burst that ends
//! returns the floor to where it was.
//!
//! It is a heuristic, like the alert: "suspect" means tasks from this site did not end
//! while more arrived. A pool that grows in steps (keep-alive connections as traffic
//! ramps up over seconds) is one too, until it shrinks. Where the tasks wait (`/_stack`)
//! tells them apart: a connection waits for its client's next request, a leaked task on
//! something that will never come.
//!
//! The sampler is a plain thread (named `leak-probe-sampler`), not a task: it must not
//! count itself in `/_count`, and it must keep sampling when the runtime is too busy to
//! run one more task. It holds the registry weakly and ends with its runtime. It starts
//! with [`watch`] (the servers call it at start-up) or on the first `/_leaks` read.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::registry::{self, Registry, Site};
use crate::report::millis;

/// How often the sampler counts live tasks per site, at most. A sample of many live tasks
/// takes longer (a few milliseconds per 100 000, see the book's numbers); the sampler then
/// waits [`BUSY_FACTOR`] times as long as the sample took, so that it never takes more
/// than 2 % of a core.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// See [`SAMPLE_EVERY`].
pub const BUSY_FACTOR: u32 = 50;
/// How long one window is: each site keeps the floor and peak of its counts per window.
/// Short, so that the half second a load tester waits for the count to settle between
/// two rounds holds a quiet window, and a leak is named as soon as it settled.
pub const WINDOW: Duration = Duration::from_millis(250);
/// How many windows are kept (10 minutes, more when sampling backs off): a suspect's
/// rises must fall inside them.
pub const HISTORY: usize = 2400;
/// Samples a window holds at least: when sampling backs off (a big registry), windows
/// grow, so that a floor and a peak are never one sample.
pub const MIN_SAMPLES: u32 = 3;
/// A rise smaller than this many tasks is never one (a connection opening does not make
/// its site a suspect).
pub const MIN_RISE: u32 = 2;
/// Windows between the levels a suspect's floor rose through (see [`suspect`]).
pub const MIN_GAP: usize = 2;
/// Windows of [`LeakReport::live_history`] (two minutes, or more when sampling backs off).
pub const CHART_WINDOWS: usize = 480;
/// Floors shown per site in a report (the most recent ones).
pub const SHOWN_FLOORS: usize = 60;

/// One window of one site: the lowest and highest live count sampled in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// The floor: fewest live tasks sampled in the window.
    pub floor: u32,
    /// The peak: most live tasks sampled in the window.
    pub peak: u32,
}

impl Span {
    fn spread(self) -> u32 {
        self.peak - self.floor
    }
}

/// Why a site is a suspect: its floor at three moments, each above the last by more than
/// the count moved within those windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rise {
    /// Index of the window before the first rise.
    pub from: usize,
    /// Index of the window between the rises.
    pub between: usize,
    /// The floors at `from`, `between` and the latest window.
    pub floors: [u32; 3],
}

// ANCHOR: suspect
/// Whether the history `windows` (oldest first, the last one the latest window) shows a
/// suspect: see the module docs.
pub fn suspect(windows: &[Span]) -> Option<Rise> {
    let last = windows.len().checked_sub(1)?;
    let noise = churn(windows);
    // The lowest floor from each window on (one pass, so a read stays linear).
    let mut lowest_from = vec![u32::MAX; windows.len() + 1];
    for i in (0..windows.len()).rev() {
        lowest_from[i] = lowest_from[i + 1].min(windows[i].floor);
    }
    let rose = |i: usize, j: usize| {
        let (a, b) = (windows[i].floor, windows[j].floor);
        b >= a + MIN_RISE && b - a > noise
    };
    // A level is a window the count sat still in (it moved no more than usual), and the
    // floor never dropped below it afterwards: a fall means the tasks under it ended.
    let level = |i: usize| windows[i].spread() <= noise && lowest_from[i] >= windows[i].floor;
    // Levels are at least MIN_GAP windows apart, and a level is a quiet window: one busy
    // stretch that spans a window boundary (load ramping up) is one rise, not two.
    let between = (0..=last.checked_sub(MIN_GAP)?)
        .rev()
        .find(|&j| level(j) && rose(j, last))?;
    let from = (0..=between.checked_sub(MIN_GAP)?)
        .rev()
        .find(|&i| level(i) && rose(i, between))?;
    Some(Rise {
        from,
        between,
        floors: [
            windows[from].floor,
            windows[between].floor,
            windows[last].floor,
        ],
    })
}
// ANCHOR_END: suspect

/// How much a site's count moves within a window, typically: the median of its windows'
/// spreads (peak − floor). A floor that wanders by less is noise. The median, not the
/// mean or the maximum, so the few windows in which a leak or a burst happened (their
/// spread is the leak itself) do not hide it.
pub fn churn(windows: &[Span]) -> u32 {
    let mut spreads: Vec<u32> = windows.iter().map(|w| w.spread()).collect();
    if spreads.is_empty() {
        return 0;
    }
    let middle = spreads.len() / 2;
    *spreads.select_nth_unstable(middle).1
}

/// The history of every spawn site of one registry, and its sampler.
#[derive(Debug, Default)]
pub struct Watcher {
    started: AtomicBool,
    /// Set while a report is being built (one at a time, like `/_stack`'s).
    reporting: AtomicBool,
    history: Mutex<History>,
}

#[derive(Debug, Default)]
struct History {
    /// When sampling started (`None`: not yet).
    since: Option<Instant>,
    /// When the current window started.
    window_started: Option<Instant>,
    /// Samples in the current window.
    samples: u32,
    /// When each closed window started, oldest first (aligned with every site's).
    starts: VecDeque<Instant>,
    /// Windows closed so far (all sites share them).
    closed: u64,
    sites: HashMap<Site, SiteHistory>,
    /// All registered tasks together (the chart of `/_ui`, before the page was opened).
    total: SiteHistory,
}

#[derive(Debug, Default)]
struct SiteHistory {
    /// Closed windows, oldest first, at most [`HISTORY`]; aligned with every other site's.
    windows: VecDeque<Span>,
    /// The window being sampled.
    current: Option<Span>,
}

impl History {
    fn record(&mut self, now: Instant, counts: &[(Site, usize)]) {
        self.since.get_or_insert(now);
        let started = *self.window_started.get_or_insert(now);
        if now.duration_since(started) >= WINDOW && self.samples >= MIN_SAMPLES {
            self.close_window();
            self.window_started = Some(now);
        }
        self.samples += 1;
        let closed = usize::try_from(self.closed)
            .unwrap_or(usize::MAX)
            .min(HISTORY);
        let total: usize = counts.iter().map(|c| c.1).sum();
        self.total.sample(u32::try_from(total).unwrap_or(u32::MAX));
        let mut seen = 0;
        for &(site, count) in counts {
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            let site = self.sites.entry(site).or_insert_with(|| SiteHistory {
                // A site seen for the first time had no tasks in the windows before.
                windows: std::iter::repeat_n(Span::default(), closed).collect(),
                current: None,
            });
            site.sample(count);
            seen += 1;
        }
        if seen < self.sites.len() {
            let present: std::collections::HashSet<Site> = counts.iter().map(|c| c.0).collect();
            for (site, history) in &mut self.sites {
                if !present.contains(site) {
                    history.sample(0);
                }
            }
        }
    }

    fn close_window(&mut self) {
        self.closed += 1;
        self.samples = 0;
        if let Some(started) = self.window_started {
            self.starts.push_back(started);
            if self.starts.len() > HISTORY {
                self.starts.pop_front();
            }
        }
        let total = self.total.current.take().unwrap_or_default();
        self.total.windows.push_back(total);
        if self.total.windows.len() > HISTORY {
            self.total.windows.pop_front();
        }
        self.sites.retain(|_, site| {
            let span = site.current.take().unwrap_or_default();
            site.windows.push_back(span);
            if site.windows.len() > HISTORY {
                site.windows.pop_front();
            }
            // A site with no task in its whole history is forgotten.
            site.windows.iter().any(|w| w.peak > 0)
        });
    }
}

impl SiteHistory {
    fn sample(&mut self, count: u32) {
        let span = self.current.get_or_insert(Span {
            floor: count,
            peak: count,
        });
        span.floor = span.floor.min(count);
        span.peak = span.peak.max(count);
    }
}

impl Watcher {
    /// Starts the sampler thread of `registry`, unless it runs already.
    pub fn start(registry: &Arc<Registry>) {
        if registry.leaks.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(registry);
        // Sample once now, as a window of its own: the baseline that a leak right after
        // start-up rises from (a site that appears later had no tasks in it).
        let now = Instant::now();
        registry.leaks.sample(registry, now);
        {
            let mut history = registry.leaks.lock();
            history.close_window();
            history.window_started = Some(now);
        }
        let spawned = std::thread::Builder::new()
            .name("leak-probe-sampler".into())
            .spawn(move || sampler(weak));
        if spawned.is_err() {
            // Out of threads: try again on the next read.
            registry.leaks.started.store(false, Ordering::Release);
        }
    }

    /// Samples once; how long counting took (not waiting for the history's lock).
    fn sample(&self, registry: &Registry, now: Instant) -> Duration {
        let counts = registry.count_by_site();
        let took = now.elapsed();
        self.lock().record(now, &counts);
        took
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sampler thread's loop: ends when the registry (its runtime) is gone.
fn sampler(registry: Weak<Registry>) {
    let mut pause = SAMPLE_EVERY;
    loop {
        std::thread::sleep(pause);
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let took = registry.leaks.sample(&registry, Instant::now());
        pause = SAMPLE_EVERY.max(took * BUSY_FACTOR);
    }
}

/// Starts watching the current runtime's spawn sites for leaks (see the module docs);
/// returns whether there is a registry to watch. Servers call it at start-up, so that
/// `/_leaks` has history when someone first asks.
pub fn watch() -> bool {
    match registry::for_current_runtime() {
        Some(registry) => {
            Watcher::start(&registry);
            true
        }
        None => false,
    }
}

/// One spawn site in a [`LeakReport`].
#[derive(Debug, Clone, Serialize)]
pub struct SiteReport {
    /// `file:line:column` of the spawn.
    pub site: String,
    /// Live tasks spawned there, now.
    pub alive: usize,
    /// Age of the oldest of them, in milliseconds.
    pub oldest_ms: u64,
    /// Where most of them wait, innermost first.
    pub waiting_at: Vec<String>,
    /// The label most of them carry (the route of the requests that spawned them).
    pub label: Option<String>,
    /// Its floor in the latest window (the one being sampled: its floor so far).
    pub floor: u32,
    /// Its floors in the latest windows, oldest first (at most [`SHOWN_FLOORS`]).
    pub floors: Vec<u32>,
    /// Whether it is a suspect.
    pub suspect: bool,
    /// For a suspect: the floor before the first rise, between the rises, and now.
    pub rise: Option<[u32; 3]>,
    /// For a suspect: how long ago the first rise began, in milliseconds.
    pub rising_for_ms: Option<u64>,
}

/// The answer of `GET /_leaks`.
#[derive(Debug, Clone, Serialize)]
pub struct LeakReport {
    /// Live tasks of the runtime (`/_count`).
    pub live_tasks: usize,
    /// Length of a window, in milliseconds.
    pub window_ms: u64,
    /// How long the sites have been sampled, in milliseconds.
    pub sampled_ms: u64,
    /// The suspects, most live tasks first (the same entries as in `sites`).
    pub suspects: Vec<SiteReport>,
    /// Every site with live tasks now or in the history, most live tasks first.
    pub sites: Vec<SiteReport>,
    /// The task count before anyone was looking: `[ms ago, highest sampled count]` of each
    /// of the latest windows, oldest first (at most [`CHART_WINDOWS`]).
    pub live_history: Vec<[u64; 2]>,
    /// What is missing, if anything (no registry; too little history yet).
    pub note: Option<String>,
}

/// Why a leak report could not be made right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("another leak report of this runtime is being built; try again shortly")
    }
}

impl std::error::Error for Busy {}

/// The right to build a leak report; released when dropped.
struct Turn<'a>(&'a AtomicBool);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The leak report of the current runtime. Starts the sampler if it is not running (the
/// first report then has no history, and says so). One report at a time per runtime:
/// [`Busy`] while another is being built.
pub fn current() -> Result<LeakReport, Busy> {
    let live = crate::live_tasks();
    let Some(registry) = registry::for_current_runtime() else {
        return Ok(LeakReport {
            live_tasks: live,
            window_ms: millis(WINDOW),
            sampled_ms: 0,
            suspects: Vec::new(),
            sites: Vec::new(),
            live_history: Vec::new(),
            note: Some(crate::report::no_registry_reason()),
        });
    };
    let watcher = &registry.leaks;
    if watcher.reporting.swap(true, Ordering::AcqRel) {
        return Err(Busy);
    }
    let _turn = Turn(&watcher.reporting);
    Watcher::start(&registry);
    let details = registry.site_details();
    // Copy what the report needs and let the sampler go on; the work happens unlocked.
    let copy = watcher.lock().copy();
    Ok(report(live, &details, &copy, Instant::now()))
}

/// What a report reads of the history, copied out of its lock.
struct Copy {
    since: Option<Instant>,
    closed: u64,
    starts: Vec<Instant>,
    /// Per site: its closed windows, the last one merged with the window being sampled.
    sites: Vec<(Site, Vec<Span>)>,
    total: Vec<(Instant, u32)>,
}

impl History {
    fn copy(&self) -> Copy {
        // The window being sampled counts with the last closed one (its floor is the
        // lower of the two): a leak that has settled shows at once, and a burst in a
        // window only a few samples old does not make a new level.
        let merged = |h: &SiteHistory| {
            let mut windows: Vec<Span> = h.windows.iter().copied().collect();
            match (windows.last_mut(), h.current) {
                (Some(last), Some(current)) => {
                    last.floor = last.floor.min(current.floor);
                    last.peak = last.peak.max(current.peak);
                }
                (None, Some(current)) => windows.push(current),
                (_, None) => {}
            }
            windows
        };
        let chart = self.total.windows.len().saturating_sub(CHART_WINDOWS);
        Copy {
            since: self.since,
            closed: self.closed,
            starts: self.starts.iter().copied().collect(),
            sites: self.sites.iter().map(|(s, h)| (*s, merged(h))).collect(),
            total: self
                .starts
                .iter()
                .zip(&self.total.windows)
                .skip(chart)
                .map(|(at, w)| (*at, w.peak))
                .collect(),
        }
    }
}

fn report(
    live: usize,
    details: &[registry::SiteDetails],
    history: &Copy,
    now: Instant,
) -> LeakReport {
    let sampled = history
        .since
        .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
    let empty = Vec::new();
    let row = |site: Site, detail: Option<&registry::SiteDetails>| {
        let windows = history
            .sites
            .iter()
            .find(|(s, _)| *s == site)
            .map_or(&empty, |(_, w)| w);
        let rise = suspect(windows);
        let shown = windows.len().saturating_sub(SHOWN_FLOORS);
        SiteReport {
            site: registry::site_string(site),
            alive: detail.map_or(0, |d| d.alive),
            oldest_ms: detail.map_or(0, |d| {
                millis(now.saturating_duration_since(d.oldest_spawned_at))
            }),
            waiting_at: detail
                .map(|d| {
                    d.waiting_at
                        .iter()
                        .map(|s| registry::site_string(s))
                        .collect()
                })
                .unwrap_or_default(),
            label: detail.and_then(|d| d.label).map(str::to_owned),
            floor: windows.last().map_or(0, |w| w.floor),
            floors: windows[shown..].iter().map(|w| w.floor).collect(),
            suspect: rise.is_some(),
            rise: rise.map(|r| r.floors),
            // The first rise began in the window after `from`.
            rising_for_ms: rise.and_then(|r| {
                let began = history.starts.get(r.from + 1)?;
                Some(millis(now.saturating_duration_since(*began)))
            }),
        }
    };
    let mut sites: Vec<SiteReport> = details.iter().map(|d| row(d.site, Some(d))).collect();
    for (site, _) in &history.sites {
        // Sites compare by value: the same location may be two statics.
        if !details.iter().any(|d| d.site == *site) {
            sites.push(row(site, None));
        }
    }
    sites.sort_by(|a, b| b.alive.cmp(&a.alive).then_with(|| a.site.cmp(&b.site)));
    let suspects: Vec<SiteReport> = sites.iter().filter(|s| s.suspect).cloned().collect();
    let note = (history.closed < 3).then(|| {
        format!(
            "sampling for {} ms: a suspect needs a few {} ms windows of history",
            millis(sampled),
            millis(WINDOW)
        )
    });
    let live_history = history
        .total
        .iter()
        .map(|(at, peak)| [millis(now.saturating_duration_since(*at)), u64::from(*peak)])
        .collect();
    LeakReport {
        live_tasks: live,
        window_ms: millis(WINDOW),
        sampled_ms: millis(sampled),
        suspects,
        sites,
        live_history,
        note,
    }
}

impl std::fmt::Display for LeakReport {
    /// The text of `/_leaks?format=text`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "leak suspects: {} ({} live task(s); {} ms windows, sampled for {:.1} s)",
            self.suspects.len(),
            self.live_tasks,
            self.window_ms,
            self.sampled_ms as f64 / 1000.0
        )?;
        if let Some(note) = &self.note {
            writeln!(f, "note: {note}")?;
        }
        for s in &self.suspects {
            let [a, b, c] = s.rise.unwrap_or_default();
            writeln!(
                f,
                "\nSUSPECT {} alive (floor {a} -> {b} -> {c}), oldest {:.1} s: spawned at {}",
                s.alive,
                s.oldest_ms as f64 / 1000.0,
                s.site
            )?;
            if let Some(label) = &s.label {
                writeln!(f, "    label: {label}")?;
            }
            for w in &s.waiting_at {
                writeln!(f, "    waiting at {w}")?;
            }
        }
        writeln!(f, "\nspawn sites (alive, floor now, oldest):")?;
        for s in &self.sites {
            writeln!(
                f,
                "  {:>8} {:>8} {:>9.1} s  {}{}",
                s.alive,
                s.floor,
                s.oldest_ms as f64 / 1000.0,
                s.site,
                if s.suspect { "  <- suspect" } else { "" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Span, suspect};

    /// Windows from `(floor, peak)` pairs.
    fn w(spans: &[(u32, u32)]) -> Vec<Span> {
        spans
            .iter()
            .map(|&(floor, peak)| Span { floor, peak })
            .collect()
    }

    /// A tiny deterministic noise source (xorshift), so noisy histories are reproducible.
    fn noise(seed: &mut u64, range: u32) -> u32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % u64::from(range)) as u32
    }

    #[test]
    fn two_rounds_of_leaked_requests_make_a_suspect() {
        // Quiet, a round of 50 leaked requests, quiet, another round, quiet.
        let h = w(&[
            (0, 0),
            (0, 0),
            (0, 50),
            (50, 50),
            (50, 50),
            (50, 100),
            (100, 100),
        ]);
        let rise = suspect(&h).expect("a suspect");
        assert_eq!(rise.floors, [0, 50, 100]);
        // One round only: a step, not (yet) growth.
        assert_eq!(suspect(&h[..5]), None);
        // Two rounds with no quiet window between them look like one busy stretch (load
        // ramping up): not a suspect. (Windows are short so that a client that waits for
        // the count to settle between rounds always leaves one.)
        let close = w(&[(0, 0), (0, 0), (1, 50), (50, 100), (100, 100), (100, 100)]);
        assert_eq!(suspect(&close), None);
    }

    #[test]
    fn samples_become_windows_of_floor_and_peak_per_site() {
        use super::{History, WINDOW};
        let site: super::Site = std::panic::Location::caller();
        let t0 = std::time::Instant::now();
        let mut h = History::default();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let step = WINDOW.as_millis() as u64 / 5;
        // Window 1: 3, 7, 5 tasks; window 2: the site is gone (0), then 2.
        for (i, n) in [3, 7, 5].into_iter().enumerate() {
            h.record(at(i as u64 * step), &[(site, n)]);
        }
        h.record(at(WINDOW.as_millis() as u64), &[]);
        h.record(at(WINDOW.as_millis() as u64 + step), &[(site, 2)]);
        h.record(at(WINDOW.as_millis() as u64 + 2 * step), &[(site, 1)]);
        h.record(at(2 * WINDOW.as_millis() as u64), &[(site, 2)]);
        let windows: Vec<Span> = h.sites[&site].windows.iter().copied().collect();
        assert_eq!(
            windows,
            [Span { floor: 3, peak: 7 }, Span { floor: 0, peak: 2 }]
        );
        assert_eq!(h.closed, 2);
        assert_eq!(h.starts.len(), 2);
        // A window closes only with MIN_SAMPLES in it: late samples stretch it.
        h.record(at(3 * WINDOW.as_millis() as u64), &[(site, 2)]);
        assert_eq!(h.closed, 2);
        // A report merges the window being sampled (2) into the last closed one (0..2).
        let copy = h.copy();
        assert_eq!(copy.sites[0].1.last(), Some(&Span { floor: 0, peak: 2 }));
    }

    #[test]
    fn a_steady_leak_under_noisy_load_is_a_suspect() {
        // 30 leaked tasks a window, on top of 0..40 requests in flight.
        let mut seed = 7;
        let h: Vec<Span> = (0..20)
            .map(|i| {
                let base = 30 * i;
                let lo = noise(&mut seed, 10);
                Span {
                    floor: base + lo,
                    peak: base + 30 + 10 + noise(&mut seed, 30),
                }
            })
            .collect();
        assert!(suspect(&h).is_some(), "{h:?}");
    }

    #[test]
    fn bursts_and_a_load_step_are_not_suspects() {
        // Bursts of 50 that end.
        let bursts = w(&[(0, 0), (0, 50), (0, 50), (0, 0), (0, 50), (0, 60), (0, 0)]);
        assert_eq!(suspect(&bursts), None);
        // A burst longer than a window lifts the floor once, then it falls back.
        let long = w(&[(0, 0), (0, 50), (50, 55), (48, 60), (0, 50), (0, 0)]);
        assert_eq!(suspect(&long), None);
        // Load steps up, ramping over two windows, and stays.
        let ramp = w(&[
            (0, 0),
            (0, 0),
            (0, 70),
            (70, 100),
            (100, 100),
            (100, 100),
            (100, 100),
        ]);
        assert_eq!(suspect(&ramp), None);
        // Load steps up once and stays, with requests churning above the new floor.
        let mut seed = 11;
        let mut step = w(&[(0, 0), (0, 0), (0, 200)]);
        step.extend((0..30).map(|_| {
            let floor = 150 + noise(&mut seed, 20);
            Span {
                floor,
                peak: floor + 30 + noise(&mut seed, 20),
            }
        }));
        assert_eq!(suspect(&step), None, "{step:?}");
    }

    #[test]
    fn steady_noisy_load_is_never_a_suspect() {
        let mut seed = 3;
        let mut h = Vec::new();
        for _ in 0..600 {
            let floor = 100 + noise(&mut seed, 30);
            h.push(Span {
                floor,
                peak: floor + 20 + noise(&mut seed, 40),
            });
            assert_eq!(suspect(&h), None, "{h:?}");
        }
    }

    #[test]
    fn a_floor_that_falls_back_clears_the_suspect() {
        let h = w(&[
            (0, 0),
            (0, 50),
            (50, 50),
            (50, 100),
            (100, 100),
            (0, 100),
            (0, 0),
        ]);
        assert_eq!(suspect(&h), None);
        // Three connections opened one after another (rises of one task) are not one.
        let conns = w(&[(0, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3)]);
        assert_eq!(suspect(&conns), None);
    }
}
