/*
 * tspod-stage1: the single-threaded process between tspod (Node, multithreaded: it must not fork
 * or unshare itself) and a pod's apps. It implements the `cgroups` and `fly` stage1s of
 * docs/stage1.md, interface version 1: stage0 writes the whole pod, decided, into a config file;
 * this program only carries it out, in this order:
 *
 *   monitor (host pid ns)   re-exec from a sealed memfd (CVE-2019-5736), join the pod cgroups,
 *                           unshare mount/UTS/IPC/PID[/net], fork the pod init, forward signals,
 *                           report readiness on fd 4, exit with the pod's status
 *   init (pid 1 of the pod) hostname, loopback, one child per app, reap every zombie, record each
 *                           app's exit code, end when the apps have ended
 *   app                     own mount namespace: overlay root, /proc, /sys, /dev, volumes, /etc
 *                           files, masked paths, pivot_root; oom_score_adj, groups, uid/gid,
 *                           capabilities, no_new_privs, seccomp (last); close fds; execve
 *
 * Policy (which capabilities, which syscalls, which paths are masked) is decided by stage0 in
 * TypeScript and arrives here as data. Every failure is reported on stderr as
 * "tspod-stage1: <what>: <why>" and ends the pod with status 125.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define STAGE1_INTERFACE_VERSION 1
#define EXIT_STAGE1_FAILURE 125
#define MAX_APPS 64
#define MAX_LIST 256

/* ---- errors ---------------------------------------------------------------------------- */

static void die(const char *fmt, ...) {
  va_list ap;
  int saved = errno;
  fprintf(stderr, "tspod-stage1: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (saved) fprintf(stderr, ": %s", strerror(saved));
  fprintf(stderr, "\n");
  _exit(EXIT_STAGE1_FAILURE);
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (!p) die("out of memory");
  return p;
}

/* ---- the config (docs/stage1.md "stage1.conf") ------------------------------------------ */

struct list {
  int n;
  char *v[MAX_LIST];
};

struct app {
  char *name;
  char *rootfs;       /* where the root is assembled */
  struct list lower;  /* overlay lower dirs, top first */
  char *upper, *work; /* overlay upper and work dirs; absent: rootfs is bound as it is */
  int read_only;
  struct list binds;  /* "SRC\tTARGET\tro|rw\trec|norec" */
  struct list tmpfs;  /* "TARGET\tSIZE\tMODE" */
  struct list files;  /* "SRC\tTARGET": generated files bound read-only (/etc/hosts...) */
  struct list masked; /* paths hidden: /dev/null over files, an empty read-only tmpfs over dirs */
  struct list ropaths;
  struct list args, env;
  struct list cgroup_procs; /* the app's own cgroups (its limits) */
  char *cwd;
  uid_t uid;
  gid_t gid;
  struct list groups;
  uint64_t caps;
  int nnp;
  char *seccomp;
  struct sock_filter *filter;
  unsigned short filter_len;
  int oom_score_adj, has_oom;
  char *exit_file;
  char *stdout_file, *stderr_file;
  pid_t pid;
  int done;
  /* Restart and health (filled by the init). */
  int out_w, err_w;           /* write ends of the log pipes, kept across restarts */
  long long started_ms, restart_at_ms, backoff_ms;
  int restarts;
  char *restarts_file;
  struct list health_exec;    /* argv of an exec health check */
  int health_port;            /* or an HTTP GET to 127.0.0.1:port/path in the pod's network */
  char *health_path;
  long long health_interval_ms, health_timeout_ms, next_check_ms, check_deadline_ms;
  int health_retries, health_failures;
  pid_t checker;
  int instance, checker_instance; /* a check's result counts only for the instance it checked */
  char *health_file;
};

struct pod {
  int version;
  int fly;
  char *hostname;
  int host_net;
  int interactive; /* the apps stay in the terminal's process group (they read it) */
  char *netns; /* a network namespace prepared by stage0 (CNI), joined instead of a new one */
  struct list cgroup_procs;
  char *pid_file;
  int restart_policy; /* 0 never, 1 on-failure, 2 always */
  long long backoff_initial_ms, backoff_max_ms, backoff_reset_ms;
  int max_retries;    /* 0: unlimited */
  int napps;
  struct app apps[MAX_APPS];
};

/* Detached pods: each log file is rotated at this size, keeping this many old generations. */
static off_t log_max_bytes = 10 << 20;
static int log_keep = 2;

static char *unescape(const char *s) {
  char *out = xcalloc(strlen(s) + 1, 1), *o = out;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
    } else {
      *o++ = *s;
    }
  }
  return out;
}

static void push(struct list *l, const char *v, const char *key) {
  if (l->n >= MAX_LIST) die("config: too many %s entries", key);
  l->v[l->n++] = unescape(v);
}

static long number(const char *v, const char *key) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 0);
  if (errno || *end) die("config: %s is not a number: %s", key, v);
  return n;
}

static uint64_t unumber(const char *v, const char *key) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 0);
  if (errno || *end) die("config: %s is not a number: %s", key, v);
  return (uint64_t)n;
}

/* Splits "a\tb\tc" in place into at most n fields; returns how many. */
static int fields(char *s, char **out, int n) {
  int i = 0;
  while (i < n) {
    out[i++] = s;
    char *t = strchr(s, '\t');
    if (!t) break;
    *t = 0;
    s = t + 1;
  }
  return i;
}

