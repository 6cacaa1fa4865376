/*
 * Unwinding out of wasm code.
 *
 * Rust cannot call setjmp soundly (it "returns twice"), so the host enters
 * wasm through wasmc_call_trampoline, which sets a jump buffer and calls the
 * module's entry trampoline. A trap (signal handler, builtin, host function)
 * jumps back with wasmc_unwind; the frames skipped over are wasm frames and
 * Rust frames that own nothing with a destructor.
 */
#include <setjmp.h>
#include <stddef.h>

typedef void (*wasmc_entry_fn)(void *code, void *vmctx, void *caller, void *values);

/*
 * Calls entry(code, vmctx, caller, values) with *jmpbuf_slot pointing at a
 * fresh jump buffer, restoring the previous slot value afterwards.
 * Returns 1 when entry returned normally, 0 when wasmc_unwind jumped back.
 */
int wasmc_call_trampoline(void **jmpbuf_slot, wasmc_entry_fn entry, void *code,
                          void *vmctx, void *caller, void *values) {
    jmp_buf buf;
    void *volatile prev = *jmpbuf_slot;
    if (setjmp(buf) == 0) {
        *jmpbuf_slot = &buf;
        entry(code, vmctx, caller, values);
        *jmpbuf_slot = prev;
        return 1;
    }
    *jmpbuf_slot = prev;
    return 0;
}

/* Jumps back to the wasmc_call_trampoline that set jmpbuf. */
void wasmc_unwind(void *jmpbuf) {
    longjmp(*(jmp_buf *)jmpbuf, 1);
}

/* Makes freshly written code visible to instruction fetch. */
void wasmc_flush_icache(char *start, size_t len) {
    __builtin___clear_cache(start, start + len);
}
