/*
 * A C host for a wasmc plugin: loads a signed artifact, links a host
 * function, runs the plugin from an instance pool on several threads,
 * hits a deadline and traps, and frees everything.
 *
 *   host SIGNED.cwasm UNSIGNED.cwasm KEY.pub
 *
 * The plugin (built by loader/capi/tests/host_c.rs) imports
 * host.add_base(i32) -> i32 and wasi_snapshot_preview1's proc_exit,
 * fd_read and fd_write, and exports memory, run(i32) -> i32,
 * read_back() -> i32, spin(), boom(), oob() -> i32, grow() -> i32, quit()
 * and echo() -> i32 (stdin to stdout, then "hell" to stderr: that write's
 * errno).
 *
 * Prints "host.c: all checks passed" last, and exits 0, when every check
 * held.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasmc.h"

_Static_assert(sizeof(wasmc_val_t) == 16, "wasmc_val_t is 16 bytes, as in Rust");
_Static_assert(offsetof(wasmc_val_t, of) == 8, "wasmc_val_t's value is at offset 8, as in Rust");

#define THREADS 4
#define ITERATIONS 25

static int failures = 0;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "host.c:%d: check failed: %s\n", __LINE__, #cond); \
      failures++;                                                     \
      exit(1);                                                        \
    }                                                                 \
  } while (0)

/* Exits with the error's message if `error` is not NULL. */
static void ok(wasmc_error_t *error, const char *what) {
  if (error != NULL) {
    fprintf(stderr, "host.c: %s failed: %s\n", what, wasmc_error_message(error));
    wasmc_error_delete(error);
    exit(1);
  }
}

/* The host function's env: shared by every thread. */
struct host_env {
  atomic_int calls;
};
static atomic_int env_finalized = 0;
static atomic_int stores_finalized = 0;

static void env_finalizer(void *env) {
  free(env);
  atomic_fetch_add(&env_finalized, 1);
}

/* A store's data: one request. */
struct request {
  int32_t base;
};

static void request_finalizer(void *data) {
  free(data);
  atomic_fetch_add(&stores_finalized, 1);
}

/*
 * host.add_base(x): checks the plugin's "hello" at 16, writes 2x at 32
 * through the memory's data pointer, returns x + the request's base; a
 * negative x makes the plugin trap.
 */
static wasmc_trap_t *add_base(void *env, wasmc_caller_t *caller, const wasmc_val_t *args, size_t nargs,
                              wasmc_val_t *results, size_t nresults) {
  struct host_env *host = env;
  atomic_fetch_add(&host->calls, 1);
  if (nargs != 1 || nresults != 1 || args[0].kind != WASMC_I32 || results[0].kind != WASMC_I32) {
    return wasmc_trap_new("add_base: wrong signature");
  }
  int32_t x = args[0].of.i32;
  if (x < 0) {
    return wasmc_trap_new("add_base: negative argument");
  }
  uint8_t hello[5];
  wasmc_error_t *error = wasmc_caller_memory_read(caller, 16, hello, sizeof hello);
  if (error != NULL) {
    wasmc_error_delete(error);
    return wasmc_trap_new("add_base: cannot read memory");
  }
  if (memcmp(hello, "hello", 5) != 0) {
    return wasmc_trap_new("add_base: memory does not hold hello");
  }
  /* Past the end: an error object, not a crash. */
  error = wasmc_caller_memory_read(caller, UINT64_MAX - 2, hello, sizeof hello);
  if (error == NULL || wasmc_error_kind(error) != WASMC_ERROR_OUT_OF_BOUNDS) {
    wasmc_error_delete(error);
    return wasmc_trap_new("add_base: out-of-bounds read not refused");
  }
  wasmc_error_delete(error);
  uint8_t *data = NULL;
  size_t size = 0;
  error = wasmc_caller_memory_data(caller, &data, &size);
  if (error != NULL || size < 64) {
    wasmc_error_delete(error);
    return wasmc_trap_new("add_base: no memory data");
  }
  int32_t twice = 2 * x;
  memcpy(data + 32, &twice, sizeof twice);
  error = wasmc_caller_memory_write(caller, 40, (const uint8_t *)"HI", 2);
  if (error != NULL) {
    wasmc_error_delete(error);
    return wasmc_trap_new("add_base: cannot write memory");
  }
  struct request *request = wasmc_caller_data(caller);
  results[0].of.i32 = x + request->base;
  return NULL;
}

