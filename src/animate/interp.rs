//! Interpolation between two rigs in the kinematic tree.
//!
//! A straight line between joint positions shortens every bone that turns (a forearm swinging
//! through 90° passes through 71 % of its length) and makes limbs slide rather than swing. Here
//! the root (the neck) is translated, every other joint turns about its parent by the
//! interpolated *local* angle (its bone's direction relative to the parent's bone, on the
//! shorter arc), and bone lengths are interpolated, which keeps them exactly when both rigs
//! agree, as they do for keyframes of one person.

use crate::pose::rig::{Point, Rig, PARENT};
use crate::pose::NUM_JOINTS;
use std::f32::consts::{PI, TAU};

/// The joints in an order where every parent comes before its children (the tree's
/// breadth-first order from the root).
pub fn tree_order() -> [usize; NUM_JOINTS] {
    let mut order = [0usize; NUM_JOINTS];
    let mut n = 0;
    let root = (0..NUM_JOINTS)
        .find(|&j| PARENT[j].is_none())
        .expect("the kinematic tree has a root");
    order[n] = root;
    n += 1;
    let mut head = 0;
    while head < n {
        let p = order[head];
        head += 1;
        for (j, parent) in PARENT.iter().enumerate() {
            if *parent == Some(p) {
                order[n] = j;
                n += 1;
            }
        }
    }
    debug_assert_eq!(n, NUM_JOINTS, "every joint hangs from the root");
    order
}

/// The root of the tree (the neck).
pub fn root() -> usize {
    tree_order()[0]
}

/// Direction (radians, image axes: x right, y down) of the bone from `j`'s parent to `j`.
pub fn bone_angle(points: &[Point; NUM_JOINTS], j: usize) -> Option<f32> {
    let p = PARENT[j]?;
    let d = [points[j][0] - points[p][0], points[j][1] - points[p][1]];
    Some(d[1].atan2(d[0]))
}

/// `j`'s bone direction relative to its parent's bone (absolute for the root's children).
fn local_angle(points: &[Point; NUM_JOINTS], j: usize) -> f32 {
    let own = bone_angle(points, j).unwrap_or(0.0);
    match PARENT[j].and_then(|p| bone_angle(points, p)) {
        Some(parent) => wrap(own - parent),
        None => own,
    }
}

/// An angle brought into (−π, π].
pub fn wrap(a: f32) -> f32 {
    let w = (a + PI).rem_euclid(TAU) - PI;
    if w <= -PI {
        w + TAU
    } else {
        w
    }
}

/// The rig between `a` (t = 0) and `b` (t = 1). The ends are returned exactly; in between a
/// joint is visible only where it is visible in both (a hidden joint stays hidden through the
/// segment rather than blinking in half-way).
pub fn interpolate(a: &Rig, b: &Rig, t: f32) -> Rig {
    if t <= 0.0 || a == b {
        return a.clone();
    }
    if t >= 1.0 {
        return b.clone();
    }
    let order = tree_order();
    let mut points = [[0.0f32; 2]; NUM_JOINTS];
    let mut absolute = [0.0f32; NUM_JOINTS];
    for &j in &order {
        let Some(p) = PARENT[j] else {
            points[j] = lerp_point(a.points[j], b.points[j], t);
            continue;
        };
        let (la, lb) = (local_angle(&a.points, j), local_angle(&b.points, j));
        let local = la + wrap(lb - la) * t;
        // The root's children turn in the image frame, the others relative to their parent's
        // bone, whose angle was set when the parent was placed.
        let angle = match PARENT[p] {
            Some(_) => absolute[p] + local,
            None => local,
        };
        absolute[j] = angle;
        let len_a = bone_len(&a.points, j, p);
        let len_b = bone_len(&b.points, j, p);
        let len = len_a + (len_b - len_a) * t;
        let (s, c) = angle.sin_cos();
        points[j] = [points[p][0] + len * c, points[p][1] + len * s];
    }
    let visible = std::array::from_fn(|j| a.visible[j] && b.visible[j]);
    Rig { points, visible }
}

fn bone_len(points: &[Point; NUM_JOINTS], j: usize, p: usize) -> f32 {
    crate::pose::rig::dist(points[j], points[p])
}

