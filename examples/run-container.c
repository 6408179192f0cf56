/*
 * run-container — embed lrun: load an image archive, run a container from
 * it with its output in a file of ours, list the containers with their
 * sizes, then run one in the background, kill it, wait for it, and remove
 * both.
 *
 *   cc -static -DLRUN_NO_MAIN -I.. run-container.c ../runtime.c $(LIBS) -o run-container
 *   ./run-container STORE-ROOT ARCHIVE
 *
 * (build.sh --libs prints LIBS; test/t/16-api.t builds and runs this.)
 * Runs containers, so it needs root, as lrun run does.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

static int report(const char *what, lrun_error *err)
{
    fprintf(stderr, "run-container: %s: %s\n", what, err->message);
    int code = err->exit_code;
    lrun_error_free(err);
    return code;
}

static int load(const char *root, const char *archive, char **image)
{
    lrun_error *err = NULL;
    lrun_store *store = NULL;
    char **names = NULL;
    if (lrun_store_open(root, LRUN_STORE_WRITE, &store, &err) < 0)
        return report("open the store", err);
    int rc = lrun_image_load(store, archive, NULL, NULL, &names, &err);
    lrun_store_close(store); /* the container calls open the store themselves */
    if (rc < 0)
        return report("load", err);
    *image = strdup(names[0]);
    lrun_strv_free(names);
    return 0;
}

static int list(const char *root)
{
    lrun_error *err = NULL;
    lrun_container_info *containers = NULL;
    size_t count = 0;
    if (lrun_container_list(root, &containers, &count, &err) < 0)
        return report("list", err);
    for (size_t i = 0; i < count; i++)
        printf("  %s %s exit=%d size=%" PRId64 " virtual=%" PRId64 " running=%s\n", containers[i].name,
               containers[i].status, containers[i].exit_code, containers[i].size, containers[i].virtual_size,
               containers[i].pid > 0 ? "yes" : "no");
    lrun_container_list_free(containers, count);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s STORE-ROOT ARCHIVE\n", argv[0]);
        return 2;
    }
    const char *root = argv[1];
    lrun_error *err = NULL;
    char *image = NULL;
    int rc = load(root, argv[2], &image);
    if (rc)
        return rc;
    printf("loaded %s\n", image);

    /* 1. attached: its stdout and stderr go to a file of ours */
    char *const command[] = {"sh", "-c", "echo hello from $GREETING; echo to stderr >&2; "
                                         "echo data > /tmp/written; exit 3", NULL};
    char *const env[] = {"GREETING=the API", NULL};
    lrun_container_options options = {.name = "api-demo", .command = command, .env = env, .network = "none"};
    char *id = NULL;
    if (lrun_container_create(root, image, &options, &id, &err) < 0)
        return report("create", err);
    printf("created api-demo %.12s\n", id);
    FILE *out = tmpfile();
    int stdio[3] = {STDIN_FILENO, fileno(out), fileno(out)};
    int exit_code = -1;
    if (lrun_container_start(root, "api-demo", stdio, &exit_code, &err) < 0)
        return report("start", err);
    printf("api-demo exited with %d and wrote:\n", exit_code);
    rewind(out);
    char line[256];
    while (fgets(line, sizeof line, out))
        printf("  > %s", line);
    fclose(out);

    /* 2. detached: it runs until we kill it */
    char *const sleeper[] = {"sleep", "600", NULL};
    lrun_container_options background = {.name = "api-sleeper", .command = sleeper, .network = "none"};
    char *sleeper_id = NULL;
    if (lrun_container_create(root, image, &background, &sleeper_id, &err) < 0)
        return report("create", err);
    if (lrun_container_start(root, sleeper_id, NULL, NULL, &err) < 0)
        return report("start", err);
    printf("containers while api-sleeper runs:\n");
    if ((rc = list(root)))
        return rc;
    if (lrun_container_kill(root, "api-sleeper", SIGKILL, &err) < 0)
        return report("kill", err);
    if (lrun_container_wait(root, "api-sleeper", &exit_code, &err) < 0)
        return report("wait", err);
    printf("api-sleeper killed: exit %d\n", exit_code);
    if (lrun_container_kill(root, "api-sleeper", SIGKILL, &err) < 0) {
        printf("kill again: %s (exit code %d)\n", err->message, err->exit_code);
        lrun_error_free(err), err = NULL;
    }
    printf("containers after:\n");
    if ((rc = list(root)))
        return rc;

    /* 3. remove both */
    if (lrun_container_remove(root, "api-demo", 0, &err) < 0 || lrun_container_remove(root, sleeper_id, 0, &err) < 0)
        return report("remove", err);
    printf("removed both\n");
    if ((rc = list(root)))
        return rc;
    free(id);
    free(sleeper_id);
    free(image);
    return 0;
}
