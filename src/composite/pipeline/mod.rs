//! The one render path: photo → layers → per-edit result. The editor's preview and export,
//! `render`, `animate`, `bench` and `eval` all go through here, so whatever becomes the default
//! ([`DEFAULT_METHOD`]) reaches every one of them.
//!
//! * Per photo: [`PhotoLayers`] (matte and plate, [`super::build_layers`]), at the size the
//!   caller works at (the editor's preview size, the full photo for exports).
//! * Per method: a [`Renderer`] — the method and, when it needs one, the network with its crop
//!   and cached source features ([`NetworkRunner`]).
//! * Per edit: [`Renderer::render`] → [`Edited`]: the re-posed photo (composited over the layers,
//!   or without them the method's plain output), and the network's run for its maps
//!   ([`maps`]: one naming and colouring for every front end).
//!
//! The lowest step, [`composite_edit`], takes a network edit already placed in the photo, for
//! callers that batch the network themselves (`eval`).

pub mod maps;
mod runner;

pub use runner::{choose_crop, crop_contains, CropPolicy, NetworkRun, NetworkRunner};

use super::{composite_network, composite_puppet, Composited, NetworkEdit, PhotoLayers};
use crate::model::refiner::{Refiner, RefinerConfig};
use crate::model::{Generator, ModelKind};
use crate::pose::Pose;
use crate::puppet::{puppet_render, puppet_warp, PuppetConfig};
use anyhow::{Context, Result};
use candle_core::Device;
use image::imageops::FilterType;
use image::RgbImage;
use std::path::Path;

/// What moves the person in a composited edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The training-free puppet warp ([`composite_puppet`]).
    Puppet,
    /// A GFLA's finest flow, mask and image ([`composite_network`]).
    Network,
    /// The puppet's composite corrected by the refiner where the compositor is unsure
    /// ([`super::refine`]).
    Refined,
}

/// What `render` does without options, what the editor shows and exports and what `animate`
/// draws: the best method measured by `marionette eval --count 300 --size 256x192` that also
/// holds up by eye on real photos (the refined method wins the first and not the second; README,
/// *The refiner*). Read it through [`default_method`], which honours [`METHOD_ENV`].
pub const DEFAULT_METHOD: Method = Method::Puppet;

/// Overrides [`DEFAULT_METHOD`] for one process (`puppet`, `network` or `refined`): to try a candidate
/// default in every front end at once before it ships, and for the test that proves they all
/// follow it.
pub const METHOD_ENV: &str = "MARIONETTE_METHOD";

impl Method {
    /// The method's name in `marionette eval`'s report.
    pub fn name(self) -> &'static str {
        match self {
            Method::Puppet => "puppet+composite",
            Method::Network => "model+composite",
            Method::Refined => "refined",
        }
    }

    /// `puppet`, `network` or `refined` (also the report names).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "puppet" | "puppet+composite" => Ok(Method::Puppet),
            "network" | "model" | "gfla" | "model+composite" => Ok(Method::Network),
            "refined" | "refiner" => Ok(Method::Refined),
            other => anyhow::bail!("unknown method {other:?}: puppet, network or refined"),
        }
    }

    pub fn needs_network(self) -> bool {
        self == Method::Network
    }

    pub fn needs_refiner(self) -> bool {
        self == Method::Refined
    }

    /// What can be shown at once while this method's result is computed (the editor's instant
    /// preview): the method itself when it needs no network, else the puppet's composite.
    pub fn instant(self) -> Method {
        match self {
            Method::Network | Method::Refined => Method::Puppet,
            m => m,
        }
    }
}

/// [`DEFAULT_METHOD`], or the method [`METHOD_ENV`] names.
pub fn default_method() -> Result<Method> {
    match std::env::var(METHOD_ENV) {
        Ok(v) if !v.trim().is_empty() => {
            Method::parse(&v).with_context(|| format!("{METHOD_ENV}={v}"))
        }
        _ => Ok(DEFAULT_METHOD),
    }
}

/// One edit: the person's skeleton in the photo, the pose wanted (both in photo pixels) and the
/// puppet's settings (depth order, fills; they shape a network edit's ownership too).
#[derive(Clone, Copy, Debug)]
pub struct Edit<'a> {
    pub source: &'a Pose,
    pub target: &'a Pose,
    pub puppet: &'a PuppetConfig,
}

/// The edit by `method` composited over `layers`; `network` is the network's edit placed in the
/// photo, required by [`Method::Network`]. [`Method::Refined`] needs its refiner: it runs
/// through a [`Renderer`].
pub fn composite_edit(
    layers: &PhotoLayers,
    method: Method,
    edit: &Edit<'_>,
    network: Option<&NetworkEdit<'_>>,
) -> Result<Composited> {
    match method {
        Method::Puppet => composite_puppet(layers, edit.source, edit.target, edit.puppet),
        Method::Network => {
            let net = network.context("the network method needs the network's edit")?;
            composite_network(layers, edit.source, edit.target, net, edit.puppet)
        }
        Method::Refined => anyhow::bail!("the refined method runs through a Renderer"),
    }
}

/// A loaded refiner and the device it runs on.
pub struct RefinerRunner {
    pub model: Refiner,
    pub config: RefinerConfig,
    pub device: Device,
}

