/*
 * runtime.h — the public C API of lrun.
 *
 * Compile runtime.c with -DLRUN_NO_MAIN and link it (with the same static
 * libraries as ./lrun: see build.sh) to embed lrun in another program.
 *
 * Conventions, the same for every function here:
 *   - A function that can fail returns 0 on success and -1 on failure, and
 *     then sets *err to a newly allocated lrun_error (free it with
 *     lrun_error_free).  Passing err == NULL is allowed: the error is dropped.
 *   - Strings returned to the caller are malloc'd and owned by the caller
 *     unless a comment says otherwise.
 *   - A store is opened for reading or for writing; the open takes the
 *     store's fcntl locks (the same lock files podman uses) and holds them
 *     until lrun_store_close.  Mutating calls need LRUN_STORE_WRITE.
 */
#ifndef LRUN_RUNTIME_H
#define LRUN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LRUN_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

typedef struct lrun_error {
    int errnum;    /* errno of the underlying failure, or 0 */
    int exit_code; /* the exit status the CLI uses for it (125, 1, 2, ...) */
    char *message; /* "context: detail[: strerror]" */
} lrun_error;

void lrun_error_free(lrun_error *err);

/* ---- the store ----------------------------------------------------------- */

typedef struct lrun_store lrun_store;

enum lrun_store_mode {
    LRUN_STORE_READ = 0,  /* shared locks: many readers at once */
    LRUN_STORE_WRITE = 1, /* exclusive locks; also cleans up after crashes */
};

/* The graph root lrun uses when none is given: $LRUN_ROOT, else the
 * graphroot of storage.conf ($CONTAINERS_STORAGE_CONF, the user's, the
 * system's, as podman reads it), else /var/lib/lrun for root, else
 * $XDG_DATA_HOME/lrun or ~/.local/share/lrun.  Returns a malloc'd string,
 * or NULL when storage.conf cannot be read (lrun_store_open says why). */
char *lrun_default_root(void);

/* Open (creating it if needed) the store at root (NULL: the default). */
int lrun_store_open(const char *root, int mode, lrun_store **store, lrun_error **err);
void lrun_store_close(lrun_store *store);

/* ---- images -------------------------------------------------------------- */

typedef struct lrun_image_info {
    char *id;          /* 64 hex characters */
    char **names;      /* NULL-terminated, fully qualified (docker.io/library/x:tag) */
    char *digest;      /* manifest digest, "sha256:..." or NULL */
    int64_t created;   /* seconds since the epoch (from the image config) */
    int64_t size;      /* bytes: sum of the layers' diff-size plus metadata */
    size_t layer_count;
    size_t containers; /* containers using the image */
} lrun_image_info;

int lrun_image_list(lrun_store *store, lrun_image_info **images, size_t *count, lrun_error **err);
void lrun_image_list_free(lrun_image_info *images, size_t count);

/* Called with each progress line of a load ("Copying blob ... done"). */
typedef void (*lrun_progress_fn)(void *userdata, const char *line);

/* Load a docker-archive (tar) or an OCI image layout (directory or tar).
 * On success *names is a NULL-terminated list of the loaded image names
 * (or IDs for untagged images). */
int lrun_image_load(lrun_store *store, const char *path, lrun_progress_fn progress, void *userdata,
                    char ***names, lrun_error **err);

/* Write IMAGE as a docker-archive tar to path. */
int lrun_image_save(lrun_store *store, const char *image, const char *path, lrun_error **err);

/* Add the name new_name to the image that image names. */
int lrun_image_tag(lrun_store *store, const char *image, const char *new_name, lrun_error **err);

/* Remove a name (if image is a name that other names share the image with)
 * or the whole image, with its layers that no other image or container
 * uses.  Refused with exit_code 2 when a container uses the image, unless
 * force.  *untagged / *deleted list what was done (NULL-terminated). */
int lrun_image_remove(lrun_store *store, const char *image, int force, char ***untagged, char ***deleted,
                      lrun_error **err);

/* Resolve a name, short name or ID prefix to the full image ID. */
int lrun_image_resolve(lrun_store *store, const char *image, char **id, lrun_error **err);

/* Bytes of all image layers, each counted once, and of the layers only
 * one image uses. */
int lrun_store_layers_size(lrun_store *store, int64_t *total, lrun_error **err);

/* ---- registries ------------------------------------------------------------ */

/* How to pull.  Zero-initialise and set what you need: every field has a
 * default when 0 / NULL. */
typedef struct lrun_pull_options {
    const char *platform;  /* "os/arch[/variant]"; NULL: linux/<this machine> */
    const char *creds;     /* "user:password"; NULL: the auth files (see login) */
    const char *auth_file; /* NULL: $REGISTRY_AUTH_FILE, then podman's and docker's */
    const char *cert_dir;  /* CAs (*.crt) and client certs; NULL: certs.d/<host:port> */
    int tls_verify;        /* 0: verify, except for localhost registries, which
                              may also speak plain http (docker's default);
                              1: always verify; -1: never verify, allow http */
    int max_parallel;      /* layer downloads at once; 0: 3 */
    lrun_progress_fn progress; /* podman's lines ("Copying blob ... done") */
    void *userdata;
    int progress_fd;       /* > 0: also draw progress bars on this terminal fd */
} lrun_pull_options;

/* Pull NAME (docker's rules: "busybox" is docker.io/library/busybox:latest)
 * into the store; *image_id is the pulled image's ID.  Layers already in the
 * store are not downloaded.  On failure the store is left as it was. */
