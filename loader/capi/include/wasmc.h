/*
 * wasmc.h: the C API of the wasmc loader (crate loader/capi, libraries
 * libwasmc_capi.a and libwasmc_capi.so).
 *
 * Written by hand; loader/capi/tests/header.rs checks every declaration
 * and constant here against the Rust definitions, so they cannot drift.
 *
 * Naming follows wasmtime.h (wasmtime_module_t -> wasmc_module_t,
 * wasmtime_linker_define_func, wasmtime_func_call with a wasm_trap_t **
 * out-parameter, wasmtime_val_t's layout and kind numbers, the trap codes
 * of wasmtime_trap_code_t up to INTERRUPT, *_delete to free). Unlike
 * wasmtime.h, strings are NUL-terminated UTF-8, messages are returned as
 * `const char *` owned by their object, and there is no engine: limits
 * are set per store with a wasmc_config_t.
 *
 * Typical use (see loader/capi/examples/host.c):
 *
 *     wasmc_trusted_keys_t *keys = wasmc_trusted_keys_new();
 *     err = wasmc_trusted_keys_add_file(keys, "ci.pub");
 *     err = wasmc_module_from_file_signed("plugin.cwasm", keys, &module);
 *     wasmc_linker_t *linker = wasmc_linker_new();
 *     err = wasmc_linker_define_func(linker, "host", "log", params, 1, NULL, 0, cb, env, NULL);
 *     err = wasmc_linker_instantiate_pre(linker, module, &pre);
 *     err = wasmc_instance_pool_new(module, 64, 0, &pool);
 *     // per request, on any thread:
 *     wasmc_store_t *store = wasmc_store_new(config, request, NULL);
 *     wasmc_store_set_call_timeout(store, 100000);  // 100 ms
 *     err = wasmc_instance_pool_instantiate_pre(pool, store, pre, &instance, &trap);
 *     err = wasmc_instance_call(store, instance, "handle", args, 1, results, 1, &trap);
 *     wasmc_instance_delete(instance);
 *     wasmc_store_delete(store);                    // the slot is free again
 *
 * ERRORS. A function that can fail returns a wasmc_error_t * (NULL on
 * success), which the caller frees with wasmc_error_delete. A NULL
 * pointer, a string that is not UTF-8 or an unknown value kind is such an
 * error (WASMC_ERROR_INVALID_ARGUMENT), never a crash; a bug inside wasmc
 * (a Rust panic) is caught at the boundary and is one too
 * (WASMC_ERROR_PANIC). Functions returning a pointer return NULL instead,
 * functions returning bool false. On failure, out-parameters are NULL.
 *
 * TRAPS. Calls and instantiation take a `wasmc_trap_t **trap`: when wasm
 * code traps (unreachable, out-of-bounds access, deadline, ...) the
 * function returns NULL and stores a trap in *trap, to be freed with
 * wasmc_trap_delete. Pass NULL to get traps as errors of kind
 * WASMC_ERROR_TRAP instead (wasmc_error_trap_code gives the code). WASI
 * proc_exit is not a trap: an error of kind WASMC_ERROR_EXIT
 * (wasmc_error_exit_status). The thread and every other instance go on
 * after a trap; wasmc catches faults with signal handlers for SIGSEGV,
 * SIGBUS, SIGILL and SIGFPE installed on first use, which pass every other
 * fault to the handlers installed before.
 *
 * OWNERSHIP. Every object is freed by its *_delete function (NULL is
 * ignored); handles (wasmc_instance_t, wasmc_func_t, wasmc_memory_t) are
 * small heap objects too and must be deleted even after their store.
 * Deleting a linker, module or pool while objects made from them live is
 * fine: those keep what they need.
 *
 * THREADS.
 *   Shareable (use from any number of threads at once, once built):
 *     wasmc_module_t, wasmc_trusted_keys_t, wasmc_linker_t,
 *     wasmc_instance_pre_t, wasmc_instance_pool_t, wasmc_config_t.
 *     Functions that modify them (wasmc_linker_define_*,
 *     wasmc_trusted_keys_add_file, wasmc_config_*_set) need the object to
 *     themselves.
 *   One thread at a time (may move between threads between uses):
 *     wasmc_store_t and everything used with it: wasmc_instance_t,
 *     wasmc_func_t, wasmc_memory_t, and the store's data pointer.
 *   Host callbacks run on whichever thread calls into wasm, on several at
 *   once when a linker is shared: their env must allow that. A
 *   wasmc_caller_t is valid only during its callback. Finalizers run on
 *   the thread that drops the last reference.
 *
 * Linking: with the static library add `-lpthread -ldl -lm`; the shared
 * library needs nothing more.
 */
