#include "model/init.h"

#include <math.h>
#include <stdlib.h>

#include "base/parallel.h"

#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Each tensor gets its own splitmix64 stream; the stream is indexed directly instead of stepped. */
static uint64_t tensor_key(uint64_t seed, int j) {
  return mix64(mix64(seed + GOLDEN) ^ ((uint64_t)j + 1) * 0xD1B54A32D192ED03ull);
}

static double normal_at(uint64_t key, size_t e) {
  const uint64_t b1 = mix64(key + (2 * (uint64_t)e + 1) * GOLDEN), b2 = mix64(key + (2 * (uint64_t)e + 2) * GOLDEN);
  /* u1 in (0, 1] keeps the log finite. */
  const double u1 = ((double)(b1 >> 11) + 1) * 0x1p-53, u2 = (double)(b2 >> 11) * 0x1p-53;
  return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static void fill_range(const sc_param *t, int j, float *arena, uint64_t seed, size_t lo, size_t hi) {
  float *x = arena + t->offset;
  const sc_init_rule *r = &t->init;
  const uint64_t key = tensor_key(seed, j);
  for (size_t e = lo; e < hi; e++) {
    switch (r->kind) {
      case SC_INIT_NORMAL:
        x[e] = (float)(r->a * normal_at(key, e));
        break;
      case SC_INIT_CONST:
        x[e] = (float)r->a;
        break;
      case SC_INIT_LINSPACE:
        x[e] = (float)(t->numel > 1 ? r->a + (r->b - r->a) * (double)e / (double)(t->numel - 1) : r->a);
        break;
    }
  }
}

void sc_init_tensor(const sc_params *p, int j, float *arena, uint64_t seed) {
  fill_range(&p->t[j], j, arena, seed, 0, p->t[j].numel);
}

/* Work items of at most CHUNK elements, so one huge tensor (an embedding) still spreads over the threads. */
enum { CHUNK = 1 << 18 };

typedef struct {
  int tensor;
  size_t lo, hi;
} chunk;

typedef struct {
  const sc_params *p;
  float *arena;
  uint64_t seed;
  const chunk *chunks;
} fill_job;

static void fill_chunk(void *ctx, int i, int thread) {
  (void)thread;
  const fill_job *f = ctx;
  const chunk *c = &f->chunks[i];
  fill_range(&f->p->t[c->tensor], c->tensor, f->arena, f->seed, c->lo, c->hi);
}

int sc_init_params(const sc_params *p, float *arena, uint64_t seed, int threads, sc_err *err) {
  size_t n = 0;
  for (int j = 0; j < p->n; j++) n += (p->t[j].numel + CHUNK - 1) / CHUNK;
  if (n > (size_t)2147483647) return sc_fail(err, "model too large to initialise (%zu work items)", n);
  chunk *chunks = sc_malloc((n ? n : 1) * sizeof *chunks, "init work items", err);
  if (!chunks) return -1;
  size_t k = 0;
  for (int j = 0; j < p->n; j++)
    for (size_t lo = 0; lo < p->t[j].numel; lo += CHUNK)
      chunks[k++] = (chunk){j, lo, lo + CHUNK < p->t[j].numel ? lo + CHUNK : p->t[j].numel};
  fill_job job = {p, arena, seed, chunks};
  const int rc = sc_parallel_for((int)n, threads > 0 ? threads : sc_cpu_count(), fill_chunk, &job, err);
  free(chunks);
  return rc < 0 ? -1 : 0;
}
