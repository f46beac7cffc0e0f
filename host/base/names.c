#include "base/names.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  int index;
} entry;

static int entry_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

int sc_find_duplicate(const char *const *names, int n, const char *what, sc_err *err) {
  if (n < 2) return -1;
  entry *e = sc_malloc((size_t)n * sizeof *e, what, err);
  if (!e) return -2;
  for (int i = 0; i < n; i++) e[i] = (entry){names[i], i};
  qsort(e, (size_t)n, sizeof *e, entry_cmp);
  int found = -1;
  for (int k = 1; k < n; k++)
    if (!strcmp(e[k - 1].name, e[k].name) && (found < 0 || e[k].index < found)) found = e[k].index;
  free(e);
  return found;
}
