//! Undo/redo over whole snapshots of the editable state. The state is two 18-joint skeletons
//! and a few flags — a few hundred bytes — so snapshots are simpler and safer than inverse
//! operations, and a bounded stack keeps memory flat.

/// Snapshots before each edit (`undo`) and of undone states (`redo`).
#[derive(Clone, Debug)]
pub struct History<T> {
    undo: Vec<T>,
    redo: Vec<T>,
    limit: usize,
}

impl<T: Clone + PartialEq> History<T> {
    pub fn new(limit: usize) -> Self {
        Self {
            undo: Vec::new(),
            redo: Vec::new(),
            limit: limit.max(1),
        }
    }

    /// Records `before`, the state an edit is about to change. A new edit forgets the redo
    /// branch, as in every editor.
    pub fn record(&mut self, before: T) {
        if self.undo.last() == Some(&before) {
            return;
        }
        self.undo.push(before);
        if self.undo.len() > self.limit {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    /// Drops the last record if the edit it announced changed nothing (a click on a joint
    /// without moving it), so undo never steps through no-ops.
    pub fn discard_if_unchanged(&mut self, current: &T) {
        if self.undo.last() == Some(current) {
            self.undo.pop();
        }
    }

    /// The state before the last edit; `current` becomes redoable.
    pub fn undo(&mut self, current: T) -> Option<T> {
        let prev = self.undo.pop()?;
        self.redo.push(current);
        Some(prev)
    }

    /// The state the last undo left; `current` becomes undoable again.
    pub fn redo(&mut self, current: T) -> Option<T> {
        let next = self.redo.pop()?;
        self.undo.push(current);
        Some(next)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_redo_walks_back_and_forth_and_a_new_edit_drops_redo() {
        let mut h = History::new(10);
        let mut s = 0;
        for v in 1..=3 {
            h.record(s);
            s = v;
        }
        s = h.undo(s).unwrap();
        assert_eq!(s, 2);
        s = h.undo(s).unwrap();
        assert_eq!(s, 1);
        s = h.redo(s).unwrap();
        assert_eq!(s, 2);
        h.record(s);
        s = 7;
        assert!(!h.can_redo());
        assert_eq!(h.undo(s), Some(2));
    }

    #[test]
    fn limit_forgets_the_oldest_and_noops_are_discarded() {
        let mut h = History::new(2);
        for v in 0..5 {
            h.record(v);
        }
        assert_eq!(h.undo(9), Some(4));
        assert_eq!(h.undo(4), Some(3));
        assert_eq!(h.undo(3), None);
        let mut h = History::new(5);
        h.record(1);
        h.discard_if_unchanged(&1);
        assert!(!h.can_undo());
    }
}
