//! Small 2-D geometry for the puppet warp, in f64: affine maps, least-squares fits, and the
//! distance from a point to a bone's shape (point, segment or convex polygon).

/// A point / vector in pixels.
pub(crate) type P = [f64; 2];

pub(crate) fn sub(a: P, b: P) -> P {
    [a[0] - b[0], a[1] - b[1]]
}

pub(crate) fn dot(a: P, b: P) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

pub(crate) fn cross(a: P, b: P) -> f64 {
    a[0] * b[1] - a[1] * b[0]
}

pub(crate) fn norm(a: P) -> f64 {
    dot(a, a).sqrt()
}

/// `p ↦ a·p + t` (a row-major 2×2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Affine {
    pub a: [[f64; 2]; 2],
    pub t: P,
}

impl Affine {
    pub fn apply(&self, p: P) -> P {
        [
            self.a[0][0] * p[0] + self.a[0][1] * p[1] + self.t[0],
            self.a[1][0] * p[0] + self.a[1][1] * p[1] + self.t[1],
        ]
    }

    /// The affine map with linear part `a` taking `from` to `to`.
    pub fn through(a: [[f64; 2]; 2], from: P, to: P) -> Self {
        let moved = Affine { a, t: [0.0; 2] }.apply(from);
        Affine {
            a,
            t: sub(to, moved),
        }
    }

    /// The map taking target bone `(a_t, b_t)` onto source bone `(a_s, b_s)`: along the bone it
    /// scales by the length ratio (the joints map exactly onto each other), across it by
    /// `perp_scale`, and the across direction turns with the bone. `None` for a target bone of
    /// (near) zero length.
    pub fn bone(a_t: P, b_t: P, a_s: P, b_s: P, perp_scale: f64) -> Option<Self> {
        let d_t = sub(b_t, a_t);
        let len_t = norm(d_t);
        if len_t < 1e-3 {
            return None;
        }
        let e_t = [d_t[0] / len_t, d_t[1] / len_t];
        let n_t = [-e_t[1], e_t[0]];
        let d_s = sub(b_s, a_s);
        let len_s = norm(d_s);
        // A zero-length source bone has no direction: keep the target's across it.
        let n_s = if len_s < 1e-9 {
            n_t
        } else {
            [-d_s[1] / len_s, d_s[0] / len_s]
        };
        // A = (d_s ⊗ e_t) / len_t + perp_scale · (n_s ⊗ n_t)
        let mut a = [[0.0; 2]; 2];
        for (i, row) in a.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = d_s[i] * e_t[j] / len_t + perp_scale * n_s[i] * n_t[j];
            }
        }
        Some(Affine::through(a, a_t, a_s))
    }
}

/// The mean of a non-empty point set.
pub(crate) fn centroid(pts: &[P]) -> P {
    let n = pts.len() as f64;
    let s = pts
        .iter()
        .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
    [s[0] / n, s[1] / n]
}

/// From the neck to the hips' centre of `pose` (either hip will do), if it has a neck and a
/// hip: the body's axis, down.
pub(crate) fn neck_to_hips(pose: &crate::pose::Pose) -> Option<P> {
    use crate::pose::skeleton::{L_HIP, NECK, R_HIP};
    let hips: Vec<P> = [R_HIP, L_HIP].iter().filter_map(|&j| xy(pose, j)).collect();
    if hips.is_empty() {
        return None;
    }
    Some(sub(centroid(&hips), xy(pose, NECK)?))
}

/// Centroids and centred point lists of corresponding point sets.
fn centred(tgt: &[P], src: &[P]) -> (P, P, Vec<P>, Vec<P>) {
    let (ct, cs) = (centroid(tgt), centroid(src));
    let q = tgt.iter().map(|&p| sub(p, ct)).collect();
    let r = src.iter().map(|&p| sub(p, cs)).collect();
    (ct, cs, q, r)
}

