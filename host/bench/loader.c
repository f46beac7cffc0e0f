#include "data/loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/args.h"
#include "base/clock.h"
#include "base/output.h"
#include "base/settings.h"
#include "bench/bench.h"
#include "bench/util.h"
#include "data/prepare.h"
#include "data/shards.h"
#include "data/tokenizer.h"

enum { SYNTH_TOKENS = 1 << 24 };

/* A shard of random bytes with a document every ~1000 tokens, for machines without a corpus. */
static int write_synthetic(char *dir, size_t cap, char *path, size_t pcap, sc_err *err) {
  snprintf(dir, cap, "%.3900s/scalecl-bench-loader-XXXXXX", sc_settings_get()->tmp_dir);
  if (!mkdtemp(dir)) return sc_fail(err, "cannot create a temporary directory %s", dir);
  snprintf(path, pcap, "%s/synthetic_train_000000.bin", dir);
  int32_t *tok = sc_malloc(SYNTH_TOKENS * sizeof *tok, "synthetic tokens", err);
  if (!tok) return -1;
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < SYNTH_TOKENS; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    tok[i] = (s >> 33) % 1000 == 0 ? SC_TOK_EOS : (int32_t)((s >> 40) & 255);
  }
  int rc = sc_shard_write(path, SC_SHARD_VERSION_U16, SC_TOK_VOCAB, tok, SYNTH_TOKENS, err);
  free(tok);
  return rc;
}

enum { C_B, C_T, C_NS, C_MTOK = C_NS + 3, C_DOCS, C_N };
static const sc_col cols[C_N] = {
    {"B", "windows per batch", SC_COL_NUM, NULL, 0},
    {"T", "tokens per window - 1", SC_COL_NUM, NULL, 0},
    {"ns_per_token", "ns", SC_COL_NUM, "%.3f", 0},
    {"ns_per_token_mean", "ns", SC_COL_NUM, "%.3f", 0},
    {"ns_per_token_sd", "ns", SC_COL_NUM, "%.3f", 0},
    {"mtokens_per_s", "M tokens/s", SC_COL_NUM, "%.1f", 0},
    {"doc_starts_per_1000", "document starts per 1000 tokens (warm-up pass)", SC_COL_NUM, "%.2f", 0},
};

