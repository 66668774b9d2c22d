/* pthread.h for wasm32-wasi, which has one thread and no pthread functions
 * (wasi-libc 2022 in Debian 12 has only the types). The library uses
 * threads only to overlap work (graph decode during open, parallel index
 * build); on one thread a "thread" runs to completion inside
 * pthread_create, and locks never contend. */
#ifndef RVF_WASM_PTHREAD_H
#define RVF_WASM_PTHREAD_H
#include <sys/types.h>

static inline int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	(void)a;
	*t = (pthread_t)fn(arg); /* the handle carries the result to join */
	return 0;
}
static inline int pthread_join(pthread_t t, void **ret)
{
	if (ret)
		*ret = (void *)t;
	return 0;
}
static inline int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	(void)m;
	(void)a;
	return 0;
}
static inline int pthread_mutex_destroy(pthread_mutex_t *m) { (void)m; return 0; }
static inline int pthread_mutex_lock(pthread_mutex_t *m) { (void)m; return 0; }
static inline int pthread_mutex_unlock(pthread_mutex_t *m) { (void)m; return 0; }
#endif