#ifndef WASMC_H
#define WASMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WASMC_API

/* ---- errors and traps ------------------------------------------------ */

/** An error: message, kind, exit status or trap code. */
typedef struct wasmc_error_t wasmc_error_t;
/** A trap of wasm code, or one a host callback returns. */
typedef struct wasmc_trap_t wasmc_trap_t;

/** What kind of failure an error reports. */
typedef uint8_t wasmc_error_kind_t;
#define WASMC_ERROR_OTHER 0
#define WASMC_ERROR_INVALID_ARGUMENT 1
#define WASMC_ERROR_LOAD 2
#define WASMC_ERROR_LINK 3
#define WASMC_ERROR_TRAP 4
#define WASMC_ERROR_RESOURCE 5
#define WASMC_ERROR_TYPE 6
#define WASMC_ERROR_EXPORT_NOT_FOUND 7
#define WASMC_ERROR_WRONG_STORE 8
#define WASMC_ERROR_OUT_OF_BOUNDS 9
#define WASMC_ERROR_EXIT 10
#define WASMC_ERROR_KEY 11
#define WASMC_ERROR_WASI 12
#define WASMC_ERROR_PANIC 13

/** Why wasm code trapped (the loader's TrapKind; wasmtime's numbers up to INTERRUPT). */
typedef uint8_t wasmc_trap_code_t;
#define WASMC_TRAP_CODE_STACK_OVERFLOW 0
#define WASMC_TRAP_CODE_MEMORY_OUT_OF_BOUNDS 1
#define WASMC_TRAP_CODE_HEAP_MISALIGNED 2
#define WASMC_TRAP_CODE_TABLE_OUT_OF_BOUNDS 3
#define WASMC_TRAP_CODE_INDIRECT_CALL_TO_NULL 4
#define WASMC_TRAP_CODE_BAD_SIGNATURE 5
#define WASMC_TRAP_CODE_INTEGER_OVERFLOW 6
#define WASMC_TRAP_CODE_INTEGER_DIVISION_BY_ZERO 7
#define WASMC_TRAP_CODE_BAD_CONVERSION_TO_INTEGER 8
#define WASMC_TRAP_CODE_UNREACHABLE_CODE_REACHED 9
/** The call's deadline passed, or its fuel ran out. */
#define WASMC_TRAP_CODE_INTERRUPT 10
#define WASMC_TRAP_CODE_NULL_REFERENCE 11
/** A host callback returned a trap. */
#define WASMC_TRAP_CODE_HOST_ERROR 12
#define WASMC_TRAP_CODE_UNKNOWN_FAULT 13

WASMC_API void wasmc_error_delete(wasmc_error_t *error);
/** The message, owned by the error. */
WASMC_API const char *wasmc_error_message(const wasmc_error_t *error);
WASMC_API wasmc_error_kind_t wasmc_error_kind(const wasmc_error_t *error);
/** True (and *status set) for a WASMC_ERROR_EXIT error. */
WASMC_API bool wasmc_error_exit_status(const wasmc_error_t *error, int32_t *status);
/** True (and *code set) for a WASMC_ERROR_TRAP error. */
WASMC_API bool wasmc_error_trap_code(const wasmc_error_t *error, wasmc_trap_code_t *code);