/* Where a plugin's stdout goes: a fixed buffer; a write past it is refused. */
struct output {
  char bytes[64];
  size_t len;
};
static atomic_int outputs_finalized = 0;

static int32_t collect(void *env, const uint8_t *data, size_t len) {
  struct output *out = env;
  if (len > sizeof out->bytes - out->len) return 1;
  memcpy(out->bytes + out->len, data, len);
  out->len += len;
  return 0;
}

static int32_t refuse(void *env, const uint8_t *data, size_t len) {
  (void)env, (void)data, (void)len;
  return 1;
}

static void output_finalizer(void *env) {
  (void)env;
  atomic_fetch_add(&outputs_finalized, 1);
}

static wasmc_val_t i32(int32_t v) {
  wasmc_val_t val;
  val.kind = WASMC_I32;
  val.of.i64 = 0;
  val.of.i32 = v;
  return val;
}

/* Calls `name` expecting a trap of `code`; the trap's message must contain `needle`. */
static void expect_trap(wasmc_store_t *store, wasmc_instance_t *instance, const char *name, wasmc_trap_code_t code,
                        const char *needle) {
  wasmc_trap_t *trap = NULL;
  wasmc_val_t result = i32(0);
  size_t nresults = strcmp(name, "oob") == 0 ? 1 : 0;
  ok(wasmc_instance_call(store, instance, name, NULL, 0, &result, nresults, &trap), name);
  CHECK(trap != NULL);
  wasmc_trap_code_t got = 255;
  CHECK(wasmc_trap_code(trap, &got));
  if (got != code || strstr(wasmc_trap_message(trap), needle) == NULL) {
    fprintf(stderr, "host.c: %s: trap code %d (%s), expected %d with \"%s\"\n", name, got, wasmc_trap_message(trap),
            code, needle);
    exit(1);
  }
  printf("%s trapped: %s\n", name, wasmc_trap_message(trap));
  wasmc_trap_delete(trap);
}

/* What the threads share. */
struct shared {
  const wasmc_instance_pool_t *pool;
  const wasmc_instance_pre_t *pre;
  const wasmc_config_t *config;
  int thread;
};

