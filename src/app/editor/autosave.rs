//! The autosave: the session written every few seconds while it changes, for recovery after a crash.

use super::{Editor, AUTOSAVE_EVERY};
use crate::app::project;
use anyhow::Context;
use std::time::Instant;

impl Editor {
    pub(super) fn autosave_if_due(&mut self) {
        let Some(dir) = &self.state_dir else { return };
        if self.photo.is_none() || self.recovery.is_some() {
            return; // nothing to save, or the user has not yet answered the recovery offer
        }
        if self.last_autosave.elapsed() < AUTOSAVE_EVERY {
            return;
        }
        let now = (self.doc.clone(), self.settings.clone());
        if self.autosaved.as_ref() == Some(&now) {
            return;
        }
        self.last_autosave = Instant::now();
        let path = project::autosave_path(dir);
        let saved = std::fs::create_dir_all(dir)
            .context("creating the state folder")
            .and_then(|_| self.project().save(&path));
        match saved {
            Ok(()) => self.autosaved = Some(now),
            Err(e) => tracing::warn!("autosave failed: {e:#}"),
        }
    }

    /// Saves now if anything changed (used by tests and before risky operations).
    pub fn autosave_now(&mut self) {
        self.last_autosave = Instant::now() - AUTOSAVE_EVERY;
        self.autosave_if_due();
    }

    /// A clean exit: the autosave is no longer needed.
    pub fn remove_autosave(&self) {
        if let Some(dir) = &self.state_dir {
            let _ = std::fs::remove_file(project::autosave_path(dir));
        }
    }
}
