/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>

#include "ping.h"

void ping_done(Ping *p) {
        if (!p)
                return;
        free(p->check);
        free(p->unit);
        free(p->invocation);
        free(p->url);
        free(p->source);
        free(p->body);
        free(p->content_type);
        free(p->id);
        *p = (Ping) {};
}

Ping *ping_free(Ping *p) {
        ping_done(p);
        free(p);
        return NULL;
}

BodyKind ping_body_kind(const Check *c, Event e) {
        BodyKind b = c->body_set ? c->body : BODY_NONE;

        if (e == EVENT_START)
                return b == BODY_JSON ? BODY_JSON : BODY_NONE;
        if (b == BODY_LOG) {
                if (c->attach_log == ATTACH_LOG_NEVER)
                        return BODY_NONE;
                if (c->attach_log == ATTACH_LOG_ON_FAILURE && e == EVENT_SUCCESS)
                        return BODY_NONE;
        }
        return b;
}

static usec_t run_duration(const PingRun *run) {
        if (run->start_timestamp > 0 && run->exit_timestamp > run->start_timestamp)
                return run->exit_timestamp - run->start_timestamp;
        return 0;
}

int ping_url(const Check *c, Event e, const PingRun *run, char **ret) {
        _cleanup_free_ char *base = NULL, *url = NULL;
        const char *t;
        TemplateVars v;
        int r;

        assert(c && run && run->unit && ret);
        t = check_template(c, e);
        v = (TemplateVars) {
                .unit = run->unit,
                .hostname = strempty(run->hostname),
                .rid = run->invocation,
                .result = e == EVENT_START ? "" : run->result,
                .message = run->message,
                .exit_code = e == EVENT_START ? 0 : run->exit_code,
                .duration = e == EVENT_START ? 0 : run_duration(run),
        };
        if (!t)
                return -ENOENT;
        /* The base URL's own placeholders first ({unit_prefix} in a pattern's url=), then the
         * event template around it. */
        if (c->url) {
                r = template_expand(c->url, &v, &base);
                if (r < 0)
                        return r;
        }
        v.url = base;
        r = template_expand(t, &v, &url);
        if (r < 0)
                return r;
        url_fix_query(url);
        if (c->auto_create) {
                char *n;

                if (asprintf(&n, "%s%screate=1", url, strchr(url, '?') ? "&" : "?") < 0)
                        return -ENOMEM;
                free(url);
                url = n;
        }
        *ret = TAKE_PTR(url);
        return 0;
}

static char *json_escape(const char *s) {
        char *r = malloc(strlen(s) * 6 + 1), *t = r;

        if (!r)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        t += sprintf(t, "\\%c", c);
                else if (c < 0x20)
                        t += sprintf(t, "\\u%04x", c);
                else
                        *t++ = (char) c;
        }
        *t = 0;
        return r;
}

char *ping_run_json(const PingRun *run, Event e, usec_t duration) {
        bool start = e == EVENT_START;
        _cleanup_free_ char *u = json_escape(strempty(run->service)), *n = json_escape(run->unit),
                            *h = json_escape(strempty(run->hostname)), *res = json_escape(strempty(run->result));
        char *j;

        if (!u || !n || !h || !res)
                return NULL;
        if (asprintf(&j,
                     "{\"unit\":\"%s\",\"check\":\"%s\",\"invocation\":\"%s\",\"event\":\"%s\",\"result\":\"%s\","
                     "\"exit_code\":%d,\"started_usec\":%llu,\"finished_usec\":%llu,\"duration_s\":%.3f,"
                     "\"hostname\":\"%s\"}",
                     u, n, strempty(run->invocation), start ? "start" : "finish", start ? "" : res,
                     start ? 0 : run->exit_code, (unsigned long long) run->start_timestamp,
                     (unsigned long long) (start ? 0 : run->exit_timestamp), (double) duration / 1e6, h) < 0)
                return NULL;
        return j;
}

static int ping_set_body(Ping *p, BodyKind kind, const PingRun *run, Event e, const char *log_text, size_t log_size) {
        const char *type;

        if (kind == BODY_JSON) {
                p->body = ping_run_json(run, e, e == EVENT_START ? 0 : run_duration(run));
                if (!p->body)
                        return -ENOMEM;
                p->body_size = strlen(p->body);
                type = "application/json";
        } else if (kind == BODY_LOG && log_text) {
                p->body = malloc(log_size + 1);
                if (!p->body)
                        return -ENOMEM;
                if (log_size > 0)
                        memcpy(p->body, log_text, log_size);
                p->body[log_size] = 0;
                p->body_size = log_size;
                type = "text/plain; charset=utf-8";
        } else
                return 0;
        p->method = HTTP_METHOD_POST;
        p->content_type = strdup(type);
        return p->content_type ? 0 : -ENOMEM;
}

int ping_build(const Check *c, const Config *cfg, Event e, const PingRun *run, const char *log_text, size_t log_size,
               Ping **ret) {
        _cleanup_(ping_freep) Ping *p = NULL;
        const char *source;
        int r;

        assert(c && run && run->unit && ret);
        source = c->source ?: (cfg ? cfg->source : NULL);
        p = calloc(1, sizeof(Ping));
        if (!p)
                return -ENOMEM;
        r = ping_url(c, e, run, &p->url);
        if (r < 0)
                return r;
        p->event = e;
        p->method = c->method;
        p->created = run->created;
        p->check = strdup(run->unit);
        p->unit = strdup(run->service ?: run->unit);
        if (!p->check || !p->unit)
                return -ENOMEM;
        if (!isempty(run->invocation) && !(p->invocation = strdup(run->invocation)))
                return -ENOMEM;
        if (source && !(p->source = strdup(source)))
                return -ENOMEM;
        r = ping_set_body(p, ping_body_kind(c, e), run, e, log_text, log_size);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}
