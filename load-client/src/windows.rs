//! Latency over time in bounded memory, for the chart: a small log-scale histogram per
//! time window.
//!
//! Keeping every `(time, latency)` pair grows with the run (a million requests is 16 MB,
//! an hour at full speed far more). Here each window of [`WIDTH`] holds [`BUCKETS`]
//! counters (buckets 10 % wide, 1 µs to ~3 min), and once there are more than
//! [`MAX_WINDOWS`] windows, neighbours merge and the width doubles. So the memory of a run
//! is bounded whatever its length: at most `MAX_WINDOWS` × `BUCKETS` × 4 bytes (~400 KB).
//!
//! Workers do not share a histogram on the hot path: each fills its current window (a
//! [`Recorder`]) and hands it over, under a lock, when the window changes (four times a
//! second per worker at most).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Latency buckets per window.
pub const BUCKETS: usize = 200;
/// Each bucket's upper bound is this factor above its lower one.
const FACTOR: f64 = 1.1;
/// The width of a window until the run is long enough to need wider ones.
pub const WIDTH: Duration = Duration::from_millis(250);
/// The most windows kept; beyond it, neighbours merge.
pub const MAX_WINDOWS: usize = 512;

/// The bucket of a latency in microseconds.
fn bucket(us: u64) -> usize {
    let b = (us.max(1) as f64).ln() / FACTOR.ln();
    (b as usize).min(BUCKETS - 1)
}

/// The upper bound of `bucket`, in milliseconds.
fn upper_ms(bucket: usize) -> f64 {
    FACTOR.powi(bucket as i32 + 1) / 1000.0
}

/// One window's latencies.
#[derive(Clone, Debug, PartialEq)]
struct Window {
    counts: Box<[u32; BUCKETS]>,
}

impl Window {
    fn new() -> Window {
        Window {
            counts: Box::new([0; BUCKETS]),
        }
    }

    fn add(&mut self, other: &Window) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// The `q` quantile (0..=1) in milliseconds, to the bucket's upper bound.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(upper_ms(b));
            }
        }
        Some(upper_ms(BUCKETS - 1))
    }
}

/// Latency per time window for a whole run.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyWindows {
    /// Window width in seconds.
    width: f64,
    /// Window index (start = index × width) → its latencies.
    windows: BTreeMap<u64, Window>,
}

impl Default for LatencyWindows {
    fn default() -> Self {
        LatencyWindows::new()
    }
}

