//! The person region's error by what a composite shows there, per [`Part`]: a target pixel
//! the source shows may come out as moved person (right), as plate or untouched photo (the
//! moved figure does not reach it: its outline is off) or as invented person (ownership said
//! the source hides it). The split says which of the compositor's decisions costs the error:
//! the fill's colours, the figure's outline, or the person/background call on what a limb left.

use super::metrics::pooled_psnr;
use super::part::Part;
use crate::composite::Composited;
use image::RgbImage;
use serde::Serialize;

/// What a composite shows at a pixel (the largest share wins; past all three, the photo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shows {
    /// Moved person: the photo warped.
    Person,
    /// Person the source never showed (a fill or a network's pixels).
    Invented,
    /// The background plate, where the person has left.
    Plate,
    /// The photo as it was (background the edit did not touch).
    Photo,
}

impl Shows {
    pub const ALL: [Shows; 4] = [Shows::Person, Shows::Invented, Shows::Plate, Shows::Photo];

    pub fn name(self) -> &'static str {
        match self {
            Shows::Person => "person",
            Shows::Invented => "invented",
            Shows::Plate => "plate",
            Shows::Photo => "photo",
        }
    }

    /// What `c` shows at pixel `i`: whichever of invented, plate and moved person has more than
    /// half of it, else the untouched photo.
    pub fn of(c: &Composited, i: usize) -> Shows {
        if c.invented[i] > 0.5 {
            Shows::Invented
        } else if c.vacated[i] > 0.5 {
            Shows::Plate
        } else if c.person[i] > 0.5 {
            Shows::Person
        } else {
            Shows::Photo
        }
    }
}

/// One (part, shows) cell over every pair.
#[derive(Clone, Debug, Serialize)]
pub struct ShowsScores {
    pub part: String,
    pub shows: String,
    /// Share of the part's pixels.
    pub pixel_share: f64,
    pub psnr: f64,
    /// Share of the person region's summed squared error (all cells add up to 1).
    pub error_share: f64,
}

/// Summed squared errors (0–255 units) and channel values per (part, shows).
#[derive(Clone, Default)]
pub struct ShowsAcc {
    sse: [[f64; 4]; 3],
    n: [[usize; 4]; 3],
}

impl ShowsAcc {
    /// Adds one edit: `c` composited, `gt` the true target, `part_of` the [`Part`] of a pixel.
    pub fn add(&mut self, c: &Composited, gt: &RgbImage, part_of: impl Fn(usize) -> Option<Part>) {
        for (i, (p, q)) in c.image.pixels().zip(gt.pixels()).enumerate() {
            let Some(part) = part_of(i) else { continue };
            let (k, s) = (part as usize, Shows::of(c, i) as usize);
            self.sse[k][s] += (0..3)
                .map(|ch| (p[ch] as f64 - q[ch] as f64).powi(2))
                .sum::<f64>();
            self.n[k][s] += 3;
        }
    }

    /// The cells that have pixels, in part then [`Shows::ALL`] order.
    pub fn finish(&self) -> Vec<ShowsScores> {
        let total: f64 = self.sse.iter().flatten().sum();
        let mut out = Vec::new();
        for part in Part::ALL {
            let k = part as usize;
            let part_n: usize = self.n[k].iter().sum();
            for shows in Shows::ALL {
                let s = shows as usize;
                if self.n[k][s] == 0 {
                    continue;
                }
                out.push(ShowsScores {
                    part: part.name().into(),
                    shows: shows.name().into(),
                    pixel_share: self.n[k][s] as f64 / part_n as f64,
                    psnr: pooled_psnr(self.sse[k][s], self.n[k][s]),
                    error_share: self.sse[k][s] / total.max(1e-12),
                });
            }
        }
        out
    }
}

/// The split as a plain-text table.
pub fn table(method: &str, cells: &[ShowsScores]) -> String {
    let mut s = format!(
        "{method}'s person region by what it shows\n{:<9} {:<9} {:>7} {:>7} {:>12}\n",
        "part", "shows", "pixels", "PSNR", "error share"
    );
    for c in cells {
        s += &format!(
            "{:<9} {:<9} {:>6.1}% {:>7.2} {:>11.1}%\n",
            c.part,
            c.shows,
            100.0 * c.pixel_share,
            c.psnr,
            100.0 * c.error_share
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn composited(image: RgbImage, person: f32, vacated: f32, invented: f32) -> Composited {
        let n = (image.width() * image.height()) as usize;
        Composited {
            image,
            person: vec![person; n],
            vacated: vec![vacated; n],
            invented: vec![invented; n],
            moved: vec![0.0; n],
        }
    }

    #[test]
    fn each_pixel_goes_to_its_part_and_what_it_shows() {
        let gt = RgbImage::from_pixel(4, 1, Rgb([100, 100, 100]));
        // Off by 10 everywhere: PSNR 20·log10(255/10) in every cell.
        let out = RgbImage::from_pixel(4, 1, Rgb([110, 110, 110]));
        let mut acc = ShowsAcc::default();
        // Pixels 0, 1 shown, 2 hidden, 3 outside the person region.
        let part_of = |i: usize| {
            [
                Some(Part::Shown),
                Some(Part::Shown),
                Some(Part::Hidden),
                None,
            ][i]
        };
        acc.add(&composited(out.clone(), 0.9, 0.0, 0.0), &gt, part_of);
        acc.add(&composited(out, 0.0, 0.0, 0.0), &gt, part_of);
        let cells = acc.finish();
        let names: Vec<(&str, &str)> = cells
            .iter()
            .map(|c| (c.part.as_str(), c.shows.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("shown", "person"),
                ("shown", "photo"),
                ("hidden", "person"),
                ("hidden", "photo")
            ]
        );
        let psnr = 20.0 * (255.0f64 / 10.0).log10();
        for c in &cells {
            assert!((c.psnr - psnr).abs() < 1e-9, "{c:?}");
        }
        assert_eq!(cells[0].pixel_share, 0.5);
        let shares: f64 = cells.iter().map(|c| c.error_share).sum();
        assert!((shares - 1.0).abs() < 1e-12);
        assert!((cells[0].error_share - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn invented_wins_over_plate_and_plate_over_person() {
        let img = RgbImage::new(1, 1);
        assert_eq!(
            Shows::of(&composited(img.clone(), 0.9, 0.6, 0.7), 0),
            Shows::Invented
        );
        assert_eq!(
            Shows::of(&composited(img.clone(), 0.9, 0.6, 0.2), 0),
            Shows::Plate
        );
        assert_eq!(
            Shows::of(&composited(img.clone(), 0.9, 0.2, 0.2), 0),
            Shows::Person
        );
        assert_eq!(Shows::of(&composited(img, 0.4, 0.3, 0.2), 0), Shows::Photo);
    }
}
