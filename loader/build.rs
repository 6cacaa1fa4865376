//! Compiles the small C file that provides `setjmp`/`longjmp`-based
//! unwinding out of wasm code (Rust cannot call `setjmp` soundly).

fn main() {
    println!("cargo:rerun-if-changed=src/vm/sys/unix/unwind.c");
    cc::Build::new().file("src/vm/sys/unix/unwind.c").warnings(true).compile("wasmc_unwind");
}
