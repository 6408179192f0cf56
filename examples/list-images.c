/*
 * list-images — embed lrun: open a store, load an image archive, list the
 * images with their sizes, and report the bytes all layers take.
 *
 *   cc -static -DLRUN_NO_MAIN -I.. list-images.c ../runtime.c $(LIBS) -o list-images
 *   ./list-images STORE-ROOT [ARCHIVE-TO-LOAD]
 *
 * (build.sh's LIBS line lists the static libraries; test/t/15-example.t
 * builds and runs this program.)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

static void print_progress(void *userdata, const char *line)
{
    (void)userdata;
    fprintf(stderr, "  %s\n", line);
}

static int report(lrun_error *err)
{
    fprintf(stderr, "list-images: %s\n", err->message);
    int code = err->exit_code;
    lrun_error_free(err);
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s STORE-ROOT [ARCHIVE]\n", argv[0]);
        return 2;
    }
    lrun_error *err = NULL;
    lrun_store *store = NULL;
    int mode = argc == 3 ? LRUN_STORE_WRITE : LRUN_STORE_READ;
    if (lrun_store_open(argv[1], mode, &store, &err) < 0)
        return report(err);

    if (argc == 3) {
        char **names = NULL;
        if (lrun_image_load(store, argv[2], print_progress, NULL, &names, &err) < 0) {
            lrun_store_close(store);
            return report(err);
        }
        for (size_t i = 0; names[i]; i++)
            printf("loaded %s\n", names[i]);
        lrun_strv_free(names);
    }

    lrun_image_info *images = NULL;
    size_t count = 0;
    if (lrun_image_list(store, &images, &count, &err) < 0) {
        lrun_store_close(store);
        return report(err);
    }
    for (size_t i = 0; i < count; i++)
        printf("%.12s %s %" PRId64 " bytes, %zu layers\n", images[i].id,
               images[i].names && images[i].names[0] ? images[i].names[0] : "<none>", images[i].size,
               images[i].layer_count);
    lrun_image_list_free(images, count);

    int64_t total = 0;
    if (lrun_store_layers_size(store, &total, &err) < 0) {
        lrun_store_close(store);
        return report(err);
    }
    printf("layers: %" PRId64 " bytes\n", total);
    lrun_store_close(store);
    return 0;
}