static int app_key(struct app *a, const char *k, const char *v) {
  if (!strcmp(k, "rootfs")) a->rootfs = unescape(v);
  else if (!strcmp(k, "lower")) push(&a->lower, v, k);
  else if (!strcmp(k, "upper")) a->upper = unescape(v);
  else if (!strcmp(k, "work")) a->work = unescape(v);
  else if (!strcmp(k, "read-only")) a->read_only = (int)number(v, k);
  else if (!strcmp(k, "bind")) push(&a->binds, v, k);
  else if (!strcmp(k, "tmpfs")) push(&a->tmpfs, v, k);
  else if (!strcmp(k, "file")) push(&a->files, v, k);
  else if (!strcmp(k, "masked")) push(&a->masked, v, k);
  else if (!strcmp(k, "read-only-path")) push(&a->ropaths, v, k);
  else if (!strcmp(k, "arg")) push(&a->args, v, k);
  else if (!strcmp(k, "env")) push(&a->env, v, k);
  else if (!strcmp(k, "cwd")) a->cwd = unescape(v);
  else if (!strcmp(k, "uid")) a->uid = (uid_t)number(v, k);
  else if (!strcmp(k, "gid")) a->gid = (gid_t)number(v, k);
  else if (!strcmp(k, "group")) push(&a->groups, v, k);
  else if (!strcmp(k, "caps")) a->caps = unumber(v, k);
  else if (!strcmp(k, "no-new-privs")) a->nnp = (int)number(v, k);
  else if (!strcmp(k, "seccomp")) a->seccomp = unescape(v);
  else if (!strcmp(k, "oom-score-adj")) { a->oom_score_adj = (int)number(v, k); a->has_oom = 1; }
  else if (!strcmp(k, "exit-file")) a->exit_file = unescape(v);
  else if (!strcmp(k, "cgroup-procs")) push(&a->cgroup_procs, v, k);
  else if (!strcmp(k, "restarts-file")) a->restarts_file = unescape(v);
  else if (!strcmp(k, "health-exec")) push(&a->health_exec, v, k);
  else if (!strcmp(k, "health-http")) {
    char *f[2], *copy = unescape(v);
    if (fields(copy, f, 2) != 2) die("config: bad health-http %s", v);
    a->health_port = (int)number(f[0], k);
    a->health_path = f[1];
  }
  else if (!strcmp(k, "health-interval-ms")) a->health_interval_ms = number(v, k);
  else if (!strcmp(k, "health-timeout-ms")) a->health_timeout_ms = number(v, k);
  else if (!strcmp(k, "health-retries")) a->health_retries = (int)number(v, k);
  else if (!strcmp(k, "health-file")) a->health_file = unescape(v);
  else if (!strcmp(k, "stdout")) a->stdout_file = unescape(v);
  else if (!strcmp(k, "stderr")) a->stderr_file = unescape(v);
  else return 0;
  return 1;
}

static void pod_key(struct pod *p, struct app **cur, char *k, char *v) {
  if (*cur) {
    if (!strcmp(k, "end")) *cur = NULL;
    else if (!app_key(*cur, k, v)) die("config: unknown app key %s", k);
    return;
  }
  if (!strcmp(k, "version")) p->version = (int)number(v, k);
  else if (!strcmp(k, "stage1")) p->fly = !strcmp(v, "fly");
  else if (!strcmp(k, "hostname")) p->hostname = unescape(v);
  else if (!strcmp(k, "interactive")) p->interactive = (int)number(v, k);
  else if (!strcmp(k, "net")) {
    p->host_net = !strcmp(v, "host");
    if (v[0] == '/') p->netns = unescape(v);
  }
  else if (!strcmp(k, "cgroup-procs")) push(&p->cgroup_procs, v, k);
  else if (!strcmp(k, "pid-file")) p->pid_file = unescape(v);
  else if (!strcmp(k, "log-max-bytes")) {
    log_max_bytes = (off_t)number(v, k);
    if (log_max_bytes < 4096) die("config: log-max-bytes %s is under 4096", v);
  }
  else if (!strcmp(k, "restart-policy")) p->restart_policy = !strcmp(v, "always") ? 2 : !strcmp(v, "on-failure") ? 1 : 0;
  else if (!strcmp(k, "restart-backoff-initial-ms")) p->backoff_initial_ms = number(v, k);
  else if (!strcmp(k, "restart-backoff-max-ms")) p->backoff_max_ms = number(v, k);
  else if (!strcmp(k, "restart-backoff-reset-ms")) p->backoff_reset_ms = number(v, k);
  else if (!strcmp(k, "restart-max-retries")) p->max_retries = (int)number(v, k);
  else if (!strcmp(k, "log-keep")) log_keep = (int)number(v, k);
  else if (!strcmp(k, "app")) {
    if (p->napps >= MAX_APPS) die("config: too many apps");
    *cur = &p->apps[p->napps++];
    (*cur)->name = unescape(v);
    (*cur)->cwd = "/";
  } else die("config: unknown key %s", k);
}

static void read_config(const char *path, struct pod *p) {
  FILE *f = fopen(path, "re");
  if (!f) die("open config %s", path);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  struct app *cur = NULL;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = 0;
    if (len == 0 || line[0] == '#') continue;
    char *sp = strchr(line, ' ');
    char *v = sp ? (*sp = 0, sp + 1) : line + len;
    errno = 0;
    pod_key(p, &cur, line, v);
  }
  free(line);
  fclose(f);
  errno = 0;
  if (p->version != STAGE1_INTERFACE_VERSION) die("config: interface version %d, this stage1 speaks %d", p->version, STAGE1_INTERFACE_VERSION);
  if (cur) die("config: app %s has no end", cur->name);
  if (p->napps == 0) die("config: no apps");
}


/* ---- CVE-2019-5736: never run from a file the pod could reach and rewrite ----------------- */

#define SEALED_ENV "_TSPOD_STAGE1_SEALED"

static void reexec_sealed(char **argv) {
  if (getenv(SEALED_ENV)) {
    unsetenv(SEALED_ENV);
    return;
  }
  int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (exe < 0) die("open /proc/self/exe");
  int mem = memfd_create("tspod-stage1", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) die("memfd_create");
  char buf[65536];
  ssize_t n;
  while ((n = read(exe, buf, sizeof buf)) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(mem, buf + off, (size_t)(n - off));
      if (w < 0) die("copy the stage1 binary");
      off += w;
    }
  }
  if (n < 0) die("read /proc/self/exe");
  close(exe);
  if (fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) die("seal the stage1 copy");
  setenv(SEALED_ENV, "1", 1);
  extern char **environ;
  fexecve(mem, argv, environ);
  die("re-exec the sealed stage1");
}

/* ---- small helpers --------------------------------------------------------------------- */

static void write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) die("open %s", path);
  if (write(fd, data, strlen(data)) < 0) die("write %s", path);
  close(fd);
}

