/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <curl/curl.h>
#include <stdio.h>
#include <strings.h>
#include <limits.h>
#include <sys/epoll.h>
#include <time.h>

#include "hashmap.h"
#include "http.h"
#include "log.h"
#include "retry.h"

/* We read at most this much of a response body: a heartbeat answer is "OK". */
#define HTTP_BODY_MAX (4U * 1024U)
#define HTTP_REDIRECTS_MAX 5L

typedef enum RequestState {
        REQUEST_QUEUED,  /* waiting for a free slot */
        REQUEST_RUNNING, /* in curl */
        REQUEST_BACKOFF, /* waiting for its retry timer */
} RequestState;

typedef struct Request Request;
typedef struct CheckQueue CheckQueue;

/* Requests for one check, oldest first: only the head may be sent, so a check's start never
 * overtakes its finish (they go to different URLs of the same monitor). */
struct CheckQueue {
        char *check; /* the check's unit name */
        Request *head, *tail;
};

struct Request {
        Http *http;
        Request *prev, *next;         /* all requests, oldest first */
        Request *check_next;          /* in its CheckQueue */
        Request *run_prev, *run_next; /* in Http.runnable */
        CheckQueue *uq;

        Ping *ping; /* what to send (owned); its id is the outbox entry, NULL if in memory only */
        usec_t max_age;

        char *masked;
        char *origin_header;
        char *user_agent;
        char *content_type_header;
        usec_t timeout, connect_timeout, retry_delay, retry_max_delay;

        usec_t started; /* monotonic time of the current attempt */
        CURL *easy;
        struct curl_slist *headers;
        sd_event_source *retry_timer;
        size_t body_size;
        size_t header_size;
        long last_status;
        long body_limit;
        usec_t last_elapsed;
        usec_t retry_after;

        RequestState state;
        unsigned retries;
        unsigned attempt; /* attempts made so far */
        bool runnable;
        bool body_truncated;
        bool headers_too_long;
        bool has_retry_after;
        char body_head[64];
        char error_buffer[CURL_ERROR_SIZE];
        char last_error[CURL_ERROR_SIZE];
};

struct Http {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        Request *head, *tail; /* every request, in submission order */
        size_t n_requests, n_running;
        Request *run_head, *run_tail; /* heads of their URL queue, ready to send */
        Hashmap *checks;              /* check → CheckQueue, keyed by the queue's own name */

        http_done_t on_done;
        void *userdata;

        /* Settings for new requests, from the config. */
        usec_t timeout, connect_timeout, retry_delay, retry_max_delay;
        unsigned retries, max_parallel, max_queue, max_queue_per_check;
        usec_t max_age;
        char *user_agent;

        bool shutting_down;
        http_idle_t on_idle;
        void *on_idle_userdata;
};

static void runnable_remove(Request *r) {
        Http *h = r->http;

        if (!r->runnable)
                return;
        if (r->run_prev)
                r->run_prev->run_next = r->run_next;
        else
                h->run_head = r->run_next;
        if (r->run_next)
                r->run_next->run_prev = r->run_prev;
        else
                h->run_tail = r->run_prev;
        r->run_prev = r->run_next = NULL;
        r->runnable = false;
}

static void runnable_push(Request *r) {
        Http *h = r->http;

        if (r->runnable)
                return;
        r->run_prev = h->run_tail;
        r->run_next = NULL;
        if (h->run_tail)
                h->run_tail->run_next = r;
        else
                h->run_head = r;
        h->run_tail = r;
        r->runnable = true;
}

static void check_queue_remove(Request *r) {
        CheckQueue *q = r->uq;
        Request *prev = NULL;

        if (!q)
                return;
        for (Request *i = q->head; i; prev = i, i = i->check_next)
                if (i == r) {
                        if (prev)
                                prev->check_next = r->check_next;
                        else
                                q->head = r->check_next;
                        if (q->tail == r)
                                q->tail = prev;
                        break;
                }
        r->uq = NULL;
        r->check_next = NULL;

        if (q->head) {
                /* The next request for this URL may go now (unless it waits for a retry). */
                if (!prev && q->head->state == REQUEST_QUEUED)
                        runnable_push(q->head);
                return;
        }
        (void) hashmap_remove(r->http->checks, q->check);
        free(q->check);
        free(q);
}