/** A trap for a host callback to return; wasmc takes it back. NULL if message is NULL or not UTF-8. */
WASMC_API wasmc_trap_t *wasmc_trap_new(const char *message);
WASMC_API void wasmc_trap_delete(wasmc_trap_t *trap);
/** The message, owned by the trap. */
WASMC_API const char *wasmc_trap_message(const wasmc_trap_t *trap);
/** True (and *code set) for a trap raised by wasm code. */
WASMC_API bool wasmc_trap_code(const wasmc_trap_t *trap, wasmc_trap_code_t *code);

/* ---- values ---------------------------------------------------------- */

typedef uint8_t wasmc_valkind_t;
#define WASMC_I32 0
#define WASMC_I64 1
#define WASMC_F32 2
#define WASMC_F64 3

typedef union wasmc_valunion_t {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
} wasmc_valunion_t;

/** A value: `kind` says which member of `of` holds it. */
typedef struct wasmc_val_t {
  wasmc_valkind_t kind;
  wasmc_valunion_t of;
} wasmc_val_t;

/* ---- modules --------------------------------------------------------- */

typedef struct wasmc_module_t wasmc_module_t;
typedef struct wasmc_trusted_keys_t wasmc_trusted_keys_t;

/*
 * An artifact is native code that runs in this process. The unsigned loads
 * below check format, checksum, architecture and CPU features, which catch
 * damage, not forgery: THE CALLER VOUCHES FOR THE FILE (e.g. its own build
 * pipeline compiled it with wasmc). Files from anywhere else: load them
 * signed.
 */
/** Loads a trusted artifact file, checksum checked. */
WASMC_API wasmc_error_t *wasmc_module_from_file(const char *path, wasmc_module_t **out);
/** As wasmc_module_from_file, without the checksum (the caller also vouches for the file's integrity). */
WASMC_API wasmc_error_t *wasmc_module_from_file_trusted(const char *path, wasmc_module_t **out);
/** Loads a trusted artifact from memory (copied), checksum checked. */
WASMC_API wasmc_error_t *wasmc_module_from_bytes(const uint8_t *bytes, size_t len, wasmc_module_t **out);
/**
 * Loads an artifact only if one of `keys` signed it (`wasmc compile --sign`);
 * safe for files from an untrusted cache. The file is read once and that
 * copy is checked and run. WASMC_ERROR_LOAD for unsigned, untrusted-key and
 * bad-signature files.
 */
WASMC_API wasmc_error_t *wasmc_module_from_file_signed(const char *path, const wasmc_trusted_keys_t *keys,
                                                       wasmc_module_t **out);
WASMC_API wasmc_error_t *wasmc_module_from_bytes_signed(const uint8_t *bytes, size_t len,
                                                        const wasmc_trusted_keys_t *keys, wasmc_module_t **out);
/** Another handle to the same module (deleted separately). */
WASMC_API wasmc_module_t *wasmc_module_clone(const wasmc_module_t *module);
WASMC_API void wasmc_module_delete(wasmc_module_t *module);

WASMC_API wasmc_trusted_keys_t *wasmc_trusted_keys_new(void);
/** Adds the public key of a `NAME.pub` file (`wasmc keygen`); WASMC_ERROR_KEY if unreadable or invalid. */
WASMC_API wasmc_error_t *wasmc_trusted_keys_add_file(wasmc_trusted_keys_t *keys, const char *path);
WASMC_API void wasmc_trusted_keys_delete(wasmc_trusted_keys_t *keys);

/* ---- stores ---------------------------------------------------------- */

typedef struct wasmc_config_t wasmc_config_t;
typedef struct wasmc_store_t wasmc_store_t;
typedef void (*wasmc_finalizer_t)(void *data);

/** Default limits: 512 KiB of wasm stack; memories and tables limited by their types. */
WASMC_API wasmc_config_t *wasmc_config_new(void);
WASMC_API void wasmc_config_delete(wasmc_config_t *config);
/** Bytes of native stack wasm code may use (stack overflow traps past it). */
WASMC_API wasmc_error_t *wasmc_config_max_wasm_stack_set(wasmc_config_t *config, size_t bytes);
/** Largest size any memory may grow to; memory.grow past it returns -1. */
WASMC_API wasmc_error_t *wasmc_config_max_memory_bytes_set(wasmc_config_t *config, uint64_t bytes);
/** Largest size any table may reach (default 10,000,000 elements). */
WASMC_API wasmc_error_t *wasmc_config_max_table_elements_set(wasmc_config_t *config, uint32_t elements);