/* In the init a failed status write is reported, never fatal: ending the init would kill the pod. */
static void write_new_file_soft(const char *path, const char *data) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, data, strlen(data)) < 0 || rename(tmp, path) < 0) fprintf(stderr, "tspod-stage1: cannot record %s: %s\n", path, strerror(errno));
  if (fd >= 0) close(fd);
}

static void write_new_file(const char *path, const char *data) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("create %s", tmp);
  if (write(fd, data, strlen(data)) < 0) die("write %s", tmp);
  fsync(fd);
  close(fd);
  if (rename(tmp, path) < 0) die("rename %s", path);
}

static void xmount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die("mount %s on %s (%s)", src ? src : "none", dst, type ? type : "bind");
}

/* ---- paths inside the app root ------------------------------------------------------------
 * Every mount target is created and opened relative to the root with openat2(RESOLVE_IN_ROOT):
 * an image's symlinks (etc -> /etc) resolve inside the root, never to the host, and nothing is
 * created, deleted or mounted outside it. Mounts go through the /proc/self/fd/N of the target. */

static int root_fd = -1;

static int open_in_root(const char *path, int flags) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  while (*path == '/') path++;
  return (int)syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof how);
}

/* mkdir -p inside the root; an O_PATH descriptor of the directory. A component that is a symlink
 * is followed inside the root, and what it points at is created there too (as runc does), so an
 * image's `etc -> /somewhere` gets /somewhere made inside the root, never on the host. */
static int mkdirs_in_root_depth(const char *path, mode_t mode, int depth) {
  if (depth > 16) {
    errno = ELOOP;
    die("create %s in the app root", path);
  }
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  size_t len = strlen(buf);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char saved = buf[i];
    buf[i] = 0;
    char *slash = strrchr(buf, '/');
    *slash = 0;
    int parent = open_in_root(*buf ? buf : "/", O_PATH | O_DIRECTORY);
    *slash = '/';
    if (parent < 0) die("open %s in the app root", buf);
    if (mkdirat(parent, slash + 1, mode) < 0 && errno != EEXIST) die("mkdir %s in the app root", buf);
    int here = open_in_root(buf, O_PATH | O_DIRECTORY);
    if (here < 0 && errno == ENOENT) {
      /* A symlink to a place the image lacks: make that place, inside the root. */
      char link[4096], target[4096];
      ssize_t n = readlinkat(parent, slash + 1, link, sizeof link - 1);
      if (n <= 0) die("open %s in the app root", buf);
      link[n] = 0;
      *slash = 0;
      if (link[0] == '/') snprintf(target, sizeof target, "%s", link);
      else snprintf(target, sizeof target, "%s/%s", buf, link);
      *slash = '/';
      close(mkdirs_in_root_depth(target, mode, depth + 1));
      here = open_in_root(buf, O_PATH | O_DIRECTORY);
    }
    if (here < 0) die("open %s in the app root", buf);
    close(here);
    close(parent);
    buf[i] = saved;
  }
  int fd = open_in_root(path, O_PATH | O_DIRECTORY);
  if (fd < 0) die("open %s in the app root", path);
  return fd;
}

static int mkdirs_in_root(const char *path, mode_t mode) {
  return mkdirs_in_root_depth(path, mode, 0);
}

/* A regular file at PATH inside the root (a symlink or other node there is replaced). */
static int file_in_root(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  const char *name = path + (slash - dir) + 1;
  *slash = 0;
  int parent = mkdirs_in_root(*dir ? dir : "/", 0755);
  struct stat st;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) && unlinkat(parent, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) die("replace %s in the app root", path);
  int fd = openat(parent, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) die("create %s in the app root", path);
  close(fd);
  close(parent);
  fd = open_in_root(path, O_PATH);
  if (fd < 0) die("open %s in the app root", path);
  return fd;
}

static const char *fd_path(int fd, char *buf, size_t size) {
  snprintf(buf, size, "/proc/self/fd/%d", fd);
  return buf;
}

/* Mounts on an in-root target; closes the target's descriptor. */
static void mount_at(const char *src, int target, const char *type, unsigned long flags, const char *data, const char *what) {
  char p[64];
  if (mount(src, fd_path(target, p, sizeof p), type, flags, data) < 0) die("mount %s on %s", src ? src : type, what);
  close(target);
}

/* Read-only without touching the mount's other flags (nosuid, nodev, noexec stay), recursively
 * when asked (MS_REMOUNT|MS_REC leaves submounts writable and drops those flags). */
static void make_read_only(const char *path, int recursive) {
  int fd = open_in_root(path, O_PATH);
  if (fd < 0) die("open %s in the app root", path);
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) die("make %s read-only", path);
  close(fd);
}

/* ---- the app's root -------------------------------------------------------------------- */

static void mount_root(struct app *a) {
  if (a->upper) {
    char opts[8192] = "lowerdir=";
    for (int i = 0; i < a->lower.n; i++) {
      if (i) strncat(opts, ":", sizeof opts - strlen(opts) - 1);
      strncat(opts, a->lower.v[i], sizeof opts - strlen(opts) - 1);
    }
    size_t len = strlen(opts);
    snprintf(opts + len, sizeof opts - len, ",upperdir=%s,workdir=%s", a->upper, a->work);
    xmount("overlay", a->rootfs, "overlay", 0, opts);
  } else {
    xmount(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL);
  }
}

struct devnode {
  const char *name;
  mode_t mode;
  unsigned maj, min;
};

static const struct devnode DEVICES[] = {
  {"null", S_IFCHR | 0666, 1, 3}, {"zero", S_IFCHR | 0666, 1, 5}, {"full", S_IFCHR | 0666, 1, 7},
  {"random", S_IFCHR | 0666, 1, 8}, {"urandom", S_IFCHR | 0666, 1, 9}, {"tty", S_IFCHR | 0666, 5, 0},
};

