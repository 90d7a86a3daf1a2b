//! The detector's SSD anchor grid (MediaPipe `SsdAnchorsCalculator` with the pose detector's
//! options), so raw box offsets can be turned back into image positions.

/// `(stride, anchors per cell)` of each feature map, finest first. The three stride-32 layers
/// of the graph config share one 7x7 map, so MediaPipe merges them into one 6-anchor layer.
const LAYERS: [(usize, usize); 3] = [(8, 2), (16, 2), (32, 6)];

/// Side of the detector input in pixels; each feature map is `ceil(224 / stride)` cells wide.
const INPUT_SIDE: usize = 224;

/// The 2254 anchor centres `(x, y)`, normalised to the detector input, in the order of the raw
/// outputs: layer by layer, then row-major by cell (y, then x), then anchor within the cell.
///
/// Every anchor has width = height = 1 (`fixed_anchor_size`), so only the centre matters.
pub fn pose_anchors() -> Vec<[f32; 2]> {
    let mut anchors = Vec::with_capacity(2254);
    for (stride, per_cell) in LAYERS {
        push_layer(&mut anchors, INPUT_SIDE.div_ceil(stride), per_cell);
    }
    anchors
}

/// Appends one square `side x side` feature map's anchors, centred at `(i + 0.5) / side`
/// (computed as MediaPipe does, in f32, so the centres agree bit for bit).
fn push_layer(anchors: &mut Vec<[f32; 2]>, side: usize, per_cell: usize) {
    for y in 0..side {
        let cy = (y as f32 + 0.5) / side as f32;
        for x in 0..side {
            let cx = (x as f32 + 0.5) / side as f32;
            anchors.extend(std::iter::repeat_n([cx, cy], per_cell));
        }
    }
}
