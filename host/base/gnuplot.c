#include "base/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/settings.h"

int sc_gnuplot_find(char *path, size_t cap, sc_err *err) {
  const char *env = sc_settings_get()->gnuplot;
  if (*env) {
    if (access(env, X_OK) == 0) {
      snprintf(path, cap, "%s", env);
      return 1;
    }
    sc_fail(err, "SCALECL_GNUPLOT=%s is not an executable file", env);
    return 0;
  }
  const char *p = getenv("PATH");
  if (!p || !*p) p = "/usr/local/bin:/usr/bin:/bin";
  while (*p) {
    const char *e = strchr(p, ':');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len > 0 && (size_t)snprintf(path, cap, "%.*s/gnuplot", (int)len, p) < cap && access(path, X_OK) == 0) return 1;
    p += len + (e ? 1 : 0);
  }
  sc_fail(err,
          "gnuplot is not installed (Debian: apt-get install gnuplot-nox, see platforms/install-debian.sh; "
          "or set SCALECL_GNUPLOT to its path)");
  return 0;
}

int sc_gnuplot_run(const char *gnuplot, const char *dir, const char *script, const char *log, sc_err *err) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return sc_fail(err, "cannot start gnuplot: fork failed: %s", strerror(errno));
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (chdir(dir) != 0) _exit(126);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(gnuplot, gnuplot, script, (char *)NULL);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return sc_fail(err, "waiting for gnuplot failed: %s", strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  char tail[1024] = "";
  FILE *f = fopen(log, "r");
  if (f) {
    if (fseek(f, -(long)(sizeof tail - 1), SEEK_END) != 0) rewind(f);
    size_t got = fread(tail, 1, sizeof tail - 1, f);
    tail[got] = '\0';
    fclose(f);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return sc_fail(err, "cannot execute %s", gnuplot);
  return sc_fail(err, "gnuplot failed on %s/%s (%s %d); end of its log %s:\n%s", dir, script,
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), log, tail);
}

void sc_gnuplot_escape(const char *s, char *out, size_t cap) {
  size_t o = 0;
  for (; *s && o + 3 < cap; s++) {
    if (strchr("_^{}@&~\\", *s)) out[o++] = '\\';
    if (*s == '\'') out[o++] = '\'';
    out[o++] = *s;
  }
  out[o] = '\0';
}