static void mount_dev(void) {
  char p[64];
  mount_at("tmpfs", mkdirs_in_root("/dev", 0755), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", "/dev");
  int dev = open_in_root("/dev", O_PATH | O_DIRECTORY);
  if (dev < 0) die("open /dev in the app root");
  for (size_t i = 0; i < sizeof DEVICES / sizeof *DEVICES; i++) {
    if (mknodat(dev, DEVICES[i].name, DEVICES[i].mode, makedev(DEVICES[i].maj, DEVICES[i].min)) < 0) die("mknod /dev/%s", DEVICES[i].name);
    int node = openat(dev, DEVICES[i].name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (node < 0 || chmod(fd_path(node, p, sizeof p), DEVICES[i].mode & 07777) < 0) die("chmod /dev/%s", DEVICES[i].name);
    close(node);
  }
  mount_at("devpts", mkdirs_in_root("/dev/pts", 0755), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", "/dev/pts");
  if (symlinkat("pts/ptmx", dev, "ptmx") < 0) die("symlink /dev/ptmx");
  mount_at("shm", mkdirs_in_root("/dev/shm", 01777), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k", "/dev/shm");
  int mq = mkdirs_in_root("/dev/mqueue", 0755);
  if (mount("mqueue", fd_path(mq, p, sizeof p), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 && errno != EPERM) die("mount mqueue");
  close(mq);
  const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; i < 4; i++) if (symlinkat(links[i][0], dev, links[i][1]) < 0) die("symlink /dev/%s", links[i][1]);
  close(dev);
}

static void mount_proc_sys(int fly) {
  int proc = mkdirs_in_root("/proc", 0555);
  if (fly) mount_at("/proc", proc, NULL, MS_BIND | MS_REC, NULL, "/proc");
  else mount_at("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, "/proc");
  int sys = mkdirs_in_root("/sys", 0555);
  char p[64];
  if (fly) {
    mount_at("/sys", sys, NULL, MS_BIND | MS_REC, NULL, "/sys");
  } else if (mount("sysfs", fd_path(sys, p, sizeof p), "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) == 0) {
    close(sys);
  } else {
    /* sysfs needs a network namespace of our own; with the host's, bind it read-only instead. */
    mount_at("/sys", sys, NULL, MS_BIND | MS_REC, NULL, "/sys");
    make_read_only("/sys", 1);
  }
}

static void bind_volume(char *spec) {
  char *f[4];
  if (fields(spec, f, 4) != 4) die("config: bad bind %s", spec);
  struct stat st;
  if (stat(f[0], &st) < 0) die("volume source %s", f[0]);
  int target = S_ISDIR(st.st_mode) ? mkdirs_in_root(f[1], 0755) : file_in_root(f[1]);
  int rec = strcmp(f[3], "rec") == 0;
  mount_at(f[0], target, NULL, MS_BIND | (rec ? MS_REC : 0), NULL, f[1]);
  if (!strcmp(f[2], "ro")) make_read_only(f[1], rec);
}

static void mount_tmpfs(char *spec) {
  char *f[3];
  if (fields(spec, f, 3) != 3) die("config: bad tmpfs %s", spec);
  char opts[128];
  snprintf(opts, sizeof opts, "size=%s,mode=%s", f[1], f[2]);
  mount_at("tmpfs", mkdirs_in_root(f[0], 0755), "tmpfs", MS_NOSUID | MS_NODEV, opts, f[0]);
}

/* Generated files (/etc/hosts...): an image's symlink there is replaced, never written through. */
static void bind_file(char *spec) {
  char *f[2];
  if (fields(spec, f, 2) != 2) die("config: bad file %s", spec);
  mount_at(f[0], file_in_root(f[1]), NULL, MS_BIND, NULL, f[1]);
  make_read_only(f[1], 0);
}

static void mask_paths(struct app *a) {
  struct stat st;
  for (int i = 0; i < a->masked.n; i++) {
    int fd = open_in_root(a->masked.v[i], O_PATH | O_NOFOLLOW);
    if (fd < 0) continue;
    if (fstat(fd, &st) < 0) die("stat %s", a->masked.v[i]);
    if (S_ISDIR(st.st_mode)) mount_at("tmpfs", fd, "tmpfs", MS_RDONLY, "size=0", a->masked.v[i]);
    else mount_at("/dev/null", fd, NULL, MS_BIND, NULL, a->masked.v[i]);
  }
  for (int i = 0; i < a->ropaths.n; i++) {
    int fd = open_in_root(a->ropaths.v[i], O_PATH | O_NOFOLLOW);
    if (fd < 0) continue;
    char p[64];
    fd_path(fd, p, sizeof p);
    mount_at(p, fd, NULL, MS_BIND | MS_REC, NULL, a->ropaths.v[i]);
    make_read_only(a->ropaths.v[i], 1);
  }
}

static void enter_root(const char *root) {
  if (chdir(root) < 0) die("chdir %s", root);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root %s", root);
  /* The old root is stacked under the new one: detach it so no host path stays reachable. */
  if (umount2(".", MNT_DETACH) < 0) die("detach the host root");
  if (chdir("/") < 0) die("chdir /");
}

static void build_root(struct pod *p, struct app *a) {
  if (unshare(CLONE_NEWNS) < 0) die("unshare the app's mount namespace");
  xmount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
  mount_root(a);
  root_fd = open(a->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) die("open the app root %s", a->rootfs);
  mount_proc_sys(p->fly);
  if (p->fly) mount_at("/dev", mkdirs_in_root("/dev", 0755), NULL, MS_BIND | MS_REC, NULL, "/dev");
  else mount_dev();
  for (int i = 0; i < a->binds.n; i++) bind_volume(a->binds.v[i]);
  for (int i = 0; i < a->tmpfs.n; i++) mount_tmpfs(a->tmpfs.v[i]);
  for (int i = 0; i < a->files.n; i++) bind_file(a->files.v[i]);
  if (!p->fly) mask_paths(a);
  /* The root itself only: volumes keep their own mode. */
  if (a->read_only) make_read_only("/", 0);
  close(root_fd);
  root_fd = -1;
  if (p->fly) {
    if (chroot(a->rootfs) < 0 || chdir("/") < 0) die("chroot %s", a->rootfs);
  } else {
    /* pivot_root needs the new root to be a mount point not shared with the parent. */
    xmount(NULL, a->rootfs, NULL, MS_PRIVATE, NULL);
    enter_root(a->rootfs);
  }
}

/* ---- identity, capabilities, seccomp ----------------------------------------------------- */

static void drop_bounding(uint64_t keep) {
  for (int cap = 0; cap <= 63; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) die("drop capability %d from the bounding set", cap);
  }
}

static void set_caps(uint64_t caps) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  d[0].effective = d[0].permitted = (uint32_t)caps;
  d[1].effective = d[1].permitted = (uint32_t)(caps >> 32);
  if (syscall(SYS_capset, &h, d) < 0) die("capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) die("clear ambient capabilities");
}

/* With set_capabilities, the permitted and effective sets become exactly a->caps; without (fly),
 * the kernel's rules apply: root keeps what tspod had, another uid loses everything. */
static void set_identity(struct app *a, int set_capabilities) {
  gid_t groups[MAX_LIST];
  for (int i = 0; i < a->groups.n; i++) groups[i] = (gid_t)number(a->groups.v[i], "group");
  if (setgroups((size_t)a->groups.n, groups) < 0) die("setgroups");
  /* Keep the permitted set across the uid change, then cut it to exactly the app's. */
  if (set_capabilities && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) die("keep capabilities");
  if (setresgid(a->gid, a->gid, a->gid) < 0) die("setresgid %u", a->gid);
  if (setresuid(a->uid, a->uid, a->uid) < 0) die("setresuid %u", a->uid);
  if (!set_capabilities) return;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) die("reset keep capabilities");
  set_caps(a->caps);
}

/* Each app's filter, read by the init from the host path before any app starts (children and
 * health checks inherit it), installed last. */
static void read_seccomp(struct app *a) {
  int fd = open(a->seccomp, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open seccomp filter %s", a->seccomp);
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) || st.st_size > 4096 * (off_t)sizeof(struct sock_filter)) {
    errno = 0;
    die("seccomp filter %s is empty, not whole instructions, or over 4096 of them", a->seccomp);
  }
  a->filter = xcalloc((size_t)st.st_size, 1);
  if (read(fd, a->filter, (size_t)st.st_size) != st.st_size) die("read seccomp filter %s", a->seccomp);
  close(fd);
  a->filter_len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
}

static void load_seccomp(struct app *a) {
  struct sock_fprog prog = {a->filter_len, a->filter};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("install the seccomp filter");
}

/* CVE-2024-21626: nothing but 0-2 may reach the app; everything else is closed. */
static void close_extra_fds(void) {
  if (syscall(SYS_close_range, 3, ~0U, 0) == 0) return;
  for (int fd = 3; fd < 65536; fd++) close(fd);
}


static const char *find_env(struct app *a, const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < a->env.n; i++) {
    if (!strncmp(a->env.v[i], name, n) && a->env.v[i][n] == '=') return a->env.v[i] + n + 1;
  }
  return NULL;
}

static void exec_app(struct app *a) {
  char *argv[MAX_LIST + 1], *envp[MAX_LIST + 1];
  for (int i = 0; i < a->args.n; i++) argv[i] = a->args.v[i];
  argv[a->args.n] = NULL;
  for (int i = 0; i < a->env.n; i++) envp[i] = a->env.v[i];
  envp[a->env.n] = NULL;
  if (chdir(a->cwd) < 0) die("app %s: chdir %s", a->name, a->cwd);
  const char *path = find_env(a, "PATH");
  if (strchr(argv[0], '/') || !path) {
    execve(argv[0], argv, envp);
    die("app %s: exec %s", a->name, argv[0]);
  }
  char cand[4096], *dirs = strdup(path), *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    snprintf(cand, sizeof cand, "%s/%s", d, argv[0]);
    execve(cand, argv, envp);
  }
  errno = ENOENT;
  die("app %s: %s is not in PATH=%s", a->name, argv[0], path);
}

/* "0" is the writing process itself, whatever pid namespace it is in. */
static void join_app_cgroups(struct app *a) {
  for (int i = 0; i < a->cgroup_procs.n; i++) write_file(a->cgroup_procs.v[i], "0");
}

/* The last steps, in the app and in `enter` alike: once inside the app's namespaces and root. */
static void confine_and_exec(struct pod *p, struct app *a) {
  if (a->has_oom) {
    char v[32];
    snprintf(v, sizeof v, "%d", a->oom_score_adj);
    write_file("/proc/self/oom_score_adj", v);
  }
  if (!p->fly) {
    drop_bounding(a->caps);
    /* Without no_new_privs the kernel wants CAP_SYS_ADMIN to install a filter: do it while the
     * effective set still has it (as runc does); the filter then also covers the steps below, so
     * a retain list must allow them. With no_new_privs it goes last, just before execve. */
    if (a->seccomp && !a->nnp) load_seccomp(a);
    set_identity(a, 1);
    if (a->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
    close_extra_fds();
    if (a->seccomp && a->nnp) load_seccomp(a);
  } else {
    set_identity(a, 0);
    close_extra_fds();
  }
  exec_app(a);
}

static void start_app(struct pod *p, struct app *a) {
  /* Before anything else, so every byte the app maps is charged to its limits. */
  join_app_cgroups(a);
  build_root(p, a);
  confine_and_exec(p, a);
}

static void record_exit(struct app *a, int status) {
  char v[64];
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  snprintf(v, sizeof v, "%d\n", code);
  if (a->exit_file) write_new_file_soft(a->exit_file, v);
  a->done = 1;
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("get lo flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("bring lo up");
  close(s);
}

/* ---- app output to rotating log files (detached pods) ------------------------------------ */

struct log {
  int pipe;       /* read end; -1 once the app side closed */
  int fd;         /* the open log file */
  char *path;
  off_t size;
};

static struct log logs[MAX_APPS * 2];
static int nlogs;

/* -1 when it cannot be opened: that output is lost, the pod goes on. */
static int open_log(const char *path, off_t *size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st;
  *size = fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
  if (fd < 0) fprintf(stderr, "tspod-stage1: cannot open log %s: %s\n", path, strerror(errno));
  return fd;
}

/* PATH -> PATH.1 -> ... -> PATH.<keep>, the oldest dropped; a fresh PATH is opened. */
static void rotate(struct log *l) {
  char from[4096], to[4096];
  close(l->fd);
  for (int i = log_keep - 1; i >= 1; i--) {
    snprintf(from, sizeof from, "%s.%d", l->path, i);
    snprintf(to, sizeof to, "%s.%d", l->path, i + 1);
    rename(from, to);
  }
  snprintf(to, sizeof to, "%s.1", l->path);
  rename(l->path, to);
  l->fd = open_log(l->path, &l->size);
  /* A file that could not be moved away starts over as empty for the count, not rotated again. */
  if (l->size >= log_max_bytes) l->size = 0;
}

/* Creates the pipe an app writes one stream to; returns the write end for the app. */
static int log_pipe(const char *path) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) die("pipe");
  struct log *l = &logs[nlogs++];
  l->pipe = fds[0];
  l->path = (char *)path;
  l->fd = open_log(path, &l->size);
  return fds[1];
}

static void drain_log(struct log *l) {
  char buf[65536];
  ssize_t n = read(l->pipe, buf, sizeof buf);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    close(l->pipe);
    l->pipe = -1;
    return;
  }
  /* Pieces end exactly at the size limit, so every kept file is at most log_max_bytes. */
  for (ssize_t off = 0; off < n;) {
    if (l->size >= log_max_bytes) rotate(l);
    if (l->fd < 0) return;
    ssize_t room = (ssize_t)(log_max_bytes - l->size);
    size_t piece = (size_t)(n - off < room ? n - off : room);
    ssize_t w = write(l->fd, buf + off, piece);
    if (w <= 0) return; /* a full disk loses output, never the pod */
    off += w;
    l->size += w;
  }
}