/**
 * A store with `config`'s limits (NULL: defaults; copied), carrying `data`,
 * which `finalizer` (may be NULL) receives when the store is deleted.
 */
WASMC_API wasmc_store_t *wasmc_store_new(const wasmc_config_t *config, void *data, wasmc_finalizer_t finalizer);
/** Frees the store and everything in it (pooled slots go back). Never from a callback running in it. */
WASMC_API void wasmc_store_delete(wasmc_store_t *store);
WASMC_API void *wasmc_store_data(const wasmc_store_t *store);
/**
 * Each call from the host into wasm must finish within `timeout_us`
 * microseconds or traps with WASMC_TRAP_CODE_INTERRUPT (instance still
 * usable); 0: no deadline. Checked about once per millisecond.
 */
WASMC_API wasmc_error_t *wasmc_store_set_call_timeout(wasmc_store_t *store, uint64_t timeout_us);
/** Fuel for code compiled with `--fuel-metering`; running out traps with WASMC_TRAP_CODE_INTERRUPT. */
WASMC_API wasmc_error_t *wasmc_store_set_fuel(wasmc_store_t *store, uint64_t fuel);
/** False if fuel was never set. */
WASMC_API bool wasmc_store_get_fuel(const wasmc_store_t *store, uint64_t *fuel);

/* ---- WASI ------------------------------------------------------------ */

/** WASI preview 1 settings for one store; deny by default. */
typedef struct wasmc_wasi_config_t wasmc_wasi_config_t;

WASMC_API wasmc_wasi_config_t *wasmc_wasi_config_new(void);
WASMC_API void wasmc_wasi_config_delete(wasmc_wasi_config_t *config);
/** The program's arguments; argv[0] is its name. Copied. */
WASMC_API wasmc_error_t *wasmc_wasi_config_set_argv(wasmc_wasi_config_t *config, size_t argc,
                                                    const char *const *argv);
WASMC_API wasmc_error_t *wasmc_wasi_config_env(wasmc_wasi_config_t *config, const char *name, const char *value);
/** The host's stdin, stdout and stderr, except a stream given bytes or a callback below (whatever the order). */
WASMC_API wasmc_error_t *wasmc_wasi_config_inherit_stdio(wasmc_wasi_config_t *config);
/** The program reads these `len` bytes (copied) from stdin, then end of file. Replaces earlier bytes. */
WASMC_API wasmc_error_t *wasmc_wasi_config_stdin_bytes(wasmc_wasi_config_t *config, const uint8_t *data, size_t len);
/**
 * Receives `len` bytes (valid during the call) the program wrote to stdout
 * or stderr, on the thread running the program, one call at a time per
 * store. Returns 0 when it took them all; anything else fails the
 * program's write with EIO. Must return normally and should not block: a
 * deadline cannot interrupt it. `env` must be usable from any thread that
 * calls into the store.
 */
typedef int32_t (*wasmc_wasi_write_callback_t)(void *env, const uint8_t *data, size_t len);
/**
 * What the program writes to stdout goes to `write`. `finalizer` (may be
 * NULL) gets `env` once, when wasmc no longer needs it: the config deleted
 * or replaced by a second call, the store's WASI state replaced, the store
 * deleted, or the program closing the stream; on error, at once.
 */
WASMC_API wasmc_error_t *wasmc_wasi_config_stdout_callback(wasmc_wasi_config_t *config,
                                                           wasmc_wasi_write_callback_t write, void *env,
                                                           wasmc_finalizer_t finalizer);
/** As wasmc_wasi_config_stdout_callback, for stderr. */
WASMC_API wasmc_error_t *wasmc_wasi_config_stderr_callback(wasmc_wasi_config_t *config,
                                                           wasmc_wasi_write_callback_t write, void *env,
                                                           wasmc_finalizer_t finalizer);
