//! `include/wasmc.h` is written by hand; this test holds it to the Rust
//! side: the same functions with the same parameter and return types
//! (Rust types mapped to C), the same callback typedefs, the same
//! constants, and `wasmc_val_t`'s layout.

use std::collections::BTreeMap;
use std::path::Path;

use wasmc_capi::{error, val};

/// A signature: return type and parameter types, whitespace removed.
type Sig = (String, Vec<String>);

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The C spelling of a Rust type used at the boundary.
fn c_type(rust: &str) -> String {
    let t = rust.trim();
    if let Some(inner) = t.strip_prefix("*mut ") {
        return format!("{}*", c_type(inner));
    }
    if let Some(inner) = t.strip_prefix("*const ") {
        return if inner.trim_start().starts_with('*') {
            format!("{}const*", c_type(inner))
        } else {
            format!("const {}*", c_type(inner))
        };
    }
    if let Some(inner) = t.strip_prefix("Option<").and_then(|s| s.strip_suffix('>')) {
        return c_type(inner); // a nullable function pointer
    }
    match t {
        "c_char" => "char",
        "c_void" | "()" => "void",
        "u8" => "uint8_t",
        "i32" => "int32_t",
        "u32" => "uint32_t",
        "i64" => "int64_t",
        "u64" => "uint64_t",
        "usize" => "size_t",
        "bool" => "bool",
        other if other.starts_with("wasmc_") => other,
        other => panic!("no C mapping for the Rust type {other}"),
    }
    .to_string()
}

/// Splits a parameter list at top-level commas.
fn split_params(list: &str) -> Vec<String> {
    let (mut out, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for c in list.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty() && p != "void").collect()
}

/// Rust `name: Type` parameters and `-> Ret` as a C signature.
fn rust_sig(params: &str, ret: &str) -> Sig {
    let params = split_params(params)
        .iter()
        .map(|p| squash(&c_type(p.split_once(':').map_or(p.as_str(), |(_, t)| t))))
        .collect();
    (squash(&c_type(if ret.trim().is_empty() { "()" } else { ret })), params)
}

/// C `type name` parameters (names dropped).
fn c_params(params: &str) -> Vec<String> {
    split_params(params)
        .iter()
        .map(|p| {
            let name_start = p.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
            squash(&p[..name_start])
        })
        .collect()
}

/// Every `extern "C" fn wasmc_*` in `src/` and every `pub type wasmc_* =
/// unsafe extern "C" fn(...)`.
fn rust_side() -> (BTreeMap<String, Sig>, BTreeMap<String, Sig>) {
    let (mut funcs, mut typedefs) = (BTreeMap::new(), BTreeMap::new());
    for entry in std::fs::read_dir(manifest().join("src")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (i, _) in text.match_indices("extern \"C\" fn") {
            let before = &text[..i];
            let line_start = before.rfind('\n').map_or(0, |n| n + 1);
            let rest = &text[i + "extern \"C\" fn".len()..];
            let open = rest.find('(').unwrap();
            let name = rest[..open].trim().to_string();
            let mut depth = 0;
            let close = rest[open..]
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .unwrap()
                .0
                + open;
            let params = &rest[open + 1..close];
            let tail = &rest[close + 1..];
            let end = tail.find(['{', ';']).unwrap();
            let ret = tail[..end].trim().strip_prefix("->").unwrap_or("");
            let sig = rust_sig(params, ret);
            if name.starts_with("wasmc_") {
                funcs.insert(name, sig);
            } else if let Some(alias) = before[line_start..].trim().strip_prefix("pub type ") {
                let alias = alias.split('=').next().unwrap().trim().to_string();
                typedefs.insert(alias, sig);
            }
        }
    }
    (funcs, typedefs)
}

