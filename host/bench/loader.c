#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/args.h"
#include "base/clock.h"
#include "base/settings.h"
#include "bench/bench.h"
#include "data/loader.h"
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

int bench_loader_main(int argc, char **argv, sc_err *err) {
  const char *data = NULL;
  long B = 16, T = 1024, samples = 5, eot = SC_TOK_EOS;
  const sc_option opts[] = {
      {"data", SC_OPT_STRING, &data, "SPEC",
       .help = "shard directory, glob or file (default $SCALECL_DATA_DIR/gcide, else a synthetic shard)"},
      {"B", SC_OPT_LONG, &B, "N", .help = "windows per batch", .lo = 1, .hi = 1 << 16},
      {"T", SC_OPT_LONG, &T, "N", .help = "tokens per window minus one", .lo = 1, .hi = 1 << 24},
      {"samples", SC_OPT_LONG, &samples, "N", .help = "median over N samples of >= 0.2 s", .lo = 1, .hi = 1000},
      {"eot", SC_OPT_LONG, &eot, "ID", .help = "document delimiter id (the byte tokenizer's end of text)", .lo = 0,
       .hi = 2147483647.0},
  };
  const sc_args args = {"scalecl bench loader [--data SPEC] [--B N] [--T N] [--samples N] [--eot ID]",
                        "Samples shuffled (B, T+1) training windows with document-start flags from memory-mapped\n"
                        "shards (after one warm-up pass over the file pages) and reports the host cost per token\n"
                        "of the B*T trained tokens: median of samples, one thread.",
                        opts, SC_NOPTS(opts), NULL};
  const int prc = sc_args_parse(&args, argc, argv, err);
  if (prc != SC_ARGS_RUN) return prc;
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
  if (!rc) {
    printf("data: %s (%d shard%s, %llu tokens, %llu windows per epoch)\n", data, set.n, set.n == 1 ? "" : "s",
           (unsigned long long)set.ntok, (unsigned long long)windows);
    double med = sc_median(ns, (int)samples);
    printf(
        "B=%ld T=%ld: %.3f ns per token (median of %ld), %.1f M tokens/s; warm-up saw %.2f document starts per 1000 "
        "tokens\n",
        B, T, med, samples, 1e3 / med, 1e3 * (double)starts / (double)(warm_tokens ? warm_tokens : 1));
  }
  free(tok);
  free(doc);
  free(ns);
  sc_loader_close(&l);
  sc_shard_set_close(&set);
  return rc ? 1 : 0;
}
