use super::*;
use image::{AnimationDecoder, Rgb};
use std::fs;

/// Gradients (static) with a shaded disc moving right by 7 px per frame.
fn test_frame(i: u32, w: u32, h: u32) -> RgbImage {
    let (cx, cy, radius) = (16.0 + 7.0 * i as f32, h as f32 * 0.5, 11.0);
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        if d < radius {
            let shade = 1.0 - 0.5 * d / radius;
            Rgb([
                (250.0 * shade) as u8,
                (140.0 * shade) as u8,
                (40.0 * shade) as u8,
            ])
        } else {
            Rgb([
                (255.0 * fx) as u8,
                (60.0 + 160.0 * fy) as u8,
                (255.0 * (1.0 - 0.5 * fx - 0.4 * fy)) as u8,
            ])
        }
    })
}

/// Six frames, the third held for 3 periods: 8 periods in all.
fn clip(w: u32, h: u32) -> (Vec<RgbImage>, Vec<u32>) {
    (
        (0..6).map(|i| test_frame(i, w, h)).collect(),
        vec![1, 1, 3, 1, 1, 1],
    )
}

fn write(path: &Path, format: AnimFormat, frames: &[RgbImage], runs: &[u32]) -> Vec<PathBuf> {
    let (w, h) = frames[0].dimensions();
    let mut writer = AnimWriter::create(path, format, w, h, &AnimOptions::default()).unwrap();
    for (f, &r) in frames.iter().zip(runs) {
        writer.push(f, r).unwrap();
    }
    assert_eq!(writer.frames_pushed(), runs.iter().sum::<u32>());
    writer.finish().unwrap()
}

/// The folder's entry names, sorted (temporary files start with '.', so they show).
fn listing(dir: &Path) -> Vec<String> {
    let mut names = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    names.sort();
    names
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    let se: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let mse = se / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

#[test]
fn gif_decodes_to_frames_durations_and_a_steady_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.gif");
    let (w, h) = (96, 64);
    let (frames, runs) = clip(w, h);
    assert_eq!(
        write(&path, AnimFormat::Gif, &frames, &runs),
        vec![path.clone()]
    );
    assert_eq!(listing(dir.path()), ["clip.gif"]);

    // Decode and composite as a viewer does: every frame over the previous (disposal keep),
    // transparent pixels showing what was there.
    let mut opts = ::gif::DecodeOptions::new();
    opts.set_color_output(::gif::ColorOutput::RGBA);
    let mut dec = opts.read_info(fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(dec.repeat(), ::gif::Repeat::Infinite);
    let mut canvas = RgbImage::new(w, h);
    let (mut shown, mut delays, mut areas) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(f) = dec.read_next_frame().unwrap() {
        assert_eq!(f.dispose, ::gif::DisposalMethod::Keep);
        for (i, px) in f.buffer.chunks(4).enumerate() {
            let (x, y) = (
                f.left as u32 + i as u32 % f.width as u32,
                f.top as u32 + i as u32 / f.width as u32,
            );
            if px[3] > 0 {
                canvas.put_pixel(x, y, Rgb([px[0], px[1], px[2]]));
            }
        }
        shown.push(canvas.clone());
        delays.push(f.delay as u32);
        areas.push(f.width as u32 * f.height as u32);
    }
    // One encoded frame per push (the held one is not repeated) ...
    assert_eq!(shown.len(), frames.len());
    // ... the total duration is right to the centisecond (8 periods of 100/12 cs = 66.7 cs;
    // rounding each delay on its own would give 8·6 + 25 = 73 or 65), every delay within 1 cs.
    assert_eq!(delays.iter().sum::<u32>(), 67, "delays {delays:?}");
    for (d, &r) in delays.iter().zip(&runs) {
        assert!(
            (*d as f64 - r as f64 * 100.0 / 12.0).abs() < 1.0,
            "delays {delays:?}"
        );
    }
    // Later frames are the changed rectangle only.
    assert!(
        areas[1..].iter().all(|&a| a < w * h / 2),
        "frame areas {areas:?}"
    );
    for (i, (img, want)) in shown.iter().zip(&frames).enumerate() {
        let q = psnr(img, want);
        assert!(q >= 30.0, "frame {i}: PSNR {q:.1} dB");
    }
    // Pixels unchanged between two inputs are bit-identical between the two shown frames
    // (one palette, no dither noise in static regions).
    for i in 1..frames.len() {
        let mut same = 0;
        for (x, y, p) in frames[i].enumerate_pixels() {
            if frames[i - 1].get_pixel(x, y) == p {
                same += 1;
                assert_eq!(
                    shown[i - 1].get_pixel(x, y),
                    shown[i].get_pixel(x, y),
                    "static pixel ({x}, {y}) changed between shown frames {} and {i}",
                    i - 1
                );
            }
        }
        assert!(same > (w * h / 2) as usize);
    }
}

#[test]
fn apng_decodes_losslessly_with_exact_delays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.png");
    let (w, h) = (96, 64);
    let (frames, runs) = clip(w, h);
    assert_eq!(
        write(&path, AnimFormat::Apng, &frames, &runs),
        vec![path.clone()]
    );
    assert_eq!(listing(dir.path()), ["clip.png"]);

    let mut dec = png::Decoder::new(std::io::BufReader::new(fs::File::open(&path).unwrap()))
        .read_info()
        .unwrap();
    let actl = dec.info().animation_control.unwrap();
    assert_eq!((actl.num_frames, actl.num_plays), (6, 0));
    // Later frames are only the changed rectangle.
    let mut buf = vec![0; dec.output_buffer_size().unwrap()];
    dec.next_frame(&mut buf).unwrap();
    dec.next_frame(&mut buf).unwrap();
    let fctl = dec.info().frame_control.unwrap();
    assert!(fctl.width < w / 2 && fctl.height < h, "{fctl:?}");

    let file = std::io::BufReader::new(fs::File::open(&path).unwrap());
    let decoded = image::codecs::png::PngDecoder::new(file)
        .unwrap()
        .apng()
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), frames.len());
    for (i, (got, want)) in decoded.iter().zip(&frames).enumerate() {
        let rgb = image::DynamicImage::ImageRgba8(got.buffer().clone()).to_rgb8();
        assert_eq!(rgb.dimensions(), (w, h));
        assert!(rgb == *want, "frame {i} differs");
        // run / 12 s exactly, as a fraction of milliseconds.
        let (num, den) = got.delay().numer_denom_ms();
        assert_eq!(
            num as u64 * 12,
            den as u64 * 1000 * runs[i] as u64,
            "frame {i}"
        );
    }
}