static int check_queue_add(Request *r) {
        Http *h = r->http;
        CheckQueue *q = hashmap_get(h->checks, r->ping->check);

        if (!q) {
                q = calloc(1, sizeof(CheckQueue));
                if (!q)
                        return -ENOMEM;
                q->check = strdup(r->ping->check);
                if (!q->check) {
                        free(q);
                        return -ENOMEM;
                }
                if (hashmap_put(h->checks, q->check, q) < 0) {
                        free(q->check);
                        free(q);
                        return -ENOMEM;
                }
        }
        if (q->tail)
                q->tail->check_next = r;
        else
                q->head = r;
        q->tail = r;
        r->uq = q;
        return 0;
}

static void request_unlink(Request *r) {
        Http *h = r->http;

        if (r->easy) {
                curl_multi_remove_handle(h->multi, r->easy);
                curl_easy_cleanup(r->easy);
                r->easy = NULL;
                h->n_running--;
        }
        runnable_remove(r);
        check_queue_remove(r);
        r->retry_timer = sd_event_source_disable_unref(r->retry_timer);

        if (r->prev)
                r->prev->next = r->next;
        else
                h->head = r->next;
        if (r->next)
                r->next->prev = r->prev;
        else
                h->tail = r->prev;
        h->n_requests--;
}

static void request_destroy(Request *r) {
        curl_slist_free_all(r->headers);
        ping_free(r->ping);
        free(r->content_type_header);
        free(r->masked);
        free(r->origin_header);
        free(r->user_agent);
        free(r);
}

/* The request ended for good: tell the owner (who removes it from the outbox), then free it. */
static void request_finish(Request *r, HttpOutcome outcome) {
        Http *h = r->http;

        request_unlink(r);
        if (h->on_done) {
                HttpResult res = {
                        .ping = r->ping,
                        .outcome = outcome,
                        .status = r->last_status,
                        .error = r->last_error[0] ? r->last_error : NULL,
                        .elapsed = r->last_elapsed,
                        .attempts = r->attempt,
                        .body_head = r->body_head,
                        .body_limit = r->body_limit,
                };
                h->on_done(h, &res, h->userdata);
        }
        request_destroy(r);
}

/* Forget a request without an outcome: it stays in the outbox for the next start. */
static void request_free(Request *r) {
        if (!r)
                return;
        request_unlink(r);
        request_destroy(r);
}

static void http_maybe_idle(Http *h) {
        if (h->shutting_down && h->n_running == 0 && h->on_idle) {
                http_idle_t cb = h->on_idle;

                h->on_idle = NULL;
                cb(h, h->on_idle_userdata);
        }
}

static void http_start_queued(Http *h);

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        Request *r = userdata;
        size_t have = strlen(r->body_head);

        /* Keep the start: healthchecks answers "OK (rate-limited)" with a 200. */
        if (have + 1 < sizeof(r->body_head)) {
                size_t k = MIN(size * n, sizeof(r->body_head) - 1 - have);
                memcpy(r->body_head + have, data, k);
                r->body_head[have + k] = 0;
                for (char *c = r->body_head; *c; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                *c = ' ';
        }
        r->body_size += size * n;
        if (r->body_size > HTTP_BODY_MAX) {
                /* Stop reading: returning less than we were given aborts the transfer. */
                r->body_truncated = true;
                return 0;
        }
        return size * n;
}

/* Headers of all responses of one attempt (redirects included): a monitor needs a few
 * hundred bytes; a server that never ends them is cut off here. */
#define HTTP_HEADERS_MAX (16U * 1024U)

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        Request *r = userdata;
        size_t len = size * n;
        char value[128];

        r->header_size += len;
        if (r->header_size > HTTP_HEADERS_MAX) {
                r->headers_too_long = true;
                return 0; /* aborts the transfer */
        }

        /* A new status line starts a new response (after a redirect): forget the old headers. */
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                r->has_retry_after = false;
                r->body_limit = -1;
                return len;
        }
        if (len > 16 && strncasecmp(data, "Ping-Body-Limit:", 16) == 0) {
                char *end;
                long v;

                memcpy(value, data + 16, MIN(len - 16, sizeof(value) - 1));
                value[MIN(len - 16, sizeof(value) - 1)] = 0;
                v = strtol(value, &end, 10);
                if (v >= 0 && end != value)
                        r->body_limit = v;
        }
        if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
                size_t vl = MIN(len - 12, sizeof(value) - 1);
                usec_t t;

                memcpy(value, data + 12, vl);
                value[vl] = 0;
                if (retry_after_parse(value, time(NULL), &t) >= 0) {
                        r->has_retry_after = true;
                        r->retry_after = t;
                }
        }
        return len;
}

