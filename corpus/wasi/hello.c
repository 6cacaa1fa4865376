/* A WASI test program in C (wasi-libc): prints its arguments, reads a file
 * from the preopened /data, tries to open a file outside it, and exits with
 * code 3. Built by scripts/build-corpus into corpus/wasi/hello_c.wasm. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    printf("hello from c, argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("arg %d: %s\n", i, argv[i]);
    FILE *f = fopen("/data/hello.txt", "r");
    if (f) {
        char line[128] = {0};
        if (fgets(line, sizeof line, f))
            printf("read: %s", line);
        fclose(f);
    } else {
        printf("open /data/hello.txt failed: %s\n", strerror(errno));
    }
    FILE *g = fopen("/data/../secret.txt", "r");
    printf("escape: %s\n", g ? "ESCAPED" : "denied");
    return 3;
}
