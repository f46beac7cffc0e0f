/* `scalecl bench attention`: causal attention forward and forward+backward throughput, decode step
 * time against the cache length, and peak device memory, on resident buffers. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "ops/attention.h"
#include "peak.h"
#include "subcommand.h"
#include "timing.h"

#define MAX_LIST 16

/* Paper's causal attention-core count ("distill_scaling", spec xlstm.md §4.5), forward, per batch:
 * S^2 dqk NH + 2.5 NH S^2 + S^2 dv NH; training counts backward as 2x forward. */
static double flops_fwd(int B, int NH, int S, int dh) {
  const double s2 = (double)S * S;
  return (double)B * NH * (s2 * dh + 2.5 * s2 + s2 * dh);
}

static int parse_list(const char *s, const char *what, long lo, long hi, long *out, int *n, sc_err *err) {
  *n = 0;
  while (*s) {
    char buf[32];
    size_t len = strcspn(s, ",");
    if (len == 0 || len >= sizeof buf || *n == MAX_LIST)
      return sc_fail(err, "%s: cannot parse '%s' (expected up to %d comma-separated integers)", what, s, MAX_LIST);
    memcpy(buf, s, len);
    buf[len] = 0;
    if (sc_parse_long(buf, what, lo, hi, &out[(*n)++], err)) return -1;
    s += len + (s[len] == ',');
  }
  if (*n == 0) return sc_fail(err, "%s: empty list", what);
  return 0;
}

/* 1-minute load average, to put next to timings on a shared machine. */
static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

/* Best CLBlast SGEMM rate in a `scalecl peak --json` file. */
static int read_peak(const char *path, double *gflops, sc_err *err) {
  char *text;
  if (sc_read_file(path, &text, NULL, err)) return sc_wrap(err, "--peak");
  cJSON *root = cJSON_Parse(text);
  free(text);
  *gflops = 0;
  const cJSON *g = root ? cJSON_GetObjectItemCaseSensitive(root, "sgemm") : NULL, *e;
  cJSON_ArrayForEach(e, g) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "clblast_gflops");
    if (cJSON_IsNumber(v) && v->valuedouble > *gflops) *gflops = v->valuedouble;
  }
  cJSON_Delete(root);
  if (*gflops <= 0)
    return sc_fail(err, "--peak %s: no sgemm[].clblast_gflops found; write it with `scalecl peak --json FILE`", path);
  return 0;
}

typedef struct {
  sc_ctx *c;
  sc_attention *a;
  int B, NH, S, backward;
  cl_mem q, k, v, o, lse, dout, dq, dk, dv;
} run_arg;

static int run_once(void *p, sc_err *err) {
  run_arg *r = p;
  if (sc_attention_forward(r->a, r->B, r->NH, r->S, r->q, r->k, r->v, NULL, r->o, r->lse, err)) return -1;
  if (!r->backward) return 0;
  return sc_attention_backward(r->a, r->B, r->NH, r->S, r->q, r->k, r->v, NULL, r->o, r->lse, r->dout, r->dq, r->dk,
                               r->dv, err);
}

