/*
 * flock(2) for the journal's writers' lock, as a Node-API addon that any thread may load: no
 * persistent handles, no default-loop calls, and one process-wide flag (docs/design.md, "The
 * writers' lock").
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <uv.h>

/* Set while a blocking flock waits: the others poll, so a crowd of waiters costs no crowd of threads. */
static atomic_bool waiter_busy = false;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "flock addon: " #call " failed");   \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

/* An Error shaped as Node shapes a failed system call: code, errno (negative), syscall. */
static napi_value errno_error(napi_env env, int err) {
  napi_value code, msg, error, errno_value, syscall;
  const char *name = uv_err_name(-err);
  char text[160];
  snprintf(text, sizeof text, "%s: %s, flock", name, strerror(err));
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, "flock", NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, error, "syscall", syscall);
  return error;
}

static bool fd_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int *fd) {
  size_t argc = want;
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number ||
      napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, NULL, "fd must be a non-negative integer");
    return false;
  }
  return true;
}

static int flock_retry(int fd, int op) {
  int r;
  do r = flock(fd, op);
  while (r != 0 && errno == EINTR);
  return r == 0 ? 0 : errno;
}

/* tryLock(fd, shared) -> true if granted, false if another open file description holds it. */
static napi_value try_lock(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int fd;
  bool shared = false;
  if (!fd_arg(env, info, 2, argv, &fd)) return NULL;
  napi_get_value_bool(env, argv[1], &shared); /* anything but true means exclusive */
  int err = flock_retry(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB);
  if (err != 0 && err != EWOULDBLOCK) {
    napi_throw(env, errno_error(env, err));
    return NULL;
  }
  CHECK(napi_get_boolean(env, err == 0, &result));
  return result;
}

/* unlock(fd) */
static napi_value unlock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!fd_arg(env, info, 1, argv, &fd)) return NULL;
  int err = flock_retry(fd, LOCK_UN);
  if (err != 0) napi_throw(env, errno_error(env, err));
  return NULL;
}

/*
 * A blocking wait runs on a thread of its own, not in libuv's threadpool. A process exiting joins
 * the threadpool's threads, so a flock blocked there (a peer that never lets go) would keep the
 * process from exiting; and a worker thread being torn down waits for its threadpool work. A
 * detached thread holds up neither. Its grant comes back through a thread-safe function.
 */
typedef struct {
  int fd;
  int err;
  /* Three owners: the waiting thread, the JS handle (the promise), the environment cleanup hook. */
  atomic_int refs;
  /* JS thread only: the promise is settled (the thread-safe function may be gone after that). */
  bool settled;
  /* Guarded by mu: the thread's environment is torn down, and nobody can take the grant. */
  bool env_gone;
  pthread_mutex_t mu;
  napi_threadsafe_function tsfn;
  napi_deferred deferred;
} wait_req;

static void req_unref(wait_req *req) {
  if (atomic_fetch_sub(&req->refs, 1) == 1) {
    pthread_mutex_destroy(&req->mu);
    free(req);
  }
}

static void on_env_cleanup(void *arg) {
  wait_req *req = arg;
  pthread_mutex_lock(&req->mu);
  req->env_gone = true;
  pthread_mutex_unlock(&req->mu);
  req_unref(req);
}

static void on_handle_gc(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  req_unref(data);
}

static void *wait_thread(void *arg) {
  wait_req *req = arg;
  req->err = flock_retry(req->fd, LOCK_EX);
  atomic_store(&waiter_busy, false);
  bool delivered = false;
  pthread_mutex_lock(&req->mu);
  if (!req->env_gone) {
    delivered = napi_call_threadsafe_function(req->tsfn, req, napi_tsfn_nonblocking) == napi_ok;
    napi_release_threadsafe_function(req->tsfn, napi_tsfn_release);
  }
  pthread_mutex_unlock(&req->mu);
  /* A grant nobody can take is given back at once, so that no peer waits on it. */
  if (!delivered && req->err == 0) flock_retry(req->fd, LOCK_UN);
  req_unref(req);
  return NULL;
}