int lrun_image_pull(lrun_store *store, const char *name, const lrun_pull_options *options, char **image_id,
                    lrun_error **err);

/* Check user/password against the registry (host[:port], "docker.io") and
 * store them in the auth file (options->auth_file, $REGISTRY_AUTH_FILE, or
 * ${XDG_RUNTIME_DIR}/containers/auth.json as podman does). */
int lrun_login(const char *registry, const char *user, const char *password, const lrun_pull_options *options,
               lrun_error **err);

/* Forget the stored credentials of registry (NULL: of every registry). */
int lrun_logout(const char *registry, const lrun_pull_options *options, lrun_error **err);

/* Free a NULL-terminated list of strings. */
void lrun_strv_free(char **list);

/* ---- containers ------------------------------------------------------------ */
/*
 * The container calls take the store's root (NULL: lrun_default_root()),
 * not an lrun_store: each opens the store for as long as one step needs it,
 * as the lrun commands do (they are the same functions).  Do not hold an
 * lrun_store of the same root open across them: the store's locks are
 * fcntl locks, which belong to the process, so the inner close would drop
 * the outer's locks.
 *
 * Which calls fork: lrun_container_start forks the container's processes
 * (attached: the caller waits for them; detached: a monitor process, a copy
 * of the calling program, that outlives the call and records the exit),
 * lrun_container_exec forks the exec'd process; create may pull (threads).
 * A child of a fork only execs or runs lrun's own code, so a multi-threaded
 * caller is safe as long as no other thread holds a lock lrun's child
 * needs: malloc's (glibc resets it in the child) and stdio's.
 * Thread safety: calls on different roots may run in different threads;
 * calls on one root serialise on its locks.  An attached start blocks
 * SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH in the calling
 * thread while it waits (it forwards them to the container) and restores
 * the mask after; it also sets SIGPIPE to SIG_IGN for the process.
 */

/* What a new container is.  Zero-initialise and set what you need; every
 * field has a default when 0 / NULL, which is that of `lrun run` with no
 * flags.  Each field is parsed exactly as the run flag named beside it. */
typedef struct lrun_container_options {
    const char *name;        /* --name; NULL: a generated one */
    char *const *command;    /* NULL-terminated; NULL: the image's Cmd */
    char *const *env;        /* -e KEY=VALUE (over the image's), NULL-terminated */
    const char *workdir;     /* -w */
    const char *user;        /* -u USER[:GROUP] */
    const char *hostname;    /* -h */
    const char *network;     /* --network: bridge (default), none, host, a network's name */
    char *const *volumes;    /* -v HOST-DIR:CTR[:ro] / VOLUME:CTR / CTR, NULL-terminated */
    const char *memory;      /* -m: "64m" */
    const char *pids_limit;  /* --pids-limit: "100" */
    const char *cpus;        /* --cpus: "1.5" */
    const char *pull;        /* --pull: missing (default), always, never, newer */
    const char *platform;    /* --platform os/arch[/variant] (for a pull) */
    int interactive;         /* -i: the container's stdin is the caller's (start's stdio[0]) */
    int remove;              /* --rm: removed when it exits */
    int read_only;           /* --read-only */
} lrun_container_options;

/* Create a container from image (pulled if it is missing, unless pull is
 * "never"); *id is its 64-hex ID.  Like `lrun create`. */
int lrun_container_create(const char *root, const char *image, const lrun_container_options *options, char **id,
                          lrun_error **err);

/* Start a created (or exited) container (a name, an ID or its prefix).
 * With stdio (the caller's fds for the container's stdin, stdout and
 * stderr; stdin is read only if created interactive) it runs attached: the
 * call returns when the container exits, with its status in *exit_code
 * (as `lrun start -a`).  With stdio NULL it runs detached under a monitor
 * and the call returns once it runs (exit_code may be NULL). */
int lrun_container_start(const char *root, const char *container, const int *stdio, int *exit_code, lrun_error **err);

/* Wait until the container has exited; its exit status in *exit_code. */
int lrun_container_wait(const char *root, const char *container, int *exit_code, lrun_error **err);

/* Send sig to the container's first process (it must be running). */
int lrun_container_kill(const char *root, const char *container, int sig, lrun_error **err);

/* Remove the container; a running one only with force (it is killed). */
int lrun_container_remove(const char *root, const char *container, int force, lrun_error **err);

/* Run argv (NULL-terminated) in the running container with the calling
 * process's stdin, stdout and stderr; its exit status in *exit_code. */
int lrun_container_exec(const char *root, const char *container, char *const *argv, int *exit_code,
                        lrun_error **err);

typedef struct lrun_container_info {
    char *id;              /* 64 hex characters */
    char *name;
    char *image;           /* as it was named at create */
    char *image_id;
    char *status;          /* "created", "running", "paused" or "exited" */
    int exit_code;         /* of the last run, when exited */
    int64_t pid;           /* its first process (host pid), when running */
    int64_t created;       /* seconds since the epoch */
    int64_t size;          /* bytes in the container's layer (ps -s's first number) */
    int64_t virtual_size;  /* that plus the image (ps -s's "virtual") */
} lrun_container_info;

/* Every container, newest first (ps -a -s). */
int lrun_container_list(const char *root, lrun_container_info **containers, size_t *count, lrun_error **err);
void lrun_container_list_free(lrun_container_info *containers, size_t count);

/* ---- the command line ----------------------------------------------------- */

/* Run the lrun command line (argv[0] is the program name); returns the exit
 * status. */
int lrun_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* LRUN_RUNTIME_H */
