/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "log.h"
#include "manager.h"
#include "sync.h"

/* Where the daemon and the commands start from: the state directory and the configuration,
 * loaded with every problem printed (and, for a reload, kept for the status file). */

int manager_state_dir(const ManagerOptions *o, char **ret) {
        const char *e;
        char *p;

        if (o->state_dir)
                p = strdup(o->state_dir);
        else if (o->user) {
                e = getenv("XDG_STATE_HOME");
                if (e && e[0] == '/') {
                        if (asprintf(&p, "%s/timerbeat", e) < 0)
                                p = NULL;
                } else {
                        e = getenv("HOME");
                        if (isempty(e))
                                return -ENXIO;
                        if (asprintf(&p, "%s/.local/state/timerbeat", e) < 0)
                                p = NULL;
                }
        } else {
                e = getenv("STATE_DIRECTORY");
                p = e && e[0] ? strndup(e, strcspn(e, ":")) : strdup("/var/lib/timerbeat");
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* Provisioned checks (timerbeat sync) without url= get their ping URL from the state
 * directory's mapping; an unreadable mapping leaves them unmonitored, with a warning. */
static int manager_apply_provisioned(const ManagerOptions *o, Config *c) {
        _cleanup_free_ char *dir = NULL;
        int r = manager_state_dir(o, &dir);

        if (r >= 0)
                r = sync_apply_provisioned(c, dir);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot read the provisioned checks (%s/" SYNC_MAP_FILE "): %m; run timerbeat sync",
                                  dir ?: "?");
        return 0;
}

static void print_errors(const Strv *errors) {
        for (size_t i = 0; i < errors->n; i++)
                log_error("%s", errors->items[i]);
}

int manager_load_config(const ManagerOptions *o, Config **ret) {
        return manager_load_config_full(o, NULL, ret, NULL);
}

int manager_load_config_full(const ManagerOptions *o, const Strv *said, Config **ret, Strv *ret_errors) {
        _cleanup_(strv_done) Strv storage = {}, errors = {};
        ConfigSource src = {};
        int r;

        if (o->config_file)
                src.main_file = o->config_file;
        else {
                r = config_source_default(&src, o->user, &storage);
                if (r < 0)
                        return log_error_errno(r, "Cannot find the configuration directory: %m (set HOME or "
                                                  "XDG_CONFIG_HOME)");
        }
        if (o->config_file && access(o->config_file, R_OK) < 0)
                return log_error_errno(errno, "%s: %m; pass an existing, readable file to --config", o->config_file);

        r = config_load(&src, ret, &errors);
        print_errors(&errors);
        for (size_t i = 0; ret_errors && i < errors.n; i++)
                if (strv_push(ret_errors, errors.items[i]) < 0)
                        return log_oom();
        if (r >= 0 && manager_apply_provisioned(o, *ret) < 0) {
                *ret = config_free(*ret);
                r = -ENOMEM;
        }
        if (r >= 0)
                for (size_t i = 0; i < (*ret)->warnings.n; i++)
                        if (!said || !strv_contains(said, (*ret)->warnings.items[i]))
                                log_warning("%s", (*ret)->warnings.items[i]);
        if (r == -ENOMEM)
                return log_oom();
        return r;
}

/* Tells `timerbeat reload` and `list` which configuration runs and how the last reload went. */
