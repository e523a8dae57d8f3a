/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include "build-config.h"
#include "cli.h"
#include "log.h"
#include "manager.h"
#include "sync.h"

/* Exit statuses, documented in timerbeat(8). */
#define EXIT_USAGE 2
#define EXIT_CONFIG EX_CONFIG /* 78: the configuration is invalid */

static bool arg_user = false;
static const char *arg_config = NULL;
static const char *arg_state_dir = NULL;
static const char *arg_command = "run";
static const char *arg_unit = NULL;
static const char *arg_event = "success";
static bool arg_json = false;
static bool arg_dry_run = false;
static bool arg_show_secrets = false;
static int arg_exit_code = 1;
static bool arg_last_run = false;
static bool arg_prune = false;
static bool arg_background = false; /* sync run by the daemon (autosync.c): not in --help */
static char **arg_units = NULL;     /* sync: the units named, NULL-terminated (into argv) */

static void help(void) {
        printf("Usage: timerbeat [OPTIONS] [COMMAND]\n"
               "\n"
               "Tells a heartbeat monitor each time a timer's service run succeeds.\n"
               "\n"
               "Commands:\n"
               "  run              Run the daemon (the default)\n"
               "  check            Validate the configuration and annotations, print each check and its origin\n"
               "  list             Every timer, its check (or none), last run and last ping\n"
               "  ping UNIT        Send UNIT's heartbeat request now and print the answer\n"
               "  reload           Make the daemon reload its configuration; fails when it is refused\n"
               "  sync [UNIT...]   Create or update the monitor's checks from the timers (provision =)\n"
               "\n"
               "Options:\n"
               "  -h --help            Show this help\n"
               "     --version         Show the version\n"
               "     --user            Watch the user's service manager, use the user's config\n"
               "     --system          Watch the system service manager (the default)\n"
               "  -c --config=FILE     Read only FILE, no drop-in directories\n"
               "     --state-dir=DIR   Keep the outbox and run records in DIR\n"
               "     --log-level=LEVEL err, warning, notice, info (default) or debug\n"
               "     --json            list: print JSON\n"
               "     --event=EVENT     ping: success (the default), start, failure or log\n"
               "     --exit-code=N     ping --event failure: the exit code to report (default 1)\n"
               "     --last-run        ping: the request of the unit's last run, as the daemon builds it\n"
               "     --dry-run         ping: print the request instead of sending it; sync: change nothing\n"
               "     --prune           sync: delete the checks of this host whose timer is gone\n"
               "     --show-secrets    ping --dry-run: print the URL whole\n"
               "\n"
               "See timerbeat(8) and timerbeat.conf(5).\n");
}

/* The command and its arguments, after the options. */
static int parse_command(int argc, char *argv[]) {
        if (optind < argc) {
                arg_command = argv[optind++];
                if (!streq(arg_command, "run") && !streq(arg_command, "check") && !streq(arg_command, "list") &&
                    !streq(arg_command, "ping") && !streq(arg_command, "reload") && !streq(arg_command, "sync")) {
                        log_error("Unknown command '%s'; see timerbeat --help.", arg_command);
                        return -EINVAL;
                }
        }
        if (streq(arg_command, "ping")) {
                if (optind >= argc) {
                        log_error("ping needs a unit: timerbeat ping backup.timer");
                        return -EINVAL;
                }
                arg_unit = argv[optind++];
                if (!unit_name_is_valid(arg_unit)) {
                        log_error("'%s' is not a timer or service name.", arg_unit);
                        return -EINVAL;
                }
        }
        if (streq(arg_command, "sync")) {
                for (int i = optind; i < argc; i++)
                        if (!unit_name_is_valid(argv[i]) || !endswith(argv[i], ".timer")) {
                                log_error("sync: '%s' is not a timer name; write e.g. backup.timer", argv[i]);
                                return -EINVAL;
                        }
                arg_units = argv + optind;
                optind = argc;
        }
        if ((arg_prune || arg_background) && !streq(arg_command, "sync")) {
                log_error("--%s only goes with sync.", arg_prune ? "prune" : "background");
                return -EINVAL;
        }
        if (arg_show_secrets && !arg_dry_run) {
                log_error("--show-secrets only goes with ping --dry-run.");
                return -EINVAL;
        }
        if (optind < argc) {
                log_error("Too many arguments; see timerbeat --help.");
                return -EINVAL;
        }
        return 1;
}

