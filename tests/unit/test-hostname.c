/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "hostname.h"
#include "tests.h"
#include "util.h"

/* {hostname} from systemd-hostnamed, against a private dbus-daemon with a fake hostnamed on it:
 * the first value, a change with its value, a change that only invalidates, and the fallback
 * to gethostname() on a bus without hostnamed. */

static char fake_name[64] = "first.example";

static int get_hostname(sd_bus *bus _unused_, const char *path _unused_, const char *iface _unused_,
                        const char *prop _unused_, sd_bus_message *reply, void *userdata _unused_,
                        sd_bus_error *error _unused_) {
        return sd_bus_message_append(reply, "s", fake_name);
}

static const sd_bus_vtable fake_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Hostname", "s", get_hostname, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Other", "s", get_hostname, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_VTABLE_END,
};

static pid_t start_bus(char *address, size_t size) {
        int fds[2];
        pid_t pid;
        ssize_t n;

        ASSERT(pipe(fds) == 0);
        pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
                char fd[16];

                int null = open("/dev/null", O_RDWR);

                close(fds[0]);
                /* It dies with the test, even when an assertion aborts it, and keeps no pipe of
                 * meson's open. */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (null >= 0) {
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                snprintf(fd, sizeof(fd), "%d", fds[1]);
                execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address", fd,
                       (char *) NULL);
                _exit(77);
        }
        close(fds[1]);
        n = read(fds[0], address, size - 1);
        close(fds[0]);
        if (n <= 0) {
                fprintf(stderr, "dbus-daemon did not start; skipping\n");
                exit(77);
        }
        address[n] = 0;
        address[strcspn(address, "\n")] = 0;
        return pid;
}

static sd_bus *connect_to(const char *address, sd_event *event) {
        sd_bus *bus = NULL;

        ASSERT(sd_bus_new(&bus) >= 0);
        ASSERT(sd_bus_set_address(bus, address) >= 0);
        ASSERT(sd_bus_set_bus_client(bus, true) >= 0);
        ASSERT(sd_bus_start(bus) >= 0);
        ASSERT(sd_bus_attach_event(bus, event, 0) >= 0);
        return bus;
}

/* Runs the loop until the name is what we expect, or 5 s passed. */
static void wait_for(sd_event *event, Hostname *h, const char *want) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;

        while (!(hostname_is_live(h) && streq(hostname_get(h), want))) {
                ASSERT(now_usec(CLOCK_MONOTONIC) < end);
                ASSERT(sd_event_run(event, 100 * USEC_PER_MSEC) >= 0);
        }
}

int main(void) {
        char address[512], own[256] = "";
        sd_event *event = NULL;
        sd_bus *server, *client, *empty;
        Hostname *h = NULL, *fallback = NULL;
        pid_t pid;

        ASSERT(sd_event_new(&event) >= 0);
        pid = start_bus(address, sizeof(address));

        /* A bus without hostnamed: gethostname(), every time. */
        empty = connect_to(address, event);
        ASSERT(hostname_new(&fallback, event, empty) >= 0);
        for (int i = 0; i < 20; i++)
                ASSERT(sd_event_run(event, 20 * USEC_PER_MSEC) >= 0);
        ASSERT(!hostname_is_live(fallback));
        ASSERT(gethostname(own, sizeof(own) - 1) == 0);
        ASSERT_STREQ(hostname_get(fallback), own);

        server = connect_to(address, event);
        ASSERT(sd_bus_add_object_vtable(server, NULL, HOSTNAMED_PATH, HOSTNAMED_IFACE, fake_vtable, NULL) >= 0);
        ASSERT(sd_bus_request_name(server, HOSTNAMED_DEST, 0) >= 0);
        client = connect_to(address, event);
        ASSERT(hostname_new(&h, event, client) >= 0);
        wait_for(event, h, "first.example");

        /* hostnamectl hostname renamed: PropertiesChanged with the value. */
        snprintf(fake_name, sizeof(fake_name), "renamed.example");
        ASSERT(sd_bus_emit_properties_changed(server, HOSTNAMED_PATH, HOSTNAMED_IFACE, "Hostname", NULL) >= 0);
        wait_for(event, h, "renamed.example");

        /* Only invalidated: asked again. */
        snprintf(fake_name, sizeof(fake_name), "third.example");
        ASSERT(sd_bus_emit_signal(server, HOSTNAMED_PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                  "sa{sv}as", HOSTNAMED_IFACE, 0, 1, "Hostname") >= 0);
        wait_for(event, h, "third.example");

        /* Another peer cannot forge it: the bus lets only hostnamed's signals through. */
        ASSERT(sd_bus_emit_signal(empty, HOSTNAMED_PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                  "sa{sv}as", HOSTNAMED_IFACE, 1, "Hostname", "s", "forged.example", 0) >= 0);
        for (int i = 0; i < 20; i++)
                ASSERT(sd_event_run(event, 20 * USEC_PER_MSEC) >= 0);
        ASSERT_STREQ(hostname_get(h), "third.example");

        hostname_free(h);
        hostname_free(fallback);
        sd_bus_flush_close_unref(server);
        sd_bus_flush_close_unref(client);
        sd_bus_flush_close_unref(empty);
        sd_event_unref(event);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return 0;
}