static int request_start(Request *r);

static int on_retry_timer(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Request *r = userdata;

        r->retry_timer = sd_event_source_disable_unref(r->retry_timer);
        r->state = REQUEST_QUEUED;
        runnable_push(r); /* it is still the head of its URL queue */
        http_start_queued(r->http);
        return 0;
}

static void request_schedule_retry(Request *r, const char *why) {
        Http *h = r->http;
        char buf[32];
        usec_t delay, now = now_usec(CLOCK_REALTIME);
        int k;

        if (h->shutting_down) {
                log_unit(LOG_NOTICE, r->ping->unit, r->ping->invocation, "Ping to %s not delivered (%s); %s",
                         r->masked, why,
                         r->ping->id ? "kept in the outbox for the next start." : "it is lost (not in the outbox).");
                request_free(r);
                return;
        }
        if (r->retries != UINT_MAX && r->attempt > r->retries) {
                log_unit(LOG_ERR, r->ping->unit, r->ping->invocation,
                         "Ping to %s failed %u times (last: %s); giving up. Check the URL and the monitor.",
                         r->masked, r->attempt, why);
                request_finish(r, HTTP_EXPIRED);
                return;
        }

        delay = retry_backoff(r->attempt - 1, r->retry_delay, r->retry_max_delay, random_unit());
        if (r->has_retry_after)
                delay = MAX(delay, r->retry_after);
        if (now + delay > r->ping->created + r->max_age) {
                log_unit(LOG_ERR, r->ping->unit, r->ping->invocation,
                         "Ping to %s still failing (last: %s) and the run is older than max-age=%s; giving up.",
                         r->masked, why, format_timespan(buf, sizeof(buf), r->max_age));
                request_finish(r, HTTP_EXPIRED);
                return;
        }

        k = sd_event_add_time_relative(h->event, &r->retry_timer, CLOCK_MONOTONIC, delay, 0, on_retry_timer, r);
        if (k < 0) {
                log_unit_errno(LOG_ERR, k, r->ping->unit, r->ping->invocation,
                               "Failed to schedule a retry of the ping to %s: %m; it stays in the outbox.",
                               r->masked);
                request_free(r);
                return;
        }
        r->state = REQUEST_BACKOFF;
        if (r->retries == UINT_MAX)
                log_unit(LOG_WARNING, r->ping->unit, r->ping->invocation, "Ping to %s failed (%s); retry %u in %s.",
                         r->masked, why, r->attempt,
                         format_timespan(buf, sizeof(buf), delay - delay % USEC_PER_MSEC));
        else
                log_unit(LOG_WARNING, r->ping->unit, r->ping->invocation,
                         "Ping to %s failed (%s); retry %u of %u in %s.", r->masked, why, r->attempt, r->retries,
                         format_timespan(buf, sizeof(buf), delay - delay % USEC_PER_MSEC));
}