/// Least-squares similarity (rotation + uniform scale, no reflection) of the linear part taking
/// the centred target points onto the centred source points; `None` if the target points all
/// coincide. Exact for point sets related by a similarity.
pub(crate) fn similarity_linear(tgt: &[P], src: &[P]) -> Option<[[f64; 2]; 2]> {
    if tgt.len() < 2 {
        return None;
    }
    let (_, _, q, r) = centred(tgt, src);
    let qq: f64 = q.iter().map(|&v| dot(v, v)).sum();
    if qq < 1e-9 {
        return None;
    }
    let a = q.iter().zip(&r).map(|(&q, &r)| dot(q, r)).sum::<f64>() / qq;
    let b = q.iter().zip(&r).map(|(&q, &r)| cross(q, r)).sum::<f64>() / qq;
    Some([[a, -b], [b, a]])
}

/// Least-squares similarity that may mirror: of [`similarity_linear`] and the best
/// reflection-with-scale (`[[a, b], [b, −a]]`), the one whose residual is smaller by more than
/// `margin` of the point spread, else the plain similarity. A figure turned round shows its
/// left shoulder where its right one was, and no rotation explains that: only a mirror does,
/// at full width. Both residuals are `Σ|r|² − s²·Σ|q|²` with `s` the fit's scale, so the fit
/// with the larger scale explains more.
pub(crate) fn similarity_or_mirror(tgt: &[P], src: &[P], margin: f64) -> Option<[[f64; 2]; 2]> {
    let plain = similarity_linear(tgt, src)?;
    let (_, _, q, r) = centred(tgt, src);
    let qq: f64 = q.iter().map(|&v| dot(v, v)).sum();
    let rr: f64 = r.iter().map(|&v| dot(v, v)).sum();
    let a = q
        .iter()
        .zip(&r)
        .map(|(q, r)| q[0] * r[0] - q[1] * r[1])
        .sum::<f64>()
        / qq;
    let b = q
        .iter()
        .zip(&r)
        .map(|(q, r)| q[1] * r[0] + q[0] * r[1])
        .sum::<f64>()
        / qq;
    let s2_plain = plain[0][0].powi(2) + plain[1][0].powi(2);
    let s2_mirror = a * a + b * b;
    if (s2_mirror - s2_plain) * qq > margin * rr {
        Some([[a, b], [b, -a]])
    } else {
        Some(plain)
    }
}

/// Least-squares affine map from target to source points, its linear part regularised towards
/// `prior` (the part's similarity): minimises `Σ|A qᵢ − rᵢ|² + λ‖A − prior‖²` over centred
/// points, then fixes the translation so the centroids correspond. With `λ > 0` it is always
/// well-posed (one point: `A = prior`); when the points are related by a map whose linear part
/// is `prior` itself (a rigid motion and its exact similarity), `A = prior` exactly.
pub(crate) fn regularised_affine(
    tgt: &[P],
    src: &[P],
    prior: [[f64; 2]; 2],
    lambda: f64,
) -> Affine {
    let (ct, cs, q, r) = centred(tgt, src);
    // M = Σ r qᵀ + λ prior, N = Σ q qᵀ + λ I, A = M N⁻¹.
    let mut m = prior.map(|row| row.map(|v| v * lambda));
    let mut n = [[lambda, 0.0], [0.0, lambda]];
    for (q, r) in q.iter().zip(&r) {
        for i in 0..2 {
            for j in 0..2 {
                m[i][j] += r[i] * q[j];
                n[i][j] += q[i] * q[j];
            }
        }
    }
    let det = n[0][0] * n[1][1] - n[0][1] * n[1][0];
    let inv = [
        [n[1][1] / det, -n[0][1] / det],
        [-n[1][0] / det, n[0][0] / det],
    ];
    let mut a = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            a[i][j] = m[i][0] * inv[0][j] + m[i][1] * inv[1][j];
        }
    }
    Affine::through(a, ct, cs)
}

