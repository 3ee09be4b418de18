//! The crate's module graph, drawn from the code's own paths: each part names
//! only parts below it, in the order `src/lib.rs` states; the three adapters
//! never name one another; and so there is no cycle.
//!
//! Only `std` is used here, so that this file can also be compiled alone to
//! check another checkout: `CARGO_MANIFEST_DIR=<crate> rustc --edition 2024
//! --test layers.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top to bottom, as `src/lib.rs` describes them. A module may
/// name modules of later layers only; modules of one layer never name each
/// other (that is what keeps the API, the gateway and the pages apart).
const LAYERS: &[&[&str]] = &[
    &["app", "admin"],
    &["server", "connections"],
    &["http", "gateway", "ui"],
    &["web"],
    &["auth", "tls", "cli"],
    &["store", "mail"],
    &[
        "domain",
        "config",
        "clock",
        "telemetry",
        "report",
        "private_files",
    ],
];

/// Modules that only one module above them may name: the database is
/// reached only through the auth service, which returns its own views of
/// what is stored.
const REACHED_ONLY_THROUGH: &[(&str, &str)] = &[("store", "auth")];

/// Known references against the order, each with the work that removes it.
/// An entry that no longer occurs fails the test too, so that the list only
/// ever shrinks.
const PENDING: &[(&str, &str, &str)] = &[];

/// Every top-level module the code under `src/` names, by the module naming
/// it. `main.rs` (the top) and `lib.rs` (the map) are left out.
fn references(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("below src");
        let module = module_path(relative);
        let Some(top) = module.first().cloned() else {
            continue;
        };
        let code = without_comments(&std::fs::read_to_string(&file).expect("readable"));
        let named = graph.entry(top.clone()).or_default();
        for target in named_modules(&code, module.len()) {
            if target != top {
                named.insert(target);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `auth/keys.rs` is `[auth, keys]`, `auth/mod.rs` is `[auth]`; `lib.rs` and
/// `main.rs` are `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if matches!(parts.as_slice(), [only] if only == "lib" || only == "main") {
        parts.clear();
    }
    parts
}

/// The code without `//` comments, doc comments included: a doc link is
/// not a dependency.
fn without_comments(code: &str) -> String {
    code.lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file `depth` modules deep names: `crate::x…`,
/// `crate::{x…, y…}`, and `super::` chains that climb to the crate root.
fn named_modules(code: &str, depth: usize) -> Vec<String> {
    let mut named = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while at < code.len() {
        let rest = &code[at..];
        let starts_path = at == 0 || !is_ident(bytes[at - 1] as char);
        if starts_path && rest.starts_with("crate::") {
            at += "crate::".len();
            named.extend(path_heads(&code[at..]));
        } else if starts_path && rest.starts_with("super::") {
            let mut climbed = 0;
            while code[at..].starts_with("super::") {
                climbed += 1;
                at += "super::".len();
            }
            if climbed >= depth {
                named.extend(path_heads(&code[at..]));
            }
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    named
}

/// The first segment of the path at the start of `text`, or of each path in
/// a `{…}` group.
fn path_heads(text: &str) -> Vec<String> {
    let Some(group) = text.strip_prefix('{') else {
        return ident(text).into_iter().collect();
    };
    let mut heads = Vec::new();
    let mut nesting = 0;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => nesting += 1,
            '}' if nesting == 0 => break,
            '}' => nesting -= 1,
            ',' if nesting == 0 => item_start = true,
            c if item_start && !c.is_whitespace() => {
                heads.extend(ident(&group[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    heads
}

fn ident(text: &str) -> Option<String> {
    let end = text.find(|c: char| !is_ident(c)).unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_owned())
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The cycles of `graph`: each strongly connected component of more than one
/// module.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reaches(m))).collect();
    let mut components: Vec<BTreeSet<String>> = Vec::new();
    for (m, from_m) in &reach {
        let component: BTreeSet<String> = from_m
            .iter()
            .filter(|n| reach.get(n).is_some_and(|r| r.contains(*m)))
            .cloned()
            .collect();
        if component.len() > 1 && !components.contains(&component) {
            components.push(component);
        }
    }
    components
}

/// Everything wrong with the graph of the crate at `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let mut graph = references(src);
    let mut found = Vec::new();
    let listed: BTreeSet<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    for module in graph.keys() {
        if !listed.contains(module.as_str()) {
            found.push(format!(
                "`{module}` has no place in the layers: add it to LAYERS and lib.rs"
            ));
        }
    }
    for (from, to, why) in PENDING {
        let present = graph.get_mut(*from).is_some_and(|named| named.remove(*to));
        if !present {
            found.push(format!(
                "`{from}` no longer names `{to}` ({why}): remove it from PENDING"
            ));
        }
    }
    for (from, named) in &graph {
        let Some(own) = layer_of(from) else { continue };
        for to in named {
            match layer_of(to) {
                Some(theirs) if theirs > own => {}
                Some(theirs) if theirs == own => {
                    found.push(format!("`{from}` names its sibling `{to}`"))
                }
                Some(_) => found.push(format!("`{from}` names `{to}`, a layer above it")),
                None => {}
            }
        }
    }
    for (hidden, gate) in REACHED_ONLY_THROUGH {
        for (from, named) in &graph {
            if from != gate && named.contains(*hidden) {
                found.push(format!(
                    "`{from}` names `{hidden}`, which only `{gate}` may name"
                ));
            }
        }
    }
    for cycle in cycles(&graph) {
        found.push(format!("cycle among {cycle:?}"));
    }
    found
}

#[test]
fn every_module_names_only_modules_below_it_and_there_is_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_reader_finds_every_form_of_path() {
    let code = without_comments(
        "use crate::auth::Auth; // crate::ui\n\
         use crate::{store::{A, B}, domain::C};\n\
         fn f() -> crate::clock::Clock { super::super::config::X }\n\
         use super::sibling;",
    );
    let named = named_modules(&code, 2);
    assert_eq!(named, ["auth", "store", "domain", "clock", "config"]);
    assert_eq!(
        named_modules("use super::super::x;", 3),
        Vec::<String>::new()
    );
}
