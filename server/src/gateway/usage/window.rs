//! One tool's calls since the last sample: counts and a latency histogram in atomics, so
//! recording a call takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (ms) of the latency buckets; a last bucket takes everything slower.
pub const BUCKETS_MS: [u64; 15] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000,
];
/// How many buckets there are, the overflow bucket included.
pub const BUCKET_COUNT: usize = BUCKETS_MS.len() + 1;

/// Calls and latencies of one tool since the last [`Window::take`].
#[derive(Debug, Default)]
pub struct Window {
    calls: AtomicU64,
    errors: AtomicU64,
    max_us: AtomicU64,
    buckets: [AtomicU64; BUCKET_COUNT],
}

/// What a window held when it was taken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Finished calls.
    pub calls: u64,
    /// Calls that failed.
    pub errors: u64,
    /// The slowest call, in milliseconds (rounded up).
    pub max_ms: u64,
    /// Calls per latency bucket.
    pub buckets: [u64; BUCKET_COUNT],
}

impl Window {
    /// Records one finished call.
    pub fn record(&self, ok: bool, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let millis = micros.div_ceil(1_000);
        let bucket = BUCKETS_MS
            .iter()
            .position(|&bound| millis <= bound)
            .unwrap_or(BUCKETS_MS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(micros, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the counts and starts a new window. A call recorded while this runs lands in one
    /// window or the next, never in both.
    pub fn take(&self) -> Counts {
        let mut counts = Counts {
            calls: self.calls.swap(0, Ordering::Relaxed),
            errors: self.errors.swap(0, Ordering::Relaxed),
            max_ms: self.max_us.swap(0, Ordering::Relaxed).div_ceil(1_000),
            ..Counts::default()
        };
        for (taken, bucket) in counts.buckets.iter_mut().zip(&self.buckets) {
            *taken = bucket.swap(0, Ordering::Relaxed);
        }
        counts
    }
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.max_ms = self.max_ms.max(other.max_ms);
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
    }

    /// The latency (ms) under which the fraction `q` of the calls finished: the upper bound of
    /// the bucket it falls in, or the slowest call for the overflow bucket.
    pub fn quantile_ms(&self, q: f64) -> u64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return BUCKETS_MS
                    .get(index)
                    .map_or(self.max_ms, |&bound| bound.min(self.max_ms.max(1)));
            }
        }
        self.max_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets_and_never_exceed_the_slowest_call() {
        let window = Window::default();
        for _ in 0..90 {
            window.record(true, Duration::from_millis(3));
        }
        for _ in 0..10 {
            window.record(false, Duration::from_millis(150));
        }
        let counts = window.take();
        assert_eq!((counts.calls, counts.errors, counts.max_ms), (100, 10, 150));
        assert_eq!(counts.quantile_ms(0.5), 5);
        assert_eq!(counts.quantile_ms(0.95), 150, "capped at the slowest call");
        assert_eq!(
            window.take(),
            Counts::default(),
            "taking starts a new window"
        );
    }

    #[test]
    fn counts_add_up_across_windows() {
        let (a, b) = (Window::default(), Window::default());
        a.record(true, Duration::from_millis(1));
        b.record(true, Duration::from_secs(90));
        let mut total = a.take();
        total.add(&b.take());
        assert_eq!(total.calls, 2);
        assert_eq!(
            total.quantile_ms(1.0),
            90_000,
            "the overflow bucket is the slowest call"
        );
    }
}