/* On the waiter's JS thread; env is NULL when its environment is torn down with the call queued. */
static void wait_done(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  wait_req *req = data;
  if (env == NULL) {
    if (req->err == 0) flock_retry(req->fd, LOCK_UN);
    return;
  }
  req->settled = true;
  if (napi_remove_env_cleanup_hook(env, on_env_cleanup, req) == napi_ok) req_unref(req);
  napi_value value;
  if (req->err == 0 && napi_get_undefined(env, &value) == napi_ok && napi_resolve_deferred(env, req->deferred, value) == napi_ok) return;
  if (req->err != 0 && napi_reject_deferred(env, req->deferred, errno_error(env, req->err)) == napi_ok) return;
  if (req->err == 0) flock_retry(req->fd, LOCK_UN);
}

/* promise.ref(true|false): whether the wait keeps the event loop alive (not once its waiter gave up). */
static napi_value wait_ref(napi_env env, napi_callback_info info) {
  wait_req *req;
  size_t argc = 1;
  napi_value argv[1];
  bool on = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&req) != napi_ok) return NULL;
  if (argc > 0) napi_get_value_bool(env, argv[0], &on);
  if (req->settled) return NULL;
  if (on) napi_ref_threadsafe_function(env, req->tsfn);
  else napi_unref_threadsafe_function(env, req->tsfn);
  return NULL;
}

/*
 * lockWait(fd) -> a Promise that resolves once flock(LOCK_EX) is granted, with a ref(on) method;
 * or null, at once, if this process (any of its threads) already has such a wait in flight.
 */
static napi_value lock_wait(napi_env env, napi_callback_info info) {
  napi_value argv[1], promise, name, ref_fn;
  int fd;
  if (!fd_arg(env, info, 1, argv, &fd)) return NULL;
  bool expected = false;
  if (!atomic_compare_exchange_strong(&waiter_busy, &expected, true)) {
    CHECK(napi_get_null(env, &promise));
    return promise;
  }
  wait_req *req = calloc(1, sizeof *req);
  if (req == NULL) {
    atomic_store(&waiter_busy, false);
    napi_throw(env, errno_error(env, ENOMEM));
    return NULL;
  }
  req->fd = fd;
  atomic_init(&req->refs, 3);
  pthread_mutex_init(&req->mu, NULL);
  pthread_attr_t attr;
  pthread_t thread;
  bool ok = napi_create_promise(env, &req->deferred, &promise) == napi_ok &&
            napi_create_function(env, "ref", NAPI_AUTO_LENGTH, wait_ref, req, &ref_fn) == napi_ok &&
            napi_set_named_property(env, promise, "ref", ref_fn) == napi_ok &&
            napi_create_string_utf8(env, "jsonl-journal:flock", NAPI_AUTO_LENGTH, &name) == napi_ok &&
            napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, wait_done, &req->tsfn) == napi_ok;
  if (!ok) {
    atomic_store(&waiter_busy, false);
    pthread_mutex_destroy(&req->mu);
    free(req);
    napi_throw_error(env, NULL, "flock addon: cannot set up the lock wait");
    return NULL;
  }
  /* From here the three owners exist, each dropping its reference once done with req. */
  napi_add_finalizer(env, ref_fn, req, on_handle_gc, NULL, NULL);
  napi_add_env_cleanup_hook(env, on_env_cleanup, req);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int err = pthread_create(&thread, &attr, wait_thread, req);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    /* As if the wait had ended in error: the promise rejects, and req goes as the thread would. */
    req->err = err;
    atomic_store(&waiter_busy, false);
    napi_call_threadsafe_function(req->tsfn, req, napi_tsfn_nonblocking);
    napi_release_threadsafe_function(req->tsfn, napi_tsfn_release);
    req_unref(req);
  }
  return promise;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
    {"tryLock", NULL, try_lock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unlock", NULL, unlock, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lockWait", NULL, lock_wait, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