/* ---- the pod init ----------------------------------------------------------------------- */

static const int FORWARDED[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NFORWARDED (sizeof FORWARDED / sizeof *FORWARDED)

static int has_health(struct app *a);

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup_logs(struct app *a) {
  a->out_w = a->stdout_file ? log_pipe(a->stdout_file) : -1;
  a->err_w = a->stderr_file ? log_pipe(a->stderr_file) : -1;
}

static void spawn_app(struct pod *p, struct app *a, sigset_t *old) {
  pid_t pid = fork();
  if (pid < 0) die("fork app %s", a->name);
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, old, NULL);
    /* Its own process group unless interactive: a terminal's Ctrl-C then reaches the app once,
     * through the init, instead of directly and again forwarded. */
    if (!p->interactive) setpgid(0, 0);
    if (a->out_w >= 0 && dup2(a->out_w, 1) < 0) die("dup2 stdout");
    if (a->err_w >= 0 && dup2(a->err_w, 2) < 0) die("dup2 stderr");
    start_app(p, a);
  }
  a->pid = pid;
  a->instance++;
  a->started_ms = now_ms();
  a->restart_at_ms = 0;
  a->health_failures = 0;
  a->next_check_ms = has_health(a) ? a->started_ms + a->health_interval_ms : 0;
}