static int fill_random(sc_ctx *c, cl_mem m, size_t n, unsigned seed, sc_err *err) {
  float *h = sc_malloc(n * sizeof *h, "benchmark input", err);
  if (!h) return -1;
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    h[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  int rc = sc_buffer_write(c, m, 0, n * sizeof *h, h, err);
  free(h);
  return rc;
}

typedef struct {
  int dh, S;
  double fwd_s, fb_s;
  size_t peak_bytes;
} seq_result;

/* Times one (dh, S) configuration; peak_bytes covers its tensors and the op's scratch. */
static int bench_seq(sc_ctx *c, int B, int NH, int dh, int S, int samples, int backward, seq_result *res, sc_err *err) {
  memset(res, 0, sizeof *res);
  res->dh = dh, res->S = S;
  const size_t base = c->bytes_allocated;
  c->bytes_peak = base;
  run_arg r = {c, NULL, B, NH, S, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  cl_mem *bufs[] = {&r.q, &r.k, &r.v, &r.o, &r.dout, &r.dq, &r.dk, &r.dv};
  const size_t n = (size_t)B * NH * S * dh;
  int rc = -1;
  sc_attention_cfg cfg = {dh, 0, 0};
  if (sc_attention_create(c, &cfg, &r.a, err)) return -1;
  for (int i = 0; i < (backward ? 8 : 5); i++)
    if (sc_buffer_create(c, n * sizeof(float), "benchmark tensor", bufs[i], err) ||
        fill_random(c, *bufs[i], n, 17u + (unsigned)i, err))
      goto done;
  if (sc_buffer_create(c, (size_t)B * NH * S * sizeof(float), "benchmark lse", &r.lse, err)) goto done;
  if (sc_time_median(c, run_once, &r, 1, samples, 0.0, &res->fwd_s, err)) goto done;
  if (backward) {
    r.backward = 1;
    if (sc_time_median(c, run_once, &r, 1, samples, 0.0, &res->fb_s, err)) goto done;
  }
  res->peak_bytes = c->bytes_peak - base;
  rc = 0;
done:
  for (int i = 0; i < 8; i++) sc_buffer_release(c, *bufs[i]);
  sc_buffer_release(c, r.lse);
  sc_attention_destroy(r.a);
  return rc;
}

typedef struct {
  sc_attention *a;
  int B, NH, cap;
  int32_t *pos;
  cl_mem kc, vc, q, k, v, o;
} dec_arg;

static int dec_once(void *p, sc_err *err) {
  dec_arg *d = p;
  return sc_attention_decode(d->a, d->B, d->NH, d->cap, d->kc, d->vc, d->pos, NULL, d->q, d->k, d->v, d->o, NULL, err);
}

/* Step time of one new token per sequence at cache length len (the step attends to len + 1 keys). */
static int bench_decode(sc_ctx *c, int B, int NH, int dh, int len, int samples, double *step_s, sc_err *err) {
  dec_arg d = {NULL, B, NH, len + 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  cl_mem *bufs[] = {&d.kc, &d.vc, &d.q, &d.k, &d.v, &d.o};
  const size_t cache = (size_t)B * NH * d.cap * dh, tok = (size_t)B * NH * dh;
  int rc = -1;
  sc_attention_cfg cfg = {dh, 0, 0};
  d.pos = sc_calloc((size_t)B, sizeof *d.pos, "decode positions", err);
  if (!d.pos || sc_attention_create(c, &cfg, &d.a, err)) goto done;
  for (int b = 0; b < B; b++) d.pos[b] = len;
  for (int i = 0; i < 6; i++)
    if (sc_buffer_create(c, (i < 2 ? cache : tok) * sizeof(float), "benchmark decode tensor", bufs[i], err) ||
        fill_random(c, *bufs[i], i < 2 ? cache : tok, 91u + (unsigned)i, err))
      goto done;
  rc = sc_time_median(c, dec_once, &d, 2, samples, 0.05, step_s, err);
done:
  for (int i = 0; i < 6; i++) sc_buffer_release(c, *bufs[i]);
  sc_attention_destroy(d.a);
  free(d.pos);
  return rc;
}

int bench_attention_main(int argc, char **argv, sc_err *err) {
  static const sc_opt opts[] = {
      {"device", "SEL", "device index or name substring (default: $SCALECL_DEVICE, else first GPU, else CPU)"},
      {"json", "FILE", "also write the results as JSON to FILE ('-' for stdout)"},
      {"peak", "FILE", "take the CLBlast SGEMM rate from `scalecl peak --json FILE` instead of measuring 1024^3"},
      {"seq", "LIST", "sequence lengths (default 512,2048,8192)"},
      {"head-dims", "LIST", "head dims (default 64,128)"},
      {"heads", "N", "heads (default 8); batch is 1"},
      {"decode-lens", "LIST", "decode cache lengths (default 0,1024,4096,16384); 'none' skips decode"},
      {"samples", "N", "median over N timed calls after one warm-up (default 3)"},
      {"forward-only", NULL, "skip forward+backward"},
  };
  const int nopts = (int)(sizeof opts / sizeof opts[0]);
  const char *sel = NULL, *json = NULL, *peak = NULL, *seqs = "512,2048,8192", *dhs = "64,128",
             *declens = "0,1024,4096,16384";
  long heads = 8, samples = 3;
  int backward = 1;
  sc_argp p;
  sc_argp_init(&p, argc, argv);
  for (int r; (r = sc_arg_next(&p, opts, nopts, err)) != SC_ARG_END;) {
    switch (r) {
      case SC_ARG_ERROR:
        return 2;
      case SC_ARG_HELP:
        sc_usage(stdout,
                 "scalecl bench attention [--json FILE] [--peak FILE] [--seq LIST] [--head-dims LIST]\n"
                 "                        [--decode-lens LIST] [--samples N] [--device SEL]",
                 "Causal attention at B=1, NH=8: forward and forward+backward time, tokens/s and GFLOP/s with the\n"
                 "paper's causal FLOP count (distill_scaling; backward = 2x forward), as a fraction of the device's\n"
                 "CLBlast SGEMM rate; peak device memory per configuration (must grow linearly in S); decode step\n"
                 "time (append + attend, one token per sequence) against the KV-cache length. Host clock around\n"
                 "clFinish, one warm-up call, median of the samples. The 1-minute load average is printed because\n"
                 "other processes on a shared machine distort CPU timings.",
                 opts, nopts);
        return 0;
      case SC_ARG_POSITIONAL:
        return sc_fail(err, "unexpected argument '%s'", p.value), 2;
      case 0:
        sel = p.value;
        break;
      case 1:
        json = p.value;
        break;
      case 2:
        peak = p.value;
        break;
      case 3:
        seqs = p.value;
        break;
      case 4:
        dhs = p.value;
        break;
      case 5:
        if (sc_parse_long(p.value, "--heads", 1, 4096, &heads, err)) return 2;
        break;
      case 6:
        declens = p.value;
        break;
      case 7:
        if (sc_parse_long(p.value, "--samples", 1, 1000, &samples, err)) return 2;
        break;
      case 8:
        backward = 0;
        break;
    }
  }
  long S[MAX_LIST], D[MAX_LIST], L[MAX_LIST];
  int nS, nD, nL = 0;
  if (parse_list(seqs, "--seq", 1, 1 << 20, S, &nS, err) || parse_list(dhs, "--head-dims", 16, 256, D, &nD, err) ||
      (strcmp(declens, "none") && parse_list(declens, "--decode-lens", 0, 1 << 24, L, &nL, err)))
    return 2;
  for (int i = 0; i < nD; i++)
    if (D[i] % 16) return sc_fail(err, "--head-dims: %ld is not a multiple of 16", D[i]), 2;

  sc_ctx c;
  if (sc_ctx_open(&c, sel, err)) return 1;
  const double load0 = loadavg();
  printf("device: %s (%s, %u CUs); load average %.2f at start\n", c.dev.name, c.dev.platform_name, c.dev.compute_units,
         load0);
  fflush(stdout);
  int rc = -1;
  double sgemm = 0;
  const char *sgemm_src = peak ? peak : "measured 1024x1024x1024";
  cJSON *root = cJSON_CreateObject(), *jseq = cJSON_CreateArray(), *jdec = cJSON_CreateArray();
  seq_result *res = sc_calloc((size_t)(nS * nD), sizeof *res, "benchmark results", err);
  if (!res) goto done;
  if (peak ? read_peak(peak, &sgemm, err) : sc_peak_sgemm(&c, 1 /* CLBlast */, 1024, 1024, 1024, 3, 0.2, &sgemm, err))
    goto done;
  printf("CLBlast SGEMM: %.1f GFLOP/s (%s)\n\n", sgemm, sgemm_src);
  printf("%4s %6s | %10s %10s %8s %6s | %10s %10s %8s %6s | %10s %8s\n", "dh", "S", "fwd ms", "tok/s", "GF/s", "%gemm",
         "f+b ms", "tok/s", "GF/s", "%gemm", "peak MiB", "B/token");
  fflush(stdout);
  for (int d = 0; d < nD; d++)
    for (int s = 0; s < nS; s++) {
      seq_result *x = &res[d * nS + s];
      if (bench_seq(&c, 1, (int)heads, (int)D[d], (int)S[s], (int)samples, backward, x, err)) goto done;
      const double f = flops_fwd(1, (int)heads, x->S, x->dh);
      const double gf = f / x->fwd_s * 1e-9, gfb = backward ? 3 * f / x->fb_s * 1e-9 : 0;
      printf("%4d %6d | %10.2f %10.0f %8.1f %5.0f%% | %10.2f %10.0f %8.1f %5.0f%% | %10.1f %8.0f\n", x->dh, x->S,
             1e3 * x->fwd_s, x->S / x->fwd_s, gf, 100 * gf / sgemm, 1e3 * x->fb_s, backward ? x->S / x->fb_s : 0, gfb,
             100 * gfb / sgemm, x->peak_bytes / 1048576.0, (double)x->peak_bytes / x->S);
      fflush(stdout);
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "batch", 1);
      cJSON_AddNumberToObject(e, "heads", (double)heads);
      cJSON_AddNumberToObject(e, "head_dim", x->dh);
      cJSON_AddNumberToObject(e, "seq_len", x->S);
      cJSON_AddNumberToObject(e, "fwd_seconds", x->fwd_s);
      cJSON_AddNumberToObject(e, "fwd_tokens_per_s", x->S / x->fwd_s);
      cJSON_AddNumberToObject(e, "fwd_gflops", gf);
      cJSON_AddNumberToObject(e, "fwd_fraction_of_sgemm", gf / sgemm);
      if (backward) {
        cJSON_AddNumberToObject(e, "fwd_bwd_seconds", x->fb_s);
        cJSON_AddNumberToObject(e, "fwd_bwd_tokens_per_s", x->S / x->fb_s);
        cJSON_AddNumberToObject(e, "fwd_bwd_gflops", gfb);
        cJSON_AddNumberToObject(e, "fwd_bwd_fraction_of_sgemm", gfb / sgemm);
      }
      cJSON_AddNumberToObject(e, "peak_device_bytes", (double)x->peak_bytes);
      cJSON_AddNumberToObject(e, "peak_device_bytes_per_token", (double)x->peak_bytes / x->S);
      cJSON_AddItemToArray(jseq, e);
    }
  /* Linear memory: bytes per token stay flat across S (a quadratic term would grow with S). */
  for (int d = 0; d < nD && nS > 1; d++) {
    const seq_result *a = &res[d * nS], *b = &res[d * nS + nS - 1];
    printf("dh %d: peak memory per token %.0f B at S=%d, %.0f B at S=%d (ratio %.2f; linear in S gives 1)\n", a->dh,
           (double)a->peak_bytes / a->S, a->S, (double)b->peak_bytes / b->S, b->S,
           ((double)b->peak_bytes / b->S) / ((double)a->peak_bytes / a->S));
  }
  if (nL) printf("\n%4s %10s %12s %12s\n", "dh", "cache len", "step ms", "tok/s");
  for (int d = 0; d < nD; d++)
    for (int l = 0; l < nL; l++) {
      double t;
      if (bench_decode(&c, 1, (int)heads, (int)D[d], (int)L[l], (int)samples, &t, err)) goto done;
      printf("%4ld %10ld %12.3f %12.0f\n", D[d], L[l], 1e3 * t, 1 / t);
      fflush(stdout);
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "batch", 1);
      cJSON_AddNumberToObject(e, "heads", (double)heads);
      cJSON_AddNumberToObject(e, "head_dim", (double)D[d]);
      cJSON_AddNumberToObject(e, "cache_len", (double)L[l]);
      cJSON_AddNumberToObject(e, "step_seconds", t);
      cJSON_AddItemToArray(jdec, e);
    }
  const double load1 = loadavg();
  printf("load average %.2f at end\n", load1);
  if (json) {
    cJSON_AddStringToObject(root, "device", c.dev.name);
    cJSON_AddStringToObject(root, "platform", c.dev.platform_name);
    cJSON_AddNumberToObject(root, "compute_units", c.dev.compute_units);
    cJSON_AddNumberToObject(root, "clblast_sgemm_gflops", sgemm);
    cJSON_AddStringToObject(root, "clblast_sgemm_source", sgemm_src);
    cJSON_AddStringToObject(root, "flop_count", "distill_scaling causal; fwd+bwd = 3x fwd");
    cJSON_AddNumberToObject(root, "loadavg_start", load0);
    cJSON_AddNumberToObject(root, "loadavg_end", load1);
    cJSON_AddItemToObject(root, "sequences", jseq);
    cJSON_AddItemToObject(root, "decode", jdec);
    jseq = jdec = NULL;
    char *txt = cJSON_Print(root);
    if (!txt) {
      sc_fail(err, "out of memory formatting JSON");
      goto done;
    }
    if (!strcmp(json, "-"))
      printf("%s\n", txt);
    else if (sc_write_file_atomic(json, txt, strlen(txt), err)) {
      free(txt);
      goto done;
    }
    free(txt);
  }
  rc = 0;
done:
  cJSON_Delete(root);
  cJSON_Delete(jseq);
  cJSON_Delete(jdec);
  free(res);
  sc_ctx_close(&c);
  return rc ? 1 : 0;
}
