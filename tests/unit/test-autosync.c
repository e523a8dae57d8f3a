/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "autosync.h"
#include "tests.h"

#define S USEC_PER_SEC
#define BASE (30 * S)
#define CAP USEC_PER_HOUR

/* One step of a sequence: an event, what the policy says, and the state after it. */
typedef enum Input { TRIGGER, NEED, TIMER, OK, FAIL } Input;

typedef struct Step {
        Input event;
        usec_t now;
        AutosyncAction action;
        bool running, pending;
        unsigned failures;
        usec_t retry_at; /* with rnd = 0: half of base·2^(failures-1), capped at max */
} Step;

static AutosyncAction step(AutosyncPolicy *p, const Step *s) {
        switch (s->event) {
        case TRIGGER:
                return autosync_on_trigger(p);
        case NEED:
                return autosync_on_need(p);
        case TIMER:
                return autosync_on_timer(p);
        default:
                return autosync_on_done(p, s->event == OK, s->now, BASE, CAP, 0);
        }
}

static void run_sequence(const char *name, const Step *steps, size_t n) {
        AutosyncPolicy p = {};

        for (size_t i = 0; i < n; i++) {
                const Step *s = &steps[i];
                AutosyncAction a = step(&p, s);

                if (a != s->action || p.running != s->running || p.pending != s->pending ||
                    p.failures != s->failures || p.retry_at != s->retry_at) {
                        fprintf(stderr, "%s, step %zu: action %d running %d pending %d failures %u retry_at %llu\n",
                                name, i, a, p.running, p.pending, p.failures, (unsigned long long) p.retry_at);
                        abort();
                }
        }
}

#define SEQ(name, ...)                                        \
        do {                                                  \
                static const Step steps[] = { __VA_ARGS__ };  \
                run_sequence(name, steps, ELEMENTSOF(steps)); \
        } while (0)

static void test_policy(void) {
        /* A start, it succeeds: nothing more. */
        SEQ("ok", { TRIGGER, 0, AUTOSYNC_START, true, false, 0, 0 },
            { OK, 5 * S, AUTOSYNC_NOTHING, false, false, 0, 0 });
        /* Triggers while it runs are one more run after it, however many. */
        SEQ("coalesced", { TRIGGER, 0, AUTOSYNC_START, true, false, 0, 0 },
            { TRIGGER, 1 * S, AUTOSYNC_NOTHING, true, true, 0, 0 },
            { NEED, 2 * S, AUTOSYNC_NOTHING, true, true, 0, 0 },
            { TRIGGER, 3 * S, AUTOSYNC_NOTHING, true, true, 0, 0 }, { OK, 4 * S, AUTOSYNC_START, true, false, 0, 0 },
            { OK, 9 * S, AUTOSYNC_NOTHING, false, false, 0, 0 });
        /* The server is down: 15 s (half of 30 s with rnd 0), 30 s, 60 s …, capped at half of 1 h;
         * a success resets the count. */
        SEQ("back-off", { TRIGGER, 0, AUTOSYNC_START, true, false, 0, 0 },
            { FAIL, 100 * S, AUTOSYNC_WAIT, false, false, 1, 115 * S },
            { TIMER, 115 * S, AUTOSYNC_START, true, false, 1, 0 },
            { FAIL, 200 * S, AUTOSYNC_WAIT, false, false, 2, 230 * S },
            { TIMER, 230 * S, AUTOSYNC_START, true, false, 2, 0 },
            { FAIL, 300 * S, AUTOSYNC_WAIT, false, false, 3, 360 * S },
            { TIMER, 360 * S, AUTOSYNC_START, true, false, 3, 0 },
            { OK, 400 * S, AUTOSYNC_NOTHING, false, false, 0, 0 },
            { TRIGGER, 500 * S, AUTOSYNC_START, true, false, 0, 0 },
            { FAIL, 600 * S, AUTOSYNC_WAIT, false, false, 1, 615 * S });
        /* A trigger (daemon-reload, reload) replaces a waiting retry: what changed may be the cause;
         * a new timer (NEED) waits for the retry instead. */
        SEQ("trigger during back-off", { TRIGGER, 0, AUTOSYNC_START, true, false, 0, 0 },
            { FAIL, 10 * S, AUTOSYNC_WAIT, false, false, 1, 25 * S },
            { NEED, 11 * S, AUTOSYNC_NOTHING, false, false, 1, 25 * S },
            { TRIGGER, 12 * S, AUTOSYNC_START, true, false, 1, 0 },
            { TIMER, 25 * S, AUTOSYNC_NOTHING, true, false, 1, 0 }, /* a stale timer starts nothing */
            { FAIL, 30 * S, AUTOSYNC_WAIT, false, false, 2, 60 * S });
        /* A failure with a trigger pending runs again at once (the pending one is newer). */
        SEQ("fail with pending", { TRIGGER, 0, AUTOSYNC_START, true, false, 0, 0 },
            { NEED, 1 * S, AUTOSYNC_NOTHING, true, true, 0, 0 }, { FAIL, 2 * S, AUTOSYNC_START, true, false, 1, 0 },
            { OK, 3 * S, AUTOSYNC_NOTHING, false, false, 0, 0 });
        /* A new timer with nothing waiting starts one; a stale timer does nothing. */
        SEQ("first need", { NEED, 0, AUTOSYNC_START, true, false, 0, 0 },
            { OK, S, AUTOSYNC_NOTHING, false, false, 0, 0 }, { TIMER, 2 * S, AUTOSYNC_NOTHING, false, false, 0, 0 });

        /* The cap: after many failures, never more than 1 h (half of it with rnd 0). */
        AutosyncPolicy p = { .running = true };
        for (unsigned i = 0; i < 40; i++) {
                ASSERT_EQ(autosync_on_done(&p, false, 0, BASE, CAP, 0), AUTOSYNC_WAIT);
                ASSERT(p.retry_at <= CAP);
                ASSERT_EQ(autosync_on_timer(&p), AUTOSYNC_START);
        }
        ASSERT_EQ(p.failures, 40);
        ASSERT_EQ(autosync_on_done(&p, false, 0, BASE, CAP, 0), AUTOSYNC_WAIT);
        ASSERT_EQ(p.retry_at, CAP / 2);
        /* With jitter: between half and all of it. */
        p.running = true;
        ASSERT_EQ(autosync_on_done(&p, false, 0, BASE, CAP, 0.999), AUTOSYNC_WAIT);
        ASSERT(p.retry_at > CAP * 9 / 10 && p.retry_at <= CAP);
}