static void request_done(Request *r, CURLcode code) {
        char why[CURL_ERROR_SIZE + 64];
        long status = 0;
        usec_t took = (now_usec(CLOCK_MONOTONIC) - r->started) / USEC_PER_MSEC;

        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        r->last_status = status;
        r->last_elapsed = now_usec(CLOCK_MONOTONIC) - r->started;
        r->last_error[0] = 0;
        curl_multi_remove_handle(r->http->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        r->http->n_running--;

        /* The monitor answered 2xx: delivered, whatever went wrong with the rest of the answer
         * (a body we stopped reading, a connection cut mid-body). Retrying would ping twice. */
        if (code != CURLE_OK && status >= 200 && status < 300 && !r->headers_too_long)
                code = CURLE_OK;
        /* We stop reading long bodies ourselves: the status decides. */
        if (code == CURLE_WRITE_ERROR && r->body_truncated && status > 0)
                code = CURLE_OK;

        if (code != CURLE_OK) {
                if (r->headers_too_long)
                        snprintf(why, sizeof(why), "response headers longer than %u bytes", HTTP_HEADERS_MAX);
                else
                        snprintf(why, sizeof(why), "%s%s%.200s", curl_easy_strerror(code),
                                 r->error_buffer[0] ? ": " : "", r->error_buffer);
                snprintf(r->last_error, sizeof(r->last_error), "%.200s", why);
                switch (code) {
                case CURLE_UNSUPPORTED_PROTOCOL:
                        /* With a status, a redirect to a scheme we refuse: permanent. Without
                         * one, the server did not speak HTTP: maybe next time it will. */
                        if (status == 0) {
                                request_schedule_retry(r, why);
                                return;
                        }
                        _fallthrough_;
                case CURLE_URL_MALFORMAT:
                case CURLE_TOO_MANY_REDIRECTS:
                        log_unit(LOG_ERR, r->ping->unit, r->ping->invocation,
                                 "Ping to %s failed: %s; not retrying. Fix the URL or the redirect.", r->masked, why);
                        request_finish(r, HTTP_REJECTED);
                        return;
                default:
                        request_schedule_retry(r, why);
                        return;
                }
        }

        switch (retry_classify_status(status)) {
        case RETRY_DONE:
                log_unit(LOG_INFO, r->ping->unit, r->ping->invocation, "Pinged %s: HTTP %ld in %llums.", r->masked,
                         status, (unsigned long long) took);
                request_finish(r, HTTP_DELIVERED);
                return;
        case RETRY_AGAIN:
                snprintf(why, sizeof(why), "HTTP %ld", status);
                request_schedule_retry(r, why);
                return;
        case RETRY_GIVE_UP:
        default:
                log_unit(LOG_ERR, r->ping->unit, r->ping->invocation,
                         "Ping to %s answered HTTP %ld; not retrying. Check that the URL is right.", r->masked,
                         status);
                request_finish(r, HTTP_REJECTED);
                return;
        }
}

static void http_check_done(Http *h) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(h->multi, &left))) {
                Request *r = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r) != CURLE_OK || !r)
                        continue;
                request_done(r, msg->data.result);
        }
        http_start_queued(h);
        http_maybe_idle(h);
}

static int on_io(sd_event_source *s _unused_, int fd, uint32_t revents, void *userdata) {
        Http *h = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLPRI | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;

        if (curl_multi_socket_action(h->multi, fd, action, &running) != CURLM_OK)
                log_debug("curl_multi_socket_action() failed.");
        http_check_done(h);
        return 0;
}

static int on_curl_socket(CURL *easy _unused_, curl_socket_t fd, int what, void *userp, void *socketp) {
        Http *h = userp;
        sd_event_source *io = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        sd_event_source_disable_unref(io);
                        curl_multi_assign(h->multi, fd, NULL);
                }
                return 0;
        }

        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (io) {
                r = sd_event_source_set_io_events(io, events);
                if (r >= 0)
                        r = sd_event_source_set_enabled(io, SD_EVENT_ON);
        } else {
                r = sd_event_add_io(h->event, &io, fd, events, on_io, h);
                if (r >= 0) {
                        (void) sd_event_source_set_description(io, "curl-io");
                        if (curl_multi_assign(h->multi, fd, io) != CURLM_OK) {
                                sd_event_source_disable_unref(io);
                                r = -EIO;
                        }
                }
        }
        if (r < 0) {
                log_error_errno(r, "Failed to watch a curl socket: %m");
                return -1;
        }
        return 0;
}