impl RefinerRunner {
    /// `weights`, or the shipped refiner.
    pub fn load(weights: Option<&Path>, device: &Device) -> Result<Self> {
        let path = match weights {
            Some(p) => p.to_path_buf(),
            None => crate::model::shipped::default_refiner_weights().with_context(|| {
                format!(
                    "no shipped refiner `{}` found (looked in {})",
                    crate::model::shipped::DEFAULT_REFINER,
                    crate::model::shipped::model_dirs()
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
        };
        let (model, config) = crate::model::refiner::load(&path, device)
            .with_context(|| format!("loading the refiner {}", path.display()))?;
        Ok(Self {
            model,
            config,
            device: device.clone(),
        })
    }

    /// The puppet's composite of `edit`, refined.
    pub fn composite(&self, layers: &PhotoLayers, edit: &Edit<'_>) -> Result<Composited> {
        let mut out = composite_puppet(layers, edit.source, edit.target, edit.puppet)?;
        out.image = super::refine::refine(
            &self.model,
            &layers.photo,
            &out,
            edit.source,
            edit.target,
            self.config.working_hw,
            &self.device,
        )?;
        Ok(out)
    }
}

/// One edit's result.
pub struct Edited {
    /// The re-posed photo at the photo's size; without layers, the method's plain output: the
    /// puppet's warp of the whole photo, or the network's own frame (keypoint-frame size).
    pub image: RgbImage,
    /// The layered result (person, vacated and invented shares), when composited.
    pub composited: Option<Composited>,
    /// The network's run (its maps, its crop), for a method with a network.
    pub network: Option<NetworkRun>,
}

/// Renders edits by one method: owns the network a method needs (loaded once, its source
/// features cached per photo and source skeleton).
pub struct Renderer {
    method: Method,
    network: Option<NetworkRunner>,
    refiner: Option<RefinerRunner>,
}

impl Renderer {
    /// `method` with `network` (required by [`Method::Network`], unused by the puppet).
    pub fn new(method: Method, network: Option<NetworkRunner>) -> Result<Self> {
        anyhow::ensure!(
            !method.needs_network() || network.is_some(),
            "the {} method needs a network",
            method.name()
        );
        anyhow::ensure!(
            !method.needs_refiner(),
            "the refined method needs its refiner: Renderer::refined"
        );
        Ok(Self {
            method,
            network,
            refiner: None,
        })
    }

    /// The refined method with its refiner.
    pub fn refined(refiner: RefinerRunner) -> Self {
        Self {
            method: Method::Refined,
            network: None,
            refiner: Some(refiner),
        }
    }

    /// `method` with the weights it needs: `weights` (GFLA checkpoint) or the shipped model, on
    /// `device`, cropping as `render` does.
    pub fn load(method: Method, weights: Option<&Path>, device: &Device) -> Result<Self> {
        if method.needs_refiner() {
            return Ok(Self::refined(RefinerRunner::load(None, device)?));
        }
        let network = if method.needs_network() {
            let path = match weights {
                Some(p) => p.to_path_buf(),
                None => crate::model::shipped::default_gfla_weights()?,
            };
            let generator = Generator::load(ModelKind::Gfla, Some(&path), None, device)
                .with_context(|| format!("loading the network {}", path.display()))?;
            Some(NetworkRunner::new(
                generator,
                device.clone(),
                CropPolicy::Tight,
            ))
        } else {
            None
        };
        Self::new(method, network)
    }

    /// The default method ([`default_method`]) with the shipped network on the CPU when it
    /// needs one: what `animate` and the editor's export use.
    pub fn default_shipped() -> Result<Self> {
        Self::load(default_method()?, None, &Device::Cpu)
    }

    pub fn method(&self) -> Method {
        self.method
    }

    pub fn network(&self) -> Option<&NetworkRunner> {
        self.network.as_ref()
    }

    /// One edit of `photo`: composited over `layers` (the same photo's) when given, else the
    /// method's plain output.
    pub fn render(
        &mut self,
        photo: &RgbImage,
        layers: Option<&PhotoLayers>,
        edit: &Edit<'_>,
    ) -> Result<Edited> {
        if let Some(l) = layers {
            anyhow::ensure!(
                l.photo.dimensions() == photo.dimensions(),
                "layers of {:?} for a {:?} photo",
                l.photo.dimensions(),
                photo.dimensions()
            );
        }
        let key = layers.map(PhotoLayers::id);
        let network = match &mut self.network {
            Some(runner) if self.method.needs_network() => {
                Some(runner.run(key, photo, edit.source, edit.target)?)
            }
            _ => None,
        };
        match layers {
            Some(layers) => {
                let outputs = match &network {
                    Some(run) if self.method.needs_network() => Some(run.outputs()?),
                    _ => None,
                };
                let placed = match (&outputs, &network) {
                    (Some(o), Some(run)) => Some(run.placed(o)),
                    _ => None,
                };
                let out = match &self.refiner {
                    Some(r) if self.method.needs_refiner() => r.composite(layers, edit)?,
                    _ => composite_edit(layers, self.method, edit, placed.as_ref())?,
                };
                Ok(Edited {
                    image: out.image.clone(),
                    composited: Some(out),
                    network,
                })
            }
            None => {
                let image = match (&network, self.method) {
                    (Some(run), Method::Network) => run.frame_image()?,
                    _ => {
                        let (w, h) = (photo.width() as usize, photo.height() as usize);
                        let warp = puppet_warp(edit.source, edit.target, h, w, edit.puppet);
                        puppet_render(photo, &warp)
                    }
                };
                Ok(Edited {
                    image,
                    composited: None,
                    network,
                })
            }
        }
    }
}

/// A network's output image at its keypoint frame's aspect and size (GFLA's input is a
/// stretched view of it): what `render --raw` writes.
pub fn frame_image(image: &RgbImage, frame_hw: (usize, usize)) -> RgbImage {
    let (fh, fw) = frame_hw;
    image::imageops::resize(image, fw as u32, fh as u32, FilterType::CatmullRom)
}

#[cfg(test)]
mod tests;
