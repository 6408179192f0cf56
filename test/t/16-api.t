#!/bin/bash
# The container API of runtime.h: examples/run-container.c, linked against
# runtime.c built with -DLRUN_NO_MAIN, creates, starts (attached to a file
# of its own, and detached), lists with sizes, kills, waits for and removes
# containers in a real store, which the lrun binary then reads.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start 60
top=$LRUN_TOP

ok_cmd "runtime.c compiles with -DLRUN_NO_MAIN" \
    nice cc -std=gnu11 -Wall -Wextra -Werror -c -DLRUN_NO_MAIN -o "$T/runtime.o" "$top/runtime.c"
ok_cmd "examples/run-container.c links statically against it" \
    cc -std=gnu11 -Wall -Wextra -Werror -static -I"$top" -o "$T/run-container" "$top/examples/run-container.c" \
    "$T/runtime.o" $("$top/build.sh" --libs)

# a name in use: the API's create fails as lrun create does, and changes nothing
lr create --name api-demo --network none "$IMG" true >/dev/null 2>&1
run $TO "$T/run-container" "$R" "$FX/v1.tar"
is "$rc" 125 "a create whose name is taken: the error's exit code (125)"
like "$err" '^run-container: create: .*api-demo' "  and its message names the container"
is "$(lr ps -a --format '{{.Names}}')" "api-demo" "  the store holds only the CLI's container"
lr rm api-demo >/dev/null

run $TO "$T/run-container" "$R" "$FX/v1.tar"
is "$rc" 0 "the example runs to its end"
out=$(sed -E 's/[0-9a-f]{64}/ID/; s/api-demo [0-9a-f]{12}$/api-demo SHORTID/' <<<"$out")
is "$out" "loaded localhost:5000/servidorweb:v1
created api-demo SHORTID
api-demo exited with 3 and wrote:
  > hello from the API
  > to stderr
containers while api-sleeper runs:
  api-sleeper running exit=0 size=12 virtual=2234595 running=yes
  api-demo exited exit=3 size=17 virtual=2234600 running=no
api-sleeper killed: exit 137
kill again: can only kill running containers. ID is in state exited: container state improper (exit code 125)
containers after:
  api-sleeper exited exit=137 size=12 virtual=2234595 running=no
  api-demo exited exit=3 size=17 virtual=2234600 running=no
removed both" \
    "attached output in the caller's file, exit codes, list sizes (ps -s's), kill, wait, remove"
is "$err" "" "  nothing on stderr (the container's stderr went to the caller's file)"
is "$(lr ps -a -q | wc -l)" 0 "the lrun binary sees the store the API left: no containers"
is "$(mounts_below "$R" | wc -l)" 0 "  and no mounts left below the store"

# the API and the CLI are one path: a container the API made is the CLI's
cat >"$T/mk.c" <<'C'
#include <stdio.h>
#include "runtime.h"
int main(int argc, char **argv)
{
    (void)argc;
    char *const cmd[] = {"sh", "-c", "echo $A:$(pwd):$(id -u)", NULL};
    char *const env[] = {"A=b", NULL};
    lrun_container_options o = {.name = "from-api", .command = cmd, .env = env, .workdir = "/tmp",
                                .user = "1000", .network = "none", .memory = "64m", .pids_limit = "50"};
    lrun_error *err = NULL;
    char *id = NULL;
    if (lrun_container_create(argv[1], argv[2], &o, &id, &err) < 0) {
        fprintf(stderr, "%s\n", err->message);
        return err->exit_code;
    }
    printf("%s\n", id);
    return 0;
}
C
ok_cmd "a second embedder compiles" cc -std=gnu11 -Wall -Werror -static -I"$top" -o "$T/mk" "$T/mk.c" "$T/runtime.o" $("$top/build.sh" --libs)
run "$T/mk" "$R" "$IMG"
id=${out%$'\n'}
like "$id" '^[0-9a-f]{64}$' "lrun_container_create prints a container ID"
run L start -a from-api
is "$rc|$out" "0|b:/tmp:1000
" "lrun start -a runs it with the API's env, workdir and user"
is "$(lr inspect --format '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' from-api 2>/dev/null)" "67108864 50" \
    "  and its limits"
run "$T/mk" "$R" localhost/nope:latest
is "$rc" 125 "an image that is not there (and cannot be pulled): 125"
like "$err" "nope" "  the message names it"
done_testing
