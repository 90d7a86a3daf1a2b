//! The crate's import layers, checked from the source text: no module imports from a higher
//! layer, no two files import each other (directly or round a longer loop), and no two modules
//! on one layer depend on each other.
//!
//! Edges come from `use` statements (grouped and multi-line ones included; `crate::`, `super::`,
//! `self::` and child-module paths) and from `crate::` / `super::` paths written inline in code;
//! comments and string literals are skipped. A path names the deepest module file it reaches,
//! and a name that module re-exports (`pub use`) is followed to the file that defines it, so
//! `use crate::imaging::FitTransform` depends on `imaging/fit.rs`, not on `imaging/mod.rs`.
//! `mod child;` is not an import, and neither is a module re-exporting its own descendants'
//! items. Test code counts: a `#[cfg(test)]` module importing upwards still ties the layers.
//! The module tree is read from the `mod` declarations (with `#[path]`), starting at `lib.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Top to bottom; a module may import from its own layer's other modules (without a cycle) and
/// from every layer below.
const LAYERS: &[&[&str]] = &[
    &["app", "cli"],
    &["eval", "animate"],
    &["train", "composite"],
    &["synth", "detect"],
    &["model"],
    &["puppet"],
    &["imaging"],
    &["weights", "ops", "pose", "util"],
];

/// One module file: its path in the crate (`["imaging", "fit"]`) and its text.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    /// The text with comments and string literals blanked, one entry per line.
    code: Vec<String>,
}

/// A dependency of `from` on `to` (indices into the modules), written at `line` (1-based).
struct Edge {
    from: usize,
    to: usize,
    line: usize,
    text: String,
}

