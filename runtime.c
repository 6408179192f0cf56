/*
 * lrun — a container runtime in one C file.
 *
 * lrun keeps images in the containers/storage "overlay" layout that podman
 * uses (overlay/, overlay-layers/, overlay-images/, overlay-containers/ under
 * a graph root), loads and saves images, and runs containers on kernel
 * overlayfs.  It builds to one static binary (build.sh) and can be embedded:
 * compile this file with -DLRUN_NO_MAIN and use runtime.h.
 *
 * Sections, in the order data flows through them (search for the banner):
 *
 *   BASICS      errors, memory, strings, string lists, files and paths
 *   JSON        reading with yajl's tree, writing with yajl_gen
 *   DIGESTS     sha256, hex, base32 link ids, random bytes, time stamps
 *   STORE       graph root, lock files, the three JSON indexes, recovery
 *   LAYERS      layer directories, safe tar extraction, whiteouts, removal
 *   NAMES       image references: docker.io/library/x:latest and friends
 *   IMAGES      image records, lookup, settings (Containerfile instructions),
 *               load, import, save (docker/OCI archives, layouts), tag, remove
 *   REGISTRY    host names, HTTP/1.1 over TLS, auth, manifests, pull, the
 *               blob info cache, push, login
 *   MOUNTS      the overlay of a layer chain, paths resolved inside a root,
 *               changes between trees (diff), copying trees, work in a
 *               mount namespace of its own, a volume's copy-up
 *   CONTAINER   one spec per container, shaped like the OCI runtime spec's
 *               config.json, and one path that executes it:
 *     CONTAINER: SPEC       the struct, its JSON in and out, the store records
 *     CONTAINER: ROOTFS     the root, mounts, /dev, console, masked paths,
 *                           sysctls, the root switch
 *     CONTAINER: PROCESS    user, capabilities, limits, seccomp, exec
 *     CONTAINER: CGROUPS    the container's cgroup (v1, hybrid, v2): the
 *                           device policy, resources, removal
 *     CONTAINER: CREATE     docker-style options and the image become a spec;
 *                           volumes; the container layer, records, lookup, sizes
 *     CONTAINER: MONITOR    launching a spec (the setup story), its report,
 *                           waiting, logs, the terminal, running/exited
 *     CONTAINER: LIFECYCLE  start, stop, kill, wait, remove, exec
 *     CONTAINER: OCI        runc's model: a bundle read into the same spec,
 *                           state under --root, create/start, hooks
 *   BUILD       a Containerfile made into images: RUN in a container, COPY
 *               and ADD from the context, a cache of the steps
 *   CLI         argument parsing, each command, tables and --format
 *
 * Error convention: a function whose caller may have to clean up returns -1
 * and fills an lrun_error (fail(), fail_errno()); callers add context with
 * error_prefix().  Code that cannot usefully recover (out of memory) dies.
 */
#define _GNU_SOURCE
#define OPENSSL_API_COMPAT 0x10100000L

#include <archive.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <grp.h>
#include <linux/magic.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>
#include <sys/personality.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>
#include <zlib.h>
#include <zstd.h>

#include "runtime.h"

/* ========================================================================
 * BASICS: errors, memory, strings, string lists, files and paths
 * ======================================================================== */

#define cleanup(fn) __attribute__((cleanup(fn)))
#define autofree cleanup(free_pointer)
#define autoclose cleanup(close_pointer)
#define autostrv cleanup(strv_free_pointer)
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define EXIT_LRUN 125 /* lrun's own failure, as docker and podman use it */

static void free_pointer(void *p) { free(*(void **)p); }

static void close_pointer(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

static void *steal_pointer(void *pp)
{
    void **p = pp, *v = *p;
    *p = NULL;
    return v;
}

__attribute__((noreturn)) static void die_oom(void)
{
    fputs("Error: out of memory\n", stderr);
    exit(EXIT_LRUN);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom();
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die_oom();
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die_oom();
    return p;
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        die_oom();
    return d;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = strndup(s, n);
    if (!d)
        die_oom();
    return d;
}

PRINTF(1, 2) static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        die_oom();
    return s;
}

/* --- errors --- */

void lrun_error_free(lrun_error *err)
{
    if (!err)
        return;
    free(err->message);
    free(err);
}

static void error_free_pointer(lrun_error **err)
{
    lrun_error_free(*err);
    *err = NULL;
}
#define autoerror cleanup(error_free_pointer)

static int fail_v(lrun_error **err, int errnum, int exit_code, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0)
        die_oom();
    if (errnum) {
        char *full = xasprintf("%s: %s", msg, strerror(errnum));
        free(msg);
        msg = full;
    }
    lrun_error_free(*err);
    *err = xcalloc(1, sizeof **err);
    (*err)->errnum = errnum;
    (*err)->exit_code = exit_code;
    (*err)->message = msg;
    return -1;
}

/* fail: a failure with no errno behind it; returns -1. */
PRINTF(2, 3) static int fail(lrun_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, 0, EXIT_LRUN, fmt, ap);
    va_end(ap);
    return -1;
}

/* fail_code: like fail, with a specific exit status (podman's 1 and 2). */
PRINTF(3, 4) static int fail_code(lrun_error **err, int exit_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, 0, exit_code, fmt, ap);
    va_end(ap);
    return -1;
}

/* fail_errno: a failed system call; appends strerror(errno); returns -1. */
PRINTF(2, 3) static int fail_errno(lrun_error **err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    fail_v(err, saved, EXIT_LRUN, fmt, ap);
    va_end(ap);
    errno = saved;
    return -1;
}

/* error_prefix: the caller's context in front of an error; returns -1. */
PRINTF(2, 3) static int error_prefix(lrun_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -1;
    va_list ap;
    char *prefix;
    va_start(ap, fmt);
    if (vasprintf(&prefix, fmt, ap) < 0)
        die_oom();
    va_end(ap);
    char *msg = xasprintf("%s: %s", prefix, (*err)->message);
    free(prefix);
    free((*err)->message);
    (*err)->message = msg;
    return -1;
}

/* --- growable byte buffers --- */

struct buf {
    char *data;
    size_t len, cap;
};

static void buf_free(struct buf *b)
{
    free(b->data);
    *b = (struct buf){0};
}
#define autobuf cleanup(buf_free)

static void buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static void buf_add(struct buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_adds(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

PRINTF(2, 3) static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* buf_steal: the buffer's string (never NULL); the buffer is left empty. */
static char *buf_steal(struct buf *b)
{
    char *s = b->data ? b->data : xstrdup("");
    *b = (struct buf){0};
    return s;
}

/* --- NULL-terminated string lists --- */

static size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void lrun_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void strv_free_pointer(char ***v)
{
    lrun_strv_free(*v);
    *v = NULL;
}

/* strv_push: append s (taken over) to *v. */
static void strv_push(char ***v, char *s)
{
    size_t n = strv_len(*v);
    *v = xrealloc(*v, (n + 2) * sizeof **v);
    (*v)[n] = s;
    (*v)[n + 1] = NULL;
}

static bool strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* strv_remove: drop every element equal to s; returns how many. */
static int strv_remove(char **v, const char *s)
{
    int removed = 0;
    size_t j = 0;
    for (size_t i = 0; v && v[i]; i++) {
        if (strcmp(v[i], s) == 0) {
            free(v[i]);
            removed++;
        } else {
            v[j++] = v[i];
        }
    }
    if (v)
        v[j] = NULL;
    return removed;
}

static char **strv_copy(char *const *v)
{
    char **copy = xcalloc(strv_len(v) + 1, sizeof *copy);
    for (size_t i = 0; v && v[i]; i++)
        copy[i] = xstrdup(v[i]);
    return copy;
}

static char *strv_join(char *const *v, const char *sep)
{
    struct buf b = {0};
    buf_adds(&b, "");
    for (size_t i = 0; v && v[i]; i++) {
        if (i)
            buf_adds(&b, sep);
        buf_adds(&b, v[i]);
    }
    return buf_steal(&b);
}

/* strv_split: the non-empty pieces of s between any of the sep characters. */
static char **strv_split(const char *s, const char *sep)
{
    char **v = xcalloc(1, sizeof *v);
    for (const char *p = s; p && *p;) {
        size_t n = strcspn(p, sep);
        if (n)
            strv_push(&v, xstrndup(p, n));
        p += n + (p[n] != '\0');
    }
    return v;
}

/* env_set: KEY=VALUE into env, replacing KEY. */
static void env_set(char ***env, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t key_len = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; *env && (*env)[i]; i++)
        if (strncmp((*env)[i], entry, key_len) == 0 && (*env)[i][key_len] == '=') {
            free((*env)[i]);
            (*env)[i] = xstrdup(entry);
            return;
        }
    strv_push(env, xstrdup(entry));
}

static const char *env_get(char *const *env, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
            return env[i] + n + 1;
    return NULL;
}

static bool has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* --- files and paths --- */

/* read_all_fd: the whole content of fd, NUL-terminated. */
static int read_all_fd(int fd, const char *what, struct buf *out, lrun_error **err)
{
    for (;;) {
        buf_reserve(out, 65536);
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_errno(err, "read %s", what);
        if (n == 0)
            break;
        out->len += (size_t)n;
    }
    out->data[out->len] = '\0';
    return 0;
}

/* read_file_at: a whole file (NUL-terminated); a missing file is -1 with
 * errno ENOENT and *err set, so callers can test errno. */
static int read_file_at(int dirfd, const char *path, struct buf *out, lrun_error **err)
{
    autoclose int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail_errno(err, "open %s", path);
    return read_all_fd(fd, path, out, err);
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* write_file_atomic: temp file, fsync, rename, fsync of the directory — a
 * reader or a crash sees either the old or the new content, never a torn
 * or empty file (as c/storage's AtomicWriteFile; renaming unsynced data
 * over a file is what leaves it 0 bytes after a power cut on ext4 with
 * noauto_da_alloc or XFS).  Without durable nothing is synced: only for
 * files whose loss a crash may cause (c/storage's volatile store). */
static int write_file_atomic_sync(int dirfd, const char *name, const void *data, size_t n, mode_t mode, bool durable,
                                  lrun_error **err)
{
    autofree char *tmp = xasprintf(".tmp-%s-%d", name, (int)getpid());
    autoclose int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return fail_errno(err, "create %s", tmp);
    if (write_all(fd, data, n) < 0 || (durable && fdatasync(fd) < 0)) {
        fail_errno(err, "write %s", name);
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        fail_errno(err, "rename %s", name);
        unlinkat(dirfd, tmp, 0);
        return -1;
    }
    if (durable && fsync(dirfd) < 0)
        return fail_errno(err, "sync the directory of %s", name);
    return 0;
}

static int write_file_atomic(int dirfd, const char *name, const void *data, size_t n, mode_t mode, lrun_error **err)
{
    return write_file_atomic_sync(dirfd, name, data, n, mode, true, err);
}

/* write_file_at: a small file written in place (link, lower). */
static int write_file_at(int dirfd, const char *name, const void *data, size_t n, mode_t mode, lrun_error **err)
{
    autoclose int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return fail_errno(err, "create %s", name);
    if (write_all(fd, data, n) < 0)
        return fail_errno(err, "write %s", name);
    return 0;
}

/* text_quote: text between double quotes as Go's %q prints it, every byte
 * that is not printable ASCII escaped, so a name or path an image or a
 * registry chose cannot move a terminal's cursor or fake a line. */
static char *text_quote(const char *text)
{
    struct buf b = {0};
    buf_add(&b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\')
            snprintf(esc, sizeof esc, "\\%c", *p);
        else if (*p == '\n' || *p == '\t' || *p == '\r')
            snprintf(esc, sizeof esc, "\\%c", *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r');
        else if (*p < 0x20 || *p >= 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", *p);
        else
            esc[0] = (char)*p, esc[1] = '\0';
        buf_add(&b, esc, strlen(esc));
    }
    buf_add(&b, "\"", 2); /* with the terminating NUL */
    return b.data;
}

#ifndef RESOLVE_IN_ROOT
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
struct open_how {
    uint64_t flags, mode, resolve;
};
#endif

/* openat2_in_root: path opened as if root_fd were "/": "..", absolute
 * names and symlinks resolve inside it (a container root, an image layout
 * directory), never on the host. */
static int openat2_in_root(int root_fd, const char *path, int flags)
{
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int fd;
    /* EAGAIN: a rename or mount anywhere raced with resolving ".."; the
     * kernel asks the caller to try again */
    for (int tries = 0; tries < 256; tries++)
        if ((fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how)) >= 0 || errno != EAGAIN)
            break;
    return fd;
}

/* mkdir_p: create path and its parents (plain paths the user gave). */
static int mkdir_p(const char *path, mode_t mode, lrun_error **err)
{
    autofree char *copy = xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
            return fail_errno(err, "mkdir %s", copy);
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST)
        return fail_errno(err, "mkdir %s", copy);
    return 0;
}

/* remove_tree_at: rm -rf of dirfd/name without ever following a symlink;
 * a missing entry is not an error.  Depth costs memory, not descriptors: a
 * container can leave a tree deeper than the fd limit, so the walk keeps at
 * most REMOVE_OPEN_DIRS directories open, climbs back to the others with
 * ".." and checks that each one it reaches is the one it left. */
#define REMOVE_OPEN_DIRS 16

struct remove_frame {
    char *name;
    DIR *dir; /* NULL while closed to stay under the window */
    dev_t dev;
    ino_t ino;
};

static int remove_frame_open(struct remove_frame *f, int at, const char *name, bool check, lrun_error **err)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        errno = saved;
        return fail_errno(err, "open %s", f->name);
    }
    if (check && (st.st_dev != f->dev || st.st_ino != f->ino)) {
        close(fd);
        return fail(err, "%s was moved while it was being removed", f->name);
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (!(f->dir = fdopendir(fd))) {
        close(fd);
        return fail_errno(err, "open %s", f->name);
    }
    return 0;
}

/* remove_entries: unlink what dir holds, stopping at the first directory
 * that is not empty (*sub, to be descended into). */
static int remove_entries(DIR *dir, char **sub, lrun_error **err)
{
    struct dirent *de;
    while ((de = readdir(dir))) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        if (unlinkat(dirfd(dir), n, 0) == 0 || errno == ENOENT)
            continue;
        int unlink_errno = errno;
        if (unlink_errno != EISDIR && unlink_errno != EPERM)
            return fail_errno(err, "remove %s", n);
        if (unlinkat(dirfd(dir), n, AT_REMOVEDIR) == 0 || errno == ENOENT)
            continue;
        if (errno == ENOTEMPTY || errno == EEXIST) {
            *sub = xstrdup(n);
            return 0;
        }
        errno = errno == ENOTDIR ? unlink_errno : errno;
        return fail_errno(err, "remove %s", n);
    }
    return 0;
}

static int remove_tree_at(int parent_fd, const char *name, lrun_error **err)
{
    if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return fail_errno(err, "remove %s", name);
    size_t depth = 1, cap = 16;
    struct remove_frame *frames = xcalloc(cap, sizeof *frames);
    frames[0].name = xstrdup(name);
    if (remove_frame_open(&frames[0], parent_fd, name, false, err) < 0) {
        free(frames[0].name);
        free(frames);
        return -1;
    }
    int ret = 0;
    while (ret == 0 && depth > 0) {
        char *sub = NULL;
        if ((ret = remove_entries(frames[depth - 1].dir, &sub, err)) < 0)
            break;
        if (sub) { /* descend */
            if (depth == cap)
                frames = xrealloc(frames, (cap *= 2) * sizeof *frames);
            frames[depth] = (struct remove_frame){.name = sub};
            if ((ret = remove_frame_open(&frames[depth], dirfd(frames[depth - 1].dir), sub, false, err)) < 0) {
                free(sub);
                break;
            }
            if (++depth > REMOVE_OPEN_DIRS) {
                closedir(frames[depth - 1 - REMOVE_OPEN_DIRS].dir);
                frames[depth - 1 - REMOVE_OPEN_DIRS].dir = NULL;
            }
            continue;
        }
        /* empty now: climb to the parent (reopened if it was closed) and rmdir */
        struct remove_frame *f = &frames[depth - 1], *up = depth > 1 ? &frames[depth - 2] : NULL;
        if (up && !up->dir && (ret = remove_frame_open(up, dirfd(f->dir), "..", true, err)) < 0)
            break;
        closedir(f->dir);
        f->dir = NULL;
        if (unlinkat(up ? dirfd(up->dir) : parent_fd, f->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            ret = fail_errno(err, "remove %s", f->name);
        free(f->name);
        depth--;
    }
    for (size_t i = 0; i < depth; i++) {
        if (frames[i].dir)
            closedir(frames[i].dir);
        free(frames[i].name);
    }
    free(frames);
    return ret < 0 ? error_prefix(err, "remove %s", name) : 0;
}

/* --- inode sets: each multiply linked inode once ---
 * A hash table on (dev, ino), so walking a tree of n hard links costs O(n)
 * (a list made `ps -s` take 12.6 s at 160k links).  Each inode keeps the
 * first path it was seen at (a tar's hard link target). */

struct inode_set {
    struct inode_entry {
        dev_t dev;
        ino_t ino;
        char *path; /* NULL: free slot */
    } *slots;
    size_t n, cap;
};

static size_t inode_hash(dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32 | (uint64_t)dev >> 32)) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ h >> 29);
}

static struct inode_entry *inode_set_slot(struct inode_entry *slots, size_t cap, dev_t dev, ino_t ino)
{
    size_t i = inode_hash(dev, ino) & (cap - 1);
    while (slots[i].path && (slots[i].dev != dev || slots[i].ino != ino))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* inode_set_add: the path (dev, ino) was first seen at, or NULL when it is
 * new (then path is recorded for it). */
static const char *inode_set_add(struct inode_set *set, dev_t dev, ino_t ino, const char *path)
{
    if (2 * (set->n + 1) > set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        struct inode_entry *slots = xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < set->cap; i++)
            if (set->slots[i].path)
                *inode_set_slot(slots, cap, set->slots[i].dev, set->slots[i].ino) = set->slots[i];
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    struct inode_entry *e = inode_set_slot(set->slots, set->cap, dev, ino);
    if (e->path)
        return e->path;
    *e = (struct inode_entry){dev, ino, xstrdup(path)};
    set->n++;
    return NULL;
}

static void inode_set_free(struct inode_set *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i].path);
    free(set->slots);
    *set = (struct inode_set){0};
}

/* temp_dir: where big temporary files go: $TMPDIR, else /var/tmp (where
 * podman stages image copies). */
static const char *temp_dir(void)
{
    const char *env = getenv("TMPDIR");
    return env && *env == '/' ? env : "/var/tmp";
}

/* temp_file: an unnamed read-write file in temp_dir(), gone when closed. */
static int temp_file(lrun_error **err)
{
    int fd = open(temp_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd >= 0 ? fd : fail_errno(err, "create a temporary file in %s", temp_dir());
    autofree char *name = xasprintf("%s/lrun-XXXXXX", temp_dir()); /* a filesystem without O_TMPFILE */
    fd = mkostemp(name, O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "create a temporary file in %s", temp_dir());
    unlink(name);
    return fd;
}

/* fd_copy: count bytes (all that is left when count < 0) from in to out. */
static int fd_copy(int in, int out, int64_t count, lrun_error **err)
{
    char buf[65536];
    while (count != 0) {
        size_t want = count < 0 || count > (int64_t)sizeof buf ? sizeof buf : (size_t)count;
        ssize_t n = read(in, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_errno(err, "read");
        if (n == 0)
            return count < 0 ? 0 : fail(err, "read: unexpected end of file");
        if (write_all(out, buf, (size_t)n) < 0)
            return fail_errno(err, "write");
        if (count > 0)
            count -= n;
    }
    return 0;
}

/* human_size: go-units' HumanSizeWithPrecision: decimal units, precision
 * significant digits, "%.*g" then the unit ("77.9MB", "62B"). */
static char *human_size(double size, int precision)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    int i = 0;
    while (size >= 1000.0 && i < 8) {
        size /= 1000.0;
        i++;
    }
    return xasprintf("%.*g%s", precision, size, units[i]);
}

/* size_parse: docker's RAMInBytes: "64m", "1.5g", "512k", "100", "64MiB":
 * a number, then b, k, m, g, t or p (powers of 1024), case-insensitive,
 * optionally followed by b or ib. */
static bool size_parse(const char *text, int64_t *bytes)
{
    char *end;
    errno = 0;
    double n = strtod(text, &end);
    if (end == text || errno || n < 0 || !isdigit((unsigned char)text[0]))
        return false;
    static const char units[] = "bkmgtp";
    double scale = 1;
    const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
    if (*end && !u)
        return false;
    if (u) {
        for (const char *p = units; p < u; p++)
            scale *= 1024;
        end++;
        if (*u != 'b' && (strcasecmp(end, "b") == 0 || strcasecmp(end, "ib") == 0))
            end += strlen(end);
    }
    if (*end || n * scale > (double)INT64_MAX)
        return false;
    *bytes = (int64_t)(n * scale);
    return true;
}

/* ========================================================================
 * JSON: reading with yajl's tree, writing with yajl_gen
 * ======================================================================== */

static void json_free_pointer(yajl_val *v)
{
    if (*v)
        yajl_tree_free(*v);
    *v = NULL;
}
#define autojson cleanup(json_free_pointer)

static yajl_val json_parse(const char *text, const char *what, lrun_error **err)
{
    char errbuf[256] = "";
    yajl_val v = yajl_tree_parse(text, errbuf, sizeof errbuf);
    if (!v) {
        for (char *p = errbuf; *p; p++)
            if (*p == '\n')
                *p = ' ';
        fail(err, "parse %s: invalid JSON: %.200s", what, errbuf);
    }
    return v;
}

/* json_get: the member key of object obj, or NULL. */
static yajl_val json_get(yajl_val obj, const char *key)
{
    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

static const char *json_string(yajl_val obj, const char *key)
{
    yajl_val v = json_get(obj, key);
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

static int64_t json_int(yajl_val obj, const char *key, int64_t fallback)
{
    yajl_val v = json_get(obj, key);
    return YAJL_IS_INTEGER(v) ? (int64_t)YAJL_GET_INTEGER(v) : fallback;
}

static size_t json_array_len(yajl_val v) { return YAJL_IS_ARRAY(v) ? v->u.array.len : 0; }

static yajl_val json_array_at(yajl_val v, size_t i) { return YAJL_IS_ARRAY(v) ? v->u.array.values[i] : NULL; }

/* json_text_to_tree: JSON lrun generated itself (so it parses). */
static yajl_val json_text_to_tree(const char *text)
{
    yajl_val v = yajl_tree_parse(text, NULL, 0);
    if (!v)
        die_oom();
    return v;
}

/* json_strv: an array of strings as a string list (non-strings skipped). */
static char **json_strv(yajl_val v)
{
    char **list = xcalloc(json_array_len(v) + 1, sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < json_array_len(v); i++)
        if (YAJL_IS_STRING(v->u.array.values[i]))
            list[n++] = xstrdup(YAJL_GET_STRING(v->u.array.values[i]));
    return list;
}

/* --- spans: where a value is in the text, without a tree ---
 * For a large value that is only kept and hashed as text (config.json's
 * seccomp profile), finding it costs far less than parsing it.  Keys are
 * matched as written (no escapes); the text should be valid JSON (a
 * malformed one gives NULL or a span the tree parse then rejects). */

static const char *json_skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* json_skip_value: past the value that starts at p, or NULL. */
static const char *json_skip_value(const char *p)
{
    int depth = 0;
    do {
        p = json_skip_space(p);
        if (*p == '"') {
            for (p++; *p != '"'; p++)
                if (!*p || (*p == '\\' && !*++p))
                    return NULL;
            p++;
        } else if (*p == '{' || *p == '[') {
            depth++, p++;
        } else if (*p == '}' || *p == ']') {
            if (--depth < 0)
                return NULL;
            p++;
        } else if ((*p == ',' || *p == ':') && depth > 0) {
            p++;
        } else if (*p && !strchr(",:", *p)) { /* a number, true, false, null */
            while (*p && !strchr(" \t\r\n,:}]", *p))
                p++;
        } else {
            return NULL;
        }
    } while (depth > 0);
    return p;
}

/* json_member: where the value of key in the object at p starts, or NULL. */
static const char *json_member(const char *p, const char *key)
{
    size_t n = strlen(key);
    if (*(p = json_skip_space(p)) != '{')
        return NULL;
    for (p++;; p++) {
        if (*(p = json_skip_space(p)) != '"')
            return NULL;
        const char *name = p + 1, *end = json_skip_value(p);
        if (!end || *(p = json_skip_space(end)) != ':')
            return NULL;
        p = json_skip_space(p + 1);
        if ((size_t)(end - name - 1) == n && strncmp(name, key, n) == 0)
            return p;
        if (!(p = json_skip_value(p)) || *(p = json_skip_space(p)) != ',')
            return NULL;
    }
}

/* --- writing --- */

static void json_gen_free_pointer(yajl_gen *g)
{
    if (*g)
        yajl_gen_free(*g);
    *g = NULL;
}
#define autogen cleanup(json_gen_free_pointer)

static yajl_gen json_writer(bool pretty)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        die_oom();
    if (pretty) {
        yajl_gen_config(g, yajl_gen_beautify, 1);
        yajl_gen_config(g, yajl_gen_indent_string, "    ");
    }
    return g;
}

static void jw_str(yajl_gen g, const char *s)
{
    if (s)
        yajl_gen_string(g, (const unsigned char *)s, strlen(s));
    else
        yajl_gen_null(g);
}

static void jw_key(yajl_gen g, const char *key) { jw_str(g, key); }

static void jw_key_str(yajl_gen g, const char *key, const char *s)
{
    jw_key(g, key);
    jw_str(g, s);
}

static void jw_key_int(yajl_gen g, const char *key, int64_t n)
{
    jw_key(g, key);
    yajl_gen_integer(g, n);
}

static void jw_strv(yajl_gen g, char *const *v)
{
    yajl_gen_array_open(g);
    for (size_t i = 0; v && v[i]; i++)
        jw_str(g, v[i]);
    yajl_gen_array_close(g);
}

static void jw_key_bool(yajl_gen g, const char *key, bool value)
{
    jw_key(g, key);
    yajl_gen_bool(g, value);
}

static void jw_key_strv(yajl_gen g, const char *key, char *const *v)
{
    jw_key(g, key);
    jw_strv(g, v);
}

/* jw_value: write a parsed value back out unchanged. */
static void jw_value(yajl_gen g, yajl_val v)
{
    if (!v) {
        yajl_gen_null(g);
    } else if (YAJL_IS_STRING(v)) {
        jw_str(g, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        const char *num = YAJL_GET_NUMBER(v);
        yajl_gen_number(g, num, strlen(num));
    } else if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            jw_key(g, v->u.object.keys[i]);
            jw_value(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            jw_value(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    } else if (YAJL_IS_TRUE(v)) {
        yajl_gen_bool(g, 1);
    } else if (YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, 0);
    } else {
        yajl_gen_null(g);
    }
}

/* jw_unknown_members: the members of raw not named in known — fields a
 * newer podman wrote that lrun keeps as they were. */
static void jw_unknown_members(yajl_gen g, yajl_val raw, const char *const *known)
{
    if (!YAJL_IS_OBJECT(raw))
        return;
    for (size_t i = 0; i < raw->u.object.len; i++) {
        bool is_known = false;
        for (size_t k = 0; known[k] && !is_known; k++)
            is_known = strcmp(known[k], raw->u.object.keys[i]) == 0;
        if (!is_known) {
            jw_key(g, raw->u.object.keys[i]);
            jw_value(g, raw->u.object.values[i]);
        }
    }
}

/* json_writer_text: the generated text (copied, NUL-terminated). */
static char *json_writer_text(yajl_gen g, size_t *len)
{
    const unsigned char *text;
    size_t n;
    yajl_gen_get_buf(g, &text, &n);
    if (len)
        *len = n;
    return xstrndup((const char *)text, n);
}

/* --- printing as Go's encoding/json does (podman's output) ---
 * json.MarshalIndent: "{}" and "[]" when empty, ": " after keys, and
 * HTML-safe strings (<, > and & as \u003c \u003e \u0026). */

static void json_go_string(struct buf *out, const char *s)
{
    buf_add(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_printf(out, "\\%c", *p);
        else if (*p == '\n')
            buf_adds(out, "\\n");
        else if (*p == '\r')
            buf_adds(out, "\\r");
        else if (*p == '\t')
            buf_adds(out, "\\t");
        else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&')
            buf_printf(out, "\\u%04x", *p);
        else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) /* U+2028, U+2029 */
            buf_printf(out, "\\u202%c", p[2] == 0xa8 ? '8' : '9'), p += 2;
        else
            buf_add(out, p, 1);
    }
    buf_add(out, "\"", 1);
}

/* json_go_value: v as json.MarshalIndent with indent, or json.Marshal
 * (compact) when indent is NULL. */
static void json_go_value(struct buf *out, yajl_val v, const char *indent, int depth)
{
    if (YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v)) {
        bool object = YAJL_IS_OBJECT(v);
        size_t n = object ? v->u.object.len : v->u.array.len;
        buf_adds(out, object ? "{" : "[");
        for (size_t i = 0; i < n; i++) {
            buf_adds(out, i ? "," : "");
            buf_adds(out, indent ? "\n" : "");
            for (int d = 0; indent && d <= depth; d++)
                buf_adds(out, indent);
            if (object) {
                json_go_string(out, v->u.object.keys[i]);
                buf_adds(out, indent ? ": " : ":");
            }
            json_go_value(out, object ? v->u.object.values[i] : v->u.array.values[i], indent, depth + 1);
        }
        if (n && indent) {
            buf_adds(out, "\n");
            for (int d = 0; d < depth; d++)
                buf_adds(out, indent);
        }
        buf_adds(out, object ? "}" : "]");
    } else if (YAJL_IS_STRING(v)) {
        json_go_string(out, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        buf_adds(out, YAJL_GET_NUMBER(v));
    } else {
        buf_adds(out, YAJL_IS_TRUE(v) ? "true" : YAJL_IS_FALSE(v) ? "false" : "null");
    }
}

/* json_print_go: what yajl generated in g, printed as podman prints JSON. */
static void json_print_go(yajl_gen g, const char *indent)
{
    autofree char *text = json_writer_text(g, NULL);
    autojson yajl_val tree = yajl_tree_parse(text, NULL, 0);
    autobuf struct buf out = {0};
    json_go_value(&out, tree, indent, 0);
    printf("%s\n", out.data ? out.data : "null");
}

/* ========================================================================
 * DIGESTS: sha256, hex, base32 link ids, random bytes, time stamps
 * ======================================================================== */

typedef char digest_hex[65]; /* 64 hex digits and a NUL */

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_final_hex(SHA256_CTX *ctx, digest_hex out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_Final(md, ctx);
    hex_encode(md, sizeof md, out);
}

static void sha256_hex(const void *data, size_t n, digest_hex out)
{
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, n);
    sha256_final_hex(&ctx, out);
}

/* crc64: Go's hash/crc64 with the ISO table, which tar-split records. */
static uint64_t crc64_update(uint64_t crc, const void *data, size_t n)
{
    static uint64_t table[256];
    if (!table[1])
        for (uint64_t i = 0; i < 256; i++) {
            uint64_t c = i;
            for (int j = 0; j < 8; j++)
                c = c & 1 ? (c >> 1) ^ 0xD800000000000000ull : c >> 1;
            table[i] = c;
        }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(uint8_t)crc ^ p[i]] ^ (crc >> 8);
    return ~crc;
}

static bool is_hex_id(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
            return false;
    return true;
}

/* digest_hex_part: "sha256:<hex>" → "<hex>", or NULL when it is not one
 * (lrun handles sha256 digests only, as podman does by default). */
static const char *digest_hex_part(const char *digest)
{
    if (!digest || !has_prefix(digest, "sha256:") || !is_hex_id(digest + 7))
        return NULL;
    return digest + 7;
}

static const char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64_encode: standard base64 with padding. */
static char *base64_encode(const void *data, size_t n)
{
    const unsigned char *in = data;
    struct buf out = {0};
    buf_adds(&out, "");
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)in[i + 2];
        char quad[4] = {base64_alphabet[(v >> 18) & 63], base64_alphabet[(v >> 12) & 63],
                        i + 1 < n ? base64_alphabet[(v >> 6) & 63] : '=', i + 2 < n ? base64_alphabet[v & 63] : '='};
        buf_add(&out, quad, 4);
    }
    return buf_steal(&out);
}

/* base64_decode: standard base64 (padding optional) into out,
 * NUL-terminated; false when text is not base64. */
static bool base64_decode(const char *text, struct buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    buf_adds(out, "");
    for (const char *p = text; *p && *p != '='; p++) {
        const char *at = strchr(base64_alphabet, *p);
        if (!at)
            return false;
        acc = (acc << 6) | (uint32_t)(at - base64_alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char byte = (char)((acc >> bits) & 0xFF);
            buf_add(out, &byte, 1);
        }
    }
    return true;
}

static void random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) { /* very old kernel: no entropy source is no reason to stop */
            for (size_t i = 0; i < n; i++)
                p[i] = (unsigned char)(rand() ^ (int)(i * 131));
            return;
        }
        p += r;
        n -= (size_t)r;
    }
}

/* link_id_new: a 26-character base32 id for overlay/l/, made as
 * containers/storage's generateID(26): 17 random bytes, standard base32
 * (A-Z 2-7), the first 26 characters.  26 keeps 128 lowers under a page. */
static void link_id_new(char out[27])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char raw[17];
    random_bytes(raw, sizeof raw);
    unsigned int acc = 0, bits = 0, n = 0;
    for (size_t i = 0; i < sizeof raw && n < 26; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5 && n < 26) {
            out[n++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    out[26] = '\0';
}

/* time_rfc3339_now: "2026-11-24T22:37:19.149680139Z", as Go marshals time. */
static char *time_rfc3339_now(void)
{
    struct timespec ts;
    struct tm tm;
    char date[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s.%09ldZ", date, ts.tv_nsec);
}

/* time_rfc3339_nano: a time as Go marshals it (RFC 3339, UTC, the
 * fraction without trailing zeros): "2023-11-14T22:13:20.5Z". */
static char *time_rfc3339_nano(struct timespec ts)
{
    struct tm tm;
    char date[32], fraction[16] = "";
    gmtime_r(&ts.tv_sec, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts.tv_nsec) {
        snprintf(fraction, sizeof fraction, ".%09ld", ts.tv_nsec);
        for (size_t n = strlen(fraction); fraction[n - 1] == '0';)
            fraction[--n] = '\0';
    }
    return xasprintf("%s%sZ", date, fraction);
}

/* time_parse_rfc3339: seconds since the epoch, or 0 when unparsable. */
static int64_t time_parse_rfc3339(const char *s)
{
    struct tm tm = {0};
    if (!s)
        return 0;
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    int64_t t = (int64_t)timegm(&tm);
    if (*rest == '.')
        while (isdigit((unsigned char)*++rest))
            ;
    if (*rest == '+' || *rest == '-') {
        /* RFC 3339's time-offset is exactly "hh:mm": a longer number would
         * overflow the arithmetic (an image once showed "31 years ago") */
        const unsigned char *o = (const unsigned char *)rest + 1;
        if (!isdigit(o[0]) || !isdigit(o[1]) || o[2] != ':' || !isdigit(o[3]) || !isdigit(o[4]) || o[5])
            return 0;
        int hours = (o[0] - '0') * 10 + (o[1] - '0'), minutes = (o[3] - '0') * 10 + (o[4] - '0');
        if (hours > 23 || minutes > 59)
            return 0;
        t += (*rest == '+' ? -1 : 1) * (hours * 3600 + minutes * 60);
    }
    return t;
}

/* human_duration: go-units' HumanDuration ("3 years", "About an hour"). */
static char *human_duration(int64_t then)
{
    int64_t s = (int64_t)time(NULL) - then;
    int64_t m = s / 60, h = s / 3600;
    if (s < 1)
        return xstrdup("Less than a second");
    if (s == 1)
        return xstrdup("1 second");
    if (s < 60)
        return xasprintf("%" PRId64 " seconds", s);
    if (m == 1)
        return xstrdup("About a minute");
    if (m < 60)
        return xasprintf("%" PRId64 " minutes", m);
    if (h == 1)
        return xstrdup("About an hour");
    if (h < 48)
        return xasprintf("%" PRId64 " hours", h);
    if (h < 24 * 7 * 2)
        return xasprintf("%" PRId64 " days", h / 24);
    if (h < 24 * 30 * 2)
        return xasprintf("%" PRId64 " weeks", h / 24 / 7);
    if (h < 24 * 365 * 2)
        return xasprintf("%" PRId64 " months", h / 24 / 30);
    return xasprintf("%" PRId64 " years", h / 24 / 365);
}

static char *time_ago(int64_t then)
{
    autofree char *d = human_duration(then);
    return xasprintf("%s ago", d);
}

/* time_go_string: Go's time.Time.String() of a UTC time, which podman
 * prints for {{.CreatedAt}}: "2023-11-14 22:13:20 +0000 UTC". */
static char *time_go_string(int64_t then)
{
    time_t t = (time_t)then;
    struct tm tm;
    char text[64];
    gmtime_r(&t, &tm);
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    return xstrdup(text);
}

/* time_rfc3339_local: Go's Format(time.RFC3339) in the local zone
 * ("2023-11-14T22:13:20Z" in UTC, "...+01:00" elsewhere). */
static char *time_rfc3339_local(int64_t then)
{
    time_t t = (time_t)then;
    struct tm tm;
    char date[32];
    localtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff;
    if (off == 0)
        return xasprintf("%sZ", date);
    return xasprintf("%s%c%02ld:%02ld", date, off < 0 ? '-' : '+', labs(off) / 3600, labs(off) % 3600 / 60);
}

/* ========================================================================
 * STORE: graph root, lock files, the three JSON indexes, recovery
 *
 * The layout is containers/storage's overlay driver (see
 * shared/store-format.md): overlay/<layer-id>/{diff,work,merged,link,lower},
 * overlay/l/<link> -> ../<layer-id>/diff, overlay-layers/layers.json,
 * overlay-images/images.json (+ <image-id>/ big-data files),
 * overlay-containers/containers.json, each index beside a .lock file that
 * is fcntl-locked and holds a 64-byte last-write token.
 * ======================================================================== */

enum compression { COMPRESSION_NONE = 0, COMPRESSION_BZIP2 = 1, COMPRESSION_GZIP = 2, COMPRESSION_XZ = 3,
                   COMPRESSION_ZSTD = 4 };

struct id_set { /* uidset / gidset of a layer */
    uint32_t *ids;
    size_t len;
};

struct layer {
    char *id;
    char **names;
    char *parent;
    char *metadata;
    char *created;
    char *compressed_digest; /* digest of the blob as stored in the image */
    int64_t compressed_size;
    char *diff_digest; /* the DiffID: digest of the uncompressed tar */
    int64_t diff_size; /* bytes of the uncompressed tar, -1 when unknown */
    int compression;
    struct id_set uids, gids;
    bool incomplete;
    bool is_volatile; /* kept in volatile-layers.json (a --rm container's) */
    yajl_val raw;     /* the record as read, for members lrun does not know */
};

struct big_data {
    char *name;
    int64_t size;
    char *digest;
};

struct image {
    char *id;
    char *digest;
    char **names;
    char **names_history;
    char *layer; /* top layer */
    char *metadata;
    struct big_data *big_data;
    size_t n_big_data;
    char *created;
    yajl_val raw;
};

/* A container's runtime state lives in its record's flags map under
 * "lrun.*" keys (c/storage keeps flags it does not know), so listing
 * containers and their sizes reads containers.json and nothing else. */
struct container {
    char *id;
    char **names;
    char *image;
    char *layer;
    char *metadata;
    char *created;
    char *status;      /* created, running, exited */
    char *command;     /* for ps */
    char *started_at;  /* RFC 3339 */
    char *finished_at;
    int64_t pid;       /* the container's init, in the host's pid namespace */
    int64_t pid_start; /* its start time (/proc/PID/stat), against pid reuse */
    int64_t monitor;   /* the process that waits for it and records the exit */
    int64_t exit_code;
    int64_t size;      /* bytes of the container layer, recorded at exit; -1 unknown */
    bool oom_killed;   /* the last run ended by the memory cgroup's OOM killer */
    bool is_volatile;  /* a --rm container's: kept in volatile-containers.json */
    char *boot_id;     /* a volatile record's boot: one of an earlier boot is a leftover */
    bool stale;        /* a volatile record of an earlier boot, to be removed */
    yajl_val raw;
};

enum store_lock { LOCK_STORAGE, LOCK_LAYERS, LOCK_IMAGES, LOCK_CONTAINERS, LOCK_COUNT };

struct lrun_store {
    char *root;
    int mode;
    bool volatile_writes; /* new records are volatile: a --rm container's, which nothing needs after a crash */
    int root_fd, overlay_fd, layers_fd, images_fd, containers_fd;
    int lock_fds[LOCK_COUNT];
    yajl_val trees[2][LOCK_COUNT];             /* parsed indexes (durable, volatile), kept for the raw records */
    digest_hex index_digest[2][LOCK_COUNT];    /* of each index file as last read or written */
    char **spare; /* what a removal is about to delete ("overlay/<id>/diff", "overlay-containers/<id>"):
                     freed first when the index rewrite finds the disk full */
    struct layer **layers;
    size_t n_layers;
    struct image **images;
    size_t n_images;
    struct container **containers;
    size_t n_containers;
};

char *lrun_default_root(void)
{
    const char *env = getenv("LRUN_ROOT");
    if (env && *env)
        return xstrdup(env);
    if (geteuid() == 0)
        return xstrdup("/var/lib/lrun");
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg == '/')
        return xasprintf("%s/lrun", xdg);
    const char *home = getenv("HOME");
    return xasprintf("%s/.local/share/lrun", home && *home ? home : "/tmp");
}

/* --- lock files --- */

static int lock_file_open(int dirfd, const char *name, lrun_error **err)
{
    int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return fail_errno(err, "open lock file %s", name);
    return fd;
}

static int lock_file_lock(int fd, bool exclusive, const char *name, lrun_error **err)
{
    struct flock fl = {.l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET};
    while (fcntl(fd, F_SETLKW, &fl) < 0)
        if (errno != EINTR)
            return fail_errno(err, "lock %s", name);
    return 0;
}

static void lock_file_unlock(int fd)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    fcntl(fd, F_SETLK, &fl);
}

/* lock_file_record_write: a fresh last-write token (c/storage lastwrite.go:
 * 8 bytes of nanoseconds, an 8-byte counter, a 4-byte pid, 44 random
 * bytes, little-endian), so podman sees that the index changed. */
static void lock_file_record_write(int fd)
{
    unsigned char token[64] = {0}, old[64] = {0};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t nanos = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, counter = 0;
    if (pread(fd, old, sizeof old, 0) == (ssize_t)sizeof old)
        for (int i = 7; i >= 0; i--)
            counter = (counter << 8) | old[8 + i];
    counter++;
    uint32_t pid = (uint32_t)getpid();
    for (int i = 0; i < 8; i++) {
        token[i] = (unsigned char)(nanos >> (8 * i));
        token[8 + i] = (unsigned char)(counter >> (8 * i));
    }
    for (int i = 0; i < 4; i++)
        token[16 + i] = (unsigned char)(pid >> (8 * i));
    random_bytes(token + 20, 44);
    if (pwrite(fd, token, sizeof token, 0) != (ssize_t)sizeof token)
        (void)0; /* a token is a hint for other readers; the data is already safe */
}

/* --- records: reading --- */

static void id_set_read(struct id_set *set, yajl_val v)
{
    set->len = 0;
    set->ids = xcalloc(json_array_len(v) + 1, sizeof *set->ids);
    for (size_t i = 0; i < json_array_len(v); i++)
        if (YAJL_IS_INTEGER(v->u.array.values[i]))
            set->ids[set->len++] = (uint32_t)YAJL_GET_INTEGER(v->u.array.values[i]);
}

static void id_set_add(struct id_set *set, uint32_t id)
{
    for (size_t i = 0; i < set->len; i++)
        if (set->ids[i] == id)
            return;
    set->ids = xrealloc(set->ids, (set->len + 1) * sizeof *set->ids);
    set->ids[set->len++] = id;
}

static struct layer *layer_from_json(yajl_val v)
{
    struct layer *l = xcalloc(1, sizeof *l);
    l->raw = v;
    l->id = xstrdup(json_string(v, "id"));
    l->names = json_strv(json_get(v, "names"));
    l->parent = xstrdup(json_string(v, "parent"));
    l->metadata = xstrdup(json_string(v, "metadata"));
    l->created = xstrdup(json_string(v, "created"));
    l->compressed_digest = xstrdup(json_string(v, "compressed-diff-digest"));
    l->compressed_size = json_int(v, "compressed-size", -1);
    l->diff_digest = xstrdup(json_string(v, "diff-digest"));
    l->diff_size = json_int(v, "diff-size", -1);
    l->compression = (int)json_int(v, "compression", 0);
    id_set_read(&l->uids, json_get(v, "uidset"));
    id_set_read(&l->gids, json_get(v, "gidset"));
    yajl_val incomplete = json_get(json_get(v, "flags"), "incomplete");
    l->incomplete = YAJL_IS_TRUE(incomplete);
    return l;
}

static void layer_free(struct layer *l)
{
    if (!l)
        return;
    free(l->id);
    lrun_strv_free(l->names);
    free(l->parent);
    free(l->metadata);
    free(l->created);
    free(l->compressed_digest);
    free(l->diff_digest);
    free(l->uids.ids);
    free(l->gids.ids);
    free(l);
}

static struct image *image_from_json(yajl_val v)
{
    struct image *img = xcalloc(1, sizeof *img);
    img->raw = v;
    img->id = xstrdup(json_string(v, "id"));
    img->digest = xstrdup(json_string(v, "digest"));
    img->names = json_strv(json_get(v, "names"));
    img->names_history = json_strv(json_get(v, "names-history"));
    img->layer = xstrdup(json_string(v, "layer"));
    img->metadata = xstrdup(json_string(v, "metadata"));
    img->created = xstrdup(json_string(v, "created"));
    yajl_val names = json_get(v, "big-data-names");
    yajl_val sizes = json_get(v, "big-data-sizes"), digests = json_get(v, "big-data-digests");
    img->big_data = xcalloc(json_array_len(names) + 1, sizeof *img->big_data);
    for (size_t i = 0; i < json_array_len(names); i++) {
        yajl_val name = json_array_at(names, i);
        if (!YAJL_IS_STRING(name))
            continue;
        struct big_data *bd = &img->big_data[img->n_big_data++];
        bd->name = xstrdup(YAJL_GET_STRING(name));
        bd->size = json_int(sizes, bd->name, 0);
        bd->digest = xstrdup(json_string(digests, bd->name));
    }
    return img;
}

static void image_free(struct image *img)
{
    if (!img)
        return;
    free(img->id);
    free(img->digest);
    lrun_strv_free(img->names);
    lrun_strv_free(img->names_history);
    free(img->layer);
    free(img->metadata);
    free(img->created);
    for (size_t i = 0; i < img->n_big_data; i++) {
        free(img->big_data[i].name);
        free(img->big_data[i].digest);
    }
    free(img->big_data);
    free(img);
}

static struct container *container_from_json(yajl_val v)
{
    struct container *c = xcalloc(1, sizeof *c);
    c->raw = v;
    c->id = xstrdup(json_string(v, "id"));
    c->names = json_strv(json_get(v, "names"));
    c->image = xstrdup(json_string(v, "image"));
    c->layer = xstrdup(json_string(v, "layer"));
    c->metadata = xstrdup(json_string(v, "metadata"));
    c->created = xstrdup(json_string(v, "created"));
    yajl_val flags = json_get(v, "flags");
    c->status = xstrdup(json_string(flags, "lrun.status") ? json_string(flags, "lrun.status") : "created");
    c->command = xstrdup(json_string(flags, "lrun.command"));
    c->started_at = xstrdup(json_string(flags, "lrun.started-at"));
    c->finished_at = xstrdup(json_string(flags, "lrun.finished-at"));
    c->pid = json_int(flags, "lrun.pid", 0);
    c->pid_start = json_int(flags, "lrun.pid-start", 0);
    c->monitor = json_int(flags, "lrun.monitor", 0);
    c->exit_code = json_int(flags, "lrun.exit-code", 0);
    c->size = json_int(flags, "lrun.size", -1);
    c->oom_killed = YAJL_IS_TRUE(json_get(flags, "lrun.oom-killed"));
    c->boot_id = xstrdup(json_string(flags, "lrun.boot-id"));
    return c;
}

static void container_free(struct container *c)
{
    if (!c)
        return;
    free(c->id);
    lrun_strv_free(c->names);
    free(c->image);
    free(c->layer);
    free(c->metadata);
    free(c->created);
    free(c->status);
    free(c->command);
    free(c->started_at);
    free(c->finished_at);
    free(c->boot_id);
    free(c);
}

/* --- records: writing, in c/storage's field order, empty fields omitted --- */

static void jw_key_str_opt(yajl_gen g, const char *key, const char *s)
{
    if (s && *s)
        jw_key_str(g, key, s);
}

static void jw_key_strv_opt(yajl_gen g, const char *key, char *const *v)
{
    if (strv_len(v) == 0)
        return;
    jw_key(g, key);
    jw_strv(g, v);
}

static void jw_id_set(yajl_gen g, const char *key, const struct id_set *set)
{
    if (set->len == 0)
        return;
    jw_key(g, key);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < set->len; i++)
        yajl_gen_integer(g, set->ids[i]);
    yajl_gen_array_close(g);
}

static void layer_to_json(yajl_gen g, const struct layer *l)
{
    static const char *const known[] = {"id", "names", "parent", "metadata", "created", "compressed-diff-digest",
                                        "compressed-size", "diff-digest", "diff-size", "compression", "uidset",
                                        "gidset", "flags", NULL};
    yajl_gen_map_open(g);
    jw_key_str(g, "id", l->id);
    jw_key_strv_opt(g, "names", l->names);
    jw_key_str_opt(g, "parent", l->parent);
    jw_key_str_opt(g, "metadata", l->metadata);
    jw_key_str_opt(g, "created", l->created);
    jw_key_str_opt(g, "compressed-diff-digest", l->compressed_digest);
    if (l->compressed_size > 0)
        jw_key_int(g, "compressed-size", l->compressed_size);
    jw_key_str_opt(g, "diff-digest", l->diff_digest);
    if (l->diff_size > 0)
        jw_key_int(g, "diff-size", l->diff_size);
    if (l->compression)
        jw_key_int(g, "compression", l->compression);
    jw_id_set(g, "uidset", &l->uids);
    jw_id_set(g, "gidset", &l->gids);
    /* flags: keep any flag another tool set, with ours on top */
    yajl_val flags = json_get(l->raw, "flags");
    bool other_flags = false;
    for (size_t i = 0; YAJL_IS_OBJECT(flags) && i < flags->u.object.len; i++)
        other_flags |= strcmp(flags->u.object.keys[i], "incomplete") != 0;
    if (l->incomplete || other_flags) {
        jw_key(g, "flags");
        yajl_gen_map_open(g);
        for (size_t i = 0; YAJL_IS_OBJECT(flags) && i < flags->u.object.len; i++) {
            if (strcmp(flags->u.object.keys[i], "incomplete") == 0)
                continue;
            jw_key(g, flags->u.object.keys[i]);
            jw_value(g, flags->u.object.values[i]);
        }
        if (l->incomplete) {
            jw_key(g, "incomplete");
            yajl_gen_bool(g, 1);
        }
        yajl_gen_map_close(g);
    }
    jw_unknown_members(g, l->raw, known);
    yajl_gen_map_close(g);
}

static void image_to_json(yajl_gen g, const struct image *img)
{
    static const char *const known[] = {"id", "digest", "names", "names-history", "layer", "metadata",
                                        "big-data-names", "big-data-sizes", "big-data-digests", "created",
                                        NULL};
    yajl_gen_map_open(g);
    jw_key_str(g, "id", img->id);
    jw_key_str_opt(g, "digest", img->digest);
    jw_key_strv_opt(g, "names", img->names);
    jw_key_strv_opt(g, "names-history", img->names_history);
    jw_key_str_opt(g, "layer", img->layer);
    jw_key_str_opt(g, "metadata", img->metadata);
    if (img->n_big_data) {
        jw_key(g, "big-data-names");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < img->n_big_data; i++)
            jw_str(g, img->big_data[i].name);
        yajl_gen_array_close(g);
        jw_key(g, "big-data-sizes");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < img->n_big_data; i++)
            jw_key_int(g, img->big_data[i].name, img->big_data[i].size);
        yajl_gen_map_close(g);
        jw_key(g, "big-data-digests");
        yajl_gen_map_open(g);
        for (size_t i = 0; i < img->n_big_data; i++)
            jw_key_str(g, img->big_data[i].name, img->big_data[i].digest);
        yajl_gen_map_close(g);
    }
    jw_key_str_opt(g, "created", img->created);
    jw_unknown_members(g, img->raw, known);
    yajl_gen_map_close(g);
}

static void container_to_json(yajl_gen g, const struct container *c)
{
    static const char *const known[] = {"id", "names", "image", "layer", "metadata", "created", "flags", NULL};
    yajl_gen_map_open(g);
    jw_key_str(g, "id", c->id);
    jw_key_strv_opt(g, "names", c->names);
    jw_key_str_opt(g, "image", c->image);
    jw_key_str_opt(g, "layer", c->layer);
    jw_key_str_opt(g, "metadata", c->metadata);
    jw_key_str_opt(g, "created", c->created);
    jw_key(g, "flags");
    yajl_gen_map_open(g);
    yajl_val flags = json_get(c->raw, "flags"); /* other tools' flags (MountLabel...) stay */
    for (size_t i = 0; YAJL_IS_OBJECT(flags) && i < flags->u.object.len; i++) {
        if (has_prefix(flags->u.object.keys[i], "lrun."))
            continue;
        jw_key(g, flags->u.object.keys[i]);
        jw_value(g, flags->u.object.values[i]);
    }
    jw_key_str_opt(g, "lrun.status", c->status);
    jw_key_str_opt(g, "lrun.command", c->command);
    jw_key_str_opt(g, "lrun.started-at", c->started_at);
    jw_key_str_opt(g, "lrun.finished-at", c->finished_at);
    if (c->pid > 0) {
        jw_key_int(g, "lrun.pid", c->pid);
        jw_key_int(g, "lrun.pid-start", c->pid_start);
    }
    if (c->monitor > 0)
        jw_key_int(g, "lrun.monitor", c->monitor);
    jw_key_int(g, "lrun.exit-code", c->exit_code);
    if (c->size >= 0)
        jw_key_int(g, "lrun.size", c->size);
    if (c->oom_killed)
        jw_key_bool(g, "lrun.oom-killed", true);
    jw_key_str_opt(g, "lrun.boot-id", c->boot_id);
    yajl_gen_map_close(g);
    jw_unknown_members(g, c->raw, known);
    yajl_gen_map_close(g);
}

/* --- loading and saving the indexes --- */

/* Each index is two files, as c/storage keeps them: layers.json (durable:
 * synced before it replaces the old one) and volatile-layers.json (never
 * synced), and so for containers.  The records of --rm containers and
 * their layers go to the volatile file, so a run --rm neither pays for a
 * sync nor rewrites the big index; after a power cut the volatile file
 * may be empty or gone, which only loses containers that were to vanish
 * anyway.  A file whose content did not change is not written again. */
static const char *const index_dirs[LOCK_COUNT] = {"", "overlay-layers", "overlay-images", "overlay-containers"};
static const char *const index_names[2][LOCK_COUNT] = {
    {"", "layers.json", "images.json", "containers.json"},
    {"", "volatile-layers.json", "volatile-images.json", "volatile-containers.json"}};

static int store_index_dirfd(lrun_store *s, enum store_lock which)
{
    return which == LOCK_LAYERS ? s->layers_fd : which == LOCK_IMAGES ? s->images_fd : s->containers_fd;
}

static int store_read_index(lrun_store *s, enum store_lock which, bool is_volatile, lrun_error **err)
{
    const char *name = index_names[is_volatile][which];
    autobuf struct buf text = {0};
    if (read_file_at(store_index_dirfd(s, which), name, &text, err) < 0) {
        if (errno != ENOENT)
            return -1;
        error_free_pointer(err);
        buf_adds(&text, "[]");
    }
    sha256_hex(text.data, text.len, s->index_digest[is_volatile][which]);
    autofree char *path = xasprintf("%s/%s/%s", s->root, index_dirs[which], name);
    yajl_val tree = text.len ? json_parse(text.data, path, err) : NULL;
    if (tree && !YAJL_IS_ARRAY(tree) && !YAJL_IS_NULL(tree)) {
        yajl_tree_free(tree);
        tree = NULL;
        fail(err, "parse %s: not a JSON array", path);
    }
    if (!tree && is_volatile) { /* cut by a power failure: its containers were to vanish anyway */
        error_free_pointer(err);
        return 0;
    }
    if (!tree) {
        /* never read a damaged index as an empty store: the next write would
         * make the loss permanent */
        autofree char *why = text.len && err && *err ? xstrdup((*err)->message) : xasprintf("%s is empty", path);
        return fail(err, "%s; the store's index is damaged (cut off by a power failure?): restore the file from "
                    "a backup, or move it away to start with an empty index",
                    why);
    }
    s->trees[is_volatile][which] = tree;
    size_t n = YAJL_IS_ARRAY(tree) ? tree->u.array.len : 0; /* Go writes a nil slice as null */
    for (size_t i = 0; i < n; i++) {
        yajl_val rec = tree->u.array.values[i];
        if (!is_hex_id(json_string(rec, "id")))
            continue; /* a record without a usable id is skipped, as c/storage does */
        if (which == LOCK_LAYERS) {
            s->layers = xrealloc(s->layers, (s->n_layers + 1) * sizeof *s->layers);
            s->layers[s->n_layers] = layer_from_json(rec);
            s->layers[s->n_layers++]->is_volatile = is_volatile;
        } else if (which == LOCK_IMAGES) {
            s->images = xrealloc(s->images, (s->n_images + 1) * sizeof *s->images);
            s->images[s->n_images++] = image_from_json(rec);
        } else {
            s->containers = xrealloc(s->containers, (s->n_containers + 1) * sizeof *s->containers);
            s->containers[s->n_containers] = container_from_json(rec);
            s->containers[s->n_containers++]->is_volatile = is_volatile;
        }
    }
    return 0;
}

static void store_forget_indexes(lrun_store *s)
{
    for (size_t i = 0; i < s->n_layers; i++)
        layer_free(s->layers[i]);
    for (size_t i = 0; i < s->n_images; i++)
        image_free(s->images[i]);
    for (size_t i = 0; i < s->n_containers; i++)
        container_free(s->containers[i]);
    free(s->layers);
    free(s->images);
    free(s->containers);
    s->layers = NULL;
    s->images = NULL;
    s->containers = NULL;
    s->n_layers = s->n_images = s->n_containers = 0;
    for (int v = 0; v < 2; v++)
        for (int i = 0; i < LOCK_COUNT; i++) {
            if (s->trees[v][i])
                yajl_tree_free(s->trees[v][i]);
            s->trees[v][i] = NULL;
        }
}

static int store_require_write(lrun_store *s, lrun_error **err)
{
    if (s->mode != LRUN_STORE_WRITE)
        return fail(err, "the store at %s is open read-only", s->root);
    return 0;
}

/* store_save_file: one of an index's two files, when its text changed; a
 * volatile file without records is removed. */
static int store_save_file(lrun_store *s, enum store_lock which, bool is_volatile, lrun_error **err)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    size_t records = 0;
    if (which == LOCK_LAYERS) {
        for (size_t i = 0; i < s->n_layers; i++)
            if (s->layers[i]->is_volatile == is_volatile)
                layer_to_json(g, s->layers[i]), records++;
    } else if (which == LOCK_IMAGES) {
        for (size_t i = 0; i < s->n_images && !is_volatile; i++)
            image_to_json(g, s->images[i]), records++;
    } else {
        for (size_t i = 0; i < s->n_containers; i++)
            if (s->containers[i]->is_volatile == is_volatile)
                container_to_json(g, s->containers[i]), records++;
    }
    yajl_gen_array_close(g);
    size_t len;
    autofree char *text = json_writer_text(g, &len);
    digest_hex digest;
    sha256_hex(text, len, digest);
    if (strcmp(digest, s->index_digest[is_volatile][which]) == 0)
        return 0;
    int dirfd = store_index_dirfd(s, which);
    const char *name = index_names[is_volatile][which];
    if (is_volatile && records == 0) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return fail_errno(err, "remove %s", name);
    } else if (write_file_atomic_sync(dirfd, name, text, len, 0600, !is_volatile, err) < 0) {
        return -1;
    }
    memcpy(s->index_digest[is_volatile][which], digest, sizeof digest);
    lock_file_record_write(s->lock_fds[which]);
    if (which == LOCK_LAYERS)
        lock_file_record_write(s->lock_fds[LOCK_STORAGE]);
    return 0;
}

/* store_spare: what a removal deletes after its index rewrite may go
 * before it when the disk is full (a full graph root can always be
 * emptied): a crash in between leaves a record without its files, which
 * the next removal finishes (start and load call such a layer damaged). */
static void store_spare(lrun_store *s, const char *dir, const char *id, const char *sub)
{
    if (!id || !is_hex_id(id))
        return;
    struct buf path = {0};
    buf_adds(&path, dir);
    buf_adds(&path, id ? id : "");
    buf_adds(&path, sub);
    strv_push(&s->spare, buf_steal(&path));
}

static bool store_free_spare(lrun_store *s)
{
    bool freed = false;
    for (size_t i = 0; s->spare && s->spare[i]; i++)
        freed |= remove_tree_at(s->root_fd, s->spare[i], NULL) == 0;
    return freed;
}

static int store_save_index(lrun_store *s, enum store_lock which, lrun_error **err)
{
    if (store_require_write(s, err) < 0)
        return -1;
    int r = store_save_file(s, which, false, err);
    if (r < 0 && err && *err && (*err)->errnum == ENOSPC && store_free_spare(s)) {
        error_free_pointer(err);
        r = store_save_file(s, which, false, err);
    }
    if (r == 0 && which != LOCK_IMAGES)
        r = store_save_file(s, which, true, err);
    if (r == 0) {
        lrun_strv_free(s->spare);
        s->spare = NULL;
    }
    return r;
}

static int store_save_layers(lrun_store *s, lrun_error **err) { return store_save_index(s, LOCK_LAYERS, err); }
static int store_save_images(lrun_store *s, lrun_error **err) { return store_save_index(s, LOCK_IMAGES, err); }

/* --- lookups --- */

static struct layer *store_layer(lrun_store *s, const char *id)
{
    for (size_t i = 0; id && i < s->n_layers; i++)
        if (strcmp(s->layers[i]->id, id) == 0)
            return s->layers[i];
    return NULL;
}

static struct image *store_image_by_id(lrun_store *s, const char *id)
{
    for (size_t i = 0; id && i < s->n_images; i++)
        if (strcmp(s->images[i]->id, id) == 0)
            return s->images[i];
    return NULL;
}

/* layer_chain: the layers of an image from the top down to the base. */
static size_t layer_chain(lrun_store *s, const char *top, struct layer ***chain)
{
    size_t n = 0;
    *chain = NULL;
    for (struct layer *l = store_layer(s, top); l && n <= s->n_layers; l = store_layer(s, l->parent)) {
        *chain = xrealloc(*chain, (n + 1) * sizeof **chain);
        (*chain)[n++] = l;
    }
    return n;
}

static size_t layer_users(lrun_store *s, const char *layer_id)
{
    size_t users = 0;
    for (size_t i = 0; i < s->n_layers; i++)
        if (s->layers[i]->parent && strcmp(s->layers[i]->parent, layer_id) == 0)
            users++;
    for (size_t i = 0; i < s->n_images; i++)
        if (s->images[i]->layer && strcmp(s->images[i]->layer, layer_id) == 0)
            users++;
    for (size_t i = 0; i < s->n_containers; i++)
        if (s->containers[i]->layer && strcmp(s->containers[i]->layer, layer_id) == 0)
            users++;
    return users;
}

/* --- removing a layer's files, and opening the store --- */

/* layer_remove_files: the layer's directory, its l/ link and tar-split. */
static int layer_remove_files(lrun_store *s, const char *id, lrun_error **err)
{
    autofree char *link_path = xasprintf("%s/link", id);
    autobuf struct buf link = {0};
    if (read_file_at(s->overlay_fd, link_path, &link, NULL) == 0 && link.len == 26 && !strchr(link.data, '/')) {
        autofree char *l = xasprintf("l/%s", link.data);
        unlinkat(s->overlay_fd, l, 0);
    }
    autofree char *split = xasprintf("%s.tar-split.gz", id);
    autofree char *split_tmp = xasprintf(".tmp-%s.tar-split.gz", id); /* an extraction cut short */
    unlinkat(s->layers_fd, split, 0);
    unlinkat(s->layers_fd, split_tmp, 0);
    if (remove_tree_at(s->overlay_fd, id, err) < 0)
        return error_prefix(err, "remove layer %.12s", id);
    return 0;
}

static void store_drop_layer_record(lrun_store *s, struct layer *l)
{
    for (size_t i = 0; i < s->n_layers; i++) {
        if (s->layers[i] != l)
            continue;
        memmove(&s->layers[i], &s->layers[i + 1], (s->n_layers - i - 1) * sizeof *s->layers);
        s->n_layers--;
        layer_free(l);
        return;
    }
}

/* store_remove_incomplete_layers: what an interrupted load or delete left
 * behind ("Found incomplete layer, deleting it", as c/storage does).  A
 * layer that cannot go (a mount inside, a full disk) stays flagged and is
 * tried again next time: it must not make every other command fail. */
static int store_remove_incomplete_layers(lrun_store *s, lrun_error **err)
{
    bool changed = false;
    for (size_t i = 0; i < s->n_layers;) {
        struct layer *l = s->layers[i];
        autoerror lrun_error *failure = NULL;
        if (!l->incomplete) {
            i++;
            continue;
        }
        if (layer_remove_files(s, l->id, &failure) < 0) {
            fprintf(stderr, "WARN[0000] Found incomplete layer %s, deleting it failed: %s\n", l->id,
                    failure->message);
            i++;
            continue;
        }
        store_drop_layer_record(s, l);
        changed = true;
    }
    return changed ? store_save_layers(s, err) : 0;
}

static bool store_has_incomplete_layers(lrun_store *s)
{
    for (size_t i = 0; i < s->n_layers; i++)
        if (s->layers[i]->incomplete)
            return true;
    return false;
}

/* boot_id: the kernel's id of this boot; "" when unknown. */
static const char *boot_id(void)
{
    static char id[64];
    if (!id[0]) {
        autobuf struct buf text = {0};
        if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", &text, NULL) == 0)
            snprintf(id, sizeof id, "%.*s", (int)strcspn(text.data, "\n"), text.data);
    }
    return id;
}

/* store_find_leftovers: what crashes left: incomplete layers, and the
 * volatile records of an earlier boot (the volatile files are on the
 * disk, not on a tmpfs as c/storage's runroot, so a power cut can leave
 * them).  A volatile layer that no volatile container of this boot uses
 * is one too: a record and its layer are made and removed under one lock. */
static bool store_find_leftovers(lrun_store *s)
{
    bool any = false;
    for (size_t i = 0; i < s->n_containers; i++) {
        struct container *c = s->containers[i];
        c->stale = c->is_volatile && strcmp(c->boot_id ? c->boot_id : "", boot_id()) != 0;
        any |= c->stale;
    }
    for (size_t i = 0; i < s->n_layers; i++) {
        struct layer *l = s->layers[i];
        bool used = false;
        for (size_t j = 0; l->is_volatile && j < s->n_containers && !used; j++)
            used = !s->containers[j]->stale && s->containers[j]->layer && strcmp(s->containers[j]->layer, l->id) == 0;
        if (l->is_volatile && !used)
            l->incomplete = true;
    }
    return any || store_has_incomplete_layers(s);
}

static void store_drop_container_record(lrun_store *s, struct container *c)
{
    for (size_t i = 0; i < s->n_containers; i++) {
        if (s->containers[i] != c)
            continue;
        memmove(&s->containers[i], &s->containers[i + 1], (s->n_containers - i - 1) * sizeof *s->containers);
        s->n_containers--;
        container_free(c);
        return;
    }
}

/* store_remove_leftovers: the files, then the records, of what
 * store_find_leftovers found (a crash in between leaves a record whose
 * files are gone, removed the next time). */
static int store_remove_leftovers(lrun_store *s, lrun_error **err)
{
    bool changed = false;
    for (size_t i = 0; i < s->n_containers;) {
        struct container *c = s->containers[i];
        if (!c->stale) {
            i++;
            continue;
        }
        if (remove_tree_at(s->containers_fd, c->id, err) < 0)
            return -1;
        store_drop_container_record(s, c);
        changed = true;
    }
    if (changed && store_save_index(s, LOCK_CONTAINERS, err) < 0)
        return -1;
    return store_remove_incomplete_layers(s, err);
}

static int open_dir_at(int dirfd, const char *name, mode_t mode, lrun_error **err)
{
    if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
        return fail_errno(err, "mkdir %s", name);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open %s", name);
    return fd;
}

static int store_lock_and_read(lrun_store *s, lrun_error **err)
{
    bool exclusive = s->mode == LRUN_STORE_WRITE;
    static const char *const names[LOCK_COUNT] = {"storage.lock", "layers.lock", "images.lock",
                                                  "containers.lock"};
    for (int i = 0; i < LOCK_COUNT; i++)
        if (lock_file_lock(s->lock_fds[i], exclusive, names[i], err) < 0)
            return -1;
    if (store_read_index(s, LOCK_LAYERS, false, err) < 0 || store_read_index(s, LOCK_LAYERS, true, err) < 0 ||
        store_read_index(s, LOCK_IMAGES, false, err) < 0 || store_read_index(s, LOCK_CONTAINERS, false, err) < 0 ||
        store_read_index(s, LOCK_CONTAINERS, true, err) < 0)
        return -1;
    return 0;
}

static void store_unlock(lrun_store *s)
{
    for (int i = LOCK_COUNT - 1; i >= 0; i--)
        if (s->lock_fds[i] >= 0)
            lock_file_unlock(s->lock_fds[i]);
}

void lrun_store_close(lrun_store *s)
{
    if (!s)
        return;
    store_forget_indexes(s);
    store_unlock(s);
    int fds[] = {s->root_fd, s->overlay_fd, s->layers_fd, s->images_fd, s->containers_fd};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (int i = 0; i < LOCK_COUNT; i++)
        if (s->lock_fds[i] >= 0)
            close(s->lock_fds[i]);
    lrun_strv_free(s->spare);
    free(s->root);
    free(s);
}

static void store_close_pointer(lrun_store **s)
{
    lrun_store_close(*s);
    *s = NULL;
}
#define autostore cleanup(store_close_pointer)

int lrun_store_open(const char *root, int mode, lrun_store **out, lrun_error **err)
{
    autostore lrun_store *s = xcalloc(1, sizeof *s);
    s->root = root ? xstrdup(root) : lrun_default_root();
    s->mode = mode;
    s->root_fd = s->overlay_fd = s->layers_fd = s->images_fd = s->containers_fd = -1;
    for (int i = 0; i < LOCK_COUNT; i++)
        s->lock_fds[i] = -1;
    if (mkdir_p(s->root, 0700, err) < 0)
        return error_prefix(err, "create the store");
    s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0)
        return fail_errno(err, "open the store %s", s->root);
    if ((s->overlay_fd = open_dir_at(s->root_fd, "overlay", 0755, err)) < 0 ||
        (s->layers_fd = open_dir_at(s->root_fd, "overlay-layers", 0700, err)) < 0 ||
        (s->images_fd = open_dir_at(s->root_fd, "overlay-images", 0700, err)) < 0 ||
        (s->containers_fd = open_dir_at(s->root_fd, "overlay-containers", 0700, err)) < 0)
        return error_prefix(err, "open the store %s", s->root);
    if (mkdirat(s->overlay_fd, "l", 0755) < 0 && errno != EEXIST)
        return fail_errno(err, "mkdir %s/overlay/l", s->root);
    if ((s->lock_fds[LOCK_STORAGE] = lock_file_open(s->root_fd, "storage.lock", err)) < 0 ||
        (s->lock_fds[LOCK_LAYERS] = lock_file_open(s->layers_fd, "layers.lock", err)) < 0 ||
        (s->lock_fds[LOCK_IMAGES] = lock_file_open(s->images_fd, "images.lock", err)) < 0 ||
        (s->lock_fds[LOCK_CONTAINERS] = lock_file_open(s->containers_fd, "containers.lock", err)) < 0)
        return -1;
    if (store_lock_and_read(s, err) < 0)
        return -1;
    if (store_find_leftovers(s)) {
        /* a reader that finds a crash's leftovers cleans them up first */
        int wanted = s->mode;
        store_forget_indexes(s);
        store_unlock(s);
        s->mode = LRUN_STORE_WRITE;
        if (store_lock_and_read(s, err) < 0)
            return -1;
        store_find_leftovers(s);
        if (store_remove_leftovers(s, err) < 0)
            return -1;
        if (wanted == LRUN_STORE_READ) { /* downgrade: shared locks again */
            store_forget_indexes(s);
            store_unlock(s);
            s->mode = LRUN_STORE_READ;
            if (store_lock_and_read(s, err) < 0)
                return -1;
        }
    }
    *out = steal_pointer(&s);
    return 0;
}

/* ========================================================================
 * LAYERS: layer directories, safe tar extraction, whiteouts, removal
 * ======================================================================== */

/* layer_lower_chain: the "lower" content for a child of parent:
 * l/<parent link>[:<parent's lower>], uppermost first. */
static char *layer_lower_chain(lrun_store *s, const char *parent, lrun_error **err)
{
    autofree char *link_path = xasprintf("%s/link", parent);
    autofree char *lower_path = xasprintf("%s/lower", parent);
    autobuf struct buf link = {0};
    autobuf struct buf lower = {0};
    if (read_file_at(s->overlay_fd, link_path, &link, err) < 0)
        return NULL;
    if (read_file_at(s->overlay_fd, lower_path, &lower, NULL) < 0)
        return xasprintf("l/%s", link.data);
    return xasprintf("l/%s:%s", link.data, lower.data);
}

/* layer_dirs_create: overlay/<id>/ with diff, work, merged, link, the
 * l/<link> symlink, and lower (a child) or empty (a base layer). */
static int layer_dirs_create(lrun_store *s, const char *id, const char *parent, lrun_error **err)
{
    autofree char *lower = NULL;
    if (parent && !(lower = layer_lower_chain(s, parent, err)))
        return error_prefix(err, "read the parent layer %.12s", parent);
    if (mkdirat(s->overlay_fd, id, 0700) < 0)
        return fail_errno(err, "create layer directory %s", id);
    autoclose int dirfd = openat(s->overlay_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return fail_errno(err, "open layer directory %s", id);
    if (mkdirat(dirfd, "diff", 0755) < 0 || mkdirat(dirfd, "work", 0700) < 0 || mkdirat(dirfd, "merged", 0700) < 0)
        return fail_errno(err, "create layer directories in %s", id);
    if (!parent && mkdirat(dirfd, "empty", 0700) < 0)
        return fail_errno(err, "create %s/empty", id);
    if (lower && write_file_at(dirfd, "lower", lower, strlen(lower), 0644, err) < 0)
        return -1;
    char link[27];
    autofree char *target = xasprintf("../%s/diff", id);
    for (int tries = 0;; tries++) {
        link_id_new(link);
        autofree char *l = xasprintf("l/%s", link);
        if (symlinkat(target, s->overlay_fd, l) == 0)
            break;
        if (errno != EEXIST || tries > 8)
            return fail_errno(err, "create link %s", l);
    }
    return write_file_at(dirfd, "link", link, 26, 0644, err);
}

/* --- a layer's files: durable before complete, repaired when broken ---
 *
 * A record without "incomplete" promises its files are on the disk: after
 * a power cut, unsynced files in diff/ come back 0 bytes and an unsynced
 * link or lower file comes back empty, under a record that says complete
 * (c/storage syncs before it clears the flag).  A load's many files are
 * synced with one syncfs; a container layer (directories, link, lower) file
 * by file, which is cheaper than syncing whatever else the filesystem has. */

static int layer_sync_all(lrun_store *s, lrun_error **err)
{
    if (syncfs(s->overlay_fd) < 0)
        return fail_errno(err, "sync the store's filesystem");
    return 0;
}

static int sync_at(int dirfd, const char *name, lrun_error **err)
{
    autoclose int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return fail_errno(err, "sync %s", name);
    return 0;
}

static int layer_sync_files(lrun_store *s, const struct layer *l, lrun_error **err)
{
    autofree char *link = xasprintf("%s/link", l->id);
    autofree char *lower = xasprintf("%s/lower", l->id);
    autofree char *diff = xasprintf("%s/diff", l->id);
    if (sync_at(s->overlay_fd, link, err) < 0 || (l->parent && sync_at(s->overlay_fd, lower, err) < 0) ||
        sync_at(s->overlay_fd, diff, err) < 0 || sync_at(s->overlay_fd, l->id, err) < 0 ||
        sync_at(s->overlay_fd, "l", err) < 0 || sync_at(s->overlay_fd, ".", err) < 0)
        return error_prefix(err, "layer %.12s", l->id);
    return 0;
}

static bool link_id_valid(const char *text)
{
    return strlen(text) == 26 && strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == 26;
}

/* link_find: the name in l/ of a symlink to target, kept when a layer's
 * link file was lost, so its children's lower files stay right. */
static bool link_find(lrun_store *s, const char *target, char out[27])
{
    autoclose int fd = openat(s->overlay_fd, "l", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir)
        return false;
    fd = -1; /* owned by dir now */
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(dir))) {
        char seen[PATH_MAX];
        ssize_t n = readlinkat(dirfd(dir), de->d_name, seen, sizeof seen - 1);
        if (n < 0 || !link_id_valid(de->d_name))
            continue;
        seen[n] = '\0';
        if ((found = strcmp(seen, target) == 0))
            memcpy(out, de->d_name, 27);
    }
    closedir(dir);
    return found;
}

/* layer_repair: a complete layer needs its diff/ (without it the layer is
 * damaged: -1); its link file, l/<link> symlink and lower file are rebuilt
 * when they are broken (c/storage's recreateSymlinks).  With fix false it
 * only looks: *broken says whether a repair is needed.  A child's lower
 * names its parent's link, so parents go first. */
static int layer_repair(lrun_store *s, const struct layer *l, bool fix, bool *broken, lrun_error **err)
{
    autofree char *diff = xasprintf("%s/diff", l->id);
    struct stat st;
    if (fstatat(s->overlay_fd, diff, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        return fail(err, "layer %.12s is damaged: %s/overlay/%s is missing; load or pull an image that has it "
                    "again to repair it",
                    l->id, s->root, diff);
    autoclose int dirfd = openat(s->overlay_fd, l->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return fail_errno(err, "open layer directory %s", l->id);
    autofree char *target = xasprintf("../%s/diff", l->id);
    autobuf struct buf link = {0};
    if (read_file_at(dirfd, "link", &link, NULL) < 0 || !link_id_valid(link.data)) {
        *broken = true;
        char fresh[27];
        if (!link_find(s, target, fresh))
            link_id_new(fresh);
        if (fix && write_file_atomic(dirfd, "link", fresh, 26, 0644, err) < 0)
            return error_prefix(err, "repair layer %.12s", l->id);
        link.len = 0;
        buf_adds(&link, fresh);
    }
    autofree char *symlink_path = xasprintf("l/%s", link.data);
    char seen[PATH_MAX];
    ssize_t n = readlinkat(s->overlay_fd, symlink_path, seen, sizeof seen - 1);
    if (n < 0 || (size_t)n != strlen(target) || memcmp(seen, target, (size_t)n) != 0) {
        *broken = true;
        if (fix && ((unlinkat(s->overlay_fd, symlink_path, 0) < 0 && errno != ENOENT) ||
                    symlinkat(target, s->overlay_fd, symlink_path) < 0 || sync_at(s->overlay_fd, "l", err) < 0))
            return fail_errno(err, "repair layer %.12s: %s", l->id, symlink_path);
    }
    if (!l->parent)
        return 0;
    autofree char *want = layer_lower_chain(s, l->parent, err);
    if (!want)
        return error_prefix(err, "layer %.12s: its parent", l->id);
    autobuf struct buf lower = {0};
    if (read_file_at(dirfd, "lower", &lower, NULL) < 0 || strcmp(lower.data, want) != 0) {
        *broken = true;
        if (fix && write_file_atomic(dirfd, "lower", want, strlen(want), 0644, err) < 0)
            return error_prefix(err, "repair layer %.12s", l->id);
    }
    return 0;
}

/* layer_chain_repair: layer_repair of top and everything below it, the
 * base first; *broken as layer_repair's. */
static int layer_chain_repair(lrun_store *s, const char *top, bool fix, bool *broken, lrun_error **err)
{
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, top, &chain);
    for (size_t i = n; i > 0; i--)
        if (layer_repair(s, chain[i - 1], fix, broken, err) < 0)
            return -1;
    return 0;
}

/* layer_abandon: a layer being made goes, files and record (what made
 * it failed; its own error is what the caller reports). */
static void layer_abandon(lrun_store *s, struct layer *l)
{
    lrun_error *ignored = NULL;
    layer_remove_files(s, l->id, &ignored);
    lrun_error_free(ignored);
    ignored = NULL;
    store_drop_layer_record(s, l);
    store_save_layers(s, &ignored);
    lrun_error_free(ignored);
}

/* layer_add: record a new layer as incomplete (so a crash from here on is
 * cleaned up by the next command) and create its directories. */
static struct layer *layer_add(lrun_store *s, const char *id, const char *parent, lrun_error **err)
{
    if (store_require_write(s, err) < 0)
        return NULL;
    struct layer *l = xcalloc(1, sizeof *l);
    l->id = xstrdup(id);
    l->parent = xstrdup(parent);
    l->created = time_rfc3339_now();
    l->diff_size = -1;
    l->compressed_size = -1;
    l->incomplete = true;
    l->is_volatile = s->volatile_writes;
    s->layers = xrealloc(s->layers, (s->n_layers + 1) * sizeof *s->layers);
    s->layers[s->n_layers++] = l;
    if (store_save_layers(s, err) < 0) {
        store_drop_layer_record(s, l);
        return NULL;
    }
    if (layer_dirs_create(s, id, parent, err) < 0) {
        layer_abandon(s, l);
        return NULL;
    }
    return l;
}

/* layer_recreate: a damaged layer's files made again from nothing (the
 * record stays, flagged incomplete until it is filled). */
static struct layer *layer_recreate(lrun_store *s, struct layer *l, lrun_error **err)
{
    l->incomplete = true;
    if (store_save_layers(s, err) < 0 || layer_remove_files(s, l->id, err) < 0 ||
        layer_dirs_create(s, l->id, l->parent, err) < 0)
        return NULL;
    return l;
}

/* layer_delete: flag, save, remove files, drop the record, save — the same
 * order as c/storage, so an interrupted delete is finished next time. */
static int layer_delete(lrun_store *s, struct layer *l, lrun_error **err)
{
    store_spare(s, "overlay/", l->id, "/diff");
    l->incomplete = true;
    if (store_save_layers(s, err) < 0)
        return -1;
    if (layer_remove_files(s, l->id, err) < 0)
        return -1;
    store_drop_layer_record(s, l);
    return store_save_layers(s, err);
}

/* --- safe extraction into diff/ ---
 *
 * Every entry is created relative to a directory fd reached by walking the
 * entry's parent one component at a time with O_NOFOLLOW from diff/, so no
 * entry can land outside diff/: absolute names and ".." are refused, and a
 * parent (or hard link source) that is a symlink is refused rather than
 * followed (CVE-2018-15664-style escapes, tar "symlink then file" tricks). */

struct dir_times {
    char *path;
    struct timespec times[2];
};

struct extractor {
    int root_fd;            /* diff/ */
    const char *layer_id;   /* for messages */
    char *cached_parent;    /* the last parent walked, and its O_PATH fd */
    int cached_fd;
    struct dir_times *dirs; /* directory times, set once all entries exist */
    size_t n_dirs;
    struct id_set *uids, *gids;
    uint64_t crc;           /* crc64 of the entry's content (for tar-split) */
    bool data_read;         /* the entry's content was read */
};

static void extractor_forget_cache(struct extractor *x)
{
    if (x->cached_fd >= 0)
        close(x->cached_fd);
    x->cached_fd = -1;
    free(x->cached_parent);
    x->cached_parent = NULL;
}

/* entry_path_clean: the entry's name relative to diff/ ("" for the root),
 * or NULL with *why set when it would leave diff/. */
static char *entry_path_clean(const char *name, const char **why)
{
    if (!name || !*name) {
        *why = "empty name";
        return NULL;
    }
    if (name[0] == '/') {
        *why = "absolute path";
        return NULL;
    }
    struct buf out = {0};
    buf_adds(&out, "");
    const char *p = name;
    while (*p) {
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            buf_free(&out);
            *why = "path contains \"..\"";
            return NULL;
        }
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (out.len)
                buf_add(&out, "/", 1);
            buf_add(&out, p, n);
        }
        p = *end ? end + 1 : end;
    }
    return buf_steal(&out);
}

static void split_parent(char *path, const char **parent, const char **base)
{
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = '\0';
        *parent = path;
        *base = slash + 1;
    } else {
        *parent = "";
        *base = path;
    }
}

/* extractor_open_dir: an O_PATH fd of diff/<path>, walked without
 * following symlinks; missing directories are created (0755) when create. */
static int extractor_open_dir(struct extractor *x, const char *path, bool create, lrun_error **err)
{
    if (x->cached_parent && strcmp(x->cached_parent, path) == 0)
        return fcntl(x->cached_fd, F_DUPFD_CLOEXEC, 3);
    int fd = fcntl(x->root_fd, F_DUPFD_CLOEXEC, 3);
    autofree char *copy = xstrdup(path);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST) {
                fail_errno(err, "create directory %s", c);
                close(fd);
                return -1;
            }
            next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            struct stat st;
            if ((errno == ENOTDIR || errno == ELOOP) && fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                fail(err, "path crosses a symlink at \"%s\"", c);
            else
                fail_errno(err, "open directory \"%s\"", c);
            close(fd);
            return -1;
        }
        close(fd);
        fd = next;
    }
    if (fd < 0)
        return fail_errno(err, "open directory");
    extractor_forget_cache(x);
    x->cached_parent = xstrdup(path);
    x->cached_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    return fd;
}

/* entry_make_room: remove what is at parent/base unless both it and the new
 * entry are directories (then the directory is kept and updated). */
static int entry_make_room(struct extractor *x, int parent_fd, const char *base, bool new_is_dir, lrun_error **err)
{
    struct stat st;
    if (fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : fail_errno(err, "stat");
    if (S_ISDIR(st.st_mode)) {
        if (new_is_dir)
            return 0;
        extractor_forget_cache(x); /* the cached walk may run through it */
        return remove_tree_at(parent_fd, base, err);
    }
    if (unlinkat(parent_fd, base, 0) < 0)
        return fail_errno(err, "replace");
    return 0;
}

static bool xattr_is_overlay_private(const char *name)
{
    /* forged overlay xattrs in a layer could mark directories opaque or
     * redirect lookups: only lrun writes those */
    return has_prefix(name, "trusted.overlay.") || has_prefix(name, "user.overlay.");
}

static int entry_set_xattrs(struct archive_entry *e, int fd, lrun_error **err)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (xattr_is_overlay_private(name))
            continue;
        if (fsetxattr(fd, name, value, size, 0) < 0 && errno != EOPNOTSUPP)
            return fail_errno(err, "set xattr %s", name);
    }
    return 0;
}

static void entry_times(struct archive_entry *e, struct timespec times[2])
{
    times[1].tv_sec = archive_entry_mtime(e);
    times[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
        times[0].tv_sec = archive_entry_atime(e);
        times[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
        times[0] = times[1];
    }
}

/* entry_set_owner_mode: owner first, then mode (chown clears set-id bits). */
static int entry_set_owner_mode(struct extractor *x, struct archive_entry *e, int fd, lrun_error **err)
{
    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    id_set_add(x->uids, uid);
    id_set_add(x->gids, gid);
    if (fchown(fd, uid, gid) < 0)
        return fail_errno(err, "chown");
    if (fchmod(fd, archive_entry_mode(e) & 07777) < 0)
        return fail_errno(err, "chmod");
    return entry_set_xattrs(e, fd, err);
}

static int extract_regular(struct extractor *x, struct archive *a, struct archive_entry *e, int parent_fd,
                           const char *base, lrun_error **err)
{
    autoclose int fd = openat(parent_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_errno(err, "create");
    const void *block;
    size_t size;
    la_int64_t offset, pos = 0;
    int r;
    while ((r = archive_read_data_block(a, &block, &size, &offset)) == ARCHIVE_OK) {
        if (offset != pos && lseek(fd, offset, SEEK_SET) < 0) /* sparse file hole */
            return fail_errno(err, "seek");
        if (write_all(fd, block, size) < 0)
            return fail_errno(err, "write");
        x->crc = crc64_update(x->crc, block, size);
        pos = offset + (la_int64_t)size;
    }
    if (r != ARCHIVE_EOF)
        return fail(err, "read: %s", archive_error_string(a));
    x->data_read = true;
    if (pos < archive_entry_size(e) && ftruncate(fd, archive_entry_size(e)) < 0)
        return fail_errno(err, "truncate");
    if (entry_set_owner_mode(x, e, fd, err) < 0)
        return -1;
    struct timespec times[2];
    entry_times(e, times);
    if (futimens(fd, times) < 0)
        return fail_errno(err, "set times");
    return 0;
}

static int extract_directory(struct extractor *x, struct archive_entry *e, int parent_fd, const char *base,
                             const char *path, lrun_error **err)
{
    if (*base && mkdirat(parent_fd, base, 0700) < 0 && errno != EEXIST)
        return fail_errno(err, "mkdir");
    autoclose int fd = *base ? openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                             : fcntl(x->root_fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return fail_errno(err, "open directory");
    if (entry_set_owner_mode(x, e, fd, err) < 0)
        return -1;
    x->dirs = xrealloc(x->dirs, (x->n_dirs + 1) * sizeof *x->dirs);
    x->dirs[x->n_dirs].path = xstrdup(path);
    entry_times(e, x->dirs[x->n_dirs].times);
    x->n_dirs++;
    return 0;
}

/* extract_special: symlinks, device nodes and fifos, by name (no fd can be
 * opened on them without following or using them). */
static int extract_special(struct extractor *x, struct archive_entry *e, int parent_fd, const char *base,
                           lrun_error **err)
{
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (symlinkat(target ? target : "", parent_fd, base) < 0)
            return fail_errno(err, "symlink");
    } else {
        dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
        if (mknodat(parent_fd, base, kind | 0600, dev) < 0)
            return fail_errno(err, "mknod");
    }
    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    id_set_add(x->uids, uid);
    id_set_add(x->gids, gid);
    if (fchownat(parent_fd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(err, "chown");
    if (type != AE_IFLNK && fchmodat(parent_fd, base, archive_entry_mode(e) & 07777, 0) < 0)
        return fail_errno(err, "chmod");
    struct timespec times[2];
    entry_times(e, times);
    if (utimensat(parent_fd, base, times, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(err, "set times");
    return 0;
}

static int extract_hardlink(struct extractor *x, struct archive_entry *e, int parent_fd, const char *base,
                            lrun_error **err)
{
    const char *why = NULL;
    autofree char *target = entry_path_clean(archive_entry_hardlink(e), &why);
    if (!target)
        return fail(err, "hard link target \"%s\": %s", archive_entry_hardlink(e), why);
    const char *target_parent, *target_base;
    split_parent(target, &target_parent, &target_base);
    if (!*target_base)
        return fail(err, "hard link to the layer root");
    autoclose int target_fd = extractor_open_dir(x, target_parent, false, err);
    if (target_fd < 0)
        return error_prefix(err, "hard link target \"%s\"", archive_entry_hardlink(e));
    if (linkat(target_fd, target_base, parent_fd, base, 0) < 0)
        return fail_errno(err, "hard link to \"%s\"", archive_entry_hardlink(e));
    return 0;
}

/* extract_whiteout: .wh.<name> becomes a 0/0 character device at <name>;
 * .wh..wh..opq marks the directory opaque (the overlay driver's format). */
static int extract_whiteout(struct extractor *x, struct archive_entry *e, int parent_fd, const char *base,
                            lrun_error **err)
{
    const char *name = base + 4;
    if (strcmp(base, ".wh..wh..opq") == 0) {
        autoclose int fd = openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return fail_errno(err, "mark directory opaque");
        return 0;
    }
    if (has_prefix(base, ".wh..wh.")) /* AUFS metadata (.wh..wh.plnk etc.): not content */
        return 0;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return fail(err, "invalid whiteout name");
    if (entry_make_room(x, parent_fd, name, false, err) < 0)
        return -1;
    if (mknodat(parent_fd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
        return fail_errno(err, "create whiteout");
    if (fchownat(parent_fd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(err, "chown whiteout");
    return 0;
}

static int extract_entry(struct extractor *x, struct archive *a, struct archive_entry *e, lrun_error **err)
{
    const char *why = NULL;
    autofree char *path = entry_path_clean(archive_entry_pathname(e), &why);
    if (!path)
        return fail(err, "\"%s\": %s", archive_entry_pathname(e) ? archive_entry_pathname(e) : "", why);
    if (!*path) { /* "./": the layer root itself */
        if (archive_entry_filetype(e) != AE_IFDIR)
            return fail(err, "the layer root is not a directory");
        return extract_directory(x, e, x->root_fd, "", "", err);
    }
    autofree char *split = xstrdup(path);
    const char *parent, *base;
    split_parent(split, &parent, &base);
    autoclose int parent_fd = extractor_open_dir(x, parent, true, err);
    if (parent_fd < 0)
        return error_prefix(err, "\"%s\"", path);
    int r;
    if (has_prefix(base, ".wh.")) {
        r = extract_whiteout(x, e, parent_fd, base, err);
    } else {
        bool is_dir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
        if (entry_make_room(x, parent_fd, base, is_dir, err) < 0)
            return error_prefix(err, "\"%s\"", path);
        if (archive_entry_hardlink(e))
            r = extract_hardlink(x, e, parent_fd, base, err);
        else if (is_dir)
            r = extract_directory(x, e, parent_fd, base, path, err);
        else if (archive_entry_filetype(e) == AE_IFREG)
            r = extract_regular(x, a, e, parent_fd, base, err);
        else if (archive_entry_filetype(e) == AE_IFLNK || archive_entry_filetype(e) == AE_IFCHR ||
                 archive_entry_filetype(e) == AE_IFBLK || archive_entry_filetype(e) == AE_IFIFO)
            r = extract_special(x, e, parent_fd, base, err);
        else
            r = fail(err, "unsupported entry type 0%o", (unsigned)archive_entry_filetype(e));
    }
    return r < 0 ? error_prefix(err, "\"%s\"", path) : 0;
}

/* extractor_finish: directory times last, since creating entries inside a
 * directory changes its mtime. */
static int extractor_finish(struct extractor *x, lrun_error **err)
{
    for (size_t i = x->n_dirs; i-- > 0;) {
        autofree char *path = xstrdup(x->dirs[i].path);
        const char *parent, *base;
        if (!*path) {
            if (futimens(x->root_fd, x->dirs[i].times) < 0)
                return fail_errno(err, "set times of the layer root");
            continue;
        }
        split_parent(path, &parent, &base);
        autoclose int fd = extractor_open_dir(x, parent, false, err);
        if (fd < 0)
            return -1;
        if (utimensat(fd, base, x->dirs[i].times, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
            return fail_errno(err, "set times of %s", x->dirs[i].path);
    }
    return 0;
}

static void extractor_release(struct extractor *x)
{
    extractor_forget_cache(x);
    for (size_t i = 0; i < x->n_dirs; i++)
        free(x->dirs[i].path);
    free(x->dirs);
    x->dirs = NULL;
    x->n_dirs = 0;
}

/* --- tar-split: the tar's own bytes, minus file contents ---
 *
 * containers/storage keeps overlay-layers/<id>.tar-split.gz so a layer's
 * original tar can be rebuilt byte for byte from diff/ (for save and push:
 * the DiffID stays the same).  The format is tar-split's JSON lines:
 *   {"type":2,"payload":"<base64 raw bytes>","position":N}   headers, padding
 *   {"type":1,"name":"<path>","size":N,"payload":"<base64 crc64>","position":N}
 * Everything between file contents is recorded as segments; file contents
 * are skipped as they stream by, so memory stays at the read-ahead. */

struct tar_split {
    gzFile gz;
    struct buf pending;         /* stream bytes [keep_from, stream_pos) */
    int64_t keep_from, stream_pos;
    int64_t position;           /* entry counter */
    bool broken;                /* a format lrun does not record (sparse files) */
};

/* tar_split_feed: bytes handed to the tar reader, at stream offset pos. */
static void tar_split_feed(struct tar_split *ts, const char *data, size_t n)
{
    int64_t start = ts->stream_pos, end = start + (int64_t)n;
    ts->stream_pos = end;
    if (!ts->gz || end <= ts->keep_from)
        return;
    int64_t from = start > ts->keep_from ? start : ts->keep_from;
    buf_add(&ts->pending, data + (from - start), (size_t)(end - from));
}

static void tar_split_entry(struct tar_split *ts, int type, const char *name, int64_t size, const void *payload,
                            size_t payload_len)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    jw_key_int(g, "type", type);
    if (name)
        jw_key_str(g, "name", name);
    if (size > 0)
        jw_key_int(g, "size", size);
    jw_key(g, "payload");
    if (payload) {
        autofree char *b64 = base64_encode(payload, payload_len);
        jw_str(g, b64);
    } else {
        yajl_gen_null(g);
    }
    jw_key_int(g, "position", ts->position++);
    yajl_gen_map_close(g);
    const unsigned char *text;
    size_t len;
    yajl_gen_get_buf(g, &text, &len);
    if (gzwrite(ts->gz, text, (unsigned)len) != (int)len || gzwrite(ts->gz, "\n", 1) != 1)
        ts->broken = true;
}

/* tar_split_segment: record the bytes up to offset upto; the next
 * next_skip bytes (a file's content) are not kept. */
static void tar_split_segment(struct tar_split *ts, int64_t upto, int64_t next_skip)
{
    if (!ts->gz)
        return;
    size_t n = (size_t)(upto - ts->keep_from);
    if (upto < ts->keep_from || n > ts->pending.len) {
        ts->broken = true;
        return;
    }
    if (n > 0)
        tar_split_entry(ts, 2, NULL, 0, ts->pending.data, n);
    int64_t keep = upto + next_skip;
    size_t drop = (size_t)(keep - ts->keep_from) < ts->pending.len ? (size_t)(keep - ts->keep_from) : ts->pending.len;
    memmove(ts->pending.data, ts->pending.data + drop, ts->pending.len - drop);
    ts->pending.len -= drop;
    ts->keep_from = keep;
}

static void tar_split_file(struct tar_split *ts, const char *name, int64_t size, uint64_t crc)
{
    if (!ts->gz)
        return;
    unsigned char sum[8];
    for (int i = 0; i < 8; i++) /* Go's hash.Sum: big-endian */
        sum[i] = (unsigned char)(crc >> (56 - 8 * i));
    tar_split_entry(ts, 1, name, size, size > 0 ? sum : NULL, 8);
}

/* tar_split_open / tar_split_close: <id>.tar-split.gz, written under a
 * temporary name and renamed when complete (or removed). */
static void tar_split_open(lrun_store *s, const char *layer_id, struct tar_split *ts)
{
    *ts = (struct tar_split){0};
    autofree char *tmp = xasprintf(".tmp-%s.tar-split.gz", layer_id);
    int fd = openat(s->layers_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && !(ts->gz = gzdopen(fd, "wb1")))
        close(fd);
}

static void tar_split_close(lrun_store *s, const char *layer_id, struct tar_split *ts, bool keep)
{
    autofree char *tmp = xasprintf(".tmp-%s.tar-split.gz", layer_id);
    autofree char *name = xasprintf("%s.tar-split.gz", layer_id);
    if (ts->gz && gzclose(ts->gz) != Z_OK)
        ts->broken = true;
    if (keep && ts->gz && !ts->broken)
        renameat(s->layers_fd, tmp, s->layers_fd, name);
    else
        unlinkat(s->layers_fd, tmp, 0);
    ts->gz = NULL;
    buf_free(&ts->pending);
}

/* --- streaming a layer blob: digest, decompress, digest, extract ---
 *
 * blob bytes ─▶ sha256 (compressed digest) ─▶ libarchive "raw" reader with
 * the gzip/zstd/xz filters ─▶ sha256 + count (DiffID, diff-size) ─▶
 * libarchive tar reader ─▶ extract_entry.  Nothing is staged on disk. */

struct byte_source {
    /* read up to n bytes; 0 at the end; -1 with *error set */
    ssize_t (*read)(void *ctx, void *buf, size_t n, const char **error);
    void *ctx;
};

static ssize_t fd_source_read(void *ctx, void *buf, size_t n, const char **error)
{
    ssize_t r;
    do
        r = read(*(int *)ctx, buf, n);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        *error = strerror(errno);
    return r;
}

struct memory_source {
    const char *data;
    size_t len, pos;
};

static ssize_t memory_source_read(void *ctx, void *buf, size_t n, const char **error)
{
    (void)error;
    struct memory_source *m = ctx;
    size_t left = m->len - m->pos;
    if (n > left)
        n = left;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static ssize_t archive_member_read(void *ctx, void *buf, size_t n, const char **error)
{
    struct archive *outer = ctx;
    la_ssize_t r = archive_read_data(outer, buf, n);
    if (r < 0)
        *error = archive_error_string(outer);
    return r;
}

#define STREAM_BUFFER (256 * 1024)

struct layer_stream {
    struct byte_source *source;
    struct tar_split *split;
    SHA256_CTX blob_sha, diff_sha;
    int64_t blob_size, diff_size;
    struct archive *decompressor;
    char *blob_buf, *diff_buf;
    const char *source_error; /* why the source failed: the decompressor's own
                                 message would hide it ("truncated input") */
};

static la_ssize_t layer_stream_read_blob(struct archive *a, void *ctx, const void **out)
{
    struct layer_stream *ls = ctx;
    const char *error = "read error";
    ssize_t n = ls->source->read(ls->source->ctx, ls->blob_buf, STREAM_BUFFER, &error);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", error);
        ls->source_error = error;
        return -1;
    }
    SHA256_Update(&ls->blob_sha, ls->blob_buf, (size_t)n);
    ls->blob_size += n;
    *out = ls->blob_buf;
    return n;
}

static la_ssize_t layer_stream_read_tar(struct archive *a, void *ctx, const void **out)
{
    struct layer_stream *ls = ctx;
    la_ssize_t n = archive_read_data(ls->decompressor, ls->diff_buf, STREAM_BUFFER);
    if (n < 0 && ls->source_error) {
        archive_set_error(a, EIO, "%s", ls->source_error);
        return -1;
    }
    if (n < 0) {
        archive_set_error(a, EIO, "decompress: %s", archive_error_string(ls->decompressor));
        return -1;
    }
    SHA256_Update(&ls->diff_sha, ls->diff_buf, (size_t)n);
    ls->diff_size += n;
    tar_split_feed(ls->split, ls->diff_buf, (size_t)n);
    *out = ls->diff_buf;
    return n;
}

static void archive_entry_free_pointer(struct archive_entry **e)
{
    if (*e)
        archive_entry_free(*e);
    *e = NULL;
}

static void archive_free_pointer(struct archive **a)
{
    if (*a)
        archive_read_free(*a);
    *a = NULL;
}
#define autoarchive cleanup(archive_free_pointer)

/* What applying a blob produced. */
struct layer_digests {
    digest_hex blob, diff;
    int64_t blob_size, diff_size;
    int compression;
};

static int compression_of_filter(int code)
{
    switch (code) {
    case ARCHIVE_FILTER_GZIP: return COMPRESSION_GZIP;
    case ARCHIVE_FILTER_ZSTD: return COMPRESSION_ZSTD;
    case ARCHIVE_FILTER_XZ: return COMPRESSION_XZ;
    case ARCHIVE_FILTER_BZIP2: return COMPRESSION_BZIP2;
    default: return COMPRESSION_NONE;
    }
}

/* layer_stream_drain: read what the tar reader left (the zero blocks at
 * the end, trailing bytes) so both digests cover every byte. */
static int layer_stream_drain(struct layer_stream *ls, lrun_error **err)
{
    la_ssize_t n;
    while ((n = archive_read_data(ls->decompressor, ls->diff_buf, STREAM_BUFFER)) > 0) {
        SHA256_Update(&ls->diff_sha, ls->diff_buf, (size_t)n);
        ls->diff_size += n;
        tar_split_feed(ls->split, ls->diff_buf, (size_t)n);
    }
    tar_split_segment(ls->split, ls->split->stream_pos, 0); /* the end blocks and any trailing bytes */
    if (n < 0)
        return fail(err, "decompress: %s", archive_error_string(ls->decompressor));
    const char *error = "read error";
    ssize_t r;
    while ((r = ls->source->read(ls->source->ctx, ls->blob_buf, STREAM_BUFFER, &error)) > 0) {
        SHA256_Update(&ls->blob_sha, ls->blob_buf, (size_t)r);
        ls->blob_size += r;
    }
    if (r < 0)
        return fail(err, "read: %s", error);
    return 0;
}

/* extract_with_split: one entry, with its tar-split records around it. */
static int extract_with_split(struct extractor *x, struct archive *tar, struct archive_entry *e, struct tar_split *ts,
                              lrun_error **err)
{
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (archive_entry_sparse_count(e) > 0)
        ts->broken = true; /* tar-split would need the logical content; rebuild from diff/ instead */
    tar_split_segment(ts, archive_filter_bytes(tar, 0), size);
    x->crc = 0;
    x->data_read = false;
    if (extract_entry(x, tar, e, err) < 0)
        return -1;
    if (size > 0 && !x->data_read) { /* content lrun did not write (whiteout markers) still counts */
        const void *block;
        size_t n;
        la_int64_t offset;
        while (archive_read_data_block(tar, &block, &n, &offset) == ARCHIVE_OK)
            x->crc = crc64_update(x->crc, block, n);
    }
    tar_split_file(ts, archive_entry_pathname(e), size, x->crc);
    return 0;
}

/* layer_extract_stream: apply one blob to diff_fd, filling *out. */
static int layer_extract_stream(struct byte_source *source, int diff_fd, const char *layer_id, struct id_set *uids,
                                struct id_set *gids, struct tar_split *split, struct layer_digests *out,
                                lrun_error **err)
{
    autofree char *blob_buf = xmalloc(STREAM_BUFFER);
    autofree char *diff_buf = xmalloc(STREAM_BUFFER);
    struct layer_stream ls = {.source = source, .split = split, .blob_buf = blob_buf, .diff_buf = diff_buf};
    SHA256_Init(&ls.blob_sha);
    SHA256_Init(&ls.diff_sha);
    autoarchive struct archive *dec = archive_read_new();
    autoarchive struct archive *tar = archive_read_new();
    if (!dec || !tar)
        die_oom();
    archive_read_support_filter_gzip(dec);
    archive_read_support_filter_zstd(dec);
    archive_read_support_filter_xz(dec);
    archive_read_support_format_raw(dec);
    ls.decompressor = dec;
    if (archive_read_open(dec, &ls, NULL, layer_stream_read_blob, NULL) != ARCHIVE_OK)
        return fail(err, "open layer: %s", archive_error_string(dec));
    struct archive_entry *raw_entry;
    int r = archive_read_next_header(dec, &raw_entry);
    if (r == ARCHIVE_EOF)
        return fail(err, "the layer blob is empty");
    if (r != ARCHIVE_OK)
        return fail(err, "open layer: %s", archive_error_string(dec));
    archive_read_support_format_tar(tar);
    if (archive_read_open(tar, &ls, NULL, layer_stream_read_tar, NULL) != ARCHIVE_OK)
        return fail(err, "read layer: %s", archive_error_string(tar));
    struct extractor x = {.root_fd = diff_fd, .layer_id = layer_id, .cached_fd = -1, .uids = uids, .gids = gids};
    struct archive_entry *e;
    int ret = 0;
    while ((r = archive_read_next_header(tar, &e)) != ARCHIVE_EOF) {
        if (r < ARCHIVE_WARN) {
            ret = fail(err, "read layer: %s", archive_error_string(tar));
            break;
        }
        if ((ret = extract_with_split(&x, tar, e, split, err)) < 0)
            break;
    }
    if (ret == 0)
        ret = extractor_finish(&x, err);
    extractor_release(&x);
    if (ret < 0 || layer_stream_drain(&ls, err) < 0)
        return -1;
    sha256_final_hex(&ls.blob_sha, out->blob);
    sha256_final_hex(&ls.diff_sha, out->diff);
    out->blob_size = ls.blob_size;
    out->diff_size = ls.diff_size;
    out->compression = compression_of_filter(archive_filter_code(dec, 0));
    return 0;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* layer_fill: extract a blob into a layer made by layer_add and check the
 * digests the image promised (either may be NULL). */
static int layer_fill(lrun_store *s, struct layer *l, struct byte_source *source, const char *want_diff,
                      const char *want_blob, lrun_error **err)
{
    autofree char *diff_path = xasprintf("%s/diff", l->id);
    autoclose int diff_fd = openat(s->overlay_fd, diff_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (diff_fd < 0)
        return fail_errno(err, "open %s", diff_path);
    struct layer_digests d;
    struct tar_split split;
    tar_split_open(s, l->id, &split);
    int r = layer_extract_stream(source, diff_fd, l->id, &l->uids, &l->gids, &split, &d, err);
    if (r == 0 && want_blob && strcmp(digest_hex_part(want_blob) ? digest_hex_part(want_blob) : "", d.blob) != 0)
        r = fail(err, "blob digest mismatch: expected %s, got sha256:%s", want_blob, d.blob);
    if (r == 0 && want_diff && strcmp(digest_hex_part(want_diff) ? digest_hex_part(want_diff) : "", d.diff) != 0)
        r = fail(err, "layer digest mismatch (diff_id): expected %s, got sha256:%s", want_diff, d.diff);
    tar_split_close(s, l->id, &split, r == 0);
    if (r < 0)
        return -1;
    qsort(l->uids.ids, l->uids.len, sizeof *l->uids.ids, compare_u32);
    qsort(l->gids.ids, l->gids.len, sizeof *l->gids.ids, compare_u32);
    free(l->compressed_digest);
    free(l->diff_digest);
    l->compressed_digest = xasprintf("sha256:%s", d.blob);
    l->compressed_size = d.blob_size;
    l->diff_digest = xasprintf("sha256:%s", d.diff);
    l->diff_size = d.diff_size;
    l->compression = d.compression;
    return 0;
}

/* --- rebuilding the original tar from tar-split and diff/ --- */

/* gz_read_line: one line of a gzip'd text file (no newline); false at the
 * end. */
static bool gz_read_line(gzFile gz, struct buf *line)
{
    line->len = 0;
    char chunk[8192];
    while (gzgets(gz, chunk, sizeof chunk)) {
        size_t n = strlen(chunk);
        bool end = n > 0 && chunk[n - 1] == '\n';
        buf_add(line, chunk, end ? n - 1 : n);
        if (end)
            return true;
    }
    return line->len > 0;
}

struct rebuild {
    int out_fd;
    SHA256_CTX sha;
    int64_t size;
};

static int rebuild_write(struct rebuild *r, const void *data, size_t n, lrun_error **err)
{
    if (write_all(r->out_fd, data, n) < 0)
        return fail_errno(err, "write");
    SHA256_Update(&r->sha, data, n);
    r->size += (int64_t)n;
    return 0;
}

/* rebuild_file: size bytes of diff/<name>, opened without following links. */
static int rebuild_file(struct rebuild *r, struct extractor *x, const char *name, int64_t size, lrun_error **err)
{
    const char *why;
    autofree char *path = entry_path_clean(name, &why);
    if (!path || !*path)
        return fail(err, "tar-split names \"%s\"", name);
    const char *parent, *base;
    split_parent(path, &parent, &base);
    autoclose int dir = extractor_open_dir(x, parent, false, err);
    if (dir < 0)
        return -1;
    autoclose int fd = openat(dir, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open %s", path);
    char buf[65536];
    while (size > 0) {
        ssize_t n = read(fd, buf, size < (int64_t)sizeof buf ? (size_t)size : sizeof buf);
        if (n <= 0)
            return fail(err, "%s is shorter than the layer recorded", path);
        if (rebuild_write(r, buf, (size_t)n, err) < 0)
            return -1;
        size -= n;
    }
    return 0;
}

/* layer_rebuild: the layer's original tar, byte for byte, when its
 * tar-split exists and diff/ still matches it (the result must hash to the
 * recorded DiffID); -1 otherwise. */
static int layer_rebuild(lrun_store *s, const struct layer *l, int fd, digest_hex digest, int64_t *size,
                         lrun_error **err)
{
    autofree char *split_name = xasprintf("%s.tar-split.gz", l->id);
    autofree char *diff_path = xasprintf("%s/diff", l->id);
    int split_fd = openat(s->layers_fd, split_name, O_RDONLY | O_CLOEXEC);
    if (split_fd < 0)
        return fail_errno(err, "open %s", split_name);
    gzFile gz = gzdopen(split_fd, "rb");
    if (!gz) {
        close(split_fd);
        return fail(err, "open %s", split_name);
    }
    struct extractor x = {.cached_fd = -1};
    x.root_fd = openat(s->overlay_fd, diff_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct rebuild r = {.out_fd = fd};
    SHA256_Init(&r.sha);
    autobuf struct buf line = {0};
    int ret = x.root_fd < 0 ? fail_errno(err, "open %s", diff_path) : 0;
    while (ret == 0 && gz_read_line(gz, &line)) {
        autojson yajl_val entry = json_parse(line.data, split_name, err);
        if (!entry) {
            ret = -1;
            break;
        }
        int64_t type = json_int(entry, "type", 0), entry_size = json_int(entry, "size", 0);
        if (type == 2) {
            autobuf struct buf raw = {0};
            const char *payload = json_string(entry, "payload");
            if (!payload || !base64_decode(payload, &raw))
                ret = fail(err, "%s: bad segment", split_name);
            else
                ret = rebuild_write(&r, raw.data, raw.len, err);
        } else if (type == 1 && entry_size > 0) {
            const char *name = json_string(entry, "name");
            ret = name ? rebuild_file(&r, &x, name, entry_size, err) : fail(err, "%s: unnamed file", split_name);
        }
    }
    gzclose(gz);
    extractor_release(&x);
    if (x.root_fd >= 0)
        close(x.root_fd);
    if (ret < 0)
        return -1;
    sha256_final_hex(&r.sha, digest);
    if (!l->diff_digest || strcmp(digest_hex_part(l->diff_digest) ? digest_hex_part(l->diff_digest) : "", digest))
        return fail(err, "the rebuilt tar is sha256:%s", digest);
    *size = r.size;
    return 0;
}

/* libarchive's pax writer calls this helper, which lives in the object
 * that also holds libarchive's table of every writer (7zip, xar, iso9660);
 * linking that table would pull libxml2, nettle and bzip2 into the static
 * binary.  Defining the helper here keeps the table out.  (An embedder
 * that links the whole of libarchive builds with -DLRUN_FULL_LIBARCHIVE.) */
#ifndef LRUN_FULL_LIBARCHIVE
#define EFTYPE_LRUN EINVAL /* libarchive's ARCHIVE_ERRNO_FILE_FORMAT is internal */
void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry, const char *format);
void __archive_write_entry_filetype_unsupported(struct archive *a, struct archive_entry *entry, const char *format)
{
    archive_set_error(a, EFTYPE_LRUN, "%s: %s format cannot archive file type 0%o",
                      archive_entry_pathname(entry), format, (unsigned)archive_entry_filetype(entry));
}
#endif

/* --- exporting a layer as a tar (save) ---
 *
 * The reverse of extraction: diff/ walked in name order, whiteout devices
 * become .wh.<name>, an opaque directory gets .wh..wh..opq, hard links are
 * kept, overlay's own xattrs are left out.  The tar is written through a
 * digest so the caller learns its DiffID. */

struct tar_export {
    struct archive *tar;
    SHA256_CTX sha;
    int64_t size;
    int fd;
    struct inode_set links; /* multiply linked inodes and their first path */
    char *const *skip_empty; /* paths left out when they are an empty file or directory */
};

static la_ssize_t tar_export_write(struct archive *a, void *ctx, const void *data, size_t n)
{
    struct tar_export *t = ctx;
    if (write_all(t->fd, data, n) < 0) {
        archive_set_error(a, errno, "write: %s", strerror(errno));
        return -1;
    }
    SHA256_Update(&t->sha, data, n);
    t->size += (int64_t)n;
    return (la_ssize_t)n;
}

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* dir_entries_sorted: the names in a directory, sorted (C locale). */
static char **dir_entries_sorted(int dirfd, lrun_error **err)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        fail_errno(err, "open directory");
        return NULL;
    }
    char **names = xcalloc(1, sizeof *names);
    struct dirent *de;
    while ((de = readdir(dir)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            strv_push(&names, xstrdup(de->d_name));
    closedir(dir);
    qsort(names, strv_len(names), sizeof *names, compare_strings);
    return names;
}

static void tar_entry_xattrs(struct archive_entry *e, int fd)
{
    char list[65536];
    ssize_t n = flistxattr(fd, list, sizeof list);
    for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
        const char *name = list + off;
        char value[65536];
        if (xattr_is_overlay_private(name))
            continue;
        ssize_t v = fgetxattr(fd, name, value, sizeof value);
        if (v >= 0)
            archive_entry_xattr_add_entry(e, name, value, (size_t)v);
    }
}

static int tar_export_header(struct tar_export *t, struct archive_entry *e, const char *path, lrun_error **err)
{
    if (archive_write_header(t->tar, e) < ARCHIVE_WARN)
        return fail(err, "write tar header for %s: %s", path, archive_error_string(t->tar));
    return 0;
}

/* tar_export_marker: an empty file entry (.wh.<name>, .wh..wh..opq). */
static int tar_export_marker(struct tar_export *t, const char *path, const struct stat *st, lrun_error **err)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_mtime(e, st->st_mtim.tv_sec, 0);
    int r = tar_export_header(t, e, path, err);
    archive_entry_free(e);
    return r;
}

static int tar_export_tree(struct tar_export *t, int dirfd, const char *prefix, lrun_error **err);

static int tar_export_file_data(struct tar_export *t, int fd, const char *path, lrun_error **err)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (archive_write_data(t->tar, buf, (size_t)n) < 0)
            return fail(err, "write %s: %s", path, archive_error_string(t->tar));
    return n < 0 ? fail_errno(err, "read %s", path) : 0;
}

/* The mount points a runtime makes in a container's layer (commit and
 * diff leave them out when empty, as buildah and podman do). */
static char *const runtime_mount_points[] = {"etc/hosts", "etc/hostname", "etc/resolv.conf", "dev", "proc", "sys",
                                             "run/.containerenv", NULL};

/* entry_is_empty: an empty file, or a directory with nothing in it. */
static bool entry_is_empty(int dirfd, const char *name, const struct stat *st)
{
    if (S_ISREG(st->st_mode))
        return st->st_size == 0;
    if (!S_ISDIR(st->st_mode))
        return false;
    autoclose int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    autostrv char **inside = fd >= 0 ? dir_entries_sorted(fd, NULL) : NULL;
    return inside && !inside[0];
}

/* tar_export_skipped: path is one to leave out, and empty. */
static bool tar_export_skipped(struct tar_export *t, int dirfd, const char *name, const char *path,
                               const struct stat *st)
{
    return strv_contains(t->skip_empty, path) && entry_is_empty(dirfd, name, st);
}

static int tar_export_entry(struct tar_export *t, int dirfd, const char *name, const char *path, lrun_error **err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(err, "stat %s", path);
    if (t->skip_empty && tar_export_skipped(t, dirfd, name, path, &st))
        return 0;
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) { /* a whiteout */
        autofree char *parent = xstrdup(path);
        char *slash = strrchr(parent, '/');
        autofree char *marker = slash ? (*slash = '\0', xasprintf("%s/.wh.%s", parent, name)) : xasprintf(".wh.%s", name);
        return tar_export_marker(t, marker, &st, err);
    }
    cleanup(archive_entry_free_pointer) struct archive_entry *e = archive_entry_new();
    archive_entry_copy_stat(e, &st);
    archive_entry_set_pathname(e, path);
    archive_entry_set_atime(e, 0, 0);
    archive_entry_unset_atime(e);
    archive_entry_unset_ctime(e);
    archive_entry_set_ino64(e, 0);
    archive_entry_set_dev(e, 0);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
        if (n < 0)
            return fail_errno(err, "readlink %s", path);
        target[n] = '\0';
        archive_entry_set_symlink(e, target);
        return tar_export_header(t, e, path, err);
    }
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
        const char *first = inode_set_add(&t->links, st.st_dev, st.st_ino, path);
        if (first) {
            archive_entry_set_size(e, 0);
            archive_entry_set_hardlink(e, first);
            return tar_export_header(t, e, path, err);
        }
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        autoclose int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return fail_errno(err, "open %s", path);
        tar_entry_xattrs(e, fd);
        if (S_ISDIR(st.st_mode)) {
            autofree char *dir_path = xasprintf("%s/", path);
            archive_entry_set_pathname(e, dir_path);
            archive_entry_set_size(e, 0);
            if (tar_export_header(t, e, path, err) < 0)
                return -1;
            char opaque[2];
            if (fgetxattr(fd, "trusted.overlay.opaque", opaque, sizeof opaque) == 1 && opaque[0] == 'y') {
                autofree char *marker = xasprintf("%s/.wh..wh..opq", path);
                if (tar_export_marker(t, marker, &st, err) < 0)
                    return -1;
            }
            return tar_export_tree(t, fd, path, err);
        }
        if (tar_export_header(t, e, path, err) < 0)
            return -1;
        return tar_export_file_data(t, fd, path, err);
    }
    return tar_export_header(t, e, path, err); /* devices, fifos */
}

static int tar_export_tree(struct tar_export *t, int dirfd, const char *prefix, lrun_error **err)
{
    autostrv char **names = dir_entries_sorted(dirfd, err);
    if (!names)
        return -1;
    for (size_t i = 0; names[i]; i++) {
        autofree char *path = *prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
        if (tar_export_entry(t, dirfd, names[i], path, err) < 0)
            return -1;
    }
    return 0;
}

/* dir_export: the tree under dir_fd (or, with name, that one entry of it
 * and what is below) as a tar to fd, in the layer format (whiteouts as .wh.
 * markers); its sha256 hex and size come back. */
static int dir_export_entry(int dir_fd, const char *name, char *const *skip_empty, int fd, digest_hex digest,
                            int64_t *size, lrun_error **err)
{
    struct tar_export t = {.fd = fd, .skip_empty = skip_empty};
    SHA256_Init(&t.sha);
    t.tar = archive_write_new();
    if (!t.tar)
        die_oom();
    archive_write_set_format_pax_restricted(t.tar);
    archive_write_set_bytes_in_last_block(t.tar, 1);
    int r = archive_write_open(t.tar, &t, NULL, tar_export_write, NULL) == ARCHIVE_OK
                ? (name ? tar_export_entry(&t, dir_fd, name, name, err) : tar_export_tree(&t, dir_fd, "", err))
                : fail(err, "start tar: %s", archive_error_string(t.tar));
    if (r == 0 && archive_write_close(t.tar) != ARCHIVE_OK)
        r = fail(err, "finish tar: %s", archive_error_string(t.tar));
    archive_write_free(t.tar);
    inode_set_free(&t.links);
    if (r < 0)
        return -1;
    sha256_final_hex(&t.sha, digest);
    *size = t.size;
    return 0;
}

static int dir_export(int dir_fd, int fd, digest_hex digest, int64_t *size, lrun_error **err)
{
    return dir_export_entry(dir_fd, NULL, NULL, fd, digest, size, err);
}

/* layer_export: write the layer's content as a tar to fd. */
static int layer_export(lrun_store *s, const struct layer *l, int fd, digest_hex digest, int64_t *size,
                        lrun_error **err)
{
    autofree char *diff_path = xasprintf("%s/diff", l->id);
    autoclose int diff_fd = openat(s->overlay_fd, diff_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (diff_fd < 0)
        return fail_errno(err, "open %s", diff_path);
    if (dir_export(diff_fd, fd, digest, size, err) < 0)
        return error_prefix(err, "export layer %.12s", l->id);
    return 0;
}

/* --- a layer as a blob: its tar in a temporary file, compressed or not --- */

struct blob_file {
    int fd;           /* a temporary file holding the blob, or -1 */
    digest_hex digest;
    int64_t size;
};

static void blob_file_close(struct blob_file *b)
{
    if (b->fd >= 0)
        close(b->fd);
    b->fd = -1;
}
#define autoblob cleanup(blob_file_close)

/* layer_tar_file: the layer's tar, rebuilt byte for byte from its tar-split
 * (so its digest is the recorded DiffID), or exported afresh when it has
 * none (then the digest differs: the caller sees it).  A layer whose files
 * no longer rebuild its DiffID is an error, as podman's "file integrity
 * checksum failed": writing it would make a different image. */
static int layer_tar_file(lrun_store *s, const struct layer *l, struct blob_file *out, lrun_error **err)
{
    out->fd = temp_file(err);
    if (out->fd < 0)
        return -1;
    lrun_error *rebuild_err = NULL;
    autofree char *split_name = xasprintf("%s.tar-split.gz", l->id);
    bool has_split = faccessat(s->layers_fd, split_name, F_OK, 0) == 0;
    if (layer_rebuild(s, l, out->fd, out->digest, &out->size, &rebuild_err) < 0) {
        if (has_split) {
            fail(err, "layer %.12s: file integrity checksum failed: its files in %s/overlay/%s/diff no longer make "
                 "%s (%s); remove the images that use it and load or pull them again",
                 l->id, s->root, l->id, l->diff_digest ? l->diff_digest : "its DiffID", rebuild_err->message);
            lrun_error_free(rebuild_err);
            return -1;
        }
        lrun_error_free(rebuild_err);
        if (ftruncate(out->fd, 0) < 0 || lseek(out->fd, 0, SEEK_SET) < 0)
            return fail_errno(err, "reset a temporary file");
        if (layer_export(s, l, out->fd, out->digest, &out->size, err) < 0)
            return -1;
    }
    return lseek(out->fd, 0, SEEK_SET) < 0 ? fail_errno(err, "seek") : 0;
}

static int compress_write(int fd, SHA256_CTX *sha, int64_t *size, const void *data, size_t n, lrun_error **err)
{
    if (write_all(fd, data, n) < 0)
        return fail_errno(err, "write the compressed blob");
    SHA256_Update(sha, data, n);
    *size += (int64_t)n;
    return 0;
}

/* gzip_stream: zlib's deflate with a gzip header (no name, no time), so
 * the same tar compresses to the same bytes every time (a registry then
 * recognises the blob it already has). */
static int gzip_stream(int in_fd, int out_fd, SHA256_CTX *sha, int64_t *size, lrun_error **err)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fail(err, "gzip: set up");
    enum { CHUNK = 65536 };
    autofree unsigned char *in = xmalloc(CHUNK), *out = xmalloc(CHUNK);
    int ret = 0, flush = Z_NO_FLUSH;
    while (ret == 0 && flush != Z_FINISH) {
        ssize_t n = read(in_fd, in, CHUNK);
        if (n < 0) {
            ret = fail_errno(err, "read");
            break;
        }
        flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
        z.next_in = in;
        z.avail_in = (uInt)n;
        do {
            z.next_out = out;
            z.avail_out = CHUNK;
            deflate(&z, flush);
            ret = compress_write(out_fd, sha, size, out, CHUNK - z.avail_out, err);
        } while (ret == 0 && z.avail_out == 0);
    }
    deflateEnd(&z);
    return ret;
}

static int zstd_stream(int in_fd, int out_fd, SHA256_CTX *sha, int64_t *size, lrun_error **err)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!z)
        die_oom();
    enum { CHUNK = 131072 };
    autofree unsigned char *in = xmalloc(CHUNK), *out = xmalloc(CHUNK);
    int ret = 0;
    for (bool last = false; ret == 0 && !last;) {
        ssize_t n = read(in_fd, in, CHUNK);
        if (n < 0) {
            ret = fail_errno(err, "read");
            break;
        }
        last = n == 0;
        ZSTD_inBuffer input = {in, (size_t)n, 0};
        for (bool done = false; ret == 0 && !done;) {
            ZSTD_outBuffer output = {out, CHUNK, 0};
            size_t left = ZSTD_compressStream2(z, &output, &input, last ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left))
                ret = fail(err, "zstd: %s", ZSTD_getErrorName(left));
            else
                ret = compress_write(out_fd, sha, size, out, output.pos, err);
            done = last ? left == 0 : input.pos == input.size;
        }
    }
    ZSTD_freeCCtx(z);
    return ret;
}

/* blob_compress: a tar (from its start) compressed as compression says
 * (gzip or zstd) into a new temporary file. */
static int blob_compress(const struct blob_file *tar, int compression, struct blob_file *out, lrun_error **err)
{
    out->fd = temp_file(err);
    if (out->fd < 0)
        return -1;
    SHA256_CTX sha;
    SHA256_Init(&sha);
    out->size = 0;
    if (lseek(tar->fd, 0, SEEK_SET) < 0)
        return fail_errno(err, "seek");
    int r = compression == COMPRESSION_ZSTD ? zstd_stream(tar->fd, out->fd, &sha, &out->size, err)
                                            : gzip_stream(tar->fd, out->fd, &sha, &out->size, err);
    if (r < 0)
        return -1;
    sha256_final_hex(&sha, out->digest);
    return lseek(out->fd, 0, SEEK_SET) < 0 ? fail_errno(err, "seek") : 0;
}

/* ========================================================================
 * NAMES: image references, normalized as docker and podman do
 *
 *   busybox            -> docker.io/library/busybox:latest
 *   user/app:v1        -> docker.io/user/app:v1
 *   host:5000/repo@sha256:... (a first component with '.' or ':', or
 *   "localhost", is a registry host)
 * ======================================================================== */

struct reference {
    char *domain; /* docker.io, localhost:5000, ... */
    char *path;   /* library/busybox */
    char *tag;    /* NULL when a digest is given */
    char *digest; /* sha256:... or NULL */
    bool domain_given;
};

static void reference_clear(struct reference *r)
{
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    *r = (struct reference){0};
}
#define autoreference cleanup(reference_clear)

/* The grammar of docker's distribution/reference, which podman and
 * c/storage apply to every name: a name that passes here never holds "..",
 * a control byte or a space, whatever an archive or a registry sent. */
#define REFERENCE_NAME_MAX 255

/* reference_domain_valid: host[:port], the host dot-separated components of
 * letters, digits and inner hyphens.  (No bracketed IPv6 address: the
 * grammar of podman 4's c/image has none, and its images table would fail
 * on the whole store.) */
static bool reference_domain_valid(const char *d)
{
    const char *p = d;
    for (;;) {
        if (!isalnum((unsigned char)*p))
            return false;
        while (isalnum((unsigned char)*p) || *p == '-')
            p++;
        if (p[-1] == '-')
            return false;
        if (*p != '.')
            break;
        p++;
    }
    if (*p == ':') {
        if (!isdigit((unsigned char)*++p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static bool reference_alnum(char c) { return islower((unsigned char)c) || isdigit((unsigned char)c); }

/* reference_path_valid: components of [a-z0-9]+ joined by one '.', one or
 * two '_' or any number of '-', separated by '/'. */
static bool reference_path_valid(const char *p)
{
    for (;;) {
        if (!reference_alnum(*p))
            return false;
        while (*p && *p != '/') {
            while (reference_alnum(*p))
                p++;
            if (!*p || *p == '/')
                break;
            if (*p == '.' || (*p == '_' && p[1] != '_'))
                p++;
            else if (*p == '_')
                p += 2;
            else if (*p == '-')
                while (*p == '-')
                    p++;
            else
                return false;
            if (!reference_alnum(*p))
                return false;
        }
        if (!*p)
            return true;
        p++; /* '/' */
    }
}

/* reference_tag_valid: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool reference_tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
        return false;
    for (; *t; t++)
        if (!(isalnum((unsigned char)*t) || *t == '_' || *t == '.' || *t == '-'))
            return false;
    return true;
}

static int reference_invalid(struct reference *r, const char *text, const char *why, lrun_error **err)
{
    reference_clear(r);
    autofree char *quoted = text_quote(text);
    return fail(err, "invalid reference %s: %s", quoted, why);
}

static int reference_parse(const char *text, struct reference *r, lrun_error **err)
{
    *r = (struct reference){0};
    autofree char *s = xstrdup(text);
    char *at = strchr(s, '@');
    if (at) {
        *at = '\0';
        if (!digest_hex_part(at + 1))
            return reference_invalid(r, text, "bad digest", err);
        r->digest = xstrdup(at + 1);
    }
    char *slash = strchr(s, '/');
    char *rest = s;
    /* as docker: the first component is a registry when it has a '.' or a
     * ':', is localhost, or has an upper-case letter */
    bool upper = false;
    for (char *c = s; slash && c < slash; c++)
        upper |= isupper((unsigned char)*c) != 0;
    if (slash && (memchr(s, '.', (size_t)(slash - s)) || memchr(s, ':', (size_t)(slash - s)) || upper ||
                  strncmp(s, "localhost/", 10) == 0)) {
        r->domain = xstrndup(s, (size_t)(slash - s));
        r->domain_given = true;
        rest = slash + 1;
        if (!reference_domain_valid(r->domain))
            return reference_invalid(r, text, "bad registry host", err);
    } else {
        r->domain = xstrdup("docker.io");
    }
    char *last_slash = strrchr(rest, '/');
    char *colon = strrchr(last_slash ? last_slash : rest, ':');
    if (colon) {
        *colon = '\0';
        if (!reference_tag_valid(colon + 1))
            return reference_invalid(r, text, "bad tag", err);
        r->tag = xstrdup(colon + 1);
    }
    if (strlen(s) > REFERENCE_NAME_MAX)
        return reference_invalid(r, text, "repository name must not be more than 255 characters", err);
    if (strcmp(r->domain, "docker.io") == 0 && !strchr(rest, '/'))
        r->path = xasprintf("library/%s", rest);
    else
        r->path = xstrdup(rest);
    if (!reference_path_valid(r->path))
        return reference_invalid(
            r, text, "repository names must be lowercase letters and digits joined by . _ __ - and /", err);
    if (!r->tag && !r->digest)
        r->tag = xstrdup("latest");
    return 0;
}

/* reference_string: the fully qualified name podman stores. */
static char *reference_string(const struct reference *r)
{
    if (r->digest)
        return xasprintf("%s/%s@%s", r->domain, r->path, r->digest);
    return xasprintf("%s/%s:%s", r->domain, r->path, r->tag);
}

/* name_normalize: text as a fully qualified name, or NULL with *err. */
static char *name_normalize(const char *text, lrun_error **err)
{
    autoreference struct reference r;
    if (reference_parse(text, &r, err) < 0)
        return NULL;
    return reference_string(&r);
}

/* name_normalize_local: a name for an image made here (import, commit,
 * build -t): without a registry it goes to localhost/, as podman does. */
static char *name_normalize_local(const char *text, lrun_error **err)
{
    autoreference struct reference r;
    if (reference_parse(text, &r, err) < 0)
        return NULL;
    if (r.domain_given)
        return reference_string(&r);
    autofree char *local = xasprintf("localhost/%s", text);
    return name_normalize(local, err);
}

/* name_split: "host/repo:tag" into repository and tag (or digest) for
 * tables; "<none>" for what is missing. */
static void name_split(const char *name, char **repository, char **tag)
{
    const char *at = strchr(name, '@');
    const char *last_slash = strrchr(name, '/');
    const char *colon = strrchr(last_slash ? last_slash : name, ':');
    if (at) {
        *repository = xstrndup(name, (size_t)(at - name));
        *tag = xstrdup("<none>");
    } else if (colon) {
        *repository = xstrndup(name, (size_t)(colon - name));
        *tag = xstrdup(colon + 1);
    } else {
        *repository = xstrdup(name);
        *tag = xstrdup("<none>");
    }
}

/* ========================================================================
 * IMAGES: image records, lookup, settings, load, import, save, tag, remove
 * ======================================================================== */

#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MEDIA_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

/* descriptor_write: {mediaType, digest, size} as OCI orders it, or
 * {mediaType, size, digest} as docker's schema 2 does. */
static void descriptor_write(yajl_gen g, const char *media_type, const char *digest, int64_t size, bool oci)
{
    yajl_gen_map_open(g);
    jw_key_str(g, "mediaType", media_type);
    if (oci)
        jw_key_str(g, "digest", digest);
    jw_key_int(g, "size", size);
    if (!oci)
        jw_key_str(g, "digest", digest);
    yajl_gen_map_close(g);
}

/* manifest_make: an OCI image manifest, or docker's schema 2 one, for a
 * config and the layer descriptors (descriptor_write's). */
static char *manifest_make(bool oci, const char *config_digest, int64_t config_size, yajl_val layers, size_t *len)
{
    autogen yajl_gen m = json_writer(false);
    yajl_gen_map_open(m);
    jw_key_int(m, "schemaVersion", 2);
    jw_key_str(m, "mediaType", oci ? MEDIA_OCI_MANIFEST : MEDIA_DOCKER_MANIFEST);
    jw_key(m, "config");
    descriptor_write(m, oci ? MEDIA_OCI_CONFIG : MEDIA_DOCKER_CONFIG, config_digest, config_size, oci);
    jw_key(m, "layers");
    jw_value(m, layers);
    yajl_gen_map_close(m);
    return json_writer_text(m, len);
}


/* image_lookup_as: by full ID, ID prefix, fully qualified name, or short
 * name ("servidorweb:v1" finds localhost:5000/servidorweb:v1), as podman's
 * local lookup does; *matched_name is the stored name that matched (NULL
 * when the text was an ID). */
static struct image *image_lookup_as(lrun_store *s, const char *text, const char **matched_name, lrun_error **err)
{
    if (matched_name)
        *matched_name = NULL; /* by ID: no name */
    const char *hex = has_prefix(text, "sha256:") ? text + 7 : text;
    size_t hex_len = strlen(hex);
    if (hex_len >= 3 && hex_len <= 64 && strspn(hex, "0123456789abcdef") == hex_len) {
        struct image *found = NULL;
        size_t matches = 0;
        for (size_t i = 0; i < s->n_images; i++)
            if (strncmp(s->images[i]->id, hex, hex_len) == 0)
                found = s->images[i], matches++;
        if (matches == 1)
            return found;
        if (matches > 1 && hex_len < 64) {
            fail(err, "%s: image ID prefix is ambiguous", text);
            return NULL;
        }
    }
    autoreference struct reference r;
    lrun_error *parse_err = NULL;
    if (reference_parse(text, &r, &parse_err) == 0) {
        autofree char *full = reference_string(&r);
        for (size_t i = 0; i < s->n_images; i++)
            for (size_t j = 0; s->images[i]->names && s->images[i]->names[j]; j++)
                if (strcmp(s->images[i]->names[j], full) == 0) {
                    if (matched_name)
                        *matched_name = s->images[i]->names[j];
                    return s->images[i];
                }
        if (!r.domain_given) {
            /* short name: the text as given must be the tail of a stored
             * name after a '/' ("servidorweb:v1", "library/busybox") */
            autofree char *tail = strchr(text, ':') || r.digest ? xasprintf("/%s", text)
                                                                : xasprintf("/%s:%s", text, r.tag);
            for (size_t i = 0; i < s->n_images; i++)
                for (size_t j = 0; s->images[i]->names && s->images[i]->names[j]; j++)
                    if (has_suffix(s->images[i]->names[j], tail)) {
                        if (matched_name)
                            *matched_name = s->images[i]->names[j];
                        return s->images[i];
                    }
        }
    }
    lrun_error_free(parse_err);
    fail_code(err, 1, "%s: image not known", text);
    return NULL;
}

static struct image *image_lookup(lrun_store *s, const char *text, lrun_error **err)
{
    return image_lookup_as(s, text, NULL, err);
}

int lrun_image_resolve(lrun_store *s, const char *image, char **id, lrun_error **err)
{
    struct image *img = image_lookup(s, image, err);
    if (!img)
        return -1;
    *id = xstrdup(img->id);
    return 0;
}

static int64_t image_size(lrun_store *s, const struct image *img)
{
    int64_t size = 0;
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, img->layer, &chain);
    for (size_t i = 0; i < n; i++)
        if (chain[i]->diff_size > 0)
            size += chain[i]->diff_size;
    for (size_t i = 0; i < img->n_big_data; i++)
        size += img->big_data[i].size;
    return size;
}

static size_t image_containers(lrun_store *s, const struct image *img)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_containers; i++)
        if (s->containers[i]->image && strcmp(s->containers[i]->image, img->id) == 0)
            n++;
    return n;
}

/* --- big data: files under overlay-images/<id>/ --- */

/* big_data_file_name: c/storage's makeBigDataBaseName — a key of only
 * [a-z0-9.] is used as is, any other is "=" + base64(key). */
static char *big_data_file_name(const char *key)
{
    if (strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789.") == strlen(key))
        return xstrdup(key);
    autofree char *encoded = base64_encode(key, strlen(key));
    return xasprintf("=%s", encoded);
}

static int image_big_data_write(lrun_store *s, struct image *img, const char *key, const char *data, size_t len,
                                lrun_error **err)
{
    autoclose int dirfd = open_dir_at(s->images_fd, img->id, 0700, err);
    if (dirfd < 0)
        return -1;
    autofree char *file = big_data_file_name(key);
    if (write_file_atomic(dirfd, file, data, len, 0600, err) < 0)
        return -1;
    digest_hex hex;
    sha256_hex(data, len, hex);
    struct big_data *bd = NULL;
    for (size_t i = 0; i < img->n_big_data && !bd; i++)
        if (strcmp(img->big_data[i].name, key) == 0)
            bd = &img->big_data[i];
    if (!bd) {
        img->big_data = xrealloc(img->big_data, (img->n_big_data + 1) * sizeof *img->big_data);
        bd = &img->big_data[img->n_big_data++];
        bd->name = xstrdup(key);
        bd->digest = NULL;
    }
    bd->size = (int64_t)len;
    free(bd->digest);
    bd->digest = xasprintf("sha256:%s", hex);
    return 0;
}

/* image_big_data_read: the content stored under key, or -1. */
static int image_big_data_read(lrun_store *s, const struct image *img, const char *key, struct buf *out,
                               lrun_error **err)
{
    autofree char *file = big_data_file_name(key);
    autofree char *path = xasprintf("%s/%s", img->id, file);
    return read_file_at(s->images_fd, path, out, err);
}

/* image_config: the parsed image config (big data "sha256:<id>"). */
static yajl_val image_config(lrun_store *s, const struct image *img, lrun_error **err)
{
    autofree char *key = xasprintf("sha256:%s", img->id);
    autobuf struct buf text = {0};
    if (image_big_data_read(s, img, key, &text, err) < 0)
        return NULL;
    return json_parse(text.data, "image config", err);
}

/* strv_prepend: put s (taken over) first in *v. */
static void strv_prepend(char ***v, char *s)
{
    size_t n = strv_len(*v);
    *v = xrealloc(*v, (n + 2) * sizeof **v);
    memmove(*v + 1, *v, (n + 1) * sizeof **v);
    (*v)[0] = s;
}

/* image_take_name: a name belongs to one image: take it from any other.
 * A load puts the name first, a tag last (what podman's store does). */
static void image_take_name(lrun_store *s, struct image *img, const char *name, bool first)
{
    for (size_t i = 0; i < s->n_images; i++)
        if (s->images[i] != img)
            strv_remove(s->images[i]->names, name);
    if (first) {
        strv_remove(img->names, name);
        strv_prepend(&img->names, xstrdup(name));
    } else if (!strv_contains(img->names, name)) {
        strv_push(&img->names, xstrdup(name));
    }
    strv_remove(img->names_history, name); /* names-history is newest first */
    strv_prepend(&img->names_history, xstrdup(name));
}

/* --- image settings: the config's "config" member, and the Dockerfile
 * instructions that change it (import -c, commit -c, build) --- */

struct image_settings {
    char *user, *workdir, *stop_signal;
    char **env, **cmd, **entrypoint, **shell;
    char **ports, **volumes, **labels, **onbuild; /* labels as KEY=VALUE */
    yajl_val rest; /* the member as read (borrowed): what lrun does not change stays */
};

static void image_settings_release(struct image_settings *c)
{
    free(c->user);
    free(c->workdir);
    free(c->stop_signal);
    char **lists[] = {c->env, c->cmd, c->entrypoint, c->shell, c->ports, c->volumes, c->labels, c->onbuild};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        lrun_strv_free(lists[i]);
    *c = (struct image_settings){0};
}
#define autosettings cleanup(image_settings_release)

static char *json_string_dup(yajl_val obj, const char *key)
{
    const char *v = json_string(obj, key);
    return v && *v ? xstrdup(v) : NULL;
}

/* json_keys: an object's keys (ExposedPorts, Volumes), or its members as
 * KEY=VALUE when with_values (Labels). */
static char **json_keys(yajl_val obj, bool with_values)
{
    char **out = xcalloc(1, sizeof *out);
    for (size_t i = 0; YAJL_IS_OBJECT(obj) && i < obj->u.object.len; i++) {
        yajl_val v = obj->u.object.values[i];
        strv_push(&out, with_values ? xasprintf("%s=%s", obj->u.object.keys[i], YAJL_IS_STRING(v) ? v->u.string : "")
                                    : xstrdup(obj->u.object.keys[i]));
    }
    return out;
}

/* image_settings_read: the settings of a parsed image config (which must
 * outlive c). */
static void image_settings_read(yajl_val config, struct image_settings *c)
{
    yajl_val cfg = json_get(config, "config");
    *c = (struct image_settings){.rest = cfg};
    c->user = json_string_dup(cfg, "User");
    c->workdir = json_string_dup(cfg, "WorkingDir");
    c->stop_signal = json_string_dup(cfg, "StopSignal");
    c->env = json_strv(json_get(cfg, "Env"));
    c->cmd = YAJL_IS_ARRAY(json_get(cfg, "Cmd")) ? json_strv(json_get(cfg, "Cmd")) : NULL;
    c->entrypoint = YAJL_IS_ARRAY(json_get(cfg, "Entrypoint")) ? json_strv(json_get(cfg, "Entrypoint")) : NULL;
    c->shell = YAJL_IS_ARRAY(json_get(cfg, "Shell")) ? json_strv(json_get(cfg, "Shell")) : NULL;
    c->onbuild = json_strv(json_get(cfg, "OnBuild"));
    c->ports = json_keys(json_get(cfg, "ExposedPorts"), false);
    c->volumes = json_keys(json_get(cfg, "Volumes"), false);
    c->labels = json_keys(json_get(cfg, "Labels"), true);
}

/* jw_key_set: a list as a JSON object with keys sorted (as Go marshals a
 * map): {"80/tcp":{}} or, with values, {"KEY":"VALUE"}. */
static void jw_key_set(yajl_gen g, const char *key, char *const *items, bool with_values)
{
    if (strv_len(items) == 0)
        return;
    autostrv char **sorted = strv_copy(items);
    qsort(sorted, strv_len(sorted), sizeof *sorted, compare_strings);
    jw_key(g, key);
    yajl_gen_map_open(g);
    for (size_t i = 0; sorted[i]; i++) {
        char *eq = with_values ? strchr(sorted[i], '=') : NULL;
        if (eq)
            *eq = '\0';
        jw_key(g, sorted[i]);
        if (with_values) {
            jw_str(g, eq ? eq + 1 : "");
        } else {
            yajl_gen_map_open(g);
            yajl_gen_map_close(g);
        }
    }
    yajl_gen_map_close(g);
}

/* image_settings_write: the "config" member, in the OCI spec's order,
 * empty fields left out, unknown ones kept after. */
static void image_settings_write(yajl_gen g, const struct image_settings *c)
{
    static const char *const known[] = {"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
                                        "Labels", "StopSignal", "OnBuild", "Shell", NULL};
    yajl_gen_map_open(g);
    jw_key_str_opt(g, "User", c->user);
    jw_key_set(g, "ExposedPorts", c->ports, false);
    jw_key_strv_opt(g, "Env", c->env);
    if (c->entrypoint)
        jw_key_strv(g, "Entrypoint", c->entrypoint);
    if (c->cmd)
        jw_key_strv(g, "Cmd", c->cmd);
    jw_key_set(g, "Volumes", c->volumes, false);
    jw_key_str_opt(g, "WorkingDir", c->workdir);
    jw_key_set(g, "Labels", c->labels, true);
    jw_key_str_opt(g, "StopSignal", c->stop_signal);
    jw_key_strv_opt(g, "OnBuild", c->onbuild);
    if (c->shell)
        jw_key_strv(g, "Shell", c->shell);
    jw_unknown_members(g, c->rest, known);
    yajl_gen_map_close(g);
}

/* dockerfile_variable: the value of $NAME / ${NAME} / ${NAME:-word} /
 * ${NAME:+word} at p (just after the '$'); *p moves past it. */
static void dockerfile_variable(const char **p, char *const *vars, struct buf *out)
{
    const char *s = *p;
    bool braced = *s == '{';
    if (braced)
        s++;
    size_t n = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_')
        n++;
    if (n == 0 && !braced) { /* a lone '$' */
        buf_add(out, "$", 1);
        return;
    }
    autofree char *name = xstrndup(s, n);
    const char *value = env_get(vars, name);
    s += n;
    if (braced && (has_prefix(s, ":-") || has_prefix(s, ":+"))) {
        bool default_form = s[1] == '-';
        const char *end = strchr(s, '}');
        autofree char *word = xstrndup(s + 2, end ? (size_t)(end - s - 2) : strlen(s + 2));
        value = default_form ? (value && *value ? value : word) : (value && *value ? word : "");
        buf_adds(out, value);
        *p = end ? end + 1 : s + strlen(s);
        return;
    }
    if (braced && *s == '}')
        s++;
    buf_adds(out, value ? value : "");
    *p = s;
}

/* dockerfile_words: a Dockerfile argument as its words: whitespace
 * separates (unless whole, which keeps one word), quotes group and go,
 * a backslash escapes; with vars, $VAR and ${VAR} expand (not inside
 * single quotes). */
static char **dockerfile_words(const char *text, char *const *vars, bool whole)
{
    char **words = xcalloc(1, sizeof *words);
    const char *p = text;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        struct buf w = {0};
        buf_adds(&w, "");
        char quote = 0;
        while (*p && (quote || whole || !isspace((unsigned char)*p))) {
            if (quote != '\'' && *p == '\\' && p[1] && (!quote || strchr("\"\\$", p[1]))) {
                buf_add(&w, p + 1, 1);
                p += 2;
            } else if (!quote && (*p == '"' || *p == '\'')) {
                quote = *p++;
            } else if (quote && *p == quote) {
                quote = 0;
                p++;
            } else if (vars && quote != '\'' && *p == '$') {
                p++;
                dockerfile_variable(&p, vars, &w);
            } else {
                buf_add(&w, p++, 1);
            }
        }
        if (whole)
            while (w.len && isspace((unsigned char)w.data[w.len - 1]))
                w.data[--w.len] = '\0';
        strv_push(&words, buf_steal(&w));
    }
    return words;
}

/* dockerfile_word: the whole argument as one word (WORKDIR, USER). */
static char *dockerfile_word(const char *text, char *const *vars)
{
    autostrv char **words = dockerfile_words(text, vars, true);
    return xstrdup(words[0] ? words[0] : "");
}

/* dockerfile_exec_form: ["a", "b"] as a list, or NULL when text is not a
 * JSON array of strings (then it is the shell form). */
static char **dockerfile_exec_form(const char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    if (*text != '[')
        return NULL;
    autojson yajl_val v = yajl_tree_parse(text, NULL, 0);
    if (!YAJL_IS_ARRAY(v))
        return NULL;
    for (size_t i = 0; i < v->u.array.len; i++)
        if (!YAJL_IS_STRING(v->u.array.values[i]))
            return NULL;
    return json_strv(v);
}

/* dockerfile_command: CMD, ENTRYPOINT and RUN's argument as argv: the
 * exec form as written, the shell form through the shell (/bin/sh -c). */
static char **dockerfile_command(const char *text, char *const *shell)
{
    char **argv = dockerfile_exec_form(text);
    if (argv)
        return argv;
    argv = shell ? strv_copy(shell) : NULL;
    if (!argv) {
        strv_push(&argv, xstrdup("/bin/sh"));
        strv_push(&argv, xstrdup("-c"));
    }
    autofree char *trimmed = xstrdup(text + strspn(text, " \t"));
    for (size_t n = strlen(trimmed); n && isspace((unsigned char)trimmed[n - 1]);)
        trimmed[--n] = '\0';
    strv_push(&argv, steal_pointer(&trimmed));
    return argv;
}

/* dockerfile_pairs: ENV's and LABEL's KEY=VALUE words (or the old
 * "KEY VALUE" form) as KEY=VALUE strings. */
static int dockerfile_pairs(const char *keyword, const char *text, char *const *vars, char ***pairs, lrun_error **err)
{
    autostrv char **words = dockerfile_words(text, vars, false);
    *pairs = xcalloc(1, sizeof **pairs);
    if (!words[0])
        return fail(err, "%s requires at least one argument", keyword);
    if (!strchr(words[0], '=')) { /* KEY VALUE: the rest of the line is the value */
        const char *rest = text + strspn(text, " \t");
        rest += strcspn(rest, " \t");
        autofree char *value = dockerfile_word(rest, vars);
        strv_push(pairs, xasprintf("%s=%s", words[0], value));
        return 0;
    }
    for (size_t i = 0; words[i]; i++) {
        if (!strchr(words[i], '=') || words[i][0] == '=')
            return fail(err, "%s: \"%s\" is not of the form KEY=VALUE", keyword, words[i]);
        strv_push(pairs, xstrdup(words[i]));
    }
    return 0;
}

static void strv_put_unique(char ***v, const char *s)
{
    if (!strv_contains(*v, s))
        strv_push(v, xstrdup(s));
}

/* path_clean: an absolute path with "." and ".." resolved lexically. */
static char *path_clean(const char *path)
{
    autostrv char **parts = xcalloc(1, sizeof *parts);
    autofree char *copy = xstrdup(path);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            size_t n = strv_len(parts);
            if (n)
                free(parts[n - 1]), parts[n - 1] = NULL;
            continue;
        }
        strv_push(&parts, xstrdup(c));
    }
    autofree char *joined = strv_join(parts, "/");
    return xasprintf("/%s", joined);
}

/* image_settings_apply: one instruction that changes the config; vars
 * (build's ARG and ENV values) expand $VAR where Dockerfiles do. */
static int image_settings_apply(struct image_settings *c, const char *keyword, const char *args, char *const *vars,
                                lrun_error **err)
{
    if (strcasecmp(keyword, "ENV") == 0 || strcasecmp(keyword, "LABEL") == 0) {
        bool env = strcasecmp(keyword, "ENV") == 0;
        autostrv char **pairs = NULL;
        if (dockerfile_pairs(env ? "ENV" : "LABEL", args, vars, &pairs, err) < 0)
            return -1;
        for (size_t i = 0; pairs[i]; i++)
            env_set(env ? &c->env : &c->labels, pairs[i]);
    } else if (strcasecmp(keyword, "CMD") == 0 || strcasecmp(keyword, "ENTRYPOINT") == 0) {
        char ***target = strcasecmp(keyword, "CMD") == 0 ? &c->cmd : &c->entrypoint;
        lrun_strv_free(*target);
        *target = dockerfile_command(args, c->shell);
    } else if (strcasecmp(keyword, "EXPOSE") == 0) {
        autostrv char **ports = dockerfile_words(args, vars, false);
        for (size_t i = 0; ports[i]; i++) {
            autofree char *port = strchr(ports[i], '/') ? xstrdup(ports[i]) : xasprintf("%s/tcp", ports[i]);
            const char *proto = strchr(port, '/') + 1;
            if (strspn(port, "0123456789-") != (size_t)(proto - 1 - port) || port[0] == '/' ||
                (strcasecmp(proto, "tcp") && strcasecmp(proto, "udp") && strcasecmp(proto, "sctp")))
                return fail(err, "invalid containerPort: %s", ports[i]);
            strv_put_unique(&c->ports, port);
        }
    } else if (strcasecmp(keyword, "VOLUME") == 0) {
        autostrv char **list = dockerfile_exec_form(args);
        if (!list)
            list = dockerfile_words(args, vars, false);
        if (!list[0])
            return fail(err, "VOLUME specified can not be an empty string");
        for (size_t i = 0; list[i]; i++)
            strv_put_unique(&c->volumes, list[i]);
    } else if (strcasecmp(keyword, "WORKDIR") == 0) {
        autofree char *dir = dockerfile_word(args, vars);
        autofree char *joined = dir[0] == '/' ? xstrdup(dir) : xasprintf("%s/%s", c->workdir ? c->workdir : "", dir);
        free(c->workdir);
        c->workdir = path_clean(joined);
    } else if (strcasecmp(keyword, "USER") == 0 || strcasecmp(keyword, "STOPSIGNAL") == 0) {
        char **target = strcasecmp(keyword, "USER") == 0 ? &c->user : &c->stop_signal;
        free(*target);
        *target = dockerfile_word(args, vars);
    } else if (strcasecmp(keyword, "ONBUILD") == 0) {
        strv_push(&c->onbuild, xstrdup(args + strspn(args, " \t")));
    } else if (strcasecmp(keyword, "SHELL") == 0) {
        char **shell = dockerfile_exec_form(args);
        if (!shell || !shell[0]) {
            lrun_strv_free(shell);
            return fail(err, "SHELL requires the arguments to be in JSON form");
        }
        lrun_strv_free(c->shell);
        c->shell = shell;
    } else {
        return fail(err, "invalid instruction %s", keyword);
    }
    return 0;
}

/* image_settings_change: a --change (-c) of import and commit: "CMD
 * [...]", "ENV A=b", ... (or KEYWORD=VALUE). */
static int image_settings_change(struct image_settings *c, const char *change, lrun_error **err)
{
    size_t n = strcspn(change, " \t");
    if (!change[n])
        n = strcspn(change, "=");
    if (!change[n] || n == 0)
        return fail(err, "invalid change \"%s\" - must be formatted as KEY VALUE", change);
    autofree char *keyword = xstrndup(change, n);
    static const char *const allowed[] = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL",
                                          "USER", "VOLUME", "WORKDIR", NULL};
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++)
        ok = strcasecmp(allowed[i], keyword) == 0;
    if (!ok)
        return fail(err, "invalid change \"%s\" - invalid instruction %s", change, keyword);
    if (image_settings_apply(c, keyword, change + n + 1, NULL, err) < 0)
        return error_prefix(err, "invalid change \"%s\"", change);
    return 0;
}

/* --- load sources: a directory, or a tar (plain or compressed) ---
 *
 * A tar is read once up front keeping its small members (manifests,
 * configs, indexes, small layers) in memory; big layer members are then
 * streamed in a second pass, in whatever order the archive has them. */

#define SMALL_MEMBER (1024 * 1024)
#define JSON_MEMBER_MAX (64 * 1024 * 1024)

struct member {
    char *name;
    struct buf data;
    bool held; /* data is in memory */
};

struct load_source {
    const char *path;
    bool is_dir;
    int dir_fd; /* is_dir: the layout, every name resolved inside it */
    bool unrecognized; /* not a tar: no format lrun loads */
    struct member *members;
    size_t n_members;
};

static void load_source_release(struct load_source *src)
{
    if (src->is_dir && src->dir_fd >= 0)
        close(src->dir_fd);
    src->dir_fd = -1;
    for (size_t i = 0; i < src->n_members; i++) {
        free(src->members[i].name);
        buf_free(&src->members[i].data);
    }
    free(src->members);
    src->members = NULL;
    src->n_members = 0;
}

static const char *member_name_clean(const char *name)
{
    while (has_prefix(name, "./"))
        name += 2;
    return name;
}

static struct archive *outer_archive_open(const char *path, lrun_error **err)
{
    struct archive *a = archive_read_new();
    if (!a)
        die_oom();
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    if (archive_read_open_filename(a, path, 128 * 1024) != ARCHIVE_OK) {
        fail(err, "open %s: %s", path, archive_error_string(a));
        archive_read_free(a);
        return NULL;
    }
    return a;
}

static int load_source_open(const char *path, struct load_source *src, lrun_error **err)
{
    struct stat st;
    *src = (struct load_source){.path = path};
    if (stat(path, &st) < 0)
        return fail_errno(err, "%s", path);
    if (S_ISDIR(st.st_mode)) {
        src->is_dir = true;
        src->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return src->dir_fd < 0 ? fail_errno(err, "%s", path) : 0;
    }
    autoarchive struct archive *a = outer_archive_open(path, err);
    if (!a) {
        src->unrecognized = true;
        return -1;
    }
    struct archive_entry *e;
    int r;
    bool any = false;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        any = true;
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *name = member_name_clean(archive_entry_pathname(e));
        int64_t size = archive_entry_size(e);
        src->members = xrealloc(src->members, (src->n_members + 1) * sizeof *src->members);
        struct member *m = &src->members[src->n_members++];
        *m = (struct member){.name = xstrdup(name)};
        if (size <= SMALL_MEMBER || (has_suffix(name, ".json") && size <= JSON_MEMBER_MAX)) {
            buf_reserve(&m->data, (size_t)size);
            for (;;) {
                la_ssize_t n = archive_read_data(a, m->data.data + m->data.len, m->data.cap - m->data.len - 1);
                if (n < 0)
                    return fail(err, "read %s in %s: %s", name, path, archive_error_string(a));
                if (n == 0)
                    break;
                m->data.len += (size_t)n;
                buf_reserve(&m->data, 4096);
            }
            m->data.data[m->data.len] = '\0';
            m->held = true;
        }
    }
    if (r != ARCHIVE_EOF && !any) { /* not even one entry: not a tar at all */
        src->unrecognized = true;
        return fail(err, "%s", archive_error_string(a));
    }
    if (r != ARCHIVE_EOF)
        return fail(err, "read %s: %s", path, archive_error_string(a));
    return 0;
}

static struct member *load_source_member(struct load_source *src, const char *name)
{
    name = member_name_clean(name);
    for (size_t i = 0; i < src->n_members; i++)
        if (strcmp(src->members[i].name, name) == 0)
            return &src->members[i];
    return NULL;
}

/* load_source_path_ok: member names come from the image's own JSON: keep
 * them inside the directory being loaded. */
static bool load_source_path_ok(const char *name)
{
    const char *why;
    autofree char *clean = entry_path_clean(name, &why);
    return clean && *clean;
}

static bool load_source_exists(struct load_source *src, const char *name)
{
    if (!load_source_path_ok(name))
        return false;
    if (!src->is_dir)
        return load_source_member(src, name) != NULL;
    autoclose int fd = openat2_in_root(src->dir_fd, name, O_PATH);
    return fd >= 0;
}

/* load_source_open_file: a regular file of a layout directory, resolved
 * inside it: a symlink to /etc/shadow is the layout's own etc/shadow, and a
 * FIFO or device is refused before a read could block or leak. */
static int load_source_open_file(struct load_source *src, const char *name, lrun_error **err)
{
    int fd = openat2_in_root(src->dir_fd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        return fail_errno(err, "open %s in %s", name, src->path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, "open %s in %s: not a regular file", name, src->path);
    }
    return fd;
}

/* load_source_read: a metadata file of the source, NUL-terminated. */
static int load_source_read(struct load_source *src, const char *name, struct buf *out, lrun_error **err)
{
    if (!load_source_path_ok(name))
        return fail(err, "invalid file name \"%s\" in the image", name);
    if (src->is_dir) {
        autoclose int fd = load_source_open_file(src, name, err);
        return fd < 0 ? -1 : read_all_fd(fd, name, out, err);
    }
    struct member *m = load_source_member(src, name);
    if (!m)
        return fail(err, "%s: no file \"%s\" in the archive", src->path, name);
    if (!m->held)
        return fail(err, "%s: \"%s\" is too large for image metadata", src->path, name);
    buf_add(out, m->data.data, m->data.len);
    return 0;
}

/* --- load: what the source holds --- */

struct blob_ref {
    char *member;  /* the blob's file in the source */
    char *diff_id; /* sha256:... from the config's rootfs.diff_ids */
    char *digest;  /* the blob's digest from an OCI manifest, or NULL */
    int64_t size;  /* the blob's size from an OCI manifest, or -1 */
};

struct image_plan {
    char **names;
    struct buf config;
    digest_hex config_id;
    struct buf manifest; /* OCI: the manifest as stored; docker: made later */
    struct buf index;    /* pull: the manifest list the image was chosen from */
    struct blob_ref *layers;
    size_t n_layers;
    char **layer_ids; /* computed chain IDs, base first */
};

static void image_plan_release(struct image_plan *p)
{
    lrun_strv_free(p->names);
    buf_free(&p->config);
    buf_free(&p->manifest);
    buf_free(&p->index);
    for (size_t i = 0; i < p->n_layers; i++) {
        free(p->layers[i].member);
        free(p->layers[i].diff_id);
        free(p->layers[i].digest);
    }
    free(p->layers);
    lrun_strv_free(p->layer_ids);
    *p = (struct image_plan){0};
}

/* image_plan_finish: check the config against the layer list and compute
 * the layer IDs as containers/image does: the first layer's ID is its
 * DiffID, each later one sha256(parentID + "+" + diffID-hex). */
static int image_plan_finish(struct image_plan *p, lrun_error **err)
{
    sha256_hex(p->config.data, p->config.len, p->config_id);
    autojson yajl_val config = json_parse(p->config.data, "image config", err);
    if (!config)
        return -1;
    yajl_val diff_ids = json_get(json_get(config, "rootfs"), "diff_ids");
    if (!YAJL_IS_ARRAY(diff_ids))
        return fail(err, "image config %.12s: no rootfs.diff_ids", p->config_id);
    if (json_array_len(diff_ids) != p->n_layers)
        return fail(err, "image config %.12s: %zu diff_ids for %zu layers", p->config_id, json_array_len(diff_ids),
                    p->n_layers);
    if (p->n_layers == 0)
        return fail(err, "image %.12s has no layers", p->config_id);
    p->layer_ids = xcalloc(p->n_layers + 1, sizeof *p->layer_ids);
    for (size_t i = 0; i < p->n_layers; i++) {
        yajl_val v = json_array_at(diff_ids, i);
        const char *hex = YAJL_IS_STRING(v) ? digest_hex_part(YAJL_GET_STRING(v)) : NULL;
        if (!hex)
            return fail(err, "image config %.12s: invalid diff_id", p->config_id);
        p->layers[i].diff_id = xasprintf("sha256:%s", hex);
        if (i == 0) {
            p->layer_ids[i] = xstrdup(hex);
        } else {
            autofree char *chain = xasprintf("%s+%s", p->layer_ids[i - 1], hex);
            p->layer_ids[i] = xmalloc(65);
            sha256_hex(chain, strlen(chain), p->layer_ids[i]);
        }
    }
    return 0;
}

/* image_plan_add_name: a docker-archive RepoTag as docker normalizes it;
 * an OCI name without a registry goes to localhost/, as podman does.  A
 * name that is not a reference fails the load (as c/image's "Invalid
 * tag"): it could hold "../", a newline or a terminal escape. */
static int image_plan_add_name(struct image_plan *p, const char *text, bool oci, lrun_error **err)
{
    autofree char *local = oci && !strchr(text, '/') ? xasprintf("localhost/%s", text) : NULL;
    autofree char *full = name_normalize(local ? local : text, err);
    if (!full)
        return -1;
    if (!strv_contains(p->names, full))
        strv_push(&p->names, steal_pointer(&full));
    return 0;
}

/* docker-archive: manifest.json lists [{Config, RepoTags, Layers}]. */
static int plans_from_docker_archive(struct load_source *src, struct image_plan **plans, size_t *n,
                                     lrun_error **err)
{
    autobuf struct buf text = {0};
    if (load_source_read(src, "manifest.json", &text, err) < 0)
        return -1;
    autojson yajl_val manifest = json_parse(text.data, "manifest.json", err);
    if (!manifest)
        return -1;
    if (!YAJL_IS_ARRAY(manifest) || json_array_len(manifest) == 0)
        return fail(err, "manifest.json: expected a non-empty array");
    *plans = xcalloc(json_array_len(manifest), sizeof **plans);
    for (size_t i = 0; i < json_array_len(manifest); i++) {
        yajl_val entry = json_array_at(manifest, i);
        struct image_plan *p = &(*plans)[(*n)++];
        const char *config = json_string(entry, "Config");
        yajl_val layers = json_get(entry, "Layers");
        if (!config || !YAJL_IS_ARRAY(layers))
            return fail(err, "manifest.json: entry %zu lacks Config or Layers", i);
        if (load_source_read(src, config, &p->config, err) < 0)
            return -1;
        p->n_layers = json_array_len(layers);
        p->layers = xcalloc(p->n_layers + 1, sizeof *p->layers);
        for (size_t j = 0; j < p->n_layers; j++) {
            yajl_val l = json_array_at(layers, j);
            if (!YAJL_IS_STRING(l) || !load_source_exists(src, YAJL_GET_STRING(l)))
                return fail(err, "manifest.json: layer %zu of entry %zu is missing", j, i);
            p->layers[j].member = xstrdup(member_name_clean(YAJL_GET_STRING(l)));
            p->layers[j].size = -1;
        }
        yajl_val tags = json_get(entry, "RepoTags");
        for (size_t j = 0; j < json_array_len(tags); j++)
            if (!YAJL_IS_STRING(json_array_at(tags, j)) ||
                image_plan_add_name(p, YAJL_GET_STRING(json_array_at(tags, j)), false, err) < 0)
                return error_prefix(err, "manifest.json entry %zu: RepoTags", i);
        if (image_plan_finish(p, err) < 0)
            return error_prefix(err, "manifest.json entry %zu", i);
    }
    return 0;
}

/* oci_blob_read: a blob of an OCI layout, checked against its descriptor. */
static int oci_blob_read(struct load_source *src, yajl_val descriptor, struct buf *out, lrun_error **err)
{
    const char *digest = json_string(descriptor, "digest");
    const char *hex = digest_hex_part(digest);
    if (!hex)
        return fail(err, "unsupported or invalid digest \"%s\"", digest ? digest : "");
    autofree char *member = xasprintf("blobs/sha256/%s", hex);
    if (load_source_read(src, member, out, err) < 0)
        return -1;
    digest_hex got;
    sha256_hex(out->data, out->len, got);
    if (strcmp(got, hex) != 0)
        return fail(err, "blob %s: digest mismatch (content is sha256:%s)", digest, got);
    int64_t size = json_int(descriptor, "size", -1);
    if (size >= 0 && (size_t)size != out->len)
        return fail(err, "blob %s: size %zu, descriptor says %" PRId64, digest, out->len, size);
    return 0;
}

static const char *host_architecture(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__i386__)
    return "386";
#elif defined(__riscv)
    return "riscv64";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__powerpc64__)
    return "ppc64le";
#else
    return "unknown";
#endif
}

static bool media_type_is_index(const char *t)
{
    return t && (strcmp(t, "application/vnd.oci.image.index.v1+json") == 0 ||
                 strcmp(t, "application/vnd.docker.distribution.manifest.list.v2+json") == 0);
}

/* oci_pick_manifest: the descriptor of an index for this machine. */
static yajl_val oci_pick_manifest(yajl_val index)
{
    yajl_val manifests = json_get(index, "manifests");
    yajl_val fallback = NULL;
    for (size_t i = 0; i < json_array_len(manifests); i++) {
        yajl_val d = json_array_at(manifests, i);
        yajl_val platform = json_get(d, "platform");
        if (!platform)
            fallback = fallback ? fallback : d;
        const char *os = json_string(platform, "os"), *arch = json_string(platform, "architecture");
        if (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, host_architecture()) == 0)
            return d;
    }
    return fallback;
}

static int plan_from_oci_descriptor(struct load_source *src, yajl_val descriptor, struct image_plan *p, int depth,
                                    lrun_error **err)
{
    autobuf struct buf text = {0};
    if (depth > 4)
        return fail(err, "image index nested too deeply");
    if (oci_blob_read(src, descriptor, &text, err) < 0)
        return -1;
    autojson yajl_val doc = json_parse(text.data, "manifest", err);
    if (!doc)
        return -1;
    const char *media_type = json_string(descriptor, "mediaType");
    if (!media_type)
        media_type = json_string(doc, "mediaType");
    if (media_type_is_index(media_type) || (!json_get(doc, "config") && json_get(doc, "manifests"))) {
        yajl_val pick = oci_pick_manifest(doc);
        if (!pick)
            return fail(err, "no image for linux/%s in the index", host_architecture());
        return plan_from_oci_descriptor(src, pick, p, depth + 1, err);
    }
    yajl_val config = json_get(doc, "config"), layers = json_get(doc, "layers");
    if (!config || !YAJL_IS_ARRAY(layers))
        return fail(err, "manifest %s: no config or layers", json_string(descriptor, "digest"));
    if (oci_blob_read(src, config, &p->config, err) < 0)
        return error_prefix(err, "image config");
    buf_add(&p->manifest, text.data, text.len);
    p->n_layers = json_array_len(layers);
    p->layers = xcalloc(p->n_layers + 1, sizeof *p->layers);
    for (size_t i = 0; i < p->n_layers; i++) {
        yajl_val l = json_array_at(layers, i);
        const char *hex = digest_hex_part(json_string(l, "digest"));
        if (!hex)
            return fail(err, "manifest: layer %zu has no valid sha256 digest", i);
        p->layers[i].member = xasprintf("blobs/sha256/%s", hex);
        p->layers[i].digest = xasprintf("sha256:%s", hex);
        p->layers[i].size = json_int(l, "size", -1);
        if (!load_source_exists(src, p->layers[i].member))
            return fail(err, "layer blob sha256:%s is missing from the layout", hex);
    }
    return image_plan_finish(p, err);
}

/* fallback_repo: an OCI ref.name that is only a tag names the image after
 * the layout's file name, in localhost/. */
static char *layout_repo_name(const char *path)
{
    autofree char *copy = xstrdup(path);
    while (strlen(copy) > 1 && has_suffix(copy, "/"))
        copy[strlen(copy) - 1] = '\0';
    const char *base = strrchr(copy, '/') ? strrchr(copy, '/') + 1 : copy;
    autofree char *name = xstrdup(base);
    char *dot = strchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return reference_path_valid(name) ? steal_pointer(&name) : xstrdup("image");
}

static int plans_from_oci_layout(struct load_source *src, struct image_plan **plans, size_t *n, lrun_error **err)
{
    autobuf struct buf text = {0};
    if (load_source_read(src, "index.json", &text, err) < 0)
        return -1;
    autojson yajl_val index = json_parse(text.data, "index.json", err);
    if (!index)
        return -1;
    yajl_val manifests = json_get(index, "manifests");
    if (json_array_len(manifests) == 0)
        return fail(err, "index.json lists no images");
    autofree char *repo = layout_repo_name(src->path);
    *plans = xcalloc(json_array_len(manifests), sizeof **plans);
    for (size_t i = 0; i < json_array_len(manifests); i++) {
        yajl_val d = json_array_at(manifests, i);
        struct image_plan *p = &(*plans)[(*n)++];
        if (plan_from_oci_descriptor(src, d, p, 0, err) < 0)
            return error_prefix(err, "index.json entry %zu", i);
        /* as podman: a layout directory is named after the directory, an
         * oci-archive after its ref.name annotation */
        const char *ref = json_string(json_get(d, "annotations"), "org.opencontainers.image.ref.name");
        lrun_error *ignored = NULL; /* a directory's own name that is no reference: no name */
        if (src->is_dir && image_plan_add_name(p, repo, true, &ignored) < 0)
            lrun_error_free(ignored);
        else if (!src->is_dir && ref && image_plan_add_name(p, ref, true, err) < 0)
            return error_prefix(err, "index.json entry %zu: org.opencontainers.image.ref.name", i);
    }
    return 0;
}

/* --- load: into the store --- */

struct layer_job {
    struct blob_ref *blob;
    struct layer *layer; /* made by layer_add */
    bool done;
};

struct load_run {
    lrun_store *store;
    struct load_source src;
    struct image_plan *plans;
    size_t n_plans;
    struct layer_job *jobs;
    size_t n_jobs;
    lrun_progress_fn progress;
    void *userdata;
};

PRINTF(2, 3) static void load_progress(struct load_run *run, const char *fmt, ...)
{
    if (!run->progress)
        return;
    va_list ap;
    char *line;
    va_start(ap, fmt);
    if (vasprintf(&line, fmt, ap) < 0)
        die_oom();
    va_end(ap);
    run->progress(run->userdata, line);
    free(line);
}

static const char *blob_short(const struct blob_ref *b)
{
    const char *hex = digest_hex_part(b->digest ? b->digest : b->diff_id);
    return hex ? hex : "";
}

static int load_job_fill(struct load_run *run, struct layer_job *job, struct byte_source *source, lrun_error **err)
{
    if (layer_fill(run->store, job->layer, source, job->blob->diff_id, job->blob->digest, err) < 0)
        return error_prefix(err, "layer %.12s (%s)", blob_short(job->blob), job->blob->member);
    if (job->blob->size >= 0 && job->blob->size != job->layer->compressed_size)
        return fail(err, "layer %.12s: size %" PRId64 ", the manifest says %" PRId64, blob_short(job->blob),
                    job->layer->compressed_size, job->blob->size);
    job->done = true;
    load_progress(run, "Copying blob %.12s done", blob_short(job->blob));
    return 0;
}

/* load_fill_layers: stream every job's blob from the source: files of a
 * directory directly, held tar members from memory, the others in passes
 * over the tar in its own order. */
static int load_fill_layers(struct load_run *run, lrun_error **err)
{
    struct load_source *src = &run->src;
    for (size_t i = 0; i < run->n_jobs; i++) {
        struct layer_job *job = &run->jobs[i];
        if (src->is_dir) {
            autoclose int fd = load_source_open_file(src, job->blob->member, err);
            if (fd < 0)
                return -1;
            struct byte_source source = {fd_source_read, &fd};
            if (load_job_fill(run, job, &source, err) < 0)
                return -1;
            continue;
        }
        struct member *m = load_source_member(src, job->blob->member);
        if (m && m->held) {
            struct memory_source mem = {m->data.data, m->data.len, 0};
            struct byte_source source = {memory_source_read, &mem};
            if (load_job_fill(run, job, &source, err) < 0)
                return -1;
        }
    }
    for (;;) {
        size_t pending = 0, filled = 0;
        for (size_t i = 0; i < run->n_jobs; i++)
            pending += !run->jobs[i].done;
        if (pending == 0)
            return 0;
        autoarchive struct archive *a = outer_archive_open(src->path, err);
        if (!a)
            return -1;
        struct archive_entry *e;
        int r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
            const char *name = member_name_clean(archive_entry_pathname(e));
            for (size_t i = 0; i < run->n_jobs; i++) {
                struct layer_job *job = &run->jobs[i];
                if (job->done || strcmp(job->blob->member, name) != 0)
                    continue;
                struct byte_source source = {archive_member_read, a};
                if (load_job_fill(run, job, &source, err) < 0)
                    return -1;
                filled++;
                break; /* the member's data is consumed; a twin waits for the next pass */
            }
        }
        if (r != ARCHIVE_EOF)
            return fail(err, "read %s: %s", src->path, archive_error_string(a));
        if (filled == 0)
            return fail(err, "%s: layer files missing from the archive", src->path);
    }
}

/* docker_manifest_make: a schema2 manifest for a docker-archive image, as
 * containers/image makes one when it copies from docker-archive:. */
static void docker_manifest_make(lrun_store *s, struct image_plan *p)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < p->n_layers; i++) {
        /* docker-archive blobs are the plain tars: digest and size are the
         * DiffID and diff-size; the media type is what c/image writes */
        struct layer *l = store_layer(s, p->layer_ids[i]);
        descriptor_write(g, MEDIA_DOCKER_LAYER_GZIP, p->layers[i].diff_id, l && l->diff_size > 0 ? l->diff_size : 0,
                         false);
    }
    yajl_gen_array_close(g);
    autofree char *layers_text = json_writer_text(g, NULL);
    autojson yajl_val layers = json_text_to_tree(layers_text);
    autofree char *config_digest = xasprintf("sha256:%s", p->config_id);
    size_t len;
    autofree char *text = manifest_make(false, config_digest, (int64_t)p->config.len, layers, &len);
    buf_add(&p->manifest, text, len);
}

/* image_commit: the image record and its big data (config, manifest, an
 * empty signature list).  An image already present keeps its digest and
 * gains this manifest (manifest-sha256:..., signature-...), which becomes
 * "manifest", as in podman's store; the names go first either way. */
static int image_commit(lrun_store *s, struct image_plan *p, lrun_error **err)
{
    digest_hex manifest_hex;
    sha256_hex(p->manifest.data, p->manifest.len, manifest_hex);
    struct image *img = store_image_by_id(s, p->config_id);
    bool fresh = !img;
    if (fresh) {
        autojson yajl_val config = json_parse(p->config.data, "image config", err);
        if (!config)
            return -1;
        img = xcalloc(1, sizeof *img);
        img->id = xstrdup(p->config_id);
        img->digest = xasprintf("sha256:%s", manifest_hex);
        img->layer = xstrdup(p->layer_ids[p->n_layers - 1]);
        img->created = json_string(config, "created") ? xstrdup(json_string(config, "created")) : time_rfc3339_now();
        img->names = xcalloc(1, sizeof *img->names);
        img->names_history = xcalloc(1, sizeof *img->names_history);
    }
    free(img->metadata);
    img->metadata = xasprintf("{\"signatures-sizes\":{\"sha256:%s\":[]}}", manifest_hex);
    autofree char *config_key = xasprintf("sha256:%s", p->config_id);
    autofree char *manifest_key = xasprintf("manifest-sha256:%s", manifest_hex);
    autofree char *signature_key = xasprintf("signature-%s", manifest_hex);
    digest_hex index_hex;
    sha256_hex(p->index.data, p->index.len, index_hex);
    autofree char *index_key = xasprintf("manifest-sha256:%s", index_hex);
    /* a pull through a manifest list keeps the list too, so that
     * name@<list digest> finds the image (as containers/image does) */
    if ((p->index.len && image_big_data_write(s, img, index_key, p->index.data, p->index.len, err) < 0) ||
        (fresh && image_big_data_write(s, img, config_key, p->config.data, p->config.len, err) < 0) ||
        image_big_data_write(s, img, manifest_key, p->manifest.data, p->manifest.len, err) < 0 ||
        image_big_data_write(s, img, "manifest", p->manifest.data, p->manifest.len, err) < 0 ||
        image_big_data_write(s, img, signature_key, "", 0, err) < 0) {
        if (fresh)
            image_free(img);
        return -1;
    }
    if (fresh) {
        s->images = xrealloc(s->images, (s->n_images + 1) * sizeof *s->images);
        s->images[s->n_images++] = img;
    }
    for (size_t i = 0; p->names && p->names[i]; i++)
        image_take_name(s, img, p->names[i], true);
    return store_save_images(s, err);
}

/* load_undo: remove the layers this load made (its failure leaves the
 * store as it was). */
static void load_undo(struct load_run *run)
{
    for (size_t i = run->n_jobs; i-- > 0;) {
        if (!run->jobs[i].layer)
            continue;
        lrun_error *ignored = NULL;
        layer_remove_files(run->store, run->jobs[i].layer->id, &ignored);
        lrun_error_free(ignored);
        store_drop_layer_record(run->store, run->jobs[i].layer);
        run->jobs[i].layer = NULL;
    }
    lrun_error *ignored = NULL;
    store_save_layers(run->store, &ignored);
    lrun_error_free(ignored);
}

/* load_plan_jobs: the layers not yet in the store, base first, each once. */
static int load_plan_jobs(struct load_run *run, lrun_error **err)
{
    lrun_store *s = run->store;
    struct image_plan *plans = run->plans;
    size_t n_plans = run->n_plans;
    for (size_t i = 0; i < n_plans; i++) {
        for (size_t j = 0; j < plans[i].n_layers; j++) {
            const char *id = plans[i].layer_ids[j];
            struct layer *existing = store_layer(s, id);
            bool ours = false;
            for (size_t k = 0; existing && k < run->n_jobs && !ours; k++)
                ours = run->jobs[k].layer == existing;
            if (ours)
                continue;
            bool broken = false;
            lrun_error *damage = NULL;
            if (existing && layer_repair(s, existing, true, &broken, &damage) == 0) {
                load_progress(run, "Copying blob %.12s skipped: already exists", blob_short(&plans[i].layers[j]));
                continue;
            }
            lrun_error_free(damage);
            /* a damaged layer is not present: it is made again */
            struct layer *l = existing ? layer_recreate(s, existing, err)
                                       : layer_add(s, id, j ? plans[i].layer_ids[j - 1] : NULL, err);
            if (!l)
                return -1;
            run->jobs = xrealloc(run->jobs, (run->n_jobs + 1) * sizeof *run->jobs);
            run->jobs[run->n_jobs++] = (struct layer_job){.blob = &plans[i].layers[j], .layer = l};
        }
    }
    return 0;
}

/* load_read_plans: what the source holds; one that is none of the formats
 * lrun loads fails with podman's message, which names each format tried. */
static int load_read_plans(struct load_run *run, const char *path, lrun_error **err)
{
    static const char unsupported[] = "payload does not match any of the supported image formats:";
    if (load_source_open(path, &run->src, err) < 0) {
        if (!run->src.unrecognized)
            return -1;
        autofree char *why = xstrdup((*err)->message);
        return fail(err, "%s\n * oci: %s: not a directory\n * oci-archive: %s\n * docker-archive: %s", unsupported,
                    path, why, why);
    }
    if (load_source_exists(&run->src, "manifest.json"))
        return plans_from_docker_archive(&run->src, &run->plans, &run->n_plans, err);
    if (load_source_exists(&run->src, "index.json") && load_source_exists(&run->src, "oci-layout"))
        return plans_from_oci_layout(&run->src, &run->plans, &run->n_plans, err);
    const char *where = run->src.is_dir ? "the directory" : "the archive";
    return fail(err, "%s\n * oci: %s has no oci-layout and index.json\n * docker-archive: %s has no manifest.json",
                unsupported, where, where);
}

static int load_mark_complete(struct load_run *run, lrun_error **err)
{
    if (run->n_jobs && layer_sync_all(run->store, err) < 0)
        return -1;
    for (size_t i = 0; i < run->n_jobs; i++)
        run->jobs[i].layer->incomplete = false;
    return store_save_layers(run->store, err);
}

static int load_commit_images(struct load_run *run, char ***names, lrun_error **err)
{
    *names = xcalloc(1, sizeof **names);
    for (size_t i = 0; i < run->n_plans; i++) {
        struct image_plan *p = &run->plans[i];
        if (p->manifest.len == 0)
            docker_manifest_make(run->store, p);
        load_progress(run, "Copying config %.10s done", p->config_id);
        load_progress(run, "Writing manifest to image destination");
        load_progress(run, "Storing signatures");
        if (image_commit(run->store, p, err) < 0)
            return -1;
        for (size_t j = 0; p->names && p->names[j]; j++)
            strv_push(names, xstrdup(p->names[j]));
        if (!p->names)
            strv_push(names, xasprintf("sha256:%s", p->config_id));
    }
    return 0;
}

static void load_run_release(struct load_run *run)
{
    for (size_t i = 0; i < run->n_plans; i++)
        image_plan_release(&run->plans[i]);
    free(run->plans);
    free(run->jobs);
    load_source_release(&run->src);
}

int lrun_image_load(lrun_store *s, const char *path, lrun_progress_fn progress, void *userdata, char ***names,
                    lrun_error **err)
{
    if (store_require_write(s, err) < 0)
        return -1;
    cleanup(load_run_release) struct load_run run = {.store = s, .progress = progress, .userdata = userdata};
    if (load_read_plans(&run, path, err) < 0)
        return -1;
    load_progress(&run, "Getting image source signatures");
    if (load_plan_jobs(&run, err) < 0 || load_fill_layers(&run, err) < 0 || load_mark_complete(&run, err) < 0) {
        load_undo(&run);
        return -1;
    }
    return load_commit_images(&run, names, err);
}

/* --- import: a tar (plain or compressed) as an image of one layer ---
 * podman's: the layer is the tar as given (its DiffID is the tar's
 * digest), the config has the --change settings, and created is the
 * file's modification time (so importing the same file again gives the
 * same image). */

struct import_options {
    char *const *changes;
    const char *message, *name, *arch, *os, *variant;
    lrun_progress_fn progress;
    void *userdata;
};

/* blob_diff_digest: sha256 and size of a blob's uncompressed bytes. */
static int blob_diff_digest(int fd, digest_hex digest, int64_t *size, lrun_error **err)
{
    autoarchive struct archive *a = archive_read_new();
    if (!a)
        die_oom();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    if (archive_read_open_fd(a, fd, STREAM_BUFFER) != ARCHIVE_OK || archive_read_next_header(a, &e) != ARCHIVE_OK)
        return fail(err, "read: %s", archive_error_string(a));
    autofree char *chunk = xmalloc(STREAM_BUFFER);
    SHA256_CTX sha;
    SHA256_Init(&sha);
    *size = 0;
    la_ssize_t n;
    while ((n = archive_read_data(a, chunk, STREAM_BUFFER)) > 0) {
        SHA256_Update(&sha, chunk, (size_t)n);
        *size += n;
    }
    if (n < 0)
        return fail(err, "read: %s", archive_error_string(a));
    sha256_final_hex(&sha, digest);
    return 0;
}

/* import_config: the image config of an import. */
static char *import_config(const struct import_options *o, const struct image_settings *settings,
                           const char *created, const char *diff_hex, size_t *len)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    jw_key_str(g, "created", created);
    jw_key_str(g, "architecture", o->arch ? o->arch : host_architecture());
    jw_key_str(g, "os", o->os ? o->os : "linux");
    jw_key_str_opt(g, "variant", o->variant);
    jw_key(g, "config");
    image_settings_write(g, settings);
    jw_key(g, "rootfs");
    yajl_gen_map_open(g);
    jw_key_str(g, "type", "layers");
    jw_key(g, "diff_ids");
    yajl_gen_array_open(g);
    autofree char *diff_id = xasprintf("sha256:%s", diff_hex);
    jw_str(g, diff_id);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    jw_key(g, "history");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    jw_key_str(g, "created", created);
    autofree char *by = xasprintf("/bin/sh -c #(nop) ADD file:%s in /", diff_hex);
    jw_key_str(g, "created_by", by);
    jw_key_str(g, "comment", o->message ? o->message : "imported from tarball");
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return json_writer_text(g, len);
}

/* import_layer: the tar at fd as the layer diff_hex (kept when the store
 * has it already); a failure leaves the store as it was. */
static int import_layer(struct load_run *run, int fd, const char *diff_hex, lrun_error **err)
{
    lrun_store *s = run->store;
    struct layer *l = store_layer(s, diff_hex);
    if (l && !l->incomplete) {
        load_progress(run, "Copying blob %.12s skipped: already exists", diff_hex);
        return 0;
    }
    if (!(l = layer_add(s, diff_hex, NULL, err)))
        return -1;
    autofree char *want = xasprintf("sha256:%s", diff_hex);
    struct byte_source source = {fd_source_read, &fd};
    if (lseek(fd, 0, SEEK_SET) < 0 || layer_fill(s, l, &source, want, NULL, err) < 0) {
        if (!*err)
            fail_errno(err, "seek");
        layer_abandon(s, l);
        return -1;
    }
    if (layer_sync_all(s, err) < 0)
        return -1;
    l->incomplete = false;
    if (store_save_layers(s, err) < 0)
        return -1;
    load_progress(run, "Copying blob %.12s done", diff_hex);
    return 0;
}

static int image_import(lrun_store *s, const char *path, const struct import_options *o, char **image_id,
                        lrun_error **err)
{
    if (store_require_write(s, err) < 0)
        return -1;
    autosettings struct image_settings settings = {0};
    for (size_t i = 0; o->changes && o->changes[i]; i++)
        if (image_settings_change(&settings, o->changes[i], err) < 0)
            return -1;
    autofree char *name = o->name ? name_normalize_local(o->name, err) : NULL;
    if (o->name && !name)
        return -1;
    autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return fail_errno(err, "open %s", path);
    digest_hex diff_hex;
    int64_t diff_size = 0;
    if (blob_diff_digest(fd, diff_hex, &diff_size, err) < 0)
        return error_prefix(err, "%s", path);
    cleanup(load_run_release) struct load_run run = {.store = s, .progress = o->progress, .userdata = o->userdata};
    load_progress(&run, "Getting image source signatures");
    if (import_layer(&run, fd, diff_hex, err) < 0)
        return error_prefix(err, "writing blob");
    autofree char *created = time_rfc3339_nano(st.st_mtim);
    cleanup(image_plan_release) struct image_plan plan = {0};
    size_t config_len;
    autofree char *config = import_config(o, &settings, created, diff_hex, &config_len);
    buf_add(&plan.config, config, config_len);
    plan.n_layers = 1;
    plan.layers = xcalloc(2, sizeof *plan.layers);
    if (image_plan_finish(&plan, err) < 0)
        return -1;
    autofree char *config_digest = xasprintf("sha256:%s", plan.config_id);
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    descriptor_write(g, MEDIA_OCI_LAYER, plan.layers[0].diff_id, diff_size, true);
    yajl_gen_array_close(g);
    autofree char *layers_text = json_writer_text(g, NULL);
    autojson yajl_val layers = json_text_to_tree(layers_text);
    size_t manifest_len;
    autofree char *manifest = manifest_make(true, config_digest, (int64_t)config_len, layers, &manifest_len);
    buf_add(&plan.manifest, manifest, manifest_len);
    if (name)
        strv_push(&plan.names, xstrdup(name));
    load_progress(&run, "Copying config %.10s done", plan.config_id);
    load_progress(&run, "Writing manifest to image destination");
    load_progress(&run, "Storing signatures");
    if (image_commit(s, &plan, err) < 0)
        return -1;
    *image_id = xstrdup(plan.config_id);
    return 0;
}

/* --- commit: a container's layer (or only new settings) over an image ---
 * The layer is exported as a tar (whiteouts as .wh. markers) and
 * extracted again as a new layer over the image's top one, so it gets
 * its DiffID, tar-split and sizes as a pulled layer does; its ID follows
 * c/storage's chain rule, so committing the same change twice shares the
 * layer.  The config is the image's with the new settings, the DiffID
 * appended to rootfs and the history entries appended; the manifest names
 * the layers uncompressed, as podman's commit stores them. */

struct history_entry {
    const char *created_by, *comment;
    bool empty_layer;
};

struct commit_request {
    struct image *base;          /* NULL: FROM scratch */
    const char *layer;           /* the layer whose diff/ becomes the new layer, or NULL */
    const struct image_settings *settings;
    const struct history_entry *history;
    size_t n_history;
    const char *author;
    char *const *names;
};

/* commit_layer: the new layer made from layer request->layer; *diff_hex
 * its DiffID. */
static int commit_layer(lrun_store *s, const struct commit_request *r, digest_hex diff_hex, lrun_error **err)
{
    autofree char *diff_path = xasprintf("%s/diff", r->layer);
    autoclose int diff_fd = openat(s->overlay_fd, diff_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (diff_fd < 0)
        return fail_errno(err, "open layer %.12s", r->layer);
    autoclose int fd = temp_file(err);
    int64_t size;
    if (fd < 0 || dir_export_entry(diff_fd, NULL, runtime_mount_points, fd, diff_hex, &size, err) < 0)
        return -1;
    digest_hex id;
    if (r->base) {
        autofree char *chain = xasprintf("%s+%s", r->base->layer, diff_hex);
        sha256_hex(chain, strlen(chain), id);
    } else {
        memcpy(id, diff_hex, sizeof id);
    }
    struct layer *l = store_layer(s, id);
    if (l && !l->incomplete)
        return 0;
    if (!(l = layer_add(s, id, r->base ? r->base->layer : NULL, err)))
        return -1;
    autofree char *want = xasprintf("sha256:%s", diff_hex);
    struct byte_source source = {fd_source_read, &fd};
    if (lseek(fd, 0, SEEK_SET) < 0 || layer_fill(s, l, &source, want, NULL, err) < 0) {
        if (!*err)
            fail_errno(err, "seek");
        layer_abandon(s, l);
        return -1;
    }
    if (layer_sync_all(s, err) < 0)
        return -1;
    l->incomplete = false;
    return store_save_layers(s, err);
}

/* commit_config: the new image's config. */
static char *commit_config(yajl_val base, const struct commit_request *r, const char *diff_hex, size_t *len)
{
    autofree char *created = time_rfc3339_now();
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    jw_key_str(g, "created", created);
    jw_key_str_opt(g, "author", r->author);
    jw_key_str(g, "architecture", json_string(base, "architecture") ? json_string(base, "architecture") : host_architecture());
    jw_key_str(g, "os", json_string(base, "os") ? json_string(base, "os") : "linux");
    jw_key_str_opt(g, "variant", json_string(base, "variant"));
    jw_key(g, "config");
    image_settings_write(g, r->settings);
    jw_key(g, "rootfs");
    yajl_gen_map_open(g);
    jw_key_str(g, "type", "layers");
    jw_key(g, "diff_ids");
    yajl_gen_array_open(g);
    yajl_val diff_ids = json_get(json_get(base, "rootfs"), "diff_ids");
    for (size_t i = 0; i < json_array_len(diff_ids); i++)
        jw_value(g, json_array_at(diff_ids, i));
    if (diff_hex) {
        autofree char *diff_id = xasprintf("sha256:%s", diff_hex);
        jw_str(g, diff_id);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    jw_key(g, "history");
    yajl_gen_array_open(g);
    yajl_val history = json_get(base, "history");
    for (size_t i = 0; i < json_array_len(history); i++)
        jw_value(g, json_array_at(history, i));
    for (size_t i = 0; i < r->n_history; i++) {
        yajl_gen_map_open(g);
        jw_key_str(g, "created", created);
        jw_key_str_opt(g, "created_by", r->history[i].created_by);
        jw_key_str_opt(g, "author", r->author);
        jw_key_str_opt(g, "comment", r->history[i].comment);
        if (r->history[i].empty_layer)
            jw_key_bool(g, "empty_layer", true);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return json_writer_text(g, len);
}

/* image_commit_request: the image a commit (or a build step) makes; a
 * failure leaves no image (a new layer it made stays only as an unused,
 * complete layer when the image record could not be written). */
static int image_commit_request(lrun_store *s, const struct commit_request *r, char **image_id, lrun_error **err)
{
    if (store_require_write(s, err) < 0)
        return -1;
    digest_hex diff_hex;
    if (r->layer && commit_layer(s, r, diff_hex, err) < 0)
        return error_prefix(err, "commit the container's layer");
    autojson yajl_val base = r->base ? image_config(s, r->base, err) : json_text_to_tree("{}");
    if (!base)
        return -1;
    cleanup(image_plan_release) struct image_plan plan = {0};
    size_t config_len;
    autofree char *config = commit_config(base, r, r->layer ? diff_hex : NULL, &config_len);
    buf_add(&plan.config, config, config_len);
    autojson yajl_val parsed = json_text_to_tree(config);
    plan.n_layers = json_array_len(json_get(json_get(parsed, "rootfs"), "diff_ids"));
    plan.layers = xcalloc(plan.n_layers + 1, sizeof *plan.layers);
    if (image_plan_finish(&plan, err) < 0)
        return -1;
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < plan.n_layers; i++) {
        struct layer *l = store_layer(s, plan.layer_ids[i]);
        if (!l)
            return fail(err, "layer %.12s of the new image is missing", plan.layer_ids[i]);
        descriptor_write(g, MEDIA_OCI_LAYER, plan.layers[i].diff_id, l->diff_size, true);
    }
    yajl_gen_array_close(g);
    autofree char *layers_text = json_writer_text(g, NULL);
    autojson yajl_val layers = json_text_to_tree(layers_text);
    autofree char *config_digest = xasprintf("sha256:%s", plan.config_id);
    size_t manifest_len;
    autofree char *manifest = manifest_make(true, config_digest, (int64_t)config_len, layers, &manifest_len);
    buf_add(&plan.manifest, manifest, manifest_len);
    for (size_t i = 0; r->names && r->names[i]; i++) {
        autofree char *name = name_normalize_local(r->names[i], err);
        if (!name)
            return -1;
        strv_push(&plan.names, steal_pointer(&name));
    }
    if (image_commit(s, &plan, err) < 0)
        return -1;
    *image_id = xstrdup(plan.config_id);
    return 0;
}

/* --- save: a docker-archive, an OCI archive or an OCI layout directory ---
 *
 * docker-archive: <diffid>.tar for each layer, the config as <image
 * id>.json and manifest.json listing [{Config, RepoTags, Layers}], one
 * entry an image (podman's layout).  OCI: oci-layout, index.json and
 * blobs/sha256/ with the layers gzip'd (unless uncompressed), the config
 * bytes as stored (so the image keeps its ID) and a manifest; the index
 * names each image by its ref.name annotation.  A layer is rebuilt byte
 * for byte from its tar-split; one without (or whose diff/ changed) is
 * exported afresh, and if that changes its bytes the config's
 * rootfs.diff_ids are rewritten to match, so the archive stays
 * self-consistent (the image then gets a new ID). */

static int outer_add_file(struct archive *out, const char *name, int fd, int64_t size, lrun_error **err)
{
    cleanup(archive_entry_free_pointer) struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    if (archive_write_header(out, e) != ARCHIVE_OK)
        return fail(err, "write %s: %s", name, archive_error_string(out));
    char buf[65536];
    ssize_t n;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return fail_errno(err, "seek");
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (archive_write_data(out, buf, (size_t)n) < 0)
            return fail(err, "write %s: %s", name, archive_error_string(out));
    return n < 0 ? fail_errno(err, "read") : 0;
}

static int outer_add_bytes(struct archive *out, const char *name, const char *data, size_t len, lrun_error **err)
{
    cleanup(archive_entry_free_pointer) struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0);
    if (archive_write_header(out, e) != ARCHIVE_OK || archive_write_data(out, data, len) < 0)
        return fail(err, "write %s: %s", name, archive_error_string(out));
    return 0;
}

/* config_with_diff_ids: the config with rootfs.diff_ids replaced. */
static char *config_with_diff_ids(yajl_val config, char **diff_ids, size_t *len)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    for (size_t i = 0; i < config->u.object.len; i++) {
        const char *key = config->u.object.keys[i];
        yajl_val v = config->u.object.values[i];
        jw_key(g, key);
        if (strcmp(key, "rootfs") != 0 || !YAJL_IS_OBJECT(v)) {
            jw_value(g, v);
            continue;
        }
        yajl_gen_map_open(g);
        for (size_t j = 0; j < v->u.object.len; j++) {
            jw_key(g, v->u.object.keys[j]);
            if (strcmp(v->u.object.keys[j], "diff_ids") == 0)
                jw_strv(g, diff_ids);
            else
                jw_value(g, v->u.object.values[j]);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    return json_writer_text(g, len);
}

enum save_format { SAVE_DOCKER_ARCHIVE, SAVE_OCI_ARCHIVE, SAVE_OCI_DIR, SAVE_DOCKER_DIR };

/* Where saved files go: the members of a tar, or files in a directory;
 * each once (images share layers). */
struct save_sink {
    struct archive *tar;
    int dir_fd;
    char **written;
};

static int sink_add(struct save_sink *k, const char *name, int fd, const char *data, size_t len, lrun_error **err)
{
    if (strv_contains(k->written, name))
        return 0;
    strv_push(&k->written, xstrdup(name));
    if (k->tar)
        return fd >= 0 ? outer_add_file(k->tar, name, fd, (int64_t)len, err)
                       : outer_add_bytes(k->tar, name, data, len, err);
    autoclose int out = openat(k->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (out < 0)
        return fail_errno(err, "create %s", name);
    if (fd < 0)
        return write_all(out, data, len) < 0 ? fail_errno(err, "write %s", name) : 0;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return fail_errno(err, "seek");
    return fd_copy(fd, out, (int64_t)len, err) < 0 ? error_prefix(err, "%s", name) : 0;
}

/* One image to save and the names it goes by in the archive. */
struct save_item {
    struct image *img;
    char **tags;
};

struct save_run {
    lrun_store *store;
    enum save_format format;
    bool compress;     /* OCI and docker-dir layers gzip'd */
    struct save_sink sink;
    lrun_progress_fn progress; /* lines as load prints them (NULL: quiet) */
    void *userdata;
    yajl_gen manifest;         /* docker: manifest.json; OCI: index.json's manifests */
};

PRINTF(2, 3) static void save_progress(struct save_run *run, const char *fmt, ...)
{
    if (!run->progress)
        return;
    va_list ap;
    char *line;
    va_start(ap, fmt);
    if (vasprintf(&line, fmt, ap) < 0)
        die_oom();
    va_end(ap);
    run->progress(run->userdata, line);
    free(line);
}

/* save_layer: one layer into the sink; its DiffID (as written) in
 * diff_id, and for OCI its descriptor written into g. */
static int save_layer(struct save_run *run, const struct layer *l, char **diff_id, char **member, yajl_gen g,
                      lrun_error **err)
{
    autoblob struct blob_file tar = {.fd = -1}, packed = {.fd = -1};
    if (layer_tar_file(run->store, l, &tar, err) < 0)
        return -1;
    *diff_id = xasprintf("sha256:%s", tar.digest);
    if (run->format == SAVE_DOCKER_ARCHIVE) {
        *member = xasprintf("%s.tar", tar.digest);
        save_progress(run, "Copying blob %.12s done", tar.digest);
        return sink_add(&run->sink, *member, tar.fd, NULL, (size_t)tar.size, err);
    }
    const struct blob_file *blob = &tar;
    if (run->compress) {
        if (blob_compress(&tar, COMPRESSION_GZIP, &packed, err) < 0)
            return -1;
        blob = &packed;
    }
    bool oci = run->format != SAVE_DOCKER_DIR;
    *member = oci ? xasprintf("blobs/sha256/%s", blob->digest) : xstrdup(blob->digest);
    save_progress(run, "Copying blob %.12s done", tar.digest);
    autofree char *digest = xasprintf("sha256:%s", blob->digest);
    /* docker-dir: c/image calls even its plain tars .tar.gzip */
    descriptor_write(g, oci ? run->compress ? MEDIA_OCI_LAYER_GZIP : MEDIA_OCI_LAYER : MEDIA_DOCKER_LAYER_GZIP,
                     digest, blob->size, oci);
    return sink_add(&run->sink, *member, blob->fd, NULL, (size_t)blob->size, err);
}

/* save_config: the config as stored, or with the DiffIDs the layers now
 * have when an export changed one. */
static char *save_config(lrun_store *s, struct image *img, char **diff_ids, size_t *len, lrun_error **err)
{
    autobuf struct buf original = {0};
    autofree char *key = xasprintf("sha256:%s", img->id);
    if (image_big_data_read(s, img, key, &original, err) < 0)
        return NULL;
    autojson yajl_val config = json_parse(original.data, "image config", err);
    if (!config)
        return NULL;
    yajl_val stored = json_get(json_get(config, "rootfs"), "diff_ids");
    bool changed = json_array_len(stored) != strv_len(diff_ids);
    for (size_t i = 0; !changed && diff_ids[i]; i++) {
        yajl_val v = json_array_at(stored, i);
        changed = strcmp(YAJL_IS_STRING(v) ? v->u.string : "", diff_ids[i]) != 0;
    }
    if (changed)
        return config_with_diff_ids(config, diff_ids, len);
    *len = original.len;
    return buf_steal(&original);
}

static int save_image(struct save_run *run, const struct save_item *item, lrun_error **err)
{
    lrun_store *s = run->store;
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, item->img->layer, &chain);
    autostrv char **diff_ids = xcalloc(n + 1, sizeof *diff_ids);
    autostrv char **members = xcalloc(n + 1, sizeof *members);
    autogen yajl_gen layers = json_writer(false);
    yajl_gen_array_open(layers);
    for (size_t i = 0; i < n; i++)
        if (save_layer(run, chain[n - 1 - i], &diff_ids[i], &members[i], layers, err) < 0) /* base first */
            return -1;
    yajl_gen_array_close(layers);
    size_t config_len;
    autofree char *config = save_config(s, item->img, diff_ids, &config_len, err);
    if (!config)
        return -1;
    digest_hex config_hex;
    sha256_hex(config, config_len, config_hex);
    save_progress(run, "Copying config %.10s done", config_hex);
    save_progress(run, "Writing manifest to image destination");
    save_progress(run, "Storing signatures");
    yajl_gen g = run->manifest;
    if (run->format == SAVE_DOCKER_ARCHIVE) {
        autofree char *config_name = xasprintf("%s.json", config_hex);
        if (sink_add(&run->sink, config_name, -1, config, config_len, err) < 0)
            return -1;
        yajl_gen_map_open(g);
        jw_key_str(g, "Config", config_name);
        jw_key(g, "RepoTags");
        yajl_gen_array_open(g);
        for (size_t i = 0; item->tags && item->tags[i]; i++) /* docker's short form for docker.io */
            jw_str(g, has_prefix(item->tags[i], "docker.io/library/") ? item->tags[i] + 18 : item->tags[i]);
        yajl_gen_array_close(g);
        jw_key(g, "Layers");
        jw_strv(g, members);
        yajl_gen_map_close(g);
        return 0;
    }
    bool oci = run->format != SAVE_DOCKER_DIR;
    autofree char *config_member = oci ? xasprintf("blobs/sha256/%s", config_hex) : xstrdup(config_hex);
    if (sink_add(&run->sink, config_member, -1, config, config_len, err) < 0)
        return -1;
    autofree char *layers_text = json_writer_text(layers, NULL);
    autojson yajl_val layers_tree = json_text_to_tree(layers_text);
    autofree char *config_digest = xasprintf("sha256:%s", config_hex);
    size_t manifest_len;
    autofree char *manifest = manifest_make(oci, config_digest, (int64_t)config_len, layers_tree, &manifest_len);
    if (!oci) /* docker-dir: one image, its manifest as manifest.json */
        return sink_add(&run->sink, "manifest.json", -1, manifest, manifest_len, err);
    digest_hex manifest_hex;
    sha256_hex(manifest, manifest_len, manifest_hex);
    autofree char *manifest_member = xasprintf("blobs/sha256/%s", manifest_hex);
    if (sink_add(&run->sink, manifest_member, -1, manifest, manifest_len, err) < 0)
        return -1;
    yajl_gen_map_open(g);
    jw_key_str(g, "mediaType", MEDIA_OCI_MANIFEST);
    autofree char *manifest_digest = xasprintf("sha256:%s", manifest_hex);
    jw_key_str(g, "digest", manifest_digest);
    jw_key_int(g, "size", (int64_t)manifest_len);
    if (item->tags && item->tags[0]) {
        jw_key(g, "annotations");
        yajl_gen_map_open(g);
        jw_key_str(g, "org.opencontainers.image.ref.name", item->tags[0]);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    return 0;
}

/* save_finish: manifest.json, or oci-layout and index.json. */
static int save_finish(struct save_run *run, lrun_error **err)
{
    yajl_gen_array_close(run->manifest);
    size_t len;
    autofree char *list = json_writer_text(run->manifest, &len);
    if (run->format == SAVE_DOCKER_ARCHIVE)
        return sink_add(&run->sink, "manifest.json", -1, list, len, err);
    if (run->format == SAVE_DOCKER_DIR) {
        static const char version[] = "Directory Transport Version: 1.1\n";
        return sink_add(&run->sink, "version", -1, version, strlen(version), err);
    }
    static const char layout[] = "{\"imageLayoutVersion\": \"1.0.0\"}";
    autofree char *index = xasprintf("{\"schemaVersion\":2,\"manifests\":%s}", list);
    if (sink_add(&run->sink, "oci-layout", -1, layout, strlen(layout), err) < 0)
        return -1;
    return sink_add(&run->sink, "index.json", -1, index, strlen(index), err);
}

/* save_items: the images named, in order, each once; a name (not an ID)
 * becomes a tag in the archive, as podman's save does. */
static int save_items(lrun_store *s, char *const *names, char *const *extra_tags, struct save_item **items, size_t *n,
                      lrun_error **err)
{
    *items = xcalloc(strv_len(names) + 1, sizeof **items);
    *n = 0;
    for (size_t i = 0; names[i]; i++) {
        const char *matched;
        struct image *img = image_lookup_as(s, names[i], &matched, err);
        if (!img)
            return -1;
        struct save_item *item = NULL;
        for (size_t j = 0; j < *n && !item; j++)
            if ((*items)[j].img == img)
                item = &(*items)[j];
        if (!item) {
            item = &(*items)[(*n)++];
            item->img = img;
            item->tags = xcalloc(1, sizeof *item->tags);
        }
        if (i == 0)
            for (size_t j = 0; extra_tags && extra_tags[j]; j++) {
                autofree char *full = name_normalize_local(extra_tags[j], err);
                if (!full)
                    return -1;
                strv_push(&item->tags, steal_pointer(&full));
            }
        if (matched && !strv_contains(item->tags, matched))
            strv_push(&item->tags, xstrdup(matched));
    }
    return 0;
}

static void save_items_free(struct save_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lrun_strv_free(items[i].tags);
    free(items);
}

/* save_open: the sink for output (a file written under a temporary name,
 * a directory, or fd when output is NULL). */
static int save_open(struct save_run *run, const char *output, int fd, char **tmp, lrun_error **err)
{
    if (run->format == SAVE_OCI_DIR || run->format == SAVE_DOCKER_DIR) {
        if (mkdir_p(output, 0755, err) < 0)
            return -1;
        run->sink.dir_fd = open(output, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (run->sink.dir_fd < 0)
            return fail_errno(err, "open %s", output);
        if (run->format == SAVE_DOCKER_DIR)
            return 0;
        if ((mkdirat(run->sink.dir_fd, "blobs", 0755) < 0 && errno != EEXIST) ||
            (mkdirat(run->sink.dir_fd, "blobs/sha256", 0755) < 0 && errno != EEXIST))
            return fail_errno(err, "create %s/blobs/sha256", output);
        return 0;
    }
    run->sink.tar = archive_write_new();
    if (!run->sink.tar)
        die_oom();
    archive_write_set_format_pax_restricted(run->sink.tar);
    archive_write_set_bytes_in_last_block(run->sink.tar, 1); /* the same bytes to a pipe as to a file */
    if (output) {
        *tmp = xasprintf("%s.tmp-%d", output, (int)getpid());
        fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return fail_errno(err, "create %s", *tmp);
    }
    if (archive_write_open_fd(run->sink.tar, fd) != ARCHIVE_OK)
        return fail(err, "open %s: %s", output ? output : "the output", archive_error_string(run->sink.tar));
    return 0;
}

/* save_close: finish the sink; a file is synced and renamed into place
 * when all went well, removed otherwise. */
static int save_close(struct save_run *run, const char *output, const char *tmp, int r, lrun_error **err)
{
    if (run->sink.tar) {
        if (r == 0 && archive_write_close(run->sink.tar) != ARCHIVE_OK)
            r = fail(err, "write %s: %s", output ? output : "the output", archive_error_string(run->sink.tar));
        int fd = tmp ? open(tmp, O_RDONLY | O_CLOEXEC) : -1;
        if (r == 0 && fd >= 0 && fsync(fd) < 0)
            r = fail_errno(err, "write %s", tmp);
        if (fd >= 0)
            close(fd);
        archive_write_free(run->sink.tar);
    }
    if (run->sink.dir_fd > 0)
        close(run->sink.dir_fd);
    if (tmp && r == 0 && rename(tmp, output) < 0)
        r = fail_errno(err, "rename to %s", output);
    if (tmp && r < 0)
        unlink(tmp);
    lrun_strv_free(run->sink.written);
    return r;
}

/* images_save: the images named into output (NULL: to fd), in format;
 * extra_tags name the first image too (podman's save IMAGE TAG...). */
static int images_save(lrun_store *s, char *const *names, char *const *extra_tags, enum save_format format,
                       bool compress, const char *output, int fd, lrun_progress_fn progress, void *userdata,
                       lrun_error **err)
{
    struct save_item *items = NULL;
    size_t n = 0;
    int r = save_items(s, names, extra_tags, &items, &n, err);
    static const char *const format_names[] = {"docker-archive", "oci-archive", "oci-dir", "docker-dir"};
    if (r == 0 && format != SAVE_DOCKER_ARCHIVE && n > 1)
        r = fail(err, "unsupported format \"%s\" for saving multiple images (only docker-archive)",
                 format_names[format]);
    if (r == 0 && !output && (format == SAVE_OCI_DIR || format == SAVE_DOCKER_DIR))
        r = fail(err, "%s needs an output directory (-o DIR)", format_names[format]);
    if (r < 0) {
        save_items_free(items, n);
        return -1;
    }
    struct save_run run = {.store = s, .format = format, .compress = compress, .sink.dir_fd = -1,
                           .progress = progress, .userdata = userdata, .manifest = json_writer(false)};
    autofree char *tmp = NULL;
    r = save_open(&run, output, fd, &tmp, err);
    yajl_gen_array_open(run.manifest);
    for (size_t i = 0; r == 0 && i < n; i++)
        r = save_image(&run, &items[i], err);
    if (r == 0)
        r = save_finish(&run, err);
    r = save_close(&run, output, tmp, r, err);
    yajl_gen_free(run.manifest);
    save_items_free(items, n);
    return r;
}

int lrun_image_save(lrun_store *s, const char *image, const char *path, lrun_error **err)
{
    char *names[] = {(char *)image, NULL};
    return images_save(s, names, NULL, SAVE_DOCKER_ARCHIVE, false, path, -1, NULL, NULL, err);
}

/* --- tag, list, remove --- */

int lrun_image_tag(lrun_store *s, const char *image, const char *new_name, lrun_error **err)
{
    if (store_require_write(s, err) < 0)
        return -1;
    struct image *img = image_lookup(s, image, err);
    if (!img)
        return -1;
    autofree char *full = name_normalize(new_name, err);
    if (!full)
        return -1;
    image_take_name(s, img, full, false);
    return store_save_images(s, err);
}

static int64_t image_created_seconds(const struct image *img) { return time_parse_rfc3339(img->created); }

int lrun_image_list(lrun_store *s, lrun_image_info **out, size_t *count, lrun_error **err)
{
    (void)err;
    lrun_image_info *list = xcalloc(s->n_images + 1, sizeof *list);
    for (size_t i = 0; i < s->n_images; i++) {
        struct image *img = s->images[i];
        autofree struct layer **chain = NULL;
        list[i].id = xstrdup(img->id);
        list[i].names = strv_copy(img->names);
        list[i].digest = xstrdup(img->digest);
        list[i].created = image_created_seconds(img);
        list[i].size = image_size(s, img);
        list[i].layer_count = layer_chain(s, img->layer, &chain);
        list[i].containers = image_containers(s, img);
    }
    *out = list;
    *count = s->n_images;
    return 0;
}

void lrun_image_list_free(lrun_image_info *list, size_t count)
{
    for (size_t i = 0; list && i < count; i++) {
        free(list[i].id);
        lrun_strv_free(list[i].names);
        free(list[i].digest);
    }
    free(list);
}

/* layers_release_from: delete top and then each parent that nothing
 * (image, container or child layer) uses any more. */
static int layers_release_from(lrun_store *s, const char *top, lrun_error **err)
{
    autofree char *id = xstrdup(top);
    while (id) {
        struct layer *l = store_layer(s, id);
        if (!l || layer_users(s, id) > 0)
            break;
        autofree char *parent = xstrdup(l->parent);
        if (layer_delete(s, l, err) < 0)
            return -1;
        free(id);
        id = steal_pointer(&parent);
    }
    return 0;
}

static void store_drop_image_record(lrun_store *s, struct image *img)
{
    for (size_t i = 0; i < s->n_images; i++) {
        if (s->images[i] != img)
            continue;
        memmove(&s->images[i], &s->images[i + 1], (s->n_images - i - 1) * sizeof *s->images);
        s->n_images--;
        image_free(img);
        return;
    }
}

/* container_remove_storage: a container's record and its layer (the
 * container section adds processes and runtime state on top of this). */
static int container_remove_storage(lrun_store *s, struct container *c, lrun_error **err)
{
    autofree char *layer = xstrdup(c->layer);
    autofree char *id = xstrdup(c->id);
    store_spare(s, "overlay-containers/", c->id, "");
    if (layer && layer_users(s, layer) == 1)
        store_spare(s, "overlay/", layer, "/diff");
    store_drop_container_record(s, c);
    if (store_save_index(s, LOCK_CONTAINERS, err) < 0)
        return -1;
    remove_tree_at(s->containers_fd, id, NULL);
    return layer ? layers_release_from(s, layer, err) : 0;
}

int lrun_image_remove(lrun_store *s, const char *name, int force, char ***untagged, char ***deleted,
                      lrun_error **err)
{
    if (store_require_write(s, err) < 0)
        return -1;
    const char *matched;
    struct image *img = image_lookup_as(s, name, &matched, err);
    if (!img)
        return -1;
    autofree char *full = xstrdup(matched);
    bool by_name = full != NULL;
    if (by_name && strv_len(img->names) > 1) { /* only the name goes */
        strv_remove(img->names, full);
        strv_push(untagged, xstrdup(full));
        return store_save_images(s, err);
    }
    if (!by_name && strv_len(img->names) > 1 && !force)
        return fail_code(err, 2,
                         "unable to delete image %s by ID with more than one tag (%zu names): please force removal",
                         img->id, strv_len(img->names));
    for (size_t i = 0; i < s->n_containers; i++) {
        struct container *c = s->containers[i];
        if (!c->image || strcmp(c->image, img->id) != 0)
            continue;
        if (!force)
            return fail_code(err, 2,
                             "image used by %s: image is in use by a container: consider listing external "
                             "containers and force-removing image",
                             c->id);
        strv_push(deleted, xstrdup(c->id));
        if (container_remove_storage(s, c, err) < 0)
            return -1;
        i--;
    }
    for (size_t i = 0; img->names && img->names[i]; i++)
        strv_push(untagged, xstrdup(img->names[i]));
    strv_push(deleted, xstrdup(img->id));
    autofree char *top = xstrdup(img->layer);
    autofree char *id = xstrdup(img->id);
    store_spare(s, "overlay-images/", img->id, "");
    for (struct layer *l = store_layer(s, top); l && layer_users(s, l->id) == 1; l = store_layer(s, l->parent))
        store_spare(s, "overlay/", l->id, "/diff");
    store_drop_image_record(s, img);
    if (store_save_images(s, err) < 0)
        return -1;
    remove_tree_at(s->images_fd, id, NULL);
    return top ? layers_release_from(s, top, err) : 0;
}

int lrun_store_layers_size(lrun_store *s, int64_t *total, lrun_error **err)
{
    (void)err;
    *total = 0;
    for (size_t i = 0; i < s->n_layers; i++)
        if (s->layers[i]->diff_size > 0)
            *total += s->layers[i]->diff_size;
    return 0;
}

/* ========================================================================
 * REGISTRY: host names, connections, HTTP/1.1, credentials, manifests, pull,
 * push
 *
 * A registry v2 client that needs nothing at run time but the kernel, so
 * the static binary pulls from an initramfs or a scratch container too:
 * names resolve through the hosts file and then DNS over UDP to
 * resolv.conf's nameservers (a static glibc's getaddrinfo would load
 * libnss_*.so), TLS is mbedTLS, and HTTP/1.1 is written here (keep-alive,
 * chunked bodies, redirects to blob storage on another host, timeouts,
 * retries of transient failures, resumed downloads).
 *
 * A pull reads as a load does (IMAGES): the manifest (through an index to
 * this platform's image) and the config make an image_plan; load_plan_jobs
 * records the missing layers as incomplete; download threads, each with
 * its own connections, stream their blobs through layer_fill, which checks
 * both digests as the bytes pass; then load_mark_complete and
 * load_commit_images.  The threads open the blobs no stored layer has
 * while the config is read (a round trip less); only the calling thread
 * writes the store's JSON.
 * ======================================================================== */

#define NET_CONNECT_TIMEOUT 30 /* seconds */
#define NET_IO_TIMEOUT 60      /* seconds without a byte before a read fails */
#define NET_HANDSHAKE_TIMEOUT 10 /* seconds for a TLS handshake (Go's default) */
#define NET_RETRIES 3          /* more tries for transient failures */
#define NET_INTERIM_MAX 5      /* 1xx responses before the answer (Go's limit) */
#define NET_LOW_SPEED_BYTES 1024 /* fewer in a whole timeout window: too slow */

/* net_timeout_ms: how long a response head may take in all (100 Continue,
 * slow bytes and all), and the window of the low-speed check on bodies;
 * NET_IO_TIMEOUT, or $LRUN_NET_TIMEOUT seconds (slow links, tests). */
static int64_t net_timeout_ms(void)
{
    const char *env = getenv("LRUN_NET_TIMEOUT");
    long seconds = env && *env ? strtol(env, NULL, 10) : 0;
    return 1000 * (int64_t)(seconds > 0 ? seconds : NET_IO_TIMEOUT);
}

static void sleep_milliseconds(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* retry_pause: 250 ms, 500 ms, 1 s, ... before try number attempt + 1. */
static void retry_pause(int attempt) { sleep_milliseconds(250L << (attempt < 4 ? attempt : 4)); }

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- host names: IP literals, the hosts file, then DNS over UDP ---
 *
 * As the stub resolver does it: /etc/hosts first, then A and AAAA queries
 * to each nameserver of /etc/resolv.conf (its search, ndots, timeout and
 * attempts options apply).  LRUN_HOSTS and LRUN_RESOLV_CONF name other
 * files (tests).  Answers that do not fit in 512 bytes are used as far as
 * they go (no TCP retry): a registry name has a handful of addresses. */

#define MAX_ADDRESSES 8

struct addresses {
    struct sockaddr_storage addr[MAX_ADDRESSES];
    socklen_t len[MAX_ADDRESSES];
    size_t n;
};

static void addresses_add(struct addresses *a, int family, const void *raw, uint16_t port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, raw, 4);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        memcpy(&sin6->sin6_addr, raw, 16);
        len = sizeof *sin6;
    }
    for (size_t i = 0; i < a->n; i++)
        if (a->len[i] == len && memcmp(&a->addr[i], &ss, len) == 0)
            return;
    if (a->n < MAX_ADDRESSES) {
        a->addr[a->n] = ss;
        a->len[a->n++] = len;
    }
}

static bool address_literal(const char *host, uint16_t port, struct addresses *out)
{
    unsigned char raw[16];
    if (inet_pton(AF_INET, host, raw) == 1)
        addresses_add(out, AF_INET, raw, port);
    else if (inet_pton(AF_INET6, host, raw) == 1)
        addresses_add(out, AF_INET6, raw, port);
    else
        return false;
    return true;
}

/* address_text: "1.2.3.4:443" or "[::1]:443", for messages. */
static char *address_text(const struct sockaddr_storage *ss)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
        return xasprintf("%s:%u", text, ntohs(sin->sin_port));
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    return xasprintf("[%s]:%u", text, ntohs(sin6->sin6_port));
}

static const char *env_path(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* text_lines_next: the next line of a file read into memory, comments
 * (from any of comment_chars) cut off; NULL at the end. */
static char *text_lines_next(char **cursor, const char *comment_chars)
{
    if (!*cursor || !**cursor)
        return NULL;
    char *line = *cursor;
    char *nl = strchr(line, '\n');
    *cursor = nl ? nl + 1 : line + strlen(line);
    if (nl)
        *nl = '\0';
    line[strcspn(line, comment_chars)] = '\0';
    return line;
}

static void hosts_file_lookup(const char *host, uint16_t port, struct addresses *out)
{
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, env_path("LRUN_HOSTS", "/etc/hosts"), &text, NULL) < 0)
        return;
    char *cursor = text.data, *line;
    while ((line = text_lines_next(&cursor, "#"))) {
        char *save = NULL;
        const char *addr = strtok_r(line, " \t\r", &save);
        for (const char *name; addr && (name = strtok_r(NULL, " \t\r", &save));)
            if (strcasecmp(name, host) == 0) {
                address_literal(addr, port, out);
                break;
            }
    }
}

struct resolver_config {
    struct addresses servers;
    char **search;
    int ndots, timeout, attempts;
};

static void resolver_config_clear(struct resolver_config *rc) { lrun_strv_free(rc->search); }

static void resolver_config_read(struct resolver_config *rc)
{
    *rc = (struct resolver_config){.ndots = 1, .timeout = 5, .attempts = 2};
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, env_path("LRUN_RESOLV_CONF", "/etc/resolv.conf"), &text, NULL) == 0) {
        char *cursor = text.data, *line;
        while ((line = text_lines_next(&cursor, "#;"))) {
            char *save = NULL;
            const char *key = strtok_r(line, " \t\r", &save);
            if (!key)
                continue;
            if (strcmp(key, "nameserver") == 0) {
                const char *addr = strtok_r(NULL, " \t\r", &save);
                if (addr && rc->servers.n < 3)
                    address_literal(addr, 53, &rc->servers);
            } else if (strcmp(key, "search") == 0 || strcmp(key, "domain") == 0) {
                lrun_strv_free(rc->search);
                rc->search = NULL;
                for (const char *d; (d = strtok_r(NULL, " \t\r", &save));)
                    strv_push(&rc->search, xstrdup(d));
            } else if (strcmp(key, "options") == 0) {
                for (const char *o; (o = strtok_r(NULL, " \t\r", &save));) {
                    if (has_prefix(o, "ndots:"))
                        rc->ndots = atoi(o + 6);
                    else if (has_prefix(o, "timeout:"))
                        rc->timeout = atoi(o + 8) > 0 ? atoi(o + 8) : 1;
                    else if (has_prefix(o, "attempts:"))
                        rc->attempts = atoi(o + 9) > 0 ? atoi(o + 9) : 1;
                }
            }
        }
    }
    if (rc->servers.n == 0) { /* no nameserver line: the local one, as glibc */
        unsigned char loopback[4] = {127, 0, 0, 1};
        addresses_add(&rc->servers, AF_INET, loopback, 53);
    }
}

enum { DNS_TYPE_A = 1, DNS_TYPE_AAAA = 28, DNS_RCODE_NXDOMAIN = 3 };

/* dns_query_encode: a recursive query for name; 0 when the name is invalid. */
static size_t dns_query_encode(unsigned char *out, size_t cap, uint16_t id, const char *name, uint16_t type)
{
    size_t n = 0;
    unsigned char header[12] = {(unsigned char)(id >> 8), (unsigned char)id, 0x01, 0, 0, 1};
    memcpy(out, header, sizeof header);
    n = sizeof header;
    for (const char *p = name; *p;) {
        size_t label = strcspn(p, ".");
        if (label == 0 || label > 63 || n + label + 6 > cap)
            return 0;
        out[n++] = (unsigned char)label;
        memcpy(out + n, p, label);
        n += label;
        p += label + (p[label] == '.');
    }
    out[n++] = 0;
    out[n++] = (unsigned char)(type >> 8);
    out[n++] = (unsigned char)type;
    out[n++] = 0;
    out[n++] = 1; /* class IN */
    return n;
}

static const unsigned char *dns_skip_name(const unsigned char *p, const unsigned char *end)
{
    while (p < end) {
        if (*p == 0)
            return p + 1;
        if ((*p & 0xC0) == 0xC0) /* a compression pointer ends the name */
            return p + 2 <= end ? p + 2 : NULL;
        if (*p & 0xC0)
            return NULL;
        p += 1 + *p;
    }
    return NULL;
}

static unsigned dns_u16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* dns_reply_read: the addresses of a reply to query id; returns the reply's
 * rcode, or -1 when the datagram is not that reply. */
static int dns_reply_read(const unsigned char *msg, size_t len, uint16_t id, uint16_t port, struct addresses *out)
{
    if (len < 12 || dns_u16(msg) != id || !(msg[2] & 0x80))
        return -1;
    const unsigned char *p = msg + 12, *end = msg + len;
    for (unsigned i = 0; i < dns_u16(msg + 4); i++) {
        if (!(p = dns_skip_name(p, end)) || p + 4 > end)
            return -1;
        p += 4;
    }
    for (unsigned i = 0; i < dns_u16(msg + 6); i++) {
        if (!(p = dns_skip_name(p, end)) || p + 10 > end)
            return -1;
        unsigned type = dns_u16(p), class = dns_u16(p + 2), length = dns_u16(p + 8);
        p += 10;
        if (p + length > end)
            return -1;
        /* CNAME records come first and name the target the addresses
         * belong to: taking every address record of the answer is enough */
        if (class == 1 && type == DNS_TYPE_A && length == 4)
            addresses_add(out, AF_INET, p, port);
        else if (class == 1 && type == DNS_TYPE_AAAA && length == 16)
            addresses_add(out, AF_INET6, p, port);
        p += length;
    }
    return msg[3] & 0x0F;
}

/* dns_ask: A and AAAA for name from one server; returns the rcode of the A
 * answer (NXDOMAIN means the name does not exist), or -1 when the server
 * did not answer in time. */
static int dns_ask(const struct sockaddr_storage *server, socklen_t server_len, const char *name, uint16_t port,
                   int timeout, struct addresses *out)
{
    autoclose int fd = socket(server->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)server, server_len) < 0)
        return -1;
    uint16_t ids[2];
    random_bytes(ids, sizeof ids);
    const uint16_t types[2] = {DNS_TYPE_A, DNS_TYPE_AAAA};
    for (int i = 0; i < 2; i++) {
        unsigned char query[300];
        size_t n = dns_query_encode(query, sizeof query, ids[i], name, types[i]);
        if (n == 0 || send(fd, query, n, MSG_NOSIGNAL) < 0)
            return -1;
    }
    int rcode[2] = {-1, -1};
    double deadline = monotonic_seconds() + timeout;
    while (rcode[0] < 0 || rcode[1] < 0) {
        int left_ms = (int)((deadline - monotonic_seconds()) * 1000);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left_ms <= 0 || poll(&pfd, 1, left_ms) <= 0)
            break;
        unsigned char reply[1500];
        ssize_t n = recv(fd, reply, sizeof reply, 0);
        if (n < 0)
            return -1; /* ICMP port unreachable: no server there */
        for (int i = 0; i < 2; i++)
            if (rcode[i] < 0)
                rcode[i] = dns_reply_read(reply, (size_t)n, ids[i], port, out);
    }
    return rcode[0] >= 0 ? rcode[0] : rcode[1];
}

static bool host_is_localhost(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || has_suffix(host, ".localhost");
}

/* host_resolve: the addresses of host, port filled in. */
static int host_resolve(const char *host, uint16_t port, struct addresses *out, lrun_error **err)
{
    *out = (struct addresses){0};
    if (address_literal(host, port, out))
        return 0;
    hosts_file_lookup(host, port, out);
    if (out->n)
        return 0;
    if (host_is_localhost(host)) {
        unsigned char v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
        addresses_add(out, AF_INET, v4, port);
        addresses_add(out, AF_INET6, v6, port);
        return 0;
    }
    cleanup(resolver_config_clear) struct resolver_config rc;
    resolver_config_read(&rc);
    /* the names to try: as given first when it has ndots dots (or ends in
     * a dot), else after the search domains */
    autostrv char **names = NULL;
    size_t dots = 0;
    for (const char *p = host; *p; p++)
        dots += *p == '.';
    if (has_suffix(host, ".")) {
        strv_push(&names, xstrndup(host, strlen(host) - 1));
    } else {
        if ((int)dots >= rc.ndots)
            strv_push(&names, xstrdup(host));
        for (size_t i = 0; rc.search && rc.search[i]; i++)
            strv_push(&names, xasprintf("%s.%s", host, rc.search[i]));
        if ((int)dots < rc.ndots)
            strv_push(&names, xstrdup(host));
    }
    bool answered = false;
    for (size_t i = 0; names[i]; i++) {
        bool settled = false; /* a server said yes or "no such name" */
        for (int attempt = 0; attempt < rc.attempts && !settled; attempt++)
            for (size_t s = 0; s < rc.servers.n && !settled; s++) {
                int rcode = dns_ask(&rc.servers.addr[s], rc.servers.len[s], names[i], port, rc.timeout, out);
                settled = rcode == 0 || rcode == DNS_RCODE_NXDOMAIN;
                answered |= rcode >= 0;
            }
        if (out->n)
            return 0;
    }
    if (!answered)
        return fail(err, "lookup %s: no DNS server answered (%s)", host,
                    env_path("LRUN_RESOLV_CONF", "/etc/resolv.conf"));
    return fail(err, "lookup %s: no such host", host);
}

/* --- connections: TCP with timeouts, TLS with mbedTLS --- */

/* What a TLS client trusts: the system's CA bundle and, for a host that
 * has one, its certs.d directory (podman's convention: *.crt are CAs,
 * NAME.cert with NAME.key a client certificate).  Hosts without one share
 * a trust, so the bundle is parsed once a pull. */
struct tls_trust {
    char *dir; /* the certs.d directory, or NULL */
    bool verify;
    mbedtls_x509_crt cas;
    bool has_client;
    mbedtls_x509_crt client_cert;
    mbedtls_pk_context client_key;
};

static void tls_trust_free(struct tls_trust *t)
{
    if (!t)
        return;
    free(t->dir);
    mbedtls_x509_crt_free(&t->cas);
    mbedtls_x509_crt_free(&t->client_cert);
    mbedtls_pk_free(&t->client_key);
    free(t);
}

static const char *system_ca_bundle(void)
{
    static const char *const bundles[] = {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                                          "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem", NULL};
    const char *env = getenv("SSL_CERT_FILE");
    if (env && *env)
        return env;
    for (size_t i = 0; bundles[i]; i++)
        if (access(bundles[i], R_OK) == 0)
            return bundles[i];
    return NULL;
}

static int tls_trust_read_dir(struct tls_trust *t, const char *dir, lrun_error **err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : fail_errno(err, "open %s", dir);
    struct dirent *de;
    int ret = 0;
    while (ret == 0 && (de = readdir(d))) {
        autofree char *path = xasprintf("%s/%s", dir, de->d_name);
        if (has_suffix(de->d_name, ".crt")) {
            if (mbedtls_x509_crt_parse_file(&t->cas, path) < 0)
                ret = fail(err, "read the CA certificate %s", path);
        } else if (has_suffix(de->d_name, ".cert")) {
            autofree char *key = xasprintf("%.*s.key", (int)(strlen(path) - 5), path);
            if (mbedtls_x509_crt_parse_file(&t->client_cert, path) < 0 ||
                mbedtls_pk_parse_keyfile(&t->client_key, key, NULL) < 0)
                ret = fail(err, "read the client certificate %s and its key %s", path, key);
            t->has_client = true;
        }
    }
    closedir(d);
    return ret;
}

/* tls_certs_dir: the directory with host_port's certificates: cert_dir
 * when given, else the first of /etc/containers/certs.d/<host:port> and
 * /etc/docker/certs.d/<host:port> there is; NULL when none is. */
static char *tls_certs_dir(const char *host_port, const char *cert_dir)
{
    if (cert_dir)
        return xstrdup(cert_dir);
    static const char *const roots[] = {"/etc/containers/certs.d", "/etc/docker/certs.d", NULL};
    for (size_t i = 0; roots[i]; i++) {
        char *dir = xasprintf("%s/%s", roots[i], host_port);
        if (access(dir, F_OK) == 0)
            return dir;
        free(dir);
    }
    return NULL;
}

static struct tls_trust *tls_trust_load(const char *dir, bool verify, lrun_error **err)
{
    struct tls_trust *t = xcalloc(1, sizeof *t);
    t->dir = xstrdup(dir);
    t->verify = verify;
    mbedtls_x509_crt_init(&t->cas);
    mbedtls_x509_crt_init(&t->client_cert);
    mbedtls_pk_init(&t->client_key);
    const char *bundle = system_ca_bundle();
    if (verify && bundle)
        mbedtls_x509_crt_parse_file(&t->cas, bundle); /* a bad entry in it spoils only itself */
    if (dir && tls_trust_read_dir(t, dir, err) < 0) {
        tls_trust_free(t);
        return NULL;
    }
    return t;
}

struct connection {
    int fd;
    char *host; /* what it is connected to, for reuse */
    uint16_t port;
    bool tls;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    bool reusable; /* the last response ended cleanly and kept the connection */
    /* A server that keeps a read alive with a byte now and then (slowloris)
     * is cut by these: the head's deadline, the bytes of the current window. */
    int64_t head_deadline_ms, window_start_ms, window_bytes;
    char error[256]; /* the last failure, for byte_source readers */
    size_t pos, len;
    char in[64 * 1024];
};

static void connection_close(struct connection *c)
{
    if (!c)
        return;
    if (c->tls) {
        mbedtls_ssl_free(&c->ssl);
        mbedtls_ssl_config_free(&c->conf);
        mbedtls_ctr_drbg_free(&c->drbg);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->host);
    free(c);
}

static void connection_close_pointer(struct connection **c)
{
    connection_close(*c);
    *c = NULL;
}

static void socket_set_timeout(int fd, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* socket_connect: a TCP connection to the first address that answers
 * within NET_CONNECT_TIMEOUT, with NET_IO_TIMEOUT on reads and writes. */
static int socket_connect(const struct addresses *a, const char *host, lrun_error **err)
{
    int saved = ECONNREFUSED;
    for (size_t i = 0; i < a->n; i++) {
        int fd = socket(a->addr[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int r = connect(fd, (const struct sockaddr *)&a->addr[i], a->len[i]);
        if (r < 0 && errno == EINPROGRESS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int so_error = 0;
            socklen_t len = sizeof so_error;
            r = poll(&pfd, 1, NET_CONNECT_TIMEOUT * 1000);
            if (r == 0)
                errno = ETIMEDOUT, r = -1;
            else if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error)
                errno = so_error, r = -1;
            else if (r > 0)
                r = 0;
        }
        if (r < 0) {
            saved = errno;
            close(fd);
            continue;
        }
        int one = 1;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        socket_set_timeout(fd, NET_IO_TIMEOUT);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }
    errno = saved;
    autofree char *where = a->n ? address_text(&a->addr[0]) : xstrdup(host);
    return fail_errno(err, "dial tcp %s", where);
}

static int tls_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct connection *c = ctx;
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return (int)n;
    if (errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    snprintf(c->error, sizeof c->error, "write: %s", errno == EAGAIN ? "timed out" : strerror(errno));
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int64_t monotonic_ms(void) { return (int64_t)(monotonic_seconds() * 1000); }

/* connection_pace_start: a request was sent: its head is due within the
 * timeout, and a new low-speed window starts. */
static void connection_pace_start(struct connection *c)
{
    c->window_start_ms = monotonic_ms();
    c->window_bytes = 0;
    c->head_deadline_ms = c->window_start_ms + net_timeout_ms();
}

/* connection_pace: after a read of got bytes: false (c->error set) when the
 * head is overdue or the window ended with too few bytes. */
static bool connection_pace(struct connection *c, ssize_t got)
{
    int64_t now = monotonic_ms();
    if (c->head_deadline_ms && now > c->head_deadline_ms) {
        snprintf(c->error, sizeof c->error, "read: timed out waiting for the response head");
        return false;
    }
    c->window_bytes += got > 0 ? got : 0;
    if (c->window_start_ms && now - c->window_start_ms >= net_timeout_ms()) {
        if (c->window_bytes < NET_LOW_SPEED_BYTES) {
            snprintf(c->error, sizeof c->error, "read: too slow (under %d bytes in %" PRId64 " s)",
                     NET_LOW_SPEED_BYTES, net_timeout_ms() / 1000);
            return false;
        }
        c->window_start_ms = now;
        c->window_bytes = 0;
    }
    return true;
}

static int tls_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct connection *c = ctx;
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n >= 0)
        return connection_pace(c, n) ? (int)n : MBEDTLS_ERR_NET_RECV_FAILED;
    if (errno == EINTR)
        return MBEDTLS_ERR_SSL_WANT_READ;
    snprintf(c->error, sizeof c->error, "read: %s", errno == EAGAIN ? "timed out" : strerror(errno));
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static int tls_entropy(void *ctx, unsigned char *out, size_t n)
{
    (void)ctx;
    random_bytes(out, n);
    return 0;
}

static int connection_tls_start(struct connection *c, const struct tls_trust *trust, lrun_error **err)
{
    autofree char *name = xasprintf(strchr(c->host, ':') ? "[%s]:%u" : "%s:%u", c->host, c->port);
    c->tls = true;
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ctr_drbg_init(&c->drbg);
    if (mbedtls_ctr_drbg_seed(&c->drbg, tls_entropy, NULL, (const unsigned char *)"lrun", 4) != 0 ||
        mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0)
        return fail(err, "tls: set up");
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_authmode(&c->conf, trust->verify ? MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_ca_chain(&c->conf, (mbedtls_x509_crt *)&trust->cas, NULL);
    if (trust->has_client &&
        mbedtls_ssl_conf_own_cert(&c->conf, (mbedtls_x509_crt *)&trust->client_cert,
                                  (mbedtls_pk_context *)&trust->client_key) != 0)
        return fail(err, "tls: use the client certificate of %s", trust->dir);
    if (mbedtls_ssl_setup(&c->ssl, &c->conf) != 0 || mbedtls_ssl_set_hostname(&c->ssl, c->host) != 0)
        return fail(err, "tls: set up");
    mbedtls_ssl_set_bio(&c->ssl, c, tls_send, tls_recv, NULL);
    /* a server that does not speak TLS may say nothing at all: do not wait
     * the whole I/O timeout before an insecure registry's http fallback */
    socket_set_timeout(c->fd, NET_HANDSHAKE_TIMEOUT);
    int r;
    while ((r = mbedtls_ssl_handshake(&c->ssl)) != 0) {
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
        if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags) {
            char info[512];
            mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
            for (char *p = info; *p; p++)
                if (*p == '\n')
                    *p = p[1] ? ';' : '\0';
            return fail(err, "tls: the certificate of %s is not trusted: %s", name, info);
        }
        char text[160];
        mbedtls_strerror(r, text, sizeof text);
        return fail(err, "tls: handshake with %s: %s", name, c->error[0] ? c->error : text);
    }
    socket_set_timeout(c->fd, NET_IO_TIMEOUT);
    return 0;
}

/* connection_open: TCP to host:port (at one of addresses), then TLS when
 * trust is given. */
static struct connection *connection_open(const char *host, uint16_t port, const struct addresses *addresses,
                                          const struct tls_trust *trust, lrun_error **err)
{
    cleanup(connection_close_pointer) struct connection *c = xcalloc(1, sizeof *c);
    c->host = xstrdup(host);
    c->port = port;
    if ((c->fd = socket_connect(addresses, host, err)) < 0)
        return NULL;
    if (trust && connection_tls_start(c, trust, err) < 0) {
        if (err && *err)
            (*err)->errnum = EPROTO; /* the handshake failed: a caller may try plain http */
        return NULL;
    }
    return steal_pointer(&c);
}

/* connection_read_raw: up to n bytes; 0 at the end of the stream, -1 with
 * c->error set. */
static ssize_t connection_read_raw(struct connection *c, void *buf, size_t n)
{
    if (c->tls) {
        for (;;) {
            int r = mbedtls_ssl_read(&c->ssl, buf, n > INT_MAX ? INT_MAX : n);
            if (r >= 0)
                return r;
            if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                continue;
            if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF)
                return 0;
            if (r != MBEDTLS_ERR_NET_RECV_FAILED) {
                char text[160];
                mbedtls_strerror(r, text, sizeof text);
                snprintf(c->error, sizeof c->error, "tls: %s", text);
            }
            return -1;
        }
    }
    for (;;) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r >= 0)
            return connection_pace(c, r) ? r : -1;
        if (errno == EINTR)
            continue;
        snprintf(c->error, sizeof c->error, "read: %s", errno == EAGAIN ? "timed out" : strerror(errno));
        return -1;
    }
}

/* connection_read: buffered; reads of a buffer's size or more go straight
 * into the caller's buffer (layer blobs). */
static ssize_t connection_read(struct connection *c, void *buf, size_t n)
{
    if (c->pos < c->len) {
        size_t k = c->len - c->pos < n ? c->len - c->pos : n;
        memcpy(buf, c->in + c->pos, k);
        c->pos += k;
        return (ssize_t)k;
    }
    if (n >= sizeof c->in)
        return connection_read_raw(c, buf, n);
    ssize_t r = connection_read_raw(c, c->in, sizeof c->in);
    if (r <= 0)
        return r;
    c->pos = 0;
    c->len = (size_t)r;
    return connection_read(c, buf, n);
}

static int connection_write(struct connection *c, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (c->tls) {
            int r = mbedtls_ssl_write(&c->ssl, (const unsigned char *)data, n > INT_MAX ? INT_MAX : n);
            if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
                continue;
            if (r < 0 && r != MBEDTLS_ERR_NET_SEND_FAILED) {
                char text[160];
                mbedtls_strerror(r, text, sizeof text);
                snprintf(c->error, sizeof c->error, "tls: %s", text);
            }
            w = r;
        } else {
            w = send(c->fd, data, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                snprintf(c->error, sizeof c->error, "write: %s", errno == EAGAIN ? "timed out" : strerror(errno));
        }
        if (w < 0)
            return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

/* connection_read_line: a line without its CRLF; -1 at the end of the
 * stream (c->error set) or past max bytes. */
static int connection_read_line(struct connection *c, struct buf *line, size_t max)
{
    line->len = 0;
    buf_adds(line, "");
    for (;;) {
        if (c->pos == c->len) {
            ssize_t r = connection_read_raw(c, c->in, sizeof c->in);
            if (r <= 0) {
                if (r == 0)
                    snprintf(c->error, sizeof c->error, "the server closed the connection");
                return -1;
            }
            c->pos = 0;
            c->len = (size_t)r;
        }
        char *start = c->in + c->pos;
        char *nl = memchr(start, '\n', c->len - c->pos);
        size_t take = nl ? (size_t)(nl - start) + 1 : c->len - c->pos;
        buf_add(line, start, take);
        c->pos += take;
        if (nl)
            break;
        if (line->len > max) {
            snprintf(c->error, sizeof c->error, "response header line too long");
            return -1;
        }
    }
    while (line->len && (line->data[line->len - 1] == '\n' || line->data[line->len - 1] == '\r'))
        line->data[--line->len] = '\0';
    return 0;
}

/* --- HTTP/1.1: URLs, requests, response heads and bodies --- */

struct url {
    bool https;
    char *host; /* an IPv6 address without its brackets */
    uint16_t port;
    char *target; /* path and query */
};

static void url_clear(struct url *u)
{
    free(u->host);
    free(u->target);
    *u = (struct url){0};
}
#define autourl cleanup(url_clear)

/* host_port_split: "host", "host:port", "[v6]", "[v6]:port". */
static int host_port_split(const char *text, char **host, uint16_t *port, uint16_t default_port, lrun_error **err)
{
    const char *colon;
    if (*text == '[') {
        const char *end = strchr(text, ']');
        if (!end)
            return fail(err, "invalid host \"%s\"", text);
        *host = xstrndup(text + 1, (size_t)(end - text - 1));
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strchr(text, ':');
        *host = colon ? xstrndup(text, (size_t)(colon - text)) : xstrdup(text);
    }
    *port = default_port;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p <= 0 || p > 65535) {
            free(*host);
            *host = NULL;
            return fail(err, "invalid port in \"%s\"", text);
        }
        *port = (uint16_t)p;
    }
    if (!**host) {
        free(*host);
        *host = NULL;
        return fail(err, "invalid host \"%s\"", text);
    }
    return 0;
}

static int url_parse(const char *text, struct url *u, lrun_error **err)
{
    *u = (struct url){0};
    const char *rest;
    /* a URL a server sent (Location, a Bearer realm) goes into a request
     * line: a CR, LF, space or other control byte there would add headers
     * or requests of the server's choosing */
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        if (*c <= ' ' || *c >= 0x7f) {
            autofree char *quoted = text_quote(text);
            return fail(err, "invalid URL %s: it holds a space, a control byte or a non-ASCII byte", quoted);
        }
    if (strncasecmp(text, "https://", 8) == 0)
        u->https = true, rest = text + 8;
    else if (strncasecmp(text, "http://", 7) == 0)
        rest = text + 7;
    else
        return fail(err, "unsupported URL \"%s\"", text);
    size_t authority_len = strcspn(rest, "/?#");
    autofree char *authority = xstrndup(rest, authority_len);
    char *at = strrchr(authority, '@'); /* user:password@ is not used for registries */
    if (host_port_split(at ? at + 1 : authority, &u->host, &u->port, u->https ? 443 : 80, err) < 0)
        return error_prefix(err, "URL \"%s\"", text);
    const char *path = rest + authority_len;
    size_t path_len = strcspn(path, "#");
    u->target = *path == '/' ? xstrndup(path, path_len) : xasprintf("/%.*s", (int)path_len, path);
    return 0;
}

/* url_authority: "host:port" as a Host header and for messages; the
 * scheme's own port is left out. */
static char *url_authority(const struct url *u)
{
    bool v6 = strchr(u->host, ':') != NULL;
    if (u->port == (u->https ? 443 : 80))
        return xasprintf(v6 ? "[%s]" : "%s", u->host);
    return xasprintf(v6 ? "[%s]:%u" : "%s:%u", u->host, u->port);
}

static char *url_string(const struct url *u)
{
    autofree char *authority = url_authority(u);
    return xasprintf("%s://%s%s", u->https ? "https" : "http", authority, u->target);
}

/* url_resolve: a Location header against the URL it came from (checked
 * by url_parse when it is used). */
static char *url_resolve(const struct url *base, const char *location)
{
    if (strncasecmp(location, "https://", 8) == 0 || strncasecmp(location, "http://", 7) == 0)
        return xstrdup(location);
    if (has_prefix(location, "//"))
        return xasprintf("%s:%s", base->https ? "https" : "http", location);
    autofree char *authority = url_authority(base);
    if (*location == '/')
        return xasprintf("%s://%s%s", base->https ? "https" : "http", authority, location);
    size_t dir = (size_t)(strrchr(base->target, '/') - base->target) + 1;
    return xasprintf("%s://%s%.*s%s", base->https ? "https" : "http", authority, (int)dir, base->target, location);
}

/* query_escape: Go's url.QueryEscape. */
static char *query_escape(const char *s)
{
    struct buf out = {0};
    buf_adds(&out, "");
    for (; *s; s++) {
        if (isalnum((unsigned char)*s) || strchr("-_.~", *s))
            buf_add(&out, s, 1);
        else if (*s == ' ')
            buf_add(&out, "+", 1);
        else
            buf_printf(&out, "%%%02X", (unsigned char)*s);
    }
    return buf_steal(&out);
}

struct http_response {
    int status;
    char **headers; /* "Name: value" as received */
    bool chunked;
    bool close;     /* the server ends the connection after this body */
    int64_t length; /* Content-Length, or -1 */
    int64_t left;   /* bytes left of the body or of the current chunk; -1: until close */
    bool in_chunk;  /* a chunk's data was read: its CRLF comes next */
    bool done;
    struct connection *conn;
};

static void http_response_clear(struct http_response *r)
{
    lrun_strv_free(r->headers);
    *r = (struct http_response){0};
}
#define autoresponse cleanup(http_response_clear)

static const char *http_header(const struct http_response *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; r->headers && r->headers[i]; i++) {
        if (strncasecmp(r->headers[i], name, n) != 0 || r->headers[i][n] != ':')
            continue;
        const char *v = r->headers[i] + n + 1;
        return v + strspn(v, " \t");
    }
    return NULL;
}

/* A request's body: length bytes of data, or of fd from offset (read
 * with pread, so a retry sends them again). */
struct http_body {
    const char *data;
    int fd;
    int64_t offset, length;
};

static int http_send_body(struct connection *c, const struct http_body *body)
{
    if (body->data)
        return connection_write(c, body->data, (size_t)body->length);
    char chunk[65536];
    for (int64_t done = 0; done < body->length;) {
        size_t want = body->length - done < (int64_t)sizeof chunk ? (size_t)(body->length - done) : sizeof chunk;
        ssize_t n = pread(body->fd, chunk, want, body->offset + done);
        if (n <= 0) {
            snprintf(c->error, sizeof c->error, "read the upload: %s", n < 0 ? strerror(errno) : "end of file");
            return -1;
        }
        if (connection_write(c, chunk, (size_t)n) < 0)
            return -1;
        done += n;
    }
    return 0;
}

/* http_send: the request head and, for a method that sends one, the body
 * (none: an empty one). */
static int http_send(struct connection *c, const char *method, const struct url *u, char *const *headers,
                     const struct http_body *body, lrun_error **err)
{
    autobuf struct buf req = {0};
    autofree char *authority = url_authority(u);
    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lrun/%s\r\n", method, u->target, authority,
               LRUN_VERSION);
    for (size_t i = 0; headers && headers[i]; i++)
        buf_printf(&req, "%s\r\n", headers[i]);
    bool sends_body = strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0;
    if (body || sends_body)
        buf_printf(&req, "Content-Length: %" PRId64 "\r\n", body ? body->length : 0);
    buf_adds(&req, "\r\n");
    c->reusable = false;
    c->error[0] = '\0';
    if (connection_write(c, req.data, req.len) < 0 || (body && http_send_body(c, body) < 0))
        return fail(err, "%s %s: %s", method, authority, c->error);
    connection_pace_start(c);
    return 0;
}

#define HTTP_HEAD_MAX (64 * 1024)

static int http_read_head(struct connection *c, const char *method, struct http_response *r, lrun_error **err)
{
    autobuf struct buf line = {0};
    size_t total = 0;
    int minor = 1, interim = 0;
    *r = (struct http_response){.length = -1, .left = -1, .conn = c};
    do {
        lrun_strv_free(r->headers);
        r->headers = NULL;
        if (interim++ > NET_INTERIM_MAX)
            return fail(err, "read the response: too many 1xx informational responses");
        if (connection_read_line(c, &line, HTTP_HEAD_MAX) < 0)
            return fail(err, "read the response: %s", c->error);
        if (sscanf(line.data, "HTTP/1.%d %d", &minor, &r->status) != 2 || r->status < 100 || r->status > 999)
            return fail(err, "malformed HTTP response \"%.80s\"", line.data);
        for (;;) {
            if (connection_read_line(c, &line, HTTP_HEAD_MAX) < 0)
                return fail(err, "read the response: %s", c->error);
            if (line.len == 0)
                break;
            if ((total += line.len) > HTTP_HEAD_MAX)
                return fail(err, "the response headers are too large");
            strv_push(&r->headers, xstrdup(line.data));
        }
    } while (r->status < 200 && r->status != 101); /* 100 Continue and friends */
    c->head_deadline_ms = 0; /* the body is paced by the low-speed window */
    const char *te = http_header(r, "Transfer-Encoding"), *cl = http_header(r, "Content-Length");
    const char *connection = http_header(r, "Connection");
    r->chunked = te && strcasestr(te, "chunked");
    r->close = minor == 0 ? !(connection && strcasestr(connection, "keep-alive"))
                          : connection && strcasestr(connection, "close");
    if (cl && !r->chunked) {
        char *end;
        long long n = strtoll(cl, &end, 10);
        if (end == cl || *end || n < 0)
            return fail(err, "malformed Content-Length \"%s\"", cl);
        r->length = r->left = n;
    }
    if (strcmp(method, "HEAD") == 0 || r->status == 204 || r->status == 304)
        r->length = r->left = 0;
    if (r->chunked)
        r->left = 0;
    else if (r->left < 0)
        r->close = true; /* the body ends when the connection does */
    if (r->left == 0 && !r->chunked) {
        r->done = true;
        c->reusable = !r->close;
    }
    return 0;
}

/* http_chunk_next: the next chunk's size line; at the last chunk, its
 * trailers.  Returns 0, or -1 with c->error set. */
static int http_chunk_next(struct http_response *r)
{
    struct connection *c = r->conn;
    autobuf struct buf line = {0};
    if (r->in_chunk && (connection_read_line(c, &line, 16) < 0 || line.len)) {
        snprintf(c->error, sizeof c->error, "malformed chunked body");
        return -1;
    }
    if (connection_read_line(c, &line, 1024) < 0)
        return -1;
    char *end;
    long long size = strtoll(line.data, &end, 16);
    if (end == line.data || size < 0 || (*end && *end != ';' && *end != ' ')) {
        snprintf(c->error, sizeof c->error, "malformed chunk size \"%.20s\"", line.data);
        return -1;
    }
    r->left = size;
    r->in_chunk = true;
    if (size > 0)
        return 0;
    size_t trailers = 0;
    do { /* trailers, up to the empty line, at most a head's worth */
        if (connection_read_line(c, &line, HTTP_HEAD_MAX) < 0)
            return -1;
        if ((trailers += line.len + 1) > HTTP_HEAD_MAX) {
            snprintf(c->error, sizeof c->error, "the chunked body's trailers are too large");
            return -1;
        }
    } while (line.len);
    r->done = true;
    c->reusable = !r->close;
    return 0;
}

/* http_body_read: up to n bytes of the body; 0 at its end; -1 with *error
 * (a byte_source's read). */
static ssize_t http_body_read(void *ctx, void *buf, size_t n, const char **error)
{
    struct http_response *r = ctx;
    struct connection *c = r->conn;
    if (!r->done && r->chunked && r->left == 0 && http_chunk_next(r) < 0) {
        *error = c->error;
        return -1;
    }
    if (r->done)
        return 0;
    if (r->left >= 0 && (int64_t)n > r->left)
        n = (size_t)r->left;
    ssize_t got = connection_read(c, buf, n);
    if (got == 0 && r->left < 0) {
        r->done = true;
        return 0;
    }
    if (got == 0)
        snprintf(c->error, sizeof c->error, "unexpected EOF: the server cut the body short");
    if (got <= 0) {
        *error = c->error;
        return -1;
    }
    if (r->left > 0)
        r->left -= got;
    if (r->left == 0 && !r->chunked) {
        r->done = true;
        c->reusable = !r->close;
    }
    return got;
}

/* http_body_read_all: the whole body, NUL-terminated, at most max bytes. */
static int http_body_read_all(struct http_response *r, struct buf *out, size_t max, lrun_error **err)
{
    if (r->length > (int64_t)max)
        return fail(err, "the response is too large (%" PRId64 " bytes)", r->length);
    buf_adds(out, "");
    for (;;) {
        buf_reserve(out, 16384);
        const char *error = NULL;
        ssize_t n = http_body_read(r, out->data + out->len, out->cap - out->len - 1, &error);
        if (n < 0)
            return fail(err, "read the response: %s", error);
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
        if (out->len > max)
            return fail(err, "the response is too large (more than %zu bytes)", max);
    }
    return 0;
}

/* http_body_discard: read a small body to its end so the connection can
 * carry the next request (a large one is left: the connection goes). */
static void http_body_discard(struct http_response *r)
{
    char scratch[4096];
    const char *error;
    for (int64_t total = 0; !r->done && total < 1024 * 1024;) {
        ssize_t n = http_body_read(r, scratch, sizeof scratch, &error);
        if (n <= 0)
            break;
        total += n;
    }
}

/* --- credentials: --creds, podman's auth.json, docker's config.json ---
 *
 * Lookup order as containers/image: the auth file (--authfile,
 * $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json or
 * /run/containers/<uid>/auth.json), $XDG_CONFIG_HOME/containers/auth.json,
 * then docker's config.json; in each, "host/ns/repo" before "host/ns"
 * before "host".  Entries are {"auth": base64("user:password")}. */

static char *auth_file_path(const lrun_pull_options *o)
{
    if (o->auth_file && *o->auth_file)
        return xstrdup(o->auth_file);
    const char *env = getenv("REGISTRY_AUTH_FILE");
    if (env && *env)
        return xstrdup(env);
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && *xdg)
        return xasprintf("%s/containers/auth.json", xdg);
    return xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());
}

static char *docker_config_path(void)
{
    const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
    if (dir && *dir)
        return xasprintf("%s/config.json", dir);
    return xasprintf("%s/.docker/config.json", home && *home ? home : "/");
}

static char **auth_file_paths(const lrun_pull_options *o)
{
    char **paths = NULL;
    strv_push(&paths, auth_file_path(o));
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        strv_push(&paths, xasprintf("%s/containers/auth.json", xdg));
    else
        strv_push(&paths, xasprintf("%s/.config/containers/auth.json", home && *home ? home : "/"));
    strv_push(&paths, docker_config_path());
    return paths;
}

/* auth_key_normalize: docker's "https://index.docker.io/v1/" style keys
 * become host names; Docker Hub's hosts all mean docker.io. */
static char *auth_key_normalize(const char *key)
{
    char *k;
    if (strncasecmp(key, "https://", 8) == 0 || strncasecmp(key, "http://", 7) == 0) {
        const char *host = strstr(key, "://") + 3;
        k = xstrndup(host, strcspn(host, "/"));
    } else {
        k = xstrdup(key);
        while (has_suffix(k, "/"))
            k[strlen(k) - 1] = '\0';
    }
    if (strcmp(k, "index.docker.io") == 0 || strcmp(k, "registry-1.docker.io") == 0) {
        free(k);
        k = xstrdup("docker.io");
    }
    return k;
}

/* credentials_split: "user:password" (the password may hold colons). */
static int credentials_split(const char *text, char **user, char **password, lrun_error **err)
{
    const char *colon = strchr(text, ':');
    if (!colon || colon == text)
        return fail(err, "credentials must be USER:PASSWORD");
    *user = xstrndup(text, (size_t)(colon - text));
    *password = xstrdup(colon + 1);
    return 0;
}

static int credentials_from_entry(yajl_val entry, const char *file, char **user, char **password, lrun_error **err)
{
    const char *auth = json_string(entry, "auth");
    autobuf struct buf decoded = {0};
    if (!auth || !*auth)
        return 0; /* an entry for a credential helper: lrun runs none */
    if (!base64_decode(auth, &decoded))
        return fail(err, "%s: an \"auth\" entry is not base64", file);
    return credentials_split(decoded.data, user, password, err) < 0 ? error_prefix(err, "%s", file) : 0;
}

/* credentials_lookup: *user stays NULL when no file has any. */
static int credentials_lookup(const char *domain, const char *repo, const lrun_pull_options *o, char **user,
                              char **password, lrun_error **err)
{
    autostrv char **keys = NULL;
    if (repo) { /* host/ns/repo, host/ns, ... */
        autofree char *key = xasprintf("%s/%s", domain, repo);
        for (char *slash; (slash = strrchr(key, '/'));) {
            strv_push(&keys, xstrdup(key));
            *slash = '\0';
        }
    }
    strv_push(&keys, xstrdup(domain));
    autostrv char **files = auth_file_paths(o);
    for (size_t f = 0; files[f]; f++) {
        autobuf struct buf text = {0};
        if (read_file_at(AT_FDCWD, files[f], &text, NULL) < 0)
            continue;
        autojson yajl_val doc = json_parse(text.data, files[f], err);
        if (!doc)
            return -1;
        yajl_val auths = json_get(doc, "auths");
        for (size_t k = 0; keys[k]; k++)
            for (size_t i = 0; YAJL_IS_OBJECT(auths) && i < auths->u.object.len; i++) {
                autofree char *key = auth_key_normalize(auths->u.object.keys[i]);
                if (strcmp(key, keys[k]) != 0)
                    continue;
                if (credentials_from_entry(auths->u.object.values[i], files[f], user, password, err) < 0)
                    return -1;
                if (*user)
                    return 0;
            }
    }
    return 0;
}

/* auth_file_update: set (auth != NULL) or remove (auth NULL; key NULL: all)
 * an entry of the auth file, keeping everything else in it. */
static int auth_file_update(const char *path, const char *key, const char *auth, bool *found, lrun_error **err)
{
    autobuf struct buf text = {0};
    autojson yajl_val doc = NULL;
    if (read_file_at(AT_FDCWD, path, &text, NULL) == 0 && text.len && !(doc = json_parse(text.data, path, err)))
        return -1;
    if (doc && !YAJL_IS_OBJECT(doc))
        return fail(err, "%s: not a JSON object", path);
    yajl_val auths = json_get(doc, "auths");
    autogen yajl_gen g = json_writer(true);
    yajl_gen_config(g, yajl_gen_indent_string, "\t"); /* as Go's MarshalIndent(..., "\t") */
    yajl_gen_map_open(g);
    jw_key(g, "auths");
    yajl_gen_map_open(g);
    *found = false;
    for (size_t i = 0; YAJL_IS_OBJECT(auths) && i < auths->u.object.len; i++) {
        autofree char *k = auth_key_normalize(auths->u.object.keys[i]);
        if (!key || strcmp(k, key) == 0) {
            *found = true;
            continue;
        }
        jw_key(g, auths->u.object.keys[i]);
        jw_value(g, auths->u.object.values[i]);
    }
    if (auth) {
        jw_key(g, key);
        yajl_gen_map_open(g);
        jw_key_str(g, "auth", auth);
        yajl_gen_map_close(g);
    }
    yajl_gen_map_close(g);
    static const char *const known[] = {"auths", NULL};
    jw_unknown_members(g, doc, known);
    yajl_gen_map_close(g);
    size_t len;
    autofree char *out = json_writer_text(g, &len);
    autofree char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir_p(dir, 0700, err) < 0)
            return -1;
    }
    autoclose int dirfd = open(slash ? (slash == dir ? "/" : dir) : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return fail_errno(err, "open %s", dir);
    return write_file_atomic(dirfd, slash ? strrchr(path, '/') + 1 : path, out, len, 0600, err);
}

/* --- a registry: its endpoint, credentials, tokens, and requests --- */

struct registry {
    char *domain;      /* as in image names: docker.io, localhost:5000 */
    char *host;        /* where the API is: registry-1.docker.io */
    uint16_t port;     /* 0: the scheme's */
    bool insecure;     /* no certificate check, plain http allowed */
    int tls_verify;    /* the caller's choice (lrun_pull_options) */
    const char *cert_dir;
    char *scope;       /* "repository:<path>:pull", or NULL */
    char *basic;       /* base64 of user:password, or NULL */
    pthread_mutex_t lock; /* the fields below are shared by download threads */
    bool use_http;
    char *authorization; /* the Authorization value that works: "Bearer ..." */
    struct tls_trust **trusts;
    size_t n_trusts;
    struct resolved {    /* each host's addresses, looked up once a pull */
        char *host;
        struct addresses addresses;
    } *resolved;
    size_t n_resolved;
};

static void registry_clear(struct registry *reg)
{
    free(reg->domain);
    free(reg->host);
    free(reg->scope);
    free(reg->basic);
    free(reg->authorization);
    for (size_t i = 0; i < reg->n_trusts; i++)
        tls_trust_free(reg->trusts[i]);
    free(reg->trusts);
    for (size_t i = 0; i < reg->n_resolved; i++)
        free(reg->resolved[i].host);
    free(reg->resolved);
    if (reg->domain)
        pthread_mutex_destroy(&reg->lock);
    *reg = (struct registry){0};
}

static bool host_is_loopback(const char *host)
{
    unsigned char raw[16];
    if (inet_pton(AF_INET, host, raw) == 1)
        return raw[0] == 127;
    if (inet_pton(AF_INET6, host, raw) == 1)
        return memcmp(raw, (unsigned char[16]){[15] = 1}, 16) == 0;
    return host_is_localhost(host);
}

/* registry_init: the endpoint of domain; repo (or NULL) sets the scope. */
static int registry_init(struct registry *reg, const char *domain, const char *repo, const lrun_pull_options *o,
                         lrun_error **err)
{
    *reg = (struct registry){0};
    bool hub = strcmp(domain, "docker.io") == 0;
    if (host_port_split(hub ? "registry-1.docker.io" : domain, &reg->host, &reg->port, 0, err) < 0)
        return -1;
    reg->domain = xstrdup(domain);
    pthread_mutex_init(&reg->lock, NULL);
    reg->tls_verify = o->tls_verify;
    reg->insecure = o->tls_verify < 0 || (o->tls_verify == 0 && host_is_loopback(reg->host));
    reg->cert_dir = o->cert_dir;
    reg->scope = repo ? xasprintf("repository:%s:pull", repo) : NULL;
    return 0;
}

static void registry_set_credentials(struct registry *reg, const char *user, const char *password)
{
    autofree char *pair = xasprintf("%s:%s", user, password);
    free(reg->basic);
    reg->basic = base64_encode(pair, strlen(pair));
}

static char *registry_url(struct registry *reg, const char *path)
{
    pthread_mutex_lock(&reg->lock);
    bool http = reg->use_http;
    pthread_mutex_unlock(&reg->lock);
    struct url u = {.https = !http, .host = reg->host, .port = reg->port ? reg->port : http ? 80 : 443,
                    .target = (char *)path};
    return url_string(&u);
}

/* url_is_registry: u is the registry's own origin: scheme, host and port
 * (its credentials go nowhere else: not to http://HOST:444 after a
 * redirect from https://HOST). */
static bool url_is_registry(struct registry *reg, const struct url *u)
{
    pthread_mutex_lock(&reg->lock);
    bool http = reg->use_http;
    pthread_mutex_unlock(&reg->lock);
    uint16_t port = reg->port ? reg->port : http ? 80 : 443;
    return u->https == !http && strcasecmp(u->host, reg->host) == 0 && u->port == port;
}

/* registry_trust: what to check host:port's certificate against; the
 * registry itself is not checked when insecure, other hosts (blob
 * storage, token servers) only when the caller said --tls-verify=false. */
static const struct tls_trust *registry_trust(struct registry *reg, const struct url *u, lrun_error **err)
{
    autofree char *host_port = url_authority(u);
    autofree char *dir = tls_certs_dir(host_port, reg->cert_dir);
    bool verify = url_is_registry(reg, u) ? !reg->insecure : reg->tls_verify >= 0;
    pthread_mutex_lock(&reg->lock);
    struct tls_trust *t = NULL;
    for (size_t i = 0; i < reg->n_trusts && !t; i++)
        if (reg->trusts[i]->verify == verify && (dir ? reg->trusts[i]->dir && strcmp(reg->trusts[i]->dir, dir) == 0
                                                     : !reg->trusts[i]->dir))
            t = reg->trusts[i];
    if (!t && (t = tls_trust_load(dir, verify, err))) {
        reg->trusts = xrealloc(reg->trusts, (reg->n_trusts + 1) * sizeof *reg->trusts);
        reg->trusts[reg->n_trusts++] = t;
    }
    pthread_mutex_unlock(&reg->lock);
    return t;
}

/* registry_resolve: host's addresses, from the pull's cache. */
static int registry_resolve(struct registry *reg, const char *host, uint16_t port, struct addresses *out,
                            lrun_error **err)
{
    pthread_mutex_lock(&reg->lock);
    bool cached = false;
    for (size_t i = 0; i < reg->n_resolved && !cached; i++)
        if (strcmp(reg->resolved[i].host, host) == 0) {
            *out = reg->resolved[i].addresses;
            cached = true;
        }
    pthread_mutex_unlock(&reg->lock);
    for (size_t i = 0; cached && i < out->n; i++) { /* the port may differ, the addresses do not */
        if (out->addr[i].ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&out->addr[i])->sin6_port = htons(port);
        else
            ((struct sockaddr_in *)&out->addr[i])->sin_port = htons(port);
    }
    if (cached)
        return 0;
    if (host_resolve(host, port, out, err) < 0)
        return -1;
    pthread_mutex_lock(&reg->lock);
    reg->resolved = xrealloc(reg->resolved, (reg->n_resolved + 1) * sizeof *reg->resolved);
    reg->resolved[reg->n_resolved++] = (struct resolved){xstrdup(host), *out};
    pthread_mutex_unlock(&reg->lock);
    return 0;
}

/* One thread's connections: to the registry, and to one other host
 * (token server, blob storage). */
struct registry_session {
    struct registry *reg;
    struct connection *conns[2];
};

static void registry_session_close(struct registry_session *rs)
{
    connection_close(rs->conns[0]);
    connection_close(rs->conns[1]);
    rs->conns[0] = rs->conns[1] = NULL;
}

static struct connection *session_connection(struct registry_session *rs, const struct url *u, bool *reused,
                                             lrun_error **err)
{
    struct connection **slot = &rs->conns[url_is_registry(rs->reg, u) ? 0 : 1];
    struct connection *c = *slot;
    *reused = c && c->reusable && c->tls == u->https && c->port == u->port && strcmp(c->host, u->host) == 0;
    if (*reused)
        return c;
    connection_close(c);
    *slot = NULL;
    const struct tls_trust *trust = NULL;
    struct addresses addresses;
    if (registry_resolve(rs->reg, u->host, u->port, &addresses, err) < 0 ||
        (u->https && !(trust = registry_trust(rs->reg, u, err))))
        return NULL;
    return *slot = connection_open(u->host, u->port, &addresses, trust, err);
}

static const char *http_status_text(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 416: return "Requested Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

/* registry_error_text: the registry's error body as docker prints it
 * ("manifest unknown: manifest unknown"), else the HTTP status. */
static char *registry_error_text(struct http_response *r)
{
    autobuf struct buf body = {0};
    autojson yajl_val doc = NULL;
    if (http_body_read_all(r, &body, 64 * 1024, NULL) == 0 && body.len)
        doc = yajl_tree_parse(body.data, NULL, 0);
    yajl_val errors = json_get(doc, "errors");
    struct buf out = {0};
    for (size_t i = 0; i < json_array_len(errors); i++) {
        const char *code = json_string(json_array_at(errors, i), "code");
        const char *message = json_string(json_array_at(errors, i), "message");
        if (!code && !message)
            continue;
        autofree char *lower = xstrdup(code ? code : "error");
        for (char *p = lower; *p; p++)
            *p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
        buf_printf(&out, "%s%s: %s", out.len ? "; " : "", lower, message ? message : "");
    }
    if (out.len)
        return buf_steal(&out);
    buf_free(&out);
    if (r->status == 401)
        return xstrdup("unauthorized: authentication required");
    return xasprintf("unexpected HTTP status %d %s", r->status, http_status_text(r->status));
}

/* challenge_param: a parameter of a WWW-Authenticate challenge
 * (Bearer realm="...",service="...",scope="..."), unquoted. */
static char *challenge_param(const char *challenge, const char *key)
{
    const char *p = challenge + strcspn(challenge, " ");
    size_t klen = strlen(key);
    while (*p) {
        p += strspn(p, " ,\t");
        const char *name = p;
        p += strcspn(p, "=, ");
        bool match = (size_t)(p - name) == klen && strncasecmp(name, key, klen) == 0;
        if (*p != '=')
            continue;
        p++;
        struct buf value = {0};
        buf_adds(&value, "");
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                buf_add(&value, p, 1);
            }
            if (*p == '"')
                p++;
        } else {
            size_t n = strcspn(p, ", ");
            buf_add(&value, p, n);
            p += n;
        }
        if (match)
            return buf_steal(&value);
        buf_free(&value);
    }
    return NULL;
}

static int registry_request(struct registry_session *rs, const char *method, const char *where,
                            char *const *headers, bool authenticate, struct http_response *r, lrun_error **err);
static int registry_request_body(struct registry_session *rs, const char *method, const char *where,
                                 char *const *headers, const struct http_body *body, struct http_response *r,
                                 lrun_error **err);

/* registry_fetch_token: a bearer token from the challenge's realm, with
 * the credentials when there are any. */
static int registry_fetch_token(struct registry_session *rs, const char *challenge, lrun_error **err)
{
    struct registry *reg = rs->reg;
    autofree char *realm = challenge_param(challenge, "realm");
    autofree char *service = challenge_param(challenge, "service");
    autofree char *scope = challenge_param(challenge, "scope");
    if (!realm)
        return fail(err, "the registry's Bearer challenge has no realm");
    autobuf struct buf url = {0};
    buf_adds(&url, realm);
    const char *scope_value = scope ? scope : reg->scope;
    if (service) {
        autofree char *e = query_escape(service);
        buf_printf(&url, "%sservice=%s", strchr(realm, '?') ? "&" : "?", e);
    }
    if (scope_value) {
        autofree char *e = query_escape(scope_value);
        buf_printf(&url, "%sscope=%s", strchr(url.data, '?') ? "&" : "?", e);
    }
    autofree char *basic = reg->basic ? xasprintf("Authorization: Basic %s", reg->basic) : NULL;
    char *headers[] = {basic, NULL};
    autoresponse struct http_response r = {0};
    if (registry_request(rs, "GET", url.data, headers, false, &r, err) < 0)
        return error_prefix(err, "unable to retrieve auth token");
    if (r.status == 401 || r.status == 403) {
        autofree char *why = registry_error_text(&r);
        bool bad_password = r.status == 401 && reg->basic;
        return fail(err, "unable to retrieve auth token: %s%s", bad_password ? "invalid username/password: " : "", why);
    }
    autobuf struct buf body = {0};
    if (r.status != 200) {
        autofree char *why = registry_error_text(&r);
        return fail(err, "unable to retrieve auth token: %s", why);
    }
    if (http_body_read_all(&r, &body, 1024 * 1024, err) < 0)
        return error_prefix(err, "unable to retrieve auth token");
    autojson yajl_val doc = json_parse(body.data, "the token response", err);
    if (!doc)
        return error_prefix(err, "unable to retrieve auth token");
    const char *token = json_string(doc, "token") ? json_string(doc, "token") : json_string(doc, "access_token");
    if (!token || !*token)
        return fail(err, "unable to retrieve auth token: the response has no token");
    pthread_mutex_lock(&reg->lock);
    free(reg->authorization);
    reg->authorization = xasprintf("Bearer %s", token);
    pthread_mutex_unlock(&reg->lock);
    return 0;
}

/* registry_answer_challenge: after a 401, set what the next try sends. */
static int registry_answer_challenge(struct registry_session *rs, const char *challenge, lrun_error **err)
{
    struct registry *reg = rs->reg;
    if (strncasecmp(challenge, "Bearer", 6) == 0)
        return registry_fetch_token(rs, challenge, err);
    if (strncasecmp(challenge, "Basic", 5) == 0 && reg->basic) {
        pthread_mutex_lock(&reg->lock);
        free(reg->authorization);
        reg->authorization = xasprintf("Basic %s", reg->basic);
        pthread_mutex_unlock(&reg->lock);
        return 0;
    }
    return 1; /* nothing to answer with: the 401 stands */
}

static bool http_status_transient(int status) { return status == 429 || (status >= 502 && status <= 504); }

/* A request on its way: where it goes now, and what it went through. */
struct request {
    const char *method;
    const struct http_body *body;
    char *url;
    struct url first; /* where the caller's headers (a token request's Basic credentials) may go */
    bool authenticate; /* send the registry's Authorization, answer its 401s */
    bool answered;     /* a 401 was answered once already */
    int redirects, attempt;
};

/* request_try: connect (or reuse a connection), send, read the head into r.
 * Returns 0; 1 to try again at once (the server had closed the kept-alive
 * connection; an insecure registry speaks plain http); or -1 with *err
 * set and *transient telling whether a later try may do better. */
static int request_try(struct registry_session *rs, struct request *q, const struct url *u, char *const *headers,
                       struct http_response *r, bool *transient, lrun_error **err)
{
    struct registry *reg = rs->reg;
    bool to_registry = url_is_registry(reg, u), reused = false;
    bool same_origin = u->https == q->first.https && u->port == q->first.port && strcasecmp(u->host, q->first.host) == 0;
    autostrv char **all = xcalloc(1, sizeof *all);
    for (size_t i = 0; headers && headers[i]; i++)
        if (same_origin || strncasecmp(headers[i], "Authorization:", 14) != 0)
            strv_push(&all, xstrdup(headers[i]));
    pthread_mutex_lock(&reg->lock);
    if (q->authenticate && to_registry && reg->authorization)
        strv_push(&all, xasprintf("Authorization: %s", reg->authorization));
    pthread_mutex_unlock(&reg->lock);
    struct connection *c = session_connection(rs, u, &reused, err);
    if (!c && (*err)->errnum == EPROTO && to_registry && reg->insecure && u->https) {
        /* the TLS handshake failed: an insecure registry may speak plain
         * http (docker's fallback), for the rest of this pull */
        pthread_mutex_lock(&reg->lock);
        reg->use_http = true;
        pthread_mutex_unlock(&reg->lock);
        free(q->url);
        q->url = registry_url(reg, u->target);
        error_free_pointer(err);
        return 1;
    }
    if (!c) {
        *transient = (*err)->errnum != 0 && (*err)->errnum != EPROTO; /* connect failed; DNS and TLS errors stay */
        return -1;
    }
    if (http_send(c, q->method, u, all, q->body, err) == 0 && http_read_head(c, q->method, r, err) == 0)
        return 0;
    c->reusable = false;
    if (reused) {
        error_free_pointer(err);
        return 1;
    }
    *transient = true;
    return -1;
}

/* request_follow: what a response head asks for next: 1 to send again
 * (q->url changed for a redirect), 0 when r is the answer, -1 on error. */
static int request_follow(struct registry_session *rs, struct request *q, const struct url *u,
                          struct http_response *r, lrun_error **err)
{
    if (r->status == 401 && q->authenticate && url_is_registry(rs->reg, u) && !q->answered) {
        const char *header = http_header(r, "WWW-Authenticate");
        autofree char *challenge = xstrdup(header ? header : "");
        http_body_discard(r);
        int a = registry_answer_challenge(rs, challenge, err);
        q->answered = true;
        return a < 0 ? -1 : a == 0;
    }
    const char *location = http_header(r, "Location");
    if (r->status >= 300 && r->status < 400 && r->status != 304 && location) {
        if (++q->redirects > 10)
            return fail(err, "%s %s: too many redirects", q->method, q->url);
        char *next = url_resolve(u, location);
        http_body_discard(r);
        free(q->url);
        q->url = next;
        return 1;
    }
    if (http_status_transient(r->status) && q->attempt < NET_RETRIES) {
        http_body_discard(r);
        retry_pause(q->attempt++);
        return 1;
    }
    return 0;
}

/* registry_request: METHOD on a path of the registry ("/v2/...") or on a
 * URL, following redirects (no Authorization goes to another host),
 * answering 401 challenges when authenticate, and retrying transient
 * failures.  On 0, *r holds the response head, whatever its status; its
 * body is next on r->conn. */
static int request_run(struct registry_session *rs, struct request q, const char *where, char *const *headers,
                       struct http_response *r, lrun_error **err);

static int registry_request(struct registry_session *rs, const char *method, const char *where,
                            char *const *headers, bool authenticate, struct http_response *r, lrun_error **err)
{
    struct request q = {.method = method, .authenticate = authenticate};
    return request_run(rs, q, where, headers, r, err);
}

/* registry_request_body: an authenticated request with a body (push). */
static int registry_request_body(struct registry_session *rs, const char *method, const char *where,
                                 char *const *headers, const struct http_body *body, struct http_response *r,
                                 lrun_error **err)
{
    struct request q = {.method = method, .body = body, .authenticate = true};
    return request_run(rs, q, where, headers, r, err);
}

/* request_run: q (its method, body and authentication) to where, as
 * registry_request describes. */
static int request_run(struct registry_session *rs, struct request q, const char *where, char *const *headers,
                       struct http_response *r, lrun_error **err)
{
    const char *method = q.method;
    q.url = has_prefix(where, "/") ? registry_url(rs->reg, where) : xstrdup(where);
    if (url_parse(q.url, &q.first, err) < 0) {
        free(q.url);
        return -1;
    }
    int ret;
    for (;;) {
        http_response_clear(r);
        autourl struct url u = {0};
        bool transient = false;
        if (url_parse(q.url, &u, err) < 0) {
            ret = -1;
            break;
        }
        ret = request_try(rs, &q, &u, headers, r, &transient, err);
        if (ret < 0 && transient && q.attempt < NET_RETRIES) {
            error_free_pointer(err);
            retry_pause(q.attempt++);
            continue;
        }
        if (ret < 0) {
            autofree char *text = url_string(&u);
            error_prefix(err, "%s %s", method, text);
            break;
        }
        if (ret == 0 && (ret = request_follow(rs, &q, &u, r, err)) != 1)
            break;
    }
    free(q.url);
    url_clear(&q.first);
    return ret;
}

/* --- downloads: a file from a URL (load -i URL, import URL) --- */

/* http_download: GET url, following redirects, into fd. */
static int http_download(const char *url, int fd, lrun_error **err)
{
    autourl struct url u = {0};
    if (url_parse(url, &u, err) < 0)
        return -1;
    autofree char *authority = url_authority(&u);
    static const lrun_pull_options defaults = {0};
    cleanup(registry_clear) struct registry reg = {0};
    if (registry_init(&reg, authority, NULL, &defaults, err) < 0)
        return -1;
    struct registry_session rs = {.reg = &reg};
    autoresponse struct http_response r = {0};
    int ret = registry_request(&rs, "GET", url, NULL, false, &r, err);
    if (ret == 0 && r.status != 200)
        ret = fail(err, "GET %s: unexpected HTTP status %d %s", url, r.status, http_status_text(r.status));
    autofree char *chunk = ret == 0 ? xmalloc(STREAM_BUFFER) : NULL;
    while (ret == 0) {
        const char *error = NULL;
        ssize_t n = http_body_read(&r, chunk, STREAM_BUFFER, &error);
        if (n < 0)
            ret = fail(err, "GET %s: %s", url, error);
        else if (n == 0)
            break;
        else if (write_all(fd, chunk, (size_t)n) < 0)
            ret = fail_errno(err, "write what %s sends", url);
    }
    registry_session_close(&rs);
    return ret;
}

/* --- manifests, indexes and platforms --- */

#define MANIFEST_MAX (4 * 1024 * 1024) /* containers/image's limits */
#define CONFIG_MAX (16 * 1024 * 1024)


struct platform {
    char *os, *arch, *variant; /* variant "" when any will do */
};

static void platform_clear(struct platform *p)
{
    free(p->os);
    free(p->arch);
    free(p->variant);
}

/* platform_parse: "os/arch[/variant]", NULL for linux/<this machine>. */
static int platform_parse(const char *text, struct platform *p, lrun_error **err)
{
    *p = (struct platform){0};
    if (!text || !*text) {
        p->os = xstrdup("linux");
        p->arch = xstrdup(host_architecture());
        p->variant = xstrdup("");
        return 0;
    }
    autofree char *copy = xstrdup(text);
    char *second = strchr(copy, '/'), *third = second ? strchr(second + 1, '/') : NULL;
    if (!second || second == copy || !second[1] || (third && (third == second + 1 || !third[1] || strchr(third + 1, '/'))))
        return fail(err, "invalid platform \"%s\": expected OS/ARCH[/VARIANT]", text);
    *second = '\0';
    if (third)
        *third = '\0';
    p->os = xstrdup(copy);
    p->arch = xstrdup(second + 1);
    p->variant = xstrdup(third ? third + 1 : "");
    return 0;
}

static bool platform_matches(yajl_val platform, const struct platform *want)
{
    const char *os = json_string(platform, "os"), *arch = json_string(platform, "architecture");
    const char *variant = json_string(platform, "variant");
    if (!os || !arch || strcmp(os, want->os) != 0 || strcmp(arch, want->arch) != 0)
        return false;
    if (!*want->variant || (variant && strcmp(variant, want->variant) == 0))
        return true;
    /* arm64 images often leave out their only variant */
    return !variant && strcmp(want->arch, "arm64") == 0 && strcmp(want->variant, "v8") == 0;
}

/* index_pick: the descriptor of an index (manifest list) for want. */
static yajl_val index_pick(yajl_val index, const struct platform *want)
{
    yajl_val manifests = json_get(index, "manifests");
    for (size_t i = 0; i < json_array_len(manifests); i++)
        if (platform_matches(json_get(json_array_at(manifests, i), "platform"), want))
            return json_array_at(manifests, i);
    return NULL;
}

/* manifest_media_type: what a manifest is, from its mediaType member, the
 * Content-Type, or failing both its shape. */
static const char *manifest_media_type(yajl_val doc, const char *content_type)
{
    const char *t = json_string(doc, "mediaType");
    if (t)
        return t;
    if (content_type && (has_prefix(content_type, MEDIA_DOCKER_LIST) || has_prefix(content_type, MEDIA_OCI_INDEX) ||
                         has_prefix(content_type, MEDIA_DOCKER_MANIFEST) || has_prefix(content_type, MEDIA_OCI_MANIFEST)))
        return content_type;
    return json_get(doc, "manifests") ? MEDIA_OCI_INDEX : MEDIA_OCI_MANIFEST;
}

/* registry_get: a manifest or small blob into out, at most max bytes;
 * with want_digest, checked against it.  A registry error is returned as
 * its message. */
static int registry_get(struct registry_session *rs, const char *path, const char *accept, const char *want_digest,
                        size_t max, struct buf *out, char **content_type, lrun_error **err)
{
    autofree char *accept_header = accept ? xasprintf("Accept: %s", accept) : NULL;
    char *headers[] = {accept_header, NULL};
    autoresponse struct http_response r = {0};
    if (registry_request(rs, "GET", path, headers, true, &r, err) < 0)
        return -1;
    if (r.status != 200) {
        autofree char *why = registry_error_text(&r);
        return fail(err, "%s", why);
    }
    if (http_body_read_all(&r, out, max, err) < 0)
        return -1;
    if (content_type)
        *content_type = xstrdup(http_header(&r, "Content-Type"));
    digest_hex got;
    sha256_hex(out->data, out->len, got);
    if (want_digest && strcmp(digest_hex_part(want_digest), got) != 0)
        return fail(err, "digest mismatch: expected %s, got sha256:%s", want_digest, got);
    return 0;
}

static int registry_get_manifest(struct registry_session *rs, const char *repo, const char *tag_or_digest,
                                 struct buf *out, yajl_val *doc, const char **media_type, char **content_type,
                                 lrun_error **err)
{
    static const char accept[] = MEDIA_OCI_INDEX ", " MEDIA_DOCKER_LIST ", " MEDIA_OCI_MANIFEST ", " MEDIA_DOCKER_MANIFEST;
    autofree char *path = xasprintf("/v2/%s/manifests/%s", repo, tag_or_digest);
    out->len = 0;
    if (registry_get(rs, path, accept, digest_hex_part(tag_or_digest) ? tag_or_digest : NULL, MANIFEST_MAX, out,
                     content_type, err) < 0)
        return -1;
    if (!(*doc = json_parse(out->data, "manifest", err)))
        return -1;
    if (json_int(*doc, "schemaVersion", 0) == 1)
        return fail(err, "unsupported manifest format: Docker schema 1 (ask for the image to be pushed again)");
    *media_type = manifest_media_type(*doc, *content_type);
    return 0;
}

static bool layer_media_type_known(const char *t)
{
    static const char *const known[] = {
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        NULL,
    };
    for (size_t i = 0; t && known[i]; i++)
        if (strcmp(t, known[i]) == 0)
            return true;
    return !t;
}

/* pull_plan_layers: the manifest's layer descriptors as blob_refs. */
static int pull_plan_layers(struct registry *reg, const char *repo, yajl_val manifest, struct image_plan *p,
                            lrun_error **err)
{
    yajl_val layers = json_get(manifest, "layers");
    if (!YAJL_IS_ARRAY(layers))
        return fail(err, "the manifest has no layer list");
    p->n_layers = json_array_len(layers);
    p->layers = xcalloc(p->n_layers + 1, sizeof *p->layers);
    for (size_t i = 0; i < p->n_layers; i++) {
        yajl_val l = json_array_at(layers, i);
        const char *digest = json_string(l, "digest"), *media_type = json_string(l, "mediaType");
        if (!digest_hex_part(digest))
            return fail(err, "layer %zu: unsupported or invalid digest \"%s\"", i, digest ? digest : "");
        if (!layer_media_type_known(media_type))
            return fail(err, "layer %zu: unsupported media type %s", i, media_type);
        p->layers[i].member = xasprintf("%s/%s@%s", reg->domain, repo, digest);
        p->layers[i].digest = xstrdup(digest);
        p->layers[i].size = json_int(l, "size", -1);
    }
    return 0;
}

/* pull_read_config: the image config, from the store when the image is
 * there already (a pull of what is present downloads no blob). */
static int pull_read_config(lrun_store *s, struct registry_session *rs, const char *repo, const char *digest,
                            struct buf *out, lrun_error **err)
{
    struct image *img = store_image_by_id(s, digest_hex_part(digest));
    if (img && image_big_data_read(s, img, digest, out, NULL) == 0) {
        digest_hex got;
        sha256_hex(out->data, out->len, got);
        if (strcmp(got, img->id) == 0)
            return 0;
    }
    buf_free(out);
    autofree char *path = xasprintf("/v2/%s/blobs/%s", repo, digest);
    if (registry_get(rs, path, NULL, digest, CONFIG_MAX, out, NULL, err) < 0)
        return error_prefix(err, "reading config %s", digest);
    return 0;
}

/* pull_read_manifest: the manifest (through an index, for want's
 * platform) of the image ref names, and its layer list, into p; the
 * config's digest in *config_digest. */
static int pull_read_manifest(struct registry_session *rs, const struct reference *ref, const struct platform *want,
                              struct image_plan *p, char **config_digest, lrun_error **err)
{
    const char *tag = ref->digest ? ref->digest : ref->tag;
    autobuf struct buf text = {0};
    autojson yajl_val doc = NULL;
    autofree char *content_type = NULL;
    const char *media_type;
    if (registry_get_manifest(rs, ref->path, tag, &text, &doc, &media_type, &content_type, err) < 0)
        return error_prefix(err, "reading manifest %s in %s/%s", tag, ref->domain, ref->path);
    if (strcmp(media_type, MEDIA_DOCKER_LIST) == 0 || strcmp(media_type, MEDIA_OCI_INDEX) == 0) {
        yajl_val pick = index_pick(doc, want);
        if (!pick)
            return fail(err, "choosing an image from manifest list docker://%s/%s:%s: no image found in manifest "
                             "list for architecture %s, variant \"%s\", OS %s",
                        ref->domain, ref->path, tag, want->arch, want->variant, want->os);
        autofree char *digest = xstrdup(json_string(pick, "digest"));
        if (!digest_hex_part(digest))
            return fail(err, "the manifest list names an invalid digest");
        buf_add(&p->index, text.data, text.len);
        json_free_pointer(&doc);
        free(content_type);
        content_type = NULL;
        if (registry_get_manifest(rs, ref->path, digest, &text, &doc, &media_type, &content_type, err) < 0)
            return error_prefix(err, "reading manifest %s in %s/%s", digest, ref->domain, ref->path);
    }
    if (strcmp(media_type, MEDIA_DOCKER_MANIFEST) != 0 && strcmp(media_type, MEDIA_OCI_MANIFEST) != 0)
        return fail(err, "unsupported manifest type %s", media_type);
    yajl_val config = json_get(doc, "config");
    const char *digest = json_string(config, "digest"), *config_type = json_string(config, "mediaType");
    if (!digest_hex_part(digest))
        return fail(err, "the manifest has no valid config digest");
    if (config_type && strcmp(config_type, "application/vnd.docker.container.image.v1+json") != 0 &&
        strcmp(config_type, "application/vnd.oci.image.config.v1+json") != 0)
        return fail(err, "not a container image: its config is %s", config_type);
    if (pull_plan_layers(rs->reg, ref->path, doc, p, err) < 0)
        return -1;
    buf_add(&p->manifest, text.data, text.len);
    strv_push(&p->names, reference_string(ref));
    *config_digest = xstrdup(digest);
    return 0;
}

/* --- blob downloads: a byte_source that resumes where a connection broke --- */

struct blob_download {
    struct registry_session *rs;
    char *path;
    int64_t size;      /* from the manifest, or -1 */
    int64_t offset;    /* bytes handed on so far */
    int64_t *received; /* progress counter, read by the drawing thread */
    const bool *cancel;
    struct http_response response;
    bool open;
    int retries;
    char error[400];
};

static void blob_download_close(struct blob_download *d)
{
    http_response_clear(&d->response);
    free(d->path);
    d->path = NULL;
}

static int blob_download_skip(struct blob_download *d, int64_t n, lrun_error **err)
{
    char scratch[16384];
    while (n > 0) {
        const char *error = NULL;
        ssize_t got = http_body_read(&d->response, scratch, n < (int64_t)sizeof scratch ? (size_t)n : sizeof scratch,
                                     &error);
        if (got <= 0)
            return fail(err, "resume: %s", got == 0 ? "the blob is shorter than before" : error);
        n -= got;
    }
    return 0;
}

/* blob_download_open: GET the blob from d->offset on (a Range request
 * after a broken connection; a server that ignores it sends it all again
 * and the part already used is skipped). */
static int blob_download_open(struct blob_download *d, lrun_error **err)
{
    autofree char *range = d->offset > 0 ? xasprintf("Range: bytes=%" PRId64 "-", d->offset) : NULL;
    char *headers[] = {range, NULL};
    if (registry_request(d->rs, "GET", d->path, headers, true, &d->response, err) < 0)
        return -1;
    struct http_response *r = &d->response;
    int64_t start = 0;
    if (r->status == 206 && d->offset > 0) {
        const char *cr = http_header(r, "Content-Range");
        if (!cr || sscanf(cr, "bytes %" SCNd64 "-", &start) != 1 || start != d->offset)
            return fail(err, "resume: the server sent the wrong range (%s)", cr ? cr : "no Content-Range");
    } else if (r->status != 200) {
        autofree char *why = registry_error_text(r);
        return fail(err, "%s", why);
    }
    if (d->size >= 0 && r->length >= 0 && start + r->length != d->size)
        return fail(err, "the registry sends %" PRId64 " bytes, the manifest says %" PRId64, start + r->length,
                    d->size);
    if (r->status == 200 && d->offset > 0 && blob_download_skip(d, d->offset, err) < 0)
        return -1;
    d->open = true;
    return 0;
}

static ssize_t blob_download_read(void *ctx, void *buf, size_t n, const char **error)
{
    struct blob_download *d = ctx;
    for (;;) {
        if (__atomic_load_n(d->cancel, __ATOMIC_RELAXED)) {
            *error = "cancelled: another layer failed";
            return -1;
        }
        if (!d->open) {
            autoerror lrun_error *err = NULL;
            if (blob_download_open(d, &err) < 0) {
                char before[sizeof d->error];
                memcpy(before, d->error, sizeof before);
                snprintf(d->error, sizeof d->error, "%.200s (after: %.180s)", err->message, before);
                *error = d->error;
                return -1;
            }
        }
        const char *read_error = NULL;
        ssize_t got = http_body_read(&d->response, buf, n, &read_error);
        if (got >= 0) {
            d->offset += got;
            __atomic_add_fetch(d->received, (int64_t)got, __ATOMIC_RELAXED);
            if (d->size >= 0 && d->offset > d->size) {
                snprintf(d->error, sizeof d->error, "the blob is larger than the manifest says (%" PRId64 ")", d->size);
                *error = d->error;
                return -1;
            }
            return got;
        }
        /* the connection broke mid-blob: a new one resumes from here */
        snprintf(d->error, sizeof d->error, "%s", read_error);
        d->response.conn->reusable = false;
        d->open = false;
        if (d->retries >= NET_RETRIES) {
            *error = d->error;
            return -1;
        }
        retry_pause(d->retries++);
    }
}

/* --- the blob info cache: how layers compressed, where blobs are ---
 * As c/image's blob-info-cache: a push finds a blob the registry has
 * without compressing the layer again, and mounts one that another
 * repository of the registry has instead of uploading it.  lrun's is a
 * text file, <root>/lrun/blob-info-cache, of lines appended under its
 * own lock (blob-info-cache.lock) when a pull or push succeeded:
 *   compressed <diff-id> <gzip|zstd> <blob digest> <size>
 *   location <blob digest> <registry>/<repository>                     */

static int blob_cache_lock(const char *root, bool write, lrun_error **err)
{
    autofree char *dir = xasprintf("%s/lrun", root);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return fail_errno(err, "mkdir %s", dir);
    autofree char *path = xasprintf("%s/blob-info-cache.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fail_errno(err, "open %s", path);
    if (lock_file_lock(fd, write, path, err) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* blob_cache_lines: the cache's lines that start with prefix. */
static char **blob_cache_lines(const char *root, const char *prefix)
{
    char **lines = xcalloc(1, sizeof *lines);
    autoclose int lock = blob_cache_lock(root, false, NULL);
    autofree char *path = xasprintf("%s/lrun/blob-info-cache", root);
    autobuf struct buf text = {0};
    if (lock < 0 || read_file_at(AT_FDCWD, path, &text, NULL) < 0)
        return lines;
    char *save = NULL;
    for (char *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (has_prefix(line, prefix))
            strv_push(&lines, xstrdup(line));
    return lines;
}

/* blob_cache_add: the lines the cache does not have yet (a cache that
 * cannot be written is only a slower next push). */
static void blob_cache_add(const char *root, char *const *lines)
{
    autoclose int lock = blob_cache_lock(root, true, NULL);
    autofree char *path = xasprintf("%s/lrun/blob-info-cache", root);
    autobuf struct buf text = {0};
    if (lock < 0)
        return;
    buf_adds(&text, "\n"); /* so every line, the first too, is "\n<line>\n" */
    autobuf struct buf file = {0};
    if (read_file_at(AT_FDCWD, path, &file, NULL) == 0)
        buf_add(&text, file.data, file.len);
    autobuf struct buf added = {0};
    for (size_t i = 0; lines && lines[i]; i++) {
        autofree char *needle = xasprintf("\n%s\n", lines[i]);
        if (!strstr(text.data, needle) && !strstr(added.data ? added.data : "", needle + 1)) {
            buf_adds(&added, needle + 1);
            buf_adds(&text, needle + 1);
        }
    }
    autoclose int fd = added.len ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
    if (fd >= 0 && write_all(fd, added.data, added.len) < 0)
        (void)0; /* a cache is a hint: a lost line costs only time */
}

/* --- pull: plan, parallel layer downloads, progress, commit --- */

/* The download threads start before the layer jobs are known: while this
 * thread reads the config and records the missing layers, each opens the
 * request for one blob no stored layer has (its early blob), which saves a
 * round trip to the registry; once the jobs are planned they take them. */
struct pull_run {
    struct load_run load; /* plans, layer jobs, store, progress lines */
    struct registry *reg;
    const char *repo;
    lrun_progress_fn progress; /* the caller's */
    void *userdata;
    int bars_fd;               /* > 0: draw progress bars there */
    struct blob_ref **early;   /* blobs to open before the plan */
    size_t n_early;
    bool *early_held;          /* per early blob: a thread has it open (under the lock) */
    pthread_t *threads;
    size_t n_threads;
    pthread_mutex_t lock;      /* the fields below */
    pthread_cond_t changed;
    size_t next_early, running;
    bool planned;              /* the jobs and the per-job arrays exist */
    bool failed;               /* also read without the lock, atomically */
    lrun_error *error;         /* the first failure */
    bool drawing;
    size_t lines_drawn;
    bool *taken;               /* per job, under the lock */
    double *started;           /* per job, under the lock */
    int64_t *received;         /* per job, atomically */
    bool *finished;            /* per job, atomically */
};

/* pull_progress_line: the load code's lines, from any thread; while the
 * bars are drawn they show what these lines would say. */
static void pull_progress_line(void *userdata, const char *line)
{
    struct pull_run *pr = userdata;
    pthread_mutex_lock(&pr->lock);
    if (!pr->drawing && pr->progress)
        pr->progress(pr->userdata, line);
    pthread_mutex_unlock(&pr->lock);
}

static char *binary_size(double n)
{
    static const char *units[] = {"b", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (n >= 1024 && i < 4)
        n /= 1024, i++;
    return xasprintf("%.1f%s", n, units[i]);
}

/* pull_draw: one line per downloading layer, redrawn in place as podman's
 * bars are: "Copying blob 3f1a... [=====>     ] 1.2MiB / 3.4MiB 5.0MiB/s". */
static void pull_draw(struct pull_run *pr)
{
    autobuf struct buf out = {0};
    if (pr->lines_drawn)
        buf_printf(&out, "\033[%zuA\033[J", pr->lines_drawn);
    double now = monotonic_seconds();
    for (size_t i = 0; i < pr->load.n_jobs; i++) {
        const char *hex = blob_short(pr->load.jobs[i].blob);
        if (__atomic_load_n(&pr->finished[i], __ATOMIC_RELAXED)) {
            buf_printf(&out, "Copying blob %.12s done  \n", hex);
            continue;
        }
        int64_t got = __atomic_load_n(&pr->received[i], __ATOMIC_RELAXED), total = pr->load.jobs[i].blob->size;
        pthread_mutex_lock(&pr->lock);
        double started = pr->started[i];
        pthread_mutex_unlock(&pr->lock);
        char bar[31];
        int filled = total > 0 ? (int)(30.0 * (double)got / (double)total) : 0;
        for (int k = 0; k < 30; k++)
            bar[k] = k < filled ? '=' : k == filled ? '>' : ' ';
        bar[30] = '\0';
        autofree char *have = binary_size((double)got);
        autofree char *whole = binary_size((double)(total > 0 ? total : got));
        autofree char *rate = binary_size(started > 0 && now > started ? (double)got / (now - started) : 0);
        buf_printf(&out, "Copying blob %.12s [%s] %s / %s %s/s\n", hex, bar, have, whole, rate);
    }
    if (write_all(pr->bars_fd, out.data, out.len) < 0)
        pr->bars_fd = -1;
    pr->lines_drawn = pr->load.n_jobs;
}

static void pull_fail(struct pull_run *pr, lrun_error **err)
{
    pthread_mutex_lock(&pr->lock);
    if (!pr->failed) {
        __atomic_store_n(&pr->failed, true, __ATOMIC_RELAXED);
        pr->error = steal_pointer(err);
    }
    pthread_cond_broadcast(&pr->changed);
    pthread_mutex_unlock(&pr->lock);
    error_free_pointer(err);
}

static void blob_download_init(struct blob_download *d, struct pull_run *pr, struct registry_session *rs,
                               const struct blob_ref *blob, int64_t *received)
{
    *d = (struct blob_download){.rs = rs, .size = blob->size, .received = received, .cancel = &pr->failed};
    d->path = xasprintf("/v2/%s/blobs/%s", pr->repo, blob->digest);
}

/* pull_open_early: this thread's early blob, opened into d; NULL when
 * there is none, or it failed (then its job opens it again, and reports). */
static const struct blob_ref *pull_open_early(struct pull_run *pr, struct registry_session *rs,
                                              struct blob_download *d, int64_t *scratch)
{
    pthread_mutex_lock(&pr->lock);
    size_t k = pr->next_early < pr->n_early ? pr->next_early++ : pr->n_early;
    if (k < pr->n_early)
        pr->early_held[k] = true; /* from now: no other thread takes its job */
    pthread_mutex_unlock(&pr->lock);
    if (k == pr->n_early)
        return NULL;
    struct blob_ref *blob = pr->early[k];
    blob_download_init(d, pr, rs, blob, scratch);
    autoerror lrun_error *err = NULL;
    if (blob_download_open(d, &err) == 0)
        return blob;
    blob_download_close(d);
    pthread_mutex_lock(&pr->lock);
    pr->early_held[k] = false;
    pthread_mutex_unlock(&pr->lock);
    return NULL;
}

/* pull_early_held: (under the lock) whether another thread holds digest's
 * blob open for its job; with release, this thread lets go of it. */
static bool pull_early_held(struct pull_run *pr, const char *digest, bool release)
{
    for (size_t k = 0; k < pr->n_early; k++)
        if (pr->early_held[k] && strcmp(pr->early[k]->digest, digest) == 0) {
            pr->early_held[k] = !release;
            return true;
        }
    return false;
}

/* pull_take_job: (under the lock) the job for this thread's early blob if
 * there is one (letting go of the blob), else the next job nobody took
 * whose blob no other thread holds open; -1 when none is left. */
static ssize_t pull_take_job(struct pull_run *pr, const struct blob_ref *early)
{
    ssize_t pick = -1;
    if (early)
        pull_early_held(pr, early->digest, true);
    for (size_t i = 0; i < pr->load.n_jobs && pick < 0; i++) {
        const char *digest = pr->load.jobs[i].blob->digest;
        if (!pr->taken[i] && (early ? strcmp(digest, early->digest) == 0 : !pull_early_held(pr, digest, false)))
            pick = (ssize_t)i;
    }
    if (pick < 0 && early)
        return pull_take_job(pr, NULL);
    if (pick >= 0) {
        pr->taken[pick] = true;
        pr->started[pick] = monotonic_seconds();
    }
    return pick;
}

/* pull_job_fill: job i's blob (d, opened) into a temporary file first
 * (bounded by the manifest's size as it comes), its digest checked there,
 * and only then into its layer, as c/image stages blobs: a blob that is not
 * the one the manifest names (a 9 MB gzip bomb under another digest)
 * writes nothing into the store. */
static int pull_job_fill(struct pull_run *pr, size_t i, struct blob_download *d, lrun_error **err)
{
    struct layer_job *job = &pr->load.jobs[i];
    autofree char *what = xasprintf("layer %.12s (%s)", blob_short(job->blob), job->blob->member);
    autoclose int fd = temp_file(err);
    if (fd < 0)
        return error_prefix(err, "%s", what);
    SHA256_CTX sha;
    SHA256_Init(&sha);
    char chunk[65536];
    for (;;) {
        const char *why = "read";
        ssize_t n = blob_download_read(d, chunk, sizeof chunk, &why);
        if (n < 0)
            return fail(err, "%s: %s", what, why);
        if (n == 0)
            break;
        SHA256_Update(&sha, chunk, (size_t)n);
        if (write_all(fd, chunk, (size_t)n) < 0)
            return fail_errno(err, "%s: write to %s", what, temp_dir());
    }
    digest_hex got;
    sha256_final_hex(&sha, got);
    const char *want = digest_hex_part(job->blob->digest);
    if (!want || strcmp(want, got) != 0)
        return fail(err, "%s: blob digest mismatch: expected %s, got sha256:%s", what, job->blob->digest, got);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return fail_errno(err, "%s: rewind", what);
    struct byte_source source = {fd_source_read, &fd};
    if (load_job_fill(&pr->load, job, &source, err) < 0)
        return -1;
    __atomic_store_n(&pr->finished[i], true, __ATOMIC_RELAXED);
    return 0;
}

static void *pull_worker(void *arg)
{
    struct pull_run *pr = arg;
    struct registry_session rs = {.reg = pr->reg};
    struct blob_download early;
    int64_t scratch = 0;
    const struct blob_ref *early_blob = pull_open_early(pr, &rs, &early, &scratch);
    pthread_mutex_lock(&pr->lock);
    while (!pr->planned && !pr->failed)
        pthread_cond_wait(&pr->changed, &pr->lock);
    pthread_mutex_unlock(&pr->lock);
    for (;;) {
        pthread_mutex_lock(&pr->lock);
        ssize_t i = pr->failed ? -1 : pull_take_job(pr, early_blob);
        pthread_mutex_unlock(&pr->lock);
        if (i < 0)
            break;
        struct layer_job *job = &pr->load.jobs[i];
        struct blob_download d;
        autoerror lrun_error *err = NULL;
        if (early_blob && strcmp(early_blob->digest, job->blob->digest) == 0) {
            d = early; /* the early request is this job's */
            d.received = &pr->received[i];
        } else {
            if (early_blob)
                blob_download_close(&early);
            blob_download_init(&d, pr, &rs, job->blob, &pr->received[i]);
            if (blob_download_open(&d, &err) < 0)
                error_prefix(&err, "fetching blob %s", job->blob->digest);
        }
        early_blob = NULL;
        int r = err ? -1 : pull_job_fill(pr, (size_t)i, &d, &err);
        blob_download_close(&d);
        if (r < 0) {
            pull_fail(pr, &err);
            break;
        }
    }
    if (early_blob) /* a blob the store had after all, under another digest */
        blob_download_close(&early);
    registry_session_close(&rs);
    pthread_mutex_lock(&pr->lock);
    pr->running--;
    pthread_cond_broadcast(&pr->changed);
    pthread_mutex_unlock(&pr->lock);
    return NULL;
}

/* pull_start_threads: download threads up to count (max_parallel at most). */
static void pull_start_threads(struct pull_run *pr, size_t count, int max_parallel)
{
    size_t limit = max_parallel > 0 ? (size_t)max_parallel : 3;
    count = count < limit ? count : limit;
    if (!pr->threads)
        pr->threads = xcalloc(limit, sizeof *pr->threads);
    for (; pr->n_threads < count; pr->n_threads++) {
        pthread_mutex_lock(&pr->lock);
        pr->running++;
        pthread_mutex_unlock(&pr->lock);
        if (pthread_create(&pr->threads[pr->n_threads], NULL, pull_worker, pr) != 0) {
            pthread_mutex_lock(&pr->lock);
            pr->running--;
            pthread_mutex_unlock(&pr->lock);
            break; /* fewer threads will do; none: this thread downloads */
        }
    }
}

/* pull_start_early: threads for the blobs no stored layer has (by their
 * compressed digest), to open them while the plan is made. */
static void pull_start_early(struct pull_run *pr, int max_parallel)
{
    struct image_plan *p = &pr->load.plans[0];
    lrun_store *s = pr->load.store;
    pr->early = xcalloc(p->n_layers + 1, sizeof *pr->early);
    pr->early_held = xcalloc(p->n_layers + 1, sizeof *pr->early_held);
    for (size_t i = 0; i < p->n_layers; i++) {
        bool known = false;
        for (size_t k = 0; k < s->n_layers && !known; k++)
            known = !s->layers[k]->incomplete && s->layers[k]->compressed_digest &&
                    strcmp(s->layers[k]->compressed_digest, p->layers[i].digest) == 0;
        for (size_t k = 0; k < pr->n_early && !known; k++)
            known = strcmp(pr->early[k]->digest, p->layers[i].digest) == 0;
        if (!known)
            pr->early[pr->n_early++] = &p->layers[i];
    }
    pull_start_threads(pr, pr->n_early, max_parallel);
}

/* pull_stop: end the threads when this thread failed before the plan. */
static void pull_stop(struct pull_run *pr)
{
    pthread_mutex_lock(&pr->lock);
    __atomic_store_n(&pr->failed, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&pr->changed);
    pthread_mutex_unlock(&pr->lock);
    for (size_t i = 0; i < pr->n_threads; i++)
        pthread_join(pr->threads[i], NULL);
    pr->n_threads = 0;
}

/* pull_fill_layers: hand the planned jobs to the threads (started here if
 * the early ones are too few) and wait for them, drawing the bars. */
static int pull_fill_layers(struct pull_run *pr, int max_parallel, lrun_error **err)
{
    size_t n = pr->load.n_jobs;
    pr->taken = xcalloc(n + 1, sizeof *pr->taken);
    pr->started = xcalloc(n + 1, sizeof *pr->started);
    pr->received = xcalloc(n + 1, sizeof *pr->received);
    pr->finished = xcalloc(n + 1, sizeof *pr->finished);
    pthread_mutex_lock(&pr->lock);
    pr->planned = true;
    pr->drawing = pr->bars_fd > 0 && n > 0;
    pthread_cond_broadcast(&pr->changed);
    pthread_mutex_unlock(&pr->lock);
    pull_start_threads(pr, n, max_parallel);
    if (pr->n_threads == 0 && n > 0)
        return fail(err, "start a download thread: %s", strerror(EAGAIN));
    pthread_mutex_lock(&pr->lock);
    while (pr->running > 0) {
        if (!pr->drawing) {
            pthread_cond_wait(&pr->changed, &pr->lock);
            continue;
        }
        pthread_mutex_unlock(&pr->lock);
        pull_draw(pr);
        pthread_mutex_lock(&pr->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L)
            until.tv_sec++, until.tv_nsec -= 1000000000L;
        if (pr->running > 0)
            pthread_cond_timedwait(&pr->changed, &pr->lock, &until);
    }
    pthread_mutex_unlock(&pr->lock);
    for (size_t i = 0; i < pr->n_threads; i++)
        pthread_join(pr->threads[i], NULL);
    pr->n_threads = 0;
    if (pr->drawing) {
        pull_draw(pr);
        pr->drawing = false;
    }
    if (pr->failed) {
        *err = steal_pointer(&pr->error);
        return -1;
    }
    return 0;
}

static void pull_run_release(struct pull_run *pr)
{
    load_run_release(&pr->load);
    lrun_error_free(pr->error);
    free(pr->early);
    free(pr->early_held);
    free(pr->threads);
    free(pr->taken);
    free(pr->received);
    free(pr->finished);
    free(pr->started);
    pthread_mutex_destroy(&pr->lock);
    pthread_cond_destroy(&pr->changed);
}

/* registry_use_credentials: --creds, else the auth files. */
static int registry_use_credentials(struct registry *reg, const char *repo, const lrun_pull_options *o,
                                    lrun_error **err)
{
    autofree char *user = NULL, *password = NULL;
    if (o->creds ? credentials_split(o->creds, &user, &password, err) < 0
                 : credentials_lookup(reg->domain, repo, o, &user, &password, err) < 0)
        return -1;
    if (user)
        registry_set_credentials(reg, user, password);
    return 0;
}

static int image_pull(lrun_store *s, const char *name, const lrun_pull_options *o, char **image_id, lrun_error **err)
{
    static const lrun_pull_options defaults = {0};
    o = o ? o : &defaults;
    if (store_require_write(s, err) < 0)
        return -1;
    autoreference struct reference ref;
    if (reference_parse(name, &ref, err) < 0)
        return -1;
    autofree char *full = reference_string(&ref);
    cleanup(platform_clear) struct platform want = {0};
    if (platform_parse(o->platform, &want, err) < 0)
        return -1;
    cleanup(registry_clear) struct registry reg = {0};
    if (registry_init(&reg, ref.domain, ref.path, o, err) < 0 || registry_use_credentials(&reg, ref.path, o, err) < 0)
        return error_prefix(err, "initializing source docker://%s", full);
    cleanup(pull_run_release) struct pull_run pr = {
        .load = {.store = s, .progress = pull_progress_line, .n_plans = 1},
        .reg = &reg, .repo = ref.path, .progress = o->progress, .userdata = o->userdata, .bars_fd = o->progress_fd,
    };
    pr.load.userdata = &pr;
    pr.load.plans = xcalloc(1, sizeof *pr.load.plans);
    pthread_mutex_init(&pr.lock, NULL);
    pthread_cond_init(&pr.changed, NULL);
    load_progress(&pr.load, "Trying to pull %s...", full);
    struct image_plan *p = &pr.load.plans[0];
    struct registry_session rs = {.reg = &reg};
    autofree char *config_digest = NULL;
    int r = pull_read_manifest(&rs, &ref, &want, p, &config_digest, err);
    if (r == 0) {
        pull_start_early(&pr, o->max_parallel);
        r = pull_read_config(s, &rs, ref.path, config_digest, &p->config, err);
    }
    registry_session_close(&rs);
    if (r < 0 || image_plan_finish(p, err) < 0) {
        pull_stop(&pr);
        return error_prefix(err, "initializing source docker://%s", full);
    }
    load_progress(&pr.load, "Getting image source signatures");
    if (load_plan_jobs(&pr.load, err) < 0) {
        pull_stop(&pr);
        load_undo(&pr.load);
        return error_prefix(err, "writing blob");
    }
    if (pull_fill_layers(&pr, o->max_parallel, err) < 0 || load_mark_complete(&pr.load, err) < 0) {
        load_undo(&pr.load);
        return error_prefix(err, "writing blob");
    }
    autostrv char **names = NULL;
    if (load_commit_images(&pr.load, &names, err) < 0)
        return -1;
    autostrv char **known = xcalloc(1, sizeof *known); /* where these blobs are, for a later push's mount */
    for (size_t i = 0; i < p->n_layers; i++)
        strv_push(&known, xasprintf("location %s %s/%s", p->layers[i].digest, ref.domain, ref.path));
    blob_cache_add(s->root, known);
    *image_id = xstrdup(pr.load.plans[0].config_id);
    return 0;
}

int lrun_image_pull(lrun_store *s, const char *name, const lrun_pull_options *o, char **image_id, lrun_error **err)
{
    return image_pull(s, name, o, image_id, err);
}

/* --- push: each layer reused, mounted or uploaded, then config and manifest ---
 * A layer goes compressed as it came (or as --compression-format says):
 * the blob the registry (or the cache) already knows is only checked
 * (HEAD) or mounted from another repository; otherwise the layer's tar is
 * rebuilt from its tar-split, compressed into a temporary file (gzip with
 * no time stamp, so the same layer gives the same blob every time) and
 * uploaded: at once (POST, PUT) up to the chunk size, in PATCH chunks
 * beyond it. */

struct push_run {
    lrun_store *store;
    struct registry *reg;
    struct registry_session rs;
    const char *repo;
    int compression;  /* -1: as each layer came (gzip when it came plain) */
    bool oci;         /* the manifest format */
    int64_t chunk;    /* monolithic uploads up to this many bytes */
    lrun_progress_fn progress;
    void *userdata;
    char **cache;     /* cache lines to add once the push succeeded */
};

PRINTF(2, 3) static void push_progress(struct push_run *p, const char *fmt, ...)
{
    if (!p->progress)
        return;
    va_list ap;
    char *line;
    va_start(ap, fmt);
    if (vasprintf(&line, fmt, ap) < 0)
        die_oom();
    va_end(ap);
    p->progress(p->userdata, line);
    free(line);
}

static const char *compression_name(int compression)
{
    return compression == COMPRESSION_ZSTD ? "zstd" : compression == COMPRESSION_GZIP ? "gzip" : "none";
}

/* push_check: 0 when the response has one of the statuses wanted, else
 * the registry's error. */
static int push_check(struct http_response *r, int want, int also, lrun_error **err)
{
    if (r->status == want || r->status == also)
        return 0;
    autofree char *why = registry_error_text(r);
    return fail(err, "%s", why);
}

/* push_blob_exists: HEAD the blob in the repository: 1 there, 0 not. */
static int push_blob_exists(struct push_run *p, const char *digest, lrun_error **err)
{
    autofree char *path = xasprintf("/v2/%s/blobs/%s", p->repo, digest);
    autoresponse struct http_response r = {0};
    if (registry_request(&p->rs, "HEAD", path, NULL, true, &r, err) < 0)
        return -1;
    if (r.status == 200)
        return 1;
    return r.status == 404 ? 0 : push_check(&r, 200, 404, err);
}

/* push_upload_start: an upload session's URL; with from, a mount of the
 * blob from that repository first (*mounted when the registry did it). */
static char *push_upload_start(struct push_run *p, const char *digest, const char *from, bool *mounted,
                               lrun_error **err)
{
    autofree char *escaped = digest ? query_escape(digest) : NULL;
    autofree char *from_escaped = from ? query_escape(from) : NULL;
    autofree char *path = from ? xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", p->repo, escaped, from_escaped)
                               : xasprintf("/v2/%s/blobs/uploads/", p->repo);
    autoresponse struct http_response r = {0};
    if (registry_request_body(&p->rs, "POST", path, NULL, NULL, &r, err) < 0 || push_check(&r, 201, 202, err) < 0)
        return NULL;
    *mounted = r.status == 201;
    const char *location = http_header(&r, "Location");
    if (!*mounted && !location) {
        fail(err, "the registry started an upload without a Location");
        return NULL;
    }
    return xstrdup(location ? location : "");
}

/* push_upload: the blob's bytes into the upload session at location. */
static int push_upload(struct push_run *p, const struct blob_file *b, char *location, lrun_error **err)
{
    autofree char *at = location;
    static const char *const octets[] = {"Content-Type: application/octet-stream", NULL};
    for (int64_t offset = 0; b->size > p->chunk && offset < b->size;) { /* chunked */
        int64_t n = b->size - offset < p->chunk ? b->size - offset : p->chunk;
        autofree char *range = xasprintf("Content-Range: %" PRId64 "-%" PRId64, offset, offset + n - 1);
        char *headers[] = {(char *)octets[0], range, NULL};
        struct http_body body = {.fd = b->fd, .offset = offset, .length = n};
        autoresponse struct http_response r = {0};
        if (registry_request_body(&p->rs, "PATCH", at, headers, &body, &r, err) < 0 ||
            push_check(&r, 202, 204, err) < 0)
            return -1;
        const char *next = http_header(&r, "Location");
        if (next) {
            free(at);
            at = xstrdup(next);
        }
        offset += n;
    }
    autofree char *escaped = xasprintf("sha256%%3A%s", b->digest);
    autofree char *url = xasprintf("%s%cdigest=%s", at, strchr(at, '?') ? '&' : '?', escaped);
    struct http_body body = {.fd = b->fd, .length = b->size > p->chunk ? 0 : b->size};
    autoresponse struct http_response r = {0};
    if (registry_request_body(&p->rs, "PUT", url, (char **)octets, &body, &r, err) < 0)
        return -1;
    return push_check(&r, 201, 204, err);
}

/* push_blob: a blob made here goes up unless the repository has it. */
static int push_blob(struct push_run *p, const struct blob_file *b, lrun_error **err)
{
    autofree char *digest = xasprintf("sha256:%s", b->digest);
    int there = push_blob_exists(p, digest, err);
    if (there != 0)
        return there < 0 ? -1 : 1;
    bool mounted = false;
    char *location = push_upload_start(p, NULL, NULL, &mounted, err);
    if (!location)
        return -1;
    return push_upload(p, b, location, err) < 0 ? -1 : 0;
}

/* push_reuse: 1 when the repository has digest, or another repository of
 * the registry (the cache knows) mounted it over; 0 when neither. */
static int push_reuse(struct push_run *p, const char *digest, lrun_error **err)
{
    int there = push_blob_exists(p, digest, err);
    if (there != 0)
        return there;
    autofree char *prefix = xasprintf("location %s %s/", digest, p->reg->domain);
    autostrv char **places = blob_cache_lines(p->store->root, prefix);
    for (size_t i = 0; places[i]; i++) {
        const char *repo = places[i] + strlen(prefix);
        if (strcmp(repo, p->repo) == 0)
            continue;
        bool mounted = false;
        autofree char *location = push_upload_start(p, digest, repo, &mounted, err);
        if (!location)
            return -1;
        if (mounted)
            return 1;
        /* not mounted: the registry opened an upload instead; let it go */
        autoresponse struct http_response r = {0};
        lrun_error *ignored = NULL;
        registry_request(&p->rs, "DELETE", location, NULL, true, &r, &ignored);
        lrun_error_free(ignored);
    }
    return 0;
}

/* A layer as pushed. */
struct pushed_layer {
    char *diff_id;   /* of the tar as pushed (the recorded one, unless diff/ changed) */
    char *digest;    /* the blob's */
    int64_t size;
    int compression;
};

static void pushed_layer_clear(struct pushed_layer *l)
{
    free(l->diff_id);
    free(l->digest);
}

/* push_layer_known: a blob the registry may have already: the one the
 * layer came as, or one the cache remembers for this compression. */
static int push_layer_known(struct push_run *p, const struct layer *l, int compression, struct pushed_layer *out,
                            lrun_error **err)
{
    autostrv char **candidates = xcalloc(1, sizeof *candidates);
    if (l->compression == compression && l->compressed_digest && l->compressed_size > 0 &&
        strcmp(l->compressed_digest, l->diff_digest) != 0)
        strv_push(&candidates, xasprintf("%s %" PRId64, l->compressed_digest, l->compressed_size));
    autofree char *prefix = xasprintf("compressed %s %s ", l->diff_digest, compression_name(compression));
    autostrv char **cached = blob_cache_lines(p->store->root, prefix);
    for (size_t i = 0; cached[i]; i++)
        strv_push(&candidates, xstrdup(cached[i] + strlen(prefix)));
    for (size_t i = 0; candidates[i]; i++) {
        char digest[80];
        int64_t size;
        if (sscanf(candidates[i], "%79s %" SCNd64, digest, &size) != 2 || !digest_hex_part(digest))
            continue;
        int r = push_reuse(p, digest, err);
        if (r < 0)
            return -1;
        if (r == 1) {
            *out = (struct pushed_layer){xstrdup(l->diff_digest), xstrdup(digest), size, compression};
            return 1;
        }
    }
    return 0;
}

static int push_layer(struct push_run *p, const struct layer *l, struct pushed_layer *out, lrun_error **err)
{
    int compression = p->compression >= 0 ? p->compression
                      : l->compression == COMPRESSION_ZSTD ? COMPRESSION_ZSTD : COMPRESSION_GZIP;
    const char *shown = digest_hex_part(l->diff_digest) ? digest_hex_part(l->diff_digest) : l->id;
    int known = l->diff_digest ? push_layer_known(p, l, compression, out, err) : 0;
    if (known < 0)
        return -1;
    if (known) {
        push_progress(p, "Copying blob %.12s skipped: already exists", shown);
        return 0;
    }
    autoblob struct blob_file tar = {.fd = -1}, packed = {.fd = -1};
    if (layer_tar_file(p->store, l, &tar, err) < 0)
        return -1;
    const struct blob_file *blob = &tar;
    if (compression != COMPRESSION_NONE) {
        if (blob_compress(&tar, compression, &packed, err) < 0)
            return -1;
        blob = &packed;
    }
    int there = push_blob(p, blob, err);
    if (there < 0)
        return -1;
    *out = (struct pushed_layer){xasprintf("sha256:%s", tar.digest), xasprintf("sha256:%s", blob->digest), blob->size,
                                 compression};
    if (compression != COMPRESSION_NONE)
        strv_push(&p->cache, xasprintf("compressed %s %s %s %" PRId64, out->diff_id, compression_name(compression),
                                       out->digest, out->size));
    strv_push(&p->cache, xasprintf("location %s %s/%s", out->digest, p->reg->domain, p->repo));
    push_progress(p, "Copying blob %.12s %s", shown, there ? "skipped: already exists" : "done");
    return 0;
}

/* push_layer_type: the manifest's media type of a pushed layer. */
static const char *push_layer_type(bool oci, int compression)
{
    if (compression == COMPRESSION_ZSTD)
        return MEDIA_OCI_LAYER_ZSTD;
    if (compression == COMPRESSION_GZIP)
        return oci ? MEDIA_OCI_LAYER_GZIP : MEDIA_DOCKER_LAYER_GZIP;
    return oci ? MEDIA_OCI_LAYER : MEDIA_DOCKER_LAYER;
}

/* push_manifest: the config blob, then the manifest under the tag; its
 * digest comes back. */
static int push_manifest(struct push_run *p, struct image *img, const struct pushed_layer *layers, size_t n,
                         const char *tag, digest_hex manifest_hex, lrun_error **err)
{
    autostrv char **diff_ids = xcalloc(n + 1, sizeof *diff_ids);
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        diff_ids[i] = xstrdup(layers[i].diff_id);
        descriptor_write(g, push_layer_type(p->oci, layers[i].compression), layers[i].digest, layers[i].size, p->oci);
    }
    yajl_gen_array_close(g);
    struct blob_file config = {.fd = -1};
    size_t config_len;
    autofree char *config_text = save_config(p->store, img, diff_ids, &config_len, err);
    if (!config_text)
        return -1;
    sha256_hex(config_text, config_len, config.digest);
    config.size = (int64_t)config_len;
    autofree char *config_digest = xasprintf("sha256:%s", config.digest);
    int there = push_blob_exists(p, config_digest, err);
    if (there < 0)
        return -1;
    if (!there) {
        bool mounted;
        autofree char *location = push_upload_start(p, NULL, NULL, &mounted, err);
        if (!location)
            return -1;
        autofree char *escaped = xasprintf("sha256%%3A%s", config.digest);
        autofree char *url = xasprintf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', escaped);
        struct http_body body = {.data = config_text, .length = (int64_t)config_len};
        autoresponse struct http_response r = {0};
        if (registry_request_body(&p->rs, "PUT", url, NULL, &body, &r, err) < 0 || push_check(&r, 201, 204, err) < 0)
            return error_prefix(err, "writing config");
    }
    push_progress(p, "Copying config %.10s done", config.digest);
    autofree char *layers_text = json_writer_text(g, NULL);
    autojson yajl_val layers_tree = json_text_to_tree(layers_text);
    size_t manifest_len;
    autofree char *manifest = manifest_make(p->oci, config_digest, config.size, layers_tree, &manifest_len);
    sha256_hex(manifest, manifest_len, manifest_hex);
    push_progress(p, "Writing manifest to image destination");
    autofree char *path = xasprintf("/v2/%s/manifests/%s", p->repo, tag);
    autofree char *type = xasprintf("Content-Type: %s", p->oci ? MEDIA_OCI_MANIFEST : MEDIA_DOCKER_MANIFEST);
    char *headers[] = {type, NULL};
    struct http_body body = {.data = manifest, .length = (int64_t)manifest_len};
    autoresponse struct http_response r = {0};
    if (registry_request_body(&p->rs, "PUT", path, headers, &body, &r, err) < 0 || push_check(&r, 201, 200, err) < 0)
        return error_prefix(err, "writing manifest");
    push_progress(p, "Storing signatures");
    return 0;
}

/* push_wants_oci: the format the caller asked for, else the one the
 * image came in (docker's when its manifest is), OCI when a layer is to
 * go zstd (schema 2 has no zstd). */
static int push_wants_oci(lrun_store *s, struct image *img, const char *format, int compression, bool *oci,
                          lrun_error **err)
{
    bool zstd = compression == COMPRESSION_ZSTD;
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, img->layer, &chain);
    for (size_t i = 0; i < n && compression < 0; i++)
        zstd |= chain[i]->compression == COMPRESSION_ZSTD;
    if (format && strcmp(format, "oci") != 0 && strcmp(format, "v2s2") != 0)
        return fail(err, "unsupported manifest format \"%s\": use oci or v2s2", format);
    if (format && strcmp(format, "v2s2") == 0 && zstd)
        return fail(err, "zstd compression is not supported by the v2s2 manifest format: use --format oci");
    autobuf struct buf manifest = {0};
    autojson yajl_val doc = image_big_data_read(s, img, "manifest", &manifest, NULL) == 0
                                ? yajl_tree_parse(manifest.data, NULL, 0) : NULL;
    const char *came = json_string(doc, "mediaType");
    *oci = format ? strcmp(format, "oci") == 0 : zstd || !came || strcmp(came, MEDIA_DOCKER_MANIFEST) != 0;
    return 0;
}

struct push_options {
    lrun_pull_options registry; /* credentials, TLS, progress */
    const char *format;         /* "oci", "v2s2" or NULL */
    int compression;            /* -1: as each layer came */
    char **digest;              /* the manifest digest pushed, when not NULL */
};

static int image_push(lrun_store *s, const char *image, const char *destination, const struct push_options *o,
                      lrun_error **err)
{
    struct image *img = image_lookup(s, image, err);
    if (!img)
        return -1;
    autoreference struct reference ref;
    if (reference_parse(destination, &ref, err) < 0)
        return -1;
    autofree char *full = reference_string(&ref);
    bool oci = true;
    if (push_wants_oci(s, img, o->format, o->compression, &oci, err) < 0)
        return -1;
    cleanup(registry_clear) struct registry reg = {0};
    if (registry_init(&reg, ref.domain, ref.path, &o->registry, err) < 0 ||
        registry_use_credentials(&reg, ref.path, &o->registry, err) < 0)
        return error_prefix(err, "initializing destination docker://%s", full);
    free(reg.scope);
    reg.scope = xasprintf("repository:%s:pull,push", ref.path);
    const char *chunk_env = getenv("LRUN_PUSH_CHUNK_SIZE");
    struct push_run p = {.store = s, .reg = &reg, .rs = {.reg = &reg}, .repo = ref.path, .compression = o->compression,
                         .oci = oci, .chunk = chunk_env && atoll(chunk_env) > 0 ? atoll(chunk_env) : 64 << 20,
                         .progress = o->registry.progress, .userdata = o->registry.userdata};
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, img->layer, &chain);
    autofree struct pushed_layer *layers = xcalloc(n + 1, sizeof *layers);
    push_progress(&p, "Getting image source signatures");
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++)
        if ((r = push_layer(&p, chain[n - 1 - i], &layers[i], err)) < 0) /* base first */
            error_prefix(err, "writing blob");
    digest_hex manifest_hex;
    if (r == 0)
        r = push_manifest(&p, img, layers, n, ref.digest ? ref.digest : ref.tag, manifest_hex, err);
    registry_session_close(&p.rs);
    for (size_t i = 0; i < n; i++)
        pushed_layer_clear(&layers[i]);
    if (r == 0)
        blob_cache_add(s->root, p.cache);
    lrun_strv_free(p.cache);
    if (r == 0 && o->digest)
        *o->digest = xasprintf("sha256:%s", manifest_hex);
    return r;
}

/* --- login, logout --- */

int lrun_login(const char *registry, const char *user, const char *password, const lrun_pull_options *o,
               lrun_error **err)
{
    static const lrun_pull_options defaults = {0};
    o = o ? o : &defaults;
    autofree char *key = auth_key_normalize(registry); /* host[:port][/path]; Docker Hub is docker.io */
    autofree char *domain = xstrndup(key, strcspn(key, "/"));
    cleanup(registry_clear) struct registry reg = {0};
    if (registry_init(&reg, domain, NULL, o, err) < 0)
        return error_prefix(err, "logging into \"%s\"", key);
    registry_set_credentials(&reg, user, password);
    struct registry_session rs = {.reg = &reg};
    autoresponse struct http_response r = {0};
    int ret = registry_request(&rs, "GET", "/v2/", NULL, true, &r, err);
    if (ret == 0 && r.status != 200) {
        autofree char *why = registry_error_text(&r);
        ret = r.status == 401 ? fail(err, "invalid username/password: %s", why) : fail(err, "%s", why);
    }
    registry_session_close(&rs);
    if (ret < 0)
        return error_prefix(err, "logging into \"%s\"", key);
    autofree char *path = auth_file_path(o);
    bool found;
    return auth_file_update(path, key, reg.basic, &found, err);
}

int lrun_logout(const char *registry, const lrun_pull_options *o, lrun_error **err)
{
    static const lrun_pull_options defaults = {0};
    o = o ? o : &defaults;
    autofree char *key = registry ? auth_key_normalize(registry) : NULL;
    autofree char *path = auth_file_path(o);
    bool found = false;
    if (access(path, F_OK) == 0 && auth_file_update(path, key, NULL, &found, err) < 0)
        return -1;
    if (!key || found)
        return 0;
    autofree char *docker = docker_config_path();
    autofree char *user = NULL, *password = NULL;
    lrun_pull_options only_docker = *o;
    only_docker.auth_file = docker;
    if (credentials_lookup(key, NULL, &only_docker, &user, &password, NULL) == 0 && user)
        return fail(err, "not logged into %s with lrun: the credentials in %s were stored by docker login; use "
                         "docker logout", key, docker);
    return fail(err, "not logged into %s", key);
}

/* ========================================================================
 * MOUNTS: the overlay of a layer chain, paths resolved inside a root, changes,
 * copying trees, a mount namespace of its own, a volume's copy-up
 * ======================================================================== */

/* overlay_mount_at: mount an overlay of lower ("l/A:l/B:...", uppermost
 * first, relative to overlay/) on target, with <upper>/diff as the upper
 * dir when upper is given (read-only otherwise).  It chdirs to overlay/ so
 * the option stays short (26-char links keep some 140 lowers under a
 * page); a longer one opens every lower and names it by descriptor
 * (chdir /proc/self/fd: "3:4:5"), as c/storage's mountfrom helper does;
 * overlayfs stacks at most 500.  Run it in a mount namespace of its own:
 * the descriptors stay open until exec or exit. */
static int overlay_mount_at(const char *root, char *lower, const char *upper, const char *target, lrun_error **err)
{
    size_t n_lowers = 1;
    for (char *c = lower; *c; c++)
        n_lowers += *c == ':';
    if (n_lowers > 500)
        return fail(err, "the image has %zu layers; overlayfs stacks at most 500", n_lowers);
    autofree char *overlay = xasprintf("%s/overlay", root);
    if (chdir(overlay) < 0)
        return fail_errno(err, "chdir %s", overlay);
    autofree char *options = upper ? xasprintf("lowerdir=%s,upperdir=%s/diff,workdir=%s/work", lower, upper, upper)
                                   : xasprintf("lowerdir=%s", lower);
    if (strlen(options) < (size_t)getpagesize() - 1) {
        if (mount("overlay", target, "overlay", MS_NODEV | (upper ? 0 : MS_RDONLY), options) < 0)
            return fail_errno(err, "mount overlay on %s", target);
        return 0;
    }
    struct buf fds = {0};
    buf_adds(&fds, "lowerdir=");
    char *save = NULL;
    for (char *l = strtok_r(lower, ":", &save); l; l = strtok_r(NULL, ":", &save)) {
        int fd = open(l, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* stays open until exec closes it */
        if (fd < 0) {
            buf_free(&fds);
            return fail_errno(err, "open lower %s", l);
        }
        buf_printf(&fds, "%s%d", fds.len > 9 ? ":" : "", fd);
    }
    if (upper) {
        autofree char *upper_dir = xasprintf("%s/%s/diff", overlay, upper);
        autofree char *work_dir = xasprintf("%s/%s/work", overlay, upper);
        int upper_fd = open(upper_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int work_fd = open(work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (upper_fd < 0 || work_fd < 0) {
            buf_free(&fds);
            return fail_errno(err, "open %s", upper_dir);
        }
        buf_printf(&fds, ",upperdir=%d,workdir=%d", upper_fd, work_fd);
    }
    autofree char *by_fd = buf_steal(&fds);
    if (strlen(by_fd) >= (size_t)getpagesize() - 1)
        return fail(err, "the overlay options for %zu layers exceed a page", n_lowers);
    if (chdir("/proc/self/fd") < 0)
        return fail_errno(err, "chdir /proc/self/fd (is /proc mounted?)");
    if (mount("overlay", target, "overlay", MS_NODEV | (upper ? 0 : MS_RDONLY), by_fd) < 0)
        return fail_errno(err, "mount overlay (%zu lowers, by descriptor) on %s", n_lowers, target);
    return 0;
}

/* overlay_mount_layer: mount overlay/<id>/merged with the layer's diff as
 * the upper dir over its chain (a container's root). */
static int overlay_mount_layer(const char *root, const char *id, lrun_error **err)
{
    autofree char *lower_path = xasprintf("%s/overlay/%s/lower", root, id);
    autobuf struct buf lower = {0};
    if (read_file_at(AT_FDCWD, lower_path, &lower, err) < 0)
        return error_prefix(err, "layer %.12s has no parent chain", id);
    autofree char *merged = xasprintf("%s/overlay/%s/merged", root, id);
    return overlay_mount_at(root, lower.data, id, merged, err);
}

/* overlay_mount_image: a layer and its chain read-only on target (an
 * image's root); a base layer gets its empty/ as the second lower, which
 * overlayfs needs without an upper dir. */
static int overlay_mount_image(const char *root, const char *id, const char *target, lrun_error **err)
{
    autofree char *link_path = xasprintf("%s/overlay/%s/link", root, id);
    autofree char *lower_path = xasprintf("%s/overlay/%s/lower", root, id);
    autobuf struct buf link = {0};
    autobuf struct buf lower = {0};
    if (read_file_at(AT_FDCWD, link_path, &link, err) < 0)
        return error_prefix(err, "layer %.12s", id);
    autofree char *lowers = read_file_at(AT_FDCWD, lower_path, &lower, NULL) == 0
                                ? xasprintf("l/%s:%s", link.data, lower.data)
                                : xasprintf("l/%s:%s/empty", link.data, id);
    return overlay_mount_at(root, lowers, NULL, target, err);
}

/* --- paths the image controls ---
 * Every mount target and file lrun writes inside a container root is
 * reached with openat2(RESOLVE_IN_ROOT): a symlink in the image (/etc/hosts
 * -> /etc/shadow, /dev -> /tmp/x) resolves inside the root, never on the
 * host.  Mounts then go onto /proc/self/fd/N of the resolved fd. */

enum path_create { CREATE_NOTHING, CREATE_DIRECTORY, CREATE_FILE };

/* root_path_open: an O_PATH fd of path inside root_fd, creating missing
 * directories (and the last component as create says).  A dangling
 * symlink is followed to where it points, inside the root, as runc's
 * securejoin does (/etc/resolv.conf -> ../run/systemd/...). */
static int root_path_open(int root_fd, const char *path, enum path_create create, int depth, lrun_error **err)
{
    if (depth > 40)
        return fail(err, "%s: too many levels of symlinks", path);
    int fd = openat2_in_root(root_fd, path, O_PATH);
    if (fd >= 0 || errno != ENOENT || create == CREATE_NOTHING) {
        if (fd < 0)
            return fail_errno(err, "open %s in the container", path);
        return fd;
    }
    autofree char *copy = xstrdup(path);
    while (strlen(copy) > 1 && has_suffix(copy, "/"))
        copy[strlen(copy) - 1] = '\0';
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    autofree char *parent = slash ? xstrndup(copy, (size_t)(slash - copy)) : xstrdup("/");
    if (!*parent)
        strcpy(parent, "/");
    autoclose int parent_fd = root_path_open(root_fd, parent, CREATE_DIRECTORY, depth + 1, err);
    if (parent_fd < 0)
        return -1;
    int r = create == CREATE_DIRECTORY ? mkdirat(parent_fd, base, 0755)
                                       : openat(parent_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (r >= 0 && create == CREATE_FILE)
        close(r);
    if (r < 0 && errno == EEXIST) { /* a dangling symlink: create what it points to */
        char target[PATH_MAX];
        ssize_t n = readlinkat(parent_fd, base, target, sizeof target - 1);
        if (n < 0)
            return fail_errno(err, "open %s in the container", path);
        target[n] = '\0';
        autofree char *next = target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", parent, target);
        return root_path_open(root_fd, next, create, depth + 1, err);
    }
    if (r < 0)
        return fail_errno(err, "create %s in the container", path);
    return root_path_open(root_fd, path, CREATE_NOTHING, depth + 1, err);
}

/* mount_at: mount onto a resolved fd (its /proc/self/fd path). */
static int mount_at(const char *source, int target_fd, const char *type, unsigned long flags, const char *data,
                    const char *what, lrun_error **err)
{
    char target[64];
    snprintf(target, sizeof target, "/proc/self/fd/%d", target_fd);
    if (mount(source, target, type, flags, data) < 0)
        return fail_errno(err, "mount %s", what);
    return 0;
}

/* mount_in_root: mount at path inside the root (created as create says). */
static int mount_in_root(int root_fd, const char *path, enum path_create create, const char *source, const char *type,
                         unsigned long flags, const char *data, lrun_error **err)
{
    autoclose int fd = root_path_open(root_fd, path, create, 0, err);
    if (fd < 0)
        return -1;
    if (mount_at(source, fd, type, flags, data, path, err) < 0)
        return -1;
    unsigned long per_mount = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if ((flags & MS_BIND) && per_mount) { /* a bind mount takes these only on remount */
        autoclose int again = root_path_open(root_fd, path, CREATE_NOTHING, 0, err);
        if (again < 0)
            return -1;
        return mount_at(NULL, again, NULL, MS_BIND | MS_REMOUNT | per_mount, NULL, path, err);
    }
    return 0;
}

/* mount_tree_in_root: a detached mount (open_tree's clone, made in another
 * mount namespace) moved to path inside the root, then given flags' ro,
 * nosuid, nodev, noexec. */
static int mount_tree_in_root(int root_fd, const char *path, enum path_create create, int tree_fd, unsigned long flags,
                              lrun_error **err)
{
    autoclose int fd = root_path_open(root_fd, path, create, 0, err);
    if (fd < 0)
        return -1;
    if (syscall(SYS_move_mount, tree_fd, "", fd, "", 0x4 /* MOVE_MOUNT_F_EMPTY_PATH */ | 0x40 /* T_EMPTY_PATH */) < 0)
        return fail_errno(err, "mount %s", path);
    unsigned long per_mount = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (!per_mount)
        return 0;
    autoclose int again = root_path_open(root_fd, path, CREATE_NOTHING, 0, err);
    return again < 0 ? -1 : mount_at(NULL, again, NULL, MS_BIND | MS_REMOUNT | per_mount, NULL, path, err);
}

/* --- changes: what a layer adds, changes and deletes (diff) ---
 * As c/storage reports them.  A layer against its parent (the overlay
 * driver's way): each entry of its diff/ is a deletion (a whiteout), a
 * change (the path exists in a lower layer; a directory only if its own
 * size, mode or time differ) or an addition, and the directory holding
 * an addition or deletion counts as changed.  Two unrelated trees (the
 * naive way): both mounted and walked side by side. */

struct change {
    char kind; /* 'A', 'C' or 'D' */
    char *path;
};

struct changes {
    struct change *list;
    size_t n;
    char **dirs; /* directories already listed as changed */
};

static void changes_release(struct changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->list[i].path);
    free(c->list);
    lrun_strv_free(c->dirs);
    *c = (struct changes){0};
}
#define autochanges cleanup(changes_release)

/* changes_insert: a change at position at (the end: c->n). */
static void changes_insert(struct changes *c, size_t at, char kind, const char *path)
{
    c->list = xrealloc(c->list, (c->n + 1) * sizeof *c->list);
    memmove(&c->list[at + 1], &c->list[at], (c->n - at) * sizeof *c->list);
    c->list[at] = (struct change){kind, xstrdup(path)};
    c->n++;
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && (a.tv_nsec == b.tv_nsec || a.tv_nsec == 0 || b.tv_nsec == 0);
}

/* lower_lstat: path in the first lower layer that has it. */
static bool lower_lstat(const int *lowers, size_t n, const char *path, struct stat *st)
{
    for (size_t i = 0; i < n; i++) {
        autoclose int fd = openat2_in_root(lowers[i], path, O_PATH | O_NOFOLLOW);
        if (fd >= 0 && fstat(fd, st) == 0)
            return true;
    }
    return false;
}

/* changes_of_layer: the entries under dir_fd (the layer's path, "" at
 * its root) against the lower layers' diff/ directories. */
static int changes_of_layer(struct changes *c, int dir_fd, const char *path, const int *lowers, size_t n_lowers,
                            lrun_error **err)
{
    autostrv char **names = dir_entries_sorted(dir_fd, err);
    if (!names)
        return -1;
    for (size_t i = 0; names[i]; i++) {
        autofree char *child = xasprintf("%s/%s", path, names[i]);
        struct stat st, lower;
        if (fstatat(dir_fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
            return fail_errno(err, "stat %s", child);
        char kind = 'A';
        bool listed = true;
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
            kind = 'D';
        } else if (lower_lstat(lowers, n_lowers, child, &lower)) {
            kind = 'C';
            listed = !(S_ISDIR(st.st_mode) && S_ISDIR(lower.st_mode) && st.st_size == lower.st_size &&
                       st.st_mode == lower.st_mode && same_time(st.st_mtim, lower.st_mtim));
        }
        if (listed && S_ISDIR(st.st_mode))
            strv_push(&c->dirs, xstrdup(child));
        if (kind != 'C' && *path && !strv_contains(c->dirs, path)) {
            changes_insert(c, c->n, 'C', path);
            strv_push(&c->dirs, xstrdup(path));
        }
        if (listed)
            changes_insert(c, c->n, kind, child);
        if (S_ISDIR(st.st_mode)) {
            autoclose int sub = openat(dir_fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0 || changes_of_layer(c, sub, child, lowers, n_lowers, err) < 0)
                return sub < 0 ? fail_errno(err, "open %s", child) : -1;
        }
    }
    return 0;
}

/* layer_changes: a layer against its parent chain. */
static int layer_changes(lrun_store *s, const struct layer *l, struct changes *c, lrun_error **err)
{
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, l->id, &chain);
    autofree int *lowers = xcalloc(n + 1, sizeof *lowers);
    int ret = 0;
    size_t opened = 0;
    for (size_t i = 1; i < n && ret == 0; i++, opened++) {
        autofree char *diff = xasprintf("%s/diff", chain[i]->id);
        if ((lowers[opened] = openat(s->overlay_fd, diff, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
            ret = fail_errno(err, "open layer %.12s", chain[i]->id);
    }
    autofree char *diff = xasprintf("%s/diff", l->id);
    autoclose int top = ret == 0 ? openat(s->overlay_fd, diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (ret == 0 && top < 0)
        ret = fail_errno(err, "open layer %.12s", l->id);
    if (ret == 0)
        ret = changes_of_layer(c, top, "", lowers, opened, err);
    for (size_t i = 0; i < opened; i++)
        if (lowers[i] >= 0)
            close(lowers[i]);
    return ret;
}

/* stat_differs: c/storage's test for a changed entry of two trees. */
static bool stat_differs(int new_dir, int old_dir, const char *name, const struct stat *a, const struct stat *b)
{
    if (a->st_mode != b->st_mode || a->st_uid != b->st_uid || a->st_gid != b->st_gid || a->st_rdev != b->st_rdev)
        return true;
    if (!S_ISDIR(a->st_mode) && (a->st_size != b->st_size || !same_time(a->st_mtim, b->st_mtim)))
        return true;
    if (!S_ISREG(a->st_mode))
        return false;
    char x[256], y[256]; /* file capabilities count too */
    autoclose int fa = openat(new_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    autoclose int fb = openat(old_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t na = fa >= 0 ? fgetxattr(fa, "security.capability", x, sizeof x) : -1;
    ssize_t nb = fb >= 0 ? fgetxattr(fb, "security.capability", y, sizeof y) : -1;
    return na != nb || (na > 0 && memcmp(x, y, (size_t)na) != 0);
}

/* changes_between: the tree new_fd against old_fd (-1: none, all added);
 * a directory with changes inside is listed before them. */
static int changes_between(struct changes *c, int new_fd, int old_fd, const char *path, lrun_error **err)
{
    autostrv char **names = dir_entries_sorted(new_fd, err);
    autostrv char **old_names = old_fd >= 0 ? dir_entries_sorted(old_fd, err) : xcalloc(1, sizeof(char *));
    if (!names || !old_names)
        return -1;
    for (size_t i = 0; old_names[i]; i++)
        if (!strv_contains(names, old_names[i]))
            strv_push(&names, xstrdup(old_names[i]));
    qsort(names, strv_len(names), sizeof *names, compare_strings);
    for (size_t i = 0; names[i]; i++) {
        autofree char *child = xasprintf("%s/%s", path, names[i]);
        struct stat a, b;
        bool in_new = fstatat(new_fd, names[i], &a, AT_SYMLINK_NOFOLLOW) == 0;
        bool in_old = old_fd >= 0 && fstatat(old_fd, names[i], &b, AT_SYMLINK_NOFOLLOW) == 0;
        if (!in_new) {
            changes_insert(c, c->n, 'D', child);
            continue;
        }
        size_t at = c->n;
        bool listed = !in_old || stat_differs(new_fd, old_fd, names[i], &a, &b);
        if (listed)
            changes_insert(c, c->n, in_old ? 'C' : 'A', child);
        if (!S_ISDIR(a.st_mode))
            continue;
        autoclose int sub_new = openat(new_fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        autoclose int sub_old = in_old && S_ISDIR(b.st_mode)
                                    ? openat(old_fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        if (sub_new < 0)
            return fail_errno(err, "open %s", child);
        if (changes_between(c, sub_new, in_old ? sub_old : -1, child, err) < 0)
            return -1;
        if (!listed && c->n > at)
            changes_insert(c, at, 'C', child);
    }
    return 0;
}

/* changes_of_images: the tree of layer `to` against that of layer
 * `from`, both mounted read-only in a mount namespace of a child, which
 * sends the changes back as "<kind><path>\0". */
static int changes_of_images(const char *root, const char *to, const char *from, struct changes *c, lrun_error **err)
{
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return fail_errno(err, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return fail_errno(err, "fork");
    if (pid == 0) {
        close(pipe_fds[0]);
        lrun_error *child_err = NULL;
        autofree char *to_dir = xasprintf("%s/overlay/%s/merged", root, to);
        autofree char *from_dir = xasprintf("%s/overlay/%s/merged", root, from);
        struct changes found = {0};
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            fail_errno(&child_err, "a mount namespace for diff");
        else if (overlay_mount_image(root, to, to_dir, &child_err) == 0 &&
                 overlay_mount_image(root, from, from_dir, &child_err) == 0) {
            int new_fd = open(to_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int old_fd = open(from_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (new_fd < 0 || old_fd < 0)
                fail_errno(&child_err, "open the mounted images");
            else
                changes_between(&found, new_fd, old_fd, "", &child_err);
        }
        autobuf struct buf out = {0};
        for (size_t i = 0; !child_err && i < found.n; i++)
            buf_printf(&out, "%c%s%c", found.list[i].kind, found.list[i].path, '\0');
        if (child_err)
            buf_printf(&out, "E%s%c", child_err->message, '\0');
        _exit(out.len && write_all(pipe_fds[1], out.data, out.len) < 0 ? 1 : 0);
    }
    close(pipe_fds[1]);
    autobuf struct buf text = {0};
    int r = read_all_fd(pipe_fds[0], "the changes", &text, err);
    close(pipe_fds[0]);
    waitpid(pid, NULL, 0);
    for (size_t at = 0; r == 0 && at < text.len; at += strlen(text.data + at) + 1) {
        if (text.data[at] == 'E')
            return fail(err, "%s", text.data + at + 1);
        changes_insert(c, c->n, text.data[at], text.data + at + 1);
    }
    return r;
}

/* --- copying trees (a volume's copy-up, cp) ---
 * Every step is relative to an open directory and never follows a
 * symlink: the target may be a container's root, where a link the
 * container planted must not lead lrun out. */

static int tree_copy(int from_fd, int to_fd, bool keep_owner, lrun_error **err);

static int file_data_copy(int in, int out, const char *name, lrun_error **err)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
            return fail_errno(err, "copy %s", name);
        break;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write_all(out, buf, (size_t)n) < 0)
            return fail_errno(err, "write %s", name);
    return n < 0 ? fail_errno(err, "read %s", name) : 0;
}

/* entry_copy: entry from of from_fd as to in to_fd (what is there is
 * replaced, a directory merged into a directory). */
static int entry_copy(int from_fd, const char *from, int to_fd, const char *name, bool keep_owner, lrun_error **err)
{
    struct stat st, old;
    if (fstatat(from_fd, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(err, "stat %s", from);
    bool exists = fstatat(to_fd, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(S_ISDIR(st.st_mode) && S_ISDIR(old.st_mode)) && remove_tree_at(to_fd, name, err) < 0)
        return -1;
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (S_ISDIR(st.st_mode)) {
        if (mkdirat(to_fd, name, 0700) < 0 && errno != EEXIST)
            return fail_errno(err, "create %s", name);
        autoclose int in = openat(from_fd, from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        autoclose int out = openat(to_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0 || out < 0)
            return fail_errno(err, "open %s", name);
        if (tree_copy(in, out, keep_owner, err) < 0)
            return error_prefix(err, "%s", name);
        if ((keep_owner && fchown(out, st.st_uid, st.st_gid) < 0) || fchmod(out, st.st_mode & 07777) < 0 ||
            futimens(out, times) < 0)
            return fail_errno(err, "set the owner, mode and times of %s", name);
        return 0;
    }
    if (S_ISREG(st.st_mode)) {
        autoclose int in = openat(from_fd, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        autoclose int out = openat(to_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (in < 0 || out < 0)
            return fail_errno(err, "open %s", name);
        if (file_data_copy(in, out, name, err) < 0)
            return -1;
        if ((keep_owner && fchown(out, st.st_uid, st.st_gid) < 0) || fchmod(out, st.st_mode & 07777) < 0 ||
            futimens(out, times) < 0)
            return fail_errno(err, "set the owner, mode and times of %s", name);
        return 0;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(from_fd, from, target, sizeof target - 1);
        if (n < 0)
            return fail_errno(err, "readlink %s", from);
        target[n] = '\0';
        if (symlinkat(target, to_fd, name) < 0)
            return fail_errno(err, "create the link %s", name);
    } else if (S_ISSOCK(st.st_mode)) {
        return 0; /* a socket means nothing once copied */
    } else if (mknodat(to_fd, name, st.st_mode, st.st_rdev) < 0) {
        return fail_errno(err, "create %s", name);
    }
    if ((keep_owner && fchownat(to_fd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0) ||
        utimensat(to_fd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(err, "set the owner and times of %s", name);
    return 0;
}

/* tree_copy: what from_fd holds into to_fd; owners kept when keep_owner
 * (else the copies belong to the caller). */
static int tree_copy(int from_fd, int to_fd, bool keep_owner, lrun_error **err)
{
    autostrv char **names = dir_entries_sorted(from_fd, err);
    if (!names)
        return -1;
    for (size_t i = 0; names[i]; i++)
        if (entry_copy(from_fd, names[i], to_fd, names[i], keep_owner, err) < 0)
            return -1;
    return 0;
}

/* --- work in a mount namespace of its own ---
 * A child forks, makes its mounts private and runs fn, which mounts what
 * it needs (gone with the child); its error comes back through a pipe. */

typedef int (*mount_namespace_fn)(void *arg, lrun_error **err);

static int in_mount_namespace(mount_namespace_fn fn, void *arg, lrun_error **err)
{
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) < 0)
        return fail_errno(err, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return fail_errno(err, "fork");
    }
    if (pid == 0) {
        close(pipe_fds[0]);
        lrun_error *child_err = NULL;
        int r = -1;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            fail_errno(&child_err, "a mount namespace of its own");
        else
            r = fn(arg, &child_err);
        if (r < 0) {
            autofree char *text = xasprintf("%d %s", child_err ? child_err->exit_code : EXIT_LRUN,
                                            child_err && child_err->message ? child_err->message : "failed");
            write_all(pipe_fds[1], text, strlen(text));
        }
        _exit(r < 0 ? 255 : r);
    }
    close(pipe_fds[1]);
    autobuf struct buf text = {0};
    read_all_fd(pipe_fds[0], "the child's report", &text, NULL);
    close(pipe_fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (text.len) {
        char *message = strchr(text.data, ' ');
        return fail_code(err, atoi(text.data), "%s", message ? message + 1 : text.data);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
        return fail(err, "the helper process died");
    return WEXITSTATUS(status);
}

/* --- a volume's copy-up: what the image holds at the mount point fills a
 * new volume (podman's NeedsCopyUp), and the volume's root takes the
 * owner and mode of the image's directory (NeedsChown). --- */

struct copy_up {
    const char *root, *layer, *path, *volume_dir;
    bool copy, chown;
};

/* copy_up_in_child: 1 when the image had content there to copy, else 0. */
static int copy_up_in_child(void *arg, lrun_error **err)
{
    struct copy_up *c = arg;
    autofree char *merged = xasprintf("%s/overlay/%s/merged", c->root, c->layer);
    if (overlay_mount_image(c->root, c->layer, merged, err) < 0)
        return -1;
    autoclose int root_fd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return fail_errno(err, "open %s", merged);
    autoclose int from = openat2_in_root(root_fd, c->path, O_RDONLY | O_DIRECTORY);
    if (from < 0)
        return 0; /* nothing there (or no directory): an empty volume */
    autoclose int to = open(c->volume_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (to < 0)
        return fail_errno(err, "open %s", c->volume_dir);
    struct stat st;
    if (c->chown && (fstat(from, &st) < 0 || fchown(to, st.st_uid, st.st_gid) < 0 || fchmod(to, st.st_mode & 07777) < 0))
        return fail_errno(err, "give the volume the owner and mode of %s", c->path);
    autostrv char **inside = dir_entries_sorted(from, err);
    autostrv char **already = inside ? dir_entries_sorted(to, err) : NULL;
    if (!already)
        return -1;
    if (!c->copy || !inside[0])
        return 0;
    if (already[0]) /* a volume with content keeps it (podman's rule) */
        return 1;
    return tree_copy(from, to, true, err) < 0 ? -1 : 1;
}

/* ========================================================================
 * CONTAINER: SPEC: what a container is, as one struct shaped like the OCI
 * runtime-spec's config.json; its JSON in and out; the container's records
 *
 * Parse first, then act (bubblewrap, crun): every way of making a container
 * ends in one struct spec, and one path executes it.  docker-style run and
 * create turn their options and the image into a spec (CONTAINER: CREATE),
 * which is kept as userdata/config.json; start reads it back and runs it
 * (CONTAINER: MONITOR, with ROOTFS and PROCESS); exec runs a spec's process
 * part in a running container.  All text becomes numbers here, before
 * anything mounts: mount options become MS_* flags and data, capability
 * names bit masks, namespace names clone flags.
 *
 * The records the store keeps for one container (each described once):
 *
 *   overlay-containers/containers.json, the container's entry: c/storage's
 *     record (id, names, image, layer, metadata, created) as podman reads
 *     it.  metadata is podman's {"image-name", "image-id", "name",
 *     "created-at"}.  The runtime state (status, pid, exit code, size...)
 *     is in its flags map under "lrun.*" keys: see struct container.
 *
 *   overlay-containers/<id>/userdata/config.json: the runtime spec, in the
 *     OCI runtime-spec's JSON (podman keeps the runtime spec it generates
 *     in the same place).  Editing it changes what the next start does.
 *     lrun's own extensions are annotations:
 *       "lrun.container-layer": the root is the overlay of this container
 *           layer over its image's layers, mounted at root.path in the
 *           container's own mount namespace; it must name the layer of
 *           the container's record.
 *       "lrun.user": docker's USER[:GROUP] (names or numbers), looked up
 *           in the container's own /etc/passwd and /etc/group after the
 *           root switch (then process.user's numbers are unused, and a
 *           user other than root gets no effective capabilities, as with
 *           docker).
 *
 *   overlay-containers/<id>/userdata/lrun.json: what the docker-style
 *     command line said that has no place in a runtime spec: struct
 *     container_facts documents each member.
 *
 *   overlay-containers/<id>/userdata/hosts, hostname, resolv.conf: the
 *     files bound over the container's /etc/..., rewritten at each start;
 *     ctr.log: a detached container's output (podman's k8s-file format).
 * ======================================================================== */

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* The five capability sets, each a mask: bit N is capability N. */
enum capability_set { CAPS_BOUNDING, CAPS_EFFECTIVE, CAPS_INHERITABLE, CAPS_PERMITTED, CAPS_AMBIENT, CAPS_SETS };
static const char *const capability_set_names[CAPS_SETS] = {"bounding", "effective", "inheritable", "permitted",
                                                            "ambient"};

struct spec_user {
    uid_t uid;
    gid_t gid;
    gid_t *additional_gids;
    size_t n_additional_gids;
    mode_t umask;
    char *name; /* annotation "lrun.user": USER[:GROUP] looked up in the container; NULL: the numbers */
    bool keep_groups; /* annotation "run.oci.keep_original_groups" (crun's): the runtime's groups stay */
};

struct spec_rlimit {
    int resource; /* RLIMIT_* */
    uint64_t soft, hard;
};

/* "process": what runs; exec builds one of these for the new process. */
struct spec_process {
    char **args;
    char **env;
    char *cwd;
    struct spec_user user;
    bool terminal;
    unsigned console_height, console_width; /* "consoleSize"; 0: as the caller's terminal */
    uint64_t caps[CAPS_SETS];
    struct spec_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    bool has_oom_score_adj;
    int oom_score_adj;
};

/* One of "mounts", with its options parsed for mount(2). */
struct spec_mount {
    char *destination; /* inside the container */
    char *type;        /* a filesystem type, or "bind" */
    char *source;      /* for a bind: the host path */
    char **options;    /* as written ("rbind", "ro", "mode=755"...) */
    unsigned long flags;       /* MS_* the options set (MS_BIND, MS_REC, MS_RDONLY...) */
    unsigned long propagation; /* MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE (| MS_REC), or 0 */
    char *data;                /* the options that are no flag, for the filesystem: "mode=755,size=65536k" */
};

/* "linux.namespaces": a new one, or (with a path) one to join. */
enum namespace_kind { NS_PID, NS_NETWORK, NS_IPC, NS_UTS, NS_MOUNT, NS_USER, NS_CGROUP, NS_TIME, NS_KINDS };
static const struct {
    const char *name;      /* the spec's */
    const char *proc_name; /* /proc/PID/ns/<proc_name> */
    unsigned long clone_flag;
} namespace_kinds[NS_KINDS] = {
    {"pid", "pid", CLONE_NEWPID},   {"network", "net", CLONE_NEWNET},    {"ipc", "ipc", CLONE_NEWIPC},
    {"uts", "uts", CLONE_NEWUTS},   {"mount", "mnt", CLONE_NEWNS},       {"user", "user", CLONE_NEWUSER},
    {"cgroup", "cgroup", CLONE_NEWCGROUP}, {"time", "time", CLONE_NEWTIME},
};

struct spec_namespace {
    bool wanted;
    char *path; /* join this one; NULL: a new one */
};

struct spec_id_mapping { /* "uidMappings", "gidMappings" */
    uint32_t container_id, host_id, size;
};

struct spec_device { /* "linux.devices": a node the container gets */
    char *path;
    char type; /* 'c', 'b', 'u' (unbuffered character) or 'p' (fifo) */
    uint32_t major, minor;
    mode_t mode; /* permission bits ("fileMode") */
    uid_t uid;
    gid_t gid;
};

struct spec_device_rule { /* "linux.resources.devices": the device cgroup's list */
    bool allow;
    char type;             /* 'a', 'c' or 'b' */
    int64_t major, minor;  /* -1: any */
    char access[4];        /* of "rwm" */
};

struct spec_throttle { /* one of "blockIO.throttle*Device" */
    int64_t major, minor;
    uint64_t rate;
};
enum throttle_kind { THROTTLE_READ_BPS, THROTTLE_WRITE_BPS, THROTTLE_READ_IOPS, THROTTLE_WRITE_IOPS, THROTTLE_KINDS };
static const char *const throttle_names[THROTTLE_KINDS] = {"throttleReadBpsDevice", "throttleWriteBpsDevice",
                                                           "throttleReadIOPSDevice", "throttleWriteIOPSDevice"};

/* "linux.resources": the cgroup's device rules and limits, which CONTAINER:
 * CGROUPS applies.  Numbers: 0 is unset, -1 unlimited. */
struct spec_resources {
    struct spec_device_rule *devices;
    size_t n_devices;
    int64_t memory_limit;       /* "memory.limit" (bytes) */
    int64_t memory_reservation; /* "memory.reservation" */
    int64_t memory_swap;        /* "memory.swap": memory plus swap, as the OCI spec counts it */
    bool oom_kill_disable;      /* "memory.disableOOMKiller" */
    uint64_t cpu_shares;        /* "cpu.shares" */
    int64_t cpu_quota;          /* "cpu.quota" (microseconds per period) */
    uint64_t cpu_period;        /* "cpu.period" */
    char *cpuset_cpus, *cpuset_mems; /* "cpu.cpus", "cpu.mems" */
    int64_t pids_limit;         /* "pids.limit" */
    uint16_t blkio_weight;      /* "blockIO.weight" */
    struct spec_throttle *throttles[THROTTLE_KINDS];
    size_t n_throttles[THROTTLE_KINDS];
};

static void spec_resources_release(struct spec_resources *r)
{
    free(r->devices);
    free(r->cpuset_cpus);
    free(r->cpuset_mems);
    for (int k = 0; k < THROTTLE_KINDS; k++)
        free(r->throttles[k]);
    *r = (struct spec_resources){0};
}

/* "hooks": programs run at points of the container's life (OCI mode). */
enum hook_kind { HOOK_PRESTART, HOOK_CREATE_RUNTIME, HOOK_CREATE_CONTAINER, HOOK_START_CONTAINER, HOOK_POSTSTART,
                 HOOK_POSTSTOP, HOOK_KINDS };
static const char *const hook_kind_names[HOOK_KINDS] = {"prestart", "createRuntime", "createContainer",
                                                        "startContainer", "poststart", "poststop"};

struct spec_hook {
    char *path;
    char **args, **env;
    int timeout; /* seconds, 0: none */
};

struct spec {
    struct spec_process process;
    char *root_path;        /* "root.path": the container's root */
    bool root_readonly;     /* "root.readonly" */
    char *root_layer;       /* annotation "lrun.container-layer", or NULL */
    char *hostname;
    char *domainname;
    struct spec_mount *mounts; /* in the order they are mounted */
    size_t n_mounts;
    struct spec_hook *hooks[HOOK_KINDS];
    size_t n_hooks[HOOK_KINDS];
    char **annotations;     /* key, value, key, value, ... (lrun's own are members above) */
    /* "linux" */
    struct spec_namespace namespaces[NS_KINDS];
    struct spec_id_mapping *uid_mappings, *gid_mappings;
    size_t n_uid_mappings, n_gid_mappings;
    struct spec_device *devices;
    size_t n_devices;
    struct spec_resources resources;
    char *cgroups_path;
    char **sysctl;           /* key, value, ... */
    char *seccomp;           /* the "seccomp" object as JSON text (see CONTAINER: PROCESS); NULL: none */
    char **masked_paths;     /* hidden: a file under /dev/null, a directory under an empty read-only tmpfs */
    char **readonly_paths;   /* bound read-only over themselves */
    unsigned long rootfs_propagation; /* MS_* for every mount at the start (default MS_SLAVE | MS_REC, as runc) */
};

static void spec_process_release(struct spec_process *p)
{
    lrun_strv_free(p->args);
    lrun_strv_free(p->env);
    free(p->cwd);
    free(p->user.additional_gids);
    free(p->user.name);
    free(p->rlimits);
    *p = (struct spec_process){0};
}

static void spec_release(struct spec *s)
{
    spec_process_release(&s->process);
    free(s->root_path);
    free(s->root_layer);
    free(s->hostname);
    free(s->domainname);
    for (size_t i = 0; i < s->n_mounts; i++) {
        free(s->mounts[i].destination);
        free(s->mounts[i].type);
        free(s->mounts[i].source);
        lrun_strv_free(s->mounts[i].options);
        free(s->mounts[i].data);
    }
    free(s->mounts);
    for (int k = 0; k < HOOK_KINDS; k++) {
        for (size_t i = 0; i < s->n_hooks[k]; i++) {
            free(s->hooks[k][i].path);
            lrun_strv_free(s->hooks[k][i].args);
            lrun_strv_free(s->hooks[k][i].env);
        }
        free(s->hooks[k]);
    }
    lrun_strv_free(s->annotations);
    for (int k = 0; k < NS_KINDS; k++)
        free(s->namespaces[k].path);
    free(s->uid_mappings);
    free(s->gid_mappings);
    for (size_t i = 0; i < s->n_devices; i++)
        free(s->devices[i].path);
    free(s->devices);
    spec_resources_release(&s->resources);
    free(s->cgroups_path);
    lrun_strv_free(s->sysctl);
    free(s->seccomp);
    lrun_strv_free(s->masked_paths);
    lrun_strv_free(s->readonly_paths);
    *s = (struct spec){0};
}
#define autospec cleanup(spec_release)

/* spec_new_namespaces: the clone(2) flags of the namespaces to create. */
static unsigned long spec_new_namespaces(const struct spec *s)
{
    unsigned long flags = 0;
    for (int k = 0; k < NS_KINDS; k++)
        if (s->namespaces[k].wanted && !s->namespaces[k].path)
            flags |= namespace_kinds[k].clone_flag;
    return flags;
}

/* --- environment lists --- */

/* env_set_default: KEY=VALUE unless env has KEY. */
static void env_set_default(char ***env, const char *key, const char *value)
{
    if (env_get(*env, key))
        return;
    autofree char *entry = xasprintf("%s=%s", key, value);
    env_set(env, entry);
}

/* --- names in the spec: mount options, capabilities, rlimits --- */

static const struct mount_option {
    const char *name;
    unsigned long set, clear;  /* MS_* flags */
    unsigned long propagation; /* applied after the mount */
} mount_options[] = {
    {"defaults", 0, 0, 0},          {"ro", MS_RDONLY, 0, 0},          {"rw", 0, MS_RDONLY, 0},
    {"nosuid", MS_NOSUID, 0, 0},    {"suid", 0, MS_NOSUID, 0},        {"nodev", MS_NODEV, 0, 0},
    {"dev", 0, MS_NODEV, 0},        {"noexec", MS_NOEXEC, 0, 0},      {"exec", 0, MS_NOEXEC, 0},
    {"sync", MS_SYNCHRONOUS, 0, 0}, {"async", 0, MS_SYNCHRONOUS, 0},  {"dirsync", MS_DIRSYNC, 0, 0},
    {"mand", MS_MANDLOCK, 0, 0},    {"nomand", 0, MS_MANDLOCK, 0},    {"noatime", MS_NOATIME, 0, 0},
    {"atime", 0, MS_NOATIME, 0},    {"nodiratime", MS_NODIRATIME, 0, 0}, {"diratime", 0, MS_NODIRATIME, 0},
    {"relatime", MS_RELATIME, 0, 0}, {"norelatime", 0, MS_RELATIME, 0}, {"strictatime", MS_STRICTATIME, 0, 0},
    {"nostrictatime", 0, MS_STRICTATIME, 0}, {"silent", MS_SILENT, 0, 0}, {"loud", 0, MS_SILENT, 0},
    {"bind", MS_BIND, 0, 0},        {"rbind", MS_BIND | MS_REC, 0, 0},
    {"private", 0, 0, MS_PRIVATE},  {"rprivate", 0, 0, MS_PRIVATE | MS_REC},
    {"shared", 0, 0, MS_SHARED},    {"rshared", 0, 0, MS_SHARED | MS_REC},
    {"slave", 0, 0, MS_SLAVE},      {"rslave", 0, 0, MS_SLAVE | MS_REC},
    {"unbindable", 0, 0, MS_UNBINDABLE}, {"runbindable", 0, 0, MS_UNBINDABLE | MS_REC},
};

static const struct mount_option *mount_option_find(const char *name)
{
    for (size_t i = 0; i < sizeof mount_options / sizeof *mount_options; i++)
        if (strcmp(mount_options[i].name, name) == 0)
            return &mount_options[i];
    return NULL;
}

/* spec_mount_parse: the options as flags, propagation and data (what is
 * no flag, "mode=755", belongs to the filesystem). */
static void spec_mount_parse(struct spec_mount *m)
{
    struct buf data = {0};
    m->flags = m->type && strcmp(m->type, "bind") == 0 ? MS_BIND : 0;
    m->propagation = 0;
    for (size_t i = 0; m->options && m->options[i]; i++) {
        const struct mount_option *o = mount_option_find(m->options[i]);
        if (!o) {
            buf_printf(&data, "%s%s", data.len ? "," : "", m->options[i]);
            continue;
        }
        m->flags = (m->flags | o->set) & ~o->clear;
        if (o->propagation)
            m->propagation = o->propagation;
    }
    free(m->data);
    m->data = data.len ? buf_steal(&data) : NULL;
    buf_free(&data);
}

static int capability_last(void)
{
    static int last = -1;
    if (last < 0) {
        autobuf struct buf text = {0};
        last = read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", &text, NULL) == 0 ? atoi(text.data) : CAP_LAST_CAP;
        if (last <= 0 || last > 63)
            last = CAP_LAST_CAP;
    }
    return last;
}

static int capability_parse(const char *name, int *cap, lrun_error **err)
{
    autofree char *lower = has_prefix(name, "CAP_") || has_prefix(name, "cap_") ? xstrdup(name) : xasprintf("cap_%s", name);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    cap_value_t value;
    if (cap_from_name(lower, &value) < 0 || value < 0 || value > 63)
        return fail(err, "unknown capability \"%s\"", name);
    *cap = (int)value;
    return 0;
}

/* capabilities_held: lrun's own bounding set, all it may hand out. */
static uint64_t capabilities_held(void)
{
    uint64_t held = 0;
    for (int cap = 0; cap <= capability_last(); cap++)
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
            held |= 1ull << cap;
    return held;
}

static int capabilities_from_json(yajl_val list, uint64_t *mask, lrun_error **err)
{
    *mask = 0;
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val v = json_array_at(list, i);
        int cap;
        if (!YAJL_IS_STRING(v))
            return fail(err, "a capability is not a string");
        if (capability_parse(YAJL_GET_STRING(v), &cap, NULL) < 0)
            continue; /* one this kernel or libcap does not know: ignored, as runc and crun do */
        *mask |= 1ull << cap;
    }
    return 0;
}

static void jw_capabilities(yajl_gen g, uint64_t mask)
{
    yajl_gen_array_open(g);
    for (int cap = 0; cap < 64; cap++) {
        if (!(mask >> cap & 1))
            continue;
        char *name = cap_to_name((cap_value_t)cap); /* "cap_chown", or the number */
        char upper[64];
        snprintf(upper, sizeof upper, "%s", name ? name : "");
        for (char *p = upper; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        cap_free(name);
        jw_str(g, upper);
    }
    yajl_gen_array_close(g);
}

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},     {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},   {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

/* --- JSON out --- */

/* jw_key_u64: numbers past INT64_MAX (an unlimited rlimit) as text. */
static void jw_key_u64(yajl_gen g, const char *key, uint64_t n)
{
    char text[24];
    jw_key(g, key);
    snprintf(text, sizeof text, "%" PRIu64, n);
    yajl_gen_number(g, text, strlen(text));
}

/* jw_key_pairs: key, value, ... as an object of strings */
static void jw_key_pairs(yajl_gen g, const char *key, char *const *pairs)
{
    jw_key(g, key);
    yajl_gen_map_open(g);
    for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
        jw_key_str(g, pairs[i], pairs[i + 1]);
    yajl_gen_map_close(g);
}

static void spec_write_user(yajl_gen g, const struct spec_user *u)
{
    jw_key(g, "user");
    yajl_gen_map_open(g);
    jw_key_int(g, "uid", u->uid);
    jw_key_int(g, "gid", u->gid);
    jw_key_int(g, "umask", u->umask);
    if (u->n_additional_gids) {
        jw_key(g, "additionalGids");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < u->n_additional_gids; i++)
            yajl_gen_integer(g, u->additional_gids[i]);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
}

static void spec_write_process(yajl_gen g, const struct spec_process *p)
{
    jw_key(g, "process");
    yajl_gen_map_open(g);
    jw_key_bool(g, "terminal", p->terminal);
    if (p->console_height || p->console_width) {
        jw_key(g, "consoleSize");
        yajl_gen_map_open(g);
        jw_key_int(g, "height", p->console_height);
        jw_key_int(g, "width", p->console_width);
        yajl_gen_map_close(g);
    }
    spec_write_user(g, &p->user);
    jw_key_strv(g, "args", p->args);
    jw_key_strv(g, "env", p->env);
    jw_key_str(g, "cwd", p->cwd ? p->cwd : "/");
    jw_key(g, "capabilities");
    yajl_gen_map_open(g);
    for (int set = 0; set < CAPS_SETS; set++) {
        jw_key(g, capability_set_names[set]);
        jw_capabilities(g, p->caps[set]);
    }
    yajl_gen_map_close(g);
    jw_key(g, "rlimits");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < p->n_rlimits; i++)
        for (size_t n = 0; n < sizeof rlimit_names / sizeof *rlimit_names; n++)
            if (rlimit_names[n].resource == p->rlimits[i].resource) {
                yajl_gen_map_open(g);
                jw_key_str(g, "type", rlimit_names[n].name);
                jw_key_u64(g, "hard", p->rlimits[i].hard);
                jw_key_u64(g, "soft", p->rlimits[i].soft);
                yajl_gen_map_close(g);
            }
    yajl_gen_array_close(g);
    jw_key_bool(g, "noNewPrivileges", p->no_new_privileges);
    if (p->has_oom_score_adj)
        jw_key_int(g, "oomScoreAdj", p->oom_score_adj);
    yajl_gen_map_close(g);
}

static void spec_write_mounts(yajl_gen g, const struct spec *s)
{
    jw_key(g, "mounts");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < s->n_mounts; i++) {
        const struct spec_mount *m = &s->mounts[i];
        yajl_gen_map_open(g);
        jw_key_str(g, "destination", m->destination);
        if (m->type)
            jw_key_str(g, "type", m->type);
        if (m->source)
            jw_key_str(g, "source", m->source);
        jw_key_strv(g, "options", m->options);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void spec_write_hooks(yajl_gen g, const struct spec *s)
{
    jw_key(g, "hooks");
    yajl_gen_map_open(g);
    for (int k = 0; k < HOOK_KINDS; k++) {
        if (!s->n_hooks[k])
            continue;
        jw_key(g, hook_kind_names[k]);
        yajl_gen_array_open(g);
        for (size_t i = 0; i < s->n_hooks[k]; i++) {
            const struct spec_hook *h = &s->hooks[k][i];
            yajl_gen_map_open(g);
            jw_key_str(g, "path", h->path);
            if (h->args)
                jw_key_strv(g, "args", h->args);
            if (h->env)
                jw_key_strv(g, "env", h->env);
            if (h->timeout)
                jw_key_int(g, "timeout", h->timeout);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
}

static void spec_write_annotations(yajl_gen g, const struct spec *s)
{
    jw_key(g, "annotations");
    yajl_gen_map_open(g);
    for (size_t i = 0; s->annotations && s->annotations[i] && s->annotations[i + 1]; i += 2)
        jw_key_str(g, s->annotations[i], s->annotations[i + 1]);
    if (s->root_layer)
        jw_key_str(g, "lrun.container-layer", s->root_layer);
    if (s->process.user.name)
        jw_key_str(g, "lrun.user", s->process.user.name);
    yajl_gen_map_close(g);
}

static void spec_write_id_mappings(yajl_gen g, const char *key, const struct spec_id_mapping *m, size_t n)
{
    if (!n)
        return;
    jw_key(g, key);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        jw_key_int(g, "containerID", m[i].container_id);
        jw_key_int(g, "hostID", m[i].host_id);
        jw_key_int(g, "size", m[i].size);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void spec_write_devices(yajl_gen g, const struct spec *s)
{
    jw_key(g, "devices");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < s->n_devices; i++) {
        const struct spec_device *d = &s->devices[i];
        char type[2] = {d->type, 0};
        yajl_gen_map_open(g);
        jw_key_str(g, "path", d->path);
        jw_key_str(g, "type", type);
        jw_key_int(g, "major", d->major);
        jw_key_int(g, "minor", d->minor);
        jw_key_int(g, "fileMode", d->mode);
        jw_key_int(g, "uid", d->uid);
        jw_key_int(g, "gid", d->gid);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void jw_key_int_set(yajl_gen g, const char *key, int64_t n)
{
    if (n)
        jw_key_int(g, key, n);
}

/* spec_write_limits: memory, cpu, pids and blockIO, the members set */
static void spec_write_limits(yajl_gen g, const struct spec_resources *r)
{
    if (r->memory_limit || r->memory_reservation || r->memory_swap || r->oom_kill_disable) {
        jw_key(g, "memory");
        yajl_gen_map_open(g);
        jw_key_int_set(g, "limit", r->memory_limit);
        jw_key_int_set(g, "reservation", r->memory_reservation);
        jw_key_int_set(g, "swap", r->memory_swap);
        if (r->oom_kill_disable)
            jw_key_bool(g, "disableOOMKiller", true);
        yajl_gen_map_close(g);
    }
    if (r->cpu_shares || r->cpu_quota || r->cpu_period || r->cpuset_cpus || r->cpuset_mems) {
        jw_key(g, "cpu");
        yajl_gen_map_open(g);
        jw_key_int_set(g, "shares", (int64_t)r->cpu_shares);
        jw_key_int_set(g, "quota", r->cpu_quota);
        jw_key_int_set(g, "period", (int64_t)r->cpu_period);
        if (r->cpuset_cpus)
            jw_key_str(g, "cpus", r->cpuset_cpus);
        if (r->cpuset_mems)
            jw_key_str(g, "mems", r->cpuset_mems);
        yajl_gen_map_close(g);
    }
    if (r->pids_limit) {
        jw_key(g, "pids");
        yajl_gen_map_open(g);
        jw_key_int(g, "limit", r->pids_limit);
        yajl_gen_map_close(g);
    }
    bool throttled = false;
    for (int k = 0; k < THROTTLE_KINDS; k++)
        throttled |= r->n_throttles[k] > 0;
    if (!r->blkio_weight && !throttled)
        return;
    jw_key(g, "blockIO");
    yajl_gen_map_open(g);
    jw_key_int_set(g, "weight", r->blkio_weight);
    for (int k = 0; k < THROTTLE_KINDS; k++) {
        if (!r->n_throttles[k])
            continue;
        jw_key(g, throttle_names[k]);
        yajl_gen_array_open(g);
        for (size_t i = 0; i < r->n_throttles[k]; i++) {
            yajl_gen_map_open(g);
            jw_key_int(g, "major", r->throttles[k][i].major);
            jw_key_int(g, "minor", r->throttles[k][i].minor);
            jw_key_u64(g, "rate", r->throttles[k][i].rate);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
}

static void spec_write_resources(yajl_gen g, const struct spec_resources *r)
{
    jw_key(g, "resources");
    yajl_gen_map_open(g);
    jw_key(g, "devices");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < r->n_devices; i++) {
        const struct spec_device_rule *d = &r->devices[i];
        char type[2] = {d->type, 0};
        yajl_gen_map_open(g);
        jw_key_bool(g, "allow", d->allow);
        if (d->type != 'a')
            jw_key_str(g, "type", type);
        if (d->major >= 0)
            jw_key_int(g, "major", d->major);
        if (d->minor >= 0)
            jw_key_int(g, "minor", d->minor);
        jw_key_str(g, "access", d->access);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    spec_write_limits(g, r);
    yajl_gen_map_close(g);
}

static const char *propagation_name(unsigned long flags)
{
    for (size_t i = 0; i < sizeof mount_options / sizeof *mount_options; i++)
        if (mount_options[i].propagation && mount_options[i].propagation == flags)
            return mount_options[i].name;
    return NULL;
}

static void spec_write_linux(yajl_gen g, const struct spec *s)
{
    jw_key(g, "linux");
    yajl_gen_map_open(g);
    spec_write_id_mappings(g, "uidMappings", s->uid_mappings, s->n_uid_mappings);
    spec_write_id_mappings(g, "gidMappings", s->gid_mappings, s->n_gid_mappings);
    jw_key_pairs(g, "sysctl", s->sysctl);
    spec_write_resources(g, &s->resources);
    if (s->cgroups_path)
        jw_key_str(g, "cgroupsPath", s->cgroups_path);
    jw_key(g, "namespaces");
    yajl_gen_array_open(g);
    for (int k = 0; k < NS_KINDS; k++) {
        if (!s->namespaces[k].wanted)
            continue;
        yajl_gen_map_open(g);
        jw_key_str(g, "type", namespace_kinds[k].name);
        if (s->namespaces[k].path)
            jw_key_str(g, "path", s->namespaces[k].path);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    spec_write_devices(g, s);
    if (s->seccomp) { /* JSON text already: yajl_gen_number copies its text as it is */
        jw_key(g, "seccomp");
        yajl_gen_number(g, s->seccomp, strlen(s->seccomp));
    }
    if (propagation_name(s->rootfs_propagation))
        jw_key_str(g, "rootfsPropagation", propagation_name(s->rootfs_propagation));
    jw_key_strv(g, "maskedPaths", s->masked_paths);
    jw_key_strv(g, "readonlyPaths", s->readonly_paths);
    yajl_gen_map_close(g);
}

/* spec_to_json: config.json's text. */
static char *spec_to_json(const struct spec *s, size_t *len, bool pretty)
{
    autogen yajl_gen g = json_writer(pretty);
    yajl_gen_map_open(g);
    jw_key_str(g, "ociVersion", "1.1.0");
    spec_write_process(g, &s->process);
    jw_key(g, "root");
    yajl_gen_map_open(g);
    jw_key_str(g, "path", s->root_path);
    jw_key_bool(g, "readonly", s->root_readonly);
    yajl_gen_map_close(g);
    if (s->hostname)
        jw_key_str(g, "hostname", s->hostname);
    if (s->domainname)
        jw_key_str(g, "domainname", s->domainname);
    spec_write_mounts(g, s);
    spec_write_hooks(g, s);
    spec_write_annotations(g, s);
    spec_write_linux(g, s);
    yajl_gen_map_close(g);
    return json_writer_text(g, len);
}

/* --- JSON in --- */

static bool json_bool(yajl_val obj, const char *key) { return YAJL_IS_TRUE(json_get(obj, key)); }

/* json_u64: an unsigned member (absent: 0); values past INT64_MAX (masks,
 * unlimited rlimits) need the number's text, which yajl keeps. */
static int json_u64(yajl_val obj, const char *key, uint64_t *value, lrun_error **err)
{
    yajl_val v = json_get(obj, key);
    char *end;
    *value = 0;
    if (!v)
        return 0;
    if (!YAJL_IS_NUMBER(v) || !isdigit((unsigned char)YAJL_GET_NUMBER(v)[0]))
        return fail(err, "%s is not an unsigned number", key);
    errno = 0;
    *value = strtoull(YAJL_GET_NUMBER(v), &end, 10);
    if (errno || *end)
        return fail(err, "%s %s is not an unsigned 64-bit integer", key, YAJL_GET_NUMBER(v));
    return 0;
}

/* json_u32: json_u64 that must fit 32 bits (ids, modes, device numbers). */
static int json_u32(yajl_val obj, const char *key, uint32_t *value, lrun_error **err)
{
    uint64_t v;
    if (json_u64(obj, key, &v, err) < 0)
        return -1;
    if (v > UINT32_MAX)
        return fail(err, "%s %" PRIu64 " is out of range", key, v);
    *value = (uint32_t)v;
    return 0;
}

/* json_pairs: an object of strings as key, value, ... */
static char **json_pairs(yajl_val obj)
{
    char **pairs = xcalloc(1, sizeof *pairs);
    for (size_t i = 0; YAJL_IS_OBJECT(obj) && i < obj->u.object.len; i++)
        if (YAJL_IS_STRING(obj->u.object.values[i])) {
            strv_push(&pairs, xstrdup(obj->u.object.keys[i]));
            strv_push(&pairs, xstrdup(YAJL_GET_STRING(obj->u.object.values[i])));
        }
    return pairs;
}

static int spec_read_user(yajl_val v, struct spec_user *u, lrun_error **err)
{
    uint32_t uid = 0, gid = 0, mask = 022;
    yajl_val gids = json_get(v, "additionalGids");
    if (json_u32(v, "uid", &uid, err) < 0 || json_u32(v, "gid", &gid, err) < 0 ||
        (json_get(v, "umask") && json_u32(v, "umask", &mask, err) < 0))
        return error_prefix(err, "process.user");
    u->uid = uid, u->gid = gid, u->umask = mask & 0777;
    u->additional_gids = xcalloc(json_array_len(gids) + 1, sizeof *u->additional_gids);
    for (size_t i = 0; i < json_array_len(gids); i++) {
        yajl_val g = json_array_at(gids, i);
        if (!YAJL_IS_INTEGER(g) || YAJL_GET_INTEGER(g) < 0 || YAJL_GET_INTEGER(g) > UINT32_MAX)
            return fail(err, "process.user.additionalGids[%zu] is not a group id", i);
        u->additional_gids[u->n_additional_gids++] = (gid_t)YAJL_GET_INTEGER(g);
    }
    return 0;
}

static int spec_read_rlimits(yajl_val list, struct spec_process *p, lrun_error **err)
{
    p->rlimits = xcalloc(json_array_len(list) + 1, sizeof *p->rlimits);
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val v = json_array_at(list, i);
        const char *type = json_string(v, "type");
        struct spec_rlimit *r = &p->rlimits[p->n_rlimits];
        r->resource = -1;
        for (size_t n = 0; type && n < sizeof rlimit_names / sizeof *rlimit_names; n++)
            if (strcmp(rlimit_names[n].name, type) == 0)
                r->resource = rlimit_names[n].resource;
        if (r->resource < 0)
            return fail(err, "process.rlimits: unknown type %s", type ? type : "(missing)");
        if (json_u64(v, "soft", &r->soft, err) < 0 || json_u64(v, "hard", &r->hard, err) < 0)
            return error_prefix(err, "process.rlimits %s", type);
        p->n_rlimits++;
    }
    return 0;
}

static int spec_read_process(yajl_val v, struct spec_process *p, lrun_error **err)
{
    if (!YAJL_IS_OBJECT(v))
        return fail(err, "process is missing");
    p->args = json_strv(json_get(v, "args"));
    p->env = json_strv(json_get(v, "env"));
    p->cwd = xstrdup(json_string(v, "cwd") ? json_string(v, "cwd") : "/");
    p->terminal = json_bool(v, "terminal");
    p->no_new_privileges = json_bool(v, "noNewPrivileges");
    yajl_val size = json_get(v, "consoleSize"), caps = json_get(v, "capabilities");
    p->console_height = (unsigned)json_int(size, "height", 0);
    p->console_width = (unsigned)json_int(size, "width", 0);
    if (strv_len(p->args) == 0)
        return fail(err, "process.args: no command");
    if (spec_read_user(json_get(v, "user"), &p->user, err) < 0 ||
        spec_read_rlimits(json_get(v, "rlimits"), p, err) < 0)
        return -1;
    for (int set = 0; set < CAPS_SETS; set++)
        if (capabilities_from_json(json_get(caps, capability_set_names[set]), &p->caps[set], err) < 0)
            return error_prefix(err, "process.capabilities.%s", capability_set_names[set]);
    yajl_val oom = json_get(v, "oomScoreAdj");
    if ((p->has_oom_score_adj = YAJL_IS_INTEGER(oom)))
        p->oom_score_adj = (int)YAJL_GET_INTEGER(oom);
    return 0;
}

static int spec_read_mounts(yajl_val list, struct spec *s, lrun_error **err)
{
    s->mounts = xcalloc(json_array_len(list) + 1, sizeof *s->mounts);
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val v = json_array_at(list, i);
        const char *destination = json_string(v, "destination");
        if (!destination || destination[0] != '/')
            return fail(err, "mounts[%zu]: the destination must be an absolute path", i);
        struct spec_mount *m = &s->mounts[s->n_mounts++];
        m->destination = xstrdup(destination);
        m->type = xstrdup(json_string(v, "type"));
        m->source = xstrdup(json_string(v, "source"));
        m->options = json_strv(json_get(v, "options"));
        spec_mount_parse(m);
        if ((m->flags & MS_BIND) && (!m->source || m->source[0] != '/'))
            return fail(err, "mounts[%zu] (%s): a bind mount needs an absolute source", i, destination);
    }
    return 0;
}

static int spec_read_hooks(yajl_val hooks, struct spec *s, lrun_error **err)
{
    for (int k = 0; k < HOOK_KINDS; k++) {
        yajl_val list = json_get(hooks, hook_kind_names[k]);
        s->hooks[k] = xcalloc(json_array_len(list) + 1, sizeof *s->hooks[k]);
        for (size_t i = 0; i < json_array_len(list); i++) {
            yajl_val v = json_array_at(list, i);
            if (!json_string(v, "path"))
                return fail(err, "hooks.%s[%zu]: no path", hook_kind_names[k], i);
            s->hooks[k][s->n_hooks[k]++] = (struct spec_hook){
                .path = xstrdup(json_string(v, "path")),
                .args = json_get(v, "args") ? json_strv(json_get(v, "args")) : NULL,
                .env = json_get(v, "env") ? json_strv(json_get(v, "env")) : NULL,
                .timeout = (int)json_int(v, "timeout", 0)};
        }
    }
    return 0;
}

static void spec_read_annotations(yajl_val obj, struct spec *s)
{
    autostrv char **pairs = json_pairs(obj);
    s->annotations = xcalloc(1, sizeof *s->annotations);
    for (size_t i = 0; pairs[i] && pairs[i + 1]; i += 2) {
        if (strcmp(pairs[i], "lrun.container-layer") == 0) {
            free(s->root_layer), s->root_layer = xstrdup(pairs[i + 1]);
        } else if (strcmp(pairs[i], "lrun.user") == 0) {
            free(s->process.user.name), s->process.user.name = xstrdup(pairs[i + 1]);
        } else {
            if (strcmp(pairs[i], "run.oci.keep_original_groups") == 0) /* kept below too: it is not lrun's */
                s->process.user.keep_groups = strcmp(pairs[i + 1], "1") == 0;
            strv_push(&s->annotations, xstrdup(pairs[i]));
            strv_push(&s->annotations, xstrdup(pairs[i + 1]));
        }
    }
}

static int spec_read_namespaces(yajl_val list, struct spec *s, lrun_error **err)
{
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val v = json_array_at(list, i);
        const char *type = json_string(v, "type");
        int kind = -1;
        for (int k = 0; k < NS_KINDS && type; k++)
            if (strcmp(namespace_kinds[k].name, type) == 0)
                kind = k;
        if (kind < 0)
            return fail(err, "linux.namespaces: unknown namespace type \"%s\"", type ? type : "");
        if (s->namespaces[kind].wanted)
            return fail(err, "linux.namespaces: %s is listed twice", type);
        const char *path = json_string(v, "path");
        s->namespaces[kind] = (struct spec_namespace){true, path && *path ? xstrdup(path) : NULL};
    }
    return 0;
}

static int spec_read_id_mappings(yajl_val list, const char *key, struct spec_id_mapping **out, size_t *n,
                                 lrun_error **err)
{
    *out = xcalloc(json_array_len(list) + 1, sizeof **out);
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val v = json_array_at(list, i);
        struct spec_id_mapping *m = &(*out)[(*n)++];
        if (json_u32(v, "containerID", &m->container_id, err) < 0 || json_u32(v, "hostID", &m->host_id, err) < 0 ||
            json_u32(v, "size", &m->size, err) < 0)
            return error_prefix(err, "linux.%s[%zu]", key, i);
    }
    return 0;
}

static int spec_read_devices(yajl_val list, struct spec *s, lrun_error **err)
{
    s->devices = xcalloc(json_array_len(list) + 1, sizeof *s->devices);
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val v = json_array_at(list, i);
        const char *path = json_string(v, "path"), *type = json_string(v, "type");
        uint32_t mode = 0666, uid = 0, gid = 0;
        struct spec_device *d = &s->devices[s->n_devices];
        if (!path || path[0] != '/' || !type || strlen(type) != 1 || !strchr("cbup", type[0]))
            return fail(err, "linux.devices[%zu]: needs an absolute path and a type c, b, u or p", i);
        if (json_u32(v, "major", &d->major, err) < 0 || json_u32(v, "minor", &d->minor, err) < 0 ||
            (json_get(v, "fileMode") && json_u32(v, "fileMode", &mode, err) < 0) || json_u32(v, "uid", &uid, err) < 0 ||
            json_u32(v, "gid", &gid, err) < 0)
            return error_prefix(err, "linux.devices[%zu]", i);
        d->path = xstrdup(path), d->type = type[0], d->mode = mode & 07777, d->uid = uid, d->gid = gid;
        s->n_devices++;
    }
    return 0;
}

/* spec_read_limits: memory, cpu, pids, blockIO of linux.resources */
static int spec_read_limits(yajl_val v, struct spec_resources *r, lrun_error **err)
{
    yajl_val memory = json_get(v, "memory"), cpu = json_get(v, "cpu"), pids = json_get(v, "pids");
    yajl_val io = json_get(v, "blockIO");
    r->memory_limit = json_int(memory, "limit", 0);
    r->memory_reservation = json_int(memory, "reservation", 0);
    r->memory_swap = json_int(memory, "swap", 0);
    r->oom_kill_disable = json_bool(memory, "disableOOMKiller");
    uint64_t weight;
    if (json_u64(cpu, "shares", &r->cpu_shares, err) < 0 || json_u64(cpu, "period", &r->cpu_period, err) < 0 ||
        json_u64(io, "weight", &weight, err) < 0)
        return error_prefix(err, "linux.resources");
    if (weight > 1000)
        return fail(err, "linux.resources.blockIO.weight %" PRIu64 " is out of range", weight);
    r->blkio_weight = (uint16_t)weight;
    r->cpu_quota = json_int(cpu, "quota", 0);
    r->cpuset_cpus = xstrdup(json_string(cpu, "cpus"));
    r->cpuset_mems = xstrdup(json_string(cpu, "mems"));
    r->pids_limit = json_int(pids, "limit", 0);
    if (pids && r->pids_limit <= 0) /* the spec's "unlimited" */
        r->pids_limit = -1;
    if (r->memory_limit < -1 || r->memory_reservation < -1 || r->memory_swap < -1 || r->cpu_quota < -1)
        return fail(err, "linux.resources: a negative limit other than -1");
    for (int k = 0; k < THROTTLE_KINDS; k++) {
        yajl_val list = json_get(io, throttle_names[k]);
        r->throttles[k] = xcalloc(json_array_len(list) + 1, sizeof *r->throttles[k]);
        for (size_t i = 0; i < json_array_len(list); i++) {
            yajl_val t = json_array_at(list, i);
            struct spec_throttle *to = &r->throttles[k][r->n_throttles[k]++];
            to->major = json_int(t, "major", -1);
            to->minor = json_int(t, "minor", -1);
            if (json_u64(t, "rate", &to->rate, err) < 0 || to->major < 0 || to->minor < 0)
                return error_prefix(err, "linux.resources.blockIO.%s[%zu]", throttle_names[k], i);
        }
    }
    return 0;
}

static int spec_read_resources(yajl_val v, struct spec_resources *r, lrun_error **err)
{
    yajl_val list = json_get(v, "devices");
    r->devices = xcalloc(json_array_len(list) + 1, sizeof *r->devices);
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val d = json_array_at(list, i);
        const char *type = json_string(d, "type"), *access = json_string(d, "access");
        if ((type && (strlen(type) != 1 || !strchr("acb", type[0]))) || (access && strspn(access, "rwm") != strlen(access)) ||
            (access && strlen(access) > 3))
            return fail(err, "linux.resources.devices[%zu]: type must be a, c or b, access of rwm", i);
        struct spec_device_rule *rule = &r->devices[r->n_devices++];
        rule->allow = json_bool(d, "allow");
        rule->type = type ? type[0] : 'a';
        rule->major = json_int(d, "major", -1);
        rule->minor = json_int(d, "minor", -1);
        snprintf(rule->access, sizeof rule->access, "%s", access ? access : "rwm");
    }
    return spec_read_limits(v, r, err);
}

static int spec_read_linux(yajl_val v, struct spec *s, lrun_error **err)
{
    const char *propagation = json_string(v, "rootfsPropagation");
    yajl_val seccomp = json_get(v, "seccomp");
    if (spec_read_namespaces(json_get(v, "namespaces"), s, err) < 0 ||
        spec_read_id_mappings(json_get(v, "uidMappings"), "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err) < 0 ||
        spec_read_id_mappings(json_get(v, "gidMappings"), "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err) < 0 ||
        spec_read_devices(json_get(v, "devices"), s, err) < 0 ||
        spec_read_resources(json_get(v, "resources"), &s->resources, err) < 0)
        return -1;
    s->cgroups_path = xstrdup(json_string(v, "cgroupsPath"));
    s->sysctl = json_pairs(json_get(v, "sysctl"));
    s->masked_paths = json_strv(json_get(v, "maskedPaths"));
    s->readonly_paths = json_strv(json_get(v, "readonlyPaths"));
    s->rootfs_propagation = MS_SLAVE | MS_REC;
    if (propagation && *propagation) {
        const struct mount_option *o = mount_option_find(propagation);
        if (!o || !o->propagation)
            return fail(err, "linux.rootfsPropagation: unknown propagation \"%s\"", propagation);
        s->rootfs_propagation = o->propagation;
    }
    if (YAJL_IS_OBJECT(seccomp) && !s->seccomp) { /* one spec_seccomp_cut did not find (an escaped key) */
        autogen yajl_gen g = json_writer(false);
        jw_value(g, seccomp);
        s->seccomp = json_writer_text(g, NULL);
    }
    return 0;
}

/* spec_seccomp_cut: linux.seccomp's text, taken out of text (an empty
 * object left in its place): a start hashes it to find the compiled filter
 * and parses it only to compile one. */
static char *spec_seccomp_cut(char *text)
{
    const char *linux_value = json_member(text, "linux");
    const char *start = linux_value ? json_member(linux_value, "seccomp") : NULL;
    const char *end = start && *start == '{' ? json_skip_value(start) : NULL;
    if (!end)
        return NULL;
    char *seccomp = xstrndup(start, (size_t)(end - start));
    memcpy((char *)start, "{}", 2);
    memmove((char *)start + 2, end, strlen(end) + 1);
    return seccomp;
}

/* spec_from_json: config.json's text as a spec; errors name the member. */
static int spec_from_json(const char *text, struct spec *s, lrun_error **err)
{
    *s = (struct spec){0};
    autofree char *rest = xstrdup(text);
    s->seccomp = spec_seccomp_cut(rest);
    autojson yajl_val v = json_parse(rest, "config.json", err);
    if (!v)
        return -1;
    yajl_val root = json_get(v, "root");
    if (!YAJL_IS_OBJECT(v) || !json_string(v, "ociVersion"))
        return fail(err, "config.json: not a runtime spec (no ociVersion)");
    if (!json_string(root, "path") || !*json_string(root, "path"))
        return fail(err, "config.json: root.path is missing");
    s->root_path = xstrdup(json_string(root, "path"));
    spec_read_annotations(json_get(v, "annotations"), s);
    s->root_readonly = json_bool(root, "readonly");
    s->hostname = xstrdup(json_string(v, "hostname"));
    s->domainname = xstrdup(json_string(v, "domainname"));
    if (spec_read_process(json_get(v, "process"), &s->process, err) < 0 ||
        spec_read_mounts(json_get(v, "mounts"), s, err) < 0 || spec_read_hooks(json_get(v, "hooks"), s, err) < 0 ||
        spec_read_linux(json_get(v, "linux"), s, err) < 0)
        return error_prefix(err, "config.json");
    return 0;
}

static int spec_read_file(const char *path, struct spec *s, lrun_error **err)
{
    autobuf struct buf text = {0};
    *s = (struct spec){0};
    if (read_file_at(AT_FDCWD, path, &text, err) < 0)
        return -1;
    return spec_from_json(text.data, s, err);
}

/* ========================================================================
 * CONTAINER: ROOTFS: the root (the container's overlay, or a directory),
 * the spec's mounts, /dev's nodes and links, the console, masked and
 * read-only paths, sysctls, the root switch
 *
 * These run in the container's first process, in its new namespaces,
 * before the root switch.  Every path is resolved inside the root with
 * openat2(RESOLVE_IN_ROOT) (MOUNTS), so a symlink in the image cannot aim
 * a mount or a write at the host.
 * ======================================================================== */

struct seccomp_program;

/* What the executor is given besides the spec: runc's command-line options
 * and the descriptors of the process that launches the container. */
struct launch;
typedef int (*launch_created_fn)(const struct launch *l, pid_t pid, struct buf *state, lrun_error **err);

struct launch {
    const struct spec *spec;
    const char *store_root;                /* the graph root holding spec->root_layer */
    const struct seccomp_program *seccomp; /* compiled from spec->seccomp on the host, or NULL */
    bool no_pivot;                         /* chroot instead of pivot_root (runc's --no-pivot) */
    bool init;                             /* --init: lrun's reaper is pid 1, the command its child */
    int namespace_fds[NS_KINDS];           /* namespaces to join (opened before clone), else -1 */
    int error_fd;                          /* child to parent: "<status> <message>" when setup fails */
    int console_socket;                    /* with a terminal: where the pty master goes, else -1 */
    int terminal;                          /* the pty slave, once made */
    int stdio[3];                          /* descriptors for 0, 1, 2 (-1: keep) */
    int preserve_fds;                      /* 3 .. 3+N-1 pass into the container (runc's --preserve-fds) */
    /* OCI mode (runc's create): the setup stops right before the process
     * and reports success; a byte on start_fd (a FIFO the child holds open
     * read-write, so start never blocks) lets it exec. */
    int start_fd;                          /* -1: exec at once */
    /* called in the parent once the child exists (user namespace maps,
     * createRuntime hooks); what it puts in *state (the runtime-spec state
     * JSON) the child gets before it mounts anything, for its own hooks */
    launch_created_fn created;
    void *created_arg;
    int sync_fd;                           /* the child's end of that, or -1 */
    int *mount_sources;                    /* with a new user namespace: each bind's source, opened before, or -1 */
};

/* rootfs_plain_dir: /proc, /sys and /dev must be plain directories in the
 * image (runc refuses the same): a symlink there would aim the kernel's
 * filesystems somewhere else. */
static int rootfs_plain_dir(int root_fd, const char *name, lrun_error **err)
{
    struct stat st;
    if (fstatat(root_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISDIR(st.st_mode))
            return fail(err, "the image's /%s is %s, not a directory: refusing to mount over it", name,
                        S_ISLNK(st.st_mode) ? "a symlink" : "a file");
        return 0;
    }
    if (errno != ENOENT || mkdirat(root_fd, name, 0755) < 0)
        return fail_errno(err, "create /%s in the container", name);
    return 0;
}

/* rootfs_root: the root mounted at spec->root_path: the overlay of the
 * container layer over the image's layers, or (a bundle's directory) the
 * directory bound over itself, so pivot_root has a mount to move.  Returns
 * an O_PATH descriptor of it. */
static int rootfs_root(const struct launch *l, lrun_error **err)
{
    const struct spec *s = l->spec;
    if (s->root_layer) {
        autofree char *suffix = xasprintf("/overlay/%s/merged", s->root_layer);
        if (!has_suffix(s->root_path, suffix))
            return fail(err, "root.path %s is not the overlay of the container layer %s", s->root_path, s->root_layer);
        if (overlay_mount_layer(l->store_root, s->root_layer, err) < 0)
            return -1;
    } else if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0) {
        return fail_errno(err, "bind the root %s", s->root_path);
    }
    autofree char *root = s->root_layer ? xasprintf("%s/overlay/%s/merged", l->store_root, s->root_layer)
                                        : xstrdup(s->root_path);
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open the root %s", root);
    return fd;
}

/* rootfs_mount: one of the spec's mounts.  A bind's destination is made a
 * file or a directory like its source. */
static int cgroup_mount_v1(int root_fd, const char *destination, const char *path, unsigned long flags,
                           lrun_error **err);

static int rootfs_mount(int root_fd, const struct spec_mount *m, int source_fd, const char *cgroup,
                        lrun_error **err)
{
    enum path_create create = CREATE_DIRECTORY;
    const char *type = m->type;
    if (m->flags & MS_BIND) {
        struct stat st;
        if ((source_fd >= 0 ? fstat(source_fd, &st) : stat(m->source, &st)) < 0)
            return fail_errno(err, "mount source %s", m->source);
        create = S_ISDIR(st.st_mode) ? CREATE_DIRECTORY : CREATE_FILE;
        type = NULL;
    }
    static const char *const kernel_dirs[] = {"/proc", "/sys", "/dev"};
    for (size_t i = 0; i < sizeof kernel_dirs / sizeof *kernel_dirs; i++)
        if (strcmp(m->destination, kernel_dirs[i]) == 0 && rootfs_plain_dir(root_fd, kernel_dirs[i] + 1, err) < 0)
            return -1;
    /* "cgroup": the unified hierarchy; a host without one (cgroup v1 only)
     * leaves the container without it rather than failing */
    int v1 = type && strcmp(type, "cgroup") == 0 && cgroup ? cgroup_mount_v1(root_fd, m->destination, cgroup, m->flags, err)
                                                            : 1;
    if (v1 <= 0) /* done (or failed) as v1 hierarchies */
        return v1;
    if (type && (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0)) {
        lrun_error *ignored = NULL;
        if (mount_in_root(root_fd, m->destination, create, m->source, "cgroup2", m->flags, m->data, &ignored) < 0)
            lrun_error_free(ignored);
        return 0;
    }
    if (source_fd >= 0) /* a bind the runtime cloned: a user namespace's root may not reach its path */
        return mount_tree_in_root(root_fd, m->destination, create, source_fd, m->flags, err);
    if (mount_in_root(root_fd, m->destination, create, m->source, type, m->flags, m->data, err) < 0) {
        /* sysfs wants the network namespace's owner: in a user namespace
         * without its own network, the host's /sys bound instead (as runc) */
        if (!type || strcmp(type, "sysfs") != 0 || (*err)->errnum != EPERM)
            return -1;
        lrun_error_free(*err), *err = NULL;
        if (mount_in_root(root_fd, m->destination, create, "/sys", NULL, MS_BIND | MS_REC | (m->flags & MS_RDONLY),
                          NULL, err) < 0)
            return -1;
    }
    if (!m->propagation)
        return 0;
    autoclose int fd = root_path_open(root_fd, m->destination, CREATE_NOTHING, 0, err);
    return fd < 0 ? -1 : mount_at(NULL, fd, NULL, m->propagation, NULL, m->destination, err);
}

/* rootfs_sets_up_dev: runc's rule: the runtime fills /dev (device nodes,
 * links) unless the spec binds a /dev from outside. */
static bool rootfs_sets_up_dev(const struct spec *s)
{
    for (size_t i = 0; i < s->n_mounts; i++)
        if (strcmp(s->mounts[i].destination, "/dev") == 0 && (s->mounts[i].flags & MS_BIND))
            return false;
    return true;
}

/* path_parent: path's directory ("/" at the top); *base its last name. */
static char *path_parent(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash || slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

/* rootfs_device: one node of linux.devices; where mknod is refused (a user
 * namespace) the host's node is bound instead, as runc does. */
static int rootfs_device(int root_fd, const struct spec_device *d, lrun_error **err)
{
    const char *base;
    autofree char *parent = path_parent(d->path, &base);
    autoclose int dir_fd = root_path_open(root_fd, parent, CREATE_DIRECTORY, 0, err);
    if (dir_fd < 0)
        return -1;
    mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
    int r = mknodat(dir_fd, base, type | d->mode, makedev(d->major, d->minor));
    if (r < 0 && errno == EEXIST && unlinkat(dir_fd, base, 0) == 0) /* the spec's node replaces the image's */
        r = mknodat(dir_fd, base, type | d->mode, makedev(d->major, d->minor));
    if (r < 0 && errno == EPERM)
        return mount_in_root(root_fd, d->path, CREATE_FILE, d->path, NULL, MS_BIND, NULL, err);
    if (r < 0 || fchmodat(dir_fd, base, d->mode, 0) < 0 ||
        ((d->uid || d->gid) && fchownat(dir_fd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0))
        return fail_errno(err, "create %s", d->path);
    return 0;
}

/* rootfs_dev_links: the links every /dev has (docker's and runc's set). */
static int rootfs_dev_links(int root_fd, lrun_error **err)
{
    autoclose int dev_fd = openat2_in_root(root_fd, "/dev", O_RDONLY | O_DIRECTORY);
    if (dev_fd < 0)
        return fail_errno(err, "open /dev in the container");
    static const char *const links[][2] = {{"/proc/self/fd", "fd"},    {"/proc/self/fd/0", "stdin"},
                                           {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                           {"pts/ptmx", "ptmx"},        {"/proc/kcore", "core"}};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++)
        if (symlinkat(links[i][0], dev_fd, links[i][1]) < 0 && errno != EEXIST)
            return fail_errno(err, "create /dev/%s", links[i][1]);
    return 0;
}

/* fd_send, fd_receive: a descriptor over a unix socket (SCM_RIGHTS). */
static int fd_send(int sock, int fd)
{
    char byte = 0, control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int fd_receive(int sock)
{
    char byte, control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS)
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}

/* terminal_open: a pty from the container's own devpts (pts_fd), so the
 * process sees /dev/pts/0 as with docker; the master goes to lrun over the
 * console socket, the slave (returned) becomes the terminal. */
static int terminal_open(int pts_fd, int console_socket, lrun_error **err)
{
    autoclose int master = openat(pts_fd, "ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int unlock = 0, n;
    if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
        return fail_errno(err, "open a terminal in the container");
    char name[16];
    snprintf(name, sizeof name, "%d", n);
    int slave = openat(pts_fd, name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return fail_errno(err, "open /dev/pts/%s", name);
    if (fd_send(console_socket, master) < 0) {
        close(slave);
        return fail_errno(err, "pass the terminal to lrun");
    }
    return slave;
}

/* rootfs_console: with a terminal, the pty's slave is also /dev/console. */
static int rootfs_console(int root_fd, struct launch *l, lrun_error **err)
{
    if (l->console_socket < 0)
        return 0;
    autoclose int pts_fd = root_path_open(root_fd, "/dev/pts", CREATE_NOTHING, 0, err);
    if (pts_fd < 0 || (l->terminal = terminal_open(pts_fd, l->console_socket, err)) < 0)
        return -1;
    char slave[64];
    snprintf(slave, sizeof slave, "/proc/self/fd/%d", l->terminal);
    return mount_in_root(root_fd, "/dev/console", CREATE_FILE, slave, NULL, MS_BIND, NULL, err);
}

/* rootfs_sysctl: linux.sysctl ("net.ipv4.ip_forward": "1"), written to the
 * container's /proc/sys before it is made read-only. */
static int rootfs_sysctl(int root_fd, char *const *pairs, lrun_error **err)
{
    for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
        if (strchr(pairs[i], '/') || strstr(pairs[i], ".."))
            return fail(err, "invalid sysctl name %s", pairs[i]);
        autofree char *path = xasprintf("/proc/sys/%s", pairs[i]);
        for (char *p = path + 10; *p; p++)
            if (*p == '.')
                *p = '/';
        autoclose int fd = openat2_in_root(root_fd, path, O_WRONLY | O_TRUNC);
        if (fd < 0 || write_all(fd, pairs[i + 1], strlen(pairs[i + 1])) < 0)
            return fail_errno(err, "set sysctl %s", pairs[i]);
    }
    return 0;
}

/* rootfs_masked_paths: each path hidden: a directory under an empty
 * read-only tmpfs, anything else under the container's /dev/null.  A path
 * this kernel does not have is skipped. */
static int rootfs_masked_paths(int root_fd, char *const *paths, lrun_error **err)
{
    autoclose int null_fd = openat2_in_root(root_fd, "/dev/null", O_PATH);
    struct stat st;
    char null[64] = "/dev/null"; /* the host's, if the container has no null device */
    if (null_fd >= 0 && fstat(null_fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
        snprintf(null, sizeof null, "/proc/self/fd/%d", null_fd);
    for (size_t i = 0; paths && paths[i]; i++) {
        autoclose int fd = openat2_in_root(root_fd, paths[i], O_PATH);
        if (fd < 0)
            continue;
        if (fstat(fd, &st) < 0)
            return fail_errno(err, "stat %s", paths[i]);
        if ((S_ISDIR(st.st_mode) ? mount_at("tmpfs", fd, "tmpfs", MS_RDONLY, "size=0", paths[i], err)
                                 : mount_at(null, fd, NULL, MS_BIND, NULL, paths[i], err)) < 0)
            return -1;
    }
    return 0;
}

/* rootfs_readonly_paths: each path bound read-only over itself. */
static int rootfs_readonly_paths(int root_fd, char *const *paths, lrun_error **err)
{
    for (size_t i = 0; paths && paths[i]; i++) {
        autoclose int fd = openat2_in_root(root_fd, paths[i], O_PATH);
        if (fd < 0)
            continue;
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        if (mount_in_root(root_fd, paths[i], CREATE_NOTHING, self, NULL,
                          MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
            return -1;
    }
    return 0;
}

/* root_switch: pivot_root into the new root (root_fd); where the root is
 * the initramfs (rootfs cannot be pivoted: EINVAL) move the new root over
 * / and chroot, as switch_root does.  In that mode the old root stays below
 * the container's, as with crun's --no-pivot. */
static int root_switch(int root_fd, bool no_pivot, lrun_error **err)
{
    if (fchdir(root_fd) < 0)
        return fail_errno(err, "enter the container's root");
    if (!no_pivot) {
        if (syscall(SYS_pivot_root, ".", ".") == 0) {
            if (umount2(".", MNT_DETACH) < 0)
                return fail_errno(err, "detach the old root");
            if (chdir("/") < 0)
                return fail_errno(err, "chdir /");
            return 0;
        }
        if (errno != EINVAL)
            return fail_errno(err, "pivot_root");
    }
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        return fail_errno(err, "move the container root over /");
    if (chroot(".") < 0 || chdir("/") < 0)
        return fail_errno(err, "chroot");
    return 0;
}

/* rootfs_prepare: the root and everything in it, in the spec's order:
 * the root, its mounts, /dev's nodes and links and console, sysctls, then
 * what /proc and /sys hide or keep read-only, and the working directory
 * (docker creates a missing one).  Returns the root's descriptor. */
static int rootfs_prepare(struct launch *l, lrun_error **err)
{
    const struct spec *s = l->spec;
    autoclose int root_fd = rootfs_root(l, err);
    if (root_fd < 0)
        return -1;
    for (size_t i = 0; i < s->n_mounts; i++)
        if (rootfs_mount(root_fd, &s->mounts[i], l->mount_sources ? l->mount_sources[i] : -1, s->cgroups_path, err) < 0)
            return -1;
    if (rootfs_sets_up_dev(s)) {
        for (size_t i = 0; i < s->n_devices; i++)
            if (rootfs_device(root_fd, &s->devices[i], err) < 0)
                return -1;
        if (rootfs_dev_links(root_fd, err) < 0)
            return -1;
    }
    if (rootfs_console(root_fd, l, err) < 0 || rootfs_sysctl(root_fd, s->sysctl, err) < 0 ||
        rootfs_masked_paths(root_fd, s->masked_paths, err) < 0 ||
        rootfs_readonly_paths(root_fd, s->readonly_paths, err) < 0)
        return -1;
    autoclose int cwd_fd = root_path_open(root_fd, s->process.cwd, CREATE_DIRECTORY, 0, err);
    if (cwd_fd < 0)
        return -1;
    int fd = root_fd;
    root_fd = -1; /* the caller's now */
    return fd;
}

/* ========================================================================
 * CONTAINER: PROCESS: the container's process: its user, capabilities,
 * limits, seccomp filter, and exec; the same code for exec's processes
 * ======================================================================== */

/* --- users from the container's own /etc/passwd and /etc/group (read
 * after the root switch, so no link can lead outside the container) --- */

struct user_ids {
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    size_t n_groups;
    char *home;
};

static bool parse_id(const char *s, unsigned long *out)
{
    char *end;
    if (!*s || !isdigit((unsigned char)*s))
        return false;
    *out = strtoul(s, &end, 10);
    return *end == '\0';
}

/* passwd_field: the fields of a colon-separated line. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ':') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

static int user_resolve(const char *spec, struct user_ids *u, lrun_error **err)
{
    *u = (struct user_ids){0};
    autofree char *copy = xstrdup(spec && *spec ? spec : "0");
    char *group = strchr(copy, ':');
    if (group)
        *group++ = '\0';
    unsigned long n;
    bool user_numeric = parse_id(copy, &n), user_found = false;
    if (user_numeric)
        u->uid = (uid_t)n;
    FILE *f = fopen("/etc/passwd", "re");
    char *line = NULL;
    size_t cap = 0;
    autofree char *user_name = NULL;
    while (f && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *fields[7];
        if (split_fields(line, fields, 7) < 7)
            continue;
        unsigned long uid, gid;
        if (!parse_id(fields[2], &uid) || !parse_id(fields[3], &gid))
            continue;
        if (user_numeric ? uid == u->uid : strcmp(fields[0], copy) == 0) {
            u->uid = (uid_t)uid;
            u->gid = (gid_t)gid;
            u->home = xstrdup(fields[5]);
            user_name = xstrdup(fields[0]);
            user_found = true;
            break;
        }
    }
    if (f)
        fclose(f);
    if (!user_numeric && !user_found) {
        free(line);
        return fail(err, "unable to find user %s: no matching entries in passwd file", copy);
    }
    bool group_numeric = group && parse_id(group, &n);
    if (group_numeric)
        u->gid = (gid_t)n;
    bool group_found = !group || group_numeric;
    f = fopen("/etc/group", "re");
    while (f && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *fields[4];
        unsigned long gid;
        if (split_fields(line, fields, 4) < 4 || !parse_id(fields[2], &gid))
            continue;
        if (group && !group_numeric && strcmp(fields[0], group) == 0)
            u->gid = (gid_t)gid, group_found = true;
        if (!user_name || group) /* supplementary groups: only for a named user without -u :group */
            continue;
        char *save = NULL;
        for (char *m = strtok_r(fields[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
            if (strcmp(m, user_name) == 0) {
                u->groups = xrealloc(u->groups, (u->n_groups + 1) * sizeof *u->groups);
                u->groups[u->n_groups++] = (gid_t)gid;
            }
    }
    if (f)
        fclose(f);
    free(line);
    if (!group_found)
        return fail(err, "unable to find group %s: no matching entries in group file", group);
    if (!u->home)
        u->home = xstrdup("/");
    return 0;
}

/* close_extra_fds: nothing of lrun's but 0-2 (and the first preserve
 * descriptors after them: runc's --preserve-fds) reaches the container;
 * keep and keep2 are lrun's own (close-on-exec) for the setup's end. */
static void close_extra_fds(int preserve, int keep, int keep2)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) {
        for (int fd = 3 + preserve; fd < 1024; fd++)
            if (fd != keep && fd != keep2)
                close(fd);
        return;
    }
    int self = dirfd(dir);
    struct dirent *de;
    while ((de = readdir(dir))) {
        int fd = atoi(de->d_name);
        if (fd > 2 + preserve && fd != self && fd != keep && fd != keep2)
            close(fd);
    }
    closedir(dir);
}

/* --- seccomp: docker's default profile and docker-format JSON profiles ---
 *
 * A profile in docker's format (moby's profiles/seccomp) is a default action
 * and a list of rules.  A rule gives an action to some syscalls, optionally
 * only for some argument values, and only when its conditions hold:
 * "includes" (every capability listed is in the container's set, the native
 * architecture is listed, the kernel is at least minKernel) and "excludes"
 * (any one of those true drops the rule).  The conditions are decided once,
 * when the filter is built; the loaded filter knows nothing of them.
 *
 * The built-in profile is docker's default (moby/profiles seccomp/v0.2.3,
 * commit 836ae4d) as C data in the same shape, so one evaluator serves it
 * and JSON files alike.
 *
 * A spec carries its profile in the runtime spec's form (linux.seccomp: no
 * conditions, only the rules that apply).  When run or create make the
 * spec, docker's default or a profile file (a host path, read then) takes
 * that form, its conditions decided for the container's capabilities on
 * this machine, as podman writes config.json.  The same evaluator reads the
 * spec's form (a profile without conditions) when the filter is built.
 *
 * Build the filter on the host before the container starts, and load it
 * last before execve, after no_new_privs.  Without no_new_privs the
 * kernel wants CAP_SYS_ADMIN for the load, so then load it before dropping
 * capabilities, as runc does; the default profile allows the setgroups,
 * setuid, capset, prctl and execve that follow.
 *
 */

#define STRV(...) ((char *const[]){__VA_ARGS__, NULL})

/* One entry of a profile's "syscalls" array.  Empty lists are no condition. */
struct seccomp_rule {
    char *const *names;          /* the syscalls, NULL-terminated */
    uint32_t action;             /* SCMP_ACT_*, with its errno or trace value */
    unsigned arg_count;          /* conditions on arguments, all must hold */
    struct scmp_arg_cmp args[6]; /* {index, SCMP_CMP_*, value, valueTwo} */
    char *const *includes_caps;  /* every one in the container's set */
    char *const *includes_arches;
    const char *includes_min_kernel; /* "4.8": this kernel or newer */
    char *const *excludes_caps;      /* any one in the set drops the rule */
    char *const *excludes_arches;
    const char *excludes_min_kernel;
};

/* clone(2) may not create namespaces without CAP_SYS_ADMIN. */
#define SECCOMP_CLONE_NAMESPACES                                                                      \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
     CLONE_NEWNET)
#define SECCOMP_PERSONALITY_QUERY 0xffffffffu /* personality(0xffffffff) reads, changes nothing */

/* docker's default profile.  Whatever no rule allows fails with EPERM. */
#define SECCOMP_DEFAULT_ACTION SCMP_ACT_ERRNO(EPERM)
#define SECCOMP_ALLOW_IF_ARG0(name, op, value)                                                     \
    {.names = STRV(name), .action = SCMP_ACT_ALLOW, .arg_count = 1, .args = {{0, op, value, 0}}}

_Static_assert(AF_ALG + 2 == AF_VSOCK, "the socket rules below leave one family between AF_ALG and AF_VSOCK");

static const struct seccomp_rule seccomp_default_rules[] = {
    {.action = SCMP_ACT_ALLOW,
     .names = STRV(
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
        "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
        "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
        "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
        "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
        "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
        "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
        "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
        "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
        "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
        "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
        "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
        "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
        "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
        "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
        "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
        "getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init",
        "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
        "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
        "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
        "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek",
        "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier",
        "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
        "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
        "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
        "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
        "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect",
        "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
        "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
        "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
        "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
        "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
        "restart_syscall", "riscv_hwprobe", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
        "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
        "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
        "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
        "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
        "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
        "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
        "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
        "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
        "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
        "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat",
        "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync",
        "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
        "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
        "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
        "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
        "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat",
        "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
        "writev")},
    /* Before 4.8, ptrace could bypass seccomp. */
    {.names = STRV("process_vm_readv", "process_vm_writev", "ptrace"), .action = SCMP_ACT_ALLOW,
     .includes_min_kernel = "4.8"},
    /* Every address family but AF_ALG (the kernel crypto API, a large attack
     * surface) and AF_VSOCK (talks to the host), as three ranges: two !=
     * tests of one argument would be two rules, either one allowing (see
     * seccomp_filter_add_rule).  32-bit x86 can still reach AF_ALG through
     * socketcall, whose arguments seccomp cannot read. */
    SECCOMP_ALLOW_IF_ARG0("socket", SCMP_CMP_LT, AF_ALG),
    SECCOMP_ALLOW_IF_ARG0("socket", SCMP_CMP_EQ, AF_ALG + 1),
    SECCOMP_ALLOW_IF_ARG0("socket", SCMP_CMP_GT, AF_VSOCK),
    /* personality: only the harmless values (and the query). */
    SECCOMP_ALLOW_IF_ARG0("personality", SCMP_CMP_EQ, PER_LINUX),
    SECCOMP_ALLOW_IF_ARG0("personality", SCMP_CMP_EQ, PER_LINUX32),
    SECCOMP_ALLOW_IF_ARG0("personality", SCMP_CMP_EQ, UNAME26),
    SECCOMP_ALLOW_IF_ARG0("personality", SCMP_CMP_EQ, UNAME26 | PER_LINUX32),
    SECCOMP_ALLOW_IF_ARG0("personality", SCMP_CMP_EQ, SECCOMP_PERSONALITY_QUERY),
    /* Architecture-specific syscalls. */
    {.names = STRV("sync_file_range2", "swapcontext"), .action = SCMP_ACT_ALLOW, .includes_arches = STRV("ppc64le")},
    {.names = STRV("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
                   "set_tls"),
     .action = SCMP_ACT_ALLOW, .includes_arches = STRV("arm", "arm64")},
    {.names = STRV("arch_prctl"), .action = SCMP_ACT_ALLOW, .includes_arches = STRV("amd64", "x32")},
    {.names = STRV("modify_ldt"), .action = SCMP_ACT_ALLOW, .includes_arches = STRV("amd64", "x32", "x86")},
    {.names = STRV("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"), .action = SCMP_ACT_ALLOW,
     .includes_arches = STRV("s390", "s390x")},
    {.names = STRV("riscv_flush_icache"), .action = SCMP_ACT_ALLOW, .includes_arches = STRV("riscv64")},
    /* What each capability, when the container has it, makes usable. */
    {.names = STRV("open_by_handle_at"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_DAC_READ_SEARCH")},
    {.names = STRV("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                   "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount",
                   "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
                   "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"),
     .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYS_ADMIN")},
    {.names = STRV("clone"), .action = SCMP_ACT_ALLOW, .arg_count = 1,
     .args = {{0, SCMP_CMP_MASKED_EQ, SECCOMP_CLONE_NAMESPACES, 0}},
     .excludes_caps = STRV("CAP_SYS_ADMIN"), .excludes_arches = STRV("s390", "s390x")},
    /* s390 passes clone's flags second. */
    {.names = STRV("clone"), .action = SCMP_ACT_ALLOW, .arg_count = 1,
     .args = {{1, SCMP_CMP_MASKED_EQ, SECCOMP_CLONE_NAMESPACES, 0}},
     .includes_arches = STRV("s390", "s390x"), .excludes_caps = STRV("CAP_SYS_ADMIN")},
    /* clone3's flags are behind a pointer seccomp cannot read; ENOSYS makes
     * glibc fall back to clone, whose flags it can. */
    {.names = STRV("clone3"), .action = SCMP_ACT_ERRNO(ENOSYS), .excludes_caps = STRV("CAP_SYS_ADMIN")},
    {.names = STRV("reboot"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYS_BOOT")},
    {.names = STRV("chroot"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYS_CHROOT")},
    {.names = STRV("delete_module", "init_module", "finit_module"), .action = SCMP_ACT_ALLOW,
     .includes_caps = STRV("CAP_SYS_MODULE")},
    {.names = STRV("acct"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYS_PACCT")},
    {.names = STRV("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
     .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYS_PTRACE")},
    {.names = STRV("iopl", "ioperm"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYS_RAWIO")},
    {.names = STRV("settimeofday", "stime", "clock_settime", "clock_settime64"), .action = SCMP_ACT_ALLOW,
     .includes_caps = STRV("CAP_SYS_TIME")},
    {.names = STRV("vhangup"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYS_TTY_CONFIG")},
    {.names = STRV("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"), .action = SCMP_ACT_ALLOW,
     .includes_caps = STRV("CAP_SYS_NICE")},
    {.names = STRV("syslog"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_SYSLOG")},
    {.names = STRV("bpf"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_BPF")},
    {.names = STRV("perf_event_open"), .action = SCMP_ACT_ALLOW, .includes_caps = STRV("CAP_PERFMON")},
};

/* Architectures as a profile's "arches" name them (Go's spelling, which
 * moby matches against its own build), and the ABIs docker's archMap adds
 * beside each native one: a 64-bit x86 process can still make i386 and x32
 * syscalls, and each ABI needs its own rules or the kernel runs them. */
static const struct seccomp_arch {
    uint32_t token;        /* SCMP_ARCH_* */
    const char *name;      /* in docker's profiles */
    const char *spec_name; /* in the runtime spec's */
    uint32_t companions[2];
} seccomp_arches[] = {
    {SCMP_ARCH_X86_64, "amd64", "SCMP_ARCH_X86_64", {SCMP_ARCH_X86, SCMP_ARCH_X32}},
    {SCMP_ARCH_X86, "x86", "SCMP_ARCH_X86", {0}},
    {SCMP_ARCH_X32, "x32", "SCMP_ARCH_X32", {0}},
    {SCMP_ARCH_AARCH64, "arm64", "SCMP_ARCH_AARCH64", {SCMP_ARCH_ARM}},
    {SCMP_ARCH_ARM, "arm", "SCMP_ARCH_ARM", {0}},
    {SCMP_ARCH_PPC64LE, "ppc64le", "SCMP_ARCH_PPC64LE", {0}},
    {SCMP_ARCH_S390X, "s390x", "SCMP_ARCH_S390X", {SCMP_ARCH_S390}},
    {SCMP_ARCH_S390, "s390", "SCMP_ARCH_S390", {0}},
    {SCMP_ARCH_RISCV64, "riscv64", "SCMP_ARCH_RISCV64", {0}},
};

static const struct seccomp_arch *seccomp_arch_entry(uint32_t token)
{
    for (size_t i = 0; i < sizeof seccomp_arches / sizeof *seccomp_arches; i++)
        if (seccomp_arches[i].token == token)
            return &seccomp_arches[i];
    return NULL;
}

static const struct seccomp_arch *seccomp_native_arch_entry(void) { return seccomp_arch_entry(seccomp_arch_native()); }

/* --- deciding a rule's conditions --- */

static bool seccomp_cap_held(const char *name, uint64_t caps)
{
    cap_value_t cap;
    return cap_from_name(name, &cap) == 0 && cap >= 0 && cap < 64 && (caps >> cap & 1);
}

/* seccomp_kernel_at_least: 1 if the running kernel is version ("4.8") or
 * newer, 0 if older, -1 for a malformed version. */
static int seccomp_kernel_at_least(const char *version, lrun_error **err)
{
    unsigned want_major, want_minor, major, minor;
    struct utsname u;
    if (sscanf(version, "%u.%u", &want_major, &want_minor) != 2)
        return fail(err, "invalid minKernel \"%s\", expected \"<kernel>.<major>\"", version);
    if (uname(&u) < 0)
        return fail_errno(err, "uname");
    if (sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return fail(err, "cannot read the kernel release \"%s\"", u.release);
    return major > want_major || (major == want_major && minor >= want_minor);
}

/* seccomp_rule_wanted: 1 if the rule belongs in the filter of a container
 * with capabilities caps (bit N = capability N), 0 if not, -1 on error.  As
 * moby decides it: any "excludes" condition true drops the rule, every
 * "includes" condition must hold, and architectures are compared with the
 * native one only (companion ABIs follow it). */
static int seccomp_rule_wanted(const struct seccomp_rule *r, uint64_t caps, lrun_error **err)
{
    const struct seccomp_arch *native = seccomp_native_arch_entry();
    const char *arch = native ? native->name : "";
    int newer;

    if (strv_contains(r->excludes_arches, arch))
        return 0;
    for (size_t i = 0; r->excludes_caps && r->excludes_caps[i]; i++)
        if (seccomp_cap_held(r->excludes_caps[i], caps))
            return 0;
    if (r->excludes_min_kernel && *r->excludes_min_kernel &&
        (newer = seccomp_kernel_at_least(r->excludes_min_kernel, err)) != 0)
        return newer < 0 ? -1 : 0;

    if (r->includes_arches && r->includes_arches[0] && !strv_contains(r->includes_arches, arch))
        return 0;
    for (size_t i = 0; r->includes_caps && r->includes_caps[i]; i++)
        if (!seccomp_cap_held(r->includes_caps[i], caps))
            return 0;
    if (r->includes_min_kernel && *r->includes_min_kernel)
        return seccomp_kernel_at_least(r->includes_min_kernel, err);
    return 1;
}

/* --- building and loading a filter --- */

static void seccomp_filter_free_pointer(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
    *ctx = NULL;
}
#define autoseccomp cleanup(seccomp_filter_free_pointer)

static int seccomp_filter_add_arch(scmp_filter_ctx ctx, uint32_t arch, lrun_error **err)
{
    int rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) {
        errno = -rc;
        return fail_errno(err, "seccomp: add architecture %#x", arch);
    }
    return 0;
}

/* seccomp_filter_new: an empty filter for the native ABI. */
static scmp_filter_ctx seccomp_filter_new(uint32_t default_action, lrun_error **err)
{
    scmp_filter_ctx ctx = seccomp_init(default_action);
    if (!ctx) {
        fail(err, "seccomp: invalid default action %#x", default_action);
        return NULL;
    }
    /* libseccomp would set no_new_privs on every load, which breaks setuid
     * programs; it is the container's choice (no-new-privileges).  SYSRAWRC:
     * report the kernel's errno, not libseccomp's generic ECANCELED. */
    if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 || seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1) < 0) {
        seccomp_release(ctx);
        fail(err, "seccomp: this libseccomp lacks SCMP_FLTATR_API_SYSRAWRC (needs 2.5)");
        return NULL;
    }
    return ctx;
}

static bool seccomp_args_share_an_index(const struct seccomp_rule *r)
{
    for (unsigned i = 0; i < r->arg_count; i++)
        for (unsigned j = i + 1; j < r->arg_count; j++)
            if (r->args[i].arg == r->args[j].arg)
                return true;
    return false;
}

/* seccomp_filter_add_rule: the rule's syscalls, if its conditions hold.  A
 * name this libseccomp does not know (newer than it) is skipped: that
 * syscall gets the default action.  Several tests of one argument become
 * separate rules, any one matching being enough: runc reads profiles so
 * (libseccomp would AND them, and two == tests would match nothing). */
static int seccomp_filter_add_rule(scmp_filter_ctx ctx, const struct seccomp_rule *r, uint64_t caps,
                                   lrun_error **err)
{
    uint32_t default_action = 0;
    int wanted = seccomp_rule_wanted(r, caps, err);
    if (wanted <= 0)
        return wanted;
    /* libseccomp refuses (EACCES) a rule that repeats the default action. */
    seccomp_attr_get(ctx, SCMP_FLTATR_ACT_DEFAULT, &default_action);
    if (r->action == default_action)
        return 0;
    bool separate = seccomp_args_share_an_index(r);
    for (size_t i = 0; r->names && r->names[i]; i++) {
        int nr = seccomp_syscall_resolve_name(r->names[i]), rc = 0;
        if (nr == __NR_SCMP_ERROR)
            continue;
        if (separate)
            for (unsigned a = 0; a < r->arg_count && rc == 0; a++)
                rc = seccomp_rule_add_array(ctx, r->action, nr, 1, &r->args[a]);
        else
            rc = seccomp_rule_add_array(ctx, r->action, nr, r->arg_count, r->args);
        if (rc < 0) {
            errno = -rc;
            return fail_errno(err, "seccomp: rule for %s", r->names[i]);
        }
    }
    return 0;
}

/* --- docker-format JSON profiles --- */

struct seccomp_name {
    const char *name;
    uint32_t value;
};

static const struct seccomp_name seccomp_action_names[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},         {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},           {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS}, {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0)},      {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {NULL, 0},
};

static const struct seccomp_name seccomp_compare_names[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}, {NULL, 0},
};

/* "flags" the kernel takes with the filter, as libseccomp attributes. */
static const struct seccomp_name seccomp_flag_names[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC}, {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB}, {NULL, 0},
};

static int seccomp_json_lookup(const struct seccomp_name *table, const char *name, const char *what,
                               uint32_t *value, lrun_error **err)
{
    for (; table->name; table++)
        if (name && strcmp(table->name, name) == 0) {
            *value = table->value;
            return 0;
        }
    return fail(err, "%s %s is not supported", what, name ? name : "(missing)");
}

/* seccomp_json_action: an action name with its errnoRet; ERRNO and TRACE
 * without one return EPERM, as with runc. */
static int seccomp_json_action(yajl_val obj, const char *action_key, const char *errno_key, uint32_t *action,
                               lrun_error **err)
{
    int64_t errno_ret = json_int(obj, errno_key, EPERM);
    if (seccomp_json_lookup(seccomp_action_names, json_string(obj, action_key), "action", action, err) < 0)
        return -1;
    if (errno_ret < 0 || errno_ret > 0xffff)
        return fail(err, "%s %" PRId64 " is out of range", errno_key, errno_ret);
    if (*action == SCMP_ACT_ERRNO(0) || *action == SCMP_ACT_TRACE(0))
        *action |= (uint32_t)errno_ret;
    return 0;
}

static int seccomp_json_args(yajl_val args, struct seccomp_rule *r, lrun_error **err)
{
    if (json_array_len(args) > sizeof r->args / sizeof *r->args)
        return fail(err, "more than 6 args");
    for (size_t i = 0; i < json_array_len(args); i++) {
        yajl_val a = json_array_at(args, i);
        int64_t index = json_int(a, "index", -1);
        uint32_t op;
        if (index < 0 || index > 5)
            return fail(err, "args[%zu]: index must be 0 to 5", i);
        if (seccomp_json_lookup(seccomp_compare_names, json_string(a, "op"), "op", &op, err) < 0 ||
            json_u64(a, "value", &r->args[i].datum_a, err) < 0 || json_u64(a, "valueTwo", &r->args[i].datum_b, err) < 0)
            return error_prefix(err, "args[%zu]", i);
        r->args[i].arg = (unsigned)index;
        r->args[i].op = (enum scmp_compare)op;
    }
    r->arg_count = (unsigned)json_array_len(args);
    return 0;
}

/* One entry of "syscalls" read from JSON, owning its lists (the strings
 * it points at otherwise are the parsed profile's). */
struct seccomp_json_rule {
    struct seccomp_rule rule;
    char **names, **includes_caps, **includes_arches, **excludes_caps, **excludes_arches;
};

static void seccomp_json_rule_release(struct seccomp_json_rule *j)
{
    lrun_strv_free(j->names);
    lrun_strv_free(j->includes_caps);
    lrun_strv_free(j->includes_arches);
    lrun_strv_free(j->excludes_caps);
    lrun_strv_free(j->excludes_arches);
    *j = (struct seccomp_json_rule){0};
}

static int seccomp_json_rule_parse(yajl_val entry, struct seccomp_json_rule *j, lrun_error **err)
{
    yajl_val includes = json_get(entry, "includes"), excludes = json_get(entry, "excludes");
    const char *name = json_string(entry, "name"); /* the format before "names" */
    *j = (struct seccomp_json_rule){.names = json_strv(json_get(entry, "names")),
                                    .includes_caps = json_strv(json_get(includes, "caps")),
                                    .includes_arches = json_strv(json_get(includes, "arches")),
                                    .excludes_caps = json_strv(json_get(excludes, "caps")),
                                    .excludes_arches = json_strv(json_get(excludes, "arches"))};
    if (!j->names[0] && name)
        strv_push(&j->names, xstrdup(name));
    j->rule = (struct seccomp_rule){.names = j->names,
                                    .includes_caps = j->includes_caps,
                                    .includes_arches = j->includes_arches,
                                    .includes_min_kernel = json_string(includes, "minKernel"),
                                    .excludes_caps = j->excludes_caps,
                                    .excludes_arches = j->excludes_arches,
                                    .excludes_min_kernel = json_string(excludes, "minKernel")};
    if (seccomp_json_action(entry, "action", "errnoRet", &j->rule.action, err) < 0 ||
        seccomp_json_args(json_get(entry, "args"), &j->rule, err) < 0)
        return -1;
    return 0;
}

/* seccomp_json_rule_add: one entry of "syscalls". */
static int seccomp_json_rule_add(scmp_filter_ctx ctx, yajl_val entry, uint64_t caps, lrun_error **err)
{
    cleanup(seccomp_json_rule_release) struct seccomp_json_rule j = {0};
    if (seccomp_json_rule_parse(entry, &j, err) < 0)
        return -1;
    return seccomp_filter_add_rule(ctx, &j.rule, caps, err);
}

/* seccomp_json_arch: "SCMP_ARCH_X86_64" as libseccomp's token, or 0. */
static uint32_t seccomp_json_arch(const char *name)
{
    char lower[32];
    size_t n;
    if (!name || strncmp(name, "SCMP_ARCH_", 10) != 0 || (n = strlen(name + 10)) >= sizeof lower)
        return 0;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)name[10 + i]);
    return seccomp_arch_resolve_name(lower);
}

static int seccomp_json_add_arches(scmp_filter_ctx ctx, yajl_val names, lrun_error **err)
{
    for (size_t i = 0; i < json_array_len(names); i++) {
        yajl_val v = json_array_at(names, i);
        uint32_t arch = seccomp_json_arch(YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL);
        if (arch && seccomp_filter_add_arch(ctx, arch, err) < 0)
            return -1;
    }
    return 0;
}

/* seccomp_json_arches: "architectures" lists every ABI to filter; "archMap"
 * lists, per native architecture, its companions.  An ABI this libseccomp
 * does not know is left out, so its syscalls are killed. */
static int seccomp_json_arches(scmp_filter_ctx ctx, yajl_val profile, lrun_error **err)
{
    yajl_val list = json_get(profile, "architectures"), map = json_get(profile, "archMap");
    if (json_array_len(list) && json_array_len(map))
        return fail(err, "both architectures and archMap are given, use one");
    if (seccomp_json_add_arches(ctx, list, err) < 0)
        return -1;
    for (size_t i = 0; i < json_array_len(map); i++) {
        yajl_val entry = json_array_at(map, i);
        if (seccomp_json_arch(json_string(entry, "architecture")) == seccomp_arch_native())
            return seccomp_json_add_arches(ctx, json_get(entry, "subArchitectures"), err);
    }
    return 0;
}

static int seccomp_json_flags(scmp_filter_ctx ctx, yajl_val flags, lrun_error **err)
{
    for (size_t i = 0; i < json_array_len(flags); i++) {
        yajl_val v = json_array_at(flags, i);
        uint32_t attribute;
        int rc;
        if (seccomp_json_lookup(seccomp_flag_names, YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL, "flag",
                                &attribute, err) < 0)
            return -1;
        if ((rc = seccomp_attr_set(ctx, (enum scmp_filter_attr)attribute, 1)) < 0) {
            errno = -rc;
            return fail_errno(err, "flag %s", YAJL_GET_STRING(v));
        }
    }
    return 0;
}

/* seccomp_profile_filter: a parsed docker-format profile, for a container
 * whose capability set is caps. */
static scmp_filter_ctx seccomp_profile_filter(yajl_val profile, uint64_t caps, lrun_error **err)
{
    uint32_t default_action;
    yajl_val syscalls = json_get(profile, "syscalls");
    if (!YAJL_IS_OBJECT(profile)) {
        fail(err, "not a JSON object");
        return NULL;
    }
    if (seccomp_json_action(profile, "defaultAction", "defaultErrnoRet", &default_action, err) < 0) {
        error_prefix(err, "defaultAction");
        return NULL;
    }
    autoseccomp scmp_filter_ctx ctx = seccomp_filter_new(default_action, err);
    if (!ctx || seccomp_json_arches(ctx, profile, err) < 0 ||
        seccomp_json_flags(ctx, json_get(profile, "flags"), err) < 0)
        return NULL;
    for (size_t i = 0; i < json_array_len(syscalls); i++)
        if (seccomp_json_rule_add(ctx, json_array_at(syscalls, i), caps, err) < 0) {
            error_prefix(err, "syscalls[%zu]", i);
            return NULL;
        }
    return steal_pointer(&ctx);
}

/* --- the cache: <root>/lrun/seccomp/<key>.<kind> ---
 * What lrun derives from a profile (the default profile in the spec's
 * form, compiled filters), keyed by the sha256 of everything it depends
 * on.  Entries are identical bytes whoever writes them: no lock needed. */

static char *seccomp_cache_path(const char *root, const char *key_text, const char *kind)
{
    digest_hex key;
    sha256_hex(key_text, strlen(key_text), key);
    return xasprintf("%s/lrun/seccomp/%s.%s", root, key, kind);
}

static int seccomp_cache_read(const char *path, struct buf *out)
{
    return read_file_at(AT_FDCWD, path, out, NULL);
}

static void seccomp_cache_write(const char *path, const void *data, size_t len)
{
    const char *base;
    autofree char *dir = path_parent(path, &base);
    autoclose int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 && mkdir_p(dir, 0700, NULL) == 0)
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    lrun_error *ignored = NULL;
    if (dir_fd >= 0)
        write_file_atomic(dir_fd, base, data, len, 0600, &ignored);
    lrun_error_free(ignored);
}

/* --- profiles in the runtime spec's form --- */

static const char *seccomp_name_of(const struct seccomp_name *table, uint32_t value)
{
    for (; table->name; table++)
        if (table->value == value)
            return table->name;
    return NULL;
}

/* seccomp_emit_action: an action as its name, with errnoRet for ERRNO and
 * TRACE (their value in the low 16 bits). */
static void seccomp_emit_action(yajl_gen g, const char *action_key, const char *errno_key, uint32_t action)
{
    uint32_t base = action & 0xffff0000u;
    bool with_value = base == SCMP_ACT_ERRNO(0) || base == SCMP_ACT_TRACE(0);
    jw_key_str(g, action_key, seccomp_name_of(seccomp_action_names, with_value ? base : action));
    if (with_value)
        jw_key_int(g, errno_key, action & 0xffff);
}

static void seccomp_emit_rule(yajl_gen g, const struct seccomp_rule *r)
{
    yajl_gen_map_open(g);
    jw_key_strv(g, "names", r->names);
    seccomp_emit_action(g, "action", "errnoRet", r->action);
    if (r->arg_count) {
        jw_key(g, "args");
        yajl_gen_array_open(g);
        for (unsigned i = 0; i < r->arg_count; i++) {
            yajl_gen_map_open(g);
            jw_key_int(g, "index", r->args[i].arg);
            jw_key_u64(g, "value", r->args[i].datum_a);
            jw_key_u64(g, "valueTwo", r->args[i].datum_b);
            jw_key_str(g, "op", seccomp_name_of(seccomp_compare_names, r->args[i].op));
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
}

/* seccomp_emit_if_wanted: the rule, when its conditions hold for caps. */
static int seccomp_emit_if_wanted(yajl_gen g, const struct seccomp_rule *r, uint64_t caps, lrun_error **err)
{
    int wanted = seccomp_rule_wanted(r, caps, err);
    if (wanted > 0)
        seccomp_emit_rule(g, r);
    return wanted < 0 ? -1 : 0;
}

/* seccomp_default_emit: docker's default profile for caps. */
static int seccomp_default_emit(yajl_gen g, uint64_t caps, lrun_error **err)
{
    yajl_gen_map_open(g);
    seccomp_emit_action(g, "defaultAction", "defaultErrnoRet", SECCOMP_DEFAULT_ACTION);
    const struct seccomp_arch *native = seccomp_native_arch_entry();
    if (native) {
        jw_key(g, "architectures");
        yajl_gen_array_open(g);
        jw_str(g, native->spec_name);
        for (size_t i = 0; i < 2 && native->companions[i]; i++)
            jw_str(g, seccomp_arch_entry(native->companions[i])->spec_name);
        yajl_gen_array_close(g);
    }
    jw_key(g, "syscalls");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < sizeof seccomp_default_rules / sizeof *seccomp_default_rules; i++)
        if (seccomp_emit_if_wanted(g, &seccomp_default_rules[i], caps, err) < 0)
            return error_prefix(err, "default seccomp profile");
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return 0;
}

/* seccomp_emit_arches: "architectures" as given, or archMap's entry for
 * the native architecture as that list. */
static int seccomp_emit_arches(yajl_gen g, yajl_val profile, lrun_error **err)
{
    yajl_val list = json_get(profile, "architectures"), map = json_get(profile, "archMap");
    if (json_array_len(list) && json_array_len(map))
        return fail(err, "both architectures and archMap are given, use one");
    for (size_t i = 0; !json_array_len(list) && i < json_array_len(map); i++) {
        yajl_val entry = json_array_at(map, i);
        const char *arch = json_string(entry, "architecture");
        if (seccomp_json_arch(arch) != seccomp_arch_native())
            continue;
        jw_key(g, "architectures");
        yajl_gen_array_open(g);
        jw_str(g, arch);
        for (size_t j = 0; j < json_array_len(json_get(entry, "subArchitectures")); j++)
            jw_value(g, json_array_at(json_get(entry, "subArchitectures"), j));
        yajl_gen_array_close(g);
    }
    if (json_array_len(list)) {
        jw_key(g, "architectures");
        jw_value(g, list);
    }
    return 0;
}

/* seccomp_profile_emit: a docker-format (or runtime-spec) profile, its
 * conditions decided for caps. */
static int seccomp_profile_emit(yajl_gen g, yajl_val profile, uint64_t caps, lrun_error **err)
{
    uint32_t action;
    yajl_val flags = json_get(profile, "flags"), syscalls = json_get(profile, "syscalls");
    if (!YAJL_IS_OBJECT(profile))
        return fail(err, "not a JSON object");
    if (seccomp_json_action(profile, "defaultAction", "defaultErrnoRet", &action, err) < 0)
        return error_prefix(err, "defaultAction");
    yajl_gen_map_open(g);
    seccomp_emit_action(g, "defaultAction", "defaultErrnoRet", action);
    if (seccomp_emit_arches(g, profile, err) < 0)
        return -1;
    for (size_t i = 0; i < json_array_len(flags); i++) {
        yajl_val v = json_array_at(flags, i);
        uint32_t ignored;
        if (seccomp_json_lookup(seccomp_flag_names, YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL, "flag", &ignored,
                                err) < 0)
            return -1;
    }
    if (flags) {
        jw_key(g, "flags");
        jw_value(g, flags);
    }
    jw_key(g, "syscalls");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < json_array_len(syscalls); i++) {
        cleanup(seccomp_json_rule_release) struct seccomp_json_rule j = {0};
        if (seccomp_json_rule_parse(json_array_at(syscalls, i), &j, err) < 0 ||
            seccomp_emit_if_wanted(g, &j.rule, caps, err) < 0)
            return error_prefix(err, "syscalls[%zu]", i);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return 0;
}

/* seccomp_default_for_spec: docker's default in the spec's form for caps,
 * from the cache under root or freshly made. */
static char *seccomp_default_for_spec(const char *root, uint64_t caps, lrun_error **err)
{
    struct utsname u;
    uname(&u);
    autofree char *key_text = xasprintf("lrun %s\ndefault profile\n%016" PRIx64 "\n%s\n%s", LRUN_VERSION, caps,
                                        u.release, u.machine);
    autofree char *path = seccomp_cache_path(root, key_text, "json");
    struct buf cached = {0};
    if (seccomp_cache_read(path, &cached) == 0)
        return buf_steal(&cached);
    buf_free(&cached);
    autogen yajl_gen g = json_writer(false);
    if (seccomp_default_emit(g, caps, err) < 0)
        return NULL;
    size_t len;
    char *text = json_writer_text(g, &len);
    seccomp_cache_write(path, text, len);
    return text;
}

/* seccomp_profile_for_spec: linux.seccomp's text for a container with
 * capabilities caps: docker's default (profile_path NULL) or the profile
 * file at profile_path, in the runtime spec's form. */
static char *seccomp_profile_for_spec(const char *root, const char *profile_path, uint64_t caps, lrun_error **err)
{
    if (!profile_path)
        return seccomp_default_for_spec(root, caps, err);
    autogen yajl_gen g = json_writer(false);
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, profile_path, &text, err) < 0) {
        error_prefix(err, "seccomp profile");
        return NULL;
    }
    autojson yajl_val profile = json_parse(text.data, "seccomp profile", err);
    if (!profile || seccomp_profile_emit(g, profile, caps, err) < 0) {
        error_prefix(err, "seccomp profile %s", profile_path);
        return NULL;
    }
    return json_writer_text(g, NULL);
}

/* --- compiled filters: built on the host, cached, loaded last ---
 * libseccomp needs some milliseconds of CPU to turn ~400 rules for three
 * ABIs into BPF; a container start should not pay that every time.  The
 * compiled program is cached under <root>/lrun/seccomp/, keyed by what it
 * depends on (lrun's version, the profile's text, the capabilities, the
 * kernel release), and loaded with seccomp(2) directly. */

struct seccomp_program {
    uint32_t flags; /* SECCOMP_FILTER_FLAG_* the profile asked for */
    uint16_t len;   /* instructions */
    struct sock_filter *code;
};

static void seccomp_program_release(struct seccomp_program *p)
{
    free(p->code);
    *p = (struct seccomp_program){0};
}

static int seccomp_program_from_bytes(const char *data, size_t len, struct seccomp_program *p)
{
    if (len < 4 || (len - 4) % sizeof(struct sock_filter) != 0 || (len - 4) / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -1;
    memcpy(&p->flags, data, 4);
    p->len = (uint16_t)((len - 4) / sizeof(struct sock_filter));
    p->code = xmalloc(len - 4);
    memcpy(p->code, data + 4, len - 4);
    return 0;
}

/* seccomp_compile: the profile's filter as BPF bytes (flags first). */
static int seccomp_compile(const char *profile_text, uint64_t caps, struct buf *out, lrun_error **err)
{
    autojson yajl_val profile = json_parse(profile_text, "seccomp profile", err);
    autoseccomp scmp_filter_ctx ctx = profile ? seccomp_profile_filter(profile, caps, err) : NULL;
    if (!ctx)
        return error_prefix(err, "seccomp profile");
    uint32_t flags = 0, value = 0;
    if (seccomp_attr_get(ctx, SCMP_FLTATR_CTL_TSYNC, &value) == 0 && value)
        flags |= SECCOMP_FILTER_FLAG_TSYNC;
    if (seccomp_attr_get(ctx, SCMP_FLTATR_CTL_LOG, &value) == 0 && value)
        flags |= SECCOMP_FILTER_FLAG_LOG;
    if (seccomp_attr_get(ctx, SCMP_FLTATR_CTL_SSB, &value) == 0 && value)
        flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    autoclose int fd = memfd_create("lrun-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "seccomp: memfd");
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        errno = -rc;
        return fail_errno(err, "seccomp: compile the filter");
    }
    buf_add(out, &flags, 4);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return fail_errno(err, "seccomp: read the filter");
    autobuf struct buf code = {0};
    if (read_all_fd(fd, "the compiled filter", &code, err) < 0)
        return -1;
    buf_add(out, code.data, code.len);
    return 0;
}

/* seccomp_program_prepare: the compiled filter for profile (JSON text)
 * and caps, from the cache under root or freshly built. */
static int seccomp_program_prepare(const char *root, const char *profile, uint64_t caps, struct seccomp_program *p,
                                   lrun_error **err)
{
    struct utsname u;
    uname(&u);
    autofree char *key_text = xasprintf("lrun %s\njson\n%016" PRIx64 "\n%s\n%s", LRUN_VERSION, caps, u.release, profile);
    autofree char *path = seccomp_cache_path(root, key_text, "bpf");
    autobuf struct buf cached = {0};
    if (seccomp_cache_read(path, &cached) == 0 && seccomp_program_from_bytes(cached.data, cached.len, p) == 0)
        return 0;
    autobuf struct buf compiled = {0};
    if (seccomp_compile(profile, caps, &compiled, err) < 0)
        return -1;
    if (seccomp_program_from_bytes(compiled.data, compiled.len, p) < 0)
        return fail(err, "seccomp: the compiled filter is too long");
    seccomp_cache_write(path, compiled.data, compiled.len);
    return 0;
}

static int seccomp_program_load(const struct seccomp_program *p, lrun_error **err)
{
    struct sock_fprog prog = {.len = p->len, .filter = p->code};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog) < 0)
        return fail_errno(err, "load the seccomp filter");
    return 0;
}


/* --- capabilities --- */

/* capabilities_bound: drop what the process may never gain from the
 * bounding set (needs CAP_SETPCAP, so while still root). */
static int capabilities_bound(uint64_t mask, lrun_error **err)
{
    for (int cap = 0; cap <= capability_last(); cap++)
        if (!(mask & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            return fail_errno(err, "drop capability %d from the bounding set", cap);
    return 0;
}

/* capabilities_set: the effective, permitted and inheritable sets, then
 * the ambient one (each ambient capability must be permitted and
 * inheritable; one the kernel refuses is left out, as runc does). */
static int capabilities_set(const uint64_t caps[CAPS_SETS], lrun_error **err)
{
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    cap_t state = cap_init();
    if (!state)
        die_oom();
    static const struct {
        enum capability_set set;
        cap_flag_t flag;
    } sets[] = {{CAPS_EFFECTIVE, CAP_EFFECTIVE}, {CAPS_PERMITTED, CAP_PERMITTED}, {CAPS_INHERITABLE, CAP_INHERITABLE}};
    for (int cap = 0; cap <= capability_last(); cap++)
        for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
            if (caps[sets[i].set] >> cap & 1) {
                cap_value_t v = cap;
                cap_set_flag(state, sets[i].flag, 1, &v, CAP_SET);
            }
    int r = cap_set_proc(state);
    cap_free(state);
    if (r < 0)
        return fail_errno(err, "set capabilities");
    for (int cap = 0; cap <= capability_last(); cap++)
        if (caps[CAPS_AMBIENT] >> cap & 1)
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
    return 0;
}

/* --- the process: identity, limits, confinement, exec --- */

/* process_user: the ids the process runs as: docker's user string looked
 * up in the container's files, or the spec's numbers (home from passwd). */
static int process_user(const struct spec_user *su, struct user_ids *u, lrun_error **err)
{
    if (su->name)
        return user_resolve(su->name, u, err);
    char uid[16];
    snprintf(uid, sizeof uid, "%u", (unsigned)su->uid);
    if (user_resolve(uid, u, err) < 0)
        return -1;
    u->gid = su->gid;
    free(u->groups);
    u->groups = xmalloc((su->n_additional_gids + 1) * sizeof *u->groups);
    memcpy(u->groups, su->additional_gids, su->n_additional_gids * sizeof *u->groups);
    u->n_groups = su->n_additional_gids;
    return 0;
}

/* process_limits: rlimits and the OOM score, while still privileged (a
 * hard limit goes up, a score down, only with CAP_SYS_RESOURCE). */
static int process_limits(const struct spec_process *p, lrun_error **err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        struct rlimit r = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &r) < 0)
            return fail_errno(err, "set rlimit %d", p->rlimits[i].resource);
    }
    if (p->has_oom_score_adj) {
        char text[16];
        snprintf(text, sizeof text, "%d", p->oom_score_adj);
        autoclose int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0)
            return fail_errno(err, "set oom_score_adj");
    }
    return 0;
}

/* process_capabilities: the sets to give the process: the spec's, within
 * what lrun holds; docker's user string gives a user other than root
 * none but the bounding set. */
static void process_capabilities(const struct spec_process *p, uid_t uid, uint64_t caps[CAPS_SETS])
{
    uint64_t held = capabilities_held();
    for (int set = 0; set < CAPS_SETS; set++)
        caps[set] = p->caps[set] & held;
    if (p->user.name && uid != 0)
        caps[CAPS_EFFECTIVE] = caps[CAPS_PERMITTED] = caps[CAPS_INHERITABLE] = caps[CAPS_AMBIENT] = 0;
}

/* process_confine: the process's identity and limits: working directory,
 * rlimits, user, capabilities, no_new_privs and seccomp, in that order —
 * seccomp last, right before exec, so lrun's own setup runs unfiltered.
 * *env gets the environment to exec with (HOME from the user's entry). */
static int process_confine(const struct spec_process *p, const struct seccomp_program *seccomp, char ***env,
                           lrun_error **err)
{
    struct user_ids u;
    if (process_user(&p->user, &u, err) < 0)
        return -1;
    *env = strv_copy(p->env);
    env_set_default(env, "HOME", u.home);
    free(u.home);
    autofree gid_t *groups = u.groups;
    umask(p->user.umask);
    if (p->cwd && chdir(p->cwd) < 0)
        return fail_errno(err, "chdir to the working directory %s", p->cwd);
    if (process_limits(p, err) < 0)
        return -1;
    /* without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter:
     * then load it now, while root (the profile allows what follows) */
    if (seccomp && !p->no_new_privileges && seccomp_program_load(seccomp, err) < 0)
        return -1;
    if ((!p->user.keep_groups && setgroups(u.n_groups, groups) < 0) || setgid(u.gid) < 0)
        return fail_errno(err, "set the groups of user %s", p->user.name ? p->user.name : "");
    uint64_t caps[CAPS_SETS];
    process_capabilities(p, u.uid, caps);
    /* the bounding set drops while still root; setuid to another user
     * clears the permitted set unless told to keep it */
    if (capabilities_bound(caps[CAPS_BOUNDING], err) < 0)
        return -1;
    if (u.uid != 0 && (caps[CAPS_PERMITTED] | caps[CAPS_INHERITABLE] | caps[CAPS_AMBIENT]) &&
        prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return fail_errno(err, "keep capabilities across setuid");
    if (setuid(u.uid) < 0)
        return fail_errno(err, "set the user to %u", (unsigned)u.uid);
    if (capabilities_set(caps, err) < 0)
        return -1;
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail_errno(err, "set no_new_privs");
    if (seccomp && p->no_new_privileges)
        return seccomp_program_load(seccomp, err);
    return 0;
}

/* process_exec: execvp with the container's PATH; returns only on failure,
 * with docker's statuses: 127 not found, 126 not executable. */
static int process_exec(char **args, char **env, lrun_error **err)
{
    extern char **environ;
    environ = env;
    execvp(args[0], args);
    int saved = errno;
    if (saved == ENOENT || saved == ENOTDIR)
        return fail_code(err, 127, "lrun: executable file `%s` not found in $PATH: No such file or directory", args[0]);
    errno = saved;
    fail_errno(err, "lrun: cannot execute `%s`", args[0]);
    (*err)->exit_code = 126;
    return -1;
}

/* ========================================================================
 * CONTAINER: CGROUPS: the container's own cgroup under lrun's parent: the
 * hierarchy found at run time (v1, hybrid or v2), linux.resources applied
 * to it (the device policy first), processes moved in, removal
 *
 * The interface other code uses (an OCI bundle's linux.resources too):
 *   cgroup_create(path, resources)   make the cgroup, apply the resources
 *   cgroup_enter(path, pid)          move pid (0: the caller) into it
 *   cgroup_remove(path)              kill what is left in it, remove it
 * path is the spec's linux.cgroupsPath ("/lrun/<id>"), relative to the
 * root of every hierarchy.  Under v1 each controller has a hierarchy of
 * its own (a directory per controller); a hybrid host's unified (v2)
 * hierarchy gets the container's directory too, so the container's cgroup
 * namespace is rooted at it everywhere.
 * ======================================================================== */

enum cgroup_version { CGROUP_NONE, CGROUP_V1, CGROUP_V2 };

/* One mounted hierarchy: a v1 one holds the controllers named in its
 * mount options; the v2 one holds them all. */
struct cgroup_hierarchy {
    char *mount;
    char *controllers; /* ",cpu,cpuacct," (v1); "" for v2 */
    bool unified;
};

static struct cgroup_hierarchy cgroup_hierarchies[16];
static size_t n_cgroup_hierarchies;
static enum cgroup_version cgroup_host_version;
static bool cgroup_host_hybrid;

/* the v1 controllers a container gets a directory in */
static const char *const cgroup_v1_controllers[] = {"cpu", "cpuacct", "cpuset", "memory", "devices",
                                                    "freezer", "blkio", "pids"};

/* cgroup_detect: the hierarchies, from /proc/self/mountinfo (once found) */
static enum cgroup_version cgroup_detect(void)
{
    if (cgroup_host_version != CGROUP_NONE) /* none found: look again (host_mount_basics may mount one) */
        return cgroup_host_version;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    struct cgroup_hierarchy unified = {0};
    while (f && getline(&line, &cap, f) > 0) {
        /* id parent major:minor root mountpoint options... - type source superoptions */
        char *sep = strstr(line, " - "), *save = NULL, *fields[5];
        if (!sep)
            continue;
        *sep = '\0';
        size_t n = 0;
        for (char *f = strtok_r(line, " ", &save); f && n < 5; f = strtok_r(NULL, " ", &save))
            fields[n++] = f;
        char *type = strtok_r(sep + 3, " ", &save), *source = strtok_r(NULL, " ", &save);
        char *options = strtok_r(NULL, " \n", &save);
        if (n < 5 || !type || !source || !options || strcmp(fields[3], "/") != 0)
            continue;
        if (strcmp(type, "cgroup2") == 0 && !unified.mount) {
            unified = (struct cgroup_hierarchy){xstrdup(fields[4]), xstrdup(""), true};
        } else if (strcmp(type, "cgroup") == 0 && n_cgroup_hierarchies < 15) {
            autobuf struct buf list = {0};
            buf_adds(&list, ",");
            for (char *o = strtok_r(options, ",", &save); o; o = strtok_r(NULL, ",", &save))
                for (size_t i = 0; i < sizeof cgroup_v1_controllers / sizeof *cgroup_v1_controllers; i++)
                    if (strcmp(o, cgroup_v1_controllers[i]) == 0)
                        buf_printf(&list, "%s,", o);
            bool taken = false; /* a controller mounted twice: its first mount */
            for (size_t i = 0; i < n_cgroup_hierarchies; i++)
                taken |= strcmp(cgroup_hierarchies[i].controllers, list.data) == 0;
            if (list.len > 1 && !taken)
                cgroup_hierarchies[n_cgroup_hierarchies++] = (struct cgroup_hierarchy){xstrdup(fields[4]),
                                                                                      buf_steal(&list), false};
        }
    }
    free(line);
    if (f)
        fclose(f);
    if (n_cgroup_hierarchies)
        cgroup_host_version = CGROUP_V1;
    else if (unified.mount)
        cgroup_host_version = CGROUP_V2;
    cgroup_host_hybrid = n_cgroup_hierarchies && unified.mount;
    if (unified.mount)
        cgroup_hierarchies[n_cgroup_hierarchies++] = unified;
    return cgroup_host_version;
}

/* cgroup_dir: the container's directory in the hierarchy that holds
 * controller ("" for the unified one), or NULL when there is none. */
static char *cgroup_dir(const char *path, const char *controller)
{
    autofree char *key = xasprintf(",%s,", controller);
    for (size_t i = 0; i < n_cgroup_hierarchies; i++) {
        const struct cgroup_hierarchy *h = &cgroup_hierarchies[i];
        bool holds = *controller ? (h->unified ? cgroup_host_version == CGROUP_V2 : strstr(h->controllers, key) != NULL)
                                 : h->unified;
        if (holds)
            return xasprintf("%s%s%s", h->mount, path[0] == '/' ? "" : "/", path);
    }
    return NULL;
}

/* cgroup_write: one value into a cgroup file, as one write(2) (the kernel
 * parses each write on its own) */
static int cgroup_write(const char *dir, const char *file, const char *value, lrun_error **err)
{
    autofree char *path = xasprintf("%s/%s", dir, file);
    autoclose int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open %s", path);
    if (write(fd, value, strlen(value)) < 0)
        return fail_errno(err, "write %s to %s", value, path);
    return 0;
}

/* cgroup_path_valid: an absolute or relative path below the hierarchy's
 * root, without "." or ".." steps (a spec is the user's text). */
static int cgroup_path_valid(const char *path, lrun_error **err)
{
    autofree char *copy = xstrdup(path);
    size_t steps = 0;
    for (char *save = NULL, *step = strtok_r(copy, "/", &save); step; step = strtok_r(NULL, "/", &save), steps++)
        if (strcmp(step, ".") == 0 || strcmp(step, "..") == 0)
            return fail(err, "cgroup path %s: \".\" and \"..\" are not allowed", path);
    if (!steps)
        return fail(err, "cgroup path \"%s\" names no cgroup", path);
    return 0;
}

/* cgroup_v1_cpuset_fill: a new v1 cpuset cgroup starts with no CPUs and
 * no memory nodes, and takes no process so: copy the parent's. */
static void cgroup_v1_cpuset_fill(const char *dir)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        autofree char *mine = xasprintf("%s/%s", dir, files[i]), *parent = xasprintf("%s/../%s", dir, files[i]);
        autobuf struct buf value = {0}, have = {0};
        if (read_file_at(AT_FDCWD, mine, &have, NULL) == 0 && have.len > 1)
            continue;
        if (read_file_at(AT_FDCWD, parent, &value, NULL) == 0)
            cgroup_write(dir, files[i], value.data, NULL);
    }
}

/* cgroup_mkdirs: dir and the parents it lacks (lrun's parent, "/lrun") */
static int cgroup_mkdirs(const char *dir, bool cpuset, lrun_error **err)
{
    autofree char *copy = xstrdup(dir);
    for (char *p = strchr(copy + 1, '/'); ; p = strchr(p + 1, '/')) {
        if (p)
            *p = '\0';
        bool made = mkdir(copy, 0755) == 0;
        if (!made && errno != EEXIST)
            return fail_errno(err, "create the cgroup %s", copy);
        if (cpuset)
            cgroup_v1_cpuset_fill(copy);
        if (!p)
            return 0;
        *p = '/';
    }
}

/* --- the device policy: v1's devices.deny/allow, v2's BPF program --- */

static void device_rule_text(const struct spec_device_rule *r, char *out, size_t size)
{
    char major[24] = "*", minor[24] = "*";
    if (r->major >= 0)
        snprintf(major, sizeof major, "%" PRId64, r->major);
    if (r->minor >= 0)
        snprintf(minor, sizeof minor, "%" PRId64, r->minor);
    if (r->type == 'a')
        snprintf(out, size, "a");
    else
        snprintf(out, size, "%c %s:%s %s", r->type, major, minor, r->access);
}

static int cgroup_v1_devices(const char *dir, const struct spec_resources *r, lrun_error **err)
{
    for (size_t i = 0; i < r->n_devices; i++) {
        char rule[80];
        device_rule_text(&r->devices[i], rule, sizeof rule);
        if (cgroup_write(dir, r->devices[i].allow ? "devices.allow" : "devices.deny", rule, err) < 0)
            return error_prefix(err, "device rule %zu", i);
    }
    return 0;
}

/* device_program: the rules as a BPF_PROG_TYPE_CGROUP_DEVICE program, as
 * runc and crun generate one: the last rule that matches decides (so the
 * rules are tested from the end); a request matches when its access is
 * within the rule's.  The context is struct bpf_cgroup_dev_ctx:
 * access_type (type | access << 16), major, minor. */
static struct bpf_insn *device_program(const struct spec_resources *r, size_t *count)
{
#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
    struct bpf_insn *p = xcalloc(6 + r->n_devices * 7 + 2, sizeof *p);
    size_t n = 0;
    p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0);
    p[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff); /* r2: type */
    p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0);
    p[n++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);     /* r3: access */
    p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0); /* r4: major */
    p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0); /* r5: minor */
    for (size_t k = r->n_devices; k-- > 0;) {
        const struct spec_device_rule *d = &r->devices[k];
        int access = (strchr(d->access, 'm') ? BPF_DEVCG_ACC_MKNOD : 0) | (strchr(d->access, 'r') ? BPF_DEVCG_ACC_READ : 0) |
                     (strchr(d->access, 'w') ? BPF_DEVCG_ACC_WRITE : 0);
        struct bpf_insn block[7];
        size_t b = 0;
        if (d->type != 'a')
            block[b++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                              d->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
        if (access != 7) {
            block[b++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
            block[b++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, ~access & 7);
            block[b++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, 0, 0);
        }
        if (d->major >= 0)
            block[b++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)d->major);
        if (d->minor >= 0)
            block[b++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)d->minor);
        block[b++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, d->allow);
        block[b++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        for (size_t i = 0; i < b; i++) /* a failed test skips the rest of the block */
            if (block[i].code == (BPF_JMP | BPF_JNE | BPF_K))
                block[i].off = (int16_t)(b - i - 1);
        memcpy(&p[n], block, b * sizeof *block);
        n += b;
        if (b == 2) { /* the rule matches every device: what follows is unreachable (the verifier refuses it) */
            *count = n;
            return p;
        }
    }
    /* no rule matched: what v1 does without a rule, allow */
    p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
    p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
#undef INSN
    *count = n;
    return p;
}

static int cgroup_v2_devices(const char *dir, const struct spec_resources *r, lrun_error **err)
{
    size_t count;
    autofree struct bpf_insn *insns = device_program(r, &count);
    union bpf_attr load = {0};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uint64_t)(uintptr_t)insns;
    load.insn_cnt = (uint32_t)count;
    load.license = (uint64_t)(uintptr_t) "Apache";
    autoclose int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    if (prog < 0) { /* again, with the verifier's words for the error */
        int saved = errno;
        autofree char *log = xcalloc(1, 65536);
        load.log_buf = (uint64_t)(uintptr_t)log;
        load.log_size = 65536;
        load.log_level = 1;
        if (syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load) < 0)
            saved = errno;
        errno = saved;
        return fail_errno(err, "load the device policy's BPF program (%s)", log);
    }
    autoclose int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return fail_errno(err, "open %s", dir);
    union bpf_attr attach = {0};
    attach.target_fd = (uint32_t)dir_fd;
    attach.attach_bpf_fd = (uint32_t)prog;
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) < 0)
        return fail_errno(err, "attach the device policy to %s", dir);
    return 0;
}

/* --- limits: memory, cpu, cpuset, pids, block I/O --- */

/* cgroup_set: value (printf) into file of the container's directory in
 * the hierarchy holding controller */
PRINTF(5, 6) static int cgroup_set(const char *path, const char *controller, const char *file, lrun_error **err,
                                   const char *fmt, ...)
{
    autofree char *dir = cgroup_dir(path, controller);
    if (!dir)
        return fail(err, "the %s controller is not available on this host (%s)", controller, file);
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return cgroup_write(dir, file, value, err);
}

static int cgroup_v1_memory(const char *path, const struct spec_resources *r, lrun_error **err)
{
    autofree char *dir = cgroup_dir(path, "memory");
    autofree char *memsw = dir ? xasprintf("%s/memory.memsw.limit_in_bytes", dir) : NULL;
    bool has_swap = memsw && access(memsw, F_OK) == 0;
    if (r->memory_limit) {
        /* memory.limit may not exceed memsw: when it would, memsw first */
        lrun_error *first = NULL;
        if (cgroup_set(path, "memory", "memory.limit_in_bytes", &first, "%" PRId64, r->memory_limit) < 0) {
            bool retry = has_swap && r->memory_swap && errno == EINVAL;
            if (!retry) {
                *err = first;
                return -1;
            }
            lrun_error_free(first);
            if (cgroup_set(path, "memory", "memory.memsw.limit_in_bytes", err, "%" PRId64, r->memory_swap) < 0 ||
                cgroup_set(path, "memory", "memory.limit_in_bytes", err, "%" PRId64, r->memory_limit) < 0)
                return -1;
        }
    }
    if (r->memory_swap && has_swap &&
        cgroup_set(path, "memory", "memory.memsw.limit_in_bytes", err, "%" PRId64, r->memory_swap) < 0)
        return -1;
    if (r->memory_reservation &&
        cgroup_set(path, "memory", "memory.soft_limit_in_bytes", err, "%" PRId64, r->memory_reservation) < 0)
        return -1;
    if (r->oom_kill_disable && cgroup_set(path, "memory", "memory.oom_control", err, "1") < 0)
        return -1;
    return 0;
}

static int cgroup_v2_memory(const char *path, const struct spec_resources *r, lrun_error **err)
{
    char max[24] = "max";
    if (r->memory_limit > 0)
        snprintf(max, sizeof max, "%" PRId64, r->memory_limit);
    if (r->memory_limit && cgroup_set(path, "memory", "memory.max", err, "%s", max) < 0)
        return -1;
    if (r->memory_reservation > 0 &&
        cgroup_set(path, "memory", "memory.low", err, "%" PRId64, r->memory_reservation) < 0)
        return -1;
    autofree char *dir = cgroup_dir(path, "memory");
    autofree char *swap_file = dir ? xasprintf("%s/memory.swap.max", dir) : NULL;
    if (r->memory_swap && swap_file && access(swap_file, F_OK) == 0) { /* v2 counts swap alone */
        if (r->memory_swap < 0 || r->memory_limit <= 0)
            return cgroup_set(path, "memory", "memory.swap.max", err, "max");
        return cgroup_set(path, "memory", "memory.swap.max", err, "%" PRId64,
                          r->memory_swap > r->memory_limit ? r->memory_swap - r->memory_limit : 0);
    }
    return 0; /* disableOOMKiller: v2 has no such switch (runc and crun ignore it too) */
}

static int cgroup_cpu(const char *path, const struct spec_resources *r, bool v2, lrun_error **err)
{
    if (r->cpu_shares && (v2 ? cgroup_set(path, "cpu", "cpu.weight", err, "%" PRIu64,
                                          1 + ((r->cpu_shares < 2 ? 0 : r->cpu_shares - 2) * 9999) / 262142)
                             : cgroup_set(path, "cpu", "cpu.shares", err, "%" PRIu64, r->cpu_shares)) < 0)
        return -1;
    if (!v2) {
        if (r->cpu_period && cgroup_set(path, "cpu", "cpu.cfs_period_us", err, "%" PRIu64, r->cpu_period) < 0)
            return -1;
        if (r->cpu_quota && cgroup_set(path, "cpu", "cpu.cfs_quota_us", err, "%" PRId64, r->cpu_quota) < 0)
            return -1;
    } else if (r->cpu_quota || r->cpu_period) {
        char quota[24] = "max";
        if (r->cpu_quota > 0)
            snprintf(quota, sizeof quota, "%" PRId64, r->cpu_quota);
        if (cgroup_set(path, "cpu", "cpu.max", err, "%s %" PRIu64, quota, r->cpu_period ? r->cpu_period : 100000) < 0)
            return -1;
    }
    if (r->cpuset_cpus && cgroup_set(path, "cpuset", "cpuset.cpus", err, "%s", r->cpuset_cpus) < 0)
        return -1;
    if (r->cpuset_mems && cgroup_set(path, "cpuset", "cpuset.mems", err, "%s", r->cpuset_mems) < 0)
        return -1;
    return 0;
}

static int cgroup_block_io(const char *path, const struct spec_resources *r, bool v2, lrun_error **err)
{
    const char *controller = v2 ? "io" : "blkio";
    if (r->blkio_weight) {
        autofree char *dir = cgroup_dir(path, controller);
        autofree char *plain = dir ? xasprintf("%s/%s", dir, v2 ? "io.weight" : "blkio.weight") : NULL;
        unsigned weight = v2 ? 1 + (r->blkio_weight - 10u) * 9999u / 990u : r->blkio_weight;
        const char *file = plain && access(plain, F_OK) == 0 ? (v2 ? "io.weight" : "blkio.weight")
                                                             : (v2 ? "io.bfq.weight" : "blkio.bfq.weight");
        if (cgroup_set(path, controller, file, err, v2 && strcmp(file, "io.weight") == 0 ? "default %u" : "%u",
                       strcmp(file, "io.bfq.weight") == 0 ? r->blkio_weight : weight) < 0)
            return error_prefix(err, "--blkio-weight (the kernel's I/O scheduler may have no weights)");
    }
    static const char *const v1_files[THROTTLE_KINDS] = {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                                                         "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
    static const char *const v2_keys[THROTTLE_KINDS] = {"rbps", "wbps", "riops", "wiops"};
    for (int k = 0; k < THROTTLE_KINDS; k++)
        for (size_t i = 0; i < r->n_throttles[k]; i++) {
            const struct spec_throttle *t = &r->throttles[k][i];
            int rc = v2 ? cgroup_set(path, controller, "io.max", err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t->major,
                                     t->minor, v2_keys[k], t->rate)
                        : cgroup_set(path, controller, v1_files[k], err, "%" PRId64 ":%" PRId64 " %" PRIu64, t->major,
                                     t->minor, t->rate);
            if (rc < 0)
                return -1;
        }
    return 0;
}

/* cgroup_apply_limits: the limits of r that are set, on a cgroup that
 * exists (create, and update of a running container) */
static int cgroup_apply_limits(const char *path, const struct spec_resources *r, lrun_error **err)
{
    bool v2 = cgroup_detect() == CGROUP_V2;
    if ((v2 ? cgroup_v2_memory(path, r, err) : cgroup_v1_memory(path, r, err)) < 0 ||
        cgroup_cpu(path, r, v2, err) < 0 || cgroup_block_io(path, r, v2, err) < 0)
        return -1;
    if (r->pids_limit > 0)
        return cgroup_set(path, "pids", "pids.max", err, "%" PRId64, r->pids_limit);
    if (r->pids_limit < 0)
        return cgroup_set(path, "pids", "pids.max", err, "max");
    return 0;
}

/* cgroup_v2_enable: the controllers a container may use that dir has,
 * enabled for its children */
static void cgroup_v2_enable(const char *dir)
{
    static const char *const wanted[] = {"cpu", "cpuset", "io", "memory", "pids"};
    autofree char *file = xasprintf("%s/cgroup.controllers", dir);
    autobuf struct buf have = {0};
    if (read_file_at(AT_FDCWD, file, &have, NULL) < 0)
        return;
    for (char *c = have.data; *c; c++)
        if (*c == '\n')
            *c = ' ';
    autofree char *line = xasprintf(" %s ", have.data);
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
        autofree char *word = xasprintf(" %s ", wanted[i]), *enable = xasprintf("+%s", wanted[i]);
        if (strstr(line, word))
            cgroup_write(dir, "cgroup.subtree_control", enable, NULL);
    }
}

/* cgroup_v2_delegate: v2 limits need their controllers enabled in
 * cgroup.subtree_control of every cgroup above the container's. */
static void cgroup_v2_delegate(const char *mount, const char *path)
{
    autofree char *rel = xstrdup(path + (path[0] == '/'));
    char *leaf = strrchr(rel, '/'), *save = NULL;
    autobuf struct buf dir = {0};
    buf_adds(&dir, mount);
    cgroup_v2_enable(dir.data);
    if (!leaf)
        return;
    *leaf = '\0';
    for (char *step = strtok_r(rel, "/", &save); step; step = strtok_r(NULL, "/", &save)) {
        buf_printf(&dir, "/%s", step);
        mkdir(dir.data, 0755);
        cgroup_v2_enable(dir.data);
    }
}

/* cgroup_oom_killed: whether the OOM killer killed in the cgroup (v1
 * memory.oom_control's oom_kill, v2 memory.events') */
static bool cgroup_oom_killed(const char *path)
{
    cgroup_detect();
    autofree char *dir = cgroup_dir(path, "memory");
    autofree char *file = dir ? xasprintf("%s/%s", dir, cgroup_host_version == CGROUP_V2 ? "memory.events"
                                                                                         : "memory.oom_control")
                              : NULL;
    autobuf struct buf text = {0};
    if (!file || read_file_at(AT_FDCWD, file, &text, NULL) < 0)
        return false;
    const char *line = strstr(text.data, "oom_kill ");
    return line && atoll(line + 9) > 0;
}

/* --- the interface --- */

/* cgroup_create: the container's cgroup in every hierarchy, with the
 * resources applied; on failure nothing is left. */
static int cgroup_remove(const char *path, lrun_error **err);

static int cgroup_create(const char *path, const struct spec_resources *r, lrun_error **err)
{
    if (cgroup_path_valid(path, err) < 0)
        return -1;
    if (cgroup_detect() == CGROUP_NONE)
        return fail(err, "no cgroup hierarchy is mounted (neither cgroup2 nor v1 controllers in /proc/self/mountinfo): "
                         "a container needs its own cgroup for its device policy and limits");
    int rc = 0;
    for (size_t i = 0; i < n_cgroup_hierarchies && rc == 0; i++) {
        const struct cgroup_hierarchy *h = &cgroup_hierarchies[i];
        autofree char *dir = xasprintf("%s/%s", h->mount, path + (path[0] == '/'));
        if (h->unified && cgroup_host_version == CGROUP_V2)
            cgroup_v2_delegate(h->mount, path);
        rc = cgroup_mkdirs(dir, strstr(h->controllers, ",cpuset,") != NULL, err);
    }
    if (rc == 0 && r->n_devices) {
        autofree char *v1 = cgroup_detect() == CGROUP_V1 ? cgroup_dir(path, "devices") : NULL;
        autofree char *v2 = cgroup_dir(path, "");
        if (cgroup_host_version == CGROUP_V1 && !v1)
            rc = fail(err, "the v1 devices controller is not mounted: the container's device policy cannot be applied");
        if (rc == 0 && v1)
            rc = cgroup_v1_devices(v1, r, err);
        /* v2, or a hybrid host's unified hierarchy: a BPF program (on a
         * hybrid host it checks too, where the kernel lets us attach it) */
        if (rc == 0 && v2) {
            lrun_error *v2_err = NULL;
            rc = cgroup_v2_devices(v2, r, &v2_err);
            if (rc < 0 && cgroup_host_hybrid)
                rc = 0, lrun_error_free(v2_err);
            else if (rc < 0)
                *err = v2_err;
        }
    }
    if (rc == 0)
        rc = cgroup_apply_limits(path, r, err);
    if (rc < 0) {
        error_prefix(err, "cgroup %s", path);
        cgroup_remove(path, NULL);
    }
    return rc;
}

/* cgroup_mount_v1: on a v1 (or hybrid) host, the container's "cgroup"
 * mount as runc lays it out: a tmpfs with, per hierarchy, the container's
 * own directory bound in under the hierarchy's name (pids, memory, ...,
 * unified), read-only with the mount's ro.  Returns 1 on a v2 host (the
 * caller mounts cgroup2). */
static int cgroup_mount_v1(int root_fd, const char *destination, const char *path, unsigned long flags,
                           lrun_error **err)
{
    if (cgroup_detect() != CGROUP_V1)
        return 1;
    unsigned long per_mount = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (mount_in_root(root_fd, destination, CREATE_DIRECTORY, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      "mode=755", err) < 0)
        return -1;
    for (size_t i = 0; i < n_cgroup_hierarchies; i++) {
        const struct cgroup_hierarchy *h = &cgroup_hierarchies[i];
        autofree char *target = xasprintf("%s/%s", destination, strrchr(h->mount, '/') + 1);
        autofree char *source = xasprintf("%s/%s", h->mount, path + (path[0] == '/'));
        if (mount_in_root(root_fd, target, CREATE_DIRECTORY, source, NULL, MS_BIND | MS_REC | per_mount, NULL, err) < 0)
            return -1;
    }
    if (!(flags & MS_RDONLY))
        return 0;
    autoclose int fd = root_path_open(root_fd, destination, CREATE_NOTHING, 0, err);
    return fd < 0 ? -1
                  : mount_at(NULL, fd, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755",
                             destination, err);
}

/* cgroup_enter: pid (0: the calling process) into the container's cgroup
 * in every hierarchy. */
static int cgroup_enter(const char *path, pid_t pid, lrun_error **err)
{
    char text[24];
    snprintf(text, sizeof text, "%d", (int)pid);
    cgroup_detect();
    for (size_t i = 0; i < n_cgroup_hierarchies; i++) {
        autofree char *dir = xasprintf("%s/%s", cgroup_hierarchies[i].mount, path + (path[0] == '/'));
        if (cgroup_write(dir, "cgroup.procs", text, err) < 0)
            return error_prefix(err, "enter the container's cgroup");
    }
    return 0;
}

/* cgroup_kill_all: SIGKILL to every process still in dir */
static bool cgroup_kill_all(const char *dir)
{
    autofree char *procs = xasprintf("%s/cgroup.procs", dir);
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, procs, &text, NULL) < 0)
        return false;
    bool any = false;
    for (char *save = NULL, *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (atoi(line) > 0)
            any = true, kill(atoi(line), SIGKILL);
    return any;
}

/* cgroup_remove: kill whatever is left, remove the directories (the
 * parent stays: other containers share it).  A missing cgroup is no error. */
static int cgroup_remove(const char *path, lrun_error **err)
{
    if (cgroup_path_valid(path, err) < 0)
        return -1;
    cgroup_detect();
    int rc = 0;
    for (size_t i = 0; i < n_cgroup_hierarchies; i++) {
        autofree char *dir = xasprintf("%s/%s", cgroup_hierarchies[i].mount, path + (path[0] == '/'));
        /* a dying process leaves its cgroup a moment after it is reaped */
        for (int attempt = 0; rmdir(dir) < 0 && errno != ENOENT; attempt++) {
            if (errno != EBUSY || attempt == 200) {
                rc = fail_errno(err, "remove the cgroup %s", dir);
                break;
            }
            cgroup_kill_all(dir);
            usleep(attempt < 20 ? 1000 : 10000);
        }
    }
    return rc;
}

/* ========================================================================
 * CONTAINER: CREATE: docker-style options and the image become a spec (as
 * podman generates one); the container layer and the records; lookup,
 * names, sizes
 * ======================================================================== */

/* --- lookup --- */

static struct container *container_lookup(lrun_store *s, const char *text, lrun_error **err)
{
    struct container *prefix_match = NULL;
    size_t prefix_matches = 0, n = strlen(text);
    for (size_t i = 0; i < s->n_containers; i++) {
        struct container *c = s->containers[i];
        if (strcmp(c->id, text) == 0 || strv_contains(c->names, text))
            return c;
        if (n >= 1 && strncmp(c->id, text, n) == 0)
            prefix_match = c, prefix_matches++;
    }
    if (prefix_matches == 1)
        return prefix_match;
    if (prefix_matches > 1)
        fail(err, "%s: container ID prefix is ambiguous", text);
    else
        fail(err, "no container with name or ID \"%s\" found: no such container", text);
    return NULL;
}

/* process_start_time: field 22 of /proc/PID/stat, 0 if the process is gone
 * (with the pid, it tells a live container from a reused pid). */
static int64_t process_start_time(int64_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%" PRId64 "/stat", pid);
    autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    if (!p)
        return 0;
    long long value = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
        if (++field == 22) {
            value = atoll(tok);
            break;
        }
    return value;
}

/* process_alive: pid runs (a zombie, which nobody may ever reap when its
 * parent died, does not). */
static bool process_alive(int64_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%" PRId64 "/stat", pid);
    autoclose int fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* container_is_running: the recorded init still exists (same start time). */
static bool container_is_running(const struct container *c)
{
    return c->status && strcmp(c->status, "running") == 0 && c->pid > 0 &&
           process_start_time(c->pid) == c->pid_start && process_alive(c->pid);
}

/* --- names --- */

static char *container_name_generate(lrun_store *s)
{
    static const char *const adjectives[] = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen",
                                             "lucid", "merry", "nifty", "proud", "quirky", "silly", "sweet", "vivid"};
    static const char *const nouns[] = {"babbage", "curie", "darwin", "euler", "gauss", "hopper", "knuth", "lovelace",
                                        "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak", "yalow"};
    for (;;) {
        unsigned char r[2];
        random_bytes(r, sizeof r);
        autofree char *name = xasprintf("%s_%s", adjectives[r[0] % 16], nouns[r[1] % 16]);
        lrun_error *ignored = NULL;
        struct container *taken = container_lookup(s, name, &ignored);
        lrun_error_free(ignored);
        if (!taken)
            return steal_pointer(&name);
    }
}

static bool container_name_valid(const char *name)
{
    if (!isalnum((unsigned char)name[0]))
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
            return false;
    return true;
}

/* --- volumes: volumes/NAME/_data under the graph root, as podman keeps
 * them; what podman keeps in its database about one is volume.json next
 * to _data (podman ignores the file).  The store's container lock guards
 * them: commands that create or remove volumes hold it for writing. --- */

struct volume {
    char *name;
    char *created;   /* RFC 3339 */
    char **labels;   /* key, value, ... */
    char **options;  /* key, value, ... (-o type=tmpfs, device=..., o=...) */
    char *container; /* an anonymous volume: the container it was made for */
    bool anonymous, needs_copy_up, needs_chown;
};

static void volume_release(struct volume *v)
{
    free(v->name);
    free(v->created);
    lrun_strv_free(v->labels);
    lrun_strv_free(v->options);
    free(v->container);
    *v = (struct volume){0};
}
#define autovolume cleanup(volume_release)

static char *volume_data_path(const char *root, const char *name)
{
    return xasprintf("%s/volumes/%s/_data", root, name);
}

/* pairs_get: the value of key in key, value, ... (NULL: absent). */
static const char *pairs_get(char *const *pairs, const char *key)
{
    for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
        if (strcmp(pairs[i], key) == 0)
            return pairs[i + 1];
    return NULL;
}

static int volume_read(const char *root, const char *name, struct volume *v, lrun_error **err)
{
    *v = (struct volume){0};
    autofree char *path = xasprintf("%s/volumes/%s/volume.json", root, name);
    autobuf struct buf text = {0};
    lrun_error *read_err = NULL;
    if (!container_name_valid(name) || read_file_at(AT_FDCWD, path, &text, &read_err) < 0) {
        lrun_error_free(read_err);
        return fail_code(err, 1, "no volume with name \"%s\" found: no such volume", name);
    }
    autojson yajl_val j = json_parse(text.data, path, err);
    if (!j)
        return -1;
    v->name = xstrdup(name);
    v->created = xstrdup(json_string(j, "CreatedAt"));
    v->labels = json_pairs(json_get(j, "Labels"));
    v->options = json_pairs(json_get(j, "Options"));
    v->container = xstrdup(json_string(j, "Container"));
    v->anonymous = json_bool(j, "Anonymous");
    v->needs_copy_up = json_bool(j, "NeedsCopyUp");
    v->needs_chown = json_bool(j, "NeedsChown");
    return 0;
}

static int volume_write(const char *root, const struct volume *v, lrun_error **err)
{
    autogen yajl_gen g = json_writer(true);
    yajl_gen_map_open(g);
    jw_key_str(g, "Name", v->name);
    jw_key_str(g, "CreatedAt", v->created);
    jw_key_pairs(g, "Labels", v->labels);
    jw_key_pairs(g, "Options", v->options);
    if (v->container)
        jw_key_str(g, "Container", v->container);
    jw_key_bool(g, "Anonymous", v->anonymous);
    jw_key_bool(g, "NeedsCopyUp", v->needs_copy_up);
    jw_key_bool(g, "NeedsChown", v->needs_chown);
    yajl_gen_map_close(g);
    size_t len;
    autofree char *text = json_writer_text(g, &len);
    autofree char *dir = xasprintf("%s/volumes/%s", root, v->name);
    autoclose int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open %s", dir);
    return write_file_atomic(fd, "volume.json", text, len, 0600, err);
}

/* volume_names: every volume, sorted. */
static char **volume_names(const char *root)
{
    autofree char *dir = xasprintf("%s/volumes", root);
    autoclose int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char **names = fd >= 0 ? dir_entries_sorted(fd, NULL) : NULL;
    char **out = xcalloc(1, sizeof *out);
    for (size_t i = 0; names && names[i]; i++) {
        autofree char *record = xasprintf("%s/volume.json", names[i]);
        if (faccessat(fd, record, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            strv_push(&out, xstrdup(names[i]));
    }
    lrun_strv_free(names);
    return out;
}

/* volume_options_check: the local driver's options as podman takes them:
 * type (tmpfs, bind or a filesystem), device, o, and a bind's device must
 * exist. */
static int volume_options_check(char *const *options, lrun_error **err)
{
    for (size_t i = 0; options && options[i] && options[i + 1]; i += 2)
        if (strcmp(options[i], "type") && strcmp(options[i], "device") && strcmp(options[i], "o") &&
            strcmp(options[i], "copy") && strcmp(options[i], "nocopy"))
            return fail(err, "invalid mount option %s for driver 'local': invalid argument", options[i]);
    const char *type = pairs_get(options, "type"), *device = pairs_get(options, "device");
    const char *o = pairs_get(options, "o");
    bool bind = (type && strcmp(type, "bind") == 0) || (o && (strstr(o, "bind")));
    if (type && strcmp(type, "tmpfs") != 0 && !bind)
        return fail(err, "invalid volume option type for driver 'local': lrun mounts tmpfs and bind volumes only");
    if (bind) {
        struct stat st;
        if (!device)
            return fail(err, "invalid volume option device for driver 'local': a bind volume needs device=PATH");
        if (stat(device, &st) < 0)
            return fail(err, "invalid volume option device for driver 'local': stat %s: %s", device, strerror(errno));
    }
    return 0;
}

/* volume_create: the directory, _data and the record (v->name set, or a
 * random one for an anonymous volume). */
static int volume_create(const char *root, struct volume *v, lrun_error **err)
{
    if (!v->name) {
        unsigned char raw[32];
        digest_hex hex;
        random_bytes(raw, sizeof raw);
        hex_encode(raw, sizeof raw, hex);
        v->name = xstrdup(hex);
    }
    if (!container_name_valid(v->name))
        return fail(err, "invalid volume name \"%s\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument",
                    v->name);
    if (volume_options_check(v->options, err) < 0)
        return -1;
    autofree char *volumes = xasprintf("%s/volumes", root);
    autofree char *dir = xasprintf("%s/%s", volumes, v->name);
    autofree char *data = xasprintf("%s/_data", dir);
    if (mkdir(volumes, 0700) < 0 && errno != EEXIST)
        return fail_errno(err, "create %s", volumes);
    if (mkdir(dir, 0700) < 0)
        return errno == EEXIST ? fail(err, "volume with name %s already exists: volume already exists", v->name)
                               : fail_errno(err, "create %s", dir);
    if (mkdir(data, 0755) < 0) {
        fail_errno(err, "create %s", data);
        rmdir(dir);
        return -1;
    }
    if (!v->created)
        v->created = time_rfc3339_now();
    v->needs_copy_up = v->needs_chown = !pairs_get(v->options, "type");
    if (pairs_get(v->options, "nocopy"))
        v->needs_copy_up = false;
    if (!v->labels)
        v->labels = xcalloc(1, sizeof *v->labels);
    if (!v->options)
        v->options = xcalloc(1, sizeof *v->options);
    if (volume_write(root, v, err) < 0) {
        autoclose int fd = open(volumes, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        remove_tree_at(fd, v->name, NULL);
        return -1;
    }
    return 0;
}

static int volume_remove(const char *root, const char *name, lrun_error **err)
{
    autofree char *volumes = xasprintf("%s/volumes", root);
    autoclose int fd = open(volumes, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open %s", volumes);
    /* the record goes first: a crash half-way leaves a directory, not a volume */
    autofree char *record = xasprintf("%s/volume.json", name);
    if (unlinkat(fd, record, 0) < 0 && errno != ENOENT)
        return fail_errno(err, "remove volume %s", name);
    return remove_tree_at(fd, name, err);
}

/* volumes_remove_anonymous: the anonymous volumes made for a container
 * (rm -v, run --rm). */
static void volumes_remove_anonymous(const char *root, const char *container_id)
{
    autostrv char **names = volume_names(root);
    for (size_t i = 0; names[i]; i++) {
        autovolume struct volume v = {0};
        if (volume_read(root, names[i], &v, NULL) == 0 && v.anonymous && v.container &&
            strcmp(v.container, container_id) == 0)
            volume_remove(root, names[i], NULL);
    }
}

/* --- the options of run and create, and the facts kept of them --- */

/* One -v, --mount, --tmpfs or --volumes-from mount, as the user asked. */
enum user_mount_kind { MOUNT_BIND, MOUNT_VOLUME, MOUNT_TMPFS };
static const char *const user_mount_kind_names[] = {"bind", "volume", "tmpfs"};

struct user_mount {
    enum user_mount_kind kind;
    char *source;      /* bind: the host path; volume: its name (NULL: a new anonymous one) */
    char *destination; /* inside the container */
    char **options;    /* for the mount: ro, noexec, nosuid, nodev, size=..., mode=... */
};

static void user_mounts_free(struct user_mount *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(m[i].source);
        free(m[i].destination);
        lrun_strv_free(m[i].options);
    }
    free(m);
}

static void user_mount_push(struct user_mount **list, size_t *n, enum user_mount_kind kind, const char *source,
                            const char *destination, char *const *options)
{
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = (struct user_mount){kind, xstrdup(source), xstrdup(destination),
                                          options ? strv_copy(options) : xcalloc(1, sizeof(char *))};
}

/* What run's and create's command line asked for, as the CLI parses it;
 * spec_generate turns it (with the image) into the container's spec. */
struct container_config {
    char *image;   /* as the user named it */
    char *name;
    char **env;    /* -e and --env-file, over the image's */
    char *workdir;
    char *user;
    char *hostname;
    char *network; /* "host" or "none" */
    char *seccomp; /* "default", "unconfined" or a profile file */
    char *stop_signal;
    char **cap_add, **cap_drop;
    struct user_mount *mounts; /* -v, --mount, --tmpfs, then --volumes-from's */
    char **devices;      /* --device HOST[:CONTAINER[:PERMISSIONS]] */
    char *cgroup_parent; /* --cgroup-parent; NULL: "lrun" */
    struct spec_resources resources; /* --memory, --cpus, --pids-limit, ... parsed (limit_option) */
    struct spec_rlimit *rlimits;     /* --ulimit */
    size_t n_rlimits;
    int64_t shm_size;    /* --shm-size, bytes; 0: docker's 64m */
    bool cgroupns_host;  /* --cgroupns host */
    size_t n_mounts;
    char **volumes_from;
    int stop_timeout;
    bool terminal, interactive, detach, remove, read_only, privileged, init, no_new_privileges, no_pivot;
};

static void container_config_release(struct container_config *c)
{
    free(c->image);
    free(c->name);
    lrun_strv_free(c->env);
    free(c->workdir);
    free(c->user);
    free(c->hostname);
    free(c->network);
    free(c->seccomp);
    free(c->stop_signal);
    lrun_strv_free(c->cap_add);
    lrun_strv_free(c->cap_drop);
    user_mounts_free(c->mounts, c->n_mounts);
    lrun_strv_free(c->volumes_from);
    lrun_strv_free(c->devices);
    free(c->cgroup_parent);
    spec_resources_release(&c->resources);
    free(c->rlimits);
    *c = (struct container_config){0};
}
#define autoconfig cleanup(container_config_release)

/* userdata/lrun.json: what the docker-style command line said that a
 * runtime spec has no place for.  Members, by their JSON key: */
struct container_facts {
    char *image;       /* "image": the image as the user named it */
    char *image_id;    /* "image-id": the image's ID */
    char *name;        /* "name": the container's name */
    char *entrypoint;  /* "entrypoint": --entrypoint as given; absent when not given */
    char **command;    /* "command": the command as given; [] when the image's Cmd is used */
    char *stop_signal; /* "stop-signal": --stop-signal, else the image's StopSignal, else SIGTERM */
    int stop_timeout;  /* "stop-timeout": seconds stop waits before SIGKILL (--stop-timeout, 10) */
    bool remove;       /* "remove": --rm: the container goes when it exits */
    bool detach;       /* "detach": -d: started under a detached monitor */
    bool interactive;  /* "interactive": -i: the caller's stdin is attached */
    bool init;         /* "init": --init: lrun's reaper is pid 1, the command its child */
    bool no_pivot;     /* "no-pivot": --no-pivot: chroot instead of pivot_root */
    struct user_mount *mounts; /* "mounts": -v, --mount, --tmpfs and --volumes-from, volumes named */
    size_t n_mounts;
};

static void container_facts_release(struct container_facts *f)
{
    free(f->image);
    free(f->image_id);
    free(f->name);
    free(f->entrypoint);
    lrun_strv_free(f->command);
    free(f->stop_signal);
    user_mounts_free(f->mounts, f->n_mounts);
    *f = (struct container_facts){0};
}
#define autofacts cleanup(container_facts_release)

static void jw_user_mounts(yajl_gen g, const char *key, const struct user_mount *m, size_t n)
{
    jw_key(g, key);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        jw_key_str(g, "type", user_mount_kind_names[m[i].kind]);
        if (m[i].source)
            jw_key_str(g, "source", m[i].source);
        jw_key_str(g, "destination", m[i].destination);
        jw_key_strv(g, "options", m[i].options);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

static void user_mounts_from_json(yajl_val list, struct user_mount **out, size_t *n)
{
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val v = json_array_at(list, i);
        const char *type = json_string(v, "type"), *destination = json_string(v, "destination");
        for (size_t k = 0; type && destination && k < sizeof user_mount_kind_names / sizeof *user_mount_kind_names; k++)
            if (strcmp(type, user_mount_kind_names[k]) == 0) {
                autostrv char **options = json_strv(json_get(v, "options"));
                user_mount_push(out, n, (enum user_mount_kind)k, json_string(v, "source"), destination, options);
            }
    }
}

static char *container_facts_json(const struct container_facts *f, size_t *len)
{
    autogen yajl_gen g = json_writer(true);
    yajl_gen_map_open(g);
    jw_key_str(g, "image", f->image);
    jw_key_str(g, "image-id", f->image_id);
    jw_key_str(g, "name", f->name);
    if (f->entrypoint)
        jw_key_str(g, "entrypoint", f->entrypoint);
    jw_key_strv(g, "command", f->command);
    jw_key_str(g, "stop-signal", f->stop_signal);
    jw_key_int(g, "stop-timeout", f->stop_timeout);
    jw_key_bool(g, "remove", f->remove);
    jw_key_bool(g, "detach", f->detach);
    jw_key_bool(g, "interactive", f->interactive);
    jw_key_bool(g, "init", f->init);
    jw_key_bool(g, "no-pivot", f->no_pivot);
    jw_user_mounts(g, "mounts", f->mounts, f->n_mounts);
    yajl_gen_map_close(g);
    return json_writer_text(g, len);
}

static int container_facts_read(const char *userdata, struct container_facts *f, lrun_error **err)
{
    *f = (struct container_facts){0};
    autofree char *path = xasprintf("%s/lrun.json", userdata);
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, path, &text, err) < 0)
        return -1;
    autojson yajl_val v = json_parse(text.data, "lrun.json", err);
    if (!v)
        return -1;
    f->image = xstrdup(json_string(v, "image"));
    f->image_id = xstrdup(json_string(v, "image-id"));
    f->name = xstrdup(json_string(v, "name"));
    f->entrypoint = xstrdup(json_string(v, "entrypoint"));
    f->command = json_strv(json_get(v, "command"));
    f->stop_signal = xstrdup(json_string(v, "stop-signal") ? json_string(v, "stop-signal") : "SIGTERM");
    f->stop_timeout = (int)json_int(v, "stop-timeout", 10);
    f->remove = json_bool(v, "remove");
    f->detach = json_bool(v, "detach");
    f->interactive = json_bool(v, "interactive");
    f->init = json_bool(v, "init");
    f->no_pivot = json_bool(v, "no-pivot");
    user_mounts_from_json(json_get(v, "mounts"), &f->mounts, &f->n_mounts);
    return 0;
}

static char *container_userdata(const char *root, const char *id)
{
    return xasprintf("%s/overlay-containers/%s/userdata", root, id);
}

/* --- the spec of a docker-style container --- */

/* docker's default capability set */
static const int default_capabilities[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
                                           CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
                                           CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE};

/* container_capabilities: the set as a bit mask: docker's defaults (or all
 * when privileged), then --cap-add and --cap-drop ("ALL" works in both). */
static int container_capabilities(const struct container_config *c, uint64_t *mask, lrun_error **err)
{
    uint64_t all = capabilities_held();
    *mask = 0;
    if (c->privileged)
        *mask = all;
    else
        for (size_t i = 0; i < sizeof default_capabilities / sizeof *default_capabilities; i++)
            *mask |= 1ull << default_capabilities[i];
    for (int pass = 0; pass < 2; pass++) {
        char **list = pass == 0 ? c->cap_drop : c->cap_add;
        for (size_t i = 0; list && list[i]; i++) {
            uint64_t bits;
            int cap = 0;
            if (strcasecmp(list[i], "ALL") == 0)
                bits = all;
            else if (capability_parse(list[i], &cap, err) < 0)
                return -1;
            else
                bits = 1ull << cap;
            *mask = pass == 0 ? *mask & ~bits : *mask | bits;
        }
    }
    *mask &= all;
    return 0;
}

/* json_strings_push: the strings of a JSON array onto *v. */
static void json_strings_push(char ***v, yajl_val list)
{
    for (size_t i = 0; i < json_array_len(list); i++)
        if (YAJL_IS_STRING(json_array_at(list, i)))
            strv_push(v, xstrdup(YAJL_GET_STRING(json_array_at(list, i))));
}

/* spec_process_from_image: what the command line left open, from the image
 * config, as docker does: args = entrypoint + (command or Cmd), Env under
 * -e, WorkingDir, User; and the image's StopSignal into facts. */
static int spec_process_from_image(lrun_store *s, struct image *img, const struct container_config *c,
                                   struct container_facts *f, struct spec_process *p, lrun_error **err)
{
    autojson yajl_val config = image_config(s, img, err);
    if (!config)
        return -1;
    yajl_val cfg = json_get(config, "config");
    p->args = xcalloc(1, sizeof *p->args);
    if (f->entrypoint && *f->entrypoint)
        strv_push(&p->args, xstrdup(f->entrypoint));
    else if (!f->entrypoint)
        json_strings_push(&p->args, json_get(cfg, "Entrypoint"));
    if (strv_len(f->command) > 0)
        for (size_t i = 0; f->command[i]; i++)
            strv_push(&p->args, xstrdup(f->command[i]));
    else if (!f->entrypoint)
        json_strings_push(&p->args, json_get(cfg, "Cmd"));
    if (strv_len(p->args) == 0)
        return fail_code(err, EXIT_LRUN, "no command specified: the image has no Cmd or Entrypoint");
    p->env = json_strv(json_get(cfg, "Env"));
    env_set_default(&p->env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for (size_t i = 0; c->env && c->env[i]; i++) /* -e and --env-file come on top */
        env_set(&p->env, c->env[i]);
    const char *workdir = json_string(cfg, "WorkingDir"), *user = json_string(cfg, "User");
    p->cwd = xstrdup(c->workdir ? c->workdir : workdir && *workdir ? workdir : "/");
    user = c->user ? c->user : user;
    p->user.name = xstrdup(user && *user ? user : "0"); /* looked up in the container when it starts */
    if (!f->stop_signal)
        f->stop_signal = xstrdup(json_string(cfg, "StopSignal") ? json_string(cfg, "StopSignal") : "SIGTERM");
    return 0;
}

static void spec_add_mount(struct spec *s, const char *destination, const char *type, const char *source,
                           char *const *options)
{
    s->mounts = xrealloc(s->mounts, (s->n_mounts + 1) * sizeof *s->mounts);
    struct spec_mount *m = &s->mounts[s->n_mounts++];
    *m = (struct spec_mount){.destination = xstrdup(destination), .type = xstrdup(type), .source = xstrdup(source),
                             .options = strv_copy(options)};
    spec_mount_parse(m);
}

/* spec_user_mount: one of the user's mounts: a host path or a volume's
 * _data bound, a tmpfs; a volume made with -o type=tmpfs is a tmpfs, one
 * made with -o type=bind binds its device.  The user's options follow. */
static void spec_user_mount(struct spec *s, const struct user_mount *m, const char *root)
{
    autostrv char **options = xcalloc(1, sizeof *options);
    autofree char *data = NULL;
    const char *type = "bind", *source = m->source;
    autovolume struct volume v = {0};
    if (m->kind == MOUNT_VOLUME && volume_read(root, m->source, &v, NULL) == 0 && pairs_get(v.options, "type") &&
        strcmp(pairs_get(v.options, "type"), "tmpfs") == 0) {
        type = "tmpfs", source = "tmpfs";
        autostrv char **o = strv_split(pairs_get(v.options, "o") ? pairs_get(v.options, "o") : "", ",");
        strv_push(&options, xstrdup("nosuid"));
        strv_push(&options, xstrdup("nodev"));
        for (size_t i = 0; o[i]; i++)
            strv_push(&options, xstrdup(o[i]));
    } else if (m->kind == MOUNT_VOLUME && pairs_get(v.options, "device")) {
        source = pairs_get(v.options, "device");
        strv_push(&options, xstrdup("rbind"));
    } else if (m->kind == MOUNT_VOLUME) {
        source = data = volume_data_path(root, m->source);
        strv_push(&options, xstrdup("rbind"));
    } else if (m->kind == MOUNT_TMPFS) {
        type = "tmpfs", source = "tmpfs";
        strv_push(&options, xstrdup("nosuid"));
        strv_push(&options, xstrdup("nodev"));
        strv_push(&options, xstrdup("mode=1777"));
    } else {
        strv_push(&options, xstrdup("rbind"));
    }
    for (size_t i = 0; m->options && m->options[i]; i++)
        if (strcmp(m->options[i], "nocopy") != 0)
            strv_push(&options, xstrdup(m->options[i]));
    spec_add_mount(s, m->destination, type, source, options);
}

/* spec_mounts_generate: the kernel's filesystems and /dev as docker and
 * podman give them, the /etc files from userdata, the user's mounts. */
static void spec_mounts_generate(struct spec *s, const struct container_config *c, const char *root,
                                 const char *userdata)
{
    char *const *sys = c->privileged ? STRV("nosuid", "noexec", "nodev") : STRV("nosuid", "noexec", "nodev", "ro");
    spec_add_mount(s, "/dev", "tmpfs", "tmpfs", STRV("nosuid", "strictatime", "mode=755", "size=65536k"));
    spec_add_mount(s, "/dev/pts", "devpts", "devpts",
                   STRV("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"));
    char shm_size[40] = "size=65536k";
    if (c->shm_size)
        snprintf(shm_size, sizeof shm_size, "size=%" PRId64, c->shm_size);
    spec_add_mount(s, "/dev/shm", "tmpfs", "shm", STRV("nosuid", "noexec", "nodev", "mode=1777", shm_size));
    spec_add_mount(s, "/dev/mqueue", "mqueue", "mqueue", STRV("nosuid", "noexec", "nodev"));
    spec_add_mount(s, "/proc", "proc", "proc", STRV("nosuid", "noexec", "nodev"));
    spec_add_mount(s, "/sys", "sysfs", "sysfs", sys);
    spec_add_mount(s, "/sys/fs/cgroup", "cgroup", "cgroup", sys);
    static const char *const files[] = {"hosts", "hostname", "resolv.conf"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        autofree char *source = xasprintf("%s/%s", userdata, files[i]);
        autofree char *target = xasprintf("/etc/%s", files[i]);
        spec_add_mount(s, target, "bind", source, STRV("bind"));
    }
    for (size_t i = 0; i < c->n_mounts; i++)
        spec_user_mount(s, &c->mounts[i], root);
}

/* --- limits: docker's resource options, checked as they are parsed --- */

enum limit_option { LIMIT_MEMORY, LIMIT_MEMORY_SWAP, LIMIT_MEMORY_RESERVATION, LIMIT_CPUS, LIMIT_CPU_SHARES,
                    LIMIT_CPU_PERIOD, LIMIT_CPU_QUOTA, LIMIT_CPUSET_CPUS, LIMIT_CPUSET_MEMS, LIMIT_PIDS,
                    LIMIT_BLKIO_WEIGHT, LIMIT_READ_BPS, LIMIT_WRITE_BPS, LIMIT_READ_IOPS, LIMIT_WRITE_IOPS };

/* cpu_list_parse: "0-3,6" as a mask of 1024 bits; false when malformed */
static bool cpu_list_parse(const char *text, uint64_t mask[16])
{
    memset(mask, 0, 16 * sizeof *mask);
    const char *p = text;
    while (*p) {
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (end == p || !isdigit((unsigned char)*p))
            return false;
        if (*end == '-') {
            p = end + 1;
            b = strtoul(p, &end, 10);
            if (end == p || !isdigit((unsigned char)*p) || b < a)
                return false;
        }
        if (b >= 1024)
            return false;
        for (unsigned long i = a; i <= b; i++)
            mask[i / 64] |= 1ull << (i % 64);
        if (*end != ',' && *end != '\0' && *end != '\n')
            return false;
        p = *end == ',' ? end + 1 : end + strlen(end);
    }
    return p != text;
}

/* cpu_list_check: every one of text's CPUs (or memory nodes) is in the
 * host's list at online_path; the option's error otherwise */
static int cpu_list_check(const char *option, const char *text, const char *online_path, lrun_error **err)
{
    uint64_t want[16], have[16];
    if (!cpu_list_parse(text, want))
        return fail(err, "invalid %s \"%s\": use a list such as 0-3,6", option, text);
    autobuf struct buf online = {0};
    if (read_file_at(AT_FDCWD, online_path, &online, NULL) < 0 || !cpu_list_parse(online.data, have))
        return 0;
    for (int i = 0; i < 16; i++)
        if (want[i] & ~have[i]) {
            online.data[strcspn(online.data, "\n")] = '\0';
            return fail(err, "invalid %s \"%s\": requested %s are not available - available: %s", option, text,
                        strcmp(option, "--cpuset-cpus") == 0 ? "CPUs" : "memory nodes", online.data);
        }
    return 0;
}

static int limit_number(const char *option, const char *text, int64_t low, int64_t high, int64_t *out,
                        lrun_error **err)
{
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (!*text || *end || errno || n < low || n > high)
        return fail(err, "invalid %s \"%s\": must be a number from %" PRId64 " to %" PRId64, option, text, low, high);
    *out = n;
    return 0;
}

/* limit_throttle: --device-read-bps and friends: PATH:RATE */
static int limit_throttle(struct spec_resources *r, enum throttle_kind k, const char *option, const char *text,
                          lrun_error **err)
{
    const char *colon = strrchr(text, ':');
    int64_t rate;
    bool bytes = k == THROTTLE_READ_BPS || k == THROTTLE_WRITE_BPS;
    if (!colon || text[0] != '/' || !(bytes ? size_parse(colon + 1, &rate) : limit_number(option, colon + 1, 0, INT64_MAX, &rate, NULL) == 0))
        return fail(err, "invalid %s \"%s\": use DEVICE:%s", option, text, bytes ? "RATE (1mb, 512k...)" : "IOPS");
    autofree char *path = xstrndup(text, (size_t)(colon - text));
    struct stat st;
    if (stat(path, &st) < 0)
        return fail_errno(err, "%s: device %s", option, path);
    if (!S_ISBLK(st.st_mode))
        return fail(err, "%s: %s is not a block device", option, path);
    r->throttles[k] = xrealloc(r->throttles[k], (r->n_throttles[k] + 1) * sizeof *r->throttles[k]);
    r->throttles[k][r->n_throttles[k]++] = (struct spec_throttle){major(st.st_rdev), minor(st.st_rdev), (uint64_t)rate};
    return 0;
}

/* limit_option: one of docker's resource options into r */
static int limit_option(struct spec_resources *r, enum limit_option kind, const char *option, const char *text,
                        lrun_error **err)
{
    int64_t n = 0;
    switch (kind) {
    case LIMIT_MEMORY:
    case LIMIT_MEMORY_SWAP:
    case LIMIT_MEMORY_RESERVATION:
        if (strcmp(text, "-1") == 0 && kind != LIMIT_MEMORY_RESERVATION)
            n = -1;
        else if (!size_parse(text, &n))
            return fail(err, "invalid %s \"%s\": use a size such as 64m or 1g", option, text);
        if (kind == LIMIT_MEMORY && n >= 0 && n < 6 * 1024 * 1024)
            return fail(err, "invalid %s \"%s\": the minimum memory limit allowed is 6MB", option, text);
        *(kind == LIMIT_MEMORY ? &r->memory_limit : kind == LIMIT_MEMORY_SWAP ? &r->memory_swap : &r->memory_reservation) = n;
        return 0;
    case LIMIT_CPUS: {
        char *end;
        double cpus = strtod(text, &end);
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        if (!*text || *end || !(cpus >= 0.01) || cpus > (double)online)
            return fail(err, "invalid %s \"%s\": range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs available",
                        option, text, online, online);
        r->cpu_period = 100000;
        r->cpu_quota = (int64_t)(cpus * 100000 + 0.5);
        return 0;
    }
    case LIMIT_CPU_SHARES:
        if (limit_number(option, text, 2, 262144, &n, err) < 0)
            return -1;
        r->cpu_shares = (uint64_t)n;
        return 0;
    case LIMIT_CPU_PERIOD:
        if (limit_number(option, text, 1000, 1000000, &n, err) < 0)
            return -1;
        r->cpu_period = (uint64_t)n;
        return 0;
    case LIMIT_CPU_QUOTA:
        if (strcmp(text, "-1") != 0 && limit_number(option, text, 1000, INT64_MAX, &n, err) < 0)
            return -1;
        r->cpu_quota = strcmp(text, "-1") == 0 ? -1 : n;
        return 0;
    case LIMIT_CPUSET_CPUS:
    case LIMIT_CPUSET_MEMS: {
        bool cpus = kind == LIMIT_CPUSET_CPUS;
        if (cpu_list_check(option, text, cpus ? "/sys/devices/system/cpu/online" : "/sys/devices/system/node/online",
                           err) < 0)
            return -1;
        char **slot = cpus ? &r->cpuset_cpus : &r->cpuset_mems;
        free(*slot), *slot = xstrdup(text);
        return 0;
    }
    case LIMIT_PIDS:
        if (limit_number(option, text, -1, INT64_MAX, &n, err) < 0)
            return -1;
        r->pids_limit = n <= 0 ? -1 : n; /* 0 and -1: unlimited */
        return 0;
    case LIMIT_BLKIO_WEIGHT:
        if (strcmp(text, "0") != 0 && limit_number(option, text, 10, 1000, &n, err) < 0)
            return -1;
        r->blkio_weight = (uint16_t)n;
        return 0;
    case LIMIT_READ_BPS: return limit_throttle(r, THROTTLE_READ_BPS, option, text, err);
    case LIMIT_WRITE_BPS: return limit_throttle(r, THROTTLE_WRITE_BPS, option, text, err);
    case LIMIT_READ_IOPS: return limit_throttle(r, THROTTLE_READ_IOPS, option, text, err);
    case LIMIT_WRITE_IOPS: return limit_throttle(r, THROTTLE_WRITE_IOPS, option, text, err);
    }
    return 0;
}

/* ulimit_option: --ulimit NAME=SOFT[:HARD] ("unlimited" or -1 for no
 * limit); a limit above the caller's own hard limit is refused. */
static int ulimit_option(struct spec_rlimit **list, size_t *n, const char *text, lrun_error **err)
{
    const char *eq = strchr(text, '=');
    autofree char *name = eq ? xasprintf("RLIMIT_%.*s", (int)(eq - text), text) : NULL;
    int resource = -1;
    for (char *p = name; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    for (size_t i = 0; name && i < sizeof rlimit_names / sizeof *rlimit_names; i++)
        if (strcmp(rlimit_names[i].name, name) == 0)
            resource = rlimit_names[i].resource;
    if (resource < 0)
        return fail(err, "invalid --ulimit \"%s\": use NAME=SOFT[:HARD] with NAME one of nofile, nproc, core, stack, ...", text);
    uint64_t values[2];
    const char *p = eq + 1;
    for (int i = 0; i < 2; i++) {
        size_t len = strcspn(p, ":");
        autofree char *word = xstrndup(p, len);
        char *end;
        errno = 0;
        if (strcmp(word, "unlimited") == 0 || strcmp(word, "-1") == 0)
            values[i] = RLIM_INFINITY;
        else if (!isdigit((unsigned char)word[0]) || (values[i] = strtoull(word, &end, 10), *end || errno))
            return fail(err, "invalid --ulimit \"%s\": the limits must be numbers", text);
        if (p[len] != ':') {
            if (i == 0)
                values[1] = values[0];
            break;
        }
        p += len + 1;
    }
    if (values[0] > values[1])
        return fail(err, "invalid --ulimit \"%s\": the soft limit is above the hard limit", text);
    struct rlimit mine;
    if (getrlimit(resource, &mine) == 0 && mine.rlim_max != RLIM_INFINITY && values[1] > mine.rlim_max)
        return fail(err, "invalid --ulimit \"%s\": the hard limit is above the caller's own (%llu)", text,
                    (unsigned long long)mine.rlim_max);
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    size_t at = *n;
    for (size_t i = 0; i < *n; i++) /* the last one of a name wins */
        if ((*list)[i].resource == resource)
            at = i;
    (*list)[at] = (struct spec_rlimit){resource, values[0], values[1]};
    if (at == *n)
        (*n)++;
    return 0;
}

/* spec_limits_generate: the parsed options as the spec's resources, with
 * docker's rules between them (swap is twice the memory unless given) and
 * podman's default pids limit, 2048; --ulimit as process rlimits. */
static int spec_limits_generate(struct spec *s, const struct container_config *c, lrun_error **err)
{
    const struct spec_resources *in = &c->resources;
    struct spec_resources *r = &s->resources;
    if (in->memory_swap && in->memory_swap != -1 && in->memory_limit <= 0)
        return fail(err, "--memory-swap needs --memory: you should always set the memory limit when using the memory-swap limit");
    if (in->memory_swap > 0 && in->memory_swap < in->memory_limit)
        return fail(err, "--memory-swap %" PRId64 " is below --memory %" PRId64 ": the memory-swap limit counts memory and swap together",
                    in->memory_swap, in->memory_limit);
    if (in->memory_reservation > 0 && in->memory_limit > 0 && in->memory_reservation > in->memory_limit)
        return fail(err, "--memory-reservation must be below --memory: minimum memory limit can not be less than memory reservation limit");
    r->memory_limit = in->memory_limit;
    r->memory_reservation = in->memory_reservation;
    r->memory_swap = in->memory_swap ? in->memory_swap : in->memory_limit > 0 ? 2 * in->memory_limit : 0;
    r->oom_kill_disable = in->oom_kill_disable;
    r->cpu_shares = in->cpu_shares, r->cpu_quota = in->cpu_quota, r->cpu_period = in->cpu_period;
    r->cpuset_cpus = xstrdup(in->cpuset_cpus);
    r->cpuset_mems = xstrdup(in->cpuset_mems);
    r->pids_limit = in->pids_limit ? in->pids_limit : 2048;
    r->blkio_weight = in->blkio_weight;
    for (int k = 0; k < THROTTLE_KINDS; k++) {
        r->throttles[k] = xcalloc(in->n_throttles[k] + 1, sizeof *r->throttles[k]);
        memcpy(r->throttles[k], in->throttles[k], in->n_throttles[k] * sizeof *r->throttles[k]);
        r->n_throttles[k] = in->n_throttles[k];
    }
    struct spec_process *p = &s->process;
    for (size_t i = 0; i < c->n_rlimits; i++) {
        size_t at = p->n_rlimits;
        for (size_t j = 0; j < p->n_rlimits; j++)
            if (p->rlimits[j].resource == c->rlimits[i].resource)
                at = j;
        if (at == p->n_rlimits)
            p->rlimits = xrealloc(p->rlimits, (++p->n_rlimits + 1) * sizeof *p->rlimits);
        p->rlimits[at] = c->rlimits[i];
    }
    if (c->cgroupns_host)
        s->namespaces[NS_CGROUP].wanted = false;
    return 0;
}

static void spec_add_device_rule(struct spec *s, bool allow, char type, int64_t major, int64_t minor,
                                 const char *access)
{
    struct spec_resources *r = &s->resources;
    r->devices = xrealloc(r->devices, (r->n_devices + 1) * sizeof *r->devices);
    struct spec_device_rule *d = &r->devices[r->n_devices++];
    *d = (struct spec_device_rule){.allow = allow, .type = type, .major = major, .minor = minor};
    snprintf(d->access, sizeof d->access, "%s", access);
}

/* spec_device_option: --device HOST[:CONTAINER[:PERMISSIONS]]: the host's
 * node, made in the container, and a rule that lets the container use it. */
static int spec_device_option(struct spec *s, const char *option, lrun_error **err)
{
    autofree char *copy = xstrdup(option);
    char *parts[4] = {copy};
    size_t n = 1;
    for (char *p = copy; *p && n < 4; p++)
        if (*p == ':')
            *p = '\0', parts[n++] = p + 1;
    const char *host = parts[0], *inside = n > 1 && parts[1][0] == '/' ? parts[1] : host;
    const char *access = n > 2 ? parts[2] : n == 2 && parts[1][0] != '/' ? parts[1] : "rwm";
    struct stat st;
    if (n > 3 || host[0] != '/' || !*access || strspn(access, "rwm") != strlen(access) || strlen(access) > 3)
        return fail(err, "invalid device \"%s\": use HOST-PATH[:CONTAINER-PATH[:PERMISSIONS]], permissions of rwm",
                    option);
    if (stat(host, &st) < 0)
        return fail_errno(err, "device %s", host);
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return fail(err, "device %s is not a character or block device", host);
    char type = S_ISBLK(st.st_mode) ? 'b' : 'c';
    s->devices = xrealloc(s->devices, (s->n_devices + 1) * sizeof *s->devices);
    s->devices[s->n_devices++] = (struct spec_device){xstrdup(inside), type, major(st.st_rdev), minor(st.st_rdev),
                                                      st.st_mode & 0777, 0, 0};
    spec_add_device_rule(s, true, type, major(st.st_rdev), minor(st.st_rdev), access);
    return 0;
}

/* spec_devices_generate: docker's device policy: every node may be made
 * (mknod), only these opened: the nodes docker puts in /dev, the ptys and
 * /dev/net/tun, and --device's; --privileged lifts it. */
static int spec_devices_generate(struct spec *s, const struct container_config *c, lrun_error **err)
{
    if (c->privileged) {
        spec_add_device_rule(s, true, 'a', -1, -1, "rwm");
    } else {
        static const struct {
            char type;
            int64_t major, minor;
            const char *access;
        } allowed[] = {{'c', -1, -1, "m"}, {'b', -1, -1, "m"},  {'c', 1, 3, "rwm"},   {'c', 1, 8, "rwm"},
                       {'c', 1, 7, "rwm"}, {'c', 5, 0, "rwm"},  {'c', 1, 5, "rwm"},   {'c', 1, 9, "rwm"},
                       {'c', 136, -1, "rwm"}, {'c', 5, 2, "rwm"}, {'c', 10, 200, "rwm"}};
        spec_add_device_rule(s, false, 'a', -1, -1, "rwm");
        for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
            spec_add_device_rule(s, true, allowed[i].type, allowed[i].major, allowed[i].minor, allowed[i].access);
    }
    for (size_t i = 0; c->devices && c->devices[i]; i++)
        if (spec_device_option(s, c->devices[i], err) < 0)
            return -1;
    return 0;
}

/* spec_linux_generate: namespaces (the host's network unless --network
 * none), docker's device nodes, masked and read-only paths (none when
 * privileged) and seccomp profile (derived forms cached under root). */
static int spec_linux_generate(struct spec *s, const struct container_config *c, uint64_t caps, const char *root,
                               lrun_error **err)
{
    static const enum namespace_kind kinds[] = {NS_PID, NS_IPC, NS_UTS, NS_MOUNT, NS_CGROUP};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        s->namespaces[kinds[i]].wanted = true;
    s->namespaces[NS_NETWORK].wanted = strcmp(c->network, "none") == 0;
    static const struct {
        const char *path;
        unsigned major, minor;
    } nodes[] = {{"/dev/null", 1, 3}, {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                 {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
    s->devices = xcalloc(sizeof nodes / sizeof *nodes, sizeof *s->devices);
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++)
        s->devices[s->n_devices++] = (struct spec_device){xstrdup(nodes[i].path), 'c', nodes[i].major, nodes[i].minor,
                                                          0666, 0, 0};
    s->masked_paths = xcalloc(1, sizeof *s->masked_paths);
    s->readonly_paths = xcalloc(1, sizeof *s->readonly_paths);
    s->rootfs_propagation = MS_PRIVATE | MS_REC;
    if (spec_devices_generate(s, c, err) < 0)
        return -1;
    if (c->privileged)
        return 0;
    static const char *const masked[] = {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                                         "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                                         "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                                         "/sys/devices/virtual/powercap", NULL};
    static const char *const read_only[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
                                            NULL};
    lrun_strv_free(s->masked_paths);
    lrun_strv_free(s->readonly_paths);
    s->masked_paths = strv_copy((char *const *)masked);
    s->readonly_paths = strv_copy((char *const *)read_only);
    if (strcmp(c->seccomp, "unconfined") != 0 &&
        !(s->seccomp = seccomp_profile_for_spec(root, strcmp(c->seccomp, "default") == 0 ? NULL : c->seccomp, caps, err)))
        return -1;
    return 0;
}

/* spec_generate: the spec of a container made by run or create: the
 * process from the image and the options, the root (the container layer's
 * overlay), hostname, mounts, namespaces, devices, capabilities, seccomp. */
static int spec_generate(lrun_store *s, struct image *img, const struct container_config *c, const char *id,
                         const char *layer_id, struct container_facts *f, struct spec *out, lrun_error **err)
{
    uint64_t caps;
    if (container_capabilities(c, &caps, err) < 0 || spec_process_from_image(s, img, c, f, &out->process, err) < 0)
        return -1;
    struct spec_process *p = &out->process;
    out->hostname = c->hostname ? xstrdup(c->hostname) : xstrndup(id, 12);
    env_set_default(&p->env, "HOSTNAME", out->hostname);
    if (c->terminal)
        env_set_default(&p->env, "TERM", "xterm");
    p->terminal = c->terminal;
    p->no_new_privileges = c->no_new_privileges;
    p->user.umask = 022;
    p->caps[CAPS_BOUNDING] = p->caps[CAPS_EFFECTIVE] = p->caps[CAPS_PERMITTED] = caps;
    out->root_path = xasprintf("%s/overlay/%s/merged", s->root, layer_id);
    out->root_layer = xstrdup(layer_id);
    out->root_readonly = c->read_only;
    autofree char *userdata = container_userdata(s->root, id);
    const char *parent = c->cgroup_parent ? c->cgroup_parent : "lrun";
    out->cgroups_path = xasprintf("%s%s/%s", parent[0] == '/' ? "" : "/", parent, id);
    if (cgroup_path_valid(out->cgroups_path, err) < 0)
        return error_prefix(err, "--cgroup-parent");
    spec_mounts_generate(out, c, s->root, userdata);
    if (spec_linux_generate(out, c, caps, s->root, err) < 0)
        return -1;
    return spec_limits_generate(out, c, err);
}

/* --- the user's mounts: --volumes-from, duplicates, volumes made and
 * filled --- */

/* mounts_from_container: --volumes-from NAME[:ro|rw]: the other
 * container's binds and volumes, read-only or read-write as asked. */
static int mounts_from_container(lrun_store *s, const char *spec, struct container_config *c, lrun_error **err)
{
    autofree char *name = xstrdup(spec);
    char *mode = strchr(name, ':');
    if (mode)
        *mode++ = '\0';
    if (mode && strcmp(mode, "ro") && strcmp(mode, "rw") && strcmp(mode, "z") && strcmp(mode, "Z"))
        return fail(err, "invalid options %s for --volumes-from: use ro or rw", mode);
    struct container *from = container_lookup(s, name, err);
    if (!from)
        return -1;
    autofree char *userdata = container_userdata(s->root, from->id);
    autofacts struct container_facts f = {0};
    if (container_facts_read(userdata, &f, err) < 0)
        return error_prefix(err, "--volumes-from %s", name);
    for (size_t i = 0; i < f.n_mounts; i++) {
        if (f.mounts[i].kind == MOUNT_TMPFS)
            continue;
        autostrv char **options = strv_copy(f.mounts[i].options);
        if (mode && (strcmp(mode, "ro") == 0 || strcmp(mode, "rw") == 0)) {
            strv_remove(options, "ro");
            strv_remove(options, "rw");
            strv_push(&options, xstrdup(mode));
        }
        user_mount_push(&c->mounts, &c->n_mounts, f.mounts[i].kind, f.mounts[i].source, f.mounts[i].destination,
                        options);
    }
    return 0;
}

static bool user_mounts_same(const struct user_mount *a, const struct user_mount *b)
{
    if (a->kind != b->kind || (a->source == NULL) != (b->source == NULL) || (a->source && strcmp(a->source, b->source)))
        return false;
    autofree char *x = strv_join(a->options, ","), *y = strv_join(b->options, ",");
    return strcmp(x, y) == 0;
}

/* user_mounts_dedupe: a destination mounted twice the same way once; two
 * different mounts on one destination are an error (podman's message). */
static int user_mounts_dedupe(struct container_config *c, lrun_error **err)
{
    for (size_t i = 1; i < c->n_mounts; i++)
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->mounts[i].destination, c->mounts[j].destination) != 0)
                continue;
            if (!user_mounts_same(&c->mounts[i], &c->mounts[j]))
                return fail(err, "%s: duplicate mount destination", c->mounts[i].destination);
            free(c->mounts[i].source);
            free(c->mounts[i].destination);
            lrun_strv_free(c->mounts[i].options);
            memmove(&c->mounts[i], &c->mounts[i + 1], (c->n_mounts - i - 1) * sizeof *c->mounts);
            c->n_mounts--, i--;
            break;
        }
    return 0;
}

/* volume_users: the containers whose mounts name the volume. */
static char **volume_users(lrun_store *s, const char *name)
{
    char **ids = xcalloc(1, sizeof *ids);
    for (size_t i = 0; i < s->n_containers; i++) {
        autofree char *userdata = container_userdata(s->root, s->containers[i]->id);
        autofacts struct container_facts f = {0};
        if (container_facts_read(userdata, &f, NULL) < 0)
            continue;
        for (size_t m = 0; m < f.n_mounts; m++)
            if (f.mounts[m].kind == MOUNT_VOLUME && f.mounts[m].source && strcmp(f.mounts[m].source, name) == 0) {
                strv_push(&ids, xstrdup(s->containers[i]->id));
                break;
            }
    }
    return ids;
}

/* The volumes a container's creation made, removed again unless kept. */
struct volumes_made {
    const char *root;
    char **names;
    bool keep;
};

static void volumes_made_undo(struct volumes_made *m)
{
    for (size_t i = 0; !m->keep && m->names && m->names[i]; i++)
        volume_remove(m->root, m->names[i], NULL);
    lrun_strv_free(m->names);
}

/* volume_prepare: the volume of mount m (made when missing, a new
 * anonymous one when unnamed), filled from the image's m->destination the
 * first time it is used, as podman does. */
static int volume_prepare(lrun_store *s, struct image *img, struct user_mount *m, const char *id,
                          struct volumes_made *made, lrun_error **err)
{
    autovolume struct volume v = {0};
    if (!m->source || volume_read(s->root, m->source, &v, NULL) < 0) {
        volume_release(&v);
        v.name = xstrdup(m->source);
        v.anonymous = !m->source;
        v.container = v.anonymous ? xstrdup(id) : NULL;
        if (volume_create(s->root, &v, err) < 0)
            return -1;
        strv_push(&made->names, xstrdup(v.name));
        free(m->source);
        m->source = xstrdup(v.name);
    }
    if (!(v.needs_copy_up || v.needs_chown) || pairs_get(v.options, "type"))
        return 0;
    autofree char *data = volume_data_path(s->root, v.name);
    struct copy_up c = {.root = s->root, .layer = img->layer, .path = m->destination, .volume_dir = data,
                        .copy = v.needs_copy_up && !strv_contains(m->options, "nocopy"), .chown = v.needs_chown};
    int r = in_mount_namespace(copy_up_in_child, &c, err);
    if (r < 0)
        return error_prefix(err, "copy %s of the image into volume %s", m->destination, v.name);
    if (r == 1)
        v.needs_copy_up = false;
    v.needs_chown = false;
    return volume_write(s->root, &v, err);
}

static int container_mounts_prepare(lrun_store *s, struct image *img, struct container_config *c, const char *id,
                                    struct volumes_made *made, lrun_error **err)
{
    for (size_t i = 0; c->volumes_from && c->volumes_from[i]; i++)
        if (mounts_from_container(s, c->volumes_from[i], c, err) < 0)
            return -1;
    if (user_mounts_dedupe(c, err) < 0)
        return -1;
    for (size_t i = 0; i < c->n_mounts; i++)
        if (c->mounts[i].kind == MOUNT_VOLUME && volume_prepare(s, img, &c->mounts[i], id, made, err) < 0)
            return -1;
    return 0;
}

/* --- creating a container: its layer, spec, facts and record --- */

/* container_name_claim: the name asked for (free and valid), or a new one. */
static int container_name_claim(lrun_store *s, struct container_config *c, lrun_error **err)
{
    if (!c->name) {
        c->name = container_name_generate(s);
        return 0;
    }
    struct container *taken = NULL;
    for (size_t i = 0; i < s->n_containers && !taken; i++) /* names only: an ID prefix is no clash */
        if (strv_contains(s->containers[i]->names, c->name))
            taken = s->containers[i];
    if (taken)
        return fail(err, "the container name \"%s\" is already in use by %s. You have to remove that container to be able to reuse that name: that name is already in use",
                    c->name, taken->id);
    if (!container_name_valid(c->name))
        return fail(err, "invalid container name \"%s\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*", c->name);
    return 0;
}

/* container_files_write: userdata/config.json and userdata/lrun.json. */
static int container_files_write(lrun_store *s, const char *id, const struct spec *spec,
                                 const struct container_facts *f, lrun_error **err)
{
    size_t spec_len, facts_len;
    autofree char *spec_text = spec_to_json(spec, &spec_len, false);
    autofree char *facts_text = container_facts_json(f, &facts_len);
    autoclose int dir_fd = open_dir_at(s->containers_fd, id, 0700, err);
    autoclose int userdata_fd = dir_fd >= 0 ? open_dir_at(dir_fd, "userdata", 0700, err) : -1;
    if (userdata_fd < 0 ||
        write_file_atomic_sync(userdata_fd, "config.json", spec_text, spec_len, 0600, !s->volatile_writes, err) < 0 ||
        write_file_atomic_sync(userdata_fd, "lrun.json", facts_text, facts_len, 0600, !s->volatile_writes, err) < 0)
        return -1;
    return 0;
}

static char *container_metadata_json(struct image *img, const char *name)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    jw_key_str(g, "image-name", img->names && img->names[0] ? img->names[0] : img->id);
    jw_key_str(g, "image-id", img->id);
    jw_key_str(g, "name", name);
    jw_key_int(g, "created-at", (int64_t)time(NULL));
    yajl_gen_map_close(g);
    return json_writer_text(g, NULL);
}

/* container_create: from run's or create's options (c; command and
 * entrypoint as given, entrypoint NULL when not): the spec, the container
 * layer over the image's top layer, userdata/{config,lrun}.json and the
 * record in containers.json. */
static struct container *container_create(lrun_store *s, struct image *img, struct container_config *c,
                                          char **command, const char *entrypoint, lrun_error **err)
{
    if (container_name_claim(s, c, err) < 0)
        return NULL;
    unsigned char raw[32];
    digest_hex id, layer_id;
    random_bytes(raw, sizeof raw);
    hex_encode(raw, sizeof raw, id);
    random_bytes(raw, sizeof raw);
    hex_encode(raw, sizeof raw, layer_id);
    autofacts struct container_facts f = {
        .image = xstrdup(c->image), .image_id = xstrdup(img->id), .name = xstrdup(c->name),
        .entrypoint = xstrdup(entrypoint), .command = strv_copy(command), .stop_signal = xstrdup(c->stop_signal),
        .stop_timeout = c->stop_timeout, .remove = c->remove, .detach = c->detach, .interactive = c->interactive,
        .init = c->init, .no_pivot = c->no_pivot};
    cleanup(volumes_made_undo) struct volumes_made made = {.root = s->root};
    if (container_mounts_prepare(s, img, c, id, &made, err) < 0)
        return NULL;
    for (size_t i = 0; i < c->n_mounts; i++)
        user_mount_push(&f.mounts, &f.n_mounts, c->mounts[i].kind, c->mounts[i].source, c->mounts[i].destination,
                        c->mounts[i].options);
    autospec struct spec spec = {0};
    if (spec_generate(s, img, c, id, layer_id, &f, &spec, err) < 0)
        return NULL;
    struct layer *l = layer_add(s, layer_id, img->layer, err);
    if (!l)
        return NULL;
    l->names = xcalloc(2, sizeof *l->names);
    l->names[0] = xasprintf("%s-layer", c->name);
    if (!s->volatile_writes && layer_sync_files(s, l, err) < 0) {
        layer_abandon(s, l);
        return NULL;
    }
    l->incomplete = false;
    if (store_save_layers(s, err) < 0)
        return NULL;
    if (container_files_write(s, id, &spec, &f, err) < 0) {
        remove_tree_at(s->containers_fd, id, NULL);
        layer_delete(s, l, NULL);
        return NULL;
    }
    struct container *ct = xcalloc(1, sizeof *ct);
    ct->id = xstrdup(id);
    ct->names = xcalloc(2, sizeof *ct->names);
    ct->names[0] = xstrdup(c->name);
    ct->image = xstrdup(img->id);
    ct->layer = xstrdup(layer_id);
    ct->created = time_rfc3339_now();
    ct->status = xstrdup("created");
    ct->command = strv_join(spec.process.args, " ");
    ct->size = -1;
    ct->metadata = container_metadata_json(img, c->name);
    ct->is_volatile = s->volatile_writes;
    ct->boot_id = s->volatile_writes ? xstrdup(boot_id()) : NULL;
    s->containers = xrealloc(s->containers, (s->n_containers + 1) * sizeof *s->containers);
    s->containers[s->n_containers++] = ct;
    if (store_save_index(s, LOCK_CONTAINERS, err) < 0) {
        s->n_containers--;
        container_free(ct);
        remove_tree_at(s->containers_fd, id, NULL);
        layer_delete(s, l, NULL);
        return NULL;
    }
    made.keep = true;
    return ct;
}

/* --- sizes: the container layer, walked once when the container stops ---
 * Each inode counts once, directories not at all (c/storage's
 * directory.Size), so hard links and whiteouts add nothing. */

struct size_walk {
    int64_t bytes;
    struct inode_set seen;
};

static void size_walk_dir(struct size_walk *w, int fd)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                size_walk_dir(w, fd);
            continue;
        }
        if (st.st_nlink > 1 && inode_set_add(&w->seen, st.st_dev, st.st_ino, ""))
            continue;
        w->bytes += st.st_size;
    }
    closedir(dir);
}

static int64_t layer_diff_size(const char *root, const char *layer_id)
{
    autofree char *path = xasprintf("%s/overlay/%s/diff", root, layer_id);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct size_walk w = {0};
    size_walk_dir(&w, fd);
    inode_set_free(&w.seen);
    return w.bytes;
}

/* container_size: the layer's bytes: recorded at exit, walked now only
 * for a container that is still writing. */
static int64_t container_size(lrun_store *s, const struct container *c)
{
    if (!container_is_running(c) && c->size >= 0)
        return c->size;
    return layer_diff_size(s->root, c->layer);
}

/* ========================================================================
 * CONTAINER: MONITOR: launching a spec (the container's first process and
 * its setup story), the setup report, waiting, logs, the terminal, and
 * the record of running and exited
 * ======================================================================== */

static void loopback_up(void)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return;
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(sock, SIOCSIFFLAGS, &ifr);
    }
    close(sock);
}

/* The memory of lrun's argv, so a process lrun leaves in a container (the
 * --init reaper) can stop showing lrun's command line (and the store's
 * path) in the container's /proc/1/cmdline; the memory of its environment,
 * which /proc/PID/environ shows whatever environ says; and main's argv, to
 * execute lrun again with (self_binary_protect).  main sets them; a program
 * embedding lrun leaves them empty. */
static char *process_title_start;
static size_t process_title_len;
static char *process_env_start;
static size_t process_env_len;
static char **process_argv;

static void process_title_set(const char *title)
{
    if (!process_title_start || process_title_len <= strlen(title))
        return;
    memset(process_title_start, 0, process_title_len);
    memcpy(process_title_start, title, strlen(title));
    const char *base = strrchr(title, '/');
    prctl(PR_SET_NAME, base ? base + 1 : title, 0, 0, 0);
}

/* process_hide_from_container: the first thing a process of lrun's does
 * that will enter a container.  Until it execs it is not dumpable, so a
 * container process can neither ptrace it (and skip its seccomp() call:
 * CVE-2016-9962) nor open its /proc/PID/exe, mem, environ or fds; and the
 * host's environment is wiped from its memory, where /proc/PID/environ
 * would still show it to a container with CAP_SYS_PTRACE (the --init
 * reaper lives on in the container). */
static void process_hide_from_container(void)
{
    extern char **environ;
    static char *no_environment[] = {NULL};
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (process_env_start) {
        memset(process_env_start, 0, process_env_len);
        /* where lrun holds CAP_SYS_RESOURCE, also the shortest range the
         * kernel takes: /proc/PID/environ reads one NUL byte */
        prctl(PR_SET_MM, PR_SET_MM_ENV_END, (unsigned long)process_env_start + 1, 0, 0);
    }
    environ = no_environment;
}

/* init_loop: --init: pid 1 stays with lrun's code, forwards signals to the
 * command and reaps every zombie, like tini or catatonit. */
__attribute__((noreturn)) static void init_loop(pid_t child)
{
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            if (pid == child)
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
}

/* fork_behind_reaper: fork; this process stays behind as the child's
 * reaper (init_loop, titled title when given), closing report_fd, and never
 * returns; the child returns 0, or -1 if fork failed.  Signals are blocked
 * across the fork so none is lost before the reaper waits for them. */
static int fork_behind_reaper(int report_fd, const char *title)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    pid_t child = fork();
    if (child > 0) {
        close(report_fd);
        if (title)
            process_title_set(title);
        init_loop(child);
    }
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    return child < 0 ? -1 : 0;
}

/* stdio_setup: the terminal, or the given descriptors, as 0-2. */
static int stdio_setup(const struct launch *l, lrun_error **err)
{
    if (l->terminal >= 0) {
        for (int i = 0; i < 3; i++)
            dup2(l->terminal, i);
        close(l->terminal);
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (l->stdio[i] >= 0 && dup2(l->stdio[i], i) < 0)
            return fail_errno(err, "set up standard I/O");
    return 0;
}

/* terminal_control: a new session whose controlling terminal is stdin's
 * (the process that execs, so the shell in it gets job control). */
static int terminal_control(lrun_error **err)
{
    setsid();
    if (ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
        return fail_errno(err, "make the terminal the controlling one");
    return 0;
}

/* report_write: a failure as "<exit status> <message>" for the process
 * that waits on fd (report_read); returns the status. */
static int report_write(int fd, const lrun_error *err)
{
    int code = err && err->exit_code ? err->exit_code : EXIT_LRUN;
    char line[4096];
    int n = snprintf(line, sizeof line, "%d %s", code, err && err->message ? err->message : "container setup failed");
    ssize_t written = write(fd, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)written; /* a reader that is gone has nobody to tell */
    return code;
}

/* report_read: what report_write sent, read to the end of fd (closed
 * here): 0 when nothing (the other side got on with it), else -1 with the
 * reported status and message in *err. */
static int report_read(int fd, const char *what, lrun_error **err)
{
    autobuf struct buf report = {0};
    lrun_error *read_err = NULL;
    read_all_fd(fd, what, &report, &read_err);
    lrun_error_free(read_err);
    close(fd);
    if (report.len == 0)
        return 0;
    char *space = strchr(report.data, ' ');
    return fail_code(err, atoi(report.data), "%s", space ? space + 1 : report.data);
}

/* child_report: the failure, to the parent through the error pipe (or,
 * past an OCI container's start, on its stderr). */
__attribute__((noreturn)) static void child_report(int fd, lrun_error *err)
{
    if (fd < 0) {
        fprintf(stderr, "lrun: %s\n", err && err->message ? err->message : "container setup failed");
        _exit(err && err->exit_code ? err->exit_code : EXIT_LRUN);
    }
    _exit(report_write(fd, err));
}

/* --- the host: what early userspace may lack --- */

/* host_mount_basics: /proc (and, for PID 1, /sys, /dev, /dev/pts, /run)
 * when lrun runs before anything mounted them (an initramfs); /sys and the
 * cgroup2 hierarchy also where no cgroup hierarchy is mounted, as every
 * container needs a cgroup of its own. */
static int host_mount_basics(bool as_init, lrun_error **err)
{
    static const struct {
        const char *source, *target, *type;
        unsigned long flags;
        const char *data;
        bool init_only, for_cgroups;
    } basics[] = {{"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false, false},
                  {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true, true},
                  {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", true, false},
                  {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620", true, false},
                  {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", true, false},
                  {"cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true, true}};
    bool no_cgroups = false;
    for (size_t i = 0; i < sizeof basics / sizeof *basics; i++) {
        if (i == 1) /* /proc is there now */
            no_cgroups = cgroup_detect() == CGROUP_NONE;
        if (basics[i].init_only && !as_init && !(basics[i].for_cgroups && no_cgroups))
            continue;
        char probe[64];
        snprintf(probe, sizeof probe, "%s/%s", basics[i].target,
                 strcmp(basics[i].type, "proc") == 0 ? "self" : strcmp(basics[i].type, "devpts") == 0 ? "ptmx" : ".");
        struct stat st_target, st_parent;
        autofree char *parent = xasprintf("%s/..", basics[i].target);
        bool mounted = strcmp(basics[i].type, "proc") == 0 || strcmp(basics[i].type, "devpts") == 0
                           ? access(probe, F_OK) == 0
                           : stat(basics[i].target, &st_target) == 0 && stat(parent, &st_parent) == 0 &&
                                 st_target.st_dev != st_parent.st_dev;
        if (mounted)
            continue;
        mkdir(basics[i].target, 0755);
        if (mount(basics[i].source, basics[i].target, basics[i].type, basics[i].flags, basics[i].data) < 0 &&
            errno != EBUSY)
            return fail_errno(err, "mount %s on %s", basics[i].type, basics[i].target);
    }
    return 0;
}

/* overlay_available: load the overlay module when the kernel lacks the
 * filesystem (Debian builds it as a module), with finit_module: there is
 * no modprobe in an initramfs of one binary. */
static int overlay_available(lrun_error **err)
{
    autobuf struct buf fs = {0};
    if (read_file_at(AT_FDCWD, "/proc/filesystems", &fs, err) < 0)
        return error_prefix(err, "cannot tell whether the kernel has overlayfs");
    if (strstr(fs.data, "\toverlay\n"))
        return 0;
    struct utsname u;
    uname(&u);
    static const char *const suffixes[] = {"", ".xz", ".zst", ".gz"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        autofree char *path = xasprintf("/lib/modules/%s/kernel/fs/overlayfs/overlay.ko%s", u.release, suffixes[i]);
        autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        int flags = i ? 4 /* MODULE_INIT_COMPRESSED_FILE */ : 0;
        if (syscall(SYS_finit_module, fd, "", flags) < 0 && errno != EEXIST)
            return fail_errno(err, "load the overlay module %s", path);
        return 0;
    }
    return fail(err, "the kernel has no overlayfs and /lib/modules/%s/kernel/fs/overlayfs/overlay.ko is missing: "
                     "load the overlay module (modprobe overlay) or build overlayfs into the kernel",
                u.release);
}

/* store_can_hold_upper: overlayfs keeps whiteouts and opaque directories
 * in xattrs, which ramfs does not have. */
static int store_can_hold_upper(const char *root, lrun_error **err)
{
    struct statfs st;
    if (statfs(root, &st) == 0 && st.f_type == RAMFS_MAGIC)
        return fail(err, "the store %s is on ramfs, which has no extended attributes and cannot hold an overlay "
                         "upper layer: put it on a tmpfs (mount -t tmpfs tmpfs %s, or --root /run/lrun)",
                    root, root);
    return 0;
}

/* --- lrun's own binary, out of a container's reach ---
 * CVE-2019-5736: a container that has lrun exec "#!/proc/self/exe" runs
 * lrun's binary inside the container, holds it open through
 * /proc/PID/exe, and once nothing runs it any more opens it for writing:
 * the host's next lrun runs the container's code as root.  So before a
 * command enters a container, lrun executes itself again from a read-only
 * bind mount of its binary: a detached mount (open_tree), attached
 * nowhere, that only this process's exe keeps alive.  Every /proc/PID/exe
 * of lrun's in a container then leads to a mount that refuses writes
 * (EROFS).  Where the kernel lacks the mount API (before 5.12) or lrun
 * may not mount, the copy is a sealed memfd, as runc's. */

/* self_binary_protected: /proc/self/exe cannot be written through: a
 * read-only mount (the bind above, or a read-only /usr) or a sealed memfd. */
static bool self_binary_protected(int exe_fd)
{
    const int sealed = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    struct statvfs st;
    int seals = fcntl(exe_fd, F_GET_SEALS);
    return (seals >= 0 && (seals & sealed) == sealed) || (fstatvfs(exe_fd, &st) == 0 && (st.f_flag & ST_RDONLY));
}

/* self_binary_sealed_copy: lrun's binary in a sealed memfd. */
static int self_binary_sealed_copy(int exe_fd)
{
    autoclose int fd = memfd_create("lrun", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    struct stat st;
    if (fd < 0 || fstat(exe_fd, &st) < 0)
        return -1;
    for (off_t done = 0; done < st.st_size;)
        if (sendfile(fd, exe_fd, &done, (size_t)(st.st_size - done)) <= 0)
            return -1;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        return -1;
    int sealed = fd;
    fd = -1;
    return sealed;
}

/* self_binary_protect: execute lrun again (main's argv and environment)
 * from a read-only bind of its binary, or a sealed copy; returns when the
 * binary is protected already (the second time round), or -1. */
static int self_binary_protect(lrun_error **err)
{
    extern char **environ;
    if (!process_argv) /* embedded: the program is not lrun's to execute */
        return 0;
    autoclose int exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (exe_fd < 0)
        return fail_errno(err, "open /proc/self/exe");
    if (self_binary_protected(exe_fd))
        return 0;
    autoclose int bind_fd = open_tree(AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (bind_fd >= 0 && mount_setattr(bind_fd, "", AT_EMPTY_PATH, &ro, sizeof ro) == 0)
        execveat(bind_fd, "", process_argv, environ, AT_EMPTY_PATH);
    autoclose int copy_fd = self_binary_sealed_copy(exe_fd);
    if (copy_fd >= 0)
        execveat(copy_fd, "", process_argv, environ, AT_EMPTY_PATH);
    return fail_errno(err, "execute lrun from a read-only copy of its binary, out of the containers' reach");
}

/* --- launching --- */

static void terminal_resize(int from, int pty)
{
    struct winsize ws;
    if (ioctl(from, TIOCGWINSZ, &ws) == 0)
        ioctl(pty, TIOCSWINSZ, &ws);
}

/* signals_reset: what lrun blocked or its caller ignored (nohup's SIGHUP)
 * must not reach the container's process. */
static void signals_reset(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
}

/* process_wait_gone: until pid exits (pidfd), at most timeout_ms; true if gone. */
static bool process_wait_gone(pid_t pid, int timeout_ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    close(fd);
    return r > 0;
}

/* --- hooks: programs the spec runs at points of the container's life ---
 * Each gets the runtime-spec state JSON on its stdin; "timeout" kills it. */

static int hook_run(const struct spec_hook *h, const char *kind, const char *state, lrun_error **err)
{
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return fail_errno(err, "%s hook %s: pipe", kind, h->path);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        signals_reset();
        dup2(in[0], STDIN_FILENO);
        extern char **environ;
        char *path_only[] = {h->path, NULL};
        execve(h->path, h->args ? h->args : path_only, h->env ? h->env : environ); /* no "env": lrun's, as crun */
        fprintf(stderr, "lrun: %s hook %s: %s\n", kind, h->path, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    if (pid < 0) {
        close(in[1]);
        return fail_errno(err, "%s hook %s: fork", kind, h->path);
    }
    void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* a hook need not read its stdin */
    write_all(in[1], state, strlen(state));
    signal(SIGPIPE, old);
    close(in[1]);
    int status;
    if (!process_wait_gone(pid, h->timeout > 0 ? h->timeout * 1000 : -1)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return fail(err, "%s hook %s: timed out after %d s", kind, h->path, h->timeout);
    }
    if (waitpid(pid, &status, 0) < 0)
        return fail_errno(err, "%s hook %s: wait", kind, h->path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(err, "%s hook %s: %s %d", kind, h->path, WIFEXITED(status) ? "exit status" : "killed by signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 0;
}

/* hooks_run: the spec's hooks of one kind, in order; the first failure stops them. */
static int hooks_run(const struct spec *s, enum hook_kind kind, const char *state, lrun_error **err)
{
    for (size_t i = 0; i < s->n_hooks[kind]; i++)
        if (hook_run(&s->hooks[kind][i], hook_kind_names[kind], state ? state : "{}", err) < 0)
            return -1;
    return 0;
}

/* launch_sync_read: what the parent's created step sends (the state
 * JSON), to its end: the child goes on only after it. */
static int launch_sync_read(struct launch *l, struct buf *state, lrun_error **err)
{
    if (l->sync_fd < 0)
        return 0;
    int r = read_all_fd(l->sync_fd, "the runtime's state", state, err);
    close(l->sync_fd);
    l->sync_fd = -1;
    if (r < 0)
        return -1;
    if (state->len == 0)
        return fail(err, "the runtime stopped before the container was set up");
    return 0;
}

/* launch_gate: OCI create: tell the creator setup is done (the error pipe
 * closes), then wait for start's byte; errors from here on go to the
 * container's stderr. */
static int launch_gate(struct launch *l, const char *state, lrun_error **err)
{
    if (l->start_fd < 0)
        return 0;
    close(l->error_fd);
    l->error_fd = -1;
    char byte;
    ssize_t n;
    while ((n = read(l->start_fd, &byte, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        return fail_errno(err, "wait for start");
    close(l->start_fd);
    l->start_fd = -1;
    return hooks_run(l->spec, HOOK_START_CONTAINER, state, err);
}

/* namespaces_join: the namespaces the spec names by path (opened before
 * clone), the mount namespace last, as what follows happens in it. */
static int namespaces_join(const struct launch *l, lrun_error **err)
{
    /* the user namespace first: the others may belong to it */
    static const enum namespace_kind order[] = {NS_USER, NS_IPC, NS_UTS, NS_NETWORK, NS_CGROUP, NS_TIME, NS_PID, NS_MOUNT};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        enum namespace_kind k = order[i];
        if (l->namespace_fds[k] >= 0 && setns(l->namespace_fds[k], (int)namespace_kinds[k].clone_flag) < 0)
            return fail_errno(err, "join the %s namespace %s", namespace_kinds[k].name, l->spec->namespaces[k].path);
    }
    /* a pid namespace takes children only: fork once more into it; this
     * process stays behind to reap and pass signals on */
    if (l->namespace_fds[NS_PID] >= 0 && fork_behind_reaper(l->error_fd, NULL) < 0)
        return fail_errno(err, "fork into the pid namespace");
    return 0;
}

/* container_child_setup: the story of a container, from the fresh
 * namespaces to exec, as the spec tells it; returns only on failure. */
static int container_child_setup(struct launch *l, lrun_error **err)
{
    const struct spec *s = l->spec;
    process_hide_from_container();
    umask(0);
    /* into the container's cgroup before anything else runs here; a new
     * cgroup namespace is made after, so it is rooted at that cgroup */
    if (s->cgroups_path && cgroup_enter(s->cgroups_path, 0, err) < 0)
        return -1;
    if (s->namespaces[NS_CGROUP].wanted && !s->namespaces[NS_CGROUP].path && unshare(CLONE_NEWCGROUP) < 0)
        return fail_errno(err, "create the cgroup namespace");
    /* enter the namespaces the spec joins; wait for the runtime's part
     * (OCI: id maps, createRuntime hooks); keep every mount of ours out of
     * the host */
    autobuf struct buf state = {0};
    if (namespaces_join(l, err) < 0 || launch_sync_read(l, &state, err) < 0)
        return -1;
    /* in a new user namespace, now mapped: be its root */
    if ((spec_new_namespaces(s) & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
        return fail_errno(err, "become root in the user namespace (is 0 mapped?)");
    if (mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
        return fail_errno(err, "make the mounts private");
    if (access("/proc/self/fd", F_OK) < 0) { /* early boot: lrun mounts what it needs */
        mkdir("/proc", 0555);
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            return fail_errno(err, "/proc is not mounted and mounting it failed");
    }
    /* the root (the overlay of the image's layers below the container's
     * own), its mounts, /dev, the console, masked and read-only paths */
    autoclose int root_fd = rootfs_prepare(l, err);
    if (root_fd < 0 || hooks_run(s, HOOK_CREATE_CONTAINER, state.data, err) < 0 || stdio_setup(l, err) < 0 ||
        (s->process.terminal && terminal_control(err) < 0))
        return -1;
    /* switch root */
    if (root_switch(root_fd, l->no_pivot, err) < 0)
        return -1;
    if (s->root_readonly && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        return fail_errno(err, "remount the root read-only");
    /* the host name; the loopback of a new network namespace */
    if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
        return fail_errno(err, "set the hostname");
    if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
        return fail_errno(err, "set the domain name");
    if (s->namespaces[NS_NETWORK].wanted && !s->namespaces[NS_NETWORK].path)
        loopback_up();
    /* OCI create: done; wait for start.  Then drop privileges, load
     * seccomp last, exec */
    close_extra_fds(l->preserve_fds, l->error_fd, l->start_fd);
    if (launch_gate(l, state.data, err) < 0)
        return -1;
    autostrv char **env = NULL;
    if (process_confine(&s->process, l->seccomp, &env, err) < 0)
        return -1;
    /* --init: confined too, it only waits and forwards */
    if (l->init && fork_behind_reaper(l->error_fd, "/sbin/init") < 0)
        return fail_errno(err, "fork the command");
    return process_exec(s->process.args, env, err);
}

/* launch_namespaces_open: the namespaces to join, opened in the parent
 * (paths are the host's); -1 for the others. */
static int launch_namespaces_open(struct launch *l, lrun_error **err)
{
    for (int k = 0; k < NS_KINDS; k++)
        l->namespace_fds[k] = -1;
    for (int k = 0; k < NS_KINDS; k++) {
        const char *path = l->spec->namespaces[k].path;
        if (path && (l->namespace_fds[k] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return fail_errno(err, "open the %s namespace %s", namespace_kinds[k].name, path);
    }
    return 0;
}

static void launch_namespaces_close(struct launch *l)
{
    for (int k = 0; k < NS_KINDS; k++)
        if (l->namespace_fds[k] >= 0)
            close(l->namespace_fds[k]), l->namespace_fds[k] = -1;
}

/* terminal_size_set: the spec's console size, else the caller's. */
static void terminal_size_set(const struct spec_process *p, int pty)
{
    struct winsize ws = {.ws_row = (unsigned short)p->console_height, .ws_col = (unsigned short)p->console_width};
    if (p->console_height || p->console_width)
        ioctl(pty, TIOCSWINSZ, &ws);
    else if (isatty(STDIN_FILENO))
        terminal_resize(STDIN_FILENO, pty);
}

/* id_maps_write: a new user namespace's uid and gid maps (written by the
 * parent, which holds the capabilities in the namespace above). */
static int id_maps_write(const struct spec *s, pid_t pid, lrun_error **err)
{
    if (!(spec_new_namespaces(s) & CLONE_NEWUSER))
        return 0;
    for (int gid = 0; gid < 2; gid++) {
        const struct spec_id_mapping *m = gid ? s->gid_mappings : s->uid_mappings;
        size_t n = gid ? s->n_gid_mappings : s->n_uid_mappings;
        autobuf struct buf text = {0};
        for (size_t i = 0; i < n; i++)
            buf_printf(&text, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
        if (n == 0)
            return fail(err, "a new user namespace needs linux.%s", gid ? "gidMappings" : "uidMappings");
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, gid ? "gid_map" : "uid_map");
        autoclose int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, text.data, text.len) != (ssize_t)text.len)
            return fail_errno(err, "write %s", path);
    }
    return 0;
}

/* container_clone: clone the container's init in its new namespaces (the
 * cgroup namespace comes once it is in its cgroup); returns once it has
 * exec'd the command (or with the error its setup met); with a terminal,
 * *pty gets its master. */
static pid_t container_clone(struct launch *l, int *pty, lrun_error **err)
{
    int pipe_fds[2], console[2] = {-1, -1}, sync[2] = {-1, -1};
    bool user_namespace = spec_new_namespaces(l->spec) & CLONE_NEWUSER;
    if (launch_namespaces_open(l, err) < 0) {
        launch_namespaces_close(l);
        return -1;
    }
    if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
        launch_namespaces_close(l);
        return fail_errno(err, "pipe");
    }
    /* a terminal's master comes back to us, unless the caller gave a
     * console socket of its own (runc's --console-socket) */
    if ((l->spec->process.terminal && l->console_socket < 0 &&
         socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0) ||
        ((l->created || user_namespace) && pipe2(sync, O_CLOEXEC) < 0)) {
        launch_namespaces_close(l);
        close(pipe_fds[0]), close(pipe_fds[1]);
        if (console[0] >= 0)
            close(console[0]), close(console[1]);
        return fail_errno(err, "pipe");
    }
    if (console[1] >= 0)
        l->console_socket = console[1];
    l->terminal = -1;
    l->sync_fd = sync[0];
    /* a new user namespace's root may not search the way to a bind's
     * source: clone them here (open_tree), the child moves them in place */
    autofree int *sources = user_namespace ? xcalloc(l->spec->n_mounts + 1, sizeof *sources) : NULL;
    for (size_t i = 0; sources && i < l->spec->n_mounts; i++)
        sources[i] = l->spec->mounts[i].flags & MS_BIND
                         ? (int)syscall(SYS_open_tree, AT_FDCWD, l->spec->mounts[i].source,
                                        1 /* OPEN_TREE_CLONE */ | O_CLOEXEC |
                                            (l->spec->mounts[i].flags & MS_REC ? AT_RECURSIVE : 0))
                         : -1;
    l->mount_sources = sources;
    fflush(stdout);
    fflush(stderr);
    unsigned long flags = spec_new_namespaces(l->spec) & ~(unsigned long)CLONE_NEWCGROUP;
    pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        signals_reset();
        close(pipe_fds[0]);
        if (sync[1] >= 0)
            close(sync[1]);
        l->error_fd = pipe_fds[1];
        lrun_error *child_err = NULL;
        container_child_setup(l, &child_err);
        child_report(l->error_fd, child_err);
    }
    launch_namespaces_close(l);
    close(pipe_fds[1]);
    if (sync[0] >= 0)
        close(sync[0]);
    l->sync_fd = -1;
    for (size_t i = 0; sources && i < l->spec->n_mounts; i++)
        if (sources[i] >= 0)
            close(sources[i]);
    l->mount_sources = NULL;
    if (pid < 0) {
        close(pipe_fds[0]);
        if (sync[1] >= 0)
            close(sync[1]);
        if (console[0] >= 0)
            close(console[0]), close(console[1]);
        return fail_errno(err, "create the container's namespaces");
    }
    if (sync[1] >= 0) { /* the runtime's part (id maps, hooks), then the child goes on */
        autobuf struct buf state = {0};
        int r = id_maps_write(l->spec, pid, err);
        if (r == 0 && l->created)
            r = l->created(l, pid, &state, err);
        if (state.len == 0)
            buf_adds(&state, "{}");
        if (r == 0 && write_all(sync[1], state.data, state.len) < 0)
            r = fail_errno(err, "send the state to the container");
        close(sync[1]);
        if (r < 0) {
            close(pipe_fds[0]);
            if (console[0] >= 0)
                close(console[0]), close(console[1]);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
    }
    if (console[0] >= 0) { /* the master comes first, unless setup failed before */
        close(console[1]);
        *pty = fd_receive(console[0]);
        close(console[0]);
        if (*pty >= 0)
            terminal_size_set(&l->spec->process, *pty);
    }
    if (report_read(pipe_fds[0], "the container's setup report", err) == 0)
        return pid;
    waitpid(pid, NULL, 0);
    return -1;
}

/* container_launch: the container's cgroup (its device policy and
 * limits), then its init; a failed start leaves no cgroup behind. */
static pid_t container_launch(struct launch *l, int *pty, lrun_error **err)
{
    const char *cgroup = l->spec->cgroups_path;
    if (cgroup && cgroup_create(cgroup, &l->spec->resources, err) < 0)
        return -1;
    pid_t pid = container_clone(l, pty, err);
    if (pid < 0 && cgroup)
        cgroup_remove(cgroup, NULL);
    return pid;
}

/* --- the record: running, exited --- */

typedef int (*container_change_fn)(lrun_store *s, struct container *c, void *arg, lrun_error **err);

/* container_change: apply change to the container's record under the
 * store's write lock, and save. */
static int container_change(const char *root, const char *id, container_change_fn change, void *arg, bool durable,
                            lrun_error **err)
{
    autostore lrun_store *s = NULL;
    if (lrun_store_open(root, LRUN_STORE_WRITE, &s, err) < 0)
        return -1;
    s->volatile_writes = !durable;
    struct container *c = container_lookup(s, id, err);
    if (!c)
        return -1;
    if (change(s, c, arg, err) < 0)
        return -1;
    return store_save_index(s, LOCK_CONTAINERS, err);
}

static int mark_running(lrun_store *s, struct container *c, void *arg, lrun_error **err)
{
    (void)s, (void)err;
    pid_t pid = *(pid_t *)arg;
    free(c->status);
    free(c->started_at);
    free(c->finished_at);
    c->status = xstrdup("running");
    c->started_at = time_rfc3339_now();
    c->finished_at = NULL;
    c->pid = pid;
    c->pid_start = process_start_time(pid);
    c->monitor = getpid();
    c->size = -1;
    return 0;
}

struct exit_record {
    int code;
    int64_t size;
    bool remove;
    bool oom_killed;
};

static int mark_exited(lrun_store *s, struct container *c, void *arg, lrun_error **err)
{
    struct exit_record *e = arg;
    if (e->remove) { /* run --rm: its anonymous volumes go too, as podman's do */
        autofree char *id = xstrdup(c->id);
        if (container_remove_storage(s, c, err) < 0)
            return -1;
        volumes_remove_anonymous(s->root, id);
        return 0;
    }
    free(c->status);
    free(c->finished_at);
    c->status = xstrdup("exited");
    c->finished_at = time_rfc3339_now();
    c->exit_code = e->code;
    c->size = e->size;
    c->oom_killed = e->oom_killed;
    c->pid = c->pid_start = c->monitor = 0;
    return 0;
}

/* container_cgroup_path: linux.cgroupsPath of the container's spec, or
 * NULL (none, or no spec left). */
static char *container_cgroup_path(const char *root, const char *id)
{
    autofree char *userdata = container_userdata(root, id);
    autofree char *path = xasprintf("%s/config.json", userdata);
    autospec struct spec s = {0};
    lrun_error *ignored = NULL;
    if (spec_read_file(path, &s, &ignored) < 0) {
        lrun_error_free(ignored);
        return NULL;
    }
    return steal_pointer(&s.cgroups_path);
}

/* container_record_exit: the cgroup goes (whatever is left in it is
 * killed); the layer's size, walked once now that nothing writes to it,
 * then the record (or, with --rm, nothing at all). */
static int container_record_exit(const char *root, const char *id, const char *layer, const char *cgroup, int code,
                                 bool remove, lrun_error **err)
{
    bool oom_killed = cgroup && cgroup_oom_killed(cgroup);
    if (cgroup)
        cgroup_remove(cgroup, NULL);
    struct exit_record e = {code, remove ? 0 : layer_diff_size(root, layer), remove, oom_killed};
    return container_change(root, id, mark_exited, &e, !remove, err);
}

/* --- waiting: signals forwarded, a terminal proxied, logs written --- */

struct waiter {
    pid_t pid;
    int sigfd;
    int pty;    /* terminal master, or -1 */
    int input;  /* our stdin, copied to the terminal, or -1 */
    int output; /* where the terminal's output goes: stdout, or the log */
    int pipes[2]; /* a detached container's stdout and stderr, or -1 */
    int log_fd;
    int exit_fd;  /* userdata/exit, or -1 */
};

/* --- the exit status file ---
 * userdata/exit keeps the container's exit status as its waiter reaped it,
 * written before anything else: one pwrite into a block allocated at start
 * (so it needs no space on a full disk).  A waiter killed, or out of space
 * for the record, after the reap loses nothing: the next ps, wait, stop or
 * rm records the status from the file. */
static int exit_file_open(const char *userdata)
{
    autofree char *path = xasprintf("%s/exit", userdata);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 64) < 0 && errno != EOPNOTSUPP) {
        close(fd);
        return -1;
    }
    return fd;
}

static void exit_file_write(int fd, int code)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%d\n", code);
    if (fd >= 0 && pwrite(fd, text, (size_t)n, 0) != n)
        (void)0; /* the record, written next, is the main copy */
}

/* exit_file_read: the status the file keeps, or -1. */
static int exit_file_read(const char *root, const char *id)
{
    autofree char *path = xasprintf("%s/overlay-containers/%s/userdata/exit", root, id);
    autobuf struct buf text = {0};
    unsigned long code;
    if (read_file_at(AT_FDCWD, path, &text, NULL) < 0 || !text.len || !strchr(text.data, '\n'))
        return -1;
    *strchr(text.data, '\n') = '\0';
    return parse_id(text.data, &code) && code < 256 ? (int)code : -1;
}

/* log_write: podman's k8s-file format, "<time> <stream> F|P <text>". */
static void log_write(int fd, const char *stream, const char *data, size_t n)
{
    autofree char *now = time_rfc3339_now();
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t len = nl ? (size_t)(nl - data) : n;
        autofree char *line = xasprintf("%s %s %s %.*s\n", now, stream, nl ? "F" : "P", (int)len, data);
        if (write_all(fd, line, strlen(line)) < 0)
            return;
        data += len + (nl ? 1 : 0);
        n -= len + (nl ? 1 : 0);
    }
}

static bool copy_once(int from, int to, int log_fd, const char *stream)
{
    char buf[16384];
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    if (log_fd >= 0)
        log_write(log_fd, stream, buf, (size_t)n);
    else if (to >= 0 && write_all(to, buf, (size_t)n) < 0)
        return false;
    return true;
}

/* container_wait: until the container's init exits; its status as docker
 * reports it (the code, or 128 + the signal). */
static int container_wait(struct waiter *w)
{
    int status = -1;
    bool exited = false;
    for (;;) {
        struct pollfd fds[5] = {{w->sigfd, POLLIN, 0}, {w->pty, POLLIN, 0}, {w->input, POLLIN, 0},
                                {w->pipes[0], POLLIN, 0}, {w->pipes[1], POLLIN, 0}};
        bool open_outputs = w->pty >= 0 || w->pipes[0] >= 0 || w->pipes[1] >= 0;
        if (exited && !open_outputs)
            break;
        if (poll(fds, 5, exited ? 100 : -1) <= 0) {
            if (exited)
                break; /* output drained: whatever still holds the pipe is not ours to wait for */
            continue;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(w->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    int st;
                    if (waitpid(w->pid, &st, WNOHANG) == w->pid) {
                        exited = true;
                        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                        exit_file_write(w->exit_fd, status);
                    }
                } else if (si.ssi_signo == SIGWINCH) {
                    if (w->pty >= 0 && w->input >= 0)
                        terminal_resize(w->input, w->pty);
                } else {
                    kill(w->pid, (int)si.ssi_signo);
                }
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR) &&
            !copy_once(w->pty, w->output, w->log_fd, "stdout"))
            w->pty = -1;
        if (fds[2].revents & (POLLIN | POLLHUP | POLLERR) && !copy_once(w->input, w->pty, -1, NULL))
            w->input = -1;
        for (int i = 0; i < 2; i++)
            if (fds[3 + i].revents & (POLLIN | POLLHUP | POLLERR) &&
                !copy_once(w->pipes[i], -1, w->log_fd, i ? "stderr" : "stdout")) {
                close(w->pipes[i]);
                w->pipes[i] = -1;
            }
    }
    return status;
}

/* the signals the waiting process takes through its signalfd */
static int waiter_signals(sigset_t *set)
{
    sigemptyset(set);
    int sigs[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(set, sigs[i]);
    sigprocmask(SIG_BLOCK, set, NULL);
    return signalfd(-1, set, SFD_CLOEXEC);
}

/* --- the host terminal: raw while attached, restored on any exit --- */

static struct termios terminal_saved;
static bool terminal_is_raw;

static void terminal_restore(void)
{
    if (terminal_is_raw)
        tcsetattr(STDIN_FILENO, TCSADRAIN, &terminal_saved);
    terminal_is_raw = false;
}

static void terminal_raw(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &terminal_saved) < 0)
        return;
    struct termios raw = terminal_saved;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) {
        terminal_is_raw = true;
        atexit(terminal_restore);
    }
}

/* ========================================================================
 * CONTAINER: LIFECYCLE: start (attached or under a detached monitor),
 * stop, kill, wait, remove, exec
 * ======================================================================== */

/* --- start: attached (run's default) or under a detached monitor --- */

/* container_files: /etc/hosts, /etc/hostname and /etc/resolv.conf the
 * container gets, kept in userdata (the host's, when it shares the host's
 * network and the host has them). */
static int container_files(const char *userdata, const struct spec *s, lrun_error **err)
{
    autobuf struct buf hosts = {0};
    const char *name = s->hostname ? s->hostname : "";
    if (s->namespaces[NS_NETWORK].wanted || read_file_at(AT_FDCWD, "/etc/hosts", &hosts, NULL) < 0) {
        hosts.len = 0;
        buf_adds(&hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    }
    if (hosts.len && hosts.data[hosts.len - 1] != '\n')
        buf_adds(&hosts, "\n");
    buf_printf(&hosts, "127.0.1.1\t%s\n", name);
    autobuf struct buf resolv = {0};
    if (read_file_at(AT_FDCWD, "/etc/resolv.conf", &resolv, NULL) < 0) {
        resolv.len = 0;
        buf_adds(&resolv, "");
    }
    autofree char *hostname = xasprintf("%s\n", name);
    autoclose int fd = open(userdata, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open %s", userdata);
    if (write_file_at(fd, "hosts", hosts.data, hosts.len, 0644, err) < 0 ||
        write_file_at(fd, "hostname", hostname, strlen(hostname), 0644, err) < 0 ||
        write_file_at(fd, "resolv.conf", resolv.data, resolv.len, 0644, err) < 0)
        return -1;
    return 0;
}

/* container_spec_read: userdata/config.json, which must keep the
 * container's own layer as its root. */
static int container_spec_read(const char *userdata, const char *layer, struct spec *s, lrun_error **err)
{
    autofree char *path = xasprintf("%s/config.json", userdata);
    if (spec_read_file(path, s, err) < 0)
        return -1;
    if (!s->root_layer || strcmp(s->root_layer, layer) != 0)
        return fail(err, "%s: the annotation lrun.container-layer must name the container's layer %s", path, layer);
    return 0;
}

/* What start reads of a container before it launches it. */
struct start_context {
    const char *root;
    char *id, *layer;
    struct spec spec;               /* userdata/config.json */
    struct container_facts facts;   /* userdata/lrun.json */
    char *userdata;
    struct seccomp_program seccomp; /* spec.seccomp, compiled */
};

static void start_context_release(struct start_context *sc)
{
    seccomp_program_release(&sc->seccomp);
    free(sc->id);
    free(sc->layer);
    free(sc->userdata);
    spec_release(&sc->spec);
    container_facts_release(&sc->facts);
}

static void launch_init(struct launch *l, struct start_context *sc)
{
    *l = (struct launch){.spec = &sc->spec, .store_root = sc->root, .seccomp = sc->seccomp.code ? &sc->seccomp : NULL,
                         .no_pivot = sc->facts.no_pivot, .init = sc->facts.init, .console_socket = -1, .terminal = -1,
                         .stdio = {-1, -1, -1}, .start_fd = -1, .sync_fd = -1};
}

/* start_attached: the container's I/O is ours (a terminal proxied with
 * -t); returns its exit status. */
static int start_attached(struct start_context *sc, int *exit_code, lrun_error **err)
{
    struct launch l;
    launch_init(&l, sc);
    int master = -1, devnull = -1;
    if (!sc->facts.interactive && !sc->spec.process.terminal) {
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        l.stdio[0] = devnull;
    }
    sigset_t set;
    int sigfd = waiter_signals(&set);
    pid_t pid = container_launch(&l, &master, err);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        lrun_error *ignored = NULL;
        container_record_exit(sc->root, sc->id, sc->layer, sc->spec.cgroups_path, (*err)->exit_code, sc->facts.remove,
                              &ignored);
        lrun_error_free(ignored);
        return -1;
    }
    if (container_change(sc->root, sc->id, mark_running, &pid, !sc->facts.remove, err) < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    if (master >= 0 && sc->facts.interactive)
        terminal_raw();
    struct waiter w = {.pid = pid, .sigfd = sigfd, .pty = master, .input = master >= 0 && sc->facts.interactive ? 0 : -1,
                       .output = STDOUT_FILENO, .pipes = {-1, -1}, .log_fd = -1, .exit_fd = exit_file_open(sc->userdata)};
    *exit_code = container_wait(&w);
    terminal_restore();
    if (master >= 0)
        close(master);
    if (w.exit_fd >= 0)
        close(w.exit_fd);
    close(sigfd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    lrun_error *record_err = NULL;
    if (container_record_exit(sc->root, sc->id, sc->layer, sc->spec.cgroups_path, *exit_code, sc->facts.remove,
                              &record_err) < 0) {
        /* the status is the container's all the same (userdata/exit keeps it for the next ps) */
        fprintf(stderr, "Warning: record the exit of container %.12s: %s\n", sc->id, record_err->message);
        lrun_error_free(record_err);
    }
    return 0;
}

/* monitor_run: the detached container's keeper: launches it with its
 * output to userdata/ctr.log, tells the starter, waits, records the exit. */
__attribute__((noreturn)) static void monitor_run(struct start_context *sc, int ready_fd)
{
    setsid();
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
    }
    lrun_error *err = NULL;
    struct launch l;
    launch_init(&l, sc);
    autofree char *log_path = xasprintf("%s/ctr.log", sc->userdata);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int out[2] = {-1, -1}, errp[2] = {-1, -1}, master = -1;
    if (log_fd < 0)
        fail_errno(&err, "open %s", log_path);
    else if (!sc->spec.process.terminal && (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0))
        fail_errno(&err, "pipe");
    l.stdio[0] = devnull;
    l.stdio[1] = out[1];
    l.stdio[2] = errp[1];
    sigset_t set;
    int sigfd = waiter_signals(&set);
    pid_t pid = err ? -1 : container_launch(&l, &master, &err);
    if (out[1] >= 0)
        close(out[1]), close(errp[1]);
    if (pid > 0 && container_change(sc->root, sc->id, mark_running, &pid, !sc->facts.remove, &err) < 0)
        kill(pid, SIGKILL);
    if (err) {
        report_write(ready_fd, err);
        lrun_error *ignored = NULL;
        container_record_exit(sc->root, sc->id, sc->layer, sc->spec.cgroups_path, err->exit_code, sc->facts.remove,
                              &ignored);
        _exit(EXIT_LRUN);
    }
    close(ready_fd); /* the starter sees EOF: the container runs */
    struct waiter w = {.pid = pid, .sigfd = sigfd, .pty = master, .input = -1, .output = -1,
                       .pipes = {out[0], errp[0]}, .log_fd = log_fd, .exit_fd = exit_file_open(sc->userdata)};
    int code = container_wait(&w);
    container_record_exit(sc->root, sc->id, sc->layer, sc->spec.cgroups_path, code, sc->facts.remove, &err);
    _exit(0);
}

static int start_detached(struct start_context *sc, lrun_error **err)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return fail_errno(err, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t monitor = fork();
    if (monitor < 0)
        return fail_errno(err, "fork the container monitor");
    if (monitor == 0) {
        close(ready[0]);
        if (fork() != 0) /* the monitor is a grandchild: reparented, never our zombie */
            _exit(0);
        monitor_run(sc, ready[1]);
    }
    close(ready[1]);
    waitpid(monitor, NULL, 0);
    return report_read(ready[0], "the monitor's report", err);
}

/* container_start: start a created (or exited) container. */
static int container_start(const char *root, const char *id_or_name, bool attach, int *exit_code, lrun_error **err)
{
    cleanup(start_context_release) struct start_context sc = {.root = root};
    bool broken = false;
    {
        autostore lrun_store *s = NULL;
        if (lrun_store_open(root, LRUN_STORE_READ, &s, err) < 0)
            return -1;
        struct container *c = container_lookup(s, id_or_name, err);
        if (!c)
            return -1;
        if (container_is_running(c))
            return fail(err, "container %s is already running", id_or_name);
        sc.id = xstrdup(c->id);
        sc.layer = xstrdup(c->layer);
        if (layer_chain_repair(s, c->layer, false, &broken, err) < 0)
            return error_prefix(err, "container %.12s", c->id);
    }
    if (broken) { /* links a crash or another tool broke: rebuilt under the write lock */
        autostore lrun_store *s = NULL;
        if (lrun_store_open(root, LRUN_STORE_WRITE, &s, err) < 0 ||
            layer_chain_repair(s, sc.layer, true, &broken, err) < 0)
            return -1;
    }
    sc.userdata = container_userdata(root, sc.id);
    if (host_mount_basics(false, err) < 0 || overlay_available(err) < 0 || store_can_hold_upper(root, err) < 0)
        return -1;
    if (container_facts_read(sc.userdata, &sc.facts, err) < 0 || container_spec_read(sc.userdata, sc.layer, &sc.spec, err) < 0 ||
        container_files(sc.userdata, &sc.spec, err) < 0)
        return -1;
    if (sc.spec.seccomp && seccomp_program_prepare(root, sc.spec.seccomp, sc.spec.process.caps[CAPS_BOUNDING],
                                                   &sc.seccomp, err) < 0)
        return -1;
    *exit_code = 0;
    return attach ? start_attached(&sc, exit_code, err) : start_detached(&sc, err);
}

/* --- stop, kill, wait, remove --- */

struct container_ref { /* what lifecycle commands need, read under a short lock */
    char *id, *layer, *status;
    pid_t pid, monitor;
    bool running;
    int exit_code;
    char *stop_signal;
    int stop_timeout;
};

static void container_ref_release(struct container_ref *r)
{
    free(r->id);
    free(r->layer);
    free(r->status);
    free(r->stop_signal);
}
#define autoref cleanup(container_ref_release)

static int container_ref_read(const char *root, const char *name, struct container_ref *r, lrun_error **err)
{
    *r = (struct container_ref){0};
    autostore lrun_store *s = NULL;
    if (lrun_store_open(root, LRUN_STORE_READ, &s, err) < 0)
        return -1;
    struct container *c = container_lookup(s, name, err);
    if (!c)
        return -1;
    r->id = xstrdup(c->id);
    r->layer = xstrdup(c->layer);
    r->status = xstrdup(c->status);
    r->pid = (pid_t)c->pid;
    r->monitor = (pid_t)c->monitor;
    r->running = container_is_running(c);
    r->exit_code = (int)c->exit_code;
    autofacts struct container_facts facts = {0};
    autofree char *userdata = container_userdata(s->root, c->id);
    lrun_error *ignored = NULL;
    if (container_facts_read(userdata, &facts, &ignored) == 0) {
        r->stop_signal = xstrdup(facts.stop_signal);
        r->stop_timeout = facts.stop_timeout;
    }
    lrun_error_free(ignored);
    return 0;
}

static int signal_parse(const char *name, int *sig, lrun_error **err)
{
    if (!name || !*name) {
        *sig = SIGTERM;
        return 0;
    }
    unsigned long n;
    if (parse_id(name, &n) && n > 0 && n < 65) {
        *sig = (int)n;
        return 0;
    }
    const char *bare = has_prefix(name, "SIG") || has_prefix(name, "sig") ? name + 3 : name;
    for (int i = 1; i < NSIG; i++) {
        const char *abbrev = sigabbrev_np(i);
        if (abbrev && strcasecmp(abbrev, bare) == 0) {
            *sig = i;
            return 0;
        }
    }
    return fail(err, "invalid signal: %s", name);
}

/* container_wait_recorded: until the record says exited (the monitor
 * writes it); a monitor that died is stood in for. */
static int container_wait_recorded(const char *root, const char *name, struct container_ref *r, lrun_error **err)
{
    autofree char *id = xstrdup(r->id); /* known already: then a vanished record means --rm */
    for (int i = 0;; i++) {
        int last_code = r->exit_code;
        container_ref_release(r);
        lrun_error *lookup_err = NULL;
        if (container_ref_read(root, id ? id : name, r, &lookup_err) < 0) {
            if (!id) {
                if (err)
                    *err = lookup_err;
                else
                    lrun_error_free(lookup_err);
                return -1;
            }
            lrun_error_free(lookup_err); /* it was there: --rm removed it as it exited */
            *r = (struct container_ref){.status = xstrdup("removed"), .exit_code = last_code};
            return 0;
        }
        if (!id)
            id = xstrdup(r->id);
        if (strcmp(r->status, "running") != 0)
            return 0;
        if (!r->running && !process_alive(r->monitor)) {
            autofree char *cgroup = container_cgroup_path(root, r->id);
            int code = exit_file_read(root, r->id);
            if (container_record_exit(root, r->id, r->layer, cgroup, code >= 0 ? code : 137, false, err) < 0)
                return -1;
            continue;
        }
        usleep(i < 50 ? 2000 : 20000);
    }
}

/* containers_repair_orphans: records that say running whose process and
 * waiter are both gone (a waiter killed by SIGKILL, a run that could not
 * write the record): the exit is recorded from userdata/exit (137 when
 * the waiter died before the container), --rm ones removed.  Returns
 * whether any was repaired. */
static bool containers_repair_orphans(lrun_store *s, bool fix)
{
    autostrv char **ids = NULL;
    for (size_t i = 0; i < s->n_containers; i++) {
        struct container *c = s->containers[i];
        if (c->status && strcmp(c->status, "running") == 0 && !container_is_running(c) &&
            !process_alive(c->monitor))
            strv_push(&ids, xstrdup(c->id));
    }
    for (size_t i = 0; fix && ids && ids[i]; i++) {
        struct container *c = container_lookup(s, ids[i], NULL);
        autofacts struct container_facts facts = {0};
        autofree char *userdata = container_userdata(s->root, ids[i]);
        lrun_error *ignored = NULL;
        container_facts_read(userdata, &facts, &ignored);
        lrun_error_free(ignored);
        int code = exit_file_read(s->root, ids[i]);
        autofree char *cgroup = container_cgroup_path(s->root, ids[i]);
        bool oom_killed = cgroup && cgroup_oom_killed(cgroup);
        if (cgroup)
            cgroup_remove(cgroup, NULL);
        struct exit_record e = {code >= 0 ? code : 137, facts.remove ? 0 : layer_diff_size(s->root, c->layer),
                                facts.remove, oom_killed};
        ignored = NULL;
        if (mark_exited(s, c, &e, &ignored) < 0 || store_save_index(s, LOCK_CONTAINERS, &ignored) < 0)
            lrun_error_free(ignored);
    }
    return ids != NULL;
}

static int container_stop(const char *root, const char *name, int timeout, lrun_error **err)
{
    autoref struct container_ref r;
    if (container_ref_read(root, name, &r, err) < 0)
        return -1;
    if (!r.running)
        return 0;
    int sig;
    if (signal_parse(r.stop_signal, &sig, err) < 0)
        return -1;
    if (timeout < 0)
        timeout = r.stop_timeout;
    kill(r.pid, sig);
    if (!process_wait_gone(r.pid, timeout * 1000)) {
        kill(r.pid, SIGKILL);
        process_wait_gone(r.pid, 10000);
    }
    return container_wait_recorded(root, name, &r, err);
}

static int container_remove(const char *root, const char *name, bool force, bool volumes, lrun_error **err)
{
    autoref struct container_ref r;
    if (container_ref_read(root, name, &r, err) < 0)
        return -1;
    if (r.running) {
        if (!force)
            return fail_code(err, 2, "cannot remove container %s as it is running - running or paused containers cannot be removed without force: container state improper",
                             r.id);
        kill(r.pid, SIGKILL);
        process_wait_gone(r.pid, 10000);
        autofree char *id = xstrdup(r.id); /* r is read again while waiting */
        if (container_wait_recorded(root, id, &r, err) < 0)
            return -1;
        if (strcmp(r.status, "removed") == 0) /* --rm did it */
            return 0;
    }
    autostore lrun_store *s = NULL;
    if (lrun_store_open(root, LRUN_STORE_WRITE, &s, err) < 0)
        return -1;
    struct container *c = container_lookup(s, r.id, err);
    if (!c)
        return -1;
    if (container_is_running(c)) /* a start slipped in since the look above */
        return fail_code(err, 2, "container %s was started while being removed: container state improper", r.id);
    autofree char *cgroup = container_cgroup_path(root, r.id); /* left behind by a monitor that was killed */
    if (cgroup && cgroup_remove(cgroup, err) < 0)
        return -1;
    if (container_remove_storage(s, c, err) < 0)
        return -1;
    if (volumes)
        volumes_remove_anonymous(root, r.id);
    return 0;
}

/* --- cp: files between a container and the host ---
 * A child in a mount namespace of its own reaches the container's root:
 * a running container's through /proc/PID/root (its mounts and volumes
 * as the container sees them), a stopped one's by mounting its layer's
 * overlay.  Every container path is resolved inside that root with
 * openat2(RESOLVE_IN_ROOT) and everything below it is walked without
 * following links, so no link the container made leads to the host. */

struct cp_request {
    const char *root, *layer, *container;
    pid_t pid;                       /* > 0: running, reached through /proc */
    const char *container_path, *host_path; /* host_path "-": a tar on stdin or stdout */
    bool to_container, keep_owner; /* keep_owner: into the container with the host's owners */
};

/* path_split_last: path's parent (".", "/") and last name ("." when the
 * path ends in "/." or is "/"). */
static char *path_split_last(const char *path, char **base)
{
    autofree char *copy = xstrdup(path);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    char *slash = strrchr(copy, '/');
    if (!slash) {
        *base = xstrdup(copy);
        return xstrdup(".");
    }
    *base = xstrdup(slash[1] ? slash + 1 : ".");
    return slash == copy ? xstrdup("/") : xstrndup(copy, (size_t)(slash - copy));
}

static int cp_root_open(struct cp_request *r, lrun_error **err)
{
    if (r->pid > 0) {
        autofree char *proc = xasprintf("/proc/%d/root", (int)r->pid);
        int fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? fail_errno(err, "open the root of container %s", r->container) : fd;
    }
    if (overlay_mount_layer(r->root, r->layer, err) < 0)
        return -1;
    autofree char *merged = xasprintf("%s/overlay/%s/merged", r->root, r->layer);
    int fd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? fail_errno(err, "open %s", merged) : fd;
}

/* tar_extract_fd: a plain tar from fd into dir_fd, as a layer is (names
 * cleaned, no link crossed), owners as the tar says. */
static int tar_extract_fd(int fd, int dir_fd, lrun_error **err)
{
    autoarchive struct archive *a = archive_read_new();
    if (!a)
        die_oom();
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_filter_xz(a);
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
        return fail(err, "read the tar: %s", archive_error_string(a));
    struct id_set uids = {0}, gids = {0};
    struct extractor x = {.root_fd = dir_fd, .layer_id = "the tar", .cached_fd = -1, .uids = &uids, .gids = &gids};
    struct archive_entry *e;
    int r, ret = 0;
    while (ret == 0 && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF)
        ret = r < ARCHIVE_WARN ? fail(err, "read the tar: %s", archive_error_string(a)) : extract_entry(&x, a, e, err);
    if (ret == 0)
        ret = extractor_finish(&x, err);
    extractor_release(&x);
    free(uids.ids);
    free(gids.ids);
    return ret;
}

/* cp_into: host → container. */
static int cp_into(struct cp_request *r, int root_fd, lrun_error **err)
{
    bool from_stdin = strcmp(r->host_path, "-") == 0;
    autofree char *src_base = NULL;
    autofree char *src_parent = from_stdin ? NULL : path_split_last(r->host_path, &src_base);
    struct stat src_st;
    if (!from_stdin && lstat(r->host_path, &src_st) < 0)
        return fail(err, "\"%s\" could not be found on the host: %s", r->host_path, strerror(errno));
    autoclose int target = openat2_in_root(root_fd, r->container_path, O_RDONLY);
    struct stat st;
    bool into_dir = target >= 0 && fstat(target, &st) == 0 && S_ISDIR(st.st_mode);
    if (from_stdin) {
        if (!into_dir)
            return fail(err, "\"%s\" could not be found on container %s: destination must be a directory when copying from stdin",
                        r->container_path, r->container);
        return tar_extract_fd(STDIN_FILENO, target, err);
    }
    autoclose int from_fd = open(src_parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (from_fd < 0)
        return fail_errno(err, "open %s", src_parent);
    if (S_ISDIR(src_st.st_mode) && target >= 0 && !into_dir)
        return fail(err, "destination must be a directory when copying a directory");
    if (into_dir && strcmp(src_base, ".") == 0) /* dir/. : what it holds */
        return tree_copy(from_fd, target, r->keep_owner, err);
    if (into_dir)
        return entry_copy(from_fd, src_base, target, src_base, r->keep_owner, err);
    autofree char *base = NULL;
    autofree char *parent = path_split_last(r->container_path, &base);
    autoclose int parent_fd = openat2_in_root(root_fd, parent, O_RDONLY | O_DIRECTORY);
    if (parent_fd < 0 || has_suffix(r->container_path, "/"))
        return fail(err, "\"%s\" could not be found on container %s: no such file or directory", r->container_path,
                    r->container);
    return entry_copy(from_fd, src_base, parent_fd, base, r->keep_owner, err);
}

/* cp_out: container → host. */
static int cp_out(struct cp_request *r, int root_fd, lrun_error **err)
{
    autofree char *base = NULL;
    autofree char *parent = path_split_last(r->container_path, &base);
    autoclose int parent_fd = openat2_in_root(root_fd, parent, O_RDONLY | O_DIRECTORY);
    struct stat st;
    bool whole = strcmp(base, ".") == 0;
    if (parent_fd < 0 || (!whole && fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0))
        return fail(err, "\"%s\" could not be found on container %s: no such file or directory", r->container_path,
                    r->container);
    autoclose int self = whole ? openat2_in_root(root_fd, r->container_path, O_RDONLY | O_DIRECTORY) : -1;
    if (whole && (self < 0 || fstat(self, &st) < 0))
        return fail_errno(err, "open %s in the container", r->container_path);
    int from_fd = whole ? self : parent_fd;
    if (strcmp(r->host_path, "-") == 0) {
        digest_hex digest;
        int64_t size;
        fflush(stdout);
        return dir_export_entry(from_fd, whole ? NULL : base, NULL, STDOUT_FILENO, digest, &size, err);
    }
    struct stat host;
    bool host_dir = stat(r->host_path, &host) == 0 && S_ISDIR(host.st_mode);
    if (S_ISDIR(st.st_mode) && !whole && stat(r->host_path, &host) == 0 && !host_dir)
        return fail(err, "destination must be a directory when copying a directory");
    if (whole && !host_dir && mkdir(r->host_path, st.st_mode & 07777) < 0)
        return fail_errno(err, "create %s", r->host_path);
    if (whole || host_dir) {
        autoclose int to = open(r->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (to < 0)
            return fail_errno(err, "open %s", r->host_path);
        return whole ? tree_copy(from_fd, to, true, err) : entry_copy(from_fd, base, to, base, true, err);
    }
    autofree char *host_base = NULL;
    autofree char *host_parent = path_split_last(r->host_path, &host_base);
    autoclose int to = open(host_parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (to < 0)
        return fail(err, "\"%s\" could not be found on the host: %s", host_parent, strerror(errno));
    return entry_copy(from_fd, base, to, host_base, true, err);
}

static int cp_in_child(void *arg, lrun_error **err)
{
    struct cp_request *r = arg;
    autoclose int root_fd = cp_root_open(r, err);
    if (root_fd < 0)
        return -1;
    return r->to_container ? cp_into(r, root_fd, err) : cp_out(r, root_fd, err);
}

/* container_copy: cp between container name's path and host_path. */
static int container_copy(const char *root, const char *name, const char *container_path, const char *host_path,
                          bool to_container, bool keep_owner, lrun_error **err)
{
    autoref struct container_ref ref;
    if (container_ref_read(root, name, &ref, err) < 0)
        return -1;
    autofree char *joined = NULL;
    if (container_path[0] != '/') { /* relative to the container's working directory */
        autofree char *userdata = container_userdata(root, ref.id);
        autospec struct spec spec = {0};
        if (container_spec_read(userdata, ref.layer, &spec, err) < 0)
            return -1;
        joined = xasprintf("%s/%s", spec.process.cwd ? spec.process.cwd : "", container_path);
        container_path = joined;
    }
    struct cp_request r = {.root = root, .layer = ref.layer, .container = name, .pid = ref.running ? ref.pid : 0,
                           .container_path = container_path, .host_path = host_path, .to_container = to_container,
                           .keep_owner = keep_owner};
    return in_mount_namespace(cp_in_child, &r, err) < 0 ? -1 : 0;
}

/* --- export: a container's filesystem as a tar --- */

struct export_request {
    const char *root, *layer;
    int out_fd;
};

/* export_in_child: the container's layer over its image, mounted
 * read-only (running or not: no /proc or volume of a running container
 * is walked into). */
static int export_in_child(void *arg, lrun_error **err)
{
    struct export_request *r = arg;
    autofree char *merged = xasprintf("%s/overlay/%s/merged", r->root, r->layer);
    if (overlay_mount_image(r->root, r->layer, merged, err) < 0)
        return -1;
    autoclose int root_fd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return fail_errno(err, "open %s", merged);
    digest_hex digest;
    int64_t size;
    return dir_export_entry(root_fd, NULL, NULL, r->out_fd, digest, &size, err);
}

/* container_export: the container's root (its image and its changes, as
 * the container sees it) as a tar to out_fd. */
static int container_export(const char *root, const char *name, int out_fd, lrun_error **err)
{
    autoref struct container_ref ref;
    if (container_ref_read(root, name, &ref, err) < 0)
        return -1;
    struct export_request r = {.root = root, .layer = ref.layer, .out_fd = out_fd};
    return in_mount_namespace(export_in_child, &r, err) < 0 ? -1 : 0;
}

/* --- mount, unmount: a container's root on the host ---
 * Reference-counted in overlay-layers/mountpoints.json, as c/storage keeps
 * its mount counts ([{"id", "path", "count"}]): the first mount mounts
 * the layer's overlay on its merged/, the last unmount unmounts it.  A
 * count whose mount is gone (after a reboot) starts again from nothing. */

static bool path_is_mount_point(const char *path)
{
    struct stat here, up;
    autofree char *parent = xasprintf("%s/..", path);
    return stat(path, &here) == 0 && stat(parent, &up) == 0 && (here.st_dev != up.st_dev || here.st_ino == up.st_ino);
}

/* mount_counts: the layer IDs and counts as "ID=COUNT" entries. */
static char **mount_counts_read(lrun_store *s)
{
    autobuf struct buf text = {0};
    char **counts = xcalloc(1, sizeof *counts);
    if (read_file_at(s->layers_fd, "mountpoints.json", &text, NULL) < 0)
        return counts;
    autojson yajl_val list = json_text_to_tree(text.data);
    for (size_t i = 0; i < json_array_len(list); i++) {
        yajl_val m = json_array_at(list, i);
        const char *id = json_string(m, "id"), *path = json_string(m, "path");
        int64_t count = json_int(m, "count", 0);
        if (id && path && count > 0 && path_is_mount_point(path))
            strv_push(&counts, xasprintf("%s=%" PRId64, id, count));
    }
    return counts;
}

static int mount_counts_write(lrun_store *s, char *const *counts, lrun_error **err)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    for (size_t i = 0; counts && counts[i]; i++) {
        autofree char *id = xstrndup(counts[i], strcspn(counts[i], "="));
        autofree char *path = xasprintf("%s/overlay/%s/merged", s->root, id);
        yajl_gen_map_open(g);
        jw_key_str(g, "id", id);
        jw_key_str(g, "path", path);
        jw_key_int(g, "count", atoi(strchr(counts[i], '=') + 1));
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    size_t len;
    autofree char *text = json_writer_text(g, &len);
    return write_file_atomic(s->layers_fd, "mountpoints.json", text, len, 0600, err);
}

/* container_mount: the container's root mounted on the host (once more);
 * its path comes back. */
static char *container_mount(lrun_store *s, struct container *c, lrun_error **err)
{
    autostrv char **counts = mount_counts_read(s);
    const char *have = env_get(counts, c->layer);
    int count = have ? atoi(have) : 0;
    char cwd[PATH_MAX];
    if (!count && (!getcwd(cwd, sizeof cwd) || overlay_mount_layer(s->root, c->layer, err) < 0 || chdir(cwd) < 0)) {
        if (err && !*err)
            fail_errno(err, "return to the working directory");
        return NULL;
    }
    autofree char *entry = xasprintf("%s=%d", c->layer, count + 1);
    env_set(&counts, entry);
    if (mount_counts_write(s, counts, err) < 0)
        return NULL;
    return xasprintf("%s/overlay/%s/merged", s->root, c->layer);
}

/* container_unmount: one mount fewer; the last one (or force) unmounts. */
static int container_unmount(lrun_store *s, struct container *c, bool force, lrun_error **err)
{
    autostrv char **counts = mount_counts_read(s);
    const char *have = env_get(counts, c->layer);
    int count = have ? atoi(have) - 1 : 0;
    autofree char *path = xasprintf("%s/overlay/%s/merged", s->root, c->layer);
    if ((count <= 0 || force) && have && umount2(path, 0) < 0 && errno != EINVAL)
        return fail_errno(err, "unmount %s", path);
    autostrv char **kept = xcalloc(1, sizeof *kept);
    for (size_t i = 0; counts[i]; i++)
        if (strncmp(counts[i], c->layer, strlen(c->layer)) != 0)
            strv_push(&kept, xstrdup(counts[i]));
    if (count > 0 && !force)
        strv_push(&kept, xasprintf("%s=%d", c->layer, count));
    return mount_counts_write(s, kept, err);
}

/* --- exec: a new process in a running container's namespaces --- */

/* exec_process: the process part of a spec for exec: the container's
 * environment (with TERM for -t) under -e, its user and working directory
 * unless -u and -w say, its capabilities, limits and no_new_privs. */
static void exec_process(const struct spec_process *c, const struct container_config *opts, char **args,
                         struct spec_process *p)
{
    *p = (struct spec_process){.args = strv_copy(args), .env = strv_copy(c->env), .terminal = opts->terminal,
                               .no_new_privileges = c->no_new_privileges, .user = c->user};
    if (opts->terminal)
        env_set_default(&p->env, "TERM", "xterm");
    for (size_t i = 0; opts->env && opts->env[i]; i++)
        env_set(&p->env, opts->env[i]);
    p->cwd = xstrdup(opts->workdir ? opts->workdir : c->cwd);
    p->user.name = xstrdup(opts->user ? opts->user : c->user.name);
    p->user.additional_gids = xmalloc((c->user.n_additional_gids + 1) * sizeof *p->user.additional_gids);
    memcpy(p->user.additional_gids, c->user.additional_gids, c->user.n_additional_gids * sizeof *p->user.additional_gids);
    memcpy(p->caps, c->caps, sizeof p->caps);
    p->rlimits = xmalloc((c->n_rlimits + 1) * sizeof *p->rlimits);
    memcpy(p->rlimits, c->rlimits, c->n_rlimits * sizeof *p->rlimits);
    p->n_rlimits = c->n_rlimits;
}

/* The namespaces exec enters, as /proc/PID/ns names them. */
static const char *const exec_namespaces[] = {"cgroup", "ipc", "uts", "net", "pid", "mnt"};
#define EXEC_NAMESPACES (sizeof exec_namespaces / sizeof *exec_namespaces)

/* exec_child: in the forked process: the container's namespaces and root
 * (ns_fds, root_fd of its init), then the process; never returns.  All of
 * it happens outside the container's pid namespace, where nothing in the
 * container can see it; only the last fork, confined already (user,
 * capabilities, seccomp), enters the pid namespace, and execs. */
__attribute__((noreturn)) static void exec_child(const struct spec_process *p, const struct seccomp_program *seccomp,
                                                 const char *cgroup, const int ns_fds[], int root_fd, int console,
                                                 bool interactive, int preserve_fds, int report_fd)
{
    lrun_error *err = NULL;
    signals_reset();
    process_hide_from_container();
    /* the container's cgroup (its device policy, its limits) first */
    if (cgroup && cgroup_enter(cgroup, 0, &err) < 0)
        child_report(report_fd, err);
    for (size_t i = 0; i < EXEC_NAMESPACES; i++)
        if (setns(ns_fds[i], 0) < 0 && !(strcmp(exec_namespaces[i], "net") == 0 && errno == EINVAL)) {
            fail_errno(&err, "enter the container's %s namespace", exec_namespaces[i]);
            child_report(report_fd, err);
        }
    /* the container's root: pivoted, or chrooted on an initramfs */
    if (fchdir(root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
        fail_errno(&err, "enter the container's root");
        child_report(report_fd, err);
    }
    struct launch l = {.console_socket = console, .terminal = -1,
                       .stdio = {interactive || p->terminal ? -1 : open("/dev/null", O_RDONLY), -1, -1}};
    if (p->terminal) {
        autoclose int pts_fd = open("/dev/pts", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pts_fd < 0)
            fail_errno(&err, "open /dev/pts");
        if (pts_fd < 0 || (l.terminal = terminal_open(pts_fd, console, &err)) < 0)
            child_report(report_fd, err);
    }
    stdio_setup(&l, &err);
    close_extra_fds(preserve_fds, report_fd, -1);
    autostrv char **env = NULL;
    if (err || process_confine(p, seccomp, &env, &err) < 0)
        child_report(report_fd, err);
    /* the pid namespace applies to children: fork once more into it;
     * this process passes signals on and reports the exit */
    if (fork_behind_reaper(report_fd, NULL) < 0) {
        fail_errno(&err, "fork into the container's pid namespace");
        child_report(report_fd, err);
    }
    if (p->terminal && terminal_control(&err) < 0)
        child_report(report_fd, err);
    process_exec(p->args, env, &err);
    child_report(report_fd, err);
}

/* exec_namespaces_open: the descriptors exec_child enters: the running
 * container init's namespaces and root. */
static int exec_namespaces_open(pid_t pid, int ns_fds[], int *root_fd, lrun_error **err)
{
    char path[64];
    for (size_t i = 0; i < EXEC_NAMESPACES; i++)
        ns_fds[i] = -1;
    *root_fd = -1;
    for (size_t i = 0; i < EXEC_NAMESPACES; i++) {
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, exec_namespaces[i]);
        if ((ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return fail_errno(err, "open %s", path);
    }
    snprintf(path, sizeof path, "/proc/%d/root", (int)pid);
    if ((*root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return fail_errno(err, "open %s", path);
    return 0;
}

static void exec_namespaces_close(int ns_fds[], int root_fd)
{
    for (size_t i = 0; i < EXEC_NAMESPACES; i++)
        if (ns_fds[i] >= 0)
            close(ns_fds[i]);
    if (root_fd >= 0)
        close(root_fd);
}

/* What exec's caller may pass besides the process (runc's exec options). */
struct exec_io {
    int console_socket; /* the terminal's master goes there, else to *pty; -1: none */
    int preserve_fds;   /* 3 .. 3+N-1 pass into the process */
};

/* exec_launch: fork the exec'd process; returns its pid once it has
 * exec'd (or -1 with its setup's error); with a terminal, *pty gets the
 * master (unless io gives a console socket). */
static pid_t exec_launch(pid_t init, const struct spec_process *p, const struct seccomp_program *seccomp,
                         const char *cgroup, bool interactive, const struct exec_io *io, int *pty,
                         lrun_error **err)
{
    int ns_fds[EXEC_NAMESPACES], root_fd, console[2] = {-1, -1}, pipe_fds[2] = {-1, -1};
    if (exec_namespaces_open(init, ns_fds, &root_fd, err) == 0) {
        if (p->terminal && io->console_socket < 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0)
            fail_errno(err, "socketpair");
        else if (pipe2(pipe_fds, O_CLOEXEC) < 0)
            fail_errno(err, "pipe");
    }
    if (pipe_fds[0] < 0) {
        exec_namespaces_close(ns_fds, root_fd);
        if (console[0] >= 0)
            close(console[0]), close(console[1]);
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        exec_child(p, seccomp, cgroup, ns_fds, root_fd, io->console_socket >= 0 ? io->console_socket : console[1],
                   interactive, io->preserve_fds, pipe_fds[1]);
    close(pipe_fds[1]);
    exec_namespaces_close(ns_fds, root_fd);
    if (console[0] >= 0) {
        close(console[1]);
        *pty = pid < 0 ? -1 : fd_receive(console[0]);
        close(console[0]);
        if (*pty >= 0 && isatty(STDIN_FILENO))
            terminal_resize(STDIN_FILENO, *pty);
    }
    if (pid < 0) {
        close(pipe_fds[0]);
        return fail_errno(err, "fork");
    }
    if (report_read(pipe_fds[0], "the exec report", err) < 0) {
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

/* container_exec: args in the running container name, as the container's
 * spec and exec's options (opts) say; *exit_code its status. */
static int container_exec(const char *root, const char *name, struct container_config *opts, char **args,
                          int *exit_code, lrun_error **err)
{
    autoref struct container_ref r;
    if (container_ref_read(root, name, &r, err) < 0)
        return -1;
    if (!r.running)
        return fail(err, "can only create exec sessions on running containers: container state improper");
    autofree char *userdata = container_userdata(root, r.id);
    autospec struct spec spec = {0};
    if (container_spec_read(userdata, r.layer, &spec, err) < 0)
        return -1;
    cleanup(seccomp_program_release) struct seccomp_program seccomp = {0};
    if (spec.seccomp &&
        seccomp_program_prepare(root, spec.seccomp, spec.process.caps[CAPS_BOUNDING], &seccomp, err) < 0)
        return -1;
    cleanup(spec_process_release) struct spec_process p;
    exec_process(&spec.process, opts, args, &p);
    sigset_t set;
    int sigfd = waiter_signals(&set), master = -1;
    struct exec_io io = {.console_socket = -1};
    pid_t pid = exec_launch(r.pid, &p, seccomp.code ? &seccomp : NULL, spec.cgroups_path, opts->interactive, &io,
                            &master, err);
    if (pid < 0) {
        close(sigfd);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        return -1;
    }
    if (master >= 0 && opts->interactive)
        terminal_raw();
    struct waiter w = {.pid = pid, .sigfd = sigfd, .pty = master, .input = master >= 0 && opts->interactive ? 0 : -1,
                       .output = STDOUT_FILENO, .pipes = {-1, -1}, .log_fd = -1};
    *exit_code = container_wait(&w);
    terminal_restore();
    close(sigfd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

/* ========================================================================
 * CONTAINER: OCI: runc's model of a container: a bundle's config.json read
 * into the same struct spec and run by the same executor; the state under
 * --root (default /run/lrun); create stopping right before exec until
 * start; hooks; kill, delete, list
 *
 * <root>/<id>/ (0700) holds, for one container:
 *   status       the runtime-spec state (id, pid, bundle, created,
 *                annotations), the init's start time, which tells a
 *                reused pid from the container's, and (as crun keeps it)
 *                "external_descriptors": what the init's 0-2 were, as
 *                JSON text
 *   config.json  the bundle's config.json as create read it, root.path
 *                made absolute: exec, kill and delete read it again
 *   exec.fifo    from create until start: the init holds it open and waits
 *                for the byte start writes (the status is "created" while
 *                it exists)
 * ======================================================================== */

#define OCI_DEFAULT_ROOT "/run/lrun"
#define OCI_VERSION "1.1.0"

/* runc's global options */
struct oci_options {
    const char *root;     /* --root: the state directory */
    const char *log;      /* --log FILE: errors appended there too */
    bool log_json;        /* --log-format json */
    bool systemd_cgroup;  /* --systemd-cgroup, --cgroup-manager systemd */
};

/* What the status file keeps of a container. */
struct oci_state {
    char *id, *bundle, *rootfs, *created;
    char *cgroup; /* the container's cgroup path (linux.cgroupsPath), or NULL */
    pid_t pid;
    int64_t pid_start;
    char **annotations; /* key, value, ... */
};

static void oci_state_release(struct oci_state *st)
{
    free(st->id);
    free(st->bundle);
    free(st->rootfs);
    free(st->created);
    free(st->cgroup);
    lrun_strv_free(st->annotations);
    *st = (struct oci_state){0};
}
#define autostate cleanup(oci_state_release)

/* oci_id_check: runc's rule for ids: letters, digits, "_+-.", and not "."
 * or "..": an id is a directory name under --root. */
static int oci_id_check(const char *id, lrun_error **err)
{
    if (!id || !*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.") != strlen(id) ||
        strlen(id) > 1024)
        return fail_code(err, 1, "invalid container id format: \"%s\"", id ? id : "");
    return 0;
}

static char *oci_dir(const struct oci_options *o, const char *id) { return xasprintf("%s/%s", o->root, id); }

static void oci_state_json_write(yajl_gen g, const struct oci_state *st, const char *status)
{
    yajl_gen_map_open(g);
    jw_key_str(g, "ociVersion", OCI_VERSION);
    jw_key_str(g, "id", st->id);
    jw_key_int(g, "pid", strcmp(status, "stopped") == 0 ? 0 : st->pid);
    jw_key_str(g, "status", status);
    jw_key_str(g, "bundle", st->bundle);
    jw_key_str(g, "rootfs", st->rootfs);
    jw_key_str(g, "created", st->created);
    jw_key_str(g, "owner", "");
    if (strv_len(st->annotations))
        jw_key_pairs(g, "annotations", st->annotations);
}

/* oci_state_text: the runtime-spec state JSON (what state prints and what
 * hooks read on stdin). */
static char *oci_state_text(const struct oci_state *st, const char *status, bool pretty)
{
    autogen yajl_gen g = json_writer(pretty);
    oci_state_json_write(g, st, status);
    yajl_gen_map_close(g);
    return json_writer_text(g, NULL);
}

static int oci_state_save(const struct oci_options *o, const struct oci_state *st, lrun_error **err)
{
    autogen yajl_gen g = json_writer(false);
    oci_state_json_write(g, st, "created");
    jw_key_int(g, "lrun.pid-start", st->pid_start);
    if (st->cgroup)
        jw_key_str(g, "lrun.cgroup", st->cgroup);
    autogen yajl_gen fds = json_writer(false);
    yajl_gen_array_open(fds);
    for (int fd = 0; fd < 3; fd++) {
        char link[64], target[PATH_MAX] = "";
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        jw_str(fds, n > 0 ? target : "/dev/null");
    }
    yajl_gen_array_close(fds);
    autofree char *fds_text = json_writer_text(fds, NULL);
    jw_key_str(g, "external_descriptors", fds_text);
    yajl_gen_map_close(g);
    size_t len;
    autofree char *text = json_writer_text(g, &len);
    autofree char *dir = oci_dir(o, st->id);
    autoclose int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "open %s", dir);
    return write_file_atomic(fd, "status", text, len, 0600, err);
}

static int oci_state_load(const struct oci_options *o, const char *id, struct oci_state *st, lrun_error **err)
{
    *st = (struct oci_state){0};
    if (oci_id_check(id, err) < 0)
        return -1;
    autofree char *path = xasprintf("%s/%s/status", o->root, id);
    autobuf struct buf text = {0};
    lrun_error *read_err = NULL;
    if (read_file_at(AT_FDCWD, path, &text, &read_err) < 0) {
        lrun_error_free(read_err);
        return fail_code(err, 1, "container \"%s\" does not exist", id);
    }
    autojson yajl_val v = json_parse(text.data, path, err);
    if (!v)
        return -1;
    st->id = xstrdup(id);
    st->bundle = xstrdup(json_string(v, "bundle"));
    st->rootfs = xstrdup(json_string(v, "rootfs"));
    st->created = xstrdup(json_string(v, "created"));
    st->pid = (pid_t)json_int(v, "pid", 0);
    st->pid_start = json_int(v, "lrun.pid-start", 0);
    st->cgroup = xstrdup(json_string(v, "lrun.cgroup"));
    st->annotations = json_pairs(json_get(v, "annotations"));
    return 0;
}

/* oci_alive: the container's init still runs (a zombie does not). */
static bool oci_alive(const struct oci_state *st)
{
    return st->pid > 0 && process_start_time(st->pid) == st->pid_start && process_alive(st->pid);
}

/* oci_freezer: the file that freezes the cgroup (v1 freezer.state, v2
 * cgroup.freeze) and the values that freeze and thaw it. */
static char *oci_freezer(const char *cgroup, const char **frozen, const char **thawed)
{
    if (!cgroup || cgroup_detect() == CGROUP_NONE)
        return NULL;
    bool v2 = cgroup_host_version == CGROUP_V2;
    autofree char *dir = cgroup_dir(cgroup, v2 ? "" : "freezer");
    *frozen = v2 ? "1" : "FROZEN";
    *thawed = v2 ? "0" : "THAWED";
    return dir ? xasprintf("%s/%s", dir, v2 ? "cgroup.freeze" : "freezer.state") : NULL;
}

static bool oci_frozen(const char *cgroup)
{
    const char *frozen, *thawed;
    autofree char *file = oci_freezer(cgroup, &frozen, &thawed);
    autobuf struct buf text = {0};
    return file && read_file_at(AT_FDCWD, file, &text, NULL) == 0 && has_prefix(text.data, frozen);
}

/* oci_freeze: pause (freeze) or resume (thaw) the container's cgroup. */
static int oci_freeze(const char *cgroup, bool freeze, lrun_error **err)
{
    const char *frozen, *thawed;
    autofree char *file = oci_freezer(cgroup, &frozen, &thawed);
    if (!file)
        return fail_code(err, 1, "the container has no freezer cgroup to %s", freeze ? "pause" : "resume");
    autofree char *dir = xstrndup(file, (size_t)(strrchr(file, '/') - file));
    return cgroup_write(dir, strrchr(file, '/') + 1, freeze ? frozen : thawed, err);
}

/* oci_thaw_process: whatever freezer cgroup pid is in (its own, or one
 * someone moved it to) thawed, so a SIGKILL can take it. */
static void oci_thaw_process(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, path, &text, NULL) < 0)
        return;
    for (char *save = NULL, *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *cg = strchr(line, ':') ? strchr(strchr(line, ':') + 1, ':') : NULL;
        bool freezer = strstr(line, ":freezer:") != NULL, unified = has_prefix(line, "0::");
        if (cg && (freezer || (unified && cgroup_detect() == CGROUP_V2)) && strlen(cg + 1) > 1)
            oci_freeze(cg + 1, false, NULL);
    }
}

/* oci_status: "created" (waiting for start), "running", "paused" or "stopped". */
static const char *oci_status(const struct oci_options *o, const struct oci_state *st)
{
    if (!oci_alive(st))
        return "stopped";
    if (oci_frozen(st->cgroup))
        return "paused";
    autofree char *fifo = xasprintf("%s/%s/exec.fifo", o->root, st->id);
    return access(fifo, F_OK) == 0 ? "created" : "running";
}

/* oci_spec_load: the config.json create kept. */
static int oci_spec_load(const struct oci_options *o, const char *id, struct spec *s, lrun_error **err)
{
    autofree char *path = xasprintf("%s/%s/config.json", o->root, id);
    return spec_read_file(path, s, err);
}

/* oci_spec_check: what runc refuses before it starts anything: a host
 * name without its own UTS namespace (it would rename the host), a sysctl
 * of a namespace the container does not own. */
static int oci_spec_check(const struct spec *s, lrun_error **err)
{
    bool uts = s->namespaces[NS_UTS].wanted, ipc = s->namespaces[NS_IPC].wanted, net = s->namespaces[NS_NETWORK].wanted;
    if ((s->hostname && *s->hostname && !uts) || (s->domainname && *s->domainname && !uts))
        return fail_code(err, 1, "a hostname or domainname needs a new uts namespace");
    for (size_t i = 0; s->sysctl && s->sysctl[i] && s->sysctl[i + 1]; i += 2) {
        const char *key = s->sysctl[i], *value = s->sysctl[i + 1];
        bool ipc_key = has_prefix(key, "fs.mqueue.") || has_prefix(key, "kernel.msg") || has_prefix(key, "kernel.sem") ||
                       has_prefix(key, "kernel.shm");
        bool uts_key = strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0;
        if ((ipc_key && !ipc) || (uts_key && !uts) || (has_prefix(key, "net.") && !net))
            return fail_code(err, 1, "sysctl %s needs the container's own namespace for it", key);
        if (strcmp(key, "kernel.hostname") == 0) /* crun: the hostname member says it */
            return fail_code(err, 1, "sysctl kernel.hostname: use the hostname member instead");
        if (strcmp(key, "kernel.domainname") == 0 && s->domainname && strcmp(value, s->domainname) != 0)
            return fail_code(err, 1, "sysctl kernel.domainname %s conflicts with domainname %s", value, s->domainname);
    }
    return 0;
}

/* oci_default_devices: the nodes runc gives every container besides the
 * spec's (null, zero, full, random, urandom, tty), and, when the spec
 * has a device policy, the rules that let them (and the terminal's) be
 * used after it. */
static void oci_default_devices(struct spec *s)
{
    static const struct {
        const char *path;
        uint32_t major, minor;
    } nodes[] = {{"/dev/null", 1, 3}, {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                 {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
    size_t n = sizeof nodes / sizeof *nodes;
    s->devices = xrealloc(s->devices, (s->n_devices + n + 1) * sizeof *s->devices);
    for (size_t i = 0; i < n; i++) {
        bool listed = false;
        for (size_t j = 0; j < s->n_devices; j++)
            listed |= strcmp(s->devices[j].path, nodes[i].path) == 0;
        if (!listed)
            s->devices[s->n_devices++] = (struct spec_device){xstrdup(nodes[i].path), 'c', nodes[i].major,
                                                              nodes[i].minor, 0666, 0, 0};
    }
    struct spec_resources *r = &s->resources;
    if (!r->n_devices)
        return;
    static const int64_t allowed[][2] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {136, -1}};
    size_t m = sizeof allowed / sizeof *allowed;
    r->devices = xrealloc(r->devices, (r->n_devices + m + 1) * sizeof *r->devices);
    for (size_t i = 0; i < m; i++)
        r->devices[r->n_devices++] = (struct spec_device_rule){true, 'c', allowed[i][0], allowed[i][1], "rwm"};
}

/* oci_bundle_read: bundle/config.json as a spec (root.path made absolute,
 * the root checked). */
static int oci_bundle_read(const char *bundle, const char *config, bool console_socket, bool detached, struct spec *s,
                           lrun_error **err)
{
    autofree char *path = config[0] == '/' ? xstrdup(config) : xasprintf("%s/%s", bundle, config);
    if (spec_read_file(path, s, err) < 0)
        return -1;
    if (s->root_layer)
        return fail_code(err, 1, "%s: the annotation lrun.container-layer is lrun's own", path);
    if (s->root_path[0] != '/') {
        char *absolute = xasprintf("%s/%s", bundle, s->root_path);
        free(s->root_path);
        s->root_path = absolute;
    }
    struct stat st;
    if (stat(s->root_path, &st) < 0 || !S_ISDIR(st.st_mode))
        return fail_code(err, 1, "rootfs (%s) does not exist", s->root_path);
    if (!s->namespaces[NS_MOUNT].wanted || s->namespaces[NS_MOUNT].path)
        return fail_code(err, 1, "%s: linux.namespaces: lrun needs a new mount namespace", path);
    if (oci_spec_check(s, err) < 0)
        return error_prefix(err, "%s", path);
    oci_default_devices(s);
    if (s->process.terminal && !console_socket && detached)
        return fail_code(err, 1, "a terminal with a detached container: use --console-socket");
    /* systemd's form, "slice:prefix:name", as a cgroupfs path */
    char *colon = s->cgroups_path ? strchr(s->cgroups_path, ':') : NULL;
    if (colon && strchr(colon + 1, ':')) {
        char *second = strchr(colon + 1, ':');
        char *path = xasprintf("/%.*s/%.*s-%s.scope", (int)(colon - s->cgroups_path), s->cgroups_path,
                               (int)(second - colon - 1), colon + 1, second + 1);
        free(s->cgroups_path);
        s->cgroups_path = path;
    }
    /* systemd's socket activation (LISTEN_FDS): the descriptors pass on,
     * and the container's init is the listener */
    const char *listen_fds = getenv("LISTEN_FDS");
    if (listen_fds && atoi(listen_fds) > 0) {
        autofree char *fds = xasprintf("LISTEN_FDS=%d", atoi(listen_fds));
        env_set(&s->process.env, fds);
        env_set(&s->process.env, "LISTEN_PID=1");
    }
    return 0;
}

/* oci_created: the runtime's part once the init exists: createRuntime and
 * prestart hooks, in lrun's namespaces; the state the init gets. */
static int oci_created(const struct launch *l, pid_t pid, struct buf *state, lrun_error **err)
{
    struct oci_state *st = l->created_arg;
    st->pid = pid;
    autofree char *text = oci_state_text(st, "creating", false);
    if (hooks_run(l->spec, HOOK_PRESTART, text, err) < 0 || hooks_run(l->spec, HOOK_CREATE_RUNTIME, text, err) < 0)
        return -1;
    buf_adds(state, text);
    return 0;
}

/* oci_console_connect: runc's --console-socket: a unix socket the
 * terminal's master is sent to. */
static int oci_console_connect(const char *path, lrun_error **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path)
        return fail_code(err, 1, "console socket path too long: %s", path);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fail_errno(err, "connect to the console socket %s", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int oci_pid_file(const char *path, pid_t pid, lrun_error **err)
{
    if (!path)
        return 0;
    char text[16];
    int n = snprintf(text, sizeof text, "%d", (int)pid);
    const char *base;
    autofree char *parent = path_parent(path, &base);
    autoclose int dir_fd = open(strchr(path, '/') ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return fail_errno(err, "pid file %s", path);
    return write_file_atomic(dir_fd, base, text, (size_t)n, 0644, err);
}

/* What create is told besides the id. */
struct oci_create_options {
    const char *bundle;         /* default: the current directory */
    const char *config;         /* default: config.json */
    const char *pid_file;
    const char *console_socket;
    int preserve_fds;
    bool no_pivot;
    bool detached; /* create, run --detach: nobody here to take a terminal */
};

/* oci_create_in: create with the state directory made; *pty gets the
 * terminal's master when there is a terminal and no console socket. */
static int oci_create_in(const struct oci_options *o, const char *id, const struct oci_create_options *co,
                         struct spec *spec, int dir_fd, int *pty, lrun_error **err)
{
    autofree char *bundle = realpath(co->bundle ? co->bundle : ".", NULL);
    if (!bundle)
        return fail_errno(err, "bundle %s", co->bundle ? co->bundle : ".");
    if (oci_bundle_read(bundle, co->config ? co->config : "config.json", co->console_socket, co->detached, spec, err) < 0)
        return -1;
    /* a cgroup of its own, as runc gives one (the limits, pause, kill --all) */
    if (!spec->cgroups_path && cgroup_detect() != CGROUP_NONE)
        spec->cgroups_path = xasprintf("/lrun/%s", id);
    autofree char *text = spec_to_json(spec, NULL, false);
    if (write_file_at(dir_fd, "config.json", text, strlen(text), 0600, err) < 0)
        return -1;
    if (mkfifoat(dir_fd, "exec.fifo", 0600) < 0)
        return fail_errno(err, "mkfifo exec.fifo");
    autoclose int start_fd = openat(dir_fd, "exec.fifo", O_RDWR | O_CLOEXEC);
    autoclose int console = co->console_socket ? oci_console_connect(co->console_socket, err) : -1;
    if (start_fd < 0)
        return fail_errno(err, "open exec.fifo");
    if (co->console_socket && console < 0)
        return -1;
    cleanup(seccomp_program_release) struct seccomp_program seccomp = {0};
    if (spec->seccomp && seccomp_program_prepare(o->root, spec->seccomp, spec->process.caps[CAPS_BOUNDING], &seccomp,
                                                 err) < 0)
        return -1;
    autostate struct oci_state st = {.id = xstrdup(id), .bundle = xstrdup(bundle), .rootfs = xstrdup(spec->root_path),
                                     .created = time_rfc3339_now(), .annotations = strv_copy(spec->annotations),
                                     .cgroup = xstrdup(spec->cgroups_path)};
    const char *listen_fds = getenv("LISTEN_FDS");
    int preserve = co->preserve_fds + (listen_fds && atoi(listen_fds) > 0 ? atoi(listen_fds) : 0);
    struct launch l = {.spec = spec, .seccomp = seccomp.code ? &seccomp : NULL, .no_pivot = co->no_pivot,
                       .console_socket = console, .terminal = -1, .stdio = {-1, -1, -1},
                       .preserve_fds = preserve, .start_fd = start_fd, .created = oci_created,
                       .created_arg = &st, .sync_fd = -1};
    pid_t pid = container_launch(&l, pty, err);
    if (pid < 0)
        return -1;
    st.pid = pid;
    st.pid_start = process_start_time(pid);
    if (oci_state_save(o, &st, err) < 0 || oci_pid_file(co->pid_file, pid, err) < 0) {
        kill(pid, SIGKILL);
        return -1;
    }
    return pid;
}

/* oci_create: runc create: the container set up, its init waiting for
 * start; returns the init's pid.  On failure nothing is left. */
static pid_t oci_create(const struct oci_options *o, const char *id, const struct oci_create_options *co, int *pty,
                        lrun_error **err)
{
    if (oci_id_check(id, err) < 0 || mkdir_p(o->root, 0700, err) < 0)
        return -1;
    autofree char *dir = oci_dir(o, id);
    if (mkdir(dir, 0700) < 0)
        return errno == EEXIST ? fail_code(err, 1, "container with id exists: %s", id)
                               : fail_errno(err, "create %s", dir);
    autoclose int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    autospec struct spec spec = {0};
    pid_t pid = dir_fd < 0 ? fail_errno(err, "open %s", dir) : oci_create_in(o, id, co, &spec, dir_fd, pty, err);
    if (pid < 0) {
        autoclose int root_fd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        lrun_error *ignored = NULL;
        if (root_fd >= 0)
            remove_tree_at(root_fd, id, &ignored);
        lrun_error_free(ignored);
        if (err && *err && (*err)->exit_code == EXIT_LRUN)
            (*err)->exit_code = 1;
    }
    return pid;
}

/* oci_start: the byte that lets a created container's init exec; then
 * the poststart hooks. */
static int oci_start(const struct oci_options *o, const char *id, lrun_error **err)
{
    autostate struct oci_state st = {0};
    if (oci_state_load(o, id, &st, err) < 0)
        return -1;
    const char *status = oci_status(o, &st);
    if (strcmp(status, "created") != 0)
        return fail_code(err, 1, "cannot start a container that is %s: container not in created state", status);
    autofree char *fifo = xasprintf("%s/%s/exec.fifo", o->root, id);
    autoclose int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fail_code(err, 1, "cannot start container %s: its init is gone", id);
    if (write(fd, "0", 1) != 1)
        return fail_errno(err, "start container %s", id);
    unlink(fifo);
    autospec struct spec spec = {0};
    lrun_error *hook_err = NULL;
    autofree char *text = oci_state_text(&st, "running", false);
    if (oci_spec_load(o, id, &spec, &hook_err) < 0 || hooks_run(&spec, HOOK_POSTSTART, text, &hook_err) < 0)
        fprintf(stderr, "lrun: warning: %s\n", hook_err->message);
    lrun_error_free(hook_err);
    return 0;
}

/* oci_pid_namespace_members: the pids (host view) that share pid's pid
 * namespace, when that is not lrun's own (else only pid). */
static pid_t *oci_processes(pid_t pid, size_t *n)
{
    pid_t *pids = xcalloc(2, sizeof *pids);
    *n = 0;
    pids[(*n)++] = pid;
    char path[64], mine[64] = "", target[64] = "", other[64];
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
    if (readlink("/proc/self/ns/pid", mine, sizeof mine - 1) < 0 || readlink(path, target, sizeof target - 1) < 0 ||
        strcmp(mine, target) == 0)
        return pids;
    DIR *dir = opendir("/proc");
    struct dirent *de;
    while (dir && (de = readdir(dir))) {
        pid_t p = (pid_t)atoi(de->d_name);
        if (p <= 0 || p == pid)
            continue;
        snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)p);
        memset(other, 0, sizeof other);
        if (readlink(path, other, sizeof other - 1) > 0 && strcmp(other, target) == 0) {
            pids = xrealloc(pids, (*n + 2) * sizeof *pids);
            pids[(*n)++] = p;
        }
    }
    if (dir)
        closedir(dir);
    return pids;
}

static int oci_kill(const struct oci_options *o, const char *id, int sig, bool all, lrun_error **err)
{
    autostate struct oci_state st = {0};
    if (oci_state_load(o, id, &st, err) < 0)
        return -1;
    if (strcmp(oci_status(o, &st), "stopped") == 0)
        return fail_code(err, 1, "container not running");
    size_t n = 1;
    autofree pid_t *pids = all ? oci_processes(st.pid, &n) : NULL;
    for (size_t i = 0; i < n; i++)
        if (kill(pids ? pids[i] : st.pid, sig) < 0 && i == 0)
            return fail_errno(err, "kill container %s", id);
    return 0;
}

/* oci_delete: a stopped or created container's state (-f: a running
 * one is killed first), then its poststop hooks. */
static int oci_delete(const struct oci_options *o, const char *id, bool force, lrun_error **err)
{
    autostate struct oci_state st = {0};
    autofree char *dir = oci_dir(o, id);
    if (force && oci_id_check(id, NULL) == 0 && access(dir, F_OK) < 0 && errno == ENOENT)
        return 0; /* as crun: -f of a container that is gone is done */
    if (oci_state_load(o, id, &st, err) < 0)
        return -1;
    const char *status = oci_status(o, &st);
    if (strcmp(status, "stopped") != 0) {
        if (!force && strcmp(status, "created") != 0) /* a created one goes without -f, as with runc */
            return fail_code(err, 1, "cannot delete container %s that is not stopped: %s", id, status);
        size_t n;
        autofree pid_t *pids = oci_processes(st.pid, &n);
        for (size_t i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        for (size_t i = 0; i < n; i++) /* a frozen process dies only once thawed */
            oci_thaw_process(pids[i]);
        process_wait_gone(st.pid, 10000);
    }
    autospec struct spec spec = {0};
    lrun_error *hook_err = NULL;
    autofree char *text = oci_state_text(&st, "stopped", false);
    if (oci_spec_load(o, id, &spec, &hook_err) < 0 || hooks_run(&spec, HOOK_POSTSTOP, text, &hook_err) < 0)
        fprintf(stderr, "lrun: warning: %s\n", hook_err->message);
    lrun_error_free(hook_err);
    if (spec.cgroups_path && cgroup_remove(spec.cgroups_path, err) < 0)
        return -1;
    autoclose int root_fd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return fail_errno(err, "open %s", o->root);
    return remove_tree_at(root_fd, id, err);
}

/* What exec is told besides the process. */
struct oci_exec_options {
    const char *pid_file;
    const char *console_socket;
    int preserve_fds;
    bool detach;
};

/* oci_exec: process p in the container's namespaces and root; without
 * detach wait for it (a terminal proxied when no console socket is given)
 * and give its status in *exit_code. */
static int oci_exec(const struct oci_options *o, const char *id, const struct spec_process *p,
                    const struct oci_exec_options *eo, int *exit_code, lrun_error **err)
{
    autostate struct oci_state st = {0};
    if (oci_state_load(o, id, &st, err) < 0)
        return -1;
    if (strcmp(oci_status(o, &st), "stopped") == 0)
        return fail_code(err, 1, "cannot exec in a stopped container");
    autospec struct spec spec = {0};
    if (oci_spec_load(o, id, &spec, err) < 0)
        return -1;
    cleanup(seccomp_program_release) struct seccomp_program seccomp = {0};
    if (spec.seccomp && seccomp_program_prepare(o->root, spec.seccomp, p->caps[CAPS_BOUNDING], &seccomp, err) < 0)
        return -1;
    autoclose int console = eo->console_socket ? oci_console_connect(eo->console_socket, err) : -1;
    if (eo->console_socket && console < 0)
        return -1;
    struct exec_io io = {.console_socket = console, .preserve_fds = eo->preserve_fds};
    sigset_t set;
    int sigfd = eo->detach ? -1 : waiter_signals(&set), pty = -1;
    pid_t pid = exec_launch(st.pid, p, seccomp.code ? &seccomp : NULL, spec.cgroups_path, true, &io, &pty, err);
    if (pid < 0 || oci_pid_file(eo->pid_file, pid, err) < 0 || eo->detach) {
        if (pty >= 0)
            close(pty);
        if (sigfd >= 0)
            close(sigfd), sigprocmask(SIG_UNBLOCK, &set, NULL);
        *exit_code = 0;
        return pid < 0 || (*err) ? -1 : 0;
    }
    if (pty >= 0)
        terminal_raw();
    struct waiter w = {.pid = pid, .sigfd = sigfd, .pty = pty, .input = pty >= 0 ? 0 : -1,
                       .output = STDOUT_FILENO, .pipes = {-1, -1}, .log_fd = -1};
    *exit_code = container_wait(&w);
    terminal_restore();
    if (pty >= 0)
        close(pty);
    close(sigfd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

/* ========================================================================
 * BUILD: a Containerfile (Dockerfile) made into an image, one image per
 * instruction as podman build --layers does: RUN runs in an lrun container
 * (the same security defaults) and its layer is committed; COPY and ADD
 * copy from the context (what .dockerignore leaves) into a container's
 * layer, committed too; the other instructions commit a new config.  An
 * instruction already built over the same image (and, for COPY and ADD,
 * the same files) is taken from the cache: <root>/lrun/build-cache.
 * ======================================================================== */

struct build_instruction {
    char *keyword; /* upper case */
    char *args;    /* the rest of the line, continuations joined */
    char *text;    /* as podman prints it: KEYWORD args */
};

struct build {
    const char *root;
    int context_fd;
    char **ignore;          /* .dockerignore's patterns ("!..." keeps) */
    char **build_args;      /* --build-arg KEY=VALUE */
    char **args;            /* ARG's values in scope, KEY=VALUE */
    char *image;            /* the current image's ID (NULL before FROM) */
    struct build_instruction *steps;
    size_t n_steps;
};

static void build_release(struct build *b)
{
    if (b->context_fd >= 0)
        close(b->context_fd);
    lrun_strv_free(b->ignore);
    lrun_strv_free(b->args);
    free(b->image);
    for (size_t i = 0; i < b->n_steps; i++) {
        free(b->steps[i].keyword);
        free(b->steps[i].args);
        free(b->steps[i].text);
    }
    free(b->steps);
}

/* containerfile_parse: the instructions, comments and blank lines left
 * out, "\" continuations joined; an unknown instruction is an error. */
static int containerfile_parse(const char *text, struct build *b, lrun_error **err)
{
    static const char *const known[] = {"FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "CMD",
                                        "ENTRYPOINT", "EXPOSE", "LABEL", "VOLUME", "STOPSIGNAL", "SHELL", "ONBUILD",
                                        "MAINTAINER", "HEALTHCHECK", NULL};
    autostrv char **lines = strv_split(text, "\n");
    struct buf joined = {0};
    for (size_t i = 0; lines[i]; i++) {
        const char *line = lines[i] + strspn(lines[i], " \t");
        if (*line == '#' && !joined.len)
            continue;
        if (*line == '#')
            continue; /* a comment inside a continued instruction */
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        bool more = n && line[n - 1] == '\\';
        buf_add(&joined, line, more ? n - 1 : n);
        if (more && lines[i + 1])
            continue;
        autofree char *instr = buf_steal(&joined);
        joined = (struct buf){0};
        if (!instr || !*instr)
            continue;
        size_t k = strcspn(instr, " \t");
        autofree char *keyword = xstrndup(instr, k);
        for (char *p = keyword; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (!strv_contains((char *const *)known, keyword)) {
            buf_free(&joined);
            return fail(err, "Containerfile line %zu: unknown instruction: %s", i + 1, keyword);
        }
        const char *rest = instr + k + strspn(instr + k, " \t");
        b->steps = xrealloc(b->steps, (b->n_steps + 1) * sizeof *b->steps);
        b->steps[b->n_steps++] = (struct build_instruction){xstrdup(keyword), xstrdup(rest),
                                                            xasprintf("%s %s", keyword, rest)};
    }
    buf_free(&joined);
    if (!b->n_steps || strcmp(b->steps[0].keyword, "FROM") != 0) {
        bool arg_first = b->n_steps && strcmp(b->steps[0].keyword, "ARG") == 0;
        if (!arg_first)
            return fail(err, "no FROM statement found");
    }
    return 0;
}

/* build_ignored: .dockerignore's verdict on a path of the context (the
 * last matching pattern wins; a pattern also covers what is below it). */
static bool build_ignored(char *const *patterns, const char *path)
{
    bool ignored = false;
    for (size_t i = 0; patterns && patterns[i]; i++) {
        bool keep = patterns[i][0] == '!';
        const char *p = patterns[i] + keep;
        while (has_prefix(p, "./") || *p == '/')
            p += *p == '/' ? 1 : 2;
        size_t n = strlen(p);
        bool match = fnmatch(p, path, FNM_PATHNAME) == 0 ||
                     (strncmp(p, path, n) == 0 && path[n] == '/') ||
                     (has_prefix(p, "**/") && fnmatch(p + 3, path, 0) == 0);
        if (!match) { /* a pattern naming a directory covers its content */
            autofree char *copy = xstrdup(path);
            for (char *slash = strrchr(copy, '/'); slash && !match; slash = strrchr(copy, '/')) {
                *slash = '\0';
                match = fnmatch(p, copy, FNM_PATHNAME) == 0;
            }
        }
        if (match)
            ignored = !keep;
    }
    return ignored;
}

/* context_copy: the context's entry rel (opened in from_fd as name) to
 * to_fd as to_name, leaving out what .dockerignore names. */
static int context_copy(struct build *b, int from_fd, const char *name, const char *rel, int to_fd,
                        const char *to_name, lrun_error **err)
{
    if (*rel && build_ignored(b->ignore, rel))
        return 0;
    struct stat st;
    if (fstatat(from_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(err, "stat %s", rel);
    if (!S_ISDIR(st.st_mode))
        return entry_copy(from_fd, name, to_fd, to_name, false, err);
    struct stat old;
    if (fstatat(to_fd, to_name, &old, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(old.st_mode) &&
        remove_tree_at(to_fd, to_name, err) < 0)
        return -1;
    if (mkdirat(to_fd, to_name, st.st_mode & 07777) < 0 && errno != EEXIST)
        return fail_errno(err, "create %s", to_name);
    autoclose int in = openat(from_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    autoclose int out = openat(to_fd, to_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0 || out < 0)
        return fail_errno(err, "open %s", rel);
    autostrv char **names = dir_entries_sorted(in, err);
    if (!names)
        return -1;
    for (size_t i = 0; names[i]; i++) {
        autofree char *child = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
        if (context_copy(b, in, names[i], child, out, names[i], err) < 0)
            return -1;
    }
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (fchown(out, 0, 0) < 0 || fchmod(out, st.st_mode & 07777) < 0 || futimens(out, times) < 0)
        return fail_errno(err, "set the owner, mode and times of %s", rel);
    return 0;
}

/* context_digest: what COPY/ADD would take from the context, hashed (the
 * cache's key for it): names, modes, sizes, link targets, contents. */
static void context_digest(struct build *b, int dir_fd, const char *name, const char *rel, SHA256_CTX *sha)
{
    if (*rel && build_ignored(b->ignore, rel))
        return;
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    char head[64];
    int n = snprintf(head, sizeof head, "%o %lld ", (unsigned)st.st_mode, (long long)st.st_size);
    SHA256_Update(sha, rel, strlen(rel) + 1);
    SHA256_Update(sha, head, (size_t)n);
    autoclose int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
    if (S_ISREG(st.st_mode) && fd >= 0) {
        char buf[65536];
        ssize_t got;
        while ((got = read(fd, buf, sizeof buf)) > 0)
            SHA256_Update(sha, buf, (size_t)got);
    } else if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t got = readlinkat(dir_fd, name, target, sizeof target);
        if (got > 0)
            SHA256_Update(sha, target, (size_t)got);
    } else if (S_ISDIR(st.st_mode) && fd >= 0) {
        autostrv char **names = dir_entries_sorted(fd, NULL);
        for (size_t i = 0; names && names[i]; i++) {
            autofree char *child = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
            context_digest(b, fd, names[i], child, sha);
        }
    }
}

/* build_vars: what $VAR expands to in an instruction: ARG values, then the
 * image's ENV over them. */
static char **build_vars(struct build *b, const struct image_settings *settings)
{
    char **vars = strv_copy(b->args);
    for (size_t i = 0; settings->env && settings->env[i]; i++)
        env_set(&vars, settings->env[i]);
    return vars;
}

/* --- the cache: lines "<key> <image ID>" --- */

static char *build_cache_lookup(struct build *b, const char *key)
{
    autofree char *path = xasprintf("%s/lrun/build-cache", b->root);
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, path, &text, NULL) < 0)
        return NULL;
    char *found = NULL;
    autostrv char **lines = strv_split(text.data, "\n");
    for (size_t i = 0; lines[i]; i++)
        if (strlen(lines[i]) == 129 && strncmp(lines[i], key, 64) == 0) {
            free(found);
            found = xstrdup(lines[i] + 65);
        }
    return found;
}

static void build_cache_add(struct build *b, const char *key, const char *id)
{
    autofree char *dir = xasprintf("%s/lrun", b->root);
    mkdir(dir, 0700);
    autofree char *path = xasprintf("%s/build-cache", dir);
    autoclose int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    autofree char *line = xasprintf("%s %s\n", key, id);
    if (fd >= 0)
        write_all(fd, line, strlen(line));
}

/* --- one instruction ---
 * Each returns the new image's ID in *id (the cache's or a new one). */

/* build_container: a container of the current image for RUN (command)
 * or COPY/ADD (no command run); the image's entrypoint is not used, ARG
 * values are in its environment, as buildah's RUN has them. */
static char *build_container(struct build *b, char **command, lrun_error **err)
{
    autostore lrun_store *s = NULL;
    if (lrun_store_open(b->root, LRUN_STORE_WRITE, &s, err) < 0)
        return NULL;
    struct image *img = store_image_by_id(s, b->image);
    if (!img) {
        fail(err, "image %.12s is gone", b->image);
        return NULL;
    }
    autoconfig struct container_config c = {.image = xstrdup(b->image), .network = xstrdup("host"),
                                            .seccomp = xstrdup("default"), .no_new_privileges = true,
                                            .stop_timeout = 10, .env = strv_copy(b->args)};
    struct container *ct = container_create(s, img, &c, command, "", err);
    return ct ? xstrdup(ct->id) : NULL;
}

/* build_commit: the container's layer as the new image over the current
 * one, with history entry created_by; the container goes either way. */
static int build_commit(struct build *b, const char *container, const char *created_by, char **id, lrun_error **err)
{
    int r = -1;
    {
        autostore lrun_store *s = NULL;
        if (lrun_store_open(b->root, LRUN_STORE_WRITE, &s, err) == 0) {
            struct container *ct = container_lookup(s, container, err);
            struct image *base = store_image_by_id(s, b->image);
            autojson yajl_val config = ct && base ? image_config(s, base, err) : NULL;
            if (config) {
                autosettings struct image_settings settings = {0};
                image_settings_read(config, &settings);
                struct history_entry entry = {.created_by = created_by};
                struct commit_request req = {.base = base, .layer = ct->layer, .settings = &settings,
                                             .history = &entry, .n_history = 1};
                r = image_commit_request(s, &req, id, err);
            }
        }
    }
    lrun_error *ignored = NULL;
    container_remove(b->root, container, true, true, &ignored);
    lrun_error_free(ignored);
    return r;
}

static int build_run(struct build *b, const struct build_instruction *step, char **id, lrun_error **err)
{
    autofree char *container = NULL;
    {
        autostore lrun_store *s = NULL;
        if (lrun_store_open(b->root, LRUN_STORE_READ, &s, err) < 0)
            return -1;
        struct image *img = store_image_by_id(s, b->image);
        autojson yajl_val config = img ? image_config(s, img, err) : NULL;
        if (!config)
            return -1;
        autosettings struct image_settings settings = {0};
        image_settings_read(config, &settings);
        autostrv char **command = dockerfile_command(step->args, settings.shell);
        lrun_store_close(steal_pointer(&s));
        if (!(container = build_container(b, command, err)))
            return -1;
    }
    int code = 0;
    fflush(stdout);
    if (container_start(b->root, container, true, &code, err) < 0 || code != 0) {
        if (!*err)
            fail_code(err, code, "building at STEP \"%s\": while running runtime: exit status %d", step->text, code);
        lrun_error *ignored = NULL;
        container_remove(b->root, container, true, true, &ignored);
        lrun_error_free(ignored);
        return -1;
    }
    autofree char *created_by = xasprintf("/bin/sh -c %s", step->args);
    return build_commit(b, container, created_by, id, err);
}

/* What COPY and ADD copy, into which container. */
struct build_copy {
    struct build *b;
    const char *root, *layer;
    char **sources;   /* in the context */
    const char *dest; /* absolute, in the container */
    bool add;         /* ADD: a local tar is extracted */
};

static bool is_tar_name(const char *name)
{
    return has_suffix(name, ".tar") || has_suffix(name, ".tar.gz") || has_suffix(name, ".tgz") ||
           has_suffix(name, ".tar.xz") || has_suffix(name, ".tar.zst") || has_suffix(name, ".tar.bz2");
}

static int build_copy_in_child(void *arg, lrun_error **err)
{
    struct build_copy *c = arg;
    if (overlay_mount_layer(c->root, c->layer, err) < 0)
        return -1;
    autofree char *merged = xasprintf("%s/overlay/%s/merged", c->root, c->layer);
    autoclose int root_fd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return fail_errno(err, "open %s", merged);
    bool to_dir = has_suffix(c->dest, "/") || strv_len(c->sources) > 1;
    autoclose int existing = openat2_in_root(root_fd, c->dest, O_RDONLY | O_DIRECTORY);
    to_dir |= existing >= 0;
    autofree char *base = NULL;
    autofree char *parent = path_split_last(c->dest, &base);
    autoclose int dir = to_dir ? root_path_open(root_fd, c->dest, CREATE_DIRECTORY, 0, err)
                               : root_path_open(root_fd, parent, CREATE_DIRECTORY, 0, err);
    if (dir < 0)
        return -1;
    autoclose int dir_fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return fail_errno(err, "open %s in the container", c->dest);
    for (size_t i = 0; c->sources[i]; i++) {
        autofree char *clean = path_clean(c->sources[i]);
        const char *rel = clean + 1; /* inside the context, as path_clean made it absolute */
        autofree char *src_base = NULL;
        autofree char *src_parent = path_split_last(clean, &src_base);
        autoclose int from = openat2_in_root(c->b->context_fd, src_parent, O_RDONLY | O_DIRECTORY);
        struct stat st;
        if (from < 0 || fstatat(from, *rel ? src_base : ".", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            (*rel && build_ignored(c->b->ignore, rel)))
            return fail(err, "checking on sources under the context: \"%s\": no such file or directory", c->sources[i]);
        if (c->add && S_ISREG(st.st_mode) && is_tar_name(src_base)) {
            autoclose int tar = openat(from, src_base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            autoclose int into = to_dir ? -1 : root_path_open(root_fd, c->dest, CREATE_DIRECTORY, 0, err);
            autoclose int into_fd = into >= 0 ? openat(into, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            if (tar < 0 || tar_extract_fd(tar, to_dir ? dir_fd : into_fd, err) < 0)
                return error_prefix(err, "ADD %s", c->sources[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode)) { /* a directory's content, not the directory */
            autoclose int src = *rel ? openat(from, src_base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                     : openat(from, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            autoclose int into = to_dir ? openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                        : root_path_open(root_fd, c->dest, CREATE_DIRECTORY, 0, err);
            autoclose int into_fd = into >= 0 ? openat(into, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            autostrv char **names = src >= 0 ? dir_entries_sorted(src, err) : NULL;
            if (!names || into_fd < 0)
                return -1;
            for (size_t k = 0; names[k]; k++) {
                autofree char *child = *rel ? xasprintf("%s/%s", rel, names[k]) : xstrdup(names[k]);
                if (context_copy(c->b, src, names[k], child, into_fd, names[k], err) < 0)
                    return -1;
            }
            continue;
        }
        if (context_copy(c->b, from, src_base, rel, dir_fd, to_dir ? src_base : base, err) < 0)
            return -1;
    }
    return 0;
}

static int build_copy(struct build *b, const struct build_instruction *step, bool add, char **id, lrun_error **err)
{
    autostrv char **words = NULL;
    autofree char *workdir = NULL;
    {
        autostore lrun_store *s = NULL;
        if (lrun_store_open(b->root, LRUN_STORE_READ, &s, err) < 0)
            return -1;
        struct image *img = store_image_by_id(s, b->image);
        autojson yajl_val config = img ? image_config(s, img, err) : NULL;
        if (!config)
            return -1;
        autosettings struct image_settings settings = {0};
        image_settings_read(config, &settings);
        autostrv char **vars = build_vars(b, &settings);
        words = dockerfile_exec_form(step->args);
        if (!words)
            words = dockerfile_words(step->args, vars, false);
        workdir = xstrdup(settings.workdir ? settings.workdir : "/");
    }
    size_t n = strv_len(words), first = 0;
    while (first < n && has_prefix(words[first], "--")) {
        if (!has_prefix(words[first], "--chown=") && !has_prefix(words[first], "--chmod="))
            return fail(err, "%s: the flag %s is not supported", step->keyword, words[first]);
        first++;
    }
    if (n - first < 2)
        return fail(err, "%s requires at least two arguments", step->keyword);
    for (size_t i = first; i + 1 < n; i++)
        if (add && (has_prefix(words[i], "http://") || has_prefix(words[i], "https://")))
            return fail(err, "ADD of a URL (%s) is not supported", words[i]);
    const char *dest_word = words[n - 1];
    autofree char *dest = dest_word[0] == '/' ? xstrdup(dest_word) : xasprintf("%s/%s", workdir, dest_word);
    autostrv char **no_command = xcalloc(2, sizeof *no_command);
    no_command[0] = xstrdup("/bin/true");
    autofree char *container = build_container(b, no_command, err);
    if (!container)
        return -1;
    autofree char *layer = NULL;
    {
        autostore lrun_store *s = NULL;
        struct container *ct = lrun_store_open(b->root, LRUN_STORE_READ, &s, err) == 0 ? container_lookup(s, container, err) : NULL;
        layer = ct ? xstrdup(ct->layer) : NULL;
    }
    autostrv char **sources = xcalloc(1, sizeof *sources);
    for (size_t i = first; i + 1 < n; i++)
        strv_push(&sources, xstrdup(words[i]));
    struct build_copy c = {.b = b, .root = b->root, .layer = layer, .sources = sources, .dest = dest, .add = add};
    if (!layer || in_mount_namespace(build_copy_in_child, &c, err) < 0) {
        lrun_error *ignored = NULL;
        container_remove(b->root, container, true, true, &ignored);
        lrun_error_free(ignored);
        return -1;
    }
    autofree char *created_by = xasprintf("/bin/sh -c #(nop) %s", step->text);
    return build_commit(b, container, created_by, id, err);
}

/* build_settings: ENV, LABEL, CMD, ... : a new config over the same layers. */
static int build_settings(struct build *b, const struct build_instruction *step, char **id, lrun_error **err)
{
    autostore lrun_store *s = NULL;
    if (lrun_store_open(b->root, LRUN_STORE_WRITE, &s, err) < 0)
        return -1;
    struct image *img = store_image_by_id(s, b->image);
    autojson yajl_val config = img ? image_config(s, img, err) : NULL;
    if (!config)
        return -1;
    autosettings struct image_settings settings = {0};
    image_settings_read(config, &settings);
    autostrv char **vars = build_vars(b, &settings);
    if (strcmp(step->keyword, "MAINTAINER") != 0 && strcmp(step->keyword, "HEALTHCHECK") != 0 &&
        image_settings_apply(&settings, step->keyword, step->args, vars, err) < 0)
        return error_prefix(err, "%s", step->text);
    autofree char *created_by = xasprintf("/bin/sh -c #(nop) %s", step->text);
    struct history_entry entry = {.created_by = created_by, .empty_layer = true};
    struct commit_request req = {.base = img, .settings = &settings, .history = &entry, .n_history = 1,
                                 .author = strcmp(step->keyword, "MAINTAINER") == 0 ? step->args : NULL};
    return image_commit_request(s, &req, id, err);
}

/* build_arg: ARG NAME[=default]: --build-arg's value, else the default. */
static void build_arg(struct build *b, const struct build_instruction *step)
{
    autostrv char **words = dockerfile_words(step->args, b->args, false);
    for (size_t i = 0; words[i]; i++) {
        char *eq = strchr(words[i], '=');
        autofree char *name = eq ? xstrndup(words[i], (size_t)(eq - words[i])) : xstrdup(words[i]);
        const char *given = env_get(b->build_args, name);
        if (given || eq) {
            autofree char *entry = xasprintf("%s=%s", name, given ? given : eq + 1);
            env_set(&b->args, entry);
        } else if (!env_get(b->args, name)) {
            autofree char *entry = xasprintf("%s=", name);
            env_set(&b->args, entry);
        }
    }
}

/* build_from: FROM IMAGE [AS NAME]: the image (pulled when missing). */
static int build_from(struct build *b, const struct build_instruction *step, lrun_error **err)
{
    autostrv char **words = dockerfile_words(step->args, b->args, false);
    if (!words[0])
        return fail(err, "FROM requires one argument");
    if (strcmp(words[0], "scratch") == 0)
        return fail(err, "FROM scratch is not supported by lrun build yet");
    autostore lrun_store *s = NULL;
    if (lrun_store_open(b->root, LRUN_STORE_WRITE, &s, err) < 0)
        return -1;
    struct image *img = image_lookup(s, words[0], NULL);
    free(b->image);
    b->image = NULL;
    if (img) {
        b->image = xstrdup(img->id);
        return 0;
    }
    lrun_pull_options pull = {0};
    return image_pull(s, words[0], &pull, &b->image, err);
}

/* build_step_key: the cache's key of a step over the current image. */
static void build_step_key(struct build *b, const struct build_instruction *step, digest_hex key)
{
    SHA256_CTX sha;
    SHA256_Init(&sha);
    SHA256_Update(&sha, b->image, strlen(b->image) + 1);
    SHA256_Update(&sha, step->text, strlen(step->text) + 1);
    for (size_t i = 0; b->args && b->args[i]; i++)
        SHA256_Update(&sha, b->args[i], strlen(b->args[i]) + 1);
    if (strcmp(step->keyword, "COPY") == 0 || strcmp(step->keyword, "ADD") == 0) {
        autostrv char **words = dockerfile_exec_form(step->args);
        if (!words)
            words = dockerfile_words(step->args, b->args, false);
        for (size_t i = 0; words[i] && words[i + 1]; i++) {
            autofree char *clean = path_clean(words[i]);
            autofree char *base = NULL;
            autofree char *parent = path_split_last(clean, &base);
            autoclose int from = openat2_in_root(b->context_fd, parent, O_RDONLY | O_DIRECTORY);
            if (from >= 0)
                context_digest(b, from, clean[1] ? base : ".", clean + 1, &sha);
        }
    }
    sha256_final_hex(&sha, key);
}

/* build_run_steps: every instruction, printed as podman prints them. */
static int build_run_steps(struct build *b, bool use_cache, bool quiet, lrun_error **err)
{
    for (size_t i = 0; i < b->n_steps; i++) {
        const struct build_instruction *step = &b->steps[i];
        if (!quiet)
            printf("STEP %zu/%zu: %s\n", i + 1, b->n_steps, step->text);
        fflush(stdout);
        if (strcmp(step->keyword, "ARG") == 0) {
            build_arg(b, step);
            continue;
        }
        if (strcmp(step->keyword, "FROM") == 0) {
            if (build_from(b, step, err) < 0)
                return error_prefix(err, "building at STEP \"%s\"", step->text);
            continue;
        }
        if (!b->image)
            return fail(err, "%s before FROM", step->keyword);
        digest_hex key;
        build_step_key(b, step, key);
        autofree char *cached = use_cache ? build_cache_lookup(b, key) : NULL;
        if (cached) {
            autostore lrun_store *s = NULL;
            autoerror lrun_error *ignored = NULL;
            if (lrun_store_open(b->root, LRUN_STORE_READ, &s, &ignored) < 0 || !store_image_by_id(s, cached))
                free(steal_pointer(&cached));
        }
        autofree char *id = NULL;
        if (cached) {
            if (!quiet)
                printf("--> Using cache %s\n", cached);
            id = steal_pointer(&cached);
        } else {
            int r = strcmp(step->keyword, "RUN") == 0    ? build_run(b, step, &id, err)
                    : strcmp(step->keyword, "COPY") == 0 ? build_copy(b, step, false, &id, err)
                    : strcmp(step->keyword, "ADD") == 0  ? build_copy(b, step, true, &id, err)
                                                         : build_settings(b, step, &id, err);
            if (r < 0)
                return strstr((*err)->message, "building at STEP") ? -1
                                                                    : error_prefix(err, "building at STEP \"%s\"", step->text);
            build_cache_add(b, key, id);
        }
        if (!quiet)
            printf("--> %.12s\n", id);
        free(b->image);
        b->image = steal_pointer(&id);
    }
    return 0;
}

/* ========================================================================
 * CLI: argument parsing, each command, tables and --format
 *
 * Output follows podman 4.3: tables through a tabwriter (each column but the
 * last padded to max(12, widest cell + 2)), errors as "Error: ..." on
 * stderr, exit 125 for lrun's own failures (rmi: 1 unknown, 2 in use).
 * ======================================================================== */

struct cli {
    const char *root; /* --root, or NULL for the default */
    const char *program;
};

PRINTF(1, 2) static void cli_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* cli_protect_binary: before a command enters a container (MONITOR's
 * self_binary_protect). */
static int cli_protect_binary(void)
{
    autoerror lrun_error *err = NULL;
    if (self_binary_protect(&err) == 0)
        return 0;
    cli_error("%s", err->message);
    return -1;
}

/* cli_fail: print err and return its exit status. */
static int cli_fail(lrun_error *err)
{
    cli_error("%s", err && err->message ? err->message : "unknown error");
    return err && err->exit_code ? err->exit_code : EXIT_LRUN;
}

static int cli_open_store(struct cli *cli, int mode, lrun_store **s)
{
    autoerror lrun_error *err = NULL;
    if (lrun_store_open(cli->root, mode, s, &err) < 0)
        return cli_fail(err);
    return 0;
}

/* --- flags: one table per command, parsed as podman's (cobra's) parser does ---
 *
 * A command lists its flags as rows of struct cli_flag and calls cli_parse()
 * once; to add a flag, add a row.  Flags may come anywhere among the operands
 * ("rm web -f", "save IMG -o F"), "--" ends them, "--help" (and "-h" where
 * the command has no -h of its own) prints the help built from the rows and
 * does nothing else.  Commands whose operands end in a command line (run,
 * create, exec) stop at the first operand, as podman does.  A value is
 * "--name=V", "--name V", "-nV" or "-n V"; booleans take "--name=false";
 * short booleans bundle ("-af"). */

enum cli_flag_kind {
    FLAG_BOOL,   /* bool *target */
    FLAG_STRING, /* const char **target: the last value (it points into argv) */
    FLAG_INT,    /* int *target: a decimal number */
    FLAG_LIST,   /* char ***target: every value, appended (the caller frees) */
    FLAG_CALL,   /* call(target, id, value, err): values to check or to keep in a struct;
                  * it takes a value when .value names one, else value is NULL */
};

struct cli_flag {
    const char *name;  /* the long name, without "--" */
    char shorthand;    /* its one letter, or 0 */
    enum cli_flag_kind kind;
    void *target;
    const char *value; /* the value's name in --help ("SECONDS"); NULL: takes none */
    const char *help;
    int id;            /* FLAG_CALL: passed to call */
    int (*call)(void *target, int id, const char *value, lrun_error **err);
};

/* Rows, one a flag: the table ends with FLAGS_END. */
#define BOOL_FLAG(name, shorthand, target, help) {name, shorthand, FLAG_BOOL, target, NULL, help, 0, NULL}
#define STRING_FLAG(name, shorthand, target, value, help) {name, shorthand, FLAG_STRING, target, value, help, 0, NULL}
#define INT_FLAG(name, shorthand, target, value, help) {name, shorthand, FLAG_INT, target, value, help, 0, NULL}
#define LIST_FLAG(name, shorthand, target, value, help) {name, shorthand, FLAG_LIST, target, value, help, 0, NULL}
#define CALL_FLAG(name, shorthand, call, target, id, value, help) {name, shorthand, FLAG_CALL, target, value, help, id, call}
#define FLAGS_END {NULL, 0, FLAG_BOOL, NULL, NULL, NULL, 0, NULL}

struct cli_usage {
    const char *command;  /* as typed after "lrun": "rm", "image rm" */
    const char *operands; /* "CONTAINER [CONTAINER...]" */
    const char *summary;  /* the first line of --help */
    bool stop_at_operand; /* what follows the first operand is not ours (run, exec) */
};

static const struct cli_flag *flag_by_long(const struct cli_flag *flags, const char *name, size_t len)
{
    for (const struct cli_flag *f = flags; f && f->name; f++)
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
            return f;
    return NULL;
}

static const struct cli_flag *flag_by_short(const struct cli_flag *flags, char c)
{
    for (const struct cli_flag *f = flags; f && f->name; f++)
        if (f->shorthand == c)
            return f;
    return NULL;
}

static bool flag_takes_value(const struct cli_flag *f)
{
    return f->kind == FLAG_STRING || f->kind == FLAG_INT || f->kind == FLAG_LIST || (f->kind == FLAG_CALL && f->value);
}

/* flag_label: "-t, --time" or "--time", as cobra names a flag in errors. */
static char *flag_label(const struct cli_flag *f)
{
    return f->shorthand ? xasprintf("-%c, --%s", f->shorthand, f->name) : xasprintf("--%s", f->name);
}

static int flag_set(const struct cli_flag *f, const char *value, lrun_error **err)
{
    autofree char *label = flag_label(f);
    switch (f->kind) {
    case FLAG_BOOL:
        if (!value || strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "t") == 0)
            *(bool *)f->target = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "f") == 0)
            *(bool *)f->target = false;
        else
            return fail(err, "invalid argument \"%s\" for \"%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax",
                        value, label, value);
        return 0;
    case FLAG_STRING: *(const char **)f->target = value; return 0;
    case FLAG_INT: {
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (!*value || *end || errno || n < INT_MIN || n > INT_MAX)
            return fail(err, "invalid argument \"%s\" for \"%s\" flag: strconv.ParseInt: parsing \"%s\": invalid syntax",
                        value, label, value);
        *(int *)f->target = (int)n;
        return 0;
    }
    case FLAG_LIST: strv_push((char ***)f->target, xstrdup(value)); return 0;
    case FLAG_CALL: return f->call(f->target, f->id, value, err);
    }
    return 0;
}

/* cli_parse_pass: one walk over argv.  The first pass (apply false) finds
 * syntax errors and --help; the second sets the flags and moves the
 * operands to argv[1..n]. */
static int cli_parse_pass(int argc, char **argv, const struct cli_usage *u, const struct cli_flag *flags, bool apply,
                          bool *help, int *n_operands, lrun_error **err)
{
    int n = 0;
    bool operands_only = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (operands_only || a[0] != '-' || a[1] == '\0') {
            if (apply)
                argv[1 + n] = a; /* 1 + n <= i: nothing unread is overwritten */
            n++;
            operands_only |= u->stop_at_operand;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            operands_only = true;
            continue;
        }
        if (a[1] == '-') { /* --name, --name=value, --name value */
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct cli_flag *f = flag_by_long(flags, name, len);
            if (!f && len == 4 && strncmp(name, "help", 4) == 0) {
                *help = true;
                continue;
            }
            if (!f)
                return fail(err, "unknown flag: --%.*s\nSee 'lrun %s --help'", (int)len, name, u->command);
            const char *value = eq ? eq + 1 : NULL;
            if (flag_takes_value(f) && !value) {
                if (i + 1 >= argc)
                    return fail(err, "flag needs an argument: --%s", f->name);
                value = argv[++i];
            } else if (!flag_takes_value(f) && value && f->kind != FLAG_BOOL) {
                return fail(err, "flag --%s takes no value", f->name);
            }
            if (apply && flag_set(f, value, err) < 0)
                return -1;
            continue;
        }
        for (const char *p = a + 1; *p; p++) { /* -x, -xyz, -tVALUE, -t VALUE */
            const struct cli_flag *f = flag_by_short(flags, *p);
            if (!f && *p == 'h') {
                *help = true;
                continue;
            }
            if (!f)
                return fail(err, "unknown shorthand flag: '%c' in %s\nSee 'lrun %s --help'", *p, a, u->command);
            if (!flag_takes_value(f)) {
                if (apply && flag_set(f, NULL, err) < 0)
                    return -1;
                continue;
            }
            const char *value = p[1] ? p + 1 + (p[1] == '=') : NULL;
            if (!value) {
                if (i + 1 >= argc)
                    return fail(err, "flag needs an argument: '%c' in -%c", *p, *p);
                value = argv[++i];
            }
            if (apply && flag_set(f, value, err) < 0)
                return -1;
            break;
        }
    }
    *n_operands = n;
    return 0;
}

static void cli_print_help(const struct cli_usage *u, const struct cli_flag *flags)
{
    printf("%s\n\nUsage:\n  lrun %s%s%s%s\n", u->summary, u->command, flags && flags->name ? " [options]" : "",
           u->operands && *u->operands ? " " : "", u->operands ? u->operands : "");
    if (!flags || !flags->name)
        return;
    size_t width = 0;
    for (const struct cli_flag *f = flags; f->name; f++) {
        size_t w = strlen(f->name) + (flag_takes_value(f) ? strlen(f->value ? f->value : "VALUE") + 1 : 0);
        width = w > width ? w : width;
    }
    printf("\nOptions:\n");
    for (const struct cli_flag *f = flags; f->name; f++) {
        if (!f->help)
            continue; /* an alias, or kept for compatibility only */
        autofree char *spelled = flag_takes_value(f) ? xasprintf("%s %s", f->name, f->value ? f->value : "VALUE")
                                                     : xstrdup(f->name);
        if (f->shorthand)
            printf("  -%c, --%-*s  %s\n", f->shorthand, (int)width, spelled, f->help);
        else
            printf("      --%-*s  %s\n", (int)width, spelled, f->help);
    }
}

/* cli_parse: parse argv (argv[0] is the command's name) against flags.
 * Returns the number of operands, now argv[1..n] (argv[n + 1] is NULL), or
 * -1 with *status set: 0 after --help, 125 after an error. */
static int cli_parse(int argc, char **argv, const struct cli_usage *u, const struct cli_flag *flags, int *status)
{
    autoerror lrun_error *err = NULL;
    bool help = false;
    int n = 0;
    if (cli_parse_pass(argc, argv, u, flags, false, &help, &n, &err) < 0) {
        *status = cli_fail(err);
        return -1;
    }
    if (help) {
        cli_print_help(u, flags);
        *status = 0;
        return -1;
    }
    if (cli_parse_pass(argc, argv, u, flags, true, &help, &n, &err) < 0) {
        *status = cli_fail(err);
        return -1;
    }
    argv[n + 1] = NULL;
    return n;
}

/* --- option parsing with getopt_long (commands not yet on cli_parse) --- */

static int cli_bad_flag(const char *command, char **argv)
{
    const char *bad = argv[optind - 1];
    if (optopt && optopt < 256 && (!bad || bad[0] != '-' || bad[1] == '-' || strlen(bad) > 2))
        cli_error("unknown shorthand flag: '%c' in %s", optopt, bad ? bad : "");
    else
        cli_error("unknown flag: %s\nSee 'lrun %s --help'", bad ? bad : "", command);
    return EXIT_LRUN;
}

static int cli_missing_value(const char *command, char **argv)
{
    cli_error("flag needs an argument: %s\nSee 'lrun %s --help'", argv[optind - 1], command);
    return EXIT_LRUN;
}

/* cli_getopt: getopt_long with lrun's conventions (options anywhere among
 * the operands, as cli_parse); returns the option, -1 at the end, or '?'
 * after printing the error. */
static int cli_getopt(int argc, char **argv, const char *shorts, const struct option *longs, const char *command,
                      int *status)
{
    autofree char *spec = xasprintf(":%s", shorts);
    opterr = 0;
    int c = getopt_long(argc, argv, spec, longs, NULL);
    if (c == '?')
        *status = cli_bad_flag(command, argv);
    else if (c == ':')
        *status = cli_missing_value(command, argv), c = '?';
    return c;
}

static void cli_getopt_reset(void) { optind = 0; }

/* --- tables --- */

struct table {
    size_t columns;
    char **cells; /* row-major */
    size_t n_cells;
};

/* table_add: a cell (taken); one with a control byte (a name or command
 * an image chose) is shown escaped, so it cannot fake a row or move the
 * cursor. */
static void table_add(struct table *t, char *cell)
{
    t->cells = xrealloc(t->cells, (t->n_cells + 1) * sizeof *t->cells);
    bool control = false;
    for (const unsigned char *c = (const unsigned char *)cell; c && *c && !control; c++)
        control = *c < 0x20 || *c == 0x7f;
    if (control) {
        char *quoted = text_quote(cell);
        free(cell);
        quoted[strlen(quoted) - 1] = '\0';
        memmove(quoted, quoted + 1, strlen(quoted));
        cell = quoted;
    }
    t->cells[t->n_cells++] = cell ? cell : xstrdup("");
}

static void table_add_row(struct table *t, ...)
{
    va_list ap;
    va_start(ap, t);
    for (size_t i = 0; i < t->columns; i++)
        table_add(t, xstrdup(va_arg(ap, const char *)));
    va_end(ap);
}

static size_t utf8_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* table_print: Go's tabwriter with minwidth 12, padding 2, as podman. */
static void table_print(struct table *t, FILE *out)
{
    autofree size_t *width = xcalloc(t->columns, sizeof *width);
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t w = utf8_width(t->cells[i]) + 2;
        size_t col = i % t->columns;
        if (w > width[col])
            width[col] = w;
    }
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t col = i % t->columns;
        fputs(t->cells[i], out);
        if (col + 1 == t->columns) {
            fputc('\n', out);
            continue;
        }
        size_t w = width[col] < 12 ? 12 : width[col];
        for (size_t pad = utf8_width(t->cells[i]); pad < w; pad++)
            fputc(' ', out);
    }
    for (size_t i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->n_cells = 0;
}

/* --- --format: Go templates as podman renders them ---
 * text/template's language on the JSON podman would have marshalled: fields
 * ({{.A.B}}, {{.}}), variables ($, $x := ...), "quoted" and `raw` strings,
 * numbers, true/false/nil, pipelines (a | f b), parentheses, {{- trims -}},
 * if/else if/else, range (arrays, maps in key order), with, and the
 * functions podman adds (json, lower, upper, title, join, split, truncate,
 * pad) plus Go's (index, len, printf, print, println, eq, ne, lt, le, gt,
 * ge, and, or, not).  A field missing from an object whose keys are all
 * capitalized (a Go struct) is an error, as podman's; a missing map key
 * prints "<no value>".  "\t" and "\n" in the text are a tab and a newline. */

enum tval_kind { TV_NONE, TV_JSON, TV_STRING, TV_NUMBER, TV_BOOL, TV_LIST };

struct tval {
    enum tval_kind kind;
    yajl_val json; /* TV_JSON: an object, array or null, borrowed from the data */
    char *text;    /* TV_STRING, TV_NUMBER (its digits): owned */
    bool truth;    /* TV_BOOL */
    char **list;   /* TV_LIST: owned */
};

static void tval_clear(struct tval *v)
{
    free(v->text);
    lrun_strv_free(v->list);
    *v = (struct tval){TV_NONE, NULL, NULL, false, NULL};
}
#define autotval cleanup(tval_clear)

static struct tval tval_string(char *owned) { return (struct tval){TV_STRING, NULL, owned, false, NULL}; }

static struct tval tval_bool(bool b) { return (struct tval){TV_BOOL, NULL, NULL, b, NULL}; }

/* tval_of_json: strings, numbers and booleans copied out, the rest borrowed. */
static struct tval tval_of_json(yajl_val j)
{
    if (YAJL_IS_STRING(j))
        return tval_string(xstrdup(YAJL_GET_STRING(j)));
    if (YAJL_IS_NUMBER(j))
        return (struct tval){TV_NUMBER, NULL, xstrdup(YAJL_GET_NUMBER(j)), false, NULL};
    if (YAJL_IS_TRUE(j) || YAJL_IS_FALSE(j))
        return tval_bool(YAJL_IS_TRUE(j));
    return (struct tval){TV_JSON, j, NULL, false, NULL};
}

static struct tval tval_copy(const struct tval *v)
{
    struct tval c = *v;
    c.text = v->text ? xstrdup(v->text) : NULL;
    if (v->list) {
        c.list = xcalloc(strv_len(v->list) + 1, sizeof *c.list);
        for (size_t i = 0; v->list[i]; i++)
            c.list[i] = xstrdup(v->list[i]);
    }
    return c;
}

static bool tval_truth(const struct tval *v)
{
    switch (v->kind) {
    case TV_NONE: return false;
    case TV_STRING: return v->text[0] != '\0';
    case TV_NUMBER: return strtod(v->text, NULL) != 0;
    case TV_BOOL: return v->truth;
    case TV_LIST: return v->list && v->list[0];
    case TV_JSON:
        return YAJL_IS_OBJECT(v->json) ? v->json->u.object.len > 0
               : YAJL_IS_ARRAY(v->json) ? v->json->u.array.len > 0 : false;
    }
    return false;
}

static int json_key_order(const void *a, const void *b)
{
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* json_sorted_keys: indexes of obj's members in key order (Go prints and
 * ranges over maps so). */
static size_t *json_sorted_keys(yajl_val obj)
{
    size_t n = obj->u.object.len;
    const char ***keys = xcalloc(n + 1, sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = (const char **)&obj->u.object.keys[i];
    qsort(keys, n, sizeof *keys, json_key_order);
    size_t *order = xcalloc(n + 1, sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (size_t)(keys[i] - (const char **)obj->u.object.keys);
    free(keys);
    return order;
}

/* template_print_json: Go's %v of a value podman marshalled. */
static void template_print_json(struct buf *out, yajl_val v)
{
    if (!v || YAJL_IS_NULL(v)) {
        return;
    } else if (YAJL_IS_STRING(v)) {
        buf_adds(out, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        buf_adds(out, YAJL_GET_NUMBER(v));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        buf_adds(out, YAJL_IS_TRUE(v) ? "true" : "false");
    } else if (YAJL_IS_ARRAY(v)) {
        buf_add(out, "[", 1);
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i)
                buf_add(out, " ", 1);
            template_print_json(out, v->u.array.values[i]);
        }
        buf_add(out, "]", 1);
    } else if (YAJL_IS_OBJECT(v)) {
        autofree size_t *order = json_sorted_keys(v);
        buf_adds(out, "map[");
        for (size_t i = 0; i < v->u.object.len; i++) {
            buf_printf(out, "%s%s:", i ? " " : "", v->u.object.keys[order[i]]);
            template_print_json(out, v->u.object.values[order[i]]);
        }
        buf_add(out, "]", 1);
    }
}

static void tval_print(struct buf *out, const struct tval *v)
{
    switch (v->kind) {
    case TV_NONE: buf_adds(out, "<no value>"); break;
    case TV_STRING:
    case TV_NUMBER: buf_adds(out, v->text); break;
    case TV_BOOL: buf_adds(out, v->truth ? "true" : "false"); break;
    case TV_JSON: template_print_json(out, v->json); break;
    case TV_LIST:
        buf_add(out, "[", 1);
        for (size_t i = 0; v->list[i]; i++)
            buf_printf(out, "%s%s", i ? " " : "", v->list[i]);
        buf_add(out, "]", 1);
        break;
    }
}

static char *tval_text(const struct tval *v)
{
    autobuf struct buf b = {0};
    buf_adds(&b, "");
    tval_print(&b, v);
    return buf_steal(&b);
}

/* The parsed template: a list of nodes; actions hold pipelines of commands
 * of operands. */
enum targ_kind { TA_FIELD, TA_VAR, TA_STRING, TA_NUMBER, TA_BOOL, TA_NIL, TA_FUNC, TA_PIPE };

struct tpipe;

struct targ {
    enum targ_kind kind;
    char *text;         /* field chain (".A.B", "." alone), $name, string, digits, true/false, function */
    char *chain;        /* TA_VAR, TA_PIPE: the fields after it (".A.B"), or NULL */
    struct tpipe *pipe; /* TA_PIPE */
};

struct tcmd {
    struct targ *args;
    size_t n;
};

struct tpipe {
    char *declare; /* "$x" of "$x := ...", or NULL */
    char *declare_index; /* "$i" of range's "$i, $x := ...", or NULL */
    struct tcmd *cmds;
    size_t n;
};

enum tnode_kind { TN_TEXT, TN_ACTION, TN_IF, TN_RANGE, TN_WITH };

struct tnode {
    enum tnode_kind kind;
    char *text;
    struct tpipe *pipe;
    struct tnode *body, *otherwise;
    struct tnode *next;
};

static void tpipe_free(struct tpipe *p);

static void tnode_free(struct tnode *n)
{
    while (n) {
        struct tnode *next = n->next;
        free(n->text);
        tpipe_free(n->pipe);
        tnode_free(n->body);
        tnode_free(n->otherwise);
        free(n);
        n = next;
    }
}

static void tpipe_free(struct tpipe *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->cmds[i].n; j++) {
            free(p->cmds[i].args[j].text);
            free(p->cmds[i].args[j].chain);
            tpipe_free(p->cmds[i].args[j].pipe);
        }
        free(p->cmds[i].args);
    }
    free(p->cmds);
    free(p->declare);
    free(p->declare_index);
    free(p);
}

/* template_field_chain: the ".A.B" at *p (identifier characters). */
static char *template_field_chain(const char **p)
{
    const char *start = *p;
    while (**p == '.' && (isalnum((unsigned char)(*p)[1]) || (*p)[1] == '_'))
        for ((*p)++; isalnum((unsigned char)**p) || **p == '_'; (*p)++)
            ;
    return *p > start ? xstrndup(start, (size_t)(*p - start)) : NULL;
}

static struct tpipe *template_parse_pipe(const char **p, char close, lrun_error **err);

/* template_parse_arg: one operand at *p. */
static int template_parse_arg(const char **p, struct targ *a, lrun_error **err)
{
    const char *s = *p;
    *a = (struct targ){TA_NIL, NULL, NULL, NULL};
    if (*s == '.') {
        a->kind = TA_FIELD;
        a->text = template_field_chain(&s);
        if (!a->text)
            a->text = xstrdup("."), s++;
    } else if (*s == '$') {
        const char *start = s++;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        a->kind = TA_VAR;
        a->text = xstrndup(start, (size_t)(s - start));
        a->chain = template_field_chain(&s);
    } else if (*s == '"' || *s == '`') {
        char quote = *s++;
        autobuf struct buf b = {0};
        buf_adds(&b, "");
        for (; *s && *s != quote; s++) {
            if (quote == '"' && *s == '\\' && s[1]) {
                s++;
                char c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == 'r' ? '\r' : *s;
                buf_add(&b, &c, 1);
            } else {
                buf_add(&b, s, 1);
            }
        }
        if (*s != quote)
            return fail(err, "template: unterminated quoted string");
        s++;
        a->kind = TA_STRING;
        a->text = buf_steal(&b);
    } else if (isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))) {
        const char *start = s++;
        while (isalnum((unsigned char)*s) || *s == '.')
            s++;
        a->kind = TA_NUMBER;
        a->text = xstrndup(start, (size_t)(s - start));
    } else if (*s == '(') {
        s++;
        a->kind = TA_PIPE;
        a->pipe = template_parse_pipe(&s, ')', err);
        if (!a->pipe)
            return -1;
        s++;
        a->chain = template_field_chain(&s);
    } else if (isalpha((unsigned char)*s) || *s == '_') {
        const char *start = s;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        a->text = xstrndup(start, (size_t)(s - start));
        a->kind = strcmp(a->text, "true") == 0 || strcmp(a->text, "false") == 0 ? TA_BOOL
                  : strcmp(a->text, "nil") == 0                                 ? TA_NIL
                                                                                 : TA_FUNC;
    } else {
        return fail(err, "template: unexpected \"%c\" in command", *s);
    }
    *p = s;
    return 0;
}

/* template_parse_pipe: "[$x :=] cmd | cmd ..." up to close ('\0' or ')'). */
static struct tpipe *template_parse_pipe(const char **p, char close, lrun_error **err)
{
    struct tpipe *pipe = xcalloc(1, sizeof *pipe);
    const char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '$') { /* a declaration: "$x :=" or "$i, $x :=" */
        const char *names[2] = {s, NULL}, *ends[2] = {NULL, NULL}, *e = s;
        for (int k = 0; k < 2 && names[k]; k++) {
            for (e = names[k] + 1; isalnum((unsigned char)*e) || *e == '_';)
                e++;
            ends[k] = e;
            while (isspace((unsigned char)*e))
                e++;
            if (k == 0 && *e == ',') {
                for (e++; isspace((unsigned char)*e);)
                    e++;
                names[1] = *e == '$' ? e : NULL;
            }
        }
        if (e[0] == ':' && e[1] == '=') {
            int last = names[1] ? 1 : 0;
            pipe->declare = xstrndup(names[last], (size_t)(ends[last] - names[last]));
            if (last)
                pipe->declare_index = xstrndup(names[0], (size_t)(ends[0] - names[0]));
            s = e + 2;
        }
    }
    for (;;) {
        pipe->cmds = xrealloc(pipe->cmds, (pipe->n + 1) * sizeof *pipe->cmds);
        struct tcmd *cmd = &pipe->cmds[pipe->n++];
        *cmd = (struct tcmd){NULL, 0};
        for (;;) {
            while (isspace((unsigned char)*s))
                s++;
            if (*s == '|' || *s == close || !*s)
                break;
            cmd->args = xrealloc(cmd->args, (cmd->n + 1) * sizeof *cmd->args);
            if (template_parse_arg(&s, &cmd->args[cmd->n], err) < 0) {
                tpipe_free(pipe);
                return NULL;
            }
            cmd->n++;
        }
        if (!cmd->n) {
            tpipe_free(pipe);
            fail(err, "template: missing value for command");
            return NULL;
        }
        if (*s != '|')
            break;
        s++;
    }
    if (*s != close) {
        tpipe_free(pipe);
        fail(err, close ? "template: unclosed left paren" : "template: unexpected \"%c\" in operand", *s);
        return NULL;
    }
    *p = s;
    return pipe;
}

struct tparser {
    const char *p; /* the rest of the template */
    const char *keyword; /* the action that ended the last list: "end", "else", "else if ..." */
    char *else_rest;     /* "else if X": "if X" */
};

/* template_next_action: the text before the next action into *text, the
 * action's words into *action (trim markers handled); false at the end. */
static bool template_next(struct tparser *tp, char **text, char **action, lrun_error **err)
{
    const char *open = strstr(tp->p, "{{");
    const char *text_end = open ? open : tp->p + strlen(tp->p);
    bool trim_left = open && open[2] == '-' && (isspace((unsigned char)open[3]) || open[3] == '}');
    while (trim_left && text_end > tp->p && isspace((unsigned char)text_end[-1]))
        text_end--;
    autobuf struct buf b = {0};
    buf_adds(&b, "");
    for (const char *s = tp->p; s < text_end; s++) {
        if (s[0] == '\\' && (s[1] == 't' || s[1] == 'n') && s + 1 < text_end)
            buf_add(&b, s[1] == 't' ? "\t" : "\n", 1), s++;
        else
            buf_add(&b, s, 1);
    }
    *text = buf_steal(&b);
    *action = NULL;
    if (!open) {
        tp->p = text_end;
        return false;
    }
    const char *start = open + 2 + trim_left;
    const char *close = strstr(start, "}}");
    if (!close) {
        fail(err, "template: unclosed action");
        return false;
    }
    bool trim_right = close > start && close[-1] == '-' && close - 1 > start && isspace((unsigned char)close[-2]);
    *action = xstrndup(start, (size_t)(close - start - trim_right));
    tp->p = close + 2;
    while (trim_right && isspace((unsigned char)*tp->p))
        tp->p++;
    return true;
}

static bool word_is(const char *action, const char *word)
{
    size_t n = strlen(word);
    return strncmp(action, word, n) == 0 && (!action[n] || isspace((unsigned char)action[n]));
}

/* template_parse_list: nodes up to {{end}}, {{else}} or the end of the
 * text; tp->keyword says which ended it. */
static struct tnode *template_parse_list(struct tparser *tp, lrun_error **err)
{
    struct tnode *head = NULL, **tail = &head;
    tp->keyword = NULL;
    for (;;) {
        autofree char *text = NULL, *action = NULL;
        bool more = template_next(tp, &text, &action, err);
        if (*text) {
            *tail = xcalloc(1, sizeof **tail);
            (*tail)->kind = TN_TEXT, (*tail)->text = steal_pointer(&text);
            tail = &(*tail)->next;
        }
        if (!more) {
            if (err && *err)
                goto fail;
            tp->keyword = NULL;
            return head;
        }
        char *a = action;
        while (isspace((unsigned char)*a))
            a++;
        for (char *e = a + strlen(a); e > a && isspace((unsigned char)e[-1]);)
            *--e = '\0';
        if (has_prefix(a, "/*"))
            continue; /* a comment */
        if (word_is(a, "end") || word_is(a, "else")) {
            tp->keyword = word_is(a, "end") ? "end" : "else";
            free(tp->else_rest);
            tp->else_rest = NULL;
            if (word_is(a, "else") && a[4])
                tp->else_rest = xstrdup(a + 5);
            return head;
        }
        struct tnode *n = xcalloc(1, sizeof *n);
        *tail = n;
        tail = &n->next;
        const char *rest = a;
        n->kind = TN_ACTION;
        if (word_is(a, "if") || word_is(a, "range") || word_is(a, "with")) {
            n->kind = word_is(a, "if") ? TN_IF : word_is(a, "range") ? TN_RANGE : TN_WITH;
            rest = a + (n->kind == TN_IF ? 2 : n->kind == TN_RANGE ? 5 : 4);
        }
        if (!(n->pipe = template_parse_pipe(&rest, '\0', err)))
            goto fail;
        if (n->kind == TN_ACTION)
            continue;
        /* a block: its body, maybe {{else}} or {{else if ...}}, then {{end}} */
        struct tnode *block = n;
        for (;;) {
            block->body = template_parse_list(tp, err);
            if (err && *err)
                goto fail;
            if (!tp->keyword) {
                fail(err, "template: unexpected EOF");
                goto fail;
            }
            if (strcmp(tp->keyword, "end") == 0)
                break;
            if (tp->else_rest && word_is(tp->else_rest, "if")) { /* else if: a nested if, one end */
                struct tnode *nested = xcalloc(1, sizeof *nested);
                nested->kind = TN_IF;
                const char *cond = tp->else_rest + 2;
                block->otherwise = nested;
                if (!(nested->pipe = template_parse_pipe(&cond, '\0', err)))
                    goto fail;
                block = nested;
                continue;
            }
            block->otherwise = template_parse_list(tp, err);
            if (err && *err)
                goto fail;
            if (!tp->keyword || strcmp(tp->keyword, "end") != 0) {
                fail(err, "template: expected end; found %s", tp->keyword ? tp->keyword : "EOF");
                goto fail;
            }
            break;
        }
    }
fail:
    tnode_free(head);
    return NULL;
}

struct tvar {
    char *name;
    struct tval value;
};

struct tscope {
    yajl_val root;      /* $ */
    struct tvar *vars;  /* $x := ... */
    size_t n_vars;
};

/* template_field: .Name of v; a struct (an object whose keys are all
 * capitalized) without it is an error, a map without it "no value". */
static int template_field(const struct tval *v, const char *name, struct tval *out, lrun_error **err)
{
    if (v->kind == TV_NONE || (v->kind == TV_JSON && YAJL_IS_NULL(v->json))) {
        *out = (struct tval){TV_NONE, NULL, NULL, false, NULL};
        return 0;
    }
    if (v->kind != TV_JSON || !YAJL_IS_OBJECT(v->json))
        return fail(err, "template: can't evaluate field %s in type %s", name,
                    v->kind == TV_JSON ? "[]interface {}" : v->kind == TV_BOOL ? "bool" : "string");
    yajl_val member = json_get(v->json, name);
    if (member) {
        *out = tval_of_json(member);
        return 0;
    }
    bool is_struct = v->json->u.object.len > 0;
    for (size_t i = 0; i < v->json->u.object.len && is_struct; i++)
        is_struct = isupper((unsigned char)v->json->u.object.keys[i][0]);
    if (is_struct)
        return fail(err, "template: can't evaluate field %s in type struct", name);
    *out = (struct tval){TV_NONE, NULL, NULL, false, NULL};
    return 0;
}

/* template_chain: v (taken over) followed through ".A.B". */
static int template_chain(struct tval *v, const char *chain, lrun_error **err)
{
    if (!chain || strcmp(chain, ".") == 0)
        return 0;
    autofree char *copy = xstrdup(chain);
    char *save = NULL;
    for (char *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        struct tval next;
        if (template_field(v, k, &next, err) < 0)
            return -1;
        tval_clear(v);
        *v = next;
    }
    return 0;
}

static int template_pipe(struct tpipe *p, const struct tval *dot, struct tscope *sc, struct tval *out,
                         lrun_error **err);

static int template_arg(struct targ *a, const struct tval *dot, struct tscope *sc, struct tval *out, lrun_error **err)
{
    *out = (struct tval){TV_NONE, NULL, NULL, false, NULL};
    switch (a->kind) {
    case TA_FIELD: *out = tval_copy(dot); return template_chain(out, a->text, err);
    case TA_VAR:
        if (strcmp(a->text, "$") == 0) {
            *out = tval_of_json(sc->root);
        } else {
            size_t i = sc->n_vars;
            while (i > 0 && strcmp(sc->vars[i - 1].name, a->text) != 0)
                i--;
            if (!i)
                return fail(err, "template: undefined variable \"%s\"", a->text);
            *out = tval_copy(&sc->vars[i - 1].value);
        }
        return template_chain(out, a->chain, err);
    case TA_STRING: *out = tval_string(xstrdup(a->text)); return 0;
    case TA_NUMBER: *out = (struct tval){TV_NUMBER, NULL, xstrdup(a->text), false, NULL}; return 0;
    case TA_BOOL: *out = tval_bool(strcmp(a->text, "true") == 0); return 0;
    case TA_NIL: return 0;
    case TA_PIPE:
        if (template_pipe(a->pipe, dot, sc, out, err) < 0)
            return -1;
        return template_chain(out, a->chain, err);
    case TA_FUNC: return fail(err, "template: can't give argument to non-function %s", a->text);
    }
    return 0;
}

static double tval_number(const struct tval *v) { return v->text ? strtod(v->text, NULL) : v->truth; }

/* template_compare: <0, 0, >0; numbers as numbers, the rest as text. */
static int template_compare(const struct tval *a, const struct tval *b)
{
    if (a->kind == TV_NUMBER && b->kind == TV_NUMBER) {
        double x = tval_number(a), y = tval_number(b);
        return x < y ? -1 : x > y;
    }
    autofree char *x = tval_text(a), *y = tval_text(b);
    return strcmp(x, y);
}

/* template_printf: Go's fmt.Sprintf for %s %v %d %q %f %x and widths. */
static char *template_printf(const char *format, struct tval *args, size_t n)
{
    autobuf struct buf b = {0};
    buf_adds(&b, "");
    size_t next = 0;
    for (const char *p = format; *p; p++) {
        if (*p != '%') {
            buf_add(&b, p, 1);
            continue;
        }
        if (p[1] == '%') {
            buf_add(&b, "%", 1), p++;
            continue;
        }
        const char *spec = p++;
        while (*p && strchr("-+ #0123456789.", *p))
            p++;
        if (!*p)
            break;
        autofree char *flags = xstrndup(spec, (size_t)(p - spec));
        if (next >= n) {
            buf_printf(&b, "%%!%c(MISSING)", *p);
            continue;
        }
        struct tval *v = &args[next++];
        autofree char *text = tval_text(v);
        if (*p == 'd' || *p == 'f' || *p == 'x' || *p == 'g') {
            autofree char *f = xasprintf("%s%s", flags, *p == 'd' ? "lld" : *p == 'x' ? "llx" : *p == 'f' ? "f" : "g");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            if (*p == 'f' || *p == 'g')
                buf_printf(&b, f, strtod(text, NULL));
            else
                buf_printf(&b, f, strtoll(text, NULL, 10));
#pragma GCC diagnostic pop
        } else if (*p == 'q') {
            json_go_string(&b, text);
        } else {
            autofree char *f = xasprintf("%ss", flags);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            buf_printf(&b, f, text);
#pragma GCC diagnostic pop
        }
    }
    return buf_steal(&b);
}

/* template_call: function name on args (the piped value last). */
static int template_call(const char *name, struct tval *args, size_t n, struct tval *out, lrun_error **err)
{
    static const struct {
        const char *name;
        size_t min, max;
    } arity[] = {{"json", 1, 1},  {"lower", 1, 1}, {"upper", 1, 1},   {"title", 1, 1},  {"join", 2, 2},
                 {"split", 2, 2}, {"truncate", 2, 2}, {"pad", 3, 3},  {"len", 1, 1},    {"index", 1, 99},
                 {"printf", 1, 99}, {"print", 0, 99}, {"println", 0, 99}, {"eq", 2, 99}, {"ne", 2, 2},
                 {"lt", 2, 2},    {"le", 2, 2},    {"gt", 2, 2},      {"ge", 2, 2},     {"and", 1, 99},
                 {"or", 1, 99},   {"not", 1, 1}};
    size_t k = 0;
    while (k < sizeof arity / sizeof *arity && strcmp(arity[k].name, name) != 0)
        k++;
    if (k == sizeof arity / sizeof *arity)
        return fail(err, "template: function \"%s\" not defined", name);
    if (n < arity[k].min || n > arity[k].max)
        return fail(err, "template: wrong number of args for %s: want %zu got %zu", name, arity[k].min, n);
    autofree char *text = n ? tval_text(&args[0]) : NULL;
    if (strcmp(name, "json") == 0) {
        autobuf struct buf b = {0};
        buf_adds(&b, "");
        if (args[0].kind == TV_JSON) {
            json_go_value(&b, args[0].json, NULL, 0);
        } else if (args[0].kind == TV_STRING) {
            json_go_string(&b, text);
        } else if (args[0].kind == TV_LIST) {
            buf_add(&b, "[", 1);
            for (size_t i = 0; args[0].list[i]; i++)
                buf_adds(&b, i ? "," : ""), json_go_string(&b, args[0].list[i]);
            buf_add(&b, "]", 1);
        } else {
            buf_adds(&b, args[0].kind == TV_NONE ? "null" : text);
        }
        *out = tval_string(buf_steal(&b));
    } else if (strcmp(name, "lower") == 0 || strcmp(name, "upper") == 0 || strcmp(name, "title") == 0) {
        for (char *c = text; *c; c++)
            *c = (char)(name[0] == 'l' ? tolower((unsigned char)*c)
                        : name[0] == 'u' || c == text || isspace((unsigned char)c[-1]) ? toupper((unsigned char)*c)
                                                                                        : *c);
        *out = tval_string(steal_pointer(&text));
    } else if (strcmp(name, "join") == 0) {
        autofree char *sep = tval_text(&args[1]);
        autobuf struct buf b = {0};
        buf_adds(&b, "");
        if (args[0].kind == TV_LIST) {
            for (size_t i = 0; args[0].list[i]; i++)
                buf_printf(&b, "%s%s", i ? sep : "", args[0].list[i]);
        } else if (args[0].kind == TV_JSON && YAJL_IS_ARRAY(args[0].json)) {
            for (size_t i = 0; i < args[0].json->u.array.len; i++) {
                buf_adds(&b, i ? sep : "");
                template_print_json(&b, args[0].json->u.array.values[i]);
            }
        } else {
            return fail(err, "template: join: wrong type for value; expected []string");
        }
        *out = tval_string(buf_steal(&b));
    } else if (strcmp(name, "split") == 0) {
        autofree char *sep = tval_text(&args[1]);
        char **list = xcalloc(1, sizeof *list);
        for (char *s = text;;) {
            char *at = *sep ? strstr(s, sep) : NULL;
            strv_push(&list, at ? xstrndup(s, (size_t)(at - s)) : xstrdup(s));
            if (!at)
                break;
            s = at + strlen(sep);
        }
        *out = (struct tval){TV_LIST, NULL, NULL, false, list};
    } else if (strcmp(name, "truncate") == 0) {
        long len = (long)tval_number(&args[1]);
        if (len >= 0 && (size_t)len < strlen(text))
            text[len] = '\0';
        *out = tval_string(steal_pointer(&text));
    } else if (strcmp(name, "pad") == 0) {
        int left = (int)tval_number(&args[1]), right = (int)tval_number(&args[2]);
        *out = tval_string(xasprintf("%*s%s%*s", left > 0 ? left : 0, "", text, right > 0 ? right : 0, ""));
    } else if (strcmp(name, "len") == 0) {
        size_t len = args[0].kind == TV_LIST ? strv_len(args[0].list)
                     : args[0].kind == TV_JSON && YAJL_IS_ARRAY(args[0].json) ? args[0].json->u.array.len
                     : args[0].kind == TV_JSON && YAJL_IS_OBJECT(args[0].json) ? args[0].json->u.object.len
                                                                                : strlen(text);
        *out = (struct tval){TV_NUMBER, NULL, xasprintf("%zu", len), false, NULL};
    } else if (strcmp(name, "index") == 0) {
        *out = tval_copy(&args[0]);
        for (size_t i = 1; i < n; i++) {
            autofree char *key = tval_text(&args[i]);
            yajl_val j = out->kind == TV_JSON ? out->json : NULL;
            struct tval next = {TV_STRING, NULL, xstrdup(""), false, NULL}; /* a missing map key: "" */
            if (YAJL_IS_ARRAY(j) || out->kind == TV_LIST) {
                long at = strtol(key, NULL, 10);
                size_t len = out->kind == TV_LIST ? strv_len(out->list) : j->u.array.len;
                if (at < 0 || (size_t)at >= len) {
                    tval_clear(&next);
                    tval_clear(out);
                    return fail(err, "template: index out of range: %ld", at);
                }
                tval_clear(&next);
                next = out->kind == TV_LIST ? tval_string(xstrdup(out->list[at])) : tval_of_json(j->u.array.values[at]);
            } else if (YAJL_IS_OBJECT(j) && json_get(j, key)) {
                tval_clear(&next);
                next = tval_of_json(json_get(j, key));
            }
            tval_clear(out);
            *out = next;
        }
    } else if (strcmp(name, "printf") == 0) {
        *out = tval_string(template_printf(text, args + 1, n - 1));
    } else if (strcmp(name, "print") == 0 || strcmp(name, "println") == 0) {
        autobuf struct buf b = {0};
        buf_adds(&b, "");
        for (size_t i = 0; i < n; i++) {
            bool space = i && (name[5] == 'l' || (args[i].kind != TV_STRING && args[i - 1].kind != TV_STRING));
            buf_adds(&b, space ? " " : "");
            tval_print(&b, &args[i]);
        }
        buf_adds(&b, name[5] == 'l' ? "\n" : "");
        *out = tval_string(buf_steal(&b));
    } else if (strcmp(name, "eq") == 0) {
        bool any = false;
        for (size_t i = 1; i < n && !any; i++)
            any = template_compare(&args[0], &args[i]) == 0;
        *out = tval_bool(any);
    } else if (name[0] == 'n' && name[1] == 'e') {
        *out = tval_bool(template_compare(&args[0], &args[1]) != 0);
    } else if (name[0] == 'l' || name[0] == 'g') { /* lt le gt ge */
        int c = template_compare(&args[0], &args[1]);
        *out = tval_bool(name[0] == 'l' ? (name[1] == 't' ? c < 0 : c <= 0) : (name[1] == 't' ? c > 0 : c >= 0));
    } else if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0) {
        size_t i = 0;
        while (i + 1 < n && tval_truth(&args[i]) == (name[0] == 'a'))
            i++;
        *out = tval_copy(&args[i]);
    } else { /* not */
        *out = tval_bool(!tval_truth(&args[0]));
    }
    return 0;
}

/* template_command: one command of a pipeline; piped is the value of the
 * previous one (NULL for the first). */
static int template_command(struct tcmd *cmd, const struct tval *dot, struct tscope *sc, struct tval *piped,
                            struct tval *out, lrun_error **err)
{
    if (cmd->args[0].kind != TA_FUNC) {
        if (cmd->n > 1 || piped)
            return fail(err, "template: can't give argument to non-function %s",
                        cmd->args[0].text ? cmd->args[0].text : "(...)");
        return template_arg(&cmd->args[0], dot, sc, out, err);
    }
    size_t n = cmd->n - 1 + (piped != NULL);
    struct tval *args = xcalloc(n + 1, sizeof *args);
    int r = 0;
    for (size_t i = 1; i < cmd->n && r == 0; i++)
        r = template_arg(&cmd->args[i], dot, sc, &args[i - 1], err);
    if (piped)
        args[n - 1] = tval_copy(piped);
    if (r == 0)
        r = template_call(cmd->args[0].text, args, n, out, err);
    for (size_t i = 0; i < n; i++)
        tval_clear(&args[i]);
    free(args);
    return r;
}

static int template_pipe(struct tpipe *p, const struct tval *dot, struct tscope *sc, struct tval *out,
                         lrun_error **err)
{
    struct tval value = {TV_NONE, NULL, NULL, false, NULL};
    for (size_t i = 0; i < p->n; i++) {
        struct tval next;
        if (template_command(&p->cmds[i], dot, sc, i ? &value : NULL, &next, err) < 0) {
            tval_clear(&value);
            return -1;
        }
        tval_clear(&value);
        value = next;
    }
    *out = value;
    return 0;
}

static void template_declare(struct tscope *sc, const char *name, struct tval value)
{
    sc->vars = xrealloc(sc->vars, (sc->n_vars + 1) * sizeof *sc->vars);
    sc->vars[sc->n_vars++] = (struct tvar){xstrdup(name), value};
}

static void template_scope_pop(struct tscope *sc, size_t to)
{
    while (sc->n_vars > to) {
        sc->n_vars--;
        free(sc->vars[sc->n_vars].name);
        tval_clear(&sc->vars[sc->n_vars].value);
    }
}

static int template_exec(struct tnode *n, const struct tval *dot, struct tscope *sc, struct buf *out, lrun_error **err);

/* template_range: the body once for each element (maps in key order). */
static int template_range(struct tnode *n, struct tval *over, struct tscope *sc, struct buf *out, lrun_error **err)
{
    yajl_val j = over->kind == TV_JSON ? over->json : NULL;
    size_t len = over->kind == TV_LIST ? strv_len(over->list)
                 : YAJL_IS_ARRAY(j)    ? j->u.array.len
                 : YAJL_IS_OBJECT(j)   ? j->u.object.len
                                       : 0;
    if (over->kind != TV_LIST && over->kind != TV_NONE && !YAJL_IS_ARRAY(j) && !YAJL_IS_OBJECT(j) && !YAJL_IS_NULL(j))
        return fail(err, "template: range can't iterate over %s", over->text ? over->text : "value");
    if (!len)
        return template_exec(n->otherwise, over, sc, out, err);
    autofree size_t *order = YAJL_IS_OBJECT(j) ? json_sorted_keys(j) : NULL;
    for (size_t i = 0; i < len; i++) {
        struct tval elem = over->kind == TV_LIST ? tval_string(xstrdup(over->list[i]))
                           : order              ? tval_of_json(j->u.object.values[order[i]])
                                                : tval_of_json(j->u.array.values[i]);
        size_t mark = sc->n_vars;
        if (n->pipe->declare_index)
            template_declare(sc, n->pipe->declare_index,
                             order ? tval_string(xstrdup(j->u.object.keys[order[i]]))
                                   : (struct tval){TV_NUMBER, NULL, xasprintf("%zu", i), false, NULL});
        if (n->pipe->declare)
            template_declare(sc, n->pipe->declare, tval_copy(&elem));
        int r = template_exec(n->body, &elem, sc, out, err);
        template_scope_pop(sc, mark);
        tval_clear(&elem);
        if (r < 0)
            return -1;
    }
    return 0;
}

static int template_exec(struct tnode *n, const struct tval *dot, struct tscope *sc, struct buf *out, lrun_error **err)
{
    for (; n; n = n->next) {
        if (n->kind == TN_TEXT) {
            buf_adds(out, n->text);
            continue;
        }
        autotval struct tval v = {TV_NONE, NULL, NULL, false, NULL};
        struct tpipe *p = n->pipe;
        char *declare = n->kind == TN_RANGE ? NULL : p->declare; /* range's are its elements' */
        int r = template_pipe(p, dot, sc, &v, err);
        if (r < 0)
            return -1;
        if (n->kind == TN_ACTION) {
            if (declare)
                template_declare(sc, declare, tval_copy(&v));
            else
                tval_print(out, &v);
        } else if (n->kind == TN_IF) {
            r = template_exec(tval_truth(&v) ? n->body : n->otherwise, dot, sc, out, err);
        } else if (n->kind == TN_WITH) {
            r = tval_truth(&v) ? template_exec(n->body, &v, sc, out, err) : template_exec(n->otherwise, dot, sc, out, err);
        } else {
            r = template_range(n, &v, sc, out, err);
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

/* template_render: tmpl against obj, appended to out. */
static int template_render(const char *tmpl, yajl_val obj, struct buf *out, lrun_error **err)
{
    struct tparser tp = {tmpl, NULL, NULL};
    struct tnode *tree = template_parse_list(&tp, err);
    free(tp.else_rest);
    if (!tree && err && *err)
        return -1;
    if (tp.keyword) {
        tnode_free(tree);
        return fail(err, "template: unexpected {{%s}}", tp.keyword);
    }
    struct tscope sc = {obj, NULL, 0};
    struct tval dot = tval_of_json(obj);
    int r = template_exec(tree, &dot, &sc, out, err);
    tval_clear(&dot);
    template_scope_pop(&sc, 0);
    free(sc.vars);
    tnode_free(tree);
    return r;
}

/* table_add_line: a rendered line, split into cells at tabs. */
static void table_add_line(struct table *t, char *line)
{
    size_t added = 0;
    for (char *cell = line;; added++) {
        char *tab = strchr(cell, '\t');
        if (tab)
            *tab = '\0';
        if (added < t->columns)
            table_add(t, xstrdup(cell));
        if (!tab)
            break;
        cell = tab + 1;
    }
    for (added++; added < t->columns; added++)
        table_add(t, xstrdup(""));
}

/* format_print_rows: rows (JSON objects) through a --format template;
 * "table ..." prints a header row: the template rendered against header,
 * an object that maps each field to its column name. */
static int format_print_rows(const char *format, yajl_val *rows, size_t n, yajl_val header)
{
    autoerror lrun_error *err = NULL;
    bool table = has_prefix(format, "table");
    const char *tmpl = table ? format + 5 : format;
    while (table && *tmpl == ' ')
        tmpl++;
    struct table t = {.columns = 1};
    for (const char *p = tmpl; *p; p++)
        t.columns += (p[0] == '\\' && p[1] == 't') || *p == '\t';
    for (size_t i = 0; i < n + table; i++) {
        autobuf struct buf line = {0};
        buf_adds(&line, "");
        if (template_render(tmpl, table && i == 0 ? header : rows[i - table], &line, &err) < 0) {
            cli_error("%s", err->message);
            return EXIT_LRUN;
        }
        if (table)
            table_add_line(&t, line.data);
        else
            printf("%s\n", line.data);
    }
    if (table)
        table_print(&t, stdout);
    return 0;
}

/* --- load --- */

static void cli_progress_line(void *userdata, const char *line)
{
    (void)userdata;
    fprintf(stderr, "%s\n", line);
}

/* cli_input_file: the file to read: path itself, or what stdin ("-" or
 * NULL) or a URL holds, copied into a temporary file (*tmp: the caller
 * unlinks it). */
static int cli_input_file(const char *input, char **tmp, lrun_error **err)
{
    *tmp = NULL;
    bool url = input && (has_prefix(input, "http://") || has_prefix(input, "https://"));
    if (input && strcmp(input, "-") != 0 && !url)
        return 0;
    if (!url && isatty(STDIN_FILENO))
        return fail(err, "cannot read from terminal, use command-line redirection or the --input flag");
    autofree char *name = xasprintf("%s/lrun-input-XXXXXX", temp_dir());
    autoclose int fd = mkostemp(name, O_CLOEXEC);
    if (fd < 0)
        return fail_errno(err, "create a temporary file in %s", temp_dir());
    int r = url ? http_download(input, fd, err) : fd_copy(STDIN_FILENO, fd, -1, err);
    if (r < 0) {
        unlink(name);
        return error_prefix(err, url ? "download %s" : "read standard input", input);
    }
    *tmp = steal_pointer(&name);
    return 0;
}

static void unlink_and_free(char **path)
{
    if (*path)
        unlink(*path);
    free(*path);
    *path = NULL;
}
#define autounlink cleanup(unlink_and_free)

static int cmd_load(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"input", required_argument, NULL, 'i'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    const char *input = NULL;
    bool quiet = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "i:qh", longs, "load", &status)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'q': quiet = true; break;
        case 'h':
            puts("Usage: lrun load [-i FILE|DIR|URL] [-q]\n\n"
                 "Load a docker-archive, an OCI archive or an OCI layout (from stdin without -i).");
            return 0;
        default: return status;
        }
    }
    if (!input && optind < argc)
        input = argv[optind++];
    autoerror lrun_error *err = NULL;
    autounlink char *tmp = NULL;
    if (cli_input_file(input, &tmp, &err) < 0)
        return cli_fail(err);
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autostrv char **names = NULL;
    if (lrun_image_load(s, tmp ? tmp : input, quiet ? NULL : cli_progress_line, NULL, &names, &err) < 0)
        return cli_fail(err);
    for (size_t i = 0; names[i]; i++)
        printf("Loaded image: %s\n", names[i]);
    return 0;
}

/* --- import --- */

static const char import_help[] =
    "Usage: lrun import [-c CHANGE]... [-m MESSAGE] [-q] [--arch A] [--os O] [--variant V] FILE|URL|- [NAME]\n\n"
    "Make an image of one layer from a tar (plain or compressed; - reads stdin).\n"
    "  -c, --change 'CMD [...]'   also ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER,\n"
    "                             VOLUME, WORKDIR, as in a Containerfile\n"
    "  -m, --message TEXT         the history entry's comment";

static int cmd_import(struct cli *cli, int argc, char **argv)
{
    enum { O_ARCH = 256, O_OS, O_VARIANT };
    static const struct option longs[] = {{"change", required_argument, NULL, 'c'},
                                          {"message", required_argument, NULL, 'm'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"arch", required_argument, NULL, O_ARCH},
                                          {"os", required_argument, NULL, O_OS},
                                          {"variant", required_argument, NULL, O_VARIANT},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    autostrv char **changes = xcalloc(1, sizeof *changes);
    struct import_options o = {.progress = cli_progress_line};
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "c:m:qh", longs, "import", &status)) != -1) {
        switch (c) {
        case 'c': strv_push(&changes, xstrdup(optarg)); break;
        case 'm': o.message = optarg; break;
        case 'q': o.progress = NULL; break;
        case O_ARCH: o.arch = optarg; break;
        case O_OS: o.os = optarg; break;
        case O_VARIANT: o.variant = optarg; break;
        case 'h': puts(import_help); return 0;
        default: return status;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        cli_error("requires at least 1 arg(s), only received %d", argc - optind);
        return EXIT_LRUN;
    }
    o.changes = changes;
    o.name = argc - optind == 2 ? argv[optind + 1] : NULL;
    autoerror lrun_error *err = NULL;
    autounlink char *tmp = NULL;
    if (cli_input_file(argv[optind], &tmp, &err) < 0)
        return cli_fail(err);
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autofree char *id = NULL;
    if (image_import(s, tmp ? tmp : argv[optind], &o, &id, &err) < 0)
        return err->exit_code = EXIT_LRUN, cli_fail(err);
    printf("sha256:%s\n", id);
    return 0;
}

/* --- save --- */

static const char save_help[] =
    "Usage: lrun save [-o FILE|DIR] [--format FORMAT] [-m] [-q] [--uncompressed] IMAGE [TAG...|IMAGE...]\n\n"
    "Write images to an archive (stdout without -o).\n\n"
    "  --format docker-archive   docker save's tar (the default); -m: several images in one\n"
    "           oci-archive      an OCI image layout as a tar (layers gzip'd)\n"
    "           oci-dir          an OCI image layout in directory DIR\n"
    "           docker-dir       a directory of blobs and a schema 2 manifest\n"
    "  --uncompressed            oci formats: leave the layers uncompressed\n"
    "  --compress                docker-dir: gzip the layers\n"
    "Without -m, more names after the image are more names for it in the archive.";

static int cmd_save(struct cli *cli, int argc, char **argv)
{
    enum { O_UNCOMPRESSED = 256, O_COMPRESS };
    static const struct option longs[] = {{"output", required_argument, NULL, 'o'},
                                          {"format", required_argument, NULL, 'F'},
                                          {"multi-image-archive", no_argument, NULL, 'm'},
                                          {"uncompressed", no_argument, NULL, O_UNCOMPRESSED},
                                          {"compress", no_argument, NULL, O_COMPRESS},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    static const char *const formats[] = {"docker-archive", "oci-archive", "oci-dir", "docker-dir", NULL};
    const char *output = NULL;
    enum save_format format = SAVE_DOCKER_ARCHIVE;
    bool multi = false, quiet = false, uncompressed = false, compress = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "o:mqh", longs, "save", &status)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'm': multi = true; break;
        case 'q': quiet = true; break;
        case O_UNCOMPRESSED: uncompressed = true; break;
        case O_COMPRESS: compress = true; break;
        case 'F': {
            size_t i = 0;
            while (formats[i] && strcmp(formats[i], optarg) != 0)
                i++;
            if (!formats[i]) {
                cli_error("format value must be one of oci-dir oci-archive docker-dir docker-archive");
                return EXIT_LRUN;
            }
            format = (enum save_format)i;
            break;
        }
        case 'h': puts(save_help); return 0;
        default: return status;
        }
    }
    if (optind >= argc) {
        cli_error("need at least 1 argument");
        return EXIT_LRUN;
    }
    if (compress && format != SAVE_DOCKER_DIR) {
        cli_error("--compress can only be set when --format is 'docker-dir'");
        return EXIT_LRUN;
    }
    if (!output && isatty(STDOUT_FILENO)) {
        cli_error("refusing to save to terminal. Use -o flag or redirect");
        return EXIT_LRUN;
    }
    autostrv char **names = xcalloc(1, sizeof *names);
    autostrv char **tags = xcalloc(1, sizeof *tags);
    for (int i = optind; i < argc; i++)
        strv_push(i == optind || multi ? &names : &tags, xstrdup(argv[i]));
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    lrun_progress_fn progress = quiet || !output ? NULL : cli_progress_line;
    bool compressed = format == SAVE_DOCKER_DIR ? compress : !uncompressed;
    autoerror lrun_error *err = NULL;
    if (images_save(s, names, tags, format, compressed, output, STDOUT_FILENO, progress, NULL, &err) < 0)
        return err->exit_code = EXIT_LRUN, cli_fail(err);
    return 0;
}

/* --- pull, login, logout --- */

/* prompt_line: a line typed on stdin, not echoed when secret (a password). */
static char *prompt_line(const char *prompt, bool secret)
{
    fputs(prompt, stderr);
    fflush(stderr);
    struct termios saved, quiet;
    bool hide = secret && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (hide) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (hide) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    if (n < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

/* cli_bool_flag: a boolean flag's value as Go's strconv.ParseBool takes it
 * ("--tls-verify" alone is true). */
static int cli_bool_flag(const char *flag, const char *value, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False", NULL};
    for (size_t i = 0; yes[i]; i++)
        if (!value || strcmp(value, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; no[i]; i++)
        if (strcmp(value, no[i]) == 0)
            return *out = false, 0;
    cli_error("invalid argument \"%s\" for \"--%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax", value,
              flag, value);
    return EXIT_LRUN;
}

enum { OPT_CREDS = 256, OPT_TLS_VERIFY, OPT_PLATFORM, OPT_ARCH, OPT_OS, OPT_VARIANT, OPT_MAX_PARALLEL, OPT_AUTHFILE,
       OPT_CERT_DIR, OPT_PASSWORD_STDIN, OPT_FORMAT, OPT_COMPRESSION_FORMAT, OPT_DIGESTFILE, OPT_REMOVE_SIGNATURES,
       OPT_SIGN_BY };

/* cli_registry_option: the options pull and login share; 1 when c is not one. */
static int cli_registry_option(int c, lrun_pull_options *o, int *status)
{
    bool verify;
    switch (c) {
    case OPT_TLS_VERIFY:
        if ((*status = cli_bool_flag("tls-verify", optarg, &verify)))
            return 0;
        o->tls_verify = verify ? 1 : -1;
        return 0;
    case OPT_AUTHFILE: o->auth_file = optarg; return 0;
    case OPT_CERT_DIR: o->cert_dir = optarg; return 0;
    default: return 1;
    }
}

/* cli_platform: --platform, with --os, --arch and --variant overriding its parts. */
static char *cli_platform(const char *platform, const char *os, const char *arch, const char *variant)
{
    if (!os && !arch && !variant)
        return platform ? xstrdup(platform) : NULL;
    struct platform base = {0};
    if (platform_parse(platform, &base, NULL) < 0)
        platform_parse(NULL, &base, NULL);
    const char *v = variant ? variant : base.variant;
    char *text = xasprintf("%s/%s%s%s", os ? os : base.os, arch ? arch : base.arch, *v ? "/" : "", v);
    platform_clear(&base);
    return text;
}

static const char pull_help[] =
    "Usage: lrun pull [options] IMAGE\n\n"
    "Pull an image from a registry (docker's names: busybox is docker.io/library/busybox:latest).\n\n"
    "Options:\n"
    "  --creds USER[:PASSWORD]   credentials for the registry\n"
    "  --tls-verify[=false]      check the registry's certificate (default: yes,\n"
    "                            except for localhost, which may also use http)\n"
    "  --cert-dir DIR            CAs (*.crt) and client certificates (NAME.cert, NAME.key)\n"
    "  --authfile FILE           where login stored credentials\n"
    "  --platform OS/ARCH[/VAR]  the image to choose from a manifest list\n"
    "  --os, --arch, --variant   parts of --platform\n"
    "  --max-parallel N          layers downloaded at once (default 3)\n"
    "  -q, --quiet               print only the image ID";

static int cmd_pull(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {
        {"creds", required_argument, NULL, OPT_CREDS},
        {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"arch", required_argument, NULL, OPT_ARCH},
        {"os", required_argument, NULL, OPT_OS},
        {"variant", required_argument, NULL, OPT_VARIANT},
        {"max-parallel", required_argument, NULL, OPT_MAX_PARALLEL},
        {"authfile", required_argument, NULL, OPT_AUTHFILE},
        {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lrun_pull_options o = {0};
    const char *creds = NULL, *platform = NULL, *os = NULL, *arch = NULL, *variant = NULL;
    bool quiet = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "qh", longs, "pull", &status)) != -1) {
        if (cli_registry_option(c, &o, &status) == 0) {
            if (status)
                return status;
            continue;
        }
        switch (c) {
        case OPT_CREDS: creds = optarg; break;
        case OPT_PLATFORM: platform = optarg; break;
        case OPT_OS: os = optarg; break;
        case OPT_ARCH: arch = optarg; break;
        case OPT_VARIANT: variant = optarg; break;
        case OPT_MAX_PARALLEL:
            o.max_parallel = atoi(optarg);
            if (o.max_parallel < 1 || o.max_parallel > 64) {
                cli_error("--max-parallel must be between 1 and 64");
                return EXIT_LRUN;
            }
            break;
        case 'q': quiet = true; break;
        case 'h': puts(pull_help); return 0;
        default: return status;
        }
    }
    if (argc - optind != 1) {
        cli_error("requires exactly 1 arg(s), only received %d", argc - optind);
        return EXIT_LRUN;
    }
    autofree char *password_prompted = NULL;
    if (creds && !strchr(creds, ':')) {
        autofree char *password = prompt_line("Password: ", true);
        creds = password_prompted = xasprintf("%s:%s", creds, password ? password : "");
    }
    autofree char *platform_text = cli_platform(platform, os, arch, variant);
    o.creds = creds;
    o.platform = platform_text;
    o.progress = quiet ? NULL : cli_progress_line;
    o.progress_fd = !quiet && isatty(STDERR_FILENO) ? STDERR_FILENO : 0;
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    autofree char *id = NULL;
    if (image_pull(s, argv[optind], &o, &id, &err) < 0)
        return cli_fail(err);
    printf("%s\n", id);
    return 0;
}

static const char push_help[] =
    "Usage: lrun push [options] IMAGE [DESTINATION]\n\n"
    "Push an image to a registry (DESTINATION: its name there, default IMAGE's name;\n"
    "also docker-archive:PATH, oci-archive:PATH, oci:DIR or dir:DIR).\n\n"
    "Options:\n"
    "  --creds USER[:PASSWORD]      credentials for the registry\n"
    "  --tls-verify[=false]         check the registry's certificate (not for localhost)\n"
    "  --cert-dir DIR  --authfile FILE\n"
    "  -f, --format oci|v2s2        the manifest format (default: the one the image came in)\n"
    "  --compression-format gzip|zstd   how layers go (default: as each came; plain ones gzip'd)\n"
    "  --digestfile FILE            write the pushed manifest's digest there\n"
    "  -q, --quiet                  no progress lines";

/* push_transport: DESTINATION with a transport other than docker:// is
 * an archive or layout on disk, written as save does. */
static int push_transport(lrun_store *s, const char *image, const char *destination, bool quiet, bool *handled,
                          lrun_error **err)
{
    static const struct {
        const char *prefix;
        enum save_format format;
    } transports[] = {{"docker-archive:", SAVE_DOCKER_ARCHIVE}, {"oci-archive:", SAVE_OCI_ARCHIVE},
                      {"oci:", SAVE_OCI_DIR}, {"dir:", SAVE_DOCKER_DIR}};
    *handled = false;
    for (size_t i = 0; i < sizeof transports / sizeof *transports; i++) {
        if (!has_prefix(destination, transports[i].prefix))
            continue;
        *handled = true;
        char *names[] = {(char *)image, NULL};
        return images_save(s, names, NULL, transports[i].format, transports[i].format == SAVE_OCI_ARCHIVE ||
                                                                      transports[i].format == SAVE_OCI_DIR,
                           destination + strlen(transports[i].prefix), -1, quiet ? NULL : cli_progress_line, NULL,
                           err);
    }
    return 0;
}

static int cmd_push(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {
        {"creds", required_argument, NULL, OPT_CREDS},
        {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
        {"authfile", required_argument, NULL, OPT_AUTHFILE},
        {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
        {"format", required_argument, NULL, 'f'},
        {"compression-format", required_argument, NULL, OPT_COMPRESSION_FORMAT},
        {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
        {"remove-signatures", no_argument, NULL, OPT_REMOVE_SIGNATURES},
        {"disable-content-trust", no_argument, NULL, OPT_REMOVE_SIGNATURES},
        {"sign-by", required_argument, NULL, OPT_SIGN_BY},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct push_options o = {.compression = -1, .registry.progress = cli_progress_line};
    const char *creds = NULL, *digest_file = NULL;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "f:qh", longs, "push", &status)) != -1) {
        if (cli_registry_option(c, &o.registry, &status) == 0) {
            if (status)
                return status;
            continue;
        }
        switch (c) {
        case OPT_CREDS: creds = optarg; break;
        case 'f': o.format = optarg; break;
        case OPT_COMPRESSION_FORMAT:
            if (strcmp(optarg, "gzip") != 0 && strcmp(optarg, "zstd") != 0) {
                cli_error("unsupported compression format \"%s\": use gzip or zstd", optarg);
                return EXIT_LRUN;
            }
            o.compression = strcmp(optarg, "zstd") == 0 ? COMPRESSION_ZSTD : COMPRESSION_GZIP;
            break;
        case OPT_DIGESTFILE: digest_file = optarg; break;
        case OPT_REMOVE_SIGNATURES: break; /* lrun stores no signatures to remove */
        case OPT_SIGN_BY: cli_error("signing images is not supported"); return EXIT_LRUN;
        case 'q': o.registry.progress = NULL; break;
        case 'h': puts(push_help); return 0;
        default: return status;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        cli_error("requires at least 1 arg(s), only received %d", argc - optind);
        return EXIT_LRUN;
    }
    const char *image = argv[optind];
    const char *destination = argc - optind == 2 ? argv[optind + 1] : image;
    if (has_prefix(destination, "docker://"))
        destination += 9;
    autofree char *password_prompted = NULL;
    if (creds && !strchr(creds, ':')) {
        autofree char *password = prompt_line("Password: ", true);
        creds = password_prompted = xasprintf("%s:%s", creds, password ? password : "");
    }
    o.registry.creds = creds;
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    bool handled;
    if (push_transport(s, image, destination, !o.registry.progress, &handled, &err) < 0)
        return err->exit_code = EXIT_LRUN, cli_fail(err);
    if (handled)
        return 0;
    autofree char *digest = NULL;
    o.digest = &digest;
    if (image_push(s, image, destination, &o, &err) < 0)
        return err->exit_code = EXIT_LRUN, cli_fail(err);
    if (digest_file && write_file_at(AT_FDCWD, digest_file, digest, strlen(digest), 0644, &err) < 0)
        return cli_fail(err);
    return 0;
}

static int cmd_login(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {
        {"username", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
        {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
        {"authfile", required_argument, NULL, OPT_AUTHFILE},
        {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lrun_pull_options o = {0};
    const char *user = NULL, *password = NULL;
    bool password_stdin = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "u:p:h", longs, "login", &status)) != -1) {
        if (cli_registry_option(c, &o, &status) == 0) {
            if (status)
                return status;
            continue;
        }
        switch (c) {
        case 'u': user = optarg; break;
        case 'p': password = optarg; break;
        case OPT_PASSWORD_STDIN: password_stdin = true; break;
        case 'h':
            puts("Usage: lrun login [-u USER] [-p PASSWORD | --password-stdin] [--tls-verify=false] [--cert-dir DIR]\n"
                 "                  [--authfile FILE] REGISTRY");
            return 0;
        default: return status;
        }
    }
    if (argc - optind != 1) {
        cli_error("please provide a registry to log into");
        return EXIT_LRUN;
    }
    if (password && password_stdin) {
        cli_error("--password and --password-stdin are mutually exclusive");
        return EXIT_LRUN;
    }
    autofree char *typed_user = user ? NULL : prompt_line("Username: ", false);
    autofree char *typed_password = password ? NULL : prompt_line(password_stdin ? "" : "Password: ", !password_stdin);
    user = user ? user : typed_user;
    password = password ? password : typed_password;
    if (!user || !*user || !password || !*password) {
        cli_error("a user name and a password are needed to log in");
        return EXIT_LRUN;
    }
    autoerror lrun_error *err = NULL;
    if (lrun_login(argv[optind], user, password, &o, &err) < 0)
        return cli_fail(err);
    puts("Login Succeeded!");
    return 0;
}

static int cmd_logout(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {
        {"all", no_argument, NULL, 'a'},
        {"authfile", required_argument, NULL, OPT_AUTHFILE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lrun_pull_options o = {0};
    bool all = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "ah", longs, "logout", &status)) != -1) {
        switch (c) {
        case 'a': all = true; break;
        case OPT_AUTHFILE: o.auth_file = optarg; break;
        case 'h': puts("Usage: lrun logout [--authfile FILE] (REGISTRY | --all)"); return 0;
        default: return status;
        }
    }
    if (all ? argc != optind : argc - optind != 1) {
        cli_error(all ? "--all takes no registry" : "please provide a registry to log out from, or --all");
        return EXIT_LRUN;
    }
    autoerror lrun_error *err = NULL;
    if (lrun_logout(all ? NULL : argv[optind], &o, &err) < 0)
        return cli_fail(err);
    if (all)
        puts("Removed login credentials for all registries");
    else
        printf("Removed login credentials for %s\n", argv[optind]);
    return 0;
}

/* --- images --- */

struct image_row {
    struct image *img;
    const char *name; /* NULL: untagged */
    size_t order;     /* position in the store, for a stable sort */
};

static int compare_image_rows(const void *a, const void *b)
{
    const struct image_row *x = a, *y = b;
    int64_t tx = image_created_seconds(x->img), ty = image_created_seconds(y->img);
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order; /* ties keep store order */
}

/* image_rows: one row per name (untagged images: one row), newest first. */
static size_t image_rows(lrun_store *s, const char *filter, struct image_row **rows)
{
    size_t n = 0;
    *rows = NULL;
    autofree char *filter_full = filter ? name_normalize(filter, NULL) : NULL;
    autofree char *filter_repo = NULL, *filter_tag = NULL;
    autofree char *filter_tail = filter ? xasprintf("/%s", filter) : NULL;
    const char *last = filter ? strrchr(filter, '/') : NULL;
    bool filter_tagged = filter && (strchr(last ? last : filter, ':') || strchr(filter, '@'));
    if (filter_full)
        name_split(filter_full, &filter_repo, &filter_tag);
    for (size_t i = 0; i < s->n_images; i++) {
        struct image *img = s->images[i];
        size_t names = strv_len(img->names), tagged = 0;
        for (size_t j = 0; j < names; j++)
            tagged += !strchr(img->names[j], '@');
        for (size_t j = 0; j < (names ? names : 1); j++) {
            const char *name = names ? img->names[j] : NULL;
            /* as podman: rows for tagged names; a name@digest (a pull by
             * digest) only when there is no tagged one, once */
            if (name && strchr(name, '@') && (tagged || j > 0))
                continue;
            if (filter) { /* REPOSITORY[:TAG], fully qualified or as the tail of a name */
                autofree char *repo = NULL, *tag = NULL;
                if (!name)
                    continue;
                name_split(name, &repo, &tag);
                bool match = filter_tagged ? (filter_full && strcmp(name, filter_full) == 0) || has_suffix(name, filter_tail)
                                           : (filter_repo && strcmp(repo, filter_repo) == 0) || has_suffix(repo, filter_tail);
                if (!match && strcmp(name, filter) != 0)
                    continue;
            }
            *rows = xrealloc(*rows, (n + 1) * sizeof **rows);
            (*rows)[n] = (struct image_row){img, name, n};
            n++;
        }
    }
    qsort(*rows, n, sizeof **rows, compare_image_rows);
    return n;
}

static char *image_row_json(lrun_store *s, const struct image_row *r)
{
    autofree char *repo = NULL, *tag = NULL;
    if (r->name)
        name_split(r->name, &repo, &tag);
    autofree char *size = human_size((double)image_size(s, r->img), 3);
    autofree char *ago = time_ago(image_created_seconds(r->img));
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    autofree char *short_id = xstrndup(r->img->id, 12);
    jw_key_str(g, "ID", short_id);
    jw_key_str(g, "Id", r->img->id);
    jw_key_str(g, "Repository", repo ? repo : "<none>");
    jw_key_str(g, "Tag", tag ? tag : "<none>");
    jw_key_str(g, "Digest", r->img->digest ? r->img->digest : "");
    jw_key_str(g, "CreatedSince", ago);
    autofree char *created_at = time_go_string(image_created_seconds(r->img));
    jw_key_str(g, "CreatedAt", created_at);
    jw_key_int(g, "Created", image_created_seconds(r->img));
    jw_key_str(g, "Size", size);
    jw_key(g, "Names");
    jw_strv(g, r->img->names);
    jw_key_int(g, "Containers", (int64_t)image_containers(s, r->img));
    yajl_gen_map_close(g);
    return json_writer_text(g, NULL);
}

/* images_json: podman's "images --format json" objects, one per row. */
static void images_json(lrun_store *s, struct image_row *rows, size_t n)
{
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        struct image *img = rows[i].img;
        yajl_gen_map_open(g);
        jw_key_str(g, "Id", img->id);
        jw_key_str(g, "ParentId", "");
        jw_key(g, "RepoTags");
        yajl_gen_null(g);
        jw_key(g, "RepoDigests");
        yajl_gen_array_open(g);
        for (size_t j = 0; img->digest && img->names && img->names[j]; j++) {
            autofree char *repo = NULL, *tag = NULL;
            name_split(img->names[j], &repo, &tag);
            autofree char *rd = xasprintf("%s@%s", repo, img->digest);
            jw_str(g, rd);
        }
        yajl_gen_array_close(g);
        int64_t size = image_size(s, img);
        jw_key_int(g, "Size", size);
        jw_key_int(g, "SharedSize", 0);
        jw_key_int(g, "VirtualSize", size);
        jw_key(g, "Labels");
        yajl_gen_null(g);
        jw_key_int(g, "Containers", (int64_t)image_containers(s, img));
        jw_key(g, "Names");
        jw_strv(g, img->names);
        jw_key_str(g, "Digest", img->digest);
        jw_key(g, "History");
        jw_strv(g, img->names_history);
        jw_key_int(g, "Created", image_created_seconds(img));
        jw_key_str(g, "CreatedAt", img->created);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    json_print_go(g, "    ");
}

static yajl_val images_header(void)
{
    return json_text_to_tree("{\"ID\":\"IMAGE ID\",\"Id\":\"IMAGE ID\",\"Repository\":\"REPOSITORY\",\"Tag\":\"TAG\","
                             "\"Digest\":\"DIGEST\",\"CreatedSince\":\"CREATED\",\"CreatedAt\":\"CREATED AT\","
                             "\"Created\":\"CREATED\",\"Size\":\"SIZE\",\"Names\":\"NAMES\","
                             "\"Containers\":\"CONTAINERS\"}");
}

static int cmd_images(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"all", no_argument, NULL, 'a'},       {"quiet", no_argument, NULL, 'q'},
                                          {"no-trunc", no_argument, NULL, 'T'},  {"noheading", no_argument, NULL, 'n'},
                                          {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    bool quiet = false, no_trunc = false, no_heading = false;
    const char *format = NULL;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "aqnh", longs, "images", &status)) != -1) {
        switch (c) {
        case 'a': break; /* lrun keeps no intermediate images: -a lists the same */
        case 'q': quiet = true; break;
        case 'T': no_trunc = true; break;
        case 'n': no_heading = true; break;
        case 'f': format = optarg; break;
        case 'h': puts("Usage: lrun images [-a] [-q] [--no-trunc] [--noheading] [--format FORMAT] [REPOSITORY]"); return 0;
        default: return status;
        }
    }
    const char *filter = optind < argc ? argv[optind] : NULL;
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autofree struct image_row *rows = NULL;
    size_t n = image_rows(s, filter, &rows);
    if (quiet) {
        for (size_t i = 0; i < n; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = rows[j].img == rows[i].img;
            if (!seen)
                printf("%.*s\n", no_trunc ? 64 : 12, rows[i].img->id);
        }
        return 0;
    }
    if (format && strcmp(format, "json") == 0) {
        images_json(s, rows, n);
        return 0;
    }
    if (format) {
        autofree yajl_val *trees = xcalloc(n + 1, sizeof *trees);
        for (size_t i = 0; i < n; i++) {
            autofree char *text = image_row_json(s, &rows[i]);
            trees[i] = json_text_to_tree(text);
        }
        autojson yajl_val header = images_header();
        status = format_print_rows(format, trees, n, header);
        for (size_t i = 0; i < n; i++)
            yajl_tree_free(trees[i]);
        return status;
    }
    struct table t = {.columns = 5};
    if (!no_heading)
        table_add_row(&t, "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
    for (size_t i = 0; i < n; i++) {
        autofree char *repo = NULL, *tag = NULL;
        if (rows[i].name)
            name_split(rows[i].name, &repo, &tag);
        /* podman's images SIZE: 3 digits and a space before the unit */
        autofree char *size = human_size((double)image_size(s, rows[i].img), 3);
        size_t digits = strspn(size, "0123456789.e+");
        table_add(&t, xstrdup(repo ? repo : "<none>"));
        table_add(&t, xstrdup(tag ? tag : "<none>"));
        table_add(&t, no_trunc ? xasprintf("sha256:%s", rows[i].img->id) : xstrndup(rows[i].img->id, 12));
        table_add(&t, time_ago(image_created_seconds(rows[i].img)));
        table_add(&t, xasprintf("%.*s %s", (int)digits, size, size + digits));
    }
    table_print(&t, stdout);
    return 0;
}

/* --- image tree --- */

static void names_bracketed(struct buf *out, char *const *names)
{
    buf_add(out, "[", 1);
    for (size_t i = 0; names && names[i]; i++) {
        if (i)
            buf_add(out, " ", 1);
        buf_adds(out, names[i]);
    }
    buf_add(out, "]", 1);
}

static int cmd_image_tree(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "h", longs, "image tree", &status)) != -1) {
        if (c == 'h') {
            puts("Usage: lrun image tree IMAGE");
            return 0;
        }
        return status;
    }
    if (optind + 1 != argc) {
        cli_error("lrun image tree takes exactly one image");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    struct image *img = image_lookup(s, argv[optind], &err);
    if (!img)
        return err->exit_code = EXIT_LRUN, cli_fail(err);
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, img->layer, &chain);
    autobuf struct buf out = {0};
    autofree char *size = human_size((double)image_size(s, img), 4);
    buf_printf(&out, "Image ID: %.12s\nTags:     ", img->id);
    names_bracketed(&out, img->names);
    buf_printf(&out, "\nSize:     %s\nImage Layers\n", size);
    for (size_t i = n; i-- > 0;) {
        autofree char *layer_size = human_size((double)(chain[i]->diff_size > 0 ? chain[i]->diff_size : 0), 4);
        buf_printf(&out, "%s ID: %.12s Size: %7s", i ? "├──" : "└──", chain[i]->id, layer_size);
        autofree char **tops = NULL;
        for (size_t j = 0; j < s->n_images; j++)
            if (s->images[j]->layer && strcmp(s->images[j]->layer, chain[i]->id) == 0)
                for (size_t k = 0; s->images[j]->names && s->images[j]->names[k]; k++) {
                    size_t m = strv_len(tops);
                    tops = xrealloc(tops, (m + 2) * sizeof *tops);
                    tops[m] = s->images[j]->names[k];
                    tops[m + 1] = NULL;
                }
        if (tops) {
            buf_adds(&out, " Top Layer of: ");
            names_bracketed(&out, tops);
        }
        buf_add(&out, "\n", 1);
    }
    printf("%s\n", out.data);
    return 0;
}

/* --- history --- */

struct history_row {
    char *id; /* the image ID, or "<missing>" */
    const char *created, *created_by, *comment;
    int64_t size;
};

/* history_rows: podman's: the config's history newest first, each entry
 * that made a layer sized by that layer (walking down the chain), and
 * named by an image whose top layer it is (each image once). */
static size_t history_rows(lrun_store *s, struct image *img, yajl_val config, struct history_row **rows)
{
    yajl_val history = json_get(config, "history");
    size_t n = json_array_len(history);
    *rows = xcalloc(n + 1, sizeof **rows);
    autofree bool *used = xcalloc(s->n_images + 1, sizeof *used);
    struct layer *l = store_layer(s, img->layer);
    for (size_t k = 0; k < n; k++) {
        yajl_val h = json_array_at(history, n - 1 - k);
        struct history_row *r = &(*rows)[k];
        bool empty = YAJL_IS_TRUE(json_get(h, "empty_layer"));
        r->created = json_string(h, "created");
        r->created_by = json_string(h, "created_by");
        r->comment = json_string(h, "comment");
        r->id = xstrdup(k == 0 ? img->id : "<missing>");
        if (!l)
            continue;
        if (!empty)
            r->size = l->diff_size > 0 ? l->diff_size : 0;
        for (size_t i = 0; i < s->n_images; i++)
            if (s->images[i]->layer && strcmp(s->images[i]->layer, l->id) == 0) {
                if (!used[i]) {
                    free(r->id);
                    r->id = xstrdup(s->images[i]->id);
                    used[i] = true;
                }
                break; /* the first image with this top layer names it */
            }
        if (!empty) /* an entry that made no layer leaves the walk where it is */
            l = l->parent ? store_layer(s, l->parent) : NULL;
    }
    return n;
}

/* history_row_json: the fields --format knows (podman's historyReporter). */
static yajl_val history_row_json(const struct history_row *r, bool human, bool no_trunc)
{
    int64_t created = time_parse_rfc3339(r->created);
    autofree char *ago = time_ago(created);
    autofree char *stamp = time_rfc3339_local(created);
    autofree char *at = time_go_string(created);
    const char *by = r->created_by ? r->created_by : "";
    autofree char *short_by = !no_trunc && strlen(by) > 45 ? xasprintf("%.42s...", by) : xstrdup(by);
    autofree char *h = human_size((double)r->size, 3); /* --human=false leaves sizes human (podman 4.3) */
    size_t digits = strspn(h, "0123456789.e+");
    autofree char *size = xasprintf("%.*s %s", (int)digits, h, h + digits);
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    autofree char *id = no_trunc || strlen(r->id) < 12 ? xstrdup(r->id) : xstrndup(r->id, 12);
    jw_key_str(g, "ID", id);
    jw_key_str(g, "Created", human ? ago : stamp);
    jw_key_str(g, "CreatedSince", human ? ago : stamp);
    jw_key_str(g, "CreatedAt", at);
    jw_key_str(g, "CreatedBy", short_by);
    jw_key_str(g, "Size", size);
    jw_key_str(g, "Comment", r->comment ? r->comment : "");
    jw_key(g, "Tags");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    autofree char *text = json_writer_text(g, NULL);
    return json_text_to_tree(text);
}

/* history_print_json: podman's "history --format json": one line. */
static void history_print_json(const struct history_row *rows, size_t n)
{
    autobuf struct buf out = {0};
    buf_adds(&out, "[");
    for (size_t i = 0; i < n; i++) {
        const struct history_row *r = &rows[i];
        buf_adds(&out, i ? ",{\"id\":" : "{\"id\":");
        json_go_string(&out, r->id);
        buf_adds(&out, ",\"created\":");
        json_go_string(&out, r->created ? r->created : "0001-01-01T00:00:00Z");
        if (r->created_by && *r->created_by) {
            buf_adds(&out, ",\"CreatedBy\":");
            json_go_string(&out, r->created_by);
        }
        buf_printf(&out, ",\"size\":%" PRId64, r->size);
        if (r->comment && *r->comment) {
            buf_adds(&out, ",\"comment\":");
            json_go_string(&out, r->comment);
        }
        buf_adds(&out, ",\"Created\":");
        json_go_string(&out, r->created ? r->created : "0001-01-01T00:00:00Z");
        buf_adds(&out, "}");
    }
    buf_adds(&out, "]");
    printf("%s\n", out.data);
}

static const char history_help[] =
    "Usage: lrun history [--no-trunc] [-q] [-H|--human=false] [--format FORMAT] IMAGE\n\n"
    "Show how an image was made, from its config's history, newest first.";

static int cmd_history(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"no-trunc", no_argument, NULL, 'T'},  {"notruncate", no_argument, NULL, 'T'},
                                          {"quiet", no_argument, NULL, 'q'},     {"human", optional_argument, NULL, 'H'},
                                          {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    bool no_trunc = false, quiet = false, human = true;
    const char *format = NULL;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "qHh", longs, "history", &status)) != -1) {
        switch (c) {
        case 'T': no_trunc = true; break;
        case 'q': quiet = true; break;
        case 'H':
            if ((status = cli_bool_flag("human", optarg, &human)))
                return status;
            break;
        case 'f': format = optarg; break;
        case 'h': puts(history_help); return 0;
        default: return status;
        }
    }
    if (argc - optind != 1) {
        cli_error("accepts 1 arg(s), received %d", argc - optind);
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    struct image *img = image_lookup(s, argv[optind], &err);
    autojson yajl_val config = img ? image_config(s, img, &err) : NULL;
    if (!config)
        return err->exit_code = EXIT_LRUN, cli_fail(err);
    struct history_row *rows = NULL;
    size_t n = history_rows(s, img, config, &rows);
    if (format && strcmp(format, "json") == 0) {
        history_print_json(rows, n);
    } else {
        const char *tmpl = quiet ? "{{.ID}}" : format ? format : "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
        autofree yajl_val *trees = xcalloc(n + 1, sizeof *trees);
        for (size_t i = 0; i < n; i++)
            trees[i] = history_row_json(&rows[i], human, no_trunc);
        autojson yajl_val header = json_text_to_tree(
            "{\"ID\":\"ID\",\"Created\":\"CREATED\",\"CreatedSince\":\"CREATED\",\"CreatedAt\":\"CREATED AT\","
            "\"CreatedBy\":\"CREATED BY\",\"Size\":\"SIZE\",\"Comment\":\"COMMENT\",\"Tags\":\"TAGS\"}");
        status = format_print_rows(tmpl, trees, n, header);
        for (size_t i = 0; i < n; i++)
            yajl_tree_free(trees[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(rows[i].id);
    free(rows);
    return status;
}

/* --- diff --- */

/* diff_layer: the layer an argument of diff names (an image's top). */
/* diff_layer: a container's layer (a container is looked up first, as
 * podman does) or an image's top layer. */
static struct layer *diff_layer(lrun_store *s, const char *name, bool *container, lrun_error **err)
{
    autoerror lrun_error *ignored = NULL;
    struct container *ct = container_lookup(s, name, &ignored);
    struct image *img = ct ? NULL : image_lookup(s, name, NULL);
    struct layer *l = ct ? store_layer(s, ct->layer) : img ? store_layer(s, img->layer) : NULL;
    if (!l)
        fail(err, "%s not found: layer not known", name);
    if (container)
        *container = ct != NULL;
    return l;
}

/* changes_drop_mount_points: a container's diff without the empty mount
 * points the runtime made (/etc/hosts, /proc, ...), as podman shows it. */
static void changes_drop_mount_points(lrun_store *s, const struct layer *l, struct changes *c)
{
    autofree char *diff_path = xasprintf("%s/diff", l->id);
    autoclose int diff_fd = openat(s->overlay_fd, diff_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    for (size_t i = 0; diff_fd >= 0 && i < c->n; i++) {
        struct stat st;
        const char *rel = c->list[i].path + 1;
        if (c->list[i].kind != 'A' || !strv_contains(runtime_mount_points, rel) ||
            fstatat(diff_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !entry_is_empty(diff_fd, rel, &st))
            continue;
        free(c->list[i].path);
        memmove(&c->list[i], &c->list[i + 1], (c->n - i - 1) * sizeof *c->list);
        c->n--, i--;
    }
}

static void diff_print_json(const struct changes *c)
{
    static const struct {
        char kind;
        const char *key;
    } groups[] = {{'C', "changed"}, {'A', "added"}, {'D', "deleted"}};
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    for (size_t k = 0; k < sizeof groups / sizeof *groups; k++) {
        bool any = false;
        for (size_t i = 0; i < c->n; i++) {
            if (c->list[i].kind != groups[k].kind)
                continue;
            if (!any) {
                jw_key(g, groups[k].key);
                yajl_gen_array_open(g);
                any = true;
            }
            jw_str(g, c->list[i].path);
        }
        if (any)
            yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    json_print_go(g, "     ");
}

static int cmd_diff(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"format", required_argument, NULL, 'f'}, {"latest", no_argument, NULL, 'l'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *format = NULL;
    bool latest = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "lh", longs, "diff", &status)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'l': latest = true; break;
        case 'h':
            puts("Usage: lrun diff [--format json] [-l] CONTAINER|IMAGE [CONTAINER|IMAGE]\n\n"
                 "Changes (A added, C changed, D deleted) of a container or an image against its parent layer or the\n"
                 "second one.");
            return 0;
        default: return status;
        }
    }
    if (format && strcmp(format, "json") != 0) {
        cli_error("only supported value for '--format' is 'json'");
        return EXIT_LRUN;
    }
    if (argc - optind + latest < 1 || argc - optind + latest > 2) {
        cli_error("podman diff requires one or two arguments");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    struct container *newest = NULL;
    for (size_t i = 0; latest && i < s->n_containers; i++)
        if (!newest || time_parse_rfc3339(s->containers[i]->created) >= time_parse_rfc3339(newest->created))
            newest = s->containers[i];
    if (latest && !newest) {
        cli_error("no containers to diff: no such container");
        return EXIT_LRUN;
    }
    const char *first = latest ? newest->id : argv[optind];
    bool container = false;
    struct layer *to = diff_layer(s, first, &container, &err);
    if (latest)
        optind--; /* the second operand, if any, stays at optind + 1 */
    struct layer *from = to && argc - optind == 2 ? diff_layer(s, argv[optind + 1], NULL, &err) : NULL;
    if (!to || (argc - optind == 2 && !from))
        return cli_fail(err);
    autochanges struct changes changes = {0};
    if (!from || (to->parent && strcmp(to->parent, from->id) == 0) ? layer_changes(s, to, &changes, &err) < 0
                                                                  : changes_of_images(s->root, to->id, from->id,
                                                                                      &changes, &err) < 0)
        return cli_fail(err);
    if (container && !from)
        changes_drop_mount_points(s, to, &changes);
    if (format) {
        diff_print_json(&changes);
        return 0;
    }
    for (size_t i = 0; i < changes.n; i++)
        printf("%c %s\n", changes.list[i].kind, changes.list[i].path);
    return 0;
}

/* --- inspect --- */

/* image_inspect_json: podman's inspect object for one image. */
static int image_inspect_json(lrun_store *s, struct image *img, yajl_gen g, lrun_error **err)
{
    autojson yajl_val config = image_config(s, img, err);
    if (!config)
        return error_prefix(err, "image %.12s", img->id);
    autofree struct layer **chain = NULL;
    size_t n = layer_chain(s, img->layer, &chain);
    autobuf struct buf manifest = {0};
    autojson yajl_val manifest_tree = NULL;
    if (image_big_data_read(s, img, "manifest", &manifest, NULL) == 0)
        manifest_tree = yajl_tree_parse(manifest.data, NULL, 0);
    yajl_gen_map_open(g);
    jw_key_str(g, "Id", img->id);
    jw_key_str(g, "Digest", img->digest ? img->digest : "");
    jw_key(g, "RepoTags");
    jw_strv(g, img->names);
    jw_key(g, "RepoDigests");
    yajl_gen_array_open(g);
    for (size_t j = 0; img->digest && img->names && img->names[j]; j++) {
        autofree char *repo = NULL, *tag = NULL;
        name_split(img->names[j], &repo, &tag);
        autofree char *rd = xasprintf("%s@%s", repo, img->digest);
        jw_str(g, rd);
    }
    yajl_gen_array_close(g);
    jw_key_str(g, "Parent", "");
    jw_key_str(g, "Comment", json_string(config, "comment") ? json_string(config, "comment") : "");
    jw_key_str(g, "Created", json_string(config, "created") ? json_string(config, "created") : img->created);
    jw_key(g, "Config");
    yajl_val cfg = json_get(config, "config");
    if (cfg)
        jw_value(g, cfg);
    else {
        yajl_gen_map_open(g);
        yajl_gen_map_close(g);
    }
    jw_key_str(g, "Version", json_string(config, "docker_version") ? json_string(config, "docker_version") : "");
    jw_key_str(g, "Author", json_string(config, "author") ? json_string(config, "author") : "");
    jw_key_str(g, "Architecture", json_string(config, "architecture"));
    jw_key_str(g, "Os", json_string(config, "os"));
    int64_t size = image_size(s, img);
    jw_key_int(g, "Size", size);
    jw_key_int(g, "VirtualSize", size);
    jw_key(g, "GraphDriver");
    yajl_gen_map_open(g);
    jw_key_str(g, "Name", "overlay");
    jw_key(g, "Data");
    yajl_gen_map_open(g);
    if (n > 1) {
        autobuf struct buf lower = {0};
        for (size_t i = 1; i < n; i++)
            buf_printf(&lower, "%s%s/overlay/%s/diff", i > 1 ? ":" : "", s->root, chain[i]->id);
        jw_key_str(g, "LowerDir", lower.data);
    }
    if (n > 0) {
        autofree char *upper = xasprintf("%s/overlay/%s/diff", s->root, chain[0]->id);
        autofree char *work = xasprintf("%s/overlay/%s/work", s->root, chain[0]->id);
        jw_key_str(g, "UpperDir", upper);
        jw_key_str(g, "WorkDir", work);
    }
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    jw_key(g, "RootFS");
    yajl_gen_map_open(g);
    jw_key_str(g, "Type", "layers");
    jw_key(g, "Layers");
    jw_value(g, json_get(json_get(config, "rootfs"), "diff_ids"));
    yajl_gen_map_close(g);
    jw_key(g, "Labels");
    jw_value(g, json_get(cfg, "Labels"));
    jw_key(g, "Annotations");
    yajl_val annotations = json_get(manifest_tree, "annotations");
    if (annotations)
        jw_value(g, annotations);
    else {
        yajl_gen_map_open(g);
        yajl_gen_map_close(g);
    }
    const char *manifest_type = json_string(manifest_tree, "mediaType");
    jw_key_str(g, "ManifestType", manifest_type ? manifest_type : "application/vnd.oci.image.manifest.v1+json");
    jw_key_str(g, "User", json_string(cfg, "User") ? json_string(cfg, "User") : "");
    jw_key(g, "History");
    jw_value(g, json_get(config, "history"));
    jw_key(g, "NamesHistory");
    jw_strv(g, img->names_history);
    yajl_gen_map_close(g);
    return 0;
}

/* --- container inspect: podman's InspectContainerData --- */

static void jw_key_json(yajl_gen g, const char *key, yajl_val v)
{
    jw_key(g, key);
    jw_value(g, v);
}

/* container_inspect_config: "Config", from the spec and the facts. */
static void container_inspect_config(yajl_gen g, const struct container *c, yajl_val spec,
                                     const struct container_facts *f)
{
    yajl_val process = json_get(spec, "process");
    yajl_val args = json_get(process, "args");
    bool tty = YAJL_IS_TRUE(json_get(process, "terminal"));
    jw_key(g, "Config");
    yajl_gen_map_open(g);
    jw_key_str(g, "Hostname", json_string(spec, "hostname") ? json_string(spec, "hostname") : "");
    jw_key_str(g, "Domainname", "");
    yajl_val annotations = json_get(spec, "annotations");
    jw_key_str(g, "User", json_string(annotations, "lrun.user") ? json_string(annotations, "lrun.user") : "");
    jw_key_bool(g, "AttachStdin", f->interactive);
    jw_key_bool(g, "AttachStdout", !f->detach);
    jw_key_bool(g, "AttachStderr", !f->detach);
    jw_key_bool(g, "Tty", tty);
    jw_key_bool(g, "OpenStdin", f->interactive);
    jw_key_bool(g, "StdinOnce", false);
    jw_key_json(g, "Env", json_get(process, "env"));
    jw_key(g, "Cmd");
    if (f->command && f->command[0]) {
        jw_strv(g, f->command);
    } else { /* the image's: what follows the entrypoint */
        size_t skip = f->entrypoint && *f->entrypoint ? 1 : 0;
        yajl_gen_array_open(g);
        for (size_t i = skip; i < json_array_len(args); i++)
            jw_value(g, json_array_at(args, i));
        yajl_gen_array_close(g);
    }
    jw_key_str(g, "Image", f->image ? f->image : c->image);
    jw_key(g, "Volumes");
    yajl_gen_null(g);
    jw_key_str(g, "WorkingDir", json_string(process, "cwd") ? json_string(process, "cwd") : "/");
    jw_key_str(g, "Entrypoint", f->entrypoint ? f->entrypoint : "");
    jw_key(g, "OnBuild");
    yajl_gen_null(g);
    jw_key(g, "Labels");
    yajl_gen_map_open(g);
    yajl_gen_map_close(g);
    jw_key_json(g, "Annotations", annotations);
    jw_key_str(g, "StopSignal", f->stop_signal ? f->stop_signal : "SIGTERM");
    jw_key_str(g, "Umask", "0022");
    jw_key_int(g, "Timeout", 0);
    jw_key_int(g, "StopTimeout", f->stop_timeout);
    yajl_gen_map_close(g);
}

/* container_inspect_mounts: "Mounts": the spec's bind mounts. */
static void container_inspect_mounts(yajl_gen g, yajl_val spec, char ***binds)
{
    yajl_val mounts = json_get(spec, "mounts");
    jw_key(g, "Mounts");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < json_array_len(mounts); i++) {
        yajl_val m = json_array_at(mounts, i);
        const char *type = json_string(m, "type");
        yajl_val options = json_get(m, "options");
        autostrv char **opts = json_strv(options);
        bool bind = (type && strcmp(type, "bind") == 0) || strv_contains(opts, "bind") || strv_contains(opts, "rbind");
        const char *source = json_string(m, "source"), *destination = json_string(m, "destination");
        if (!bind || !source || !destination || has_prefix(source, "/proc") || strstr(source, "/userdata/"))
            continue; /* lrun's own: /etc/hosts, resolv.conf, hostname */
        bool ro = strv_contains(opts, "ro");
        yajl_gen_map_open(g);
        jw_key_str(g, "Type", "bind");
        jw_key_str(g, "Source", source);
        jw_key_str(g, "Destination", destination);
        jw_key_str(g, "Driver", "");
        jw_key_str(g, "Mode", "");
        jw_key_json(g, "Options", options);
        jw_key_bool(g, "RW", !ro);
        jw_key_str(g, "Propagation", "rprivate");
        yajl_gen_map_close(g);
        strv_push(binds, xasprintf("%s:%s:%s", source, destination, ro ? "ro" : "rw"));
    }
    yajl_gen_array_close(g);
}

static char *container_image_name(const struct container *c)
{
    autojson yajl_val meta = c->metadata ? yajl_tree_parse(c->metadata, NULL, 0) : NULL;
    const char *name = json_string(meta, "image-name");
    return xstrdup(name ? name : c->image ? c->image : "");
}

/* container_inspect_limits: HostConfig's cgroup members, from the spec's
 * linux.resources and cgroupsPath (podman's names and units) */
static void container_inspect_limits(yajl_gen g, yajl_val spec)
{
    yajl_val linux_v = json_get(spec, "linux");
    struct spec_resources r = {0};
    lrun_error *ignored = NULL;
    if (spec_read_resources(json_get(linux_v, "resources"), &r, &ignored) < 0)
        lrun_error_free(ignored);
    const char *path = json_string(linux_v, "cgroupsPath");
    autofree char *parent = path ? xstrdup(path) : NULL;
    if (parent && strrchr(parent, '/'))
        *strrchr(parent, '/') = '\0';
    jw_key_str(g, "CgroupManager", "cgroupfs");
    jw_key_str(g, "CgroupParent", parent ? parent : "");
    bool private_ns = false;
    yajl_val namespaces = json_get(linux_v, "namespaces");
    for (size_t i = 0; i < json_array_len(namespaces); i++)
        private_ns |= json_string(json_array_at(namespaces, i), "type") &&
                      strcmp(json_string(json_array_at(namespaces, i), "type"), "cgroup") == 0;
    jw_key_str(g, "CgroupMode", private_ns ? "private" : "host");
    jw_key_int(g, "Memory", r.memory_limit > 0 ? r.memory_limit : 0);
    jw_key_int(g, "MemoryReservation", r.memory_reservation > 0 ? r.memory_reservation : 0);
    jw_key_int(g, "MemorySwap", r.memory_swap);
    jw_key_bool(g, "OomKillDisable", r.oom_kill_disable);
    jw_key_int(g, "NanoCpus", r.cpu_quota > 0 && r.cpu_period ? r.cpu_quota * 1000000000 / (int64_t)r.cpu_period : 0);
    jw_key_int(g, "CpuShares", (int64_t)r.cpu_shares);
    jw_key_int(g, "CpuPeriod", (int64_t)r.cpu_period);
    jw_key_int(g, "CpuQuota", r.cpu_quota);
    jw_key_str(g, "CpusetCpus", r.cpuset_cpus ? r.cpuset_cpus : "");
    jw_key_str(g, "CpusetMems", r.cpuset_mems ? r.cpuset_mems : "");
    jw_key_int(g, "PidsLimit", r.pids_limit > 0 ? r.pids_limit : 0);
    jw_key_int(g, "BlkioWeight", r.blkio_weight);
    static const char *const throttle_keys[THROTTLE_KINDS] = {"BlkioDeviceReadBps", "BlkioDeviceWriteBps",
                                                              "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"};
    for (int k = 0; k < THROTTLE_KINDS; k++) {
        jw_key(g, throttle_keys[k]);
        yajl_gen_array_open(g);
        for (size_t i = 0; i < r.n_throttles[k]; i++) {
            autofree char *dev = xasprintf("%" PRId64 ":%" PRId64, r.throttles[k][i].major, r.throttles[k][i].minor);
            yajl_gen_map_open(g);
            jw_key_str(g, "Path", dev);
            jw_key_u64(g, "Rate", r.throttles[k][i].rate);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    int64_t shm = 65536 * 1024;
    yajl_val mounts = json_get(spec, "mounts");
    for (size_t i = 0; i < json_array_len(mounts); i++) {
        yajl_val m = json_array_at(mounts, i), options = json_get(m, "options");
        if (!json_string(m, "destination") || strcmp(json_string(m, "destination"), "/dev/shm") != 0)
            continue;
        for (size_t j = 0; j < json_array_len(options); j++) {
            yajl_val o = json_array_at(options, j);
            if (YAJL_IS_STRING(o) && has_prefix(YAJL_GET_STRING(o), "size=") && !size_parse(YAJL_GET_STRING(o) + 5, &shm))
                shm = 0;
        }
    }
    jw_key_int(g, "ShmSize", shm);
    jw_key(g, "Ulimits");
    yajl_gen_array_open(g);
    yajl_val rlimits = json_get(json_get(spec, "process"), "rlimits");
    for (size_t i = 0; i < json_array_len(rlimits); i++) {
        yajl_val l = json_array_at(rlimits, i);
        uint64_t soft = 0, hard = 0;
        if (!json_string(l, "type") || json_u64(l, "soft", &soft, &ignored) < 0 || json_u64(l, "hard", &hard, &ignored) < 0) {
            lrun_error_free(ignored), ignored = NULL;
            continue;
        }
        yajl_gen_map_open(g);
        jw_key_str(g, "Name", json_string(l, "type"));
        jw_key_u64(g, "Soft", soft);
        jw_key_u64(g, "Hard", hard);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    spec_resources_release(&r);
}

static int container_inspect_json(lrun_store *s, struct container *c, bool with_size, yajl_gen g, lrun_error **err)
{
    autofree char *userdata = container_userdata(s->root, c->id);
    autofacts struct container_facts f = {0};
    if (container_facts_read(userdata, &f, err) < 0)
        return error_prefix(err, "container %.12s", c->id);
    autofree char *spec_path = xasprintf("%s/config.json", userdata);
    autobuf struct buf spec_text = {0};
    if (read_file_at(AT_FDCWD, spec_path, &spec_text, err) < 0)
        return -1;
    autojson yajl_val spec = json_parse(spec_text.data, spec_path, err);
    if (!spec)
        return -1;
    yajl_val process = json_get(spec, "process");
    yajl_val args = json_get(process, "args");
    bool running = container_is_running(c);
    struct image *img = c->image ? store_image_by_id(s, c->image) : NULL;
    yajl_gen_map_open(g);
    jw_key_str(g, "Id", c->id);
    jw_key_str(g, "Created", c->created);
    jw_key_json(g, "Path", json_array_at(args, 0));
    jw_key(g, "Args");
    yajl_gen_array_open(g);
    for (size_t i = 1; i < json_array_len(args); i++)
        jw_value(g, json_array_at(args, i));
    yajl_gen_array_close(g);
    jw_key(g, "State");
    yajl_gen_map_open(g);
    jw_key_str(g, "OciVersion", json_string(spec, "ociVersion") ? json_string(spec, "ociVersion") : "1.0.2");
    jw_key_str(g, "Status", running ? "running" : strcmp(c->status, "running") == 0 ? "exited" : c->status);
    jw_key_bool(g, "Running", running);
    jw_key_bool(g, "Paused", false);
    jw_key_bool(g, "Restarting", false);
    jw_key_bool(g, "OOMKilled", c->oom_killed);
    jw_key_bool(g, "Dead", false);
    jw_key_int(g, "Pid", running ? c->pid : 0);
    jw_key_int(g, "ConmonPid", running ? c->monitor : 0);
    jw_key_int(g, "ExitCode", c->exit_code);
    jw_key_str(g, "Error", "");
    jw_key_str(g, "StartedAt", c->started_at ? c->started_at : "0001-01-01T00:00:00Z");
    jw_key_str(g, "FinishedAt", c->finished_at && !running ? c->finished_at : "0001-01-01T00:00:00Z");
    jw_key_str(g, "CheckpointedAt", "0001-01-01T00:00:00Z");
    jw_key_str(g, "RestoredAt", "0001-01-01T00:00:00Z");
    yajl_gen_map_close(g);
    jw_key_str(g, "Image", c->image ? c->image : "");
    jw_key_str(g, "ImageDigest", img && img->digest ? img->digest : "");
    autofree char *image_name = container_image_name(c);
    jw_key_str(g, "ImageName", image_name);
    jw_key_str(g, "Rootfs", "");
    jw_key_str(g, "Pod", "");
    autofree char *resolv = xasprintf("%s/resolv.conf", userdata), *hostname = xasprintf("%s/hostname", userdata);
    autofree char *hosts = xasprintf("%s/hosts", userdata), *log = xasprintf("%s/ctr.log", userdata);
    jw_key_str(g, "ResolvConfPath", resolv);
    jw_key_str(g, "HostnamePath", hostname);
    jw_key_str(g, "HostsPath", hosts);
    jw_key_str(g, "StaticDir", userdata);
    jw_key_str(g, "OCIConfigPath", spec_path);
    jw_key_str(g, "OCIRuntime", "lrun");
    jw_key_str(g, "Name", c->names && c->names[0] ? c->names[0] : "");
    jw_key_int(g, "RestartCount", 0);
    jw_key_str(g, "Driver", "overlay");
    jw_key_str(g, "MountLabel", "");
    jw_key_str(g, "ProcessLabel", "");
    jw_key_str(g, "AppArmorProfile", "");
    jw_key(g, "ExecIDs");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    jw_key(g, "GraphDriver");
    yajl_gen_map_open(g);
    jw_key_str(g, "Name", "overlay");
    jw_key(g, "Data");
    yajl_gen_map_open(g);
    autofree char *upper = xasprintf("%s/overlay/%s/diff", s->root, c->layer ? c->layer : "");
    autofree char *work = xasprintf("%s/overlay/%s/work", s->root, c->layer ? c->layer : "");
    autofree char *merged = xasprintf("%s/overlay/%s/merged", s->root, c->layer ? c->layer : "");
    jw_key_str(g, "MergedDir", merged);
    jw_key_str(g, "UpperDir", upper);
    jw_key_str(g, "WorkDir", work);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    autostrv char **binds = xcalloc(1, sizeof *binds);
    container_inspect_mounts(g, spec, &binds);
    jw_key(g, "Dependencies");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    jw_key(g, "NetworkSettings");
    yajl_gen_map_open(g);
    jw_key_str(g, "Bridge", "");
    jw_key_str(g, "SandboxID", "");
    jw_key(g, "Ports");
    yajl_gen_map_open(g);
    yajl_gen_map_close(g);
    jw_key_str(g, "SandboxKey", "");
    yajl_gen_map_close(g);
    jw_key_str(g, "Namespace", "");
    jw_key_bool(g, "IsInfra", false);
    jw_key_bool(g, "IsService", false);
    container_inspect_config(g, c, spec, &f);
    jw_key(g, "HostConfig");
    yajl_gen_map_open(g);
    jw_key_strv(g, "Binds", binds);
    jw_key(g, "LogConfig");
    yajl_gen_map_open(g);
    jw_key_str(g, "Type", "k8s-file");
    jw_key(g, "Config");
    yajl_gen_null(g);
    jw_key_str(g, "Path", log);
    jw_key_str(g, "Tag", "");
    jw_key_str(g, "Size", "0B");
    yajl_gen_map_close(g);
    jw_key_bool(g, "AutoRemove", f.remove);
    jw_key(g, "RestartPolicy");
    yajl_gen_map_open(g);
    jw_key_str(g, "Name", "");
    jw_key_int(g, "MaximumRetryCount", 0);
    yajl_gen_map_close(g);
    jw_key_bool(g, "Init", f.init);
    container_inspect_limits(g, spec);
    yajl_gen_map_close(g);
    if (with_size) {
        int64_t rw = container_size(s, c);
        jw_key_int(g, "SizeRw", rw);
        jw_key_int(g, "SizeRootFs", rw + (img ? image_size(s, img) : 0));
    }
    yajl_gen_map_close(g);
    return 0;
}

/* --- inspect: containers, then images (podman's order) --- */

static int inspect_objects(struct cli *cli, int argc, char **argv, const char *type)
{
    const char *format = NULL;
    bool size = false, latest = false;
    const struct cli_flag flags[] = {
        STRING_FLAG("format", 'f', &format, "FORMAT", "Format the output with a Go template, or json"),
        BOOL_FLAG("size", 's', &size, "Display the total file size (containers)"),
        STRING_FLAG("type", 't', &type, "TYPE", "Only this type of object: container, image or all"),
        BOOL_FLAG("latest", 'l', &latest, "Act on the latest container lrun knows about"),
        FLAGS_END,
    };
    const struct cli_usage usage = {strcmp(type, "all") == 0 ? "inspect" : strcmp(type, "image") == 0 ? "image inspect"
                                                                                                      : "container inspect",
                                    strcmp(type, "image") == 0 ? "IMAGE [IMAGE...]" : "NAME|ID [NAME|ID...]",
                                    "Display the configuration of an object, as JSON", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (strcmp(type, "all") && strcmp(type, "container") && strcmp(type, "image")) {
        cli_error("invalid type \"%s\": must be container, image or all", type);
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    if (latest && s->n_containers)
        argv[++n] = s->containers[s->n_containers - 1]->id;
    if (n < 1) {
        cli_error("inspect requires at least one name or ID");
        return EXIT_LRUN;
    }
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    const char *missing = NULL;
    autoerror lrun_error *err = NULL;
    for (int i = 1; i <= n; i++) { /* podman goes on past a missing one, then fails */
        lrun_error *ignored = NULL;
        struct container *c = strcmp(type, "image") ? container_lookup(s, argv[i], &ignored) : NULL;
        lrun_error_free(ignored);
        struct image *img = !c && strcmp(type, "container") ? image_lookup(s, argv[i], NULL) : NULL;
        if (c ? container_inspect_json(s, c, size, g, &err) < 0 : img ? image_inspect_json(s, img, g, &err) < 0 : 0)
            return cli_fail(err);
        if (!c && !img)
            missing = missing ? missing : argv[i];
    }
    yajl_gen_array_close(g);
    autofree char *text = json_writer_text(g, NULL);
    if (format && strcmp(format, "json") != 0) {
        autojson yajl_val tree = json_text_to_tree(text);
        for (size_t i = 0; i < json_array_len(tree); i++) {
            autobuf struct buf line = {0};
            buf_adds(&line, "");
            if (template_render(format, json_array_at(tree, i), &line, &err) < 0)
                return cli_fail(err);
            printf("%s\n", line.data);
        }
    } else {
        json_print_go(g, "     "); /* podman's inspect indents by five */
    }
    if (missing && strcmp(type, "image") == 0)
        cli_error("inspecting object: %s: image not known", missing);
    else if (missing && strcmp(type, "container") == 0)
        cli_error("no such container %s", missing);
    else if (missing)
        cli_error("inspecting object: no such object: \"%s\"", missing);
    return missing ? EXIT_LRUN : 0;
}

static int cmd_inspect(struct cli *cli, int argc, char **argv) { return inspect_objects(cli, argc, argv, "all"); }

static int cmd_image_inspect(struct cli *cli, int argc, char **argv) { return inspect_objects(cli, argc, argv, "image"); }

static int cmd_container_inspect(struct cli *cli, int argc, char **argv)
{
    return inspect_objects(cli, argc, argv, "container");
}

/* --- tag, untag, rmi --- */

static int cmd_tag(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "h", longs, "tag", &status)) != -1) {
        if (c == 'h') {
            puts("Usage: lrun tag IMAGE TARGET_NAME [TARGET_NAME...]");
            return 0;
        }
        return status;
    }
    if (argc - optind < 2) {
        cli_error("tag requires at least 2 arguments: IMAGE TARGET_NAME");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    for (int i = optind + 1; i < argc; i++) {
        autoerror lrun_error *err = NULL;
        if (lrun_image_tag(s, argv[optind], argv[i], &err) < 0)
            return err->exit_code = EXIT_LRUN, cli_fail(err);
    }
    return 0;
}

static int cmd_untag(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "h", longs, "untag", &status)) != -1) {
        if (c == 'h') {
            puts("Usage: lrun untag IMAGE [NAME...]");
            return 0;
        }
        return status;
    }
    if (optind >= argc) {
        cli_error("untag requires at least 1 argument: IMAGE");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    struct image *img = image_lookup(s, argv[optind], &err);
    if (!img)
        return err->exit_code = EXIT_LRUN, cli_fail(err);
    if (optind + 1 == argc) { /* no names: all of them go */
        lrun_strv_free(img->names);
        img->names = xcalloc(1, sizeof *img->names);
    }
    for (int i = optind + 1; i < argc; i++) {
        autofree char *full = name_normalize(argv[i], &err);
        if (!full)
            return cli_fail(err);
        if (!strv_remove(img->names, full)) {
            cli_error("%s: tag not known", argv[i]);
            return EXIT_LRUN;
        }
    }
    if (store_save_images(s, &err) < 0)
        return cli_fail(err);
    return 0;
}

static int cmd_rmi(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    const struct cli_flag flags[] = {
        BOOL_FLAG("force", 'f', &force, "Remove images in use by containers (and the containers)"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"rmi", "IMAGE [IMAGE...]", "Remove one or more images", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n < 1) {
        cli_error("image name or ID must be specified");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    for (int i = 1; i <= n; i++) {
        autoerror lrun_error *err = NULL;
        autostrv char **untagged = NULL;
        autostrv char **deleted = NULL;
        int r = lrun_image_remove(s, argv[i], force, &untagged, &deleted, &err);
        for (size_t j = 0; untagged && untagged[j]; j++)
            printf("Untagged: %s\n", untagged[j]);
        if (r == 0 && strv_len(deleted)) /* the image; containers removed by -f go silently, as podman */
            printf("Deleted: %s\n", deleted[strv_len(deleted) - 1]);
        if (r < 0) {
            int code = cli_fail(err);
            status = status ? status : code;
        }
    }
    return status;
}

/* --- system df --- */

struct df_image {
    struct image *img;
    int64_t size, shared;
    size_t containers;
};

/* df_compute: per image size and shared bytes (layers that more than one
 * image stacks on), and the totals with every layer counted once. */
static size_t df_compute(lrun_store *s, struct df_image **out, int64_t *total, int64_t *reclaimable)
{
    autofree size_t *users = xcalloc(s->n_layers + 1, sizeof *users);
    autofree bool *active = xcalloc(s->n_layers + 1, sizeof *active);
    struct df_image *list = xcalloc(s->n_images + 1, sizeof *list);
    for (size_t i = 0; i < s->n_images; i++) {
        list[i].img = s->images[i];
        list[i].containers = image_containers(s, s->images[i]);
        autofree struct layer **chain = NULL;
        size_t n = layer_chain(s, s->images[i]->layer, &chain);
        for (size_t j = 0; j < n; j++)
            for (size_t k = 0; k < s->n_layers; k++)
                if (s->layers[k] == chain[j]) {
                    users[k]++;
                    active[k] |= list[i].containers > 0;
                }
    }
    *total = *reclaimable = 0;
    for (size_t k = 0; k < s->n_layers; k++) {
        int64_t bytes = s->layers[k]->diff_size > 0 ? s->layers[k]->diff_size : 0;
        if (users[k])
            *total += bytes;
        if (users[k] && !active[k])
            *reclaimable += bytes;
    }
    for (size_t i = 0; i < s->n_images; i++) {
        list[i].size = image_size(s, s->images[i]);
        autofree struct layer **chain = NULL;
        size_t n = layer_chain(s, s->images[i]->layer, &chain);
        int64_t layers = 0;
        for (size_t j = 0; j < n; j++) {
            int64_t bytes = chain[j]->diff_size > 0 ? chain[j]->diff_size : 0;
            layers += bytes;
            for (size_t k = 0; k < s->n_layers; k++)
                if (s->layers[k] == chain[j] && users[k] > 1)
                    list[i].shared += bytes;
        }
        int64_t metadata = list[i].size - layers;
        *total += metadata;
        if (!list[i].containers)
            *reclaimable += metadata;
    }
    *out = list;
    return s->n_images;
}

static char *df_size_percent(int64_t size, int64_t of)
{
    autofree char *h = human_size((double)size, 4);
    int percent = of > 0 ? (int)((double)size * 100.0 / (double)of + 0.5) : 0;
    return xasprintf("%s (%d%%)", h, percent);
}

/* The volumes as df counts them: each one's size and users. */
struct df_volume {
    char *name;
    int64_t size;
    size_t links;
};

static size_t df_volumes(lrun_store *s, struct df_volume **out, int64_t *total, int64_t *reclaimable, size_t *active)
{
    autostrv char **names = volume_names(s->root);
    size_t n = strv_len(names);
    *out = xcalloc(n + 1, sizeof **out);
    *total = *reclaimable = 0;
    *active = 0;
    for (size_t i = 0; i < n; i++) {
        autostrv char **users = volume_users(s, names[i]);
        autofree char *data = volume_data_path(s->root, names[i]);
        int fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct size_walk w = {0};
        if (fd >= 0)
            size_walk_dir(&w, fd);
        inode_set_free(&w.seen);
        (*out)[i] = (struct df_volume){xstrdup(names[i]), w.bytes, strv_len(users)};
        *total += w.bytes;
        *reclaimable += users[0] ? 0 : w.bytes;
        *active += users[0] != NULL;
    }
    return n;
}

static void df_volumes_free(struct df_volume *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* container_volume_count: the volumes a container mounts (df's LOCAL
 * VOLUMES). */
static size_t container_volume_count(lrun_store *s, const struct container *c)
{
    autofree char *userdata = container_userdata(s->root, c->id);
    autofacts struct container_facts f = {0};
    size_t n = 0;
    if (container_facts_read(userdata, &f, NULL) == 0)
        for (size_t i = 0; i < f.n_mounts; i++)
            n += f.mounts[i].kind == MOUNT_VOLUME;
    return n;
}

static int cmd_system_df(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"verbose", no_argument, NULL, 'v'}, {"format", required_argument, NULL, 'f'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool verbose = false;
    const char *format = NULL;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "vh", longs, "system df", &status)) != -1) {
        switch (c) {
        case 'v': verbose = true; break;
        case 'f': format = optarg; break;
        case 'h': puts("Usage: lrun system df [-v] [--format FORMAT]"); return 0;
        default: return status;
        }
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autofree struct df_image *images = NULL;
    int64_t total, reclaimable;
    size_t n = df_compute(s, &images, &total, &reclaimable);
    size_t active = 0;
    for (size_t i = 0; i < n; i++)
        active += images[i].containers > 0;
    struct df_volume *volumes = NULL;
    int64_t volumes_total, volumes_reclaimable;
    size_t volumes_active, n_volumes = df_volumes(s, &volumes, &volumes_total, &volumes_reclaimable, &volumes_active);
    struct table t = {.columns = 5};
    if (!verbose) {
        autofree char *n_images = xasprintf("%zu", n), *n_active = xasprintf("%zu", active);
        autofree char *size = human_size((double)total, 4), *rec = df_size_percent(reclaimable, total);
        int64_t ctr_total = 0, ctr_reclaimable = 0;
        size_t running = 0;
        for (size_t i = 0; i < s->n_containers; i++) {
            int64_t bytes = container_size(s, s->containers[i]);
            bool up = container_is_running(s->containers[i]);
            ctr_total += bytes;
            ctr_reclaimable += up ? 0 : bytes;
            running += up;
        }
        autofree char *n_containers = xasprintf("%zu", s->n_containers), *n_running = xasprintf("%zu", running);
        autofree char *ctr_size = human_size((double)ctr_total, 4);
        autofree char *ctr_rec = df_size_percent(ctr_reclaimable, ctr_total);
        autofree char *n_vol = xasprintf("%zu", n_volumes), *n_vol_active = xasprintf("%zu", volumes_active);
        autofree char *vol_size = human_size((double)volumes_total, 4);
        autofree char *vol_rec = df_size_percent(volumes_reclaimable, volumes_total);
        df_volumes_free(volumes, n_volumes);
        if (format) {
            autofree char *rows_text = xasprintf(
                "[{\"Type\":\"Images\",\"Total\":%s,\"Active\":%s,\"Size\":\"%s\",\"Reclaimable\":\"%s\"},"
                "{\"Type\":\"Containers\",\"Total\":%s,\"Active\":%s,\"Size\":\"%s\",\"Reclaimable\":\"%s\"},"
                "{\"Type\":\"Local Volumes\",\"Total\":%s,\"Active\":%s,\"Size\":\"%s\",\"Reclaimable\":\"%s\"}]",
                n_images, n_active, size, rec, n_containers, n_running, ctr_size, ctr_rec, n_vol, n_vol_active, vol_size,
                vol_rec);
            autojson yajl_val rows = json_text_to_tree(rows_text);
            autojson yajl_val header = json_text_to_tree(
                "{\"Type\":\"TYPE\",\"Total\":\"TOTAL\",\"Active\":\"ACTIVE\",\"Size\":\"SIZE\",\"Reclaimable\":\"RECLAIMABLE\"}");
            return format_print_rows(format, rows->u.array.values, 3, header);
        }
        table_add_row(&t, "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
        table_add_row(&t, "Images", n_images, n_active, size, rec);
        table_add_row(&t, "Containers", n_containers, n_running, ctr_size, ctr_rec);
        table_add_row(&t, "Local Volumes", n_vol, n_vol_active, vol_size, vol_rec);
        table_print(&t, stdout);
        return 0;
    }
    printf("Images space usage:\n\n");
    t.columns = 8;
    table_add_row(&t, "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS");
    for (size_t i = 0; i < n; i++) {
        autofree char *repo = NULL, *tag = NULL;
        if (images[i].img->names && images[i].img->names[0])
            name_split(images[i].img->names[0], &repo, &tag);
        table_add(&t, xstrdup(repo ? repo : "<none>"));
        table_add(&t, xstrdup(tag ? tag : "<none>"));
        table_add(&t, xstrndup(images[i].img->id, 12));
        table_add(&t, human_duration(image_created_seconds(images[i].img)));
        table_add(&t, human_size((double)images[i].size, 4));
        table_add(&t, human_size((double)images[i].shared, 4));
        table_add(&t, human_size((double)(images[i].size - images[i].shared), 4));
        table_add(&t, xasprintf("%zu", images[i].containers));
    }
    table_print(&t, stdout);
    printf("\nContainers space usage:\n\n");
    t.columns = 8;
    table_add_row(&t, "CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES");
    for (size_t i = 0; i < s->n_containers; i++) {
        struct container *ct = s->containers[i];
        table_add(&t, xstrndup(ct->id, 12));
        table_add(&t, xstrndup(ct->image ? ct->image : "", 12));
        table_add(&t, xstrdup(ct->command ? ct->command : ""));
        table_add(&t, xasprintf("%zu", container_volume_count(s, ct)));
        table_add(&t, human_size((double)container_size(s, ct), 4));
        table_add(&t, human_duration(time_parse_rfc3339(ct->created)));
        table_add(&t, xstrdup(container_is_running(ct) ? "running" : ct->status));
        table_add(&t, xstrdup(ct->names && ct->names[0] ? ct->names[0] : ""));
    }
    table_print(&t, stdout);
    printf("\nLocal Volumes space usage:\n\n");
    t.columns = 3;
    table_add_row(&t, "VOLUME NAME", "LINKS", "SIZE");
    for (size_t i = 0; i < n_volumes; i++) {
        table_add(&t, xstrdup(volumes[i].name));
        table_add(&t, xasprintf("%zu", volumes[i].links));
        table_add(&t, human_size((double)volumes[i].size, 4));
    }
    table_print(&t, stdout);
    df_volumes_free(volumes, n_volumes);
    return 0;
}

/* --- containers: run, create, start --- */

/* mount_flag_options: the options after -v's second colon (or in
 * --mount), kept for the mount; SELinux labels, U and copy mean nothing
 * here. */
static int mount_flag_options(const char *text, char ***options, lrun_error **err)
{
    static const char *const kept[] = {"ro", "rw", "noexec", "exec", "nosuid", "suid", "nodev", "dev",
                                       "rbind", "bind", "shared", "rshared", "slave", "rslave", "private",
                                       "rprivate", "unbindable", "runbindable", "nocopy", NULL};
    autostrv char **words = strv_split(text, ",");
    for (size_t i = 0; words[i]; i++) {
        if (strcmp(words[i], "z") == 0 || strcmp(words[i], "Z") == 0 || strcmp(words[i], "U") == 0 ||
            strcmp(words[i], "copy") == 0)
            continue;
        if (!strv_contains((char *const *)kept, words[i]))
            return fail(err, "invalid option type \"%s\"", words[i]);
        strv_push(options, xstrdup(words[i]));
    }
    return 0;
}

/* host_path_absolute: a bind's source as an absolute path (it must exist,
 * as podman checks). */
static char *host_path_absolute(const char *path, lrun_error **err)
{
    char *real = realpath(path, NULL);
    if (!real)
        fail_errno(err, "statfs %s", path);
    return real;
}

/* volume_flag_add: -v [SOURCE:]DESTINATION[:OPTIONS]: SOURCE a host path
 * (it starts with / or .) or a volume's name; without SOURCE a new
 * anonymous volume. */
static void volume_flag_add(struct container_config *c, const char *spec, lrun_error **err)
{
    autostrv char **parts = strv_split(spec, ":");
    size_t n = strv_len(parts);
    const char *source = NULL, *destination = NULL, *options_text = "";
    if (n == 1 || (n == 2 && parts[1][0] != '/')) {
        destination = parts[0];
        options_text = n == 2 ? parts[1] : "";
    } else if (n == 2 || n == 3) {
        source = parts[0], destination = parts[1], options_text = n == 3 ? parts[2] : "";
    }
    if (!destination || strchr(spec, '\0')[-1] == ':' || spec[0] == ':') {
        fail(err, "invalid volume specification \"%s\": use -v [SOURCE:]/CONTAINER/PATH[:OPTIONS]", spec);
        return;
    }
    if (destination[0] != '/') {
        fail(err, "invalid container path \"%s\", must be an absolute path", destination);
        return;
    }
    autostrv char **options = xcalloc(1, sizeof *options);
    if (mount_flag_options(options_text, &options, err) < 0)
        return;
    enum user_mount_kind kind = !source || (source[0] != '/' && source[0] != '.') ? MOUNT_VOLUME : MOUNT_BIND;
    autofree char *absolute = kind == MOUNT_BIND ? host_path_absolute(source, err) : NULL;
    if (kind == MOUNT_BIND && !absolute)
        return;
    user_mount_push(&c->mounts, &c->n_mounts, kind, absolute ? absolute : source, destination, options);
}

/* tmpfs_flag_add: --tmpfs /PATH[:OPTIONS] */
static void tmpfs_flag_add(struct container_config *c, const char *spec, lrun_error **err)
{
    autofree char *path = xstrndup(spec, strcspn(spec, ":"));
    if (path[0] != '/') {
        fail(err, "invalid tmpfs \"%s\": the path must be absolute", spec);
        return;
    }
    autostrv char **options = strv_split(spec[strlen(path)] ? spec + strlen(path) + 1 : "", ",");
    user_mount_push(&c->mounts, &c->n_mounts, MOUNT_TMPFS, NULL, path, options);
}

/* mount_flag_add: --mount type=bind|volume|tmpfs,source=..,target=..,... */
static void mount_flag_add(struct container_config *c, const char *spec, lrun_error **err)
{
    autostrv char **fields = strv_split(spec, ",");
    autostrv char **options = xcalloc(1, sizeof *options);
    const char *type = NULL, *source = NULL, *target = NULL;
    for (size_t i = 0; fields[i]; i++) {
        char *key = fields[i], *value = strchr(key, '=');
        if (value)
            *value++ = '\0';
        if (strcmp(key, "type") == 0 && value) {
            type = value;
        } else if ((strcmp(key, "source") == 0 || strcmp(key, "src") == 0) && value) {
            source = value;
        } else if ((strcmp(key, "target") == 0 || strcmp(key, "destination") == 0 || strcmp(key, "dst") == 0) && value) {
            target = value;
        } else if (strcmp(key, "ro") == 0 || strcmp(key, "readonly") == 0) {
            if (!value || strcmp(value, "true") == 0)
                strv_push(&options, xstrdup("ro"));
            else if (strcmp(value, "false") != 0) {
                fail(err, "invalid mount option %s=%s: use true or false", key, value);
                return;
            }
        } else if (strcmp(key, "bind-propagation") == 0 && value) {
            if (mount_flag_options(value, &options, err) < 0)
                return;
        } else if (strcmp(key, "volume-nocopy") == 0) {
            strv_push(&options, xstrdup("nocopy"));
        } else if (strcmp(key, "tmpfs-size") == 0 && value) {
            strv_push(&options, xasprintf("size=%s", value));
        } else if (strcmp(key, "tmpfs-mode") == 0 && value) {
            strv_push(&options, xasprintf("mode=%s", value));
        } else if (strcmp(key, "relabel") != 0 && strcmp(key, "consistency") != 0 && strcmp(key, "bind-nonrecursive") != 0 &&
                   mount_flag_options(key, &options, err) < 0) {
            return;
        }
    }
    if (!type || (strcmp(type, "bind") && strcmp(type, "volume") && strcmp(type, "tmpfs"))) {
        fail(err, "invalid --mount \"%s\": type must be bind, volume or tmpfs", spec);
        return;
    }
    if (!target || target[0] != '/') {
        fail(err, "invalid --mount \"%s\": must set an absolute target path", spec);
        return;
    }
    if (strcmp(type, "tmpfs") == 0) {
        user_mount_push(&c->mounts, &c->n_mounts, MOUNT_TMPFS, NULL, target, options);
    } else if (strcmp(type, "volume") == 0) {
        user_mount_push(&c->mounts, &c->n_mounts, MOUNT_VOLUME, source && *source ? source : NULL, target, options);
    } else {
        autofree char *absolute = source ? host_path_absolute(source, err) : NULL;
        if (!source)
            fail(err, "invalid --mount \"%s\": a bind mount needs a source", spec);
        if (absolute)
            user_mount_push(&c->mounts, &c->n_mounts, MOUNT_BIND, absolute, target, options);
    }
}

static void env_option_add(struct container_config *c, const char *value)
{
    if (strchr(value, '=')) {
        strv_push(&c->env, xstrdup(value));
    } else if (getenv(value)) { /* -e NAME takes the value from lrun's environment */
        strv_push(&c->env, xasprintf("%s=%s", value, getenv(value)));
    }
}

static void env_file_add(struct container_config *c, const char *path, lrun_error **err)
{
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, path, &text, err) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (*line && *line != '#')
            env_option_add(c, line);
    }
}

struct run_options {
    struct container_config cfg;
    char *entrypoint;
    const char *pull;
    const char *platform;
    bool entrypoint_set;
};

enum run_flag { RUN_NAME, RUN_ENV, RUN_ENV_FILE, RUN_WORKDIR, RUN_USER, RUN_HOSTNAME, RUN_NETWORK, RUN_ENTRYPOINT,
                RUN_VOLUME, RUN_TMPFS, RUN_CAP_ADD, RUN_CAP_DROP, RUN_SECURITY_OPT, RUN_PULL, RUN_STOP_SIGNAL,
                RUN_STOP_TIMEOUT, RUN_DETACH_KEYS, RUN_MOUNT, RUN_VOLUMES_FROM, RUN_DEVICE, RUN_CGROUP_PARENT,
                RUN_ULIMIT, RUN_SHM_SIZE, RUN_CGROUPNS, RUN_LIMIT /* + enum limit_option */ };

/* run_flag_set: the values of run's and create's flags that need more than
 * a store (FLAG_CALL rows of run_flags). */
static int run_flag_set(void *target, int id, const char *value, lrun_error **err)
{
    struct run_options *o = target;
    struct container_config *c = &o->cfg;
    switch ((enum run_flag)id) {
    case RUN_NAME: free(c->name), c->name = xstrdup(value); break;
    case RUN_ENV: env_option_add(c, value); break;
    case RUN_ENV_FILE: env_file_add(c, value, err); break;
    case RUN_WORKDIR: free(c->workdir), c->workdir = xstrdup(value); break;
    case RUN_USER: free(c->user), c->user = xstrdup(value); break;
    case RUN_HOSTNAME: free(c->hostname), c->hostname = xstrdup(value); break;
    case RUN_NETWORK:
        if (strcmp(value, "none") != 0 && strcmp(value, "host") != 0)
            return fail(err, "network \"%s\" is not supported: lrun knows --network none and --network host", value);
        free(c->network), c->network = xstrdup(value);
        break;
    case RUN_ENTRYPOINT: free(o->entrypoint), o->entrypoint = xstrdup(value), o->entrypoint_set = true; break;
    case RUN_VOLUME: volume_flag_add(c, value, err); break;
    case RUN_MOUNT: mount_flag_add(c, value, err); break;
    case RUN_VOLUMES_FROM: strv_push(&c->volumes_from, xstrdup(value)); break;
    case RUN_TMPFS: tmpfs_flag_add(c, value, err); break;
    case RUN_CAP_ADD: strv_push(&c->cap_add, xstrdup(value)); break;
    case RUN_CAP_DROP: strv_push(&c->cap_drop, xstrdup(value)); break;
    case RUN_SECURITY_OPT:
        if (has_prefix(value, "seccomp=") || has_prefix(value, "seccomp:")) {
            free(c->seccomp);
            c->seccomp = strcmp(value + 8, "unconfined") == 0 ? xstrdup("unconfined") : realpath(value + 8, NULL);
            if (!c->seccomp) /* kept absolute: start may run from another directory */
                return fail_errno(err, "seccomp profile %s", value + 8);
        } else if (strcmp(value, "no-new-privileges") == 0 || strcmp(value, "no-new-privileges=true") == 0) {
            c->no_new_privileges = true;
        } else if (strcmp(value, "no-new-privileges=false") == 0) {
            c->no_new_privileges = false;
        } else if (!has_prefix(value, "label=")) { /* no SELinux labels here */
            return fail(err, "unsupported --security-opt \"%s\"", value);
        }
        break;
    case RUN_PULL:
        if (strcmp(value, "missing") && strcmp(value, "always") && strcmp(value, "never") && strcmp(value, "newer"))
            return fail(err, "invalid --pull \"%s\": use missing, always or never", value);
        o->pull = value;
        break;
    case RUN_STOP_SIGNAL: free(c->stop_signal), c->stop_signal = xstrdup(value); break;
    case RUN_STOP_TIMEOUT: c->stop_timeout = atoi(value); break;
    case RUN_DETACH_KEYS: break; /* accepted; lrun has no attach to detach from */
    case RUN_DEVICE: strv_push(&c->devices, xstrdup(value)); break;
    case RUN_CGROUP_PARENT: free(c->cgroup_parent), c->cgroup_parent = xstrdup(value); break;
    case RUN_ULIMIT: return ulimit_option(&c->rlimits, &c->n_rlimits, value, err);
    case RUN_SHM_SIZE:
        if (!size_parse(value, &c->shm_size) || c->shm_size <= 0)
            return fail(err, "invalid --shm-size \"%s\": use a size such as 64m", value);
        break;
    case RUN_CGROUPNS:
        if (strcmp(value, "host") != 0 && strcmp(value, "private") != 0)
            return fail(err, "invalid --cgroupns \"%s\": use private or host", value);
        c->cgroupns_host = strcmp(value, "host") == 0;
        break;
    default: {
        static const char *const names[] = {"--memory", "--memory-swap", "--memory-reservation", "--cpus",
                                            "--cpu-shares", "--cpu-period", "--cpu-quota", "--cpuset-cpus",
                                            "--cpuset-mems", "--pids-limit", "--blkio-weight", "--device-read-bps",
                                            "--device-write-bps", "--device-read-iops", "--device-write-iops"};
        enum limit_option kind = (enum limit_option)(id - RUN_LIMIT);
        return limit_option(&c->resources, kind, names[kind], value, err);
    }
    }
    return err && *err ? -1 : 0;
}

/* run_options_parse: run's and create's flags; returns the index of the
 * image operand, or -1 after printing the error (*status set). */
static int run_options_parse(int argc, char **argv, const char *command, struct run_options *o, int *status)
{
    struct container_config *c = &o->cfg;
#define RUN_CALL(name, shorthand, id, value, help) CALL_FLAG(name, shorthand, run_flag_set, o, id, value, help)
    const struct cli_flag flags[] = {
        BOOL_FLAG("detach", 'd', &c->detach, "Run the container in the background and print its ID"),
        BOOL_FLAG("interactive", 'i', &c->interactive, "Keep stdin open"),
        BOOL_FLAG("tty", 't', &c->terminal, "Allocate a pseudo-terminal"),
        BOOL_FLAG("rm", 0, &c->remove, "Remove the container when it exits"),
        RUN_CALL("name", 0, RUN_NAME, "NAME", "Assign a name to the container"),
        RUN_CALL("env", 'e', RUN_ENV, "KEY=VALUE", "Set an environment variable (KEY alone: the host's value)"),
        RUN_CALL("env-file", 0, RUN_ENV_FILE, "FILE", "Read environment variables from a file"),
        RUN_CALL("workdir", 'w', RUN_WORKDIR, "DIR", "Working directory inside the container"),
        RUN_CALL("user", 'u', RUN_USER, "USER[:GROUP]", "Run as this user"),
        RUN_CALL("hostname", 'h', RUN_HOSTNAME, "NAME", "The container's host name"),
        RUN_CALL("network", 0, RUN_NETWORK, "none|host", "Network mode (default host)"),
        RUN_CALL("net", 0, RUN_NETWORK, "none|host", NULL),
        RUN_CALL("entrypoint", 0, RUN_ENTRYPOINT, "CMD", "Override the image's entrypoint"),
        RUN_CALL("volume", 'v', RUN_VOLUME, "[HOST-DIR|VOLUME:]CTR[:OPTS]",
                 "Mount a volume (made if missing), a host directory, or (CTR alone) a new anonymous volume"),
        RUN_CALL("mount", 0, RUN_MOUNT, "type=bind|volume|tmpfs,source=..,target=..[,ro]", "Attach a mount"),
        RUN_CALL("volumes-from", 0, RUN_VOLUMES_FROM, "CTR[:ro|rw]", "Mount the volumes of another container"),
        BOOL_FLAG("read-only", 0, &c->read_only, "Mount the root file system read-only"),
        RUN_CALL("tmpfs", 0, RUN_TMPFS, "PATH[:OPTS]", "Mount a tmpfs"),
        RUN_CALL("cap-add", 0, RUN_CAP_ADD, "CAP", "Add a capability"),
        RUN_CALL("cap-drop", 0, RUN_CAP_DROP, "CAP", "Drop a capability"),
        BOOL_FLAG("privileged", 0, &c->privileged, "Give the container all capabilities and devices"),
        RUN_CALL("device", 0, RUN_DEVICE, "HOST[:CTR[:rwm]]", "Add a host device to the container"),
        RUN_CALL("cgroup-parent", 0, RUN_CGROUP_PARENT, "PATH", "The cgroup the container's cgroup is made in (default /lrun)"),
        RUN_CALL("cgroupns", 0, RUN_CGROUPNS, "private|host", "The cgroup namespace (default private)"),
        RUN_CALL("memory", 'm', RUN_LIMIT + LIMIT_MEMORY, "SIZE", "Memory limit (64m, 1g)"),
        RUN_CALL("memory-swap", 0, RUN_LIMIT + LIMIT_MEMORY_SWAP, "SIZE", "Memory plus swap (-1: unlimited; default twice --memory)"),
        RUN_CALL("memory-reservation", 0, RUN_LIMIT + LIMIT_MEMORY_RESERVATION, "SIZE", "Memory soft limit"),
        BOOL_FLAG("oom-kill-disable", 0, &c->resources.oom_kill_disable, "Disable the OOM killer (cgroup v1)"),
        RUN_CALL("cpus", 0, RUN_LIMIT + LIMIT_CPUS, "N", "Number of CPUs (1.5)"),
        RUN_CALL("cpu-shares", 'c', RUN_LIMIT + LIMIT_CPU_SHARES, "N", "CPU shares (relative weight)"),
        RUN_CALL("cpu-period", 0, RUN_LIMIT + LIMIT_CPU_PERIOD, "US", "CPU CFS period"),
        RUN_CALL("cpu-quota", 0, RUN_LIMIT + LIMIT_CPU_QUOTA, "US", "CPU CFS quota"),
        RUN_CALL("cpuset-cpus", 0, RUN_LIMIT + LIMIT_CPUSET_CPUS, "LIST", "CPUs the container may use (0-3,6)"),
        RUN_CALL("cpuset-mems", 0, RUN_LIMIT + LIMIT_CPUSET_MEMS, "LIST", "Memory nodes the container may use"),
        RUN_CALL("pids-limit", 0, RUN_LIMIT + LIMIT_PIDS, "N", "Process limit (default 2048; 0 or -1: unlimited)"),
        RUN_CALL("blkio-weight", 0, RUN_LIMIT + LIMIT_BLKIO_WEIGHT, "N", "Block I/O weight (10-1000)"),
        RUN_CALL("device-read-bps", 0, RUN_LIMIT + LIMIT_READ_BPS, "DEV:RATE", "Read rate limit of a device"),
        RUN_CALL("device-write-bps", 0, RUN_LIMIT + LIMIT_WRITE_BPS, "DEV:RATE", "Write rate limit of a device"),
        RUN_CALL("device-read-iops", 0, RUN_LIMIT + LIMIT_READ_IOPS, "DEV:N", "Read operations per second"),
        RUN_CALL("device-write-iops", 0, RUN_LIMIT + LIMIT_WRITE_IOPS, "DEV:N", "Write operations per second"),
        RUN_CALL("ulimit", 0, RUN_ULIMIT, "NAME=SOFT[:HARD]", "A resource limit (nofile=1024:2048)"),
        RUN_CALL("shm-size", 0, RUN_SHM_SIZE, "SIZE", "Size of /dev/shm (default 64m)"),
        RUN_CALL("security-opt", 0, RUN_SECURITY_OPT, "OPT", "seccomp=unconfined|FILE, no-new-privileges[=false]"),
        BOOL_FLAG("init", 0, &c->init, "Run an init that forwards signals and reaps zombies"),
        RUN_CALL("pull", 0, RUN_PULL, "POLICY", "Pull the image: missing, always, never, newer"),
        STRING_FLAG("platform", 0, &o->platform, "OS/ARCH", "The platform to pull"),
        RUN_CALL("stop-signal", 0, RUN_STOP_SIGNAL, "SIGNAL", "Signal that stops the container"),
        RUN_CALL("stop-timeout", 0, RUN_STOP_TIMEOUT, "SECONDS", "Seconds stop waits before killing"),
        BOOL_FLAG("no-pivot", 0, &c->no_pivot, "chroot instead of pivot_root (automatic on an initramfs)"),
        RUN_CALL("detach-keys", 0, RUN_DETACH_KEYS, "KEYS", "Key sequence that detaches"),
        FLAGS_END,
    };
#undef RUN_CALL
    c->network = xstrdup("host");
    c->seccomp = xstrdup("default");
    c->no_new_privileges = true;
    c->stop_timeout = 10;
    o->pull = "missing";
    const struct cli_usage usage = {command, "IMAGE [COMMAND [ARG...]]",
                                    strcmp(command, "run") == 0 ? "Run a command in a new container"
                                                                : "Create but do not start a container",
                                    true};
    int n = cli_parse(argc, argv, &usage, flags, status);
    if (n < 0)
        return -1;
    if (n < 1) {
        cli_error("%s requires at least 1 argument: IMAGE", command);
        *status = EXIT_LRUN;
        return -1;
    }
    if (c->detach && c->terminal && c->interactive)
        c->interactive = false; /* nothing to attach a detached stdin to */
    return 1;
}

static void run_options_release(struct run_options *o)
{
    container_config_release(&o->cfg);
    free(o->entrypoint);
}

/* cli_create_container: resolve the image (pulling as --pull says, when
 * lrun can) and create the container; its ID in *id. */
static int cli_create_container(struct cli *cli, struct run_options *o, const char *image, char **command, char **id)
{
    autostore lrun_store *s = NULL;
    int status;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    struct image *img = strcmp(o->pull, "always") == 0 ? NULL : image_lookup(s, image, NULL);
    if (!img && strcmp(o->pull, "never") == 0) {
        cli_error("%s: image not known", image);
        return EXIT_LRUN;
    }
    if (!img) { /* --pull missing (docker's default) or always */
        lrun_pull_options pull = {.progress = cli_progress_line, .platform = o->platform,
                                  .progress_fd = isatty(STDERR_FILENO) ? STDERR_FILENO : 0};
        autofree char *id = NULL;
        if (image_pull(s, image, &pull, &id, &err) < 0)
            return cli_fail(err);
        img = store_image_by_id(s, id);
        if (!img) {
            cli_error("%s: the pulled image is not in the store", image);
            return EXIT_LRUN;
        }
    }
    o->cfg.image = xstrdup(image);
    s->volatile_writes = o->cfg.remove;
    struct container *c = container_create(s, img, &o->cfg, command, o->entrypoint_set ? o->entrypoint : NULL, &err);
    if (!c)
        return cli_fail(err);
    *id = xstrdup(c->id);
    return 0;
}

static const char *cli_root(struct cli *cli, char **owned)
{
    if (cli->root)
        return cli->root;
    *owned = lrun_default_root();
    return *owned;
}

static int cmd_run(struct cli *cli, int argc, char **argv)
{
    cleanup(run_options_release) struct run_options o = {0};
    int status = 0;
    int at = run_options_parse(argc, argv, "run", &o, &status);
    if (at < 0)
        return status;
    autofree char *id = NULL;
    if ((status = cli_create_container(cli, &o, argv[at], argv + at + 1, &id)))
        return status;
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    autoerror lrun_error *err = NULL;
    int exit_code = 0;
    if (container_start(root, id, !o.cfg.detach, &exit_code, &err) < 0) {
        lrun_error *ignored = NULL;
        if (o.cfg.remove) /* a start that failed early leaves nothing either */
            container_remove(root, id, true, true, &ignored);
        lrun_error_free(ignored);
        return cli_fail(err);
    }
    if (o.cfg.detach)
        printf("%s\n", id);
    return exit_code;
}

static int cmd_create(struct cli *cli, int argc, char **argv)
{
    cleanup(run_options_release) struct run_options o = {0};
    int status = 0;
    int at = run_options_parse(argc, argv, "create", &o, &status);
    if (at < 0)
        return status;
    autofree char *id = NULL;
    if ((status = cli_create_container(cli, &o, argv[at], argv + at + 1, &id)))
        return status;
    printf("%s\n", id);
    return 0;
}

/* exec_flag_set: exec's flags that keep a value in its config. */
static int exec_flag_set(void *target, int id, const char *value, lrun_error **err)
{
    (void)err;
    struct container_config *opts = target;
    if (id == 'u')
        free(opts->user), opts->user = xstrdup(value);
    else if (id == 'w')
        free(opts->workdir), opts->workdir = xstrdup(value);
    else
        env_option_add(opts, value);
    return 0;
}

static int cmd_start(struct cli *cli, int argc, char **argv)
{
    bool attach = false, interactive = false;
    const struct cli_flag flags[] = {
        BOOL_FLAG("attach", 'a', &attach, "Attach to the container's output (one container)"),
        BOOL_FLAG("interactive", 'i', &interactive, "Keep stdin open"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"start", "CONTAINER [CONTAINER...]", "Start one or more containers", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n < 1) {
        cli_error("start requires at least one container name or ID");
        return EXIT_LRUN;
    }
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    for (int i = 1; i <= n; i++) {
        autoerror lrun_error *err = NULL;
        int exit_code = 0;
        if (container_start(root, argv[i], attach, &exit_code, &err) < 0)
            return cli_fail(err);
        if (attach)
            return exit_code;
        printf("%s\n", argv[i]);
    }
    return 0;
}

static int cmd_stop(struct cli *cli, int argc, char **argv)
{
    int timeout = -1;
    const struct cli_flag flags[] = {
        INT_FLAG("time", 't', &timeout, "SECONDS", "Seconds to wait for the stop signal before killing"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"stop", "CONTAINER [CONTAINER...]", "Stop one or more containers", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n < 1) {
        cli_error("stop requires at least one container name or ID");
        return EXIT_LRUN;
    }
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    for (int i = 1; i <= n; i++) {
        autoerror lrun_error *err = NULL;
        if (container_stop(root, argv[i], timeout, &err) < 0)
            status = cli_fail(err);
        else
            printf("%s\n", argv[i]);
    }
    return status;
}

static int cmd_kill(struct cli *cli, int argc, char **argv)
{
    const char *signal_name = "SIGKILL";
    const struct cli_flag flags[] = {
        STRING_FLAG("signal", 's', &signal_name, "SIGNAL", "Signal to send (default SIGKILL)"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"kill", "CONTAINER [CONTAINER...]",
                                           "Kill one or more running containers with a specific signal", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n < 1) {
        cli_error("kill requires at least one container name or ID");
        return EXIT_LRUN;
    }
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    autoerror lrun_error *err = NULL;
    int sig;
    if (signal_parse(signal_name, &sig, &err) < 0)
        return cli_fail(err);
    for (int i = 1; i <= n; i++) {
        autoref struct container_ref r;
        if (container_ref_read(root, argv[i], &r, &err) < 0)
            return cli_fail(err);
        if (!r.running) {
            cli_error("can only kill running containers. %s is in state %s: container state improper", r.id, r.status);
            return EXIT_LRUN;
        }
        if (kill(r.pid, sig) < 0) {
            cli_error("kill %s: %s", argv[i], strerror(errno));
            return EXIT_LRUN;
        }
        printf("%s\n", argv[i]);
    }
    return 0;
}

static int cmd_wait(struct cli *cli, int argc, char **argv)
{
    static const struct cli_usage usage = {"wait", "CONTAINER [CONTAINER...]",
                                           "Block on one or more containers and print their exit codes", false};
    int status = 0, n = cli_parse(argc, argv, &usage, NULL, &status);
    if (n < 0)
        return status;
    if (n < 1) {
        cli_error("wait requires at least one container name or ID");
        return EXIT_LRUN;
    }
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    for (int i = 1; i <= n; i++) {
        autoerror lrun_error *err = NULL;
        autoref struct container_ref r;
        if (container_ref_read(root, argv[i], &r, &err) < 0)
            return cli_fail(err);
        if (r.running)
            process_wait_gone(r.pid, -1);
        if (container_wait_recorded(root, argv[i], &r, &err) < 0)
            return cli_fail(err);
        printf("%d\n", r.exit_code);
    }
    return 0;
}

static int cmd_rm(struct cli *cli, int argc, char **argv)
{
    bool force = false, all = false, ignore = false, volumes = false, depend = false;
    int timeout = -1;
    const struct cli_flag flags[] = {
        BOOL_FLAG("all", 'a', &all, "Remove all containers"),
        BOOL_FLAG("force", 'f', &force, "Stop and remove running containers; a missing one is no error"),
        BOOL_FLAG("ignore", 'i', &ignore, "A missing container is no error"),
        INT_FLAG("time", 't', &timeout, "SECONDS", "With --force: seconds to wait for the stop signal (default: kill)"),
        BOOL_FLAG("volumes", 'v', &volumes, "Remove the container's anonymous volumes"),
        BOOL_FLAG("depend", 0, &depend, "Remove the containers that depend on these too (lrun has none)"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"rm", "CONTAINER [CONTAINER...]", "Remove one or more containers", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    autostrv char **names = xcalloc(1, sizeof *names);
    for (int i = 1; i <= n; i++)
        strv_push(&names, xstrdup(argv[i]));
    if (all) {
        autostore lrun_store *s = NULL;
        if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
            return status;
        for (size_t i = 0; i < s->n_containers; i++)
            strv_push(&names, xstrdup(s->containers[i]->id));
    }
    if (!names[0] && !all) {
        cli_error("rm requires at least one container name or ID");
        return EXIT_LRUN;
    }
    for (size_t i = 0; names[i]; i++) {
        autoerror lrun_error *err = NULL;
        int r = force && timeout >= 0 ? container_stop(root, names[i], timeout, &err) : 0;
        if (r == 0)
            r = container_remove(root, names[i], force, volumes, &err);
        if (r == 0) {
            printf("%s\n", names[i]);
            continue;
        }
        bool missing = strstr(err->message, "no such container") != NULL;
        if (missing && (force || ignore))
            continue;
        int code = cli_fail(err);
        status = status ? status : code == EXIT_LRUN && missing ? 1 : code;
    }
    return status;
}

static int cmd_exec(struct cli *cli, int argc, char **argv)
{
    autoconfig struct container_config opts = {0};
    bool detach = false;
    const struct cli_flag flags[] = {
        BOOL_FLAG("interactive", 'i', &opts.interactive, "Keep stdin open"),
        BOOL_FLAG("tty", 't', &opts.terminal, "Allocate a pseudo-terminal"),
        CALL_FLAG("user", 'u', exec_flag_set, &opts, 'u', "USER[:GROUP]", "Run as this user"),
        CALL_FLAG("workdir", 'w', exec_flag_set, &opts, 'w', "DIR", "Working directory inside the container"),
        CALL_FLAG("env", 'e', exec_flag_set, &opts, 'e', "KEY=VALUE", "Set an environment variable"),
        BOOL_FLAG("detach", 'd', &detach, "Run the command in the background"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"exec", "CONTAINER COMMAND [ARG...]",
                                           "Run a process in a running container", true};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (detach) {
        cli_error("exec --detach is not supported");
        return EXIT_LRUN;
    }
    if (n < 2) {
        cli_error("exec requires at least 2 arguments: CONTAINER COMMAND");
        return EXIT_LRUN;
    }
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    autoerror lrun_error *err = NULL;
    int exit_code = 0;
    if (container_exec(root, argv[1], &opts, argv + 2, &exit_code, &err) < 0)
        return cli_fail(err);
    return exit_code;
}

/* --- cp --- */

/* cp_operand_container: "CONTAINER:PATH" split (NULL for a host path:
 * one that starts with / or . or has no colon). */
static char *cp_operand_container(const char *operand, const char **path)
{
    const char *colon = strchr(operand, ':');
    if (!colon || operand[0] == '/' || operand[0] == '.' || colon == operand)
        return NULL;
    *path = colon + 1;
    return xstrndup(operand, (size_t)(colon - operand));
}

static int cmd_cp(struct cli *cli, int argc, char **argv)
{
    bool archive = true, pause = true, follow = false, overwrite = false;
    const struct cli_flag flags[] = {
        BOOL_FLAG("archive", 'a', &archive, "Files copied in belong to the container's root (--archive=false: keep the source's owners)"),
        BOOL_FLAG("pause", 0, &pause, "Accepted (lrun copies without pausing)"),
        BOOL_FLAG("follow-link", 'L', &follow, "Accepted"),
        BOOL_FLAG("overwrite", 0, &overwrite, "Accepted (an existing file is replaced)"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"cp", "[CONTAINER:]SRC_PATH [CONTAINER:]DEST_PATH",
                                           "Copy files between a container and the host", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n != 2) {
        cli_error("accepts 2 arg(s), received %d", n);
        return EXIT_LRUN;
    }
    const char *src_path = argv[1], *dst_path = argv[2];
    autofree char *src = cp_operand_container(argv[1], &src_path);
    autofree char *dst = cp_operand_container(argv[2], &dst_path);
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    autoerror lrun_error *err = NULL;
    if (src && dst) { /* container to container: through a temporary directory */
        char tmp[] = "/tmp/lrun-cp-XXXXXX";
        if (!mkdtemp(tmp)) {
            cli_error("create a temporary directory: %s", strerror(errno));
            return EXIT_LRUN;
        }
        autofree char *base = NULL;
        autofree char *parent = path_split_last(src_path, &base);
        autofree char *through = xasprintf("%s/%s", tmp, strcmp(base, ".") && strcmp(base, "/") ? base : "root");
        int r = container_copy(root, src, src_path, through, false, true, &err);
        if (r == 0)
            r = container_copy(root, dst, dst_path, through, true, !archive, &err);
        autoclose int tmp_parent = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        remove_tree_at(tmp_parent, tmp + 5, NULL);
        return r < 0 ? cli_fail(err) : 0;
    }
    if (!src && !dst) {
        cli_error("copying between two host paths is not supported: name a container as CONTAINER:PATH");
        return EXIT_LRUN;
    }
    if (container_copy(root, src ? src : dst, src ? src_path : dst_path, src ? dst_path : src_path, dst != NULL,
                       !archive, &err) < 0)
        return cli_fail(err);
    return 0;
}

/* --- commit --- */

static int cmd_commit(struct cli *cli, int argc, char **argv)
{
    const char *author = NULL, *message = NULL, *format = NULL;
    bool pause = true, quiet = false, squash = false;
    autostrv char **changes = NULL;
    const struct cli_flag flags[] = {
        STRING_FLAG("author", 'a', &author, "AUTHOR", "The image's author"),
        LIST_FLAG("change", 'c', &changes, "INSTRUCTION", "Apply an instruction (CMD, ENV, ...) to the image"),
        STRING_FLAG("message", 'm', &message, "MESSAGE", "The history entry's comment"),
        STRING_FLAG("format", 'f', &format, "oci|docker", "Accepted (lrun stores OCI manifests)"),
        BOOL_FLAG("pause", 'p', &pause, "Accepted (the layer is read as it is)"),
        BOOL_FLAG("quiet", 'q', &quiet, "Print only the image ID"),
        BOOL_FLAG("squash", 0, &squash, "Accepted"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"commit", "CONTAINER [IMAGE]", "Create an image from a container's changes",
                                           false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n < 1 || n > 2) {
        cli_error("commit requires a container and at most one image name");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    struct container *ct = container_lookup(s, argv[1], &err);
    struct image *base = ct ? store_image_by_id(s, ct->image) : NULL;
    if (ct && !base)
        fail(&err, "the image of container %s is gone", ct->id);
    if (!base)
        return cli_fail(err);
    autojson yajl_val config = image_config(s, base, &err);
    if (!config)
        return cli_fail(err);
    autosettings struct image_settings settings = {0};
    image_settings_read(config, &settings);
    for (size_t i = 0; changes && changes[i]; i++)
        if (image_settings_change(&settings, changes[i], &err) < 0)
            return cli_fail(err);
    autofree char *created_by = xasprintf("/bin/sh -c %s", ct->command ? ct->command : "");
    struct history_entry entry = {.created_by = created_by, .comment = message};
    char *names[] = {n == 2 ? argv[2] : NULL, NULL};
    struct commit_request r = {.base = base, .layer = ct->layer, .settings = &settings, .history = &entry,
                               .n_history = 1, .author = author, .names = names};
    autofree char *id = NULL;
    if (image_commit_request(s, &r, &id, &err) < 0)
        return cli_fail(err);
    printf("%s\n", id);
    return 0;
}

/* --- build --- */

static int cmd_build(struct cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    bool quiet = false, no_cache = false, layers = true, rm = true, force_rm = true;
    autostrv char **tags = NULL;
    autostrv char **build_args = NULL;
    const struct cli_flag flags[] = {
        LIST_FLAG("tag", 't', &tags, "NAME", "Name the resulting image"),
        STRING_FLAG("file", 'f', &file, "FILE", "The Containerfile (default: CONTEXT/Containerfile or Dockerfile)"),
        LIST_FLAG("build-arg", 0, &build_args, "KEY=VALUE", "A value for an ARG"),
        BOOL_FLAG("no-cache", 0, &no_cache, "Build every step again"),
        BOOL_FLAG("quiet", 'q', &quiet, "Print only the image ID"),
        BOOL_FLAG("layers", 0, &layers, "Accepted (lrun keeps an image per step)"),
        BOOL_FLAG("rm", 0, &rm, "Accepted (step containers are always removed)"),
        BOOL_FLAG("force-rm", 0, &force_rm, "Accepted (step containers are always removed)"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"build", "[CONTEXT]", "Build an image from a Containerfile", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    const char *context = n >= 1 ? argv[1] : ".";
    autofree char *owned = NULL;
    autoerror lrun_error *err = NULL;
    cleanup(build_release) struct build b = {.root = cli_root(cli, &owned), .build_args = build_args,
                                             .args = xcalloc(1, sizeof(char *))};
    b.context_fd = open(context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b.context_fd < 0) {
        cli_error("the build context %s: %s", context, strerror(errno));
        return EXIT_LRUN;
    }
    autofree char *default_file = NULL;
    if (!file) {
        default_file = xasprintf("%s/Containerfile", context);
        if (access(default_file, F_OK) < 0) {
            free(default_file);
            default_file = xasprintf("%s/Dockerfile", context);
        }
        file = default_file;
    }
    autobuf struct buf text = {0};
    if (read_file_at(AT_FDCWD, file, &text, &err) < 0 || containerfile_parse(text.data ? text.data : "", &b, &err) < 0)
        return cli_fail(err);
    autobuf struct buf ignore = {0};
    if (read_file_at(b.context_fd, ".dockerignore", &ignore, NULL) == 0 ||
        read_file_at(b.context_fd, ".containerignore", &ignore, NULL) == 0) {
        b.ignore = xcalloc(1, sizeof *b.ignore);
        autostrv char **lines = strv_split(ignore.data, "\n");
        for (size_t i = 0; lines[i]; i++) {
            const char *l = lines[i] + strspn(lines[i], " \t");
            if (*l && *l != '#')
                strv_push(&b.ignore, xstrndup(l, strcspn(l, "\r")));
        }
    }
    if (build_run_steps(&b, !no_cache, quiet, &err) < 0)
        return cli_fail(err);
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    for (size_t i = 0; tags && tags[i]; i++) {
        autofree char *name = name_normalize_local(tags[i], &err);
        if (!quiet)
            printf("COMMIT %s\n", name ? name : tags[i]);
        if (!name || lrun_image_tag(s, b.image, name, &err) < 0)
            return cli_fail(err);
    }
    if (!quiet)
        printf("--> %.12s\n", b.image);
    for (size_t i = 0; !quiet && tags && tags[i]; i++) {
        autofree char *name = name_normalize_local(tags[i], NULL);
        printf("Successfully tagged %s\n", name ? name : tags[i]);
    }
    printf("%s\n", b.image);
    return 0;
}

/* --- export --- */

static int cmd_export(struct cli *cli, int argc, char **argv)
{
    const char *output = NULL;
    const struct cli_flag flags[] = {
        STRING_FLAG("output", 'o', &output, "FILE", "Write to a file, not stdout"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"export", "CONTAINER", "Export a container's filesystem as a tar", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n != 1) {
        cli_error("exactly one argument is required");
        return EXIT_LRUN;
    }
    if (!output && isatty(STDOUT_FILENO)) {
        cli_error("refusing to export to terminal. Use -o flag or redirect");
        return EXIT_LRUN;
    }
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    autofree char *tmp = output ? xasprintf("%s.lrun-tmp-%d", output, (int)getpid()) : NULL;
    autoclose int fd = output ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (output && fd < 0) {
        cli_error("create %s: %s", output, strerror(errno));
        return EXIT_LRUN;
    }
    autoerror lrun_error *err = NULL;
    fflush(stdout);
    if (container_export(root, argv[1], output ? fd : STDOUT_FILENO, &err) < 0 ||
        (output && (fsync(fd) < 0 || rename(tmp, output) < 0) && fail_errno(&err, "write %s", output) < 0)) {
        if (output)
            unlink(tmp); /* a failed export leaves no half file */
        return cli_fail(err);
    }
    return 0;
}

/* --- mount, unmount --- */

static int cmd_mount(struct cli *cli, int argc, char **argv)
{
    bool no_trunc = false, all = false;
    const char *format = NULL;
    const struct cli_flag flags[] = {
        BOOL_FLAG("notruncate", 0, &no_trunc, "Print the full container ID"),
        BOOL_FLAG("all", 'a', &all, "Mount every container"),
        STRING_FLAG("format", 0, &format, "json", "Print the mounted containers as JSON"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"mount", "[CONTAINER...]", "Mount a container's root filesystem", false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    if (n == 0 && !all) { /* the mounted ones */
        autostrv char **counts = mount_counts_read(s);
        autogen yajl_gen g = json_writer(false);
        yajl_gen_array_open(g);
        for (size_t i = 0; i < s->n_containers; i++) {
            struct container *c = s->containers[i];
            if (!c->layer || !env_get(counts, c->layer))
                continue;
            autofree char *path = xasprintf("%s/overlay/%s/merged", s->root, c->layer);
            if (format) {
                yajl_gen_map_open(g);
                jw_key_str(g, "id", c->id);
                jw_key(g, "Names");
                jw_strv(g, c->names);
                jw_key_str(g, "mountpoint", path);
                yajl_gen_map_close(g);
            } else {
                printf("%.*s %s\n", no_trunc ? 64 : 12, c->id, path);
            }
        }
        yajl_gen_array_close(g);
        if (format)
            json_print_go(g, "     ");
        return 0;
    }
    autostrv char **names = all ? xcalloc(1, sizeof *names) : strv_copy(argv + 1);
    for (size_t i = 0; all && i < s->n_containers; i++)
        strv_push(&names, xstrdup(s->containers[i]->id));
    for (size_t i = 0; names[i]; i++) {
        autoerror lrun_error *err = NULL;
        struct container *c = container_lookup(s, names[i], &err);
        autofree char *path = c ? container_mount(s, c, &err) : NULL;
        if (!path) {
            status = cli_fail(err);
            continue;
        }
        if (all)
            printf("%.*s %s\n", no_trunc ? 64 : 12, c->id, path);
        else
            printf("%s\n", path);
    }
    return status;
}

static int cmd_unmount(struct cli *cli, int argc, char **argv)
{
    bool all = false, force = false;
    const struct cli_flag flags[] = {
        BOOL_FLAG("all", 'a', &all, "Unmount every mounted container"),
        BOOL_FLAG("force", 'f', &force, "Unmount whatever the count"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"unmount", "CONTAINER [CONTAINER...]", "Unmount a container's root filesystem",
                                           false};
    int status = 0, n = cli_parse(argc, argv, &usage, flags, &status);
    if (n < 0)
        return status;
    if (n == 0 && !all) {
        cli_error("when using the --all switch, you may not pass any containers names or IDs");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autostrv char **counts = mount_counts_read(s);
    autostrv char **names = all ? xcalloc(1, sizeof *names) : strv_copy(argv + 1);
    for (size_t i = 0; all && i < s->n_containers; i++)
        if (s->containers[i]->layer && env_get(counts, s->containers[i]->layer))
            strv_push(&names, xstrdup(s->containers[i]->id));
    for (size_t i = 0; names[i]; i++) {
        autoerror lrun_error *err = NULL;
        struct container *c = container_lookup(s, names[i], &err);
        if (!c || container_unmount(s, c, force || all, &err) < 0) {
            status = cli_fail(err);
            continue;
        }
        printf("%s\n", c->id);
    }
    return status;
}

/* --- ps, logs, container prune --- */

static char *container_status_text(const struct container *c)
{
    if (container_is_running(c)) {
        autofree char *d = human_duration(time_parse_rfc3339(c->started_at));
        return xasprintf("Up %s ago", d);
    }
    if (strcmp(c->status, "created") == 0)
        return xstrdup("Created");
    autofree char *d = human_duration(time_parse_rfc3339(c->finished_at));
    return c->finished_at ? xasprintf("Exited (%d) %s ago", (int)c->exit_code, d) : xstrdup("Exited (unknown)");
}

/* container_size_text: ps -s's "62B (virtual 77.9MB)": the container
 * layer, and that plus the image. */
static char *container_size_text(lrun_store *s, const struct container *c, int64_t *rw, int64_t *virt)
{
    struct image *img = store_image_by_id(s, c->image);
    *rw = container_size(s, c);
    *virt = *rw + (img ? image_size(s, img) : 0);
    autofree char *rw_h = human_size((double)*rw, 3), *virt_h = human_size((double)*virt, 3);
    return xasprintf("%s (virtual %s)", rw_h, virt_h);
}

static char *container_row_json(lrun_store *s, const struct container *c, bool with_size, bool no_trunc)
{
    autofree char *image = container_image_name(c);
    autofree char *status = container_status_text(c);
    autofree char *created = time_ago(time_parse_rfc3339(c->created));
    autogen yajl_gen g = json_writer(false);
    yajl_gen_map_open(g);
    autofree char *short_id = xstrndup(c->id, no_trunc ? 64 : 12);
    jw_key_str(g, "ID", short_id);
    jw_key_str(g, "Id", c->id);
    jw_key_str(g, "Image", image);
    jw_key_str(g, "ImageID", c->image);
    jw_key_str(g, "Command", c->command ? c->command : "");
    jw_key_str(g, "CreatedAt", c->created);
    jw_key_str(g, "Created", created);
    jw_key_str(g, "RunningFor", created);
    jw_key_str(g, "Status", status);
    jw_key_str(g, "State", container_is_running(c) ? "running" : c->status);
    jw_key_int(g, "ExitCode", c->exit_code);
    jw_key_int(g, "Pid", container_is_running(c) ? c->pid : 0);
    jw_key_str(g, "Ports", "");
    jw_key_str(g, "Names", c->names && c->names[0] ? c->names[0] : "");
    if (with_size) {
        int64_t rw, virt;
        autofree char *size = container_size_text(s, c, &rw, &virt);
        jw_key_str(g, "Size", size);
        jw_key_int(g, "RwSize", rw);
        jw_key_int(g, "RootFsSize", virt);
    }
    yajl_gen_map_close(g);
    return json_writer_text(g, NULL);
}

static int cmd_ps(struct cli *cli, int argc, char **argv)
{
    bool all = false, quiet = false, size = false, no_trunc = false, no_heading = false, latest = false;
    bool external = false;
    const char *format = NULL;
    int last = -1;
    const struct cli_flag flags[] = {
        BOOL_FLAG("all", 'a', &all, "Show all the containers, default is only running containers"),
        BOOL_FLAG("external", 0, &external, "Show containers in storage not controlled by lrun"),
        STRING_FLAG("format", 0, &format, "FORMAT", "Pretty-print containers with a Go template, or json"),
        INT_FLAG("last", 'n', &last, "N", "Print the N last created containers (all states)"),
        BOOL_FLAG("latest", 'l', &latest, "Act on the latest container lrun knows about"),
        BOOL_FLAG("no-trunc", 0, &no_trunc, "Display the extended information"),
        BOOL_FLAG("noheading", 0, &no_heading, "Do not print headers"),
        BOOL_FLAG("quiet", 'q', &quiet, "Print the numeric IDs of the containers only"),
        BOOL_FLAG("size", 's', &size, "Display the total file sizes"),
        FLAGS_END,
    };
    static const struct cli_usage usage = {"ps", "", "List containers", false};
    int status = 0;
    if (cli_parse(argc, argv, &usage, flags, &status) < 0)
        return status;
    if (latest)
        all = true, last = 1;
    if (last >= 0)
        all = true;
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    if (containers_repair_orphans(s, false)) { /* under the write lock, then read again */
        lrun_store_close(s);
        s = NULL;
        if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
            return status;
        containers_repair_orphans(s, true);
        lrun_store_close(s);
        s = NULL;
        if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
            return status;
    }
    autofree struct container **list = xcalloc(s->n_containers + 1, sizeof *list);
    size_t n = 0;
    for (size_t i = s->n_containers; i-- > 0;) /* newest first */
        if (all || container_is_running(s->containers[i]))
            list[n++] = s->containers[i];
    if (last >= 0 && n > (size_t)last)
        n = (size_t)last;
    if (quiet) {
        for (size_t i = 0; i < n; i++)
            printf("%.*s\n", no_trunc ? 64 : 12, list[i]->id);
        return 0;
    }
    if (format) {
        autofree yajl_val *trees = xcalloc(n + 1, sizeof *trees);
        bool json = strcmp(format, "json") == 0;
        for (size_t i = 0; i < n; i++) {
            autofree char *text = container_row_json(s, list[i], size || strstr(format, ".Size") || json, no_trunc);
            trees[i] = json_text_to_tree(text);
        }
        if (json) {
            autogen yajl_gen g = json_writer(false);
            yajl_gen_array_open(g);
            for (size_t i = 0; i < n; i++)
                jw_value(g, trees[i]);
            yajl_gen_array_close(g);
            json_print_go(g, "    ");
        } else {
            autojson yajl_val header = json_text_to_tree(
                "{\"ID\":\"CONTAINER ID\",\"Id\":\"CONTAINER ID\",\"Image\":\"IMAGE\",\"Command\":\"COMMAND\","
                "\"Created\":\"CREATED\",\"CreatedAt\":\"CREATED AT\",\"RunningFor\":\"CREATED\",\"Status\":\"STATUS\","
                "\"State\":\"STATE\",\"Ports\":\"PORTS\",\"Names\":\"NAMES\",\"Size\":\"SIZE\",\"ExitCode\":\"EXIT CODE\"}");
            status = format_print_rows(format, trees, n, header);
        }
        for (size_t i = 0; i < n; i++)
            yajl_tree_free(trees[i]);
        return status;
    }
    struct table t = {.columns = size ? 8 : 7};
    static const char *const headers[] = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "SIZE"};
    for (size_t i = 0; !no_heading && i < t.columns; i++)
        table_add(&t, xstrdup(headers[i]));
    for (size_t i = 0; i < n; i++) {
        struct container *ct = list[i];
        const char *command = ct->command ? ct->command : "";
        table_add(&t, no_trunc ? xstrdup(ct->id) : xstrndup(ct->id, 12));
        table_add(&t, container_image_name(ct));
        table_add(&t, no_trunc || strlen(command) <= 17 ? xstrdup(command) : xasprintf("%.17s...", command));
        table_add(&t, time_ago(time_parse_rfc3339(ct->created)));
        table_add(&t, container_status_text(ct));
        table_add(&t, xstrdup(""));
        table_add(&t, xstrdup(ct->names && ct->names[0] ? ct->names[0] : ""));
        int64_t rw, virt;
        if (size)
            table_add(&t, container_size_text(s, ct, &rw, &virt));
    }
    table_print(&t, stdout);
    return 0;
}

/* cmd_logs: userdata/ctr.log (k8s-file lines) back to stdout and stderr;
 * -f follows until the container exits. */
static int cmd_logs(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"follow", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    bool follow = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "fh", longs, "logs", &status)) != -1) {
        switch (c) {
        case 'f': follow = true; break;
        case 'h': puts("Usage: lrun logs [-f] CONTAINER"); return 0;
        default: return status;
        }
    }
    if (optind + 1 != argc) {
        cli_error("logs requires exactly one container name or ID");
        return EXIT_LRUN;
    }
    autofree char *owned = NULL;
    const char *root = cli_root(cli, &owned);
    autoerror lrun_error *err = NULL;
    autoref struct container_ref r;
    if (container_ref_read(root, argv[optind], &r, &err) < 0)
        return cli_fail(err);
    autofree char *userdata = container_userdata(root, r.id);
    autofree char *path = xasprintf("%s/ctr.log", userdata);
    FILE *f = fopen(path, "re");
    if (!f && !follow)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        ssize_t n;
        while (f && (n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] != '\n') { /* a line still being written: read it again whole */
                fseek(f, -n, SEEK_CUR);
                break;
            }
            line[n - 1] = '\0';
            char *stream = strchr(line, ' ');
            char *tag = stream ? strchr(stream + 1, ' ') : NULL;
            char *text = tag ? strchr(tag + 1, ' ') : NULL;
            if (!text)
                continue;
            *tag = '\0';
            FILE *out = strcmp(stream + 1, "stderr") == 0 ? stderr : stdout;
            fputs(text + 1, out);
            if (tag[1] == 'F')
                fputc('\n', out);
            fflush(out);
        }
        if (!follow)
            break;
        container_ref_release(&r);
        if (container_ref_read(root, argv[optind], &r, &err) < 0 || !r.running) {
            error_free_pointer(&err);
            if (!f || feof(f))
                break;
            clearerr(f);
            follow = false; /* one last pass for what the exit flushed */
            continue;
        }
        if (f)
            clearerr(f);
        else
            f = fopen(path, "re");
        usleep(100000);
    }
    free(line);
    if (f)
        fclose(f);
    return 0;
}

static int cmd_container_prune(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "fh", longs, "container prune", &status)) != -1) {
        if (c == 'f')
            continue;
        if (c == 'h') {
            puts("Usage: lrun container prune [-f]");
            return 0;
        }
        return status;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    for (size_t i = 0; i < s->n_containers;) {
        struct container *ct = s->containers[i];
        if (container_is_running(ct)) {
            i++;
            continue;
        }
        autofree char *id = xstrdup(ct->id);
        autoerror lrun_error *err = NULL;
        if (container_remove_storage(s, ct, &err) < 0)
            return cli_fail(err);
        printf("%s\n", id);
    }
    return 0;
}

/* --- volume create, ls, inspect, rm, prune, exists --- */

static size_t volume_running_users(lrun_store *s, char *const *ids)
{
    size_t n = 0;
    for (size_t i = 0; ids && ids[i]; i++) {
        struct container *c = container_lookup(s, ids[i], NULL);
        n += c && container_is_running(c);
    }
    return n;
}

/* volume_json: the volume as podman's volume inspect shows it. */
static void volume_json(lrun_store *s, const struct volume *v, yajl_gen g)
{
    autofree char *mountpoint = volume_data_path(s->root, v->name);
    autostrv char **users = volume_users(s, v->name);
    yajl_gen_map_open(g);
    jw_key_str(g, "Name", v->name);
    jw_key_str(g, "Driver", "local");
    jw_key_str(g, "Mountpoint", mountpoint);
    jw_key_str(g, "CreatedAt", v->created);
    jw_key_pairs(g, "Labels", v->labels);
    jw_key_str(g, "Scope", "local");
    jw_key_pairs(g, "Options", v->options);
    jw_key_int(g, "MountCount", (int64_t)volume_running_users(s, users));
    if (v->anonymous)
        jw_key_bool(g, "Anonymous", true);
    jw_key_bool(g, "NeedsCopyUp", v->needs_copy_up);
    jw_key_bool(g, "NeedsChown", v->needs_chown);
    yajl_gen_map_close(g);
}

/* key_value_push: KEY=VALUE (or KEY alone: empty value) onto pairs. */
static void key_value_push(char ***pairs, const char *text)
{
    const char *eq = strchr(text, '=');
    strv_push(pairs, eq ? xstrndup(text, (size_t)(eq - text)) : xstrdup(text));
    strv_push(pairs, xstrdup(eq ? eq + 1 : ""));
}

static int cmd_volume_create(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"driver", required_argument, NULL, 'd'}, {"opt", required_argument, NULL, 'o'},
                                          {"label", required_argument, NULL, 'l'}, {"ignore", no_argument, NULL, 'i'},
                                          {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    autovolume struct volume v = {.labels = xcalloc(1, sizeof(char *)), .options = xcalloc(1, sizeof(char *))};
    bool ignore = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "d:o:l:h", longs, "volume create", &status)) != -1) {
        switch (c) {
        case 'd':
            if (strcmp(optarg, "local") != 0) {
                cli_error("volume driver \"%s\" is not known: lrun has the local driver", optarg);
                return EXIT_LRUN;
            }
            break;
        case 'o': key_value_push(&v.options, optarg); break;
        case 'l': key_value_push(&v.labels, optarg); break;
        case 'i': ignore = true; break;
        case 'h': puts("Usage: lrun volume create [-o KEY=VALUE] [-l KEY=VALUE] [--ignore] [NAME]"); return 0;
        default: return status;
        }
    }
    if (argc - optind > 1) {
        cli_error("too many arguments, create takes at most 1 argument");
        return EXIT_LRUN;
    }
    v.name = xstrdup(optind < argc ? argv[optind] : NULL);
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autoerror lrun_error *err = NULL;
    autovolume struct volume old = {0};
    if (ignore && v.name && volume_read(s->root, v.name, &old, NULL) == 0) {
        printf("%s\n", v.name);
        return 0;
    }
    if (volume_create(s->root, &v, &err) < 0)
        return cli_fail(err);
    printf("%s\n", v.name);
    return 0;
}

/* volume_filter_match: --filter name=REGEX, label=KEY[=VALUE],
 * dangling=true|false, driver=local. */
static bool volume_filter_match(lrun_store *s, const struct volume *v, char *const *filters)
{
    for (size_t i = 0; filters && filters[i]; i++) {
        const char *f = filters[i], *value = strchr(f, '=');
        value = value ? value + 1 : "";
        if (has_prefix(f, "name=")) {
            regex_t re;
            if (regcomp(&re, value, REG_EXTENDED | REG_NOSUB) != 0)
                return false;
            bool match = regexec(&re, v->name, 0, NULL, 0) == 0;
            regfree(&re);
            if (!match)
                return false;
        } else if (has_prefix(f, "label=")) {
            const char *eq = strchr(value, '=');
            autofree char *key = eq ? xstrndup(value, (size_t)(eq - value)) : xstrdup(value);
            const char *have = pairs_get(v->labels, key);
            if (!have || (eq && strcmp(have, eq + 1) != 0))
                return false;
        } else if (has_prefix(f, "dangling=")) {
            autostrv char **users = volume_users(s, v->name);
            if ((strcmp(value, "true") == 0) != (users[0] == NULL))
                return false;
        } else if (has_prefix(f, "driver=") && strcmp(value, "local") != 0) {
            return false;
        }
    }
    return true;
}

static int volume_filter_check(char *const *filters)
{
    static const char *const known[] = {"name=", "label=", "dangling=", "driver=", NULL};
    for (size_t i = 0; filters && filters[i]; i++) {
        bool ok = false;
        for (size_t k = 0; known[k]; k++)
            ok |= has_prefix(filters[i], known[k]);
        if (!ok) {
            cli_error("invalid filter \"%s\": lrun filters volumes by name, label, dangling and driver", filters[i]);
            return EXIT_LRUN;
        }
    }
    return 0;
}

static int cmd_volume_ls(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"quiet", no_argument, NULL, 'q'}, {"format", required_argument, NULL, 'F'},
                                          {"filter", required_argument, NULL, 'f'}, {"noheading", no_argument, NULL, 'n'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool quiet = false, no_heading = false;
    const char *format = NULL;
    autostrv char **filters = xcalloc(1, sizeof *filters);
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "qf:nh", longs, "volume ls", &status)) != -1) {
        switch (c) {
        case 'q': quiet = true; break;
        case 'F': format = optarg; break;
        case 'f': strv_push(&filters, xstrdup(optarg)); break;
        case 'n': no_heading = true; break;
        case 'h': puts("Usage: lrun volume ls [-q] [--noheading] [--filter F] [--format FORMAT]"); return 0;
        default: return status;
        }
    }
    if ((status = volume_filter_check(filters)))
        return status;
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autostrv char **names = volume_names(s->root);
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    autostrv char **shown = xcalloc(1, sizeof *shown);
    for (size_t i = 0; names[i]; i++) {
        autovolume struct volume v = {0};
        if (volume_read(s->root, names[i], &v, NULL) < 0 || !volume_filter_match(s, &v, filters))
            continue;
        strv_push(&shown, xstrdup(v.name));
        volume_json(s, &v, g);
    }
    yajl_gen_array_close(g);
    if (quiet) {
        for (size_t i = 0; shown[i]; i++)
            printf("%s\n", shown[i]);
        return 0;
    }
    if (format && strcmp(format, "json") == 0) {
        json_print_go(g, "  ");
        return 0;
    }
    autofree char *text = json_writer_text(g, NULL);
    autojson yajl_val list = json_text_to_tree(text);
    if (format) {
        autojson yajl_val header = json_text_to_tree("{\"Name\":\"VOLUME NAME\",\"Driver\":\"DRIVER\","
                                                     "\"Mountpoint\":\"MOUNTPOINT\",\"Scope\":\"SCOPE\"}");
        return format_print_rows(format, YAJL_IS_ARRAY(list) ? list->u.array.values : NULL, json_array_len(list), header);
    }
    struct table t = {.columns = 2};
    if (!no_heading)
        table_add_row(&t, "DRIVER", "VOLUME NAME");
    for (size_t i = 0; shown[i]; i++)
        table_add_row(&t, "local", shown[i]);
    table_print(&t, stdout);
    return 0;
}

static int cmd_volume_inspect(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"format", required_argument, NULL, 'f'}, {"all", no_argument, NULL, 'a'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *format = NULL;
    bool all = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "f:ah", longs, "volume inspect", &status)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 'a': all = true; break;
        case 'h': puts("Usage: lrun volume inspect [-a] [--format FORMAT] VOLUME..."); return 0;
        default: return status;
        }
    }
    if (!all && optind >= argc) {
        cli_error("provide one or more volume names or use --all");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autostrv char **names = all ? volume_names(s->root) : strv_copy(argv + optind);
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    for (size_t i = 0; names[i]; i++) {
        autovolume struct volume v = {0};
        autoerror lrun_error *err = NULL;
        if (volume_read(s->root, names[i], &v, &err) < 0) {
            cli_fail(err);
            status = 125;
            continue;
        }
        volume_json(s, &v, g);
    }
    yajl_gen_array_close(g);
    if (!format || strcmp(format, "json") == 0) {
        json_print_go(g, "     ");
        return status;
    }
    autofree char *text = json_writer_text(g, NULL);
    autojson yajl_val list = json_text_to_tree(text);
    int r = format_print_rows(format, YAJL_IS_ARRAY(list) ? list->u.array.values : NULL, json_array_len(list), NULL);
    return status ? status : r;
}

/* volume_remove_checked: a volume not in use (or, with force, its
 * containers removed first, as podman does). */
static int volume_remove_checked(struct cli *cli, lrun_store **s, const char *name, bool force, lrun_error **err)
{
    autovolume struct volume v = {0};
    if (volume_read((*s)->root, name, &v, err) < 0)
        return -1;
    autostrv char **users = volume_users(*s, name);
    if (users[0] && !force) {
        autofree char *list = strv_join(users, ", ");
        return fail_code(err, 2, "volume %s is being used by the following container(s): %s: volume is being used", name,
                         list);
    }
    if (users[0]) { /* container_remove takes the lock itself */
        autofree char *root = xstrdup((*s)->root);
        lrun_store_close(*s);
        *s = NULL;
        for (size_t i = 0; users[i]; i++)
            if (container_remove(root, users[i], true, false, err) < 0)
                return -1;
        if (lrun_store_open(cli->root, LRUN_STORE_WRITE, s, err) < 0)
            return -1;
    }
    return volume_remove((*s)->root, name, err);
}

static int cmd_volume_rm(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"force", no_argument, NULL, 'f'}, {"all", no_argument, NULL, 'a'},
                                          {"time", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    bool force = false, all = false;
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "fat:h", longs, "volume rm", &status)) != -1) {
        switch (c) {
        case 'f': force = true; break;
        case 'a': all = true; break;
        case 't': break; /* containers are killed at once */
        case 'h': puts("Usage: lrun volume rm [-f] [-a] VOLUME..."); return 0;
        default: return status;
        }
    }
    if (!all && optind >= argc) {
        cli_error("choose either one or more volumes or all");
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autostrv char **names = all ? volume_names(s->root) : strv_copy(argv + optind);
    for (size_t i = 0; names[i]; i++) {
        autoerror lrun_error *err = NULL;
        if (volume_remove_checked(cli, &s, names[i], force, &err) == 0) {
            printf("%s\n", names[i]);
            continue;
        }
        if (force && strstr(err->message, "no such volume"))
            continue;
        int code = cli_fail(err);
        status = status ? status : code;
        if (!s)
            return status;
    }
    return status;
}

static int cmd_volume_prune(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"force", no_argument, NULL, 'f'}, {"filter", required_argument, NULL, 'F'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool force = false;
    autostrv char **filters = xcalloc(1, sizeof *filters);
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "fh", longs, "volume prune", &status)) != -1) {
        switch (c) {
        case 'f': force = true; break;
        case 'F': strv_push(&filters, xstrdup(optarg)); break;
        case 'h': puts("Usage: lrun volume prune [-f] [--filter F]"); return 0;
        default: return status;
        }
    }
    if ((status = volume_filter_check(filters)))
        return status;
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_WRITE, &s)))
        return status;
    autostrv char **names = volume_names(s->root);
    autostrv char **unused = xcalloc(1, sizeof *unused);
    for (size_t i = 0; names[i]; i++) {
        autovolume struct volume v = {0};
        autostrv char **users = volume_users(s, names[i]);
        if (!users[0] && volume_read(s->root, names[i], &v, NULL) == 0 && volume_filter_match(s, &v, filters))
            strv_push(&unused, xstrdup(names[i]));
    }
    if (!force) {
        printf("WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n");
        for (size_t i = 0; unused[i]; i++)
            printf("%s\n", unused[i]);
        autofree char *answer = prompt_line("Are you sure you want to continue? [y/N] ", false);
        if (!answer || (strcasecmp(answer, "y") != 0 && strcasecmp(answer, "yes") != 0))
            return 0;
    }
    for (size_t i = 0; unused[i]; i++) {
        autoerror lrun_error *err = NULL;
        if (volume_remove(s->root, unused[i], &err) < 0)
            status = cli_fail(err);
        else
            printf("%s\n", unused[i]);
    }
    return status;
}

static int cmd_volume_exists(struct cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = cli_getopt(argc, argv, "h", longs, "volume exists", &status)) != -1) {
        if (c != 'h')
            return status;
        puts("Usage: lrun volume exists VOLUME");
        return 0;
    }
    if (optind + 1 != argc) {
        cli_error("accepts 1 arg(s), received %d", argc - optind);
        return EXIT_LRUN;
    }
    autostore lrun_store *s = NULL;
    if ((status = cli_open_store(cli, LRUN_STORE_READ, &s)))
        return status;
    autovolume struct volume v = {0};
    return volume_read(s->root, argv[optind], &v, NULL) == 0 ? 0 : 1;
}

/* --- init: lrun as the early userspace (PID 1 of an initramfs) ---
 * `lrun init [SCRIPT]` mounts what is missing, loads overlayfs, then runs
 * SCRIPT (default /etc/lrun/init.conf): one lrun command per line
 * ("load -i /images/app.tar", "run --rm app"), plus echo and poweroff,
 * reboot or halt.  As PID 1 it reaps orphans, passes SIGTERM and SIGINT to
 * the command running, and powers the machine off at the end rather than
 * returning (the kernel panics when init exits). */

/* split_words: a line into words; '...' and "..." quote, \ escapes; no
 * expansion.  NULL on an unclosed quote. */
static char **split_words(const char *line)
{
    char **words = xcalloc(1, sizeof *words);
    struct buf word = {0};
    bool in_word = false;
    char quote = 0;
    for (const char *p = line;; p++) {
        char c = *p;
        if (!c) {
            if (quote) {
                buf_free(&word);
                lrun_strv_free(words);
                return NULL;
            }
            if (in_word)
                strv_push(&words, buf_steal(&word));
            return words;
        }
        if (quote) {
            if (c == quote)
                quote = 0;
            else if (c == '\\' && quote == '"' && p[1])
                buf_add(&word, ++p, 1);
            else
                buf_add(&word, &c, 1);
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
            buf_adds(&word, "");
        } else if (c == '\\' && p[1]) {
            buf_add(&word, ++p, 1);
            in_word = true;
        } else if (isspace((unsigned char)c)) {
            if (in_word)
                strv_push(&words, buf_steal(&word));
            in_word = false;
        } else {
            buf_add(&word, &c, 1);
            in_word = true;
        }
    }
}

static volatile pid_t init_child;

static void init_forward_signal(int sig)
{
    if (init_child > 0)
        kill(init_child, sig);
}

/* init_run: one script command in a child process; its exit status. */
static int init_run(struct cli *cli, char **words, bool pid1)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return EXIT_LRUN;
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        char **argv = xcalloc(strv_len(words) + 4, sizeof *argv);
        size_t n = 0;
        argv[n++] = (char *)"lrun";
        if (cli->root) {
            argv[n++] = (char *)"--root";
            argv[n++] = (char *)cli->root;
        }
        for (size_t i = 0; words[i]; i++)
            argv[n++] = words[i];
        exit(lrun_main((int)n, argv));
    }
    init_child = pid;
    int status = 0;
    for (;;) { /* as PID 1, every orphan of the machine is ours to reap */
        pid_t done = waitpid(pid1 ? -1 : pid, &status, 0);
        if (done == pid || (done < 0 && errno != EINTR))
            break;
    }
    init_child = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_init(struct cli *cli, int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("Usage: lrun init [SCRIPT]\n\nRun SCRIPT (default /etc/lrun/init.conf), one lrun command per line, plus\n"
             "echo, poweroff, reboot and halt.  As PID 1: mount /proc /sys /dev /run, reap orphans,\n"
             "forward SIGTERM/SIGINT, power off at the end.  lrun started as PID 1 with no\n"
             "arguments, or as /init, is lrun init.");
        return 0;
    }
    const char *script = argc > 1 ? argv[1] : "/etc/lrun/init.conf";
    bool pid1 = getpid() == 1;
    autoerror lrun_error *err = NULL;
    if (host_mount_basics(pid1, &err) < 0) {
        cli_error("%s", err->message);
        error_free_pointer(&err);
    }
    cli_protect_binary(); /* the script's containers must not reach /init; PID 1 goes on regardless */
    if (pid1) {
        int console = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (console >= 0) {
            for (int fd = 0; fd < 3; fd++)
                dup2(console, fd);
            close(console);
        }
        reboot(RB_DISABLE_CAD); /* Ctrl-Alt-Del arrives as SIGINT: stop the command */
        signal(SIGTERM, init_forward_signal);
        signal(SIGINT, init_forward_signal);
    }
    if (overlay_available(&err) < 0) {
        cli_error("%s", err->message);
        error_free_pointer(&err);
    }
    autobuf struct buf text = {0};
    int status = 0;
    int action = RB_POWER_OFF;
    if (read_file_at(AT_FDCWD, script, &text, &err) < 0) {
        status = cli_fail(err);
    } else {
        char *save = NULL;
        for (char *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            autostrv char **words = split_words(line);
            if (!words) {
                cli_error("%s: unclosed quote in: %s", script, line);
                status = EXIT_LRUN;
                continue;
            }
            if (!words[0] || words[0][0] == '#')
                continue;
            if (strcmp(words[0], "poweroff") == 0 || strcmp(words[0], "reboot") == 0 || strcmp(words[0], "halt") == 0) {
                action = words[0][0] == 'r' ? RB_AUTOBOOT : words[0][0] == 'h' ? RB_HALT_SYSTEM : RB_POWER_OFF;
                break;
            }
            if (strcmp(words[0], "echo") == 0) {
                autofree char *rest = strv_join(words + 1, " ");
                printf("%s\n", rest);
                continue;
            }
            status = init_run(cli, words, pid1);
            if (status != 0)
                fprintf(stderr, "lrun init: `%s` exited with status %d\n", line, status);
        }
    }
    if (!pid1)
        return status;
    fflush(stdout);
    fflush(stderr);
    sync();
    reboot(action);
    for (;;) /* reboot does not return for PID 1; if it did, never exit */
        pause();
}

/* --- dispatch --- */

typedef int (*command_fn)(struct cli *cli, int argc, char **argv);

struct command {
    const char *name;
    command_fn fn;
    const char *summary;
};

static int cmd_image(struct cli *cli, int argc, char **argv);
static int cmd_system(struct cli *cli, int argc, char **argv);
static int cmd_volume(struct cli *cli, int argc, char **argv);

static int cmd_version(struct cli *cli, int argc, char **argv)
{
    (void)cli, (void)argc, (void)argv;
    printf("lrun version %s\n", LRUN_VERSION);
    return 0;
}

/* cmd_version_full: --version as crun prints it: the OCI runtime-spec
 * version and the features built in, which OCI clients and crun's tests
 * read. */
static int cmd_version_full(void)
{
    printf("lrun version %s\nspec: %s\n+CAP +SECCOMP +YAJL\n", LRUN_VERSION, OCI_VERSION);
    return 0;
}

static int cmd_container(struct cli *cli, int argc, char **argv);

static const struct command commands[] = {
    {"container", cmd_container, "Manage containers (ls, prune, and the commands below)"},
    {"build", cmd_build, "Build an image from a Containerfile"},
    {"commit", cmd_commit, "Create an image from a container's changes"},
    {"cp", cmd_cp, "Copy files between a container and the host"},
    {"export", cmd_export, "Export a container's filesystem as a tar"},
    {"mount", cmd_mount, "Mount a container's root filesystem"},
    {"umount", cmd_unmount, "Unmount a container's root filesystem (unmount)"},
    {"unmount", cmd_unmount, "Unmount a container's root filesystem"},
    {"create", cmd_create, "Create a container from an image"},
    {"diff", cmd_diff, "Show what an image changed against its parent (or another image)"},
    {"exec", cmd_exec, "Run a process in a running container"},
    {"history", cmd_history, "Show how an image was made (its config's history)"},
    {"images", cmd_images, "List images in the store"},
    {"import", cmd_import, "Make an image from a tar of a filesystem"},
    {"init", cmd_init, "Be the early userspace: run a script of lrun commands, then power off"},
    {"image", cmd_image, "Manage images (ls, tree, inspect, rm, tag, untag, load, save, pull)"},
    {"inspect", cmd_inspect, "Show an image's configuration and storage as JSON"},
    {"kill", cmd_kill, "Send a signal to running containers"},
    {"load", cmd_load, "Load an image from a docker-archive or an OCI layout"},
    {"login", cmd_login, "Log in to a registry (credentials kept in auth.json)"},
    {"logout", cmd_logout, "Forget a registry's stored credentials"},
    {"logs", cmd_logs, "Show a detached container's output"},
    {"ps", cmd_ps, "List containers"},
    {"pull", cmd_pull, "Pull an image from a registry"},
    {"push", cmd_push, "Push an image to a registry"},
    {"rm", cmd_rm, "Remove containers"},
    {"rmi", cmd_rmi, "Remove images"},
    {"run", cmd_run, "Run a command in a new container"},
    {"save", cmd_save, "Save an image to a docker-archive"},
    {"start", cmd_start, "Start created or stopped containers"},
    {"stop", cmd_stop, "Stop running containers"},
    {"system", cmd_system, "Manage the store (df)"},
    {"tag", cmd_tag, "Add a name to an image"},
    {"untag", cmd_untag, "Remove names from an image"},
    {"version", cmd_version, "Print the version"},
    {"volume", cmd_volume, "Manage volumes (create, ls, inspect, rm, prune, exists)"},
    {"wait", cmd_wait, "Wait for containers to exit and print their exit codes"},
    {NULL, NULL, NULL},
};

static const struct command image_commands[] = {
    {"ls", cmd_images, NULL},       {"list", cmd_images, NULL}, {"tree", cmd_image_tree, NULL},
    {"inspect", cmd_image_inspect, NULL}, {"rm", cmd_rmi, NULL},      {"tag", cmd_tag, NULL},
    {"untag", cmd_untag, NULL},     {"load", cmd_load, NULL},   {"save", cmd_save, NULL},
    {"pull", cmd_pull, NULL},       {"history", cmd_history, NULL}, {"import", cmd_import, NULL},
    {"diff", cmd_diff, NULL},       {"push", cmd_push, NULL},   {"build", cmd_build, NULL},
    {NULL, NULL, NULL},
};

static const struct command container_commands[] = {
    {"ls", cmd_ps, NULL},        {"list", cmd_ps, NULL},     {"ps", cmd_ps, NULL},       {"prune", cmd_container_prune, NULL},
    {"cp", cmd_cp, NULL},        {"commit", cmd_commit, NULL}, {"export", cmd_export, NULL}, {"diff", cmd_diff, NULL},
    {"mount", cmd_mount, NULL},  {"umount", cmd_unmount, NULL}, {"unmount", cmd_unmount, NULL}, {"run", cmd_run, NULL},      {"create", cmd_create, NULL}, {"start", cmd_start, NULL}, {"stop", cmd_stop, NULL},
    {"kill", cmd_kill, NULL},    {"wait", cmd_wait, NULL},   {"rm", cmd_rm, NULL},       {"exec", cmd_exec, NULL},
    {"logs", cmd_logs, NULL},    {"inspect", cmd_container_inspect, NULL}, {NULL, NULL, NULL},
};

static const struct command volume_commands[] = {
    {"create", cmd_volume_create, NULL}, {"ls", cmd_volume_ls, NULL},     {"list", cmd_volume_ls, NULL},
    {"inspect", cmd_volume_inspect, NULL}, {"rm", cmd_volume_rm, NULL},   {"remove", cmd_volume_rm, NULL},
    {"prune", cmd_volume_prune, NULL},   {"exists", cmd_volume_exists, NULL}, {NULL, NULL, NULL},
};

static const struct command system_commands[] = {
    {"df", cmd_system_df, NULL},
    {NULL, NULL, NULL},
};

static int dispatch(struct cli *cli, const struct command *table, const char *parent, int argc, char **argv)
{
    for (const struct command *c = table; c->name; c++) {
        if (strcmp(c->name, argv[0]) == 0) {
            cli_getopt_reset();
            return c->fn(cli, argc, argv);
        }
    }
    cli_error("unrecognized command `lrun %s%s%s`\nTry 'lrun --help' for more information", parent ? parent : "",
              parent ? " " : "", argv[0]);
    return EXIT_LRUN;
}

static int cmd_image(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing command 'lrun image COMMAND'\nTry 'lrun --help' for more information");
        return EXIT_LRUN;
    }
    return dispatch(cli, image_commands, "image", argc - 1, argv + 1);
}

static int cmd_container(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing command 'lrun container COMMAND'\nTry 'lrun --help' for more information");
        return EXIT_LRUN;
    }
    return dispatch(cli, container_commands, "container", argc - 1, argv + 1);
}

static int cmd_volume(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing command 'lrun volume COMMAND'\nTry 'lrun --help' for more information");
        return EXIT_LRUN;
    }
    return dispatch(cli, volume_commands, "volume", argc - 1, argv + 1);
}

static int cmd_system(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        cli_error("missing command 'lrun system COMMAND'\nTry 'lrun --help' for more information");
        return EXIT_LRUN;
    }
    return dispatch(cli, system_commands, "system", argc - 1, argv + 1);
}

/* --- the OCI runtime's command line (runc's and crun's) ---
 * Chosen by oci_mode_wanted: runc's global options, a command only runc
 * has, create/run with a bundle, or an id with state under --root.  Errors
 * are "lrun: MESSAGE" on stderr (and JSON lines in --log), exit 1. */

static struct oci_options oci_opts = {.root = OCI_DEFAULT_ROOT};

static int oci_fail(lrun_error *err)
{
    const char *msg = err && err->message ? err->message : "unknown error";
    fflush(stdout);
    fprintf(stderr, "lrun: %s\n", msg);
    if (oci_opts.log) {
        autoclose int fd = open(oci_opts.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        autofree char *now = time_rfc3339_now();
        autofree char *line = NULL;
        if (oci_opts.log_json) {
            autogen yajl_gen g = json_writer(false);
            yajl_gen_map_open(g);
            jw_key_str(g, "level", "error");
            jw_key_str(g, "msg", msg);
            jw_key_str(g, "time", now);
            yajl_gen_map_close(g);
            autofree char *json = json_writer_text(g, NULL);
            line = xasprintf("%s\n", json);
        } else {
            line = xasprintf("time=\"%s\" level=error msg=\"%s\"\n", now, msg);
        }
        if (fd >= 0)
            write_all(fd, line, strlen(line));
    }
    int code = err && err->exit_code && err->exit_code != EXIT_LRUN ? err->exit_code : 1;
    return code > 125 ? 1 : code;
}

/* oci_getopt: getopt_long, options anywhere among the operands (runc's
 * parser), unless stop_at_operand (exec's command). */
static int oci_getopt(int argc, char **argv, const char *shorts, const struct option *longs, bool stop_at_operand,
                      int *status)
{
    autofree char *spec = xasprintf("%s:%s", stop_at_operand ? "+" : "", shorts);
    opterr = 0;
    int c = getopt_long(argc, argv, spec, longs, NULL);
    if (c == '?' || c == ':') {
        fprintf(stderr, "lrun: %s %s\n", c == '?' ? "unknown option" : "option needs a value:", argv[optind - 1]);
        *status = 1;
        c = '?';
    }
    return c;
}

static int oci_one_id(int argc, const char *command)
{
    if (argc - optind != 1) {
        fprintf(stderr, "lrun: %s: expects exactly one container id\n", command);
        return -1;
    }
    return 0;
}

static int oci_create_parse(int argc, char **argv, struct oci_create_options *co, bool *detach, bool *keep)
{
    static const struct option longs[] = {
        {"bundle", required_argument, NULL, 'b'},       {"config", required_argument, NULL, 'f'},
        {"pid-file", required_argument, NULL, 'p'},     {"console-socket", required_argument, NULL, 'c'},
        {"preserve-fds", required_argument, NULL, 'P'}, {"no-pivot", no_argument, NULL, 'n'},
        {"detach", no_argument, NULL, 'd'},             {"keep", no_argument, NULL, 'k'},
        {"no-new-keyring", no_argument, NULL, 'K'},     {"no-subreaper", no_argument, NULL, 'S'},
        {NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = oci_getopt(argc, argv, "b:f:dp:", longs, false, &status)) != -1) {
        switch (c) {
        case 'b': co->bundle = optarg; break;
        case 'f': co->config = optarg; break;
        case 'p': co->pid_file = optarg; break;
        case 'c': co->console_socket = optarg; break;
        case 'P': co->preserve_fds = atoi(optarg); break;
        case 'n': co->no_pivot = true; break;
        case 'd': *detach = true; break;
        case 'k': *keep = true; break;
        case 'K': case 'S': break;
        default: return status;
        }
    }
    if (co->preserve_fds < 0 || co->preserve_fds > 1 << 20) {
        fprintf(stderr, "lrun: invalid --preserve-fds\n");
        return 1;
    }
    return oci_one_id(argc, argv[0]) < 0 ? 1 : 0;
}

static int cmd_oci_create(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    struct oci_create_options co = {0};
    bool detach = false, keep = false;
    int status = oci_create_parse(argc, argv, &co, &detach, &keep);
    if (status)
        return status;
    co.detached = true;
    autoerror lrun_error *err = NULL;
    int pty = -1;
    if (oci_create(&oci_opts, argv[optind], &co, &pty, &err) < 0)
        return oci_fail(err);
    if (pty >= 0)
        close(pty);
    return 0;
}

/* cmd_oci_run: create + start; without --detach wait for the container
 * (a terminal proxied when no console socket is given) and delete it
 * unless --keep; the container's status is ours. */
static int cmd_oci_run(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    struct oci_create_options co = {0};
    bool detach = false, keep = false;
    int status = oci_create_parse(argc, argv, &co, &detach, &keep);
    if (status)
        return status;
    co.detached = detach;
    const char *id = argv[optind];
    autoerror lrun_error *err = NULL;
    sigset_t set;
    int sigfd = detach ? -1 : waiter_signals(&set), pty = -1;
    pid_t pid = oci_create(&oci_opts, id, &co, &pty, &err);
    if (pid < 0 || oci_start(&oci_opts, id, &err) < 0) {
        if (pid >= 0) {
            lrun_error *ignored = NULL;
            oci_delete(&oci_opts, id, true, &ignored);
            lrun_error_free(ignored);
        }
        return oci_fail(err);
    }
    if (detach) {
        if (pty >= 0)
            close(pty);
        return 0;
    }
    if (pty >= 0)
        terminal_raw();
    struct waiter w = {.pid = pid, .sigfd = sigfd, .pty = pty, .input = pty >= 0 ? 0 : -1,
                       .output = STDOUT_FILENO, .pipes = {-1, -1}, .log_fd = -1};
    int code = container_wait(&w);
    terminal_restore();
    if (pty >= 0)
        close(pty);
    close(sigfd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    if (!keep && oci_delete(&oci_opts, id, true, &err) < 0)
        return oci_fail(err);
    return code;
}

static int cmd_oci_start(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = oci_getopt(argc, argv, "", longs, false, &status)) != -1)
        return status;
    if (oci_one_id(argc, "start") < 0)
        return 1;
    autoerror lrun_error *err = NULL;
    return oci_start(&oci_opts, argv[optind], &err) < 0 ? oci_fail(err) : 0;
}

static int cmd_oci_state(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = oci_getopt(argc, argv, "", longs, false, &status)) != -1)
        return status;
    if (oci_one_id(argc, "state") < 0)
        return 1;
    autoerror lrun_error *err = NULL;
    autostate struct oci_state st = {0};
    if (oci_state_load(&oci_opts, argv[optind], &st, &err) < 0)
        return oci_fail(err);
    autofree char *text = oci_state_text(&st, oci_status(&oci_opts, &st), true);
    fputs(text, stdout);
    if (text[0] && text[strlen(text) - 1] != '\n')
        putchar('\n');
    return 0;
}

static int cmd_oci_kill(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    int c, status = 0, sig = SIGTERM;
    bool all = false;
    while ((c = oci_getopt(argc, argv, "a", longs, false, &status)) != -1) {
        if (c != 'a')
            return status;
        all = true;
    }
    autoerror lrun_error *err = NULL;
    if (argc - optind < 1 || argc - optind > 2) {
        fprintf(stderr, "lrun: kill: expects a container id and an optional signal\n");
        return 1;
    }
    if (argc - optind == 2 && signal_parse(argv[optind + 1], &sig, &err) < 0)
        return oci_fail(err);
    return oci_kill(&oci_opts, argv[optind], sig, all, &err) < 0 ? oci_fail(err) : 0;
}

/* oci_ids: the ids of the containers under --root, sorted. */
static char **oci_ids(void)
{
    char **ids = xcalloc(1, sizeof *ids);
    DIR *dir = opendir(oci_opts.root);
    struct dirent *de;
    while (dir && (de = readdir(dir)))
        if (de->d_name[0] != '.')
            strv_push(&ids, xstrdup(de->d_name));
    if (dir)
        closedir(dir);
    qsort(ids, strv_len(ids), sizeof *ids, compare_strings);
    return ids;
}

static int cmd_oci_delete(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{"force", no_argument, NULL, 'f'}, {"regex", required_argument, NULL, 'r'},
                                          {NULL, 0, NULL, 0}};
    int c, status = 0;
    bool force = false;
    const char *pattern = NULL;
    while ((c = oci_getopt(argc, argv, "fr:", longs, false, &status)) != -1) {
        if (c == 'f')
            force = true;
        else if (c == 'r')
            pattern = optarg;
        else
            return status;
    }
    autoerror lrun_error *err = NULL;
    if (pattern) { /* crun's --regex: every container whose id matches */
        regex_t re;
        if (optind != argc || regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
            fprintf(stderr, "lrun: delete --regex: expects one valid regular expression and no id\n");
            return 1;
        }
        autostrv char **ids = oci_ids();
        int rc = 0;
        for (size_t i = 0; ids[i]; i++)
            if (regexec(&re, ids[i], 0, NULL, 0) == 0 && oci_delete(&oci_opts, ids[i], force, &err) < 0)
                rc = oci_fail(err), lrun_error_free(err), err = NULL;
        regfree(&re);
        return rc;
    }
    if (oci_one_id(argc, "delete") < 0)
        return 1;
    return oci_delete(&oci_opts, argv[optind], force, &err) < 0 ? oci_fail(err) : 0;
}

/* cmd_oci_update: new limits for a container's cgroup: linux.resources'
 * JSON from -r FILE ("-": stdin), or runc's --memory and --pids-limit. */
static int cmd_oci_update(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{"resources", required_argument, NULL, 'r'},
                                          {"memory", required_argument, NULL, 'm'},
                                          {"pids-limit", required_argument, NULL, 'p'},
                                          {NULL, 0, NULL, 0}};
    int c, status = 0;
    const char *file = NULL;
    int64_t memory = 0, pids = 0;
    while ((c = oci_getopt(argc, argv, "r:", longs, false, &status)) != -1) {
        if (c == 'r')
            file = optarg;
        else if (c == 'm')
            memory = strtoll(optarg, NULL, 10);
        else if (c == 'p')
            pids = strtoll(optarg, NULL, 10);
        else
            return status;
    }
    if (oci_one_id(argc, "update") < 0)
        return 1;
    autoerror lrun_error *err = NULL;
    autostate struct oci_state st = {0};
    if (oci_state_load(&oci_opts, argv[optind], &st, &err) < 0)
        return oci_fail(err);
    if (!st.cgroup) {
        fail_code(&err, 1, "container %s has no cgroup to update", st.id);
        return oci_fail(err);
    }
    cleanup(spec_resources_release) struct spec_resources r = {0};
    if (file) {
        autobuf struct buf text = {0};
        autojson yajl_val v = NULL;
        int r_in = strcmp(file, "-") == 0 ? read_all_fd(STDIN_FILENO, "the resources", &text, &err)
                                          : read_file_at(AT_FDCWD, file, &text, &err);
        if (r_in < 0 || !(v = json_parse(text.data, file, &err)) || spec_read_resources(v, &r, &err) < 0)
            return oci_fail(err);
    }
    if (memory)
        r.memory_limit = memory;
    if (pids)
        r.pids_limit = pids;
    return cgroup_apply_limits(st.cgroup, &r, &err) < 0 ? oci_fail(err) : 0;
}

/* cmd_oci_pause: pause and resume: the container's cgroup frozen, thawed. */
static int cmd_oci_pause(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{NULL, 0, NULL, 0}};
    int c, status = 0;
    while ((c = oci_getopt(argc, argv, "", longs, false, &status)) != -1)
        return status;
    if (oci_one_id(argc, argv[0]) < 0)
        return 1;
    bool pause = strcmp(argv[0], "pause") == 0;
    autoerror lrun_error *err = NULL;
    autostate struct oci_state st = {0};
    if (oci_state_load(&oci_opts, argv[optind], &st, &err) < 0)
        return oci_fail(err);
    const char *now = oci_status(&oci_opts, &st);
    if (strcmp(now, pause ? "running" : "paused") != 0) {
        fail_code(&err, 1, "container %s is %s, not %s", st.id, now, pause ? "running" : "paused");
        return oci_fail(err);
    }
    return oci_freeze(st.cgroup, pause, &err) < 0 ? oci_fail(err) : 0;
}

static int cmd_oci_list(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{"format", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'},
                                          {NULL, 0, NULL, 0}};
    int c, status = 0;
    bool json = false, quiet = false;
    while ((c = oci_getopt(argc, argv, "f:q", longs, false, &status)) != -1) {
        if (c == 'f')
            json = strcmp(optarg, "json") == 0;
        else if (c == 'q')
            quiet = true;
        else
            return status;
    }
    autostrv char **ids = oci_ids();
    autogen yajl_gen g = json_writer(false);
    yajl_gen_array_open(g);
    if (!json && !quiet)
        printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
    for (size_t i = 0; ids[i]; i++) {
        autostate struct oci_state st = {0};
        lrun_error *ignored = NULL;
        if (oci_state_load(&oci_opts, ids[i], &st, &ignored) < 0) {
            lrun_error_free(ignored);
            continue;
        }
        const char *s = oci_status(&oci_opts, &st);
        if (json)
            oci_state_json_write(g, &st, s), yajl_gen_map_close(g);
        else if (quiet)
            printf("%s\n", st.id);
        else
            printf("%-12s %-8d %-10s %-40s %-30s %s\n", st.id, strcmp(s, "stopped") ? (int)st.pid : 0, s, st.bundle,
                   st.created, "root");
    }
    yajl_gen_array_close(g);
    if (json) {
        autofree char *text = json_writer_text(g, NULL);
        printf("%s\n", text);
    }
    return 0;
}

/* oci_exec_user: exec's --user UID[:GID]. */
static int oci_exec_user(const char *text, struct spec_user *u, lrun_error **err)
{
    unsigned long uid, gid;
    autofree char *copy = xstrdup(text);
    char *colon = strchr(copy, ':');
    if (colon)
        *colon = '\0';
    if (!parse_id(copy, &uid) || (colon && !parse_id(colon + 1, &gid)))
        return fail_code(err, 1, "invalid --user %s: want UID[:GID]", text);
    u->uid = (uid_t)uid;
    u->gid = colon ? (gid_t)gid : 0;
    return 0;
}

static int cmd_oci_exec(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {
        {"process", required_argument, NULL, 'p'},      {"detach", no_argument, NULL, 'd'},
        {"tty", no_argument, NULL, 't'},                {"console-socket", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'P'},     {"cwd", required_argument, NULL, 'w'},
        {"env", required_argument, NULL, 'e'},          {"user", required_argument, NULL, 'u'},
        {"cap", required_argument, NULL, 'C'},          {"no-new-privs", no_argument, NULL, 'n'},
        {"preserve-fds", required_argument, NULL, 'F'}, {"additional-gids", required_argument, NULL, 'g'},
        {"process-label", required_argument, NULL, 'L'}, {"apparmor", required_argument, NULL, 'A'},
        {"ignore-paused", no_argument, NULL, 'I'},      {NULL, 0, NULL, 0}};
    struct oci_exec_options eo = {0};
    const char *process_file = NULL, *cwd = NULL, *user = NULL;
    autostrv char **env = xcalloc(1, sizeof *env), **caps = xcalloc(1, sizeof *caps);
    bool tty = false, no_new_privs = false;
    int c, status = 0;
    while ((c = oci_getopt(argc, argv, "p:dtu:e:", longs, true, &status)) != -1) {
        switch (c) {
        case 'p': process_file = optarg; break;
        case 'd': eo.detach = true; break;
        case 't': tty = true; break;
        case 'c': eo.console_socket = optarg; break;
        case 'P': eo.pid_file = optarg; break;
        case 'w': cwd = optarg; break;
        case 'e': strv_push(&env, xstrdup(optarg)); break;
        case 'u': user = optarg; break;
        case 'C': strv_push(&caps, xstrdup(optarg)); break;
        case 'n': no_new_privs = true; break;
        case 'F': eo.preserve_fds = atoi(optarg); break;
        case 'g': case 'L': case 'A': case 'I': break;
        default: return status;
        }
    }
    if (optind >= argc || (!process_file && optind + 1 >= argc)) {
        fprintf(stderr, "lrun: exec: expects a container id and a command (or --process FILE)\n");
        return 1;
    }
    const char *id = argv[optind];
    autoerror lrun_error *err = NULL;
    cleanup(spec_process_release) struct spec_process p = {0};
    if (process_file) {
        autobuf struct buf text = {0};
        autojson yajl_val v = NULL;
        if (read_file_at(AT_FDCWD, process_file, &text, &err) < 0 || !(v = json_parse(text.data, process_file, &err)) ||
            spec_read_process(v, &p, &err) < 0)
            return oci_fail(err);
    } else {
        autospec struct spec spec = {0};
        if (oci_spec_load(&oci_opts, id, &spec, &err) < 0) {
            lrun_error_free(err), err = NULL;
            fail_code(&err, 1, "container \"%s\" does not exist", id);
            return oci_fail(err);
        }
        p = spec.process; /* taken over: the spec lets go of it */
        spec.process = (struct spec_process){0};
        lrun_strv_free(p.args);
        p.args = strv_copy(argv + optind + 1);
        p.terminal = tty;
    }
    for (size_t i = 0; env[i]; i++)
        env_set(&p.env, env[i]);
    if (cwd)
        free(p.cwd), p.cwd = xstrdup(cwd);
    if (user && oci_exec_user(user, &p.user, &err) < 0)
        return oci_fail(err);
    for (size_t i = 0; caps[i]; i++) {
        int cap;
        if (capability_parse(caps[i], &cap, NULL) < 0)
            continue; /* as in config.json: unknown ones are ignored */
        p.caps[CAPS_BOUNDING] |= 1ull << cap; /* runc's --cap: not inheritable, not ambient */
        p.caps[CAPS_EFFECTIVE] |= 1ull << cap;
        p.caps[CAPS_PERMITTED] |= 1ull << cap;
    }
    if (!process_file) /* crun: exec's no_new_privs is --no-new-privs, not the container's */
        p.no_new_privileges = no_new_privs;
    else
        p.no_new_privileges |= no_new_privs;
    int code;
    if (oci_exec(&oci_opts, id, &p, &eo, &code, &err) < 0)
        return oci_fail(err);
    return code;
}

/* cmd_oci_ps: the container's processes (those in its pid namespace). */
static int cmd_oci_ps(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{"format", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    int c, status = 0;
    bool json = false;
    while ((c = oci_getopt(argc, argv, "f:", longs, true, &status)) != -1) {
        if (c != 'f')
            return status;
        json = strcmp(optarg, "json") == 0;
    }
    if (optind >= argc) {
        fprintf(stderr, "lrun: ps: expects a container id\n");
        return 1;
    }
    autoerror lrun_error *err = NULL;
    autostate struct oci_state st = {0};
    if (oci_state_load(&oci_opts, argv[optind], &st, &err) < 0)
        return oci_fail(err);
    size_t n = 0;
    autofree pid_t *pids = strcmp(oci_status(&oci_opts, &st), "stopped") ? oci_processes(st.pid, &n) : NULL;
    if (json) {
        putchar('[');
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", (int)pids[i]);
        puts("]");
        return 0;
    }
    puts("PID   CMD");
    for (size_t i = 0; i < n; i++) {
        char path[64];
        autobuf struct buf comm = {0};
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pids[i]);
        read_file_at(AT_FDCWD, path, &comm, NULL);
        printf("%-5d %s", (int)pids[i], comm.len ? comm.data : "?\n");
    }
    return 0;
}

/* cmd_oci_features: runc features: what this runtime understands. */
static int cmd_oci_features(struct cli *cli, int argc, char **argv)
{
    (void)cli, (void)argc, (void)argv;
    autogen yajl_gen g = json_writer(true);
    yajl_gen_map_open(g);
    jw_key_str(g, "ociVersionMin", "1.0.0");
    jw_key_str(g, "ociVersionMax", OCI_VERSION);
    jw_key(g, "hooks");
    yajl_gen_array_open(g);
    for (int k = 0; k < HOOK_KINDS; k++)
        jw_str(g, hook_kind_names[k]);
    yajl_gen_array_close(g);
    autostrv char **options = xcalloc(1, sizeof *options);
    for (size_t i = 0; i < sizeof mount_options / sizeof *mount_options; i++)
        strv_push(&options, xstrdup(mount_options[i].name));
    jw_key_strv(g, "mountOptions", options);
    jw_key(g, "linux");
    yajl_gen_map_open(g);
    autostrv char **namespaces = xcalloc(1, sizeof *namespaces);
    for (int k = 0; k < NS_KINDS; k++)
        strv_push(&namespaces, xstrdup(namespace_kinds[k].name));
    jw_key_strv(g, "namespaces", namespaces);
    jw_key(g, "capabilities");
    jw_capabilities(g, capabilities_held());
    jw_key(g, "seccomp");
    yajl_gen_map_open(g);
    jw_key_bool(g, "enabled", true);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);
    autofree char *text = json_writer_text(g, NULL);
    printf("%s\n", text);
    return 0;
}

/* oci_spec_default: runc spec's config.json: sh on a terminal in rootfs/,
 * the usual mounts, namespaces, masked paths, three capabilities;
 * --rootless: a user namespace mapping the caller to root, no network
 * namespace, /sys bound from the host. */
static void oci_spec_default(struct spec *s, bool rootless)
{
    s->process = (struct spec_process){.args = strv_copy(STRV("sh")), .terminal = true, .cwd = xstrdup("/"),
                                       .env = strv_copy(STRV("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                             "TERM=xterm")),
                                       .no_new_privileges = true};
    s->process.user.umask = 022;
    s->process.user.additional_gids = xcalloc(1, sizeof(gid_t));
    uint64_t caps = 1ull << CAP_AUDIT_WRITE | 1ull << CAP_KILL | 1ull << CAP_NET_BIND_SERVICE;
    s->process.caps[CAPS_BOUNDING] = s->process.caps[CAPS_EFFECTIVE] = s->process.caps[CAPS_PERMITTED] = caps;
    s->process.rlimits = xcalloc(1, sizeof *s->process.rlimits);
    s->process.rlimits[s->process.n_rlimits++] = (struct spec_rlimit){RLIMIT_NOFILE, 1024, 1024};
    s->root_path = xstrdup("rootfs");
    s->root_readonly = true;
    s->hostname = xstrdup("lrun");
    spec_add_mount(s, "/proc", "proc", "proc", NULL);
    spec_add_mount(s, "/dev", "tmpfs", "tmpfs", STRV("nosuid", "strictatime", "mode=755", "size=65536k"));
    spec_add_mount(s, "/dev/pts", "devpts", "devpts",
                   rootless ? STRV("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620")
                            : STRV("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"));
    spec_add_mount(s, "/dev/shm", "tmpfs", "shm", STRV("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
    spec_add_mount(s, "/dev/mqueue", "mqueue", "mqueue", STRV("nosuid", "noexec", "nodev"));
    if (rootless)
        spec_add_mount(s, "/sys", "none", "/sys", STRV("rbind", "nosuid", "noexec", "nodev", "ro"));
    else
        spec_add_mount(s, "/sys", "sysfs", "sysfs", STRV("nosuid", "noexec", "nodev", "ro"));
    spec_add_mount(s, "/sys/fs/cgroup", "cgroup", "cgroup", STRV("nosuid", "noexec", "nodev", "relatime", "ro"));
    static const enum namespace_kind kinds[] = {NS_PID, NS_NETWORK, NS_IPC, NS_UTS, NS_MOUNT, NS_CGROUP};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        s->namespaces[kinds[i]].wanted = true;
    if (rootless) {
        s->namespaces[NS_NETWORK].wanted = false;
        s->namespaces[NS_USER].wanted = true;
        s->uid_mappings = xcalloc(1, sizeof *s->uid_mappings);
        s->gid_mappings = xcalloc(1, sizeof *s->gid_mappings);
        s->uid_mappings[s->n_uid_mappings++] = (struct spec_id_mapping){0, (uint32_t)getuid(), 1};
        s->gid_mappings[s->n_gid_mappings++] = (struct spec_id_mapping){0, (uint32_t)getgid(), 1};
    }
    s->resources.devices = xcalloc(1, sizeof *s->resources.devices);
    if (!rootless)
        s->resources.devices[s->resources.n_devices++] = (struct spec_device_rule){false, 'a', -1, -1, "rwm"};
    s->masked_paths = strv_copy(STRV("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                     "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                                     "/proc/scsi"));
    s->readonly_paths = strv_copy(STRV("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"));
    s->rootfs_propagation = 0;
}

static int cmd_oci_spec(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option longs[] = {{"rootless", no_argument, NULL, 'r'}, {"bundle", required_argument, NULL, 'b'},
                                          {NULL, 0, NULL, 0}};
    int c, status = 0;
    bool rootless = false;
    const char *bundle = ".";
    while ((c = oci_getopt(argc, argv, "b:", longs, false, &status)) != -1) {
        if (c == 'r')
            rootless = true;
        else if (c == 'b')
            bundle = optarg;
        else
            return status;
    }
    autoerror lrun_error *err = NULL;
    autofree char *path = xasprintf("%s/config.json", bundle);
    if (access(path, F_OK) == 0) {
        fail_code(&err, 1, "%s exists: remove it first", path);
        return oci_fail(err);
    }
    autospec struct spec s = {0};
    oci_spec_default(&s, rootless);
    size_t len;
    autofree char *text = spec_to_json(&s, &len, true);
    return write_file_at(AT_FDCWD, path, text, len, 0644, &err) < 0 ? oci_fail(err) : 0;
}

/* --- dispatch of the OCI command line --- */

static const struct command oci_commands[] = {
    {"create", cmd_oci_create, "Create a container from a bundle; it waits for start"},
    {"delete", cmd_oci_delete, "Delete a stopped container (-f: any)"},
    {"exec", cmd_oci_exec, "Run a process in a container (--process FILE, or a command)"},
    {"features", cmd_oci_features, "Print what this runtime supports, as JSON"},
    {"kill", cmd_oci_kill, "Send a signal to a container's init (--all: every process)"},
    {"list", cmd_oci_list, "List containers (--format json)"},
    {"pause", cmd_oci_pause, "Freeze a container's processes"},
    {"resume", cmd_oci_pause, "Thaw a paused container"},
    {"ps", cmd_oci_ps, "List a container's processes (--format json)"},
    {"run", cmd_oci_run, "Create and start a container from a bundle"},
    {"spec", cmd_oci_spec, "Write a default config.json (--rootless)"},
    {"start", cmd_oci_start, "Start a created container"},
    {"state", cmd_oci_state, "Print a container's state as JSON"},
    {"update", cmd_oci_update, "Change a container's cgroup limits (-r FILE|-, --memory, --pids-limit)"},
    {NULL, NULL, NULL},
};

/* oci_option_value: a global option of runc's that takes a value:
 * "--name value" or "--name=value"; advances *i past it. */
static const char *oci_option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

/* oci_mode_wanted: whether this command line is runc's, not docker's:
 * runc's own global options or commands, create/run given a bundle, or an
 * operand that is a container under the OCI root. */
static bool oci_mode_wanted(int argc, char **argv)
{
    const char *root = NULL;
    bool runc_option = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *v;
        if ((v = oci_option_value(argc, argv, &i, "--root")))
            root = v;
        else if (oci_option_value(argc, argv, &i, "--log") || oci_option_value(argc, argv, &i, "--log-format") ||
                 oci_option_value(argc, argv, &i, "--cgroup-manager") || oci_option_value(argc, argv, &i, "--rootless") ||
                 strcmp(argv[i], "--systemd-cgroup") == 0 || strcmp(argv[i], "--debug") == 0)
            runc_option = true;
    }
    if (i >= argc)
        return false;
    const char *command = argv[i];
    static const char *const runc_only[] = {"spec", "state", "delete", "list", "features", "pause", "resume", "update",
                                            "checkpoint", "restore", "events", NULL};
    if (runc_option || strv_contains((char **)runc_only, command))
        return true;
    bool create = strcmp(command, "create") == 0 || strcmp(command, "run") == 0;
    if (!create && strcmp(command, "start") && strcmp(command, "kill") && strcmp(command, "exec") && strcmp(command, "ps"))
        return false;
    static const char *const runc_flags[] = {"-b", "--bundle", "--config", "--pid-file", "--console-socket",
                                             "--preserve-fds", "--process", "--keep", NULL};
    size_t operands = 0;
    for (int j = i + 1; j < argc; j++) {
        autofree char *flag = xstrndup(argv[j], strcspn(argv[j], "="));
        if (strv_contains((char **)runc_flags, flag))
            return true;
        if (argv[j][0] == '-')
            continue;
        operands++;
        autofree char *state = xasprintf("%s/%s/status", root ? root : OCI_DEFAULT_ROOT, argv[j]);
        if (!strchr(argv[j], '/') && access(state, F_OK) == 0)
            return true;
    }
    return create && operands == 1 && access("config.json", F_OK) == 0; /* the bundle in the current directory */
}

static int oci_main(int argc, char **argv)
{
    struct cli cli = {.program = argv[0]};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *v;
        if ((v = oci_option_value(argc, argv, &i, "--root"))) {
            oci_opts.root = v;
        } else if ((v = oci_option_value(argc, argv, &i, "--log"))) {
            oci_opts.log = v;
        } else if ((v = oci_option_value(argc, argv, &i, "--log-format"))) {
            oci_opts.log_json = strcmp(v, "json") == 0;
        } else if ((v = oci_option_value(argc, argv, &i, "--cgroup-manager"))) {
            oci_opts.systemd_cgroup = strcmp(v, "systemd") == 0;
        } else if (strcmp(argv[i], "--systemd-cgroup") == 0) {
            oci_opts.systemd_cgroup = true;
        } else if (oci_option_value(argc, argv, &i, "--rootless") || strcmp(argv[i], "--debug") == 0) {
            continue;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
            return cmd_version_full();
        } else {
            fprintf(stderr, "lrun: unknown global option %s\n", argv[i]);
            return 1;
        }
    }
    if (!*oci_opts.root) {
        fprintf(stderr, "lrun: --root must not be empty\n");
        return 1;
    }
    autoerror lrun_error *err = NULL;
    if (i < argc && (strcmp(argv[i], "create") == 0 || strcmp(argv[i], "run") == 0 || strcmp(argv[i], "exec") == 0) &&
        self_binary_protect(&err) < 0)
        return oci_fail(steal_pointer(&err));
    for (const struct command *c = oci_commands; c->name; c++)
        if (i < argc && strcmp(c->name, argv[i]) == 0) {
            cli_getopt_reset();
            return c->fn(&cli, argc - i, argv + i);
        }
    fprintf(stderr, "lrun: unknown command %s\n", argv[i]);
    return 1;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: lrun [--root DIR] COMMAND [OPTIONS] [ARG...]\n\n"
                 "A container runtime in one static binary, on podman's image store layout.\n\n"
                 "Commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nOptions:\n"
                 "  --root DIR  graph root (default $LRUN_ROOT, /var/lib/lrun as root, else\n"
                 "              $XDG_DATA_HOME/lrun or ~/.local/share/lrun)\n"
                 "  --version   print the version\n");
}

/* command_enters_container: run, start and exec (also under "container")
 * put lrun's processes into a container. */
static bool command_enters_container(int argc, char **argv)
{
    static const char *const entering[] = {"run", "start", "exec", NULL};
    const char *name = argc > 1 && strcmp(argv[0], "container") == 0 ? argv[1] : argv[0];
    for (size_t i = 0; entering[i]; i++)
        if (strcmp(name, entering[i]) == 0)
            return true;
    return false;
}

int lrun_main(int argc, char **argv)
{
    if (oci_mode_wanted(argc, argv))
        return oci_main(argc, argv);
    struct cli cli = {.program = argv[0]};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
            cli.root = argv[++i];
        } else if (has_prefix(argv[i], "--root=")) {
            cli.root = argv[i] + 7;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
            return cmd_version_full();
        } else {
            cli_error("unknown flag: %s\nSee 'lrun --help'", argv[i]);
            return EXIT_LRUN;
        }
    }
    if (i >= argc) {
        if (getpid() == 1 || has_suffix(argv[0], "/init")) { /* the kernel runs /init with no arguments */
            char *init_argv[] = {(char *)"init", NULL};
            return cmd_init(&cli, 1, init_argv);
        }
        usage(stderr);
        return EXIT_LRUN;
    }
    if (cli.root && !*cli.root) {
        cli_error("--root must not be empty");
        return EXIT_LRUN;
    }
    if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (command_enters_container(argc - i, argv + i) && cli_protect_binary() < 0)
        return EXIT_LRUN;
    int status = dispatch(&cli, commands, NULL, argc - i, argv + i);
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "Error: write to standard output: %s\n", strerror(errno));
        status = EXIT_LRUN;
    }
    return status;
}

#ifndef LRUN_NO_MAIN
/* process_title_init: where argv and the environment lie, for
 * process_title_set and process_hide_from_container (a program embedding
 * lrun keeps its own). */
static void process_title_init(int argc, char **argv)
{
    extern char **environ;
    if (argc < 1 || !argv[0])
        return;
    process_argv = argv;
    process_title_start = argv[0];
    process_title_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
    size_t n = 0;
    while (environ && environ[n])
        n++;
    if (n) {
        process_env_start = environ[0];
        process_env_len = (size_t)(environ[n - 1] + strlen(environ[n - 1]) - environ[0]);
    }
}

int main(int argc, char **argv)
{
    process_title_init(argc, argv);
    return lrun_main(argc, argv);
}
#endif