#[test]
fn png_sequence_writes_linked_frames_and_keeps_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seq");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), b"keep me").unwrap();
    fs::write(out.join("frame_00001.png"), b"an older export").unwrap();
    let frames = (0..3).map(|i| test_frame(i, 40, 30)).collect::<Vec<_>>();
    let runs = [1, 2, 1];
    let files = write(&out, AnimFormat::PngSequence, &frames, &runs);

    let want = [&frames[0], &frames[1], &frames[1], &frames[2]];
    assert_eq!(files.len(), want.len());
    for (i, (file, want)) in files.iter().zip(want).enumerate() {
        assert_eq!(*file, out.join(format!("frame_{i:05}.png")));
        assert!(image::open(file).unwrap().to_rgb8() == *want, "frame {i}");
    }
    assert_eq!(fs::read(out.join("notes.txt")).unwrap(), b"keep me");
    assert_eq!(listing(&out).len(), 5);
    assert_eq!(listing(dir.path()), ["seq"]); // the temporary folder is gone
                                              // A folder that did not exist is created.
    let fresh = dir.path().join("new/");
    assert_eq!(
        AnimFormat::from_path(&fresh).unwrap(),
        AnimFormat::PngSequence
    );
    assert_eq!(
        write(&fresh, AnimFormat::PngSequence, &frames[..1], &[1]).len(),
        1
    );
    assert_eq!(listing(dir.path()), ["new", "seq"]);
}

#[test]
fn cancel_leaves_the_old_output_and_no_temporary_files() {
    let frames = (0..3).map(|i| test_frame(i, 40, 30)).collect::<Vec<_>>();
    let opts = AnimOptions::default();
    for format in [AnimFormat::Gif, AnimFormat::Apng, AnimFormat::PngSequence] {
        let dir = tempfile::tempdir().unwrap();
        let (path, old) = match format {
            AnimFormat::PngSequence => {
                let out = dir.path().join("seq");
                fs::create_dir(&out).unwrap();
                (out.clone(), out.join("frame_00000.png"))
            }
            _ => {
                let p = dir
                    .path()
                    .join(format!("clip.{}", format.name().to_lowercase()));
                (p.clone(), p)
            }
        };
        fs::write(&old, b"the previous export").unwrap();
        let before = listing(dir.path());
        let mut writer = AnimWriter::create(&path, format, 40, 30, &opts).unwrap();
        for f in &frames {
            writer.push(f, 2).unwrap();
        }
        drop(writer);
        assert_eq!(
            fs::read(&old).unwrap(),
            b"the previous export",
            "{format:?}"
        );
        assert_eq!(listing(dir.path()), before, "{format:?}");

        // A path that did not exist still does not.
        let new = dir.path().join("fresh.gif");
        let new = if format == AnimFormat::PngSequence {
            dir.path().join("fresh")
        } else {
            new
        };
        let mut writer = AnimWriter::create(&new, format, 40, 30, &opts).unwrap();
        writer.push(&frames[0], 1).unwrap();
        drop(writer);
        assert!(!new.exists(), "{format:?}");
        assert_eq!(listing(dir.path()), before, "{format:?}");
    }
}

