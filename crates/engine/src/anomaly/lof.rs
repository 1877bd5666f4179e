//! A streaming local outlier factor (Breunig et al., 2000) over one user's recent logins.
//!
//! Each stored point keeps its k nearest neighbours. While logins are scored the lists are
//! updated as points arrive, so a score costs one pass over the history plus k² look-ups;
//! points added without a score (most logins: see `Detector::observe`) are only recorded,
//! and the lists are rebuilt exactly at the next score. The history holds between `cap` and
//! 2 × `cap` points: when it reaches 2 × `cap`, the oldest `cap` go.
//!
//! Points, neighbour lists (inline, one cache line) and k-distances are parallel arrays, so
//! a pass over a history streams through memory instead of chasing a pointer per point.

use serde::{Deserialize, Serialize};

/// Feature dimensions of one login (see `features::Features::vector`).
pub const DIM: usize = 12;

/// One login as a point.
pub type Vector = [f32; DIM];

/// Reachability distances below this count as this: identical logins (a user who always logs
/// in the same way) must not make a density infinite.
const MIN_REACH: f32 = 0.05;

/// The most neighbours a [`Lof`] keeps (a larger k is clamped to it).
pub const KMAX: usize = 10;

/// Points a history holds at most (neighbour indices are bytes).
const MAX_POINTS: usize = 254;

/// Up to [`KMAX`] neighbours, ascending by distance, in one cache line: a score reads the
/// lists of its k neighbours, scattered through a history that is usually not in cache.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Nn {
    d: [f32; KMAX],
    i: [u8; KMAX],
    len: u8,
}

impl Nn {
    fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// The farthest kept neighbour's distance.
    fn last(&self) -> Option<f32> {
        self.len().checked_sub(1).map(|l| self.d[l])
    }

    /// (distance, index) pairs, nearest first.
    fn iter(&self) -> impl Iterator<Item = (f32, usize)> + '_ {
        let n = self.len();
        self.d[..n]
            .iter()
            .zip(&self.i[..n])
            .map(|(&d, &i)| (d, usize::from(i)))
    }

    /// Inserts (d, i) in order, after its equals, keeping at most k entries. An insertion
    /// sort step: k is small, and a memmove call per offer showed in profiles.
    #[inline]
    fn offer(&mut self, k: usize, d: f32, i: usize) {
        let len = self.len();
        if len == k && self.d[len - 1] <= d {
            return;
        }
        // With a full list the last entry (farther than d) falls off.
        let mut at = len.min(k - 1);
        while at > 0 && self.d[at - 1] > d {
            self.d[at] = self.d[at - 1];
            self.i[at] = self.i[at - 1];
            at -= 1;
        }
        self.d[at] = d;
        self.i[at] = i as u8;
        self.len = (len + 1).min(k) as u8;
    }
}

/// How a history is stored: its points (neighbour lists are rebuilt after loading).
#[derive(Serialize, Deserialize)]
struct Stored {
    k: usize,
    cap: usize,
    points: Vec<StoredPoint>,
}

#[derive(Serialize, Deserialize)]
struct StoredPoint {
    x: Vector,
}

/// The history and its neighbour lists, as parallel arrays: a pass over the history reads
/// the points and each one's k-distance, 52 bytes a point, and touches a neighbour list
/// only where the new point comes closer than its k-th neighbour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct Lof {
    k: usize,
    cap: usize,
    xs: Vec<Vector>,
    /// The k nearest other points of each.
    nn: Vec<Nn>,
    /// Each point's distance to its k-th neighbour; infinite while it has fewer than k.
    full: Vec<f32>,
    /// Whether `nn` must be rebuilt (after loading: neighbour lists are not persisted).
    stale: bool,
}

impl From<Stored> for Lof {
    fn from(s: Stored) -> Lof {
        let mut l = Lof::new(s.k, s.cap);
        l.xs = s.points.into_iter().map(|p| p.x).collect();
        // The newest that fit (a history stored with a larger cap).
        let over = l.xs.len().saturating_sub(2 * l.cap - 1);
        l.xs.drain(..over);
        l.stale = true;
        l
    }
}

impl From<Lof> for Stored {
    fn from(l: Lof) -> Stored {
        Stored {
            k: l.k,
            cap: l.cap,
            points: l.xs.into_iter().map(|x| StoredPoint { x }).collect(),
        }
    }
}