int bench_loader_main(int argc, char **argv, sc_err *err) {
  const char *data = NULL;
  sc_output out = {0};
  long B = 16, T = 1024, samples = 5, eot = SC_TOK_EOS;
  const sc_option opts[] = {
      SC_OUTPUT_OPTIONS(&out),
      {"data", SC_OPT_STRING, &data, "SPEC",
       .help = "shard directory, glob or file (default $SCALECL_DATA_DIR/gcide, else a synthetic shard)"},
      {"B", SC_OPT_LONG, &B, "N", .help = "windows per batch", .lo = 1, .hi = 1 << 16},
      {"T", SC_OPT_LONG, &T, "N", .help = "tokens per window minus one", .lo = 1, .hi = 1 << 24},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples of >= 0.2 s", .lo = 1, .hi = 1000},
      {"eot", SC_OPT_LONG, &eot, "ID", .help = "document delimiter id (the byte tokenizer's end of text)", .lo = 0,
       .hi = 2147483647.0},
  };
  const sc_args args = {
      "scalecl bench loader [--format table|md|csv|json] [--json FILE|-] [--data SPEC] [--B N]\n"
      "                     [--T N] [--samples N] [--eot ID]",
      "Samples shuffled (B, T+1) training windows with document-start flags from memory-mapped\n"
      "shards (after one warm-up pass over the file pages) and reports the host cost per token\n"
      "of the B*T trained tokens: median (with mean and sd) of samples, one thread.",
      opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
  if (sc_output_begin(&out, err)) return 2;
  char gcide[4096], tmpdir[4096] = "", synth[4096];
  struct stat st;
  if (!data) {
    snprintf(gcide, sizeof gcide, "%s/gcide", sc_data_dir());
    if (stat(gcide, &st) == 0 && S_ISDIR(st.st_mode)) {
      data = gcide;
    } else {
      if (write_synthetic(tmpdir, sizeof tmpdir, synth, sizeof synth, err)) return 1;
      data = synth;
    }
  }
  sc_shard_set set;
  int rc = sc_shard_set_open(&set, data, SC_SPLIT_TRAIN, err);
  if (tmpdir[0]) { /* mapped pages stay valid after unlink */
    unlink(synth);
    rmdir(tmpdir);
  }
  if (rc) return 1;
  sc_loader l;
  sc_loader_cfg cfg = {.B = (int)B, .T = (int)T, .seed = 1, .shuffle = 1, .eot = (int32_t)eot, .vocab = 0};
  if (sc_loader_open(&l, &set, &cfg, err)) {
    sc_shard_set_close(&set);
    return 1;
  }
  const uint64_t windows = sc_loader_windows_per_epoch(&l);
  size_t w = (size_t)B * ((size_t)T + 1);
  int32_t *tok = sc_malloc(w * sizeof *tok, "batch tokens", err);
  uint8_t *doc = sc_malloc(w, "batch flags", err);
  double *ns = sc_calloc((size_t)samples, sizeof *ns, "samples", err);
  uint64_t starts = 0, warm_tokens = 0;
  if (!tok || !doc || !ns) rc = 1;
  /* Warm-up: one epoch (at most 2 s), so that first-touch page faults are not timed. */
  uint64_t warm = (windows + (uint64_t)B - 1) / (uint64_t)B;
  double tw = sc_now();
  for (uint64_t i = 0; !rc && i < warm && sc_now() - tw < 2.0; i++) {
    rc = sc_loader_next(&l, tok, doc, err);
    for (size_t k = 0; k < w; k++) starts += doc[k];
    warm_tokens += w;
  }
  for (long s = 0; !rc && s < samples; s++) {
    double t0 = sc_now(), el = 0;
    uint64_t batches = 0;
    do {
      rc = sc_loader_next(&l, tok, doc, err);
      batches++;
    } while (!rc && (el = sc_now() - t0) < 0.2);
    ns[s] = el * 1e9 / ((double)batches * (double)B * (double)T);
  }
  sc_table *t = rc ? NULL : sc_table_create("results", cols, C_N, err);
  cJSON *root = NULL;
  if (!rc && !t) rc = 1;
  if (!rc) {
    fprintf(out.human, "data: %s (%d shard%s, %llu tokens, %llu windows per epoch)\n", data, set.n,
            set.n == 1 ? "" : "s", (unsigned long long)set.ntok, (unsigned long long)windows);
    const sc_stats st = sc_stats_of(ns, (int)samples);
    sc_table_row(t);
    sc_table_num(t, C_B, (double)B);
    sc_table_num(t, C_T, (double)T);
    sc_bench_cells(t, C_NS, sc_figure_time(&st, 1));
    sc_table_num(t, C_MTOK, 1e3 / st.median);
    sc_table_num(t, C_DOCS, 1e3 * (double)starts / (double)(warm_tokens ? warm_tokens : 1));
    if ((root = cJSON_CreateObject())) {
      cJSON_AddStringToObject(root, "data", data);
      cJSON_AddNumberToObject(root, "shards", set.n);
      cJSON_AddNumberToObject(root, "tokens", (double)set.ntok);
      cJSON_AddNumberToObject(root, "windows_per_epoch", (double)windows);
      cJSON_AddNumberToObject(root, "samples", (double)samples);
    }
    rc = sc_output_emit(&out, root, &t, 1, err) ? 1 : 0;
  }
  cJSON_Delete(root);
  sc_table_destroy(t);
  free(tok);
  free(doc);
  free(ns);
  sc_loader_close(&l);
  sc_shard_set_close(&set);
  return rc ? 1 : 0;
}