#[test]
fn a_failed_finish_removes_its_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.gif");
    let mut writer =
        AnimWriter::create(&path, AnimFormat::Gif, 40, 30, &AnimOptions::default()).unwrap();
    writer.push(&test_frame(0, 40, 30), 1).unwrap();
    // Something else takes the name meanwhile: the final rename fails.
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), b"x").unwrap();
    let err = writer.finish().unwrap_err();
    assert!(format!("{err:#}").contains("clip.gif"), "{err:#}");
    assert_eq!(listing(dir.path()), ["clip.gif"]);
    assert_eq!(listing(&path), ["inside"]);
}

#[test]
fn bad_inputs_are_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.gif");
    let opts = AnimOptions::default();
    let msg = |r: Result<AnimWriter>| format!("{:#}", r.err().expect("an error"));

    let m = msg(AnimWriter::create(&path, AnimFormat::Gif, 0, 8, &opts));
    assert!(m.contains("0×8") && m.contains("clip.gif"), "{m}");
    let m = msg(AnimWriter::create(
        &path,
        AnimFormat::Apng,
        8,
        20_000,
        &opts,
    ));
    assert!(m.contains("8×20000"), "{m}");
    for fps in [0.0, -3.0, f32::NAN, f32::INFINITY] {
        let bad = AnimOptions {
            fps,
            ..opts.clone()
        };
        let m = msg(AnimWriter::create(&path, AnimFormat::Gif, 8, 8, &bad));
        assert!(m.contains("frame rate"), "{m}");
    }

    let mut writer = AnimWriter::create(&path, AnimFormat::Gif, 8, 8, &opts).unwrap();
    let m = format!("{:#}", writer.push(&RgbImage::new(8, 9), 1).unwrap_err());
    assert!(m.contains("8×9") && m.contains("8×8"), "{m}");
    let m = format!("{:#}", writer.push(&RgbImage::new(8, 8), 0).unwrap_err());
    assert!(m.contains("repeat 0"), "{m}");
    let m = format!("{:#}", writer.finish().unwrap_err());
    assert!(m.contains("no frames"), "{m}");
    assert!(listing(dir.path()).is_empty());

    let m = format!(
        "{:#}",
        AnimFormat::from_path(Path::new("out/clip.mp4")).unwrap_err()
    );
    assert!(
        m.contains("out/clip.mp4") && m.contains(".gif") && m.contains(".apng"),
        "{m}"
    );
    for (p, f) in [
        ("a.GIF", AnimFormat::Gif),
        ("a.png", AnimFormat::Apng),
        ("a.apng", AnimFormat::Apng),
        ("frames/", AnimFormat::PngSequence),
        ("frames", AnimFormat::PngSequence),
    ] {
        assert_eq!(AnimFormat::from_path(Path::new(p)).unwrap(), f, "{p}");
    }
    // An existing folder is a sequence whatever its name.
    fs::create_dir(dir.path().join("odd.gif")).unwrap();
    let odd = dir.path().join("odd.gif");
    assert_eq!(
        AnimFormat::from_path(&odd).unwrap(),
        AnimFormat::PngSequence
    );
}

#[test]
fn changed_rect_is_the_bounding_box_of_differences() {
    let a = RgbImage::new(10, 8);
    assert_eq!(changed_rect(&a, &a), None);
    let mut b = a.clone();
    b.put_pixel(7, 2, Rgb([1, 0, 0]));
    b.put_pixel(3, 5, Rgb([0, 0, 9]));
    assert_eq!(
        changed_rect(&a, &b),
        Some(Rect {
            x: 3,
            y: 2,
            w: 5,
            h: 4
        })
    );
}

#[test]
fn frame_rates_become_exact_fractions() {
    assert_eq!(fps_ratio(12.0), (12, 1));
    assert_eq!(fps_ratio(23.976), (2997, 125));
    assert_eq!(fps_ratio(0.5), (1, 2));
    assert_eq!(fps_ratio(1000.0), (1000, 1));
}
