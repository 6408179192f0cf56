/*
 * fuzz.c — libFuzzer targets for the parsers of lrun that take untrusted
 * input (see test/fuzz/run).  runtime.c is included whole so its static
 * functions are reachable; FUZZ_TARGET (environment) picks the parser:
 *
 *   reference  image names (docker's reference grammar), quoting
 *   time       RFC 3339 time stamps
 *   url        URLs and Location headers resolved against a base
 *   http       HTTP/1.1 response heads and bodies (chunked, trailers, 1xx)
 *   challenge  WWW-Authenticate parameters
 *   manifest   manifests and indexes: media type, platform pick, layers
 *   config     image configs: rootfs.diff_ids, chain IDs
 *   seccomp    seccomp profiles (docker's JSON) into a libseccomp filter
 *   tar        layer tars (gzip/zstd/plain) extracted into a scratch dir
 *   dns        DNS replies
 */
#define LRUN_NO_MAIN 1
#include "../../runtime.c"

static const char *target;
static int scratch_fd = -1;
static char scratch_dir[] = "/dev/shm/lrun-fuzz-XXXXXX"; /* memory: a layer's writes cost no disk */

static void scratch_remove(void) { remove_tree_at(AT_FDCWD, scratch_dir, NULL); }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    target = getenv("FUZZ_TARGET");
    if (!target) {
        fprintf(stderr, "fuzz: set FUZZ_TARGET (reference time url http challenge manifest config seccomp tar dns template)\n");
        exit(2);
    }
    if (strcmp(target, "tar") == 0) {
        if (!mkdtemp(scratch_dir) && !mkdtemp(memcpy(scratch_dir, "/tmp/lrun-fuzz-XXXXXX", 22)))
            exit(2);
        if ((scratch_fd = open(scratch_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            exit(2);
        atexit(scratch_remove);
    }
    return 0;
}

static char *text_of(const uint8_t *data, size_t size) { return xstrndup((const char *)data, size); }

static void fuzz_reference(const char *text)
{
    autoreference struct reference r;
    autoerror lrun_error *err = NULL;
    autofree char *quoted = text_quote(text);
    if (reference_parse(text, &r, &err) < 0)
        return;
    /* what passed normalizes to a name that passes again, the same */
    autofree char *full = reference_string(&r);
    autoreference struct reference again;
    if (reference_parse(full, &again, &err) < 0)
        abort();
    autofree char *full_again = reference_string(&again);
    if (strcmp(full, full_again) != 0)
        abort();
    for (const char *c = full; *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            abort();
}

static void fuzz_url(const char *text)
{
    autoerror lrun_error *err = NULL;
    autourl struct url base = {0};
    if (url_parse("https://registry.example:5000/v2/x/blobs/sha256:0", &base, &err) < 0)
        abort();
    autofree char *next = url_resolve(&base, text);
    autourl struct url u = {0};
    if (url_parse(next, &u, &err) == 0) {
        autofree char *back = url_string(&u);
        for (const char *c = back; *c; c++)
            if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
                abort(); /* would go into a request line */
    }
}

static void fuzz_http(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    int buffer = 256 * 1024;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    if (write_all(sv[1], data, size) < 0)
        abort();
    close(sv[1]);
    struct connection *c = xcalloc(1, sizeof *c);
    c->fd = sv[0];
    autoerror lrun_error *err = NULL;
    struct http_response r = {0};
    if (http_read_head(c, size && data[0] & 1 ? "HEAD" : "GET", &r, &err) == 0) {
        autobuf struct buf body = {0};
        error_free_pointer(&err);
        http_body_read_all(&r, &body, 1 << 20, &err);
        http_header(&r, "Location");
    }
    http_response_clear(&r);
    close(c->fd);
    free(c);
}

static void fuzz_challenge(const char *text)
{
    static const char *const keys[] = {"realm", "service", "scope", "error"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        free(challenge_param(text, keys[i]));
}

static void fuzz_manifest(const char *text)
{
    autoerror lrun_error *err = NULL;
    autojson yajl_val doc = json_parse(text, "fuzz", &err);
    if (!doc)
        return;
    manifest_media_type(doc, NULL);
    struct platform want = {(char *)"linux", (char *)"amd64", (char *)""};
    index_pick(doc, &want);
    struct registry reg = {.domain = (char *)"registry.example"};
    struct image_plan p = {0};
    pull_plan_layers(&reg, "x", doc, &p, &err);
    image_plan_release(&p);
}

static void fuzz_config(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    autoerror lrun_error *err = NULL;
    struct image_plan p = {0};
    p.n_layers = data[0] % 8;
    p.layers = xcalloc(p.n_layers + 1, sizeof *p.layers);
    buf_add(&p.config, data + 1, size - 1);
    buf_add(&p.config, "", 1);
    p.config.len--;
    image_plan_finish(&p, &err);
    image_plan_release(&p);
}

static void fuzz_seccomp(const char *text)
{
    autoerror lrun_error *err = NULL;
    autojson yajl_val doc = json_parse(text, "fuzz", &err);
    if (!doc)
        return;
    scmp_filter_ctx ctx = seccomp_profile_filter(doc, ~0ull, &err);
    if (ctx)
        seccomp_release(ctx);
}

static void fuzz_tar(const uint8_t *data, size_t size)
{
    if (mkdirat(scratch_fd, "d", 0755) < 0 && errno != EEXIST)
        abort();
    int diff_fd = openat(scratch_fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (diff_fd < 0)
        abort();
    struct memory_source mem = {(const char *)data, size, 0};
    struct byte_source source = {memory_source_read, &mem};
    struct id_set uids = {0}, gids = {0};
    struct tar_split split = {0};
    struct layer_digests d;
    autoerror lrun_error *err = NULL;
    layer_extract_stream(&source, diff_fd, "fuzz", &uids, &gids, &split, &d, &err);
    buf_free(&split.pending);
    free(uids.ids);
    free(gids.ids);
    close(diff_fd);
    autoerror lrun_error *rm_err = NULL;
    if (remove_tree_at(scratch_fd, "d", &rm_err) < 0)
        abort(); /* whatever a layer made, removal takes it */
}

/* a Go template (--format) against a record shaped like podman's inspect */
static void fuzz_template(const char *text)
{
    static const char *const record =
        "{\"Id\":\"0123abcd\",\"Names\":[\"web\",\"db\"],\"State\":{\"Running\":true,\"ExitCode\":0,"
        "\"Pid\":42},\"Config\":{\"Labels\":{\"a\":\"1\",\"b c\":\"\"},\"Env\":[\"A=1\",\"B=\"]},"
        "\"Size\":1234567,\"Ratio\":0.25,\"Null\":null,\"Empty\":[],\"Ports\":[{\"hostPort\":80}]}";
    autoerror lrun_error *err = NULL;
    autojson yajl_val obj = json_parse(record, "fuzz", &err);
    autobuf struct buf out = {0};
    if (obj)
        template_render(text, obj, &out, &err);
}

static void fuzz_dns(const uint8_t *data, size_t size)
{
    struct addresses out = {0};
    uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
    dns_reply_read(data, size, id, 53, &out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    autofree char *text = text_of(data, size);
    if (strcmp(target, "reference") == 0)
        fuzz_reference(text);
    else if (strcmp(target, "time") == 0)
        time_parse_rfc3339(text);
    else if (strcmp(target, "url") == 0)
        fuzz_url(text);
    else if (strcmp(target, "http") == 0)
        fuzz_http(data, size);
    else if (strcmp(target, "challenge") == 0)
        fuzz_challenge(text);
    else if (strcmp(target, "manifest") == 0)
        fuzz_manifest(text);
    else if (strcmp(target, "config") == 0)
        fuzz_config(data, size);
    else if (strcmp(target, "seccomp") == 0)
        fuzz_seccomp(text);
    else if (strcmp(target, "tar") == 0)
        fuzz_tar(data, size);
    else if (strcmp(target, "dns") == 0)
        fuzz_dns(data, size);
    else if (strcmp(target, "template") == 0)
        fuzz_template(text);
    else
        abort();
    return 0;
}