/// Every `WASMC_API` declaration and function-pointer typedef in the header.
fn header_side(header: &str) -> (BTreeMap<String, Sig>, BTreeMap<String, Sig>) {
    let no_comments = {
        let mut out = String::new();
        let mut rest = header;
        while let Some(start) = rest.find("/*") {
            out.push_str(&rest[..start]);
            rest = &rest[start + rest[start..].find("*/").unwrap() + 2..];
        }
        out.push_str(rest);
        out
    };
    let (mut funcs, mut typedefs) = (BTreeMap::new(), BTreeMap::new());
    for decl in no_comments.split(';') {
        let decl = decl.trim();
        if let Some(decl) = decl.rsplit("WASMC_API ").next().filter(|_| decl.contains("WASMC_API ")) {
            let open = decl.find('(').unwrap();
            let head = &decl[..open];
            let name_start = head.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
            let params = &decl[open + 1..decl.rfind(')').unwrap()];
            funcs.insert(head[name_start..].to_string(), (squash(&head[..name_start]), c_params(params)));
        } else if let Some(pos) = decl.find("typedef ").filter(|_| decl.contains("(*")) {
            let decl = &decl[pos + "typedef ".len()..];
            let star = decl.find("(*").unwrap();
            let name_end = star + decl[star..].find(')').unwrap();
            let name = decl[star + 2..name_end].trim().to_string();
            let params = &decl[name_end + 2..decl.rfind(')').unwrap()];
            typedefs.insert(name, (squash(&decl[..star]), c_params(params)));
        }
    }
    (funcs, typedefs)
}

fn header() -> String {
    std::fs::read_to_string(manifest().join("include/wasmc.h")).unwrap()
}

#[test]
fn every_function_in_the_header_matches_its_rust_definition() {
    let (rust_funcs, rust_typedefs) = rust_side();
    let (c_funcs, c_typedefs) = header_side(&header());
    assert!(rust_funcs.len() > 60, "found only {} Rust functions", rust_funcs.len());
    let only_rust: Vec<_> = rust_funcs.keys().filter(|k| !c_funcs.contains_key(*k)).collect();
    let only_c: Vec<_> = c_funcs.keys().filter(|k| !rust_funcs.contains_key(*k)).collect();
    assert!(
        only_rust.is_empty() && only_c.is_empty(),
        "missing from the header: {only_rust:?}; not in Rust: {only_c:?}"
    );
    for (name, sig) in &rust_funcs {
        assert_eq!(&c_funcs[name], sig, "{name}: header (left) and Rust (right) differ");
    }
    assert_eq!(c_typedefs, rust_typedefs, "callback typedefs: header (left) and Rust (right) differ");
    assert_eq!(c_typedefs.len(), 3);
}

#[test]
fn every_constant_in_the_header_matches_rust() {
    let mut defines = BTreeMap::new();
    for line in header().lines() {
        let mut words = line.split_whitespace();
        if let (Some("#define"), Some(name), Some(value)) = (words.next(), words.next(), words.next()) {
            defines.insert(name.to_string(), value.parse::<u32>().unwrap());
        }
    }
    let mut expected = BTreeMap::new();
    for (name, kind) in error::TRAP_CODES {
        expected.insert(format!("WASMC_TRAP_CODE_{name}"), u32::from(kind.to_u8()));
    }
    for (name, kind) in error::ERROR_KINDS {
        expected.insert(format!("WASMC_ERROR_{name}"), u32::from(kind));
    }
    for (name, kind) in val::VAL_KINDS {
        expected.insert(format!("WASMC_{name}"), u32::from(kind));
    }
    assert_eq!(defines, expected);
    // Every trap kind has its constant.
    assert_eq!(error::TRAP_CODES.len(), wasmc_loader::TrapKind::ALL.len());
    for (i, (_, kind)) in error::TRAP_CODES.iter().enumerate() {
        assert_eq!(*kind, wasmc_loader::TrapKind::ALL[i]);
    }
}

#[test]
fn wasmc_val_t_has_the_layout_the_header_declares() {
    // The header's layout: a byte of kind, then an 8-byte union at offset 8
    // (host.c asserts the same with _Static_assert).
    assert_eq!(std::mem::size_of::<val::wasmc_val_t>(), 16);
    assert_eq!(std::mem::align_of::<val::wasmc_val_t>(), 8);
    assert_eq!(std::mem::offset_of!(val::wasmc_val_t, of), 8);
    assert_eq!(std::mem::size_of::<val::wasmc_valunion_t>(), 8);
}