/** Files under host_path, seen as guest_path; opened (and failures reported) by wasmc_store_set_wasi. */
WASMC_API wasmc_error_t *wasmc_wasi_config_preopen_dir(wasmc_wasi_config_t *config, const char *host_path,
                                                       const char *guest_path);
/** Gives the store WASI state; takes `config` (freed here, even on error). WASMC_ERROR_WASI if a preopen fails. */
WASMC_API wasmc_error_t *wasmc_store_set_wasi(wasmc_store_t *store, wasmc_wasi_config_t *config);

/* ---- linkers and host functions ---------------------------------------- */

typedef struct wasmc_linker_t wasmc_linker_t;
typedef struct wasmc_instance_pre_t wasmc_instance_pre_t;
/** What a callback sees of its caller; valid only during the callback. */
typedef struct wasmc_caller_t wasmc_caller_t;

/**
 * A host function: reads `nargs` args, writes `nresults` results (pre-set to
 * zeros of the declared kinds). Returns NULL, or a trap from wasmc_trap_new
 * (wasmc frees it) to make the calling wasm code trap. Must return
 * normally: no longjmp or C++ exception out of it.
 */
typedef wasmc_trap_t *(*wasmc_func_callback_t)(void *env, wasmc_caller_t *caller, const wasmc_val_t *args,
                                               size_t nargs, wasmc_val_t *results, size_t nresults);

WASMC_API wasmc_linker_t *wasmc_linker_new(void);
WASMC_API void wasmc_linker_delete(wasmc_linker_t *linker);
/**
 * Defines module.name as a host function (params) -> (results). `finalizer`
 * (may be NULL) gets `env` when no linker, instance-pre or instance uses the
 * function any more; on error, at once.
 */
WASMC_API wasmc_error_t *wasmc_linker_define_func(wasmc_linker_t *linker, const char *module, const char *name,
                                                  const wasmc_valkind_t *params, size_t nparams,
                                                  const wasmc_valkind_t *results, size_t nresults,
                                                  wasmc_func_callback_t callback, void *env,
                                                  wasmc_finalizer_t finalizer);
/** Defines WASI preview 1 (wasi_snapshot_preview1) and preview 0 (wasi_unstable); state per store: wasmc_store_set_wasi. */
WASMC_API wasmc_error_t *wasmc_linker_define_wasi(wasmc_linker_t *linker);
/** Resolves and type-checks `module`'s imports once (WASMC_ERROR_LINK if they do not fit). */
WASMC_API wasmc_error_t *wasmc_linker_instantiate_pre(const wasmc_linker_t *linker, const wasmc_module_t *module,
                                                      wasmc_instance_pre_t **out);
WASMC_API void wasmc_instance_pre_delete(wasmc_instance_pre_t *pre);

/** The data of the store the callback runs in. */
WASMC_API void *wasmc_caller_data(const wasmc_caller_t *caller);
/** Reads the caller's exported "memory"; WASMC_ERROR_OUT_OF_BOUNDS past its end. */
WASMC_API wasmc_error_t *wasmc_caller_memory_read(const wasmc_caller_t *caller, uint64_t offset, uint8_t *buf,
                                                  size_t len);
WASMC_API wasmc_error_t *wasmc_caller_memory_write(wasmc_caller_t *caller, uint64_t offset, const uint8_t *buf,
                                                   size_t len);
/** Address and size in bytes of the caller's exported "memory", valid during the callback. */
WASMC_API wasmc_error_t *wasmc_caller_memory_data(const wasmc_caller_t *caller, uint8_t **data, size_t *size);

/* ---- instances, pools, calls, memories -------------------------------- */

typedef struct wasmc_instance_t wasmc_instance_t;
typedef struct wasmc_instance_pool_t wasmc_instance_pool_t;
typedef struct wasmc_func_t wasmc_func_t;
typedef struct wasmc_memory_t wasmc_memory_t;

