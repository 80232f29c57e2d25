/*
 * The test bed's pod sandbox ("pause") process.
 *
 * It holds the pod's namespaces open and does nothing else: it waits for
 * SIGTERM or SIGINT to exit, and reaps zombies because it is PID 1 of the pod
 * when the pod shares its process namespace. Built statically (gcc -Os
 * -static) so that the image can be FROM scratch; see hack/pause/Dockerfile.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_terminate(int signo) {
    /* The kubelet asks the runtime to stop the sandbox with SIGTERM/SIGINT. */
    (void)signo;
    _exit(0);
}

static void on_child(int signo) {
    /* Reap every exited child without blocking; a zombie would keep a PID. */
    int saved = errno;
    (void)signo;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("task-api pause 1.0");
        return 0;
    }
    if (getpid() != 1) {
        /* Useful when run by hand: it still works, but nothing to reap for. */
        fprintf(stderr, "pause: warning: not PID 1\n");
    }
    struct sigaction term = {.sa_handler = on_terminate};
    struct sigaction chld = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
    sigemptyset(&term.sa_mask);
    sigemptyset(&chld.sa_mask);
    if (sigaction(SIGINT, &term, NULL) < 0 || sigaction(SIGTERM, &term, NULL) < 0 ||
        sigaction(SIGCHLD, &chld, NULL) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
}
