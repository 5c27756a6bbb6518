/* evloop.c - one epoll thread dispatching readable fds to callbacks. */
#include "xvm/evloop.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVLOOP_MAX_FDS 1024

struct evwatch {
	int fd;
	evloop_fn fn;
	void *opaque;
};

struct evloop {
	int epfd, stop_fd;
	pthread_t thread;
	bool running;
	/* lock: held by the loop thread while it runs callbacks, so evloop_del
	 * can wait for a running callback to finish */
	pthread_mutex_t lock;
	struct evwatch *w[EVLOOP_MAX_FDS];
	char name[16];
};

static void *evloop_thread(void *arg)
{
	struct evloop *l = arg;
	struct epoll_event ev[32];

	pthread_setname_np(pthread_self(), l->name);
	for (;;) {
		int n = epoll_wait(l->epfd, ev, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		pthread_mutex_lock(&l->lock);
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == l->stop_fd) {
				pthread_mutex_unlock(&l->lock);
				return NULL;
			}
			if (fd >= 0 && fd < EVLOOP_MAX_FDS && l->w[fd])
				l->w[fd]->fn(l->w[fd]->opaque);
		}
		pthread_mutex_unlock(&l->lock);
	}
	return NULL;
}

int evloop_create(struct evloop **out, const char *name)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct evloop *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	strncpy(l->name, name ? name : "evloop", sizeof(l->name) - 1);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (l->epfd < 0 || l->stop_fd < 0) {
		rc = -errno;
		goto fail;
	}
	ev.data.fd = l->stop_fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&l->thread, NULL, evloop_thread, l);
	if (rc)
		goto fail;
	l->running = true;
	*out = l;
	return 0;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	free(l);
	return rc;
}

int evloop_add(struct evloop *l, int fd, evloop_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	struct evwatch *w;
	int rc = 0;

	if (fd < 0 || fd >= EVLOOP_MAX_FDS)
		return -EINVAL;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct evwatch){ fd, fn, opaque };
	pthread_mutex_lock(&l->lock);
	if (l->w[fd])
		rc = -EEXIST;
	else if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		rc = -errno;
	else
		l->w[fd] = w;
	pthread_mutex_unlock(&l->lock);
	if (rc)
		free(w);
	return rc;
}

int evloop_del(struct evloop *l, int fd)
{
	int rc = 0;

	if (fd < 0 || fd >= EVLOOP_MAX_FDS)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	if (!l->w[fd]) {
		rc = -ENOENT;
	} else {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		free(l->w[fd]);
		l->w[fd] = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void evloop_stop(struct evloop *l)
{
	uint64_t one = 1;

	if (!l || !l->running)
		return;
	if (write(l->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(l->thread, NULL);
	l->running = false;
}

void evloop_destroy(struct evloop *l)
{
	if (!l)
		return;
	evloop_stop(l);
	for (int i = 0; i < EVLOOP_MAX_FDS; i++)
		free(l->w[i]);
	close(l->epfd);
	close(l->stop_fd);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
