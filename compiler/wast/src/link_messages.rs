//! Whether a [`LinkError`] is the failure an `assert_unlinkable` names.
//!
//! The spec scripts name the failure in two words ("unknown import",
//! "incompatible import type"); wasmtime's scripts name the mismatch in
//! wasmtime's words ("expected global of type `i64`, found global of type
//! `i32`"). Each text is translated to what the loader's error says for
//! that mismatch; a text the runner does not know matches nothing, so a new
//! kind of message fails loudly instead of passing by accident.

use wasmc_loader::LinkError;

/// Whether `error` is the link failure that `expected` describes.
pub(crate) fn link_error_matches(error: &LinkError, expected: &str) -> bool {
    match error {
        LinkError::Missing { .. } => expected.starts_with("unknown import"),
        LinkError::Incompatible { module, name, reason } => {
            if let Some(rest) = expected.strip_prefix("incompatible import type") {
                // wasmtime adds " for `module::name`".
                return match rest.strip_prefix(" for `").and_then(|r| r.strip_suffix('`')) {
                    Some(item) => item.split_once("::") == Some((module.as_str(), name.as_str())),
                    None => rest.is_empty(),
                };
            }
            incompatible_reason_matches(reason, expected)
        }
        // A kind of link error added later: no script text names it yet.
        _ => false,
    }
}

/// wasmtime's description of an incompatible import against the loader's.
fn incompatible_reason_matches(reason: &str, expected: &str) -> bool {
    if let Some((want, found)) = backticked_pair(expected, "expected global of type `", "`, found global of type `") {
        return reason == format!("expected global {want}, found {found}");
    }
    if expected == "expected mutable global, found immutable global" {
        return reason.starts_with("expected global mut ") && !reason.contains(", found mut ");
    }
    if expected == "expected immutable global, found mutable global" {
        return !reason.starts_with("expected global mut ") && reason.contains(", found mut ");
    }
    if let Some((want, found)) = backticked_pair(expected, "expected table of type `", "`, found table of type `") {
        return reason == format!("expected a table of {want}, found one of {found}");
    }
    if let Some((want, found)) = backticked_pair(expected, "expected type `", "`, found type `") {
        let (Some(want), Some(found)) = (func_type(want), func_type(found)) else { return false };
        return reason == format!("expected function type {want}, found {found}");
    }
    if expected.starts_with("expected table limits") {
        return limits_reason(reason, "table ");
    }
    if expected.starts_with("expected memory limits") {
        return limits_reason(reason, "memory ");
    }
    false
}

/// The loader's limit mismatches: "has N, at least M required", "has no
/// maximum, ..." or "maximum N exceeds ...", after the item's kind.
fn limits_reason(reason: &str, kind: &str) -> bool {
    reason.strip_prefix(kind).is_some_and(|r| r.starts_with("has ") || r.starts_with("maximum "))
}

/// `A` and `B` from `{head}A{middle}B\``.
fn backticked_pair<'t>(text: &'t str, head: &str, middle: &str) -> Option<(&'t str, &'t str)> {
    text.strip_prefix(head)?.strip_suffix('`')?.split_once(middle)
}

/// wasmtime's `(func (param i32 i32) (result f64))` as the loader writes it,
/// `(i32, i32) -> (f64)`.
fn func_type(text: &str) -> Option<String> {
    let mut params = Vec::new();
    let mut results = Vec::new();
    let inner = text.strip_prefix("(func")?.strip_suffix(')')?;
    for group in inner.split('(').map(str::trim).filter(|g| !g.is_empty()) {
        let group = group.strip_suffix(')')?;
        let (kind, types) = group.split_once(' ').unwrap_or((group, ""));
        let list = match kind {
            "param" => &mut params,
            "result" => &mut results,
            _ => return None,
        };
        list.extend(types.split_whitespace());
    }
    Some(format!("({}) -> ({})", params.join(", "), results.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incompatible(reason: &str) -> LinkError {
        LinkError::Incompatible { module: "m".into(), name: "g i32".into(), reason: reason.into() }
    }

    #[test]
    fn spec_texts() {
        let missing = LinkError::Missing { module: "m".into(), name: "x".into(), kind: wasmc_loader::ExternKind::Func };
        assert!(link_error_matches(&missing, "unknown import"));
        assert!(!link_error_matches(&missing, "incompatible import type"));
        assert!(link_error_matches(&incompatible("expected global i64, found i32"), "incompatible import type"));
        assert!(!link_error_matches(&incompatible("expected global i64, found i32"), "unknown import"));
    }

    #[test]
    fn wasmtime_texts() {
        let global = incompatible("expected global i64, found i32");
        assert!(link_error_matches(&global, "incompatible import type for `m::g i32`"));
        assert!(!link_error_matches(&global, "incompatible import type for `m::g i64`"));
        assert!(link_error_matches(&global, "expected global of type `i64`, found global of type `i32`"));
        assert!(!link_error_matches(&global, "expected global of type `f64`, found global of type `i32`"));
        assert!(!link_error_matches(&global, "expected mutable global, found immutable global"));
        assert!(link_error_matches(
            &incompatible("expected global mut i32, found i32"),
            "expected mutable global, found immutable global"
        ));
        let func = incompatible("expected function type (i32, i32) -> (f64), found (f32) -> (i32, i64)");
        assert!(link_error_matches(
            &func,
            "expected type `(func (param i32 i32) (result f64))`, found type `(func (param f32) (result i32 i64))`"
        ));
        assert!(!link_error_matches(&func, "expected type `(func (param i32))`, found type `(func)`"));
        assert_eq!(func_type("(func)").as_deref(), Some("() -> ()"));
        let limits = incompatible("memory has 0, at least 1 required");
        assert!(link_error_matches(&limits, "expected memory limits (min: 1, max: none) doesn't match"));
        assert!(!link_error_matches(&limits, "expected table limits (min: 1, max: none) doesn't match"));
        assert!(!link_error_matches(&limits, "some text the runner does not know"));
    }
}
