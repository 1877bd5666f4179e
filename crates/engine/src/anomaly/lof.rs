//! A streaming local outlier factor (Breunig et al., 2000) over one user's recent logins.
//!
//! Each stored point keeps its k nearest neighbours, updated as points arrive, so scoring a
//! new login costs one pass over the history (≤ 2 × `cap` distances) plus k² look-ups,
//! not the O(n²) of recomputing the whole set. The history holds between `cap` and 2 × `cap`
//! points: when it reaches 2 × `cap`, the oldest `cap` go and the neighbour lists are rebuilt
//! once, which keeps the amortised cost per login linear.

use serde::{Deserialize, Serialize};

/// Feature dimensions of one login (see `features::Features::vector`).
pub const DIM: usize = 12;

/// One login as a point.
pub type Vector = [f32; DIM];

/// Reachability distances below this count as this: identical logins (a user who always logs
/// in the same way) must not make a density infinite.
const MIN_REACH: f32 = 0.05;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Point {
    x: Vector,
    /// The k nearest other points, ascending by distance: (distance, index).
    #[serde(skip)]
    nn: Vec<(f32, u32)>,
}

/// The history and its neighbour lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lof {
    k: usize,
    cap: usize,
    points: Vec<Point>,
    /// Whether `nn` must be rebuilt (after loading: neighbour lists are not persisted).
    #[serde(skip, default = "yes")]
    stale: bool,
}

fn yes() -> bool {
    true
}

fn dist(a: &Vector, b: &Vector) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Inserts (d, i) into a list sorted ascending, keeping at most k entries.
fn offer(nn: &mut Vec<(f32, u32)>, k: usize, d: f32, i: u32) {
    if nn.len() == k && nn.last().is_some_and(|l| l.0 <= d) {
        return;
    }
    let at = nn.partition_point(|e| e.0 <= d);
    nn.insert(at, (d, i));
    nn.truncate(k);
}

impl Lof {
    /// `k` neighbours, `cap` points kept at least (2 × `cap` at most).
    pub fn new(k: usize, cap: usize) -> Lof {
        Lof {
            k: k.max(1),
            cap: cap.max(k + 1),
            points: Vec::new(),
            stale: false,
        }
    }

    /// Points in the history.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    fn rebuild(&mut self) {
        let k = self.k;
        for p in &mut self.points {
            p.nn.clear();
        }
        let n = self.points.len();
        for i in 0..n {
            for j in (i + 1)..n {
                let d = dist(&self.points[i].x, &self.points[j].x);
                offer(&mut self.points[i].nn, k, d, j as u32);
                offer(&mut self.points[j].nn, k, d, i as u32);
            }
        }
        self.stale = false;
    }

    fn kdist(&self, i: usize) -> f32 {
        self.points[i].nn.last().map_or(0.0, |e| e.0)
    }

    fn lrd(&self, i: usize) -> f32 {
        let nn = &self.points[i].nn;
        if nn.is_empty() {
            return 1.0 / MIN_REACH;
        }
        let sum: f32 = nn
            .iter()
            .map(|&(d, j)| d.max(self.kdist(j as usize)).max(MIN_REACH))
            .sum();
        nn.len() as f32 / sum
    }

    /// The LOF of `x` against the history (≈ 1 inside a cluster, ≫ 1 for an outlier);
    /// `None` while the history has fewer than k + 1 points.
    pub fn score(&mut self, x: &Vector) -> Option<f32> {
        if self.stale {
            self.rebuild();
        }
        let d: Vec<f32> = self.points.iter().map(|p| dist(x, &p.x)).collect();
        self.score_with(&d)
    }

    /// [`Lof::score`] from the distances of `x` to every point, in order.
    fn score_with(&self, d: &[f32]) -> Option<f32> {
        if self.points.len() <= self.k {
            return None;
        }
        let mut nn: Vec<(f32, u32)> = Vec::with_capacity(self.k + 1);
        for (i, &di) in d.iter().enumerate() {
            offer(&mut nn, self.k, di, i as u32);
        }
        let sum: f32 = nn
            .iter()
            .map(|&(d, j)| d.max(self.kdist(j as usize)).max(MIN_REACH))
            .sum();
        let lrd_x = nn.len() as f32 / sum;
        let mean_lrd: f32 =
            nn.iter().map(|&(_, j)| self.lrd(j as usize)).sum::<f32>() / nn.len() as f32;
        Some(mean_lrd / lrd_x)
    }

    /// Adds `x` to the history.
    pub fn insert(&mut self, x: Vector) {
        self.observe(x, false);
    }

    /// Scores `x` against the history when `score` is set, then adds it: one pass of
    /// distances for both.
    pub fn observe(&mut self, x: Vector, score: bool) -> Option<f32> {
        if self.stale {
            self.rebuild();
        }
        if self.points.len() >= 2 * self.cap {
            self.points.drain(..self.cap);
            self.rebuild();
        }
        let d: Vec<f32> = self.points.iter().map(|p| dist(&x, &p.x)).collect();
        let out = if score { self.score_with(&d) } else { None };
        let k = self.k;
        let me = self.points.len() as u32;
        let mut mine = Vec::with_capacity(k + 1);
        for (i, (p, &di)) in self.points.iter_mut().zip(&d).enumerate() {
            offer(&mut p.nn, k, di, me);
            offer(&mut mine, k, di, i as u32);
        }
        self.points.push(Point { x, nn: mine });
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
        let mut back = lof.clone();
        back.stale = true;
        for p in &mut back.points {
            p.nn.clear();
        }
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