fn lerp_point(a: Point, b: Point, t: f32) -> Point {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::rig::dist;
    use crate::pose::skeleton::{NECK, R_ELBOW, R_SHOULDER, R_WRIST};

    fn lengths(r: &Rig) -> Vec<f32> {
        (0..NUM_JOINTS).filter_map(|j| r.bone_length(j)).collect()
    }

    fn waving() -> (Rig, Rig) {
        let a = Rig::template(400.0, 600.0);
        let mut b = a.clone();
        let s = b.points[R_SHOULDER];
        // Upper arm out to the side, forearm straight up: a wave.
        b.rotate_limb(R_ELBOW, [s[0] - 300.0, s[1]]);
        let e = b.points[R_ELBOW];
        b.rotate_limb(R_WRIST, [e[0], e[1] - 300.0]);
        // And the whole person steps right and down a little.
        b.drag(
            NECK,
            [b.points[NECK][0] + 40.0, b.points[NECK][1] + 10.0],
            true,
        );
        (a, b)
    }

    #[test]
    fn the_tree_order_puts_parents_first() {
        let order = tree_order();
        let mut seen = [false; NUM_JOINTS];
        for j in order {
            if let Some(p) = PARENT[j] {
                assert!(seen[p], "{j} before its parent {p}");
            }
            seen[j] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(root(), NECK);
    }

    #[test]
    fn ends_are_the_keyframes_exactly_and_bones_keep_their_length() {
        let (a, b) = waving();
        assert_eq!(interpolate(&a, &b, 0.0), a);
        assert_eq!(interpolate(&a, &b, 1.0), b);
        let la = lengths(&a);
        for i in 1..20 {
            let t = i as f32 / 20.0;
            let m = interpolate(&a, &b, t);
            for (x, y) in la.iter().zip(lengths(&m)) {
                assert!((x - y).abs() < 1e-3, "t={t}: bone {x} → {y}");
            }
            // The root is translated linearly.
            let expect = lerp_point(a.points[NECK], b.points[NECK], t);
            assert!(dist(m.points[NECK], expect) < 1e-4);
        }
    }

    #[test]
    fn a_swinging_limb_moves_on_an_arc_not_a_chord() {
        let a = Rig::template(400.0, 600.0);
        let mut b = a.clone();
        let s = a.points[R_SHOULDER];
        let len = dist(a.points[R_ELBOW], s);
        // Swing the arm by 90° about the shoulder, forearm rigid with it.
        let v = [a.points[R_ELBOW][0] - s[0], a.points[R_ELBOW][1] - s[1]];
        b.rotate_limb(R_ELBOW, [s[0] - v[1], s[1] + v[0]]);
        let half = interpolate(&a, &b, 0.5);
        // On the arc the elbow stays at the bone's length from the shoulder and has turned by
        // 45°; the chord's midpoint is at cos 45° of it.
        assert!((dist(half.points[R_ELBOW], s) - len).abs() < 1e-3);
        let angle = |p: Point| (p[1] - s[1]).atan2(p[0] - s[0]);
        let turned = wrap(angle(half.points[R_ELBOW]) - angle(a.points[R_ELBOW]));
        assert!((turned - PI / 4.0).abs() < 1e-4, "turned {turned}");
        // The forearm kept its angle to the upper arm all the way.
        let bend = |r: &Rig| {
            let ua = bone_angle(&r.points, R_ELBOW).unwrap();
            let fa = bone_angle(&r.points, R_WRIST).unwrap();
            wrap(fa - ua)
        };
        assert!((bend(&half) - bend(&a)).abs() < 1e-4);
    }

    #[test]
    fn turns_take_the_shorter_way_round() {
        let a = Rig::template(400.0, 600.0);
        let mut b = a.clone();
        let e = a.points[R_ELBOW];
        let len = dist(a.points[R_WRIST], e);
        // Forearm pointing at −170° in a and +170° in b: 20° apart across ±180°.
        let at = |deg: f32| {
            let r = deg.to_radians();
            [e[0] + len * r.cos(), e[1] + len * r.sin()]
        };
        let mut a = a;
        a.rotate_limb(R_WRIST, at(-170.0));
        b.rotate_limb(R_WRIST, at(170.0));
        let half = interpolate(&a, &b, 0.5);
        let got = bone_angle(&half.points, R_WRIST).unwrap();
        assert!((wrap(got - PI)).abs() < 1e-3, "got {}°", got.to_degrees());
    }

    #[test]
    fn a_joint_hidden_at_either_end_stays_hidden_in_between() {
        let (mut a, b) = waving();
        a.visible[R_WRIST] = false;
        let m = interpolate(&a, &b, 0.5);
        assert!(!m.visible[R_WRIST]);
        assert!(m.visible[R_ELBOW]);
        assert!(interpolate(&a, &b, 1.0).visible[R_WRIST]);
    }
}