fn dist(a: &Vector, b: &Vector) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// The distances of `x` to every point of a history, on the stack (a history holds at
/// most [`MAX_POINTS`]).
fn distances<'a>(buf: &'a mut [f32; MAX_POINTS], xs: &[Vector], x: &Vector) -> &'a [f32] {
    let d = &mut buf[..xs.len()];
    for (di, p) in d.iter_mut().zip(xs) {
        *di = dist(x, p);
    }
    d
}

impl Lof {
    /// `k` neighbours (1 to [`KMAX`]), `cap` points kept at least (2 × `cap` at most).
    pub fn new(k: usize, cap: usize) -> Lof {
        let k = k.clamp(1, KMAX);
        Lof {
            k,
            cap: cap.clamp(k + 1, MAX_POINTS / 2),
            xs: Vec::new(),
            nn: Vec::new(),
            full: Vec::new(),
            stale: false,
        }
    }

    /// Points in the history.
    pub fn len(&self) -> usize {
        self.xs.len()
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// Offers point `j` at distance `d` as a neighbour of point `i`.
    #[inline]
    fn offer(&mut self, i: usize, d: f32, j: usize) {
        if d >= self.full[i] {
            return;
        }
        let nn = &mut self.nn[i];
        nn.offer(self.k, d, j);
        if nn.len() == self.k {
            self.full[i] = nn.d[self.k - 1];
        }
    }

    fn rebuild(&mut self) {
        let n = self.xs.len();
        self.nn.clear();
        self.nn.resize(n, Nn::default());
        self.full.clear();
        self.full.resize(n, f32::INFINITY);
        for i in 0..n {
            for j in (i + 1)..n {
                let d = dist(&self.xs[i], &self.xs[j]);
                self.offer(i, d, j);
                self.offer(j, d, i);
            }
        }
        self.stale = false;
    }

    /// The distance to the k-th neighbour (to the farthest, with fewer): from the dense
    /// array where it is known, as the k² look-ups of a score are scattered.
    #[inline]
    fn kdist(&self, i: usize) -> f32 {
        let f = self.full[i];
        if f.is_finite() {
            f
        } else {
            self.nn[i].last().unwrap_or(0.0)
        }
    }

    fn lrd(&self, i: usize) -> f32 {
        let nn = &self.nn[i];
        if nn.len() == 0 {
            return 1.0 / MIN_REACH;
        }
        let sum: f32 = nn
            .iter()
            .map(|(d, j)| d.max(self.kdist(j)).max(MIN_REACH))
            .sum();
        nn.len() as f32 / sum
    }

    /// The LOF of `x` against the history (≈ 1 inside a cluster, ≫ 1 for an outlier);
    /// `None` while the history has fewer than k + 1 points.
    pub fn score(&mut self, x: &Vector) -> Option<f32> {
        if self.stale {
            self.rebuild();
        }
        let mut buf = [0.0; MAX_POINTS];
        let d = distances(&mut buf, &self.xs, x);
        self.score_with(d)
    }

    /// [`Lof::score`] from the distances of `x` to every point, in order.
    fn score_with(&self, d: &[f32]) -> Option<f32> {
        if self.xs.len() <= self.k {
            return None;
        }
        let mut nn = Nn::default();
        for (i, &di) in d.iter().enumerate() {
            nn.offer(self.k, di, i);
        }
        let sum: f32 = nn
            .iter()
            .map(|(d, j)| d.max(self.kdist(j)).max(MIN_REACH))
            .sum();
        let lrd_x = nn.len() as f32 / sum;
        let mean_lrd: f32 = nn.iter().map(|(_, j)| self.lrd(j)).sum::<f32>() / nn.len() as f32;
        Some(mean_lrd / lrd_x)
    }

    /// Adds `x` to the history.
    pub fn insert(&mut self, x: Vector) {
        self.observe(x, false);
    }

    /// Scores `x` against the history when `score` is set, then adds it: one pass of
    /// distances for both. Without `score` the point is only recorded and the neighbour
    /// lists are left to be rebuilt at the next score: scores are rare (see
    /// `Detector::observe`), and a rebuild then costs less than keeping the lists on every
    /// login.
    pub fn observe(&mut self, x: Vector, score: bool) -> Option<f32> {
        if !score {
            if self.xs.len() >= 2 * self.cap {
                self.xs.drain(..self.cap);
            }
            self.xs.push(x);
            self.stale = true;
            return None;
        }
        if self.stale {
            self.rebuild();
        }
        if self.xs.len() >= 2 * self.cap {
            self.xs.drain(..self.cap);
            self.rebuild();
        }
        let mut buf = [0.0; MAX_POINTS];
        let d = distances(&mut buf, &self.xs, &x);
        let out = if score { self.score_with(d) } else { None };
        let me = self.xs.len();
        let mut mine = Nn::default();
        for (i, &di) in d.iter().enumerate() {
            self.offer(i, di, me);
            mine.offer(self.k, di, i);
        }
        let full = if mine.len() == self.k {
            mine.d[self.k - 1]
        } else {
            f32::INFINITY
        };
        self.xs.push(x);
        self.nn.push(mine);
        self.full.push(full);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: f32, b: f32) -> Vector {
        let mut x = [0.0; DIM];
        x[0] = a;
        x[1] = b;
        x
    }

    /// The textbook O(n²) LOF, to check the incremental one against.
    fn reference(points: &[Vector], x: &Vector, k: usize) -> f32 {
        let knn = |p: &Vector, skip: Option<usize>| {
            let mut d: Vec<(f32, usize)> = points
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != skip)
                .map(|(i, q)| (dist(p, q), i))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            d.truncate(k);
            d
        };
        let kd = |i: usize| knn(&points[i], Some(i)).last().unwrap().0;
        let lrd = |nn: &[(f32, usize)]| {
            nn.len() as f32
                / nn.iter()
                    .map(|&(d, j)| d.max(kd(j)).max(MIN_REACH))
                    .sum::<f32>()
        };
        let nx = knn(x, None);
        let mean: f32 = nx
            .iter()
            .map(|&(_, j)| lrd(&knn(&points[j], Some(j))))
            .sum::<f32>()
            / nx.len() as f32;
        mean / lrd(&nx)
    }

