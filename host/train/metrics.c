#include "train/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sc_metrics_open(sc_metrics *m, const char *dir, int64_t keep, sc_err *err) {
  memset(m, 0, sizeof *m);
  snprintf(m->path, sizeof m->path, "%s/%s", dir, SC_METRICS_FILE);
  if (keep >= 0 && truncate(m->path, (off_t)keep) != 0)
    return sc_fail(err, "cannot cut %s back to %lld bytes: %s", m->path, (long long)keep, strerror(errno));
  if (!(m->f = fopen(m->path, keep < 0 ? "w" : "a")))
    return sc_fail(err, "cannot open %s: %s", m->path, strerror(errno));
  m->bytes = keep < 0 ? 0 : keep;
  return 0;
}

int sc_metrics_put(sc_metrics *m, const cJSON *line, sc_err *err) {
  char *s = cJSON_PrintUnformatted(line);
  if (!s) return sc_fail(err, "out of memory formatting a metrics line");
  const size_t n = strlen(s);
  const int bad = fprintf(m->f, "%s\n", s) < 0 || fflush(m->f) != 0;
  free(s);
  if (bad) return sc_fail(err, "cannot write %s: %s (disk full?)", m->path, strerror(errno));
  m->bytes += (int64_t)n + 1;
  return 0;
}

int sc_metrics_sync(sc_metrics *m, sc_err *err) {
  if (fflush(m->f) != 0 || fsync(fileno(m->f)) != 0)
    return sc_fail(err, "cannot flush %s: %s", m->path, strerror(errno));
  return 0;
}

void sc_metrics_close(sc_metrics *m) {
  if (m->f) fclose(m->f);
  m->f = NULL;
}

static int push(double **a, int n, int *cap, double x) {
  if (n == *cap) {
    const int c = *cap ? 2 * *cap : 256;
    double *g = realloc(*a, (size_t)c * sizeof *g);
    if (!g) return -1;
    *a = g;
    *cap = c;
  }
  (*a)[n] = x;
  return 0;
}

int sc_metrics_read(const char *path, sc_metrics_curves *c, sc_err *err) {
  memset(c, 0, sizeof *c);
  FILE *f = fopen(path, "r");
  if (!f) return sc_fail(err, "cannot open %s: %s (is it a training run's metrics file?)", path, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  int caps[5] = {0}, rc = 0;
  long lineno = 0;
  ssize_t len;
  while (!rc && (len = getline(&line, &cap, f)) > 0) {
    lineno++;
    const int complete = line[len - 1] == '\n';
    cJSON *o = cJSON_Parse(line);
    if (!cJSON_IsObject(o)) {
      cJSON_Delete(o);
      if (!complete) break; /* the tail a crash cut short */
      rc = sc_fail(err, "%s:%ld: not a JSON object", path, lineno);
      break;
    }
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(o, "tokens");
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(o, "loss");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(o, "val_loss");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
    int oom = 0;
    if (!cJSON_IsNumber(tok) || !cJSON_IsNumber(step))
      rc = sc_fail(err, "%s:%ld: no \"step\" and \"tokens\" numbers", path, lineno);
    else if (cJSON_IsNumber(loss))
      oom = push(&c->tokens, c->n, &caps[0], tok->valuedouble) || push(&c->loss, c->n, &caps[1], loss->valuedouble) ||
            (c->n++, 0);
    else if (cJSON_IsNumber(val))
      oom = push(&c->val_step, c->n_val, &caps[4], step->valuedouble) ||
            push(&c->val_tokens, c->n_val, &caps[2], tok->valuedouble) ||
            push(&c->val_loss, c->n_val, &caps[3], val->valuedouble) || (c->n_val++, 0);
    if (oom) rc = sc_fail(err, "out of memory reading %s", path);
    cJSON_Delete(o);
  }
  free(line);
  fclose(f);
  if (rc) sc_metrics_curves_free(c);
  return rc ? -1 : 0;
}

void sc_metrics_curves_free(sc_metrics_curves *c) {
  free(c->tokens), free(c->loss), free(c->val_step), free(c->val_tokens), free(c->val_loss);
  memset(c, 0, sizeof *c);
}
