/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without libFuzzer (any compiler, the default build): runs a target once on each file named on
 * the command line, or on each file in each directory named, so every seed and every input that
 * once crashed stays a regression test in every build, sanitizer and valgrind runs included. */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util.h"

#define INPUT_MAX (16U * 1024U * 1024U)

static int run_file(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r;

        r = read_full_file(path, INPUT_MAX, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-r));
                return r;
        }
        fprintf(stderr, "%s\n", path);
        (void) LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned n = 0;
        int r;

        for (int i = 1; i < argc; i++) {
                _cleanup_(strv_done) Strv files = {};
                struct stat st;

                if (argv[i][0] == '-') /* libFuzzer options, meaningless here */
                        continue;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return EXIT_FAILURE;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_(closedirp_) DIR *d = opendir(argv[i]);
                        struct dirent *de;

                        if (!d) {
                                fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                                return EXIT_FAILURE;
                        }
                        while ((de = readdir(d))) {
                                _cleanup_free_ char *p = NULL;

                                if (de->d_name[0] == '.' || asprintf(&p, "%s/%s", argv[i], de->d_name) < 0 ||
                                    stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                                        continue;
                                if (strv_push(&files, p) < 0)
                                        return EXIT_FAILURE;
                        }
                        strv_sort(&files);
                } else if (strv_push(&files, argv[i]) < 0)
                        return EXIT_FAILURE;

                for (size_t j = 0; j < files.n; j++) {
                        r = run_file(files.items[j]);
                        if (r < 0)
                                return EXIT_FAILURE;
                        n++;
                }
        }
        if (n == 0) {
                fprintf(stderr, "no inputs\n");
                return EXIT_FAILURE;
        }
        printf("%u inputs OK\n", n);
        return EXIT_SUCCESS;
}
