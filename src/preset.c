/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <sys/wait.h>

#include "preset.h"

const char *event_to_string(Event e) {
        static const char *const table[_EVENT_MAX] = {
                [EVENT_SUCCESS] = "success",
                [EVENT_START] = "start",
                [EVENT_FAILURE] = "failure",
                [EVENT_LOG] = "log",
        };
        return e < _EVENT_MAX ? table[e] : NULL;
}

/* Endpoints as each service documents them; {url} is what the user configured. */
static const Preset presets[] = {
        {
                .name = "generic",
                .templates = { [EVENT_SUCCESS] = "{url}" },
        },
        {
                /* hc-ping.com and self-hosted: /start, /<exit-status>, /log; ?rid= pairs
                 * start and finish and keeps overlapping runs apart. */
                .name = "healthchecks",
                .templates = {
                        [EVENT_SUCCESS] = "{url}?rid={rid}",
                        [EVENT_START] = "{url}/start?rid={rid}",
                        [EVENT_FAILURE] = "{url}/{exit_code}?rid={rid}",
                        [EVENT_LOG] = "{url}/log?rid={rid}",
                },
                .failure_body = BODY_LOG,
                .body_cap = 100000,
        },
        {
                .name = "cronitor",
                .templates = {
                        [EVENT_SUCCESS] = "{url}?state=complete&series={rid}&status_code={exit_code}"
                                          "&duration={duration_s}&host={hostname}&message={message:1000}",
                        [EVENT_START] = "{url}?state=run&series={rid}&host={hostname}",
                        [EVENT_FAILURE] = "{url}?state=fail&series={rid}&status_code={exit_code}"
                                          "&duration={duration_s}&host={hostname}&message={message:1000}",
                },
        },
        {
                /* Success only; the source goes in the Origin: header (source =). */
                .name = "checkly",
                .templates = { [EVENT_SUCCESS] = "{url}" },
        },
        {
                .name = "uptime-kuma",
                .templates = {
                        [EVENT_SUCCESS] = "{url}?status=up&msg={message}&ping={duration_ms}",
                        [EVENT_FAILURE] = "{url}?status=down&msg={message}&ping={duration_ms}",
                },
        },
        {
                .name = "deadmanssnitch",
                .templates = {
                        [EVENT_SUCCESS] = "{url}?m={message:256}",
                        [EVENT_FAILURE] = "{url}?s={exit_code}&m={message:256}",
                },
        },
        {
                .name = "betterstack",
                .templates = {
                        [EVENT_SUCCESS] = "{url}",
                        [EVENT_FAILURE] = "{url}/{exit_code}",
                },
                .failure_body = BODY_LOG,
        },
        {
                /* Sentry cron check-ins by HTTP GET. */
                .name = "sentry",
                .templates = {
                        [EVENT_SUCCESS] = "{url}?status=ok&check_in_id={rid}&duration={duration_s}",
                        [EVENT_START] = "{url}?status=in_progress&check_in_id={rid}",
                        [EVENT_FAILURE] = "{url}?status=error&check_in_id={rid}&duration={duration_s}",
                },
        },
        {
                /* url = https://cronhub.io/ping/<uuid>: the uuid and host make the others. */
                .name = "cronhub",
                .templates = {
                        [EVENT_SUCCESS] = "{url_origin}/finish/{url_last}",
                        [EVENT_START] = "{url_origin}/start/{url_last}",
                        [EVENT_FAILURE] = "{url_origin}/fail/{url_last}",
                },
                .failure_body = BODY_LOG,
                .body_cap = 1000,
        },
};

const Preset *preset_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(presets); i++)
                if (streq(presets[i].name, name))
                        return &presets[i];
        return NULL;
}

const Preset *preset_generic(void) {
        return &presets[0];
}

const char *preset_names(void) {
        return "generic, healthchecks, cronitor, checkly, uptime-kuma, deadmanssnitch, betterstack, sentry, cronhub";
}

int exit_code_from_run(const char *result, int code, int status) {
        /* systemd's verdict first: a timeout ends with a SIGTERM, but the monitor should hear
         * "timeout". The numbers follow timeout(1) and shell conventions where there is one. */
        if (result) {
                if (streq(result, "timeout"))
                        return 124;
                if (streq(result, "watchdog"))
                        return 125;
                if (streq(result, "oom-kill"))
                        return 137; /* 128 + SIGKILL, as the kernel's OOM killer does */
                if (streq(result, "start-limit-hit"))
                        return 250;
                if (streq(result, "resources"))
                        return code == CLD_EXITED && status > 0 ? status & 0xff : 251;
        }
        if (code == CLD_KILLED || code == CLD_DUMPED)
                return 128 + (status & 0x7f);
        if (code == CLD_EXITED)
                return status & 0xff;
        if (result && streq(result, "success"))
                return 0;
        return 1;
}

void url_fix_query(char *url) {
        char *q = strchr(url, '?');

        if (!q)
                return;
        for (char *p = q + 1; *p; p++)
                if (*p == '?')
                        *p = '&';
}
