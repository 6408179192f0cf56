/*
 * api-run — the API's side of test/bench/embedded: create a container of
 * IMAGE running `true` (--network none, removed when it exits), start it
 * attached to our stdio and return its exit status: what `lrun run --rm
 * --network none IMAGE true` does, through runtime.h.
 *
 *   api-run STORE-ROOT IMAGE
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "runtime.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s STORE-ROOT IMAGE\n", argv[0]);
        return 2;
    }
    char *const command[] = {"true", NULL};
    lrun_container_options options = {.command = command, .network = "none", .remove = 1};
    lrun_error *err = NULL;
    char *id = NULL;
    int stdio[3] = {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}, exit_code = -1;
    if (lrun_container_create(argv[1], argv[2], &options, &id, &err) < 0 ||
        lrun_container_start(argv[1], id, stdio, &exit_code, &err) < 0) {
        fprintf(stderr, "api-run: %s\n", err->message);
        return err->exit_code;
    }
    free(id);
    return exit_code;
}