#[test]
fn no_upward_imports_and_no_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut modules = Vec::new();
    load(&mut modules, Vec::new(), root.join("src/lib.rs"), true);
    assert!(
        modules.len() > 50,
        "read only {} module files",
        modules.len()
    );
    let found = violations(&modules, &edges(&modules), root);

    let failures: Vec<String> = found
        .iter()
        .flat_map(|(key, places)| places.iter().map(move |p| format!("{p}: {key}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} import-layer violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Reads `file` as module `path` and, recursively, the modules it declares with `mod name;`.
fn load(modules: &mut Vec<Module>, path: Vec<String>, file: PathBuf, owns_dir: bool) {
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let code = strip_comments_and_strings(&text);
    // `lib.rs` and `mod.rs` keep their children beside them; `a/b.rs` keeps them in `a/b/`.
    let dir = if owns_dir {
        file.parent().unwrap().to_path_buf()
    } else {
        file.with_extension("")
    };
    let mut children = Vec::new();
    let mut path_attr = None;
    for (raw, line) in text.lines().zip(&code) {
        if let Some(rest) = raw.strip_prefix("#[path = \"") {
            path_attr = rest.strip_suffix("\"]").map(str::to_owned);
            continue;
        }
        if let Some(name) = declared_mod(line).filter(|_| line.trim_end().ends_with(';')) {
            let child = match path_attr.take() {
                Some(p) => (file.parent().unwrap().join(p), false),
                None if dir.join(format!("{name}.rs")).exists() => {
                    (dir.join(format!("{name}.rs")), false)
                }
                None => (dir.join(name).join("mod.rs"), true),
            };
            children.push((name.to_owned(), child));
        } else if !raw.starts_with("#[") {
            path_attr = None;
        }
    }
    modules.push(Module {
        path: path.clone(),
        file,
        code,
    });
    for (name, (file, owns_dir)) in children {
        let mut child = path.clone();
        child.push(name);
        load(modules, child, file, owns_dir);
    }
}

/// `name` when the line (at the top level of its file) declares `mod name` (`;` or `{`).
fn declared_mod(line: &str) -> Option<&str> {
    if line.starts_with(' ') {
        return None;
    }
    let rest = line
        .trim_start_matches("pub ")
        .trim_start_matches("pub(crate) ");
    let rest = rest.strip_prefix("mod ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// Each line with `//` and `/* */` comments and the contents of string and char literals
/// removed (raw strings too), so a path in a doc comment or an error message is not an import.
fn strip_comments_and_strings(text: &str) -> Vec<String> {
    #[derive(PartialEq)]
    enum In {
        Code,
        Str,
        Raw(usize),
        Block,
    }
    let mut state = In::Code;
    let mut out = Vec::new();
    for line in text.lines() {
        let c: Vec<char> = line.chars().collect();
        let mut kept = String::new();
        let mut i = 0;
        while i < c.len() {
            match state {
                In::Str if c[i] == '\\' => i += 1,
                In::Str if c[i] == '"' => state = In::Code,
                In::Raw(hashes)
                    if c[i] == '"'
                        && c[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes =>
                {
                    state = In::Code;
                    i += hashes;
                }
                In::Block if c[i..].starts_with(&['*', '/']) => {
                    state = In::Code;
                    i += 1;
                }
                In::Code if c[i..].starts_with(&['/', '/']) => break,
                In::Code if c[i..].starts_with(&['/', '*']) => state = In::Block,
                In::Code if c[i] == '"' => state = In::Str,
                In::Code
                    if c[i] == 'r'
                        && (i == 0 || !is_ident(c[i - 1]))
                        && raw_start(&c[i + 1..]).is_some() =>
                {
                    let hashes = raw_start(&c[i + 1..]).unwrap();
                    state = In::Raw(hashes);
                    i += hashes + 1;
                }
                // A char literal ('"', '{', '\n'); a lifetime ('a) has no closing quote.
                In::Code if c[i] == '\'' && c.get(i + 1) == Some(&'\\') => {
                    let close = c
                        .get(i + 3..)
                        .and_then(|r| r.iter().position(|&q| q == '\''));
                    i += close.map_or(0, |p| p + 3);
                }
                In::Code if c[i] == '\'' && c.get(i + 2) == Some(&'\'') => i += 2,
                In::Code => kept.push(c[i]),
                _ => {}
            }
            i += 1;
        }
        out.push(kept);
    }
    out
}

/// The number of `#`s when `rest` (after an `r`) opens a raw string: `"`, `#"`, `##"`, ….
fn raw_start(rest: &[char]) -> Option<usize> {
    let hashes = rest.iter().take_while(|&&h| h == '#').count();
    (rest.get(hashes) == Some(&'"')).then_some(hashes)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A statement or inline path as written, with where it was.
struct Written {
    line: usize,
    /// The module it is written in, inline `mod` blocks included.
    scope: Vec<String>,
    /// `pub use` at a file's top level: a re-export.
    reexport: bool,
    /// The path's segments and the name it binds (its last segment or its `as` alias).
    paths: Vec<(Vec<String>, String)>,
}

/// Every `use` statement and inline `crate::` / `super::` path of a module file.
fn written(module: &Module) -> Vec<Written> {
    let mut out = Vec::new();
    // Inline `mod name {` blocks open and close at one indentation (rustfmt's layout).
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut statement: Option<(usize, bool, String)> = None;
    for (n, line) in module.code.iter().enumerate() {
        let indent = line.len() - line.trim_start().len();
        if let Some((at, _)) = inline.last() {
            if *at == indent && line.trim() == "}" {
                inline.pop();
                continue;
            }
        }
        if let Some(name) = declared_mod(&line[indent..]).filter(|_| line.trim_end().ends_with('{'))
        {
            inline.push((indent, name.to_owned()));
            continue;
        }
        let mut scope = module.path.clone();
        scope.extend(inline.iter().map(|(_, name)| name.clone()));
        let trimmed = line.trim();
        if statement.is_none() {
            let visible = trimmed.starts_with("pub");
            let body = trimmed
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub(super) ")
                .trim_start_matches("pub ");
            if let Some(tree) = body.strip_prefix("use ") {
                statement = Some((n, visible && inline.is_empty(), String::from(tree)));
            }
        } else if let Some((_, _, tree)) = statement.as_mut() {
            tree.push_str(trimmed);
        }
        if let Some((start, reexport, tree)) = statement.take() {
            match tree.find(';') {
                Some(end) => out.push(Written {
                    line: start + 1,
                    scope,
                    reexport,
                    paths: expand(&tree[..end]),
                }),
                None => statement = Some((start, reexport, tree)),
            }
            continue;
        }
        let paths = inline_paths(line);
        if !paths.is_empty() {
            out.push(Written {
                line: n + 1,
                scope,
                reexport: false,
                paths,
            });
        }
    }
    out
}

/// The paths a use tree names: `a::{b, c::{d as e, self}, f::*}` → `a::b`, `a::c::d` (as `e`),
/// `a::c`, `a::f::*`.
fn expand(tree: &str) -> Vec<(Vec<String>, String)> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let (path, alias) = match tree.split_once(" as ") {
            Some((path, alias)) => (path, Some(alias.trim())),
            None => (tree, None),
        };
        let segments: Vec<String> = path.split("::").map(|s| s.trim().to_owned()).collect();
        let name = alias.unwrap_or(segments.last().unwrap()).to_owned();
        return vec![(segments, name)];
    };
    let prefix: Vec<String> = tree[..open]
        .trim_end_matches("::")
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let mut out = Vec::new();
    for part in parts.into_iter().filter(|p| !p.trim().is_empty()) {
        for (tail, name) in expand(part) {
            let mut path = prefix.clone();
            path.extend(tail.into_iter().filter(|s| s != "self"));
            let name = if name == "self" {
                prefix.last().unwrap().clone()
            } else {
                name
            };
            out.push((path, name));
        }
    }
    out
}

/// `crate::a::b` and `super::c` paths written in a line of code (not after another `::`).
fn inline_paths(line: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for head in ["crate::", "super::"] {
        for (at, _) in line.match_indices(head) {
            let before = line[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':' || c == '$') {
                continue;
            }
            let rest = &line[at..];
            let end = rest
                .find(|c: char| !(is_ident(c) || c == ':'))
                .unwrap_or(rest.len());
            let segments: Vec<String> = rest[..end]
                .trim_end_matches(':')
                .split("::")
                .map(str::to_owned)
                .collect();
            let name = segments.last().unwrap().clone();
            out.push((segments, name));
        }
    }
    out
}

/// The absolute path (without `crate`) `segments` names when written in `scope`; `None` for an
/// outside crate (`std::`, `candle_core::`, …).
fn absolute(
    segments: &[String],
    scope: &[String],
    index: &HashMap<Vec<String>, usize>,
) -> Option<Vec<String>> {
    let first = segments.first()?.as_str();
    let mut base = match first {
        "crate" => Vec::new(),
        "self" => scope.to_vec(),
        "super" => {
            let ups = segments.iter().take_while(|s| *s == "super").count();
            let mut base = scope.to_vec();
            base.truncate(scope.len().checked_sub(ups)?);
            base.extend_from_slice(&segments[ups..]);
            return Some(base);
        }
        // A child module of the scope, named without `self::` (2018 paths).
        child => {
            let mut path = scope.to_vec();
            path.push(child.to_owned());
            if !index.contains_key(&path) {
                return None;
            }
            scope.to_vec()
        }
    };
    let skip = usize::from(first == "crate" || first == "self");
    base.extend_from_slice(&segments[skip..]);
    Some(base)
}

/// All dependencies between module files.
fn edges(modules: &[Module]) -> Vec<Edge> {
    let index: HashMap<Vec<String>, usize> = modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.path.clone(), i))
        .collect();
    let written: Vec<Vec<Written>> = modules.iter().map(written).collect();
    // What each module re-exports, by the name it is visible under.
    let mut reexports: Vec<HashMap<String, Vec<String>>> = vec![HashMap::new(); modules.len()];
    for (m, statements) in written.iter().enumerate() {
        for w in statements.iter().filter(|w| w.reexport) {
            for (segments, name) in w.paths.iter().filter(|(_, name)| name != "*") {
                if let Some(path) = absolute(segments, &w.scope, &index) {
                    reexports[m].insert(name.clone(), path);
                }
            }
        }
    }
    let resolve = |path: &[String]| -> Option<usize> {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let depth = (1..=path.len())
                .rev()
                .find(|&k| index.contains_key(&path[..k]))?;
            let m = index[&path[..depth]];
            match path.get(depth).and_then(|name| reexports[m].get(name)) {
                Some(target) => path = [target.clone(), path[depth + 1..].to_vec()].concat(),
                None => return Some(m),
            }
        }
        panic!("re-exports of {path:?} go round in a loop");
    };
    let mut out = Vec::new();
    for (from, statements) in written.iter().enumerate() {
        for w in statements {
            for (segments, _) in &w.paths {
                let Some(path) = absolute(segments, &w.scope, &index) else {
                    continue;
                };
                let Some(to) = resolve(&path) else { continue };
                // A facade re-exporting its own descendants' items depends on nothing.
                let facade = w.reexport && modules[to].path.starts_with(&modules[from].path);
                if to != from && !facade {
                    out.push(Edge {
                        from,
                        to,
                        line: w.line,
                        text: segments.join("::"),
                    });
                }
            }
        }
    }
    out
}

/// Every violation by key (`upward: a.rs -> b.rs`, `cycle: a.rs -> b.rs`,
/// `module cycle: a.rs -> b.rs`), with the places (`file:line (path)`) it occurs.
fn violations(modules: &[Module], edges: &[Edge], root: &Path) -> BTreeMap<String, Vec<String>> {
    let top = |m: usize| modules[m].path.first().map_or("", String::as_str);
    let layer = |name: &str| {
        LAYERS
            .iter()
            .position(|l| l.contains(&name))
            .unwrap_or_else(|| panic!("module `{name}` is in no layer: add it to LAYERS"))
    };
    let file = |m: usize| {
        let f = modules[m]
            .file
            .strip_prefix(root)
            .unwrap_or(&modules[m].file);
        f.display().to_string()
    };
    let mut files: HashMap<usize, HashSet<usize>> = HashMap::new();
    let mut tops: HashMap<&str, HashSet<&str>> = HashMap::new();
    for e in edges {
        files.entry(e.from).or_default().insert(e.to);
        if top(e.from) != top(e.to) && !top(e.from).is_empty() {
            tops.entry(top(e.from)).or_default().insert(top(e.to));
        }
    }
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in edges {
        let (a, b) = (top(e.from), top(e.to));
        if a.is_empty() || b.is_empty() {
            continue; // lib.rs only declares the modules.
        }
        let kind = if layer(a) > layer(b) {
            "upward"
        } else if reaches(&files, e.to, e.from) {
            "cycle"
        } else if a != b && layer(a) == layer(b) && reaches(&tops, b, a) {
            "module cycle"
        } else {
            continue;
        };
        let key = format!("{kind}: {} -> {}", file(e.from), file(e.to));
        found
            .entry(key)
            .or_default()
            .push(format!("{}:{} ({})", file(e.from), e.line, e.text));
    }
    found
}

/// Whether `to` is reachable from `from` in `graph`.
fn reaches<T: Copy + Eq + std::hash::Hash>(graph: &HashMap<T, HashSet<T>>, from: T, to: T) -> bool {
    let (mut seen, mut stack) = (HashSet::from([from]), vec![from]);
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        for &next in graph.get(&n).into_iter().flatten() {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    false
}

/// The reader itself: grouped, aliased and glob uses; paths in comments and strings skipped.
#[test]
fn reads_use_trees_and_skips_comments_and_strings() {
    let paths: Vec<String> = expand("crate::{a::b, c::{d as e, self}, f::*}")
        .into_iter()
        .map(|(p, name)| format!("{} as {name}", p.join("::")))
        .collect();
    assert_eq!(
        paths,
        [
            "crate::a::b as b",
            "crate::c::d as e",
            "crate::c as c",
            "crate::f::* as *"
        ]
    );
    let code = strip_comments_and_strings(
        "let s = \"crate::x\"; // crate::y\n/* crate::z */ let c = '\"'; crate::w::f();",
    );
    let found: Vec<_> = code.iter().flat_map(|l| inline_paths(l)).collect();
    assert_eq!(
        found,
        [(vec!["crate".into(), "w".into(), "f".into()], "f".into())]
    );
}
