/* Token embedding (ops/embed.h): y[r] = W[tok[r]] for a (V, d) table, and its backward, which adds to each
 * present id's row of dW the sum of dy over that id's positions. The positions come bucketed by id from the
 * host (ids checked there against [0, V)), ascending within a bucket, so one work-item per (id, column) sums a
 * fixed list in a fixed order: the same bits on every run, no atomics. */
/* Global (d, n). */
__kernel void embed_fwd(__global const float *W, const ulong W_off, __global const int *tok, const ulong tok_off,
                        __global float *y, const ulong y_off, const int n, const int d) {
  const int c = (int)get_global_id(0), r = (int)get_global_id(1);
  if (c >= d || r >= n) return;
  y[y_off + (size_t)r * d + c] = W[W_off + (size_t)tok[tok_off + r] * d + c];
}

/* plan: pos (n) grouped by id, ids (U) present, start (U + 1) of each id's positions in pos. Global (d, U). */
__kernel void embed_bwd(__global const float *dy, const ulong dy_off, __global const int *plan, const ulong plan_off,
                        __global float *dW, const ulong dW_off, const int n, const int U, const int d) {
  const int c = (int)get_global_id(0), u = (int)get_global_id(1);
  if (c >= d || u >= U) return;
  dy += dy_off, plan += plan_off;
  __global const int *pos = plan, *ids = plan + n, *start = plan + n + U;
  float s = 0;
  for (int k = start[u]; k < start[u + 1]; k++) s += dy[(size_t)pos[k] * d + c];
  dW[dW_off + (size_t)ids[u] * d + c] += s;
}