impl LatencyWindows {
    /// No latencies yet; windows of [`WIDTH`].
    pub fn new() -> LatencyWindows {
        LatencyWindows {
            width: WIDTH.as_secs_f64(),
            windows: BTreeMap::new(),
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Windows held (at most [`MAX_WINDOWS`]).
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// The current window width.
    pub fn width(&self) -> Duration {
        Duration::from_secs_f64(self.width)
    }

    /// One latency, `at` seconds into the run.
    pub fn record(&mut self, at: f64, latency_us: u64) {
        let mut one = Window::new();
        one.counts[bucket(latency_us)] = 1;
        self.add_window(at, &one);
    }

    /// Adds a window's latencies at `start` seconds into the run.
    fn add_window(&mut self, start: f64, window: &Window) {
        let index = (start.max(0.0) / self.width) as u64;
        self.windows
            .entry(index)
            .or_insert_with(Window::new)
            .add(window);
        while self.windows.len() > MAX_WINDOWS {
            self.coarsen();
        }
    }

    /// Doubles the width, merging windows pairwise.
    fn coarsen(&mut self) {
        self.width *= 2.0;
        let old = std::mem::take(&mut self.windows);
        for (index, window) in old {
            self.windows
                .entry(index / 2)
                .or_insert_with(Window::new)
                .add(&window);
        }
    }

    /// Adds every latency of `other`.
    pub fn merge(&mut self, other: &LatencyWindows) {
        for (&index, window) in &other.windows {
            // The middle of the other's window, so it lands in the right one of ours.
            self.add_window((index as f64 + 0.5) * other.width, window);
        }
    }

    /// The 99th percentile of each window: `(middle of the window in s, ms)`.
    pub fn p99_line(&self) -> Vec<(f64, f64)> {
        self.windows
            .iter()
            .filter_map(|(&index, w)| {
                let ms = w.quantile_ms(0.99)?;
                Some(((index as f64 + 0.5) * self.width, ms))
            })
            .collect()
    }
}

/// Latency windows shared by a round's workers.
pub type Shared = Arc<Mutex<LatencyWindows>>;

/// One worker's current window; handed to the shared windows when the next one starts,
/// and when the recorder is dropped.
pub struct Recorder {
    shared: Shared,
    current: Option<(u64, Window)>,
}

impl Recorder {
    /// A recorder feeding `shared`.
    pub fn new(shared: Shared) -> Recorder {
        Recorder {
            shared,
            current: None,
        }
    }

    /// One latency, `at` seconds into the run.
    pub fn record(&mut self, at: f64, latency_us: u64) {
        let index = (at.max(0.0) / WIDTH.as_secs_f64()) as u64;
        if self.current.as_ref().is_some_and(|(i, _)| *i != index) {
            self.flush();
        }
        let (_, window) = self.current.get_or_insert_with(|| (index, Window::new()));
        let b = bucket(latency_us);
        window.counts[b] = window.counts[b].saturating_add(1);
    }

    fn flush(&mut self) {
        if let Some((index, window)) = self.current.take() {
            let start = (index as f64 + 0.5) * WIDTH.as_secs_f64();
            self.shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add_window(start, &window);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_per_window_within_a_bucket() {
        let mut w = LatencyWindows::new();
        // Second 0: 99 answers of 1 ms and one of 100 ms; second 1: all 5 ms.
        for i in 0..100 {
            w.record(0.1, if i == 99 { 100_000 } else { 1_000 });
            w.record(1.1, 5_000);
        }
        let line = w.p99_line();
        assert_eq!(line.len(), 2, "{line:?}");
        // p99 of 100 values is the 99th: 1 ms, to 10 %.
        assert!((1.0..=1.1).contains(&line[0].1), "{line:?}");
        assert!((5.0..=5.5).contains(&line[1].1), "{line:?}");
        assert!((line[0].0 - 0.125).abs() < 1e-9 && (line[1].0 - 1.125).abs() < 1e-9);
    }

    #[test]
    fn a_long_run_keeps_bounded_windows() {
        let mut w = LatencyWindows::new();
        // An hour, one answer every 50 ms.
        for i in 0..72_000u64 {
            w.record(i as f64 * 0.05, 1_000 + i % 1_000);
        }
        assert!(w.len() <= MAX_WINDOWS, "{} windows", w.len());
        assert!(w.width() >= Duration::from_secs(7), "{:?}", w.width());
        let total: u64 = w
            .windows
            .values()
            .flat_map(|win| win.counts.iter())
            .map(|&c| u64::from(c))
            .sum();
        assert_eq!(total, 72_000, "no latency is lost when windows merge");
    }

    #[test]
    fn recorders_hand_over_every_latency() {
        let shared = Shared::default();
        {
            let mut a = Recorder::new(Arc::clone(&shared));
            let mut b = Recorder::new(Arc::clone(&shared));
            for i in 0..1_000 {
                a.record(i as f64 * 0.01, 2_000);
                b.record(i as f64 * 0.01, 2_000);
            }
        }
        let w = shared.lock().unwrap();
        let total: u64 = w
            .windows
            .values()
            .flat_map(|win| win.counts.iter())
            .map(|&c| u64::from(c))
            .sum();
        assert_eq!(total, 2_000);
        assert_eq!(w.len(), 40, "10 s in windows of 250 ms");
    }
}