/* One thread: ITERATIONS requests, each in its own store and pool slot. */
static void *worker(void *arg) {
  struct shared *shared = arg;
  for (int i = 0; i < ITERATIONS; i++) {
    struct request *request = malloc(sizeof *request);
    request->base = 1000 * shared->thread;
    wasmc_store_t *store = wasmc_store_new(shared->config, request, request_finalizer);
    CHECK(store != NULL && wasmc_store_data(store) == request);
    ok(wasmc_store_set_call_timeout(store, 5 * 1000 * 1000), "set_call_timeout");
    wasmc_instance_t *instance = NULL;
    wasmc_trap_t *trap = NULL;
    wasmc_error_t *error = NULL;
    /* Slots are few: wait for one when all are taken. */
    for (;;) {
      error = wasmc_instance_pool_instantiate_pre(shared->pool, store, shared->pre, &instance, &trap);
      if (error == NULL || wasmc_error_kind(error) != WASMC_ERROR_RESOURCE) break;
      wasmc_error_delete(error);
      sched_yield();
    }
    ok(error, "pool instantiate");
    CHECK(trap == NULL && instance != NULL);

    wasmc_val_t arg = i32(i), result = i32(0);
    ok(wasmc_instance_call(store, instance, "run", &arg, 1, &result, 1, &trap), "run");
    CHECK(trap == NULL);
    CHECK(result.kind == WASMC_I32 && result.of.i32 == i + request->base);

    wasmc_func_t *read_back = NULL;
    ok(wasmc_instance_get_func(store, instance, "read_back", &read_back), "get_func");
    ok(wasmc_func_call(store, read_back, NULL, 0, &result, 1, &trap), "read_back");
    CHECK(trap == NULL && result.of.i32 == 2 * i);
    wasmc_func_delete(read_back);

    wasmc_memory_t *memory = NULL;
    ok(wasmc_instance_get_memory(store, instance, "memory", &memory), "get_memory");
    uint8_t hi[2];
    ok(wasmc_memory_read(store, memory, 40, hi, 2), "memory_read");
    CHECK(memcmp(hi, "HI", 2) == 0);
    CHECK(wasmc_memory_data_size(store, memory) == 65536);
    CHECK(wasmc_memory_data(store, memory)[16] == 'h');
    wasmc_memory_delete(memory);

    wasmc_instance_delete(instance);
    wasmc_store_delete(store); /* the slot goes back to the pool */
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s SIGNED.cwasm UNSIGNED.cwasm KEY.pub\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* Bad arguments are errors, never crashes. */
  wasmc_module_t *module = NULL;
  wasmc_error_t *error = wasmc_module_from_file(NULL, &module);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_INVALID_ARGUMENT && module == NULL);
  printf("NULL path: %s\n", wasmc_error_message(error));
  wasmc_error_delete(error);
  error = wasmc_instance_call(NULL, NULL, "run", NULL, 0, NULL, 0, NULL);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_INVALID_ARGUMENT);
  wasmc_error_delete(error);

  /* Signed loads: only artifacts signed by a trusted key. */
  wasmc_trusted_keys_t *keys = wasmc_trusted_keys_new();
  error = wasmc_trusted_keys_add_file(keys, argv[1]); /* an artifact is no key file */
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_KEY);
  wasmc_error_delete(error);
  ok(wasmc_trusted_keys_add_file(keys, argv[3]), "add key");
  error = wasmc_module_from_file_signed(argv[2], keys, &module);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_LOAD && module == NULL);
  CHECK(strstr(wasmc_error_message(error), "not signed") != NULL);
  printf("unsigned artifact refused: %s\n", wasmc_error_message(error));
  wasmc_error_delete(error);
  ok(wasmc_module_from_file_signed(argv[1], keys, &module), "signed load");
  wasmc_trusted_keys_delete(keys);

  /* A linker built once, with a host function and WASI. */
  struct host_env *env = malloc(sizeof *env);
  atomic_init(&env->calls, 0);
  wasmc_linker_t *linker = wasmc_linker_new();
  wasmc_valkind_t params[1] = {WASMC_I32}, results[1] = {WASMC_I32};
  ok(wasmc_linker_define_func(linker, "host", "add_base", params, 1, results, 1, add_base, env, env_finalizer),
     "define_func");
  ok(wasmc_linker_define_wasi(linker), "define_wasi");
  wasmc_instance_pre_t *pre = NULL;
  ok(wasmc_linker_instantiate_pre(linker, module, &pre), "instantiate_pre");
  wasmc_linker_delete(linker); /* the instance-pre keeps what it needs */

  /* A pool shared by several threads. */
  wasmc_config_t *config = wasmc_config_new();
  ok(wasmc_config_max_memory_bytes_set(config, 2 * 65536), "max_memory_bytes");
  ok(wasmc_config_max_table_elements_set(config, 100), "max_table_elements");
  ok(wasmc_config_max_wasm_stack_set(config, 256 * 1024), "max_wasm_stack");
  wasmc_instance_pool_t *pool = NULL;
  ok(wasmc_instance_pool_new(module, 2, 4, &pool), "pool");
  pthread_t threads[THREADS];
  struct shared shared[THREADS];
  for (int t = 0; t < THREADS; t++) {
    shared[t] = (struct shared){pool, pre, config, t};
    CHECK(pthread_create(&threads[t], NULL, worker, &shared[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
  CHECK(wasmc_instance_pool_available(pool) == 2);
  CHECK(atomic_load(&env->calls) == THREADS * ITERATIONS);
  CHECK(atomic_load(&stores_finalized) == THREADS * ITERATIONS);
  printf("%d threads ran %d pooled requests\n", THREADS, THREADS * ITERATIONS);

  /* One more store, fresh instantiation: a deadline, traps, limits, fuel, WASI. */
  struct request *request = malloc(sizeof *request);
  request->base = 7;
  wasmc_store_t *store = wasmc_store_new(config, request, request_finalizer);
  wasmc_wasi_config_t *wasi = wasmc_wasi_config_new();
  const char *wasi_argv[2] = {"plugin", "--flag"};
  ok(wasmc_wasi_config_set_argv(wasi, 2, wasi_argv), "wasi argv");
  ok(wasmc_wasi_config_env(wasi, "GREETING", "hi"), "wasi env");
  ok(wasmc_wasi_config_inherit_stdio(wasi), "wasi stdio");
  ok(wasmc_wasi_config_preopen_dir(wasi, "/tmp", "/tmp"), "wasi preopen");
  ok(wasmc_store_set_wasi(store, wasi), "set_wasi");
  ok(wasmc_store_set_call_timeout(store, 20 * 1000), "set_call_timeout"); /* 20 ms */
  uint64_t fuel = 0;
  CHECK(!wasmc_store_get_fuel(store, &fuel));
  ok(wasmc_store_set_fuel(store, 12345), "set_fuel");
  CHECK(wasmc_store_get_fuel(store, &fuel) && fuel == 12345);

  wasmc_instance_t *instance = NULL;
  wasmc_trap_t *trap = NULL;
  ok(wasmc_instance_pre_instantiate(pre, store, &instance, &trap), "instantiate");
  CHECK(trap == NULL && instance != NULL);

  expect_trap(store, instance, "spin", WASMC_TRAP_CODE_INTERRUPT, "interrupt");
  expect_trap(store, instance, "boom", WASMC_TRAP_CODE_UNREACHABLE_CODE_REACHED, "unreachable");
  /*
   * An out-of-bounds load traps through a deliberate fault (a guard page,
   * or in explicit bounds-check mode a load from address 0), which memcheck
   * cannot tell from a bug: HOST_NO_FAULT_TRAPS=1 skips it under valgrind.
   */
  const char *no_fault_traps = getenv("HOST_NO_FAULT_TRAPS");
  if (no_fault_traps == NULL || strcmp(no_fault_traps, "1") != 0) {
    expect_trap(store, instance, "oob", WASMC_TRAP_CODE_MEMORY_OUT_OF_BOUNDS, "out of bounds");
  }

  /* A host function's trap. */
  wasmc_val_t arg = i32(-1), result = i32(0);
  ok(wasmc_instance_call(store, instance, "run", &arg, 1, &result, 1, &trap), "run(-1)");
  CHECK(trap != NULL);
  wasmc_trap_code_t code = 255;
  CHECK(wasmc_trap_code(trap, &code) && code == WASMC_TRAP_CODE_HOST_ERROR);
  CHECK(strstr(wasmc_trap_message(trap), "negative argument") != NULL);
  printf("host function trapped: %s\n", wasmc_trap_message(trap));
  wasmc_trap_delete(trap);

  /* Without a trap out-parameter, a trap is an error with its code. */
  error = wasmc_instance_call(store, instance, "boom", NULL, 0, NULL, 0, NULL);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_TRAP);
  CHECK(wasmc_error_trap_code(error, &code) && code == WASMC_TRAP_CODE_UNREACHABLE_CODE_REACHED);
  wasmc_error_delete(error);

  /* Wrong types and unknown exports are errors. */
  wasmc_val_t wrong = {.kind = WASMC_I64, .of.i64 = 1};
  error = wasmc_instance_call(store, instance, "run", &wrong, 1, &result, 1, &trap);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_TYPE && trap == NULL);
  wasmc_error_delete(error);
  wasmc_val_t bad_kind = {.kind = 99, .of.i64 = 1};
  error = wasmc_instance_call(store, instance, "run", &bad_kind, 1, &result, 1, &trap);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_INVALID_ARGUMENT);
  wasmc_error_delete(error);
  wasmc_func_t *func = NULL;
  error = wasmc_instance_get_func(store, instance, "nope", &func);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_EXPORT_NOT_FOUND && func == NULL);
  wasmc_error_delete(error);

  /* The instance still works after its traps. */
  arg = i32(5);
  ok(wasmc_instance_call(store, instance, "run", &arg, 1, &result, 1, &trap), "run after traps");
  CHECK(trap == NULL && result.of.i32 == 12);

  /* The store's memory limit: 2 pages; the plugin has 1, grow(1) works once. */
  ok(wasmc_instance_call(store, instance, "grow", NULL, 0, &result, 1, &trap), "grow");
  CHECK(trap == NULL && result.of.i32 == 1);
  ok(wasmc_instance_call(store, instance, "grow", NULL, 0, &result, 1, &trap), "grow past the limit");
  CHECK(trap == NULL && result.of.i32 == -1);
  wasmc_memory_t *memory = NULL;
  ok(wasmc_instance_get_memory(store, instance, "memory", &memory), "get_memory");
  uint32_t prev = 0;
  error = wasmc_memory_grow(store, memory, 1, &prev);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_RESOURCE);
  wasmc_error_delete(error);
  uint8_t byte = 0;
  error = wasmc_memory_read(store, memory, 2 * 65536, &byte, 1);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_OUT_OF_BOUNDS);
  wasmc_error_delete(error);
  ok(wasmc_memory_write(store, memory, 100, (const uint8_t *)"x", 1), "memory_write");
  CHECK(wasmc_memory_data(store, memory)[100] == 'x');
  wasmc_memory_delete(memory);

  /* WASI proc_exit is an exit, not a trap. */
  error = wasmc_instance_call(store, instance, "quit", NULL, 0, NULL, 0, &trap);
  CHECK(error != NULL && trap == NULL && wasmc_error_kind(error) == WASMC_ERROR_EXIT);
  int32_t status = -1;
  CHECK(wasmc_error_exit_status(error, &status) && status == 7);
  printf("quit: %s\n", wasmc_error_message(error));
  wasmc_error_delete(error);

  /*
   * A request in, a response out: stdin from bytes, stdout into a buffer,
   * stderr to a callback that refuses. Each replaces the inherited stream.
   */
  struct output response = {.len = 0};
  wasmc_store_t *echo_store = wasmc_store_new(config, NULL, NULL);
  wasi = wasmc_wasi_config_new();
  ok(wasmc_wasi_config_inherit_stdio(wasi), "wasi stdio");
  ok(wasmc_wasi_config_stdin_bytes(wasi, (const uint8_t *)"ping", 4), "stdin bytes");
  ok(wasmc_wasi_config_stdout_callback(wasi, collect, &response, output_finalizer), "stdout callback");
  ok(wasmc_wasi_config_stderr_callback(wasi, refuse, NULL, output_finalizer), "stderr callback");
  error = wasmc_wasi_config_stderr_callback(wasi, NULL, NULL, output_finalizer);
  CHECK(error != NULL && wasmc_error_kind(error) == WASMC_ERROR_INVALID_ARGUMENT);
  CHECK(atomic_load(&outputs_finalized) == 1); /* refused: finalized at once */
  wasmc_error_delete(error);
  ok(wasmc_store_set_wasi(echo_store, wasi), "set_wasi with callbacks");
  wasmc_instance_t *echo = NULL;
  ok(wasmc_instance_pre_instantiate(pre, echo_store, &echo, &trap), "instantiate echo");
  CHECK(trap == NULL);
  ok(wasmc_instance_call(echo_store, echo, "echo", NULL, 0, &result, 1, &trap), "echo");
  CHECK(trap == NULL && result.of.i32 == 29); /* EIO */
  CHECK(response.len == 4 && memcmp(response.bytes, "ping", 4) == 0);
  printf("echo: stdout \"%.*s\", stderr refused with errno %d\n", (int)response.len, response.bytes, result.of.i32);
  wasmc_instance_delete(echo);
  CHECK(atomic_load(&outputs_finalized) == 1);
  wasmc_store_delete(echo_store);
  CHECK(atomic_load(&outputs_finalized) == 3);

  /* Free everything; the finalizers run. */
  wasmc_instance_delete(instance);
  wasmc_store_delete(store);
  CHECK(atomic_load(&stores_finalized) == THREADS * ITERATIONS + 1);
  wasmc_instance_pool_delete(pool);
  wasmc_config_delete(config);
  CHECK(atomic_load(&env_finalized) == 0); /* the instance-pre still holds the host function */
  wasmc_instance_pre_delete(pre);
  CHECK(atomic_load(&env_finalized) == 1);
  wasmc_module_delete(module);

  CHECK(failures == 0);
  printf("host.c: all checks passed\n");
  return 0;
}