static int on_curl_timer_elapsed(sd_event_source *s _unused_, uint64_t usec _unused_, void *userdata) {
        Http *h = userdata;
        int running;

        if (curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
                log_debug("curl_multi_socket_action() failed.");
        http_check_done(h);
        return 0;
}

static int on_curl_timer(CURLM *multi _unused_, long timeout_ms, void *userp) {
        Http *h = userp;
        usec_t when;
        int r;

        if (timeout_ms < 0) {
                if (h->timer)
                        (void) sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
                return 0;
        }

        /* curl must not be called back from inside this callback, so even "now" goes through
         * the loop. */
        when = now_usec(CLOCK_MONOTONIC) + (usec_t) timeout_ms * USEC_PER_MSEC;
        if (h->timer) {
                r = sd_event_source_set_time(h->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(h->event, &h->timer, CLOCK_MONOTONIC, when, 0, on_curl_timer_elapsed, h);
                if (r >= 0)
                        (void) sd_event_source_set_description(h->timer, "curl-timer");
        }
        if (r < 0) {
                log_error_errno(r, "Failed to arm the curl timer: %m");
                return -1;
        }
        return 0;
}

int http_new(Http **ret, sd_event *event, http_done_t on_done, void *userdata) {
        Config *defaults;
        Http *h;
        int r;

        assert(ret && event);
        h = calloc(1, sizeof(Http));
        if (!h)
                return -ENOMEM;
        if (hashmap_new(&h->checks, HASHMAP_KEYS_BORROW) < 0) {
                free(h);
                return -ENOMEM;
        }
        h->event = sd_event_ref(event);
        h->on_done = on_done;
        h->userdata = userdata;

        h->multi = curl_multi_init();
        if (!h->multi) {
                http_free(h);
                return -ENOMEM;
        }
        if (curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
            curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) != CURLM_OK) {
                http_free(h);
                return -EIO;
        }
        /* The defaults are the configuration's, from its key table: an empty config. */
        defaults = config_new();
        r = defaults ? http_set_config(h, defaults) : -ENOMEM;
        config_free(defaults);
        if (r < 0) {
                http_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

Http *http_free(Http *h) {
        if (!h)
                return NULL;
        while (h->head)
                request_free(h->head);
        /* curl calls our socket callback with CURL_POLL_REMOVE while cleaning up. */
        if (h->multi)
                curl_multi_cleanup(h->multi);
        sd_event_source_disable_unref(h->timer);
        sd_event_unref(h->event);
        hashmap_free(h->checks);
        free(h->user_agent);
        free(h);
        return NULL;
}

int http_set_retries(Http *h, unsigned retries) {
        h->retries = retries;
        return 0;
}

int http_set_config(Http *h, const Config *c) {
        int r;

        r = free_and_strdup(&h->user_agent, c->user_agent);
        if (r < 0)
                return r;
        h->timeout = c->timeout;
        h->connect_timeout = c->connect_timeout;
        h->retries = c->retries;
        h->retry_delay = c->retry_delay;
        h->retry_max_delay = c->retry_max_delay;
        h->max_parallel = c->max_parallel;
        h->max_queue = c->max_queue;
        h->max_queue_per_check = c->max_queue_per_check;
        h->max_age = c->max_age;
        (void) curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) c->max_parallel);
        http_start_queued(h);
        return 0;
}

static int request_start(Request *r) {
        Http *h = r->http;
        CURL *e;

        e = curl_easy_init();
        if (!e)
                return -ENOMEM;

        r->body_size = 0;
        r->body_truncated = false;
        r->has_retry_after = false;
        r->body_head[0] = 0;
        r->body_limit = -1;
        r->header_size = 0;
        r->headers_too_long = false;
        r->error_buffer[0] = 0;

        /* Only http and https, for the URL and for every redirect: a heartbeat URL must never
         * make us read a local file or talk another protocol. */
        if (curl_easy_setopt(e, CURLOPT_URL, r->ping->url) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
#else
            curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
            curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_MAXREDIRS, HTTP_REDIRECTS_MAX) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_USERAGENT, r->user_agent) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) (r->timeout / USEC_PER_MSEC)) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) (r->connect_timeout / USEC_PER_MSEC)) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_HEADERDATA, r) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK ||
            curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error_buffer) != CURLE_OK)
                goto fail;

        if (r->ping->method == HTTP_METHOD_POST &&
            (curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK ||
             curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) r->ping->body_size) != CURLE_OK ||
             curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->ping->body ?: "") != CURLE_OK ||
             curl_easy_setopt(e, CURLOPT_POSTREDIR, (long) CURL_REDIR_POST_ALL) != CURLE_OK))
                goto fail;

        if (r->headers && curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK)
                goto fail;

        if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
                goto fail;

        r->easy = e;
        r->state = REQUEST_RUNNING;
        r->attempt++;
        r->started = now_usec(CLOCK_MONOTONIC);
        h->n_running++;
        log_unit(LOG_DEBUG, r->ping->unit, r->ping->invocation, "Sending %s %s (attempt %u).",
                 http_method_to_string(r->ping->method), r->masked, r->attempt);
        return 0;

fail:
        curl_easy_cleanup(e);
        return -EIO;
}

static void http_start_queued(Http *h) {
        if (h->shutting_down)
                return;
        while (h->run_head && h->n_running < h->max_parallel) {
                Request *r = h->run_head;
                int k;

                runnable_remove(r);
                if (r->state != REQUEST_QUEUED)
                        continue;
                if (now_usec(CLOCK_REALTIME) > r->ping->created + r->max_age) {
                        char buf[32];

                        log_unit(LOG_ERR, r->ping->unit, r->ping->invocation,
                                 "Ping to %s not sent: the run is older than max-age=%s; giving up.", r->masked,
                                 format_timespan(buf, sizeof(buf), r->max_age));
                        request_finish(r, HTTP_EXPIRED);
                        continue;
                }
                k = request_start(r);
                if (k < 0) {
                        log_unit_errno(LOG_ERR, k, r->ping->unit, r->ping->invocation,
                                       "Failed to start the ping to %s: %m; it stays in the outbox.", r->masked);
                        request_free(r);
                }
        }
}

