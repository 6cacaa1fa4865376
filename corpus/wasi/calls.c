/* WASI calls through wasi-libc, one line per case: links, symlinks,
 * timestamps, allocation, advice, flags, sleeping and poll(2) (both
 * poll_oneoff), sockets on what is not one, and argument checks. Run with an
 * empty writable directory preopened as /data and stdin a pipe holding
 * data. Built by scripts/build-corpus into corpus/wasi/calls_c.wasm. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *err(int r) { return r == 0 ? "ok" : strerror(errno); }

static long long mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void) {
    int fd = open("/data/f.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    printf("open: %s\n", fd >= 0 ? "ok" : strerror(errno));
    printf("write: %zd\n", write(fd, "hello", 5));

    printf("posix_fallocate 0+64: %s\n", strerror(posix_fallocate(fd, 0, 64)));
    struct stat st;
    fstat(fd, &st);
    printf("size: %lld\n", (long long)st.st_size);
    printf("posix_fadvise willneed: %s\n", strerror(posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED)));
    printf("posix_fadvise bad: %s\n", strerror(posix_fadvise(fd, 0, 0, 99)));

    printf("fcntl O_APPEND: %s\n", err(fcntl(fd, F_SETFL, O_APPEND)));
    printf("flags have O_APPEND: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    lseek(fd, 0, SEEK_SET);
    write(fd, "!", 1);
    fstat(fd, &st);
    printf("size after appending: %lld\n", (long long)st.st_size);

    struct timespec times[2] = {{.tv_sec = 1000, .tv_nsec = 5}, {.tv_sec = 2000, .tv_nsec = 7}};
    printf("futimens: %s\n", err(futimens(fd, times)));
    fstat(fd, &st);
    printf("atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec omit_now[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 3000, .tv_nsec = 0}};
    printf("utimensat: %s\n", err(utimensat(AT_FDCWD, "/data/f.txt", omit_now, 0)));
    stat("/data/f.txt", &st);
    printf("atime %lld mtime %lld\n", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);

    printf("link: %s\n", err(link("/data/f.txt", "/data/hard.txt")));
    stat("/data/f.txt", &st);
    printf("nlink: %lld\n", (long long)st.st_nlink);
    printf("link again: %s\n", err(link("/data/f.txt", "/data/hard.txt")));
    printf("symlink: %s\n", err(symlink("f.txt", "/data/soft")));
    char target[64] = {0};
    printf("readlink: %zd %s\n", readlink("/data/soft", target, sizeof target - 1), target);
    printf("stat through soft: %s\n", err(stat("/data/soft", &st)));
    printf("symlink ../../etc/passwd: %s\n", err(symlink("../../etc/passwd", "/data/out")));
    printf("open through it: %s\n", open("/data/out", O_RDONLY) >= 0 ? "ESCAPED" : strerror(errno));

    mkdir("/data/d", 0755);
    printf("unlink d/: %s\n", err(unlink("/data/d/")));
    rmdir("/data/d");
    printf("write 0 bytes to fd 99: %s\n", err((int)write(99, "", 0)));
    printf("shutdown a file: %s\n", err(shutdown(fd, SHUT_RDWR)));

    long long t0 = mono_ns();
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 20000000};
    printf("nanosleep: %s\n", err(nanosleep(&nap, NULL)));
    printf("slept 20 ms: %d\n", mono_ns() - t0 >= 20000000);
    t0 = mono_ns();
    usleep(10000);
    printf("usleep 10 ms: %d\n", mono_ns() - t0 >= 10000000);

    struct pollfd pfds[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    int ready = poll(pfds, 2, 5000);
    printf("poll stdin and a file: %d, stdin readable %d, file readable %d\n", ready,
           (pfds[0].revents & POLLIN) != 0, (pfds[1].revents & POLLIN) != 0);
    t0 = mono_ns();
    struct pollfd out = {.fd = 1, .events = POLLOUT};
    printf("poll stdout writable: %d %d\n", poll(&out, 1, 5000), (out.revents & POLLOUT) != 0);
    printf("poll nothing, 15 ms: %d, waited %d\n", poll(NULL, 0, 15), mono_ns() - t0 >= 15000000);

    close(fd);
    unlink("/data/soft");
    unlink("/data/out");
    unlink("/data/hard.txt");
    unlink("/data/f.txt");
    printf("done\n");
    return 0;
}
