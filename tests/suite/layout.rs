//! The source layout's layering (issue: "no import cycle"): the element traits' layers import
//! no layer above them, the crate's top-level modules form no cycle (the kernels' bodies below
//! their per-type entry points, below the facade `Float` and the public functions), and
//! neither do the files of the SIMD and GEMM folders. Read from
//! the source text: each `crate::…` and `super::…` path outside comments and test modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A source file's code: comments and its `#[cfg(test)] mod tests` removed.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers that follow each `prefix` in `code` (`crate::simd::x` after `crate::`
/// gives `simd`).
fn after(code: &str, prefix: &str) -> BTreeSet<String> {
    code.match_indices(prefix)
        .map(|(i, _)| {
            code[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The crate's top-level modules each file of `files` reaches (`crate::x`), checked against
/// `allowed`.
fn imports_only(files: &[std::path::PathBuf], allowed: &[&str]) {
    for f in files {
        let reached = after(&code(f), "crate::");
        let above: Vec<_> = reached
            .iter()
            .filter(|m| !allowed.contains(&m.as_str()))
            .collect();
        assert!(
            above.is_empty(),
            "{} imports {above:?}, above its layer",
            f.display()
        );
    }
}

fn rs_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    v.sort();
    v
}

/// The files of a folder and the sibling files each reaches, through `super::x`,
/// `crate::<folder>::x` or, for `mod.rs`, its own `mod x` / `use x::`; an item of `mod.rs`
/// itself (`super::Name` where no file `Name.rs` exists) counts as reaching `mod`.
fn folder_graph(folder: &str) -> BTreeMap<String, BTreeSet<String>> {
    let dir = src().join(folder);
    let files = rs_files(&dir);
    let names: BTreeSet<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut g = BTreeMap::new();
    for f in &files {
        let me = f.file_stem().unwrap().to_string_lossy().into_owned();
        let c = code(f);
        let mut to = BTreeSet::new();
        let mut refs = after(&c, "super::");
        refs.extend(after(&c, &format!("crate::{folder}::")));
        if me == "mod" {
            refs.extend(after(&c, "mod "));
            refs.extend(after(&c, "use "));
        }
        for r in refs {
            if names.contains(&r) {
                to.insert(r);
            } else if me != "mod" {
                to.insert("mod".to_string());
            }
        }
        to.remove(&me);
        g.insert(me, to);
    }
    g
}

/// A cycle of `g`, if it has one.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for t in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(g, t, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

#[test]
fn element_trait_layers_import_nothing_above() {
    // the scalar arithmetic: nothing of the crate
    imports_only(&[src().join("real.rs")], &[]);
    // the SIMD layer: the scalar trait and the plumbing below it
    imports_only(
        &rs_files(&src().join("simd")),
        &["real", "simd", "par", "mat", "error"],
    );
    // the GEMM below its public API: no facade, no kernels of the layers
    let lower: Vec<_> = rs_files(&src().join("gemm"))
        .into_iter()
        .filter(|p| !p.ends_with("mod.rs"))
        .collect();
    imports_only(&lower, &["real", "simd", "gemm", "par", "mat", "error"]);
}

#[test]
fn simd_and_gemm_files_form_no_cycle() {
    for folder in ["simd", "gemm"] {
        let g = folder_graph(folder);
        assert!(g.len() >= 5, "{folder}: {g:?}");
        assert_eq!(cycle(&g), None, "{folder}'s files import each other: {g:?}");
    }
}

/// Every `.rs` file under `dir`, recursively.
fn rs_files_deep(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(rs_files_deep(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            v.push(p);
        }
    }
    v.sort();
    v
}

/// The crate's top-level modules (`src/x.rs` or `src/x/`, `lib.rs` aside) and the others each
/// reaches: through `crate::x`, or through a name `lib.rs` re-exports from x
/// (`crate::Float` reaches `float`).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = src();
    let mut files: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            files.insert(name, rs_files_deep(&p));
        } else if p.extension().is_some_and(|x| x == "rs") && name != "lib" {
            files.insert(name, vec![p]);
        }
    }
    // lib.rs's re-exports: `pub use m::…;` maps every name in it to m
    let lib = code(&src.join("lib.rs"));
    let mut exported: BTreeMap<String, String> = BTreeMap::new();
    for stmt in lib.split("pub use ").skip(1) {
        let stmt = stmt.split(';').next().unwrap_or("");
        let module: String = stmt
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        for name in stmt.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !name.is_empty() && name != module {
                exported.insert(name.to_string(), module.clone());
            }
        }
    }
    files
        .iter()
        .map(|(m, fs)| {
            let mut to = BTreeSet::new();
            for f in fs {
                for r in after(&code(f), "crate::") {
                    let target = if files.contains_key(&r) {
                        Some(r)
                    } else {
                        exported.get(&r).cloned()
                    };
                    if let Some(t) = target.filter(|t| t != m) {
                        to.insert(t);
                    }
                }
            }
            (m.clone(), to)
        })
        .collect()
}

#[test]
fn crate_modules_form_no_cycle() {
    let g = module_graph();
    for m in [
        "real", "simd", "gemm", "ops", "entry", "float", "kernels", "layers",
    ] {
        assert!(g.contains_key(m), "no module {m}: {g:?}");
    }
    assert_eq!(cycle(&g), None, "the crate's modules import each other: {g:?}");
    // the kernels' bodies sit below the per-type entry points, which sit below the facade
    // and the public functions
    let ops = &g["ops"];
    for above in ["entry", "float", "kernels", "layers"] {
        assert!(!ops.contains(above), "ops reaches {above}: {ops:?}");
    }
    for above in ["float", "kernels", "layers"] {
        assert!(
            !g["entry"].contains(above),
            "entry reaches {above}: {:?}",
            g["entry"]
        );
    }
    assert!(g["kernels"].contains("entry") || g["kernels"].contains("float"));
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycle(&g).map(|c| c.len()), Some(4));
    let mut acyclic = g.clone();
    acyclic.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&acyclic), None);
}