/* Makes room by dropping the oldest request not in flight, of this check if check is set. */
static bool http_drop_oldest(Http *h, const char *check) {
        for (Request *r = h->head; r; r = r->next) {
                if (r->state == REQUEST_RUNNING)
                        continue;
                if (check && !streq(r->ping->check, check))
                        continue;
                log_unit(LOG_WARNING, r->ping->unit, r->ping->invocation,
                         "Ping queue %s is full; dropping the oldest ping, to %s, to make room.",
                         check ? "of this check" : "(max-queue)", r->masked);
                request_finish(r, HTTP_DROPPED);
                return true;
        }
        return false;
}

static int request_set_headers(Request *r) {
        const Ping *p = r->ping;

        if (p->source) {
                if (asprintf(&r->origin_header, "Origin: %s", p->source) < 0)
                        return -ENOMEM;
                r->headers = curl_slist_append(NULL, r->origin_header);
                if (!r->headers)
                        return -ENOMEM;
        }
        if (p->body) {
                struct curl_slist *l;

                if (asprintf(&r->content_type_header, "Content-Type: %s",
                             p->content_type ?: "text/plain; charset=utf-8") < 0)
                        return -ENOMEM;
                l = curl_slist_append(r->headers, r->content_type_header);
                if (!l)
                        return -ENOMEM;
                r->headers = l;
        }
        return 0;
}

int http_submit(Http *h, Ping *p) {
        _cleanup_(ping_freep) Ping *owned = p;
        size_t n_check = 0;
        Request *r;
        int k;

        assert(h && p && p->check && p->url);
        if (h->shutting_down)
                return -ESHUTDOWN;

        for (Request *i = h->head; i && h->max_queue_per_check < h->max_queue; i = i->next)
                n_check += streq(i->ping->check, p->check);
        if (n_check >= h->max_queue_per_check && !http_drop_oldest(h, p->check))
                return -ENOBUFS;
        if (h->n_requests >= h->max_queue && !http_drop_oldest(h, NULL))
                return -ENOBUFS;

        r = calloc(1, sizeof(Request));
        if (!r)
                return -ENOMEM;
        r->http = h;
        r->ping = TAKE_PTR(owned);
        r->state = REQUEST_QUEUED;
        r->timeout = h->timeout;
        r->connect_timeout = h->connect_timeout;
        r->retries = h->retries;
        r->retry_delay = h->retry_delay;
        r->retry_max_delay = h->retry_max_delay;
        r->max_age = h->max_age;
        if (p->created == 0)
                p->created = now_usec(CLOCK_REALTIME);
        if (p->body)
                p->method = HTTP_METHOD_POST; /* a body goes with POST */
        r->masked = url_mask(p->url);
        r->user_agent = strdup(h->user_agent ?: "timerbeat");

        /* Link it in first so request_free() can unlink it on failure. */
        r->prev = h->tail;
        if (h->tail)
                h->tail->next = r;
        else
                h->head = r;
        h->tail = r;
        h->n_requests++;

        k = !r->masked || !r->user_agent ? -ENOMEM : request_set_headers(r);
        if (k >= 0)
                k = check_queue_add(r);
        if (k < 0) {
                request_free(r);
                return k;
        }
        if (r->uq->head == r)
                runnable_push(r);

        http_start_queued(h);
        return 0;
}

size_t http_pending(const Http *h) {
        return h->n_requests;
}

void http_shutdown(Http *h, http_idle_t on_idle, void *userdata) {
        Request *r, *next;
        size_t kept = 0, lost = 0;

        h->shutting_down = true;
        h->on_idle = on_idle;
        h->on_idle_userdata = userdata;
        for (r = h->head; r; r = next) {
                next = r->next;
                if (r->state == REQUEST_RUNNING)
                        continue;
                if (r->ping->id)
                        kept++;
                else {
                        lost++;
                        log_unit(
                                LOG_WARNING, r->ping->unit, r->ping->invocation,
                                "Ping to %s not delivered and not in the outbox (state directory not writable); it is lost.",
                                r->masked);
                }
                request_free(r);
        }
        if (kept > 0)
                log_info("%zu ping(s) not delivered yet; kept in the outbox for the next start.", kept);
        http_maybe_idle(h);
}
