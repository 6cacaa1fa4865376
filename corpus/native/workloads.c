/*
 * Native equivalents of the corpus workloads, for scripts/qemu-bench: the
 * same algorithm as each .wat program, step for step, so the two print the
 * same checksum and their run times can be compared.
 *
 *   workloads WORKLOAD ARG      prints the result as wasmrun prints it (i32 signed;
 *                              f64 as an integer when it is one, as here)
 *
 * WORKLOAD: fib (fib.wat fib), sieve (sieve.wat count_primes), crc32
 * (crc32.wat run), matmul (matmul.wat matmul), simd (simd.wat dot).
 * Build: aarch64-linux-gnu-gcc -O2 -o workloads workloads.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the compiler from folding a workload into a constant. */
static volatile uint32_t sink_arg;

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static uint32_t count_primes(uint32_t n) {
    uint8_t *mem = malloc(n + 2);
    if (!mem) exit(2);
    memset(mem, 1, n);
    for (uint32_t i = 2; i * i <= n; i++)
        if (mem[i])
            for (uint32_t j = i * i; j < n; j += i) mem[j] = 0;
    uint32_t count = 0;
    for (uint32_t i = 2; i < n; i++) count += mem[i];
    free(mem);
    return count;
}

static uint32_t crc32_run(uint32_t n) {
    static uint8_t mem[2 * 65536] = "wasmc";
    if (n > sizeof mem) exit(2);
    uint32_t x = 2463534242u;
    for (uint32_t i = 5; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        mem[i] = (uint8_t)x;
    }
    uint32_t c = 0xffffffffu;
    for (uint32_t p = 0; p < n; p++) {
        c ^= mem[p];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static double matmul(uint32_t n) {
    double *a = malloc(sizeof(double) * n * n * 3);
    if (!a) exit(2);
    double *b = a + n * n, *c = b + n * n, sum = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            a[i * n + j] = (double)(int32_t)(i + j);
            b[i * n + j] = (double)(int32_t)(i - j);
        }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double acc = 0;
            for (uint32_t k = 0; k < n; k++) acc += a[i * n + k] * b[k * n + j];
            c[i * n + j] = acc;
            sum += acc;
        }
    free(a);
    return sum;
}

static uint32_t dot(uint32_t n) {
    uint32_t *a = malloc(sizeof(uint32_t) * n * 2 + 16);
    if (!a) exit(2);
    uint32_t *b = a + n, acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        a[i] = i;
        b[i] = 2 * i + 1;
    }
    for (uint32_t i = 0; i < n; i++) acc += a[i] * b[i];
    free(a);
    return acc;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: workloads fib|sieve|crc32|matmul|simd N\n");
        return 2;
    }
    sink_arg = (uint32_t)strtoul(argv[2], NULL, 10);
    uint32_t n = sink_arg;
    const char *w = argv[1];
    if (!strcmp(w, "fib")) printf("%d\n", (int32_t)fib(n));
    else if (!strcmp(w, "sieve")) printf("%d\n", (int32_t)count_primes(n));
    else if (!strcmp(w, "crc32")) printf("%d\n", (int32_t)crc32_run(n));
    else if (!strcmp(w, "matmul")) printf("%.17g\n", matmul(n));
    else if (!strcmp(w, "simd")) printf("%d\n", (int32_t)dot(n));
    else {
        fprintf(stderr, "unknown workload %s\n", w);
        return 2;
    }
    return 0;
}