static Config *parse(const char *text) {
        Strv errors = {};
        Config *c = config_new();

        ASSERT(c);
        ASSERT_EQ(config_parse_data(c, "/etc/x.conf", text, strlen(text), &errors), 0);
        ASSERT_EQ(config_validate(c, &errors), 0);
        strv_done(&errors);
        return c;
}

static void test_wanted(void) {
        static const struct {
                const char *conf;
                bool wanted;
        } table[] = {
                { "", false },
                { "[a.timer]\nurl = https://hc-ping.com/x\n", false },
                { "[*.timer]\nprovision = healthchecks\napi-url = https://hc.example\napi-key = k\n", true },
                { "[timerbeat]\nsync = no\n[*.timer]\nprovision = healthchecks\napi-url = https://hc.example\n"
                  "api-key = k\n",
                  false },
                { "[timerbeat]\nsync = auto\n[a.timer]\nprovision = healthchecks\napi-url = https://hc.example\n"
                  "api-key = k\n",
                  true },
                /* [timerbeat] defaults; one section turns it off, one keeps it */
                { "[timerbeat]\nprovision = healthchecks\napi-url = https://hc.example\napi-key = k\n"
                  "[a.timer]\nprovision = no\nurl = https://hc-ping.com/x\n[b.timer]\nenabled = yes\n",
                  true },
                { "[timerbeat]\nprovision = healthchecks\napi-url = https://hc.example\napi-key = k\n"
                  "[a.timer]\nprovision = no\nurl = https://hc-ping.com/x\n",
                  false },
                /* a disabled section provisions nothing */
                { "[a.timer]\nenabled = no\nprovision = healthchecks\napi-url = https://hc.example\napi-key = k\n",
                  false },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                Config *c = parse(table[i].conf);

                if (autosync_wanted(c) != table[i].wanted) {
                        fprintf(stderr, "case %zu: expected %d\n%s", i, table[i].wanted, table[i].conf);
                        abort();
                }
                config_free(c);
        }
        ASSERT(!autosync_wanted(NULL));
}

int main(void) {
        test_policy();
        test_wanted();
        return 0;
}