/** Instantiates in fresh memory, resolving imports now. A start-function trap goes to *trap. */
WASMC_API wasmc_error_t *wasmc_linker_instantiate(const wasmc_linker_t *linker, wasmc_store_t *store,
                                                  const wasmc_module_t *module, wasmc_instance_t **out,
                                                  wasmc_trap_t **trap);
/** Instantiates in fresh memory. */
WASMC_API wasmc_error_t *wasmc_instance_pre_instantiate(const wasmc_instance_pre_t *pre, wasmc_store_t *store,
                                                        wasmc_instance_t **out, wasmc_trap_t **trap);
/**
 * `capacity` slots for instances of `module`, memories limited to
 * `max_memory_pages` (0: 160). Guard-mode artifacts reserve 6 GiB of
 * address space per memory per slot.
 */
WASMC_API wasmc_error_t *wasmc_instance_pool_new(const wasmc_module_t *module, uint32_t capacity,
                                                 uint32_t max_memory_pages, wasmc_instance_pool_t **out);
WASMC_API void wasmc_instance_pool_delete(wasmc_instance_pool_t *pool);
WASMC_API size_t wasmc_instance_pool_available(const wasmc_instance_pool_t *pool);
/** Instantiates in a free slot (back to the pool when the store is deleted); WASMC_ERROR_RESOURCE if none. */
WASMC_API wasmc_error_t *wasmc_instance_pool_instantiate_pre(const wasmc_instance_pool_t *pool, wasmc_store_t *store,
                                                             const wasmc_instance_pre_t *pre, wasmc_instance_t **out,
                                                             wasmc_trap_t **trap);
WASMC_API wasmc_error_t *wasmc_instance_pool_instantiate(const wasmc_instance_pool_t *pool, wasmc_store_t *store,
                                                         const wasmc_linker_t *linker, wasmc_instance_t **out,
                                                         wasmc_trap_t **trap);
WASMC_API void wasmc_instance_delete(wasmc_instance_t *instance);

/**
 * Calls export `name`. `nresults` must be the function's result count. A
 * trap goes to *trap; WASMC_ERROR_TYPE for wrong argument types,
 * WASMC_ERROR_EXIT for proc_exit. Not from a callback running in `store`.
 */
WASMC_API wasmc_error_t *wasmc_instance_call(wasmc_store_t *store, const wasmc_instance_t *instance,
                                             const char *name, const wasmc_val_t *args, size_t nargs,
                                             wasmc_val_t *results, size_t nresults, wasmc_trap_t **trap);
WASMC_API wasmc_error_t *wasmc_instance_get_func(const wasmc_store_t *store, const wasmc_instance_t *instance,
                                                 const char *name, wasmc_func_t **out);
WASMC_API wasmc_error_t *wasmc_func_call(wasmc_store_t *store, const wasmc_func_t *func, const wasmc_val_t *args,
                                         size_t nargs, wasmc_val_t *results, size_t nresults, wasmc_trap_t **trap);
WASMC_API void wasmc_func_delete(wasmc_func_t *func);

WASMC_API wasmc_error_t *wasmc_instance_get_memory(const wasmc_store_t *store, const wasmc_instance_t *instance,
                                                   const char *name, wasmc_memory_t **out);
WASMC_API void wasmc_memory_delete(wasmc_memory_t *memory);
/** First byte; valid until the memory grows or the store is deleted. NULL for another store's memory. */
WASMC_API uint8_t *wasmc_memory_data(const wasmc_store_t *store, const wasmc_memory_t *memory);
WASMC_API size_t wasmc_memory_data_size(const wasmc_store_t *store, const wasmc_memory_t *memory);
WASMC_API wasmc_error_t *wasmc_memory_grow(wasmc_store_t *store, const wasmc_memory_t *memory, uint32_t delta_pages,
                                           uint32_t *prev_pages);
WASMC_API wasmc_error_t *wasmc_memory_read(const wasmc_store_t *store, const wasmc_memory_t *memory, uint64_t offset,
                                           uint8_t *buf, size_t len);
WASMC_API wasmc_error_t *wasmc_memory_write(wasmc_store_t *store, const wasmc_memory_t *memory, uint64_t offset,
                                            const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* WASMC_H */