/* The app is over for good: its log pipes may now reach end-of-file. */
static void finish_app(struct app *a) {
  a->done = 1;
  a->pid = 0;
  if (a->checker > 0) kill(a->checker, SIGKILL);
  if (a->out_w >= 0) close(a->out_w);
  if (a->err_w >= 0) close(a->err_w);
  a->out_w = a->err_w = -1;
}

/* Exponential backoff (initial, doubling to max; back to initial after a stable run). */
static int schedule_restart(struct pod *p, struct app *a, int code) {
  int wanted = p->restart_policy == 2 || (p->restart_policy == 1 && code != 0);
  if (!wanted || (p->max_retries > 0 && a->restarts >= p->max_retries)) return 0;
  long long now = now_ms();
  long long initial = p->backoff_initial_ms > 0 ? p->backoff_initial_ms : 1000;
  long long max = p->backoff_max_ms > 0 ? p->backoff_max_ms : 300000;
  long long reset = p->backoff_reset_ms > 0 ? p->backoff_reset_ms : 10000;
  if (a->backoff_ms == 0 || now - a->started_ms >= reset) a->backoff_ms = initial;
  else a->backoff_ms = a->backoff_ms * 2 > max ? max : a->backoff_ms * 2;
  a->restart_at_ms = now + a->backoff_ms;
  a->pid = 0;
  return 1;
}

static void restart_due(struct pod *p, sigset_t *old) {
  long long now = now_ms();
  for (int i = 0; i < p->napps; i++) {
    struct app *a = &p->apps[i];
    if (a->done || a->pid || !a->restart_at_ms || now < a->restart_at_ms) continue;
    a->restarts++;
    if (a->restarts_file) {
      char v[32];
      snprintf(v, sizeof v, "%d\n", a->restarts);
      write_new_file_soft(a->restarts_file, v);
    }
    spawn_app(p, a, old);
  }
}

/* ---- health checks ------------------------------------------------------------------------ */

static int has_health(struct app *a) {
  if (a->health_exec.n == 0 && a->health_port <= 0) return 0;
  if (a->health_interval_ms <= 0) a->health_interval_ms = 10000;
  if (a->health_timeout_ms <= 0) a->health_timeout_ms = 2000;
  if (a->health_retries <= 0) a->health_retries = 3;
  return 1;
}

/* An HTTP GET in the pod's network namespace (the init's): 2xx or 3xx is healthy. */
static int http_check(int port, const char *path, long long timeout_ms) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return 1;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) return 1;
  char req[1024], resp[64] = {0};
  snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: tspod-health\r\n\r\n", path);
  if (write(s, req, strlen(req)) < 0) return 1;
  ssize_t n = read(s, resp, sizeof resp - 1);
  close(s);
  return n >= 12 && !strncmp(resp, "HTTP/1.", 7) && (resp[9] == '2' || resp[9] == '3') ? 0 : 1;
}

/* An exec check runs like `enter`: in the app's mount namespace, confined as the app. */
static void exec_check(struct pod *p, struct app *a) {
  /* The init's /proc is the pod's (run_init mounts it), so the pid is the app's own; a fly app
   * lives in a chroot inside its mount namespace, which setns alone would not enter. */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/root", a->pid);
  int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  snprintf(path, sizeof path, "/proc/%d/ns/mnt", a->pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (root < 0 || fd < 0 || setns(fd, CLONE_NEWNS) < 0) _exit(1);
  close(fd);
  if (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0) _exit(1);
  close(root);
  a->args = a->health_exec;
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
  confine_and_exec(p, a);
}

static void start_check(struct pod *p, struct app *a, sigset_t *old) {
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, old, NULL);
    /* Not the log pipes, nor anything else of the init's: a stuck check must not hold them. */
    syscall(SYS_close_range, 3, ~0U, 0);
    if (a->health_port > 0) _exit(http_check(a->health_port, a->health_path, a->health_timeout_ms));
    exec_check(p, a);
  }
  a->checker = pid;
  a->checker_instance = a->instance;
  a->check_deadline_ms = now_ms() + a->health_timeout_ms;
}