/// `xf` held near-rigid about `centre` (the target joints' centroid, which keeps its image):
/// each of its linear part's singular values within a factor `1 + max_change` of `prior`'s
/// scale, then its area ratio (|det|) within the same factor of `prior`'s by a uniform scale.
/// The torso and the head are (nearly) rigid, and an affine fit of a few joints that moved
/// independently (a retargeted driver's hips and shoulders) must not squash or stretch them.
/// Per axis, not only by area: a torso seen in profile in one pose and from the front in the
/// other fits a map that squashes it across; scaling that up uniformly to its area stretched
/// it along the spine instead (the shirt off the shoulders, the chest in the belly).
pub(crate) fn area_limited(xf: Affine, prior: [[f64; 2]; 2], centre: P, max_change: f64) -> Affine {
    let det = |a: &[[f64; 2]; 2]| (a[0][0] * a[1][1] - a[0][1] * a[1][0]).abs();
    let want = det(&prior);
    if want < 1e-12 || !max_change.is_finite() {
        return xf;
    }
    let k = 1.0 + max_change;
    let scale = want.sqrt();
    let a = singular_clamped(xf.a, scale / k, scale * k);
    let d = det(&a);
    if d < 1e-12 {
        return xf;
    }
    let f = (d.clamp(want / k, want * k) / d).sqrt();
    Affine::through(a.map(|row| row.map(|v| v * f)), centre, xf.apply(centre))
}

/// `a` with its singular values' magnitudes clamped to `[lo, hi]`, its rotations and its
/// handedness kept: a = R(φ)·diag(σ₁, σ₂)·R(θ) with σ₂ negative for a mirror.
pub(crate) fn singular_clamped(a: [[f64; 2]; 2], lo: f64, hi: f64) -> [[f64; 2]; 2] {
    let e = (a[0][0] + a[1][1]) / 2.0;
    let f = (a[0][0] - a[1][1]) / 2.0;
    let g = (a[1][0] + a[0][1]) / 2.0;
    let h = (a[1][0] - a[0][1]) / 2.0;
    let (q, r) = (e.hypot(h), f.hypot(g));
    let (a1, a2) = (g.atan2(f), h.atan2(e));
    let (theta, phi) = ((a2 - a1) / 2.0, (a2 + a1) / 2.0);
    let s1 = (q + r).clamp(lo, hi);
    let s2 = (q - r).abs().clamp(lo, hi) * if q < r { -1.0 } else { 1.0 };
    let rot = |t: f64| [[t.cos(), -t.sin()], [t.sin(), t.cos()]];
    let (u, v) = (rot(phi), rot(theta));
    let us = [[u[0][0] * s1, u[0][1] * s2], [u[1][0] * s1, u[1][1] * s2]];
    let mut out = [[0.0; 2]; 2];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, o) in row.iter_mut().enumerate() {
            *o = us[i][0] * v[0][j] + us[i][1] * v[1][j];
        }
    }
    out
}

/// A bone's shape: the set of points at distance 0.
#[derive(Clone, Debug)]
pub(crate) enum Shape {
    Point(P),
    Segment(P, P),
    /// A convex polygon, counter-clockwise (y down: as `cross` orders it), ≥ 3 vertices.
    Polygon(Vec<P>),
}

fn segment_distance(p: P, a: P, b: P) -> f64 {
    segment_distance2(p, a, b).sqrt()
}

