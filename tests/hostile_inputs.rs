//! Hostile inputs, by design: photos whose headers claim absurd sizes are refused from the
//! header, before any pixel buffer is allocated, with the file and the size (or the reason)
//! named; JSON nested deeper than any stack is an error. (Pickles and zip bombs: `pth_reader.rs`.)

use std::io::Write;

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend(&body);
    out.extend(crc32(&body).to_be_bytes());
}

/// A PNG whose header says `w × h` RGB pixels, followed by one tiny (wrong) data chunk.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

/// A baseline JPEG header (SOF0) claiming `w × h`, with nothing after it.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut jpg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    jpg.extend(h.to_be_bytes());
    jpg.extend(w.to_be_bytes());
    jpg.extend([3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    jpg.extend([0xFF, 0xD9]);
    jpg
}

#[test]
fn headers_claiming_absurd_sizes_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // Sanity: the CRC is the standard one ("IEND" with no data).
    assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    for (name, bytes, size) in [
        ("huge.png", png_claiming(100_000, 100_000), "100000×100000"),
        ("wide.png", png_claiming(4_000_000, 1), "4000000×1"),
        // The JPEG decoder wants more than a frame header before it reports a size: refused as
        // unreadable, before any pixel buffer exists.
        (
            "huge.jpg",
            jpeg_claiming(65_000, 65_000),
            "not a readable image",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        let err = match marionette::imaging::open_photo(&path) {
            Ok(img) => panic!("{name}: opened as {}×{}", img.width(), img.height()),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains(name) && err.contains(size),
            "{name}: the error does not name the file and {size}: {err}"
        );
    }
    // A header of zero pixels too.
    let path = dir.path().join("empty.png");
    std::fs::write(&path, png_claiming(0, 10)).unwrap();
    let err = format!("{:#}", marionette::imaging::open_photo(&path).unwrap_err());
    assert!(err.contains("empty.png"), "{err}");
}

/// JSON nested a hundred thousand deep (a pose file, a project) is an error naming the file,
/// not a stack overflow.
#[test]
fn deeply_nested_json_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!(
        "{{\"people\": [{{\"pose_keypoints_2d\": {}{}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let pose = dir.path().join("deep_pose.json");
    std::fs::write(&pose, &deep).unwrap();
    let err = marionette::pose::read_openpose(&pose, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("deep_pose.json"), "{err}");
    let project = dir.path().join("deep_project.json");
    std::fs::write(
        &project,
        format!(
            "{{\"version\": 1, \"source\": {}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    )
    .unwrap();
    let err = format!(
        "{:#}",
        marionette::app::project::Project::load(&project).unwrap_err()
    );
    assert!(err.contains("deep_project.json"), "{err}");
}
