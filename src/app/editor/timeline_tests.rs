//! Tests of the editor's timeline ([`super`]).
use super::*;
use crate::app::project::Mode;
use crate::app::EditorOptions;
use crate::pose::rig::dist;
use crate::pose::rig::Rig;
use crate::pose::skeleton::{L_ELBOW, L_SHOULDER, R_ELBOW, R_SHOULDER, R_WRIST};
use crate::pose::Pose;
use crate::puppet::{Layer, Limb, LimbOrder};
use image::RgbImage;
use std::time::Duration;

/// An editor posing the template on a blank 200×300 photo; no detector, no composite.
fn editor(dir: &std::path::Path) -> Editor {
    let photo = dir.join("blank.png");
    RgbImage::new(200, 300).save(&photo).unwrap();
    let options = EditorOptions {
        detect: false,
        composite: false,
        ..Default::default()
    };
    let mut e = Editor::new(options, || {});
    e.open_photo(&photo).unwrap();
    e.set_mode(Mode::PoseTarget);
    e
}

/// Swings the right forearm (bone lengths kept) a little further each call.
fn swing(e: &mut Editor, dy: f32) {
    let w = e.doc.target.points[R_WRIST];
    e.begin_drag(crate::app::editor::Which::Target, R_WRIST, true);
    e.drag_to([w[0] + 10.0, w[1] - dy]);
    e.end_drag();
}

fn rigs(e: &Editor) -> Vec<Rig> {
    e.doc
        .timeline
        .keyframes
        .iter()
        .map(|k| k.rig.clone())
        .collect()
}

/// Three poses a, b, c through the timeline's buttons: order, selection and one undo step
/// each.
#[test]
fn add_select_move_duplicate_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor(dir.path());
    let a = e.doc.target.clone();
    e.add_keyframe();
    swing(&mut e, 40.0);
    let b = e.doc.target.clone();
    e.add_keyframe();
    swing(&mut e, 40.0);
    let c = e.doc.target.clone();
    e.add_keyframe();
    assert_eq!(rigs(&e), [a.clone(), b.clone(), c.clone()]);
    assert_eq!(e.timeline.selected, Some(2));
    assert_eq!(e.timeline.playhead, 2.0);

    // Selecting poses the target as the keyframe, undoably.
    e.select_keyframe(0);
    assert_eq!(e.doc.target, a);
    assert_eq!(e.timeline.selected, Some(0));
    e.undo();
    assert_eq!(e.doc.target, c);
    e.redo();

    // Adding after the selected one inserts there.
    swing(&mut e, -80.0);
    let d = e.doc.target.clone();
    e.add_keyframe();
    assert_eq!(rigs(&e), [a.clone(), d.clone(), b.clone(), c.clone()]);
    assert_eq!(e.timeline.selected, Some(1));

    // Move later twice, then earlier once: the keyframe carries its duration along.
    e.set_keyframe_duration(1, 0.25, false);
    e.move_keyframe(true);
    e.move_keyframe(true);
    assert_eq!(rigs(&e), [a.clone(), b.clone(), c.clone(), d.clone()]);
    assert_eq!(e.timeline.selected, Some(3));
    assert_eq!(e.doc.timeline.keyframes[3].duration, 0.25);
    e.move_keyframe(true); // already last: nothing
    assert_eq!(rigs(&e), [a.clone(), b.clone(), c.clone(), d.clone()]);
    e.move_keyframe(false);
    assert_eq!(rigs(&e), [a.clone(), b.clone(), d.clone(), c.clone()]);
    assert_eq!(e.timeline.selected, Some(2));

    // Duplicate sits after the original, selected; delete selects its neighbour.
    e.duplicate_keyframe();
    assert_eq!(
        rigs(&e),
        [a.clone(), b.clone(), d.clone(), d.clone(), c.clone()]
    );
    assert_eq!(e.timeline.selected, Some(3));
    e.delete_keyframe();
    e.delete_keyframe();
    assert_eq!(rigs(&e), [a.clone(), b.clone(), d.clone()]);
    assert_eq!(e.timeline.selected, Some(2));

    // Every change above was one undo step: undo them back to the three keyframes.
    for _ in 0..2 {
        e.undo(); // the deletes
    }
    e.undo(); // the duplicate
    assert_eq!(rigs(&e), [a.clone(), b.clone(), d.clone(), c.clone()]);
    for _ in 0..3 {
        e.undo(); // the moves (the no-op was none)
    }
    e.undo(); // the duration
    assert_eq!(e.doc.timeline.keyframes[1].duration, 1.0);
    e.undo(); // the added d
    assert_eq!(rigs(&e), [a.clone(), b, c]);
    // Undo past the end of the list leaves no selection dangling.
    e.undo(); // the swing that made d
    e.undo(); // the redo's select
    e.undo(); // c
    e.undo(); // the swing to c
    e.undo(); // b
    e.tick_timeline(Instant::now());
    assert_eq!(rigs(&e), [a]);
    assert_eq!(e.timeline.selected, Some(0));
}