    #[test]
    fn an_outlier_scores_high_and_a_member_near_one() {
        let mut lof = Lof::new(5, 50);
        let mut pts = Vec::new();
        for i in 0..30 {
            let p = v((i % 6) as f32 * 0.1, (i / 6) as f32 * 0.1);
            pts.push(p);
            lof.insert(p);
        }
        let inside = lof.score(&v(0.25, 0.2)).unwrap();
        let outside = lof.score(&v(3.0, 3.0)).unwrap();
        assert!(inside < 1.5, "{inside}");
        assert!(outside > 5.0, "{outside}");
        for q in [v(0.25, 0.2), v(3.0, 3.0), v(0.6, 0.0)] {
            let a = lof.score(&q).unwrap();
            let b = reference(&pts, &q, 5);
            assert!((a - b).abs() < 1e-3 * b.max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn compaction_and_reload_match_the_reference() {
        let mut lof = Lof::new(3, 8);
        let mut all = Vec::new();
        for i in 0..37u32 {
            let p = v((i * 7 % 11) as f32 / 10.0, (i * 3 % 5) as f32 / 10.0);
            all.push(p);
            lof.insert(p);
        }
        // 37 inserts with cap 8: compactions at 16, 24, 32 leave the newest 13.
        assert_eq!(lof.len(), 13);
        let kept = &all[all.len() - 13..];
        let q = v(0.35, 0.15);
        let want = reference(kept, &q, 3);
        assert!((lof.score(&q).unwrap() - want).abs() < 1e-3);
        // Through its stored form, as a profile is persisted and loaded.
        let json = serde_json::to_string(&lof).unwrap();
        let mut back: Lof = serde_json::from_str(&json).unwrap();
        assert!(back.stale && back.len() == 13);
        assert!((back.score(&q).unwrap() - want).abs() < 1e-3);
    }

    #[test]
    fn too_little_history_gives_no_score_and_duplicates_stay_finite() {
        let mut lof = Lof::new(10, 32);
        for _ in 0..10 {
            lof.insert(v(0.0, 0.0));
        }
        assert_eq!(lof.score(&v(0.0, 0.0)), None);
        lof.insert(v(0.0, 0.0));
        let s = lof.score(&v(0.0, 0.0)).unwrap();
        assert!(s.is_finite() && (s - 1.0).abs() < 1e-3, "{s}");
        assert!(lof.score(&v(1.0, 0.0)).unwrap() > 10.0);
    }
}
