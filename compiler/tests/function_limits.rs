//! Functions too large to compile are refused with an error that names
//! them, never miscompiled (the entity limit dates from Cranelift 0.112,
//! whose 24-bit numbering truncated silently: GHSA-897f-g5gm-fmxm; it stays
//! as a resource limit).

use wasmc::{compile, BoundsChecks, CompileError, CompileOptions, MAX_FUNCTION_BODY_BYTES};

fn leb(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![id];
    s.extend(leb(payload.len()));
    s.extend_from_slice(payload);
    s
}

/// A module with one table, one memory and one function `[] -> []` named
/// `name`, whose body is no locals, `unit` `count` times, then `end`.
fn module_with_body(name: &str, unit: &[u8], count: usize) -> Vec<u8> {
    let mut body = vec![0x00];
    body.reserve(unit.len() * count + 1);
    for _ in 0..count {
        body.extend_from_slice(unit);
    }
    body.push(0x0b);
    let mut code = leb(1);
    code.extend(leb(body.len()));
    code.extend(body);

    let mut names = vec![0x01];
    let mut name_map = leb(1);
    name_map.extend(leb(0));
    name_map.extend(leb(name.len()));
    name_map.extend_from_slice(name.as_bytes());
    names.extend(leb(name_map.len()));
    names.extend(name_map);
    let mut custom = leb(4);
    custom.extend_from_slice(b"name");
    custom.extend(names);

    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend(section(1, &[0x01, 0x60, 0x00, 0x00])); // type 0: [] -> []
    module.extend(section(3, &[0x01, 0x00])); // func 0: type 0
    module.extend(section(4, &[0x01, 0x70, 0x00, 0x01])); // table: funcref, min 1
    module.extend(section(5, &[0x01, 0x00, 0x01])); // memory: min 1 page
    module.extend(section(10, &code));
    module.extend(section(0, &custom));
    module
}

/// The size of the body `module_with_body` writes for `count` units.
fn body_len(unit: &[u8], count: usize) -> usize {
    1 + unit.len() * count + 1
}

#[test]
fn a_body_over_the_size_limit_is_refused_by_name() {
    let nop = [0x01];
    let count = MAX_FUNCTION_BODY_BYTES - 1; // the body is one byte over
    assert_eq!(body_len(&nop, count), MAX_FUNCTION_BODY_BYTES + 1);
    match compile(&module_with_body("huge", &nop, count), &CompileOptions::default()) {
        Err(CompileError::FunctionTooLarge { func: 0, name: Some(name), reason }) => {
            assert_eq!(name, "huge");
            assert!(reason.contains(&format!("{} bytes", MAX_FUNCTION_BODY_BYTES + 1)), "{reason}");
        }
        other => panic!("expected FunctionTooLarge, got {:?}", other.map(|bytes| bytes.len())),
    }

    // A body of exactly the limit is accepted.
    let at_limit = module_with_body("huge", &nop, count - 1);
    compile(&at_limit, &CompileOptions::default()).expect("a body at the limit compiles");
}

#[test]
fn a_function_beyond_cranelifts_numbering_is_refused_by_name() {
    // `i32.const 0; call_indirect (type 0) (table 0)`: five bytes that
    // translate to 24 instructions, so 800,000 of them (a 4 MB body, under
    // the size limit) need about 19.2 million, past 2^24 - 1.
    let call_indirect = [0x41, 0x00, 0x11, 0x00, 0x00];
    let count = 800_000;
    let wasm = module_with_body("dispatch", &call_indirect, count);
    assert!(body_len(&call_indirect, count) < MAX_FUNCTION_BODY_BYTES);
    for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
        let options = CompileOptions { bounds_checks: mode, ..CompileOptions::default() };
        let err = compile(&wasm, &options).expect_err("the function is refused");
        let message = err.to_string();
        assert!(matches!(&err, CompileError::FunctionTooLarge { func: 0, .. }), "{message}");
        assert!(message.contains("function 0 (dispatch) is too large"), "{message}");
        assert!(message.contains("Cranelift instructions"), "{message}");
    }
}