/// Scrubbing and playing show the interpolated pose (bone lengths kept) and record
/// nothing; the next real edit is undoable as usual.
#[test]
fn scrubbing_and_playing_record_no_undo_steps() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor(dir.path());
    e.add_keyframe();
    swing(&mut e, 60.0);
    e.add_keyframe();
    let two = e.doc.clone();
    let len = |r: &Rig, a: usize, b: usize| dist(r.points[a], r.points[b]);

    for i in 0..=30 {
        e.scrub_to(i as f32 / 30.0);
        e.tick_timeline(Instant::now());
    }
    e.scrub_to(0.5);
    let mid = e.doc.target.clone();
    assert_eq!(mid, e.doc.timeline.sample(0.5).unwrap());
    assert_eq!(e.timeline.current_frame(&e.doc), Some(6));
    let (k0, k1) = (
        &two.timeline.keyframes[0].rig,
        &two.timeline.keyframes[1].rig,
    );
    assert_ne!(mid.points[R_WRIST], k0.points[R_WRIST]);
    assert_ne!(mid.points[R_WRIST], k1.points[R_WRIST]);
    for (p, c) in [
        (R_SHOULDER, R_ELBOW),
        (R_ELBOW, R_WRIST),
        (L_SHOULDER, L_ELBOW),
    ] {
        assert!((len(&mid, p, c) - len(k0, p, c)).abs() < 1e-3);
    }

    // Playback: half a second in at 12 fps is frame 6; past the end it loops.
    let t0 = Instant::now();
    e.scrub_to(0.0);
    e.toggle_play_at(t0);
    assert!(e.timeline.playing());
    e.tick_timeline(t0 + Duration::from_millis(510));
    assert_eq!(e.doc.target, e.doc.timeline.frame(6, 12.0).unwrap());
    let wait = e
        .timeline
        .until_next_frame(12.0, t0 + Duration::from_millis(510))
        .unwrap();
    assert!(
        (wait.as_secs_f32() - (7.0 / 12.0 - 0.51)).abs() < 1e-4,
        "{wait:?}"
    );
    e.tick_timeline(t0 + Duration::from_millis(1010)); // frame 12, the last
    assert_eq!(e.doc.target, two.timeline.keyframes[1].rig);
    e.tick_timeline(t0 + Duration::from_millis(1090)); // frame 13 = frame 0
    assert_eq!(e.doc.target, two.timeline.keyframes[0].rig);
    e.tick_timeline(t0 + Duration::from_millis(1260)); // frame 15 = frame 2
    let shown = e.doc.target.clone();
    assert_eq!(shown, e.doc.timeline.frame(2, 12.0).unwrap());

    // Dragging a joint while playing stops playback where it was.
    swing(&mut e, 10.0);
    e.tick_timeline(t0 + Duration::from_millis(1400));
    assert!(!e.timeline.playing());
    // That drag is one undo step back to the frame shown; the next is the second
    // keyframe's addition: scrubbing and playing left no steps behind.
    e.undo();
    assert_eq!(e.doc.target, shown);
    e.undo();
    assert_eq!(e.doc.timeline.keyframes.len(), 1);

    // Without looping, playback stops on the last frame.
    e.redo();
    e.timeline.looping = false;
    e.scrub_to(0.0);
    let t0 = Instant::now();
    e.toggle_play_at(t0);
    e.tick_timeline(t0 + Duration::from_secs(5));
    assert!(!e.timeline.playing());
    assert_eq!(e.doc.target, two.timeline.keyframes[1].rig);
}

/// Dragging the duration is one undo step, however many values it went through; fps and
/// durations are clamped.
#[test]
fn a_dragged_duration_is_one_undo_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor(dir.path());
    e.add_keyframe();
    e.add_keyframe();
    e.begin_edit();
    for i in 1..=20 {
        e.set_keyframe_duration(0, 1.0 + i as f32 * 0.1, true);
    }
    e.end_edit();
    assert_eq!(e.doc.timeline.keyframes[0].duration, 3.0);
    e.undo();
    assert_eq!(e.doc.timeline.keyframes[0].duration, 1.0);
    assert_eq!(e.doc.timeline.keyframes.len(), 2);
    e.set_keyframe_duration(0, 1e9, false);
    assert_eq!(e.doc.timeline.keyframes[0].duration, MAX_DURATION);
    e.set_keyframe_duration(0, f32::NAN, false);
    assert_eq!(e.doc.timeline.keyframes[0].duration, MAX_DURATION);
    e.set_timeline_fps(1000.0, false);
    assert_eq!(e.doc.timeline.fps, 100.0);
    e.set_keyframe_easing(0, Easing::Step);
    assert_eq!(e.doc.timeline.keyframes[0].easing, Easing::Step);
    // Nothing to act on: a message, no panic, no change.
    let before = e.doc.clone();
    e.timeline.selected = None;
    e.delete_keyframe();
    e.move_keyframe(false);
    e.set_keyframe_duration(7, 1.0, false);
    assert_eq!(e.doc, before);
    assert_eq!(e.notice.as_ref().unwrap().text, "Select a keyframe first");
}

