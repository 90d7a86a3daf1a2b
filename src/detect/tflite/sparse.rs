//! DENSIFY, done once at load: TFLite's sparse (CSR per dimension) weights back to dense.
//!
//! The format stores, per dimension, either a dense size or CSR arrays (`segments`,
//! `indices`). Walking the dimensions in traversal order, a dense level multiplies the
//! running position by its size; a sparse level takes the positions `segments[p]..
//! segments[p+1]`, each naming its coordinate in `indices`. At the last level the position
//! is the index of the stored value.

use super::schema::{SparseDim, Sparsity};

/// Expands `values` (the stored non-zeros, in order) to a dense row-major array of `shape`.
pub fn densify<T: Copy + Default>(
    values: &[T],
    shape: &[usize],
    sparsity: &Sparsity,
) -> Result<Vec<T>, String> {
    let rank = shape.len();
    if !sparsity.block_map.is_empty() {
        return Err("block-sparse weights are not supported".into());
    }
    let identity = sparsity
        .traversal_order
        .iter()
        .enumerate()
        .all(|(i, &d)| d == i as i32);
    if sparsity.traversal_order.len() != rank || !identity {
        return Err(format!(
            "traversal order {:?} (only the identity order of rank {rank} is supported)",
            sparsity.traversal_order
        ));
    }
    if sparsity.dims.len() != rank {
        return Err(format!(
            "{} dimension metadata for rank {rank}",
            sparsity.dims.len()
        ));
    }
    let count: usize = shape.iter().product();
    if count == 0 {
        // Nothing to place. Walking the other dimensions (each up to 2^31 long) would only
        // spin: a 768-byte model with shape [huge, 0] did for minutes (tests/data/fuzz/tflite/).
        return Ok(Vec::new());
    }
    let mut out = vec![T::default(); count];
    let mut walk = Walk {
        values,
        shape,
        dims: &sparsity.dims,
        out: &mut out,
    };
    walk.level(0, 0, 0)?;
    Ok(out)
}

struct Walk<'a, T> {
    values: &'a [T],
    shape: &'a [usize],
    dims: &'a [SparseDim],
    out: &'a mut [T],
}

impl<T: Copy> Walk<'_, T> {
    fn level(&mut self, level: usize, position: usize, offset: usize) -> Result<(), String> {
        if level == self.shape.len() {
            let v = *self
                .values
                .get(position)
                .ok_or_else(|| format!("value {position} of {}", self.values.len()))?;
            self.out[offset] = v;
            return Ok(());
        }
        let size = self.shape[level];
        match &self.dims[level] {
            SparseDim::Dense(n) => {
                if *n != size {
                    return Err(format!("dense size {n} for dimension {level} of {size}"));
                }
                for i in 0..size {
                    self.level(level + 1, position * size + i, offset * size + i)?;
                }
            }
            SparseDim::Csr { segments, indices } => {
                let (Some(&start), Some(&end)) =
                    (segments.get(position), segments.get(position + 1))
                else {
                    return Err(format!(
                        "segment {position} of {} at dimension {level}",
                        segments.len()
                    ));
                };
                for k in start..end {
                    let i = *indices
                        .get(k)
                        .filter(|&&i| i < size)
                        .ok_or_else(|| format!("index {k} at dimension {level} is out of range"))?;
                    self.level(level + 1, k, offset * size + i)?;
                }
            }
        }
        Ok(())
    }
}
