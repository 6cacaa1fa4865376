//! Compile-time promises of the public API.

use wasmc_loader::*;

fn send<T: Send>() {}
fn sync<T: Sync>() {}

#[test]
fn thread_safety() {
    send::<Module>();
    sync::<Module>();
    send::<Linker>();
    sync::<Linker>();
    send::<Store>();
    send::<Error>();
    send::<Trap>();
    sync::<Trap>();
    send::<Instance>();
    send::<Func>();
    send::<Val>();
}

#[test]
fn closures_of_every_shape_wrap() {
    let mut linker = Linker::new();
    linker
        .func_wrap("m", "unit", || {})
        .func_wrap("m", "one", |a: i32| a)
        .func_wrap("m", "mixed", |a: i64, b: f32, c: f64, d: u128| (a, b, c, d))
        .func_wrap("m", "caller", |caller: Caller<'_>, a: i32| -> Result<i32, HostError> {
            let _ = caller.get_export("memory");
            Ok(a)
        })
        .func_wrap("m", "eight", |a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32| {
            a + b + c + d + e + f + g + h
        })
        .func_new("m", "dyn", FuncType { params: vec![ValType::I32], results: vec![] }, |_, _, _| Ok(()));
}

#[test]
fn traps_display_as_documented() {
    let mut trap = Trap::new(TrapKind::IntegerDivisionByZero);
    trap.func_index = Some(3);
    trap.func_name = Some("div".into());
    trap.wasm_offset = Some(0x1a);
    assert_eq!(trap.to_string(), "wasm trap: integer divide by zero, in function 3 (div) at wasm offset 0x1a");
    let error = Error::from(trap.clone());
    assert_eq!(error.as_trap(), Some(&trap));
    assert_eq!(error.to_string(), trap.to_string());
}