/// While fitting the source, the timeline does nothing (the target is the source there).
#[test]
fn fitting_the_source_does_not_animate() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor(dir.path());
    e.set_mode(Mode::FitSource);
    e.add_keyframe();
    assert!(e.doc.timeline.is_empty());
    assert!(!e.can_undo());
}

fn preview(frame_pose: &Pose, request: u64) -> Preview {
    Preview {
        request,
        photo_id: 1,
        source: Pose::missing(),
        target: frame_pose.clone(),
        image: RgbImage::new(4, 4),
        composited: false,
        refined: false,
        order: LimbOrder::default(),
        millis: 30.0,
    }
}

/// A frame's preview is kept when it answers a frame asked for, found only under its exact
/// key, and dropped when the clip changes.
#[test]
fn frames_are_kept_for_their_exact_pose() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor(dir.path());
    e.add_keyframe();
    swing(&mut e, 60.0);
    e.add_keyframe();
    e.tick_timeline(Instant::now());
    let (a, b) = (
        e.doc.timeline.frame(3, 12.0).unwrap().to_pose(),
        e.doc.timeline.frame(4, 12.0).unwrap().to_pose(),
    );
    let key = |p: &Pose| (1, Pose::missing(), p.clone(), false, LimbOrder::default());
    let cache = &mut e.timeline.frames;
    cache.asked(3, key(&a));
    cache.asked(4, key(&b));
    cache.offer(&preview(&b, 9));
    cache.offer(&preview(&a, 8));
    // An answer to nothing asked is not kept.
    cache.offer(&preview(&Pose::missing(), 10));
    assert_eq!(cache.len(), 2);
    assert!(cache.get(3, &key(&a)).is_some());
    assert!(cache.get(3, &key(&b)).is_none(), "frame 3 is not b");
    let auto = LimbOrder::default();
    assert!(cache
        .get(3, &(1, Pose::missing(), a.clone(), true, auto))
        .is_none());
    assert!(cache
        .get(3, &(2, Pose::missing(), a.clone(), false, auto))
        .is_none());
    let mut behind = auto;
    behind.set(Limb::LeftLeg, Some(Layer::Behind));
    assert!(
        cache
            .get(3, &(1, Pose::missing(), a.clone(), false, behind))
            .is_none(),
        "another depth order is another picture"
    );

    // The editor shows a kept frame at once, as its newest preview.
    e.scrub_to(3.0 / 12.0);
    e.latest_request = 42;
    let v = e.preview_version;
    assert!(e.show_cached_frame(&key(&a)));
    assert_eq!(e.preview.as_ref().unwrap().request, 42);
    assert_eq!(e.preview_version, v + 1);
    // Not on that frame any more: nothing shown from the cache.
    e.scrub_to(5.0 / 12.0);
    assert!(!e.show_cached_frame(&key(&a)));

    // Retiming the clip drops the frames.
    e.set_keyframe_duration(0, 2.0, false);
    e.tick_timeline(Instant::now());
    assert!(e.timeline.frames.is_empty());
}

/// A keyframe keeps the depth order it was added with; scrubbing shows each segment with its
/// start keyframe's order (a step), selecting a keyframe restores its order, and changing the
/// order is one undo step.
#[test]
fn keyframes_carry_the_depth_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = editor(dir.path());
    e.add_keyframe();
    swing(&mut e, 60.0);
    e.select_joint(R_WRIST);
    assert_eq!(e.selected_limb(), Some(Limb::RightArm));
    e.cycle_selected_layer();
    assert_eq!(e.doc.order.right_arm, Some(Layer::Front));
    e.cycle_selected_layer();
    assert_eq!(e.doc.order.right_arm, Some(Layer::Behind));
    e.undo();
    assert_eq!(e.doc.order.right_arm, Some(Layer::Front));
    e.redo();
    e.add_keyframe();
    swing(&mut e, 30.0);
    e.set_limb_layer(Limb::RightArm, None);
    e.add_keyframe();
    let k = &e.doc.timeline.keyframes;
    assert_eq!(
        [
            k[0].order.right_arm,
            k[1].order.right_arm,
            k[2].order.right_arm
        ],
        [None, Some(Layer::Behind), None]
    );
    // Halfway through the first segment: automatic; through the second: behind.
    e.scrub_to(0.5);
    assert!(e.doc.order.is_auto());
    e.scrub_to(1.5);
    assert_eq!(e.doc.order.right_arm, Some(Layer::Behind));
    e.select_keyframe(2);
    assert!(e.doc.order.is_auto());
    e.select_keyframe(1);
    assert_eq!(e.doc.order.right_arm, Some(Layer::Behind));
    // Neck and face joints have no limb: D says what to do instead of changing anything.
    e.select_joint(crate::pose::skeleton::NECK);
    let before = e.doc.clone();
    e.cycle_selected_layer();
    assert_eq!(e.doc, before);
    // Mirroring the pose hands the setting to the other arm; a reset clears it.
    e.mirror();
    assert_eq!(e.doc.order.left_arm, Some(Layer::Behind));
    assert_eq!(e.doc.order.right_arm, None);
    e.reset_target();
    assert!(e.doc.order.is_auto());
}
