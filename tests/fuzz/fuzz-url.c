/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Heartbeat URLs: url_validate() (what the config accepts) and url_mask() (the only form a URL
 * ever takes in a log line or in `timerbeat check`). */
#include <curl/curl.h>
#include <errno.h>
#include <strings.h>

#include "config.h"
#include "fuzz.h"

static void curl_url_cleanupp(CURLU **u) {
        if (*u)
                curl_url_cleanup(*u);
}

static void curl_freep(char **p) {
        curl_free(*p);
}

/* What follows the authority, as the mask reads it. */
static const char *url_rest(const char *url) {
        const char *a = strstr(url, "://");

        a = a ? a + 3 : url;
        return a + strcspn(a, "/?#");
}

/* For an accepted URL, the host the mask shows must be the host libcurl connects to: if the two
 * disagreed, the mask could show a part of the URL that libcurl takes for the path (the secret)
 * or the password. */
static void check_host(const char *url, const char *masked) {
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
        _cleanup_(curl_freep) char *host = NULL, *port = NULL, *password = NULL;
        const char *shown, *shown_end;
        size_t n;

        FUZZ_ASSERT(u);
        FUZZ_ASSERT(curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK);
        FUZZ_ASSERT(curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK);
        (void) curl_url_get(u, CURLUPART_PORT, &port, 0);
        (void) curl_url_get(u, CURLUPART_PASSWORD, &password, 0);

        /* Characters no authority holds (a space, a brace): nothing of the URL is shown. That
         * hides more, not less. */
        if (strncmp(masked, "(unparsable URL of ", 19) == 0)
                return;
        shown = strstr(masked, "://");
        FUZZ_ASSERT(shown);
        shown += 3;
        /* The host is followed by the path, always: "/…a4b5", "/ping/…a4b5/slug", "/?token=…". */
        shown_end = strchr(shown, '/');
        FUZZ_ASSERT(shown_end);
        n = (size_t) (shown_end - shown);
        FUZZ_ASSERT(strstr(shown_end, "…"));

        /* The password never shows, unless it happens to be part of the host as written
         * ("e:eeeeeeee@%eeeeeeee9": libcurl decodes the host, the mask shows it raw), or is
         * written in the path or query too, which the mask shows where it is not key-like. */
        if (password && strlen(password) >= 8 && !strstr(host, password) &&
            !memmem(shown, n, password, strlen(password)) && !strstr(url_rest(url), password))
                FUZZ_ASSERT(!strstr(masked, password));
        /* libcurl decodes %XX in host names and normalizes IPv6 literals and IPv4 shorthands
         * ("http://2" is 0.0.0.2, "0x7f.1" is 127.0.0.1); compare the others. */
        if (strpbrk(host, "%[:") || memchr(shown, '%', n) || memchr(shown, '[', n))
                return;
        if (strspn(host, "0123456789.") == strlen(host) &&
            strspn(shown, "0123456789abcdefABCDEFxX.") >= strcspn(shown, ":/"))
                return;
        /* "http:///host/…": libcurl skips the extra slash, the mask shows no host; it hides more,
         * not less. */
        if (n == 0)
                return;
        if (port) {
                FUZZ_ASSERT(n > strlen(host) && shown[strlen(host)] == ':');
                n = strlen(host);
        } else if (memchr(shown, ':', n))
                n = (size_t) ((const char *) memchr(shown, ':', n) - shown); /* an empty port, "host:" */
        FUZZ_ASSERT(n == strlen(host) && strncasecmp(shown, host, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *url = NULL, *masked = NULL;
        const char *reason = NULL;
        int r;

        if (size > 4 * CONFIG_URL_MAX)
                return 0;
        url = fuzz_strndup(data, size);

        masked = url_mask(url);
        FUZZ_ASSERT(masked);
        FUZZ_ASSERT(!fuzz_has_control(masked, ""));
        /* Never longer than the URL plus the decoration. */
        FUZZ_ASSERT(strlen(masked) <= strlen(url) + 48);

        r = url_validate(url, &reason);
        FUZZ_ASSERT(r == 0 || r == -EINVAL);
        if (r < 0) {
                FUZZ_ASSERT(reason && *reason);
                return 0;
        }
        FUZZ_ASSERT(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
        FUZZ_ASSERT(strlen(url) <= CONFIG_URL_MAX && !fuzz_has_control(url, "") && !strstr(url, "%00"));
        for (const char *c = url; *c; c++)
                FUZZ_ASSERT((unsigned char) *c < 0x80 && *c != ' ');
        check_host(url, masked);
        return 0;
}
