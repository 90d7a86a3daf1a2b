//! Exports of the current result and of the re-posed photo at full resolution.

use super::Editor;
use crate::app::engine::ModelChoice;
use crate::app::job::{Finished, Job};
use crate::composite::pipeline::{default_method, Edit, Renderer};
use crate::puppet::PuppetConfig;
use anyhow::{Context, Result};
use candle_core::Device;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Editor {
    /// Writes the result (at the model's frame size) and, with `overlays`, its flow and mask
    /// images beside it. Returns the files written.
    pub fn export_result(&mut self, path: &Path, overlays: bool) -> Result<Vec<PathBuf>> {
        let result = self
            .result
            .as_ref()
            .context("there is no result to export yet")?;
        let files = crate::app::export::export(result, path, overlays)?;
        self.say(format!("Exported {}", path.display()));
        Ok(files)
    }

    /// Writes the re-posed photo at the photo's full resolution (its own matte and plate, the
    /// default method's edit — the one `render` and `animate` draw — with the editor's own
    /// checkpoint when that method needs a network), on a thread of its own: a megapixel photo
    /// takes a second or two, and the UI goes on meanwhile. The status bar says when it is
    /// written.
    pub fn export_photo(&mut self, path: &Path) -> Result<()> {
        let photo = Arc::clone(self.photo.as_ref().context("no photo is open")?);
        anyhow::ensure!(
            self.export_job.is_none(),
            "an export is still being written"
        );
        let (source, target) = (self.doc.source.to_pose(), self.doc.target.to_pose());
        let cfg = PuppetConfig {
            order: self.doc.order,
            ..PuppetConfig::still()
        };
        let weights = match &self.model_spec.choice {
            ModelChoice::File(p) => Some(p.clone()),
            ModelChoice::Bundled | ModelChoice::Random(_) => None,
        };
        let device = self.model_spec.device.clone();
        let path = path.to_path_buf();
        let job = Job::spawn("marionette-export", (), move |_| {
            let method = default_method()?;
            // A GPU that cannot be had exports on the CPU (the engine says why already).
            let device = crate::model::device::parse_device(&device).unwrap_or(Device::Cpu);
            let mut renderer = Renderer::load(method, weights.as_deref(), &device)?;
            let layers = crate::app::layers::build_full(&photo.image, &source)
                .context("building the photo's matte and plate")?;
            let edit = Edit {
                source: &source,
                target: &target,
                puppet: &cfg,
            };
            let out = renderer.render(&photo.image, Some(&layers), &edit)?;
            crate::imaging::save_image_atomic(&out.image, &path)?;
            Ok(path)
        })
        .context("starting the export")?;
        self.export_job = Some(job);
        self.say("Exporting the re-posed photo at full resolution…".into());
        Ok(())
    }

    /// Whether a full-resolution export is being written.
    pub fn exporting(&self) -> bool {
        self.export_job.is_some()
    }

    pub(super) fn collect_export(&mut self) {
        let Some(job) = &self.export_job else { return };
        let Some(finished) = job.poll() else { return };
        self.export_job = None;
        match finished {
            Finished::Done(path) => self.say(format!("Exported {}", path.display())),
            Finished::Failed(e) => {
                self.report_error(anyhow::anyhow!("exporting the re-posed photo: {e}"))
            }
            Finished::Lost => {
                self.report_error(anyhow::anyhow!("the export stopped without a result"))
            }
        }
    }
}
