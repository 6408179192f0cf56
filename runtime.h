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

/* The graph root lrun uses when none is given: $LRUN_ROOT, else
 * /var/lib/lrun for root, else $XDG_DATA_HOME/lrun or ~/.local/share/lrun.
 * Returns a malloc'd string. */
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

/* ---- the command line ----------------------------------------------------- */

/* Run the lrun command line (argv[0] is the program name); returns the exit
 * status. */
int lrun_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* LRUN_RUNTIME_H */
