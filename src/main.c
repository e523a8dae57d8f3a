/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include "build-config.h"
#include "log.h"
#include "manager.h"

/* Exit statuses, documented in timerbeat(8). */
#define EXIT_USAGE 2
#define EXIT_CONFIG EX_CONFIG /* 78: the configuration is invalid */

static bool arg_user = false;
static const char *arg_config = NULL;
static const char *arg_state_dir = NULL;
static const char *arg_command = "run";

static void help(void) {
        printf("Usage: timerbeat [OPTIONS] [COMMAND]\n"
               "\n"
               "Tells a heartbeat monitor each time a timer's service run succeeds.\n"
               "\n"
               "Commands:\n"
               "  run              Run the daemon (the default)\n"
               "  check            Validate the configuration and print the resolved checks\n"
               "\n"
               "Options:\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "     --user            Watch the user's service manager, use the user's config\n"
               "     --system          Watch the system service manager (the default)\n"
               "  -c --config=FILE     Read only FILE, no drop-in directories\n"
               "     --state-dir=DIR   Keep the outbox and run records in DIR\n"
               "     --log-level=LEVEL err, warning, notice, info (default) or debug\n"
               "\n"
               "See timerbeat(8) and timerbeat.conf(5).\n");
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_USER, ARG_SYSTEM, ARG_LOG_LEVEL, ARG_STATE_DIR };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "user", no_argument, NULL, ARG_USER },
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "config", required_argument, NULL, 'c' },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                {},
        };
        int c, l;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("timerbeat %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_USER:
                        arg_user = true;
                        break;
                case ARG_SYSTEM:
                        arg_user = false;
                        break;
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        l = log_level_from_string(optarg);
                        if (l < 0) {
                                log_error("Unknown log level '%s'; use err, warning, notice, info or debug.", optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(l);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }

        if (optind < argc) {
                arg_command = argv[optind++];
                if (!streq(arg_command, "run") && !streq(arg_command, "check")) {
                        log_error("Unknown command '%s'; see timerbeat --help.", arg_command);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                log_error("Too many arguments; see timerbeat --help.");
                return -EINVAL;
        }
        return 1;
}

static int run_check(const ManagerOptions *o) {
        _cleanup_(config_freep) Config *c = NULL;
        size_t enabled = 0;
        int r;

        r = manager_load_config(o, &c);
        if (r == -EINVAL) {
                log_error("Configuration is invalid; fix the lines above.");
                return EXIT_CONFIG;
        }
        if (r < 0)
                return EXIT_FAILURE;

        for (size_t i = 0; i < c->files.n; i++)
                printf("# %s\n", c->files.items[i]);
        if (c->files.n == 0)
                printf("# no configuration file found\n");
        for (size_t i = 0; i < c->n_checks; i++) {
                const Check *k = c->checks[i];
                _cleanup_free_ char *masked = url_mask(k->url);

                if (!k->enabled) {
                        printf("[%s] disabled (%s:%u)\n", k->name, k->file, k->line);
                        continue;
                }
                enabled++;
                printf("[%s] %s %s%s%s (%s:%u)\n", k->name, http_method_to_string(k->method), strempty(masked),
                       (k->source ?: c->source) ? " origin=" : "", strempty(k->source ?: c->source), k->url_file,
                       k->url_line);
        }
        printf("%zu check%s OK.\n", enabled, enabled == 1 ? "" : "s");
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ManagerOptions o;
        int r;

        log_setup(LOG_TARGET_AUTO);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        o = (ManagerOptions) { .user = arg_user, .config_file = arg_config, .state_dir = arg_state_dir };

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("Failed to initialize libcurl.");
                return EXIT_FAILURE;
        }

        if (streq(arg_command, "check"))
                r = run_check(&o);
        else {
                r = manager_new(&m, &o);
                if (r == -EINVAL)
                        r = EXIT_CONFIG;
                else if (r < 0)
                        r = EXIT_FAILURE;
                else
                        r = manager_run(m);
                if (r < 0)
                        r = EXIT_FAILURE;
                m = manager_free(m);
        }

        curl_global_cleanup();
        return r;
}