static int parse_exit_code(const char *s) {
        unsigned u;

        if (parse_unsigned(s, 0, 255, &u) < 0) {
                log_error("--exit-code=%s: expected a number from 0 to 255.", s);
                return -EINVAL;
        }
        arg_exit_code = (int) u;
        return 0;
}

static int parse_log_level(const char *s) {
        int l = log_level_from_string(s);

        if (l < 0) {
                log_error("Unknown log level '%s'; use err, warning, notice, info or debug.", s);
                return -EINVAL;
        }
        log_set_max_level(l);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_USER,
                ARG_SYSTEM,
                ARG_LOG_LEVEL,
                ARG_STATE_DIR,
                ARG_JSON,
                ARG_EVENT,
                ARG_DRY_RUN,
                ARG_SHOW_SECRETS,
                ARG_EXIT_CODE,
                ARG_LAST_RUN,
                ARG_PRUNE,
                ARG_BACKGROUND,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "user", no_argument, NULL, ARG_USER },
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "config", required_argument, NULL, 'c' },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "json", no_argument, NULL, ARG_JSON },
                { "event", required_argument, NULL, ARG_EVENT },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "show-secrets", no_argument, NULL, ARG_SHOW_SECRETS },
                { "exit-code", required_argument, NULL, ARG_EXIT_CODE },
                { "last-run", no_argument, NULL, ARG_LAST_RUN },
                { "prune", no_argument, NULL, ARG_PRUNE },
                { "background", no_argument, NULL, ARG_BACKGROUND },
                {},
        };
        int c;

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
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_EVENT:
                        arg_event = optarg;
                        break;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case ARG_SHOW_SECRETS:
                        arg_show_secrets = true;
                        break;
                case ARG_LAST_RUN:
                        arg_last_run = true;
                        break;
                case ARG_PRUNE:
                        arg_prune = true;
                        break;
                case ARG_BACKGROUND:
                        arg_background = true;
                        break;
                case ARG_EXIT_CODE:
                        if (parse_exit_code(optarg) < 0)
                                return -EINVAL;
                        break;
                case ARG_LOG_LEVEL:
                        if (parse_log_level(optarg) < 0)
                                return -EINVAL;
                        break;
                default: /* '?': getopt said what is wrong */
                        return -EINVAL;
                }

        return parse_command(argc, argv);
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

        CliOptions co = {
                .manager = &o,
                .json = arg_json,
                .dry_run = arg_dry_run,
                .show_secrets = arg_show_secrets,
                .event = arg_event,
                .exit_code = arg_exit_code,
                .last_run = arg_last_run,
                .unit = arg_unit,
        };

        if (streq(arg_command, "check"))
                r = cli_check(&co);
        else if (streq(arg_command, "list"))
                r = cli_list(&co);
        else if (streq(arg_command, "ping"))
                r = cli_ping(&co);
        else if (streq(arg_command, "reload"))
                r = cli_reload(&co);
        else if (streq(arg_command, "sync"))
                r = cli_sync(&(SyncOptions) {
                        .cli = &co, .prune = arg_prune, .units = arg_units, .background = arg_background });
        else {
                Config *config = NULL;

                /* 78 (EX_CONFIG) means "fix the configuration": systemd does not restart on it
                 * (RestartPreventExitStatus=), so only a refused configuration exits with it. */
                r = manager_load_config(&o, &config);
                if (r == -EINVAL)
                        r = EXIT_CONFIG;
                else if (r < 0)
                        r = EXIT_FAILURE;
                else if (manager_new(&m, &o, config) < 0)
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