static void set_health(struct app *a, const char *state) {
  if (a->health_file) write_new_file_soft(a->health_file, state);
}

static void check_result(struct app *a, int healthy) {
  a->checker = 0;
  if (a->checker_instance != a->instance || a->done || a->pid <= 0) return;
  a->next_check_ms = now_ms() + a->health_interval_ms;
  if (healthy) {
    a->health_failures = 0;
    set_health(a, "healthy\n");
    return;
  }
  if (++a->health_failures < a->health_retries) return;
  /* Unhealthy: the app is killed; the restart policy decides what comes next. */
  set_health(a, "unhealthy\n");
  if (a->pid > 0) kill(a->pid, SIGKILL);
}

static void checks_due(struct pod *p, sigset_t *old) {
  long long now = now_ms();
  for (int i = 0; i < p->napps; i++) {
    struct app *a = &p->apps[i];
    if (!has_health(a) || a->done || a->pid <= 0) continue;
    if (a->checker && now >= a->check_deadline_ms) {
      kill(a->checker, SIGKILL); /* a timeout is a failure; reaped as killed */
    } else if (!a->checker && now >= a->next_check_ms) {
      start_check(p, a, old);
    }
  }
}

/* How long poll() may sleep: until the next restart, check or check timeout. */
static int poll_timeout(struct pod *p) {
  long long next = -1, now = now_ms();
  for (int i = 0; i < p->napps; i++) {
    struct app *a = &p->apps[i];
    if (a->done) continue;
    long long t[3] = {a->restart_at_ms, has_health(a) && a->pid > 0 && !a->checker ? a->next_check_ms : 0, a->checker ? a->check_deadline_ms : 0};
    for (int k = 0; k < 3; k++) if (t[k] > 0 && (next < 0 || t[k] < next)) next = t[k];
  }
  if (next < 0) return -1;
  return next <= now ? 0 : (int)(next - now);
}

/* Reaps every exited child: apps (restarted or finished), health checkers, orphans.
 * Returns how many apps ended for good. */
static int reap(struct pod *p, int *first_failure) {
  int ended = 0, status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < p->napps; i++) {
      struct app *a = &p->apps[i];
      if (a->checker == pid) {
        check_result(a, WIFEXITED(status) && WEXITSTATUS(status) == 0);
        a->checker = 0;
        continue;
      }
      if (a->pid != pid || a->done) continue;
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      record_exit(a, status);
      a->done = 0;
      if (schedule_restart(p, a, code)) continue;
      finish_app(a);
      ended++;
      if (code && !*first_failure) *first_failure = code;
    }
    /* Anything else was an orphan reparented to us: reaped, nothing to record. */
  }
  return ended;
}

static int run_init(struct pod *p) {
  close(4); /* the readiness pipe is the monitor's to answer */
  if (!p->fly) {
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) die("sethostname");
    if (!p->host_net && !p->netns) loopback_up();
  }
  /* Apps must not see the init through /proc/1 (its exe, its fds). */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* This mount namespace's /proc is still the host's: a fresh one makes /proc/PID the pod's PIDs
   * (health checks join an app through it). Not seen outside: / is a slave here. */
  if (!p->fly) xmount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  for (int i = 0; i < p->napps; i++) if (p->apps[i].seccomp) read_seccomp(&p->apps[i]);
  /* Signals arrive through a signalfd, so one poll() waits for exits, signals, output and timers.
   * The monitor blocked them before forking us, so none is lost before this point. */
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  for (size_t i = 0; i < NFORWARDED; i++) sigaddset(&mask, FORWARDED[i]);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) die("block signals");
  /* Children (apps, checks) start with nothing blocked, whatever the init inherited. */
  sigemptyset(&old);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");
  for (int i = 0; i < p->napps; i++) {
    setup_logs(&p->apps[i]);
    spawn_app(p, &p->apps[i], &old);
  }
  int running = p->napps, first_failure = 0, stopping = 0;
  long long drain_deadline = 0;
  running -= reap(p, &first_failure);
  for (;;) {
    struct pollfd fds[1 + MAX_APPS * 2];
    int n = 0;
    fds[n++] = (struct pollfd){sfd, POLLIN, 0};
    for (int i = 0; i < nlogs; i++) if (logs[i].pipe >= 0) fds[n++] = (struct pollfd){logs[i].pipe, POLLIN, 0};
    /* Done when every app has ended for good and every pipe is drained (late output is kept). */
    if (running == 0 && n == 1) break;
    if (running == 0 && !drain_deadline) {
      /* Processes the apps left behind could hold the pipes open forever: in the pod's own PID
       * namespace they are ended (kill(-1) spares the init); a fly pod's are waited for a while. */
      if (!p->fly) kill(-1, SIGKILL);
      drain_deadline = now_ms() + 2000;
    }
    if (drain_deadline && now_ms() >= drain_deadline) break;
    int timeout = drain_deadline ? (int)(drain_deadline - now_ms()) : stopping ? -1 : poll_timeout(p);
    if (poll(fds, (nfds_t)n, timeout) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      /* A terminal's signal (SI_KERNEL) already reached interactive apps directly. */
      if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD && !(p->interactive && si.ssi_code == SI_KERNEL)) {
        /* Asked to stop: forward, and restart nothing any more. */
        stopping = 1;
        p->restart_policy = 0;
        for (int i = 0; i < p->napps; i++) {
          struct app *a = &p->apps[i];
          if (a->checker > 0) kill(a->checker, SIGKILL);
          if (a->pid > 0 && !a->done) kill(a->pid, (int)si.ssi_signo);
          else if (!a->done && a->restart_at_ms) { finish_app(a); running--; }
        }
      }
      running -= reap(p, &first_failure);
    }
    for (int k = 1, i = 0; i < nlogs; i++) {
      if (logs[i].pipe < 0) continue;
      if (fds[k].fd == logs[i].pipe && fds[k].revents) drain_log(&logs[i]);
      k++;
    }
    if (!stopping) {
      restart_due(p, &old);
      checks_due(p, &old);
    }
  }
  return first_failure;
}