/// The squared distance from `p` to the segment `a`–`b`. A polygon's distance is the root of
/// the least of these: one square root per point instead of one per edge (the same value,
/// the root being monotonic and correctly rounded), for the warp's per-pixel, per-part test.
fn segment_distance2(p: P, a: P, b: P) -> f64 {
    let ab = sub(b, a);
    let len2 = dot(ab, ab);
    let t = if len2 > 0.0 {
        (dot(sub(p, a), ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let d = sub(p, [a[0] + t * ab[0], a[1] + t * ab[1]]);
    dot(d, d)
}

impl Shape {
    /// The convex hull of `pts` (a point or a segment when they are (nearly) collinear).
    pub fn hull(pts: &[P]) -> Shape {
        let mut v: Vec<P> = pts.to_vec();
        v.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
        v.dedup();
        if v.len() == 1 {
            return Shape::Point(v[0]);
        }
        // Andrew's monotone chain.
        let mut hull: Vec<P> = Vec::with_capacity(2 * v.len());
        for pass in 0..2 {
            let start = hull.len();
            let iter: Box<dyn Iterator<Item = &P>> = if pass == 0 {
                Box::new(v.iter())
            } else {
                Box::new(v.iter().rev())
            };
            for &p in iter {
                while hull.len() >= start + 2 {
                    let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
                    if cross(sub(b, a), sub(p, a)) <= 0.0 {
                        hull.pop();
                    } else {
                        break;
                    }
                }
                hull.push(p);
            }
            hull.pop();
        }
        // Thin hulls (area negligible against the squared extent) are segments.
        let area2: f64 = (0..hull.len())
            .map(|i| cross(hull[i], hull[(i + 1) % hull.len()]))
            .sum::<f64>()
            .abs();
        let (lo, hi) = (v[0], v[v.len() - 1]);
        let extent2 = v
            .iter()
            .flat_map(|a| v.iter().map(move |b| dot(sub(*a, *b), sub(*a, *b))))
            .fold(0.0, f64::max);
        if hull.len() < 3 || area2 < 1e-6 * extent2 {
            // The farthest pair spans the segment.
            let mut best = (lo, hi, -1.0);
            for &a in &v {
                for &b in &v {
                    let d = dot(sub(a, b), sub(a, b));
                    if d > best.2 {
                        best = (a, b, d);
                    }
                }
            }
            return Shape::Segment(best.0, best.1);
        }
        Shape::Polygon(hull)
    }

    /// The smallest axis-aligned box holding the shape: `[x0, y0, x1, y1]`.
    pub fn bounds(&self) -> Bounds {
        let pts: &[P] = match self {
            Shape::Point(a) => std::slice::from_ref(a),
            Shape::Segment(a, b) => return Bounds::around(&[*a, *b]),
            Shape::Polygon(v) => v,
        };
        Bounds::around(pts)
    }

    /// Euclidean distance from `p` to the shape (0 inside a polygon).
    pub fn distance(&self, p: P) -> f64 {
        match self {
            Shape::Point(a) => norm(sub(p, *a)),
            Shape::Segment(a, b) => segment_distance(p, *a, *b),
            Shape::Polygon(v) => {
                // Each edge with its successor vertex, the last closing the polygon.
                let edges = || v.iter().zip(v.iter().skip(1).chain(&v[..1]));
                if edges().all(|(&a, &b)| cross(sub(b, a), sub(p, a)) >= 0.0) {
                    return 0.0;
                }
                edges()
                    .map(|(&a, &b)| segment_distance2(p, a, b))
                    .fold(f64::INFINITY, f64::min)
                    .sqrt()
            }
        }
    }
}

/// An axis-aligned box, `[x0, y0, x1, y1]`; empty when `x0 > x1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bounds(pub [f64; 4]);

impl Bounds {
    pub const EMPTY: Bounds = Bounds([
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ]);

    fn around(pts: &[P]) -> Bounds {
        pts.iter().fold(Bounds::EMPTY, |b, p| {
            b.union(Bounds([p[0], p[1], p[0], p[1]]))
        })
    }

    /// Grown by `m` on every side.
    pub fn grown(self, m: f64) -> Bounds {
        let [x0, y0, x1, y1] = self.0;
        Bounds([x0 - m, y0 - m, x1 + m, y1 + m])
    }

    pub fn union(self, o: Bounds) -> Bounds {
        Bounds([
            self.0[0].min(o.0[0]),
            self.0[1].min(o.0[1]),
            self.0[2].max(o.0[2]),
            self.0[3].max(o.0[3]),
        ])
    }

    /// Whether `p` lies strictly outside the box: then every point of the box is farther
    /// than the box's margin from it.
    pub fn excludes(self, p: P) -> bool {
        p[0] < self.0[0] || p[0] > self.0[2] || p[1] < self.0[1] || p[1] > self.0[3]
    }

    /// Whether every point of the box is farther than `d` from `p` (a lower bound on the
    /// distance to any shape inside it, tested without a square root).
    pub fn farther_than(self, p: P, d: f64) -> bool {
        let dx = (self.0[0] - p[0]).max(p[0] - self.0[2]).max(0.0);
        let dy = (self.0[1] - p[1]).max(p[1] - self.0[3]).max(0.0);
        dx * dx + dy * dy > d * d
    }

    /// Whether row `y` misses the box.
    pub fn excludes_row(self, y: f64) -> bool {
        y < self.0[1] || y > self.0[3]
    }
}

/// Joint `j` of `pose` as a point, if present.
pub(crate) fn xy(pose: &crate::pose::Pose, j: usize) -> Option<P> {
    pose.get(j).map(|p| [p.x as f64, p.y as f64])
}

/// `0` below `e0`, `1` above `e1`, the cubic `3t² − 2t³` between.
pub(crate) fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hull_distance_inside_outside_and_degenerate() {
        let sq = Shape::hull(&[[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [2.0, 2.0]]);
        assert!(matches!(&sq, Shape::Polygon(v) if v.len() == 4));
        assert_eq!(sq.distance([1.0, 3.0]), 0.0);
        assert!((sq.distance([7.0, 2.0]) - 3.0).abs() < 1e-12);
        assert!((sq.distance([7.0, 8.0]) - 5.0).abs() < 1e-12);
        let line = Shape::hull(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]);
        assert!(matches!(line, Shape::Segment(..)));
        assert!((line.distance([2.0, 0.0]) - 2f64.sqrt()).abs() < 1e-12);
        assert!(matches!(
            Shape::hull(&[[3.0, 3.0], [3.0, 3.0]]),
            Shape::Point(_)
        ));
    }

    #[test]
    fn singular_values_are_clamped_keeping_rotations_and_handedness() {
        let rot = |t: f64| [[t.cos(), -t.sin()], [t.sin(), t.cos()]];
        let mul = |a: [[f64; 2]; 2], b: [[f64; 2]; 2]| {
            let mut o = [[0.0; 2]; 2];
            for i in 0..2 {
                for j in 0..2 {
                    o[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
                }
            }
            o
        };
        let diag = |a: f64, b: f64| [[a, 0.0], [0.0, b]];
        let close = |a: [[f64; 2]; 2], b: [[f64; 2]; 2]| {
            (0..4).all(|k| (a[k / 2][k % 2] - b[k / 2][k % 2]).abs() < 1e-9)
        };
        for (s1, s2) in [(1.05, 0.97), (2.0, 0.3), (0.5, -1.0), (3.0, -0.2)] {
            let a = mul(mul(rot(0.7), diag(s1, s2)), rot(-1.9));
            let got = singular_clamped(a, 0.9, 1.1);
            let want = mul(
                mul(
                    rot(0.7),
                    diag(s1.clamp(0.9, 1.1), s2.abs().clamp(0.9, 1.1) * s2.signum()),
                ),
                rot(-1.9),
            );
            assert!(close(got, want), "({s1}, {s2}): {got:?} vs {want:?}");
        }
    }

    #[test]
    fn a_mirror_is_fitted_only_where_it_explains_the_points() {
        // Mirrored about a tilted axis and scaled by 1.5: the mirror, exactly.
        let tgt = [[0.0, 0.0], [3.0, 1.0], [1.0, 4.0], [-2.0, 2.0], [1.0, -3.0]];
        let (c, s) = (0.8f64, 0.6f64);
        let mirror = [[1.5 * c, 1.5 * s], [1.5 * s, -1.5 * c]];
        let apply = |a: [[f64; 2]; 2], p: P| {
            [
                a[0][0] * p[0] + a[0][1] * p[1] + 7.0,
                a[1][0] * p[0] + a[1][1] * p[1] - 1.0,
            ]
        };
        let src: Vec<P> = tgt.iter().map(|&p| apply(mirror, p)).collect();
        let got = similarity_or_mirror(&tgt, &src, 0.2).unwrap();
        for i in 0..2 {
            for j in 0..2 {
                assert!((got[i][j] - mirror[i][j]).abs() < 1e-12, "{got:?}");
            }
        }
        // Rotated: the rotation.
        let rot = [[c, -s], [s, c]];
        let src: Vec<P> = tgt.iter().map(|&p| apply(rot, p)).collect();
        assert_eq!(
            similarity_or_mirror(&tgt, &src, 0.2),
            similarity_linear(&tgt, &src)
        );
        // Points on a line fit both equally (a torso seen in profile): no mirror.
        let line = [[0.0, 0.0], [0.0, 2.0], [0.0, 5.0]];
        let src: Vec<P> = line.iter().map(|&p| [p[0] + 0.1 * p[1], p[1]]).collect();
        let got = similarity_or_mirror(&line, &src, 0.2).unwrap();
        assert!(
            got[0][0] * got[1][1] - got[0][1] * got[1][0] > 0.0,
            "{got:?}"
        );
    }

    #[test]
    fn fits_are_exact_for_rigid_motions() {
        let (c, s) = (0.6f64, 0.8f64);
        let rot = |p: P| [c * p[0] - s * p[1] + 5.0, s * p[0] + c * p[1] - 2.0];
        let tgt = [[0.0, 0.0], [3.0, 1.0], [1.0, 4.0], [-2.0, 2.0]];
        let src: Vec<P> = tgt.iter().map(|&p| rot(p)).collect();
        let sim = similarity_linear(&tgt, &src).unwrap();
        let aff = regularised_affine(&tgt, &src, sim, 3.0);
        let bone = Affine::bone(tgt[0], tgt[1], src[0], src[1], 1.0).unwrap();
        for p in [[10.0, -3.0], [0.5, 0.5], [-7.0, 9.0]] {
            for m in [aff, bone] {
                let (got, want) = (m.apply(p), rot(p));
                assert!(norm(sub(got, want)) < 1e-9, "{got:?} vs {want:?}");
            }
        }
    }

    /// What the warp's and the ownership's early-outs rest on: a point outside a shape's box
    /// grown by `m` is farther than `m` from the shape.
    #[test]
    fn a_point_outside_the_grown_box_is_farther_than_the_margin() {
        let shapes = [
            Shape::Point([10.0, 20.0]),
            Shape::Segment([0.0, 0.0], [30.0, 12.0]),
            Shape::hull(&[[0.0, 0.0], [20.0, 0.0], [25.0, 18.0], [3.0, 22.0]]),
        ];
        let mut rng = crate::util::rng::SplitMix64::new(5);
        for shape in &shapes {
            let b = shape.bounds().grown(7.5);
            let (mut outside, mut inside) = (0, 0);
            for _ in 0..2000 {
                let p = [rng.next_u64(), rng.next_u64()].map(|v| (v % 8000) as f64 / 100.0 - 20.0);
                if b.excludes(p) {
                    outside += 1;
                    assert!(shape.distance(p) > 7.5, "{p:?} {shape:?}");
                } else {
                    inside += 1;
                }
            }
            assert!(outside > 100 && inside > 20, "{outside} {inside}");
        }
        assert!(Bounds::EMPTY.excludes([0.0, 0.0]) && Bounds::EMPTY.excludes_row(0.0));
    }

    /// `farther_than` is a true lower bound of a shape's distance (the warp skips parts on
    /// it), and tight: on a grid of points around a polygon, a segment and a point, a shape
    /// is never nearer than its box says, and the box test agrees with the box's own distance.
    #[test]
    fn a_box_is_never_farther_than_its_shape() {
        let shapes = [
            Shape::hull(&[[10.0, 5.0], [30.0, 8.0], [25.0, 30.0], [12.0, 22.0]]),
            Shape::Segment([3.0, 40.0], [28.0, 12.0]),
            Shape::Point([17.0, 17.0]),
        ];
        for shape in &shapes {
            let b = shape.bounds();
            for y in -20..60 {
                for x in -20..60 {
                    let p = [x as f64 * 0.9, y as f64 * 1.1];
                    let d = shape.distance(p);
                    let dx = (b.0[0] - p[0]).max(p[0] - b.0[2]).max(0.0);
                    let dy = (b.0[1] - p[1]).max(p[1] - b.0[3]).max(0.0);
                    let box_d = dx.hypot(dy);
                    assert!(box_d <= d + 1e-9, "{shape:?} at {p:?}: box {box_d} > {d}");
                    for limit in [0.0, 2.5, 7.0, 15.0] {
                        if b.farther_than(p, limit) {
                            assert!(d > limit - 1e-9, "{shape:?} at {p:?}: {d} ≤ {limit}");
                        }
                        if (box_d - limit).abs() > 1e-9 {
                            assert_eq!(b.farther_than(p, limit), box_d > limit);
                        }
                    }
                }
            }
        }
    }
}