/* ---- entry point `enter`: a command inside a running app (docs/stage1.md) ---------------- */

/* Everything the app itself got, in the same order (rkt's enter skipped most of this:
 * CVE-2019-10144/10145/10147): its cgroups, namespaces and root, then oom score, bounding set,
 * seccomp, identity, capabilities, no_new_privs, closed fds. */
static int enter_app(struct pod *p, const char *app_name, pid_t target, char **cmd) {
  struct app *a = NULL;
  for (int i = 0; i < p->napps; i++) if (!strcmp(p->apps[i].name, app_name)) a = &p->apps[i];
  if (!a) { errno = 0; die("enter: the pod has no app %s", app_name); }
  join_app_cgroups(a);
  if (a->seccomp) read_seccomp(a);
  const char *kinds[] = {"ipc", "uts", "net", "pid", "mnt"};
  int fds[5];
  for (int i = 0; i < 5; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", target, kinds[i]);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) die("enter: open %s", path);
  }
  for (int i = 0; i < 5; i++) {
    if (setns(fds[i], 0) < 0) die("enter: join the %s namespace of %d", kinds[i], target);
    close(fds[i]);
  }
  /* setns(mnt) put us at the app's root; the pid namespace applies to children: fork. */
  pid_t child = fork();
  if (child < 0) die("enter: fork");
  if (child == 0) {
    a->args.n = 0;
    for (char **c = cmd; *c; c++) push(&a->args, *c, "arg");
    if (a->args.n == 0) push(&a->args, "/bin/sh", "arg");
    confine_and_exec(p, a);
  }
  int status;
  while (waitpid(child, &status, 0) < 0) if (errno != EINTR) die("enter: wait");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}


/* ---- network namespaces for CNI: made by stage0 before the pod, kept as bind mounts --------- */

static void join_netns(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open network namespace %s", path);
  if (setns(fd, CLONE_NEWNET) < 0) die("join network namespace %s", path);
  close(fd);
}

/* A new network namespace with loopback up, kept alive by a bind mount on PATH. */
static int netns_create(const char *path) {
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) die("create %s", path);
  close(fd);
  if (unshare(CLONE_NEWNET) < 0) { unlink(path); die("unshare a network namespace"); }
  loopback_up();
  if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0) { unlink(path); die("bind the network namespace on %s", path); }
  return 0;
}

/* Idempotent: a namespace already gone is fine. */
static int netns_remove(const char *path) {
  if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) die("unmount %s", path);
  if (unlink(path) < 0 && errno != ENOENT) die("remove %s", path);
  return 0;
}

/* ---- the monitor ------------------------------------------------------------------------- */

static pid_t init_pid;

/* Under systemd (Type=notify): READY=1 once the pod runs. */
static void notify_systemd(void) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return;
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, path);
  if (path[0] == '@') addr.sun_path[0] = 0; /* abstract socket */
  const char msg[] = "READY=1";
  sendto(s, msg, sizeof msg - 1, 0, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
  close(s);
}

/* Only signals sent to tspod (stop, systemd): the init is in the terminal's process group and
 * gets the terminal's own (SI_KERNEL) itself, so forwarding those would double them. */
static void forward_to_init(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  if (init_pid > 0 && info->si_code != SI_KERNEL) kill(init_pid, sig);
}

static void join_cgroups(struct pod *p) {
  for (int i = 0; i < p->cgroup_procs.n; i++) write_file(p->cgroup_procs.v[i], "0");
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--interface-version")) {
    printf("%d\n", STAGE1_INTERFACE_VERSION);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "--netns-create")) return netns_create(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "--netns-remove")) return netns_remove(argv[2]);
  if (argc >= 5 && !strcmp(argv[1], "--enter")) {
    /* tspod-stage1 --enter CONFIG APP TARGET_PID [CMD ARGS...] */
    reexec_sealed(argv);
    static struct pod ep;
    read_config(argv[2], &ep);
    return enter_app(&ep, argv[3], (pid_t)number(argv[4], "pid"), argv + 5);
  }
  if (argc != 2) {
    fprintf(stderr, "usage: tspod-stage1 CONFIG | --enter CONFIG APP PID [CMD...] | --interface-version\n");
    return 2;
  }
  reexec_sealed(argv);
  static struct pod p;
  read_config(argv[1], &p);
  join_cgroups(&p);
  int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | (p.host_net || p.netns ? 0 : CLONE_NEWNET);
  if (!p.fly && p.netns) join_netns(p.netns);
  if (!p.fly && unshare(flags) < 0) die("unshare the pod's namespaces");
  if (!p.fly) xmount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
  /* Blocked across the fork: a stop sent before the init has its signalfd is kept, not lost
   * (PID 1 of a namespace ignores signals it has no handler for). */
  sigset_t stop_signals, before;
  sigemptyset(&stop_signals);
  for (size_t i = 0; i < NFORWARDED; i++) sigaddset(&stop_signals, FORWARDED[i]);
  sigprocmask(SIG_BLOCK, &stop_signals, &before);
  init_pid = fork();
  if (init_pid < 0) die("fork the pod init");
  if (init_pid == 0) _exit(run_init(&p));
  if (p.pid_file) {
    char v[32];
    snprintf(v, sizeof v, "%d\n", init_pid);
    write_new_file(p.pid_file, v);
  }
  notify_systemd();
  /* fd 4, when stage0 passed one, hears "ready" once the pid is recorded, then is closed. */
  if (fcntl(4, F_GETFD) >= 0) {
    if (write(4, "ready\n", 6) < 0) { /* stage0 went away: the pod runs on regardless */ }
    close(4);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = forward_to_init;
  sa.sa_flags = SA_SIGINFO;
  for (size_t i = 0; i < NFORWARDED; i++) sigaction(FORWARDED[i], &sa, NULL);
  sigprocmask(SIG_SETMASK, &before, NULL);
  int status;
  while (waitpid(init_pid, &status, 0) < 0) {
    if (errno != EINTR) die("wait for the pod init");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
